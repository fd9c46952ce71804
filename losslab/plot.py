"""Loss-curve plots (PNG) of a study or a run (matplotlib: ``losslab[plot]``)."""

from __future__ import annotations

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
        fig.tight_layout()
        save_figure(fig, output, DPI)
    finally:
        plt.close(fig)
    return output


def save_figure(fig: Any, output: Path, dpi: int) -> None:
    """``fig.savefig(output)``, its directory made; a failure is one LossLabError line."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output, dpi=dpi)
    except FileExistsError:
        raise LossLabError(f"cannot write the plot {output}: not a directory") from None
    except OSError as exc:
        raise LossLabError(f"cannot write the plot {output}: {exc.strerror or exc}") from None


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
