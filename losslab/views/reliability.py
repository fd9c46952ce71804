"""`losslab plot RUN --reliability`: the reliability diagram of a classifier's run (Guo et al.
2017, Figure 1): accuracy against confidence per bin with the gap to the diagonal, and the bin
counts below, from the bins its metrics.json records (``reliability``: the test rows, else the
training rows; see :mod:`losslab.losses.calibration`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from losslab.errors import DataError
from losslab.views.figures import DPI, check_plot_name, require_matplotlib, save_figure

NO_BINS = (
    "has no reliability bins: only the runs of a classifier that reads logits (bce, focal, "
    "cross-entropy) record them"
)


def reliability_of(directory: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the run's config, its recorded reliability bins), both validated on load."""
    from losslab.study import schema
    from losslab.study.records import record_kind

    directory = Path(directory)
    if record_kind(directory) == "study":
        raise DataError(f"{directory}: --reliability draws a run's record, not a study's")
    config = schema.run_config(directory / "config.json")
    metrics = schema.run_metrics(directory / "metrics.json")
    bins = metrics.get("reliability")
    keys = ("edges", "counts", "accuracy", "confidence", "ece", "part")
    if not isinstance(bins, dict) or any(k not in bins for k in keys):
        raise DataError(f"{directory} {NO_BINS}")
    n = len(bins["counts"])
    if len(bins["edges"]) != n + 1 or len(bins["accuracy"]) != n or len(bins["confidence"]) != n:
        raise DataError(f"{directory / 'metrics.json'}: reliability bins of unequal lengths")
    return config, bins


def plot_reliability(
    directory: str | Path,
    output: str | Path | None = None,
    *,
    dpi: float = DPI,
    size: tuple[float, float] | None = None,
) -> Path:
    """Draw a run's reliability diagram to ``output`` (default RUN/reliability.png)."""
    output = check_plot_name(output, "--out") if output is not None else None
    config, bins = reliability_of(directory)
    target = output if output is not None else Path(directory) / "reliability.png"
    title = f"{config.get('data', '?')} · {config['model']} · {config['loss']}"
    return draw_reliability(bins, target, title=title, dpi=dpi, size=size)


def draw_reliability(
    bins: dict[str, Any],
    output: str | Path,
    *,
    title: str = "",
    dpi: float = DPI,
    size: tuple[float, float] | None = None,
) -> Path:
    """:func:`reliability_figure` saved to ``output``."""
    plt = require_matplotlib()
    fig = reliability_figure(bins, title=title, size=size)
    try:
        return save_figure(fig, output, dpi=dpi, flag="--out")
    finally:
        plt.close(fig)


def reliability_figure(
    bins: dict[str, Any], *, title: str = "", size: tuple[float, float] | None = None
) -> Any:
    """Accuracy per confidence bin (bars), the gap to the diagonal (hatched), the diagonal, and
    the bins' row counts in a panel below."""
    plt = require_matplotlib()
    edges = np.asarray(bins["edges"], dtype=float)
    counts = np.asarray(bins["counts"], dtype=float)
    acc = np.asarray(bins["accuracy"], dtype=float)
    conf = np.asarray(bins["confidence"], dtype=float)
    full = counts > 0
    left, width = edges[:-1], np.diff(edges)
    fig, (top, bottom) = plt.subplots(
        2, 1, sharex=True, layout="constrained", figsize=size or (5.6, 6.2),
        gridspec_kw={"height_ratios": (3, 1)},
    )  # fmt: skip
    top.bar(left[full], acc[full], width[full], align="edge", color="#0072B2",
            edgecolor="white", label="accuracy of the bin")  # fmt: skip
    gap_low = np.minimum(acc, conf)[full]
    top.bar(left[full], np.abs(conf - acc)[full], width[full], bottom=gap_low, align="edge",
            fill=False, hatch="///", edgecolor="#D55E00", linewidth=1.0,
            label="gap to its mean confidence")  # fmt: skip
    top.plot([0, 1], [0, 1], color="0.3", ls="--", lw=1.2, label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.set_aspect("auto")
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", fontsize=9, frameon=False)
    part = "test rows" if bins.get("part") == "test" else "training rows"
    top.set_title(
        f"{title}\nECE {bins['ece']:.4f} · MCE {bins.get('mce', float('nan')):.4f} · "
        f"{len(counts)} bins · {part}",
        fontsize=10,
    )
    bottom.bar(left, counts, width, align="edge", color="0.55", edgecolor="white")
    bottom.set_yscale("log" if counts.max() > 20 * max(counts[full].min(), 1) else "linear")
    bottom.set_xlabel("confidence (top-label probability)")
    bottom.set_ylabel("rows")
    bottom.grid(True, alpha=0.3)
    return fig
