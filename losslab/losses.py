"""Loss functions: a value per row and its gradient with respect to the model output.

Every loss is one :class:`Loss` in :data:`LOSSES`. ``per_row`` gives one value per row and
``row_grad`` the derivative of each row's value with respect to that row's output (a number, or K
numbers for the multi-column losses). Reduction happens in one place, :meth:`Loss.value` (the mean;
the root of the mean for rmse) and :meth:`Loss.grad`. ``check`` validates inputs at the boundary;
``value`` and ``grad`` do not, so the training loop pays nothing for it.

Conventions: ``d = ŷ − y``; probabilities are clipped to ``[PROB_EPS, 1 − PROB_EPS]`` before any
log, as scikit-learn's ``log_loss`` does; logits go through ``log1p``/``logaddexp`` and
log-sum-exp with the max shifted out, so values stay finite for logits of ±1000. At kinks the
gradient follows scikit-learn's ``_sgd_fast`` ``dloss`` (hinge: ``−t`` when ``t·s ≤ 1``;
epsilon-insensitive: 0 when ``|d| ≤ ε``); MAE uses ``sign(0) = 0``; the other choices are in the
docstrings of the gradient functions.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import numpy as np

from losslab.errors import ConfigError, DomainError
from losslab.registry import Registry

PerRow = TypeVar("PerRow", bound=Callable[..., np.ndarray])

PROB_EPS = np.finfo(np.float64).eps
SUM_TOL = 1e-6  # how far a probability row's sum may stray from 1
LOGITS_HINT = " (pass --logits if these are logits)"


@dataclass(frozen=True)
class Loss:
    """One loss: metadata for listings, per-row value and gradient, and an input check."""

    name: str
    task: str  # regression, binary, margin, multiclass, distribution, pair
    inputs: str
    formula: str
    params: dict[str, float]
    per_row: Callable[..., np.ndarray]
    row_grad: Callable[..., np.ndarray]
    check: Callable[..., None]
    supports_logits: bool = False
    multi_output: bool = False
    multi_target: bool = False
    root_of_mean: bool = False

    def resolve_params(self, **params: Any) -> dict[str, float]:
        """Defaults overridden by ``params``; TypeError for a name this loss lacks, ConfigError
        for a value outside the parameter's range."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            takes = ", ".join(self.params) or "no parameters"
            raise TypeError(f"{self.name} got unexpected parameter {unknown[0]!r} (takes {takes})")
        resolved = {**self.params, **params}
        return {name: _param(name, value) for name, value in resolved.items()}

    def value(self, y: Any, out: Any, *, logits: bool = False, **params: float) -> float:
        """Mean over rows of ``per_row`` (rmse: the square root of that mean).

        The mean never overflows where the sum would (rows of 1e308 average to 1e308); a row
        value beyond the float64 range gives ``inf``, without a warning, for the caller to
        report. rmse, positively homogeneous, is computed on inputs scaled by their largest
        magnitude when the squares would overflow: rmse(y, ŷ) = c·rmse(y/c, ŷ/c).
        """
        kw = self.resolve_params(**params)
        y, out = _f64(y), _f64(out)
        if out.shape[0] == 0:
            raise DomainError("no rows to score", part="target")
        with np.errstate(over="ignore"):
            mean = _mean(self.per_row(y, out, logits=logits, **kw))
        if not self.root_of_mean:
            return mean
        if math.isinf(mean) and np.isfinite(y).all() and np.isfinite(out).all():
            c = max(float(np.max(np.abs(y))), float(np.max(np.abs(out))))
            return c * self.value(y / c, out / c, logits=logits, **params)
        return math.sqrt(mean)

    def grad(self, y: Any, out: Any, *, logits: bool = False, **params: float) -> np.ndarray:
        """Gradient of :meth:`value` with respect to ``out``: ``row_grad / n``.

        With ``root_of_mean`` (rmse) the chain rule gives ``row_grad / (2 n √mean)``, i.e.
        ``d / (n · rmse)``; it is 0 where rmse is 0.
        """
        kw = self.resolve_params(**params)
        y, out = _f64(y), _f64(out)
        n = out.shape[0]
        if n == 0:
            raise DomainError("no rows to score", part="target")
        g = self.row_grad(y, out, logits=logits, **kw)
        if self.root_of_mean:
            root = math.sqrt(float(np.mean(self.per_row(y, out, logits=logits, **kw))))
            return g / (2.0 * n * root) if root > 0 else np.zeros_like(g)
        return g / n


LOSSES: Registry[Loss] = Registry("loss")


def _mean(values: np.ndarray) -> float:
    """The mean of finite values without overflow: scaled by the largest magnitude when the
    plain sum overflows (n values of 1e308 have the mean 1e308, not inf)."""
    mean = float(np.mean(values))
    if math.isinf(mean) and np.isfinite(values).all():
        c = float(np.max(np.abs(values)))
        mean = c * float(np.mean(values / c))
    return mean


def get_loss(name: str) -> Loss:
    """The loss registered under ``name`` or one of its aliases (any case, ``_`` or ``-``)."""
    return LOSSES.get(name)


def loss_value(name: str, y: Any, out: Any, *, logits: bool = False, **params: float) -> float:
    """``get_loss(name).value(y, out, ...)``; inputs are not checked (call ``check`` first)."""
    return get_loss(name).value(y, out, logits=logits, **params)


def loss_grad(name: str, y: Any, out: Any, *, logits: bool = False, **params: float) -> np.ndarray:
    """``get_loss(name).grad(y, out, ...)``: the gradient of the mean loss w.r.t. ``out``."""
    return get_loss(name).grad(y, out, logits=logits, **params)


# --------------------------------------------------------------------------- parameters

# One table gives every parameter's valid range; messages are derived from it.
_PARAM_RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "delta": (lambda v: v > 0, "> 0"),
    "quantile": (lambda v: 0 < v < 1, "in (0, 1)"),
    "epsilon": (lambda v: v >= 0, ">= 0"),
    "gamma": (lambda v: v >= 0, ">= 0"),
    "margin": (lambda v: v >= 0, ">= 0"),
}


def _param(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number; found {value!r}") from None
    ok, text = _PARAM_RANGES[name]
    if not (math.isfinite(v) and ok(v)):
        raise ConfigError(f"{name} must be {text}; found {_fmt(v)}")
    return v


def _defaults(fn: Callable[..., Any]) -> dict[str, float]:
    """Keyword parameters of a per-row function (besides ``logits``) and their defaults."""
    return {
        p.name: p.default
        for p in inspect.signature(fn).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name != "logits"
    }


def register_loss(
    name: str,
    *,
    grad: Callable[..., np.ndarray],
    check: Callable[..., None],
    task: str,
    inputs: str,
    formula: str,
    aliases: tuple[str, ...] = (),
    **flags: bool,
) -> Callable[[PerRow], PerRow]:
    """Register the decorated per-row function as the loss ``name`` with ``grad`` as its
    ``row_grad``. Its parameters and their defaults are the function's keyword arguments."""

    def deco(per_row: PerRow) -> PerRow:
        params = _defaults(per_row)
        if _defaults(grad) != params:
            raise TypeError(f"{name}: per_row and row_grad disagree on parameters")
        if set(params) - set(_PARAM_RANGES):
            raise TypeError(f"{name}: give every parameter a range in _PARAM_RANGES")
        entry = Loss(name, task, inputs, formula, params, per_row, grad, check, **flags)
        LOSSES.add(name, entry, aliases=aliases)
        return per_row

    return deco


# --------------------------------------------------------------------------- shared pieces


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(p, PROB_EPS, 1.0 - PROB_EPS)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = ½(1 + tanh(z/2)): no overflow for any z."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + eᶻ), stable for any z."""
    return np.logaddexp(0.0, z)


def _signs(y: np.ndarray) -> np.ndarray:
    """t = +1 for a positive label, −1 otherwise ({0,1} and {−1,1} both work)."""
    return np.where(y > 0, 1.0, -1.0)


def _rows_and_classes(y: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(out.shape[0]), y.astype(np.intp)


# --------------------------------------------------------------------------- checks


def _fmt(v: float) -> str:
    return f"{float(v):.10g}"


def _fail(message: str, row: int | None, part: str) -> NoReturn:
    raise DomainError(message, row=row, part=part)


def _first(bad: np.ndarray) -> int | None:
    """First row where ``bad`` holds (any column, for a 2-D mask)."""
    if bad.ndim > 1:
        bad = bad.any(axis=1)
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def _value_at(a: np.ndarray, bad: np.ndarray, row: int) -> float:
    return float(a[row][bad[row]].flat[0]) if a.ndim > 1 else float(a[row])


def _require(a: np.ndarray, bad: np.ndarray, part: str, message: str, hint: str = "") -> None:
    """Raise ``message; found V`` (V the first offending value) at the first bad row."""
    row = _first(bad)
    if row is not None:
        _fail(f"{message}; found {_fmt(_value_at(a, bad, row))}{hint}", row, part)


def _shapes(y: np.ndarray, out: np.ndarray, *, columns: bool, target_columns: bool) -> None:
    if columns:
        if out.ndim != 2 or out.shape[1] < 2:
            _fail(
                f"expected one column per class (K >= 2); got shape {out.shape}", None, "prediction"
            )
    elif out.ndim != 1:
        _fail(f"expected one prediction per row; got shape {out.shape}", None, "prediction")
    if target_columns:
        if y.shape != out.shape:
            _fail(f"targets have shape {y.shape} but predictions {out.shape}", None, "target")
    elif y.ndim != 1 or y.shape[0] != out.shape[0]:
        _fail(f"expected {out.shape[0]} targets, one per row; got shape {y.shape}", None, "target")
    if out.shape[0] == 0:
        _fail("no rows to score", None, "target")


def _finite(y: np.ndarray, out: np.ndarray) -> None:
    _require(y, ~np.isfinite(y), "target", "targets must be finite")
    _require(out, ~np.isfinite(out), "prediction", "predictions must be finite")


def _probabilities(a: np.ndarray, part: str, *, target: bool = False, hint: str = "") -> None:
    """Values in [0, 1]; for a 2-D array also rows summing to 1 within SUM_TOL."""
    prefix = "target " if target else ""
    _require(a, (a < 0) | (a > 1), part, f"{prefix}probabilities must lie in [0, 1]", hint)
    if a.ndim > 1:
        sums = a.sum(axis=1)
        bad = np.abs(sums - 1.0) > SUM_TOL
        _require(sums, bad, part, f"{prefix}probability rows must sum to 1 (within 1e-6)", hint)


def _labels_in(y: np.ndarray, allowed: tuple[float, ...], text: str) -> None:
    _require(y, ~np.isin(y, allowed), "target", f"labels must be {text}")


def _no_logits(name: str, logits: bool) -> None:
    if logits:
        raise ConfigError(f"{name} takes probabilities, not logits")


def _real(y: Any, out: Any) -> tuple[np.ndarray, np.ndarray]:
    y, out = _f64(y), _f64(out)
    _shapes(y, out, columns=False, target_columns=False)
    _finite(y, out)
    return y, out


def check_real(y: Any, out: Any, *, logits: bool = False) -> None:
    """One finite target and one finite prediction per row."""
    _real(y, out)


def check_binary(y: Any, out: Any, *, logits: bool = False) -> None:
    """y ∈ [0, 1] (soft labels allowed); p ∈ [0, 1] unless logits."""
    y, out = _real(y, out)
    _require(y, (y < 0) | (y > 1), "target", "targets must lie in [0, 1]")
    if not logits:
        _probabilities(out, "prediction", hint=LOGITS_HINT)


def check_focal(y: Any, out: Any, *, logits: bool = False) -> None:
    """y ∈ {0, 1}; p ∈ [0, 1] unless logits."""
    y, out = _real(y, out)
    _labels_in(y, (0.0, 1.0), "0 or 1")
    if not logits:
        _probabilities(out, "prediction", hint=LOGITS_HINT)


def check_margin(y: Any, out: Any, *, logits: bool = False) -> None:
    """y all in {0, 1} or all in {−1, 1}; any finite score."""
    y, _ = _real(y, out)
    _labels_in(y, (-1.0, 0.0, 1.0), "0/1 or -1/1")
    zero, minus = _first(y == 0), _first(y == -1)
    if zero is not None and minus is not None:
        row, other = (zero, -1) if zero > minus else (minus, 0)
        _fail(
            f"labels must be all 0/1 or all -1/1; found {_fmt(y[row])} after {other}", row, "target"
        )


def _check_classes(*, probabilities: bool) -> Callable[..., None]:
    def check(y: Any, out: Any, *, logits: bool = False) -> None:
        """y a class index 0..K−1; K finite columns, probability rows unless logits."""
        y, out = _f64(y), _f64(out)
        _shapes(y, out, columns=True, target_columns=False)
        _finite(y, out)
        k = out.shape[1]
        bad = (y < 0) | (y > k - 1) | (y != np.round(y))
        _require(y, bad, "target", f"class index must be an integer in 0..{k - 1}")
        if probabilities and not logits:
            _probabilities(out, "prediction", hint=LOGITS_HINT)

    return check


def check_distributions(y: Any, out: Any, *, logits: bool = False) -> None:
    """Target and predicted rows are both probability distributions over the same K classes."""
    _no_logits("kl-div", logits)
    y, out = _f64(y), _f64(out)
    _shapes(y, out, columns=True, target_columns=True)
    _finite(y, out)
    _probabilities(y, "target", target=True)
    _probabilities(out, "prediction")


def check_pair(y: Any, out: Any, *, logits: bool = False) -> None:
    """y ∈ {0, 1} (1 = similar pair), distance d ≥ 0."""
    y, out = _real(y, out)
    _labels_in(y, (0.0, 1.0), "0 (dissimilar) or 1 (similar)")
    _require(out, out < 0, "prediction", "distances must be >= 0")


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


# --------------------------------------------------------------------------- binary


def bce_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """σ(s) − y for logits; (p − y) / (p(1 − p)) for probabilities, evaluated at the clipped p
    (so it stays finite at p = 0 or 1 and still points inwards)."""
    if logits:
        return _sigmoid(out) - y
    p = _clip(out)
    return (p - y) / (p * (1.0 - p))


@register_loss(
    "bce",
    aliases=("log-loss", "binary-cross-entropy"),
    grad=bce_grad,
    check=check_binary,
    task="binary",
    inputs="y ∈ [0,1], p ∈ [0,1]",
    formula="−[y log p + (1 − y) log(1 − p)]",
    supports_logits=True,
)
def bce(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−[y log p + (1 − y) log(1 − p)] with p clipped; from a logit s,
    max(s, 0) − s·y + log1p(e^−|s|) (torch ``binary_cross_entropy_with_logits``)."""
    if logits:
        return np.maximum(out, 0.0) - out * y + np.log1p(np.exp(-np.abs(out)))
    p = _clip(out)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def focal_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, gamma: float = 2.0
) -> np.ndarray:
    """From logits: −t (1 − p_t)^γ [γ p_t softplus(−z) + 1 − p_t]; from probabilities:
    t [γ (1 − p_t)^(γ−1) log p_t − (1 − p_t)^γ / p_t] at the clipped p. Smooth: no kinks."""
    t = _signs(y)
    if logits:
        z = t * out
        sp_neg, sp_pos = _softplus(-z), _softplus(z)
        return -t * np.exp(-gamma * sp_pos) * (gamma * np.exp(-sp_neg) * sp_neg + np.exp(-sp_pos))
    p = _clip(out)
    pos = y == 1
    q = np.where(pos, 1.0 - p, p)
    pt = np.where(pos, p, 1.0 - p)
    log_pt = np.where(pos, np.log(p), np.log1p(-p))
    return t * (gamma * q ** (gamma - 1.0) * log_pt - q**gamma / pt)


@register_loss(
    "focal",
    grad=focal_grad,
    check=check_focal,
    task="binary",
    inputs="y ∈ {0,1}, p ∈ [0,1]",
    formula="−(1 − p_t)^γ log p_t, p_t = p if y = 1 else 1 − p",
    supports_logits=True,
)
def focal(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, gamma: float = 2.0
) -> np.ndarray:
    """−(1 − p_t)^γ log p_t, p_t = p for y = 1 and 1 − p for y = 0 (Lin et al. 2017, without
    α). From logits, with z = t·s: log p_t = −softplus(−z) and log(1 − p_t) = −softplus(z)."""
    if logits:
        z = _signs(y) * out
        return np.exp(-gamma * _softplus(z)) * _softplus(-z)
    p = _clip(out)
    pos = y == 1
    q = np.where(pos, 1.0 - p, p)  # 1 − p_t, without the cancellation of 1 − (1 − p)
    log_pt = np.where(pos, np.log(p), np.log1p(-p))
    return -(q**gamma) * log_pt


# --------------------------------------------------------------------------- margin

MARGIN = "y ∈ {0,1} or {−1,1}, score s"


def hinge_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−t where t·s ≤ 1 (the kink included, as scikit-learn's ``dloss``), else 0."""
    t = _signs(y)
    return np.where(t * out <= 1.0, -t, 0.0)


@register_loss(
    "hinge",
    grad=hinge_grad,
    check=check_margin,
    task="margin",
    inputs=MARGIN,
    formula="max(0, 1 − t·s), t = ±1",
)
def hinge(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """max(0, 1 − t·s), t = +1 for a positive label, −1 otherwise (scikit-learn ``Hinge``)."""
    return np.maximum(1.0 - _signs(y) * out, 0.0)


def squared_hinge_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−2t·max(0, 1 − t·s); continuous."""
    t = _signs(y)
    return -2.0 * t * np.maximum(1.0 - t * out, 0.0)


@register_loss(
    "squared-hinge",
    grad=squared_hinge_grad,
    check=check_margin,
    task="margin",
    inputs=MARGIN,
    formula="max(0, 1 − t·s)²",
)
def squared_hinge(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """max(0, 1 − t·s)² (scikit-learn ``SquaredHinge``)."""
    gap = np.maximum(1.0 - _signs(y) * out, 0.0)
    return gap * gap


def modified_huber_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−2t·max(0, 1 − z) for z = t·s ≥ −1, else −4t; continuous."""
    t = _signs(y)
    z = t * out
    return np.where(z >= -1.0, -2.0 * t * np.maximum(1.0 - z, 0.0), -4.0 * t)


@register_loss(
    "modified-huber",
    grad=modified_huber_grad,
    check=check_margin,
    task="margin",
    inputs=MARGIN,
    formula="max(0, 1 − t·s)² if t·s ≥ −1 else −4t·s",
)
def modified_huber(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """max(0, 1 − z)² for z = t·s ≥ −1, else −4z (Zhang 2004; scikit-learn ``ModifiedHuber``)."""
    z = _signs(y) * out
    gap = np.maximum(1.0 - z, 0.0)
    return np.where(z >= -1.0, gap * gap, -4.0 * z)


# --------------------------------------------------------------------------- multiclass


def cross_entropy_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """softmax(s) − onehot(y) for logits; −1/p_y in column y (clipped p_y) for probabilities."""
    rows, cls = _rows_and_classes(y, out)
    if not logits:
        g = np.zeros_like(out)
        g[rows, cls] = -1.0 / _clip(out[rows, cls])
        return g
    e = np.exp(out - out.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    e[rows, cls] -= 1.0
    return e


@register_loss(
    "cross-entropy",
    aliases=("ce", "categorical-cross-entropy"),
    grad=cross_entropy_grad,
    check=_check_classes(probabilities=True),
    task="multiclass",
    inputs="class y, K probabilities",
    formula="−log p_y",
    supports_logits=True,
    multi_output=True,
)
def cross_entropy(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−log p_y with p clipped; from logits, logsumexp(s) − s_y (torch ``cross_entropy``),
    computed with the row max m shifted out as log1p(Σ_{j≠m} e^(s_j − s_m)) − (s_y − s_m)."""
    rows, cls = _rows_and_classes(y, out)
    if not logits:
        return -np.log(_clip(out[rows, cls]))
    top = out.argmax(axis=1)
    z = out - out[rows, top][:, None]
    e = np.exp(z)
    e[rows, top] = 0.0  # the max's own e⁰ = 1 goes to log1p: confident rows keep their digits
    return np.log1p(e.sum(axis=1)) - z[rows, cls]


def _rival(y: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, the column of the best wrong class, and the margin term 1 + s_rival − s_y."""
    rows, cls = _rows_and_classes(y, out)
    others = out.copy()
    others[rows, cls] = -np.inf
    rival = others.argmax(axis=1)
    return rows, rival, 1.0 + others[rows, rival] - out[rows, cls]


def multiclass_hinge_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−1 in column y and +1 in the best wrong column where the margin term is ≥ 0 (the kink
    counts as active, as for the binary hinge); a tie for best wrong class goes to the first."""
    rows, rival, margin = _rival(y, out)
    active = (margin >= 0.0).astype(np.float64)
    g = np.zeros_like(out)
    g[rows, y.astype(np.intp)] = -active
    g[rows, rival] += active
    return g


@register_loss(
    "multiclass-hinge",
    grad=multiclass_hinge_grad,
    check=_check_classes(probabilities=False),
    task="multiclass",
    inputs="class y, K scores",
    formula="max(0, 1 + max_{j≠y} s_j − s_y)",
    multi_output=True,
)
def multiclass_hinge(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """max(0, 1 + max_{j≠y} s_j − s_y) (Crammer & Singer 2001; scikit-learn ``hinge_loss``)."""
    return np.maximum(_rival(y, out)[2], 0.0)


# --------------------------------------------------------------------------- distribution, pair


def kl_div_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−q_k / p_k at the clipped p."""
    _no_logits("kl-div", logits)
    return -y / _clip(out)


@register_loss(
    "kl-div",
    aliases=("kl",),
    grad=kl_div_grad,
    check=check_distributions,
    task="distribution",
    inputs="K target probs q, K probs p",
    formula="Σ q log(q / p)",
    multi_output=True,
    multi_target=True,
)
def kl_div(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """Σ_k q_k log(q_k / p_k) with 0·log 0 = 0 and p clipped (torch ``kl_div(log p, q)``)."""
    _no_logits("kl-div", logits)
    log_q = np.log(np.where(y > 0, y, 1.0))
    return np.sum(y * (log_q - np.log(_clip(out))), axis=1)


def contrastive_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, margin: float = 1.0
) -> np.ndarray:
    """2y·d − 2(1 − y)·max(0, m − d); continuous."""
    return 2.0 * y * out - 2.0 * (1.0 - y) * np.maximum(margin - out, 0.0)


@register_loss(
    "contrastive",
    grad=contrastive_grad,
    check=check_pair,
    task="pair",
    inputs="y ∈ {0,1} (1 = similar), distance d ≥ 0",
    formula="y·d² + (1 − y)·max(0, m − d)²",
)
def contrastive(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, margin: float = 1.0
) -> np.ndarray:
    """y·d² + (1 − y)·max(0, m − d)² for a distance d (Hadsell, Chopra & LeCun 2006)."""
    gap = np.maximum(margin - out, 0.0)
    return y * out * out + (1.0 - y) * gap * gap
