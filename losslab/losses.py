"""Loss functions: a value per row and its gradient with respect to the model output.

Every loss is one :class:`Loss` in :data:`LOSSES`. ``per_row`` gives one value per row and
``row_grad`` the derivative of each row's value with respect to that row's output (a number, or K
numbers for the multi-column losses). Reduction happens in one place, :meth:`Loss.value` (the mean,
or with sample and class weights the weighted mean Σ wᵢ·ℓᵢ / Σ wᵢ·cᵢ; the root of the mean for
rmse) and :meth:`Loss.grad`. ``check`` validates inputs at the boundary; ``value`` and ``grad`` do
not, so the training loop pays nothing for it. Parameters are declared once (:class:`Hyper`) in
the registry entry: ranges, messages, CLI flags and listings derive from the declaration.

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
from losslab.hyper import Hyper, nonnegative, positive, switch
from losslab.registry import Registry

PerRow = TypeVar("PerRow", bound=Callable[..., np.ndarray])

PROB_EPS = np.finfo(np.float64).eps
SUM_TOL = 1e-6  # how far a probability row's sum may stray from 1
LOGITS_HINT = " (pass --logits if these are logits)"


@dataclass(frozen=True)
class Link:
    """How a model's score s becomes a prediction ŷ in a loss's domain when it trains with that
    loss (the inverse link of a GLM; scikit-learn's TweedieRegressor and HistGradientBoosting
    fit the Poisson, gamma and Tweedie deviances through the log link, ŷ = exp(s))."""

    name: str
    formula: str
    inverse: Callable[[np.ndarray], np.ndarray]  # s -> ŷ
    slope: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (s, ŷ) -> dŷ/ds


LOG_LINK = Link("log", "ŷ = exp(s)", np.exp, lambda s, pred: pred)
LOG1P_LINK = Link("log1p", "ŷ = exp(s) − 1", np.expm1, lambda s, pred: np.exp(s))


@dataclass(frozen=True)
class Loss:
    """One loss: metadata for listings, per-row value and gradient, and an input check.

    ``hypers`` declares its parameters (name, default, range, help): ``params`` maps them to their
    defaults. ``link``: how a model's score becomes this loss's prediction when it trains
    (None: the score is the prediction); with ``score_input`` the loss itself reads the score
    (poisson's log rate) and the link only turns scores into predictions. ``class_rows`` gives
    the class-weighted rows of the losses that take ``class_weight`` (cross-entropy: torch's
    ``weight``; bce: torch's ``pos_weight``).
    """

    name: str
    task: str  # regression, positive, binary, margin, multiclass, distribution, pair
    inputs: str
    formula: str
    params: dict[str, Any]
    per_row: Callable[..., np.ndarray]
    row_grad: Callable[..., np.ndarray]
    check: Callable[..., None]
    supports_logits: bool = False
    multi_output: bool = False
    multi_target: bool = False
    root_of_mean: bool = False
    hypers: tuple[Hyper, ...] = ()
    link: Link | None = None
    score_input: bool = False
    class_rows: ClassRows | None = None

    def resolve_params(self, **params: Any) -> dict[str, Any]:
        """Defaults overridden by ``params``; TypeError for a name this loss lacks, ConfigError
        for a value outside the parameter's declared range."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            takes = ", ".join(self.params) or "no parameters"
            raise TypeError(f"{self.name} got unexpected parameter {unknown[0]!r} (takes {takes})")
        given = {k: v for k, v in params.items() if v is not None}
        return {
            h.name: _param(h, given[h.name]) if h.name in given else h.default for h in self.hypers
        }

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """A model's predictions of y from its scores: the inverse link, or the scores."""
        return scores if self.link is None else self.link.inverse(scores)

    def check_targets(self, y: Any, **params: Any) -> None:
        """The targets of a one-output loss against its domain (1 is a valid prediction of
        every such loss, so only the targets can fail)."""
        y = _f64(y)
        self.check(y, np.ones_like(y), **self.resolve_params(**params))

    def value(
        self,
        y: Any,
        out: Any,
        *,
        logits: bool = False,
        sample_weight: Any = None,
        class_weight: Any = None,
        **params: Any,
    ) -> float:
        """Mean over rows of ``per_row`` (rmse: the square root of that mean); with weights the
        weighted mean Σ wᵢ·ℓᵢ / Σ wᵢ·cᵢ, cᵢ the class weight of row i for cross-entropy (torch's
        reduction='mean' with ``weight``) and 1 otherwise; rows with wᵢ = 0 do not count.

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
            rows, den, _ = self._terms(y, out, logits, class_weight, kw, grad=False)
            if den is None and sample_weight is None:
                mean = _mean(rows)
            else:
                mean = _weighted_mean(rows, den, sample_weight)
        if not self.root_of_mean:
            return mean
        if math.isinf(mean) and np.isfinite(y).all() and np.isfinite(out).all():
            c = max(float(np.max(np.abs(y))), float(np.max(np.abs(out))))
            return c * self.value(y / c, out / c, logits=logits, sample_weight=sample_weight, **kw)
        return math.sqrt(mean)

    def grad(
        self,
        y: Any,
        out: Any,
        *,
        logits: bool = False,
        sample_weight: Any = None,
        class_weight: Any = None,
        **params: Any,
    ) -> np.ndarray:
        """Gradient of :meth:`value` with respect to ``out``: ``row_grad / n``, or with weights
        ``wᵢ·row_gradᵢ / Σ wᵢ·cᵢ``.

        With ``root_of_mean`` (rmse) the chain rule gives ``row_grad / (2 n √mean)``, i.e.
        ``d / (n · rmse)``; it is 0 where rmse is 0.
        """
        kw = self.resolve_params(**params)
        y, out = _f64(y), _f64(out)
        n = out.shape[0]
        if n == 0:
            raise DomainError("no rows to score", part="target")
        if class_weight is None:  # the rows' values only where rmse's root needs them
            g, den = self.row_grad(y, out, logits=logits, **kw), None
            if sample_weight is None:
                if self.root_of_mean:
                    root = math.sqrt(float(np.mean(self.per_row(y, out, logits=logits, **kw))))
                    return g / (2.0 * n * root) if root > 0 else np.zeros_like(g)
                return g / n
        else:
            _, den, g = self._terms(y, out, logits, class_weight, kw, grad=True)
        w = np.ones(n) if sample_weight is None else _f64(sample_weight)
        share = w / _total(w if den is None else w * den)
        g = g * (share[:, None] if g.ndim > 1 else share)
        if self.root_of_mean:
            rows = self.per_row(y, out, logits=logits, **kw)
            root = math.sqrt(_weighted_mean(rows, den, sample_weight))
            return g / (2.0 * root) if root > 0 else np.zeros_like(g)
        return g

    def _terms(
        self,
        y: np.ndarray,
        out: np.ndarray,
        logits: bool,
        class_weight: Any,
        kw: dict[str, Any],
        *,
        grad: bool,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """(row values, row denominators or None for 1, row gradients when ``grad``, else the
        row values again)."""
        if class_weight is None:
            rows = self.per_row(y, out, logits=logits, **kw)
            return rows, None, self.row_grad(y, out, logits=logits, **kw) if grad else rows
        if self.class_rows is None:
            raise ConfigError(f"{self.name} takes no class weights (cross-entropy and bce do)")
        weight = _class_weight(class_weight, out)
        return self.class_rows(y, out, weight, logits=logits, grad=grad, **kw)


# (y, out, class weights, logits=, grad=, **params) -> (row values, row denominators, gradients)
ClassRows = Callable[..., tuple[np.ndarray, "np.ndarray | None", np.ndarray]]

LOSSES: Registry[Loss] = Registry("loss")


def _mean(values: np.ndarray) -> float:
    """The mean of finite values without overflow: scaled by the largest magnitude when the
    plain sum overflows (n values of 1e308 have the mean 1e308, not inf)."""
    mean = float(np.mean(values))
    if math.isinf(mean) and np.isfinite(values).all():
        c = float(np.max(np.abs(values)))
        mean = c * float(np.mean(values / c))
    return mean


def _total(weights: np.ndarray) -> float:
    total = float(np.sum(weights))
    if not total > 0:
        raise DomainError("the weights sum to 0: no row counts", part="weight")
    return total


def _weighted_mean(rows: np.ndarray, den: np.ndarray | None, weights: Any) -> float:
    """Σ wᵢ·rowsᵢ / Σ wᵢ·denᵢ (w and den default to 1), rows with wᵢ = 0 left out even where
    their value is infinite; each row is scaled by its share first, so the sum overflows only
    where the mean does."""
    w = np.ones(rows.shape[0]) if weights is None else _f64(weights)
    share = w / _total(w if den is None else w * den)
    terms = np.multiply(share, rows, out=np.zeros_like(rows), where=w > 0)
    return float(np.sum(terms))


def _class_weight(weight: Any, out: np.ndarray) -> np.ndarray:
    """K finite positive class weights for K output columns, or one (the positive class's) for
    a single output."""
    w = _f64(weight)
    k = out.shape[1] if out.ndim > 1 else 1
    if w.shape not in ((k,), () if k == 1 else (k,)):
        raise ConfigError(f"expected {k} class weight(s), one per class; got shape {w.shape}")
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise ConfigError(f"class weights must be finite and > 0; got {w.tolist()}")
    return w


def get_loss(name: str) -> Loss:
    """The loss registered under ``name`` or one of its aliases (any case, ``_`` or ``-``)."""
    return LOSSES.get(name)


def loss_value(name: str, y: Any, out: Any, *, logits: bool = False, **params: Any) -> float:
    """``get_loss(name).value(y, out, ...)``; inputs are not checked (call ``check`` first)."""
    return get_loss(name).value(y, out, logits=logits, **params)


def loss_grad(name: str, y: Any, out: Any, *, logits: bool = False, **params: Any) -> np.ndarray:
    """``get_loss(name).grad(y, out, ...)``: the gradient of the mean loss w.r.t. ``out``."""
    return get_loss(name).grad(y, out, logits=logits, **params)


# --------------------------------------------------------------------------- parameters

# The parameters, declared once: a name means the same thing (and has the same type and range)
# in every loss that takes it. Ranges, messages, CLI flags and listings derive from these.
DELTA = positive("delta", 1.0, "Huber δ: the error where the square turns linear")
QUANTILE = Hyper(
    "quantile",
    0.5,
    "Quantile τ of the pinball loss",
    low=0.0,
    high=1.0,
    low_open=True,
    high_open=True,
)
EPSILON = nonnegative("epsilon", 0.1, "Width ε of the insensitive tube: errors within ε cost 0")
GAMMA = nonnegative("gamma", 2.0, "Focal γ: how much confident rows are down-weighted")
MARGIN = nonnegative("margin", 1.0, "Margin m")
LABEL_SMOOTHING = Hyper(
    "label_smoothing",
    0.0,
    "Cross-entropy's label smoothing ε: the target is (1 − ε)·onehot + ε/K (torch's)",
    low=0.0,
    high=1.0,
)
POWER = Hyper(
    "power",
    1.5,
    "Tweedie power: 0 normal, 1 Poisson, (1, 2) compound Poisson, 2 gamma, 3 inverse Gaussian",
    gap=(0.0, 1.0),
)
P = Hyper("p", 1, "Exponent of multi-margin's hinge terms: 1 or 2", kind=int, low=1, high=2)
LOG_INPUT = switch(
    "log_input", True, "Poisson: the prediction is the log rate s (eˢ − y·s), else the rate"
)
FULL = switch("full", False, "Poisson: add the Stirling term y·log y − y + ½·log(2πy) for y > 1")
POISSON_EPS = positive(
    "poisson_eps", 1e-8, "Poisson without log input: s − y·log(s + eps) (torch's eps)"
)

# Each parameter's declarations, one per loss that takes it (the CLI builds its flags from them).
DECLARED: dict[str, list[tuple[str, Hyper]]] = {}


def _param(h: Hyper, value: Any) -> Any:
    """``value`` as ``h``'s type; ConfigError ``name must be RANGE; found V`` otherwise."""
    if h.kind is bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"{h.name} must be true or false; found {value!r}")
        return bool(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{h.name} must be a number; found {value!r}") from None
    try:
        return h.check(v)
    except ConfigError:
        kind = "an integer " if h.kind is int else ""
        raise ConfigError(f"{h.name} must be {kind}{h.range_words()}; found {_fmt(v)}") from None


def show_param(value: Any) -> str:
    """A parameter value as listings show it: true/false, or a number in %g."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}"


def _defaults(fn: Callable[..., Any]) -> dict[str, Any]:
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
    params: tuple[Hyper, ...] = (),
    aliases: tuple[str, ...] = (),
    link: Link | None = None,
    score_input: bool = False,
    class_rows: ClassRows | None = None,
    **flags: bool,
) -> Callable[[PerRow], PerRow]:
    """Register the decorated per-row function as the loss ``name`` with ``grad`` as its
    ``row_grad``. ``params`` declares its parameters; the per-row and gradient functions take
    them as keyword arguments with the declared defaults."""

    def deco(per_row: PerRow) -> PerRow:
        defaults = {h.name: h.default for h in params}
        if _defaults(per_row) != defaults or _defaults(grad) != defaults:
            raise TypeError(f"{name}: per_row and row_grad must take exactly {defaults}")
        for h in params:
            if h.name in DECLARED and DECLARED[h.name][0][1] != h:
                raise TypeError(f"{name}: parameter {h.name!r} is declared differently elsewhere")
        entry = Loss(
            name,
            task,
            inputs,
            formula,
            defaults,
            per_row,
            grad,
            check,
            hypers=params,
            link=link,
            score_input=score_input,
            class_rows=class_rows,
            **flags,
        )
        LOSSES.add(name, entry, aliases=aliases)
        for h in params:
            DECLARED.setdefault(h.name, []).append((LOSSES.resolve(name), h))
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


def check_real(y: Any, out: Any, *, logits: bool = False, **params: Any) -> None:
    """One finite target and one finite prediction per row."""
    _real(y, out)


def check_binary(y: Any, out: Any, *, logits: bool = False, **params: Any) -> None:
    """y ∈ [0, 1] (soft labels allowed); p ∈ [0, 1] unless logits."""
    y, out = _real(y, out)
    _require(y, (y < 0) | (y > 1), "target", "targets must lie in [0, 1]")
    if not logits:
        _probabilities(out, "prediction", hint=LOGITS_HINT)


def check_focal(y: Any, out: Any, *, logits: bool = False, **params: Any) -> None:
    """y ∈ {0, 1}; p ∈ [0, 1] unless logits."""
    y, out = _real(y, out)
    _labels_in(y, (0.0, 1.0), "0 or 1")
    if not logits:
        _probabilities(out, "prediction", hint=LOGITS_HINT)


def check_margin(y: Any, out: Any, *, logits: bool = False, **params: Any) -> None:
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
    def check(y: Any, out: Any, *, logits: bool = False, **params: Any) -> None:
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


def check_distributions(y: Any, out: Any, *, logits: bool = False, **params: Any) -> None:
    """Target and predicted rows are both probability distributions over the same K classes."""
    _no_logits("kl-div", logits)
    y, out = _f64(y), _f64(out)
    _shapes(y, out, columns=True, target_columns=True)
    _finite(y, out)
    _probabilities(y, "target", target=True)
    _probabilities(out, "prediction")


def check_pair(y: Any, out: Any, *, logits: bool = False, **params: Any) -> None:
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


# --------------------------------------------------------------------------- binary


def bce_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """σ(s) − y for logits; (p − y) / (p(1 − p)) for probabilities, evaluated at the clipped p
    (so it stays finite at p = 0 or 1 and still points inwards)."""
    if logits:
        return _sigmoid(out) - y
    p = _clip(out)
    return (p - y) / (p * (1.0 - p))


def _bce_terms(
    y: np.ndarray,
    out: np.ndarray,
    pos_weight: np.ndarray,
    *,
    logits: bool = False,
    grad: bool = False,
) -> tuple[np.ndarray, None, np.ndarray]:
    """torch's ``binary_cross_entropy_with_logits`` with ``pos_weight`` w, row by row:
    −[w·y·log σ(s) + (1 − y)·log(1 − σ(s))] in torch's form (1 − y)·s + (1 + (w − 1)·y)·
    (log1p(e^−|s|) + max(−s, 0)), gradient σ(s)·(1 + (w − 1)·y) − w·y; from probabilities p
    (clipped), −[w·y·log p + (1 − y)·log(1 − p)] and −w·y/p + (1 − y)/(1 − p). The mean is
    over rows (no denominator), as torch's."""
    w = float(pos_weight)
    if logits:
        lw = 1.0 + (w - 1.0) * y
        values = (1.0 - y) * out + lw * (np.log1p(np.exp(-np.abs(out))) + np.maximum(-out, 0.0))
        g = _sigmoid(out) * lw - w * y if grad else values
        return values, None, g
    p = _clip(out)
    values = -(w * y * np.log(p) + (1.0 - y) * np.log1p(-p))
    g = -w * y / p + (1.0 - y) / (1.0 - p) if grad else values
    return values, None, g


@register_loss(
    "bce",
    aliases=("log-loss", "binary-cross-entropy"),
    class_rows=_bce_terms,
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
    params=(GAMMA,),
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

MARGIN_INPUTS = "y ∈ {0,1} or {−1,1}, score s"


def hinge_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−t where t·s ≤ 1 (the kink included, as scikit-learn's ``dloss``), else 0."""
    t = _signs(y)
    return np.where(t * out <= 1.0, -t, 0.0)


@register_loss(
    "hinge",
    grad=hinge_grad,
    check=check_margin,
    task="margin",
    inputs=MARGIN_INPUTS,
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
    inputs=MARGIN_INPUTS,
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
    inputs=MARGIN_INPUTS,
    formula="max(0, 1 − t·s)² if t·s ≥ −1 else −4t·s",
)
def modified_huber(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """max(0, 1 − z)² for z = t·s ≥ −1, else −4z (Zhang 2004; scikit-learn ``ModifiedHuber``)."""
    z = _signs(y) * out
    gap = np.maximum(1.0 - z, 0.0)
    return np.where(z >= -1.0, gap * gap, -4.0 * z)


def perceptron_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−t where t·s ≤ 0 (the kink included, scikit-learn's ``Hinge(0)``), else 0."""
    t = _signs(y)
    return np.where(t * out <= 0.0, -t, 0.0)


@register_loss(
    "perceptron",
    grad=perceptron_grad,
    check=check_margin,
    task="margin",
    inputs=MARGIN_INPUTS,
    formula="max(0, −t·s)",
)
def perceptron(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """max(0, −t·s) (Rosenblatt; scikit-learn ``SGDClassifier(loss="perceptron")``)."""
    return np.maximum(-_signs(y) * out, 0.0)


def soft_margin_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−t·σ(−t·s); smooth."""
    t = _signs(y)
    return -t * _sigmoid(-t * out)


@register_loss(
    "soft-margin",
    grad=soft_margin_grad,
    check=check_margin,
    task="margin",
    inputs=MARGIN_INPUTS,
    formula="log(1 + exp(−t·s))",
)
def soft_margin(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """log(1 + e^(−t·s)) as softplus(−t·s) (torch ``SoftMarginLoss``)."""
    return _softplus(-_signs(y) * out)


# --------------------------------------------------------------------------- multiclass


def cross_entropy_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, label_smoothing: float = 0.0
) -> np.ndarray:
    """softmax(s) − onehot(y) for logits; −1/p_y in column y (clipped p_y) for probabilities;
    with label smoothing ε the target q = (1 − ε)·onehot + ε/K takes onehot's place (−q/p)."""
    if label_smoothing:
        return _cross_entropy_terms(
            y, out, None, logits=logits, grad=True, label_smoothing=label_smoothing
        )[2]
    rows, cls = _rows_and_classes(y, out)
    if not logits:
        g = np.zeros_like(out)
        g[rows, cls] = -1.0 / _clip(out[rows, cls])
        return g
    e = np.exp(out - out.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    e[rows, cls] -= 1.0
    return e


def _cross_entropy_terms(
    y: np.ndarray,
    out: np.ndarray,
    weight: np.ndarray | None,
    *,
    logits: bool = False,
    grad: bool = False,
    label_smoothing: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """torch's ``cross_entropy`` with ``weight`` w and ``label_smoothing`` ε, row by row:
    (1 − ε)·w_y·(−log p_y) + (ε/K)·Σ_k w_k·(−log p_k), the denominator w_y of torch's weighted
    mean, and the gradient (Σ_k a_k)·p − a with a = (1 − ε)·w_y·onehot + (ε/K)·w (from
    probabilities: −a/p). Without weights w = 1 and the denominator is None."""
    n, k = out.shape
    rows, cls = _rows_and_classes(y, out)
    w = np.ones(k) if weight is None else weight
    eps = label_smoothing
    if logits:
        top = out.argmax(axis=1)
        z = out - out[rows, top][:, None]
        e = np.exp(z)
        e[rows, top] = 0.0  # the max's own e⁰ = 1 goes to log1p, as in cross_entropy
        nll = np.log1p(e.sum(axis=1))[:, None] - z  # −log p_k, every k
    else:
        nll = -np.log(_clip(out))
    wy = w[cls]
    values = (1.0 - eps) * wy * nll[rows, cls]
    if eps:
        values += (eps / k) * (nll @ w)
    g = values
    if grad:
        a = np.tile((eps / k) * w, (n, 1))
        a[rows, cls] += (1.0 - eps) * wy
        if logits:
            e[rows, top] = 1.0
            g = a.sum(axis=1, keepdims=True) * (e / e.sum(axis=1, keepdims=True)) - a
        else:
            g = -a / _clip(out)
    return values, (None if weight is None else wy), g


@register_loss(
    "cross-entropy",
    aliases=("ce", "categorical-cross-entropy"),
    grad=cross_entropy_grad,
    check=_check_classes(probabilities=True),
    task="multiclass",
    inputs="class y, K probabilities",
    formula="−log p_y; smoothed: −Σ_k q_k log p_k, q = (1 − ε)·onehot(y) + ε/K",
    params=(LABEL_SMOOTHING,),
    class_rows=_cross_entropy_terms,
    supports_logits=True,
    multi_output=True,
)
def cross_entropy(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, label_smoothing: float = 0.0
) -> np.ndarray:
    """−log p_y with p clipped; from logits, logsumexp(s) − s_y (torch ``cross_entropy``),
    computed with the row max m shifted out as log1p(Σ_{j≠m} e^(s_j − m)) − (s_y − m). With
    label smoothing ε, (1 − ε)·(−log p_y) + (ε/K)·Σ_k −log p_k (torch's ``label_smoothing``)."""
    if label_smoothing:
        return _cross_entropy_terms(y, out, None, logits=logits, label_smoothing=label_smoothing)[0]
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


def _margin_terms(
    y: np.ndarray, out: np.ndarray, margin: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, classes, h) with h_i = margin − s_y + s_i for i ≠ y and 0 in column y."""
    rows, cls = _rows_and_classes(y, out)
    h = margin - out[rows, cls][:, None] + out
    h[rows, cls] = 0.0
    return rows, cls, h


def multi_margin_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, p: int = 1, margin: float = 1.0
) -> np.ndarray:
    """p·h_i^(p−1)/K in each column i ≠ y with h_i > 0 (strictly, as torch's kernel: 0 at the
    kink), minus their sum in column y."""
    rows, cls, h = _margin_terms(y, out, margin)
    g = np.where(h > 0.0, 1.0 if p == 1 else 2.0 * h, 0.0) / out.shape[1]
    g[rows, cls] = -g.sum(axis=1)
    return g


@register_loss(
    "multi-margin",
    params=(P, MARGIN),
    grad=multi_margin_grad,
    check=_check_classes(probabilities=False),
    task="multiclass",
    inputs="class y, K scores",
    formula="Σ_{i≠y} max(0, m − s_y + s_i)^p / K",
    multi_output=True,
)
def multi_margin(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, p: int = 1, margin: float = 1.0
) -> np.ndarray:
    """Σ_{i≠y} max(0, m − s_y + s_i)^p / K (Weston & Watkins 1999; torch ``MultiMarginLoss``,
    p ∈ {1, 2})."""
    h = np.maximum(_margin_terms(y, out, margin)[2], 0.0)
    if p == 2:
        h = h * h
    return h.sum(axis=1) / out.shape[1]


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
    params=(MARGIN,),
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
