"""Sample and class weights: ``--weight-column`` and ``--class-weight``.

Sample weights wᵢ (a column of the data, never a feature) make every mean of a run a weighted
mean Σ wᵢ·ℓᵢ / Σ wᵢ: the training objective, each minibatch's objective (its own Σ w in the
denominator, as torch's ``reduction="sum"`` divided by the batch's Σ w), the reported losses and
the metrics (accuracy Σ wᵢ·[ŷᵢ = yᵢ] / Σ wᵢ, R² with weighted sums as scikit-learn's
``r2_score(sample_weight=)``). A row of weight 0 does not count: it is not a training row (the
split is drawn first, so every other row lands where it would without weights) and it adds
nothing to a validation or test mean. Weights that are all equal give the unweighted run exactly.

Class weights are torch's: ``weight`` of ``cross_entropy`` (the weighted mean Σ w_{yᵢ}·ℓᵢ /
Σ w_{yᵢ}) and ``pos_weight`` of ``binary_cross_entropy_with_logits`` (the positive term
multiplied, the mean over rows). ``balanced`` is scikit-learn's n / (K · count(class)) on the
training rows; for bce that is pos_weight = n_negative / n_positive, the ratio of the two.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from losslab.data.read import Table
from losslab.errors import ConfigError, DataError
from losslab.nn.models import plain

WEIGHTED_LOSSES = ("cross-entropy", "bce")  # the losses that take --class-weight


def read_weights(table: Table, column: str) -> np.ndarray:
    """``column`` as sample weights: numbers, finite and >= 0, not all 0; a bad value is a
    DataError naming the file, line, column and value."""
    import pandas as pd

    series = table.frame[column]
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raw = series.iloc[row]
        shown = "missing" if pd.isna(raw) else repr(raw) if isinstance(raw, str) else f"{raw:g}"
        raise DataError(
            f"{table.where(row, column)}: weights must be finite numbers >= 0; found {shown} "
            "(--weight-column)"
        )
    if not values.any():
        raise DataError(
            f"{table.label}, column {column!r}: every weight is 0, so no row counts "
            "(--weight-column)"
        )
    return values


def effective(weights: np.ndarray | None) -> np.ndarray | None:
    """None when every weight is the same: each weighted mean is then the plain mean, and the
    run takes the unweighted code path, so that it equals the unweighted run bit for bit."""
    if weights is None or weights.size == 0 or np.all(weights == weights[0]):
        return None
    return weights


def parse_class_weight(spec: str) -> list[tuple[str, float]] | None:
    """``"balanced"`` -> None; ``"a=1,b=2.5"`` -> [("a", 1.0), ("b", 2.5)], each weight > 0."""
    text = spec.strip()
    if text.lower() == "balanced":
        return None
    pairs = []
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        try:
            weight = float(value) if sep and key else None
        except ValueError:
            weight = None
        if weight is None:
            raise ConfigError(
                f"--class-weight takes 'balanced' or CLASS=WEIGHT pairs (e.g. 0=1,1=3); "
                f"got {spec!r}"
            )
        if not (np.isfinite(weight) and weight > 0):
            raise ConfigError(f"--class-weight {key}={value}: a weight must be > 0 and finite")
        pairs.append((key, weight))
    return pairs


def class_weights(
    spec: str, loss: str, classes: list[Any], y: np.ndarray
) -> tuple[np.ndarray, dict[str, float]]:
    """(the loss's ``class_weight`` argument, its record) for ``--class-weight spec``.

    cross-entropy: one weight per class (unnamed classes 1); bce: the positive class's weight
    (pos_weight), the only class it may name. ``y`` holds the training rows' class indices.
    """
    if loss not in WEIGHTED_LOSSES:
        raise ConfigError(
            f"--class-weight applies to cross-entropy (torch's weight) and bce (its "
            f"pos_weight); {loss} takes no class weights"
        )
    names = [str(plain(c)) for c in classes]
    pairs = parse_class_weight(spec)
    k = len(classes)
    if pairs is None:
        counts = np.bincount(y.astype(np.intp), minlength=k)
        if (counts == 0).any():
            missing = names[int(np.flatnonzero(counts == 0)[0])]
            raise ConfigError(f"--class-weight balanced: class {missing!r} has no training row")
        weights = y.shape[0] / (k * counts.astype(np.float64))
        if loss == "bce":
            return np.float64(counts[0] / counts[1]), {"pos_weight": float(counts[0] / counts[1])}
        return weights, dict(zip(names, weights.tolist(), strict=True))
    weights = np.ones(k)
    for key, weight in pairs:
        if key not in names:
            raise ConfigError(
                f"--class-weight: {key!r} is not a class (classes: {', '.join(names)})"
            )
        weights[names.index(key)] = weight
    if loss == "bce":
        negative = [key for key, _ in pairs if key == names[0]]
        if negative:
            raise ConfigError(
                f"--class-weight for bce weighs the positive class only (torch's pos_weight): "
                f"{negative[0]!r} is the negative class; give {names[1]}=WEIGHT"
            )
        return np.float64(weights[1]), {"pos_weight": float(weights[1])}
    return weights, dict(zip(names, weights.tolist(), strict=True))
