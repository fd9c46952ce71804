"""Every registered optimizer against an independent functional reference written here from the
formulas (always run) and against torch.optim (when installed), step by step."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from losslab.errors import ConfigError, UnknownNameError
from losslab.optim.optimizers import HYPERPARAMETERS, OPTIMIZERS, make_optimizer

# --------------------------------------------------------------------------- reference

# The defaults of the specification, written out again (not read from the registry).
REF_DEFAULTS = {
    "gd": {"momentum": 0.0, "nesterov": False},
    "sgd": {"momentum": 0.0, "nesterov": False},
    "momentum": {"momentum": 0.9, "nesterov": False},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "adagrad": {"eps": 1e-10},
    "rmsprop": {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0},
    "adam": {
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "amsgrad": False,
        "weight_decay": 0.0,
        "decoupled_weight_decay": False,
    },
    "adamw": {
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "amsgrad": False,
        "weight_decay": 0.01,
        "decoupled_weight_decay": True,
    },
}
FAMILY = {
    "gd": "sgd",
    "sgd": "sgd",
    "momentum": "sgd",
    "nesterov": "sgd",
    "adagrad": "adagrad",
    "rmsprop": "rmsprop",
    "adam": "adam",
    "adamw": "adam",
}


def ref_sgd(h, theta, g, s, t, lr, decay):
    mu = h["momentum"]
    if not mu:
        return theta - lr * g, s
    b = g if t == 1 else mu * s["b"] + g
    d = g + mu * b if h["nesterov"] else b
    return theta - lr * d, {"b": b}


def ref_adagrad(h, theta, g, s, t, lr, decay):
    total = s.get("sum", 0.0) + g**2
    return theta - lr * g / (np.sqrt(total) + h["eps"]), {"sum": total}


def ref_rmsprop(h, theta, g, s, t, lr, decay):
    v = h["alpha"] * s.get("v", 0.0) + (1 - h["alpha"]) * g**2
    d = g / (np.sqrt(v) + h["eps"])
    if not h["momentum"]:
        return theta - lr * d, {"v": v}
    b = h["momentum"] * s.get("b", 0.0) + d
    return theta - lr * b, {"v": v, "b": b}


def ref_adam(h, theta, g, s, t, lr, decay):
    b1, b2 = h["beta1"], h["beta2"]
    if decay and h["decoupled_weight_decay"]:
        theta = theta * (1 - lr * h["weight_decay"])
    elif decay:
        g = g + h["weight_decay"] * theta
    m = b1 * s.get("m", 0.0) + (1 - b1) * g
    v = b2 * s.get("v", 0.0) + (1 - b2) * g**2
    vmax = np.maximum(s.get("vmax", 0.0), v) if h["amsgrad"] else v
    m_hat, v_hat = m / (1 - b1**t), vmax / (1 - b2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + h["eps"]), {"m": m, "v": v, "vmax": vmax}


REF_STEP = {"sgd": ref_sgd, "adagrad": ref_adagrad, "rmsprop": ref_rmsprop, "adam": ref_adam}


def run_reference(name, hyper, params0, grads, lrs, mask):
    h = {**REF_DEFAULTS[name], **hyper}
    step = REF_STEP[FAMILY[name]]
    thetas, states, out = list(params0), [{} for _ in params0], []
    for t, (gs, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
        new = [
            step(h, th, g, s, t, lr, m)
            for th, g, s, m in zip(thetas, gs, states, mask, strict=True)
        ]
        thetas, states = [n[0] for n in new], [n[1] for n in new]
        out.append(thetas)
    return out


def run_ours(name, hyper, params0, grads, lrs, mask):
    opt = make_optimizer(name, **hyper)
    params = [p.copy(order="K") for p in params0]
    state = opt.init(params)
    out = []
    for gs, lr in zip(grads, lrs, strict=True):
        opt.step(params, [g.copy() for g in gs], state, lr, decay_mask=mask)
        out.append([p.copy() for p in params])
    return out


def run_torch(name, hyper, params0, grads, lrs, mask):
    torch = pytest.importorskip("torch")
    h = {**REF_DEFAULTS[name], **hyper}
    ps = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params0]
    family = FAMILY[name]
    if family == "sgd":
        opt = torch.optim.SGD(ps, lr=1.0, momentum=h["momentum"], nesterov=h["nesterov"])
    elif family == "adagrad":
        opt = torch.optim.Adagrad(ps, lr=1.0, eps=h["eps"])
    elif family == "rmsprop":
        opt = torch.optim.RMSprop(
            ps, lr=1.0, alpha=h["alpha"], eps=h["eps"], momentum=h["momentum"]
        )
    else:
        groups = [
            {"params": [p], "weight_decay": h["weight_decay"] if m else 0.0}
            for p, m in zip(ps, mask, strict=True)
        ]
        cls = torch.optim.AdamW if h["decoupled_weight_decay"] else torch.optim.Adam
        opt = cls(
            groups, lr=1.0, betas=(h["beta1"], h["beta2"]), eps=h["eps"], amsgrad=h["amsgrad"]
        )
    out = []
    for gs, lr in zip(grads, lrs, strict=True):
        for group in opt.param_groups:
            group["lr"] = lr
        for p, g in zip(ps, gs, strict=True):
            p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append([p.detach().numpy().copy() for p in ps])
    return out


# --------------------------------------------------------------------------- the problem

STEPS = 20
SHAPES = {"vector": ((5,), (1,)), "matrix": ((4, 3), (3,))}


def problem(shape: str):
    """Params [W, b] (W Fortran-ordered as the models make it), 20 gradients and 20 lrs.

    Gradient scales differ by coordinate (1e-6 … 10, one always 0, so ε matters) and drop after
    step 5, so that v decreases and AMSGrad's max differs from v.
    """
    rng = np.random.default_rng(20240601)
    w_shape, b_shape = SHAPES[shape]
    params = [np.asfortranarray(rng.normal(size=w_shape)), rng.normal(size=b_shape)]
    w_scale = np.logspace(-6, 1, math.prod(w_shape)).reshape(w_shape)
    w_scale.flat[0] = 0.0
    grads = [
        [rng.normal(size=w_shape) * w_scale * (3.0 if t < 5 else 0.2), rng.normal(size=b_shape)]
        for t in range(STEPS)
    ]
    lrs = [0.05 * (1.0 + 0.5 * math.sin(t)) for t in range(STEPS)]
    return params, grads, lrs, [True, False]


CASES = [(name, {}) for name in OPTIMIZERS.names() if name in REF_DEFAULTS] + [
    ("gd", {"momentum": 0.8}),
    ("sgd", {"momentum": 0.5}),
    ("sgd", {"momentum": 0.5, "nesterov": True}),
    ("momentum", {"momentum": 0.7, "nesterov": True}),
    ("adagrad", {"eps": 1e-3}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"alpha": 0.9, "eps": 1e-6}),
    ("adam", {"amsgrad": True}),
    ("adam", {"beta1": 0.5, "beta2": 0.9, "eps": 1e-6}),
    ("adamw", {"weight_decay": 0.2, "amsgrad": True}),
    ("adamw", {"weight_decay": 0.0}),
    ("adam", {"weight_decay": 0.1}),
    ("adam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in hyper.items()) for name, hyper in CASES]


def assert_steps_close(got, want, rtol):
    """Each step's params, elementwise to rtol, entries near 0 judged on the largest entry."""
    for t, (g_step, w_step) in enumerate(zip(got, want, strict=True), start=1):
        scale = max(float(np.abs(w).max()) for w in w_step)
        for i, (g, w) in enumerate(zip(g_step, w_step, strict=True)):
            np.testing.assert_allclose(
                g, w, rtol=rtol, atol=rtol * scale, err_msg=f"step {t}, param {i}"
            )


def test_every_optimizer_has_a_reference():
    from zoo import referenced

    assert set(OPTIMIZERS.names()) <= set(REF_DEFAULTS) | referenced("STEP_REFERENCED")


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize(("name", "hyper"), CASES, ids=IDS)
def test_matches_reference_every_step(name, hyper, shape):
    params, grads, lrs, mask = problem(shape)
    ours = run_ours(name, hyper, params, grads, lrs, mask)
    assert_steps_close(ours, run_reference(name, hyper, params, grads, lrs, mask), 1e-13)
    assert not np.allclose(ours[-1][0], params[0])  # it moved


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize(("name", "hyper"), CASES, ids=IDS)
def test_matches_torch_every_step(name, hyper, shape):
    params, grads, lrs, mask = problem(shape)
    expected = run_torch(name, hyper, params, grads, lrs, mask)
    assert_steps_close(run_ours(name, hyper, params, grads, lrs, mask), expected, 1e-12)


def test_variants_are_exercised():
    """The gradient sequence tells the variants apart (else the tables above prove little)."""
    params, grads, lrs, mask = problem("vector")

    def final(name, **hyper):
        return run_ours(name, hyper, params, grads, lrs, mask)[-1][0]

    assert not np.allclose(final("adam"), final("adam", amsgrad=True), rtol=1e-6)
    assert not np.allclose(final("momentum"), final("nesterov"), rtol=1e-6)
    assert not np.allclose(final("rmsprop"), final("rmsprop", momentum=0.9), rtol=1e-6)
    assert not np.allclose(final("adam"), final("adamw"), rtol=1e-6)


# --------------------------------------------------------------------------- by hand


def one_step(name, theta, g, lr, mask=None, **hyper):
    opt = make_optimizer(name, **hyper)
    params = [np.array(theta, dtype=float)]
    opt.step(params, [np.array(g, dtype=float)], opt.init(params), lr, decay_mask=mask)
    return params[0]


@pytest.mark.parametrize(
    ("name", "hyper", "expected"),
    [
        # θ = [1, -2], g = [2, -0.5], lr = 0.1
        ("gd", {}, [1 - 0.2, -2 + 0.05]),
        ("sgd", {"momentum": 0.5}, [1 - 0.2, -2 + 0.05]),  # b = g at the first step
        ("nesterov", {}, [1 - 0.1 * 1.9 * 2, -2 + 0.1 * 1.9 * 0.5]),  # g + μg
        ("adagrad", {}, [1 - 0.1 * 2 / (2 + 1e-10), -2 + 0.1 * 0.5 / (0.5 + 1e-10)]),
        ("rmsprop", {}, [1 - 0.1 * 2 / (0.2 + 1e-8), -2 + 0.1 * 0.5 / (0.05 + 1e-8)]),
        ("adam", {}, [1 - 0.1 * 2 / (2 + 1e-8), -2 + 0.1 * 0.5 / (0.5 + 1e-8)]),
    ],
)
def test_first_step_by_hand(name, hyper, expected):
    got = one_step(name, [1.0, -2.0], [2.0, -0.5], 0.1, **hyper)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


def test_adamw_decays_only_the_flagged_params():
    opt = make_optimizer("adamw", weight_decay=0.5)
    W, b = np.full(3, 2.0), np.full(1, 2.0)
    state = opt.init([W, b])
    for _ in range(3):  # zero gradients: Adam's step is 0/(0 + ε) = 0, only decay acts
        opt.step([W, b], [np.zeros(3), np.zeros(1)], state, 0.1, decay_mask=[True, False])
    np.testing.assert_array_equal(W, 2.0 * 0.95**3)
    np.testing.assert_array_equal(b, 2.0)
    np.testing.assert_array_equal(one_step("adamw", [2.0], [0.0], 0.1, weight_decay=0.5), 1.9)


def test_steps_in_place():
    params, grads, lrs, mask = problem("matrix")
    W, b = params
    opt = make_optimizer("adam", amsgrad=True)
    state = opt.init(params)
    buffers = [dict(d) for d in state.buffers]
    for t in range(3):
        opt.step(params, [g.copy() for g in grads[t]], state, lrs[t], decay_mask=mask)
    assert params[0] is W and params[1] is b and W.flags.f_contiguous
    assert state.step == 3
    for before, after in zip(buffers, state.buffers, strict=True):
        assert before.keys() == after.keys() == {"m", "v", "vmax"}
        assert all(before[k] is after[k] for k in before)
    assert state.buffers[0]["m"].flags.f_contiguous and state.scratch[0].shape == (4, 3)


def step_peak(opt, after_step=None) -> int:
    """The peak of traced allocations over three steps (after a first) on a 160 kB weight;
    ``after_step(params, state)`` runs after each."""
    params = [np.ones((500, 40), order="F"), np.ones(40)]
    state = opt.init(params)
    grads = [np.full_like(p, 0.5) for p in params]
    opt.step(params, grads, state, 0.1, decay_mask=[True, False])
    tracemalloc.start()
    try:
        for _ in range(3):
            opt.step(params, grads, state, 0.1, decay_mask=[True, False])
            if after_step is not None:
                after_step(params, state)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(("name", "hyper"), CASES, ids=IDS)
def test_steps_allocate_no_arrays(name, hyper):
    """Updates go through preallocated buffers: no temporary the size of a parameter."""
    assert step_peak_bytes(name, hyper) < 16_000


def step_peak_bytes(name, hyper):
    """:func:`step_peak` of the registered ``name`` with ``hyper``."""
    return step_peak(make_optimizer(name, **hyper))


def test_init_rejects_non_float_params():
    with pytest.raises(TypeError, match="parameter 1"):
        make_optimizer("sgd").init([np.zeros(2), np.zeros(2, dtype=int)])


# --------------------------------------------------------------------------- registry


def test_unknown_name_lists_choices_and_suggests():
    with pytest.raises(UnknownNameError) as err:
        make_optimizer("adamm")
    msg = str(err.value)
    assert "choose from: gd, sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw" in msg
    assert "Did you mean 'adam'?" in msg


def test_names_are_folded():
    assert make_optimizer("AdamW").name == "adamw"


@pytest.mark.parametrize(
    ("name", "hyper", "message"),
    [
        ("sgd", {"beta1": 0.9}, "--beta1 is not used by sgd"),
        ("gd", {"amsgrad": True}, "--amsgrad is not used by gd"),
        ("adam", {"momentum": 0.9}, "--momentum is not used by adam"),
        ("adagrad", {"momentum": 0.9}, "--momentum is not used by adagrad"),
        ("rmsprop", {"nesterov": True}, "--nesterov is not used by rmsprop"),
        ("momentum", {"alpha": 0.9}, "--alpha is not used by momentum"),
    ],
)
def test_unused_hyperparameter(name, hyper, message):
    with pytest.raises(ConfigError, match=message):
        make_optimizer(name, **hyper)


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_none_means_default(name):
    opt = make_optimizer(name, **dict.fromkeys(HYPERPARAMETERS))
    assert opt.hyperparameters == OPTIMIZERS.get(name).hyper_defaults


def test_unknown_hyperparameter_is_a_type_error():
    with pytest.raises(TypeError, match="beta_1"):
        make_optimizer("adam", beta_1=0.9)


@pytest.mark.parametrize(
    ("name", "hyper", "message"),
    [
        ("sgd", {"momentum": 1.5}, "--momentum must be in [0, 1), got 1.5"),
        ("sgd", {"momentum": -0.1}, "--momentum must be in [0, 1), got -0.1"),
        ("sgd", {"momentum": "0.9"}, "--momentum must be a number, got '0.9'"),
        ("sgd", {"nesterov": True}, "--nesterov needs --momentum > 0"),
        ("nesterov", {"momentum": 0.0}, "--nesterov needs --momentum > 0"),
        ("rmsprop", {"momentum": 1.0}, "--momentum must be in [0, 1), got 1"),
        ("rmsprop", {"alpha": 1.0}, "--alpha must be in [0, 1), got 1"),
        ("adagrad", {"eps": 0.0}, "--eps must be > 0, got 0"),
        ("adam", {"eps": -1e-8}, "--eps must be > 0, got -1e-08"),
        ("adam", {"beta1": 1.0}, "--beta1 must be in [0, 1), got 1"),
        ("adam", {"beta2": float("nan")}, "--beta2 must be in [0, 1), got nan"),
        ("adam", {"amsgrad": "yes"}, "--amsgrad must be true or false, got 'yes'"),
        ("adamw", {"weight_decay": -0.1}, "--weight-decay must be >= 0, got -0.1"),
        ("adamw", {"weight_decay": float("inf")}, "--weight-decay must be >= 0, got inf"),
    ],
)
def test_invalid_hyperparameter(name, hyper, message):
    with pytest.raises(ConfigError) as err:
        make_optimizer(name, **hyper)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("name", "hyperparameters"),
    [
        ("gd", {"momentum": 0.0, "nesterov": False, "dampening": 0.0, "weight_decay": 0.0}),
        ("sgd", {"momentum": 0.0, "nesterov": False, "dampening": 0.0, "weight_decay": 0.0}),
        ("momentum", {"momentum": 0.9, "nesterov": False, "dampening": 0.0, "weight_decay": 0.0}),
        ("nesterov", {"momentum": 0.9, "nesterov": True, "dampening": 0.0, "weight_decay": 0.0}),
        (
            "adagrad",
            {"eps": 1e-10, "lr_decay": 0.0, "initial_accumulator_value": 0.0, "weight_decay": 0.0},
        ),
        (
            "rmsprop",
            {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False, "weight_decay": 0.0},
        ),
        ("adam", REF_DEFAULTS["adam"]),
        ("adamw", REF_DEFAULTS["adamw"]),
    ],
)
def test_defaults(name, hyperparameters):
    opt = make_optimizer(name)
    assert opt.hyperparameters == hyperparameters
    assert opt.default_batch_size == (0 if name == "gd" else 32)
    assert (
        make_optimizer(name, **{k: v for k, v in hyperparameters.items()}).hyperparameters
        == hyperparameters
    )


def test_overrides_reach_the_rule():
    opt = OPTIMIZERS.get("momentum")(momentum=0.5, nesterov=True)
    assert opt.hyperparameters == {
        "momentum": 0.5,
        "nesterov": True,
        "dampening": 0.0,
        "weight_decay": 0.0,
    }
    assert make_optimizer("adamw", amsgrad=True, weight_decay=0.1).rule.buffer_names() == (
        "m",
        "v",
        "vmax",
    )


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_metadata(name):
    spec = OPTIMIZERS.get(name)
    assert spec.name == name and 0 < spec.default_lr <= 1
    assert set(spec.hyper_defaults) <= set(HYPERPARAMETERS)
    assert spec.description and "\n" not in spec.description and "θ" in spec.description
    row = spec.to_dict()
    assert row == {
        "name": name,
        "lr": spec.default_lr,
        "batch_size": spec.default_batch_size,
        "hyperparameters": spec.hyper_defaults,
        "description": spec.description,
        "reference": spec.reference,
    }
    opt = make_optimizer(name)
    assert (opt.name, opt.default_lr, opt.default_batch_size) == (
        name,
        spec.default_lr,
        spec.default_batch_size,
    )
