"""Never NaN, never inf as a result: a mean that does not overflow where the sum would, an R²
that says why it is undefined, and values beyond float64 reported as undefined — with no
RuntimeWarning (pytest turns them into errors)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from losslab.losses import LOSSES
from losslab.losses.metrics import R2_BEYOND, R2_CONSTANT, _r2, r2_score

BIG = np.finfo(np.float64).max


@pytest.mark.parametrize(
    ("loss", "y", "out", "expected"),
    [
        # rows of 1e308 and 1.5e308: their sum overflows, their mean does not
        ("bce", [0, 1, 0], [1e308, -1e308, 1.5e308], 1e308 / 3 * 2 + 0.5e308),
        ("focal", [0, 1, 0], [1e308, -1e308, 1.5e308], 1e308 / 3 * 2 + 0.5e308),
        ("hinge", [0, 1, 0], [1e308, -1e308, 1.5e308], 1e308 / 3 * 2 + 0.5e308),
        ("mae", [-1e308, 1e308], [1e308, -1e308], math.inf),  # |d| = 2e308 is beyond float64
        ("mae", [-1e308, 1e308], [0.5e308, -0.5e308], 1.5e308),
        ("rmse", [1e200, -1e200], [2e200, 3e200], 1e200 * math.sqrt(8.5)),
        ("rmse", [1e308, -1e308], [0.0, 0.0], 1e308),
        ("mse", [1e200, -1e200], [2e200, 3e200], math.inf),  # 8.5e400: not a float64
        ("cross-entropy", [1, 1], [[0.8e308, -0.8e308], [0.7e308, -0.7e308]], 1.5e308),
        ("cross-entropy", [0, 1], [[1e308, -1e308], [1.5e308, -1.5e308]], math.inf),
    ],
)
def test_mean_without_overflow(loss, y, out, expected):
    logits = LOSSES.get(loss).supports_logits
    value = LOSSES.get(loss).value(np.array(y, float), np.array(out, float), logits=logits)
    assert value == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("name", LOSSES.names())
def test_no_loss_is_nan_on_extreme_finite_inputs(name):
    loss = LOSSES.get(name)
    rng = np.random.default_rng(0)
    n = 8
    if loss.multi_target:
        y = np.full((n, 2), 0.5)
        out = np.tile([1e-300, 1.0 - 1e-16], (n, 1))
    elif loss.multi_output:
        y = rng.integers(0, 3, n).astype(float)
        out = rng.choice([-BIG, BIG, 1e308], size=(n, 3))
    elif loss.task == "pair":
        y = rng.integers(0, 2, n).astype(float)
        out = rng.choice([0.0, 1e154, 1e308], size=n)
    elif loss.task in ("binary", "margin"):
        y = rng.integers(0, 2, n).astype(float)
        out = rng.choice([-BIG, BIG, 1e308], size=n)
    elif loss.task == "positive":  # positive targets and predictions (poisson: log rates)
        y = rng.choice([1e-300, 1.0, 1e200, 1e308], size=n)
        out = rng.choice([1e-300, 1.0, 1e308], size=n)
        if name == "poisson":
            out = rng.choice([-BIG, 0.0, 1e308], size=n)
    else:
        y = rng.choice([-1e200, 1e200, 1e308], size=n)
        out = rng.choice([-BIG, 0.0, 1e308], size=n)
    value = loss.value(y, out, logits=loss.supports_logits)
    # poisson is torch's negative log-likelihood without log y!, negative where y > 1
    assert not math.isnan(value) and (value >= 0 or name == "poisson")


@pytest.mark.parametrize(
    ("y", "pred", "expected", "why"),
    [
        ([5.0, 5.0, 5.0], [1.0, 2.0, 3.0], None, R2_CONSTANT),
        ([0.1] * 7, [0.1] * 7, None, R2_CONSTANT),  # ȳ may be off by an ulp: still constant
        ([3.0], [2.0], None, R2_CONSTANT),  # one row
        ([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], 0.5, None),
        ([1e200, -1e200, 5e199], [2e200, 3e200, 1.0], 1 - 17.25 / (13 / 6), None),
        ([1e308, -1e308, BIG], [-BIG, BIG, 0.0], "as scaled", None),
        ([1e-170, 2e-170, 3e-170], [1e170, 0.0, 0.0], None, R2_BEYOND),
        ([1e-170, 2e-170, 3e-170], [1e-170, 2e-170, 4e-170], 0.5, None),
    ],
)
def test_r2(y, pred, expected, why):
    value, reason = _r2(np.array(y), np.array(pred))
    assert reason == why and r2_score(np.array(y), np.array(pred)) == value
    if expected is None:
        assert value is None
    elif expected == "as scaled":  # R² does not change when y and ŷ are scaled alike
        assert value == pytest.approx(r2_score(np.array(y) / BIG, np.array(pred) / BIG))
    else:
        assert value == pytest.approx(expected, rel=1e-12)


def test_eval_constant_target(cli, write_csv):
    path = write_csv("y,pred\n3,2\n3,4\n3,3\n")
    out = cli.json("eval", path)
    assert out["metrics"] == {"r2": None} and out["undefined"] == {"r2": "constant target"}
    assert "undefined (constant target)" in cli("eval", path).stdout
    assert cli("eval", path, "--format", "csv").stdout.endswith("r2,\n")


def test_eval_one_row(cli, write_csv):
    out = cli.json("eval", write_csv("y,pred\n3.5,2\n"), "--loss", "mse")
    assert out["losses"] == {"mse": 2.25} and out["metrics"] == {"r2": None}


def test_eval_beyond_float64_is_undefined(cli, write_csv):
    path = write_csv("y,pred\n1e200,2e200\n-1e200,3e200\n5e199,1\n")
    out = cli.json("eval", path, "--loss", "mse", "--loss", "rmse", "--loss", "mae")
    assert out["losses"]["mse"] is None and "exceeds the float64" in out["undefined"]["mse"]
    assert out["losses"]["rmse"] == pytest.approx(1e200 * math.sqrt(17.25 / 3))
    assert out["losses"]["mae"] == pytest.approx(5.5e200 / 3)
    assert out["metrics"]["r2"] == pytest.approx(1 - 17.25 / (13 / 6))
    table = cli("eval", path, "--loss", "mse").stdout
    assert "undefined (a row's loss exceeds the float64 maximum" in table


def test_eval_huge_logits(cli, write_csv):
    path = write_csv("y,pred\n0,1e308\n1,-1e308\n0,1.5e308\n")
    out = cli.json("eval", path, "--logits", "--loss", "bce")
    assert out["losses"]["bce"] == pytest.approx(1e308 / 3 * 2 + 0.5e308)
    assert out["undefined"] == {}


CONSTANT = "x,y\n1,5\n2,5\n3,5\n4,5\n5,5\n6,5\n"


def test_fit_constant_target(cli, write_csv):
    path = write_csv(CONSTANT)
    out = cli.json("fit", path, "--epochs", "3", "--no-save")
    assert out["metrics"]["train"]["r2"] is None and out["metrics"]["test"]["r2"] is None
    assert all(h["r2"] is None for h in out["history"])
    assert cli("fit", path, "--epochs", "3", "--no-save").stdout.count("undefined (constant") == 2


def test_compare_constant_target(cli, write_csv):
    path = write_csv(CONSTANT)
    args = ("compare", path, "--epochs", "3", "--seeds", "2", "--optimizer", "gd,adam")
    out = cli.json(*args, "--no-save", "--jobs", "1")
    assert all(row["r2_mean"] is None and row["r2_std"] is None for row in out["summary"])
    table = cli(*args, "--no-save", "--jobs", "1").stdout
    assert table.count("undefined (constant target)") == 2 and "nan" not in table


def test_compare_reference_beyond_float64(cli, write_csv):
    path = write_csv("x,y\n1,1.5e200\n2,-1.25e200\n3,5.5e199\n4,1.1e199\n5,2.7e200\n")
    args = ("compare", path, "--model", "linear", "--epochs", "2", "--seeds", "1", "--no-save")
    table = cli(*args, "--optimizer", "gd", "--jobs", "1").stdout
    assert "gap: no finite reference optimum (the objective exceeds float64)" in table
    assert "nan" not in table and "inf" not in table.replace("info", "")


def test_eval_columns_whose_sum_overflows(cli, write_csv):
    path = write_csv("y,a,b\n0,1e308,-1e308\n1,1e308,-1e308\n")
    out = cli.json("eval", path, "--logits")
    undefined = {"cross-entropy": None, "multiclass-hinge": None, "multi-margin": None}
    assert out["losses"] == undefined
    assert set(out["undefined"]) == set(undefined)
    assert out["metrics"] == {"accuracy": 0.5}


def test_predict_probabilities_of_huge_logits(cli, tmp_path):
    import losslab

    run = losslab.fit("iris", epochs=1, save=True, out=str(tmp_path))
    model = json.loads(Path(run.record, "model.json").read_text())
    model["intercept"] = [1e308, -1e308, 0.0]  # S − max(S) is −inf: probability 0, no warning
    file = tmp_path / "model.json"
    file.write_text(json.dumps(model))
    rows = cli("predict", file, "iris").stdout.splitlines()
    assert rows[1] == "setosa,1.0,0.0,0.0" and len(rows) == 151
