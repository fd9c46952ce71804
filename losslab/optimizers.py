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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.registry import Registry

# Every hyperparameter any optimizer takes; make_optimizer accepts exactly these names.
HYPERPARAMETERS = (
    "momentum",
    "nesterov",
    "beta1",
    "beta2",
    "eps",
    "amsgrad",
    "alpha",
    "weight_decay",
)

Params = Sequence[np.ndarray]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _number(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ConfigError(f"{_flag(name)} must be a number, got {value!r}")
    return float(value)


def _unit(name: str, value: Any) -> float:
    """A decay rate in [0, 1): momentum μ, β1, β2, α."""
    x = _number(name, value)
    if not 0.0 <= x < 1.0:
        raise ConfigError(f"{_flag(name)} must be in [0, 1), got {x:g}")
    return x


def _positive(name: str, value: Any) -> float:
    x = _number(name, value)
    if not (x > 0.0 and math.isfinite(x)):
        raise ConfigError(f"{_flag(name)} must be > 0, got {x:g}")
    return x


def _nonnegative(name: str, value: Any) -> float:
    x = _number(name, value)
    if not (x >= 0.0 and math.isfinite(x)):
        raise ConfigError(f"{_flag(name)} must be >= 0, got {x:g}")
    return x


def _flag_value(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{_flag(name)} must be true or false, got {value!r}")
    return bool(value)


@dataclass
class OptState:
    """What an optimizer carries between steps.

    ``step`` counts the steps taken; ``buffers[i]`` holds the named buffers of parameter ``i``
    (``"momentum"``, ``"sum"``, ``"m"``, ``"v"``, ``"vmax"`` …), each shaped like it;
    ``scratch[i]`` is a work array of the same shape, overwritten by every step.
    """

    step: int
    buffers: list[dict[str, np.ndarray]]
    scratch: list[np.ndarray]


class UpdateRule(ABC):
    """An update rule: ``init`` allocates the state once, ``step`` updates everything in place."""

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
    ) -> None:
        """Apply one update to ``params`` and ``state`` in place.

        ``grads`` are used as scratch space: their contents are undefined afterwards.
        ``decay_mask[i]`` says whether decoupled weight decay applies to ``params[i]`` (the
        coefficients, not the intercept); None means every parameter, as a single torch param
        group. Rules without weight decay ignore it.
        """

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The rule's hyperparameters by name (its constructor's keywords)."""
        return dict(vars(self))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"{type(self).__name__}({args})"


class SGD(UpdateRule):
    """Gradient descent with optional heavy-ball or Nesterov momentum (torch.optim.SGD).

    μ = 0: θ −= lr·g. μ > 0: b = μb + g (b = g at the first step, dampening 0), then
    θ −= lr·b, or θ −= lr·(g + μb) with Nesterov. Nesterov needs μ > 0, as in torch.
    """

    def __init__(self, *, momentum: float = 0.0, nesterov: bool = False) -> None:
        self.momentum = _unit("momentum", momentum)
        self.nesterov = _flag_value("nesterov", nesterov)
        if self.nesterov and self.momentum == 0.0:
            raise ConfigError("--nesterov needs --momentum > 0, got 0")

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
    ) -> None:
        state.step += 1
        mu = self.momentum
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            d = g
            if mu:
                b = state.buffers[i]["momentum"]
                if state.step == 1:
                    np.copyto(b, g)
                else:
                    b *= mu
                    b += g
                if self.nesterov:
                    np.multiply(b, mu, out=s)
                    g += s
                else:
                    d = b
            np.multiply(d, lr, out=s)
            p -= s


class Adagrad(UpdateRule):
    """Adagrad (torch.optim.Adagrad, lr_decay 0, initial accumulator 0).

    s += g²; θ −= lr·g/(√s + ε).
    """

    def __init__(self, *, eps: float = 1e-10) -> None:
        self.eps = _positive("eps", eps)

    def buffer_names(self) -> tuple[str, ...]:
        return ("sum",)

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
    ) -> None:
        state.step += 1
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            acc = state.buffers[i]["sum"]
            np.multiply(g, g, out=s)
            acc += s
            np.sqrt(acc, out=s)
            s += self.eps
            np.divide(g, s, out=s)
            s *= lr
            p -= s


class RMSprop(UpdateRule):
    """RMSprop (torch.optim.RMSprop, centered=False; Hinton's lecture 6e).

    v = αv + (1−α)g²; θ −= lr·g/(√v + ε). With momentum μ > 0 (buffer starting at 0):
    b = μb + g/(√v + ε); θ −= lr·b.
    """

    def __init__(self, *, alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0) -> None:
        self.alpha = _unit("alpha", alpha)
        self.eps = _positive("eps", eps)
        self.momentum = _unit("momentum", momentum)

    def buffer_names(self) -> tuple[str, ...]:
        return ("v", "momentum") if self.momentum else ("v",)

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
    ) -> None:
        state.step += 1
        alpha, mu = self.alpha, self.momentum
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            buf = state.buffers[i]
            v = buf["v"]
            v *= alpha
            np.multiply(g, g, out=s)
            s *= 1.0 - alpha
            v += s
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
    """Adam (Kingma & Ba 2015) as torch.optim.Adam; with weight_decay, AdamW (torch.optim.AdamW).

    AdamW first shrinks the decayed parameters: θ ← θ·(1 − lr·wd). Then
    m = β1m + (1−β1)g, v = β2v + (1−β2)g² (AMSGrad: v̄ = max(v̄, v), used for v below), and
    θ −= (lr/(1−β1ᵗ))·m/(√v/√(1−β2ᵗ) + ε). The L2 penalty of Adam proper is not here: the
    trainer adds it to the gradient.
    """

    def __init__(
        self,
        *,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        amsgrad: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        self.beta1 = _unit("beta1", beta1)
        self.beta2 = _unit("beta2", beta2)
        self.eps = _positive("eps", eps)
        self.amsgrad = _flag_value("amsgrad", amsgrad)
        self.weight_decay = _nonnegative("weight_decay", weight_decay)

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
    ) -> None:
        state.step += 1
        t = state.step
        b1, b2, eps = self.beta1, self.beta2, self.eps
        shrink = 1.0 - lr * self.weight_decay
        step_size = lr / (1.0 - b1**t)
        bc2_sqrt = math.sqrt(1.0 - b2**t)
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            buf = state.buffers[i]
            m, v = buf["m"], buf["v"]
            if self.weight_decay and (decay_mask is None or decay_mask[i]):
                p *= shrink
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
    hyper_defaults: dict[str, float | bool]  # the hyperparameters it takes, with defaults
    default_lr: float
    default_batch_size: int  # 0 = full batch
    description: str  # one line, with the update formula

    def __call__(self, **hyper: Any) -> Optimizer:
        """Build with ``hyper`` over the defaults; None means the default.

        ConfigError if a (non-None) hyperparameter is one this optimizer does not use, or its
        value is out of range.
        """
        given = {k: v for k, v in hyper.items() if v is not None}
        for k in given:
            if k not in HYPERPARAMETERS:
                raise TypeError(
                    f"unknown hyperparameter {k!r}; known: {', '.join(HYPERPARAMETERS)}"
                )
            if k not in self.hyper_defaults:
                uses = ", ".join(_flag(h) for h in self.hyper_defaults) or "none"
                raise ConfigError(f"{_flag(k)} is not used by {self.name} (it takes: {uses})")
        return Optimizer(self, self.rule(**{**self.hyper_defaults, **given}))

    def to_dict(self) -> dict[str, Any]:
        """The row of `losslab optimizers`."""
        return {
            "name": self.name,
            "lr": self.default_lr,
            "batch_size": self.default_batch_size,
            "hyperparameters": dict(self.hyper_defaults),
            "description": self.description,
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
        return {k: getattr(self.rule, k) for k in self.spec.hyper_defaults}

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
    ) -> None:
        """One in-place update; ``grads`` are clobbered (see :meth:`UpdateRule.step`)."""
        self.rule.step(params, grads, state, lr, decay_mask=decay_mask)


OPTIMIZERS: Registry[OptimizerSpec] = Registry("optimizer")


def _register(
    name: str,
    rule: type[UpdateRule],
    defaults: dict[str, float | bool],
    *,
    lr: float,
    description: str,
    batch_size: int = 32,
) -> OptimizerSpec:
    return OPTIMIZERS.add(name, OptimizerSpec(name, rule, defaults, lr, batch_size, description))


# Sorted by complexity. Default lrs: each reaches a good test loss within 100 epochs (batch 32,
# gd full batch) on the bundled classification data and on a regression with standardised
# features and target (tuned on iris, breast_cancer, digits and a standardised diabetes).
_SGD = {"momentum": 0.0, "nesterov": False}
_HEAVY = {"momentum": 0.9, "nesterov": False}
_ADAM = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False}
# fmt: off
_register("gd", SGD, _SGD, lr=0.1, batch_size=0,
          description="full-batch gradient descent: θ −= lr·g")
_register("sgd", SGD, _SGD, lr=0.05,
          description="minibatch SGD: θ −= lr·g (with momentum μ: b = μb + g, θ −= lr·b)")
_register("momentum", SGD, _HEAVY, lr=0.01,
          description="SGD with heavy-ball momentum: b = μb + g, θ −= lr·b (μ = 0.9)")
_register("nesterov", SGD, {**_HEAVY, "nesterov": True}, lr=0.01,
          description="SGD with Nesterov momentum: b = μb + g, θ −= lr·(g + μb) (μ = 0.9)")
_register("adagrad", Adagrad, {"eps": 1e-10}, lr=0.1,
          description="Adagrad: s += g², θ −= lr·g/(√s + ε)")
_register("rmsprop", RMSprop, {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0}, lr=0.01,
          description="RMSprop: v = αv + (1−α)g², θ −= lr·g/(√v + ε)")
_register("adam", Adam, _ADAM, lr=0.01,
          description="Adam: m = β1m + (1−β1)g, v = β2v + (1−β2)g², θ −= lr·m̂/(√v̂ + ε)")
_register("adamw", Adam, {**_ADAM, "weight_decay": 0.01}, lr=0.01,
          description="AdamW: θ ← θ·(1 − lr·wd) on the coefficients, then the Adam step")
# fmt: on


def make_optimizer(name: str, **hyper: Any) -> Optimizer:
    """The optimizer registered as ``name`` (or an alias), built with ``hyper``.

    ``hyper`` may hold any of :data:`HYPERPARAMETERS`; None means "this optimizer's default".
    A value for a hyperparameter the optimizer does not use is a ConfigError
    (``--beta1 is not used by sgd``), as is an out-of-range value.
    """
    return OPTIMIZERS.get(name)(**hyper)
