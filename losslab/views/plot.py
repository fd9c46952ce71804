"""Comparison plots of a study or a run, drawn from the tidy records a study saves
(matplotlib: ``losslab[plot]``, imported only when drawing).

The input is data, never a live object: ``runs`` holds one dict per run as runs.csv does (run,
optimizer, lr, loss, batch_size, hidden, layers, seed, status, epochs_run), ``curves`` one dict
per run and epoch as curves.csv does (run, epoch, train_loss, test_loss, val_loss, objective,
seconds, one column per metric), ``optima`` each loss's exact optimum per seed (the study's
reference, as in config.json). So a saved study is redrawn exactly.

Small multiples: one row of panels per loss, batch size and architecture the grid varies, each
panel with its own y-axis. Where the optimum is known, the suboptimality f − f* on a log axis
against epoch and against wall time (benchopt's headline figure); otherwise the training, validation
and test loss and the metric. With three or more learning rates, the final value against the
learning rate (DeepOBS's sensitivity plot). Colour tells the optimizer (beyond eight, a line
style and a marker too, where each optimizer ran one lr), the line style the learning rate (where
one ran several); diverged runs end in a cross. A metric axis always shows every epoch (a logit
axis where a linear one would squash the endings); a title too wide for its panel is broken.
The lr range test's figure is :mod:`~losslab.views.lr_find_plot`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from losslab.errors import DataError
from losslab.study.summary import UNAVERAGED
from losslab.views.figures import (
    DPI,
    check_plot_name,
    cycle,
    require_matplotlib,
    save_figure,
)

PANEL_WIDTH, PANEL_HEIGHT = 3.5, 2.7  # inches per panel
# the line style tells an optimizer's lrs apart (where one has several)
DASHES: tuple[Any, ...] = ("-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)), (0, (2, 1)))
FACETS = ("loss", "batch_size", "hidden", "layers")  # a row of panels per value when varied
METRIC_NAMES = {"r2": "R²"}
LOSS_COLUMNS = {"train_loss": "training", "val_loss": "validation", "test_loss": "test"}
STYLE = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "path",  # glyphs as paths: the SVG shows the same text without the font
}


# --------------------------------------------------------------------------- the data


@dataclass
class _Config:
    """One configuration (facet, optimizer, lr): its seeds' runs and their curves."""

    facet: tuple
    optimizer: str
    lr: float
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["status"] != "diverged"]

    @property
    def diverged(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["status"] == "diverged"]


def _columns(curves: Sequence[dict[str, Any]]) -> dict[int, dict[str, np.ndarray]]:
    """run -> column -> values by epoch (NaN where empty)."""
    rows: dict[int, list[dict[str, Any]]] = {}
    for row in curves:
        rows.setdefault(row["run"], []).append(row)
    out = {}
    for run, points in rows.items():
        points.sort(key=lambda r: r["epoch"])
        keys = dict.fromkeys(k for p in points for k in p)
        out[run] = {
            k: np.array([np.nan if p.get(k) is None else float(p[k]) for p in points]) for k in keys
        }
    return out


def _aggregate(series: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, min, max) per epoch over the runs that reached it (NaN where none did)."""
    length = max(len(s) for s in series)
    stack = np.full((len(series), length), np.nan)
    for i, s in enumerate(series):
        stack[i, : len(s)] = s
    finite = np.isfinite(stack)
    count = finite.sum(axis=0)
    total = np.where(finite, stack, 0.0).sum(axis=0)
    mean = np.divide(total, count, out=np.full(length, np.nan), where=count > 0)
    lo = np.where(finite, stack, np.inf).min(axis=0)
    hi = np.where(finite, stack, -np.inf).max(axis=0)
    return mean, np.where(count > 0, lo, np.nan), np.where(count > 0, hi, np.nan)


def _varied(runs: Sequence[dict[str, Any]]) -> list[str]:
    """The facets that get rows of their own: the losses whenever there are several (their
    values do not share an axis); a batch size or architecture only where one optimizer ran
    with several (gd's full batch beside sgd's 32 is the optimizer, not a facet)."""
    out = []
    for k in FACETS:
        per_optimizer: dict[str, set] = {}
        for r in runs:
            per_optimizer.setdefault(r["optimizer"], set()).add(_key(r.get(k)))
        values = {v for vs in per_optimizer.values() for v in vs}
        if len(values) > 1 and (k == "loss" or max(map(len, per_optimizer.values())) > 1):
            out.append(k)
    return out


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _facet_label(keys: list[str], facet: tuple) -> str:
    parts = []
    for key, value in zip(keys, facet, strict=True):
        if key == "batch_size":
            parts.append("full batch" if not value else f"batch {value}")
        elif key == "hidden":
            parts.append(f"hidden {value}" if value else "no hidden layer")
        else:
            parts.append(str(value))
    return " · ".join(parts)


def _styles(runs: Sequence[dict[str, Any]]) -> dict[tuple[str, float], dict[str, Any]]:
    """(optimizer, lr) -> colour, marker and line style. Where each optimizer ran one lr, the
    colour, then each further round of the colours a line style and a marker, tells every
    optimizer apart; where one ran several, the line style tells the rank of its lr."""
    optimizers = list(dict.fromkeys(r["optimizer"] for r in runs))
    lrs = {o: sorted({float(r["lr"]) for r in runs if r["optimizer"] == o}) for o in optimizers}
    single = all(len(v) == 1 for v in lrs.values())
    out = {}
    for i, name in enumerate(optimizers):
        look = cycle(i)
        for j, lr in enumerate(lrs[name]):
            out[(name, lr)] = {
                "color": look["color"],
                "marker": look["marker"],
                "linestyle": look["linestyle"] if single else DASHES[j % len(DASHES)],
                # beyond five lrs the dashes repeat, a lighter line tells them apart
                "alpha": 1.0 if j < len(DASHES) else 0.55,
            }
    return out


@dataclass
class _Panel:
    kind: str  # gap, train_loss, val_loss, test_loss, metric, lr
    x: str = "epoch"  # epoch or seconds (lr panels: the learning rate)


@dataclass
class _Group:
    """The configurations of one facet (a loss, batch size, architecture) and their panels."""

    label: str
    configs: list[_Config]
    panels: list[_Panel] = field(default_factory=list)
    final: str = "train_loss"  # what ranks and what the lr panel shows: gap, val_loss, train_loss
    best_only: bool = False  # crowded: the curves show each optimizer at its best lr

    @property
    def runs(self) -> list[dict[str, Any]]:
        return [r for c in self.configs for r in c.runs]

    def final_value(self, config: _Config) -> float | None:
        """The mean over the finished seeds of the run's final ``final`` (as runs.csv has it)."""
        values = [r[self.final] for r in config.finished if r.get(self.final) is not None]
        if self.final == "gap":
            values = [max(v, GAP_FLOOR) for v in values]
        return math.fsum(values) / len(values) if values else None

    def curve_configs(self) -> list[_Config]:
        if not self.best_only:
            return self.configs
        best: dict[str, _Config] = {}
        for c in self.configs:
            value = self.final_value(c)
            incumbent = best.get(c.optimizer)
            if value is not None and (incumbent is None or value < self.final_value(incumbent)):
                best[c.optimizer] = c
        return list(best.values())


GAP_FLOOR = 1e-15  # f − f* below float64's resolution of f (relative to max(1, |f*|))
CROWDED = 12  # more configurations than this in a panel: each optimizer at its best lr


def _metric_column(run: dict[str, Any], columns: dict[int, dict[str, np.ndarray]]) -> str | None:
    """The run's metric column: the first one other than the losses with a value."""
    known = {"run", "epoch", "train_loss", "test_loss", "val_loss", "objective", "seconds", "lr"}
    for name, values in columns.get(run["run"], {}).items():
        if name not in known and not name.startswith(("train_", "val_", "test_")):
            if np.isfinite(values).any():
                return name
    return None


# --------------------------------------------------------------------------- the figure


@dataclass
class _Drawing:
    """What the panels of one figure share."""

    columns: dict[int, dict[str, np.ndarray]]
    optima: dict[str, list[float | None]]
    styles: dict[tuple[str, float], dict[str, Any]]
    drawn: dict[tuple[str, float], None] = field(default_factory=dict)  # legend entries, ordered
    diverged: bool = False
    bands: bool = False

    def optimum(self, run: dict[str, Any]) -> float | None:
        per_seed = self.optima.get(run["loss"]) or []
        return per_seed[int(run.get("seed") or 0) % len(per_seed)] if per_seed else None

    def values(self, run: dict[str, Any], panel: _Panel) -> np.ndarray:
        cols = self.columns.get(run["run"], {})
        empty = np.full(len(cols.get("epoch", [])), np.nan)
        if panel.kind == "gap":
            optimum = self.optimum(run)
            if optimum is None or "objective" not in cols:
                return empty
            gap = cols["objective"] - optimum
            # float64 cannot tell f from f* closer than this: such a gap is drawn there
            floor = GAP_FLOOR * max(1.0, abs(optimum))
            return np.where(np.isfinite(gap), np.maximum(gap, floor), np.nan)
        if panel.kind == "metric":
            name = _metric_column(run, self.columns)
            return cols[name] if name else empty
        return cols.get(panel.kind, empty)

    def xs(self, run: dict[str, Any], panel: _Panel, n: int) -> np.ndarray:
        if panel.x == "seconds":
            return self.columns.get(run["run"], {}).get("seconds", np.full(n, np.nan))[:n]
        return np.arange(1, n + 1, dtype=float)


def _group(label: str, configs: list[_Config], d: _Drawing) -> _Group:
    """A facet's panels: suboptimality against epoch and wall time where the optimum is known,
    else the training (validation, test) loss and the metric; an lr panel with >= 3 lrs."""
    group = _Group(label, configs)
    runs = group.runs
    present = {
        k for r in runs for k, v in d.columns.get(r["run"], {}).items() if np.isfinite(v).any()
    }
    gap_panel = _Panel("gap")
    if any(np.isfinite(d.values(r, gap_panel)).any() for r in runs):
        group.panels = [gap_panel]
        if "seconds" in present:
            group.panels.append(_Panel("gap", "seconds"))
    else:
        group.panels = [_Panel(k) for k in LOSS_COLUMNS if k in present or k == "train_loss"]
        if any(_metric_column(r, d.columns) for r in runs):
            group.panels.append(_Panel("metric"))
    if any(r.get("gap") is not None for r in runs) and d.optima:
        group.final = "gap"
    elif any(r.get("val_loss") is not None for r in runs):
        group.final = "val_loss"
    lrs: dict[str, set[float]] = {}
    for c in configs:
        lrs.setdefault(c.optimizer, set()).add(c.lr)
    if max(len(v) for v in lrs.values()) >= 3:
        group.panels.append(_Panel("lr", "lr"))
        group.best_only = len(configs) > CROWDED
    return group


def _line(ax: Any, x: np.ndarray, y: np.ndarray, style: dict[str, Any], **kw: Any) -> None:
    marker = style["marker"]
    ax.plot(
        x,
        y,
        color=style["color"],
        linestyle=style["linestyle"],
        alpha=style["alpha"] * kw.pop("fade", 1.0),
        marker=marker or None,
        markevery=max(1, len(x) // 6) if marker else None,
        markersize=4.5,
        **kw,
    )


def _draw_curves(ax: Any, configs: list[_Config], panel: _Panel, d: _Drawing) -> list[float]:
    """The curves of one panel; returns the values that set its y-range (finished runs)."""
    shown: list[float] = []
    ends: list[tuple[float, float, str]] = []
    fallback: list[float] = []
    finals: list[float] = []  # each finished configuration's last mean value
    for c in configs:
        style = d.styles[(c.optimizer, c.lr)]
        d.drawn[(c.optimizer, c.lr)] = None
        finished = [r for r in c.finished if len(d.values(r, panel))]
        if finished:
            ys = [d.values(r, panel) for r in finished]
            mean, lo, hi = _aggregate(ys)
            x = np.arange(1, len(mean) + 1, dtype=float)
            if panel.x == "seconds":  # each epoch at its mean time over the seeds
                x = _aggregate([d.xs(r, panel, len(y)) for r, y in zip(finished, ys, strict=True)])[
                    0
                ]
            _line(ax, x, mean, style, lw=1.6)
            if len(finished) > 1 and panel.kind != "metric":  # accuracy bands are noise
                ax.fill_between(x, lo, hi, color=style["color"], alpha=0.15, lw=0)
                d.bands = True
            # the band may reach far below the mean (one seed's test loss near 0): the y-range
            # follows the means and the band's top, and the band's bottom down to a decade
            # under the lowest mean, beyond which it is cut rather than squash every curve
            means = [float(v) for v in mean if math.isfinite(v)]
            floor = min(means) / 10 if means and min(means) > 0 else -math.inf
            shown.extend(means)
            shown.extend(v for v in hi if math.isfinite(v))
            shown.extend(max(v, floor) for v in lo if math.isfinite(v))
            if np.isfinite(mean).any():
                finals.append(float(mean[np.isfinite(mean)][-1]))
        for r in c.diverged:
            y = d.values(r, panel)
            x = d.xs(r, panel, len(y))
            keep = np.isfinite(y) & np.isfinite(x)
            if keep.any():
                _line(ax, x, y, style, lw=1.0, fade=0.8)
                ends.append((float(x[keep][-1]), float(y[keep][-1]), style["color"]))
            elif panel.x == "epoch":  # diverged in its first epoch: a cross at the top
                ends.append((1.0, math.inf, style["color"]))
            d.diverged = True
            fallback.extend(float(v) for v in y[keep])
    ax._losslab_ends = ends  # crossed once the y-range is set
    ax._losslab_finals = finals
    return shown or fallback  # every run diverged: the diverging curves set the range


def _set_range(ax: Any, shown: list[float], *, log: bool) -> None:
    """The y-range of every value in ``shown``, with a margin (never less: no data hidden)."""
    if not shown:
        return
    lo, hi = min(shown), max(shown)
    if log:
        from matplotlib.ticker import NullFormatter

        lo, hi = max(lo, 1e-300), max(hi, 1e-300)
        span = math.log10(hi / lo) if hi > lo else 1.0
        pad = 10 ** (0.06 * span)
        ax.set_ylim(lo / pad, hi * pad)
        if span >= 1:  # a labelled power of ten per decade is enough
            ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        pad = 0.06 * (hi - lo) if hi > lo else 0.05 * max(1.0, abs(hi))
        ax.set_ylim(lo - pad, hi + pad)


def _logit_spreads(shown: list[float], finals: list[float]) -> bool:
    """Whether a logit axis (for shares in (0, 1), as accuracy) shows the endings apart where
    a linear one would squash them under the early epochs: they fill under a quarter of the
    linear range and at least twice that share of the logit range."""
    if not (shown and finals) or not (0 < min(shown) and max(shown) < 1):
        return False
    lo, hi, end = min(shown), max(shown), min(finals)
    if hi <= lo:
        return False
    linear = (hi - end) / (hi - lo)
    logit = [math.log(p / (1 - p)) for p in (lo, hi, end)]
    return linear < 0.25 and (logit[1] - logit[2]) / (logit[1] - logit[0]) > 2 * linear


def _set_logit_range(ax: Any, shown: list[float]) -> None:
    """A logit y-axis over every value in ``shown`` with a margin of 6% of its logit span,
    labelled in plain decimals (0.5, 0.9, 0.99) rather than matplotlib's 1 − 10⁻²."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    a, b = (math.log(p / (1 - p)) for p in (min(shown), max(shown)))
    pad = 0.06 * (b - a)
    low, high = 1 / (1 + math.exp(-(a - pad))), 1 / (1 + math.exp(-(b + pad)))
    ax.set_yscale("logit")
    ax.set_ylim(low, high)
    ticks = [t for t in LOGIT_TICKS if low <= t <= high]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())


LOGIT_TICKS = (0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999)


def _cross(ax: Any, x: float, y: float, colour: str, stacked: dict[float, int]) -> None:
    """A diverged run's cross at (x, y), or on the top edge when y is above the axes; crosses
    at one x on the edge stack downwards instead of hiding each other."""
    from matplotlib.transforms import blended_transform_factory

    style = {"color": colour, "ms": 8, "mew": 2, "zorder": 5, "clip_on": False}
    top = ax.get_ylim()[1]
    if math.isfinite(y) and y <= top:
        ax.plot([x], [y], "x", **style)
        return
    k = stacked[x] = stacked.get(x, -1) + 1
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    ax.plot([x], [1.0 - 0.07 * k], "x", transform=trans, **style)


def _draw_sensitivity(ax: Any, group: _Group, d: _Drawing) -> list[float]:
    """Final value (mean over finished seeds) against the learning rate, per optimizer; a
    cross on the top edge at each lr where a run diverged."""
    shown: list[float] = []
    crosses: list[tuple[float, str]] = []
    for name in dict.fromkeys(c.optimizer for c in group.configs):
        mine = sorted((c for c in group.configs if c.optimizer == name), key=lambda c: c.lr)
        style = d.styles[(name, mine[0].lr)]
        points = [(c.lr, group.final_value(c)) for c in mine]
        points = [(x, y) for x, y in points if y is not None]
        crosses += [(c.lr, style["color"]) for c in mine if c.diverged]
        ax.plot(
            [x for x, _ in points],
            [y for _, y in points],
            color=style["color"],
            marker=style["marker"] or "o",
            ms=5,
            lw=1.4,
        )
        shown.extend(y for _, y in points)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    if crosses:
        d.diverged = True
    ax._losslab_crosses = crosses
    return shown


def _title(facet: str, what: str) -> str:
    return f"{facet} — {what}" if facet else what


def _draw_panel(ax: Any, panel: _Panel, group: _Group, d: _Drawing) -> None:
    runs = group.runs
    loss = " / ".join(sorted({r["loss"] for r in runs}))
    columns = [d.columns.get(r["run"], {}) for r in runs]
    has_test = any(np.isfinite(c.get("test_loss", [])).any() for c in columns)
    stacked: dict[float, int] = {}
    if panel.kind == "lr":
        gap = group.final == "gap"
        what = "f − f*" if gap else f"{LOSS_COLUMNS[group.final]} loss"
        shown = _draw_sensitivity(ax, group, d)
        log = bool(shown) and min(shown) > 0 and (gap or max(shown) / min(shown) > 3)
        if log:
            ax.set_yscale("log")
        _set_range(ax, shown, log=log)
        for x, colour in ax._losslab_crosses:
            _cross(ax, x, math.inf, colour, stacked)
        ax.set_title(_title(group.label, f"final {what} vs lr"))
        ax.set_ylabel(f"final {what}" + ("" if gap else f" ({loss})"))
        ax.grid(True, which="major", alpha=0.3)
        return
    shown = _draw_curves(ax, group.curve_configs(), panel, d)
    best = " (best lr)" if group.best_only else ""
    if panel.kind == "gap":
        ax.set_yscale("log")
        _set_range(ax, shown, log=True)
        against = "wall time" if panel.x == "seconds" else "epoch"
        ax.set_title(_title(group.label, f"f − f* vs {against}{best}"))
        ax.set_ylabel("f − f*  (training objective)")
    elif panel.kind == "metric":
        names = sorted({_metric_column(r, d.columns) or "" for r in runs} - {""})
        label = " / ".join(METRIC_NAMES.get(n, n) for n in names)
        # every epoch stays on the axis; a logit axis where a linear one would squash the
        # endings under the early epochs (accuracy from 0.1 to 0.97)
        logit = _logit_spreads(shown, ax._losslab_finals)
        if logit:
            _set_logit_range(ax, shown)
        else:
            _set_range(ax, shown, log=False)
        split = "test" if has_test else "training"
        ax.set_title(_title(group.label, f"{split} {label}{best}"))
        ax.set_ylabel(label + (" (logit scale)" if logit else ""))
    else:
        log = bool(shown) and min(shown) > 0 and max(shown) / min(shown) > 3
        if log:
            ax.set_yscale("log")
        _set_range(ax, shown, log=log)
        ax.set_title(_title(group.label, f"{LOSS_COLUMNS[panel.kind]} loss{best}"))
        ax.set_ylabel(loss)
    ax.set_xlabel("wall time (s)" if panel.x == "seconds" else "epoch")
    ax.grid(True, which="major", alpha=0.3)
    for x, y, colour in ax._losslab_ends:
        _cross(ax, x, y, colour, stacked)


def _legend_entries(d: _Drawing) -> tuple[list, list[str], int]:
    """(handles, labels, columns): one entry per (optimizer, lr) drawn; when every optimizer has
    the same lrs, a table of optimizers (rows) × lrs (columns), then a column of keys."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    def handle(style: dict[str, Any]) -> Any:
        return Line2D([], [], color=style["color"], linestyle=style["linestyle"], lw=1.6,
                      alpha=style["alpha"], marker=style["marker"] or None, ms=4.5)  # fmt: skip

    blank = Line2D([], [], linestyle="none")
    keys: list[tuple[Any, str]] = []
    if d.bands:
        keys.append((Patch(color="0.5", alpha=0.3, lw=0), "min–max over seeds"))
    if d.diverged:
        keys.append((Line2D([], [], color="0.2", marker="x", ls="none", ms=7, mew=2), "diverged"))
    pairs = [p for p in d.styles if p in d.drawn]
    optimizers = list(dict.fromkeys(name for name, _ in pairs))
    lrs = sorted({lr for _, lr in pairs})
    if len(lrs) > 1 and len(pairs) == len(optimizers) * len(lrs):
        rows = max(len(optimizers), len(keys))
        handles, labels = [], []
        for lr in lrs:  # a legend fills column by column
            for i in range(rows):
                if i < len(optimizers):
                    handles.append(handle(d.styles[(optimizers[i], lr)]))
                    labels.append(f"{optimizers[i]}, lr {lr:g}")
                else:
                    handles.append(blank)
                    labels.append("")
        for i in range(rows if keys else 0):
            handles.append(keys[i][0] if i < len(keys) else blank)
            labels.append(keys[i][1] if i < len(keys) else "")
        return handles, labels, len(lrs) + bool(keys)
    entries = [(handle(d.styles[p]), f"{p[0]}, lr {p[1]:g}") for p in pairs] + keys
    return [h for h, _ in entries], [label for _, label in entries], min(4, len(entries))


def study_figure(
    runs: Sequence[dict[str, Any]],
    curves: Sequence[dict[str, Any]],
    *,
    optima: dict[str, list[float | None]] | None = None,
    title: str = "",
    skip: Sequence[str] = UNAVERAGED,
    size: tuple[float, float] | None = None,
) -> Any:
    """The comparison figure of runs (as runs.csv) and their curves (as curves.csv): a
    matplotlib Figure, one row of panels per facet the grid varies (``size``: inches, default
    by the panels); the caller closes it.

    Runs whose status is in ``skip`` are left out (a study's interrupted and failed runs, never
    averaged).
    Raises DataError when no run has anything to draw.
    """
    plt = require_matplotlib()
    # compare --tune's trials (phase tune) chose the settings; the figure is of the final runs
    runs = [r for r in runs if r["status"] not in skip and r.get("phase", "final") == "final"]
    columns = _columns(curves)
    if not any(len(columns.get(r["run"], {}).get("epoch", [])) for r in runs):
        what = "every run diverged in its first epoch" if runs else "no run finished"
        raise DataError(f"nothing to draw: {what}")
    facets = _varied(runs)
    configs: dict[tuple, _Config] = {}
    for r in runs:
        facet = tuple(_key(r.get(k)) for k in facets)
        key = (facet, r["optimizer"], float(r["lr"]))
        configs.setdefault(key, _Config(facet, r["optimizer"], float(r["lr"]))).runs.append(r)
    by_facet: dict[tuple, list[_Config]] = {}
    for c in configs.values():
        by_facet.setdefault(c.facet, []).append(c)
    d = _Drawing(columns, dict(optima or {}), _styles(runs))
    groups = [_group(_facet_label(facets, f), cs, d) for f, cs in by_facet.items()]
    widest = max(len(g.panels) for g in groups)
    ncols = 2 if widest == 4 else min(widest, 3)
    nrows = sum(math.ceil(len(g.panels) / ncols) for g in groups)
    seeds = max(len(c.runs) for c in configs.values())
    with plt.rc_context(STYLE):
        fig = plt.figure(
            figsize=size or (PANEL_WIDTH * ncols + 0.3, PANEL_HEIGHT * nrows + 1.4),
            dpi=DPI,
            layout="constrained",
        )
        grid = fig.add_gridspec(nrows, ncols)
        row = 0
        for group in groups:
            for i, panel in enumerate(group.panels):
                ax = fig.add_subplot(grid[row + i // ncols, i % ncols])
                _draw_panel(ax, panel, group, d)
            row += math.ceil(len(group.panels) / ncols)
        handles, labels, ncol = _legend_entries(d)
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False)
        notes = []
        if seeds > 1:
            band = ", band: min–max" if d.bands else ""
            metric = any(p.kind == "metric" for g in groups for p in g.panels)
            notes.append(
                f"line: mean over {seeds} seeds{band}"
                + (" (metric: mean)" if metric and band else "")
            )
        if any(p.kind == "gap" for g in groups for p in g.panels):
            notes.append("f* = exact optimum on each seed's training split")
        if any(g.best_only for g in groups):
            what = {"gap": "final f − f*", "val_loss": "final validation loss"}
            final = next(g.final for g in groups if g.best_only)
            notes.append(f"best lr: lowest {what.get(final, 'final training loss')}")
        if d.diverged:
            notes.append("× = last epoch before a run diverged")
        fig.suptitle("\n".join([title, *_wrap(" · ".join(notes), fig.get_figwidth())]))
        _fit_titles(fig, ncols)
    return fig


def _fit_titles(fig: Any, ncols: int) -> None:
    """Break panel titles wider than their panel (a long facet: "squared-epsilon-insensitive —
    test loss"): every facet on a line of its own, then at spaces, so that no title runs into
    its neighbour or off the figure."""
    import textwrap

    renderer = fig.canvas.get_renderer()
    room = fig.bbox.width / ncols - 1.0 * fig.dpi  # the panel, less its y-axis labels

    def width(ax: Any) -> float:
        return ax.title.get_window_extent(renderer).width if ax.get_title() else 0.0

    if all(width(ax) <= room for ax in fig.axes):
        return
    for ax in fig.axes:
        ax.set_title(ax.get_title().replace(" — ", "\n", 1))
        if width(ax) > room:
            text = ax.get_title()
            chars = max(12, int(max(map(len, text.split("\n"))) * room / width(ax)))
            ax.set_title(
                "\n".join(w for line in text.split("\n") for w in textwrap.wrap(line, chars))
            )


def _wrap(text: str, inches: float) -> list[str]:
    """Lines of ``text`` that fit a figure ``inches`` wide at the title's size."""
    import textwrap

    return textwrap.wrap(text, width=max(40, int(inches * 13)), break_on_hyphens=False)


def plot_study(
    runs: Sequence[dict[str, Any]],
    curves: Sequence[dict[str, Any]],
    output: str | Path,
    *,
    optima: dict[str, list[float | None]] | None = None,
    title: str = "",
    skip: Sequence[str] = UNAVERAGED,
    dpi: float = DPI,
    size: tuple[float, float] | None = None,
) -> Path:
    """Draw :func:`study_figure` to ``output`` (.png, .svg or .pdf) at ``dpi``."""
    output = check_plot_name(output)
    plt = require_matplotlib()
    fig = study_figure(runs, curves, optima=optima, title=title, skip=skip, size=size)
    try:
        return save_figure(fig, output, dpi=dpi)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- saved records


@dataclass
class Drawable:
    """The tidy records of a saved study or run, ready for :func:`study_figure`."""

    runs: list[dict[str, Any]]
    curves: list[dict[str, Any]]
    optima: dict[str, list[float | None]]
    title: str
    skip: tuple[str, ...]
    study: Any = None  # a study's Study (compare.load_study)
    config: dict[str, Any] = field(default_factory=dict)  # a run's config.json


def run_records(directory: Path) -> Drawable:
    """A run directory (config.json, history.csv, metrics.json) as one-run tidy records."""
    from losslab.study import schema

    config = schema.run_config(directory / "config.json")
    _, history = schema.run_history(directory / "history.csv")
    status, epochs_run = "completed", len(history)
    metrics_file = directory / "metrics.json"
    if metrics_file.is_file():
        metrics = schema.run_metrics(metrics_file)
        status = metrics["status"]
        epochs_run = metrics.get("diverged_at") or epochs_run
    return run_drawable(config, history, status, epochs_run)


def run_drawable(
    config: dict[str, Any], history: list[dict[str, Any]], status: str, epochs_run: int
) -> Drawable:
    """One run (its resolved settings and history) as one-run tidy records."""
    run = {
        "run": 0,
        **{k: config.get(k) for k in ("optimizer", "lr", "loss", "batch_size", "model")},
        "seed": config.get("seed", 0),
        "status": status,
        "epochs_run": epochs_run,
    }
    curves = [{"run": 0, **row} for row in history]
    batch = "full batch" if not config["batch_size"] else f"batch {config['batch_size']}"
    title = (
        f"{config.get('data', '?')} · {config['model']} · {config['loss']} · "
        f"{config['optimizer']} lr {config['lr']:g} · {batch} · seed {run['seed']}"
    )
    return Drawable([run], curves, {}, title, (), config=config)


def study_records(directory: Path) -> Drawable:
    """A study directory as its tidy records (validated on load)."""
    from losslab.study.compare import load_study

    return study_drawable(load_study(directory))


def study_drawable(study: Any) -> Drawable:
    """A study (run or loaded) as its tidy records."""
    from losslab.study.summary import optima
    from losslab.views.render import study_title

    return Drawable(study.runs, study.curves, optima(study.reference), study_title(study),
                    UNAVERAGED, study=study)  # fmt: skip


def records_of(result: str | Path) -> Drawable:
    """A saved study (summary.json) or run (history.csv) directory, validated on load."""
    from losslab.study.records import record_kind

    directory = Path(result)
    if record_kind(result) == "study":
        return study_records(directory)
    return run_records(directory)


def plot_record(
    result: str | Path,
    output: str | Path | None = None,
    *,
    dpi: float = DPI,
    size: tuple[float, float] | None = None,
) -> Path:
    """Plot a saved study or run directory (default: RESULT/curves.png) at ``dpi``."""
    output = check_plot_name(output, "--out") if output is not None else None
    found = records_of(result)
    target = output if output is not None else Path(result) / "curves.png"
    if found.study is None and found.config.get("loss") in ("contrastive", "triplet", "supcon"):
        from losslab.views.embedding_plot import plot_embedding_record

        return plot_embedding_record(Path(result), target, dpi=dpi, size=size)
    try:
        return plot_study(found.runs, found.curves, target, optima=found.optima,
                          title=found.title, skip=found.skip, dpi=dpi, size=size)  # fmt: skip
    except DataError as exc:
        raise DataError(f"{result}: {exc}") from None


def plot_fit(
    result: Any, output: str | Path, *, dpi: float = DPI, size: tuple[float, float] | None = None
) -> Path:
    """A fit's curves (a FitResult) to ``output``: what `losslab plot RUN` draws of its record."""
    if result.config.get("loss") in ("contrastive", "triplet", "supcon"):
        from losslab.views.embedding_plot import plot_embedding

        return plot_embedding(result.config, result.model, result.history, output,
                              metrics=result.metrics, dpi=dpi, size=size)  # fmt: skip
    found = run_drawable(result.config, result.history, result.status,
                         result.diverged_at or len(result.history))  # fmt: skip
    return plot_study(found.runs, found.curves, output, title=found.title, skip=found.skip,
                      dpi=dpi, size=size)  # fmt: skip
