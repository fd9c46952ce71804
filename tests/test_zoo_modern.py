"""The rules of losslab/optim/modern.py against independent references.

Each rule is written out here again from its paper's update, with the conventions of the
package it is named after (always run); the packages themselves run the same steps when they
are installed — optax in float64 through jax, schedulefree and prodigyopt on torch; and
``losslab.fit`` is followed epoch by epoch by a NumPy trainer written here (its own forward and
backward pass) that drives either of them, schedule-free's losses taken at its averaged point x.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_network import _digits, _init_npz, _softmax_ce, _write_csv
from test_optimizers import SHAPES, assert_steps_close, problem, step_peak

import losslab
from losslab.optim.optimizers import OPTIMIZERS, make_optimizer

NAMES = (
    "signsgd",
    "signum",
    "lion",
    "yogi",
    "adabelief",
    "lamb",
    "schedule-free-sgd",
    "schedule-free-adamw",
    "prodigy",
)
STEP_REFERENCED = set(NAMES)
FIT_REFERENCED = set(NAMES)

# The defaults of the specification (the packages' own), written out again.
REF_DEFAULTS = {
    "signsgd": {"momentum": 0.0},
    "signum": {"momentum": 0.9},
    "lion": {"beta1": 0.9, "beta2": 0.99, "weight_decay": 1e-3},
    "yogi": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-3, "initial_accumulator_value": 1e-6},
    "adabelief": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-16, "eps_root": 1e-16},
    "lamb": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-6, "eps_root": 0.0, "weight_decay": 0.0},
    "schedule-free-sgd": {
        "momentum": 0.9,
        "weight_decay": 0.0,
        "warmup_steps": 0,
        "r": 0.0,
        "weight_lr_power": 2.0,
    },
    "schedule-free-adamw": {
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "warmup_steps": 0,
        "r": 0.0,
        "weight_lr_power": 2.0,
    },
    "prodigy": {
        "beta1": 0.9,
        "beta2": 0.999,
        "beta3": None,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "decoupled_weight_decay": True,
        "use_bias_correction": False,
        "safeguard_warmup": False,
        "d0": 1e-6,
        "d_coef": 1.0,
        "growth_rate": None,
    },
}


# --------------------------------------------------------------------------- the references
#
# A reference owns its parameters: ``step(grads, lr)`` returns them after the step,
# ``to_eval()`` the point the model is evaluated at, ``to_train()`` the point the next gradient
# is taken at (the same, except for schedule-free).


class Reference:
    def __init__(self, h: dict, params0: list[np.ndarray], mask: list[bool]) -> None:
        self.h, self.mask, self.t = h, mask, 0
        self.params = [np.array(p, dtype=float) for p in params0]
        self.start()

    def start(self) -> None:
        self.states = [{} for _ in self.params]

    def step(self, grads, lr):
        self.t += 1
        for i, g in enumerate(grads):
            self.params[i], self.states[i] = self.update(
                self.params[i], np.array(g, dtype=float), self.states[i], lr, self.mask[i]
            )
        return [p.copy() for p in self.params]

    def to_eval(self):
        return [p.copy() for p in self.params]

    to_train = to_eval


class RefSignum(Reference):
    """Bernstein et al. 2018, Algorithm 1 (signSGD) and 3 (Signum): m = βm + (1−β)g,
    x −= δ·sign(m); β = 0 is signSGD."""

    def update(self, th, g, s, lr, decay):
        beta = self.h["momentum"]
        m = beta * s.get("m", 0.0) + (1 - beta) * g
        return th - lr * np.sign(m), {"m": m}


class RefLion(Reference):
    """Chen et al. 2023, Program 1: c = β1m + (1−β1)g; θ −= lr·(sign(c) + λθ);
    m = β2m + (1−β2)g."""

    def update(self, th, g, s, lr, decay):
        b1, b2 = self.h["beta1"], self.h["beta2"]
        m = s.get("m", 0.0)
        u = np.sign(b1 * m + (1 - b1) * g)
        if decay:
            u = u + self.h["weight_decay"] * th
        return th - lr * u, {"m": b2 * m + (1 - b2) * g}


class RefYogi(Reference):
    """Zaheer et al. 2018, Algorithm 2: v = v − (1−β2)·sign(v − g²)·g²; m, v start at the
    initial accumulator and are bias-corrected as optax does."""

    def start(self):
        a = self.h["initial_accumulator_value"]
        self.states = [{"m": np.full_like(p, a), "v": np.full_like(p, a)} for p in self.params]

    def update(self, th, g, s, lr, decay):
        b1, b2, t = self.h["beta1"], self.h["beta2"], self.t
        m = b1 * s["m"] + (1 - b1) * g
        v = s["v"] - (1 - b2) * np.sign(s["v"] - g**2) * g**2
        step = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + self.h["eps"])
        return th - lr * step, {"m": m, "v": v}


class RefAdaBelief(Reference):
    """Zhuang et al. 2020, Algorithm 2: s = β2s + (1−β2)(g − m)² + ε; θ −= α·m̂/(√ŝ + ε)."""

    def update(self, th, g, s, lr, decay):
        b1, b2, t = self.h["beta1"], self.h["beta2"], self.t
        m = b1 * s.get("m", 0.0) + (1 - b1) * g
        v = b2 * s.get("s", 0.0) + (1 - b2) * (g - m) ** 2 + self.h["eps_root"]
        step = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + self.h["eps"])
        return th - lr * step, {"m": m, "s": v}


class RefLamb(Reference):
    """You et al. 2019, Algorithm 2 (φ the identity): r = m̂/(√(v̂ + ε_root) + ε) + λθ;
    θ −= η·(‖θ‖/‖r‖)·r per tensor, the ratio 1 where a norm is 0 (optax)."""

    def update(self, th, g, s, lr, decay):
        b1, b2, t = self.h["beta1"], self.h["beta2"], self.t
        m = b1 * s.get("m", 0.0) + (1 - b1) * g
        v = b2 * s.get("v", 0.0) + (1 - b2) * g**2
        r = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t) + self.h["eps_root"]) + self.h["eps"])
        if decay:
            r = r + self.h["weight_decay"] * th
        pn, rn = np.linalg.norm(th), np.linalg.norm(r)
        ratio = pn / rn if pn > 0 and rn > 0 else 1.0
        return th - lr * ratio * r, {"m": m, "v": v}


class RefScheduleFree(Reference):
    """Defazio et al. 2024, Algorithm 1, with x, y, z kept apart (as the package's
    ``*Reference`` classes): z −= γ(d + λy) at y = (1−β)z + βx — d = g, or g/(√(v/(1−β2ᵗ)) + ε)
    with v = β2v + (1−β2)g² for AdamW —, x = (1 − c)x + c·z, c = wₜ/Σw, wₜ = t^r·max γᵖ,
    γ = lr·min(1, t/T_warmup). Evaluated at x."""

    def start(self):
        self.adam = "beta1" in self.h
        self.x = [p.copy() for p in self.params]
        self.z = [p.copy() for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr_max, self.weight_sum = -1.0, 0.0

    def step(self, grads, lr):
        h, k = self.h, self.t
        self.t += 1
        beta = h["beta1"] if self.adam else h["momentum"]
        if k < h["warmup_steps"]:
            lr = lr * (k + 1) / h["warmup_steps"]
        self.lr_max = max(self.lr_max, lr)
        weight = (k + 1) ** h["r"] * self.lr_max ** h["weight_lr_power"]
        self.weight_sum += weight
        c = weight / self.weight_sum if self.weight_sum else 0.0
        for i, g in enumerate(grads):
            y, d = self.params[i], np.array(g, dtype=float)
            if self.adam:
                self.v[i] = h["beta2"] * self.v[i] + (1 - h["beta2"]) * d**2
                d = d / (np.sqrt(self.v[i] / (1 - h["beta2"] ** (k + 1))) + h["eps"])
            if self.mask[i]:
                d = d + h["weight_decay"] * y
            self.z[i] = self.z[i] - lr * d
            self.x[i] = (1 - c) * self.x[i] + c * self.z[i]
            self.params[i] = beta * self.x[i] + (1 - beta) * self.z[i]
        return [p.copy() for p in self.params]

    def to_eval(self):
        return [x.copy() for x in self.x]

    def to_train(self):
        return [y.copy() for y in self.params]


class RefProdigy(Reference):
    """Mishchenko & Defazio 2023, Algorithm 4 (Prodigy's Adam), in prodigyopt's conventions:
    sums scaled by d/d0 and without (1 − β3), d̂ = c·r/‖s‖₁, d = max(d, d̂) (capped at
    d·growth), ε scaled by the new d; no step before a non-zero gradient."""

    def start(self):
        self.p0 = [p.copy() for p in self.params]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.s = [np.zeros_like(p) for p in self.params]
        self.d = self.d_max = self.h["d0"]
        self.r = 0.0

    def step(self, grads, lr):
        h, P = self.h, self.params
        b1, b2, d0, d, wd = h["beta1"], h["beta2"], h["d0"], self.d, h["weight_decay"]
        b3 = math.sqrt(b2) if h["beta3"] is None else h["beta3"]
        k = self.t
        bc = math.sqrt(1 - b2 ** (k + 1)) / (1 - b1 ** (k + 1)) if h["use_bias_correction"] else 1
        eta = d * lr * bc
        gs = [np.array(g, dtype=float) for g in grads]
        if wd and not h["decoupled_weight_decay"]:
            gs = [g + wd * p if keep else g for g, p, keep in zip(gs, P, self.mask, strict=True)]
        r = b3 * self.r + (d / d0) * eta * sum(
            float(np.sum(g * (p0 - p))) for g, p0, p in zip(gs, self.p0, P, strict=True)
        )
        scale = (d / d0) * (d if h["safeguard_warmup"] else eta)
        for i, g in enumerate(gs):
            self.m[i] = b1 * self.m[i] + d * (1 - b1) * g
            self.v[i] = b2 * self.v[i] + d * d * (1 - b2) * g**2
            self.s[i] = b3 * self.s[i] + scale * g
        l1 = sum(float(np.abs(s).sum()) for s in self.s)
        if l1 == 0:
            return [p.copy() for p in P]
        self.r = r
        d_hat = h["d_coef"] * r / l1
        new = max(d, d_hat) if d == d0 else d
        self.d_max = max(self.d_max, d_hat)
        self.d = self.d_max if h["growth_rate"] is None else min(self.d_max, new * h["growth_rate"])
        for i, g in enumerate(gs):
            if wd and h["decoupled_weight_decay"] and self.mask[i]:
                P[i] = P[i] - wd * eta * P[i]
            direction = self.m[i] if b1 else self.d * g
            P[i] = P[i] - eta * direction / (np.sqrt(self.v[i]) + self.d * h["eps"])
        self.t += 1
        return [p.copy() for p in P]


REFERENCES = {
    "signsgd": RefSignum,
    "signum": RefSignum,
    "lion": RefLion,
    "yogi": RefYogi,
    "adabelief": RefAdaBelief,
    "lamb": RefLamb,
    "schedule-free-sgd": RefScheduleFree,
    "schedule-free-adamw": RefScheduleFree,
    "prodigy": RefProdigy,
}


def reference(name, hyper, params0, mask):
    return REFERENCES[name]({**REF_DEFAULTS[name], **hyper}, params0, mask)


# --------------------------------------------------------------------------- the packages


class Optax:
    """optax's own update (float64 through jax) with the learning rate of each step."""

    def __init__(self, name, hyper, params0, mask):
        jax = pytest.importorskip("jax")
        optax = pytest.importorskip("optax")
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        self.jnp, self.optax, self.lr = jnp, optax, 0.0
        h = {**REF_DEFAULTS[name], **hyper}

        def lr(count):
            return self.lr

        if name == "signsgd" and not h["momentum"]:
            tx = optax.sign_sgd(lr)
        elif name in ("signsgd", "signum"):
            tx = optax.signum(lr, beta=h["momentum"])
        elif name == "lion":
            tx = optax.lion(lr, h["beta1"], h["beta2"], weight_decay=h["weight_decay"], mask=mask)
        elif name == "yogi" and h["initial_accumulator_value"] == 1e-6:
            tx = optax.yogi(lr, h["beta1"], h["beta2"], h["eps"])
        elif name == "yogi":
            tx = optax.chain(
                optax.scale_by_yogi(
                    h["beta1"],
                    h["beta2"],
                    h["eps"],
                    initial_accumulator_value=h["initial_accumulator_value"],
                ),
                optax.scale_by_learning_rate(lr),
            )
        elif name == "adabelief":
            tx = optax.adabelief(lr, h["beta1"], h["beta2"], h["eps"], h["eps_root"])
        elif name == "lamb":
            tx = optax.lamb(
                lr, h["beta1"], h["beta2"], h["eps"], h["eps_root"], h["weight_decay"], mask=mask
            )
        else:
            pytest.skip(f"{name} is not an optax rule")
        self.tx = tx
        self.params = [jnp.asarray(np.array(p, dtype=np.float64)) for p in params0]
        self.state = tx.init(self.params)

    def step(self, grads, lr):
        self.lr = lr
        g = [self.jnp.asarray(np.array(x, dtype=np.float64)) for x in grads]
        updates, self.state = self.tx.update(g, self.state, self.params)
        self.params = self.optax.apply_updates(self.params, updates)
        return self.to_eval()

    def to_eval(self):
        return [np.asarray(p, dtype=np.float64).copy() for p in self.params]

    to_train = to_eval


class TorchPackage:
    """schedulefree's and prodigyopt's torch optimizers; weight decay in the weights' group."""

    def __init__(self, name, hyper, params0, mask):
        torch = pytest.importorskip("torch")
        h = {**REF_DEFAULTS[name], **hyper}
        self.ps = [torch.tensor(np.array(p, dtype=np.float64)) for p in params0]
        groups = [
            {"params": [p], "weight_decay": h["weight_decay"] if keep else 0.0}
            for p, keep in zip(self.ps, mask, strict=True)
        ]
        self.torch, self.sf = torch, name.startswith("schedule-free")
        if self.sf:
            schedulefree = pytest.importorskip("schedulefree")
            common = {k: h[k] for k in ("warmup_steps", "r", "weight_lr_power")}
            if name == "schedule-free-sgd":
                self.opt = schedulefree.SGDScheduleFree(
                    groups, lr=1.0, momentum=h["momentum"], **common
                )
            else:
                self.opt = schedulefree.AdamWScheduleFree(
                    groups, lr=1.0, betas=(h["beta1"], h["beta2"]), eps=h["eps"], **common
                )
            self.opt.train()
        elif name == "prodigy":
            prodigyopt = pytest.importorskip("prodigyopt")
            growth = h["growth_rate"]
            self.opt = prodigyopt.Prodigy(
                groups,
                lr=1.0,
                betas=(h["beta1"], h["beta2"]),
                beta3=h["beta3"],
                eps=h["eps"],
                decouple=h["decoupled_weight_decay"],
                use_bias_correction=h["use_bias_correction"],
                safeguard_warmup=h["safeguard_warmup"],
                d0=h["d0"],
                d_coef=h["d_coef"],
                growth_rate=math.inf if growth is None else growth,
            )
        else:
            pytest.skip(f"{name} is not a torch package's rule")

    def step(self, grads, lr):
        for group in self.opt.param_groups:
            group["lr"] = lr
        for p, g in zip(self.ps, grads, strict=True):
            p.grad = self.torch.tensor(np.array(g, dtype=np.float64))
        self.opt.step()
        return self.params()

    def params(self):
        return [p.detach().numpy().copy() for p in self.ps]

    def to_eval(self):
        if self.sf:
            self.opt.eval()
        return self.params()

    def to_train(self):
        if self.sf:
            self.opt.train()
        return self.params()


def package(name, hyper, params0, mask):
    kind = TorchPackage if name.startswith("schedule-free") or name == "prodigy" else Optax
    return kind(name, hyper, params0, mask)


class Ours:
    """losslab's rule behind the same interface (the training loop's calls, in order)."""

    def __init__(self, name, hyper, params0, mask):
        self.opt = make_optimizer(name, **hyper)
        self.params = [p.copy(order="K") for p in params0]
        self.state = self.opt.init(self.params)
        self.mask = mask

    def step(self, grads, lr):
        self.opt.step(self.params, [g.copy() for g in grads], self.state, lr, decay_mask=self.mask)
        return [p.copy() for p in self.params]

    def to_eval(self):
        self.opt.rule.to_eval(self.params, self.state)
        return [p.copy() for p in self.params]

    def to_train(self):
        self.opt.rule.to_train(self.params, self.state)
        return [p.copy() for p in self.params]


# --------------------------------------------------------------------------- every step

EVERY = 5  # steps per "epoch": evaluated after it, back to training before the next


def drive(rule, grads, lrs):
    """Step as the training loop does; the parameters after each step and at each evaluation."""
    steps, evals = [], []
    for t, (gs, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
        if t > 1 and (t - 1) % EVERY == 0:
            rule.to_train()
        steps.append(rule.step([g.copy() for g in gs], lr))
        if t % EVERY == 0:
            evals.append(rule.to_eval())
    return steps, evals


def prodigy_problem(shape):
    """problem() with gradients that keep a direction (a fixed offset), so that ⟨g, θ0 − θ⟩
    grows and Prodigy's d moves off d0; the first gradient is 0 (no step is taken)."""
    params, grads, lrs, mask = problem(shape)
    rng = np.random.default_rng(7)
    offset = [rng.normal(size=p.shape) for p in params]
    grads = [[g + o for g, o in zip(gs, offset, strict=True)] for gs in grads]
    grads[0] = [np.zeros_like(p) for p in params]
    return params, grads, [20 * lr for lr in lrs], mask


CASES = [(name, {}) for name in NAMES] + [
    ("signsgd", {"momentum": 0.5}),
    ("signum", {"momentum": 0.5}),
    ("lion", {"weight_decay": 0.2}),
    ("lion", {"beta1": 0.5, "beta2": 0.9, "weight_decay": 0.0}),
    ("yogi", {"beta1": 0.5, "eps": 1e-6}),
    ("yogi", {"initial_accumulator_value": 0.0}),
    ("adabelief", {"beta1": 0.5, "beta2": 0.9, "eps": 1e-8, "eps_root": 0.0}),
    ("lamb", {"weight_decay": 0.1}),
    ("lamb", {"eps_root": 1e-8, "eps": 1e-3, "beta2": 0.9}),
    ("schedule-free-sgd", {"momentum": 0.5, "weight_decay": 0.1}),
    ("schedule-free-sgd", {"warmup_steps": 6, "r": 1.0, "weight_lr_power": 1.0}),
    ("schedule-free-adamw", {"weight_decay": 0.1, "warmup_steps": 4}),
    ("schedule-free-adamw", {"beta1": 0.7, "beta2": 0.9, "eps": 1e-4, "r": 0.5}),
    ("schedule-free-adamw", {"weight_lr_power": 0.0}),
    ("prodigy", {"weight_decay": 0.1}),
    ("prodigy", {"weight_decay": 0.1, "decoupled_weight_decay": False}),
    ("prodigy", {"use_bias_correction": True, "safeguard_warmup": True, "d_coef": 0.5}),
    ("prodigy", {"beta1": 0.0, "beta3": 0.9, "growth_rate": 1.5, "d0": 1e-3}),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in hyper.items()) for name, hyper in CASES]


def case(name, shape):
    return prodigy_problem(shape) if name == "prodigy" else problem(shape)


@pytest.mark.parametrize("against", ["formulas", "package"])
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize(("name", "hyper"), CASES, ids=IDS)
def test_matches_every_step(name, hyper, shape, against):
    params, grads, lrs, mask = case(name, shape)
    make = reference if against == "formulas" else package
    want = drive(make(name, hyper, params, mask), grads, lrs)
    ours = drive(Ours(name, hyper, params, mask), grads, lrs)
    assert_steps_close(ours[0], want[0], 1e-12)
    assert_steps_close(ours[1], want[1], 1e-12)
    assert not np.allclose(ours[0][-1][0], params[0])  # it moved


def test_the_cases_exercise_what_they_name():
    """The problems tell the variants apart (else the tables above prove little)."""
    params, grads, lrs, mask = problem("matrix")

    def final(name, **hyper):
        return drive(Ours(name, hyper, params, mask), grads, lrs)[0][-1][0]

    assert not np.allclose(final("signsgd"), final("signum"), rtol=1e-6)
    assert not np.allclose(final("lion"), final("lion", weight_decay=0.0), rtol=1e-9)
    assert not np.allclose(final("adabelief"), final("adabelief", eps_root=0.0), rtol=1e-9)
    assert not np.allclose(final("yogi"), final("yogi", initial_accumulator_value=0.0), rtol=1e-9)
    assert not np.allclose(final("lamb"), final("lamb", weight_decay=0.1), rtol=1e-6)
    sf = drive(Ours("schedule-free-adamw", {}, params, mask), grads, lrs)
    assert not np.allclose(sf[0][EVERY - 1][0], sf[1][0][0], rtol=1e-3)  # x ≠ y
    p, g, lr, m = prodigy_problem("matrix")
    rule = Ours("prodigy", {}, p, m)
    first = rule.step(g[0], lr[0])
    assert rule.state.step == 0 and all(np.array_equal(a, b) for a, b in zip(first, p, strict=True))
    drive(rule, g[1:], lr[1:])
    assert rule.state.scalars["d"] > 1e3 * 1e-6  # the distance estimate moved off d0


# --------------------------------------------------------------------------- by hand


def test_first_steps_by_hand():
    theta, g, lr = [1.0, -2.0, 3.0], [2.0, -0.5, 0.0], 0.1

    def one(name, **hyper):
        opt = make_optimizer(name, **hyper)
        params = [np.array(theta)]
        opt.step(params, [np.array(g)], opt.init(params), lr)
        return params[0]

    np.testing.assert_array_equal(one("signsgd"), [0.9, -1.9, 3.0])
    np.testing.assert_array_equal(one("signum"), [0.9, -1.9, 3.0])  # sign((1−β)g)
    # Lion: sign((1−β1)g) + λθ, λ = 0.5
    np.testing.assert_allclose(
        one("lion", weight_decay=0.5), [1 - 0.1 * 1.5, -2 - 0.1 * (-1 - 1), 3 - 0.1 * 1.5]
    )
    # AdaBelief, t = 1: m̂ = g, s = 0.001·(0.9g)² + ε_r, ŝ = 0.81g² + 1000ε_r
    s_hat = 0.81 * np.array(g) ** 2 + 1e-13
    np.testing.assert_allclose(
        one("adabelief"), np.array(theta) - lr * np.array(g) / (np.sqrt(s_hat) + 1e-16)
    )
    # LAMB from θ = 0: ‖θ‖ = 0, so the trust ratio is 1 and the step is Adam's first, ±lr
    opt = make_optimizer("lamb")
    params = [np.zeros(3)]
    opt.step(params, [np.array(g)], opt.init(params), lr)
    np.testing.assert_allclose(params[0], [-lr * 2 / (2 + 1e-6), lr * 0.5 / (0.5 + 1e-6), 0.0])


def test_schedule_free_first_step_lands_on_z_and_eval_on_x():
    """c₁ = 1: x₁ = z₁ = θ0 − lr·g, y₁ = x₁; after a second step x is their lr²-weighted mean."""
    opt = make_optimizer("schedule-free-sgd", momentum=0.5)
    params = [np.array([1.0, 2.0])]
    state = opt.init(params)
    opt.step(params, [np.array([1.0, -1.0])], state, 0.5)
    np.testing.assert_allclose(params[0], [0.5, 2.5])
    opt.step(params, [np.array([2.0, 2.0])], state, 1.0)  # z₂ = z₁ − g, c₂ = 1/(1 + 1/4)
    z2, x1 = np.array([-1.5, 0.5]), np.array([0.5, 2.5])
    x2 = 0.2 * x1 + 0.8 * z2
    np.testing.assert_allclose(params[0], 0.5 * x2 + 0.5 * z2)
    opt.rule.to_eval(params, state)
    opt.rule.to_eval(params, state)  # twice is once
    np.testing.assert_allclose(params[0], x2)
    opt.rule.to_train(params, state)
    np.testing.assert_allclose(params[0], 0.5 * x2 + 0.5 * z2)
    assert state.scalars["weight_sum"] == 1.25 and state.scalars["lr_max"] == 1.0


def test_yogi_and_prodigy_state_starts_where_the_packages_start():
    opt = make_optimizer("yogi", initial_accumulator_value=0.25)
    state = opt.init([np.zeros(3)])
    assert np.all(state.buffers[0]["m"] == 0.25) and np.all(state.buffers[0]["v"] == 0.25)
    p = make_optimizer("prodigy").init([np.array([1.0, 2.0])])
    assert p.scalars == {"d": 1e-6, "d_max": 1e-6, "d_numerator": 0.0}
    np.testing.assert_array_equal(p.buffers[0]["p0"], [1.0, 2.0])


ALLOC_CASES = [(name, {}) for name in NAMES] + [
    ("lion", {"weight_decay": 0.1}),
    ("lamb", {"weight_decay": 0.1}),
    ("schedule-free-adamw", {"weight_decay": 0.1}),
    ("prodigy", {"weight_decay": 0.1, "decoupled_weight_decay": False}),
    ("prodigy", {"weight_decay": 0.1, "beta1": 0.0}),
]


@pytest.mark.parametrize(("name", "hyper"), ALLOC_CASES)
def test_steps_allocate_no_arrays(name, hyper):
    """Updates (and schedule-free's moves to x and back) go through preallocated arrays."""
    opt = make_optimizer(name, **hyper)

    def there_and_back(params, state):
        opt.rule.to_eval(params, state)
        opt.rule.to_train(params, state)

    assert step_peak(opt, there_and_back) < 16_000


def test_registry_entries():
    for name in NAMES:
        spec = OPTIMIZERS.get(name)
        assert spec.hyper_defaults == REF_DEFAULTS[name], name
        assert spec.rule.evaluates_elsewhere == name.startswith("schedule-free")
    assert OPTIMIZERS.get("lamb").rule.layout == "tensors"
    assert OPTIMIZERS.get("prodigy").default_lr == 1.0  # the package's
    assert OPTIMIZERS.get("schedule-free-sgd").default_lr == 1.0  # the package's


# --------------------------------------------------------------------------- fit, epoch by epoch


def _forward(params, X):
    acts = [X]
    for i in range(0, len(params), 2):
        Z = acts[-1] @ params[i] + params[i + 1]
        acts.append(np.maximum(Z, 0.0) if i < len(params) - 2 else Z)
    return acts


def _gradients(params, X, y):
    """Softmax cross-entropy through a ReLU network (none: the softmax model), by hand."""
    acts = _forward(params, X)
    _, D = _softmax_ce(acts[-1], y)
    grads = [None] * len(params)
    for i in range(len(params) - 2, -1, -2):
        grads[i], grads[i + 1] = acts[i // 2].T @ D, D.sum(axis=0)
        if i:
            D = (D @ params[i].T) * (acts[i // 2] > 0)
    return grads


def numpy_fit(X, y, rule, params, *, epochs, batch, seed, lr):
    """losslab's loop written out: the seed's shuffle stream, ``to_train`` before an epoch's
    steps (after the first), ``to_eval`` before its loss on the training rows."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[1])
    n, losses = len(y), []
    for epoch in range(epochs):
        if epoch:
            params = rule.to_train()
        order = np.arange(n) if batch == 0 else rng.permutation(n)
        size = n if batch == 0 else batch
        for lo in range(0, n, size):
            rows = order[lo : lo + size]
            params = rule.step(_gradients(params, X[rows], y[rows]), lr)
        params = rule.to_eval()
        losses.append(_softmax_ce(_forward(params, X)[-1], y)[0])
    return losses, params


FIT_LR = {
    "signsgd": 0.01,
    "signum": 0.01,
    "lion": 0.003,
    "yogi": 0.01,
    "adabelief": 0.01,
    "lamb": 0.02,
    "schedule-free-sgd": 0.1,
    "schedule-free-adamw": 0.01,
    "prodigy": 1.0,
}
FIT_CASES = [(name, {}, 32) for name in NAMES] + [
    ("lion", {"weight_decay": 0.5}, 32),
    ("lamb", {"weight_decay": 0.1}, 32),
    ("schedule-free-sgd", {"weight_decay": 0.1, "warmup_steps": 10}, 32),
    ("schedule-free-sgd", {}, 0),
    ("schedule-free-adamw", {"weight_decay": 0.1, "r": 1.0}, 32),
    ("schedule-free-adamw", {}, 0),
    ("prodigy", {"weight_decay": 0.1}, 32),
    ("prodigy", {}, 0),
]
# The optax rules are proven equal to optax step by step above; here the torch packages also
# train, as they are used (with schedule-free's train() and eval()).
FIT_RUNS = [(*c, "formulas") for c in FIT_CASES] + [
    (*c, "package") for c in FIT_CASES if c[0].startswith("schedule-free") or c[0] == "prodigy"
]
FIT_IDS = [
    f"{name}{''.join(f'-{k}={v}' for k, v in hyper.items())}-batch{batch}-{against}"
    for name, hyper, batch, against in FIT_RUNS
]


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory):
    """240 standardised digits rows as a CSV, and the starting weights of a 64-16-10 MLP."""
    folder = tmp_path_factory.mktemp("modern")
    X, y = _digits(240)
    std = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
    data = _write_csv(folder / "d.csv", X, y)
    arrays = _init_npz(folder / "w.npz", [64, 16, 10], 5)
    return X, y, str(data), str(folder / "w.npz"), arrays


@pytest.mark.parametrize("model", ["softmax", "mlp"])
@pytest.mark.parametrize(("name", "hyper", "batch", "against"), FIT_RUNS, ids=FIT_IDS)
def test_fit_matches_epoch_by_epoch(digits_files, name, hyper, batch, model, against):
    X, y, data, weights, arrays = digits_files
    if model == "softmax":
        arrays, extra = [np.zeros((64, 10)), np.zeros(10)], {}
    else:
        extra = {"hidden": [16], "init_from": weights}
    mask = [i % 2 == 0 for i in range(len(arrays))]
    make = reference if against == "formulas" else package
    rule = make(name, hyper, arrays, mask)
    lr, epochs = FIT_LR[name], 3
    want, params = numpy_fit(X, y, rule, arrays, epochs=epochs, batch=batch, seed=4, lr=lr)
    ours = losslab.fit(
        data, model=model, optimizer=name, lr=lr, epochs=epochs, batch_size=batch, seed=4,
        test_size=0.0, scale="none", **extra, **hyper,
    )  # fmt: skip
    np.testing.assert_allclose([h["train_loss"] for h in ours.history], want, rtol=1e-10)
    if model == "softmax":
        np.testing.assert_allclose(ours.model["coef"], params[0], rtol=1e-8, atol=1e-11)
    else:
        for layer, W in zip(ours.model["layers"], params[::2], strict=True):
            np.testing.assert_allclose(layer["W"], W, rtol=1e-8, atol=1e-11)
    assert want[-1] < want[0]  # it learns


def test_schedule_free_history_is_at_x(digits_files):
    """The losses reported are those at x, not at y where the gradients are taken."""
    X, y, data, _, _ = digits_files
    arrays = [np.zeros((64, 10)), np.zeros(10)]
    rule = RefScheduleFree(REF_DEFAULTS["schedule-free-sgd"], arrays, [True, False])
    numpy_fit(X, y, rule, arrays, epochs=2, batch=32, seed=4, lr=0.1)
    at_y = _softmax_ce(_forward(rule.to_train(), X)[-1], y)[0]
    at_x = _softmax_ce(_forward(rule.to_eval(), X)[-1], y)[0]
    ours = losslab.fit(
        data, model="softmax", optimizer="schedule-free-sgd", lr=0.1, epochs=2, seed=4,
        test_size=0.0, scale="none",
    )  # fmt: skip
    assert ours.history[-1]["train_loss"] == pytest.approx(at_x, rel=1e-10)
    assert abs(at_x - at_y) > 1e-3 * at_x


# --------------------------------------------------------------------------- the CLI


def test_cli_fits_and_records_each(cli, tmp_path):
    out = cli.json(
        "fit", "iris", "--optimizer", "prodigy", "--epochs", "3", "--out", tmp_path / "runs"
    )
    assert out["status"] == "completed" and out["config"]["lr"] == 1.0
    assert {k: out["config"][k] for k in REF_DEFAULTS["prodigy"]} == REF_DEFAULTS["prodigy"]
    out = cli.json(
        "fit", "iris", "--optimizer", "schedule-free-adamw", "--epochs", "2", "--warmup-steps",
        "3", "--r", "0.5", "--weight-decay", "0.01", "--no-save",
    )  # fmt: skip
    assert (out["config"]["warmup_steps"], out["config"]["r"]) == (3, 0.5)
    listed = {row["name"]: row for row in cli.json("optimizers")}
    assert set(NAMES) <= set(listed)
    assert listed["lion"]["reference"].startswith("optax.lion")


BAD = [
    (["--optimizer", "lion", "--beta2", "1.5"], "--beta2 must be in [0, 1), got 1.5"),
    (["--optimizer", "lion", "--weight-decay", "-1"], "--weight-decay must be >= 0, got -1"),
    (["--optimizer", "signum", "--momentum", "1"], "--momentum must be in [0, 1), got 1"),
    (["--optimizer", "signsgd", "--beta1", "0.9"], "--beta1 is not used by signsgd"),
    (["--optimizer", "yogi", "--eps", "0"], "--eps must be > 0, got 0"),
    (
        ["--optimizer", "yogi", "--initial-accumulator-value", "-1"],
        "--initial-accumulator-value must be >= 0, got -1",
    ),
    (["--optimizer", "adabelief", "--eps-root", "-1e-16"], "--eps-root must be >= 0, got -1e-16"),
    (["--optimizer", "lamb", "--beta1", "1"], "--beta1 must be in [0, 1), got 1"),
    (["--optimizer", "lamb", "--momentum", "0.9"], "--momentum is not used by lamb"),
    (
        ["--optimizer", "schedule-free-sgd", "--momentum", "0"],
        "--momentum must be in (0, 1), got 0",
    ),
    (["--optimizer", "schedule-free-adamw", "--beta1", "0"], "--beta1 must be in (0, 1), got 0"),
    (
        ["--optimizer", "schedule-free-adamw", "--warmup-steps", "-1"],
        "--warmup-steps must be >= 0, got -1",
    ),
    (["--optimizer", "schedule-free-sgd", "--r", "-0.5"], "--r must be >= 0, got -0.5"),
    (
        ["--optimizer", "schedule-free-sgd", "--weight-lr-power", "-2"],
        "--weight-lr-power must be >= 0, got -2",
    ),
    (["--optimizer", "prodigy", "--d0", "0"], "--d0 must be > 0, got 0"),
    (["--optimizer", "prodigy", "--d-coef", "-1"], "--d-coef must be > 0, got -1"),
    (["--optimizer", "prodigy", "--growth-rate", "0.5"], "--growth-rate must be >= 1, got 0.5"),
    (["--optimizer", "prodigy", "--beta3", "1"], "--beta3 must be in [0, 1), got 1"),
    (["--optimizer", "prodigy", "--warmup-steps", "3"], "--warmup-steps is not used by prodigy"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_hyperparameters(cli, args, message):
    assert message in cli.error("fit", "iris", "--no-save", *args)
