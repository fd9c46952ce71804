"""Networks (`--model mlp`) against independent references: the activations' definitions and
central finite differences, a network and its training written out here in plain NumPy, and
``torch.nn.Sequential`` + ``torch.optim`` when torch is installed."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from twins import float64_state, torch_optimizer

import losslab
from losslab.nn.activations import ACTIVATIONS, erf
from losslab.nn.models import MODELS
from losslab.nn.network import Network
from losslab.optim.optimizers import OPTIMIZERS

ACTS = ACTIVATIONS.names()


# --------------------------------------------------------------------------- activations


def _plain(name: str, z: float) -> float:
    """Each activation's definition, one number at a time."""
    if name == "relu":
        return max(z, 0.0)
    if name == "leaky-relu":
        return z if z > 0 else 0.01 * z
    if name == "tanh":
        return math.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
    return 0.5 * z * (1.0 + math.erf(z / math.sqrt(2.0)))


@pytest.mark.parametrize("name", ACTS)
def test_activation_forward_is_its_definition(name):
    z = np.concatenate([np.linspace(-8, 8, 401), [-1000.0, -30.0, 0.0, 30.0, 1000.0]])
    a = np.empty_like(z)
    ACTIVATIONS.get(name).forward(z, a)
    want = [_plain(name, v) for v in z]
    # gelu's 1 + erf(z/√2) cancels for z < 0, in torch too: an ulp of erf, relative to 1
    atol = 1e-15 if name == "gelu" else 1e-300
    np.testing.assert_allclose(a, want, rtol=1e-14, atol=atol)


@pytest.mark.parametrize("name", ACTS)
def test_activation_backward_is_the_finite_difference(name):
    rng = np.random.default_rng(1)
    z = rng.uniform(-4, 4, 300)
    z = z[np.abs(z) > 1e-3]  # away from the kinks of relu and leaky-relu
    act = ACTIVATIONS.get(name)
    a = np.empty_like(z)
    act.forward(z, a)
    d = np.ones_like(z)
    act.backward(d, z, a)
    h = 1e-6
    up, down = np.empty_like(z), np.empty_like(z)
    act.forward(z + h, up)
    act.forward(z - h, down)
    np.testing.assert_allclose(d, (up - down) / (2 * h), rtol=1e-7, atol=1e-9)


def test_relu_gradient_at_zero_is_zero_as_torch():
    z = np.array([0.0, -0.0, 1.0])
    for name, want in (("relu", [0.0, 0.0, 1.0]), ("leaky-relu", [0.01, 0.01, 1.0])):
        act, a, d = ACTIVATIONS.get(name), np.empty(3), np.ones(3)
        act.forward(z, a)
        act.backward(d, z, a)
        np.testing.assert_array_equal(d, want)


def test_erf_matches_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 20001), np.logspace(-300, 1, 300), [0.0, 8.0, 40.0]])
    want = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), want, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(erf(-x), -want, rtol=1e-15, atol=1e-300)
    assert np.isnan(erf(np.array([np.nan]))[0])
    assert erf(np.array([0.5], dtype=np.float32)).dtype == np.float32


# --------------------------------------------------------------------------- network gradients


def _softmax_ce(S: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    Z = S - S.max(axis=1, keepdims=True)
    logZ = np.log(np.exp(Z).sum(axis=1))
    Y = np.eye(S.shape[1])[y]
    n = S.shape[0]
    return float(np.mean(logZ - (Z * Y).sum(axis=1))), (np.exp(Z - logZ[:, None]) - Y) / n


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("vector", [False, True])
def test_network_backward_is_the_finite_difference(name, vector):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((13, 5))
    K = 1 if vector else 4
    net = Network([5, 7, 6, K], name, vector_output=vector)
    net.init("torch", np.random.default_rng(0))
    y = rng.integers(0, K, 13) if not vector else rng.standard_normal(13)

    def loss_and_grad() -> tuple[float, np.ndarray]:
        S = net.forward(X, "batch")
        if vector:
            d = S - y
            return float(np.mean(d * d)), 2 * d / len(y)
        return _softmax_ce(S, y)

    _, G = loss_and_grad()
    net.backward(G.copy(), "batch")
    analytic = net.grad.copy()
    numeric = np.empty_like(analytic)
    h = 1e-6
    for i in range(net.theta.size):
        keep = net.theta[i]
        net.theta[i] = keep + h
        up = loss_and_grad()[0]
        net.theta[i] = keep - h
        down = loss_and_grad()[0]
        net.theta[i] = keep
        numeric[i] = (up - down) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_torch_default_init_bounds_and_stream():
    net = Network([64, 32, 10], "relu")
    net.init("torch", np.random.default_rng(5))
    for W, b, fan_in in zip(net.W, net.b, (64, 32), strict=True):
        k = 1 / math.sqrt(fan_in)
        assert np.abs(W).max() <= k and np.abs(b).max() <= k
        assert np.abs(W).max() > 0.9 * k  # spread over the whole interval
    # documented order: W1 (fan_in × fan_out, row-major draws), b1, W2, b2
    rng = np.random.default_rng(5)
    W1 = rng.uniform(-1 / 8, 1 / 8, size=(64, 32))
    b1 = rng.uniform(-1 / 8, 1 / 8, size=32)
    np.testing.assert_array_equal(net.W[0], W1)
    np.testing.assert_array_equal(net.b[0], b1)


def test_third_seed_stream_leaves_split_and_shuffle_streams_unchanged():
    for seed in (0, 7):
        two, three = np.random.SeedSequence(seed).spawn(2), np.random.SeedSequence(seed).spawn(3)
        for a, b in zip(two, three[:2], strict=True):
            x = np.random.default_rng(a).random(5)
            np.testing.assert_array_equal(x, np.random.default_rng(b).random(5))


# --------------------------------------------------------------------------- a NumPy reference


def _digits(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    path = Path(__file__).resolve().parent.parent / "datasets" / "digits.csv"
    raw = np.loadtxt(path, delimiter=",", skiprows=1)[:n]
    return raw[:, :-1], raw[:, -1].astype(int)


def _write_csv(path: Path, X: np.ndarray, y: np.ndarray) -> Path:
    header = ",".join([f"x{j}" for j in range(X.shape[1])] + ["label"])
    rows = [",".join(repr(float(v)) for v in x) + f",{t}" for x, t in zip(X, y, strict=True)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _init_npz(path: Path, sizes: list[int], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        W = rng.normal(0, 1 / math.sqrt(fan_in), (fan_in, fan_out))
        arrays += [W, rng.normal(0, 0.1, fan_out)]
    np.savez(path, **{f"{'Wb'[i % 2]}{i // 2 + 1}": a for i, a in enumerate(arrays)})
    return arrays


def _reference_mlp_adam(X, y, params, *, epochs, batch, seed, lr, K):
    """A tanh MLP with softmax cross-entropy trained by Adam, written out from the formulas."""
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[1])
    t, losses, n = 0, [], len(y)

    def forward(Xs):
        acts, A = [Xs], Xs
        for i in range(0, len(params), 2):
            Z = A @ params[i] + params[i + 1]
            A = np.tanh(Z) if i < len(params) - 2 else Z
            acts.append(A)
        return acts

    for _ in range(epochs):
        order = rng.permutation(n)
        for lo in range(0, n, batch):
            rows = order[lo : lo + batch]
            acts = forward(X[rows])
            _, D = _softmax_ce(acts[-1], y[rows])
            grads = [None] * len(params)
            for i in range(len(params) - 2, -1, -2):
                grads[i], grads[i + 1] = acts[i // 2].T @ D, D.sum(axis=0)
                if i:
                    D = (D @ params[i].T) * (1 - acts[i // 2] ** 2)
            t += 1
            for j, g in enumerate(grads):
                m[j] = 0.9 * m[j] + 0.1 * g
                v[j] = 0.999 * v[j] + 0.001 * g * g
                mhat, vhat = m[j] / (1 - 0.9**t), v[j] / (1 - 0.999**t)
                params[j] = params[j] - lr * mhat / (np.sqrt(vhat) + 1e-8)
        losses.append(_softmax_ce(forward(X)[-1], y)[0])
    return losses, params


def test_mlp_equals_a_numpy_reference(tmp_path):
    X, y = _digits(240)
    data = _write_csv(tmp_path / "d.csv", X, y)
    sizes = [64, 12, 9, 10]
    start = _init_npz(tmp_path / "w.npz", sizes, 2)
    ours = losslab.fit(
        str(data),
        model="mlp",
        hidden=[12, 9],
        activation="tanh",
        init_from=str(tmp_path / "w.npz"),
        optimizer="adam",
        lr=0.005,
        epochs=4,
        batch_size=32,
        seed=3,
        test_size=0.0,
        scale="none",
    )
    losses, params = _reference_mlp_adam(X, y, start, epochs=4, batch=32, seed=3, lr=0.005, K=10)
    np.testing.assert_allclose([h["train_loss"] for h in ours.history], losses, rtol=1e-11)
    pairs = zip(params[::2], params[1::2], strict=True)
    for layer, (W, b) in zip(ours.model["layers"], pairs, strict=True):
        np.testing.assert_allclose(layer["W"], W, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(layer["b"], b, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- torch


def _torch_optimizer(torch, name: str, model, lr: float, **hyper):
    weights = [p for n_, p in model.named_parameters() if n_.endswith("weight")]
    biases = [p for n_, p in model.named_parameters() if n_.endswith("bias")]
    return torch_optimizer(torch, name, weights, biases, lr, **hyper)


_TORCH_ACT = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "gelu": "GELU"}


def _torch_history(
    torch,
    X,
    y,
    arrays,
    *,
    act,
    loss,
    optimizer,
    lr,
    epochs,
    batch,
    seed,
    l2=0.0,
    make=None,
    **hyper,
):
    """The train loss after each epoch of the same network trained by torch. ``make(model)``
    builds the optimizer (default: :func:`_torch_optimizer` of ``optimizer`` with ``hyper``);
    one that needs the objective itself (LBFGS) is stepped with a closure."""
    F = torch.nn.functional
    layers = []
    for i in range(0, len(arrays), 2):
        W, b = arrays[i], arrays[i + 1]
        lin = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(arrays) - 2:
            layers.append(getattr(torch.nn, _TORCH_ACT[act])())
    model = torch.nn.Sequential(*layers)
    opt = (
        make(model) if make is not None else _torch_optimizer(torch, optimizer, model, lr, **hyper)
    )
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def objective(S, target):
        if loss == "cross-entropy":
            return F.cross_entropy(S, target.long())
        if loss == "bce":
            return F.binary_cross_entropy_with_logits(S[:, 0], target)
        return F.mse_loss(S[:, 0], target)

    def closure(rows):
        opt.zero_grad()
        value = objective(model(Xt[rows]), yt[rows])
        if l2:
            value = value + 0.5 * l2 * sum(m.weight.pow(2).sum() for m in model[::2])
        value.backward()
        return value

    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[1])
    n, out = len(y), []
    for _ in range(epochs):
        order = np.arange(n) if batch == 0 else rng.permutation(n)
        size = n if batch == 0 else batch
        for lo in range(0, n, size):
            rows = torch.from_numpy(order[lo : lo + size])
            if isinstance(opt, torch.optim.LBFGS):
                opt.step(lambda rows=rows: closure(rows))
                continue
            closure(rows)
            with float64_state(torch):
                opt.step()
        with torch.no_grad():
            out.append(objective(model(Xt), yt).item())
    return out


# torch.optim's elementwise rules (losslab.optim.optimizers and torch_more); the rest of the zoo
# is fitted against torch or its package in its own test_zoo_*.py.
CORE = [
    n
    for n in OPTIMIZERS.names()
    if OPTIMIZERS.get(n).rule.__module__ in ("losslab.optim.optimizers", "losslab.optim.torch_more")
]


@pytest.mark.parametrize("optimizer", CORE)
@pytest.mark.parametrize("batch", [0, 40])
def test_mlp_matches_torch_epoch_by_epoch(tmp_path, optimizer, batch):
    torch = pytest.importorskip("torch")
    X, y = _digits(200)
    X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    data = _write_csv(tmp_path / "d.csv", X, y)
    arrays = _init_npz(tmp_path / "w.npz", [64, 16, 8, 10], 4)
    lr = 0.05 if optimizer in ("gd", "sgd", "adagrad") else 0.005
    ours = losslab.fit(
        str(data),
        model="mlp",
        hidden="16,8",
        init_from=str(tmp_path / "w.npz"),
        optimizer=optimizer,
        lr=lr,
        epochs=3,
        batch_size=batch,
        seed=1,
        test_size=0.0,
        scale="none",
        l2=0.01,
    )
    want = _torch_history(
        torch, X, y.astype(float), arrays, act="relu", loss="cross-entropy",
        optimizer=optimizer, lr=lr, epochs=3, batch=batch, seed=1, l2=0.01,
    )  # fmt: skip
    np.testing.assert_allclose([h["train_loss"] for h in ours.history], want, rtol=1e-8)


@pytest.mark.parametrize(
    ("act", "loss"), [("tanh", "bce"), ("sigmoid", "mse"), ("gelu", "cross-entropy")]
)
def test_mlp_heads_and_activations_match_torch(tmp_path, act, loss):
    torch = pytest.importorskip("torch")
    X, y = _digits(200)
    X = X / 16.0
    K = 10
    if loss != "cross-entropy":
        y = (y % 2).astype(int)
        K = 1
    data = _write_csv(tmp_path / "d.csv", X, y)
    arrays = _init_npz(tmp_path / "w.npz", [64, 12, K], 6)
    ours = losslab.fit(
        str(data),
        model="mlp",
        hidden="12",
        activation=act,
        loss=loss,
        init_from=str(tmp_path / "w.npz"),
        optimizer="adam",
        lr=0.01,
        epochs=3,
        batch_size=32,
        seed=2,
        test_size=0.0,
        scale="none",
    )
    want = _torch_history(
        torch, X, y.astype(float), arrays, act=act, loss=loss,
        optimizer="adam", lr=0.01, epochs=3, batch=32, seed=2,
    )  # fmt: skip
    np.testing.assert_allclose([h["train_loss"] for h in ours.history], want, rtol=1e-8)


# --------------------------------------------------------------------------- the CLI


def test_fit_mlp_record_predict_and_eval(cli, tmp_path):
    out = cli.json(
        "fit", "iris", "--model", "mlp", "--hidden", "8", "--epochs", "30", "--out", tmp_path
    )
    assert out["config"]["hidden"] == [8] and out["config"]["activation"] == "relu"
    assert out["metrics"]["test"]["accuracy"] > 0.8
    record = Path(out["record"])
    model = json.loads((record / "model.json").read_text())
    assert model["kind"] == "mlp" and [len(layer["b"]) for layer in model["layers"]] == [8, 3]
    # predict = the saved layers applied by hand to the scaled features
    predicted = cli("predict", record, "iris").stdout.splitlines()
    X, labels = (
        np.loadtxt(
            Path(__file__).resolve().parent.parent / "datasets" / "iris.csv",
            delimiter=",",
            skiprows=1,
            usecols=(0, 1, 2, 3),
        ),
        None,
    )
    Xs = (X - np.array(model["scaler"]["mean"])) / np.array(model["scaler"]["scale"])
    H = np.maximum(Xs @ np.array(model["layers"][0]["W"]) + model["layers"][0]["b"], 0)
    S = H @ np.array(model["layers"][1]["W"]) + model["layers"][1]["b"]
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    got = np.array([[float(v) for v in line.split(",")[1:]] for line in predicted[1:]])
    np.testing.assert_allclose(got, P, rtol=1e-12)
    assert labels is None
    scored = cli.json("eval", "iris", "--model", record, "--loss", "cross-entropy")
    assert scored["losses"]["cross-entropy"] == pytest.approx(
        float(np.mean(-np.log(P[np.arange(150), np.repeat([0, 1, 2], 50)]))), rel=1e-12
    )


def test_init_from_a_saved_run_continues_it(cli, tmp_path):
    first = cli.json(
        "fit", "iris", "--model", "mlp", "--hidden", "6", "--epochs", "5", "--out", tmp_path
    )
    again = cli.json(
        "fit", "iris", "--model", "mlp", "--hidden", "6", "--epochs", "1", "--lr", "1e-12",
        "--optimizer", "sgd", "--init-from", first["record"], "--no-save",
    )  # fmt: skip
    assert again["history"][0]["train_loss"] == pytest.approx(
        first["history"][-1]["train_loss"], rel=1e-9
    )


def test_test_data_and_minmax_scale(cli, tmp_path, write_csv):
    train = write_csv("a,b,y\n0,10,0\n1,20,1\n2,30,0\n3,40,1\n4,50,0\n5,60,1\n", "train.csv")
    test = write_csv("b,y,a\n35,1,2.5\n15,0,0.5\n", "test.csv")
    out = cli.json(
        "fit", train, "--test-data", test, "--scale", "minmax", "--epochs", "3", "--no-save"
    )
    assert out["data"]["train_rows"] == 6 and out["data"]["test_rows"] == 2
    assert out["model"]["scaler"] == {"kind": "minmax", "mean": [0.0, 10.0], "scale": [5.0, 50.0]}
    assert out["history"][0]["test_loss"] is not None


def test_compare_networks_rows_per_architecture(cli):
    out = cli.json(
        "compare", "iris", "--model", "mlp", "--hidden", "4", "--hidden", "6,3",
        "--optimizer", "adam", "--epochs", "3", "--seeds", "2", "--no-save",
    )  # fmt: skip
    assert sorted(row["hidden"] for row in out["summary"]) == ["4", "6,3"]
    assert out["reference"]["objective"] is None
    assert "network" in out["reference"]["reason"]
    assert all(row["gap_mean"] is None for row in out["summary"])


BAD = [
    (["--model", "mlp", "--hidden", "0"], "--hidden"),
    (["--model", "mlp", "--hidden", "12,x"], "'x'"),
    (["--model", "mlp", "--hidden", "-3"], "--hidden"),
    (["--model", "mlp", "--activation", "swish"], "unknown activation 'swish'"),
    (["--hidden", "8"], "no hidden layers"),
    (["--model", "softmax", "--hidden", "8"], "softmax model has no hidden layers"),
    (["--model", "logistic", "--activation", "tanh"], "no hidden layers"),
    (["--model", "softmax", "--init", "he"], "linear models start at zero"),
    (["--model", "mlp", "--init", "normal"], "--init must be one of"),
    (["--scale", "robust"], "--scale must be one of"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_network_settings(cli, args, message):
    assert message in cli.error("fit", "iris", "--no-save", *args)


def test_bad_init_from(cli, tmp_path):
    np.savez(tmp_path / "shape.npz", W1=np.zeros((4, 5)), b1=np.zeros(5), W2=np.zeros((5, 3)),
             b2=np.zeros(3))  # fmt: skip
    np.savez(tmp_path / "names.npz", weights=np.zeros((4, 3)))
    np.savez(tmp_path / "count.npz", W1=np.zeros((4, 8)), b1=np.zeros(8))
    np.savez(tmp_path / "nan.npz", W1=np.full((4, 8), np.nan), b1=np.zeros(8),
             W2=np.zeros((8, 3)), b2=np.zeros(3))  # fmt: skip
    (tmp_path / "junk.npz").write_text("not a zip")
    run = cli.json("fit", "iris", "--epochs", "1", "--out", tmp_path / "runs")["record"]
    base = ["fit", "iris", "--model", "mlp", "--hidden", "8", "--no-save", "--init-from"]
    message = cli.error(*base, tmp_path / "shape.npz")
    assert "W1 has shape (4, 5); this model needs (4, 8)" in message
    assert "unexpected array 'weights'" in cli.error(*base, tmp_path / "names.npz")
    assert "needs W1, b1, W2, b2" in cli.error(*base, tmp_path / "count.npz")
    assert "W1 holds a non-finite value" in cli.error(*base, tmp_path / "nan.npz")
    assert "not a readable .npz" in cli.error(*base, tmp_path / "junk.npz")
    assert "the saved model is 'softmax'; this run trains 'mlp'" in cli.error(*base, run)
    assert "no such file" in cli.error(*base, tmp_path / "missing.npz")


def test_bad_test_data(cli, write_csv):
    write_csv("a,b,y\n0,1,0\n1,2,1\n2,3,0\n3,4,1\n", "train.csv")
    train = write_csv("a,b,y\n0,1,0\n1,2,1\n2,3,0\n3,4,1\n", "train.csv")
    no_col = write_csv("a,y\n0,1\n", "t1.csv")
    new_class = write_csv("a,b,y\n0,1,0\n0,1,7\n", "t2.csv")
    assert "no feature column 'b'" in cli.error("fit", train, "--test-data", no_col, "--no-save")
    message = cli.error("fit", train, "--test-data", new_class, "--no-save")
    assert "line 3" in message and "class 7 does not occur in the training data" in message


def test_mlp_defaults_learn_every_bundled_classification_set():
    for data in ("iris", "breast-cancer", "digits"):
        result = losslab.fit(data, model="mlp", hidden=[32], epochs=30)
        assert result.status == "completed"
        assert result.metrics["test"]["accuracy"] > 0.9, data


def test_bundled_mnist_reads_offline_and_trains(cli):
    """`mnist-test` (10,000 × 784 gzip CSV) by its bundled name; an MLP learns it in one epoch."""
    out = cli.json(
        "fit", "mnist-test", "--model", "mlp", "--hidden", "32", "--epochs", "1",
        "--batch-size", "128", "--scale", "minmax", "--dtype", "float32", "--no-save",
    )  # fmt: skip
    assert out["data"]["rows"] == 10000 and len(out["config"]["features"]) == 784
    assert out["config"]["target"] == "label" and out["model"]["classes"] == list(range(10))
    assert out["metrics"]["test"]["accuracy"] > 0.85


def test_running_loss_reaches_the_progress_display():
    seen: list[tuple] = []

    class Progress:
        running = True

        def __call__(self, epoch, total, loss):
            seen.append(("epoch", epoch, total))

        def step(self, epoch, batch, batches, running):
            seen.append(("batch", epoch, batch, batches, running))

    result = losslab.fit(
        "iris", model="mlp", hidden=[4], epochs=2, batch_size=50, test_size=0.2, progress=Progress()
    )
    batches = [s for s in seen if s[0] == "batch"]
    assert [s[:4] for s in batches] == [("batch", e, k, 3) for e in (1, 2) for k in (1, 2, 3)]
    assert ("epoch", 2, 2) in seen and result.epochs_run == 2
    # the running loss is the mean of the epoch's batch losses: positive and finite
    assert all(0 < s[4] < 10 for s in batches)


def _data_for(loss: str) -> str:
    task = losslab.LOSSES.get(loss).task
    if task == "multiclass":
        return "iris"
    return "breast-cancer" if task in ("binary", "margin") else "diabetes"


@pytest.mark.parametrize("loss", MODELS.get("mlp").losses)
def test_every_applicable_loss_trains_a_network(loss):
    result = losslab.fit(
        _data_for(loss), model="mlp", loss=loss, hidden=[8], epochs=3, optimizer="adam", lr=0.01
    )
    assert result.status == "completed", result.message
    assert all(math.isfinite(h["train_loss"]) for h in result.history)


@pytest.mark.parametrize(
    "options",
    [
        {"clip_norm": 0.1},
        {"patience": 1, "epochs": 50},
        {"l1": 0.001, "l2": 0.01},
        {"dtype": "float32"},
        {"shuffle": "once"},
        {"schedule": "cosine", "warmup": 2},
        {"optimizer": "adamw", "weight_decay": 0.1},
        {"batch_size": 0, "optimizer": "gd", "epochs": 100},
    ],
)
def test_network_options(options):
    settings = {"epochs": 5, **options}
    result = losslab.fit("breast-cancer", model="mlp", hidden=[8, 4], **settings)
    assert result.status in ("completed", "early_stopped")
    assert result.metrics["test"]["accuracy"] > 0.85
