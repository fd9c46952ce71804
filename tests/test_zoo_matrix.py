"""Adafactor, Muon, L-BFGS and Polyak's step against references written here (the published
formulas, an SVD, closed-form least squares, a Newton solve) and against torch.optim when it is
installed: every update of Adafactor and Muon on matrices, vectors and conv kernels, and `fit`
epoch by epoch on a linear model and on an MLP."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_fit import _encoded, newton, ref_loss_and_grad
from test_network import _digits, _init_npz, _torch_history, _write_csv
from test_optimizers import assert_steps_close, ref_adam, run_ours

import losslab
from losslab.optim.matrix import orthogonalise
from losslab.optim.optimizers import OPTIMIZERS, StepContext, make_optimizer
from losslab.train.config import FitConfig
from losslab.train.loop import optimum_of
from losslab.train.prepare import prepare

STEP_REFERENCED = {"adafactor", "muon", "lbfgs", "polyak"}
FIT_REFERENCED = {"adafactor", "muon", "lbfgs", "polyak"}
# Refusals by design on the bundled data's default models: Muon needs a weight matrix (linear
# and logistic models have a weight vector); iris's classes are partly separable, so the
# infimum of its objective is neither attained nor known without --l2.
REFUSED = {
    ("muon", "breast_cancer"): "muon needs a weight matrix",
    ("muon", "diabetes"): "muon needs a weight matrix",
    ("polyak", "iris"): "polyak needs the exact optimum f*",
}

# The defaults of the specification (torch 2.13's signatures), written out again.
REF_DEFAULTS = {
    "adafactor": {"beta2_decay": -0.8, "eps1": None, "eps2": 1e-3, "d": 1.0, "weight_decay": 0.0},
    "muon": {
        "weight_decay": 0.1,
        "momentum": 0.95,
        "nesterov": True,
        "ns_a": 3.4445,
        "ns_b": -4.7750,
        "ns_c": 2.0315,
        "eps": 1e-7,
        "ns_steps": 5,
        "adjust_lr_fn": "original",
    },
    "lbfgs": {
        "max_iter": 20,
        "max_eval": None,
        "tolerance_grad": 1e-7,
        "tolerance_change": 1e-9,
        "history_size": 100,
        "line_search_fn": "none",
    },
    "polyak": {"max_step": None},
}
ADAMW = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False}


@pytest.mark.parametrize("name", list(REF_DEFAULTS))
def test_defaults(name):
    spec = OPTIMIZERS.get(name)
    assert spec.hyper_defaults == REF_DEFAULTS[name]
    assert spec.default_batch_size == (0 if name in ("lbfgs", "polyak") else 32)
    assert spec.rule.full_batch == (name in ("lbfgs", "polyak"))
    assert spec.rule.needs_optimum == (name == "polyak")


def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    import inspect

    def defaults(cls):
        return {k: v.default for k, v in inspect.signature(cls).parameters.items()}

    ada, muon, lbfgs = (
        defaults(torch.optim.Adafactor),
        defaults(torch.optim.Muon),
        defaults(torch.optim.LBFGS),
    )
    mine = REF_DEFAULTS["adafactor"]
    assert (ada["beta2_decay"], ada["eps"], ada["d"], ada["weight_decay"]) == (
        mine["beta2_decay"],
        (mine["eps1"], mine["eps2"]),
        mine["d"],
        mine["weight_decay"],
    )
    mine = REF_DEFAULTS["muon"]
    assert muon["ns_coefficients"] == (mine["ns_a"], mine["ns_b"], mine["ns_c"])
    for k in ("weight_decay", "momentum", "nesterov", "eps", "ns_steps"):
        assert muon[k] == mine[k], k
    mine = REF_DEFAULTS["lbfgs"]
    for k in ("max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size"):
        assert lbfgs[k] == mine[k], k
    assert lbfgs["line_search_fn"] is None and lbfgs["lr"] == OPTIMIZERS.get("lbfgs").default_lr


# --------------------------------------------------------------------------- the step problem

STEPS = 20
# torch's layout: a wide and a tall weight matrix, a one-row weight (a one-output layer) and a
# conv kernel, each followed by its bias.
SHAPES = [(3, 4), (3,), (5, 3), (5,), (1, 5), (1,), (2, 3, 2, 2), (2,)]
MASK = [True, False] * 4


def problem():
    """Params, 20 gradients and 20 lrs. Gradient scales differ by coordinate (1e-6 … 10, one
    entry of each tensor always 0) and drop after step 5; the lrs straddle 1/√t, Adafactor's
    other cap."""
    rng = np.random.default_rng(20250301)
    params = []
    for shape in SHAPES:
        p = rng.normal(size=shape[::-1]).T if len(shape) > 1 else rng.normal(size=shape)
        params.append(p)  # weights as transposed views, as the network hands them over
    scales = [np.logspace(-6, 1, math.prod(s)).reshape(s) for s in SHAPES]
    for s in scales:
        s.flat[0] = 0.0 if s.size > 1 else s.flat[0]
    grads = [
        [
            rng.normal(size=s) * sc * (3.0 if t < 5 else 0.2)
            for s, sc in zip(SHAPES, scales, strict=True)
        ]
        for t in range(STEPS)
    ]
    lrs = [0.3 * (1.0 + 0.8 * math.sin(t)) for t in range(STEPS)]
    return params, grads, lrs


# --------------------------------------------------------------------------- Adafactor


def ref_adafactor(h, params0, grads, lrs):
    """Adafactor from the algorithm in torch's docs (Shazeer & Stern 2018 with torch's lr and
    ε1), functionally: R, C the row/column means of g² over the last two dimensions."""
    params = list(params0)
    R = [np.zeros((*p.shape[:-1], 1)) if p.ndim > 1 else None for p in params]
    C = [np.zeros((*p.shape[:-2], 1, p.shape[-1])) if p.ndim > 1 else None for p in params]
    V = [np.zeros(p.shape) if p.ndim == 1 else None for p in params]
    eps1 = h["eps1"] if h["eps1"] is not None else np.finfo(np.float64).eps
    out = []
    for t, (gs, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
        beta = 1.0 - t ** h["beta2_decay"]
        rho = min(lr, 1.0 / math.sqrt(t))
        new = []
        for i, (p, g) in enumerate(zip(params, gs, strict=True)):
            alpha = max(h["eps2"], math.sqrt(np.mean(p * p))) * rho
            if MASK[i]:
                p = p - lr * h["weight_decay"] * p
            if p.ndim > 1:
                R[i] = beta * R[i] + (1 - beta) * np.mean(g * g, axis=-1, keepdims=True)
                C[i] = beta * C[i] + (1 - beta) * np.mean(g * g, axis=-2, keepdims=True)
                v = R[i] * C[i] / np.maximum(np.mean(R[i], axis=-2, keepdims=True), eps1)
            else:
                V[i] = beta * V[i] + (1 - beta) * g * g
                v = V[i]
            U = g / np.maximum(np.sqrt(v), eps1)
            new.append(p - alpha * U / max(1.0, math.sqrt(np.mean(U * U)) / h["d"]))
        params = new
        out.append(params)
    return out


def torch_adafactor(torch, h, params0, grads, lrs):
    ps = [torch.tensor(p, dtype=torch.float64) for p in params0]
    groups = [
        {
            "params": [p for p, m in zip(ps, MASK, strict=True) if m],
            "weight_decay": h["weight_decay"],
        },
        {"params": [p for p, m in zip(ps, MASK, strict=True) if not m], "weight_decay": 0.0},
    ]
    opt = torch.optim.Adafactor(
        groups, lr=1.0, beta2_decay=h["beta2_decay"], eps=(h["eps1"], h["eps2"]), d=h["d"]
    )
    return _torch_steps(torch, opt, ps, grads, lrs)


def _torch_steps(torch, opt, ps, grads, lrs, *others):
    out = []
    for gs, lr in zip(grads, lrs, strict=True):
        for o in (opt, *others):
            for group in o.param_groups:
                group["lr"] = lr
        for p, g in zip(ps, gs, strict=True):
            p.grad = torch.tensor(g, dtype=torch.float64)
        for o in (opt, *others):
            o.step()
        out.append([p.detach().numpy().copy() for p in ps])
    return out


ADAFACTOR_CASES = [
    {},
    {"weight_decay": 0.1},
    {"beta2_decay": -0.5, "eps1": 1e-3, "eps2": 1e-2, "d": 1.5},
    {"eps1": 1e-12, "d": 100.0},
]


@pytest.mark.parametrize("hyper", ADAFACTOR_CASES, ids=str)
def test_adafactor_matches_reference_every_step(hyper):
    params, grads, lrs = problem()
    h = {**REF_DEFAULTS["adafactor"], **hyper}
    ours = run_ours("adafactor", hyper, params, grads, lrs, MASK)
    assert_steps_close(ours, ref_adafactor(h, params, grads, lrs), 1e-12)
    assert all(
        not np.allclose(a, b) for a, b in zip(ours[-1], params, strict=True)
    )  # everything moved


@pytest.mark.parametrize("hyper", ADAFACTOR_CASES, ids=str)
def test_adafactor_matches_torch_every_step(hyper):
    torch = pytest.importorskip("torch")
    params, grads, lrs = problem()
    h = {**REF_DEFAULTS["adafactor"], **hyper}
    want = torch_adafactor(torch, h, params, grads, lrs)
    assert_steps_close(run_ours("adafactor", hyper, params, grads, lrs, MASK), want, 1e-12)


def test_adafactor_factors_matrices_and_kernels_keeps_vectors_whole():
    params, _, _ = problem()
    state = make_optimizer("adafactor").init(params)
    shapes = [{k: v.shape for k, v in b.items()} for b in state.buffers]
    assert shapes[0] == {"row": (3, 1), "col": (1, 4)}
    assert shapes[4] == {"row": (1, 1), "col": (1, 5)}
    assert shapes[6] == {"row": (2, 3, 2, 1), "col": (2, 3, 1, 2)}
    assert shapes[1] == {"v": (3,)}


# --------------------------------------------------------------------------- Muon


def ref_newton_schulz(G, a, b, c, steps, eps):
    """Keller Jordan's zeropower_via_newtonschulz5 in float64: X ← aX + b(XXᵀ)X + c(XXᵀ)²X."""
    tall = G.shape[0] > G.shape[1]
    X = G.T if tall else G
    X = X / max(np.linalg.norm(X), eps)
    for _ in range(steps):
        A = X @ X.T
        X = a * X + b * (A @ X) + c * (A @ (A @ X))
    return X.T if tall else X


def ref_muon(h, params0, grads, lrs):
    """Muon on the 2-D weights with both sizes > 1 (torch's code: the momentum as an average,
    b = μb + (1−μ)g, and Nesterov's (1−μ)g + μb, which the normalisation makes the post's
    μb + g), AdamW (torch's defaults, the same lr and λ) on everything else."""
    params, bufs, states = list(params0), [0.0] * len(params0), [{} for _ in params0]
    adamw = {**ADAMW, "weight_decay": h["weight_decay"], "decoupled_weight_decay": True}
    out = []
    for t, (gs, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
        new = []
        for i, (p, g) in enumerate(zip(params, gs, strict=True)):
            if p.ndim == 2 and min(p.shape) > 1:
                mu = h["momentum"]
                bufs[i] = mu * bufs[i] + (1 - mu) * g
                u = (1 - mu) * g + mu * bufs[i] if h["nesterov"] else bufs[i]
                coef = (h["ns_a"], h["ns_b"], h["ns_c"])
                orth = ref_newton_schulz(u, *coef, h["ns_steps"], h["eps"])
                A, B = p.shape
                if h["adjust_lr_fn"] == "original":
                    scale = math.sqrt(max(1.0, A / B))
                else:
                    scale = 0.2 * math.sqrt(max(A, B))
                new.append(p * (1 - lr * h["weight_decay"]) - lr * scale * orth)
            else:
                p, states[i] = ref_adam(adamw, p, g, states[i], t, lr, MASK[i])
                new.append(p)
        params = new
        out.append(params)
    return out


def torch_muon(torch, h, params0, grads, lrs):
    ps = [torch.tensor(p, dtype=torch.float64) for p in params0]
    matrices = [p for p in ps if p.ndim == 2 and min(p.shape) > 1]
    others = [
        (p, m) for p, m in zip(ps, MASK, strict=True) if not (p.ndim == 2 and min(p.shape) > 1)
    ]
    muon = torch.optim.Muon(
        matrices,
        lr=1.0,
        weight_decay=h["weight_decay"],
        momentum=h["momentum"],
        nesterov=h["nesterov"],
        ns_coefficients=(h["ns_a"], h["ns_b"], h["ns_c"]),
        eps=h["eps"],
        ns_steps=h["ns_steps"],
        adjust_lr_fn=h["adjust_lr_fn"].replace("-", "_"),
    )
    adamw = torch.optim.AdamW(
        [
            {"params": [p for p, m in others if m], "weight_decay": h["weight_decay"]},
            {"params": [p for p, m in others if not m], "weight_decay": 0.0},
        ],
        lr=1.0,
        betas=(ADAMW["beta1"], ADAMW["beta2"]),
        eps=ADAMW["eps"],
    )
    return _torch_steps(torch, muon, ps, grads, lrs, adamw)


@pytest.fixture
def float64_newton_schulz(monkeypatch):
    """torch runs Newton–Schulz in bfloat16 (3 digits); with the cast made a copy, the very same
    code runs in float64, so everything else can be compared to 1e-12."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.Tensor, "bfloat16", lambda self: self.clone())
    return torch


MUON_CASES = [
    {},
    {"nesterov": False},
    {"adjust_lr_fn": "match-rms-adamw", "weight_decay": 0.0},
    {"momentum": 0.5, "ns_steps": 3, "eps": 1e-3, "ns_a": 2.0, "ns_b": -1.5, "ns_c": 0.5},
]


def _small_lrs(lrs):
    return [lr / 10 for lr in lrs]  # Muon moves a matrix by about lr per step in spectral norm


@pytest.mark.parametrize("hyper", MUON_CASES, ids=str)
def test_muon_matches_reference_every_step(hyper):
    params, grads, lrs = problem()
    lrs = _small_lrs(lrs)
    h = {**REF_DEFAULTS["muon"], **hyper}
    ours = run_ours("muon", hyper, params, grads, lrs, MASK)
    assert_steps_close(ours, ref_muon(h, params, grads, lrs), 1e-12)
    assert all(not np.allclose(a, b) for a, b in zip(ours[-1], params, strict=True))


@pytest.mark.parametrize("hyper", MUON_CASES, ids=str)
def test_muon_matches_torch_every_step(hyper, float64_newton_schulz):
    torch = float64_newton_schulz
    params, grads, lrs = problem()
    lrs = _small_lrs(lrs)
    h = {**REF_DEFAULTS["muon"], **hyper}
    want = torch_muon(torch, h, params, grads, lrs)
    assert_steps_close(run_ours("muon", hyper, params, grads, lrs, MASK), want, 1e-12)


def test_muon_differs_from_torch_only_by_bfloat16():
    torch = pytest.importorskip("torch")
    params, grads, lrs = problem()
    h = REF_DEFAULTS["muon"]
    start = [p.copy() for p in params]
    ours = run_ours("muon", {}, params, grads[:1], lrs[:1], MASK)[0]
    want = torch_muon(torch, h, params, grads[:1], lrs[:1])[0]
    for i in (0, 2):  # the two matrices (the rest, AdamW's, agree to rounding)
        moved, torch_moved = ours[i] - start[i], want[i] - start[i]
        assert np.linalg.norm(moved - torch_moved) < 0.03 * np.linalg.norm(moved)
    np.testing.assert_allclose(ours[1], want[1], rtol=1e-12)


def test_newton_schulz_reaches_the_polar_factor():
    """Many steps of the cubic iteration (a, b, c) = (1.5, −0.5, 0) converge to UVᵀ exactly;
    the five quintic steps give the same singular vectors, singular values near 1."""
    rng = np.random.default_rng(4)
    for shape in ((4, 7), (7, 4)):
        G = rng.normal(size=shape) @ np.diag(np.logspace(0, 1, shape[1]))
        U, _, Vt = np.linalg.svd(G, full_matrices=False)
        np.testing.assert_allclose(orthogonalise(G, (1.5, -0.5, 0.0), 60, 1e-7), U @ Vt, atol=1e-12)
        Q = orthogonalise(G, (3.4445, -4.7750, 2.0315), 5, 1e-7)
        sigma = np.diag(U.T @ Q @ Vt.T)
        np.testing.assert_allclose(U @ np.diag(sigma) @ Vt, Q, atol=1e-12)
        assert 0.6 < sigma.min() and sigma.max() < 1.25


# --------------------------------------------------------------------------- L-BFGS and Polyak


def quadratic(n=6, seed=0):
    """f(θ) = ½θᵀAθ − bᵀθ with A positive definite (condition number 100): (A, b, f_and_grad)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = Q @ np.diag(np.logspace(0, 2, n)) @ Q.T
    b = rng.normal(size=n)

    def f_and_grad(theta):
        return 0.5 * theta @ A @ theta - b @ theta, A @ theta - b

    return A, b, f_and_grad


def run_full_batch(name, hyper, f_and_grad, theta0, lr, steps, optimum=None):
    """Steps as the training loop takes them: the loss and gradient at θ, a closure that
    recomputes both at the current θ into the gradient array, f* when the rule needs it."""
    opt = make_optimizer(name, **hyper)
    theta, grad = theta0.copy(), np.empty_like(theta0)
    calls = []

    def closure():
        value, grad[...] = f_and_grad(theta)
        calls.append(theta.copy())
        return value

    state = opt.init([theta])
    path = []
    for _ in range(steps):
        loss, grad[...] = f_and_grad(theta)
        ctx = StepContext(loss=loss, closure=closure, optimum=optimum)
        opt.step([theta], [grad], state, lr, ctx=ctx)
        path.append(theta.copy())
    return path, calls


def test_lbfgs_first_iteration_is_a_scaled_gradient_step():
    _, _, f_and_grad = quadratic()
    theta0 = np.linspace(-1, 1, 6)
    g = f_and_grad(theta0)[1]
    path, calls = run_full_batch("lbfgs", {"max_iter": 1}, f_and_grad, theta0, 0.7, 1)
    np.testing.assert_allclose(path[0], theta0 - min(1, 1 / np.abs(g).sum()) * 0.7 * g, rtol=1e-15)
    assert calls == []  # the last iteration leaves the evaluation at the new θ to the next step


@pytest.mark.parametrize("line_search", ["none", "strong-wolfe"])
def test_lbfgs_solves_a_quadratic(line_search):
    A, b, f_and_grad = quadratic()
    hyper = {"line_search_fn": line_search, "tolerance_grad": 1e-12, "tolerance_change": 0.0}
    path, calls = run_full_batch("lbfgs", hyper, f_and_grad, np.zeros(6), 1.0, 3)
    # Three iterations from 0 reach the solve to ~1e-8 relative; the last bits depend on the
    # BLAS kernel (Haswell and SkylakeX OpenBLAS differ there), so the bound is 1e-7.
    np.testing.assert_allclose(path[-1], np.linalg.solve(A, b), rtol=1e-7)
    assert len(calls) > 6


def test_polyak_matches_its_formula_and_finds_the_minimum():
    A, b, f_and_grad = quadratic(4, seed=2)
    best = np.linalg.solve(A, b)
    f_star = f_and_grad(best)[0]
    theta, want = np.ones(4), []
    for _ in range(5):
        f, g = f_and_grad(theta)
        theta = theta - 0.8 * (f - f_star) / (g @ g) * g
        want.append(theta)
    path, calls = run_full_batch("polyak", {}, f_and_grad, np.ones(4), 0.8, 5, optimum=f_star)
    np.testing.assert_allclose(path, want, rtol=1e-14)
    assert calls == []
    # the first step is η ≈ 0.0095: a cap of 0.002 binds
    capped, _ = run_full_batch("polyak", {"max_step": 0.002}, f_and_grad, np.ones(4), 1, 1, f_star)
    np.testing.assert_allclose(capped[0], 1 - 0.002 * f_and_grad(np.ones(4))[1], rtol=1e-15)
    path, _ = run_full_batch("polyak", {}, f_and_grad, np.ones(4), 1.0, 3000, optimum=f_star)
    np.testing.assert_allclose(path[-1], best, rtol=1e-6)
    at_optimum, _ = run_full_batch("polyak", {}, f_and_grad, best, 1.0, 1, f_star + 1.0)
    np.testing.assert_array_equal(at_optimum[0], best)  # f < f*: η = 0, not a step uphill


def test_full_batch_rules_say_what_they_need():
    with pytest.raises(ValueError, match="lbfgs needs a StepContext with loss, closure"):
        opt = make_optimizer("lbfgs")
        theta = np.zeros(3)
        opt.step([theta], [np.ones(3)], opt.init([theta]), 1.0)
    with pytest.raises(ValueError, match="polyak needs a StepContext with optimum"):
        opt = make_optimizer("polyak")
        opt.step([theta], [np.ones(3)], opt.init([theta]), 1.0, ctx=StepContext(loss=1.0))


# --------------------------------------------------------------------------- fit: linear models


def _torch_linear(torch, model, optimizer, *, lr, epochs, l2, batch=0, seed=0, make):
    """torch's history of the one-layer model ``fit`` trains from zeros on its bundled data."""
    X, y, _ = _encoded(model)
    K = int(y.max()) + 1 if model == "softmax" else 1
    loss = {"logistic": "bce", "softmax": "cross-entropy", "linear": "mse"}[model]
    arrays = [np.zeros((X.shape[1], K)), np.zeros(K)]
    return _torch_history(
        torch, X, y, arrays, act="relu", loss=loss, optimizer=optimizer, lr=lr,
        epochs=epochs, batch=batch, seed=seed, l2=l2, make=make,
    )  # fmt: skip


def _fit_linear(model, optimizer, **settings):
    name = {"logistic": "breast_cancer", "softmax": "iris", "linear": "diabetes"}[model]
    result = losslab.fit(name, model=model, optimizer=optimizer, test_size=0.0, **settings)
    assert result.status == "completed"
    return [h["train_loss"] for h in result.history]


# (model, lr, l2, hyper): lr 10 and 0.05 make the line search bracket and zoom, extrapolate.
LBFGS_CASES = [
    ("logistic", 0.5, 0.01, {}),
    ("logistic", 0.5, 0.01, {"line_search_fn": "strong-wolfe"}),
    ("logistic", 0.5, 0.01, {"history_size": 3, "max_iter": 7}),
    ("logistic", 0.5, 0.01, {"line_search_fn": "strong-wolfe", "history_size": 2, "max_eval": 12}),
    ("logistic", 10.0, 0.01, {"line_search_fn": "strong-wolfe"}),
    ("softmax", 10.0, 0.0, {"line_search_fn": "strong-wolfe", "max_iter": 8}),
    ("linear", 0.05, 0.0, {"line_search_fn": "strong-wolfe", "max_iter": 8}),
]


@pytest.mark.parametrize(("model", "lr", "l2", "hyper"), LBFGS_CASES, ids=str)
def test_lbfgs_fit_matches_torch_epoch_by_epoch(model, lr, l2, hyper):
    torch = pytest.importorskip("torch")
    h = {**REF_DEFAULTS["lbfgs"], **hyper}

    def make(m):
        return torch.optim.LBFGS(
            m.parameters(),
            lr=lr,
            max_iter=h["max_iter"],
            max_eval=h["max_eval"],
            history_size=h["history_size"],
            line_search_fn="strong_wolfe" if h["line_search_fn"] == "strong-wolfe" else None,
        )

    ours = _fit_linear(model, "lbfgs", lr=lr, epochs=4, l2=l2, **hyper)
    want = _torch_linear(torch, model, "lbfgs", lr=lr, epochs=4, l2=l2, make=make)
    np.testing.assert_allclose(ours, want, rtol=1e-10)


def test_polyak_fit_matches_reference_epoch_by_epoch():
    """Polyak's step written here on a logistic model with --l2 (f* from an independent Newton
    solve), with and without the SPS_max cap."""
    X, y, _ = _encoded("logistic")
    l2 = 0.01
    f_star = newton("logistic", X, y, l2, 1)
    for lr, cap in ((1.0, None), (0.5, 2.0)):
        w, b, want = np.zeros(X.shape[1]), 0.0, []
        for _ in range(8):
            f, G = ref_loss_and_grad("logistic", X @ w + b, y)
            f += 0.5 * l2 * w @ w
            gw, gb = X.T @ G + l2 * w, G.sum()
            eta = lr * (f - f_star) / (gw @ gw + gb * gb)
            eta = min(eta, cap) if cap is not None else eta
            w, b = w - eta * gw, b - eta * gb
            want.append(ref_loss_and_grad("logistic", X @ w + b, y)[0])
        ours = _fit_linear("logistic", "polyak", lr=lr, epochs=8, l2=l2, max_step=cap)
        np.testing.assert_allclose(ours, want, rtol=1e-9)


def test_polyak_reaches_least_squares():
    X, y, name = _encoded("linear")
    A = np.column_stack([X, np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    best = np.mean((A @ coef - y) ** 2)
    result = losslab.fit(name, optimizer="polyak", epochs=400, test_size=0.0)
    # ~1e-10 from the least-squares optimum after 400 steps, whichever BLAS kernel runs them
    assert result.history[-1]["train_loss"] == pytest.approx(best, rel=1e-9)
    # the coefficients along the flattest direction move most (1.6e-4 on a SkylakeX kernel)
    np.testing.assert_allclose(result.model["coef"], coef[:-1], rtol=1e-3)


def test_optimum_is_that_of_the_training_rows():
    """f* solves the loop's objective: training rows only (a validation split left out), the
    same loss, the same l2; separable classes without a penalty have the infimum 0."""
    config = FitConfig.from_dict(
        {"data": "breast_cancer", "optimizer": "polyak", "l2": 0.02, "val_size": 0.2}
    )
    problem, split = prepare(config)
    rule = make_optimizer("polyak").rule
    assert len(split.y_train) < 455  # the validation rows are out
    f_star = optimum_of(rule, problem, split, config)
    assert f_star == pytest.approx(newton("logistic", split.X_train, split.y_train, 0.02, 1))
    unpenalised = FitConfig.from_dict({"data": "breast_cancer", "optimizer": "polyak"})
    assert optimum_of(rule, *prepare(unpenalised), unpenalised) == 0.0
    assert optimum_of(make_optimizer("adam").rule, problem, split, config) is None


@pytest.mark.parametrize("model", ["logistic", "softmax"])
def test_adafactor_fit_matches_torch_on_a_linear_model(model):
    torch = pytest.importorskip("torch")

    def make(m):
        weights = [m[0].weight]
        return torch.optim.Adafactor(
            [{"params": weights, "weight_decay": 0.05}, {"params": [m[0].bias]}], lr=0.1
        )

    ours = _fit_linear(
        model, "adafactor", lr=0.1, epochs=3, batch_size=32, weight_decay=0.05, seed=2
    )
    want = _torch_linear(
        torch, model, "adafactor", lr=0.1, epochs=3, l2=0.0, batch=32, seed=2, make=make
    )
    np.testing.assert_allclose(ours, want, rtol=1e-10)


def _torch_muon_for(torch, model, lr, h):
    """torch.optim.Muon on the module's weight matrices, AdamW on the rest (the biases undecayed),
    stepped as one optimizer."""
    matrices = [p for p in model.parameters() if p.ndim == 2 and min(p.shape) > 1]
    vectors = [p for n, p in model.named_parameters() if n.endswith("weight") and p.ndim == 2]
    vectors = [p for p in vectors if min(p.shape) == 1]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    muon = torch.optim.Muon(matrices, lr=lr, weight_decay=h["weight_decay"])
    groups = [{"params": vectors, "weight_decay": h["weight_decay"]}, {"params": biases}]
    adamw = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, weight_decay=0.0)

    class Both:
        def zero_grad(self):
            muon.zero_grad()
            adamw.zero_grad()

        def step(self):
            muon.step()
            adamw.step()

    return Both()


def test_muon_fit_matches_torch_on_a_softmax_model(float64_newton_schulz):
    torch = float64_newton_schulz
    h = REF_DEFAULTS["muon"]
    ours = _fit_linear("softmax", "muon", lr=0.02, epochs=3, batch_size=32, seed=2)
    want = _torch_linear(
        torch, "softmax", "muon", lr=0.02, epochs=3, l2=0.0, batch=32, seed=2,
        make=lambda m: _torch_muon_for(torch, m, 0.02, h),
    )  # fmt: skip
    np.testing.assert_allclose(ours, want, rtol=1e-10)


# --------------------------------------------------------------------------- fit: an MLP


def _mlp(tmp_path, loss):
    X, y = _digits(200)
    X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    K = 10
    if loss == "bce":
        y, K = (y % 2).astype(int), 1
    data = _write_csv(tmp_path / "d.csv", X, y)
    arrays = _init_npz(tmp_path / "w.npz", [64, 16, 8, K], 4)
    return X, y, data, arrays


def _fit_mlp(tmp_path, data, loss, optimizer, **settings):
    result = losslab.fit(
        str(data), model="mlp", hidden="16,8", loss=loss, init_from=str(tmp_path / "w.npz"),
        optimizer=optimizer, seed=1, test_size=0.0, scale="none", **settings,
    )  # fmt: skip
    assert result.status == "completed"
    return [h["train_loss"] for h in result.history]


@pytest.mark.parametrize("loss", ["cross-entropy", "bce"])
def test_muon_mlp_matches_torch_epoch_by_epoch(tmp_path, loss, float64_newton_schulz):
    """A bce head's weight is one row: AdamW with decay, as the biases without."""
    torch = float64_newton_schulz
    X, y, data, arrays = _mlp(tmp_path, loss)
    h = {**REF_DEFAULTS["muon"], "weight_decay": 0.05}
    ours = _fit_mlp(tmp_path, data, loss, "muon", lr=0.01, epochs=3, batch_size=40, l2=0.01,
                    weight_decay=0.05)  # fmt: skip
    want = _torch_history(
        torch, X, y.astype(float), arrays, act="relu", loss=loss, optimizer="muon", lr=0.01,
        epochs=3, batch=40, seed=1, l2=0.01, make=lambda m: _torch_muon_for(torch, m, 0.01, h),
    )  # fmt: skip
    np.testing.assert_allclose(ours, want, rtol=1e-9)


def test_adafactor_mlp_matches_torch_epoch_by_epoch(tmp_path):
    torch = pytest.importorskip("torch")
    X, y, data, arrays = _mlp(tmp_path, "cross-entropy")

    def make(m):
        weights = [p for n, p in m.named_parameters() if n.endswith("weight")]
        biases = [p for n, p in m.named_parameters() if n.endswith("bias")]
        return torch.optim.Adafactor(
            [{"params": weights, "weight_decay": 0.1}, {"params": biases}], lr=0.05
        )

    ours = _fit_mlp(tmp_path, data, "cross-entropy", "adafactor", lr=0.05, epochs=3,
                    batch_size=40, weight_decay=0.1)  # fmt: skip
    want = _torch_history(
        torch, X, y.astype(float), arrays, act="relu", loss="cross-entropy",
        optimizer="adafactor", lr=0.05, epochs=3, batch=40, seed=1, make=make,
    )  # fmt: skip
    np.testing.assert_allclose(ours, want, rtol=1e-9)


@pytest.mark.parametrize("line_search", ["none", "strong-wolfe"])
def test_lbfgs_mlp_matches_torch_epoch_by_epoch(tmp_path, line_search):
    torch = pytest.importorskip("torch")
    X, y, data, arrays = _mlp(tmp_path, "cross-entropy")
    lr = 1.0 if line_search == "strong-wolfe" else 0.2

    def make(m):
        fn = "strong_wolfe" if line_search == "strong-wolfe" else None
        return torch.optim.LBFGS(m.parameters(), lr=lr, max_iter=10, line_search_fn=fn)

    ours = _fit_mlp(tmp_path, data, "cross-entropy", "lbfgs", lr=lr, epochs=3, l2=0.01,
                    max_iter=10, line_search_fn=line_search)  # fmt: skip
    want = _torch_history(
        torch, X, y.astype(float), arrays, act="relu", loss="cross-entropy",
        optimizer="lbfgs", lr=lr, epochs=3, batch=0, seed=1, l2=0.01, make=make,
    )  # fmt: skip
    np.testing.assert_allclose(ours, want, rtol=1e-8)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["iris", "--optimizer", "lbfgs", "--batch-size", "32"],
            "error: lbfgs needs the full batch (each step uses the whole objective); drop "
            "--batch-size 32 or give --batch-size full",
        ),
        (["diabetes", "--optimizer", "polyak", "--batch-size", "32"], "polyak needs the full"),
        (
            ["diabetes", "--model", "linear", "--optimizer", "muon"],
            "muon needs a weight matrix (2-D, both sizes > 1) to orthogonalise; a linear model "
            "has a weight vector: use adamw",
        ),
        (
            ["iris", "--model", "mlp", "--optimizer", "polyak"],
            "polyak needs the exact optimum f*, which losslab computes for linear/mse, "
            "logistic/bce and softmax/cross-entropy without --l1; mlp/cross-entropy has none "
            "here: a network's objective is not convex",
        ),
        (["diabetes", "--optimizer", "polyak", "--l1", "0.1"], "l1 penalty is not smooth"),
        (["iris", "--optimizer", "muon", "--ns-steps", "0"], "--ns-steps must be in [1, 99]"),
        (["iris", "--optimizer", "muon", "--ns-a", "inf"], "--ns-a must be finite, got inf"),
        (["iris", "--optimizer", "muon", "--adjust-lr-fn", "rms"], "--adjust-lr-fn must be one"),
        (["iris", "--optimizer", "muon", "--momentum", "1"], "--momentum must be in [0, 1)"),
        (["iris", "--optimizer", "adafactor", "--beta2-decay", "0.5"], "must be <= 0, got 0.5"),
        (["iris", "--optimizer", "adafactor", "--d", "0.5"], "--d must be >= 1, got 0.5"),
        (["iris", "--optimizer", "adafactor", "--eps1", "0"], "--eps1 must be > 0, got 0"),
        (["iris", "--optimizer", "lbfgs", "--history-size", "0"], "--history-size must be >= 1"),
        (["iris", "--optimizer", "lbfgs", "--max-eval", "0"], "--max-eval must be >= 1, got 0"),
        (["iris", "--optimizer", "lbfgs", "--line-search-fn", "armijo"], "one of none, strong"),
        (["iris", "--optimizer", "polyak", "--max-step", "0"], "--max-step must be > 0, got 0"),
        (["iris", "--optimizer", "polyak", "--eps", "1e-8"], "--eps is not used by polyak"),
    ],
)
def test_bad_input_is_one_line(cli, args, needle):
    message = cli.error("fit", *args, "--epochs", "2", "--no-save")
    assert needle in message


def test_cli_takes_the_new_flags(cli):
    out = cli.json(
        "fit", "iris", "--optimizer", "lbfgs", "--line-search-fn", "strong_wolfe",
        "--max-iter", "5", "--epochs", "3", "--no-save",
    )  # fmt: skip
    cfg = out["config"]
    assert (cfg["line_search_fn"], cfg["max_iter"], cfg["max_eval"]) == ("strong-wolfe", 5, None)
    assert cfg["batch_size"] == 0 and out["history"][-1]["train_loss"] < 0.2
    out = cli.json(
        "fit", "iris", "--optimizer", "muon", "--adjust-lr-fn", "match_rms_adamw", "--epochs",
        "2", "--no-save",
    )  # fmt: skip
    assert out["config"]["adjust_lr_fn"] == "match-rms-adamw" and out["config"]["lr"] == 0.02
