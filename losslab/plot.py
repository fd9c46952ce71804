"""Loss-curve plots (PNG) of a study or a run (matplotlib: ``losslab[plot]``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from losslab.errors import ConfigError, DataError, LossLabError

WIDTH, HEIGHT, DPI = 10.0, 6.0, 100  # a 1000 × 600 pixel PNG


def require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("plotting needs matplotlib: pip install 'losslab[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_png_name(output: str | Path) -> Path:
    output = Path(output)
    if output.suffix.lower() != ".png":
        raise ConfigError(f"--plot takes a .png file name, got {output.name!r}")
    return output


def _positive(values: list[float | None]) -> list[float]:
    """Log axes cannot show 0 or gaps: NaN hides a point, tiny losses are floored."""
    return [float("nan") if v is None else max(float(v), 1e-300) for v in values]


def plot_study(
    summary: list[dict[str, Any]], output: str | Path, *, title: str, metric: str = ""
) -> Path:
    """Mean train (solid) and test (dashed) loss per configuration, min–max band over seeds."""
    output = check_png_name(output)
    plt = require_matplotlib()
    optimizers = list(dict.fromkeys(row["optimizer"] for row in summary))
    cmap = plt.get_cmap("tab10" if len(optimizers) <= 10 else "tab20")
    colour = {name: cmap(i % cmap.N) for i, name in enumerate(optimizers)}
    varied = [k for k in ("lr", "loss", "batch_size") if len({row[k] for row in summary}) > 1]
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT), dpi=DPI)
    try:
        for row in summary:
            curve = row.get("curve") or []
            if not curve:
                continue
            epochs = list(range(1, len(curve) + 1))
            label = row["optimizer"] + "".join(f" {k}={row[k]}" for k in varied)
            c = colour[row["optimizer"]]
            ax.plot(epochs, _positive(curve), color=c, lw=1.6, label=label)
            lo, hi = row.get("curve_min") or [], row.get("curve_max") or []
            if lo and hi:
                ax.fill_between(epochs, _positive(lo), _positive(hi), color=c, alpha=0.15, lw=0)
            test = row.get("test_curve") or []
            if any(v is not None for v in test):
                ax.plot(epochs, _positive(test), color=c, lw=1.0, ls="--")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        seeded = any(row.get("seeds", 1) > 1 for row in summary)
        ax.set_ylabel(
            "loss (solid: train mean, band: min–max over seeds, dashed: test)"
            if seeded
            else "loss (solid: train, dashed: test)"
        )
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="small", ncol=2)
        _save(fig, output)
    finally:
        plt.close(fig)
    return output


def _save(fig: Any, output: Path) -> None:
    fig.tight_layout()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output, dpi=DPI)
    except FileExistsError:
        raise LossLabError(f"cannot write the plot {output}: not a directory") from None
    except OSError as exc:
        raise LossLabError(f"cannot write the plot {output}: {exc.strerror or exc}") from None


def plot_lr_find(result: Any, output: str | Path, *, title: str) -> Path:
    """The range test: loss per step (faint) and smoothed (solid) against the lr on a log axis,
    both suggestions marked and labelled; the y axis stops where the sweep's stop rule would."""
    output = check_png_name(output)
    plt = require_matplotlib()
    lrs = result.lrs
    smoothed = [v if math.isfinite(v) else math.nan for v in result.smoothed]
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT), dpi=DPI)
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
        # below the axes: the curve may run through any corner
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, frameon=False)
        _save(fig, output)
    finally:
        plt.close(fig)
    return output


def _num(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def plot_record(result: str | Path, output: str | Path | None = None) -> Path:
    """Plot a saved study (summary.json) or run (history.csv) directory, validated on load."""
    from losslab import schema
    from losslab.records import check_finished

    directory = Path(result)
    check_finished(directory)
    if not directory.is_dir():
        raise DataError(f"{result}: not a results directory")
    output = Path(output) if output is not None else directory / "curves.png"
    config_file = directory / "config.json"
    summary_file = directory / "summary.json"
    history_file = directory / "history.csv"
    if summary_file.is_file() or history_file.is_file():
        if not config_file.is_file():
            raise DataError(f"{config_file}: missing (every record has one)")
    if summary_file.is_file():
        config = schema.study_config(config_file)
        summary = schema.study_summary(summary_file)
        if (directory / "curves.csv").is_file():
            schema.study_curves(directory / "curves.csv")
        title = f"{config['data']['source']} · {config['model']} · study {directory.name}"
        return plot_study(summary, output, title=title)
    if history_file.is_file():
        config = schema.run_config(config_file)
        header, rows = schema.run_history(history_file)
        column = {name: [_num(r[j]) for r in rows] for j, name in enumerate(header)}
        row = {
            **{k: config[k] for k in ("optimizer", "lr", "loss", "batch_size")},
            "curve": column["train_loss"],
            "test_curve": column.get("test_loss", []),
        }
        return plot_study([row], output, title=f"run {directory.name}")
    raise DataError(f"{result}: holds neither summary.json (a study) nor history.csv (a run)")
