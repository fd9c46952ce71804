"""Calibration through the command line: `eval` on probability columns (and --bins), `fit`'s and
`compare`'s test columns and records, `plot RUN --reliability`, the report's section, and the
bad inputs the issue lists (one line each, exit 1)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from losslab.losses.calibration import reliability


def test_eval_adds_calibration_to_probability_columns(cli, write_csv):
    path = write_csv("y,a,b\n0,0.9,0.1\n1,0.3,0.7\n1,0.6,0.4\n0,0.2,0.8\n")
    got = cli.json("eval", path, "--target", "y", "--pred", "a", "--pred", "b", "--bins", "2")
    # by hand: confidences .9 (right), .7 (right), .6 (wrong), .8 (wrong); bins (0,.5], (.5,1]
    # → one bin of 4: accuracy .5, confidence .75: ECE = MCE = .25
    assert got["metrics"]["ece"] == pytest.approx(0.25, rel=1e-14)
    assert got["metrics"]["mce"] == pytest.approx(0.25, rel=1e-14)
    brier = (2 * 0.1**2 + 2 * 0.3**2 + 2 * 0.6**2 + 2 * 0.8**2) / 4  # Σ_k (p_k − 1[k = y])²
    assert got["metrics"]["brier"] == pytest.approx(brier, rel=1e-14)


def test_eval_binary_probabilities_match_the_library_and_sklearn(cli):
    got = cli.json("eval", "breast-cancer-probabilities", "--loss", "bce")
    from losslab.data.read import read_table

    table = read_table("breast-cancer-probabilities")
    y, p = table.numeric("malignant"), table.numeric("p_malignant")
    want = reliability(y, p)
    assert got["metrics"]["ece"] == pytest.approx(want.ece, rel=1e-14)
    metrics = pytest.importorskip("sklearn.metrics")
    assert got["metrics"]["brier"] == pytest.approx(metrics.brier_score_loss(y, p), rel=1e-12)


def test_eval_without_probabilities_has_no_calibration(cli):
    got = cli.json("eval", "diabetes-predictions", "--loss", "mse")
    assert "ece" not in got["metrics"]


BAD = [
    (("--bins", "0"), "--bins must be an integer >= 1, got 0"),
    (("--bins", "-2"), "--bins must be an integer >= 1, got -2"),
]


@pytest.mark.parametrize("args,needle", BAD)
def test_bad_bins_is_one_line(cli, args, needle):
    assert needle in cli.error("eval", "iris-probabilities", *args)


def test_bad_probabilities_for_ece_are_one_line_each(cli, write_csv):
    single = write_csv("y,p\n0,0.2\n1,1.5\n", "single.csv")
    err = cli.error("eval", single, "--target", "y", "--pred", "p", "--loss", "mse", "--bins", "5")
    assert "line 3" in err and "probabilities must lie in [0, 1]; found 1.5" in err
    unsummed = write_csv("y,a,b\n0,0.9,0.1\n1,0.5,0.6\n", "unsummed.csv")
    err = cli.error("eval", unsummed, "--target", "y", "--pred", "a", "--pred", "b", "--loss",
                    "cross-entropy", "--bins", "5")  # fmt: skip
    assert "line 3" in err and "rows must sum to 1 (within 1e-6); found 1.1" in err
    err = cli.error(
        "eval", unsummed, "--target", "y", "--pred", "a", "--pred", "b", "--loss",
        "multiclass-hinge", "--logits", "--bins", "15",
    )  # fmt: skip
    assert err == "error: --bins: calibration reads probabilities, not logits (drop --logits)"


def test_bins_refuses_regression_targets(cli):
    err = cli.error("eval", "diabetes-predictions", "--loss", "mse", "--bins", "10")
    assert err == "error: --bins: calibration needs 0/1 labels as the target"


def test_fit_records_and_shows_test_calibration(cli, tmp_path):
    out = tmp_path / "runs"
    got = cli.json("fit", "iris", "--epochs", "3", "--out", out, "--progress", "none")
    test = got["metrics"]["test"]
    assert {"ece", "mce", "brier"} <= set(test)
    run = next(out.iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    bins = metrics["reliability"]
    assert bins["part"] == "test" and bins["bins"] == 15
    counts = np.array(bins["counts"])
    assert counts.sum() == 30  # iris's 20 % test rows
    gaps = np.abs(np.array(bins["accuracy"]) - np.array(bins["confidence"]))
    assert float(np.sum(counts / counts.sum() * gaps)) == pytest.approx(test["ece"], rel=1e-12)
    table = cli("fit", "iris", "--epochs", "3", "--no-save", "--progress", "none").stdout
    assert "test ece" in table and "test brier" in table
    pytest.importorskip("matplotlib")  # the reliability diagram and the report's figures
    png = tmp_path / "rel.png"
    assert cli("plot", run, "--reliability", "--out", png).stdout.strip() == str(png)
    assert png.stat().st_size > 0
    page = tmp_path / "page.html"
    cli("report", run, "--out", page)
    assert "Calibration" in page.read_text()


def test_regression_and_margin_runs_have_no_calibration(cli, tmp_path):
    got = cli.json("fit", "diabetes", "--epochs", "2", "--no-save", "--progress", "none")
    assert "ece" not in got["metrics"]["test"]
    out = tmp_path / "runs"
    cli("fit", "breast-cancer", "--model", "linear", "--loss", "hinge", "--epochs", "2", "--out",
        out, "--progress", "none")  # fmt: skip
    run = next(out.iterdir())
    err = cli.error("plot", run, "--reliability")
    assert "has no reliability bins" in err


def test_compare_shows_ece_and_brier_columns(cli):
    got = cli.json("compare", "iris", "--loss", "cross-entropy", "--optimizer", "adam", "--epochs",
                   "2", "--seeds", "2", "--no-save")  # fmt: skip
    for run in got["runs"]:
        assert run["ece"] is not None and run["brier"] is not None
    row = got["summary"][0]
    assert row["ece_mean"] == pytest.approx(np.mean([r["ece"] for r in got["runs"]]), rel=1e-12)
    table = cli("compare", "iris", "--loss", "cross-entropy", "--optimizer", "adam", "--epochs",
                "2", "--no-save").stdout  # fmt: skip
    assert "ece" in table and "brier" in table
    plain = cli("compare", "diabetes", "--optimizer", "adam", "--epochs", "2", "--no-save").stdout
    assert "ece" not in plain
