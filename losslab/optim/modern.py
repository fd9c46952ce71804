"""Optimizers beyond torch.optim: Lion, Schedule-Free, Prodigy, Yogi, AdaBelief, LAMB, signSGD.

Each rule equals its named reference's published code step for step (float64): optax's
``scale_by_*`` chains for Lion, Yogi, AdaBelief and LAMB, the ``schedulefree`` package's
AdamWScheduleFree / SGDScheduleFree, the ``prodigyopt`` package's Prodigy (1.1.x, slice_p 1).
Where optax applies weight decay to every parameter unless masked, losslab masks it to the
weights (``decay_mask``), as torch's param groups do for AdamW. ``g`` is the gradient, ``t``
the 1-based step count, ``lr`` the learning rate of this step.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence

import numpy as np

from losslab.hyper import Hyper, count, nonnegative, positive, switch
from losslab.optim.optimizers import (
    BETA1,
    BETA2,
    DECOUPLED,
    EPS,
    MOMENTUM,
    WEIGHT_DECAY,
    OptState,
    Params,
    StepContext,
    UpdateRule,
    power,
    register,
)


def _decays(decay_mask: Sequence[bool] | None, i: int) -> bool:
    return decay_mask is None or bool(decay_mask[i])


def _ema(avg: np.ndarray, x: np.ndarray, beta: float, s: np.ndarray) -> None:
    """avg = β·avg + (1−β)·x in place (``s`` is scratch, and may be ``x``)."""
    avg *= beta
    np.multiply(x, 1.0 - beta, out=s)
    avg += s


class Signum(UpdateRule):
    """signSGD and Signum (Bernstein et al. 2018, arXiv:1802.04434) as optax.sign_sgd and
    optax.signum, which leave weight decay out (so does losslab).

    μ = 0 (signSGD): θ −= lr·sign(g). μ > 0 (Signum): m = μm + (1−μ)g (m starting at 0),
    θ −= lr·sign(m). sign(0) = 0.
    """

    hypers = (MOMENTUM,)
    momentum: float

    def buffer_names(self) -> tuple[str, ...]:
        return ("m",) if self.momentum else ()

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
        mu = self.momentum
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            d = g
            if mu:
                d = state.buffers[i]["m"]
                _ema(d, g, mu, g)
            np.sign(d, out=s)  # into another array: NumPy's in-place sign is 4× slower
            s *= lr
            p -= s


class Lion(UpdateRule):
    """Lion (Chen et al. 2023, arXiv:2302.06675) as optax.lion.

    u = sign((1−β1)g + β1m), then m = (1−β2)g + β2m; θ −= lr·(u + λθ) with the weight
    decay λ (decoupled: scaled by lr, not by the sign step) on the weights only.
    """

    hypers = (BETA1, BETA2, WEIGHT_DECAY)
    beta1: float
    beta2: float
    weight_decay: float

    def buffer_names(self) -> tuple[str, ...]:
        # c, the interpolation, reads the old m while the new m reads g: one array more
        return ("m", "c")

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
        b1, b2, wd = self.beta1, self.beta2, self.weight_decay
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            m, c = state.buffers[i]["m"], state.buffers[i]["c"]
            np.multiply(g, 1.0 - b1, out=c)
            np.multiply(m, b1, out=s)
            c += s
            _ema(m, g, b2, g)
            np.sign(c, out=s)
            if wd and _decays(decay_mask, i):
                np.multiply(p, wd, out=g)
                s += g
            s *= lr
            p -= s


class _AdamDirection(UpdateRule):
    """Rules that step along Adam's bias-corrected direction, in optax's order:
    m = (1−β1)g + β1m, a second moment v of the rule's own, u = (m/(1−β1ᵗ))/(√(v/(1−β2ᵗ) +
    ε_root) + ε); θ −= lr·u unless the rule does more with u (:meth:`apply`)."""

    beta1: float
    beta2: float
    eps: float

    def buffer_names(self) -> tuple[str, ...]:
        return ("m", "v")

    def root(self) -> float:
        """ε_root, added to v/(1−β2ᵗ) under the square root."""
        return 0.0

    @abstractmethod
    def second_moment(self, v: np.ndarray, g: np.ndarray, m: np.ndarray, s: np.ndarray) -> None:
        """Update v in place from g (and the new m); ``g`` and ``s`` may be clobbered."""

    def apply(
        self, i: int, p: np.ndarray, u: np.ndarray, s: np.ndarray, lr: float, decays: bool
    ) -> None:
        """θ −= lr·u (``u`` and ``s`` may be clobbered)."""
        u *= lr
        p -= u

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
        bc1, bc2, root = 1.0 - self.beta1**t, 1.0 - self.beta2**t, self.root()
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            m, v = state.buffers[i]["m"], state.buffers[i]["v"]
            _ema(m, g, self.beta1, s)
            self.second_moment(v, g, m, s)
            np.divide(v, bc2, out=s)
            if root:
                s += root
            np.sqrt(s, out=s)
            s += self.eps
            np.divide(m, bc1, out=g)
            g /= s
            self.apply(i, p, g, s, lr, _decays(decay_mask, i))


class Yogi(_AdamDirection):
    """Yogi (Zaheer et al. 2018, NeurIPS) as optax.yogi.

    m and v start at the initial accumulator value a (1e-6); m = (1−β1)g + β1m,
    v = v − (1−β2)·sign(v − g²)·g²; with optax's bias correction of both (applied although
    they start at a, not 0): θ −= lr·(m/(1−β1ᵗ))/(√(v/(1−β2ᵗ)) + ε).
    """

    hypers = (
        BETA1,
        BETA2,
        EPS.with_default(1e-3),
        nonnegative("initial_accumulator_value", 1e-6, "starting value a of m and v"),
    )
    initial_accumulator_value: float

    def init(self, params: Params) -> OptState:
        state = super().init(params)
        for buf in state.buffers:
            for a in buf.values():
                a.fill(self.initial_accumulator_value)
        return state

    def second_moment(self, v: np.ndarray, g: np.ndarray, m: np.ndarray, s: np.ndarray) -> None:
        np.multiply(g, g, out=s)
        np.subtract(v, s, out=g)
        np.sign(g, out=g)
        s *= 1.0 - self.beta2
        s *= g
        v -= s


class AdaBelief(_AdamDirection):
    """AdaBelief (Zhuang et al. 2020, arXiv:2010.07468) as optax.adabelief.

    m = (1−β1)g + β1m; s = (1−β2)(g − m)² + β2s + ε_root (ε_root kept in the state);
    θ −= lr·(m/(1−β1ᵗ))/(√(s/(1−β2ᵗ)) + ε).
    """

    hypers = (
        BETA1,
        BETA2,
        EPS.with_default(1e-16),
        nonnegative("eps_root", 1e-16, "term added inside the square root's average"),
    )
    eps_root: float

    def second_moment(self, v: np.ndarray, g: np.ndarray, m: np.ndarray, s: np.ndarray) -> None:
        g -= m
        g *= g
        g *= 1.0 - self.beta2
        v *= self.beta2
        v += g
        v += self.eps_root


class Lamb(_AdamDirection):
    """LAMB (You et al. 2019, arXiv:1904.00962) as optax.lamb, per tensor.

    Adam's direction u = (m/(1−β1ᵗ))/(√(v/(1−β2ᵗ) + ε_root) + ε), plus λθ on the weights;
    then θ −= lr·(‖θ‖/‖u‖)·u, the trust ratio of each tensor (1 where either norm is 0).
    """

    hypers = (
        BETA1,
        BETA2,
        EPS.with_default(1e-6),
        nonnegative("eps_root", 0.0, "term added inside the square root's average"),
        WEIGHT_DECAY,
    )
    layout = "tensors"
    eps_root: float
    weight_decay: float

    def root(self) -> float:
        return self.eps_root

    def second_moment(self, v: np.ndarray, g: np.ndarray, m: np.ndarray, s: np.ndarray) -> None:
        v *= self.beta2
        g *= g
        g *= 1.0 - self.beta2
        v += g

    def apply(
        self, i: int, p: np.ndarray, u: np.ndarray, s: np.ndarray, lr: float, decays: bool
    ) -> None:
        if self.weight_decay and decays:
            np.multiply(p, self.weight_decay, out=s)
            u += s
        np.multiply(p, p, out=s)
        p_norm = math.sqrt(float(s.sum()))
        np.multiply(u, u, out=s)
        u_norm = math.sqrt(float(s.sum()))
        if p_norm and u_norm:
            u *= p_norm / u_norm
        u *= lr
        p -= u


# --------------------------------------------------------------------------- Schedule-Free

WARMUP_STEPS = count(
    "warmup_steps", 0, "steps of the rule's own linear warmup (lr·t/T for t ≤ T)", low=0
)
AVERAGE_POWER = nonnegative("r", 0.0, "polynomial weighting t^r of the average")
WEIGHT_LR_POWER = nonnegative(
    "weight_lr_power", 2.0, "the average weights each step by lr_max raised to this power"
)


class _ScheduleFree(UpdateRule):
    """What the two schedule-free rules share (Defazio et al. 2024, arXiv:2405.15682).

    θ holds y = (1−β)z + βx, where gradients are taken; x, the evaluation point, is the
    weighted average of the z iterates: x = (1 − c)x + c·z with c = wₜ/Σw, wₜ = t^r·lr_maxᵖ
    (lr_max the largest lr so far). As the package, one step updates y and z in place
    without x: y ← y + c(z − y) + lr(β(1−c) − 1)·d; z −= lr·d, for the step direction d.
    :meth:`to_eval` moves θ to x = y + (1 − 1/β)(z − y), :meth:`to_train` back,
    y = x + (1 − β)(z − x), as the package's ``eval()`` and ``train()``.
    """

    evaluates_elsewhere = True
    warmup_steps: int
    r: float
    weight_lr_power: float
    weight_decay: float

    @property
    def interpolation(self) -> float:
        """β of y = (1−β)z + βx."""
        raise NotImplementedError

    def init(self, params: Params) -> OptState:
        state = super().init(params)
        for p, buf in zip(params, state.buffers, strict=True):
            np.copyto(buf["z"], p)
        state.scalars.update(weight_sum=0.0, lr_max=-1.0, at_x=False)
        return state

    def schedule(self, state: OptState, lr: float) -> tuple[float, float]:
        """This step's lr (after the warmup) and averaging coefficient c; counts the step."""
        k = state.step
        state.step += 1
        if k < self.warmup_steps:
            lr *= (k + 1) / self.warmup_steps
        sc = state.scalars
        sc["lr_max"] = lr_max = max(lr, sc["lr_max"])
        weight = power(k + 1, self.r) * power(lr_max, self.weight_lr_power)
        sc["weight_sum"] += weight
        return lr, (weight / sc["weight_sum"] if sc["weight_sum"] else 0.0)

    def move(
        self, p: np.ndarray, d: np.ndarray, z: np.ndarray, s: np.ndarray, lr: float, c: float
    ) -> None:
        """y ← y + c(z − y) + lr(β(1−c) − 1)·d; z −= lr·d (``d`` is clobbered)."""
        np.subtract(z, p, out=s)
        s *= c
        p += s
        np.multiply(d, lr * (self.interpolation * (1.0 - c) - 1.0), out=s)
        p += s
        d *= lr
        z -= d

    def _lerp_to_z(self, params: Params, state: OptState, weight: float) -> None:
        for p, buf, s in zip(params, state.buffers, state.scratch, strict=True):
            np.subtract(buf["z"], p, out=s)
            s *= weight
            p += s

    def to_eval(self, params: Params, state: OptState) -> None:
        if not state.scalars["at_x"]:
            self._lerp_to_z(params, state, 1.0 - 1.0 / self.interpolation)
            state.scalars["at_x"] = True

    def to_train(self, params: Params, state: OptState) -> None:
        if state.scalars["at_x"]:
            self._lerp_to_z(params, state, 1.0 - self.interpolation)
            state.scalars["at_x"] = False

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
        if state.scalars["at_x"]:
            raise RuntimeError("a schedule-free step needs to_train after to_eval")
        lr, c = self.schedule(state, lr)
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            self.direction(i, g, s, state)
            if self.weight_decay and _decays(decay_mask, i):
                np.multiply(p, self.weight_decay, out=s)
                g += s
            self.move(p, g, state.buffers[i]["z"], s, lr, c)

    def direction(self, i: int, g: np.ndarray, s: np.ndarray, state: OptState) -> None:
        """Turn the gradient ``g`` into the step direction, in place (``s`` is scratch)."""
        return None


def _open_unit(name: str, default: float, help: str) -> Hyper:
    """A rate in (0, 1): schedule-free divides by its β to recover x."""
    return Hyper(name, default, help, low=0.0, high=1.0, low_open=True, high_open=True)


class ScheduleFreeSGD(_ScheduleFree):
    """Schedule-Free SGD as schedulefree.SGDScheduleFree (Defazio et al. 2024).

    d = g + λy (weight decay at y, on the weights), then the schedule-free step of
    :class:`_ScheduleFree` with β = μ, the momentum.
    """

    hypers = (
        _open_unit("momentum", 0.9, "momentum μ: y = (1−μ)z + μx"),
        WEIGHT_DECAY,
        WARMUP_STEPS,
        AVERAGE_POWER,
        WEIGHT_LR_POWER,
    )
    momentum: float

    @property
    def interpolation(self) -> float:
        return self.momentum

    def buffer_names(self) -> tuple[str, ...]:
        return ("z",)


class ScheduleFreeAdamW(_ScheduleFree):
    """Schedule-Free AdamW as schedulefree.AdamWScheduleFree (Defazio et al. 2024).

    v = β2v + (1−β2)g²; d = g/(√(v/(1−β2ᵗ)) + ε) + λy (weight decay at y, on the weights),
    then the schedule-free step of :class:`_ScheduleFree` with β = β1.
    """

    hypers = (
        _open_unit("beta1", 0.9, "interpolation β1: y = (1−β1)z + β1x"),
        BETA2,
        EPS,
        WEIGHT_DECAY,
        WARMUP_STEPS,
        AVERAGE_POWER,
        WEIGHT_LR_POWER,
    )
    beta1: float
    beta2: float
    eps: float

    @property
    def interpolation(self) -> float:
        return self.beta1

    def buffer_names(self) -> tuple[str, ...]:
        return ("z", "v")

    def direction(self, i: int, g: np.ndarray, s: np.ndarray, state: OptState) -> None:
        b2 = self.beta2
        v = state.buffers[i]["v"]
        v *= b2
        np.multiply(g, 1.0 - b2, out=s)
        s *= g
        v += s
        np.divide(v, 1.0 - b2**state.step, out=s)
        np.sqrt(s, out=s)
        s += self.eps
        g /= s


# --------------------------------------------------------------------------- Prodigy


class Prodigy(UpdateRule):
    """Prodigy (Mishchenko & Defazio 2023, arXiv:2306.06101) as prodigyopt.Prodigy 1.1.x.

    Adam scaled by a global distance estimate d (starting at d0), with η = d·lr (times
    √(1−β2ᵏ⁺¹)/(1−β1ᵏ⁺¹) with bias correction) and β3 = √β2 unless given:
    r = β3r + (d/d0)·η·⟨g, θ0 − θ⟩; sᵢ = β3sᵢ + (d/d0)·η·g (d/d0·d with the safeguard);
    m = β1m + d(1−β1)g; v = β2v + d²(1−β2)g²; d̂ = c·r/‖s‖₁, d ← min(max(d, d̂), d·growth)
    as the package orders it; θ −= η·m/(√v + d·ε) with the new d. Weight decay λ on the
    weights: decoupled θ ← θ − λη·θ, or coupled g ← g + λθ. slice_p is fixed at 1.
    """

    hypers = (
        BETA1,
        BETA2,
        Hyper(
            "beta3",
            None,
            "decay of Prodigy's step-size sums (none: √β2)",
            low=0.0,
            high=1.0,
            high_open=True,
            optional=True,
        ),
        EPS,
        WEIGHT_DECAY,
        DECOUPLED,
        switch("use_bias_correction", False, "scale the step by √(1−β2ᵗ)/(1−β1ᵗ)"),
        switch("safeguard_warmup", False, "leave lr out of the denominator's sums"),
        positive("d0", 1e-6, "initial distance estimate d0"),
        positive("d_coef", 1.0, "coefficient c of the distance estimate d̂"),
        Hyper(
            "growth_rate",
            None,
            "cap on d's growth factor per step (none: unbounded)",
            low=1.0,
            optional=True,
        ),
    )
    beta1: float
    beta2: float
    beta3: float | None
    eps: float
    weight_decay: float
    decoupled_weight_decay: bool
    use_bias_correction: bool
    safeguard_warmup: bool
    d0: float
    d_coef: float
    growth_rate: float | None

    def buffer_names(self) -> tuple[str, ...]:
        return ("m", "v", "s", "p0") if self.beta1 else ("v", "s", "p0")

    def init(self, params: Params) -> OptState:
        state = super().init(params)
        for p, buf in zip(params, state.buffers, strict=True):
            np.copyto(buf["p0"], p)
        state.scalars.update(d=self.d0, d_max=self.d0, d_numerator=0.0)
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
        if lr <= 0.0:
            return  # the package takes no step and keeps its state at lr 0
        b1, b2 = self.beta1, self.beta2
        b3 = math.sqrt(b2) if self.beta3 is None else self.beta3
        wd, d0, sc = self.weight_decay, self.d0, state.scalars
        k = state.step
        bc = math.sqrt(1 - b2 ** (k + 1)) / (1 - b1 ** (k + 1)) if self.use_bias_correction else 1
        d = sc["d"]
        dlr = d * lr * bc
        d_numerator = sc["d_numerator"] * b3
        delta_numerator = d_denom = 0.0
        s_scale = (d / d0) * d if self.safeguard_warmup else (d / d0) * dlr
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            buf = state.buffers[i]
            if wd and not self.decoupled_weight_decay and _decays(decay_mask, i):
                np.multiply(p, wd, out=s)
                g += s
            np.subtract(buf["p0"], p, out=s)
            s *= g
            delta_numerator += (d / d0) * dlr * float(s.sum())
            if b1:
                buf["m"] *= b1
                np.multiply(g, d * (1 - b1), out=s)
                buf["m"] += s
            v = buf["v"]
            v *= b2
            np.multiply(g, d * d * (1 - b2), out=s)
            s *= g
            v += s
            sums = buf["s"]
            sums *= b3
            np.multiply(g, s_scale, out=s)
            sums += s
            np.abs(sums, out=s)
            d_denom += float(s.sum())
        if d_denom == 0:
            return  # no gradient yet: the package returns before updating d or θ
        d_numerator += delta_numerator
        d_hat = self.d_coef * d_numerator / d_denom
        if d == d0:
            d = max(d, d_hat)
        d_max = max(sc["d_max"], d_hat)
        d = d_max if self.growth_rate is None else min(d_max, d * self.growth_rate)
        sc.update(d=d, d_max=d_max, d_numerator=d_numerator)
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            buf = state.buffers[i]
            if wd and self.decoupled_weight_decay and _decays(decay_mask, i):
                np.multiply(p, wd * dlr, out=s)
                p -= s
            np.sqrt(buf["v"], out=s)
            s += d * self.eps
            if b1:
                np.divide(buf["m"], s, out=s)
                s *= dlr
            else:
                np.divide(g, s, out=s)
                s *= dlr * d
            p -= s
        state.step += 1


# --------------------------------------------------------------------------- registry

_SF = "schedulefree.{} (Defazio et al. 2024, arXiv:2405.15682)"
# fmt: off
register("signsgd", Signum, lr=0.01,
         reference="optax.sign_sgd (Bernstein et al. 2018, arXiv:1802.04434)",
         description="signSGD: θ −= lr·sign(g)")
register("signum", Signum, momentum=0.9, lr=0.01,
         reference="optax.signum (Bernstein et al. 2018, arXiv:1802.04434)",
         description="Signum: m = μm + (1−μ)g, θ −= lr·sign(m) (μ = 0.9)")
register("lion", Lion, beta2=0.99, weight_decay=1e-3, lr=0.003,
         tune=("beta1", "beta2", "weight_decay"),
         reference="optax.lion (Chen et al. 2023, arXiv:2302.06675)",
         description="Lion: θ −= lr·(sign(β1m + (1−β1)g) + λθ), m = β2m + (1−β2)g")
register("yogi", Yogi, lr=0.01,
         reference="optax.yogi (Zaheer et al. 2018, NeurIPS)",
         description="Yogi: v −= (1−β2)·sign(v − g²)·g², θ −= lr·m̂/(√v̂ + ε)")
register("adabelief", AdaBelief, lr=0.01,
         reference="optax.adabelief (Zhuang et al. 2020, arXiv:2010.07468)",
         description="AdaBelief: s = β2s + (1−β2)(g − m)² + ε, θ −= lr·m̂/(√ŝ + ε)")
register("lamb", Lamb, lr=0.015,
         reference="optax.lamb (You et al. 2019, arXiv:1904.00962)",
         description="LAMB: Adam's u (+ λθ), θ −= lr·(‖θ‖/‖u‖)·u per tensor")
register("schedule-free-sgd", ScheduleFreeSGD, lr=1.0,
         reference=_SF.format("SGDScheduleFree"),
         description="Schedule-Free SGD: z −= lr·g at θ = (1−μ)z + μx, x the weighted average "
                     "of z, evaluated at x")
register("schedule-free-adamw", ScheduleFreeAdamW, lr=0.03,
         reference=_SF.format("AdamWScheduleFree"),
         description="Schedule-Free AdamW: z −= lr·g/(√v̂ + ε) at θ = (1−β1)z + β1x, x the "
                     "weighted average of z, evaluated at x")
register("prodigy", Prodigy, decoupled_weight_decay=True, lr=1.0,
         reference="prodigyopt.Prodigy 1.1 (Mishchenko & Defazio 2023, arXiv:2306.06101)",
         description="Prodigy: Adam with θ −= d·lr·m/(√v + dε), d estimated from "
                     "⟨g, θ0 − θ⟩")
# fmt: on
