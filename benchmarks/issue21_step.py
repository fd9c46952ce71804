"""Issue 21's per-step rows (BENCHMARKS section 13), measured interleaved in one process:

    python benchmarks/issue21_step.py                      # about 3 min on a quiet machine
    python benchmarks/issue21_step.py --repeats 7 --skip linear

- ``mlp``: one epoch of 784-128-10 relu, float32, batch 64, Adam (lr 1e-3) on the first
  ``--rows`` MNIST rows scaled to [0, 1]: losslab's own epoch loop (``Run.setup(...).epochs``:
  the gather, forward, cross-entropy gradient, backward and Adam step of ``fit``), torch eager
  (``nn.Sequential``, ``torch.optim.Adam``), and JAX jit + optax (one jitted step that gathers
  its batch on the device; the last partial batch is dropped so that nothing recompiles).
  Every framework on one thread. Beside them: the float32 GEMM rate of the step's product
  (64×784 by 784×128, the best of the interleaved measures) and the FLOP bound of an epoch,
  3 × the forward FLOPs ÷ that rate.
- ``cnn``: the same for the seed's Keras network (conv32, pool, conv64, pool, conv64, dense64,
  dense10), batch 32, 150 steps (``--cnn-rows``).
- ``linear``: logistic regression on ``--linear-rows`` × 50 float64 Gaussian rows, batch 256,
  plain SGD (lr 0.01): losslab's epoch, torch eager, JAX jit + optax, and scikit-learn's
  ``SGDClassifier`` (per-sample SGD, one epoch), with losslab's per-step cost.

Repeats are interleaved (one epoch of each framework in turn); the table gives medians and
ratios of medians to losslab, and the load average before and after (other processes may share
the machine: ratios move far less than absolute times).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import numpy as np

from losslab.train import blas

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from issue21 import machine


def _losslab_epoch(frame: Any, target: str, **settings: Any) -> Callable[[], None]:
    """A function that runs one epoch of ``fit``'s own loop on a fresh run (setup untimed)."""
    from losslab.train.config import FitConfig
    from losslab.train.loop import Run
    from losslab.train.prepare import prepare

    config = FitConfig(data=frame, target=target, scale="none", test_size=0.1, **settings)
    problem, split = prepare(config)
    state: dict[str, Any] = {}

    def fresh() -> None:
        state["run"] = Run.setup(problem, split, config)

    def epoch() -> None:
        run = state["run"]
        with np.errstate(over="ignore"):
            run.epochs.run(1, run.lr0)

    fresh()
    epoch.fresh = fresh  # type: ignore[attr-defined]
    epoch.split = split  # type: ignore[attr-defined]
    return epoch


def _torch_model(kind: str, p: int, dtype: Any) -> Any:
    """784-128-10 relu ("mlp"), the seed's Keras cnn ("cnn", on (rows, 1, 28, 28)), or one
    linear score ("linear")."""
    import torch
    from torch import nn

    if kind == "mlp":
        return nn.Sequential(nn.Linear(p, 128), nn.ReLU(), nn.Linear(128, 10)).to(dtype)
    if kind == "cnn":
        return nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
            nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10),
        ).to(dtype)  # fmt: skip
    return torch.nn.Linear(p, 1).to(dtype)


def _torch_epoch(X: np.ndarray, y: np.ndarray, kind: str, batch: int, opt: str, lr: float):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    dtype = torch.float32 if X.dtype == np.float32 else torch.float64
    Xt = torch.from_numpy(X)
    model = _torch_model(kind, X.shape[1], dtype)
    if kind != "linear":
        yt = torch.from_numpy(y.astype(np.int64))
        loss_fn: Any = torch.nn.CrossEntropyLoss()
    else:
        yt = torch.from_numpy(y.astype(X.dtype))
        bce = torch.nn.BCEWithLogitsLoss()

        def loss_fn(s: Any, t: Any) -> Any:
            return bce(s.squeeze(1), t)

    rule = torch.optim.Adam if opt == "adam" else torch.optim.SGD
    optimizer = rule(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)
    n = X.shape[0]

    def epoch() -> None:
        perm = torch.randperm(n, generator=gen)
        for lo in range(0, n, batch):
            idx = perm[lo : lo + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt.index_select(0, idx)), yt.index_select(0, idx))
            loss.backward()
            optimizer.step()

    return epoch


def _jax_params(kind: str, p: int, dtype: Any) -> Any:
    """torch's default ranges (±1/√fan_in), drawn from JAX's generator."""
    import jax

    shapes = {
        "mlp": [("W1", (p, 128), p), ("b1", (128,), p), ("W2", (128, 10), 128), ("b2", (10,), 128)],
        "cnn": [
            ("c1", (3, 3, 1, 32), 9),
            ("d1", (32,), 9),
            ("c2", (3, 3, 32, 64), 288),
            ("d2", (64,), 288),
            ("c3", (3, 3, 64, 64), 576),
            ("d3", (64,), 576),
            ("W1", (576, 64), 576),
            ("b1", (64,), 576),
            ("W2", (64, 10), 64),
            ("b2", (10,), 64),
        ],
        "linear": [("W", (p,), p), ("b", (), p)],
    }[kind]
    keys = jax.random.split(jax.random.PRNGKey(0), len(shapes))
    return {
        name: jax.random.uniform(key, shape, dtype, -(fan**-0.5), fan**-0.5)
        for key, (name, shape, fan) in zip(keys, shapes, strict=True)
    }


def _jax_scores(kind: str, q: Any, xb: Any) -> Any:
    import jax
    from jax import lax

    if kind == "linear":
        return xb @ q["W"] + q["b"]
    if kind == "cnn":
        x = xb.reshape(-1, 28, 28, 1)
        for k in (1, 2, 3):
            x = lax.conv_general_dilated(
                x, q[f"c{k}"], (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            x = jax.nn.relu(x + q[f"d{k}"])
            if k < 3:
                window = (1, 2, 2, 1)
                x = lax.reduce_window(x, -jax.numpy.inf, lax.max, window, window, "VALID")
        # torch's flatten order (C, H, W)
        xb = x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)
    h = jax.nn.relu(xb @ q["W1"] + q["b1"])
    return h @ q["W2"] + q["b2"]


def _jax_epoch(X: np.ndarray, y: np.ndarray, kind: str, batch: int, opt: str, lr: float):
    import jax
    import jax.numpy as jnp
    import optax

    if X.dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    params = _jax_params(kind, X.shape[1], X.dtype)
    if kind != "linear":

        def loss(q: Any, xb: Any, yb: Any) -> Any:
            s = _jax_scores(kind, q, xb)
            return optax.softmax_cross_entropy_with_integer_labels(s, yb).mean()

        yd = jnp.asarray(y.astype(np.int32))
    else:

        def loss(q: Any, xb: Any, yb: Any) -> Any:
            return optax.sigmoid_binary_cross_entropy(_jax_scores(kind, q, xb), yb).mean()

        yd = jnp.asarray(y.astype(X.dtype))
    tx = optax.adam(lr) if opt == "adam" else optax.sgd(lr)
    Xd = jnp.asarray(X)
    box = {"params": params, "state": tx.init(params)}

    @jax.jit
    def step(q: Any, s: Any, idx: Any) -> Any:
        g = jax.grad(loss)(q, Xd[idx], yd[idx])
        updates, s = tx.update(g, s, q)
        return optax.apply_updates(q, updates), s

    rng = np.random.default_rng(0)
    n = X.shape[0]

    def epoch() -> None:
        perm = rng.permutation(n).astype(np.int32)
        q, s = box["params"], box["state"]
        for lo in range(0, n - batch + 1, batch):
            q, s = step(q, s, perm[lo : lo + batch])
        jax.block_until_ready(q)
        box["params"], box["state"] = q, s

    epoch()  # compile
    return epoch


def _sklearn_epoch(X: np.ndarray, y: np.ndarray, lr: float) -> Callable[[], None]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    def epoch() -> None:
        model = SGDClassifier(
            loss="log_loss", penalty=None, learning_rate="constant", eta0=lr, max_iter=1,
            tol=None, shuffle=True, random_state=0,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)

    return epoch


def _interleaved(epochs: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in epochs}
    for _ in range(repeats):
        for name, epoch in epochs.items():
            fresh = getattr(epoch, "fresh", None)
            if fresh is not None:
                fresh()
            start = time.perf_counter()
            epoch()
            times[name].append(time.perf_counter() - start)
    return times


def _per_call(f: Callable[[], Any], calls: int) -> float:
    best = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            f()
        best.append((time.perf_counter() - start) / calls)
    return statistics.median(best)


def _table(times: dict[str, list[float]], steps: int) -> tuple[list[str], dict[str, Any]]:
    base = statistics.median(times["losslab"])
    rows, out = [], {}
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append(
            f"  {name:<22} epoch {med:8.3f} s  per step {med / steps * 1e6:8.1f} µs  "
            f"losslab / it {base / med:5.2f}"
        )
        out[name] = {"median_s": med, "times": ts, "losslab_over_it": base / med}
    return rows, out


def _mnist(rows: int) -> tuple[np.ndarray, np.ndarray]:
    from losslab.data.read import read_table

    table = table_of_mnist = read_table("mnist")
    pixels = [c for c in table_of_mnist.columns if c != "label"]
    X = np.ascontiguousarray(table.matrix(pixels)[:rows]) / 255.0
    return X, table.frame["label"].to_numpy()[:rows]


# forward FLOPs per row: the mlp's two products; the cnn's three convolutions (Ho·Wo·k²·C_in·C_out
# each) and two dense layers
FORWARD_FLOPS = {
    "mlp": 2 * (784 * 128 + 128 * 10),
    "cnn": 2 * (26 * 26 * 9 * 32 + 11 * 11 * 9 * 32 * 64 + 3 * 3 * 9 * 64 * 64 + 576 * 64 + 640),
}


def _gemm_rate() -> float:
    """float32 GEMM FLOP/s of a 64×784 by 784×128 product at one thread, the best of 5."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 784)).astype(np.float32)
    w = rng.standard_normal((784, 128)).astype(np.float32)
    z = np.empty((64, 128), np.float32)
    best = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(200):
            np.matmul(a, w, out=z)
        best.append((time.perf_counter() - start) / 200)
    return 2 * 64 * 784 * 128 / min(best)


def network_rows(kind: str, repeats: int, rows: int) -> tuple[list[str], dict[str, Any]]:
    import pandas as pd

    X, y = _mnist(rows)
    frame = pd.DataFrame(X, columns=[f"p{k}" for k in range(X.shape[1])])
    frame["label"] = y
    batch = 64 if kind == "mlp" else 32
    settings: dict[str, Any] = {"hidden": [128]} if kind == "mlp" else {}
    ours = _losslab_epoch(
        frame, "label", model=kind, dtype="float32", batch_size=batch, optimizer="adam", lr=1e-3,
        **settings,
    )  # fmt: skip
    Xs = ours.split.X_train.astype(np.float32)  # type: ignore[attr-defined]
    ys = ours.split.y_train  # type: ignore[attr-defined]
    n = Xs.shape[0]
    epochs = {
        "losslab": ours,
        "torch eager": _torch_epoch(Xs, ys, kind, batch, "adam", 1e-3),
        "JAX jit + optax": _jax_epoch(Xs, ys, kind, batch, "adam", 1e-3),
        "GEMM rate": lambda: rates.append(_gemm_rate()),
    }
    rates: list[float] = []
    times = _interleaved(epochs, repeats)
    del times["GEMM rate"]
    steps = -(-n // batch)
    lines, out = _table(times, steps)
    rate = max(rates)
    bound = 3 * n * FORWARD_FLOPS[kind] / rate
    med = out["losslab"]["median_s"]
    lines.append(
        f"  float32 GEMM 64×784·784×128, best: {rate / 1e9:.1f} GFLOP/s; FLOP bound of the "
        f"epoch (3 × forward) {bound:.3f} s; losslab / bound {med / bound:.2f}"
    )
    out["gemm"] = {"flops_per_s": rates, "epoch_bound_s": bound}
    out["steps"] = steps
    what = "784-128-10 relu" if kind == "mlp" else "the seed's Keras cnn"
    head = f"{kind}: {what}, float32, batch {batch}, Adam, one epoch of {n} rows"
    return [head, *lines], out


def linear_rows(repeats: int, rows: int) -> tuple[list[str], dict[str, Any]]:
    import pandas as pd

    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 50))
    beta = rng.standard_normal(50)
    y = (X @ beta + rng.standard_normal(rows) > 0).astype(np.int64)
    frame = pd.DataFrame(X, columns=[f"x{k}" for k in range(50)])
    frame["y"] = y
    ours = _losslab_epoch(frame, "y", model="logistic", batch_size=256, optimizer="sgd", lr=0.01)
    Xs, ys = ours.split.X_train, ours.split.y_train  # type: ignore[attr-defined]
    Xc = np.ascontiguousarray(Xs)
    epochs = {
        "losslab": ours,
        "torch eager": _torch_epoch(Xc, ys, "linear", 256, "sgd", 0.01),
        "JAX jit + optax": _jax_epoch(Xc, ys, "linear", 256, "sgd", 0.01),
        "scikit-learn SGD": _sklearn_epoch(Xc, ys.astype(np.int64), 0.01),
    }
    times = _interleaved(epochs, repeats)
    n = Xs.shape[0]
    lines, out = _table(times, -(-n // 256))
    out["steps"] = -(-n // 256)
    head = f"linear: logistic, {n} × 50 float64, batch 256, SGD, one epoch (sklearn: per sample)"
    return [head, *lines], out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=60000, help="MNIST rows of the mlp row")
    parser.add_argument("--cnn-rows", type=int, default=5334, help="4,800 train: 150 steps")
    parser.add_argument("--linear-rows", type=int, default=1_000_000)
    parser.add_argument("--skip", default="", help="comma-separated: mlp, cnn, linear")
    parser.add_argument("--out", default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    result: dict[str, Any] = {"machine": machine()}
    print(json.dumps(result["machine"]))
    with blas.limited(1):
        for kind, rows in (("mlp", args.rows), ("cnn", args.cnn_rows)):
            if kind not in skip:
                lines, result[kind] = network_rows(kind, args.repeats, rows)
                print("\n".join(lines), flush=True)
        if "linear" not in skip:
            lines, result["linear"] = linear_rows(args.repeats, args.linear_rows)
            print("\n".join(lines), flush=True)
    result["load_after"] = os.getloadavg()
    print(f"load average before {result['machine']['load']}, after {result['load_after']}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
