"""Honest experiments (issue #10): nothing is chosen on the test split, divergence is caught,
grids run each configuration once and rank within a loss, target and model choices say why."""

from __future__ import annotations

import json
import math
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from losslab.errors import ConfigError
from losslab.train.config import FitConfig
from losslab.train.prepare import SPLIT, generator, load_problem, make_split

README = Path(__file__).resolve().parent.parent / "README.md"

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


def test_full_batch_optimizers_skip_minibatch_runs_with_a_note(cli):
    out = cli.json(
        "compare", "breast-cancer", "--l2", "0.01", "--optimizer", "sgd,lbfgs",
        "--batch-size", "32,full", "--seeds", "1", "--epochs", "3", "--no-save", "-j", "1",
    )  # fmt: skip
    runs = {(r["optimizer"], r["batch_size"]) for r in out["runs"]}
    assert runs == {("sgd", 32), ("sgd", 0), ("lbfgs", 0)}
    assert out["config"]["coincided"] == [
        "lbfgs steps on the full batch only (each step uses the whole objective): its runs at "
        "batch size 32 are left out"
    ]
    message = cli.error(
        "compare", "iris", "--optimizer", "lbfgs", "--batch-size", "16", "--no-save", "-j", "1"
    )
    assert message.startswith("error: no run left to do: lbfgs steps on the full batch only")


def test_full_batch_methods_on_minibatches_are_named_so(cli):
    """gd at batch size 16 is minibatch SGD: the study says so under its table, once."""
    out = cli.json(
        "compare", "iris", "--optimizer", "gd,adam", "--batch-size", "16,full",
        "--seeds", "2", "--epochs", "2", "--no-save", "-j", "1",
    )  # fmt: skip
    assert {(r["optimizer"], r["batch_size"]) for r in out["runs"]} == {
        ("gd", 16), ("gd", 0), ("adam", 16), ("adam", 0)
    }  # fmt: skip
    assert out["config"]["coincided"] == [
        "gd is a full-batch method: at batch size 16 it steps on minibatches (stochastic, not "
        "the method its name promises)"
    ]
    table = cli("compare", "iris", "--optimizer", "gd", "--batch-size", "16", "--seeds", "1",
                "--epochs", "2", "--no-save", "-j", "1").stdout  # fmt: skip
    assert "gd is a full-batch method" in " ".join(table.split())


def test_a_penalised_study_is_ranked_by_the_objective_the_gap_measures(cli):
    out = cli.json(
        "compare", "breast-cancer", "--l2", "0.01", "--optimizer", "adam,gd,lbfgs",
        "--seeds", "1", "--epochs", "10", "--no-save", "-j", "1",
    )  # fmt: skip
    objectives = [row["objective_mean"] for row in out["summary"]]
    assert objectives == sorted(objectives)
    gaps = [row["gap_mean"] for row in out["summary"]]
    assert gaps == sorted(gaps)  # one optimum per seed: the same order
    table = cli(
        "compare",
        "breast-cancer",
        "--l2",
        "0.01",
        "--optimizer",
        "adam,gd",
        "--seeds",
        "1",
        "--epochs",
        "3",
        "--no-save",
        "-j",
        "1",
    ).output
    assert "ranked by mean training objective (loss + penalty, as the gap)" in table


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


# --------------------------------------------------------------------------- missing, strings

HOUSES = """x,region,z,price
1.0,south,3,10
2.0,north,,12
3.0,south,5,15
4.0,east,6,18
5.0,north,7,19
6.0,south,8,22
7.0,east,,25
8.0,north,10,27
9.0,south,11,30
10.0,east,12,33
"""


def test_one_missing_value_stops_with_the_options(cli, write_csv):
    message = cli.error("fit", write_csv(HOUSES), "--model", "linear", "--no-save")
    assert message.endswith(
        "line 3, column 'z': missing value (--missing drop, mean or median handles it)"
    )


def test_missing_values_dropped_or_filled_from_the_training_rows(cli, write_csv, tmp_path):
    path = write_csv(HOUSES)
    args = ("fit", path, "--model", "linear", "--epochs", "5", "--test-size", "0")
    dropped = cli.json(*args, "--missing", "drop", "--no-save")
    assert dropped["data"]["preparation"]["dropped_rows"] == 2
    assert dropped["data"]["train_rows"] == 8
    filled = cli.json(*args, "--missing", "median", "--out", tmp_path / "runs")
    assert filled["data"]["preparation"]["imputed"] == {"z": 2}
    model = json.loads((Path(filled["record"]) / "model.json").read_text())
    assert model["encoder"]["fill"] == {"z": 7.5}  # median of 3, 5, 6, 7, 8, 10, 11, 12
    table = cli(*args, "--missing", "mean", "--no-save").stdout
    assert "missing values filled with the training mean: z (2)" in table


def test_string_columns_are_one_hot_on_the_training_categories(cli, write_csv, tmp_path):
    path = write_csv(HOUSES.replace(",,", ",4,"))
    out = cli.json("fit", path, "--model", "linear", "--epochs", "5", "--out", tmp_path / "r")
    assert out["data"]["preparation"]["onehot"] == {"region": 3}
    model = json.loads((Path(out["record"]) / "model.json").read_text())
    assert model["inputs"] == ["x", "region=east", "region=north", "region=south", "z"]
    assert len(model["coef"]) == 5
    new = write_csv("x,region,z,price\n1,west,3,10\n2,north,4,12\n", "new.csv")
    predictions = cli("predict", out["record"], new).stdout.splitlines()
    assert predictions[0] == "prediction" and len(predictions) == 3  # 'west' unseen: all zeros
    mean, scale = np.array(model["scaler"]["mean"]), np.array(model["scaler"]["scale"])
    x = (np.array([1.0, 0, 0, 0, 3]) - mean) / scale
    assert float(predictions[1]) == pytest.approx(x @ model["coef"] + model["intercept"])
    scored = cli.json("eval", new, "--model", out["record"], "--loss", "mse")
    assert math.isfinite(scored["losses"]["mse"])


def test_string_columns_can_be_refused(cli, write_csv):
    message = cli.error("fit", write_csv(HOUSES), "--missing", "mean", "--categorical", "error")
    assert message.endswith(
        "line 2, column 'region': non-numeric value 'south' (--categorical onehot encodes "
        "string columns)"
    )
    with pytest.raises(ConfigError, match="--missing must be one of error, drop, mean, median"):
        FitConfig(missing="zero").validate()


# --------------------------------------------------------------------------- Python API


def test_api_names_stay_functions_after_importing_the_submodules():
    import losslab
    import losslab.study.compare
    import losslab.study.evaluate
    from losslab.study.compare import Grid  # the submodules still import as usual

    assert Grid is sys.modules["losslab.study.compare"].Grid
    for name in ("fit", "evaluate", "compare"):
        assert isinstance(getattr(losslab, name), types.FunctionType)


def test_api_takes_dataframes_and_keyword_grids():
    import pandas as pd

    import losslab

    frame = pd.read_csv(README.parent / "datasets" / "iris.csv")
    result = losslab.fit(frame, epochs=3)
    assert result.status == "completed" and result.data["path"] is None
    assert list(result.to_frame()["epoch"]) == [1, 2, 3]
    assert result.to_dict()["config"]["data"] == "<DataFrame>"
    study = losslab.compare(frame, optimizer=["adam", "sgd"], lr=[0.01, 0.1], seeds=2, epochs=3,
                            jobs=1)  # fmt: skip
    runs = study.to_frame()
    assert len(runs) == 8 and set(runs["optimizer"]) == {"adam", "sgd"}
    assert len(study.to_frame("summary")) == 4 and len(study.to_frame("curves")) == 24
    probs = pd.read_csv(README.parent / "datasets" / "examples" / "iris_probabilities.csv")
    assert losslab.evaluate(probs, "cross-entropy").losses == pytest.approx(
        losslab.evaluate("iris-probabilities", ["cross-entropy"]).losses
    )


def test_readme_python_section_runs(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### From Python") :]
    code = section[section.index("```python\n") + 10 : section.index("```\n", 10)]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert not any(tmp_path.iterdir())  # the library saves nothing unless asked


# --------------------------------------------------------------------------- small things


def test_batch_size_full(cli):
    out = cli.json("fit", "iris", "--batch-size", "full", "--epochs", "2", "--no-save")
    assert out["config"]["batch_size"] == 0
    assert (
        "batch full"
        in cli("fit", "iris", "--batch-size", "full", "--epochs", "1", "--no-save").stdout
    )
    study = cli.json(
        "compare", "iris", "--optimizer", "adam", "--batch-size", "full,16", "--seeds", "1",
        "--epochs", "2", "--no-save", "-j", "1",
    )  # fmt: skip
    assert sorted(r["batch_size"] for r in study["runs"]) == [0, 16]
    assert "'full'" in cli.error("fit", "iris", "--batch-size", "fulll", "--no-save")


def test_record_names_tell_runs_of_one_dataset_apart(cli, tmp_path):
    for lr in ("0.01", "0.1"):
        cli("fit", "diabetes", "--loss", "huber", "--lr", lr, "--epochs", "1", "--out", tmp_path)
    names = sorted(p.name.split("-", 2)[2] for p in tmp_path.iterdir())
    assert names == [
        "fit-diabetes-linear-huber-adam-lr0.01",
        "fit-diabetes-linear-huber-adam-lr0.1",
    ]


def test_margin_losses_refuse_probability_columns_without_logits(cli):
    message = cli.error("eval", "breast-cancer-probabilities", "--loss", "hinge")
    assert message.endswith("pass --logits to treat them as scores")
    scored = cli.json("eval", "breast-cancer-probabilities", "--loss", "hinge", "--logits")
    assert scored["losses"]["hinge"] > 0


# --------------------------------------------------------------------------- compare's table


def test_compare_table_fits_80_columns(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = cli(
        "compare", "breast-cancer", "--model", "linear", "--optimizer", "gd,sgd,adam",
        "--loss", "mse,hinge", "--patience", "3", "--seeds", "2", "--epochs", "10",
        "--no-save", "-j", "1",
    ).stdout  # fmt: skip
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines) and "…" not in out
    assert "val" in lines[2] and "adam" in out and "in --format json|csv" in out


def test_tiny_numbers_print_in_scientific_notation(cli, write_csv, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    rows = "".join(f"{x},{2 * x + 1}\n" for x in range(40))
    out = cli(
        "compare", write_csv("x,y\n" + rows), "--optimizer", "gd", "--lr", "0.5", "--epochs",
        "300", "--seeds", "2", "--no-save", "-j", "1",
    ).stdout  # fmt: skip
    assert "e-" in out.splitlines()[4]  # the train loss is tiny: 1.23e-20, not 0.0000
    assert not re.search(r"(?<![\d.])0\.0+(?![\d])", out)


def test_divergence_is_measured_against_the_objective_before_the_first_step():
    import losslab
    from losslab.train.prepare import prepare

    config = FitConfig(data="breast-cancer", model="linear", optimizer="gd")
    _, split = prepare(config)
    initial = float(np.mean(split.y_train**2))  # mse at the starting parameters (all zeros)
    result = losslab.fit("breast-cancer", model="linear", optimizer="gd")
    assert result.status == "diverged"
    assert f"× the initial {initial:.4g})" in result.message
    before = result.history[-1]["objective"]  # the last epoch below the ceiling
    assert before <= 1e4 * initial
