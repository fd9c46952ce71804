"""The figure of the lr range test (`losslab lr-find --plot`): the loss per step against the lr
on a log axis, smoothed, with both suggestions marked (matplotlib, imported only when drawing)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from losslab.views.figures import DPI, check_plot_name, require_matplotlib, save_figure

WIDTH, HEIGHT = 10.0, 6.0  # inches: 1500 × 900 px at 150 dpi


def lr_find_figure(result: Any, *, title: str, size: tuple[float, float] | None = None) -> Any:
    """The range test: loss per step (faint) and smoothed (solid) against the lr on a log axis,
    both suggestions marked and labelled; the y axis stops where the sweep's stop rule would;
    the legend under the axes, inside the figure. The caller closes it."""
    plt = require_matplotlib()
    lrs = result.lrs
    smoothed = [v if math.isfinite(v) else math.nan for v in result.smoothed]
    fig, ax = plt.subplots(figsize=size or (WIDTH, HEIGHT), dpi=DPI, layout="constrained")
    try:
        ax.plot(lrs, result.losses, color="0.7", lw=0.8, label="batch objective")
        ax.plot(lrs, smoothed, color="C0", lw=2.0, label="smoothed (β = 0.98, bias-corrected)")
        finite = [v for v in smoothed if math.isfinite(v)]
        low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
        if finite:
            high = min(high, max(finite[0], 4 * low))  # the sweep's stop rule: 4 × the best
            pad = 0.06 * (high - low) or 0.06 * abs(low) or 0.06
            low, high = low - pad, high + pad
            ax.set_ylim(low, high)
        marks = {"steepest": ("C3", "v", "steepest descent"), "valley": ("C2", "o", "valley")}
        for name, suggestion in result.suggestions.items():
            if suggestion is None:
                continue
            colour, marker, label = marks[name]
            lr, loss = suggestion["lr"], suggestion["loss"]
            ax.axvline(lr, color=colour, lw=1.0, ls="--", alpha=0.7)
            ax.plot(
                [lr],
                [loss],
                marker=marker,
                ms=10,
                color=colour,
                ls="none",
                label=f"{label}: lr {lr:.3g}",
            )
            upper = loss > (low + high) / 2  # label on the side with room
            ax.annotate(
                f"{label}\nlr {lr:.3g}",
                (lr, loss),
                xytext=(8, -30 if upper else 10),
                textcoords="offset points",
                color=colour,
                fontsize="medium",
                fontweight="bold",
            )
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("training objective of the step's minibatch")
        ax.set_title(f"{title}\na heuristic: check the lrs around a suggestion by training")
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", alpha=0.1)
        # below the axes (the curve may run through any corner), in the constrained layout
        fig.legend(loc="outside lower center", ncol=2, frameon=False)
    except BaseException:
        plt.close(fig)
        raise
    return fig


def plot_lr_find(
    result: Any,
    output: str | Path,
    *,
    title: str,
    dpi: float = DPI,
    size: tuple[float, float] | None = None,
) -> Path:
    """Draw :func:`lr_find_figure` to ``output`` (.png, .svg or .pdf) at ``dpi``."""
    output = check_plot_name(output)
    plt = require_matplotlib()
    fig = lr_find_figure(result, title=title, size=size)
    try:
        return save_figure(fig, output, dpi=dpi)
    finally:
        plt.close(fig)
