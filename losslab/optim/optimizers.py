"""Optimizers: the torch.optim update rules on lists of NumPy arrays, in place.

An update rule is an object with ``init(params) -> state`` and
``step(params, grads, state, lr, *, decay_mask=None) -> None`` (optax's pair, made imperative: the
training loop is bound by memory bandwidth, so ``step`` overwrites the parameters and the state's
buffers with ``out=`` ufuncs instead of returning fresh arrays). Four rules — :class:`SGD`,
:class:`Adagrad`, :class:`RMSprop`, :class:`Adam` — give the eight registered names: each registry
entry is one line naming a rule, its hyperparameter defaults and its default learning rate.

Update rules equal torch.optim's single-tensor code for the same hyperparameters (float64): same
first-step conventions, same order of bias correction and ε. ``g`` is the gradient, ``t`` the
1-based step count, ``lr`` the learning rate of this step.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from losslab.errors import ConfigError
from losslab.hyper import (
    Hyper,
    Space,
    declared_help,
    log_uniform,
    nonnegative,
    one_minus_log,
    positive,
    resolve,
    switch,
    unit,
)
from losslab.registry import Registry

Params = Sequence[np.ndarray]


@dataclass
class OptState:
    """What an optimizer carries between steps.

    ``step`` counts the steps taken; ``buffers[i]`` holds the named buffers of parameter ``i``
    (``"momentum"``, ``"sum"``, ``"m"``, ``"v"``, ``"vmax"`` …), each shaped like it;
    ``scratch[i]`` is a work array of the same shape, overwritten by every step; ``scalars``
    holds a rule's numbers that are not per parameter.
    """

    step: int
    buffers: list[dict[str, np.ndarray]]
    scratch: list[np.ndarray]
    scalars: dict[str, Any] = field(default_factory=dict)  # NAdam's μ-product, Prodigy's d …


@dataclass
class StepContext:
    """What some rules need beyond the gradient (the training loop fills what a rule asks for).

    ``loss``: the objective at the parameters the gradient was taken at (full batch);
    ``closure``: recomputes the full-batch objective and its gradient (into the ``grads`` arrays)
    at the current parameters and returns the objective — L-BFGS's line search calls it;
    ``optimum``: f*, the exact minimum of the objective where losslab knows it (Polyak's step).
    """

    loss: float | None = None
    closure: Callable[[], float] | None = None
    optimum: float | None = None


class UpdateRule(ABC):
    """An update rule: ``init`` allocates the state once, ``step`` updates everything in place.

    A rule declares its hyperparameters once, in ``hypers`` (name, default, range, help); the
    constructor takes exactly those keywords, validates them and sets them as attributes, and
    the CLI flags, ``losslab optimizers`` and the run record are derived from the same list.

    ``layout`` says what ``step`` receives: ``"flat"``, the parameter vector θ in one piece (or
    as its weights and its biases when ``decays`` is true, so that weight decay can spare the
    biases); ``"tensors"``, one array per layer parameter in torch's layout (a dense weight as
    (out, in), a conv kernel as (C_out, C_in, k, k)), weights and biases alternating, for rules
    that treat a matrix as a matrix. ``full_batch``: the rule needs the whole training set at
    every step (``closure``, ``loss``); ``needs_optimum``: it needs ``StepContext.optimum``;
    ``evaluates_elsewhere``: :meth:`to_eval` moves θ to another point than where gradients are
    taken (the training loop then evaluates, reports and saves the model at that point).
    """

    hypers: ClassVar[tuple[Hyper, ...]] = ()
    layout: ClassVar[str] = "flat"
    full_batch: ClassVar[bool] = False
    needs_optimum: ClassVar[bool] = False
    evaluates_elsewhere: ClassVar[bool] = False  # to_eval moves θ (schedule-free)

    def __init__(self, **hyper: Any) -> None:
        for name, value in resolve(self.hypers, hyper, type(self).__name__).items():
            setattr(self, name, value)
        self.check()

    def check(self) -> None:
        """Constraints between hyperparameters (one ConfigError line each)."""
        return None

    @property
    def decays(self) -> bool:
        """Whether a weight decay applies (then the biases are stepped apart and spared)."""
        return bool(getattr(self, "weight_decay", 0.0))

    def check_model(self, params: Params, decay_mask: Sequence[bool], model: str) -> None:
        """ConfigError if the rule cannot step on these parameters (e.g. Muon without a matrix)."""
        return None

    def buffer_names(self) -> tuple[str, ...]:
        """The per-parameter buffers this rule keeps (zeros at ``init``)."""
        return ()

    def init(self, params: Params) -> OptState:
        """Zero buffers and one scratch array per parameter, shaped (and ordered) like it."""
        for i, p in enumerate(params):
            if not (isinstance(p, np.ndarray) and p.dtype.kind == "f" and p.flags.writeable):
                raise TypeError(f"parameter {i} must be a writeable float ndarray, got {p!r}")
        return OptState(
            step=0,
            buffers=[{k: np.zeros_like(p) for k in self.buffer_names()} for p in params],
            scratch=[np.empty_like(p) for p in params],
        )

    @abstractmethod
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
        """Apply one update to ``params`` and ``state`` in place.

        ``grads`` are used as scratch space: their contents are undefined afterwards.
        ``decay_mask[i]`` says whether weight decay applies to ``params[i]`` (the weights, not
        the biases); None means every parameter, as a single torch param group. Rules without
        weight decay ignore it.
        """

    def to_eval(self, params: Params, state: OptState) -> None:
        """Move ``params`` to the point the model is evaluated at (schedule-free's x)."""
        return None

    def to_train(self, params: Params, state: OptState) -> None:
        """Undo :meth:`to_eval`: back to the point gradients are taken at."""
        return None

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The rule's hyperparameters by name (its constructor's keywords)."""
        return {h.name: getattr(self, h.name) for h in self.hypers}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"{type(self).__name__}({args})"


def power(x: float, y: float) -> float:
    """x^y of step-size arithmetic as float64 arithmetic has it: ±inf beyond the float64 range.

    Python's ``float ** float`` raises OverflowError there (``1e160 ** 2``), where every other
    operation on a huge lr gives inf and the run is reported as diverged; torch computes these
    with tensors, which give inf too.
    """
    try:
        return x**y
    except OverflowError:
        with np.errstate(over="ignore"):
            return float(np.power(np.float64(x), y))


def weight_decay(
    p: np.ndarray, g: np.ndarray, s: np.ndarray, lr: float, wd: float, decoupled: bool
) -> None:
    """torch's two weight decays, in place: decoupled (AdamW, Loshchilov & Hutter 2019)
    θ ← θ·(1 − lr·λ); coupled (L2 in the gradient) g ← g + λθ. ``s`` is scratch."""
    if not wd:
        return
    if decoupled:
        p *= 1.0 - lr * wd
    else:
        np.multiply(p, wd, out=s)
        g += s


def lerp(a: np.ndarray, b: np.ndarray, w: float, s: np.ndarray) -> None:
    """a ← a + w·(b − a) in place, torch's running average ``exp_avg.lerp_(grad, 1 − β1)``.

    Written as torch's ``lerp`` writes it: a + w·(b − a) for |w| < ½, else b − (1 − w)·(b − a),
    so that the average stays close to b when w is near 1. ``s`` is scratch."""
    np.subtract(b, a, out=s)
    if abs(w) < 0.5:
        s *= w
        a += s
    else:
        s *= 1.0 - w
        np.subtract(b, s, out=a)


# The declarations several rules share; a rule's own default overrides the one here.
# Their search spaces (``compare --tune``): decay rates as 1 − log-uniform, ε and λ log-uniform
# (λ with 0 included); which of them an optimizer tunes is its registration's ``tune``.
MOMENTUM = unit("momentum", 0.0, "momentum factor μ").with_space(one_minus_log(1e-3, 0.9))
EPS = positive("eps", 1e-8, "term added to the denominator for numerical stability").with_space(
    log_uniform(1e-10, 1e-6)
)
BETA1 = unit("beta1", 0.9, "decay of the first-moment (gradient) average β1").with_space(
    one_minus_log(1e-3, 0.5)
)
BETA2 = unit("beta2", 0.999, "decay of the second-moment (squared gradient) average β2").with_space(
    one_minus_log(1e-4, 0.2)
)
WEIGHT_DECAY = nonnegative(
    "weight_decay", 0.0, "weight decay λ (the biases are spared)"
).with_space(log_uniform(1e-5, 1e-1, zero=True))
# every optimizer's lr space unless its registration says otherwise
LR_SPACE = log_uniform(1e-5, 1.0)
DECOUPLED = switch(
    "decoupled_weight_decay", False, "decay θ directly (AdamW) instead of adding λθ to g"
)


class SGD(UpdateRule):
    """Gradient descent with optional heavy-ball or Nesterov momentum (torch.optim.SGD).

    Weight decay λ (coupled): g ← g + λθ. μ = 0: θ −= lr·g. μ > 0: b = g at the first step,
    then b = μb + (1 − τ)·g (dampening τ); θ −= lr·b, or θ −= lr·(g + μb) with Nesterov, which
    needs μ > 0 and τ = 0 as in torch.
    """

    hypers = (
        MOMENTUM,
        switch("nesterov", False, "Nesterov momentum (needs μ > 0 and dampening 0)"),
        Hyper(
            "dampening", 0.0, "dampening τ of the momentum: b = μb + (1 − τ)g", low=0.0, high=1.0
        ),
        WEIGHT_DECAY,
    )
    momentum: float
    nesterov: bool
    dampening: float
    weight_decay: float

    def check(self) -> None:
        if self.nesterov and self.momentum == 0.0:
            raise ConfigError("--nesterov needs --momentum > 0, got 0")
        if self.nesterov and self.dampening:
            raise ConfigError(f"--nesterov needs --dampening 0, got {self.dampening:g}")

    def buffer_names(self) -> tuple[str, ...]:
        return ("momentum",) if self.momentum else ()

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
            if decay_mask is None or decay_mask[i]:
                weight_decay(p, g, s, lr, self.weight_decay, False)
            d = g
            if mu:
                b = state.buffers[i]["momentum"]
                if state.step == 1:
                    np.copyto(b, g)
                else:
                    b *= mu
                    if self.dampening:
                        np.multiply(g, 1.0 - self.dampening, out=s)
                        b += s
                    else:
                        b += g
                if self.nesterov:
                    np.multiply(b, mu, out=s)
                    g += s
                else:
                    d = b
            np.multiply(d, lr, out=s)
            p -= s


class Adagrad(UpdateRule):
    """Adagrad (Duchi et al. 2011) as torch.optim.Adagrad.

    Weight decay λ (coupled): g ← g + λθ. s += g² (s starts at the initial accumulator value);
    θ −= clr·g/(√s + ε) with clr = lr/(1 + (t − 1)·lr_decay).
    """

    hypers = (
        EPS.with_default(1e-10),
        nonnegative("lr_decay", 0.0, "learning-rate decay: lr/(1 + (t − 1)·lr_decay) at step t"),
        nonnegative("initial_accumulator_value", 0.0, "starting value of the sum of squares s"),
        WEIGHT_DECAY,
    )
    eps: float
    lr_decay: float
    initial_accumulator_value: float
    weight_decay: float

    def buffer_names(self) -> tuple[str, ...]:
        return ("sum",)

    def init(self, params: Params) -> OptState:
        state = super().init(params)
        for buf in state.buffers:
            buf["sum"].fill(self.initial_accumulator_value)
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
        clr = lr / (1.0 + (state.step - 1) * self.lr_decay)
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            if decay_mask is None or decay_mask[i]:
                weight_decay(p, g, s, lr, self.weight_decay, False)
            acc = state.buffers[i]["sum"]
            np.multiply(g, g, out=s)
            acc += s
            np.sqrt(acc, out=s)
            s += self.eps
            np.divide(g, s, out=s)
            s *= clr
            p -= s


class RMSprop(UpdateRule):
    """RMSprop (Hinton's lecture 6e; centered: Graves 2013) as torch.optim.RMSprop.

    Weight decay λ (coupled): g ← g + λθ. v = αv + (1−α)g²; the denominator is
    d = √v + ε, or, centered, ḡ = αḡ + (1−α)g and d = √(v − ḡ²) + ε; θ −= lr·g/d. With
    momentum μ > 0 (buffer starting at 0): b = μb + g/d; θ −= lr·b.
    """

    hypers = (
        unit("alpha", 0.99, "smoothing constant α of the squared-gradient average").with_space(
            one_minus_log(1e-4, 0.2)
        ),
        EPS,
        MOMENTUM,
        switch("centered", False, "divide by the centred second moment √(v − ḡ²)"),
        WEIGHT_DECAY,
    )
    alpha: float
    eps: float
    momentum: float
    centered: bool
    weight_decay: float

    def buffer_names(self) -> tuple[str, ...]:
        return ("v",) + ("grad_avg",) * self.centered + ("momentum",) * bool(self.momentum)

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
        alpha, mu = self.alpha, self.momentum
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            if decay_mask is None or decay_mask[i]:
                weight_decay(p, g, s, lr, self.weight_decay, False)
            buf = state.buffers[i]
            v = buf["v"]
            v *= alpha
            np.multiply(g, g, out=s)
            s *= 1.0 - alpha
            v += s
            if self.centered:
                avg = buf["grad_avg"]
                lerp(avg, g, 1.0 - alpha, s)
                np.multiply(avg, avg, out=s)
                np.subtract(v, s, out=s)
                np.sqrt(s, out=s)
            else:
                np.sqrt(v, out=s)
            s += self.eps
            np.divide(g, s, out=s)
            if mu:
                b = buf["momentum"]
                b *= mu
                b += s
                np.multiply(b, lr, out=s)
            else:
                s *= lr
            p -= s


class Adam(UpdateRule):
    """Adam (Kingma & Ba 2015) as torch.optim.Adam; decoupled, AdamW (torch.optim.AdamW).

    Weight decay λ (see :func:`weight_decay`): coupled, g ← g + λθ; decoupled (AdamW),
    θ ← θ·(1 − lr·λ) first. Then m = β1m + (1−β1)g, v = β2v + (1−β2)g² (AMSGrad:
    v̄ = max(v̄, v), used for v below), and θ −= (lr/(1−β1ᵗ))·m/(√v/√(1−β2ᵗ) + ε).
    """

    hypers = (
        BETA1,
        BETA2,
        EPS,
        switch("amsgrad", False, "AMSGrad: divide by the running maximum of v"),
        WEIGHT_DECAY,
        DECOUPLED,
    )
    beta1: float
    beta2: float
    eps: float
    amsgrad: bool
    weight_decay: float
    decoupled_weight_decay: bool

    def buffer_names(self) -> tuple[str, ...]:
        return ("m", "v", "vmax") if self.amsgrad else ("m", "v")

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
        b1, b2, eps = self.beta1, self.beta2, self.eps
        step_size = lr / (1.0 - b1**t)
        bc2_sqrt = math.sqrt(1.0 - b2**t)
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            buf = state.buffers[i]
            m, v = buf["m"], buf["v"]
            if decay_mask is None or decay_mask[i]:
                weight_decay(p, g, s, lr, self.weight_decay, self.decoupled_weight_decay)
            v *= b2
            np.multiply(g, g, out=s)
            s *= 1.0 - b2
            v += s
            m *= b1
            g *= 1.0 - b1
            m += g
            if self.amsgrad:
                np.maximum(buf["vmax"], v, out=buf["vmax"])
                v = buf["vmax"]
            np.sqrt(v, out=s)
            s /= bc2_sqrt
            s += eps
            np.divide(m, s, out=s)
            s *= step_size
            p -= s


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class OptimizerSpec:
    """A registry entry: an update rule under a name, its defaults and its line of help.

    Calling it builds the optimizer: ``OPTIMIZERS.get("adam")(beta1=0.8)``.
    """

    name: str
    rule: type[UpdateRule]
    hypers: tuple[Hyper, ...]  # the rule's declarations, with this name's defaults
    default_lr: float
    default_batch_size: int  # 0 = full batch
    description: str  # one line, with the update formula
    reference: str  # what it equals, step for step
    lr_space: Space = LR_SPACE  # where --tune draws the lr
    tuned: tuple[str, ...] = ()  # the hyperparameters --tune searches besides the lr

    @property
    def spaces(self) -> dict[str, Space]:
        """What ``--tune`` searches, in order: the lr, then :attr:`tuned` with their spaces."""
        declared = {h.name: h.space for h in self.hypers}
        return {"lr": self.lr_space, **{n: declared[n] for n in self.tuned}}  # type: ignore[misc]

    @property
    def hyper_defaults(self) -> dict[str, Any]:
        return {h.name: h.default for h in self.hypers}

    def __call__(self, **hyper: Any) -> Optimizer:
        """Build with ``hyper`` over the defaults; None means the default.

        TypeError for a name no optimizer declares; ConfigError if a (non-None) hyperparameter
        is one this optimizer does not use, or its value is out of range.
        """
        for k in hyper:
            if k not in HYPERPARAMETERS:
                raise TypeError(
                    f"unknown hyperparameter {k!r}; known: {', '.join(HYPERPARAMETERS)}"
                )
        values = resolve(self.hypers, hyper, self.name)
        return Optimizer(self, self.rule(**values))

    def to_dict(self) -> dict[str, Any]:
        """The row of `losslab optimizers`."""
        return {
            "name": self.name,
            "lr": self.default_lr,
            "batch_size": self.default_batch_size,
            "hyperparameters": self.hyper_defaults,
            "description": self.description,
            "reference": self.reference,
        }


@dataclass(frozen=True, eq=False)
class Optimizer:
    """A registered rule with its hyperparameters resolved: what :func:`make_optimizer` returns."""

    spec: OptimizerSpec
    rule: UpdateRule

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def default_lr(self) -> float:
        return self.spec.default_lr

    @property
    def default_batch_size(self) -> int:
        return self.spec.default_batch_size

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The resolved values of the hyperparameters this optimizer takes (for run records)."""
        return self.rule.hyperparameters

    def init(self, params: Params) -> OptState:
        return self.rule.init(params)

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
        """One in-place update; ``grads`` are clobbered (see :meth:`UpdateRule.step`)."""
        self.rule.step(params, grads, state, lr, decay_mask=decay_mask, ctx=ctx)


OPTIMIZERS: Registry[OptimizerSpec] = Registry("optimizer")
# Every hyperparameter some optimizer declares, in order of first declaration (kept up to date
# by ``register``): the names make_optimizer, FitConfig and the CLI accept.
HYPERPARAMETERS: list[str] = []
# Each name's declarations (one per optimizer that takes it): the CLI's help is built from them.
DECLARED: dict[str, list[tuple[str, Hyper]]] = {}


def register(
    name: str,
    rule: type[UpdateRule],
    *,
    lr: float,
    description: str,
    reference: str,
    batch_size: int = 32,
    lr_space: Space = LR_SPACE,
    tune: tuple[str, ...] = (),
    **defaults: Any,
) -> OptimizerSpec:
    """Register ``rule`` as ``name`` with its own ``defaults`` for some of its hyperparameters;
    ``tune`` names those ``compare --tune`` searches besides the lr (each needs a space)."""
    declared = {h.name for h in rule.hypers}
    for k in defaults:
        if k not in declared:
            raise TypeError(f"{rule.__name__} declares no hyperparameter {k!r}")
    hypers = tuple(
        h.with_default(defaults[h.name]) if h.name in defaults else h for h in rule.hypers
    )
    check_spaces(name, hypers, tune)
    spec = OPTIMIZERS.add(
        name,
        OptimizerSpec(
            name, rule, hypers, lr, batch_size, description, reference, lr_space, tuple(tune)
        ),
    )
    for h in hypers:
        if h.name not in DECLARED:
            HYPERPARAMETERS.append(h.name)
            DECLARED[h.name] = []
        DECLARED[h.name].append((spec.name, h))
    return spec


def register_optimizer(
    name: str,
    *,
    lr: float,
    hypers: Sequence[Hyper] = (),
    description: str | None = None,
    reference: str | None = None,
    batch_size: int = 32,
) -> Callable[[type], type]:
    """Register the decorated class as the optimizer ``name`` with the default learning rate
    ``lr``; its declared ``hypers`` become flags (``--shrink 0.3``), validated and recorded,
    and those declared with a ``space`` are searched by ``compare --tune`` besides the lr.

    The class is an :class:`UpdateRule`, or any class with ``init(params) -> state`` and
    ``step(params, grads, state, lr, **hypers)`` that updates the arrays ``params`` in place
    (the hyperparameters arrive as keywords; ``grads`` may be overwritten). ``description``
    defaults to the first line of the class's docstring, ``reference`` to where it was defined.
    """

    def deco(cls: type) -> type:
        rule = cls if isinstance(cls, type) and issubclass(cls, UpdateRule) else _adapted(cls)
        if rule is not cls or not rule.hypers:
            rule.hypers = tuple(hypers)
        doc = (cls.__doc__ or "").strip().splitlines()
        register(
            name,
            rule,
            lr=lr,
            batch_size=batch_size,
            description=description or (doc[0] if doc else name),
            reference=reference or f"{cls.__module__}.{cls.__qualname__}",
            tune=tuple(h.name for h in rule.hypers if h.space is not None),
        )
        return cls

    return deco


def _adapted(cls: type) -> type[UpdateRule]:
    """An UpdateRule around a plain ``init``/``step`` class: one instance per optimizer built,
    its state kept in ``OptState.scalars["state"]``."""
    for method in ("init", "step"):
        if not callable(getattr(cls, method, None)):
            raise TypeError(f"optimizer class {cls.__name__} has no {method}() method")

    class Adapted(UpdateRule):
        def __init__(self, **hyper: Any) -> None:
            super().__init__(**hyper)
            self.impl = cls()

        def init(self, params: Params) -> OptState:
            state = super().init(params)
            state.scalars["state"] = self.impl.init(params)
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
            self.impl.step(params, grads, state.scalars["state"], lr, **self.hyperparameters)

    Adapted.__name__ = Adapted.__qualname__ = cls.__name__
    Adapted.__doc__ = cls.__doc__
    Adapted.__module__ = cls.__module__
    return Adapted


def check_spaces(name: str, hypers: tuple[Hyper, ...], tune: tuple[str, ...]) -> None:
    """Each tuned name declared with a space whose ends are valid values; ConfigError else."""
    by_name = {h.name: h for h in hypers}
    for k in tune:
        h = by_name.get(k)
        if h is None or h.space is None:
            raise ConfigError(f"optimizer {name}: tunes {k!r}, which it declares without a space")
        for end in h.space.grid(2):
            try:
                h.check(end)
            except ConfigError:
                raise ConfigError(
                    f"optimizer {name}: the search space of {h.flag}, {h.space.text()}, "
                    f"leaves its range {h.range_text()}"
                ) from None


def hyper_help(name: str) -> str:
    """The ``--help`` of a hyperparameter flag: what it is, its range, who takes it with which
    default (``Momentum factor μ, in [0, 1). Default 0.9: momentum, nesterov; 0: gd, sgd``)."""
    return declared_help(DECLARED[name])


_TORCH = "torch.optim.{}"
# Sorted by complexity. Default lrs: each reaches a good test loss within 100 epochs (batch 32,
# gd full batch) on the bundled classification data and on a regression with standardised
# features and target (tuned on iris, breast_cancer, digits and a standardised diabetes).
# fmt: off
register("gd", SGD, lr=0.1, batch_size=0, reference=_TORCH.format("SGD"),
         description="full-batch gradient descent: θ −= lr·g")
register("sgd", SGD, lr=0.05, reference=_TORCH.format("SGD"),
         description="minibatch SGD: θ −= lr·g (with momentum μ: b = μb + g, θ −= lr·b)")
register("momentum", SGD, momentum=0.9, lr=0.01, tune=("momentum",), reference=_TORCH.format("SGD"),
         description="SGD with heavy-ball momentum: b = μb + g, θ −= lr·b (μ = 0.9)")
register("nesterov", SGD, momentum=0.9, nesterov=True, lr=0.01, tune=("momentum",),
         reference=_TORCH.format("SGD"),
         description="SGD with Nesterov momentum: b = μb + g, θ −= lr·(g + μb) (μ = 0.9)")
register("adagrad", Adagrad, lr=0.1, tune=("eps",), reference=_TORCH.format("Adagrad"),
         description="Adagrad: s += g², θ −= lr·g/(√s + ε)")
register("rmsprop", RMSprop, lr=0.01, tune=("alpha", "eps"), reference=_TORCH.format("RMSprop"),
         description="RMSprop: v = αv + (1−α)g², θ −= lr·g/(√v + ε)")
register("adam", Adam, lr=0.01, tune=("beta1", "beta2", "eps"), reference=_TORCH.format("Adam"),
         description="Adam: m = β1m + (1−β1)g, v = β2v + (1−β2)g², θ −= lr·m̂/(√v̂ + ε)")
register("adamw", Adam, weight_decay=0.01, decoupled_weight_decay=True, lr=0.01,
         tune=("beta1", "beta2", "eps", "weight_decay"),
         reference=_TORCH.format("AdamW"),
         description="AdamW: θ ← θ·(1 − lr·wd) on the coefficients, then the Adam step")
# fmt: on


def make_optimizer(name: str, **hyper: Any) -> Optimizer:
    """The optimizer registered as ``name`` (or an alias), built with ``hyper``.

    ``hyper`` may hold any of :data:`HYPERPARAMETERS`; None means "this optimizer's default".
    A value for a hyperparameter the optimizer does not use is a ConfigError
    (``--beta1 is not used by sgd``), as is an out-of-range value.
    """
    return OPTIMIZERS.get(name)(**hyper)
