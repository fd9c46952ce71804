"""`losslab eval --loss triplet --anchor COLS --positive COLS --negative COLS`: torch's triplet
margin loss of given embeddings, one (anchor, positive, negative) triplet per row.

ℓ = max(0, d(a, p) − d(a, n) + m), d(x, y) = ‖x − y + ε‖₂, ε = 1e-6 (torch's
``pairwise_distance``); ``swap``: d(a, n) ← min(d(a, n), d(p, n)); the mean over the rows, as
``torch.nn.TripletMarginLoss(margin=m, swap=swap)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from losslab.data.read import read_table
from losslab.errors import DataError
from losslab.losses.embedding import TRIPLET_EPS
from losslab.train.config import parse_columns


def triplet_columns(
    data: Any,
    anchor: str | list[str],
    positive: str | list[str],
    negative: str | list[str],
    *,
    margin: float = 1.0,
    swap: bool = False,
    sep: str | None = None,
) -> dict[str, Any]:
    """The triplet loss of the rows of ``data`` whose anchor, positive and negative embeddings
    are the given columns (as many of each)."""
    table = read_table(data, sep=sep)
    names = {}
    for flag, value in (("--anchor", anchor), ("--positive", positive), ("--negative", negative)):
        names[flag] = parse_columns(value, flag)
        for column in names[flag]:
            table.require(column)
    sizes = {flag: len(cols) for flag, cols in names.items()}
    if len(set(sizes.values())) != 1:
        given = ", ".join(f"{flag} {k}" for flag, k in sizes.items())
        raise DataError(f"{table.label}: --anchor, --positive and --negative need as many "
                        f"columns each (one per coordinate); got {given}")  # fmt: skip
    A, P, N = (table.matrix(cols) for cols in names.values())
    for flag, M in zip(names, (A, P, N), strict=True):
        bad = ~np.isfinite(M)
        if bad.any():
            row, col = (int(v[0]) for v in np.nonzero(bad))
            raise DataError(f"{table.where(row, names[flag][col])}: embeddings must be finite; "
                            f"found {M[row, col]:g}")  # fmt: skip
    d_ap = np.linalg.norm(A - P + TRIPLET_EPS, axis=1)
    d_an = np.linalg.norm(A - N + TRIPLET_EPS, axis=1)
    if swap:
        d_an = np.minimum(d_an, np.linalg.norm(P - N + TRIPLET_EPS, axis=1))
    rows = np.maximum(d_ap - d_an + margin, 0.0)
    return {
        "data": table.label,
        "rows": int(rows.size),
        "loss": "triplet",
        "value": float(np.mean(rows)),
        "active": float(np.mean(rows > 0)),
        "margin": margin,
        "swap": swap,
        "anchor": names["--anchor"],
        "positive": names["--positive"],
        "negative": names["--negative"],
    }
