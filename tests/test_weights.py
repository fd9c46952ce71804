"""Sample weights (--weight-column), class weights (--class-weight) and label smoothing against
independent references: torch's CrossEntropyLoss(weight=, label_smoothing=) and
BCEWithLogitsLoss(pos_weight=), scikit-learn's metrics with sample_weight, finite differences,
and reference trainers written here (NumPy, and torch where installed) epoch by epoch."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import losslab
from losslab.errors import ConfigError, DataError
from losslab.losses import get_loss

DATA = Path(__file__).resolve().parent.parent / "datasets"
SEEDS = np.random.SeedSequence(0).spawn(3)  # the split, shuffle and init streams of seed 0


def standardise(X: np.ndarray) -> np.ndarray:
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def frame(name: str, weights: np.ndarray | None = None) -> pd.DataFrame:
    """A bundled dataset with a weight column ``w`` inserted before the target."""
    df = pd.read_csv(DATA / f"{name}.csv")
    if weights is not None:
        df.insert(df.shape[1] - 1, "w", weights)
    return df


def draws(n: int, seed: int = 1) -> np.ndarray:
    """Weights in {0, 0.5, 1, 2, 3}: zeros (rows that do not count) and unequal weights."""
    return np.random.default_rng(seed).choice([0.0, 0.5, 1.0, 2.0, 3.0], n)


# --------------------------------------------------------------------------- loss level


def test_cross_entropy_weight_and_label_smoothing_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    n, k = 12, 4
    S, y = rng.normal(0, 2, (n, k)), rng.integers(0, k, n).astype(float)
    cw, sw = rng.uniform(0.2, 3.0, k), draws(n)
    loss = get_loss("cross-entropy")
    for eps in (0.0, 0.25):
        for weight, samples in ((None, None), (cw, None), (cw, sw), (None, sw)):
            St = torch.tensor(S, requires_grad=True)
            wt = None if weight is None else torch.tensor(weight)
            if samples is None:
                ref = F.cross_entropy(St, torch.tensor(y).long(), weight=wt, label_smoothing=eps)
            else:  # torch's weighted rows, then Σ sᵢ·ℓᵢ / Σ sᵢ·w_{yᵢ}
                rows = F.cross_entropy(
                    St, torch.tensor(y).long(), weight=wt, label_smoothing=eps, reduction="none"
                )
                wy = torch.ones(n) if wt is None else wt[torch.tensor(y).long()]
                s = torch.tensor(samples)
                ref = (s * rows).sum() / (s * wy).sum()
            ref.backward()
            kw = {"logits": True, "label_smoothing": eps}
            kw |= {"class_weight": weight, "sample_weight": samples}
            case = (eps, weight is not None, samples is not None)
            assert loss.value(y, S, **kw) == pytest.approx(ref.item(), rel=1e-12), case
            np.testing.assert_allclose(
                loss.grad(y, S, **kw), St.grad.numpy(), rtol=1e-10, atol=1e-15, err_msg=str(case)
            )


def test_bce_pos_weight_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    n = 15
    s, y, sw = rng.normal(0, 3, n), rng.integers(0, 2, n).astype(float), draws(n, 2)
    loss = get_loss("bce")
    for pw in (0.4, 1.0, 3.5):
        for samples in (None, sw):
            st = torch.tensor(s, requires_grad=True)
            rows = F.binary_cross_entropy_with_logits(
                st,
                torch.tensor(y),
                pos_weight=torch.tensor(pw, dtype=torch.float64),
                reduction="none",
            )
            ref = (
                rows.mean() if samples is None else (torch.tensor(samples) * rows).sum() / sw.sum()
            )
            ref.backward()
            kw = {"logits": True, "class_weight": pw, "sample_weight": samples}
            assert loss.value(y, s, **kw) == pytest.approx(ref.item(), rel=1e-12), pw
            np.testing.assert_allclose(loss.grad(y, s, **kw), st.grad.numpy(), rtol=1e-10)
    # from probabilities: −[w·y·log p + (1 − y)·log(1 − p)], by hand
    p = np.array([0.8, 0.3])
    want = -(2.0 * math.log(0.8) + math.log(0.7)) / 2
    assert loss.value([1.0, 0.0], p, class_weight=2.0) == pytest.approx(want, rel=1e-12)


def test_sample_weights_match_sklearn_metrics():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    n = 30
    y = rng.gamma(2.0, 2.0, n) + 0.1
    pred = y * np.exp(rng.normal(0, 0.4, n))
    w = draws(n, 4)
    pairs = [
        ("mse", metrics.mean_squared_error, {}),
        ("mae", metrics.mean_absolute_error, {}),
        ("mape", metrics.mean_absolute_percentage_error, {}),
        ("msle", metrics.mean_squared_log_error, {}),
        ("gamma-deviance", metrics.mean_gamma_deviance, {}),
        ("tweedie", lambda a, b, **kw: metrics.mean_tweedie_deviance(a, b, power=1.5, **kw), {}),
        (
            "quantile",
            lambda a, b, **kw: metrics.mean_pinball_loss(a, b, alpha=0.3, **kw),
            {"quantile": 0.3},
        ),
    ]
    for name, ref, params in pairs:
        got = get_loss(name).value(y, pred, sample_weight=w, **params)
        assert got == pytest.approx(ref(y, pred, sample_weight=w), rel=1e-12), name
    rmse = get_loss("rmse").value(y, pred, sample_weight=w)
    assert rmse == pytest.approx(math.sqrt(metrics.mean_squared_error(y, pred, sample_weight=w)))
    labels, p = rng.integers(0, 2, n).astype(float), rng.uniform(0.05, 0.95, n)
    assert get_loss("bce").value(labels, p, sample_weight=w) == pytest.approx(
        metrics.log_loss(labels, p, sample_weight=w), rel=1e-12
    )
    from losslab.losses.metrics import metrics_for, r2_score

    assert r2_score(y, pred, w) == pytest.approx(metrics.r2_score(y, pred, sample_weight=w))
    got, _ = metrics_for(labels, p, multi=False, logits=False, w=w)
    assert got["accuracy"] == pytest.approx(
        metrics.accuracy_score(labels, p >= 0.5, sample_weight=w), rel=1e-15
    )


def test_weighted_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    n, k = 6, 3
    S, y = rng.normal(0, 1, (n, k)), rng.integers(0, k, n).astype(float)
    cases = [
        ("cross-entropy", y, S, {"logits": True, "class_weight": [0.5, 2.0, 1.5]}),
        ("cross-entropy", y, S, {"logits": True, "label_smoothing": 0.3}),
        ("multi-margin", y, S, {"p": 2}),
        ("rmse", rng.normal(size=n), rng.normal(size=n), {}),
        ("poisson", rng.uniform(0, 4, n), rng.normal(size=n), {"full": True}),
        ("tweedie", rng.uniform(0.5, 4, n), rng.uniform(0.5, 4, n), {"power": 1.2}),
    ]
    w = np.array([0.0, 1.0, 2.5, 0.5, 3.0, 1.0])
    for name, yy, out, kw in cases:
        loss = get_loss(name)
        g = loss.grad(yy, out, sample_weight=w, **kw)
        numeric = np.empty_like(out)
        for i in np.ndindex(out.shape):
            e = np.zeros_like(out)
            e[i] = 1e-6
            up = loss.value(yy, out + e, sample_weight=w, **kw)
            numeric[i] = (up - loss.value(yy, out - e, sample_weight=w, **kw)) / 2e-6
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9, err_msg=name)
        assert not g[0].any(), name  # the row of weight 0 gets no gradient


def test_rows_of_weight_zero_do_not_count_even_when_infinite():
    loss = get_loss("mse")
    assert loss.value([0.0, 0.0], [1e200, 2.0], sample_weight=[0.0, 1.0]) == 4.0
    assert loss.value([0.0, 0.0], [1.0, 2.0], sample_weight=[3.0, 1.0]) == (3 + 4) / 4


def test_class_weights_only_where_torch_has_them():
    with pytest.raises(ConfigError, match="takes no class weights"):
        get_loss("hinge").value([1.0], [0.5], class_weight=2.0)
    with pytest.raises(ConfigError, match="3 class weight"):
        get_loss("cross-entropy").value([0.0], [[1.0, 2.0, 3.0]], logits=True, class_weight=[1, 2])


# --------------------------------------------------------------------------- fit


def _batches(n: int, batch: int, epochs: int, once: bool = False):
    """The rows of each step: a permutation of the shuffle stream per epoch, in slices; or
    (``once``) one permutation, then a permutation of the slices per epoch."""
    rng = np.random.default_rng(SEEDS[1])
    perm = rng.permutation(n) if once else None
    for _ in range(epochs):
        if perm is not None:
            slices = [perm[i : i + batch] for i in range(0, n, batch)]
            yield [slices[k] for k in rng.permutation(len(slices))]
            continue
        order = rng.permutation(n)
        yield [order[i : i + batch] for i in range(0, n, batch)]


@pytest.mark.parametrize("shuffle", ["epoch", "once"])
def test_fit_with_sample_weights_matches_a_reference_trainer(shuffle):
    """linear + mse, minibatches of 32 and SGD: each step on the batch's weighted mean
    Σ wᵢ·2(sᵢ − yᵢ) / Σ wᵢ; rows of weight 0 are not training rows (nor scaled on)."""
    df = frame("diabetes", draws(442))
    result = losslab.fit(
        df,
        weight_column="w",
        test_size=0,
        optimizer="sgd",
        lr=0.05,
        batch_size=32,
        epochs=4,
        shuffle=shuffle,
    )
    data = df.to_numpy()
    keep = data[:, -2] > 0
    X, w, y = standardise(data[keep, :-2]), data[keep, -2], data[keep, -1]
    theta, b = np.zeros(X.shape[1]), 0.0
    losses = []
    for epoch in _batches(len(y), 32, 4, once=shuffle == "once"):
        for rows in epoch:
            r = 2 * (X[rows] @ theta + b - y[rows]) * w[rows] / w[rows].sum()
            theta, b = theta - 0.05 * (X[rows].T @ r), b - 0.05 * r.sum()
        losses.append(np.sum(w * (X @ theta + b - y) ** 2) / w.sum())
    got = [h["train_loss"] for h in result.history]
    np.testing.assert_allclose(got, losses, rtol=1e-10)
    assert result.data["preparation"]["zero_weight_rows"] == int((~keep).sum())
    assert result.data["train_rows"] == int(keep.sum())
    pred = X @ theta + b
    r2 = 1 - np.sum(w * (y - pred) ** 2) / np.sum(w * (y - np.average(y, weights=w)) ** 2)
    assert result.metrics["train"]["r2"] == pytest.approx(r2, rel=1e-9)


def _torch_sgd(torch, objective, params, lr, n, batch, epochs) -> list[float]:
    """torch.optim.SGD on ``objective(rows)`` over losslab's batches; the full objective after
    each epoch."""
    opt = torch.optim.SGD(params, lr=lr)
    losses = []
    for epoch in _batches(n, batch, epochs):
        for rows in epoch:
            opt.zero_grad()
            objective(torch.tensor(rows)).backward()
            opt.step()
        with torch.no_grad():
            losses.append(objective(torch.arange(n)).item())
    return losses


@pytest.mark.parametrize(
    ("class_weight", "smoothing", "sampled"),
    [("balanced", 0.0, False), ("setosa=3,virginica=0.5", 0.2, True), (None, 0.1, False)],
)
def test_softmax_fit_matches_torch(class_weight, smoothing, sampled):
    """softmax + cross-entropy with torch's weight and label_smoothing (and sample weights as
    Σ sᵢ·ℓᵢ / Σ sᵢ·w_{yᵢ}), SGD on batches of 25: epoch by epoch against torch autograd."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    sw = draws(150, 7) if sampled else None
    df = frame("iris", sw)
    settings = {"weight_column": "w"} if sampled else {}
    result = losslab.fit(
        df,
        class_weight=class_weight,
        label_smoothing=smoothing,
        test_size=0,
        optimizer="sgd",
        lr=0.2,
        batch_size=25,
        epochs=3,
        **settings,
    )
    classes = sorted(df["species"].unique())
    keep = sw > 0 if sampled else np.ones(150, bool)
    X = torch.tensor(standardise(df.iloc[:, :4].to_numpy()[keep]))
    y = torch.tensor([classes.index(c) for c in df["species"][keep]])
    s = torch.tensor(sw[keep] if sampled else np.ones(int(keep.sum())))
    if class_weight == "balanced":
        counts = np.bincount(y.numpy(), minlength=3)
        cw = torch.tensor(len(y) / (3 * counts))
    elif class_weight:
        cw = torch.tensor([3.0, 1.0, 0.5], dtype=torch.float64)
    else:
        cw = torch.ones(3, dtype=torch.float64)
    W = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)

    def objective(rows):
        out = F.cross_entropy(
            X[rows] @ W + b, y[rows], weight=cw, label_smoothing=smoothing, reduction="none"
        )
        return (s[rows] * out).sum() / (s[rows] * cw[y[rows]]).sum()

    losses = _torch_sgd(torch, objective, [W, b], 0.2, len(y), 25, 3)
    np.testing.assert_allclose([h["train_loss"] for h in result.history], losses, rtol=1e-10)


def test_logistic_fit_with_pos_weight_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    df = frame("breast_cancer")
    result = losslab.fit(
        df, class_weight="1=2.5", test_size=0, optimizer="sgd", lr=0.1, batch_size=64, epochs=3
    )
    assert result.config["class_weights"] == {"pos_weight": 2.5}
    X = torch.tensor(standardise(df.iloc[:, :-1].to_numpy()))
    y = torch.tensor(df.iloc[:, -1].to_numpy(), dtype=torch.float64)
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)

    def objective(rows):
        return F.binary_cross_entropy_with_logits(
            X[rows] @ w + b, y[rows], pos_weight=torch.tensor(2.5, dtype=torch.float64)
        )

    losses = _torch_sgd(torch, objective, [w, b], 0.1, len(y), 64, 3)
    np.testing.assert_allclose([h["train_loss"] for h in result.history], losses, rtol=1e-10)


def test_balanced_pos_weight_is_negatives_over_positives():
    df = frame("breast_cancer")
    result = losslab.fit(df, class_weight="balanced", test_size=0, epochs=1)
    y = df.iloc[:, -1].to_numpy()
    assert result.config["class_weights"] == {"pos_weight": np.sum(y == 0) / np.sum(y == 1)}


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("diabetes", {"batch_size": 32, "val_size": 0.2}),
        ("iris", {"batch_size": 0, "optimizer": "gd"}),
        ("breast_cancer", {"shuffle": "once", "batch_size": 50}),
    ],
)
def test_weights_all_one_equal_no_weights_exactly(name, settings):
    plain = losslab.fit(frame(name), epochs=3, **settings)
    ones = losslab.fit(
        frame(name, np.ones(len(frame(name)))), weight_column="w", epochs=3, **settings
    )
    assert ones.history == plain.history
    assert ones.metrics == plain.metrics
    assert (
        ones.model["coef"] == plain.model["coef"]
        and ones.model["features"] == plain.model["features"]
    )


def test_rows_of_weight_zero_are_not_training_rows():
    """With test_size 0, rows of weight 0 change nothing: the fit equals the fit without them."""
    df = frame("diabetes")
    w = np.where(np.arange(len(df)) % 7 == 3, 0.0, 1.0)
    weighted = losslab.fit(frame("diabetes", w), weight_column="w", test_size=0, epochs=3)
    without = losslab.fit(df[w > 0].reset_index(drop=True), test_size=0, epochs=3)
    # equal up to the order of the sums in the scaler's statistics
    for a, b in zip(weighted.history, without.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-12)
        assert a["r2"] == pytest.approx(b["r2"], rel=1e-12)


def test_weights_follow_the_split_to_validation_and_test():
    w = draws(442, 9) + 0.25
    df = frame("diabetes", w)
    result = losslab.fit(df, weight_column="w", val_size=0.2, epochs=2, seed=3)
    plain = losslab.fit(frame("diabetes"), val_size=0.2, epochs=2, seed=3)
    assert result.data["test_rows"] == plain.data["test_rows"]  # the same split
    assert result.data["weight_column"] == "w" and "w" not in result.model["features"]
    assert result.metrics["test"]["loss"] != plain.metrics["test"]["loss"]


def test_test_data_file_brings_its_weights(tmp_path):
    df = frame("diabetes", draws(442, 11) + 1.0)
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    df.iloc[:300].to_csv(train, index=False)
    df.iloc[300:].to_csv(test, index=False)
    result = losslab.fit(str(train), test_data=str(test), weight_column="w", epochs=2)
    df.iloc[300:].drop(columns="w").to_csv(test, index=False)
    with pytest.raises(DataError, match="needs the --weight-column"):
        losslab.fit(str(train), test_data=str(test), weight_column="w", epochs=2)
    assert result.data["test_rows"] == 142


# --------------------------------------------------------------------------- CLI


def test_eval_weight_column_matches_sklearn(cli, write_csv):
    metrics = pytest.importorskip("sklearn.metrics")
    path = write_csv("y,pred,w\n3,2.5,1\n5,5.5,3\n1,2,0\n2,2,0.5\n")
    out = cli.json("eval", path, "--loss", "mse", "--loss", "mape", "--weight-column", "w")
    y, pred, w = np.array([3, 5, 1, 2.0]), np.array([2.5, 5.5, 2, 2]), np.array([1, 3, 0, 0.5])
    assert out["losses"]["mse"] == pytest.approx(
        metrics.mean_squared_error(y, pred, sample_weight=w)
    )
    assert out["losses"]["mape"] == pytest.approx(
        metrics.mean_absolute_percentage_error(y, pred, sample_weight=w)
    )
    assert out["metrics"]["r2"] == pytest.approx(metrics.r2_score(y, pred, sample_weight=w))
    assert out["weight_column"] == "w"
    ones = write_csv("y,pred,w\n3,2.5,1\n5,5.5,1\n1,2,1\n", "ones.csv")
    plain = write_csv("y,pred\n3,2.5\n5,5.5\n1,2\n", "plain.csv")
    weighted = cli.json("eval", ones, "--weight-column", "w")
    unweighted = cli.json("eval", plain)
    assert (
        weighted["losses"] == unweighted["losses"] and weighted["metrics"] == unweighted["metrics"]
    )


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("2,3,-1", "line 3, column 'w': weights must be finite numbers >= 0; found -1"),
        ("2,3,", "line 3, column 'w': weights must be finite numbers >= 0; found missing"),
        ("2,3,inf", "found inf"),
        ("2,3,heavy", "found 'heavy'"),
    ],
)
@pytest.mark.parametrize("command", ["eval", "fit"])
def test_bad_weights_name_file_line_column_and_value(cli, write_csv, command, row, needle):
    path = write_csv(f"x,y,w\n1,2,1\n{row}\n3,4,1\n4,5,2\n5,6,1\n", "weights.csv")
    args = ("--loss", "mse") if command == "eval" else ("--no-save", "--epochs", "1")
    if command == "eval":
        path = write_csv(f"y,pred,w\n1,2,1\n{row}\n", "weights.csv")
    err = cli.error(command, path, "--weight-column", "w", *args)
    assert "weights.csv" in err and needle in err


def test_weight_errors_via_cli(cli, write_csv):
    zeros = write_csv("x,y,w\n1,2,0\n2,3,0\n3,4,0\n", "zeros.csv")
    err = cli.error("fit", zeros, "--weight-column", "w", "--no-save")
    assert "zeros.csv, column 'w': every weight is 0" in err
    data = write_csv("x,y,w\n1,2,1\n2,3,1\n3,4,2\n4,5,1\n5,3,1\n")
    assert "no column 'v'" in cli.error("fit", data, "--weight-column", "v", "--no-save")
    err = cli.error("fit", data, "--weight-column", "w", "--target", "w", "--no-save")
    assert "both the target and the --weight-column" in err
    err = cli.error("fit", data, "--weight-column", "w", "--features", "x,w", "--no-save")
    assert "both a feature and the --weight-column" in err
    err = cli.error("eval", data, "--weight-column", "w", "--target", "w", "--loss", "mse")
    assert "--weight-column" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ("iris", "--class-weight", "cat=2"),
            "--class-weight: 'cat' is not a class (classes: setosa, versicolor, virginica)",
        ),
        (("iris", "--class-weight", "setosa"), "--class-weight takes 'balanced' or CLASS=WEIGHT"),
        (("iris", "--class-weight", "setosa=-1"), "setosa=-1: a weight must be > 0"),
        (("breast-cancer", "--class-weight", "0=2"), "weighs the positive class only"),
        (("diabetes", "--class-weight", "balanced"), "mse takes no class weights"),
        (("iris", "--label-smoothing", "1.5"), "label_smoothing must be in [0, 1]; found 1.5"),
        (("iris", "--power", "1.5"), "--power is not used by the cross-entropy loss"),
        (("diabetes", "--loss", "poisson", "--no-log-input"), "--no-log-input"),
        (("diabetes", "--loss", "tweedie", "--power", "0.5"), "power must be <= 0 or >= 1"),
    ],
)
def test_bad_class_weights_and_loss_parameters(cli, args, needle):
    err = cli.error("fit", *args, "--no-save", "--epochs", "1")
    assert needle in err


def test_targets_outside_a_loss_domain_name_the_line(cli, write_csv):
    path = write_csv("x,y\n1,2\n2,0\n3,4\n4,5\n5,6\n", "counts.csv")
    err = cli.error("fit", path, "--model", "linear", "--loss", "gamma-deviance", "--no-save")
    assert "counts.csv, line 3, column 'y': targets must be > 0" in err and "gamma-deviance" in err
    out = cli.json(
        "fit", path, "--model", "linear", "--loss", "poisson", "--no-save", "--epochs", "2"
    )
    assert out["status"] == "completed"


def test_compare_with_weights_says_why_there_is_no_gap(cli, tmp_path):
    path = tmp_path / "weighted.csv"
    frame("diabetes", draws(442, 13) + 0.5).to_csv(path, index=False)
    args = ("--optimizer", "adam", "--epochs", "2", "--seeds", "1", "--jobs", "1", "--no-save")
    study = cli.json("compare", path, "--weight-column", "w", *args)
    assert (
        study["reference"]["reason"] == "sample weights (--weight-column w): no reference optimum"
    )
    assert study["runs"][0]["status"] == "completed"
    study = cli.json("compare", "iris", "--class-weight", "balanced", *args)
    assert "class weights" in study["reference"]["reason"]
    study = cli.json("compare", "iris", "--label-smoothing", "0.1", *args)
    assert "--label-smoothing 0.1" in study["reference"]["reason"]


def test_compare_loss_parameters_reach_the_losses_that_take_them(cli):
    args = ("--optimizer", "adam", "--epochs", "2", "--seeds", "1", "--jobs", "1", "--no-save")
    study = cli.json(
        "compare",
        "diabetes",
        "--model",
        "linear",
        "--loss",
        "tweedie,poisson",
        "--power",
        "1.2",
        *args,
    )
    assert [row["loss"] for row in study["summary"]] == ["tweedie", "poisson"]
    assert all(run["status"] == "completed" for run in study["runs"])
    err = cli.error(
        "compare", "diabetes", "--model", "linear", "--loss", "mse", "--power", "2", *args
    )
    assert "--power is not used by mse" in err


@pytest.mark.parametrize("settings", [{"model": "mlp", "hidden": [4]}, {"dtype": "float32"}])
def test_weights_and_class_weights_train_networks_and_float32(settings):
    df = frame("iris", draws(150, 17))
    result = losslab.fit(
        df, weight_column="w", class_weight="balanced", label_smoothing=0.1, epochs=3, **settings
    )
    assert result.status == "completed"
    assert all(math.isfinite(h["train_loss"]) for h in result.history)
