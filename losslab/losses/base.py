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

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import numpy as np

from losslab.errors import ConfigError, DomainError
from losslab.hyper import Hyper, nonnegative, positive, switch
from losslab.nn.activations import sigmoid
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
    numeric_grad: bool = False  # row_grad by central differences (a loss given without grad=)

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


TASKS = ("regression", "positive", "binary", "margin", "multiclass", "distribution", "pair")
# Each task's default input check and the inputs a listing shows, for a loss that gives neither.
_TASK_INPUTS = {
    "regression": "y, ŷ real",
    "positive": "y, ŷ > 0",
    "binary": "y ∈ [0, 1], p ∈ [0, 1]",
    "margin": "y ∈ {−1, 1}, s real",
    "multiclass": "y class index, K columns",
    "distribution": "y, p rows of K probabilities",
    "pair": "y ∈ {0, 1}, d ≥ 0",
}
FD_STEP = 6e-6  # ≈ ε^(1/3): the central difference's truncation and rounding errors balance


def numeric_row_grad(per_row: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """The row gradient of ``per_row`` by central differences, all rows at once (row i's value
    depends on row i's output only): ``(ℓ(ŷ + h) − ℓ(ŷ − h)) / 2h`` with ``h = FD_STEP·max(1,
    |ŷ|)``, column by column for a K-column output."""

    def row_grad(y: np.ndarray, out: np.ndarray, **kw: Any) -> np.ndarray:
        """Central differences of the value (the loss gives no gradient of its own)."""
        out = _f64(out)
        h = FD_STEP * np.maximum(1.0, np.abs(out))
        if out.ndim == 1:
            return (per_row(y, out + h, **kw) - per_row(y, out - h, **kw)) / (2.0 * h)
        g = np.empty_like(out)
        for k in range(out.shape[1]):  # K columns, each a vectorised pass over the rows
            up, down = out.copy(), out.copy()
            up[:, k] += h[:, k]
            down[:, k] -= h[:, k]
            g[:, k] = (per_row(y, up, **kw) - per_row(y, down, **kw)) / (2.0 * h[:, k])
        return g

    return row_grad


def _names_logits(*fns: Callable[..., Any] | None) -> bool:
    """Whether every function given takes the keyword ``logits``."""
    return all(fn is None or "logits" in inspect.signature(fn).parameters for fn in fns)


def _takes_logits(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as the contract calls it, with ``logits=``: a plugin's ``f(y, out)`` takes none."""
    try:
        names = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn
    if "logits" in names or any(p.kind is p.VAR_KEYWORD for p in names.values()):
        return fn

    @functools.wraps(fn)
    def with_logits(y: Any, out: Any, *, logits: bool = False, **kw: Any) -> Any:
        return fn(y, out, **kw)

    return with_logits


def register_loss(
    name: str,
    *,
    task: str,
    formula: str,
    grad: Callable[..., np.ndarray] | None = None,
    check: Callable[..., None] | None = None,
    inputs: str | None = None,
    params: tuple[Hyper, ...] = (),
    aliases: tuple[str, ...] = (),
    link: Link | None = None,
    score_input: bool = False,
    class_rows: ClassRows | None = None,
    **flags: bool,
) -> Callable[[PerRow], PerRow]:
    """Register the decorated per-row function ``f(y, out, *, logits=False, **params)`` as the
    loss ``name`` with ``grad`` (same arguments) as its ``row_grad``: the derivative of each
    row's value with respect to that row's output.

    ``task`` is one of :data:`TASKS`; ``params`` declares the loss's parameters (the per-row and
    gradient functions take them as keyword arguments with the declared defaults). A function
    without ``logits`` is called without it. Without ``grad`` the gradient is taken by central
    differences (:func:`numeric_row_grad`) and listings mark the loss ``numeric gradient``;
    without ``check`` the inputs are checked as ``task``'s are (finite, one value per row …).
    """
    if task not in TASKS:
        raise ValueError(f"loss {name!r}: task must be one of {', '.join(TASKS)}, got {task!r}")

    def deco(per_row: PerRow) -> PerRow:
        defaults = {h.name: h.default for h in params}
        if _defaults(per_row) != defaults or (grad is not None and _defaults(grad) != defaults):
            raise TypeError(f"{name}: per_row and row_grad must take exactly {defaults}")
        for h in params:
            if h.name in DECLARED and DECLARED[h.name][0][1] != h:
                raise TypeError(f"{name}: parameter {h.name!r} is declared differently elsewhere")
        if flags.get("supports_logits") and not _names_logits(per_row, grad):
            raise TypeError(f"{name}: a loss that supports logits takes logits= (per row and grad)")
        rows = _takes_logits(per_row)
        entry = Loss(
            name,
            task,
            _TASK_INPUTS[task] if inputs is None else inputs,
            formula,
            defaults,
            rows,
            numeric_row_grad(rows) if grad is None else _takes_logits(grad),
            _TASK_CHECKS[task] if check is None else check,
            hypers=tuple(params),
            link=link,
            score_input=score_input,
            class_rows=class_rows,
            numeric_grad=grad is None,
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
    """σ(z), exact in both tails (``losslab.nn.activations.sigmoid``); 0 below z ≈ −709.8."""
    return sigmoid(z)


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


def check_positive(y: Any, out: Any, *, logits: bool = False, **params: Any) -> None:
    """y > 0 and ŷ > 0."""
    y, out = _real(y, out)
    _require(y, y <= 0, "target", "targets must be > 0")
    _require(out, out <= 0, "prediction", "predictions must be > 0")


# The input check of a task, for a loss registered without its own.
_TASK_CHECKS: dict[str, Callable[..., None]] = {
    "regression": check_real,
    "positive": check_positive,
    "binary": check_binary,
    "margin": check_margin,
    "multiclass": _check_classes(probabilities=False),
    "distribution": check_distributions,
    "pair": check_pair,
}
