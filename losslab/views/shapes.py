"""The shape of every loss: against the residual, the prediction, or the margin.

scikit-learn's "SGD: convex loss functions" figure, for all of losslab's losses, computed from the
registered per-row functions themselves. A regression loss is drawn against the residual
r = ŷ − y at the target y = 1 (where its domain allows); a loss of positive targets (poisson,
tweedie, gamma-deviance) against the prediction ŷ at y = 1; a classification loss against the
margin m = t·s of a positive example (t = 1): a binary or margin loss at the score (logit) s = m,
a multiclass loss at the two-class scores (0, m) with class 1 true. Losses of pairs and of
distributions have none of these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losslab.errors import ConfigError, LossLabError
from losslab.views.figures import DPI, check_plot_name, require_matplotlib, save_figure

KINDS = ("regression", "positive", "classification")
TASKS = {
    "regression": ("regression",),
    "positive": ("positive",),
    "classification": ("binary", "margin", "multiclass"),
}
DEFAULT_RANGE = {"regression": (-3.0, 3.0), "positive": (0.05, 4.0), "classification": (-3.0, 3.0)}


@dataclass
class Shapes:
    """One chart: ``x`` (residuals or margins), each loss's values (and gradients) on it."""

    kind: str
    x: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    gradients: dict[str, np.ndarray] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # how a loss was evaluated, if special
    same_as: dict[str, str] = field(default_factory=dict)  # a curve equal to an earlier one

    def label(self, name: str) -> str:
        if name in self.same_as:
            return f"{name} (= {self.same_as[name]})"
        return f"{name} (log rate)" if "log rate" in self.notes.get(name, "") else name

    @property
    def xlabel(self) -> str:
        return {
            "regression": "residual r = ŷ − y",
            "robust": "residual d = ŷ − y",
            "positive": "prediction ŷ (target y = 1)",
        }.get(self.kind, "margin m = t·s")

    def to_dict(self) -> dict[str, Any]:
        def listed(a: np.ndarray) -> list[float | None]:
            return [float(v) if np.isfinite(v) else None for v in a]

        return {
            "kind": self.kind,
            "x": listed(self.x),
            "values": {k: listed(v) for k, v in self.values.items()},
            "gradients": {k: listed(v) for k, v in self.gradients.items()},
            "notes": self.notes,
            "same_as": self.same_as,
        }


def _evaluate(loss: Any, y: np.ndarray, out: np.ndarray, logits: bool) -> tuple[Any, Any]:
    kw = loss.resolve_params()
    with np.errstate(all="ignore"):
        return (
            loss.per_row(y, out, logits=logits, **kw),
            loss.row_grad(y, out, logits=logits, **kw),
        )


def _masked(loss: Any, y: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and gradients where the loss accepts ``out`` (NaN elsewhere: a prediction below
    msle's −1, a rate ≤ 0)."""
    value, grad = np.full_like(out, np.nan), np.full_like(out, np.nan)
    ok = np.ones(out.shape, dtype=bool)
    for i in range(out.size):  # a few hundred scalar checks: only for the chart's domain
        try:
            loss.check(y[i : i + 1], out[i : i + 1])
        except LossLabError:
            ok[i] = False
    if ok.any():
        v, g = _evaluate(loss, y[ok], out[ok], False)
        value[ok], grad[ok] = v, g
    return value, grad


def _regression(loss: Any, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """At the target y = 1 and ŷ = 1 + r (a loss of d = ŷ − y alone does not see the 1; mape's
    and msle's relative errors are those of a target of 1)."""
    y = np.ones_like(r)
    value, grad = _masked(loss, y, 1.0 + r)
    return value, grad, ""


def _positive(loss: Any, yhat: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """At the target y = 1 against the prediction ŷ > 0 (a log-rate loss at s = log ŷ)."""
    y = np.ones_like(yhat)
    if loss.score_input:
        with np.errstate(divide="ignore", invalid="ignore"):  # ŷ ≤ 0: outside, masked below
            s = np.log(yhat)
        value, grad = _masked(loss, y, s)
        return value, grad, "of the log rate s = log ŷ (the gradient is ∂ℓ/∂s)"
    value, grad = _masked(loss, y, yhat)
    return value, grad, ""


def _classification(loss: Any, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    logits = loss.supports_logits
    note = "from logits" if logits else ""
    if loss.task == "multiclass":
        scores = np.column_stack([np.zeros_like(m), m])
        y = np.ones_like(m)
        loss.check(y, scores, logits=logits)
        value, grad = _evaluate(loss, y, scores, logits)
        return (
            value,
            np.asarray(grad)[:, 1],
            "two classes, scores (0, m)" + (", logits" if logits else ""),
        )
    y = np.ones_like(m)
    loss.check(y, m, logits=logits)
    value, grad = _evaluate(loss, y, m, logits)
    return value, grad, note


def loss_curve(kind: str, loss: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(values, gradients, note) of ``loss`` (a registry entry, its parameters at their
    defaults) on the x-axis of the chart ``kind``."""
    shape = {"regression": _regression, "positive": _positive}.get(kind, _classification)
    return shape(loss, x)


RANGE_LIMIT = 1e100  # |x| beyond: squares (1e200) and more overflow, the curves are not drawn


def loss_shapes(
    kind: str,
    *,
    losses: Sequence[str] | None = None,
    lo: float | None = None,
    hi: float | None = None,
    points: int = 601,
) -> Shapes:
    """Every registered loss of ``kind`` (or those named) on ``points`` values of [lo, hi]
    (default: [−3, 3], and (0.05, 4] for the predictions of positive targets)."""
    from losslab.losses import LOSSES

    if kind in DEFAULT_RANGE:
        lo = DEFAULT_RANGE[kind][0] if lo is None else lo
        hi = DEFAULT_RANGE[kind][1] if hi is None else hi
    if kind not in KINDS:
        raise ConfigError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not (lo < hi and points >= 3):
        raise ConfigError(f"the range must have lo < hi and at least 3 points, got [{lo}, {hi}]")
    if not (-RANGE_LIMIT <= lo and hi <= RANGE_LIMIT):
        raise ConfigError(
            f"--from and --to must lie within ±{RANGE_LIMIT:g} (the losses' squares and "
            f"exponentials overflow float64 beyond), got [{lo:g}, {hi:g}]"
        )
    if (hi - lo) / (points - 1) <= 4 * np.spacing(max(abs(lo), abs(hi))):
        raise ConfigError(
            f"the range [{lo:g}, {hi:g}] is too narrow for {points} distinct points in float64"
        )
    tasks = TASKS[kind]
    if losses:
        names = [LOSSES.resolve(n) for n in losses]
    else:  # the robust family has its own chart (views/robust_shapes.py)
        from losslab.losses.robust import ROBUST

        names = [n for n in LOSSES.names() if n not in ROBUST]
    x = np.linspace(lo, hi, points)
    shapes = Shapes(kind, x)
    for name in names:
        loss = LOSSES.get(name)
        if loss.task not in tasks:
            continue
        value, grad, note = loss_curve(kind, loss, x)
        if loss.root_of_mean:
            note = "per row the squared error: the root is taken of the mean"
        shapes.values[name] = np.asarray(value, dtype=float)
        shapes.gradients[name] = np.asarray(grad, dtype=float)
        if note:
            shapes.notes[name] = note
    for name in list(shapes.values)[1:]:
        for other in shapes.values:
            if other == name:
                break
            if np.allclose(shapes.values[name], shapes.values[other], equal_nan=True):
                shapes.same_as[name] = other
                break
    if losses and not shapes.values:
        raise ConfigError(f"none of {', '.join(names)} is a {kind} loss")
    return shapes


# --------------------------------------------------------------------------- drawing

# Okabe & Ito's colour-blind-safe palette (without its yellow, unreadable on white), then Paul
# Tol's muted one; line styles repeat after.
PALETTE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#882255",
    "#44AA99", "#999933", "#AA4499", "#332288", "#117733", "#88CCEE", "#8C8C8C", "#661100",
)  # fmt: skip
STYLES = ("-", "--", "-.", ":")


def style(i: int) -> dict[str, Any]:
    return {"color": PALETTE[i % len(PALETTE)], "ls": STYLES[(i // len(PALETTE)) % len(STYLES)]}


def plot_shapes(
    charts: Sequence[Shapes],
    output: str,
    *,
    gradients: bool = False,
    dpi: float = DPI,
    size: tuple[float, float] | None = None,
) -> Any:
    """One panel per chart (and a row of their gradients), each column's legend under it,
    saved to ``output`` (.png/.svg/.pdf) at ``dpi``, ``size`` inches if given."""
    output = check_plot_name(output)
    plt = require_matplotlib()
    rows = 2 if gradients else 1
    legend_rows = max((len(c.values) + 1) // 2 for c in charts)
    fig, axes = plt.subplots(
        rows, len(charts), squeeze=False, layout="constrained",
        figsize=size or (4.6 * len(charts), 3.4 * rows + 0.2 * legend_rows + 0.3),
    )  # fmt: skip
    for col, chart in enumerate(charts):
        panels = [("value", chart.values)] + ([("gradient", chart.gradients)] if gradients else [])
        for row, (what, series) in enumerate(panels):
            ax = axes[row][col]
            finite = [v[np.isfinite(v)] for v in chart.values.values()]
            top = float(np.percentile(np.concatenate(finite), 90)) if finite else 1.0
            for i, (name, ys) in enumerate(series.items()):
                look = style(i)
                if name in chart.same_as:  # dotted on top of the curve it equals
                    look["ls"] = ":"
                ax.plot(
                    chart.x,
                    ys,
                    lw=2.2 if name in chart.same_as else 1.8,
                    label=chart.label(name),
                    zorder=3 if name in chart.same_as else 2,
                    **look,
                )
            ax.axhline(0, color="0.6", lw=0.8)
            ax.axvline(0, color="0.6", lw=0.8)
            if what == "value":
                # classification: scikit-learn's window (up to 8), where squared hinge and
                # modified Huber part below m = −1
                top = 8.0 if chart.kind == "classification" else top
                ax.set_ylim(-0.05 * top, 1.05 * top)
                ax.set_title(
                    "losses of positive targets"
                    if chart.kind == "positive"
                    else f"{chart.kind} losses"
                )
            else:
                ax.set_ylim(-3.5, 3.5)
                ax.set_title(
                    f"their gradients (∂ℓ/∂{'s' if chart.kind == 'classification' else 'ŷ'})"
                )
            ax.set_xlabel(chart.xlabel)
            ax.set_ylabel("loss per row" if what == "value" else "gradient per row")
            ax.grid(True, alpha=0.3)
            if row == rows - 1:  # under the column, so that the panels keep the width
                handles = [line for line in axes[0][col].get_lines() if line.get_label()[0] != "_"]
                ax.legend(handles=handles, fontsize=9, loc="upper center", ncol=2,
                          bbox_to_anchor=(0.5, -0.18), frameon=False)  # fmt: skip
    try:
        return save_figure(fig, output, dpi=dpi)
    finally:
        plt.close(fig)


def text_chart(chart: Shapes, *, width: int = 72, height: int = 18) -> list[str]:
    """A terminal rendering: one letter per loss on a character grid, a legend under it."""
    finite = [v[np.isfinite(v)] for v in chart.values.values()]
    top = float(np.percentile(np.concatenate(finite), 90)) if finite else 1.0
    bottom = min(0.0, min((float(v.min()) for v in finite if v.size), default=0.0))
    grid = [[" "] * width for _ in range(height)]
    zero = round((0.0 - bottom) / (top - bottom) * (height - 1))
    for c in range(width):
        if 0 <= zero < height:
            grid[height - 1 - zero][c] = "·"
    mid = round((0.0 - chart.x[0]) / (chart.x[-1] - chart.x[0]) * (width - 1))
    for r in range(height):
        if 0 <= mid < width:
            grid[r][mid] = "·"
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    legend = []
    for i, (name, ys) in enumerate(chart.values.items()):
        mark = letters[i % len(letters)]
        legend.append(f"{mark} {chart.label(name)}")
        if name in chart.same_as:  # its twin's letter shows where it runs
            continue
        cols = np.round((chart.x - chart.x[0]) / (chart.x[-1] - chart.x[0]) * (width - 1))
        for c, v in zip(cols.astype(int), ys, strict=True):
            if np.isfinite(v) and bottom <= v <= top:
                r = round((v - bottom) / (top - bottom) * (height - 1))
                grid[height - 1 - r][c] = mark
    lines = [f"{chart.kind} losses against the {chart.xlabel} (y up to {top:.3g})"]
    lines += ["│" + "".join(row) for row in grid]
    lines.append("└" + "─" * width)
    lines.append(f" {chart.x[0]:g}".ljust(width // 2) + f"{chart.x[-1]:g}".rjust(width // 2))
    for k in range(0, len(legend), 3):
        lines.append("  " + "   ".join(item.ljust(28) for item in legend[k : k + 3]).rstrip())
    return lines
