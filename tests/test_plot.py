"""Comparison plots: the figure's structure (panels, scales, legend, crosses) read from the
matplotlib Figure drawn from tidy records, the records a study saves for them (curves.csv), and
the command's errors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import losslab
from losslab.errors import DataError

mpl = pytest.importorskip("matplotlib")
from losslab.views.plot import study_figure  # noqa: E402

# --------------------------------------------------------------------------- synthetic records


def records(
    optimizers: list[str],
    lrs: list[float],
    *,
    seeds: int = 1,
    losses: tuple[str, ...] = ("mse",),
    batches: dict[str, list[int]] | None = None,
    epochs: int = 5,
    diverged: dict[tuple[str, float], int] | None = None,
    metric: str = "r2",
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(runs, curves) as runs.csv and curves.csv hold them: objective 1 + 1/(lr·epoch·(seed+1));
    ``diverged`` maps (optimizer, lr) to the epoch its runs diverged at."""
    diverged = diverged or {}
    runs: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    for loss in losses:
        for opt in optimizers:
            for lr in lrs:
                for batch in (batches or {}).get(opt, [32]):
                    for seed in range(seeds):
                        i = len(runs)
                        at = diverged.get((opt, lr))
                        last = epochs if at is None else at - 1
                        objective = [1 + 1 / (lr * e * (seed + 1)) for e in range(1, last + 1)]
                        runs.append(
                            {
                                "run": i,
                                "optimizer": opt,
                                "lr": lr,
                                "loss": loss,
                                "batch_size": batch,
                                "seed": seed,
                                "status": "completed" if at is None else "diverged",
                                "epochs_run": epochs if at is None else at,
                                "train_loss": None if at else objective[-1],
                                "gap": None if at else objective[-1] - 1,
                            }
                        )
                        for e, f in enumerate(objective, start=1):
                            curves.append(
                                {
                                    "run": i,
                                    "epoch": e,
                                    "train_loss": f,
                                    "test_loss": 1.1 * f,
                                    "val_loss": None,
                                    "objective": f,
                                    "seconds": 0.01 * e * (i + 1),
                                    metric: 1 - 1 / (e + 1),
                                }
                            )
    return runs, curves


@pytest.fixture
def figure():
    """study_figure, closing every figure it made."""
    import matplotlib.pyplot as plt

    made = []

    def draw(*args: Any, **kwargs: Any) -> Any:
        fig = study_figure(*args, **kwargs)
        made.append(fig)
        return fig

    yield draw
    for fig in made:
        plt.close(fig)


def legend_labels(fig: Any) -> list[str]:
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts() if t.get_text()]


def crosses(ax: Any) -> list[Any]:
    return [line for line in ax.lines if line.get_marker() == "x"]


def curves_of(ax: Any) -> list[Any]:
    return [line for line in ax.lines if line.get_marker() != "x"]


# --------------------------------------------------------------------------- structure


def test_without_optimum_loss_and_metric_panels_per_loss(figure):
    runs, curves = records(["sgd", "adam"], [0.1], losses=("mse", "huber"))
    fig = figure(runs, curves, title="t")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "mse — training loss",
        "mse — test loss",
        "mse — test R²",
        "huber — training loss",
        "huber — test loss",
        "huber — test R²",
    ]
    assert [ax.get_ylabel() for ax in fig.axes[:2]] == ["mse", "mse"]
    for ax in fig.axes:
        assert len(curves_of(ax)) == 2 and ax.get_xlabel() == "epoch"
    assert fig.axes[2].get_yscale() == "linear"
    assert legend_labels(fig) == ["sgd, lr 0.1", "adam, lr 0.1"]
    assert "seed" not in fig._suptitle.get_text()  # one seed: no mean, no band


def test_suboptimality_on_log_axes_against_epoch_and_wall_time(figure):
    runs, curves = records(["gd", "adam"], [0.5], seeds=2)
    optima = {"mse": [0.25, 0.75]}  # each seed against its own split's optimum
    fig = figure(runs, curves, optima=optima)
    by_epoch, by_time = fig.axes
    assert (
        by_epoch.get_title() == "f − f* vs epoch" and by_time.get_title() == "f − f* vs wall time"
    )
    assert by_epoch.get_yscale() == by_time.get_yscale() == "log"
    assert (by_epoch.get_xlabel(), by_time.get_xlabel()) == ("epoch", "wall time (s)")
    # gd's line: the mean over its two seeds of objective − that seed's optimum
    e = np.arange(1, 6)
    want = ((1 + 1 / (0.5 * e) - 0.25) + (1 + 1 / (0.5 * e * 2) - 0.75)) / 2
    np.testing.assert_allclose(curves_of(by_epoch)[0].get_ydata(), want, rtol=1e-12)
    seconds = (0.01 * e * 1 + 0.01 * e * 2) / 2  # runs 0 and 1: each epoch at its mean time
    np.testing.assert_allclose(curves_of(by_time)[0].get_xdata(), seconds, rtol=1e-12)
    assert len(by_epoch.collections) == 2  # a min–max band per optimizer over its seeds
    title = fig._suptitle.get_text()
    assert "mean over 2 seeds" in title and "band: min–max" in title and "f*" in title


def test_one_legend_entry_per_optimizer_and_lr_and_a_sensitivity_panel(figure):
    lrs = [0.01, 0.1, 1.0]
    runs, curves = records(["sgd", "momentum", "adam"], lrs, seeds=2)
    fig = figure(runs, curves, optima={"mse": [1.0]})
    labels = legend_labels(fig)
    pairs = [f"{o}, lr {lr:g}" for o in ("sgd", "momentum", "adam") for lr in lrs]
    assert sorted(labels) == sorted([*pairs, "min–max over seeds"])
    by_epoch, _, sensitivity = fig.axes
    assert len(curves_of(by_epoch)) == 9  # 9 configurations, 9 lines
    assert sensitivity.get_xscale() == "log" and sensitivity.get_yscale() == "log"
    assert sensitivity.get_title() == "final f − f* vs lr"
    (sgd, _, _) = sensitivity.lines
    np.testing.assert_allclose(sgd.get_xdata(), lrs)
    # final gap, mean over the seeds: 1/(lr·5·1) and 1/(lr·5·2)
    np.testing.assert_allclose(sgd.get_ydata(), [(1 / (lr * 5) + 1 / (lr * 10)) / 2 for lr in lrs])
    # colour tells the optimizer, line style the lr
    handles = fig.legends[0].legend_handles
    lines = {label: h for h, label in zip(handles, labels_all(fig), strict=True)}
    assert lines["sgd, lr 0.01"].get_color() == lines["sgd, lr 1"].get_color()
    assert lines["sgd, lr 0.01"].get_linestyle() != lines["sgd, lr 1"].get_linestyle()
    assert lines["sgd, lr 0.01"].get_color() != lines["adam, lr 0.01"].get_color()


def labels_all(fig: Any) -> list[str]:
    return [t.get_text() for t in fig.legends[0].get_texts()]


def test_twenty_five_optimizers_look_different(figure):
    names = [f"opt{i}" for i in range(25)]
    runs, curves = records(names, [0.1])
    fig = figure(runs, curves)
    handles = fig.legends[0].legend_handles
    looks = {(h.get_color(), h.get_marker(), str(h.get_linestyle())) for h in handles}
    assert len(legend_labels(fig)) == 25 and len(looks) == 25


def test_crowded_grid_draws_each_optimizer_at_its_best_lr(figure):
    lrs = [0.001, 0.01, 0.1, 1.0]
    runs, curves = records(["sgd", "momentum", "adam", "rmsprop"], lrs, diverged={("adam", 1.0): 3})
    fig = figure(runs, curves, optima={"mse": [1.0]})
    by_epoch, _, sensitivity = fig.axes
    assert by_epoch.get_title() == "f − f* vs epoch (best lr)"
    assert len(curves_of(by_epoch)) == 4  # sgd, momentum, rmsprop at lr 1; adam at 0.1
    assert sorted(legend_labels(fig)) == [
        "adam, lr 0.1",
        "diverged",
        "momentum, lr 1",
        "rmsprop, lr 1",
        "sgd, lr 1",
    ]
    assert len(sensitivity.lines) == 4 + 1  # every lr of every optimizer, a cross at adam's 1
    assert "best lr: lowest final f − f*" in fig._suptitle.get_text()


def test_facets_only_where_one_optimizer_ran_several(figure):
    # gd full batch beside sgd's 32: one row, as the default study
    runs, curves = records(["gd", "sgd"], [0.1], batches={"gd": [0], "sgd": [32]})
    assert len(figure(runs, curves).axes) == 3
    # both with 16 and 64: a row of panels per batch size
    runs, curves = records(["gd", "sgd"], [0.1], batches={"gd": [16, 64], "sgd": [16, 64]})
    fig = figure(runs, curves)
    assert [ax.get_title() for ax in fig.axes][::3] == [
        "batch 16 — training loss",
        "batch 64 — training loss",
    ]


def test_diverged_runs_are_drawn_to_divergence_and_crossed(figure):
    runs, curves = records(["sgd", "adam"], [0.1], diverged={("adam", 0.1): 4})
    fig = figure(runs, curves)
    train = fig.axes[0]
    sgd, adam = curves_of(train)
    assert len(sgd.get_xdata()) == 5 and list(adam.get_xdata()) == [1, 2, 3]
    (cross,) = crosses(train)
    assert (cross.get_xdata()[0], cross.get_ydata()[0]) == (3, adam.get_ydata()[-1])
    assert "diverged" in legend_labels(fig)
    assert "× = last epoch before a run diverged" in fig._suptitle.get_text()


def test_a_run_diverged_in_its_first_epoch_is_a_cross_on_the_top_edge(figure):
    runs, curves = records(["sgd", "adam"], [0.1], diverged={("adam", 0.1): 1})
    fig = figure(runs, curves)
    (cross,) = crosses(fig.axes[0])
    assert cross.get_ydata()[0] == 1.0 and cross.get_transform() != fig.axes[0].transData


def test_nothing_to_draw_is_an_error():
    runs, curves = records(["sgd"], [0.1], diverged={("sgd", 0.1): 1})
    with pytest.raises(DataError, match="nothing to draw: every run diverged in its first epoch"):
        study_figure(runs, curves)


# --------------------------------------------------------------------------- saved studies


@pytest.fixture
def study(saved_study) -> Path:
    return saved_study[0]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_curves_csv_holds_objective_seconds_and_validation(study, tmp_path):
    curves, runs = read_csv(study / "curves.csv"), read_csv(study / "runs.csv")
    assert list(curves[0]) == [
        "run",
        "epoch",
        "train_loss",
        "test_loss",
        "val_loss",
        "objective",
        "seconds",
        "accuracy",
    ]
    for run in runs:
        mine = [c for c in curves if c["run"] == run["run"]]
        if run["status"] == "diverged":
            assert mine == []  # lr 1e30 overflows in the first epoch
            continue
        assert float(mine[-1]["objective"]) == float(run["objective"])
        # l2 = 0.01: the objective is the loss plus the penalty
        assert all(float(c["objective"]) > float(c["train_loss"]) for c in mine)
        seconds = [float(c["seconds"]) for c in mine]
        assert seconds == sorted(seconds) and 0 < seconds[-1] <= float(run["seconds"])
    config = json.loads((study / "config.json").read_text())
    assert config["metrics"] == ["accuracy"] and config["seconds"] > 0
    validated = losslab.compare(
        "iris",
        optimizer="adam",
        seeds=1,
        epochs=2,
        val_size=0.2,
        jobs=1,
        save=True,
        out=str(tmp_path),
    )
    rows = read_csv(Path(validated.record) / "curves.csv")
    assert all(float(r["val_loss"]) > 0 for r in rows)


def test_each_run_keeps_its_own_metric_column(tmp_path):
    result = losslab.compare(
        "breast-cancer",
        model="linear",
        loss=["mse", "hinge"],
        optimizer="sgd",
        seeds=1,
        epochs=2,
        jobs=1,
        save=True,
        out=str(tmp_path),
    )
    curves = read_csv(Path(result.record) / "curves.csv")
    by_loss = {run["run"]: run["loss"] for run in result.runs}
    for row in curves:
        mine, other = (
            ("r2", "accuracy") if by_loss[int(row["run"])] == "mse" else ("accuracy", "r2")
        )
        assert row[mine] != "" and row[other] == ""


def test_saved_study_redraws_the_same_figure(study, figure):
    from losslab.study.compare import load_study
    from losslab.study.summary import optima

    saved = load_study(study)
    fig = figure(saved.runs, saved.curves, optima=optima(saved.reference))
    assert [ax.get_title() for ax in fig.axes] == [
        "f − f* vs epoch",
        "f − f* vs wall time",
        "final f − f* vs lr",
    ]
    assert len(crosses(fig.axes[2])) == 2  # gd and adam diverged at lr 1e30
    assert sorted(legend_labels(fig)) == sorted(
        [f"{o}, lr {lr:g}" for o in ("gd", "adam") for lr in (0.01, 0.1, 1e30)]
        + ["min–max over seeds", "diverged"]
    )


def test_plot_command_writes_png_svg_and_pdf(cli, study, tmp_path):
    for name, magic in (("a.png", b"\x89PNG"), ("a.svg", b"<?xml"), ("a.pdf", b"%PDF")):
        out = cli("plot", study, "--out", tmp_path / name).stdout.strip()
        assert Path(out) == tmp_path / name and Path(out).read_bytes()[:5].startswith(magic)
    assert "<svg" in (tmp_path / "a.svg").read_text()


def test_compare_plot_takes_svg(cli, tmp_path):
    out = tmp_path / "c.svg"
    cli("compare", "iris", "--optimizer", "sgd", "--epochs", "2", "--seeds", "1", "--no-save",
        "--plot", out)  # fmt: skip
    assert out.read_text().lstrip().startswith("<?xml")


def test_old_study_without_the_new_columns_still_plots(cli, study, tmp_path, figure):
    from losslab.study.compare import load_study
    from losslab.study.summary import optima

    old = tmp_path / "old"
    old.mkdir()
    for f in study.iterdir():
        if f.is_file():  # not runs/, the run files (an old study has none)
            (old / f.name).write_bytes(f.read_bytes())
    rows = read_csv(study / "curves.csv")
    keep = ["run", "epoch", "train_loss", "test_loss", "accuracy"]
    with open(old / "curves.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, keep, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    config = json.loads((old / "config.json").read_text())
    del config["metrics"], config["seconds"]
    (old / "config.json").write_text(json.dumps(config))
    assert Path(cli("plot", old).stdout.strip()) == old / "curves.png"
    saved = load_study(old)
    fig = figure(saved.runs, saved.curves, optima=optima(saved.reference))
    # no objective per epoch: the losses, not the suboptimality
    assert [ax.get_title() for ax in fig.axes][:3] == [
        "training loss",
        "test loss",
        "test accuracy",
    ]
    assert cli("report", old).exit_code == 0


def test_plot_command_rejects_other_formats(cli, study):
    line = cli.error("plot", study, "--out", "x.txt")
    assert line == "error: --out takes a .png, .svg or .pdf file name, got 'x.txt'"


def test_a_run_that_diverged_at_once_has_nothing_to_draw(cli, tmp_path):
    cli("fit", "diabetes", "--model", "linear", "--optimizer", "gd", "--lr", "1e30",
        "--out", tmp_path, code=1)  # fmt: skip
    (run,) = tmp_path.iterdir()
    assert (run / "history.csv").read_text() == "epoch,train_loss\n"
    line = cli.error("plot", run)
    assert line == f"error: {run}: nothing to draw: every run diverged in its first epoch"
    assert not (run / "curves.png").exists()
    (run / "history.csv").write_text("\n")  # as such runs were saved before
    assert cli.error("plot", run) == line


def test_a_diverged_run_is_drawn_up_to_its_divergence(cli, tmp_path):
    cli("fit", "breast-cancer", "--model", "linear", "--optimizer", "gd", "--out", tmp_path,
        code=1)  # fmt: skip
    (run,) = tmp_path.iterdir()
    from losslab.views.plot import records_of

    found = records_of(run)
    fig = study_figure(found.runs, found.curves, title=found.title)
    try:
        train = fig.axes[0]
        (line,) = curves_of(train)
        assert len(line.get_xdata()) == found.runs[0]["epochs_run"] - 1
        assert len(crosses(train)) == 1
    finally:
        mpl.pyplot.close(fig)
    assert Path(cli("plot", run).stdout.strip()).stat().st_size > 10_000


def test_without_matplotlib_one_line(cli, study, no_matplotlib):
    line = cli.error("plot", study)
    assert line == "error: plotting needs matplotlib: pip install 'losslab[plot]'"


def test_compare_prints_its_table_then_says_there_is_nothing_to_draw(cli, tmp_path):
    png = tmp_path / "x.png"
    result = cli("compare", "diabetes", "--optimizer", "gd", "--lr", "1e30", "--seeds", "1",
                 "--epochs", "2", "--no-save", "--plot", png, code=1)  # fmt: skip
    assert "diverged" in result.stdout and not png.exists()
    assert result.stderr.strip() == "error: nothing to draw: every run diverged in its first epoch"


# --------------------------------------------------------------------------- fit for a slide


def test_long_facets_break_titles_inside_their_panels(figure):
    """Two regression losses with long names, validation, three lrs: 2 rows of 3 panels per
    loss; no title runs off the figure ("test accurac") or into its neighbour."""
    losses = ("squared-epsilon-insensitive", "epsilon-insensitive")
    names = ["sgd", "momentum", "adam", "rmsprop", "nesterov"]
    runs, curves = records(names, [0.001, 0.01, 0.1], losses=losses, seeds=2)
    for row in curves:
        row["val_loss"] = 1.05 * row["train_loss"]
    for run in runs:
        run["val_loss"] = run["train_loss"]
    fig = figure(runs, curves)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes]
    assert len(boxes) == 10
    for box in boxes:
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    assert fig.axes[2].get_title() == "squared-epsilon-insensitive\ntest loss (best lr)"


def test_short_titles_stay_on_one_line(figure):
    runs, curves = records(["sgd"], [0.1], losses=("mse", "mae"))
    assert [ax.get_title() for ax in figure(runs, curves).axes][:2] == [
        "mse — training loss",
        "mse — test loss",
    ]


def accuracy_records(first: dict[str, float], last: dict[str, float], epochs: int = 10):
    """One run per optimizer whose accuracy rises from ``first`` to ``last`` (geometric)."""
    runs, curves = records(list(first), [0.01], epochs=epochs, metric="accuracy")
    for row in curves:
        name = runs[row["run"]]["optimizer"]
        t = (row["epoch"] - 1) / (epochs - 1)
        row["accuracy"] = first[name] + (last[name] - first[name]) * math.sqrt(t)
    return runs, curves


@pytest.mark.parametrize(
    "first, last, scale",
    [
        # Adam paper Fig. 1: nesterov's accuracy starts under every ending
        ({"adam": 0.917, "adagrad": 0.918, "nesterov": 0.89},
         {"adam": 0.928, "adagrad": 0.927, "nesterov": 0.92}, "linear"),
        # an MLP: epoch 1 near chance, the endings 0.966–0.975
        ({"adam": 0.3, "adagrad": 0.2, "nesterov": 0.1},
         {"adam": 0.973, "adagrad": 0.968, "nesterov": 0.975}, "logit"),
    ],
)  # fmt: skip
def test_the_accuracy_panel_never_cuts_epochs(figure, first, last, scale):
    runs, curves = accuracy_records(first, last)
    fig = figure(runs, curves)
    (panel,) = [ax for ax in fig.axes if "accuracy" in ax.get_title()]
    low, high = panel.get_ylim()
    values = [v for line in curves_of(panel) for v in line.get_ydata()]
    assert len(values) == 30 and low < min(values) and max(values) < high
    assert panel.get_yscale() == scale
    assert "cut" not in panel.get_ylabel()
    if scale == "logit":  # plain decimals, not matplotlib's 1 − 10⁻¹
        ticks = panel.get_yticks()
        assert list(ticks) == [0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
        assert panel.yaxis.get_major_formatter()(0.95, 0) == "0.95"


def test_fifteen_optimizers_differ_in_colour_or_line_style(figure):
    """zoo.png: 15 optimizers at one lr each; the colours repeat after 8, so the second round
    is dashed (and marked): no two curves share colour and line style."""
    names = [f"opt{i}" for i in range(15)]
    runs, curves = records(names, [0.1])
    fig = figure(runs, curves)
    lines = curves_of(fig.axes[0])
    pairs = {(line.get_color(), line.get_linestyle()) for line in lines}
    assert len(lines) == 15 and len(pairs) == 15
    assert lines[0].get_color() == lines[8].get_color()
    assert lines[8].get_marker() not in ("None", "", None)
