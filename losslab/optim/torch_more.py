"""The rest of torch.optim's elementwise rules (NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD).

Each equals torch.optim's ``_single_tensor_*`` function of the same name in float64, step for
step: the same weight decay (coupled g ← g + λθ, or decoupled θ ← θ·(1 − lr·λ) where torch
offers it), the same first-step conventions and the same order of bias correction and ε.
``g`` is the gradient, ``t`` the 1-based step count, ``lr`` the learning rate of this step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from losslab.errors import ConfigError
from losslab.hyper import Hyper, nonnegative, positive
from losslab.optim.optimizers import (
    BETA1,
    BETA2,
    DECOUPLED,
    EPS,
    WEIGHT_DECAY,
    OptState,
    Params,
    StepContext,
    UpdateRule,
    lerp,
    power,
    register,
    weight_decay,
)


def _decays(decay_mask: Sequence[bool] | None, i: int) -> bool:
    return decay_mask is None or decay_mask[i]


def _moments(
    m: np.ndarray, v: np.ndarray, g: np.ndarray, b1: float, b2: float, s: np.ndarray
) -> None:
    """Adam's two running averages in place: m ← lerp(m, g, 1 − β1), v ← β2v + (1 − β2)g²."""
    lerp(m, g, 1.0 - b1, s)
    v *= b2
    np.multiply(g, g, out=s)
    s *= 1.0 - b2
    v += s


class NAdam(UpdateRule):
    """Adam with Nesterov momentum (Dozat 2016) as torch.optim.NAdam.

    Weight decay as Adam's (coupled or decoupled). μ_t = β1·(1 − ½·0.96^(t·ψ)) with the
    momentum decay ψ, Π_t = μ_1⋯μ_t; m and v as Adam's, d = √(v/(1−β2ᵗ)) + ε, and
    θ −= lr·(1−μ_t)/(1−Π_t)·g/d + lr·μ_{t+1}/(1−Π_t·μ_{t+1})·m/d.
    """

    hypers = (
        BETA1,
        BETA2,
        EPS,
        nonnegative("momentum_decay", 4e-3, "momentum decay ψ: μ_t = β1·(1 − ½·0.96^(t·ψ))"),
        WEIGHT_DECAY,
        DECOUPLED,
    )
    beta1: float
    beta2: float
    eps: float
    momentum_decay: float
    weight_decay: float
    decoupled_weight_decay: bool

    def buffer_names(self) -> tuple[str, ...]:
        return ("m", "v")

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
        ctx: StepContext | None = None,
    ) -> None:
        state.step += 1
        t = state.step
        b1, b2, psi = self.beta1, self.beta2, self.momentum_decay
        bc2 = 1.0 - b2**t
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        # torch keeps the product per parameter; it is the same number for all of them
        product = state.scalars["mu_product"] = state.scalars.get("mu_product", 1.0) * mu
        c_grad = lr * (1.0 - mu) / (1.0 - product)
        c_avg = lr * mu_next / (1.0 - product * mu_next)
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            m, v = state.buffers[i]["m"], state.buffers[i]["v"]
            if _decays(decay_mask, i):
                weight_decay(p, g, s, lr, self.weight_decay, self.decoupled_weight_decay)
            _moments(m, v, g, b1, b2, s)
            np.divide(v, bc2, out=s)
            np.sqrt(s, out=s)
            s += self.eps
            g /= s
            g *= c_grad
            p -= g
            np.divide(m, s, out=s)
            s *= c_avg
            p -= s


class RAdam(UpdateRule):
    """Rectified Adam (Liu et al. 2020, arXiv:1908.03265) as torch.optim.RAdam.

    Weight decay as Adam's (coupled or decoupled); m and v as Adam's, m̂ = m/(1−β1ᵗ).
    ρ∞ = 2/(1−β2) − 1, ρ_t = ρ∞ − 2tβ2ᵗ/(1−β2ᵗ); while ρ_t ≤ 5, θ −= lr·m̂ (momentum SGD);
    then θ −= lr·m̂·r_t·√(1−β2ᵗ)/(√v + ε), r_t = √((ρ_t−4)(ρ_t−2)ρ∞/((ρ∞−4)(ρ∞−2)ρ_t)).
    """

    hypers = (BETA1, BETA2, EPS, WEIGHT_DECAY, DECOUPLED)
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    decoupled_weight_decay: bool

    def buffer_names(self) -> tuple[str, ...]:
        return ("m", "v")

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
        ctx: StepContext | None = None,
    ) -> None:
        state.step += 1
        t = state.step
        b1, b2 = self.beta1, self.beta2
        bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = rho_inf - 2.0 * t * b2**t / bc2
        rectified = rho_t > 5.0
        if rectified:
            rect = math.sqrt(
                (rho_t - 4.0)
                * (rho_t - 2.0)
                * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
            )
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            m, v = state.buffers[i]["m"], state.buffers[i]["v"]
            if _decays(decay_mask, i):
                weight_decay(p, g, s, lr, self.weight_decay, self.decoupled_weight_decay)
            _moments(m, v, g, b1, b2, s)
            if rectified:
                np.sqrt(v, out=s)
                s += self.eps
                np.divide(m, s, out=s)
                s *= lr * math.sqrt(bc2) * rect / bc1
            else:
                np.multiply(m, lr / bc1, out=s)
            p -= s


class Adamax(UpdateRule):
    """Adamax, Adam's infinity-norm variant (Kingma & Ba 2015, §7.1) as torch.optim.Adamax.

    Weight decay λ (coupled): g ← g + λθ. m = β1m + (1−β1)g, u = max(β2u, |g| + ε);
    θ −= (lr/(1−β1ᵗ))·m/u.
    """

    hypers = (BETA1, BETA2, EPS, WEIGHT_DECAY)
    beta1: float
    beta2: float
    eps: float
    weight_decay: float

    def buffer_names(self) -> tuple[str, ...]:
        return ("m", "u")

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
        ctx: StepContext | None = None,
    ) -> None:
        state.step += 1
        clr = lr / (1.0 - self.beta1**state.step)
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            m, u = state.buffers[i]["m"], state.buffers[i]["u"]
            if _decays(decay_mask, i):
                weight_decay(p, g, s, lr, self.weight_decay, False)
            lerp(m, g, 1.0 - self.beta1, s)
            u *= self.beta2
            np.abs(g, out=s)
            s += self.eps
            np.maximum(u, s, out=u)
            np.divide(m, u, out=s)
            s *= clr
            p -= s


class Adadelta(UpdateRule):
    """Adadelta (Zeiler 2012, arXiv:1212.5701) as torch.optim.Adadelta.

    Weight decay λ (coupled): g ← g + λθ. v = ρv + (1−ρ)g², Δ = √(u + ε)/√(v + ε)·g,
    u = ρu + (1−ρ)Δ², θ −= lr·Δ.
    """

    hypers = (
        Hyper(
            "rho",
            0.9,
            "decay ρ of the squared-gradient and squared-update averages",
            low=0.0,
            high=1.0,
        ),
        EPS.with_default(1e-6),
        WEIGHT_DECAY,
    )
    rho: float
    eps: float
    weight_decay: float

    def buffer_names(self) -> tuple[str, ...]:
        return ("v", "u")

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
        ctx: StepContext | None = None,
    ) -> None:
        state.step += 1
        rho, eps = self.rho, self.eps
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            v, u = state.buffers[i]["v"], state.buffers[i]["u"]
            if _decays(decay_mask, i):
                weight_decay(p, g, s, lr, self.weight_decay, False)
            v *= rho
            np.multiply(g, g, out=s)
            s *= 1.0 - rho
            v += s
            np.add(v, eps, out=s)
            np.sqrt(s, out=s)
            g /= s
            np.add(u, eps, out=s)
            np.sqrt(s, out=s)
            s *= g  # Δ
            u *= rho
            np.multiply(s, s, out=g)
            g *= 1.0 - rho
            u += g
            s *= lr
            p -= s


class Rprop(UpdateRule):
    """Resilient backpropagation (Riedmiller & Braun 1993) as torch.optim.Rprop.

    Per coordinate a step size δ, lr at the first step (later values of lr are ignored, as in
    torch): δ ← clip(δ·η, δ_min, δ_max) with η = η+ where g·g_prev > 0, η− where g·g_prev < 0
    (and there g ← 0: no move, and no flip at the next step), 1 elsewhere; θ −= sign(g)·δ;
    g_prev ← g.
    """

    hypers = (
        Hyper(
            "eta_minus",
            0.5,
            "step-size factor η− after a sign flip",
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        ),
        Hyper("eta_plus", 1.2, "step-size factor η+ while the sign holds", low=1.0, low_open=True),
        nonnegative("step_min", 1e-6, "smallest step size δ_min"),
        positive("step_max", 50.0, "largest step size δ_max"),
    )
    eta_minus: float
    eta_plus: float
    step_min: float
    step_max: float

    def check(self) -> None:
        if self.step_min > self.step_max:
            raise ConfigError(
                f"--step-min must be <= --step-max ({self.step_max:g}), got {self.step_min:g}"
            )

    def buffer_names(self) -> tuple[str, ...]:
        return ("prev", "step_size")

    def init(self, params: Params) -> OptState:
        state = super().init(params)
        for buf, p in zip(state.buffers, params, strict=True):
            buf["flipped"] = np.zeros_like(p, dtype=bool)  # a mask, reused by every step
        return state

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
        ctx: StepContext | None = None,
    ) -> None:
        state.step += 1
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            buf = state.buffers[i]
            prev, size, mask = buf["prev"], buf["step_size"], buf["flipped"]
            if state.step == 1:
                size.fill(lr)
            np.multiply(g, prev, out=s)
            # prev is free once the product is taken: it holds the factors until g replaces it
            prev.fill(1.0)
            np.greater(s, 0.0, out=mask)
            np.copyto(prev, self.eta_plus, where=mask)
            np.less(s, 0.0, out=mask)
            np.copyto(prev, self.eta_minus, where=mask)
            size *= prev
            np.clip(size, self.step_min, self.step_max, out=size)
            np.copyto(g, 0.0, where=mask)
            np.sign(g, out=s)
            s *= size
            p -= s
            np.copyto(prev, g)


class ASGD(UpdateRule):
    """Averaged SGD (Polyak & Juditsky 1992; Bottou 2012) as torch.optim.ASGD.

    Weight decay λ (coupled): g ← g + λθ. θ ← θ·(1 − λ_η·η) − η·g, then the average
    ā ← ā + μ·(θ − ā); after the step η = lr/(1 + λ_η·lr·t)^α and μ = 1/max(1, t − t0) (η = lr
    and μ = 1 at the first step). The model is θ, as torch leaves it; ā is kept in the state.
    """

    hypers = (
        nonnegative("lambd", 1e-4, "decay term λ_η: θ ← θ·(1 − λ_η·η) and η's decay"),
        nonnegative("alpha", 0.75, "power α of the step-size decay η = lr/(1 + λ_η·lr·t)^α"),
        nonnegative("t0", 1e6, "step after which θ is averaged: μ = 1/max(1, t − t0)"),
        WEIGHT_DECAY,
    )
    lambd: float
    alpha: float
    t0: float
    weight_decay: float

    def buffer_names(self) -> tuple[str, ...]:
        return ("ax",)

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
        ctx: StepContext | None = None,
    ) -> None:
        state.step += 1
        t = state.step
        eta = state.scalars.get("eta", lr)
        mu = state.scalars.get("mu", 1.0)
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            ax = state.buffers[i]["ax"]
            if _decays(decay_mask, i):
                weight_decay(p, g, s, lr, self.weight_decay, False)
            p *= 1.0 - self.lambd * eta
            g *= eta
            p -= g
            if mu != 1.0:
                np.subtract(p, ax, out=s)
                s *= mu
                ax += s
            else:
                np.copyto(ax, p)
        # torch keeps η and μ per parameter; they are the same numbers for all of them
        state.scalars["eta"] = lr / power(1.0 + self.lambd * lr * t, self.alpha)
        state.scalars["mu"] = 1.0 / max(1.0, t - self.t0)


# Default lrs: torch's own (adadelta 1, rprop 0.01) where they reach a good test loss in 100
# epochs on the bundled data; torch's 1e-3..2e-3 for nadam, radam and adamax fall short on iris,
# so they take adam's 0.01, and asgd takes sgd's 0.05 (torch 0.01; it is SGD until t0).
# fmt: off
register("nadam", NAdam, lr=1e-2, reference="torch.optim.NAdam",
         description="NAdam: Adam's m, v with Nesterov momentum μ_t; "
                     "θ −= lr·((1−μ_t)·g/(1−Π_t) + μ_{t+1}·m/(1−Π_{t+1}))/(√v̂ + ε)")
register("radam", RAdam, lr=1e-2, reference="torch.optim.RAdam",
         description="RAdam: θ −= lr·m̂ while ρ_t ≤ 5, then θ −= lr·r_t·m̂/(√v̂ + ε) "
                     "(variance rectification r_t)")
register("adamax", Adamax, lr=1e-2, reference="torch.optim.Adamax",
         description="Adamax: m = β1m + (1−β1)g, u = max(β2u, |g| + ε), θ −= lr·m/((1−β1ᵗ)·u)")
register("adadelta", Adadelta, lr=1.0, reference="torch.optim.Adadelta",
         description="Adadelta: v = ρv + (1−ρ)g², Δ = √(u + ε)/√(v + ε)·g, "
                     "u = ρu + (1−ρ)Δ², θ −= lr·Δ")
register("rprop", Rprop, lr=1e-2, batch_size=0, reference="torch.optim.Rprop",
         description="Rprop (full batch): δ ← δ·η± by the sign of g·g_prev, clipped; "
                     "θ −= sign(g)·δ (δ = lr at first)")
register("asgd", ASGD, lr=5e-2, reference="torch.optim.ASGD",
         description="ASGD: θ ← θ·(1 − λη) − η·g, η = lr/(1 + λ·lr·t)^α; "
                     "average ā += μ(θ − ā) after t0 steps")
# fmt: on
