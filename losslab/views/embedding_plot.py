"""The figure of an embedding run (contrastive, triplet, supcon): the test rows' embedding
coloured by class with the class centroids labelled (the first two principal components when
D > 2; for D = 2 the DrLIM picture of Hadsell, Chopra & LeCun 2006), beside the run's loss and
k-NN accuracy by epoch.

The points are recomputed from the run's settings and model: the same data, split (from the
seed) and scaling, then the saved network's outputs on the test rows (the training rows when the
run had none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from losslab.views.figures import COLOURS, DPI, require_matplotlib, save_figure

EMBEDDING_LOSSES = ("contrastive", "triplet", "supcon")
PALETTE = (*COLOURS[:7], "#882255", "#44AA99", "#999933", "#AA4499", "#117733")  # 12 classes


def is_embedding_run(config: dict[str, Any]) -> bool:
    return config.get("loss") in EMBEDDING_LOSSES


def embedding_points(
    config: dict[str, Any], model: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, list, str, str]:
    """(2-D points, class index per point, classes, axis note, which rows) of a run."""
    from losslab.study.predict import model_from_dict
    from losslab.train.config import FitConfig
    from losslab.train.prepare import prepare

    keep = {"data", "sep", "target", "features", "exclude", "model", "loss", "seed", "test_size",
            "val_size", "test_data", "scale", "missing", "categorical", "embed_dim",
            "target_scale"}  # fmt: skip
    settings = {k: v for k, v in config.items() if k in keep and v is not None}
    problem, split = prepare(FitConfig.from_dict(settings))
    net = model_from_dict(model, "the run's model").net
    if split.X_test is not None and split.y_test is not None and split.y_test.size:
        X, y, rows = split.X_test, split.y_test, f"{split.y_test.size} test rows"
    else:
        X, y, rows = split.X_train, split.y_train, f"{split.y_train.size} training rows"
    E = net.scores(np.asarray(X, dtype=np.float64))
    E = E.reshape(len(E), -1)
    note = "embedding coordinates"
    if E.shape[1] > 2:
        C = E - E.mean(axis=0)
        _, s, Vt = np.linalg.svd(C, full_matrices=False)
        share = (s[:2] ** 2).sum() / (s**2).sum()
        E = C @ Vt[:2].T
        note = f"first two principal components of {net.sizes[-1]} ({share:.0%} of the variance)"
    elif E.shape[1] == 1:
        E = np.column_stack([E[:, 0], np.zeros(len(E))])
    return E, y.astype(np.intp), list(problem.classes), note, rows


def embedding_figure(
    config: dict[str, Any],
    model: dict[str, Any],
    history: list[dict[str, Any]],
    metrics: dict[str, Any] | None = None,
) -> Any:
    """The figure: the embedding (left) and the losses and k-NN accuracy by epoch (right)."""
    plt = require_matplotlib()
    E, y, classes, note, rows = embedding_points(config, model)
    fig = plt.figure(figsize=(11.0, 5.6), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=(1.55, 1.0))
    ax = fig.add_subplot(grid[:, 0])
    for k, name in enumerate(classes):
        at = y == k
        if not at.any():
            continue
        colour = PALETTE[k % len(PALETTE)]
        ax.scatter(E[at, 0], E[at, 1], s=9, color=colour, alpha=0.55, linewidths=0)
        cx, cy = E[at].mean(axis=0)
        box = {"boxstyle": "round,pad=0.25", "fc": colour, "ec": "none"}
        ax.annotate(str(name), (cx, cy), ha="center", va="center", fontsize=11,
                    weight="bold", color="white", bbox=box)  # fmt: skip
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"{rows}, coloured by class; labels at the class centroids", fontsize=10)
    ax.set_xlabel(note.replace("coordinates", "coordinate 1"))
    ax.set_ylabel(note.replace("coordinates", "coordinate 2") if E.shape[1] else "")
    ax.grid(alpha=0.25)
    epochs = [h["epoch"] for h in history]
    top, bottom = fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, 1])
    parts = (("train_loss", "train", COLOURS[0]), ("test_loss", "test", COLOURS[1]),
             ("val_loss", "validation", COLOURS[2]))  # fmt: skip
    for key, label, colour in parts:
        values = [h.get(key) for h in history]
        if any(v is not None for v in values):
            top.plot(
                epochs, [np.nan if v is None else v for v in values], label=label, color=colour
            )
            key_knn = key.replace("loss", "knn1")
            knn = [h.get(key_knn) for h in history]
            bottom.plot(
                epochs, [np.nan if v is None else v for v in knn], label=label, color=colour
            )
    top.set_ylabel(f"{config.get('loss')} loss")
    top.legend(frameon=False)
    top.grid(alpha=0.25)
    bottom.set_ylabel("1-NN accuracy")
    bottom.set_xlabel("epoch")
    from matplotlib.ticker import MaxNLocator

    for panel in (top, bottom):
        panel.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.grid(alpha=0.25)
    bottom.legend(frameon=False)
    test = (metrics or {}).get("test") or {}
    knn = "" if test.get("knn1") is None else f" · test knn1 {test['knn1']:.3f}"
    batch = "full batch" if not config.get("batch_size") else f"batch {config['batch_size']}"
    mining = config.get("mining")
    loss = config.get("loss") + (f" ({mining} mining)" if mining and mining != "all" else "")
    fig.suptitle(
        f"{config.get('data')} · {config.get('model')} → {config.get('embed_dim') or 2}-D · "
        f"{loss} · {config.get('optimizer')} lr {config.get('lr'):g} · {batch}{knn}",
        fontsize=12,
    )
    return fig


def plot_embedding(
    config: dict[str, Any],
    model: dict[str, Any],
    history: list[dict[str, Any]],
    output: str | Path,
    *,
    metrics: dict[str, Any] | None = None,
    dpi: float = DPI,
    size: tuple[float, float] | None = None,
) -> Path:
    """Draw :func:`embedding_figure` to ``output`` (.png, .svg or .pdf)."""
    plt = require_matplotlib()
    fig = embedding_figure(config, model, history, metrics)
    try:
        return save_figure(fig, output, dpi=dpi, size=size)
    finally:
        plt.close(fig)


def plot_embedding_record(
    directory: Path, output: str | Path, *, dpi: float = DPI, size: Any = None
) -> Path:
    """`losslab plot RUN` of a saved embedding run (config.json, history.csv, model.json)."""
    from losslab.study import schema
    from losslab.study.predict import load_model  # noqa: F401  (validates model.json's presence)

    config = schema.run_config(directory / "config.json")
    _, history = schema.run_history(directory / "history.csv")
    import json

    model = json.loads((directory / "model.json").read_text(encoding="utf-8"))
    metrics_file = directory / "metrics.json"
    metrics = schema.run_metrics(metrics_file) if metrics_file.is_file() else None
    return plot_embedding(config, model, history, output, metrics=metrics, dpi=dpi, size=size)
