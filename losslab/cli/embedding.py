"""The flags of the embedding losses (contrastive, triplet, supcon), shared by fit and compare."""

from __future__ import annotations

from typing import Annotated

import typer

EmbedDim = Annotated[
    int | None,
    typer.Option(
        help="Outputs of the embedding a model learns with --loss contrastive, triplet or supcon "
        "(no head; the labels only say which rows are similar). Default 2."
    ),
]
Mining = Annotated[
    str | None,
    typer.Option(
        help="Pairs/triplets of each batch for contrastive and triplet: all (default; every "
        "triplet is O(B³) per batch, computed in chunks of anchors), semi-hard, hard or random "
        "(one per anchor, O(B²))."
    ),
]
Temperature = Annotated[float | None, typer.Option(help="SupCon temperature τ (default 0.1), > 0.")]
Swap = Annotated[
    bool,
    typer.Option("--swap", help="Triplet: d(a, n) ← min(d(a, n), d(p, n)), as torch's swap."),
]
