"""Losses: hand-derived values, independent references (the math module always; torch and
scikit-learn when installed), finite-difference gradients, extremes and input checks.

The generic tests are parametrized over ``LOSSES.names()``: a newly registered loss is sampled
from its task and must also get a math reference, a torch expression and an extreme case below
(the tests say so when one is missing).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import robust_cases

from losslab.errors import ConfigError, DomainError
from losslab.losses import LOSSES, PROB_EPS, Loss, get_loss, loss_grad, loss_value

EPS = float(np.finfo(np.float64).eps)
DATASETS = Path(__file__).resolve().parent.parent / "datasets"
ALT_PARAMS = {
    "delta": 0.7,
    "quantile": 0.2,
    "epsilon": 0.3,
    "gamma": 1.5,
    "margin": 1.3,
    "label_smoothing": 0.2,
    "power": 1.0,
    "p": 2,
    "log_input": False,
    "full": True,
    "poisson_eps": 1e-3,
    **robust_cases.ALT_PARAMS,
}


NAMES = LOSSES.names()


def variants(loss: Loss) -> list[tuple[bool, dict[str, float]]]:
    """(logits, params) to test ``loss`` at: with and without logits where supported, at the
    default parameters and at non-default ones."""
    params = [{}, {k: ALT_PARAMS[k] for k in loss.params}] if loss.params else [{}]
    flags = (False, True) if loss.supports_logits else (False,)
    return [(logits, kw) for logits in flags for kw in params]


def softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sample(loss: Loss, logits: bool, *, n: int = 16, k: int = 4, seed: int = 0):
    """Valid random inputs for ``loss``, drawn from its task (away from kinks by construction:
    continuous draws hit a kink with probability 0, and the seed is fixed)."""
    rng = np.random.default_rng([seed, len(loss.name), logits])
    task = loss.task
    if task == "regression":
        y = rng.normal(0.0, 2.0, n)
        out = y + rng.normal(0.0, 1.5, n)
    elif task == "binary":
        y = rng.integers(0, 2, n).astype(float)
        out = rng.normal(0.0, 2.0, n) if logits else rng.uniform(0.05, 0.95, n)
    elif task == "margin":
        y = rng.choice([-1.0, 1.0], n)
        out = rng.normal(0.0, 1.5, n)
    elif task == "multiclass":
        y = rng.integers(0, k, n).astype(float)
        scores = rng.normal(0.0, 2.0, (n, k))
        # probabilities of at least 0.1/K: label smoothing reads every column, and central
        # differences of log p stay accurate only away from 0
        probs = 0.9 * softmax(scores) + 0.1 / k
        out = probs if loss.supports_logits and not logits else scores
    elif task == "distribution":
        y, out = rng.dirichlet(np.full(k, 3.0), n), rng.dirichlet(np.full(k, 3.0), n)
    elif task == "pair":
        y = rng.integers(0, 2, n).astype(float)
        out = rng.uniform(0.0, 2.5, n)
    elif task == "positive":  # positive targets and predictions (rates, or log rates)
        y = rng.gamma(2.0, 1.5, n) + 0.05
        out = y * np.exp(rng.normal(0.0, 0.5, n))
    else:
        pytest.fail(f"no sampler for task {task!r}: add one to sample()")
    loss.check(y, out, logits=logits)
    return y, out


# --------------------------------------------------------------------------- hand-derived values

LSE = math.log(math.exp(0.1) + math.exp(0.9) + math.exp(0.2))

# (loss, y, out, logits, params, expected mean), each worked out by hand or with the math module.
WORKED = [
    ("mse", [3, 5], [2.5, 5.5], False, {}, 0.25),
    ("mse", [1, 2, 3], [1.1, 2.2, 3.3], False, {}, 0.14 / 3),
    ("mae", [3, 5], [2.5, 5.5], False, {}, 0.5),
    ("mae", [0, 0, 0], [1, -2, 0], False, {}, 1.0),
    ("rmse", [3, 5], [2.5, 5.5], False, {}, 0.5),
    ("rmse", [0, 0], [3, 4], False, {}, math.sqrt(12.5)),
    ("huber", [0, 0], [0.5, 3], False, {}, (0.125 + 2.5) / 2),
    ("huber", [0], [3], False, {"delta": 2.0}, 4.0),
    (
        "log-cosh",
        [0, 1],
        [0.5, -1],
        False,
        {},
        (math.log(math.cosh(0.5)) + math.log(math.cosh(2))) / 2,
    ),
    ("log-cosh", [0], [1e-4], False, {}, 1e-8 / 2 - 1e-16 / 12 + 1e-24 / 45),  # Taylor series
    ("quantile", [1, 2], [2, 1], False, {}, 0.5),
    ("quantile", [0, 0], [-2, 1], False, {"quantile": 0.9}, (1.8 + 0.1) / 2),
    ("epsilon-insensitive", [0, 0, 0], [0.05, -0.5, 2], False, {}, (0 + 0.4 + 1.9) / 3),
    ("epsilon-insensitive", [1], [2], False, {"epsilon": 0.5}, 0.5),
    ("squared-epsilon-insensitive", [0, 0, 0], [0.05, -0.5, 2], False, {}, (0.16 + 3.61) / 3),
    ("squared-epsilon-insensitive", [1], [2], False, {"epsilon": 0.5}, 0.25),
    ("mape", [2, -4], [3, -3], False, {}, (1 / 2 + 1 / 4) / 2),
    ("mape", [0], [1e-16], False, {}, 1e-16 / EPS),  # scikit-learn's max(|y|, eps)
    ("poisson", [2, 0], [0, math.log(3)], False, {}, (1 + 3) / 2),
    ("poisson", [2], [math.log(2)], False, {}, 2 - 2 * math.log(2)),
    ("poisson", [2], [1], False, {"log_input": False}, 1 - 2 * math.log1p(1e-8)),
    ("poisson", [2], [1], False, {"log_input": False, "poisson_eps": 1.0}, 1 - 2 * math.log(2)),
    (
        "poisson",
        [3, 1],
        [0, 0],
        False,
        {"full": True},
        (2 + 3 * math.log(3) - 3 + 0.5 * math.log(6 * math.pi)) / 2,
    ),
    ("tweedie", [1], [4], False, {}, 2 * (-4 + 1 + 4)),
    ("tweedie", [2], [1], False, {"power": 1}, 4 * math.log(2) - 2),
    ("tweedie", [0], [1], False, {"power": 1}, 2.0),
    ("tweedie", [1], [3], False, {"power": 0}, 4.0),
    ("tweedie", [1], [2], False, {"power": 3}, 0.25),  # inverse Gaussian: (y − ŷ)²/(y·ŷ²)
    ("tweedie", [2], [1], False, {"power": -1}, 4 / 3),
    ("tweedie", [-2], [1], False, {"power": -1}, 2 * (0 + 1 + 1 / 3)),
    ("gamma-deviance", [2, 1], [1, 1], False, {}, (2 - 2 * math.log(2)) / 2),
    ("msle", [0, math.e - 1], [math.e - 1, 0], False, {}, 1.0),
    ("msle", [3], [1], False, {}, math.log(2) ** 2),
    ("bce", [1, 0], [0.9, 0.1], False, {}, 0.10536051565782628),
    ("bce", [1, 0], [0.9, 0.1], False, {}, -math.log(0.9)),
    ("bce", [0.3], [0.6], False, {}, -(0.3 * math.log(0.6) + 0.7 * math.log(0.4))),
    ("bce", [1, 0], [2, 2], True, {}, (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(2))) / 2),
    ("focal", [1, 0], [0.9, 0.2], False, {}, -(0.01 * math.log(0.9) + 0.04 * math.log(0.8)) / 2),
    ("focal", [1], [0.9], False, {"gamma": 0.0}, -math.log(0.9)),
    ("focal", [1, 0], [0, 0], True, {}, -0.25 * math.log(0.5)),
    ("hinge", [1, 0], [0.5, 0.5], False, {}, (0.5 + 1.5) / 2),
    ("hinge", [-1, 1], [-2, 3], False, {}, 0.0),
    ("squared-hinge", [1, 0], [0.5, 0.5], False, {}, (0.25 + 2.25) / 2),
    ("modified-huber", [1, 1, 0], [0.5, -3, 3], False, {}, (0.25 + 12 + 12) / 3),
    ("modified-huber", [-1], [0.5], False, {}, 2.25),
    ("perceptron", [1, 0], [0.5, 0.5], False, {}, 0.25),
    ("perceptron", [-1], [-2], False, {}, 0.0),
    ("soft-margin", [1, -1], [0, 0], False, {}, math.log(2)),
    ("soft-margin", [1], [2], False, {}, math.log1p(math.exp(-2))),
    ("cross-entropy", [1], [[0.1, 0.9, 0.2]], True, {}, 0.6657319272479287),
    ("cross-entropy", [1], [[0.1, 0.9, 0.2]], True, {}, LSE - 0.9),
    (
        "cross-entropy",
        [0, 2],
        [[0.7, 0.2, 0.1], [0.2, 0.3, 0.5]],
        False,
        {},
        -(math.log(0.7) + math.log(0.5)) / 2,
    ),
    ("multiclass-hinge", [0, 2], [[2, 0.5, 1.5], [0, 1, 0.5]], False, {}, (0.5 + 1.5) / 2),
    ("multiclass-hinge", [0], [[3, 0, 1]], False, {}, 0.0),
    ("multi-margin", [0, 2], [[2, 0.5, 1.5], [0, 1, 0.5]], False, {}, (0.5 / 3 + 2 / 3) / 2),
    ("multi-margin", [0, 2], [[2, 0.5, 1.5], [0, 1, 0.5]], False, {"p": 2}, 2.75 / 6),
    ("multi-margin", [0], [[1, 0, 0.8]], False, {"margin": 0.5}, 0.1),
    (
        "cross-entropy",
        [1],
        [[0.1, 0.9, 0.2]],
        True,
        {"label_smoothing": 0.3},
        0.7 * (LSE - 0.9) + 0.1 * (3 * LSE - 1.2),
    ),
    (
        "cross-entropy",
        [0],
        [[0.5, 0.25, 0.25]],
        False,
        {"label_smoothing": 0.3},
        -(0.8 * math.log(0.5) + 0.2 * math.log(0.25)),
    ),
    (
        "kl-div",
        [[0.5, 0.5], [1, 0]],
        [[0.25, 0.75], [0.5, 0.5]],
        False,
        {},
        (0.5 * math.log(2) + 0.5 * math.log(2 / 3) + math.log(2)) / 2,
    ),
    ("contrastive", [1, 0, 0], [0.5, 0.3, 2], False, {}, (0.25 + 0.49 + 0) / 3),
    ("contrastive", [0], [0.5], False, {"margin": 2.0}, 2.25),
    # robust losses (losses/robust.py): d = ŷ − y, scale c
    ("cauchy", [0, 0], [1, 2], False, {}, (0.5 * math.log(2) + 0.5 * math.log(5)) / 2),
    ("cauchy", [1], [3], False, {"robust_c": 2.0}, 2 * math.log(2)),
    ("geman-mcclure", [0, 0], [0, 2], False, {}, 0.5),  # 2·4/(4 + 4) = 1
    ("geman-mcclure", [0], [4], False, {"robust_c": 2.0}, 1.0),
    ("welsch", [0], [2], False, {}, 1 - math.exp(-2)),
    ("welsch", [0], [-2], False, {"robust_c": 2.0}, 1 - math.exp(-0.5)),
    ("tukey", [0, 0], [0.5, 3], False, {}, ((1 - 0.75**3) / 6 + 1 / 6) / 2),
    ("tukey", [0], [1], False, {"robust_c": 2.0}, 4 / 6 * (1 - 0.75**3)),
    ("barron", [0], [1], False, {}, math.sqrt(2) - 1),  # α = 1: √(1 + d²) − 1
    ("barron", [0], [1], False, {"robust_alpha": 0.0}, math.log(1.5)),
    ("barron", [0], [3], False, {"robust_alpha": 2.0}, 4.5),
    ("barron", [0], [2], False, {"robust_alpha": -2.0}, 1.0),  # (4/−2)·(½ − 1)
    ("barron", [0], [2], False, {"robust_alpha": -math.inf}, 1 - math.exp(-2)),
    ("barron", [0], [1], False, {"robust_alpha": 4.0}, 0.625),  # ½·((½ + 1)² − 1)
    ("barron", [1], [3], False, {"robust_alpha": 1.0, "robust_c": 2.0}, math.sqrt(2) - 1),
]


def test_worked_values():
    assert {case[0] for case in WORKED} == set(NAMES)
    for name, y, out, logits, params, expected in WORKED:
        got = loss_value(name, y, out, logits=logits, **params)
        assert got == pytest.approx(expected, rel=1e-12, abs=0), (name, y, out, logits, params)


# (loss, y, out, params, expected per-row value, expected d/d out): kinks and their neighbours.
# The kink conventions are scikit-learn's _sgd_fast dloss (hinge -t at t·s = 1, epsilon 0 at
# |d| = ε), sign(0) = 0 for MAE and the middle of the subdifferential for quantile.
DERIVATIVES = [
    ("mse", 1.0, 3.0, {}, 4.0, 4.0),
    ("mae", 1.0, 1.0, {}, 0.0, 0.0),
    ("mae", 1.0, 0.5, {}, 0.5, -1.0),
    ("huber", 0.0, 1.0, {}, 0.5, 1.0),
    ("huber", 0.0, -3.0, {}, 2.5, -1.0),
    ("log-cosh", 0.0, 0.5, {}, math.log(math.cosh(0.5)), math.tanh(0.5)),
    ("quantile", 1.0, 1.0, {"quantile": 0.9}, 0.0, -0.4),
    ("quantile", 1.0, 2.0, {"quantile": 0.9}, 0.1, 0.1),
    ("quantile", 1.0, 0.0, {"quantile": 0.9}, 0.9, -0.9),
    ("epsilon-insensitive", 0.0, 0.5, {"epsilon": 0.5}, 0.0, 0.0),
    ("epsilon-insensitive", 0.0, -0.75, {"epsilon": 0.5}, 0.25, -1.0),
    ("squared-epsilon-insensitive", 0.0, 0.5, {"epsilon": 0.5}, 0.0, 0.0),
    ("squared-epsilon-insensitive", 0.0, -0.75, {"epsilon": 0.5}, 0.0625, -0.5),
    ("mape", 2.0, 2.0, {}, 0.0, 0.0),
    ("mape", -4.0, -2.0, {}, 0.5, 0.25),
    ("poisson", 2.0, 0.0, {}, 1.0, -1.0),
    ("poisson", 2.0, 1.0, {"log_input": False, "poisson_eps": 1.0}, 1 - 2 * math.log(2), 0.0),
    ("tweedie", 1.0, 4.0, {}, 2.0, 2 * 4**-1.5 * 3),
    ("gamma-deviance", 1.0, 2.0, {}, 2 * (math.log(2) - 0.5), 0.5),
    ("msle", 0.0, 0.0, {}, 0.0, 0.0),
    ("msle", 0.0, math.e - 1, {}, 1.0, 2 / math.e),
    ("bce", 1.0, 0.8, {}, -math.log(0.8), -1 / 0.8),
    ("bce", 0.0, 0.8, {}, -math.log(0.2), 1 / 0.2),
    ("hinge", 1.0, 1.0, {}, 0.0, -1.0),
    ("hinge", 0.0, -1.0, {}, 0.0, 1.0),
    ("hinge", -1.0, -2.0, {}, 0.0, 0.0),
    ("hinge", 1.0, 0.25, {}, 0.75, -1.0),
    ("squared-hinge", 1.0, 1.0, {}, 0.0, 0.0),
    ("squared-hinge", 0.0, 0.5, {}, 2.25, 3.0),
    ("modified-huber", 1.0, -1.0, {}, 4.0, -4.0),
    ("modified-huber", 1.0, -2.0, {}, 8.0, -4.0),
    ("modified-huber", 0.0, 0.0, {}, 1.0, 2.0),
    ("perceptron", 1.0, 0.0, {}, 0.0, -1.0),  # the kink counts, as scikit-learn's Hinge(0)
    ("perceptron", 0.0, 0.5, {}, 0.5, 1.0),
    ("perceptron", 1.0, 0.5, {}, 0.0, 0.0),
    ("soft-margin", 1.0, 0.0, {}, math.log(2), -0.5),
    ("contrastive", 1.0, 0.5, {}, 0.25, 1.0),
    ("contrastive", 0.0, 0.25, {}, 0.5625, -1.5),
    ("contrastive", 0.0, 1.0, {}, 0.0, 0.0),
]


def test_per_row_values_and_derivatives():
    for name, y, out, params, value, slope in DERIVATIVES:
        loss = get_loss(name)
        kw = loss.resolve_params(**params)
        ys, outs = np.array([y]), np.array([out])
        case = (name, y, out, params)
        assert loss.per_row(ys, outs, **kw)[0] == pytest.approx(value, rel=1e-12, abs=0), case
        assert loss.row_grad(ys, outs, **kw)[0] == pytest.approx(slope, rel=1e-12, abs=0), case


def test_multiclass_hinge_kink_and_tie():
    loss = get_loss("multiclass-hinge")
    at_kink = np.array([[2.0, 1.0, 0.0]])  # margin term 1 + 1 - 2 = 0 counts as active
    assert loss.per_row(np.array([0.0]), at_kink)[0] == 0.0
    assert loss.row_grad(np.array([0.0]), at_kink).tolist() == [[-1.0, 1.0, 0.0]]
    tie = np.array([[0.0, 1.0, 1.0]])  # the first of tied rivals takes the +1
    assert loss.row_grad(np.array([0.0]), tie).tolist() == [[-1.0, 1.0, 0.0]]
    inactive = np.array([[3.0, 1.0, 0.0]])
    assert loss.row_grad(np.array([0.0]), inactive).tolist() == [[0.0, 0.0, 0.0]]


def test_rmse_gradient_is_zero_at_zero_error():
    assert loss_grad("rmse", [1.0, 2.0], [1.0, 2.0]).tolist() == [0.0, 0.0]
    assert loss_grad("rmse", [0.0, 0.0], [3.0, 4.0]) == pytest.approx(
        [3 / (2 * math.sqrt(12.5)), 4 / (2 * math.sqrt(12.5))], rel=1e-12
    )


# --------------------------------------------------------------------------- math references


def _clip(p: float) -> float:
    return min(max(p, EPS), 1 - EPS)


def _log_sigmoid(z: float) -> float:
    return -math.log1p(math.exp(-z))


def _focal(y, s, logits, gamma):
    t = 1.0 if y == 1 else -1.0
    if logits:
        log_pt, q = _log_sigmoid(t * s), 1 / (1 + math.exp(t * s))
    else:
        p = _clip(s)
        log_pt, q = (math.log(p), 1 - p) if y == 1 else (math.log1p(-p), p)
    return -(q**gamma) * log_pt


def _cross_entropy(y, row, logits, label_smoothing=0.0):
    c = int(y)
    if not logits:
        nll = [-math.log(_clip(p)) for p in row]
    else:
        top = max(row)
        lse = top + math.log(math.fsum(math.exp(s - top) for s in row))
        nll = [lse - s for s in row]
        nll[c] = math.log1p(math.fsum(math.exp(s - row[c]) for j, s in enumerate(row) if j != c))
    eps, k = label_smoothing, len(row)
    return (1 - eps) * nll[c] + eps / k * math.fsum(nll)


def _poisson(y, o, log_input, full, poisson_eps):
    value = math.exp(o) - y * o if log_input else o - y * math.log(o + poisson_eps)
    if full and y > 1:
        value += y * math.log(y) - y + 0.5 * math.log(2 * math.pi * y)
    return value


def _tweedie(y, mu, power):
    """scikit-learn's unit deviance, written out per case from its documentation."""
    p = power
    if p == 0:
        return (y - mu) ** 2
    if p == 1:
        return 2 * ((y * math.log(y / mu) if y > 0 else 0.0) - y + mu)
    if p == 2:
        return 2 * (math.log(mu / y) + y / mu - 1)
    a = max(y, 0.0) ** (2 - p) / ((1 - p) * (2 - p))
    return 2 * (a - y * mu ** (1 - p) / (1 - p) + mu ** (2 - p) / (2 - p))


def _t(y: float) -> float:
    return 1.0 if y > 0 else -1.0


# Per-row references written independently with the math module, one row at a time.
REFERENCE = {
    "mse": lambda y, o, lg: (o - y) ** 2,
    "mae": lambda y, o, lg: abs(o - y),
    "rmse": lambda y, o, lg: (o - y) ** 2,
    "huber": lambda y, o, lg, delta: (
        0.5 * (o - y) ** 2 if abs(o - y) <= delta else delta * (abs(o - y) - delta / 2)
    ),
    # cosh d - 1 = expm1(d)² / (2 e^d): exact for small d, unlike log(cosh(d))
    "log-cosh": lambda y, o, lg: math.log1p(math.expm1(o - y) ** 2 / (2 * math.exp(o - y))),
    "quantile": lambda y, o, lg, quantile: max(quantile * (y - o), (quantile - 1) * (y - o)),
    "epsilon-insensitive": lambda y, o, lg, epsilon: max(0.0, abs(o - y) - epsilon),
    "squared-epsilon-insensitive": lambda y, o, lg, epsilon: max(0.0, abs(o - y) - epsilon) ** 2,
    "mape": lambda y, o, lg: abs(o - y) / max(abs(y), EPS),
    "poisson": lambda y, o, lg, **kw: _poisson(y, o, **kw),
    "tweedie": lambda y, o, lg, power: _tweedie(y, o, power),
    "gamma-deviance": lambda y, o, lg: 2 * (math.log(o / y) + y / o - 1),
    "msle": lambda y, o, lg: (math.log1p(o) - math.log1p(y)) ** 2,
    "bce": lambda y, o, lg: (
        -(y * _log_sigmoid(o) + (1 - y) * _log_sigmoid(-o))
        if lg
        else -(y * math.log(_clip(o)) + (1 - y) * math.log1p(-_clip(o)))
    ),
    "focal": lambda y, o, lg, gamma: _focal(y, o, lg, gamma),
    "hinge": lambda y, o, lg: max(0.0, 1 - _t(y) * o),
    "squared-hinge": lambda y, o, lg: max(0.0, 1 - _t(y) * o) ** 2,
    "modified-huber": lambda y, o, lg: (
        max(0.0, 1 - _t(y) * o) ** 2 if _t(y) * o >= -1 else -4 * _t(y) * o
    ),
    "perceptron": lambda y, o, lg: max(0.0, -_t(y) * o),
    "soft-margin": lambda y, o, lg: math.log1p(math.exp(-_t(y) * o)),
    "cross-entropy": lambda y, row, lg, label_smoothing: _cross_entropy(
        y, row, lg, label_smoothing
    ),
    "multiclass-hinge": lambda y, row, lg: max(
        0.0, 1 + max(s for j, s in enumerate(row) if j != int(y)) - row[int(y)]
    ),
    "multi-margin": lambda y, row, lg, p, margin: (
        math.fsum(max(0.0, margin - row[int(y)] + s) ** p for j, s in enumerate(row) if j != int(y))
        / len(row)
    ),
    "kl-div": lambda q, p, lg: math.fsum(
        qk * math.log(qk / _clip(pk)) for qk, pk in zip(q, p, strict=True) if qk > 0
    ),
    "contrastive": lambda y, d, lg, margin: y * d * d + (1 - y) * max(0.0, margin - d) ** 2,
    **robust_cases.REFERENCE,
}


@pytest.mark.parametrize("name", NAMES)
def test_matches_math_reference(name):
    assert name in REFERENCE, f"add an independent math reference for {name!r}"
    loss = get_loss(name)
    for logits, params in variants(loss):
        y, out = sample(loss, logits)
        kw = loss.resolve_params(**params)
        expected = [REFERENCE[name](a, b, logits, **kw) for a, b in zip(y, out, strict=True)]
        rows = loss.per_row(y, out, logits=logits, **kw)
        np.testing.assert_allclose(rows, expected, rtol=1e-12, err_msg=f"{logits=} {params}")
        mean = math.fsum(expected) / len(expected)
        want = math.sqrt(mean) if loss.root_of_mean else mean
        assert loss.value(y, out, logits=logits, **params) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_value_is_mean_of_per_row(name):
    loss = get_loss(name)
    for logits, params in variants(loss):
        y, out = sample(loss, logits, seed=1)
        rows = loss.per_row(y, out, logits=logits, **loss.resolve_params(**params))
        assert rows.shape == (len(y),)
        mean = float(np.mean(rows))
        want = math.sqrt(mean) if loss.root_of_mean else mean
        assert loss.value(y, out, logits=logits, **params) == want
        assert loss_value(name, y, out, logits=logits, **params) == want


# --------------------------------------------------------------------------- gradients


def _central(f, x: np.ndarray, step: np.ndarray, h: float) -> np.ndarray:
    return (f(x + h * step) - f(x - h * step)) / (2 * h)


def _row_grad_vs_differences(loss: Loss, logits: bool, kw: dict[str, float]) -> None:
    """row_grad against central differences of per_row: all rows at once, column by column."""
    y, out = sample(loss, logits, seed=2)
    g = loss.row_grad(y, out, logits=logits, **kw)
    assert g.shape == out.shape

    def f(o: np.ndarray) -> np.ndarray:
        return loss.per_row(y, o, logits=logits, **kw)

    if out.ndim == 1:
        numeric = _central(f, out, np.ones_like(out), 1e-6)
    else:
        numeric = np.column_stack([_central(f, out, e, 1e-6) for e in np.eye(out.shape[1])])
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-7, err_msg=f"{logits=} {kw}")


def _grad_vs_differences(loss: Loss, logits: bool, kw: dict[str, float]) -> None:
    """grad (the gradient of the mean) against central differences of value, per element."""
    y, out = sample(loss, logits, n=5, k=3, seed=3)
    g = loss.grad(y, out, logits=logits, **kw)
    assert g.shape == out.shape
    np.testing.assert_array_equal(g, loss_grad(loss.name, y, out, logits=logits, **kw))

    def f(o: np.ndarray) -> float:
        return loss.value(y, o, logits=logits, **kw)

    numeric = np.empty_like(out)
    for i in np.ndindex(out.shape):
        step = np.zeros_like(out)
        step[i] = 1.0
        numeric[i] = _central(f, out, step, 1e-6)
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8, err_msg=f"{logits=} {kw}")


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_finite_differences(name):
    loss = get_loss(name)
    for logits, params in variants(loss):
        kw = loss.resolve_params(**params)
        _row_grad_vs_differences(loss, logits, kw)
        _grad_vs_differences(loss, logits, kw)


# --------------------------------------------------------------------------- torch


def _torch_loss(name, torch, y, o, logits, kw):
    """The same loss written with torch.nn.functional (or torch ops where F has none)."""
    F = torch.nn.functional
    t = torch.where(y > 0, 1.0, -1.0)
    if name == "mse":
        return F.mse_loss(o, y)
    if name == "mae":
        return F.l1_loss(o, y)
    if name == "rmse":
        return torch.sqrt(F.mse_loss(o, y))
    if name == "huber":
        return F.huber_loss(o, y, delta=kw["delta"])
    if name == "log-cosh":
        return torch.log(torch.cosh(o - y)).mean()
    if name == "quantile":
        r = y - o
        return torch.maximum(kw["quantile"] * r, (kw["quantile"] - 1) * r).mean()
    if name == "epsilon-insensitive":
        return torch.clamp((o - y).abs() - kw["epsilon"], min=0).mean()
    if name == "squared-epsilon-insensitive":
        return (torch.clamp((o - y).abs() - kw["epsilon"], min=0) ** 2).mean()
    if name == "mape":
        return ((o - y).abs() / torch.clamp(y.abs(), min=EPS)).mean()
    if name == "poisson":
        return F.poisson_nll_loss(
            o, y, log_input=kw["log_input"], full=kw["full"], eps=kw["poisson_eps"]
        )
    if name in ("tweedie", "gamma-deviance"):
        p = kw.get("power", 2.0)
        if p == 1:
            return (2 * (torch.xlogy(y, y / o) - y + o)).mean()
        if p == 2:
            return (2 * (torch.log(o / y) + y / o - 1)).mean()
        a = y ** (2 - p) / ((1 - p) * (2 - p))
        return (2 * (a - y * o ** (1 - p) / (1 - p) + o ** (2 - p) / (2 - p))).mean()
    if name == "msle":
        return ((torch.log1p(o) - torch.log1p(y)) ** 2).mean()
    if name == "bce":
        return F.binary_cross_entropy_with_logits(o, y) if logits else F.binary_cross_entropy(o, y)
    if name == "focal":  # torchvision.ops.sigmoid_focal_loss without alpha, written out
        if logits:
            p, ce = torch.sigmoid(o), F.binary_cross_entropy_with_logits(o, y, reduction="none")
        else:
            p, ce = o, F.binary_cross_entropy(o, y, reduction="none")
        p_t = p * y + (1 - p) * (1 - y)
        return (ce * (1 - p_t) ** kw["gamma"]).mean()
    if name == "hinge":
        return torch.clamp(1 - t * o, min=0).mean()
    if name == "squared-hinge":
        return (torch.clamp(1 - t * o, min=0) ** 2).mean()
    if name == "modified-huber":
        z = t * o
        return torch.where(z >= -1, torch.clamp(1 - z, min=0) ** 2, -4 * z).mean()
    if name == "perceptron":
        return torch.clamp(-t * o, min=0).mean()
    if name == "soft-margin":
        return F.soft_margin_loss(o, t)
    if name == "cross-entropy":
        c, eps = y.long(), kw["label_smoothing"]
        if logits:
            return F.cross_entropy(o, c, label_smoothing=eps)
        q = (1 - eps) * F.one_hot(c, o.shape[1]).to(o.dtype) + eps / o.shape[1]
        return -(q * torch.log(o)).sum(dim=1).mean()
    if name == "multi-margin":
        return F.multi_margin_loss(o, y.long(), p=kw["p"], margin=kw["margin"])
    if name == "multiclass-hinge":
        c = y.long()[:, None]
        rival = o.scatter(1, c, -torch.inf).max(dim=1).values
        return torch.clamp(1 + rival - o.gather(1, c)[:, 0], min=0).mean()
    if name == "kl-div":
        return F.kl_div(torch.log(o), y, reduction="batchmean")
    if name == "contrastive":
        return (y * o**2 + (1 - y) * torch.clamp(kw["margin"] - o, min=0) ** 2).mean()
    robust = robust_cases.torch_loss(name, torch, y, o, kw)
    if robust is not None:
        return robust
    pytest.fail(f"add a torch expression for {name!r} to _torch_loss")


@pytest.mark.parametrize("name", NAMES)
def test_matches_torch(name):
    """Value and autograd gradient of the same loss in torch (float64)."""
    torch = pytest.importorskip("torch")
    loss = get_loss(name)
    for logits, params in variants(loss):
        y, out = sample(loss, logits, seed=4)
        yt = torch.from_numpy(y)
        ot = torch.from_numpy(out.copy()).requires_grad_()
        ref = _torch_loss(name, torch, yt, ot, logits, loss.resolve_params(**params))
        ref.backward()
        got = loss.value(y, out, logits=logits, **params)
        assert got == pytest.approx(ref.item(), rel=1e-12), (logits, params)
        np.testing.assert_allclose(
            loss.grad(y, out, logits=logits, **params),
            ot.grad.numpy(),
            rtol=1e-10,
            atol=1e-15,
            err_msg=f"{logits=} {params}",
        )


def test_bce_soft_labels_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(6)
    y = rng.uniform(0.0, 1.0, 12)
    probabilities, scores = rng.uniform(0.05, 0.95, 12), rng.normal(0.0, 2.0, 12)
    for out, logits, ref_fn in (
        (probabilities, False, F.binary_cross_entropy),
        (scores, True, F.binary_cross_entropy_with_logits),
    ):
        get_loss("bce").check(y, out, logits=logits)
        ot = torch.tensor(out, requires_grad=True)
        ref = ref_fn(ot, torch.from_numpy(y))
        ref.backward()
        assert loss_value("bce", y, out, logits=logits) == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(
            loss_grad("bce", y, out, logits=logits), ot.grad.numpy(), rtol=1e-10
        )


# --------------------------------------------------------------------------- scikit-learn


def test_matches_sklearn_metrics():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    y = rng.normal(size=40)
    pred = y + rng.normal(size=40)
    assert loss_value("mse", y, pred) == pytest.approx(
        metrics.mean_squared_error(y, pred), rel=1e-12
    )
    assert loss_value("mae", y, pred) == pytest.approx(
        metrics.mean_absolute_error(y, pred), rel=1e-12
    )
    assert loss_value("rmse", y, pred) == pytest.approx(
        math.sqrt(metrics.mean_squared_error(y, pred)), rel=1e-12
    )
    for tau in (0.1, 0.5, 0.9):
        assert loss_value("quantile", y, pred, quantile=tau) == pytest.approx(
            metrics.mean_pinball_loss(y, pred, alpha=tau), rel=1e-12
        )

    labels = rng.integers(0, 2, 40).astype(float)
    p = rng.uniform(0.01, 0.99, 40)
    p[:2] = [0.0, 1.0]  # clipped the same way
    assert loss_value("bce", labels, p) == pytest.approx(metrics.log_loss(labels, p), rel=1e-12)
    scores = rng.normal(size=40)
    for y01 in (labels, 2 * labels - 1):
        assert loss_value("hinge", y01, scores) == pytest.approx(
            metrics.hinge_loss(2 * labels - 1, scores), rel=1e-12
        )

    classes = rng.integers(0, 4, 40).astype(float)
    S = rng.normal(0, 2, (40, 4))
    P = softmax(S)
    assert loss_value("cross-entropy", classes, P) == pytest.approx(
        metrics.log_loss(classes, P, labels=range(4)), rel=1e-12
    )
    assert loss_value("cross-entropy", classes, S, logits=True) == pytest.approx(
        metrics.log_loss(classes, P, labels=range(4)), rel=1e-12
    )
    assert loss_value("multiclass-hinge", classes, S) == pytest.approx(
        metrics.hinge_loss(classes, S, labels=range(4)), rel=1e-12
    )


@pytest.mark.parametrize(
    ("name", "cls", "args"),
    [
        ("hinge", "Hinge", (1.0,)),
        ("squared-hinge", "SquaredHinge", (1.0,)),
        ("modified-huber", "ModifiedHuber", ()),
        ("epsilon-insensitive", "EpsilonInsensitive", (0.1,)),
        ("perceptron", "Hinge", (0.0,)),
        ("squared-epsilon-insensitive", "SquaredEpsilonInsensitive", (0.1,)),
    ],
)
def test_matches_sklearn_sgd_dloss_including_kinks(name, cls, args):
    sgd = pytest.importorskip("sklearn.linear_model._sgd_fast")
    ref = getattr(sgd, cls, None)
    if ref is None or not hasattr(ref, "py_dloss"):
        pytest.skip(f"scikit-learn has no _sgd_fast.{cls}.py_dloss")
    ref = ref(*args)
    loss = get_loss(name)
    ys = [-1.0, 1.0] if loss.task == "margin" else [0.0, 0.3]
    outs = [-3.0, -1.0, -0.5, 0.0, 0.2, 0.4, 0.5, 1.0, 2.5]  # hits t·s = ±1 and |d| = ε
    for y in ys:
        y_arr = np.full(len(outs), y)
        out = np.array(outs)
        np.testing.assert_allclose(
            loss.per_row(y_arr, out), [ref.py_loss(o, y) for o in outs], rtol=1e-12, atol=1e-15
        )
        np.testing.assert_allclose(
            loss.row_grad(y_arr, out), [ref.py_dloss(o, y) for o in outs], rtol=1e-12
        )


# --------------------------------------------------------------------------- extremes

BIG = 1e4
TINY = 1e-300
LOG_EPS = math.log(EPS)

# (y, out, logits, params, expected per-row values from the stable closed forms)
EXTREMES = {
    "mse": [([0, 0], [BIG, -BIG], False, {}, [BIG**2, BIG**2])],
    "mae": [([0, 0], [BIG, -BIG], False, {}, [BIG, BIG])],
    "rmse": [([0, 0], [BIG, -BIG], False, {}, [BIG**2, BIG**2])],
    "huber": [([0, BIG], [BIG, 0], False, {}, [BIG - 0.5, BIG - 0.5])],
    "log-cosh": [([0, 0], [BIG, -BIG], False, {}, [BIG - math.log(2)] * 2)],
    "quantile": [([0, 0], [BIG, -BIG], False, {"quantile": 0.25}, [0.75 * BIG, 0.25 * BIG])],
    "epsilon-insensitive": [([0], [-BIG], False, {}, [BIG - 0.1])],
    "squared-epsilon-insensitive": [([0], [-BIG], False, {}, [(BIG - 0.1) ** 2])],
    "mape": [([0, 1e-300], [BIG, 1], False, {}, [BIG / EPS, (1 - 1e-300) / EPS])],
    "poisson": [
        ([5, 0], [-1000, 700], False, {}, [5000, math.exp(700)]),
        ([5, 0], [0, BIG], False, {"log_input": False}, [-5 * math.log(1e-8), BIG]),
    ],
    "tweedie": [
        ([1, 1], [1e-100, 1e100], False, {}, [2 * (-4 + 2e50 + 2e-50), 2 * (-4 + 2e-50 + 2e50)]),
    ],
    "gamma-deviance": [
        (
            [1, 1],
            [1e-100, 1e100],
            False,
            {},
            [2 * (-100 * math.log(10) + 1e100 - 1), 2 * (100 * math.log(10) - 1)],
        ),
    ],
    "msle": [
        ([0, 0], [BIG, -1 + 1e-10], False, {}, [math.log1p(BIG) ** 2, math.log1p(-1 + 1e-10) ** 2])
    ],
    "bce": [
        (
            [1, 0, 1, 0],
            [TINY, TINY, 1, 0],
            False,
            {},
            [-LOG_EPS, -math.log1p(-EPS), -math.log(1 - EPS), -math.log1p(-EPS)],
        ),
        ([1, 0, 1, 0], [1000, 1000, -1000, -1000], True, {}, [0, 1000, 1000, 0]),
    ],
    "focal": [
        (
            [1, 0, 0],
            [TINY, 1, TINY],
            False,
            {},
            [
                -((1 - EPS) ** 2) * LOG_EPS,
                -((1 - EPS) ** 2) * LOG_EPS,
                -(EPS**2) * math.log1p(-EPS),
            ],
        ),
        ([1, 0, 1, 0], [1000, 1000, -1000, -1000], True, {}, [0, 1000, 1000, 0]),
    ],
    "hinge": [([1, 0], [1000, 1000], False, {}, [0, 1001])],
    "squared-hinge": [([1, 0], [-1000, 1000], False, {}, [1001**2, 1001**2])],
    "modified-huber": [([1, 0], [-1000, 1000], False, {}, [4000, 4000])],
    "perceptron": [([1, 0], [-1000, 1000], False, {}, [1000, 1000])],
    "soft-margin": [([1, 0, 1], [-1000, 1000, 1000], False, {}, [1000, 1000, 0])],
    "cross-entropy": [
        ([0, 1], [[TINY, 1 - TINY], [TINY, 1]], False, {}, [-LOG_EPS, -math.log(1 - EPS)]),
        ([0, 1], [[1000, -1000, 0], [1000, -1000, 0]], True, {}, [0, 2000]),
        (
            [0, 1],
            [[1000, -1000, 0], [1000, -1000, 0]],
            True,
            {"label_smoothing": 0.3},
            [0.1 * 3000, 0.7 * 2000 + 0.1 * 3000],
        ),
    ],
    "multiclass-hinge": [([0, 1], [[1000, -1000, 0], [1000, -1000, 0]], False, {}, [0, 2001])],
    "multi-margin": [
        ([0, 1], [[1000, -1000, 0], [1000, -1000, 0]], False, {}, [0, 3002 / 3]),
        ([1], [[1000, -1000, 0]], False, {"p": 2}, [(2001**2 + 1001**2) / 3]),
    ],
    "kl-div": [
        (
            [[1, 0], [0.5, 0.5]],
            [[TINY, 1], [TINY, 1]],
            False,
            {},
            [-LOG_EPS, 0.5 * math.log(0.5 / EPS) + 0.5 * math.log(0.5 / (1 - EPS))],
        ),
    ],
    "contrastive": [([1, 0, 0], [BIG, BIG, 0], False, {}, [BIG**2, 0, 1])],
    **robust_cases.EXTREMES,
}


@pytest.mark.parametrize("name", NAMES)
def test_extremes_are_finite_closed_forms_without_warnings(name):
    assert name in EXTREMES, f"add extreme inputs for {name!r} to EXTREMES"
    loss = get_loss(name)
    for y, out, logits, params, expected in EXTREMES[name]:
        y, out = np.array(y, dtype=float), np.array(out, dtype=float)
        loss.check(y, out, logits=logits)
        kw = loss.resolve_params(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            rows = loss.per_row(y, out, logits=logits, **kw)
            value = loss.value(y, out, logits=logits, **params)
            grad = loss.grad(y, out, logits=logits, **params)
        np.testing.assert_allclose(rows, expected, rtol=1e-12, atol=0)
        assert math.isfinite(value)
        assert np.isfinite(grad).all()


def test_clipped_probability_gradients_point_inwards():
    g = get_loss("bce").row_grad(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert g[0] < 0 < g[1] and np.isfinite(g).all()


# --------------------------------------------------------------------------- names and metadata

ALIASES = {
    "mse": {"squared-error"},
    "mae": {"absolute-error"},
    "rmse": set(),
    "huber": set(),
    "log-cosh": set(),
    "quantile": {"pinball"},
    "epsilon-insensitive": set(),
    "squared-epsilon-insensitive": set(),
    "mape": {"mean-absolute-percentage-error"},
    "poisson": {"poisson-nll"},
    "tweedie": {"tweedie-deviance"},
    "gamma-deviance": {"gamma"},
    "msle": {"mean-squared-log-error"},
    "bce": {"log-loss", "binary-cross-entropy"},
    "focal": set(),
    "hinge": set(),
    "squared-hinge": set(),
    "modified-huber": set(),
    "perceptron": set(),
    "soft-margin": set(),
    "cross-entropy": {"ce", "categorical-cross-entropy"},
    "multiclass-hinge": set(),
    "multi-margin": set(),
    "kl-div": {"kl"},
    "contrastive": set(),
    **robust_cases.ALIASES,
}


def test_registry_names_and_aliases():
    assert LOSSES.names() == list(ALIASES)
    for name, aliases in ALIASES.items():
        assert set(LOSSES.aliases_of(name)) == aliases
        for alias in (name, *aliases):
            assert get_loss(alias) is get_loss(name)
            assert get_loss(alias.replace("-", "_").upper()).name == name


def test_metadata():
    tasks = {"regression", "positive", "binary", "margin", "multiclass", "distribution", "pair"}
    for name, loss in LOSSES.items():
        assert loss.name == name
        assert loss.task in tasks and loss.inputs and loss.formula, name
        assert set(loss.params) <= set(ALT_PARAMS), name
        assert loss.multi_output == (loss.task in ("multiclass", "distribution")), name
        assert loss.multi_target == (loss.task == "distribution"), name
        assert loss.supports_logits == (name in ("bce", "focal", "cross-entropy")), name
        assert loss.root_of_mean == (name == "rmse"), name


def test_known_parameters():
    assert {n: get_loss(n).params for n in LOSSES.names() if get_loss(n).params} == {
        "huber": {"delta": 1.0},
        "quantile": {"quantile": 0.5},
        "epsilon-insensitive": {"epsilon": 0.1},
        "squared-epsilon-insensitive": {"epsilon": 0.1},
        "poisson": {"log_input": True, "full": False, "poisson_eps": 1e-8},
        "tweedie": {"power": 1.5},
        "focal": {"gamma": 2.0},
        "cross-entropy": {"label_smoothing": 0.0},
        "multi-margin": {"p": 1, "margin": 1.0},
        "contrastive": {"margin": 1.0},
        **robust_cases.PARAMS,
    }
    assert PROB_EPS == np.finfo(np.float64).eps


# --------------------------------------------------------------------------- parameters


def test_missing_parameters_take_defaults():
    y, out = [0.0, 0.0], [0.5, 3.0]
    assert loss_value("huber", y, out) == loss_value("huber", y, out, delta=1.0)
    assert loss_value("huber", y, out, delta=2) == (0.125 + 4.0) / 2


def test_unknown_parameter_is_a_type_error():
    with pytest.raises(TypeError, match="'delta'"):
        loss_value("mse", [0.0], [1.0], delta=1.0)
    with pytest.raises(TypeError, match="'margin'"):
        loss_grad("huber", [0.0], [1.0], margin=1.0)


BAD_PARAMS = [
    ("quantile", {"quantile": 0.0}, "quantile must be in (0, 1); found 0"),
    ("quantile", {"quantile": 1.0}, "found 1"),
    ("quantile", {"quantile": 1.5}, "found 1.5"),
    ("huber", {"delta": -1.0}, "delta must be > 0; found -1"),
    ("huber", {"delta": 0.0}, "delta must be > 0; found 0"),
    ("epsilon-insensitive", {"epsilon": -0.1}, "epsilon must be >= 0; found -0.1"),
    ("focal", {"gamma": -2.0}, "gamma must be >= 0; found -2"),
    ("focal", {"gamma": math.nan}, "found nan"),
    ("contrastive", {"margin": -1.0}, "margin must be >= 0; found -1"),
    ("contrastive", {"margin": math.inf}, "found inf"),
    ("contrastive", {"margin": "wide"}, "margin must be a number; found 'wide'"),
    ("tweedie", {"power": 0.5}, "power must be <= 0 or >= 1; found 0.5"),
    ("tweedie", {"power": math.inf}, "found inf"),
    ("multi-margin", {"p": 3}, "p must be an integer in [1, 2]; found 3"),
    ("multi-margin", {"p": 1.5}, "found 1.5"),
    ("cross-entropy", {"label_smoothing": 1.5}, "label_smoothing must be in [0, 1]; found 1.5"),
    ("poisson", {"log_input": "yes"}, "log_input must be true or false; found 'yes'"),
    ("poisson", {"poisson_eps": 0.0}, "poisson_eps must be > 0; found 0"),
    *robust_cases.BAD_PARAMS,
]


def test_bad_parameters_are_config_errors():
    y, out = np.array([1.0]), np.array([0.5])
    for name, params, needle in BAD_PARAMS:
        loss = get_loss(name)
        for method in (loss.value, loss.grad):
            with pytest.raises(ConfigError) as err:
                method(y, out, **params)
            assert needle in str(err.value), (name, params)


def test_edge_parameters_are_allowed():
    assert loss_value("epsilon-insensitive", [0.0], [-2.0], epsilon=0.0) == 2.0
    assert loss_value("focal", [1.0], [0.9], gamma=0.0) == pytest.approx(-math.log(0.9))
    assert loss_value("contrastive", [0.0], [0.5], margin=0.0) == 0.0


# --------------------------------------------------------------------------- check()

NAN, INF = math.nan, math.inf
P3 = [[0.2, 0.3, 0.5]] * 3  # three valid probability rows

# (loss, y, out, logits, first bad row, part, text in the message)
BAD_INPUTS = [
    ("mse", [1, 2, NAN], [1, 2, 3], False, 2, "target", "targets must be finite; found nan"),
    (
        "mae",
        [1, 2, 3],
        [1, INF, 3],
        False,
        1,
        "prediction",
        "predictions must be finite; found inf",
    ),
    ("huber", [1, 2, 3], [1, 2, -INF], False, 2, "prediction", "found -inf"),
    (
        "bce",
        [1, 0, 1, 0],
        [0.5, 0.2, 1.3, -1],
        False,
        2,
        "prediction",
        "probabilities must lie in [0, 1]; found 1.3",
    ),
    ("bce", [1, 0, 2], [0.5, 0.2, 0.3], False, 2, "target", "targets must lie in [0, 1]; found 2"),
    ("bce", [1, 0], [3.0, NAN], True, 1, "prediction", "predictions must be finite"),
    ("focal", [1, 0, 0.5], [0.5, 0.2, 0.3], False, 2, "target", "labels must be 0 or 1; found 0.5"),
    ("focal", [1, 0], [0.5, -0.2], False, 1, "prediction", "found -0.2"),
    ("focal", [1, -1], [2.0, 3.0], True, 1, "target", "found -1"),
    ("hinge", [1, 0, 2], [1, 2, 3], False, 2, "target", "labels must be 0/1 or -1/1; found 2"),
    (
        "hinge",
        [1, 0, 1, -1, 0],
        [1, 2, 3, 4, 5],
        False,
        3,
        "target",
        "labels must be all 0/1 or all -1/1; found -1 after 0",
    ),
    ("squared-hinge", [-1, 1, 0], [1, 2, 3], False, 2, "target", "found 0 after -1"),
    ("modified-huber", [1, 0], [1, NAN], False, 1, "prediction", "must be finite"),
    (
        "cross-entropy",
        [0, 3, 1],
        P3,
        False,
        1,
        "target",
        "class index must be an integer in 0..2; found 3",
    ),
    ("cross-entropy", [0, 1.5, 1], P3, False, 1, "target", "found 1.5"),
    ("cross-entropy", [0, 1, -1], P3, False, 2, "target", "found -1"),
    (
        "cross-entropy",
        [0, 1, 2],
        [[0.2, 0.3, 0.5], [0.5, 0.6, -0.1], [1, 0, 0]],
        False,
        1,
        "prediction",
        "probabilities must lie in [0, 1]; found -0.1",
    ),
    (
        "cross-entropy",
        [0, 1, 2],
        [[0.2, 0.3, 0.5], [0.2, 0.3, 0.5], [0.1, 0.2, 0.3]],
        False,
        2,
        "prediction",
        "probability rows must sum to 1 (within 1e-6); found 0.6 (pass --logits",
    ),
    (
        "cross-entropy",
        [0, 1],
        [[0.2, 0.3, 0.5], [2.0, NAN, 1.0]],
        True,
        1,
        "prediction",
        "found nan",
    ),
    ("cross-entropy", [0, 1], [0.2, 0.3], False, None, "prediction", "one column per class"),
    (
        "multiclass-hinge",
        [0, 1, 5],
        [[1, 2, 3]] * 3,
        False,
        2,
        "target",
        "class index must be an integer in 0..2; found 5",
    ),
    (
        "kl-div",
        [[0.5, 0.5], [0.3, 0.6]],
        [[0.5, 0.5], [0.5, 0.5]],
        False,
        1,
        "target",
        "target probability rows must sum to 1 (within 1e-6); found 0.9",
    ),
    (
        "kl-div",
        [[0.5, 0.5], [1.5, -0.5]],
        [[0.5, 0.5], [0.5, 0.5]],
        False,
        1,
        "target",
        "target probabilities must lie in [0, 1]; found 1.5",
    ),
    (
        "kl-div",
        [[0.5, 0.5], [0.5, 0.5]],
        [[0.5, 0.5], [0.4, 0.7]],
        False,
        1,
        "prediction",
        "probability rows must sum to 1 (within 1e-6); found 1.1",
    ),
    ("kl-div", [[0.5, 0.5]], [[0.5, 0.5, 0.0]], False, None, "target", "shape"),
    ("contrastive", [1, 0, 3], [0.5, 1, 1], False, 2, "target", "found 3"),
    (
        "contrastive",
        [1, 0, 1],
        [0.5, -0.25, 1],
        False,
        1,
        "prediction",
        "distances must be >= 0; found -0.25",
    ),
    ("mse", [1, 2], [1, 2, 3], False, None, "target", "expected 3 targets"),
    ("mape", [1, 2], [1, NAN], False, 1, "prediction", "predictions must be finite"),
    (
        "poisson",
        [1, -1],
        [0, 0],
        False,
        1,
        "target",
        "targets must be >= 0 (counts or rates); found -1",
    ),
    (
        "tweedie",
        [1, 0, 2],
        [1, 1, 0],
        False,
        2,
        "prediction",
        "predictions must be > 0 (Tweedie power 1.5); found 0",
    ),
    (
        "tweedie",
        [1, -1],
        [1, 1],
        False,
        1,
        "target",
        "targets must be >= 0 (Tweedie power 1.5); found -1",
    ),
    ("gamma-deviance", [1, 0], [1, 1], False, 1, "target", "targets must be > 0"),
    ("msle", [1, 0], [1, -1], False, 1, "prediction", "predictions must be > -1 (log1p); found -1"),
    ("msle", [-1.5], [1], False, 0, "target", "targets must be > -1 (log1p); found -1.5"),
    ("perceptron", [1, 2], [1, 1], False, 1, "target", "labels must be 0/1 or -1/1; found 2"),
    ("soft-margin", [1, -1, 0], [1, 1, 1], False, 2, "target", "found 0 after -1"),
    (
        "multi-margin",
        [0, 3],
        [[1, 2, 3]] * 2,
        False,
        1,
        "target",
        "class index must be an integer in 0..2; found 3",
    ),
]


def test_check_names_row_part_and_value():
    for name, y, out, logits, row, part, needle in BAD_INPUTS:
        loss = get_loss(name)
        with pytest.raises(DomainError) as err:
            loss.check(np.array(y, dtype=float), np.array(out, dtype=float), logits=logits)
        message = str(err.value)
        assert (err.value.row, err.value.part) == (row, part), (name, message)
        assert needle in message, (name, message)
        assert "\n" not in message and message[0].islower()


def test_check_suggests_logits_only_where_supported():
    with pytest.raises(DomainError, match="--logits"):
        get_loss("bce").check(np.array([1.0]), np.array([2.0]))
    with pytest.raises(DomainError) as err:
        get_loss("kl-div").check(np.array([[0.5, 0.5]]), np.array([[0.9, 0.9]]))
    assert "--logits" not in str(err.value)


def test_kl_div_refuses_logits():
    with pytest.raises(ConfigError, match="not logits"):
        loss_value("kl-div", [[0.5, 0.5]], [[0.5, 0.5]], logits=True)
    with pytest.raises(ConfigError, match="not logits"):
        get_loss("kl").check(np.array([[0.5, 0.5]]), np.array([[0.5, 0.5]]), logits=True)


def test_check_accepts_valid_inputs_of_both_label_conventions():
    get_loss("hinge").check(np.array([0.0, 1.0]), np.array([0.3, -2.0]))
    get_loss("hinge").check(np.array([-1.0, 1.0]), np.array([0.3, -2.0]))
    get_loss("bce").check(np.array([0.25, 1.0]), np.array([0.0, 1.0]))
    get_loss("cross-entropy").check(np.array([2.0]), np.array([[0.2, 0.3, 0.5 + 1e-7]]))
    get_loss("cross-entropy").check(np.array([2.0]), np.array([[20.0, -3.0, 5.0]]), logits=True)


def test_check_accepts_every_sample_and_rejects_nan():
    for name, loss in LOSSES.items():
        y, out = sample(loss, False)  # sample() runs check on what it draws
        out[3] = np.nan
        with pytest.raises(DomainError) as err:
            loss.check(y, out)
        assert (err.value.row, err.value.part) == (3, "prediction"), name


def test_empty_input():
    with pytest.raises(DomainError, match="no rows"):
        get_loss("mse").check(np.array([]), np.array([]))
    with pytest.raises(DomainError, match="no rows"):
        loss_value("mse", [], [])


# --------------------------------------------------------------------------- new losses: sklearn


def test_new_regression_losses_match_sklearn_metrics():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(8)
    y = rng.gamma(2.0, 2.0, 40) + 0.01
    pred = y * np.exp(rng.normal(0.0, 0.5, 40))
    for power in (-1.0, 0.0, 1.0, 1.2, 1.5, 2.0, 3.0):
        assert loss_value("tweedie", y, pred, power=power) == pytest.approx(
            metrics.mean_tweedie_deviance(y, pred, power=power), rel=1e-12
        ), power
    assert loss_value("gamma-deviance", y, pred) == pytest.approx(
        metrics.mean_gamma_deviance(y, pred), rel=1e-12
    )
    counts = rng.poisson(3.0, 40).astype(float)  # zeros included: 0·log 0 = 0
    assert loss_value("tweedie", counts, pred, power=1.0) == pytest.approx(
        metrics.mean_poisson_deviance(counts, pred), rel=1e-12
    )
    assert loss_value("msle", y - 0.5, pred - 0.5) == pytest.approx(
        metrics.mean_squared_log_error(y - 0.5, pred - 0.5), rel=1e-12
    )
    with_zero = np.concatenate([[0.0], y])
    assert loss_value("mape", with_zero, np.concatenate([[0.25], pred])) == pytest.approx(
        metrics.mean_absolute_percentage_error(with_zero, np.concatenate([[0.25], pred])),
        rel=1e-12,
    )


def test_positive_losses_refuse_what_sklearn_refuses():
    metrics = pytest.importorskip("sklearn.metrics")
    cases = [
        ("tweedie", [0.0, 1.0], [1.0, 1.0], {"power": 2.0}),
        ("tweedie", [-1.0, 1.0], [1.0, 1.0], {"power": 1.5}),
        ("tweedie", [1.0, 1.0], [0.0, 1.0], {"power": -0.5}),
        ("msle", [-1.0, 1.0], [1.0, 1.0], {}),
    ]
    for name, y, pred, params in cases:
        with pytest.raises(ValueError):
            if name == "msle":
                metrics.mean_squared_log_error(y, pred)
            else:
                metrics.mean_tweedie_deviance(y, pred, **params)
        with pytest.raises(DomainError):
            get_loss(name).check(np.array(y), np.array(pred), **params)
    get_loss("tweedie").check(np.array([-2.0, 1.0]), np.array([1.0, 2.0]), power=0.0)


def test_poisson_without_log_input_checks_the_rates():
    with pytest.raises(DomainError, match="rates must be >= 0") as err:
        get_loss("poisson").check(np.array([1.0, 2.0]), np.array([0.5, -1.0]), log_input=False)
    assert err.value.row == 1
    get_loss("poisson").check(np.array([1.0, 2.0]), np.array([0.5, -1.0]))


def test_links_map_scores_to_predictions():
    s = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(get_loss("tweedie").predict(s), np.exp(s))
    np.testing.assert_array_equal(get_loss("poisson").predict(s), np.exp(s))
    np.testing.assert_array_equal(get_loss("msle").predict(s), np.expm1(s))
    assert get_loss("mse").predict(s) is s


# --------------------------------------------------------------------------- through the CLI

NEW = {
    "squared-epsilon-insensitive": "diabetes",
    "mape": "diabetes",
    "poisson": "diabetes",
    "tweedie": "diabetes",
    "gamma-deviance": "diabetes",
    "msle": "diabetes",
    "perceptron": "breast-cancer",
    "soft-margin": "breast-cancer",
    "multi-margin": "iris",
}


@pytest.mark.parametrize("name", list(NEW))
def test_every_new_loss_through_fit_compare_and_eval(cli, write_csv, name):
    data, loss = NEW[name], get_loss(name)
    model = "softmax" if loss.multi_output else "linear"
    fitted = cli.json("fit", data, "--model", model, "--loss", name, "--epochs", "3", "--no-save")
    assert fitted["status"] == "completed" and fitted["config"]["loss"] == name
    assert math.isfinite(fitted["metrics"]["test"]["loss"])
    assert {k: fitted["config"][k] for k in loss.params} == loss.params
    study = cli.json(
        "compare",
        data,
        "--model",
        model,
        "--loss",
        name,
        "--optimizer",
        "adam",
        "--epochs",
        "2",
        "--seeds",
        "1",
        "--jobs",
        "1",
        "--no-save",
    )
    assert [row["loss"] for row in study["summary"]] == [name]
    if loss.multi_output:
        path = write_csv("y,a,b,c\n0,2,0.5,1.5\n2,0,1,0.5\n")
    elif loss.task == "margin":
        path = write_csv("y,score\n1,0.5\n-1,2\n1,-3\n")
    else:
        path = write_csv("y,pred\n3,2.5\n5,5.5\n1,2\n")
    out = cli.json("eval", path, "--loss", name)
    y, pred = (np.array(v, float) for v in ([0, 2], [[2, 0.5, 1.5], [0, 1, 0.5]]))
    if not loss.multi_output:
        rows = np.loadtxt(path, delimiter=",", skiprows=1)
        y, pred = rows[:, 0], rows[:, 1]
    assert out["losses"][name] == pytest.approx(loss.value(y, pred), rel=1e-15)
    assert out["params"] == loss.params


def test_losses_listing_shows_parameters_and_links(cli):
    rows = {row["name"]: row for row in cli.json("losses")}
    assert rows["poisson"]["parameters"] == "log_input=true, full=false, poisson_eps=1e-08"
    assert rows["multi-margin"]["parameters"] == "p=1, margin=1"
    assert rows["cross-entropy"]["parameters"] == "label_smoothing=0"
    assert "fit: ŷ = exp(s)" in rows["tweedie"]["inputs"]


def test_every_loss_parameter_is_a_flag_of_fit_compare_and_eval(cli):
    from losslab.losses import DECLARED
    from losslab.optim.optimizers import HYPERPARAMETERS

    assert not set(DECLARED) & set(HYPERPARAMETERS)  # one flag, one meaning
    for command in ("fit", "compare", "eval"):
        text = "".join(cli(command, "--help").stdout.split())
        for name in DECLARED:
            assert "--" + name.replace("_", "-") in text, (command, name)
    assert "--no-log-input" in "".join(cli("fit", "--help").stdout.split())


def test_loss_parameters_reach_eval(cli, write_csv):
    path = write_csv("y,pred\n1,4\n")
    out = cli.json("eval", path, "--loss", "tweedie", "--power", "3")
    assert out["losses"]["tweedie"] == pytest.approx(9 / 16)  # (y − ŷ)²/(y·ŷ²)
    assert out["params"] == {"power": 3.0}
    path = write_csv("y,pred\n2,1\n", "rates.csv")
    out = cli.json("eval", path, "--loss", "poisson", "--no-log-input", "--full")
    stirling = 2 * math.log(2) - 2 + 0.5 * math.log(4 * math.pi)
    assert out["losses"]["poisson"] == pytest.approx(1 - 2 * math.log1p(1e-8) + stirling)
    assert out["params"] == {"log_input": False, "full": True, "poisson_eps": 1e-8}


def test_a_linked_model_predicts_and_is_scored_on_its_predictions(cli, tmp_path):
    import losslab

    run = losslab.fit("diabetes", loss="tweedie", epochs=5, save=True, out=str(tmp_path))
    rows = cli("predict", run.record, "diabetes").stdout.splitlines()
    assert rows[0] == "prediction,score"
    table = np.array([[float(v) for v in row.split(",")] for row in rows[1:]])
    np.testing.assert_allclose(table[:, 0], np.exp(table[:, 1]), rtol=1e-15)
    scored = cli.json("eval", "diabetes", "--model", run.record, "--loss", "tweedie")
    y = np.loadtxt(DATASETS / "diabetes.csv", delimiter=",", skiprows=1)[:, -1]
    want = get_loss("tweedie").value(y, table[:, 0])
    assert scored["losses"]["tweedie"] == pytest.approx(want, rel=1e-12)
