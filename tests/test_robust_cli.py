"""Robust losses through the command line: flags and their one-line errors, `shapes --family
robust`, `explain`, and a fit on the corrupted diabetes pair scored on its clean rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from losslab.losses import get_loss

BAD = [
    (
        ("--loss", "barron", "--robust-alpha", "nan"),
        "robust_alpha must be in [-inf, inf); found nan",
    ),
    (
        ("--loss", "barron", "--robust-alpha", "inf"),
        "robust_alpha must be in [-inf, inf); found inf",
    ),
    (("--loss", "cauchy", "--robust-c", "0"), "robust_c must be > 0; found 0"),
    (("--loss", "tukey", "--robust-c", "-1"), "robust_c must be > 0; found -1"),
]


@pytest.mark.parametrize("args,needle", BAD)
def test_bad_robust_parameters_are_one_line(cli, args, needle):
    assert needle in cli.error("eval", "diabetes-predictions", *args)
    assert needle in cli.error("fit", "diabetes", *args, "--epochs", "1", "--no-save")


def test_alpha_minus_infinity_is_welsch(cli):
    got = cli.json("eval", "diabetes-predictions", "--loss", "barron", "--robust-alpha", "-inf",
                   "--robust-c", "50")  # fmt: skip
    welsch = cli.json("eval", "diabetes-predictions", "--loss", "welsch", "--robust-c", "50")
    assert got["losses"]["barron"] == pytest.approx(welsch["losses"]["welsch"], rel=1e-15)


def test_eval_takes_alpha_as_the_issue_names_it(cli):
    """In `eval` (no optimizer flags) Barron's shape is also --alpha; in fit --alpha stays
    RMSprop's smoothing constant."""
    a = cli.json("eval", "diabetes-predictions", "--loss", "barron", "--alpha", "-2",
                 "--robust-c", "40")  # fmt: skip
    b = cli.json("eval", "diabetes-predictions", "--loss", "barron", "--robust-alpha", "-2",
                 "--robust-c", "40")  # fmt: skip
    assert a["losses"]["barron"] == b["losses"]["barron"] and a["params"]["robust_alpha"] == -2
    assert "robust_alpha must be in" in cli.error(
        "eval", "diabetes-predictions", "--loss", "barron", "--alpha", "nan"
    )


def test_eval_reads_the_scale(cli):
    from losslab.data.read import read_table

    table = read_table("diabetes-predictions")
    y, p = table.numeric("progression"), table.numeric("predicted")
    got = cli.json("eval", "diabetes-predictions", "--loss", "cauchy", "--robust-c", "30")
    want = np.mean(0.5 * 30**2 * np.log1p(((p - y) / 30) ** 2))
    assert got["losses"]["cauchy"] == pytest.approx(want, rel=1e-12)


def test_shapes_family_robust_json(cli):
    charts = cli.json("shapes", "--family", "robust")
    assert len(charts) == 1 and charts[0]["kind"] == "robust"
    values, grads = charts[0]["values"], charts[0]["gradients"]
    assert list(values) == [
        "cauchy", "geman-mcclure", "welsch", "tukey",
        "barron α=2", "barron α=1", "barron α=0", "barron α=−2", "barron α=−∞",
    ]  # fmt: skip
    x = np.array(charts[0]["x"])
    i = int(np.argmin(np.abs(x - 3.0)))
    assert values["barron α=2"][i] == pytest.approx(0.5 * x[i] ** 2, rel=1e-12)
    assert grads["barron α=−∞"][i] == pytest.approx(x[i] * math.exp(-0.5 * x[i] ** 2), rel=1e-12)
    assert charts[0]["same_as"] == {"barron α=−2": "geman-mcclure", "barron α=−∞": "welsch"}


def test_shapes_family_robust_figure_and_text(cli, tmp_path):
    pytest.importorskip("matplotlib")  # the figure is the point
    png = tmp_path / "robust.png"
    assert "wrote" in cli("shapes", "--family", "robust", "--plot", png).stdout
    assert png.stat().st_size > 0
    assert "barron α=0" in cli("shapes", "--family", "robust").stdout


def test_default_regression_chart_leaves_the_robust_family_out(cli):
    charts = cli.json("shapes", "--kind", "regression")
    assert "cauchy" not in charts[0]["values"] and "mse" in charts[0]["values"]


@pytest.mark.parametrize(
    "name,convex,redescending",
    [("cauchy", False, True), ("geman-mcclure", False, True), ("welsch", False, True),
     ("tukey", False, True), ("barron", True, False)],
)  # fmt: skip
def test_explain_properties(cli, name, convex, redescending):
    props = cli.json("explain", name)[0]["properties"]
    assert props["convex"] is convex and props["bounded gradient"] is True
    assert props["redescending"] is redescending


def test_fit_on_the_corrupted_pair_scores_clean_rows(cli):
    """The bundled pair: 354 training rows (18 corrupted), 88 clean test rows."""
    from losslab.data.read import read_table

    train, test = read_table("diabetes-outliers"), read_table("diabetes-outliers-test")
    clean = read_table("diabetes")
    assert (train.n_rows, test.n_rows) == (354, 88)
    y_all = np.sort(clean.numeric("progression"))
    y = np.concatenate([train.numeric("progression"), test.numeric("progression")])
    assert int(np.sum(~np.isin(y, y_all))) == 18  # exactly the corrupted targets are new
    got = cli.json(
        "fit", "diabetes-outliers", "--test-data", "diabetes-outliers-test", "--loss", "barron",
        "--target-scale", "standard", "--epochs", "5", "--no-save", "--progress", "none",
    )  # fmt: skip
    assert got["metrics"]["test"]["loss"] is not None
    assert get_loss("barron").params == {"robust_c": 1.0, "robust_alpha": 1.0}


def test_make_outliers_script_rebuilds_the_bundled_files(tmp_path):
    import importlib.util
    from pathlib import Path

    import pandas as pd

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location(
        "make_outliers", root / "scripts/make_outliers.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    train, test, bad = module.make(pd.read_csv(root / "datasets/diabetes.csv"))
    pd.testing.assert_frame_equal(train, pd.read_csv(root / "datasets/diabetes_outliers.csv"))
    pd.testing.assert_frame_equal(test, pd.read_csv(root / "datasets/diabetes_outliers_test.csv"))
    assert len(bad) == 18


def test_alpha_minus_infinity_survives_the_record(cli, tmp_path):
    """JSON has no −∞: records and JSON output hold the text "-inf", read back as −∞."""
    out = tmp_path / "runs"
    got = cli.json("fit", "diabetes", "--loss", "barron", "--robust-alpha", "-inf", "--epochs",
                   "1", "--out", out, "--progress", "none")  # fmt: skip
    assert got["config"]["robust_alpha"] == "-inf"
    import losslab
    from losslab.train.config import FitConfig

    run = next(out.iterdir())
    loaded = losslab.load(run)
    assert FitConfig.from_dict({"loss": "barron", **{"robust_alpha": "-inf"}}).loss_params() == {
        "robust_alpha": "-inf"
    }
    assert get_loss("barron").resolve_params(robust_alpha=loaded.config["robust_alpha"]) == {
        "robust_c": 1.0,
        "robust_alpha": -math.inf,
    }
    params = cli.json("eval", "diabetes-predictions", "--loss", "barron", "--robust-alpha", "-inf")
    assert params["params"]["robust_alpha"] == "-inf"
