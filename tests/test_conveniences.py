"""Issue 20's conveniences: --exclude and the row-id warning, mixed-loss studies on the one-score
model, fit --plot, and --target-scale."""

from __future__ import annotations

import numpy as np
import pytest

import losslab

SMALL = ["--epochs", "8", "--seeds", "1", "--no-save"]


def _with_id(write_csv, n: int = 40, *, seed: int = 0) -> tuple:
    """A regression CSV whose first column is a shuffled row id 100..100+n−1."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n) + 100
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = 3 * a - 2 * b + 0.1 * rng.normal(size=n)
    rows = zip(ids, a, b, y, strict=True)
    lines = ["id,a,b,y", *(f"{i},{p:.6f},{q:.6f},{t:.6f}" for i, p, q, t in rows)]
    return write_csv("\n".join(lines) + "\n"), a, b, y


def test_a_row_id_feature_is_warned_on_stderr_and_in_the_record(cli, write_csv):
    path, *_ = _with_id(write_csv)
    result = cli("fit", path, "--epochs", "2", "--no-save", "--format", "json")
    warning = [line for line in result.stderr.splitlines() if "row id" in line]
    assert len(warning) == 1 and "'id'" in warning[0] and "--exclude id" in warning[0]
    import json

    assert json.loads(result.stdout)["data"]["preparation"]["row_id"] == ["id"]


@pytest.mark.parametrize(
    "values",
    [
        list(range(25)),  # 0..n−1
        [7 * k - 30 for k in range(25)][::-1],  # any distinct integers
    ],
)
def test_row_id_columns_are_distinct_integers_one_per_row(values):
    import pandas as pd

    from losslab.train.prepare import row_id_columns

    n = len(values)
    frame = pd.DataFrame(
        {
            "rid": values,
            "as_float": np.asarray(values, dtype=float),
            "repeats": [k % 5 for k in range(n)],  # integers, not distinct
            "reals": np.linspace(0, 1, n),  # distinct, not integers
        }
    )
    assert row_id_columns(frame, list(frame.columns)) == ["rid", "as_float"]
    assert row_id_columns(frame.iloc[:19], list(frame.columns)) == []  # too few rows to say


def test_exclude_drops_the_columns_as_features_would(cli, write_csv):
    path, *_ = _with_id(write_csv)
    excluded = cli("fit", path, "--exclude", "id", "--epochs", "3", "--no-save", "--format", "json")
    assert "row id" not in excluded.stderr
    import json

    out = json.loads(excluded.stdout)
    chosen = cli.json("fit", path, "--features", "a,b", "--epochs", "3", "--no-save")
    assert "row_id" not in out["data"]["preparation"]
    assert out["metrics"] == chosen["metrics"]
    assert out["config"]["exclude"] == ["id"]
    # least squares on a and b alone (the independent reference): the same R² at convergence
    full = cli.json(
        "fit", path, "--exclude", "id", "--optimizer", "lbfgs", "--test-size", "0", "--no-save"
    )
    _, a, b, y = _with_id(write_csv)
    A = np.column_stack([a, b, np.ones_like(a)])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    r2 = 1 - np.sum((A @ coef - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert full["metrics"]["train"]["r2"] == pytest.approx(r2, abs=1e-8)


def test_exclude_in_compare_lr_find_and_landscape(cli, write_csv):
    path, *_ = _with_id(write_csv)
    study = cli("compare", path, "--exclude", "id", "--optimizer", "gd", *SMALL, "--format", "json")
    assert "row id" not in study.stderr
    warned = cli("compare", path, "--optimizer", "gd", *SMALL, "--format", "json")
    assert "--exclude id" in warned.stderr
    sweep = cli.json("lr-find", path, "--exclude", "id", "--steps", "10")
    assert sweep["config"]["features"] == ["a", "b"]
    land = cli.json("landscape", path, "--exclude", "id", "--optimizer", "gd", "--steps", "3")
    chosen = cli.json("landscape", path, "--features", "a,b", "--optimizer", "gd", "--steps", "3")
    assert land["minimum"] == chosen["minimum"]


def test_exclude_an_unknown_column_says_did_you_mean(cli, write_csv):
    path, *_ = _with_id(write_csv)
    message = cli.error("fit", path, "--exclude", "idd", "--no-save")
    assert "--exclude" in message and "did you mean 'id'?" in message
    assert "target" in cli.error("fit", path, "--exclude", "y", "--no-save")


# --------------------------------------------------------------------------- mixed losses


def test_bce_and_hinge_compare_on_the_linear_score(cli):
    out = cli.json(
        "compare",
        "breast-cancer",
        "--loss",
        "bce,hinge",
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
    assert out["config"]["model"] == "linear"
    assert "linear score" in out["config"]["model_note"]
    # bce keeps its exact optimum: scikit-learn's L2 logistic regression (C = 1/(n·l2),
    # the intercept unpenalised) on the standardised features
    LogisticRegression = pytest.importorskip("sklearn.linear_model").LogisticRegression

    from losslab.train.loop import FitConfig, prepare

    _, split = prepare(FitConfig(data="breast-cancer", test_size=0.0))
    X, y = split.X_train, split.y_train
    n, l2 = len(y), 0.05
    clf = LogisticRegression(C=1 / (n * l2), tol=1e-12, max_iter=10_000).fit(X, y)
    s = X @ clf.coef_[0] + clf.intercept_[0]
    best = np.mean(np.logaddexp(0, s) - y * s) + l2 / 2 * np.sum(clf.coef_**2)
    by_loss = out["reference"]["by_loss"]
    assert by_loss["bce"]["objective"] == pytest.approx(best, rel=1e-7)
    runs = {r["loss"]: r for r in out["runs"]}
    assert runs["bce"]["gap"] > 0 and runs["hinge"]["gap"] is None
    # each run is the fit of its own one-score model
    for loss, model in (("bce", "logistic"), ("hinge", "linear")):
        fit = losslab.fit(
            "breast-cancer", model=model, loss=loss, optimizer="adam", epochs=3, test_size=0.0,
            l2=0.05,
        )  # fmt: skip
        assert fit.metrics["train"]["loss"] == runs[loss]["train_loss"]


def test_mixed_loss_note_under_the_table(cli):
    out = cli("compare", "breast-cancer", "--loss", "bce,hinge", "--optimizer", "gd", *SMALL)
    assert "model: the linear score X·w + b for bce and hinge" in out.stdout


def test_single_loss_and_given_model_studies_are_unchanged(cli):
    # --model given: the user's model, refused as before
    message = cli.error(
        "compare", "breast-cancer", "--model", "logistic", "--loss", "bce,hinge", *SMALL
    )
    assert "hinge" in message and "logistic" in message
    out = cli.json("compare", "breast-cancer", "--optimizer", "gd", *SMALL)
    assert out["config"]["model"] == "logistic" and "model_note" not in out["config"]


# --------------------------------------------------------------------------- fit --plot


def test_fit_plot_is_the_figure_plot_run_draws(cli, tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "direct").mkdir()
    direct = tmp_path / "direct" / "curves.svg"
    result = cli("fit", "iris", "--epochs", "4", "--out", tmp_path / "runs", "--plot", direct)
    assert f"plot: {direct}" in result.stdout.replace("\n", "")
    (run,) = (tmp_path / "runs").iterdir()
    redrawn = tmp_path / "redrawn" / "curves.svg"
    cli("plot", run, "--out", redrawn)
    assert direct.read_text() == redrawn.read_text()
    png = tmp_path / "curves.png"
    cli("fit", "diabetes", "--epochs", "3", "--no-save", "--plot", png)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_fit_plot_refuses_before_training(cli, tmp_path, no_matplotlib):
    message = cli.error("fit", "iris", "--no-save", "--plot", tmp_path / "c.png")
    assert "losslab[plot]" in message
    assert "--plot" in cli.error("fit", "iris", "--no-save", "--plot", tmp_path / "c.txt")


# --------------------------------------------------------------------------- --target-scale


def _houses(write_csv, n: int = 200) -> tuple:
    """House prices (≈ 1e5) from area and rooms, with noise."""
    rng = np.random.default_rng(3)
    area = rng.uniform(50, 250, n)
    rooms = rng.integers(1, 7, n).astype(float)
    price = 40_000 + 1_100 * area + 9_000 * rooms + rng.normal(0, 15_000, n)
    rows = zip(area, rooms, price, strict=True)
    lines = ["area,rooms,price", *(f"{a:.2f},{r:.0f},{p:.2f}" for a, r, p in rows)]
    return write_csv("\n".join(lines) + "\n", "houses.csv")


def _sklearn_target_scaled(path):
    pytest.importorskip("sklearn")  # the reference: scikit-learn's TransformedTargetRegressor
    """scikit-learn's TransformedTargetRegressor (LinearRegression, StandardScaler on y) on our
    training rows and standardised features: the independent reference."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import StandardScaler

    from losslab.train.loop import FitConfig, prepare

    problem, split = prepare(FitConfig(data=str(path)))  # raw targets, standardised features
    reg = TransformedTargetRegressor(regressor=LinearRegression(), transformer=StandardScaler())
    reg.fit(split.X_train, split.y_train)
    return problem, split, reg


def test_a_large_target_gets_a_note_naming_the_flag(cli, write_csv):
    path = _houses(write_csv)
    result = cli("fit", path, "--no-save", "--format", "json")
    import json

    out = json.loads(result.stdout)
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "--target-scale standard" in notes[0]
    assert out["metrics"]["test"]["r2"] < 0  # the hopeless run the note is about
    assert "target_scale" not in out["config"] and "target_scale" not in out["model"]
    # an lr given by hand, or the scaled target: no note
    assert "note:" not in cli("fit", path, "--lr", "0.1", "--no-save").stderr
    assert "note:" not in cli("fit", path, "--target-scale", "standard", "--no-save").stderr
    # diabetes' target (25 to 346) is not large
    assert "note:" not in cli("fit", "diabetes", "--epochs", "2", "--no-save").stderr


def test_target_scale_standard_is_transformed_target_regression(cli, write_csv, tmp_path):
    path = _houses(write_csv)
    problem, split, reg = _sklearn_target_scaled(path)
    out = cli.json(
        "fit", path, "--target-scale", "standard", "--optimizer", "lbfgs", "--epochs", "50",
        "--out", tmp_path / "runs",
    )  # fmt: skip
    scale = out["model"]["target_scale"]
    assert scale["kind"] == "standard"
    assert scale["mean"] == pytest.approx(reg.transformer_.mean_[0], rel=1e-12)
    assert scale["std"] == pytest.approx(reg.transformer_.scale_[0], rel=1e-12)
    assert out["data"]["target_scale"] == scale and out["config"]["target_scale"] == "standard"
    # the losses are on the standardised target: mse there is 1 − R² (population σ)
    assert out["metrics"]["train"]["loss"] == pytest.approx(1 - out["metrics"]["train"]["r2"])
    r2_score = pytest.importorskip("sklearn.metrics").r2_score

    X_test = split.scaler.apply(problem.X[split.test_rows])
    y_test = problem.y[split.test_rows]
    assert out["metrics"]["test"]["r2"] == pytest.approx(r2_score(y_test, reg.predict(X_test)))
    assert out["metrics"]["test"]["r2"] > 0.8
    # predict un-scales: σ·s + μ, in the target's units (scikit-learn's predictions)
    (run,) = (tmp_path / "runs").iterdir()
    text = cli("predict", run, path).stdout.splitlines()
    assert text[0] == "prediction"
    ours = np.array([float(v) for v in text[1:]])
    theirs = reg.predict(split.scaler.apply(problem.X))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)  # lbfgs to its tolerance
    # eval --model scores those predictions against the raw target
    scored = cli.json("eval", path, "--model", run, "--loss", "mse")
    assert scored["losses"]["mse"] == pytest.approx(np.mean((ours - problem.y) ** 2), rel=1e-9)


def test_target_scale_is_refused_off_regression(cli, write_csv):
    message = cli.error("fit", "breast-cancer", "--target-scale", "standard", "--no-save")
    assert "--target-scale standard applies to regression" in message and "classifier" in message
    message = cli.error(
        "fit", "diabetes", "--loss", "poisson", "--target-scale", "standard", "--no-save"
    )
    assert "poisson" in message and "link" in message
    message = cli.error("fit", "diabetes", "--loss", "mape", "--target-scale", "standard")
    assert "mape" in message and "relative" in message
    message = cli.error("fit", "diabetes", "--target-scale", "minmax", "--no-save")
    assert "--target-scale must be one of none, standard" in message
    message = cli.error("fit", "iris", "--stream", "--target-scale", "standard", "--no-save")
    assert "--target-scale" in message


def test_target_scale_in_compare_lr_find_and_landscape(cli, write_csv):
    path = _houses(write_csv)
    study = cli.json(
        "compare", path, "--target-scale", "standard", "--optimizer", "gd", "--lr", "0.1",
        "--epochs", "300", "--seeds", "1", "--test-size", "0", "--no-save",
    )  # fmt: skip
    *_, reg = _sklearn_target_scaled(path)
    from losslab.train.loop import FitConfig, prepare

    _, whole = prepare(FitConfig(data=str(path), test_size=0.0))
    y = (whole.y_train - whole.y_train.mean()) / whole.y_train.std()
    A = np.column_stack([whole.X_train, np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    assert study["reference"]["objective"] == pytest.approx(np.mean((A @ coef - y) ** 2))
    assert study["runs"][0]["gap"] < 1e-6
    sweep = cli.json("lr-find", path, "--target-scale", "standard", "--steps", "10")
    assert sweep["data"]["target_scale"]["std"] == pytest.approx(reg.transformer_.scale_[0])
    land = cli.json("landscape", path, "--target-scale", "standard", "--optimizer", "gd",
                    "--steps", "3")  # fmt: skip
    assert land["minimum"] < 1  # the standardised objective (the raw one is ≈ 2e8)


def test_fit_plot_takes_dpi_and_size_as_every_drawing_command(cli, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.image

    path = tmp_path / "run.png"
    cli("fit", "iris", "--epochs", "3", "--no-save", "--plot", path, "--dpi", "100",
        "--size", "8x4")  # fmt: skip
    assert matplotlib.image.imread(path).shape[:2] == (400, 800)
    assert cli.error("fit", "iris", "--epochs", "1", "--no-save", "--size", "8x4") == (
        "error: --dpi and --size apply to a figure: add --plot FILE"
    )
