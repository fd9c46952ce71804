"""Regression losses: a real target y and a real prediction ŷ (residual d = ŷ − y)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losslab.losses.base import (
    DELTA,
    EPSILON,
    FULL,
    LOG1P_LINK,
    LOG_INPUT,
    LOG_LINK,
    POISSON_EPS,
    POWER,
    PROB_EPS,
    QUANTILE,
    _real,
    _require,
    check_real,
    register_loss,
)

# --------------------------------------------------------------------------- regression

REAL = "y, ŷ real"


def mse_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """2d."""
    return 2.0 * (out - y)


@register_loss(
    "mse",
    aliases=("squared-error",),
    grad=mse_grad,
    check=check_real,
    task="regression",
    inputs=REAL,
    formula="(ŷ − y)²",
)
def mse(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """Squared error d²."""
    d = out - y
    return d * d


def mae_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """sign(d), with sign(0) = 0 (the middle of the subdifferential [−1, 1])."""
    return np.sign(out - y)


@register_loss(
    "mae",
    aliases=("absolute-error",),
    grad=mae_grad,
    check=check_real,
    task="regression",
    inputs=REAL,
    formula="|ŷ − y|",
)
def mae(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """Absolute error |d|."""
    return np.abs(out - y)


register_loss(
    "rmse",
    grad=mse_grad,
    check=check_real,
    task="regression",
    inputs=REAL,
    formula="√(mean of (ŷ − y)²)",
    root_of_mean=True,
)(mse)


def huber_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, delta: float = 1.0
) -> np.ndarray:
    """clip(d, −δ, δ); continuous, so no kink choice."""
    return np.clip(out - y, -delta, delta)


@register_loss(
    "huber",
    params=(DELTA,),
    grad=huber_grad,
    check=check_real,
    task="regression",
    inputs=REAL,
    formula="½d² if |d| ≤ δ else δ(|d| − ½δ)",
)
def huber(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, delta: float = 1.0
) -> np.ndarray:
    """½d² for |d| ≤ δ, δ(|d| − ½δ) beyond (Huber 1964; torch ``huber_loss``). δ must be > 0:
    at δ = 0 the loss would be identically zero."""
    a = np.abs(out - y)
    return np.where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta))


def log_cosh_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """tanh d."""
    return np.tanh(out - y)


@register_loss(
    "log-cosh",
    grad=log_cosh_grad,
    check=check_real,
    task="regression",
    inputs=REAL,
    formula="log cosh(ŷ − y)",
)
def log_cosh(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """log cosh d, as |d| + log1p(e^−2|d|) − log 2 (no overflow), and as log1p(2 sinh²(d/2))
    for |d| < 1, where the first form would cancel."""
    a = np.abs(out - y)
    large = a + np.log1p(np.exp(-2.0 * a)) - math.log(2.0)
    h = np.sinh(0.5 * np.minimum(a, 1.0))
    return np.where(a < 1.0, np.log1p(2.0 * h * h), large)


def quantile_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, quantile: float = 0.5
) -> np.ndarray:
    """½ sign(d) + ½ − τ: 1 − τ above the target, −τ below, and ½ − τ at d = 0 (the middle of
    the subdifferential, like MAE's sign(0) = 0; at τ = ½ it is exactly half MAE's gradient)."""
    return 0.5 * np.sign(out - y) + (0.5 - quantile)


@register_loss(
    "quantile",
    params=(QUANTILE,),
    aliases=("pinball",),
    grad=quantile_grad,
    check=check_real,
    task="regression",
    inputs=REAL,
    formula="max(τ(y − ŷ), (τ − 1)(y − ŷ))",
)
def quantile(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, quantile: float = 0.5
) -> np.ndarray:
    """Pinball loss max(τ(y − ŷ), (τ − 1)(y − ŷ)) (Koenker & Bassett 1978; scikit-learn
    ``mean_pinball_loss``)."""
    r = y - out
    return np.maximum(quantile * r, (quantile - 1.0) * r)


def epsilon_insensitive_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, epsilon: float = 0.1
) -> np.ndarray:
    """sign(d) where |d| > ε, else 0 (so 0 at |d| = ε, as scikit-learn's ``dloss``)."""
    d = out - y
    return np.where(np.abs(d) > epsilon, np.sign(d), 0.0)


@register_loss(
    "epsilon-insensitive",
    params=(EPSILON,),
    grad=epsilon_insensitive_grad,
    check=check_real,
    task="regression",
    inputs=REAL,
    formula="max(0, |ŷ − y| − ε)",
)
def epsilon_insensitive(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, epsilon: float = 0.1
) -> np.ndarray:
    """max(0, |d| − ε) (Vapnik's SVR loss; scikit-learn ``EpsilonInsensitive``)."""
    return np.maximum(np.abs(out - y) - epsilon, 0.0)


def squared_epsilon_insensitive_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, epsilon: float = 0.1
) -> np.ndarray:
    """2·sign(d)·max(0, |d| − ε); continuous (scikit-learn's ``dloss``)."""
    d = out - y
    return 2.0 * np.sign(d) * np.maximum(np.abs(d) - epsilon, 0.0)


@register_loss(
    "squared-epsilon-insensitive",
    params=(EPSILON,),
    grad=squared_epsilon_insensitive_grad,
    check=check_real,
    task="regression",
    inputs=REAL,
    formula="max(0, |ŷ − y| − ε)²",
)
def squared_epsilon_insensitive(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, epsilon: float = 0.1
) -> np.ndarray:
    """max(0, |d| − ε)² (scikit-learn ``SGDRegressor(loss="squared_epsilon_insensitive")``)."""
    gap = np.maximum(np.abs(out - y) - epsilon, 0.0)
    return gap * gap


def mape_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """sign(d) / max(|y|, eps), with sign(0) = 0 as for MAE."""
    return np.sign(out - y) / np.maximum(np.abs(y), PROB_EPS)


@register_loss(
    "mape",
    aliases=("mean-absolute-percentage-error",),
    grad=mape_grad,
    check=check_real,
    task="regression",
    inputs=REAL,
    formula="|ŷ − y| / max(|y|, eps)",
)
def mape(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """|d| / max(|y|, eps), eps the float64 machine epsilon, so y = 0 gives a huge finite value
    (scikit-learn ``mean_absolute_percentage_error``: a fraction, not a percentage)."""
    return np.abs(out - y) / np.maximum(np.abs(y), PROB_EPS)


# --------------------------------------------------------------------------- positive targets
# Deviances whose predictions must be positive. Trained, a model's score s reaches them through
# a link (ŷ = exp(s), as scikit-learn's TweedieRegressor); evaluated, they take predictions.


def check_poisson(
    y: Any, out: Any, *, logits: bool = False, log_input: bool = True, **params: Any
) -> None:
    """y ≥ 0; a finite log rate, or with ``log_input`` off a rate ≥ 0."""
    y, out = _real(y, out)
    _require(y, y < 0, "target", "targets must be >= 0 (counts or rates)")
    if not log_input:
        _require(out, out < 0, "prediction", "rates must be >= 0 (log rates take --log-input)")


def _stirling(y: np.ndarray) -> np.ndarray:
    """y·log y − y + ½·log(2πy) where y > 1, else 0 (torch's ``full`` term)."""
    big = y > 1.0
    t = np.where(big, y, 2.0)
    return np.where(big, t * np.log(t) - t + 0.5 * np.log(2.0 * math.pi * t), 0.0)


def poisson_grad(
    y: np.ndarray,
    out: np.ndarray,
    *,
    logits: bool = False,
    log_input: bool = True,
    full: bool = False,
    poisson_eps: float = 1e-8,
) -> np.ndarray:
    """eˢ − y from a log rate; 1 − y/(s + eps) from a rate (the Stirling term is constant)."""
    if log_input:
        return np.exp(out) - y
    return 1.0 - y / (out + poisson_eps)


@register_loss(
    "poisson",
    aliases=("poisson-nll",),
    params=(LOG_INPUT, FULL, POISSON_EPS),
    grad=poisson_grad,
    check=check_poisson,
    task="positive",
    inputs="y ≥ 0, log rate s (or rate ≥ 0)",
    formula="eˢ − y·s (log input) or s − y·log(s + eps)",
    link=LOG_LINK,
    score_input=True,
)
def poisson(
    y: np.ndarray,
    out: np.ndarray,
    *,
    logits: bool = False,
    log_input: bool = True,
    full: bool = False,
    poisson_eps: float = 1e-8,
) -> np.ndarray:
    """Poisson negative log-likelihood without log y!: eˢ − y·s from a log rate s, s − y·log(s +
    eps) from a rate; ``full`` adds Stirling's y·log y − y + ½·log(2πy) for y > 1 (torch
    ``PoissonNLLLoss``). A model trains on its score as the log rate and predicts eˢ."""
    if log_input:
        with np.errstate(invalid="ignore"):
            rows = np.exp(out) - y * out
        both = np.isnan(rows)  # eˢ and y·s both beyond float64: the larger decides the sign
        if both.any():
            s, t = out[both], y[both]
            rows[both] = np.where(s > np.log(t) + np.log(s), np.inf, -np.inf)
    else:
        rows = out - y * np.log(out + poisson_eps)
    return rows + _stirling(y) if full else rows


def _tweedie_domain(power: float) -> tuple[str, str]:
    """scikit-learn's domain of y for a Tweedie power, as (condition, text)."""
    if power >= 2:
        return "positive", "> 0"
    if power >= 1:
        return "nonnegative", ">= 0"
    return "any", ""


def check_tweedie(
    y: Any, out: Any, *, logits: bool = False, power: float = 1.5, **params: Any
) -> None:
    """scikit-learn's domains: power < 0: ŷ > 0; 0: any; [1, 2): y ≥ 0, ŷ > 0; ≥ 2: y, ŷ > 0."""
    y, out = _real(y, out)
    domain, text = _tweedie_domain(power)
    why = f" (Tweedie power {power:g})"
    if domain == "positive":
        _require(y, y <= 0, "target", f"targets must be {text}{why}")
    elif domain == "nonnegative":
        _require(y, y < 0, "target", f"targets must be {text}{why}")
    if power != 0:
        _require(out, out <= 0, "prediction", f"predictions must be > 0{why}")


def tweedie_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, power: float = 1.5
) -> np.ndarray:
    """2·ŷ^(−p)·(ŷ − y), for every power."""
    if power == 0:
        return 2.0 * (out - y)
    return 2.0 * out ** (-power) * (out - y)


@register_loss(
    "tweedie",
    aliases=("tweedie-deviance",),
    params=(POWER,),
    grad=tweedie_grad,
    check=check_tweedie,
    task="positive",
    inputs="y ≥ 0 (> 0 for p ≥ 2), ŷ > 0",
    formula="2[y^(2−p)/((1−p)(2−p)) − y·ŷ^(1−p)/(1−p) + ŷ^(2−p)/(2−p)]",
    link=LOG_LINK,
)
def tweedie(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, power: float = 1.5
) -> np.ndarray:
    """The unit Tweedie deviance of power p in scikit-learn's ``mean_tweedie_deviance`` forms:
    (y − ŷ)² at p = 0, 2(y·log(y/ŷ) − y + ŷ) at 1, 2(log(ŷ/y) + y/ŷ − 1) at 2, the general
    form elsewhere (y^(2−p) read as max(y, 0)^(2−p) for p < 0)."""
    p = power
    if p == 0:
        d = y - out
        return d * d
    if p == 1:
        return 2.0 * (np.where(y == 0, 0.0, y * _log_ratio(y, out)) - y + out)
    if p == 2:
        return 2.0 * (_log_ratio(out, y) + y / out - 1.0)
    yp = np.where(y > 0, y, 0.0) if p < 0 else y
    return 2.0 * (
        yp ** (2.0 - p) / ((1.0 - p) * (2.0 - p))
        - y * out ** (1.0 - p) / (1.0 - p)
        + out ** (2.0 - p) / (2.0 - p)
    )


def _log_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(a/b) for a ≥ 0, b > 0 (scikit-learn's form), as log a − log b where a/b leaves the
    float64 range (1e-300/1e308 is not 0); 0 where a = 0 (its factor a is 0 too)."""
    r = a / b
    fits = (r > 0) & np.isfinite(r)
    if fits.all():
        return np.log(r)
    logs = np.log(np.where(fits, r, 1.0))
    apart = ~fits & (a > 0)
    logs[apart] = np.log(a[apart]) - np.log(b[apart])
    return logs


def check_gamma(y: Any, out: Any, *, logits: bool = False, **params: Any) -> None:
    """y > 0, ŷ > 0."""
    check_tweedie(y, out, power=2.0)


def gamma_deviance_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """2(ŷ − y)/ŷ²."""
    return tweedie_grad(y, out, power=2.0)


@register_loss(
    "gamma-deviance",
    aliases=("gamma",),
    grad=gamma_deviance_grad,
    check=check_gamma,
    task="positive",
    inputs="y > 0, ŷ > 0",
    formula="2[log(ŷ/y) + y/ŷ − 1]",
    link=LOG_LINK,
)
def gamma_deviance(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """The Tweedie deviance at power 2 (scikit-learn ``mean_gamma_deviance``)."""
    return tweedie(y, out, power=2.0)


def check_log1p(y: Any, out: Any, *, logits: bool = False, **params: Any) -> None:
    """y > −1 and ŷ > −1 (scikit-learn's rule for ``mean_squared_log_error``)."""
    y, out = _real(y, out)
    _require(y, y <= -1, "target", "targets must be > -1 (log1p)")
    _require(out, out <= -1, "prediction", "predictions must be > -1 (log1p)")


def msle_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """2(log1p ŷ − log1p y)/(1 + ŷ)."""
    return 2.0 * (np.log1p(out) - np.log1p(y)) / (1.0 + out)


@register_loss(
    "msle",
    aliases=("mean-squared-log-error",),
    grad=msle_grad,
    check=check_log1p,
    task="positive",
    inputs="y > −1, ŷ > −1",
    formula="(log(1 + ŷ) − log(1 + y))²",
    link=LOG1P_LINK,
)
def msle(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """(log1p ŷ − log1p y)² (scikit-learn ``mean_squared_log_error``). A model trains through
    ŷ = eˢ − 1, so that log1p ŷ = s: least squares on log1p y."""
    d = np.log1p(out) - np.log1p(y)
    return d * d
