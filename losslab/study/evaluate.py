"""`losslab eval`: losses and matching metrics of prediction columns against target columns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losslab.data.read import Table, read_table
from losslab.errors import ConfigError, DataError, DomainError
from losslab.losses import LOSSES, Loss
from losslab.losses.calibration import calibration_for
from losslab.losses.metrics import _probabilities, metrics_for
from losslab.train.config import json_safe

TARGET_NAMES = ("y", "y_true", "target", "label", "truth", "actual", "true")


@dataclass
class EvalResult:
    """What `losslab eval` reports; ``to_dict`` is the JSON shape."""

    data: str
    rows: int
    target: list[str]
    pred: list[str]
    logits: bool
    losses: dict[str, float | None]
    metrics: dict[str, float | None]
    params: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    # name -> why its value (None) is undefined: a constant target, a value beyond float64
    undefined: dict[str, str] = field(default_factory=dict)
    weight_column: str | None = None
    # loss -> the class weights it used (--class-weight), as `fit` records them
    class_weight: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        extra = {"class_weight": self.class_weight} if self.class_weight else {}
        return {
            "data": self.data,
            "rows": self.rows,
            "target": self.target,
            "pred": self.pred,
            "logits": self.logits,
            "params": {k: json_safe(v) for k, v in self.params.items()},
            "losses": self.losses,
            "metrics": self.metrics,
            "undefined": self.undefined,
            "weight_column": self.weight_column,
            **extra,
        }

    def to_frame(self) -> Any:
        """A pandas DataFrame as `losslab eval --format csv`: one row per loss, then per metric
        (``name``, ``value``; NaN where a value is undefined)."""
        from losslab.data.write import to_frame

        values = {**self.losses, **self.metrics}
        return to_frame([{"name": k, "value": v} for k, v in values.items()], ["name", "value"])

    def __repr__(self) -> str:
        """One line: data · rows · the first losses and metrics."""
        both = {**self.losses, **self.metrics}
        values = [f"{k} {v:.4g}" for k, v in both.items() if v is not None]
        more = f" (+{len(values) - 3} more)" if len(values) > 3 else ""
        return f"<EvalResult {self.data[-40:]} · {self.rows} rows · {', '.join(values[:3])}{more}>"

    def _repr_html_(self) -> str | None:
        """The losses and metrics as a table in a notebook (:func:`losslab.registry.html_of`)."""
        from losslab.registry import html_of

        return html_of(self)


def _choose_columns(
    table: Table,
    losses: list[Loss] | None,
    target: list[str],
    pred: list[str],
    weight_column: str | None = None,
) -> tuple[list[str], list[str]]:
    """Resolve default target and prediction columns (never the weight column); ambiguity is
    an error."""
    for column in (*target, *pred):
        table.require(column)
        if column == weight_column:
            raise ConfigError(
                f"column {column!r} is both the --weight-column and a target or prediction"
            )
    columns = [c for c in table.columns if c != weight_column]
    multi = losses is None or any(loss.multi_output for loss in losses)
    if not target:
        if losses and any(loss.multi_target for loss in losses):
            raise ConfigError("kl-div needs the target-probability columns: repeat --target")
        rest = [c for c in columns if c not in pred]
        named = [c for c in rest if c.lower() in TARGET_NAMES]
        if len(rest) == 1 or named or (pred and rest) or len(columns) == 2 or multi:
            target = [named[0] if named else rest[0]]
        else:
            raise ConfigError(_ambiguous(table, columns))
    if not pred:
        rest = [c for c in columns if c not in target]
        if len(rest) == 1 or multi:
            pred = rest
        else:
            raise ConfigError(_ambiguous(table, columns))
    if not pred:
        raise ConfigError(f"{table.label}: no prediction column left; pass --pred")
    if set(target) & set(pred):
        both = sorted(set(target) & set(pred))[0]
        raise ConfigError(f"column {both!r} is both a target and a prediction")
    return target, pred


def _ambiguous(table: Table, columns: list[str]) -> str:
    return (
        f"{table.label}: cannot tell the target and prediction columns apart among "
        f"{', '.join(columns)}; pass --target COL and --pred COL"
    )


def _shape_problem(loss: Loss, target: list[str], pred: list[str]) -> str | None:
    if loss.multi_target:
        if len(target) < 2 or len(target) != len(pred):
            return (
                f"{loss.name} needs K target-probability columns and K predicted columns "
                f"(got {len(target)} and {len(pred)})"
            )
        return None
    if len(target) != 1:
        return f"{loss.name} takes one target column, got {len(target)}"
    if loss.multi_output and len(pred) < 2:
        return f"{loss.name} needs one column per class (K >= 2), got {len(pred)}"
    if not loss.multi_output and len(pred) != 1:
        return f"{loss.name} takes one prediction column, got {len(pred)}: {', '.join(pred)}"
    return None


def _takes_scores(loss: Loss) -> bool:
    """Whether a loss reads unbounded scores (logits or margins) as its predictions."""
    return loss.supports_logits or loss.task in ("margin", "multiclass")


def _class_targets(table: Table, column: str, pred: list[str]) -> np.ndarray:
    """Class indices from numbers, or from labels equal to prediction column names."""
    labels = table.labels(column)
    if labels.dtype.kind in "fiub":
        return labels.astype(np.float64)
    index = {name: k for k, name in enumerate(pred)}
    codes = np.array([index.get(v, -1) for v in labels], dtype=np.float64)
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{table.where(row, column)}: label {labels[row]!r} is neither a class index nor "
            f"one of the prediction columns ({', '.join(pred)})"
        )
    return codes


def _domain_error(table: Table, exc: DomainError, target: list[str], pred: list[str]) -> DataError:
    columns = target if exc.part == "target" else pred
    where = table.where(exc.row, columns[0] if len(columns) == 1 else None)
    if len(columns) > 1:
        where += f", columns {', '.join(columns)}"
    return DataError(f"{where}: {exc}")


def _loss_list(names: Sequence[str]) -> list[Loss] | None:
    if not names:
        raise ConfigError("no loss given; pass --loss NAME (or --loss all)")
    if any(name.strip().lower() == "all" for name in names):
        return None
    seen: dict[str, Loss] = {}
    for name in names:
        seen.setdefault(LOSSES.resolve(name), LOSSES.get(name))
    return list(seen.values())


def evaluate(
    source: str | Table,
    losses: Sequence[str] = ("all",),
    *,
    target: Sequence[str] = (),
    pred: Sequence[str] = (),
    logits: bool = False,
    params: dict[str, Any] | None = None,
    sep: str | None = None,
    weight_column: str | None = None,
    class_weight: str | None = None,
    bins: int | None = None,
) -> EvalResult:
    """Compute every requested loss (or ``all`` that apply) on a CSV's columns.

    ``params`` maps loss parameter names (delta, quantile, epsilon, gamma, margin, power …) to
    values; None means the loss's default. A parameter no chosen loss uses is an error. With
    ``weight_column``, every loss and metric is the weighted mean over the rows (Σ wᵢℓᵢ / Σ wᵢ;
    rows of weight 0 do not count); weights that are all equal give the unweighted numbers.
    ``class_weight`` ('balanced', or CLASS=WEIGHT pairs) weighs cross-entropy's classes (torch's
    ``weight``) and bce's positive class (its ``pos_weight``) as `fit` does, 'balanced' from the
    rows evaluated; class names are the prediction columns (string labels) or the indices.
    Probability columns of class labels add ece, mce and brier (``bins`` equal-width bins, 15
    when None; given, it asks for them: :func:`losslab.losses.calibration.calibration_for`).
    """
    table = source if isinstance(source, Table) else read_table(source, sep=sep)
    chosen = _loss_list(losses)
    weights = None
    if weight_column is not None:
        from losslab.data.weighting import effective, read_weights

        table.require(weight_column)
        weights = effective(read_weights(table, weight_column))
    target_cols, pred_cols = _choose_columns(table, chosen, list(target), list(pred), weight_column)
    given = {k: v for k, v in (params or {}).items() if v is not None}
    candidates = chosen if chosen is not None else [LOSSES.get(n) for n in LOSSES.names()]
    if chosen is not None:
        for loss in chosen:
            problem = _shape_problem(loss, target_cols, pred_cols)
            if problem:
                raise ConfigError(problem)
            if logits and not _takes_scores(loss):
                raise ConfigError(f"--logits does not apply to {loss.name}")
    for name in given:
        if not any(name in loss.params for loss in candidates):
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} is not used by {', '.join(c.name for c in candidates)}")

    multi_target = len(target_cols) > 1
    if multi_target:
        y = table.matrix(target_cols)
    elif len(pred_cols) > 1:
        y = _class_targets(table, target_cols[0], pred_cols)
    else:
        y = table.numeric(target_cols[0])
    out = table.numeric(pred_cols[0]) if len(pred_cols) == 1 else table.matrix(pred_cols)

    weighted_by: dict[str, dict[str, float]] = {}
    if class_weight is not None:
        from losslab.data.weighting import WEIGHTED_LOSSES

        if not any(loss.name in WEIGHTED_LOSSES for loss in candidates):
            raise ConfigError(
                f"--class-weight applies to {' and '.join(WEIGHTED_LOSSES)}; "
                f"{', '.join(c.name for c in candidates)} "
                + ("takes" if len(candidates) == 1 else "take")
                + " no class weights"
            )
        named = table.labels(target_cols[0]).dtype.kind not in "fiub" and len(pred_cols) > 1
    values: dict[str, float | None] = {}
    undefined: dict[str, str] = {}
    used: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for loss in candidates:
        # margin losses read scores; columns all in [0, 1] hold probabilities
        on_probabilities = (
            not logits
            and loss.task in ("margin", "multiclass")
            and not loss.supports_logits
            and _probabilities(out)
        )
        if chosen is None:
            if _shape_problem(loss, target_cols, pred_cols) or loss.task == "pair":
                continue
            if logits and not _takes_scores(loss):
                continue
            if on_probabilities:
                continue
        elif on_probabilities:
            raise ConfigError(
                f"{loss.name} reads scores (margins), but the prediction columns hold "
                "probabilities (all in [0, 1]); pass --logits to treat them as scores"
            )
        kwargs = {k: v for k, v in given.items() if k in loss.params}
        use_logits = logits and loss.supports_logits
        try:
            loss.check(y, out, logits=use_logits, **loss.resolve_params(**kwargs))
        except DomainError as exc:
            if chosen is None:
                skipped[loss.name] = str(exc)
                continue
            raise _domain_error(table, exc, target_cols, pred_cols) from None
        if class_weight is not None and loss.name in WEIGHTED_LOSSES:
            from losslab.data.weighting import class_weights

            k = out.shape[1] if out.ndim == 2 else 2
            classes = list(pred_cols) if named else list(range(k))
            kwargs["class_weight"], weighted_by[loss.name] = class_weights(
                class_weight, loss.name, classes, y
            )
        value = loss.value(y, out, logits=use_logits, sample_weight=weights, **kwargs)
        if not math.isfinite(value):
            undefined[loss.name] = "a row's loss exceeds the float64 maximum 1.8e308"
        values[loss.name] = value if math.isfinite(value) else None
        used.update({k: kwargs.get(k, default) for k, default in loss.params.items()})
        kwargs.pop("class_weight", None)
    if not values:
        reasons = "; ".join(f"{k}: {v}" for k, v in skipped.items())
        raise DataError(f"{table.label}: no loss applies to these columns ({reasons})")
    metrics: dict[str, float | None] = {}
    if not multi_target:
        metrics, why = metrics_for(y, out, multi=len(pred_cols) > 1, logits=logits, w=weights)
        undefined.update(why)
        try:
            calibration, why = calibration_for(
                y, out, multi=len(pred_cols) > 1, logits=logits, w=weights, bins=bins
            )
        except DomainError as exc:
            raise _domain_error(table, exc, target_cols, pred_cols) from None
        metrics.update(calibration)
        undefined.update(why)
    elif bins is not None:
        raise ConfigError("--bins: calibration needs class labels, not target probabilities")
    return EvalResult(
        data=table.label,
        rows=table.n_rows,
        target=target_cols,
        pred=pred_cols,
        logits=logits,
        losses=values,
        metrics=metrics,
        params=used,
        skipped=skipped,
        undefined=undefined,
        weight_column=weight_column,
        class_weight=weighted_by,
    )
