"""The figure of a performance profile (`compare A,B,C --plot`): for each optimizer, the share of
problems it solves within a factor τ of the fastest, against τ on a log axis — as AlgoPerf and
benchopt draw them (Dolan & Moré 2002)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from losslab.views.figures import DPI, check_plot_name, cycle, require_matplotlib, save_figure

WHAT = {"epochs": "epochs", "time": "seconds"}


def profile_figure(result: Any, *, size: tuple[float, float] | None = None) -> Any:
    """A matplotlib Figure of ``result.profile`` (a :class:`~losslab.study.profile.Studies`):
    one step curve per optimizer, the unsolved share written at the right of each."""
    plt = require_matplotlib()
    profile = result.profile
    tau = profile["tau"]
    n = len(profile["problems"])
    fig, ax = plt.subplots(figsize=size or (8.0, 5.2), layout="constrained")
    k = len(profile["fraction"])
    right = max(tau[-1], 2.0) * 1.15  # the last step stays in sight
    xs = [*tau, right]
    for i, (name, fraction) in enumerate(profile["fraction"].items()):
        style = cycle(i)
        # equal curves would hide each other: each is lifted by a hair (≤ 1% of the axis)
        lift = 0.008 * (i - (k - 1) / 2)
        solved = round(fraction[-1] * n)
        ax.step(xs, [f + lift for f in [*fraction, fraction[-1]]], where="post", linewidth=2.0,
                label=f"{name} ({solved}/{n} reached)",
                color=style["color"], linestyle=style["linestyle"])  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlim(1.0, right)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"τ: {WHAT.get(result.by, result.by)} to target ÷ the fastest optimizer's")
    ax.set_ylabel("share of problems with ratio ≤ τ")
    ax.set_title(
        f"Performance profile over {n} problems (dataset × loss)\ntarget: training objective "
        "within 1% of the exact optimum, or of the best any run reached\n"
        "(each curve lifted by less than 1% so that equal ones stay apart)",
        fontsize=10,
        loc="left",
    )
    ax.grid(True, which="both", alpha=0.3)
    fig.legend(loc="outside lower center", ncol=min(k, 3), fontsize=9, frameon=False)
    ax.set_xticks([t for t in (1, 1.5, 2, 3, 5, 10, 20, 50, 100) if t <= right])
    ax.get_xaxis().set_major_formatter(
        plt.FuncFormatter(lambda x, _: f"{x:g}" if math.isfinite(x) else "")
    )
    ax.minorticks_off()
    return fig


def plot_profile(
    result: Any,
    output: str | Path,
    *,
    dpi: float = DPI,
    size: tuple[float, float] | None = None,
) -> Path:
    """Draw :func:`profile_figure` to ``output`` (.png, .svg or .pdf) at ``dpi``."""
    output = check_plot_name(output)
    plt = require_matplotlib()
    fig = profile_figure(result, size=size)
    try:
        return save_figure(fig, output, dpi=dpi)
    finally:
        plt.close(fig)
