"""Drawing a :class:`~losslab.views.landscape.Landscape` (matplotlib, imported lazily:
losslab[plot]).

A test function: its filled contour map (log-spaced levels of f − f* where f spans decades), every
path on it (or one panel per optimizer), the start and the minima marked; with ``--tune`` a panel
of the final value against the lr tried, diverged candidates marked. On data: the objective on the
plane with the projected paths, and the 1-D interpolation from θ0 to each final θ. Colours are
Okabe & Ito's colour-blind-safe palette, cycled with line styles beyond seven paths; legends sit
outside the data.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path as FilePath
from typing import Any

import numpy as np

from losslab.errors import ConfigError, LossLabError
from losslab.views.figures import DPI, check_plot_name, require_matplotlib, save_figure
from losslab.views.landscape import Landscape, Trajectory

# Okabe & Ito (2008), "Color Universal Design", without its yellow (unreadable on white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
STYLES = ("-", "--", ":", "-.")
WIDTH = 8.0  # inches: 1200 pixels wide at 150 dpi
LEVELS = 24
# a perceptually uniform map, lightened on white (its lightness still rises monotonically with
# f) under dark contour lines; each path has a white halo to stay readable on every colour
CMAP, FILL_ALPHA = "viridis_r", 0.55
LAYOUTS = ("auto", "overlay", "panels")
OVERLAY_MAX = 4  # beyond this many paths, "auto" draws one panel per optimizer


def style(i: int) -> dict[str, Any]:
    """The colour and line style of the i-th path."""
    return {"color": PALETTE[i % len(PALETTE)], "ls": STYLES[(i // len(PALETTE)) % len(STYLES)]}


def share(x: float) -> str:
    """A share as a percentage to three significant digits: 97.7%, 7.08%, 0.0312%."""
    return f"{100 * x:.3g}%"


def _num(value: float) -> str:
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.2e}"


def levels(values: np.ndarray, floor: float, log: bool, n: int = LEVELS) -> tuple[np.ndarray, bool]:
    """(levels of ``values − floor`` when ``log``, else of ``values``; whether they are log).

    Log levels run from the smallest positive gap on the grid (at least 1e-8 of the largest) to
    the largest, geometrically: each level is a constant factor above the last, so the valley
    floor is drawn as finely as the walls.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise LossLabError("the objective is not finite anywhere on the grid: nothing to draw")
    if log:
        gap = finite - floor
        hi = float(gap.max())
        positive = gap[gap > 0]
        if hi > 0 and positive.size:
            lo = max(float(positive.min()), hi * 1e-8)
            if hi / lo > 10:
                return np.geomspace(lo, hi, n), True
    from matplotlib.ticker import MaxNLocator

    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        hi = lo + 1.0
    return MaxNLocator(n).tick_values(lo, hi), False


def _contours(ax: Any, land: Landscape) -> Any:
    """The filled contour map on ``ax``; returns the mappable (for one shared colour bar)."""
    from matplotlib.colors import LogNorm

    floor = land.minimum if land.minimum is not None else float(np.nanmin(land.values))
    lv, log = levels(land.values, floor, land.log_levels)
    with np.errstate(invalid="ignore", over="ignore"):
        Z = np.where(np.isfinite(land.values), land.values, np.nanmax(land.values))
        if log:
            Z = np.clip(Z - floor, lv[0], None)
    X, Y = np.meshgrid(land.x, land.y)
    kw: dict[str, Any] = {"norm": LogNorm(lv[0], lv[-1])} if log else {}
    filled = ax.contourf(X, Y, Z, levels=lv, cmap=CMAP, alpha=FILL_ALPHA, **kw)
    ax.contour(X, Y, Z, levels=lv, colors="#3b3b3b", linewidths=0.5, alpha=0.5, **kw)
    filled.log = log  # type: ignore[attr-defined]
    ax.set_xlim(land.x[0], land.x[-1])
    ax.set_ylim(land.y[0], land.y[-1])
    ax.set_xlabel(land.labels[0])
    ax.set_ylabel(land.labels[1])
    if land.kind == "function":
        ax.set_aspect("equal")  # the gradient is normal to the contours only at equal scales
    return filled


def _colorbar(fig: Any, mappable: Any, axes: Any, land: Landscape) -> None:
    from matplotlib.ticker import LogFormatterSciNotation

    star = "f*" if land.minimum is not None else "the grid's minimum"
    what = "f" if land.kind == "function" else "training objective"
    label = f"{what} − {star} (log scale)" if mappable.log else what
    bar = fig.colorbar(mappable, ax=axes, location="right", shrink=0.85, aspect=30)
    if mappable.log:
        lo, hi = mappable.norm.vmin, mappable.norm.vmax
        decades = 10.0 ** np.arange(math.ceil(math.log10(lo)), math.floor(math.log10(hi)) + 1)
        step = max(1, math.ceil(len(decades) / 8))
        bar.set_ticks(decades[::step])
        bar.ax.yaxis.set_major_formatter(LogFormatterSciNotation())
        bar.ax.minorticks_off()
    bar.set_label(label)


def _path_label(p: Trajectory, land: Landscape, sep: str = "  ") -> str:
    label = f"{p.optimizer}  lr {p.lr:.3g}"
    if p.diverged_at is not None:
        unit = "step" if land.kind == "function" else "epoch"
        return f"{label}{sep}diverged at {unit} {p.diverged_at}"
    label += f"{sep}f {_num(p.final)}"
    if p.explained is not None:
        label += f"  plane holds {share(p.explained)}"
    return label


def _draw_path(ax: Any, p: Trajectory, i: int, label: str | None) -> None:
    s = style(i)
    pts = p.points
    every = max(1, len(pts) // 25)
    ax.plot(pts[:, 0], pts[:, 1], lw=4.0, color="white", alpha=0.8, solid_capstyle="round")
    ax.plot(pts[:, 0], pts[:, 1], lw=1.8, marker="o", ms=3, markevery=every, label=label, **s)
    end = "X" if p.diverged_at is not None else "o"
    ax.plot(
        pts[-1, 0], pts[-1, 1], marker=end, ms=8, color=s["color"], mec="white", mew=0.8,
        ls="none", zorder=5,
    )  # fmt: skip


def _marks(ax: Any, land: Landscape, start: Any, start_label: str = "start") -> None:
    ax.plot(
        *start, marker="o", ms=8, mfc="white", mec="black", mew=1.5, ls="none",
        label=start_label, zorder=6, clip_on=False,
    )  # fmt: skip
    m = np.array(land.marks)
    ax.plot(
        m[:, 0], m[:, 1], marker="*", ms=16, mfc="white", mec="black", mew=1.2, ls="none",
        label=land.mark_label, zorder=6, clip_on=False,
    )  # fmt: skip


def _tune_panel(ax: Any, land: Landscape) -> None:
    """Final value against the lr tried, one line per optimizer; diverged lrs as × in a band
    above the plot, the chosen lr ringed."""
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    top = blended_transform_factory(ax.transData, ax.transAxes)
    floor = land.minimum if land.minimum is not None else 0.0
    for i, p in enumerate(land.paths):
        s = style(i)
        c = p.candidates or []
        ok = [(d["lr"], max(d["final"] - floor, 1e-300)) for d in c if not d["diverged"]]
        bad = [d["lr"] for d in c if d["diverged"]]
        if ok:
            ax.plot(*zip(*ok, strict=True), marker="o", ms=3, lw=1.2, **s)
        if bad:
            ax.plot(bad, [1.04 + 0.05 * i] * len(bad), "x", ms=5, mew=1.5, color=s["color"],
                    transform=top, clip_on=False)  # fmt: skip
        if p.diverged_at is None:
            ax.plot(p.lr, max(p.final - floor, 1e-300), "o", ms=10, mfc="none", mec=s["color"],
                    mew=1.6)  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate tried")
    ax.set_ylabel("final f − f*" if land.minimum is not None else "final f")
    ax.set_title(
        "the lr grid: ringed, the lr chosen (lowest final value); × above, diverged",
        fontsize=10,
        pad=8 + 4 * len(land.paths),
    )
    ax.grid(True, which="major", alpha=0.3)
    names = [Line2D([], [], lw=1.6, **style(i)) for i in range(len(land.paths))]
    ax.legend(names, [p.optimizer for p in land.paths], loc="center left",
              bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize=9)  # fmt: skip


def _legend_below(fig: Any, ax: Any, ncol: int = 2) -> None:
    """The legend of ``ax`` under the (sub)figure, outside the data."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False, fontsize=9)


def _wrap(text: str, width: int = 95) -> str:
    return "\n".join(textwrap.wrap(text, width))


def _function_title(land: Landscape) -> str:
    title = land.title
    tried = [p.candidates for p in land.paths if p.candidates]
    if not tried and land.info.get("lr") is None:
        name = land.info["function"]["name"]
        title += f" · each optimizer at {name}'s default lr for it (functions2d.py)"
    if tried:
        lrs = [c["lr"] for c in tried[0]]
        title += (
            f" · each lr tuned by the final value over {len(lrs)} lrs from {lrs[0]:.3g} to "
            f"{lrs[-1]:.3g}"
        )
    return title


def figure(land: Landscape, layout: str = "auto") -> Any:
    """The matplotlib Figure of ``land`` (``layout``: overlay, panels, or auto: overlay up to
    four paths). The caller closes it."""
    if layout not in LAYOUTS:
        raise ConfigError(f"--layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    plt = require_matplotlib()
    if land.kind == "data":
        return _skipped(_data_figure(plt, land), land)
    if layout == "auto":
        layout = "overlay" if len(land.paths) <= OVERLAY_MAX else "panels"
    tuned = any(p.tuned for p in land.paths)
    start = land.info["start"]
    x0, x1, y0, y1 = land.x[0], land.x[-1], land.y[0], land.y[-1]
    aspect = (y1 - y0) / (x1 - x0)
    if layout == "overlay":
        map_height = max(2.5, min(6.0, 6.0 * aspect)) + 1.4
        tune_height = 3.4 if tuned else 0.0
        fig = plt.figure(figsize=(WIDTH, map_height + tune_height + 0.8), layout="constrained",
                         dpi=DPI)  # fmt: skip
        top, bottom = (
            fig.subfigures(2, 1, height_ratios=[map_height, tune_height]) if tuned else (fig, None)
        )
        ax = top.subplots()
        mappable = _contours(ax, land)
        for i, p in enumerate(land.paths):
            _draw_path(ax, p, i, _path_label(p, land))
        _marks(ax, land, start)
        _colorbar(top, mappable, ax, land)
        _legend_below(top, ax, 2 if len(land.paths) > 2 else 3)
        if bottom is not None:
            _tune_panel(bottom.subplots(), land)
    else:
        n = len(land.paths)
        cols = 2 if n <= 4 else 3
        rows = math.ceil(n / cols)
        panel = (WIDTH - 2.3) / cols
        panels_height = rows * (panel * aspect + 0.3) + 1.0
        tune_height = 3.4 if tuned else 0.0
        fig = plt.figure(figsize=(WIDTH, panels_height + tune_height + 0.8), layout="constrained",
                         dpi=DPI)  # fmt: skip
        top, bottom = (
            fig.subfigures(2, 1, height_ratios=[panels_height, tune_height])
            if tuned
            else (fig, None)
        )
        axes = top.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
        from matplotlib.ticker import MaxNLocator

        # few x ticks: the end labels of neighbouring panels would touch ("5.0−5.0")
        axes[0, 0].xaxis.set_major_locator(MaxNLocator(4, prune="upper"))
        mappable = None
        for k, ax in enumerate(axes.flat):
            if k >= n:
                ax.set_axis_off()
                continue
            p = land.paths[k]
            mappable = _contours(ax, land)
            _draw_path(ax, p, k, None)
            _marks(ax, land, start)
            ax.set_title(_path_label(p, land, "\n"), fontsize=9, color=style(k)["color"])
            if k % cols:
                ax.set_ylabel("")
            if k < n - cols:
                ax.set_xlabel("")
            else:  # the lowest panel of its column: its x axis is the column's
                ax.xaxis.set_tick_params(labelbottom=True)
        _colorbar(top, mappable, axes, land)
        _legend_below(top, axes.flat[0])
        if bottom is not None:
            _tune_panel(bottom.subplots(), land)
    fig.suptitle(_wrap(_function_title(land)), fontsize=11)
    return _skipped(fig, land)


def _skipped(fig: Any, land: Landscape) -> Any:
    """Name the optimizers left out (their reasons are in the table and the JSON)."""
    if land.skipped:
        names = ", ".join(s["optimizer"] for s in land.skipped)
        fig.supxlabel(f"skipped (the rule refuses this model): {names}", fontsize=8)
    return fig


def _data_figure(plt: Any, land: Landscape) -> Any:
    fig = plt.figure(figsize=(WIDTH, 11.0), layout="constrained", dpi=DPI)
    top, bottom = fig.subfigures(2, 1, height_ratios=[7.0, 3.6])
    ax = top.subplots()
    mappable = _contours(ax, land)
    for i, p in enumerate(land.paths):
        _draw_path(ax, p, i, _path_label(p, land))
    _marks(ax, land, land.paths[0].points[0], "θ0 (start)")
    _colorbar(top, mappable, ax, land)
    _legend_below(top, ax, 2)
    line = bottom.subplots()
    alphas = land.alphas if land.alphas is not None else np.array([])
    for i, p in enumerate(land.paths):
        if p.interpolation is not None:
            line.plot(alphas, p.interpolation, lw=1.7, label=p.optimizer, **style(i))
    if land.minimum is not None:
        line.axhline(land.minimum, color="black", lw=0.8, ls="--")
        line.annotate("f*", (0.0, land.minimum), xycoords=("axes fraction", "data"),
                      xytext=(4, 3), textcoords="offset points", fontsize=9)  # fmt: skip
    curves = [p.interpolation for p in land.paths if p.interpolation is not None]
    finite = np.concatenate(curves) if curves else np.array([])
    finite = finite[np.isfinite(finite)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
        line.set_yscale("log")
    for a, text in ((0.0, "θ0"), (1.0, "final θ")):
        line.axvline(a, color="black", lw=0.8, ls=":")
        line.annotate(text, (a, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                      textcoords="offset points", fontsize=9)  # fmt: skip
    line.set_xlabel("α")
    line.set_ylabel("training objective")
    line.set_title("1-D interpolation f(θ0 + α(θ_final − θ0)), Goodfellow et al. 2015",
                   fontsize=10)  # fmt: skip
    line.grid(True, alpha=0.3)
    line.legend(loc="upper right", fontsize=9, frameon=False)
    plane = land.info["plane"]
    fig.suptitle(
        land.title
        + "\n"
        + _wrap(
            f"Plane spanned by {plane['spanned_by']}. A projected path is not the path: the "
            "legend gives the share of each path's variance the plane holds."
        ),
        fontsize=10,
    )
    return fig


def plot_landscape(
    land: Landscape,
    output: str | FilePath,
    *,
    layout: str = "auto",
    dpi: float = DPI,
    size: tuple[float, float] | None = None,
) -> FilePath:
    """Draw ``land`` to ``output`` (.png, .svg or .pdf) at ``dpi``, ``size`` inches if given."""
    output = check_plot_name(output)
    plt = require_matplotlib()
    fig = figure(land, layout)
    try:
        save_figure(fig, output, dpi=dpi, size=size)
    finally:
        plt.close(fig)
    return output
