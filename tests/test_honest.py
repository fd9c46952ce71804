"""Honest experiments (issue #10): nothing is chosen on the test split, divergence is caught,
grids run each configuration once and rank within a loss, target and model choices say why."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from losslab.config import FitConfig
from losslab.prepare import SPLIT, generator, load_problem, make_split

# --------------------------------------------------------------------------- validation split


def test_patience_monitors_validation_and_restores_its_best(cli):
    out = cli.json("fit", "digits", "--optimizer", "rmsprop", "--patience", "5", "--no-save")
    assert out["status"] == "early_stopped"
    assert out["config"]["val_size"] == 0.1
    assert out["data"]["val_rows"] == math.ceil(0.1 * (1797 - 360))
    history = out["history"]
    best = history[out["epochs_run"] - 5 - 1]  # the last improvement, 5 epochs before the stop
    assert best["val_loss"] == pytest.approx(min(h["val_loss"] for h in history), rel=1e-3)
    # the parameters restored are the best validation epoch's, whatever the test loss did
    assert out["metrics"]["val"]["loss"] == pytest.approx(best["val_loss"], rel=1e-12)
    assert out["metrics"]["test"]["loss"] == pytest.approx(best["test_loss"], rel=1e-12)


def test_patience_without_validation_monitors_training_loss(cli):
    out = cli.json("fit", "iris", "--patience", "2", "--val-size", "0", "--tol", "0.5", "--no-save")
    assert out["status"] == "early_stopped" and "val" not in out["metrics"]
    assert "val_loss" not in out["history"][0]


def test_validation_is_drawn_after_the_test_split_and_scaling_ignores_both():
    base = FitConfig(data="iris")
    problem = load_problem(base)
    plain = make_split(problem, base, generator(0, SPLIT))
    config = FitConfig(data="iris", val_size=0.25)
    split = make_split(problem, config, generator(0, SPLIT))
    assert np.array_equal(plain.test_rows, split.test_rows)  # unchanged by the validation split
    assert not set(split.val_rows) & set(split.test_rows)
    train = np.setdiff1d(np.arange(150), np.concatenate([split.val_rows, split.test_rows]))
    assert split.y_train.shape[0] == train.size == 150 - 30 - 30
    assert np.allclose(split.scaler.mean, problem.X[train].mean(axis=0))
    # stratified: each species keeps its share in the validation rows
    assert sorted(np.bincount(split.y_val.astype(int))) == [10, 10, 10]


def test_compare_ranks_by_validation_loss(cli):
    out = cli.json(
        "compare", "iris", "--optimizer", "sgd,adam", "--val-size", "0.2", "--seeds", "1",
        "--epochs", "5", "--no-save", "-j", "1",
    )  # fmt: skip
    assert out["ranked_by"] == "val_loss"
    values = [row["val_loss_mean"] for row in out["summary"]]
    assert values == sorted(values)
    table = cli("compare", "iris", "--optimizer", "sgd", "--val-size", "0.2", "--seeds", "1",
                "--epochs", "2", "--no-save", "-j", "1").stdout  # fmt: skip
    assert "val loss" in table and "ranked by mean validation loss" in table


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--val-size", "1.5"], "--val-size must be in [0, 1), got 1.5"),
        (["--divergence-factor", "0.5"], "--divergence-factor must be > 1, got 0.5"),
    ],
)
def test_bad_validation_and_divergence_settings(cli, args, needle):
    assert needle in cli.error("fit", "iris", *args, "--no-save")


# --------------------------------------------------------------------------- divergence


def test_a_run_whose_objective_explodes_diverges(cli):
    args = ("fit", "breast-cancer", "--model", "linear", "--optimizer", "gd", "--no-save")
    message = cli.error(*args)
    assert "diverged at epoch" in message and "× the initial" in message
    out = json.loads(cli(*args, "--format", "json", code=1).stdout)
    assert out["status"] == "diverged" and out["metrics"]["train"]["loss"] is None
    assert out["epochs_run"] == out["diverged_at"] < 100
    lax = cli.json(*args, "--divergence-factor", "1e300")  # the factor is the only judge
    assert lax["status"] == "completed" and lax["metrics"]["train"]["loss"] > 1e30


def test_compare_counts_diverged_runs_and_never_averages_them(cli):
    out = cli.json(
        "compare", "breast-cancer", "--model", "linear", "--optimizer", "gd,sgd", "--seeds", "1",
        "--epochs", "20", "--no-save", "-j", "1",
    )  # fmt: skip
    gd = next(row for row in out["summary"] if row["optimizer"] == "gd")
    assert gd["diverged"] == 1 and gd["train_loss_mean"] is None


# --------------------------------------------------------------------------- grids and ranking


def test_identical_resolved_configurations_run_once(cli):
    out = cli.json(
        "compare", "iris", "--optimizer", "gd", "--lr", "0.1,default", "--seeds", "2",
        "--epochs", "3", "--no-save", "-j", "1",
    )  # fmt: skip
    assert [(r["lr"], r["seed"]) for r in out["runs"]] == [(0.1, 0), (0.1, 1)]
    assert len(out["summary"]) == 1
    assert out["config"]["coincided"] == [
        "gd (cross-entropy): lr 0.1 and default are both 0.1; ran once"
    ]


def test_rows_are_ranked_within_each_loss_never_across(cli):
    out = cli.json(
        "compare", "diabetes", "--optimizer", "gd,adam", "--loss", "mse,huber", "--seeds", "1",
        "--epochs", "5", "--no-save", "-j", "1",
    )  # fmt: skip
    assert [row["loss"] for row in out["summary"]] == ["mse", "mse", "huber", "huber"]
    for loss in ("mse", "huber"):
        values = [row["train_loss_mean"] for row in out["summary"] if row["loss"] == loss]
        assert values == sorted(values)


def test_epochs_to_target_is_an_integer(cli):
    out = cli.json(
        "compare", "breast-cancer", "--l2", "0.01", "--optimizer", "adam,sgd", "--seeds", "2",
        "--no-save", "-j", "1",
    )  # fmt: skip
    reached = [row["epochs_to_target"] for row in out["summary"]]
    assert all(type(e) is int for e in reached) and reached


# --------------------------------------------------------------------------- target and model


def _mnist_like(write_csv, n: int = 60):
    rng = np.random.default_rng(0)
    lines = ["label,pixel0,pixel1,pixel783"]
    lines += [f"{i % 10},{rng.normal():.4f},{rng.normal():.4f},{i}" for i in range(n)]
    return write_csv("\n".join(lines) + "\n")


def test_a_column_named_like_a_target_is_the_target(cli, write_csv):
    out = cli.json("fit", _mnist_like(write_csv), "--epochs", "2", "--no-save")
    assert out["config"]["target"] == "label" and out["config"]["model"] == "softmax"
    assert out["data"]["choice"] == (
        "target 'label' (named like a target) · 10 distinct integers → softmax "
        "(--model linear to override)"
    )
    table = cli("fit", _mnist_like(write_csv), "--epochs", "2", "--no-save").stdout
    assert "target 'label' (named like a target)" in table


def test_many_distinct_integers_are_a_regression_target(cli, write_csv):
    rng = np.random.default_rng(1)
    counts = rng.permutation(np.arange(68) % 34)
    text = "x,count\n" + "".join(f"{c + rng.normal():.3f},{c}\n" for c in counts)
    out = cli.json("fit", write_csv(text), "--epochs", "2", "--no-save")
    assert out["config"]["model"] == "linear"
    assert out["data"]["choice"] == (
        "target 'count' (last column) · 34 distinct integers (more than 20: a count or a value) "
        "→ linear (--model softmax to override)"
    )
    forced = cli.json("fit", write_csv(text), "--model", "softmax", "--epochs", "1", "--no-save")
    assert forced["data"]["choice"] == "target 'count' (last column) · softmax (--model)"


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [("--target", "labl", "did you mean 'label'?"), ("--features", "pixel1,pixl0", "'pixel0'?")],
)
def test_unknown_columns_suggest_the_closest(cli, write_csv, flag, value, needle):
    message = cli.error("fit", _mnist_like(write_csv), flag, value, "--no-save")
    assert f"{flag}: no column" in message and needle in message
