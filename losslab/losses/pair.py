"""Pair losses: a label of similarity and a distance."""

from __future__ import annotations

import numpy as np

from losslab.losses.base import (
    MARGIN,
    check_pair,
    register_loss,
)

# --------------------------------------------------------------------------- pairs


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
