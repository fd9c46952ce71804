"""Scores reported beside a loss: accuracy for classification outputs, R² for regression ones.

R² follows scikit-learn's ``r2_score`` (with ``sample_weight``), scaled so that targets of 1e200
do not overflow; an undefined score is ``None`` with the reason beside it, never NaN.
"""

from __future__ import annotations

import math

import numpy as np


def _probabilities(out: np.ndarray) -> bool:
    return bool(out.min() >= 0.0 and out.max() <= 1.0)


def metrics_for(
    y: np.ndarray, out: np.ndarray, *, multi: bool, logits: bool, w: np.ndarray | None = None
) -> tuple[dict[str, float | None], dict[str, str]]:
    """(accuracy for classification inputs or R² for regression ones, why any is undefined);
    with row weights ``w`` both are weighted (Σ wᵢ·[ŷᵢ = yᵢ] / Σ wᵢ; weighted R²)."""

    def accuracy(hits: np.ndarray) -> float:
        return float(np.mean(hits)) if w is None else float(np.dot(w, hits) / np.sum(w))

    if multi:
        return {"accuracy": accuracy(np.argmax(out, axis=1) == y)}, {}
    values = set(np.unique(y).tolist())
    if len(values) <= 2 and (values <= {0.0, 1.0} or values <= {-1.0, 1.0}):
        predicted = out >= 0.5 if not logits and _probabilities(out) else out > 0.0
        return {"accuracy": accuracy(predicted == (y > 0))}, {}
    r2, why = _r2(y, out, w)
    return {"r2": r2}, ({"r2": why} if why else {})


R2_CONSTANT = "constant target"
R2_BEYOND = "below the float64 range: the residuals dwarf the target's spread"


def r2_score(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None = None) -> float | None:
    """1 − Σ(y − ŷ)² / Σ(y − ȳ)²; None where undefined (a constant target, or an R² below
    −1.8e308). Large values (targets of 1e200) are scaled, so the sums do not overflow. With
    row weights w: 1 − Σw(y − ŷ)² / Σw(y − ȳ_w)², ȳ_w = Σwy / Σw, rows of weight 0 left out
    (scikit-learn's ``r2_score(sample_weight=w)``)."""
    return _r2(y, pred, w)[0]


def _r2(
    y: np.ndarray, pred: np.ndarray, w: np.ndarray | None = None
) -> tuple[float | None, str | None]:
    """(R², None) or (None, why it is undefined)."""
    if w is not None:
        return _weighted_r2(y, pred, w)
    if y.size == 0 or y.min() == y.max():
        return None, R2_CONSTANT
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.sum((y - y.mean()) ** 2))
        residual = float(np.sum((y - pred) ** 2))
        ratio = residual / total if total > 0 else math.inf
    if math.isfinite(total) and math.isfinite(ratio) and total > 0:
        return 1.0 - ratio, None
    # Scaled: Σ(y − ȳ)² = a²·Σ((y − ȳ)/a)² with a = max|y|, Σ(y − ŷ)² = b²·Σ(y/b − ŷ/b)² with
    # b = max(|y|, |ŷ|); each scaled sum is at most 4n.
    a = float(np.max(np.abs(y)))
    b = max(a, float(np.max(np.abs(pred))))
    ys = y / a
    spread = float(np.sum((ys - ys.mean()) ** 2))
    off = float(np.sum((y / b - pred / b) ** 2))
    with np.errstate(over="ignore", divide="ignore"):
        ratio = (b / a) ** 2 * (off / spread) if spread > 0 else math.inf
    if not math.isfinite(ratio):
        return None, R2_BEYOND
    return 1.0 - ratio, None


def _weighted_r2(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> tuple[float | None, str | None]:
    counted = w > 0
    y, pred, w = y[counted], pred[counted], w[counted]
    if y.size == 0 or y.min() == y.max():
        return None, R2_CONSTANT
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(np.dot(w, y) / np.sum(w))
        total = float(np.dot(w, (y - mean) ** 2))
        residual = float(np.dot(w, (y - pred) ** 2))
        ratio = residual / total if total > 0 else math.inf
    if math.isfinite(total) and math.isfinite(ratio) and total > 0:
        return 1.0 - ratio, None
    return None, R2_BEYOND
