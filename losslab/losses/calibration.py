"""Calibration of predicted probabilities: ECE, MCE, the Brier score and the reliability bins.

Top-label calibration (Guo et al. 2017, "On Calibration of Modern Neural Networks"): each row's
confidence is its largest probability and it is correct when that class is the label. The rows
are binned by confidence into ``bins`` equal-width bins with edges ``linspace(0, 1, bins + 1)``,
closed on the right as torchmetrics' ``multiclass_calibration_error`` assigns them
(``torch.bucketize(conf, edges) − 1``: bin b holds edges[b] < conf ≤ edges[b+1]; a confidence
of exactly 0, which a top label never has, goes to the first bin):

- ``ece`` = Σ_b (n_b / n)·|acc_b − conf_b| (torchmetrics ``norm='l1'``, 15 bins by default);
- ``mce`` = max over non-empty bins of |acc_b − conf_b| (``norm='max'``);
- ``brier`` = mean over rows of Σ_k (p_k − 1[k = y])²; with one probability column (binary, p
  the probability of class 1) (p − y)², scikit-learn's ``brier_score_loss``.

A binary column p is read as the two classes (1 − p, p), so its top label is the more probable
class (class 0 on a tie, as argmax). With row weights w every count n_b is Σ wᵢ over the bin.
torchmetrics builds its edges in float32; ours are float64, which can differ only for a
confidence within float32's rounding (6e-8) of an edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from losslab.errors import ConfigError, DomainError
from losslab.losses.base import _f64, _probabilities, _require

BINS = 15
NAMES = ("ece", "mce", "brier")


@dataclass(frozen=True)
class Reliability:
    """The bins of a reliability diagram: edges, the (weighted) count, the accuracy and the
    mean confidence of each bin (0 where empty), and the scores they give."""

    edges: np.ndarray
    counts: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray
    ece: float
    mce: float
    brier: float

    def scores(self) -> dict[str, float]:
        return {"ece": self.ece, "mce": self.mce, "brier": self.brier}

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "accuracy": self.accuracy.tolist(),
            "confidence": self.confidence.tolist(),
            **self.scores(),
        }


def check_bins(bins: Any) -> int:
    """``bins`` as a count of bins >= 1; ConfigError ``--bins must be ...`` otherwise."""
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ConfigError(f"--bins must be an integer >= 1, got {bins!r}")
    return int(bins)


def check_calibration(y: Any, probs: Any) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) checked: one label per row, probabilities in [0, 1] and, with
    K >= 2 columns, rows summing to 1 (within 1e-6); labels 0/1 for one column, class indices
    0..K−1 for K. DomainError naming the row, part and value otherwise."""
    y, p = _f64(y), _f64(probs)
    if p.ndim not in (1, 2) or (p.ndim == 2 and p.shape[1] < 2):
        raise DomainError(
            f"expected one probability column, or one per class; got shape {p.shape}",
            part="prediction",
        )
    if y.ndim != 1 or y.shape[0] != p.shape[0]:
        raise DomainError(
            f"expected {p.shape[0]} labels, one per row; got shape {y.shape}", part="target"
        )
    if p.shape[0] == 0:
        raise DomainError("no rows to score", part="target")
    _require(y, ~np.isfinite(y), "target", "labels must be finite")
    _require(p, ~np.isfinite(p), "prediction", "probabilities must be finite")
    _probabilities(p, "prediction")
    k = 2 if p.ndim == 1 else p.shape[1]
    bad = (y < 0) | (y > k - 1) | (y != np.round(y))
    what = "0 or 1" if p.ndim == 1 else f"a class index in 0..{k - 1}"
    _require(y, bad, "target", f"labels must be {what}")
    return y, p


def _two_columns(p: np.ndarray) -> np.ndarray:
    return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p


def reliability(y: Any, probs: Any, *, bins: int = BINS, w: Any = None) -> Reliability:
    """The reliability bins of top-label confidences and the ECE, MCE and Brier score."""
    bins = check_bins(bins)
    y, p = check_calibration(y, probs)
    weights = np.ones(y.shape[0]) if w is None else _f64(w)
    if not float(np.sum(weights)) > 0:
        raise DomainError("the weights sum to 0: no row counts", part="weight")
    P = _two_columns(p)
    top = np.argmax(P, axis=1)
    conf = P[np.arange(P.shape[0]), top]
    correct = (top == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    counts = np.bincount(index, weights=weights, minlength=bins)
    hits = np.bincount(index, weights=weights * correct, minlength=bins)
    sure = np.bincount(index, weights=weights * conf, minlength=bins)
    full = counts > 0
    accuracy = np.divide(hits, counts, out=np.zeros(bins), where=full)
    confidence = np.divide(sure, counts, out=np.zeros(bins), where=full)
    gap = np.abs(accuracy - confidence)
    ece = float(np.sum(counts / np.sum(counts) * gap))
    mce = float(np.max(gap[full]))
    return Reliability(edges, counts, accuracy, confidence, ece, mce, _brier(y, p, weights))


def _brier(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    """Mean over rows of Σ_k (p_k − 1[k = y])², or (p − y)² for one column."""
    if p.ndim == 1:
        rows = (p - y) ** 2
    else:
        onehot = np.zeros_like(p)
        onehot[np.arange(p.shape[0]), y.astype(np.intp)] = 1.0
        rows = np.sum((p - onehot) ** 2, axis=1)
    return float(np.dot(w, rows) / np.sum(w))


def calibration_scores(y: Any, probs: Any, *, bins: int = BINS, w: Any = None) -> dict[str, float]:
    """{"ece", "mce", "brier"} of probabilities against labels (:func:`reliability`)."""
    return reliability(y, probs, bins=bins, w=w).scores()


def ece(y: Any, probs: Any, *, bins: int = BINS) -> float:
    """Expected calibration error (top label, ``bins`` equal-width bins)."""
    return reliability(y, probs, bins=bins).ece


def mce(y: Any, probs: Any, *, bins: int = BINS) -> float:
    """Maximum calibration error over the non-empty bins."""
    return reliability(y, probs, bins=bins).mce


def brier(y: Any, probs: Any) -> float:
    """Brier score: mean Σ_k (p_k − 1[k = y])²; (p − y)² for one column."""
    y, p = check_calibration(y, probs)
    return _brier(y, p, np.ones(y.shape[0]))


def calibration_for(
    y: np.ndarray,
    out: np.ndarray,
    *,
    multi: bool,
    logits: bool = False,
    w: Any = None,
    bins: int | None = None,
) -> tuple[dict[str, float | None], dict[str, str]]:
    """(ece, mce and brier, why any is undefined) where ``out`` holds probabilities of class
    labels ``y``; nothing for regression targets or scores. ``bins`` given asks for them: a
    ConfigError where they cannot apply and the DomainError of bad probabilities instead of
    an undefined value."""
    asked = bins is not None
    n_bins = check_bins(bins) if asked else BINS
    if logits:
        if asked:
            raise ConfigError("--bins: calibration reads probabilities, not logits (drop --logits)")
        return {}, {}
    labels = _is_index(y) if multi else bool(np.isin(y, (0.0, 1.0)).all())
    if not labels or (not asked and not _unit(out)):
        if asked and not labels:
            what = "class indices" if multi else "0/1 labels"
            raise ConfigError(f"--bins: calibration needs {what} as the target")
        return {}, {}
    try:
        return reliability(y, out, bins=n_bins, w=w).scores(), {}
    except DomainError as exc:
        if asked:
            raise
        return dict.fromkeys(NAMES), dict.fromkeys(NAMES, str(exc))


def _is_index(y: np.ndarray) -> bool:
    return bool(np.isfinite(y).all() and (y >= 0).all() and (y == np.round(y)).all())


def _unit(out: np.ndarray) -> bool:
    return bool(np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0)
