"""The rest of torch.optim's elementwise rules (NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD) and
the torch options of SGD, Adagrad and RMSprop (dampening, weight decay, lr decay, initial
accumulator, centred), against references written here from torch's documented algorithms and
against torch.optim itself: update by update, and ``fit`` epoch by epoch on a linear model and
on an MLP."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from test_fit import _encoded
from test_network import _digits, _init_npz, _torch_history, _write_csv
from test_optimizers import SHAPES, assert_steps_close, problem, run_ours, step_peak_bytes
from twins import TUPLES, float64_state, torch_kwargs, torch_optimizer

import losslab
from losslab.errors import ConfigError
from losslab.optim.optimizers import OPTIMIZERS, make_optimizer

NEW = ("nadam", "radam", "adamax", "adadelta", "rprop", "asgd")
STEP_REFERENCED = set(NEW)
FIT_REFERENCED = set(NEW)

# --------------------------------------------------------------------------- reference

# torch's defaults (torch 2.13 signatures, tuples split), written out again.
SGD_DEFAULTS = {"momentum": 0.0, "nesterov": False, "dampening": 0.0, "weight_decay": 0.0}
ADAM_LIKE = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
REF_DEFAULTS = {
    "gd": SGD_DEFAULTS,
    "sgd": SGD_DEFAULTS,
    "momentum": {**SGD_DEFAULTS, "momentum": 0.9},
    "nesterov": {**SGD_DEFAULTS, "momentum": 0.9, "nesterov": True},
    "adagrad": {
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
    },
    "rmsprop": {
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
    },
    "nadam": {**ADAM_LIKE, "momentum_decay": 4e-3, "decoupled_weight_decay": False},
    "radam": {**ADAM_LIKE, "decoupled_weight_decay": False},
    "adamax": ADAM_LIKE,
    "adadelta": {"rho": 0.9, "eps": 1e-6, "weight_decay": 0.0},
    "rprop": {"eta_minus": 0.5, "eta_plus": 1.2, "step_min": 1e-6, "step_max": 50.0},
    "asgd": {"lambd": 1e-4, "alpha": 0.75, "t0": 1e6, "weight_decay": 0.0},
}
FAMILY = {"gd": "sgd", "momentum": "sgd", "nesterov": "sgd"}


def decayed(h, theta, g, lr, decay):
    """torch's weight decay on a decayed parameter: θ(1 − lr·λ) (decoupled) or g + λθ."""
    if not decay:
        return theta, g
    if h.get("decoupled_weight_decay"):
        return theta * (1 - lr * h["weight_decay"]), g
    return theta, g + h["weight_decay"] * theta


def ref_sgd(h, theta, g, s, t, lr, decay):
    theta, g = decayed(h, theta, g, lr, decay)
    mu = h["momentum"]
    if not mu:
        return theta - lr * g, s
    b = g if t == 1 else mu * s["b"] + (1 - h["dampening"]) * g
    d = g + mu * b if h["nesterov"] else b
    return theta - lr * d, {"b": b}


def ref_adagrad(h, theta, g, s, t, lr, decay):
    theta, g = decayed(h, theta, g, lr, decay)
    total = s.get("sum", h["initial_accumulator_value"]) + g**2
    clr = lr / (1 + (t - 1) * h["lr_decay"])
    return theta - clr * g / (np.sqrt(total) + h["eps"]), {"sum": total}


def ref_rmsprop(h, theta, g, s, t, lr, decay):
    theta, g = decayed(h, theta, g, lr, decay)
    a, mu = h["alpha"], h["momentum"]
    v = a * s.get("v", 0.0) + (1 - a) * g**2
    g_avg = a * s.get("g_avg", 0.0) + (1 - a) * g
    d = (np.sqrt(v - g_avg**2) if h["centered"] else np.sqrt(v)) + h["eps"]
    b = mu * s.get("b", 0.0) + g / d
    return theta - lr * (b if mu else g / d), {"v": v, "g_avg": g_avg, "b": b}


def ref_nadam(h, theta, g, s, t, lr, decay):
    theta, g = decayed(h, theta, g, lr, decay)
    b1, b2, psi = h["beta1"], h["beta2"], h["momentum_decay"]
    mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    product = s.get("product", 1.0) * mu
    m = b1 * s.get("m", 0.0) + (1 - b1) * g
    v = b2 * s.get("v", 0.0) + (1 - b2) * g**2
    m_hat = mu_next * m / (1 - product * mu_next) + (1 - mu) * g / (1 - product)
    v_hat = v / (1 - b2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + h["eps"]), {"m": m, "v": v, "product": product}


def ref_radam(h, theta, g, s, t, lr, decay):
    theta, g = decayed(h, theta, g, lr, decay)
    b1, b2 = h["beta1"], h["beta2"]
    m = b1 * s.get("m", 0.0) + (1 - b1) * g
    v = b2 * s.get("v", 0.0) + (1 - b2) * g**2
    m_hat = m / (1 - b1**t)
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
    if rho_t > 5:
        adaptive = np.sqrt(1 - b2**t) / (np.sqrt(v) + h["eps"])
        r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return theta - lr * m_hat * r * adaptive, {"m": m, "v": v}
    return theta - lr * m_hat, {"m": m, "v": v}


def ref_adamax(h, theta, g, s, t, lr, decay):
    theta, g = decayed(h, theta, g, lr, decay)
    b1 = h["beta1"]
    m = b1 * s.get("m", 0.0) + (1 - b1) * g
    u = np.maximum(h["beta2"] * s.get("u", 0.0), np.abs(g) + h["eps"])
    return theta - lr * m / ((1 - b1**t) * u), {"m": m, "u": u}


def ref_adadelta(h, theta, g, s, t, lr, decay):
    theta, g = decayed(h, theta, g, lr, decay)
    rho, eps = h["rho"], h["eps"]
    v = rho * s.get("v", 0.0) + (1 - rho) * g**2
    delta = np.sqrt(s.get("u", 0.0) + eps) / np.sqrt(v + eps) * g
    u = rho * s.get("u", 0.0) + (1 - rho) * delta**2
    return theta - lr * delta, {"v": v, "u": u}


def ref_rprop(h, theta, g, s, t, lr, decay):
    size = s.get("size", np.full_like(theta, lr))
    g_prev = s.get("g", np.zeros_like(theta))
    g = g.copy()
    for i in np.ndindex(theta.shape):
        if g[i] * g_prev[i] > 0:
            size[i] = min(size[i] * h["eta_plus"], h["step_max"])
        elif g[i] * g_prev[i] < 0:
            size[i] = max(size[i] * h["eta_minus"], h["step_min"])
            g[i] = 0.0
    return theta - size * np.sign(g), {"size": size, "g": g}


def ref_asgd(h, theta, g, s, t, lr, decay):
    theta, g = decayed(h, theta, g, lr, decay)
    eta, mu = s.get("eta", lr), s.get("mu", 1.0)
    theta = theta * (1 - h["lambd"] * eta) - eta * g
    ax = theta if mu == 1 else s["ax"] + mu * (theta - s["ax"])
    eta = lr / (1 + h["lambd"] * lr * t) ** h["alpha"]
    return theta, {"ax": ax, "eta": eta, "mu": 1 / max(1, t - h["t0"])}


REF_STEP = {
    "sgd": ref_sgd,
    "adagrad": ref_adagrad,
    "rmsprop": ref_rmsprop,
    "nadam": ref_nadam,
    "radam": ref_radam,
    "adamax": ref_adamax,
    "adadelta": ref_adadelta,
    "rprop": ref_rprop,
    "asgd": ref_asgd,
}


def run_reference(name, hyper, params0, grads, lrs, mask):
    """Each step's params and the last states, from the reference rule of ``name``."""
    h = {**REF_DEFAULTS[name], **hyper}
    rule = REF_STEP[FAMILY.get(name, name)]
    thetas, states, out = list(params0), [{} for _ in params0], []
    for t, (gs, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
        steps = [
            rule(h, th, g, s, t, lr, m)
            for th, g, s, m in zip(thetas, gs, states, mask, strict=True)
        ]
        thetas, states = [th for th, _ in steps], [s for _, s in steps]
        out.append(thetas)
    return out, states


def run_torch(name, hyper, params0, grads, lrs):
    """Each step's params from torch.optim, weights and biases in two groups (decay, none)."""
    torch = pytest.importorskip("torch")
    W, b = (torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params0)
    opt = torch_optimizer(torch, name, [W], [b], lrs[0], **hyper)
    out = []
    with float64_state(torch):
        for gs, lr in zip(grads, lrs, strict=True):
            for group in opt.param_groups:
                group["lr"] = lr
            W.grad, b.grad = (torch.tensor(g, dtype=torch.float64) for g in gs)
            opt.step()
            out.append([W.detach().numpy().copy(), b.detach().numpy().copy()])
    return out, opt


CASES = [(name, {}) for name in NEW] + [
    ("nadam", {"weight_decay": 0.1}),
    ("nadam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("nadam", {"momentum_decay": 0.1, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}),
    ("radam", {"weight_decay": 0.1}),
    ("radam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("radam", {"beta1": 0.5, "beta2": 0.9, "eps": 1e-6}),  # rectified from step 3
    ("adamax", {"weight_decay": 0.1}),
    ("adamax", {"beta1": 0.5, "beta2": 0.9, "eps": 1e-3}),
    ("adadelta", {"weight_decay": 0.1}),
    ("adadelta", {"rho": 0.5, "eps": 1e-3}),
    ("adadelta", {"rho": 1.0}),
    ("rprop", {"eta_minus": 0.3, "eta_plus": 1.5, "step_min": 0.03, "step_max": 0.08}),
    ("asgd", {"weight_decay": 0.1}),
    ("asgd", {"lambd": 0.5, "alpha": 1.0, "t0": 5.0}),
    ("sgd", {"momentum": 0.9, "dampening": 0.5}),
    ("sgd", {"weight_decay": 0.1}),
    ("momentum", {"dampening": 0.3, "weight_decay": 0.1}),
    ("nesterov", {"weight_decay": 0.1}),
    ("gd", {"momentum": 0.5, "dampening": 1.0, "weight_decay": 0.1}),
    ("adagrad", {"lr_decay": 0.1}),
    ("adagrad", {"initial_accumulator_value": 0.5}),
    ("adagrad", {"weight_decay": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.1}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"centered": True, "momentum": 0.9}),
    ("rmsprop", {"weight_decay": 0.1}),
    ("rmsprop", {"centered": True, "weight_decay": 0.1, "alpha": 0.9, "eps": 1e-6}),
    ("rmsprop", {"centered": True, "alpha": 0.3}),  # the other branch of torch's lerp
]
IDS = [name + "".join(f"-{k}={v}" for k, v in hyper.items()) for name, hyper in CASES]


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize(("name", "hyper"), CASES, ids=IDS)
def test_matches_reference_every_step(name, hyper, shape):
    params, grads, lrs, mask = problem(shape)
    ours = run_ours(name, hyper, params, grads, lrs, mask)
    assert_steps_close(ours, run_reference(name, hyper, params, grads, lrs, mask)[0], 1e-12)
    assert not np.allclose(ours[-1][0], params[0])  # it moved


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize(("name", "hyper"), CASES, ids=IDS)
def test_matches_torch_every_step(name, hyper, shape):
    params, grads, lrs, mask = problem(shape)
    expected, _ = run_torch(name, hyper, params, grads, lrs)
    assert_steps_close(run_ours(name, hyper, params, grads, lrs, mask), expected, 1e-12)


def test_options_are_exercised():
    """Each option changes the path on this problem (else the tables above prove little)."""
    params, grads, lrs, mask = problem("matrix")

    def final(name, **hyper):
        return run_ours(name, hyper, params, grads, lrs, mask)[-1][0]

    pairs = [
        ("sgd", {"momentum": 0.9}, {"dampening": 0.5}),
        ("sgd", {}, {"weight_decay": 0.1}),
        ("adagrad", {}, {"lr_decay": 0.1}),
        ("adagrad", {}, {"initial_accumulator_value": 0.5}),
        ("rmsprop", {}, {"centered": True}),
        ("nadam", {"weight_decay": 0.1}, {"decoupled_weight_decay": True}),
        ("radam", {"weight_decay": 0.1}, {"decoupled_weight_decay": True}),
        ("rprop", {}, {"step_max": 0.055}),
        ("rprop", {}, {"step_min": 0.03}),
        ("asgd", {}, {"lambd": 0.5}),
    ]
    for name, base, option in pairs:
        assert not np.allclose(final(name, **base), final(name, **base, **option), rtol=1e-6)


def test_asgd_average_matches_reference_and_torch():
    """The average ā (torch's ``ax``), which the model never uses, is kept as torch keeps it."""
    params, grads, lrs, mask = problem("matrix")
    hyper = {"lambd": 0.5, "alpha": 1.0, "t0": 5.0, "weight_decay": 0.1}
    opt = make_optimizer("asgd", **hyper)
    ps = [p.copy(order="K") for p in params]
    state = opt.init(ps)
    for gs, lr in zip(grads, lrs, strict=True):
        opt.step(ps, [g.copy() for g in gs], state, lr, decay_mask=mask)
    _, ref_states = run_reference("asgd", hyper, params, grads, lrs, mask)
    for buf, ref, p in zip(state.buffers, ref_states, ps, strict=True):
        np.testing.assert_allclose(buf["ax"], ref["ax"], rtol=1e-12)
        assert not np.allclose(buf["ax"], p)  # averaged since step 6
    _, torch_opt = run_torch("asgd", hyper, params, grads, lrs)
    torch_ax = [
        torch_opt.state[p]["ax"].numpy() for g in torch_opt.param_groups for p in g["params"]
    ]
    for buf, ax in zip(state.buffers, torch_ax, strict=True):
        np.testing.assert_allclose(buf["ax"], ax, rtol=1e-12)


# --------------------------------------------------------------------------- by hand


def test_rprop_by_hand():
    """θ = 0, lr = 0.1: a held sign grows δ by η+, a flip shrinks it by η− and skips the move,
    and the zeroed gradient makes the next step's product 0 (δ kept, no second shrink)."""
    opt = make_optimizer("rprop")
    theta = [np.zeros(3)]
    state = opt.init(theta)
    moves = []
    for g in ([1.0, -1.0, 0.0], [1.0, 1.0, 1.0], [1.0, -1.0, 1.0]):
        opt.step(theta, [np.array(g)], state, 0.1)
        moves.append(theta[0].copy())
    np.testing.assert_allclose(moves[0], [-0.1, 0.1, 0.0], rtol=1e-15)
    np.testing.assert_allclose(moves[1], [-0.1 - 0.12, 0.1, -0.1], rtol=1e-15)
    np.testing.assert_allclose(moves[2], [-0.22 - 0.144, 0.1 + 0.05, -0.1 - 0.12], rtol=1e-15)


def test_radam_is_momentum_sgd_until_rectified():
    """ρ_t ≤ 5 for the first steps (β2 = 0.999: up to t = 5), where θ −= lr·m̂; m̂ = g at t = 1."""
    theta = [np.array([1.0, -2.0])]
    opt = make_optimizer("radam")
    state = opt.init(theta)
    opt.step(theta, [np.array([2.0, -0.5])], state, 0.1)
    np.testing.assert_allclose(theta[0], [1.0 - 0.2, -2.0 + 0.05], rtol=1e-15)


def test_adadelta_first_step_by_hand():
    """v = (1−ρ)g², Δ = √ε/√(v + ε)·g: a first step of about √(ε/(1−ρ)) whatever the scale of g."""
    theta, g = [np.zeros(2)], np.array([3.0, -1e-4])
    opt = make_optimizer("adadelta")
    opt.step(theta, [g.copy()], opt.init(theta), 1.0)
    want = -np.sqrt(1e-6) / np.sqrt(0.1 * g**2 + 1e-6) * g
    np.testing.assert_allclose(theta[0], want, rtol=1e-15)


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize("name", list(REF_DEFAULTS))
def test_defaults(name):
    assert make_optimizer(name).hyperparameters == REF_DEFAULTS[name]


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", *NEW])
def test_defaults_are_torchs(name):
    """Our defaults, torch's tuples joined again, equal the defaults of torch's signature."""
    torch = pytest.importorskip("torch")
    spec = OPTIMIZERS.get(name)
    signature = inspect.signature(getattr(torch.optim, spec.rule.__name__)).parameters
    ours = torch_kwargs(name)
    if "weight_decay" in spec.hyper_defaults:
        ours["weight_decay"] = spec.hyper_defaults["weight_decay"]
    assert ours == {k: signature[k].default for k in ours}
    assert set(TUPLES) & set(signature) <= set(ours)


@pytest.mark.parametrize("name", NEW)
def test_registry_entry(name):
    spec = OPTIMIZERS.get(name)
    assert spec.reference == f"torch.optim.{spec.rule.__name__}"
    assert spec.default_batch_size == (0 if name == "rprop" else 32)


@pytest.mark.parametrize(("name", "hyper"), CASES, ids=IDS)
def test_steps_allocate_no_arrays(name, hyper):
    """Updates go through preallocated buffers: no temporary the size of a parameter."""
    assert step_peak_bytes(name, hyper) < 16_000


# --------------------------------------------------------------------------- bad input

BAD = [
    ("adadelta", {"rho": 1.5}, "--rho must be in [0, 1], got 1.5"),
    ("adadelta", {"rho": -0.1}, "--rho must be in [0, 1], got -0.1"),
    ("adadelta", {"eps": 0.0}, "--eps must be > 0, got 0"),
    ("rprop", {"eta_minus": 1.0}, "--eta-minus must be in (0, 1), got 1"),
    ("rprop", {"eta_minus": 0.0}, "--eta-minus must be in (0, 1), got 0"),
    ("rprop", {"eta_plus": 1.0}, "--eta-plus must be > 1, got 1"),
    ("rprop", {"step_min": -1e-6}, "--step-min must be >= 0, got -1e-06"),
    ("rprop", {"step_max": 0.0}, "--step-max must be > 0, got 0"),
    ("rprop", {"step_min": 2.0, "step_max": 1.0}, "--step-min must be <= --step-max (1), got 2"),
    ("rprop", {"weight_decay": 0.1}, "--weight-decay is not used by rprop"),
    ("nadam", {"momentum_decay": -1.0}, "--momentum-decay must be >= 0, got -1"),
    ("nadam", {"beta1": 1.0}, "--beta1 must be in [0, 1), got 1"),
    ("radam", {"beta2": 1.5}, "--beta2 must be in [0, 1), got 1.5"),
    ("adamax", {"decoupled_weight_decay": True}, "--decoupled-weight-decay is not used by"),
    ("asgd", {"lambd": -0.1}, "--lambd must be >= 0, got -0.1"),
    ("asgd", {"alpha": -1.0}, "--alpha must be >= 0, got -1"),
    ("asgd", {"t0": float("nan")}, "--t0 must be >= 0, got nan"),
    ("asgd", {"weight_decay": -0.1}, "--weight-decay must be >= 0, got -0.1"),
    ("sgd", {"dampening": 1.5}, "--dampening must be in [0, 1], got 1.5"),
    ("nesterov", {"dampening": 0.5}, "--nesterov needs --dampening 0, got 0.5"),
    ("sgd", {"weight_decay": -1.0}, "--weight-decay must be >= 0, got -1"),
    ("adagrad", {"lr_decay": -0.1}, "--lr-decay must be >= 0, got -0.1"),
    ("adagrad", {"initial_accumulator_value": -1.0}, "--initial-accumulator-value must be >= 0"),
    ("rmsprop", {"centered": "yes"}, "--centered must be true or false, got 'yes'"),
    ("rmsprop", {"alpha": 1.0}, "--alpha must be in [0, 1), got 1"),
]


@pytest.mark.parametrize(("name", "hyper", "message"), BAD)
def test_invalid_hyperparameter(name, hyper, message):
    with pytest.raises(ConfigError) as err:
        make_optimizer(name, **hyper)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--optimizer", "adadelta", "--rho", "1.5"], "--rho must be in [0, 1], got 1.5"),
        (["--optimizer", "rprop", "--eta-plus", "0.9"], "--eta-plus must be > 1, got 0.9"),
        (["--optimizer", "asgd", "--alpha", "-2"], "--alpha must be >= 0, got -2"),
        (["--optimizer", "nesterov", "--dampening", "0.1"], "--nesterov needs --dampening 0"),
        (["--optimizer", "adamax", "--rho", "0.5"], "--rho is not used by adamax"),
    ],
)
def test_cli_rejects_bad_values_in_one_line(cli, args, message):
    assert message in cli.error("fit", "iris", "--no-save", *args)


def test_cli_flags_reach_the_rule(cli):
    out = cli.json(
        "fit", "iris", "--optimizer", "rmsprop", "--centered", "--weight-decay", "0.01",
        "--epochs", "2", "--no-save",
    )  # fmt: skip
    assert out["config"]["centered"] is True and out["config"]["weight_decay"] == 0.01
    out = cli.json("fit", "iris", "--optimizer", "asgd", "--t0", "5", "--epochs", "2", "--no-save")
    assert out["config"]["t0"] == 5 and out["config"]["lambd"] == 1e-4


# --------------------------------------------------------------------------- fit against torch

FIT_CASES = [
    ("nadam", {"weight_decay": 0.05, "decoupled_weight_decay": True}),
    ("nadam", {"weight_decay": 0.05, "momentum_decay": 0.01}),
    ("radam", {"weight_decay": 0.05}),
    ("adamax", {"weight_decay": 0.05, "beta2": 0.99}),
    ("adadelta", {"weight_decay": 0.05, "rho": 0.5}),
    ("rprop", {"eta_minus": 0.3, "step_max": 0.5}),
    ("asgd", {"t0": 10.0, "lambd": 0.01, "weight_decay": 0.05}),
    ("sgd", {"momentum": 0.9, "dampening": 0.5, "weight_decay": 0.05}),
    ("nesterov", {"weight_decay": 0.05}),
    ("adagrad", {"lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.05}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.05}),
]
FIT_IDS = [name + "".join(f"-{k}={v}" for k, v in hyper.items()) for name, hyper in FIT_CASES]


@pytest.mark.parametrize(
    ("name", "hyper"), [(n, {}) for n in NEW] + FIT_CASES, ids=NEW + tuple(FIT_IDS)
)
@pytest.mark.parametrize("model", ["softmax", "logistic"])
def test_linear_fit_matches_torch_epoch_by_epoch(model, name, hyper):
    """Softmax on iris and logistic regression on breast cancer (standardised), from zeros, at
    each optimizer's default lr and batch size, with an L2 penalty besides the weight decay.

    Rprop steps by the sign of g: iris's three classes of 50 make the softmax biases' full-batch
    gradient at θ = 0 exactly 0, so its sign would be rounding noise; there it takes batches."""
    torch = pytest.importorskip("torch")
    X, y, data = _encoded(model)
    K = int(y.max()) + 1 if model == "softmax" else 1
    spec = OPTIMIZERS.get(name)
    batch = 40 if (name, model) == ("rprop", "softmax") else spec.default_batch_size
    settings = {"lr": spec.default_lr, "epochs": 5, "seed": 3, "l2": 0.01, "batch_size": batch}
    ours = losslab.fit(data, model=model, optimizer=name, test_size=0.0, **settings, **hyper)
    settings["batch"] = settings.pop("batch_size")
    want = _torch_history(
        torch, X, y, [np.zeros((X.shape[1], K)), np.zeros(K)], act="relu",
        loss="cross-entropy" if model == "softmax" else "bce", optimizer=name,
        **settings, **hyper,
    )  # fmt: skip
    np.testing.assert_allclose([h["train_loss"] for h in ours.history], want, rtol=1e-9)


@pytest.mark.parametrize(("name", "hyper"), FIT_CASES, ids=FIT_IDS)
def test_mlp_fit_matches_torch_epoch_by_epoch(tmp_path, name, hyper):
    """A ReLU MLP on digits, batches of 40 (the defaults of the new rules are trained against
    torch by test_network's test for every registered optimizer)."""
    torch = pytest.importorskip("torch")
    X, y = _digits(200)
    X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    data = _write_csv(tmp_path / "d.csv", X, y)
    arrays = _init_npz(tmp_path / "w.npz", [64, 16, 8, 10], 4)
    lr = OPTIMIZERS.get(name).default_lr
    ours = losslab.fit(
        str(data), model="mlp", hidden="16,8", init_from=str(tmp_path / "w.npz"),
        optimizer=name, lr=lr, epochs=3, batch_size=40, seed=1, test_size=0.0, scale="none",
        l2=0.01, **hyper,
    )  # fmt: skip
    want = _torch_history(
        torch, X, y.astype(float), arrays, act="relu", loss="cross-entropy", optimizer=name,
        lr=lr, epochs=3, batch=40, seed=1, l2=0.01, **hyper,
    )  # fmt: skip
    losses = [h["train_loss"] for h in ours.history]
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(losses, want, rtol=1e-8)
