"""Convolutional networks (`--model cnn`) against independent references: central finite
differences of every layer, a direct (loop-over-offsets, no im2col) convolution network and its
training written out here in NumPy, and ``torch.nn.Conv2d`` / ``MaxPool2d`` / ``Flatten`` /
``Linear`` + ``torch.optim`` when torch is installed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_network import _softmax_ce, _torch_optimizer, _write_csv  # shared with the MLP tests

import losslab
from losslab.nn.activations import ACTIVATIONS
from losslab.nn.layers import Conv2D, Flatten, MaxPool, parse_layers
from losslab.nn.network import Network

RELU = ACTIVATIONS.get("relu")
DIGITS = Path(__file__).resolve().parent.parent / "datasets" / "digits.csv"


def _digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    raw = np.loadtxt(DIGITS, delimiter=",", skiprows=1)[:n]
    return raw[:, :-1] / 16.0, raw[:, -1].astype(int)


# --------------------------------------------------------------------------- layers


def _numeric(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = np.empty_like(x)
    flat, grad = x.reshape(-1), out.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = f()
        flat[i] = keep - h
        down = f()
        flat[i] = keep
        grad[i] = (up - down) / (2 * h)
    return out


@pytest.mark.parametrize(
    ("kernel", "c_in", "shape"), [(3, 1, (6, 7)), (2, 3, (5, 5)), (1, 2, (3, 4))]
)
def test_conv_backward_is_the_finite_difference(kernel, c_in, shape):
    rng = np.random.default_rng(kernel)
    layer = Conv2D((*shape, c_in), 4, kernel, ACTIVATIONS.get("tanh"))
    theta = rng.standard_normal(math.prod(layer.weight_shape) + 4)
    layer.W = theta[:-4].reshape(layer.weight_shape)
    layer.b = theta[-4:]
    layer.gW, layer.gb = np.empty(layer.weight_shape), np.empty(4)
    A = rng.standard_normal((3, *shape, c_in))
    C = rng.standard_normal((3, *layer.out_shape))
    buf = layer.buffers(3, np.dtype(np.float64))

    def value() -> float:
        return float(np.sum(layer.forward(A, buf, 3) * C))

    value()
    DX = layer.backward(C.copy(), A, buf, 3, True).copy()
    np.testing.assert_allclose(layer.gW, _numeric(value, layer.W), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.gb, _numeric(value, layer.b), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(DX, _numeric(value, A), rtol=1e-6, atol=1e-8)


def test_pool_and_flatten_backward_are_the_finite_difference():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((2, 5, 7, 3))  # odd sizes: the last row and column are dropped
    pool, flat = MaxPool(A.shape[1:]), Flatten((2, 3, 3))
    pbuf, fbuf = pool.buffers(2, np.dtype(np.float64)), flat.buffers(2, np.dtype(np.float64))
    C = rng.standard_normal((2, 18))

    def value() -> float:
        return float(np.sum(flat.forward(pool.forward(A, pbuf, 2), fbuf, 2) * C))

    value()
    D = flat.backward(C.copy(), None, fbuf, 2, True)
    DX = pool.backward(D, A, pbuf, 2, True)
    np.testing.assert_allclose(DX, _numeric(value, A), rtol=1e-7, atol=1e-9)
    assert not DX[:, 4, :, :].any() and not DX[:, :, 6, :].any()


def test_pool_gradient_goes_to_the_first_maximum_row_major():
    # windows with 2, 3 and 4 equal maxima; the first in row-major order gets the gradient
    A = np.array([[1.0, 1.0, 0.0, 5.0], [0.0, 0.0, 5.0, 5.0], [2.0, 0.0, 3.0, 3.0],
                  [2.0, 2.0, 3.0, 3.0]]).reshape(1, 4, 4, 1)  # fmt: skip
    pool = MaxPool((4, 4, 1))
    buf = pool.buffers(1, np.dtype(np.float64))
    np.testing.assert_array_equal(pool.forward(A, buf, 1)[0, :, :, 0], [[1, 5], [2, 3]])
    DX = pool.backward(np.ones((1, 2, 2, 1)), A, buf, 1, True)[0, :, :, 0]
    want = [[1, 0, 0, 1], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    np.testing.assert_array_equal(DX, want)
    torch = pytest.importorskip("torch")
    At = torch.tensor(A[0, :, :, 0].reshape(1, 1, 4, 4), requires_grad=True)
    torch.nn.functional.max_pool2d(At, 2).sum().backward()
    np.testing.assert_array_equal(At.grad.numpy()[0, 0], want)


def test_network_backward_is_the_finite_difference():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 2 * 9 * 8))
    y = rng.integers(0, 3, 4)
    net = Network([144, 3], "gelu", layers="conv3,pool,conv4k2,dense5", image=(9, 8, 2))
    net.init("torch", np.random.default_rng(0))

    def value() -> float:
        return _softmax_ce(net.forward(X, "batch"), y)[0]

    _, G = _softmax_ce(net.forward(X, "batch"), y)
    net.backward(G, "batch")
    np.testing.assert_allclose(net.grad, _numeric(value, net.theta), rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------- init and layout


def test_torch_default_init_order_and_layouts():
    net = Network([64, 10], "relu", layers="conv4,pool,conv6k2,flatten,dense7", image=(8, 8, 1))
    assert [type(layer).__name__ for layer in net.layers] == [
        "Conv2D", "MaxPool", "Conv2D", "Flatten", "Dense", "Dense",
    ]  # fmt: skip
    net.init("torch", np.random.default_rng(5))
    rng = np.random.default_rng(5)
    want = []
    for shape, fan_in in (((4, 1, 3, 3), 9), ((6, 4, 2, 2), 16), ((24, 7), 24), ((7, 10), 7)):
        k = 1 / math.sqrt(fan_in)
        want += [
            rng.uniform(-k, k, size=shape),
            rng.uniform(-k, k, size=shape[0 if len(shape) == 4 else 1]),
        ]
    layers = net.to_lists()
    assert [layer["kind"] for layer in layers] == ["conv2d", "conv2d", "dense", "dense"]
    got = [np.array(layer[key]) for layer in layers for key in ("W", "b")]
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_default_flatten_is_implied_and_spec_is_normalised():
    net = Network(
        [784, 10], "relu", layers="conv32,pool,conv64,pool,conv64,dense64", image=(28, 28, 1)
    )
    assert net.architecture == "conv32,pool,conv64,pool,conv64,dense64"  # as given
    assert [layer.kind for layer in net.layers][5] == "flatten"  # implied
    assert [layer.out_shape for layer in net.layers] == [
        (26, 26, 32), (13, 13, 32), (11, 11, 64), (5, 5, 64), (3, 3, 64), (576,), (64,), (10,),
    ]  # fmt: skip
    assert net.theta.size == 320 + 18496 + 36928 + 36928 + 650  # Keras' summary: 93,322
    assert (
        str(parse_layers("conv8k5")[0]) == "conv8k5" and str(parse_layers("conv8k3")[0]) == "conv8"
    )
    assert net.eval_chunk() * 8 * sum(layer.row_floats() for layer in net.layers) <= 1 << 26


# --------------------------------------------------------------------------- a direct reference


def _conv(X, W, b):
    """Direct convolution, NCHW: out[n,o,y,x] = Σ_c,i,j X[n,c,y+i,x+j]·W[o,c,i,j] + b[o]."""
    k = W.shape[2]
    ho, wo = X.shape[2] - k + 1, X.shape[3] - k + 1
    out = np.zeros((X.shape[0], W.shape[0], ho, wo)) + b[None, :, None, None]
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", X[:, :, i : i + ho, j : j + wo], W[:, :, i, j])
    return out


def _conv_back(X, W, D):
    k = W.shape[2]
    ho, wo = D.shape[2], D.shape[3]
    dW, dX = np.zeros_like(W), np.zeros_like(X)
    for i in range(k):
        for j in range(k):
            dW[:, :, i, j] = np.einsum("nohw,nchw->oc", D, X[:, :, i : i + ho, j : j + wo])
            dX[:, :, i : i + ho, j : j + wo] += np.einsum("nohw,oc->nchw", D, W[:, :, i, j])
    return dW, D.sum(axis=(0, 2, 3)), dX


def _pool(X):
    n, c, h, w = X.shape
    out = np.empty((n, c, h // 2, w // 2))
    arg = np.empty(out.shape, dtype=int)
    for y in range(h // 2):
        for x in range(w // 2):
            win = X[:, :, 2 * y : 2 * y + 2, 2 * x : 2 * x + 2].reshape(n, c, 4)
            arg[:, :, y, x] = np.argmax(win, axis=2)  # the first maximum
            out[:, :, y, x] = win.max(axis=2)
    return out, arg


def _pool_back(X, arg, D):
    dX = np.zeros_like(X)
    for y in range(D.shape[2]):
        for x in range(D.shape[3]):
            for k in range(4):
                dX[:, :, 2 * y + k // 2, 2 * x + k % 2] += np.where(
                    arg[:, :, y, x] == k, D[:, :, y, x], 0
                )
    return dX


def _reference_cnn_adam(X, y, params, *, image, epochs, batch, seed, lr):
    """conv(relu) → pool → conv(relu) → flatten → dense(relu) → dense, softmax cross-entropy,
    trained by Adam; every layer written out directly from its definition."""
    h, w, c = image
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[1])

    def forward(Xs):
        cache = {"x0": Xs.reshape(-1, c, h, w)}
        cache["z1"] = _conv(cache["x0"], params[0], params[1])
        cache["p1"], cache["arg"] = _pool(np.maximum(cache["z1"], 0))
        cache["z2"] = _conv(cache["p1"], params[2], params[3])
        cache["f"] = np.maximum(cache["z2"], 0).reshape(len(Xs), -1)
        cache["z3"] = cache["f"] @ params[4] + params[5]
        cache["a3"] = np.maximum(cache["z3"], 0)
        return cache["a3"] @ params[6] + params[7], cache

    t, losses, n = 0, [], len(y)
    for _ in range(epochs):
        order = rng.permutation(n)
        for lo in range(0, n, batch):
            rows = order[lo : lo + batch]
            S, cache = forward(X[rows])
            _, D = _softmax_ce(S, y[rows])
            g = [None] * 8
            g[6], g[7] = cache["a3"].T @ D, D.sum(axis=0)
            D = (D @ params[6].T) * (cache["z3"] > 0)
            g[4], g[5] = cache["f"].T @ D, D.sum(axis=0)
            D = (D @ params[4].T).reshape(cache["z2"].shape) * (cache["z2"] > 0)
            g[2], g[3], D = _conv_back(cache["p1"], params[2], D)
            D = _pool_back(np.maximum(cache["z1"], 0), cache["arg"], D) * (cache["z1"] > 0)
            g[0], g[1], _ = _conv_back(cache["x0"], params[0], D)
            t += 1
            for j, gj in enumerate(g):
                m[j] = 0.9 * m[j] + 0.1 * gj
                v[j] = 0.999 * v[j] + 0.001 * gj * gj
                mhat, vhat = m[j] / (1 - 0.9**t), v[j] / (1 - 0.999**t)
                params[j] = params[j] - lr * mhat / (np.sqrt(vhat) + 1e-8)
        losses.append(_softmax_ce(forward(X)[0], y)[0])
    return losses, params


def _start(path: Path, shapes: list[tuple[int, ...]], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        fan_in = math.prod(shape[1:]) if len(shape) == 4 else shape[0]
        bias = shape[0] if len(shape) == 4 else shape[1]
        arrays += [rng.uniform(-1, 1, shape) / math.sqrt(fan_in), rng.uniform(-0.1, 0.1, bias)]
    np.savez(path, **{f"{'Wb'[i % 2]}{i // 2 + 1}": a for i, a in enumerate(arrays)})
    return arrays


@pytest.mark.parametrize("image", [(8, 8, 1), (4, 4, 4)])
def test_cnn_equals_a_direct_numpy_reference(tmp_path, image):
    X, y = _digits(150)
    data = _write_csv(tmp_path / "d.csv", X, y)
    h, _, c = image
    after = 5  # both stacks end on 1×1×5
    layers = (
        "conv4,pool,conv5,flatten,dense12" if h == 8 else "conv4k2,pool,conv5k1,flatten,dense12"
    )
    k1, k2 = (3, 3) if h == 8 else (2, 1)
    shapes = [(4, c, k1, k1), (5, 4, k2, k2), (after, 12), (12, 10)]
    start = _start(tmp_path / "w.npz", shapes, 1)
    ours = losslab.fit(
        str(data), model="cnn", layers=layers, image="x".join(map(str, image)),
        init_from=str(tmp_path / "w.npz"), optimizer="adam", lr=0.01, epochs=3, batch_size=32,
        seed=4, test_size=0.0, scale="none",
    )  # fmt: skip
    losses, params = _reference_cnn_adam(
        X, y, start, image=image, epochs=3, batch=32, seed=4, lr=0.01
    )
    np.testing.assert_allclose([r["train_loss"] for r in ours.history], losses, rtol=1e-11)
    saved = [np.array(layer[k]) for layer in ours.model["layers"] for k in ("W", "b")]
    for got, want in zip(saved, params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- torch


def _torch_model(torch, net: Network, act: str = "ReLU"):
    """The torch twin of ``net`` with its weights: conv W as is, dense W transposed."""
    modules = []
    for layer in net.layers:
        if layer.kind == "pool":
            modules.append(torch.nn.MaxPool2d(2))
            continue
        if layer.kind == "flatten":
            modules.append(torch.nn.Flatten())
            continue
        if layer.kind == "conv2d":
            mod = torch.nn.Conv2d(layer.c_in, layer.c_out, layer.k, dtype=torch.float64)
            W = layer.get_weight()
        else:
            mod = torch.nn.Linear(layer.fan_in, layer.fan_out, dtype=torch.float64)
            W = layer.get_weight().T
        with torch.no_grad():
            mod.weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
            mod.bias.copy_(torch.from_numpy(layer.b.copy()))
        modules.append(mod)
        if layer.activation is not None:
            modules.append(getattr(torch.nn, act)())
    return torch.nn.Sequential(*modules)


def _torch_losses(torch, model, X, y, image, *, optimizer, lr, epochs, batch, seed):
    h, w, c = image
    opt = _torch_optimizer(torch, optimizer, model, lr)
    Xt, yt = torch.from_numpy(X.reshape(-1, c, h, w)), torch.from_numpy(y)
    F = torch.nn.functional
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[1])
    n, out = len(y), []
    for _ in range(epochs):
        order = rng.permutation(n)
        for lo in range(0, n, batch):
            rows = torch.from_numpy(order[lo : lo + batch])
            opt.zero_grad()
            F.cross_entropy(model(Xt[rows]), yt[rows]).backward()
            opt.step()
        with torch.no_grad():
            out.append(F.cross_entropy(model(Xt), yt).item())
    return out


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_cnn_matches_torch_epoch_by_epoch(tmp_path, optimizer):
    """torch's own default init of the seed-shaped stack, saved as W1, b1, … (conv weights as
    torch holds them, dense weights transposed) and trained by both."""
    torch = pytest.importorskip("torch")
    X, y = _digits(200)
    data = _write_csv(tmp_path / "d.csv", X, y)
    layers, image = "conv6,pool,conv8,flatten,dense16", (8, 8, 1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10),
    ).double()  # fmt: skip
    arrays = {}
    for i, mod in enumerate(m for m in model if hasattr(m, "weight")):
        W = mod.weight.detach().numpy()
        arrays[f"W{i + 1}"] = W if W.ndim == 4 else W.T
        arrays[f"b{i + 1}"] = mod.bias.detach().numpy()
    np.savez(tmp_path / "w.npz", **arrays)
    lr = 0.05 if optimizer in ("sgd", "nesterov", "adagrad") else 0.005
    ours = losslab.fit(
        str(data), model="cnn", layers=layers, init_from=str(tmp_path / "w.npz"),
        optimizer=optimizer, lr=lr, epochs=3, batch_size=25, seed=1, test_size=0.0, scale="none",
    )  # fmt: skip
    want = _torch_losses(
        torch, model, X, y, image, optimizer=optimizer, lr=lr, epochs=3, batch=25, seed=1
    )
    np.testing.assert_allclose([r["train_loss"] for r in ours.history], want, rtol=1e-8)


def test_cnn_multichannel_tanh_matches_torch(tmp_path):
    """4×4×4 images (pixels in (C, H, W) order), a 2×2 kernel, an odd pool, tanh."""
    torch = pytest.importorskip("torch")
    X, y = _digits(120)
    data = _write_csv(tmp_path / "d.csv", X, y)
    ours = losslab.fit(
        str(data), model="cnn", layers="conv5k2,pool,dense9", image="4x4x4", activation="tanh",
        optimizer="adam", lr=0.01, epochs=2, batch_size=16, seed=2, test_size=0.0, scale="none",
    )  # fmt: skip
    net = Network([64, 10], "tanh", layers="conv5k2,pool,dense9", image=(4, 4, 4))
    net.init("torch", losslab.train.prepare.generator(2, losslab.train.prepare.INIT))
    model = _torch_model(torch, net, "Tanh")
    want = _torch_losses(
        torch, model, X, y, (4, 4, 4), optimizer="adam", lr=0.01, epochs=2, batch=16, seed=2
    )
    np.testing.assert_allclose([r["train_loss"] for r in ours.history], want, rtol=1e-8)


# --------------------------------------------------------------------------- the CLI


def test_fit_cnn_record_predict_eval_and_continue(cli, tmp_path):
    out = cli.json(
        "fit", "digits", "--model", "cnn", "--layers", "conv6,pool,flatten,dense16",
        "--epochs", "3", "--scale", "minmax", "--out", tmp_path,
    )  # fmt: skip
    assert out["config"]["layers"] == "conv6,pool,flatten,dense16"
    assert out["config"]["image"] == "8x8x1" and out["config"]["hidden"] is None
    assert out["metrics"]["test"]["accuracy"] > 0.8
    record = Path(out["record"])
    model = json.loads((record / "model.json").read_text())
    assert model["kind"] == "cnn" and model["image"] == [8, 8, 1]
    assert model["spec"] == "conv6,pool,flatten,dense16"
    assert [np.shape(layer["W"]) for layer in model["layers"]] == [(6, 1, 3, 3), (54, 16), (16, 10)]
    # predict = the saved weights in torch's layouts, applied by torch to the scaled pixels
    raw = np.loadtxt(DIGITS, delimiter=",", skiprows=1)
    X = (raw[:, :-1] - model["scaler"]["mean"]) / np.array(model["scaler"]["scale"])
    got = np.array(
        [
            [float(v) for v in line.split(",")[1:]]
            for line in cli("predict", record, "digits").stdout.splitlines()[1:]
        ]
    )
    net = Network([64, 10], "relu", layers=model["spec"], image=(8, 8, 1))
    net.load([np.array(layer[k]) for layer in model["layers"] for k in ("W", "b")], "test")
    S = net.scores(X)
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, P, rtol=1e-10)
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        St = _torch_model(torch, net)(torch.from_numpy(X.reshape(-1, 1, 8, 8))).numpy()
    np.testing.assert_allclose(S, St, rtol=1e-10, atol=1e-12)
    scored = cli.json("eval", "digits", "--model", record, "--loss", "cross-entropy")
    assert scored["losses"]["cross-entropy"] > 0
    again = cli.json(
        "fit", "digits", "--model", "cnn", "--layers", "conv6,pool,flatten,dense16", "--epochs",
        "1", "--lr", "1e-12", "--optimizer", "sgd", "--scale", "minmax", "--init-from", record,
        "--no-save",
    )  # fmt: skip
    assert again["history"][0]["train_loss"] == pytest.approx(
        out["history"][-1]["train_loss"], rel=1e-9
    )


def test_cnn_float32_other_heads_and_a_mnist_subset():
    result = losslab.fit(
        "mnist-test", model="cnn", layers="conv8,pool,dense32", epochs=1, batch_size=32,
        scale="minmax", dtype="float32", test_size=0.8, seed=0,
    )  # fmt: skip
    assert result.status == "completed" and result.metrics["test"]["accuracy"] > 0.7
    for loss in ("bce", "mse"):
        binary = losslab.fit(
            "breast-cancer", model="cnn", loss=loss, image="5x6x1", layers="conv3,dense4", epochs=2
        )
        assert binary.status == "completed" and math.isfinite(binary.history[-1]["train_loss"])


def test_compare_cnn_rows_per_architecture(cli):
    out = cli.json(
        "compare", "digits", "--model", "cnn", "--layers", "conv4,pool,dense8",
        "--layers", "conv4k5,dense8", "--optimizer", "adam", "--epochs", "2", "--seeds", "2",
        "--no-save",
    )  # fmt: skip
    assert sorted(row["layers"] for row in out["summary"]) == [
        "conv4,pool,dense8",
        "conv4k5,dense8",
    ]
    assert all(row["gap_mean"] is None for row in out["summary"])


BAD = [
    (["--model", "cnn", "--image", "8x9"], "--image 8x9x1 has 72 pixels; the data has 64"),
    (["--model", "cnn", "--image", "8by8"], "--image takes HxWxC"),
    (["--model", "cnn", "--layers", "conv8,pool,conv8,pool"],
     "layer 4 (pool): a 2×2 pool does not fit its 1x1 input (it would get 0x0)"),
    (["--model", "cnn", "--layers", "conv8k9"],
     "layer 1 (conv8k9): a 9×9 kernel does not fit its 8x8 input (it would get 0x0)"),
    (["--model", "cnn", "--layers", "conv8,bogus"], "--layers: cannot read 'bogus'"),
    (["--model", "cnn", "--layers", "conv8k3x5"], "only square kernels"),
    (["--model", "cnn", "--layers", "dense8,conv4"], "layer 2 (conv4) needs an image"),
    (["--model", "cnn", "--hidden", "8"], "a cnn takes --layers"),
    (["--model", "mlp", "--layers", "conv8"], "--layers applies to --model cnn"),
    (["--layers", "conv8"], "--layers applies to --model cnn"),
    (["--model", "softmax", "--image", "8x8"], "--image applies to --model cnn"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_cnn_settings(cli, args, message):
    assert message in cli.error("fit", "digits", "--no-save", *args)


def test_bad_cnn_input(cli, tmp_path):
    message = cli.error("fit", "breast-cancer", "--model", "cnn", "--no-save")
    assert "30 feature columns are not a square image; give --image HxWxC" in message
    np.savez(tmp_path / "t.npz", W1=np.zeros((1, 4, 3, 3)), b1=np.zeros(4), W2=np.zeros((144, 10)),
             b2=np.zeros(10))  # fmt: skip
    message = cli.error(
        "fit", "digits", "--model", "cnn", "--layers", "conv4,flatten", "--init-from",
        tmp_path / "t.npz", "--no-save",
    )  # fmt: skip
    assert "W1 has shape (1, 4, 3, 3); this model needs (4, 1, 3, 3)" in message


def test_a_saved_cnn_is_checked_on_load(cli, tmp_path):
    out = cli.json(
        "fit", "digits", "--model", "cnn", "--layers", "conv2,pool,dense4", "--epochs", "1",
        "--out", tmp_path,
    )  # fmt: skip
    file = Path(out["record"]) / "model.json"
    raw = json.loads(file.read_text())
    for change, message in (
        ({"image": [8, 9, 1]}, "field 'image' has 72 pixels; the model has 64 features"),
        ({"spec": "conv2,bogus"}, "field 'spec' does not describe a network"),
        ({"spec": "conv3,pool,dense4"}, "field 'layers[0].W' has shape (2, 1, 3, 3)"),
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**raw, **change}))
        assert message in cli.error("predict", bad, "digits")
