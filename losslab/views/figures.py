"""Figure files, shared by every drawing command (compare, plot, lr-find, landscape, shapes):
the formats (.png, .svg, .pdf: the suffix decides), the resolution and size a user may ask for
(--dpi, --size WxH in inches), the look of a curve among many, matplotlib on the Agg backend, and
saving without timestamps (the same figure gives the same file)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from losslab.errors import ConfigError, LossLabError

FORMATS = (".png", ".svg", ".pdf")
# 150 dots per inch: a 7.3-inch figure is 1095 px wide, sharp on a 1920-px slide at full width
DPI = 150
DPI_RANGE = (50.0, 600.0)
SIZE_RANGE = (2.0, 30.0)  # inches per side
# Okabe & Ito (2008), "Color Universal Design", with grey for the yellow that vanishes on white
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C8C8C")
# each round of the colours gets its own line style and marker, so no two curves look alike
ROUND_STYLES: tuple[Any, ...] = ("-", (0, (5, 2)), (0, (1, 1.2)), (0, (6, 2, 1, 2)))
ROUND_MARKERS = ("", "o", "s", "^", "D", "v", "P")


def require_matplotlib() -> Any:
    """pyplot on the Agg backend, or one line naming the extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("plotting needs matplotlib: pip install 'losslab[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_plot_name(output: str | Path, flag: str = "--plot") -> Path:
    """A figure file name ending in .png, .svg or .pdf (the format follows the suffix)."""
    output = Path(output)
    if output.suffix.lower() not in FORMATS:
        raise ConfigError(f"{flag} takes a .png, .svg or .pdf file name, got {output.name!r}")
    return output


def check_dpi(dpi: float) -> float:
    """--dpi within :data:`DPI_RANGE`."""
    lo, hi = DPI_RANGE
    if not (math.isfinite(dpi) and lo <= dpi <= hi):
        raise ConfigError(f"--dpi must be between {lo:g} and {hi:g} dots per inch, got {dpi:g}")
    return float(dpi)


def parse_size(text: str | None) -> tuple[float, float] | None:
    """--size ``WxH`` in inches (each within :data:`SIZE_RANGE`), or None for the figure's own."""
    if text is None:
        return None
    lo, hi = SIZE_RANGE
    try:
        w, h = (float(part) for part in text.lower().replace("×", "x").split("x"))
    except ValueError:
        w = h = math.nan
    if not all(math.isfinite(v) and lo <= v <= hi for v in (w, h)):
        raise ConfigError(
            f"--size must be WxH in inches, each from {lo:g} to {hi:g} (e.g. 12x6.75), got {text!r}"
        )
    return w, h


def check_figure(
    plot: str | Path | None,
    dpi: float,
    size: str | None,
    flag: str = "--plot",
    *,
    drawing_now: bool = False,
) -> tuple[Path | None, float, tuple[float, float] | None]:
    """The figure options of a command, checked before any work: (file, dpi, size). Without a
    file, --dpi and --size have nothing to apply to. ``drawing_now``: the command only draws
    (`losslab plot`), so its record is read, and any fault in it said, before matplotlib is
    asked for."""
    if plot is None:
        if size is not None or dpi != DPI:
            raise ConfigError(f"--dpi and --size apply to a figure: add {flag} FILE")
        return None, float(dpi), None
    output = check_plot_name(plot, flag)
    dpi, inches = check_dpi(dpi), parse_size(size)
    if not drawing_now:
        require_matplotlib()
    return output, dpi, inches


def cycle(i: int, palette: tuple[str, ...] = COLOURS) -> dict[str, Any]:
    """The colour, line style and marker of the i-th of many curves: the colours first, then
    each further round of them dashed differently and marked, so that every curve differs."""
    k = i // len(palette)
    return {
        "color": palette[i % len(palette)],
        "linestyle": ROUND_STYLES[k % len(ROUND_STYLES)],
        "marker": ROUND_MARKERS[k % len(ROUND_MARKERS)],
    }


def save_figure(
    fig: Any,
    output: str | Path,
    *,
    dpi: float = DPI,
    size: tuple[float, float] | None = None,
    flag: str = "--plot",
) -> Path:
    """Write ``fig`` to ``output`` (.png, .svg or .pdf, no timestamps: the same figure gives
    the same file) at ``dpi``, resized to ``size`` inches when given (a constrained layout is
    redone at the new size); one line naming the place on failure."""
    output = check_plot_name(output, flag)
    plt = require_matplotlib()
    if size is not None:
        fig.set_size_inches(*size)
    fmt = output.suffix.lower()[1:]
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with plt.rc_context({"svg.hashsalt": output.name}):
            fig.savefig(output, dpi=dpi, format=fmt, metadata=metadata)
    except FileExistsError:
        raise LossLabError(f"cannot write the plot {output}: not a directory") from None
    except OSError as exc:
        raise LossLabError(f"cannot write the plot {output}: {exc.strerror or exc}") from None
    return output
