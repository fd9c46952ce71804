"""`losslab shapes --family robust`: the robust losses' ρ and their influence ψ = ρ′ side by
side, with Barron's general loss at α = 2, 1, 0, −2 and −∞ as in Figure 1 of Barron 2019 ("A
General and Adaptive Robust Loss Function"), all at the scale c = 1 (``--robust-c``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.views.figures import DPI, check_plot_name, require_matplotlib, save_figure
from losslab.views.shapes import RANGE_LIMIT, Shapes, style

BARRON_ALPHAS = (2.0, 1.0, 0.0, -2.0, -math.inf)  # Barron's Figure 1


def barron_label(alpha: float) -> str:
    return "barron α=" + ("−∞" if alpha == -math.inf else f"{alpha:g}".replace("-", "−"))


def robust_shapes(
    *, lo: float | None = None, hi: float | None = None, robust_c: float = 1.0, points: int = 601
) -> Shapes:
    """ρ and ψ of cauchy, geman-mcclure, welsch and tukey, then barron at each of
    :data:`BARRON_ALPHAS`, against the residual d on [lo, hi] (default [−6, 6]) at scale c."""
    from losslab.losses import get_loss
    from losslab.losses.robust import ROBUST

    lo = -6.0 if lo is None else lo
    hi = 6.0 if hi is None else hi
    if not (lo < hi and -RANGE_LIMIT <= lo and hi <= RANGE_LIMIT):
        raise ConfigError(f"the range must have lo < hi within ±{RANGE_LIMIT:g}, got [{lo}, {hi}]")
    d = np.linspace(lo, hi, points)
    y = np.zeros_like(d)
    chart = Shapes("robust", d)
    curves: list[tuple[str, str, dict[str, float]]] = [
        (name, name, {"robust_c": robust_c}) for name in ROBUST if name != "barron"
    ]
    curves += [
        (barron_label(a), "barron", {"robust_c": robust_c, "robust_alpha": a})
        for a in BARRON_ALPHAS
    ]
    for label, name, params in curves:
        loss = get_loss(name)
        kw = loss.resolve_params(**params)
        chart.values[label] = loss.per_row(y, d, **kw)
        chart.gradients[label] = loss.row_grad(y, d, **kw)
    chart.notes["barron α=0"] = "log(½(d/c)² + 1): Cauchy's shape, at scale √2·c and without c²/2"
    chart.same_as.update({"barron α=−2": "geman-mcclure", "barron α=−∞": "welsch"})
    return chart


def plot_robust(
    chart: Shapes, output: str, *, dpi: float = DPI, size: tuple[float, float] | None = None
) -> Any:
    """Two panels side by side, ρ(d) and ψ(d) = ρ′(d), one legend under both; Barron's curves
    solid, the named losses dashed (welsch and geman-mcclure lie on Barron's α = −∞ and −2)."""
    output = check_plot_name(output)
    plt = require_matplotlib()
    fig, (left, right) = plt.subplots(1, 2, layout="constrained", figsize=size or (11.0, 4.9))
    barron = [n for n in chart.values if n.startswith("barron")]
    named = [n for n in chart.values if not n.startswith("barron")]
    for ax, series, title, ylabel in (
        (left, chart.values, "robust losses ρ(d)", "loss per row ρ"),
        (right, chart.gradients, "their influence ψ(d) = ρ′(d)", "influence ψ"),
    ):
        for i, name in enumerate(barron):
            ax.plot(chart.x, series[name], lw=2.0, label=chart.label(name), **style(i))
        for j, name in enumerate(named):
            look = style(len(barron) + j)
            look["ls"] = (0, (4, 2))
            ax.plot(chart.x, series[name], lw=1.4, label=name, **look)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.set_title(title)
        ax.set_xlabel("residual d = ŷ − y (scale c = 1)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    left.set_ylim(-0.1, 4.0)
    right.set_ylim(-2.2, 2.2)
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=5, fontsize=9, frameon=False)
    try:
        return save_figure(fig, output, dpi=dpi)
    finally:
        plt.close(fig)
