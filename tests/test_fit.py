"""`losslab fit` against independent references: an update-rule reference written here in plain
NumPy (functional, from the formulas of the issue), closed-form least squares, a Newton solve
written here, and torch.optim when it is installed."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import losslab
from losslab.errors import ConfigError
from losslab.optim.optimizers import OPTIMIZERS
from losslab.train.loop import FitConfig

DATA = Path(__file__).resolve().parent.parent / "datasets"


def load(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    with open(DATA / f"{name}.csv") as fh:
        header = fh.readline().strip().split(",")
    raw = np.genfromtxt(DATA / f"{name}.csv", delimiter=",", skip_header=1, dtype=str)
    X = raw[:, :-1].astype(float)
    return X, raw[:, -1], header


def standardise(X: np.ndarray) -> np.ndarray:
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


# --------------------------------------------------------------------------- reference trainer


def softplus(z):
    return np.logaddexp(0.0, z)


def ref_loss_and_grad(model: str, S: np.ndarray, y: np.ndarray):
    """Mean loss over rows and its gradient w.r.t. the scores, straight from the definitions."""
    n = y.shape[0]
    if model == "linear":  # mse
        d = S - y
        return np.mean(d * d), 2.0 * d / n
    if model == "logistic":  # bce from logits
        p = 1.0 / (1.0 + np.exp(-S))
        return np.mean(softplus(S) - S * y), (p - y) / n
    # softmax cross-entropy
    Z = S - S.max(axis=1, keepdims=True)
    logZ = np.log(np.exp(Z).sum(axis=1))
    P = np.exp(Z - logZ[:, None])
    Y = np.eye(S.shape[1])[y.astype(int)]
    return np.mean(logZ - (Z * Y).sum(axis=1)), (P - Y) / n


class RefOptimizer:
    """The torch.optim update rules, written out functionally for a flat parameter vector."""

    def __init__(self, name: str, lr: float, decay_mask: np.ndarray, **h):
        self.name, self.lr, self.mask, self.h = name, lr, decay_mask, h
        self.t = 0
        self.buf = None
        self.m = self.v = self.vmax = self.sum = None

    def step(self, theta: np.ndarray, g: np.ndarray) -> np.ndarray:
        self.t += 1
        lr, h, name = self.lr, self.h, self.name
        if name in ("gd", "sgd", "momentum", "nesterov"):
            mu = h.get("momentum", 0.9 if name in ("momentum", "nesterov") else 0.0)
            nesterov = h.get("nesterov", name == "nesterov")
            if mu:
                self.buf = g.copy() if self.buf is None else mu * self.buf + g
                g = g + mu * self.buf if nesterov else self.buf
            return theta - lr * g
        if name == "adagrad":
            self.sum = g * g if self.sum is None else self.sum + g * g
            return theta - lr * g / (np.sqrt(self.sum) + h.get("eps", 1e-10))
        if name == "rmsprop":
            a = h.get("alpha", 0.99)
            self.v = (1 - a) * g * g if self.v is None else a * self.v + (1 - a) * g * g
            return theta - lr * g / (np.sqrt(self.v) + h.get("eps", 1e-8))
        b1, b2, eps = h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8)
        if name == "adamw":
            theta = np.where(self.mask, theta * (1 - lr * h.get("weight_decay", 0.01)), theta)
        self.m = (1 - b1) * g if self.m is None else b1 * self.m + (1 - b1) * g
        self.v = (1 - b2) * g * g if self.v is None else b2 * self.v + (1 - b2) * g * g
        v = self.v
        if h.get("amsgrad"):
            self.vmax = v if self.vmax is None else np.maximum(self.vmax, v)
            v = self.vmax
        mhat = self.m / (1 - b1**self.t)
        vhat = v / (1 - b2**self.t)
        return theta - lr * mhat / (np.sqrt(vhat) + eps)


def reference_fit(model, X, y, *, optimizer, lr, epochs, batch, seed, l2=0.0, l1=0.0, K=1, **h):
    """Train from zeros; returns the train loss after each epoch and the final (W, b)."""
    n, p = X.shape
    W = np.zeros((p, K)) if model == "softmax" else np.zeros(p)
    b = np.zeros(K) if model == "softmax" else np.zeros(1)
    mask = np.concatenate([np.ones(W.size, bool), np.zeros(b.size, bool)])
    opt = RefOptimizer(optimizer, lr, mask, **h)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])

    def scores(Xs):
        return Xs @ W + (b if model == "softmax" else b[0])

    losses = []
    for _ in range(epochs):
        order = np.arange(n) if batch == 0 else rng.permutation(n)
        size = n if batch == 0 else batch
        for start in range(0, n, size):
            rows = order[start : start + size]
            _, G = ref_loss_and_grad(model, scores(X[rows]), y[rows])
            gW = X[rows].T @ G + l2 * W + l1 * np.sign(W)
            gb = G.sum(axis=0) if model == "softmax" else np.array([G.sum()])
            theta = opt.step(np.concatenate([W.ravel(), b]), np.concatenate([gW.ravel(), gb]))
            W, b = theta[: W.size].reshape(W.shape), theta[W.size :]
        losses.append(ref_loss_and_grad(model, scores(X), y)[0])
    return np.array(losses), W, b


CASES = {
    "linear": ("diabetes", "mse"),
    "logistic": ("breast_cancer", "bce"),
    "softmax": ("iris", "cross-entropy"),
}
VARIANTS = [
    ("gd", {}),
    ("sgd", {}),
    ("sgd", {"momentum": 0.5}),
    ("sgd", {"momentum": 0.5, "nesterov": True}),
    ("momentum", {}),
    ("nesterov", {}),
    ("adagrad", {}),
    ("rmsprop", {}),
    ("adam", {}),
    ("adam", {"amsgrad": True}),
    ("adamw", {}),
    ("adamw", {"weight_decay": 0.1}),
]


def _encoded(model: str):
    name, _ = CASES[model]
    X, labels, _ = load(name)
    if model == "linear":
        y = labels.astype(float)
    else:
        classes = sorted(set(labels.tolist()))
        y = np.array([classes.index(v) for v in labels], dtype=float)
    return standardise(X), y, name


def test_every_optimizer_is_covered():
    from zoo import referenced

    covered = {name for name, _ in VARIANTS} | referenced("FIT_REFERENCED")
    assert covered >= set(OPTIMIZERS.names())


@pytest.mark.parametrize("model", list(CASES))
@pytest.mark.parametrize(("optimizer", "hyper"), VARIANTS)
@pytest.mark.parametrize("batch", [0, 64])
def test_matches_reference_epoch_by_epoch(model, optimizer, hyper, batch):
    X, y, name = _encoded(model)
    K = int(y.max()) + 1 if model == "softmax" else 1
    lr = 0.05 if optimizer in ("gd", "sgd", "momentum", "nesterov", "adagrad") else 0.01
    l2 = 0.01 if model != "linear" else 0.0
    epochs = 6
    result = losslab.fit(
        name,
        model=model,
        optimizer=optimizer,
        lr=lr,
        epochs=epochs,
        batch_size=batch,
        seed=3,
        test_size=0.0,
        l2=l2,
        **hyper,
    )
    expected, W, b = reference_fit(
        model,
        X,
        y,
        optimizer=optimizer,
        lr=lr,
        epochs=epochs,
        batch=batch,
        seed=3,
        l2=l2,
        K=K,
        **hyper,
    )
    got = np.array([h["train_loss"] for h in result.history])
    np.testing.assert_allclose(got, expected, rtol=1e-11)
    np.testing.assert_allclose(np.array(result.model["coef"]), W, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.atleast_1d(result.model["intercept"]), b, rtol=1e-9, atol=1e-12)


def test_l1_subgradient_matches_reference():
    X, y, name = _encoded("linear")
    result = losslab.fit(
        name, optimizer="sgd", lr=0.01, epochs=5, batch_size=32, seed=1, test_size=0.0, l1=2.0
    )
    expected, W, _ = reference_fit(
        "linear", X, y, optimizer="sgd", lr=0.01, epochs=5, batch=32, seed=1, l1=2.0
    )
    np.testing.assert_allclose([h["train_loss"] for h in result.history], expected, rtol=1e-11)
    np.testing.assert_allclose(result.model["coef"], W, rtol=1e-9, atol=1e-12)


def test_matches_torch_step_by_step():
    torch = pytest.importorskip("torch")
    X, y, name = _encoded("logistic")
    cases = [
        ("sgd", torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
        ("adam", torch.optim.Adam, {"amsgrad": True}),
        ("adamw", torch.optim.AdamW, {"weight_decay": 0.05}),
        ("rmsprop", torch.optim.RMSprop, {}),
        ("adagrad", torch.optim.Adagrad, {}),
    ]
    for name_opt, cls, hyper in cases:
        ours = losslab.fit(
            name,
            optimizer=name_opt,
            lr=0.01,
            epochs=4,
            batch_size=50,
            seed=7,
            test_size=0.0,
            l2=0.02,
            **hyper,
        )
        Xt, yt = torch.tensor(X), torch.tensor(y)
        lin = torch.nn.Linear(X.shape[1], 1, dtype=torch.float64)
        torch.nn.init.zeros_(lin.weight)
        torch.nn.init.zeros_(lin.bias)
        kwargs = dict(hyper)
        if name_opt == "adamw":
            opt = cls(
                [
                    {"params": [lin.weight], "weight_decay": hyper["weight_decay"]},
                    {"params": [lin.bias], "weight_decay": 0.0},
                ],
                lr=0.01,
            )
        else:
            opt = cls(lin.parameters(), lr=0.01, **kwargs)
        rng = np.random.default_rng(np.random.SeedSequence(7).spawn(2)[1])
        losses = []
        for _ in range(4):
            order = rng.permutation(len(y))
            for start in range(0, len(y), 50):
                rows = torch.from_numpy(order[start : start + 50])
                opt.zero_grad()
                s = lin(Xt[rows]).squeeze(1)
                obj = torch.nn.functional.binary_cross_entropy_with_logits(s, yt[rows])
                obj = obj + 0.01 * lin.weight.pow(2).sum()
                obj.backward()
                opt.step()
            with torch.no_grad():
                s = lin(Xt).squeeze(1)
                losses.append(torch.nn.functional.binary_cross_entropy_with_logits(s, yt).item())
        np.testing.assert_allclose(
            [h["train_loss"] for h in ours.history], losses, rtol=1e-10, err_msg=name_opt
        )
        np.testing.assert_allclose(
            ours.model["coef"],
            lin.weight.detach().numpy()[0],
            rtol=1e-8,
            atol=1e-12,
            err_msg=name_opt,
        )


# --------------------------------------------------------------------------- convergence


def test_gd_reaches_least_squares():
    X, y, name = _encoded("linear")
    A = np.column_stack([X, np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    best = np.mean((A @ coef - y) ** 2)
    result = losslab.fit(name, optimizer="gd", lr=0.2, epochs=5000, test_size=0.0)
    assert result.history[-1]["train_loss"] == pytest.approx(best, rel=1e-6)


def newton(model: str, X: np.ndarray, y: np.ndarray, l2: float, K: int) -> float:
    """An independent damped Newton solve of mean loss + (l2/2)|W|^2 (intercept free)."""
    n, p = X.shape
    A = np.column_stack([X, np.ones(n)])
    k = 1 if model == "logistic" else K
    theta = np.zeros((p + 1) * k)
    reg = np.r_[np.full(p, l2), 0.0]
    reg = np.tile(reg[:, None], (1, k)).ravel()

    def f(t):
        T = t.reshape(p + 1, k)
        S = A @ T
        if model == "logistic":
            val = np.mean(softplus(S[:, 0]) - S[:, 0] * y)
        else:
            val = np.mean(
                np.log(np.exp(S - S.max(1, keepdims=True)).sum(1))
                + S.max(1)
                - S[np.arange(n), y.astype(int)]
            )
        return val + 0.5 * np.sum(reg * t * t)

    for _ in range(100):
        T = theta.reshape(p + 1, k)
        S = A @ T
        if model == "logistic":
            P = 1 / (1 + np.exp(-S[:, 0]))
            g = A.T @ (P - y) / n
            H = (A * (P * (1 - P))[:, None]).T @ A / n
        else:
            Z = np.exp(S - S.max(1, keepdims=True))
            P = Z / Z.sum(1, keepdims=True)
            Y = np.eye(K)[y.astype(int)]
            g = (A.T @ (P - Y) / n).ravel()
            H = np.zeros((theta.size, theta.size))
            for a in range(K):
                for c in range(K):
                    w = P[:, a] * ((a == c) - P[:, c])
                    H[a::K, c::K] = (A * w[:, None]).T @ A / n
        g = g + reg * theta
        H = H + np.diag(reg) + 1e-12 * np.eye(theta.size)
        step = np.linalg.lstsq(H, g, rcond=None)[0]
        t = 1.0
        while f(theta - t * step) > f(theta) - 1e-4 * t * g @ step and t > 1e-10:
            t /= 2
        theta = theta - t * step
        if np.linalg.norm(g) < 1e-12:
            break
    return f(theta)


@pytest.mark.parametrize("model", ["logistic", "softmax"])
def test_l2_training_reaches_newton_optimum(model):
    X, y, name = _encoded(model)
    K = int(y.max()) + 1
    l2 = 0.05
    best = newton(model, X, y, l2, K)
    result = losslab.fit(
        name, model=model, optimizer="gd", lr=1.0, epochs=1500, test_size=0.0, l2=l2
    )
    W = np.array(result.model["coef"])
    objective = result.history[-1]["train_loss"] + 0.5 * l2 * np.sum(W * W)
    assert result.metrics["train"]["objective"] == pytest.approx(objective, rel=1e-12)
    assert objective == pytest.approx(best, rel=1e-6)


# --------------------------------------------------------------------------- behaviour


def test_same_seed_same_numbers_other_seed_other_shuffle(cli):
    args = ["fit", "breast_cancer", "--optimizer", "sgd", "--epochs", "5", "--no-save"]
    a = cli.json(*args, "--seed", "4")
    b = cli.json(*args, "--seed", "4")
    c = cli.json(*args, "--seed", "5")
    for out in (a, b, c):
        out.pop("seconds")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert a["history"] != c["history"]
    d = cli.json(
        "fit",
        "breast_cancer",
        "--optimizer",
        "sgd",
        "--epochs",
        "5",
        "--no-save",
        "--seed",
        "4",
        "--test-size",
        "0",
    )
    e = cli.json(
        "fit",
        "breast_cancer",
        "--optimizer",
        "sgd",
        "--epochs",
        "5",
        "--no-save",
        "--seed",
        "5",
        "--test-size",
        "0",
    )
    assert d["history"] != e["history"]  # same rows, a different shuffle


@pytest.mark.parametrize(
    ("name", "key", "floor"),
    [
        ("iris", "accuracy", 0.85),
        ("breast_cancer", "accuracy", 0.93),
        ("diabetes", "r2", 0.35),
        ("digits", "accuracy", 0.9),
    ],
)
def test_every_bundled_dataset_trains_with_no_flags(cli, name, key, floor):
    out = cli.json("fit", name, "--no-save")
    assert out["status"] == "completed"
    assert out["metrics"]["test"][key] > floor


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS.names()))
@pytest.mark.parametrize(
    ("name", "key", "floor"),
    [
        ("iris", "accuracy", 0.8),
        ("breast_cancer", "accuracy", 0.9),
        ("diabetes", "r2", 0.3),
        ("digits", "accuracy", 0.85),
    ],
)
def test_every_optimizer_converges_at_its_default_lr(optimizer, name, key, floor):
    from zoo import refused

    message = refused().get((optimizer, name))
    if message is not None:  # a refusal by design (muon needs a weight matrix): one clear line
        with pytest.raises(ConfigError, match="^" + re.escape(message)):
            losslab.fit(name, optimizer=optimizer, epochs=100)
        return
    result = losslab.fit(name, optimizer=optimizer, epochs=100)
    assert result.status == "completed"
    assert result.metrics["test"][key] > floor


def test_json_shape(cli):
    out = cli.json("fit", "iris", "--epochs", "3", "--no-save")
    assert out["status"] == "completed" and out["epochs_run"] == 3
    assert {"epoch", "train_loss", "test_loss", "lr", "accuracy"} <= set(out["history"][0])
    assert set(out["metrics"]) == {"train", "test", "reliability"}  # a classifier's bins
    model = out["model"]
    assert model["kind"] == "softmax" and model["classes"] == ["setosa", "versicolor", "virginica"]
    assert np.array(model["coef"]).shape == (4, 3)
    assert len(model["scaler"]["mean"]) == 4
    cfg = out["config"]
    assert cfg["optimizer"] == "adam" and cfg["beta1"] == 0.9 and cfg["batch_size"] == 32
    assert cfg["loss"] == "cross-entropy"


def test_divergence_is_reported_not_nan(cli):
    result = cli(
        "fit",
        "diabetes",
        "--optimizer",
        "gd",
        "--lr",
        "1e3",
        "--no-standardize",
        "--format",
        "json",
        "--no-save",
        code=1,
    )
    out = json.loads(result.stdout)
    assert out["status"] == "diverged" and out["diverged_at"] >= 1
    assert "lower --lr" in result.stderr
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    assert all(math.isfinite(h["train_loss"]) for h in out["history"])


def test_early_stopping_restores_best(cli):
    out = cli.json(
        "fit",
        "breast_cancer",
        "--optimizer",
        "sgd",
        "--lr",
        "0.5",
        "--epochs",
        "200",
        "--patience",
        "3",
        "--no-save",
    )
    assert out["status"] == "early_stopped" and out["epochs_run"] < 200
    best = out["history"][out["epochs_run"] - 3 - 1]  # the last improvement, 3 epochs back
    # validation chooses, never the test split
    assert out["metrics"]["val"]["loss"] == pytest.approx(best["val_loss"], rel=1e-12)
    assert out["metrics"]["test"]["loss"] == pytest.approx(best["test_loss"], rel=1e-12)


def test_schedule_and_clipping_reach_history(cli):
    out = cli.json(
        "fit",
        "diabetes",
        "--optimizer",
        "sgd",
        "--schedule",
        "step",
        "--step-size",
        "2",
        "--decay",
        "0.5",
        "--epochs",
        "5",
        "--lr",
        "0.01",
        "--clip-norm",
        "1",
        "--no-save",
    )
    assert [h["lr"] for h in out["history"]] == [0.01, 0.01, 0.005, 0.005, 0.0025]


def test_clipping_bounds_the_first_step():
    result = losslab.fit("diabetes", optimizer="gd", lr=1.0, epochs=1, clip_norm=0.5, test_size=0.0)
    W = np.array(result.model["coef"])
    step = math.sqrt(float(W @ W) + result.model["intercept"] ** 2)
    assert step == pytest.approx(0.5, rel=1e-6)


def test_record_written_and_loadable(cli, tmp_path):
    out = cli.json("fit", "iris", "--epochs", "3", "--out", tmp_path)
    record = Path(out["record"])
    assert record.parent == tmp_path
    assert sorted(p.name for p in record.iterdir()) == [
        "config.json",
        "history.csv",
        "metrics.json",
        "model.json",
    ]
    config = json.loads((record / "config.json").read_text())
    assert config["data_file"]["sha256"] and config["versions"]["numpy"] == np.__version__
    assert config["seed"] == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    predictions = cli("predict", record, "iris").stdout.splitlines()
    assert predictions[0] == "prediction,p_setosa,p_versicolor,p_virginica"
    assert len(predictions) == 151
    scored = cli.json("eval", "iris", "--model", record)
    assert scored["rows"] == 150 and scored["metrics"]["accuracy"] > 0.8
    assert "cross-entropy" in scored["losses"]


def test_predict_feature_mismatch(cli, tmp_path, write_csv):
    out = cli.json("fit", "diabetes", "--epochs", "2", "--out", tmp_path)
    err = cli.error("predict", out["record"], write_csv("age,bmi\n1,2\n"))
    assert "'sex'" in err and "missing" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "perceptron"], "unknown model"),
        (["--optimizer", "adamm"], "Did you mean 'adam'"),
        (["--schedule", "cosin"], "unknown schedule"),
        (["--model", "logistic", "--loss", "mse"], "compatible losses: bce, focal"),
        (["--lr", "0"], "--lr must be > 0"),
        (["--lr", "-1"], "--lr must be > 0"),
        (["--epochs", "0"], "--epochs must be >= 1"),
        (["--batch-size", "-2"], "--batch-size"),
        (["--test-size", "1"], "--test-size"),
        (["--test-size", "-0.1"], "--test-size"),
        (["--target", "nope"], "no column 'nope'"),
    ],
)
def test_bad_settings(cli, args, needle):
    err = cli.error("fit", "iris", *args, "--no-save")
    assert needle in err


def test_bad_targets(cli, write_csv):
    assert "binary target" in cli.error("fit", "iris", "--model", "logistic", "--no-save")
    single = write_csv("x,y\n1,a\n2,a\n3,a\n")
    assert "single class" in cli.error("fit", single, "--model", "softmax", "--no-save")
    text = write_csv("x,y\n1,a\n2,b\n3,c\n4,d\n", "text.csv")
    assert "numeric target" in cli.error("fit", text, "--model", "linear", "--no-save")
    tiny = write_csv("x,y\n1,0\n2,1\n", "tiny.csv")
    assert "no training row" in cli.error("fit", tiny, "--test-size", "0.9", "--no-save")


def test_fit_config_defaults_are_documented():
    config = FitConfig()
    assert config.test_size == 0.2 and config.standardize and config.seed == 0
