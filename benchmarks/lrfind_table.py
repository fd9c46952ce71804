"""Where `losslab lr-find`'s suggestions land against the best lr of a `compare` grid.

For every bundled dataset and a few optimizers: the range test's two suggestions (steepest
descent, valley), then a study over a log grid of lrs (seed 0, 20 epochs, 10% validation rows
that rank the runs) whose best lr is the reference. Prints a Markdown table for the README.

    python benchmarks/lrfind_table.py
"""

from __future__ import annotations

import math
import sys

import losslab

DATASETS = ("iris", "breast-cancer", "diabetes", "digits")
OPTIMIZERS = ("sgd", "momentum", "adam")
GRID = [10.0**e for e in (-4, -3.5, -3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5)]
EPOCHS = 20


def decades(a: float, b: float) -> str:
    return f"{math.log10(a / b):+.1f}"


def main() -> int:
    print("| data | optimizer | steepest | valley | best lr of the grid (val. loss) | "
          "steepest vs best (decades) | valley vs best |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    for data in DATASETS:
        for opt in OPTIMIZERS:
            found = losslab.lr_find(data, optimizer=opt, seed=0)
            steep = (found.suggestions.get("steepest") or {}).get("lr")
            low = (found.suggestions.get("valley") or {}).get("lr")
            study = losslab.compare(
                data, optimizer=[opt], lr=GRID, seeds=1, epochs=EPOCHS, val_size=0.1, jobs=1
            )
            best = study.summary[0]
            shown = [f"{v:.3g}" if v else "—" for v in (steep, low)]
            print(
                f"| {data} | {opt} | {shown[0]} | {shown[1]} | {best['lr']:.3g} | "
                f"{decades(steep, best['lr']) if steep else '—'} | "
                f"{decades(low, best['lr']) if low else '—'} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
