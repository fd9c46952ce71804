"""`losslab eval`, `losses`, `datasets` through the CLI, and every bad input the issue lists."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from losslab.losses import LOSSES


def test_version_and_module_entry(cli):
    assert cli("--version").stdout.startswith("losslab ")
    out = subprocess.run(
        [sys.executable, "-m", "losslab", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("losslab ")


def test_help_does_not_import_pandas():
    code = "import sys; from losslab.cli import app; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_losses_table_reads_the_registry(cli):
    listed = cli.json("losses")
    assert [row["name"] for row in listed] == LOSSES.names()
    assert all(row["formula"] and row["task"] for row in listed)
    help_text = "".join(cli("eval", "--help").stdout.split())  # undo the wrapping
    for name in LOSSES.names():
        assert name in help_text


def test_datasets_listing(cli):
    rows = {row["name"]: row for row in cli.json("datasets")}
    assert rows["iris"]["rows"] == 150 and rows["iris"]["features"] == 4
    assert rows["breast-cancer"]["rows"] == 569 and rows["breast-cancer"]["features"] == 30
    assert rows["diabetes"]["target"] == "progression"
    assert rows["digits"]["features"] == 64


def test_bundled_names_from_any_directory(cli, tmp_path):
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        for name in (
            "breast_cancer_probabilities",
            "breast-cancer-probabilities",
            "diabetes-predictions",
        ):
            assert cli.json("eval", name, "--loss", "mse")["rows"] > 0
    finally:
        os.chdir(here)


def test_eval_regression_example(cli, write_csv):
    path = write_csv("y,pred\n3,2.5\n5,5.5\n")
    out = cli.json("eval", path, "--loss", "mse", "--loss", "mae", "--loss", "rmse")
    assert out["rows"] == 2
    assert out["losses"] == {"mse": 0.25, "mae": 0.5, "rmse": 0.5}
    assert out["metrics"]["r2"] == pytest.approx(1 - 0.5 / 2.0, rel=1e-15)


def test_eval_textbook_values(cli, write_csv):
    path = write_csv("y,p\n1,0.9\n0,0.1\n")
    out = cli.json("eval", path, "--loss", "log_loss")
    assert out["losses"]["bce"] == pytest.approx(-math.log(0.9), rel=1e-12)
    assert out["metrics"]["accuracy"] == 1.0
    path = write_csv("y,a,b,c\n1,0.1,0.9,0.2\n", "logits.csv")
    out = cli.json("eval", path, "--loss", "ce", "--logits")
    expected = math.log(math.exp(0.1) + math.exp(0.9) + math.exp(0.2)) - 0.9
    assert out["losses"]["cross-entropy"] == pytest.approx(expected, rel=1e-12)


def test_eval_all_on_bundled_examples(cli):
    out = cli.json("eval", "iris-probabilities")
    assert out["pred"] == ["setosa", "versicolor", "virginica"]
    assert set(out["losses"]) == {"cross-entropy"}  # multiclass-hinge reads scores
    assert 0.8 < out["metrics"]["accuracy"] <= 1.0
    out = cli.json("eval", "breast-cancer-probabilities", "--loss", "all")
    assert {"bce", "focal", "mse", "rmse"} <= set(out["losses"])
    assert not {"contrastive", "hinge", "kl-div"} & set(out["losses"])
    out = cli.json("eval", "breast-cancer-probabilities", "--loss", "all", "--logits")
    margin = {"hinge", "squared-hinge", "modified-huber", "perceptron", "soft-margin"}
    assert {"bce", "focal"} | margin == set(out["losses"])
    out = cli.json("eval", "diabetes-predictions")
    assert {"mse", "rmse", "huber", "log-cosh"} <= set(out["losses"])
    assert "bce" not in out["losses"]
    assert 0.3 < out["metrics"]["r2"] < 0.7


def test_eval_parameters_reach_the_loss(cli, write_csv):
    path = write_csv("y,pred\n0,3\n")
    out = cli.json("eval", path, "--loss", "huber", "--delta", "2")
    assert out["losses"]["huber"] == 2 * (3 - 1)
    assert out["params"] == {"delta": 2.0}


def test_eval_kl_div_with_repeated_targets(cli, write_csv):
    path = write_csv("q0,q1,p0,p1\n0.5,0.5,0.25,0.75\n1,0,0.5,0.5\n")
    out = cli.json(
        "eval",
        path,
        "--loss",
        "kl",
        "--target",
        "q0",
        "--target",
        "q1",
        "--pred",
        "p0",
        "--pred",
        "p1",
    )
    expected = (0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75) + math.log(2)) / 2
    assert out["losses"]["kl-div"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_eval_other_formats(cli, write_csv, fmt):
    path = write_csv("y,pred\n3,2.5\n5,5.5\n")
    out = cli("eval", path, "--loss", "mse", "--format", fmt).stdout
    assert "mse" in out and "0.25" in out
    if fmt == "csv":
        assert out.splitlines()[0] == "name,value"


# --------------------------------------------------------------------------- bad input


def test_missing_file(cli, tmp_path):
    err = cli.error("eval", tmp_path / "nope.csv")
    assert "nope.csv" in err and "no such file" in err


def test_directory(cli, tmp_path):
    assert "is a directory" in cli.error("eval", tmp_path)


def test_empty_file(cli, write_csv):
    assert "empty file" in cli.error("eval", write_csv(""))


def test_header_without_rows(cli, write_csv):
    assert "no data rows" in cli.error("eval", write_csv("y,pred\n"))


def test_ragged_row_too_long(cli, write_csv):
    err = cli.error("eval", write_csv("y,pred\n1,2\n3,4,5\n"))
    assert "line 3" in err and "ragged" in err and "data.csv" in err


def test_ragged_row_too_short(cli, write_csv):
    err = cli.error("eval", write_csv("y,pred\n1,2\n3\n4,5\n"), "--loss", "mse")
    assert "line 3" in err and "ragged" in err


def test_non_numeric_value(cli, write_csv):
    err = cli.error("eval", write_csv("y,pred\n1,2\n3,abc\n4,5\n"), "--loss", "mse")
    assert "line 3" in err and "'pred'" in err and "abc" in err and "data.csv" in err


def test_missing_value(cli, write_csv):
    err = cli.error("eval", write_csv("y,pred\n1,2\n,3\n"), "--loss", "mse")
    assert "line 3" in err and "'y'" in err and "missing" in err


@pytest.mark.parametrize("bad", ["inf", "nan", "-inf"])
def test_non_finite_prediction(cli, write_csv, bad):
    err = cli.error("eval", write_csv(f"y,pred\n1,2\n3,{bad}\n"), "--loss", "mse")
    assert "line 3" in err and "'pred'" in err


def test_unknown_loss_suggests(cli, write_csv):
    err = cli.error("eval", write_csv("y,pred\n1,2\n"), "--loss", "hubr")
    assert "unknown loss 'hubr'" in err and "huber" in err and "mse" in err
    assert "Did you mean 'huber'" in err


def test_unknown_column_lists_columns(cli, write_csv):
    err = cli.error("eval", write_csv("y,pred\n1,2\n"), "--pred", "yhat", "--loss", "mse")
    assert "'yhat'" in err and "y, pred" in err


def test_probability_outside_unit_interval(cli, write_csv):
    err = cli.error("eval", write_csv("y,p\n1,0.5\n0,1.3\n"), "--loss", "bce")
    assert "line 3" in err and "1.3" in err and "'p'" in err


def test_probability_rows_not_summing_to_one(cli, write_csv):
    err = cli.error("eval", write_csv("y,a,b\n0,0.5,0.5\n1,0.4,0.4\n"), "--loss", "ce")
    assert "line 3" in err and "--logits" in err


def test_label_outside_domain(cli, write_csv):
    err = cli.error("eval", write_csv("y,p\n1,0.5\n2,0.5\n"), "--loss", "bce")
    assert "line 3" in err and "'y'" in err
    err = cli.error("eval", write_csv("y,a,b\n0,0.5,0.5\n3,0.5,0.5\n", "m.csv"), "--loss", "ce")
    assert "line 3" in err and "m.csv" in err


def test_string_label_not_a_column(cli, write_csv):
    err = cli.error("eval", write_csv("y,cat,dog\ncat,0.5,0.5\nemu,0.5,0.5\n"), "--loss", "ce")
    assert "line 3" in err and "'emu'" in err


def test_binary_file(cli, tmp_path):
    path = tmp_path / "blob.csv"
    path.write_bytes(bytes(range(256)) * 4)
    assert "binary" in cli.error("eval", path)


def test_ambiguous_columns(cli, write_csv):
    err = cli.error("eval", write_csv("a,b,c\n1,2,3\n"), "--loss", "mse")
    assert "--target" in err and "a, b, c" in err


def test_unused_parameter(cli, write_csv):
    err = cli.error("eval", write_csv("y,pred\n1,2\n"), "--loss", "mse", "--delta", "2")
    assert "--delta" in err


def test_bad_parameter_value(cli, write_csv):
    err = cli.error("eval", write_csv("y,pred\n1,2\n"), "--loss", "quantile", "--quantile", "1.5")
    assert "1.5" in err


def test_eval_takes_class_weights_as_fit_does(cli):
    """cross-entropy with torch's class weights, the mean Σ w_y·ℓ / Σ w_y; bce with its
    pos_weight, the positive term multiplied (hand-computed from the CSV)."""
    import numpy as np
    import pandas as pd

    from losslab.data.read import DATASETS

    frame = pd.read_csv(DATASETS.get("iris-probabilities").path)
    p = frame[["setosa", "versicolor", "virginica"]].to_numpy()
    y = frame["species"].map({"setosa": 0, "versicolor": 1, "virginica": 2}).to_numpy()
    w = np.array([2.0, 1.0, 0.5])
    rows = -np.log(np.clip(p[np.arange(len(y)), y], np.finfo(float).eps, 1.0))
    out = cli.json("eval", "iris-probabilities", "--loss", "cross-entropy",
                   "--class-weight", "setosa=2,virginica=0.5")  # fmt: skip
    assert out["losses"]["cross-entropy"] == pytest.approx(
        np.sum(w[y] * rows) / np.sum(w[y]), rel=1e-12
    )
    assert out["class_weight"] == {"cross-entropy": {"setosa": 2.0, "versicolor": 1.0,
                                                     "virginica": 0.5}}  # fmt: skip

    frame = pd.read_csv(DATASETS.get("breast-cancer-probabilities").path)
    q = np.clip(frame["p_malignant"].to_numpy(), np.finfo(float).eps, 1 - np.finfo(float).eps)
    t = frame["malignant"].to_numpy()
    out = cli.json("eval", "breast-cancer-probabilities", "--loss", "bce", "--class-weight", "1=3")
    assert out["losses"]["bce"] == pytest.approx(
        np.mean(-(3.0 * t * np.log(q) + (1 - t) * np.log(1 - q))), rel=1e-12
    )
    assert out["class_weight"] == {"bce": {"pos_weight": 3.0}}
    assert cli.error("eval", "diabetes-predictions", "--loss", "mse", "--class-weight",
                     "balanced") == (
        "error: --class-weight applies to cross-entropy and bce; mse takes no class weights"
    )  # fmt: skip
