"""`losslab compare`: grids, parallel determinism, one code path with `fit`, the reference optimum,
saved studies and plots."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from test_fit import _encoded, newton, standardise

import losslab
from losslab.train.loop import FitConfig, prepare

SMALL = ["--epochs", "8", "--seeds", "2", "--no-save"]


def _strip_times(out: dict) -> dict:
    for run in out["runs"]:
        run.pop("seconds")
    for row in out["summary"]:
        row.pop("seconds_mean")
    out.pop("seconds")
    out["config"].pop("jobs")
    return out


def test_bare_compare_runs_the_default_study(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = cli.json("compare")
    assert {r["optimizer"] for r in out["runs"]} == {
        "gd",
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "adam",
        "adamw",
    }
    assert len(out["runs"]) == 24 and not out["partial"]
    assert out["config"]["model"] == "logistic"
    assert all(r["status"] == "completed" for r in out["runs"])
    assert all(r["accuracy"] > 0.9 for r in out["runs"])
    saved = Path(out["record"])
    assert saved.parent.name == "results"
    assert {p.name for p in saved.iterdir()} >= {
        "config.json",
        "runs.csv",
        "curves.csv",
        "summary.csv",
    }


def test_jobs_do_not_change_numbers(cli):
    args = ["compare", "iris", "--optimizer", "sgd,adam", "--lr", "0.01,0.1", *SMALL]
    one = _strip_times(cli.json(*args, "--jobs", "1"))
    two = _strip_times(cli.json(*args, "--jobs", "2"))
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert len(one["runs"]) == 2 * 2 * 2


def test_each_run_is_exactly_fit(cli):
    out = cli.json(
        "compare",
        "breast_cancer",
        "--optimizer",
        "momentum",
        "--optimizer",
        "adam",
        "--batch-size",
        "16,0",
        "--l2",
        "0.01",
        *SMALL,
        "--jobs",
        "2",
    )
    for run in out["runs"]:
        fit = losslab.fit(
            "breast_cancer",
            optimizer=run["optimizer"],
            lr=run["lr"],
            batch_size=run["batch_size"],
            seed=run["seed"],
            epochs=8,
            l2=0.01,
        )
        assert fit.metrics["train"]["loss"] == run["train_loss"]
        assert fit.metrics["test"]["loss"] == run["test_loss"]
        assert fit.metrics["test"]["accuracy"] == run["accuracy"]
        assert fit.epochs_run == run["epochs_run"]


def test_a_margin_loss_run_is_fit_too(cli):
    """hinge makes a linear model a classifier (stratified split, accuracy): in a study that
    mixes it with mse, each run must still be the `fit` of its own loss."""
    out = cli.json(
        "compare",
        "breast_cancer",
        "--model",
        "linear",
        "--loss",
        "mse,hinge",
        "--optimizer",
        "sgd",
        *SMALL,
        "--jobs",
        "2",
    )
    assert out["metrics"] == ["r2", "accuracy"]
    for run in out["runs"]:
        fit = losslab.fit(
            "breast_cancer",
            model="linear",
            loss=run["loss"],
            optimizer="sgd",
            seed=run["seed"],
            epochs=8,
        )
        key = "accuracy" if run["loss"] == "hinge" else "r2"
        assert fit.metrics["test"]["loss"] == run["test_loss"]
        assert fit.metrics["test"][key] == run[key]


def test_reference_is_least_squares_for_mse(cli):
    out = cli.json(
        "compare",
        "diabetes",
        "--optimizer",
        "gd",
        "--lr",
        "0.2",
        "--epochs",
        "5000",
        "--seeds",
        "1",
        "--test-size",
        "0",
        "--no-save",
    )
    X, y, _ = _encoded("linear")
    A = np.column_stack([X, np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    best = float(np.mean((A @ coef - y) ** 2))
    assert out["reference"]["objective"] == pytest.approx(best, rel=1e-10)
    gap = out["runs"][0]["gap"]
    assert 0 <= gap < 1e-6 * best
    assert out["summary"][0]["epochs_to_target"] is not None


def test_reference_is_newton_for_logistic_and_softmax_with_l2(cli):
    for name, model in (("breast_cancer", "logistic"), ("iris", "softmax")):
        out = cli.json(
            "compare",
            name,
            "--optimizer",
            "adam",
            "--epochs",
            "3",
            "--seeds",
            "1",
            "--test-size",
            "0",
            "--l2",
            "0.05",
            "--no-save",
        )
        X, y, _ = _encoded(model)
        best = newton(model, X, y, 0.05, int(y.max()) + 1)
        assert out["reference"]["objective"] == pytest.approx(best, rel=1e-9)
        assert out["runs"][0]["gap"] > 0


def test_reference_uses_each_seeds_training_split(cli):
    out = cli.json(
        "compare", "diabetes", "--optimizer", "gd", "--epochs", "2", "--seeds", "2", "--no-save"
    )
    per_seed = out["reference"]["per_seed"]
    assert len(per_seed) == 2 and per_seed[0] != per_seed[1]
    for seed, value in enumerate(per_seed):
        _, split = prepare(FitConfig(data="diabetes", seed=seed))
        A = np.column_stack([split.X_train, np.ones(len(split.y_train))])
        coef, *_ = np.linalg.lstsq(A, split.y_train, rcond=None)
        assert value == pytest.approx(np.mean((A @ coef - split.y_train) ** 2), rel=1e-10)
    assert standardise is not None


def test_no_reference_for_non_smooth_loss(cli):
    out = cli.json("compare", "diabetes", "--optimizer", "sgd", "--loss", "mae", *SMALL)
    assert out["reference"]["objective"] is None and "mae" in out["reference"]["reason"]
    assert all(r["gap"] is None for r in out["runs"])


def test_each_loss_has_its_own_reference(cli):
    out = cli.json(
        "compare",
        "breast_cancer",
        "--optimizer",
        "adam",
        "--loss",
        "bce,focal",
        "--l2",
        "0.01",
        *SMALL,
    )
    by_loss = out["reference"]["by_loss"]
    assert by_loss["bce"]["objective"] > 0 and by_loss["focal"]["objective"] is None
    for run in out["runs"]:
        assert (run["gap"] is None) == (run["loss"] == "focal")
        if run["loss"] == "bce":
            optimum = by_loss["bce"]["per_seed"][run["seed"]]
            assert run["gap"] == run["objective"] - optimum


def test_diverged_runs_are_counted_not_averaged(cli):
    out = cli.json("compare", "diabetes", "--optimizer", "gd", "--lr", "0.1,1e30", *SMALL)
    by_lr = {row["lr"]: row for row in out["summary"]}
    assert by_lr[1e30]["diverged"] == 2 and by_lr[1e30]["train_loss_mean"] is None
    assert by_lr[0.1]["diverged"] == 0
    assert all(r["status"] == "diverged" for r in out["runs"] if r["lr"] == 1e30)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--optimizer", "sgd,adamm"], "unknown optimizer 'adamm'"),
        (["--lr", "0.1,0"], "--lr must be > 0"),
        (["--lr", ","], "empty"),
        (["--loss", "bce,mse"], "compatible losses"),
        (["--batch-size", "-1"], "--batch-size"),
        (["--seeds", "0"], "--seeds"),
        (["--lr", "fast"], "'fast'"),
        (["--plot", "curves.txt"], "--plot takes a .png, .svg or .pdf file name"),
    ],
)
def test_bad_grid_values_rejected_before_running(cli, args, needle):
    err = cli.error("compare", "breast_cancer", *args, "--no-save")
    assert needle in err


def test_csv_format_and_saved_study(cli, tmp_path):
    result = cli(
        "compare",
        "iris",
        "--optimizer",
        "adam",
        "--epochs",
        "4",
        "--seeds",
        "2",
        "--out",
        tmp_path,
        "--format",
        "csv",
    )
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert len(rows) == 2 and rows[0]["optimizer"] == "adam"
    (study,) = [p for p in tmp_path.iterdir()]
    with open(study / "curves.csv") as fh:
        curves = list(csv.DictReader(fh))
    assert len(curves) == 2 * 4 and {"run", "epoch", "train_loss", "accuracy"} <= set(curves[0])
    with open(study / "summary.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 1
    assert json.loads((study / "config.json").read_text())["partial"] is False


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_plot_png(cli, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    out = cli.json(
        "compare",
        "iris",
        "--optimizer",
        "sgd,adam",
        "--epochs",
        "5",
        "--seeds",
        "2",
        "--plot",
        png,
        "--out",
        tmp_path / "results",
    )
    width, height = png_size(png)
    assert 900 <= width <= 1800 and 450 <= height <= 1800  # at 150 dpi (--dpi's default)
    again = Path(cli("plot", out["record"]).stdout.strip())
    assert again == Path(out["record"]) / "curves.png" and png_size(again) == (width, height)


def test_plot_without_matplotlib_names_the_extra(cli, no_matplotlib):
    err = cli.error("compare", "iris", "--plot", "x.png", "--no-save")
    assert "losslab[plot]" in err
