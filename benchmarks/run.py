"""losslab's performance, as ratios to bounds and peers measured in the same run.

    python benchmarks/run.py              # 1,000,000 × 50 float64 (about 5 minutes on 2 cores)
    python benchmarks/run.py --quick      # 100,000 × 50, for iterating
    python benchmarks/run.py --rows 200000 --cols 20 --repeats 3

Prints one table and writes ``results/bench-<timestamp>.json``. Every number is the median of
``--repeats`` timed runs after one warm-up run; bound and candidate are timed alternately so that
a busy machine slows both. Everyone gets every core: NumPy's BLAS and torch run with their default
(all cores) thread count, which the table's header states. scikit-learn and torch come from the
``bench`` extra (``pip install 'losslab[bench]'``); a peer that is not installed is skipped.

Sections (targets from the issue, ratio = losslab / reference, lower is better):
  1 full-batch epoch (loss tracked every epoch)   vs one X·w plus one Xᵀ·r        ≤ 1.2
  2 minibatch epoch, batch 256                    vs SGDClassifier epoch          ≤ 0.4
  3 time to within 0.1 % of the optimum           vs LogisticRegression (lbfgs)   ≤ 0.5
  4 reference optimum                             vs LinearRegression             ≤ 0.2
                                                  vs LogisticRegression (lbfgs)   ≤ 1.0
  5 CSV to float64 matrix: ≥ 450 MB/s, peak memory ≤ 2× the file (subprocesses)
  6 start-up: `losslab --help` ≤ 0.3 s, bare `losslab compare --no-save` ≤ 3 s
  7 scaling: full-batch epoch time per row at 1/10, 1 and 4 times --rows
  8 MNIST MLP epoch (784-128-64-10, relu, Adam, batch 64, float32) vs torch, same work  ≤ 1.0
  9 MNIST CNN epoch (the seed's Keras network, Adam, batch 32, float32) vs torch, same work ≤ 1.5
    (also the forward / backward+step split per batch, and the peak memory of an epoch)
 10 one update of every optimizer                  vs one sgd update
 11 `compare` runs per second on a local Dask cluster vs the local process pool (the bare
    study, and 200 one-epoch runs on 10,000 MNIST rows), and the per-task overhead
    (benchmarks/scaleout.py; needs losslab[distributed], skipped without it)
 12 start-up: `losslab --help`, `losslab fit --help`  vs `python -c "import typer, rich, numpy"`
                                                  ≤ 1.3 (medians of ≥ 10 interleaved runs)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import losslab
from losslab.losses import LOSSES
from losslab.nn.layers import SEED_LAYERS
from losslab.nn.models import MODELS
from losslab.nn.network import Network
from losslab.train.loop import FitConfig, FitResult, Problem, Split, _Interrupt, train
from losslab.train.reference import objective, reference_optimum

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BATCH = 256
# The setting BENCHMARKS.md documents as losslab's fastest way to the optimum on big data:
# minibatch SGD, batch 256, one shuffle per epoch; the linear model's gradient 2(s − y) is larger
# and noisier, so its lr is a tenth (SGD's noise floor is proportional to lr).
BEST = {
    "logistic": {"optimizer": "sgd", "batch_size": BATCH, "lr": 0.02},
    "linear": {"optimizer": "sgd", "batch_size": BATCH, "lr": 0.002},
}
TARGET_GAP = 1e-3  # "within 0.1 % of the optimum"


# --------------------------------------------------------------------------- helpers


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def alternate(fns: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Each callable returns its own measured seconds; one warm-up each, then ``repeats`` rounds
    in turn; the median per name."""
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            samples[k].append(fn())
    return {k: statistics.median(v) for k, v in samples.items()}


def timed(fn: Callable[[], Any]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return run


def optional(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


class Data:
    """Standard-normal features (column-major, as `fit` trains on them), a logistic target drawn
    from a known model and a linear one with unit noise."""

    def __init__(self, rows: int, cols: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.X = np.asfortranarray(rng.standard_normal((rows, cols)))
        w = rng.standard_normal(cols) * (2.0 / math.sqrt(cols))
        z = self.X @ w + 0.3
        self.y_logistic = (rng.random(rows) < 0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float64)
        self.y_linear = self.X @ w + 1.0 + rng.standard_normal(rows)

    def target(self, model: str) -> np.ndarray:
        return self.y_logistic if model == "logistic" else self.y_linear


def problem_and_split(data: Data, model: str) -> tuple[Problem, Split]:
    """The synthetic matrix as a prepared training split (no test rows, no rescaling)."""
    y = data.target(model)
    loss = "bce" if model == "logistic" else "mse"
    classes = [0, 1] if model == "logistic" else []
    features = [f"x{j}" for j in range(data.X.shape[1])]
    problem = Problem(None, "y", features, MODELS.get(model), LOSSES.get(loss), data.X, y, classes)  # type: ignore[arg-type]
    split = Split(data.X, y, None, None, None, np.empty(0, dtype=np.intp))
    return problem, split


def fit(data: Data, model: str, **settings: Any) -> FitResult:
    problem, split = problem_and_split(data, model)
    config = FitConfig(test_size=0.0, **settings)
    config.validate()
    return train(problem, split, config)


# --------------------------------------------------------------------------- sections


def full_batch(data: Data, repeats: int) -> list[dict[str, Any]]:
    """One gd epoch (gradient, step, scores, loss and metric) against the two passes over X that
    any full-batch epoch needs."""
    X = data.X
    n, p = X.shape
    w, r = np.full(p, 0.01), data.y_linear.copy()
    s, g = np.empty(n), np.empty(p)

    def bound() -> float:
        start = time.perf_counter()
        np.matmul(X, w, out=s)
        np.matmul(X.T, r, out=g)
        return time.perf_counter() - start

    rows = []
    epochs = 5
    for model in ("logistic", "linear"):
        lr = 0.1 if model == "logistic" else 0.01

        def epoch(model: str = model, lr: float = lr) -> float:
            result = fit(data, model, optimizer="gd", batch_size=0, lr=lr, epochs=epochs)
            return result.seconds / epochs

        t = alternate({"bound": bound, "losslab": epoch}, repeats)
        rows.append(
            row(
                "1 full-batch epoch",
                f"{model} gd",
                t["losslab"],
                "X·w + Xᵀ·r (NumPy)",
                t["bound"],
                1.2,
            )
        )
    return rows


def minibatch(data: Data, repeats: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One epoch of batch-256 steps, fresh shuffle each epoch, against scikit-learn's SGD epoch
    (max_iter=1, tol=None) and a torch Linear model trained the same way."""
    sklearn = optional("sklearn")
    torch = optional("torch")
    rows: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    epochs = 2
    X_c = np.ascontiguousarray(data.X)  # what scikit-learn and torch are given (row-major)
    peers: dict[str, float] = {}
    for model in ("logistic", "linear"):
        y = data.target(model)
        if sklearn is not None:
            from sklearn.linear_model import SGDClassifier, SGDRegressor

            def sk(model: str = model, y: np.ndarray = y) -> None:
                common = {"max_iter": 1, "tol": None, "penalty": None, "random_state": 0}
                est = (
                    SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.01, **common)
                    if model == "logistic"
                    else SGDRegressor(learning_rate="constant", eta0=0.001, **common)
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est.fit(X_c, y)

            peers[f"sklearn {model}"] = median_time(sk, max(1, repeats // 2))
        lr = 0.01 if model == "logistic" else 0.001
        cases = (
            ("sgd", "epoch", "shuffle every epoch"),
            ("sgd", "once", "shuffle once, batch order per epoch"),
            ("adam", "epoch", "shuffle every epoch"),
        )
        for opt, shuffle, label in cases:
            setups: list[float] = []

            def run(
                model: str = model,
                opt: str = opt,
                shuffle: str = shuffle,
                lr: float = lr,
                setups: list[float] = setups,
            ) -> float:
                start = time.perf_counter()
                result = fit(
                    data, model, optimizer=opt, batch_size=BATCH, lr=lr, epochs=epochs,
                    shuffle=shuffle,
                )  # fmt: skip
                setups.append(time.perf_counter() - start - result.seconds)
                return result.seconds / epochs

            # The epoch loop's time; the one-time work around it (the row-major copy of X, or the
            # shuffled copy for "once", and the final metrics) is reported apart.
            mine = alternate({"losslab": run}, max(1, repeats // 2))["losslab"]
            extra[f"setup_seconds {model} {opt} {shuffle}"] = statistics.median(setups)
            if f"sklearn {model}" in peers:
                est = "SGDClassifier" if model == "logistic" else "SGDRegressor"
                rows.append(
                    row(
                        "2 minibatch epoch",
                        f"{model} {opt} ({label})",
                        mine,
                        f"sklearn {est} epoch",
                        peers[f"sklearn {model}"],
                        0.4 if model == "logistic" else None,
                    )
                )
            if torch is not None and shuffle == "epoch":
                key = f"torch {model} {opt}"
                if key not in peers:
                    peers[key] = torch_epoch(torch, X_c, y, model, opt, lr, repeats)
                rows.append(
                    row(
                        "2 minibatch epoch",
                        f"{model} {opt} ({label})",
                        mine,
                        f"torch {opt} epoch",
                        peers[key],
                        None,
                    )
                )
    extra["peer_seconds"] = peers
    return rows, extra


def torch_epoch(
    torch: Any, X: np.ndarray, y: np.ndarray, model: str, opt: str, lr: float, repeats: int
) -> float:
    """A torch.nn.Linear trained in float64 with index_select batches of the same size."""
    torch.set_num_threads(cores())
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    n = Xt.shape[0]
    net = torch.nn.Linear(X.shape[1], 1, dtype=torch.float64)
    optimizer = (torch.optim.SGD if opt == "sgd" else torch.optim.Adam)(net.parameters(), lr=lr)
    lossfn = (
        torch.nn.BCEWithLogitsLoss() if model == "logistic" else torch.nn.MSELoss()
    )  # fmt: skip
    gen = torch.Generator().manual_seed(0)

    def epoch() -> None:
        order = torch.randperm(n, generator=gen)
        for lo in range(0, n, BATCH):
            rows = order[lo : lo + BATCH]
            optimizer.zero_grad(set_to_none=True)
            out = net(Xt.index_select(0, rows)).squeeze(1)
            lossfn(out, yt.index_select(0, rows)).backward()
            optimizer.step()
        with torch.no_grad():  # the epoch's loss over all rows, as losslab records it
            lossfn(net(Xt).squeeze(1), yt)

    return median_time(epoch, max(1, repeats // 2))


MNIST = ROOT / "datasets"


def mnist_problem(model: str) -> tuple[Problem, Split]:
    """MNIST's 60,000 training and 10,000 test images as a prepared float32 split, pixels / 255
    (``--scale minmax`` is the same up to the constant-zero border pixels)."""
    import pandas as pd

    def load(name: str) -> tuple[np.ndarray, np.ndarray]:
        frame = pd.read_csv(MNIST / name)
        y = frame.pop("label").to_numpy(np.float32)
        return np.asfortranarray(frame.to_numpy(np.float32) / np.float32(255.0)), y

    X, y = load("mnist_train.csv.gz")
    X_test, y_test = load("mnist_test.csv.gz")
    features = [f"pixel{j}" for j in range(X.shape[1])]
    problem = Problem(
        None, "label", features, MODELS.get(model), LOSSES.get("cross-entropy"), X, y,  # type: ignore[arg-type]
        list(range(10)),
    )  # fmt: skip
    return problem, Split(X, y, X_test, y_test, None, np.empty(0, dtype=np.intp))


def mnist_mlp(repeats: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One epoch of the seeds' MNIST network against torch doing the same work in the same run.

    Both: 784-128-64-10 with relu, softmax cross-entropy, Adam lr 1e-3, batch 64 from the same
    ``rng.permutation(60000)``, float32, every core; then, as losslab records every epoch, the
    loss and accuracy over the 60,000 training and the 10,000 test images. Pixels divided by
    255 (``--scale minmax`` is the same up to the constant-zero border pixels).
    """
    problem, split = mnist_problem("mlp")
    X, y, X_test, y_test = split.X_train, split.y_train, split.X_test, split.y_test
    config = FitConfig(
        model="mlp", hidden=[128, 64], optimizer="adam", lr=1e-3, batch_size=64, epochs=1,
        dtype="float32", test_size=0.0,
    )  # fmt: skip
    config.validate()
    parts: dict[str, list[float]] = {"epoch": []}

    def ours() -> float:
        result = train(problem, split, config, interrupt=_Interrupt())
        parts["epoch"].append(result.seconds)
        return result.seconds

    def theirs() -> float:
        return torch_mlp_epoch(torch, X, y, X_test, y_test)

    torch = optional("torch")
    fns: dict[str, Callable[[], float]] = {"losslab": ours}
    if torch is not None:
        fns["torch"] = theirs
    times = alternate(fns, max(1, repeats // 2))
    extra = {"losslab_seconds": times["losslab"], "torch_seconds": times.get("torch")}
    if torch is None:
        return [], extra
    case = "MNIST MLP epoch, adam, batch 64, float32"
    return [
        row("8 network epoch", case, times["losslab"], "torch, same work", times["torch"], 1.0)
    ], extra


def torch_mlp_epoch(
    torch: Any, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray
) -> float:
    torch.set_num_threads(cores())
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    )  # fmt: skip
    Xt, Xv = (
        torch.from_numpy(np.ascontiguousarray(X)),
        torch.from_numpy(np.ascontiguousarray(X_test)),
    )
    return torch_net_epoch(torch, net, Xt, y, Xv, y_test, batch=64, chunk=len(y))


def torch_net_epoch(
    torch: Any, net: Any, Xt: Any, y: np.ndarray, Xv: Any, y_test: np.ndarray, *, batch: int,
    chunk: int,
) -> float:  # fmt: skip
    """Seconds of one Adam epoch of ``net`` on the same ``rng.permutation`` batches as losslab,
    then the loss and accuracy over the training and test rows, ``chunk`` rows per pass."""
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    yt, yv = torch.from_numpy(y).long(), torch.from_numpy(y_test).long()
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(y)))
    F = torch.nn.functional
    start = time.perf_counter()
    for lo in range(0, len(y), batch):
        rows = order[lo : lo + batch]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(Xt.index_select(0, rows)), yt.index_select(0, rows)).backward()
        opt.step()
    with torch.no_grad():
        for A, t in ((Xt, yt), (Xv, yv)):
            S = torch.cat([net(A[lo : lo + chunk]) for lo in range(0, len(A), chunk)])
            F.cross_entropy(S, t).item()
            (S.argmax(1) == t).float().mean().item()
    return time.perf_counter() - start


def time_to_target(
    data: Data, refs: dict[str, float], repeats: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Wall time of a whole `train` call that stops at the first epoch within 0.1 % of the
    optimum, against scikit-learn's solvers (whose objective is checked the same way)."""
    sklearn = optional("sklearn")
    rows: list[dict[str, Any]] = []
    extra: dict[str, Any] = {"setting": BEST}
    for model in ("logistic", "linear"):
        best = refs[model]
        goal = best * (1.0 + TARGET_GAP)
        epochs: list[int] = []

        def run(model: str = model, goal: float = goal, epochs: list[int] = epochs) -> None:
            stop = _Interrupt()

            def progress(epoch: int, total: int, train_loss: float) -> None:
                stop.requested = train_loss <= goal

            problem, split = problem_and_split(data, model)
            config = FitConfig(test_size=0.0, epochs=50, **BEST[model])  # type: ignore[arg-type]
            result = train(problem, split, config, progress=progress, interrupt=stop)
            epochs.append(result.epochs_run)
            if not stop.requested:
                raise RuntimeError(f"{model}: {BEST[model]} did not reach the target in 50 epochs")

        mine = median_time(run, max(1, repeats // 2))
        extra[f"{model}_epochs"] = epochs[-1]
        if sklearn is None:
            continue
        from sklearn.linear_model import LinearRegression

        est = unpenalised_logistic() if model == "logistic" else LinearRegression()
        y = data.target(model)
        theirs = median_time(lambda est=est, y=y: est.fit(data.X, y), 1)
        loss = "bce" if model == "logistic" else "mse"
        coef, intercept = np.ravel(est.coef_), np.atleast_1d(est.intercept_)
        gap = objective(model, loss, data.X, y, coef, intercept) / best - 1.0
        extra[f"sklearn_{model}_gap"] = gap
        name = "LogisticRegression(lbfgs)" if model == "logistic" else "LinearRegression"
        rows.append(
            row(
                "3 time to 0.1 % of optimum",
                f"{model} sgd b{BATCH} lr {BEST[model]['lr']:g} ({epochs[-1]} ep)",
                mine,
                f"sklearn {name} (gap {gap:.1e})",
                theirs,
                0.5,
            )
        )
    return rows, extra


def reference(data: Data) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """losslab.train.reference.reference_optimum against scikit-learn's exact solvers."""
    sklearn = optional("sklearn")
    rows: list[dict[str, Any]] = []
    optimum: dict[str, float] = {}
    for model, loss, target in (("linear", "mse", 0.2), ("logistic", "bce", 1.0)):
        y = data.target(model)
        start = time.perf_counter()
        ref = reference_optimum(model, loss, data.X, y)
        mine = time.perf_counter() - start
        assert ref.objective is not None, ref.reason
        optimum[model] = ref.objective
        if sklearn is None:
            continue
        from sklearn.linear_model import LinearRegression

        est = LinearRegression() if model == "linear" else unpenalised_logistic()
        start = time.perf_counter()
        est.fit(data.X, y)
        theirs = time.perf_counter() - start
        name = "LinearRegression" if model == "linear" else "LogisticRegression(lbfgs)"
        rows.append(
            row(
                "4 reference optimum",
                f"{model} {ref.method} ({ref.iterations} it)",
                mine,
                f"sklearn {name}",
                theirs,
                target,
            )
        )
    return rows, optimum


def unpenalised_logistic() -> Any:
    """LogisticRegression without a penalty, lbfgs, default tol (C=inf from 1.8 on)."""
    import sklearn
    from sklearn.linear_model import LogisticRegression

    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):
        return LogisticRegression(C=np.inf)
    return LogisticRegression(penalty=None)


def csv_loading(rows: int, cols: int, repeats: int, cache: Path) -> list[dict[str, Any]]:
    """read_table(path).matrix(cols) against pandas.read_csv, each in fresh processes."""
    path = csv_file(rows, cols, cache)
    size = path.stat().st_size
    loaders = ("losslab", "pandas", "pandas-matrix")
    runs: dict[str, list[dict[str, float]]] = {how: [] for how in loaders}
    for _ in range(max(3, repeats // 2)):  # in turn, so the page cache and load treat all alike
        for how in loaders:
            out = subprocess.run(
                [sys.executable, str(HERE / "csv_worker.py"), how, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[how].append(json.loads(out.stdout))
    results = {
        how: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
        for how, rs in runs.items()
    }
    mine = results["losslab"]
    mbps = size / 1e6 / mine["seconds"]
    growth = (mine["rss_peak"] - mine["rss_before"]) / size  # the load's own memory
    theirs = results["pandas"]
    their_growth = (theirs["rss_peak"] - theirs["rss_before"]) / size
    out_rows = [
        row(
            "5 CSV → float64 matrix",
            f"read_table().matrix() {mbps:.0f} MB/s",
            mine["seconds"],
            f"pandas.read_csv {size / 1e6 / results['pandas']['seconds']:.0f} MB/s",
            results["pandas"]["seconds"],
            None,
            ok=mbps >= 450,
        ),
        row(
            "5 CSV → float64 matrix",
            f"read_table().matrix() {mbps:.0f} MB/s",
            mine["seconds"],
            "read_csv + to_numpy(float64)",
            results["pandas-matrix"]["seconds"],
            None,
        ),
    ]
    out_rows.append(
        {
            "section": "5 CSV peak memory",
            "case": f"peak growth / file size ({size / 1e6:.0f} MB file)",
            "seconds": None,
            "peer": f"pandas.read_csv: {their_growth:.2f}",
            "peer_seconds": None,
            "ratio": growth,
            "target": 2.0,
            "met": growth <= 2.0,
            "detail": {"file_bytes": size, **{k: v for k, v in results.items()}},
        }
    )
    return out_rows


def csv_file(rows: int, cols: int, cache: Path) -> Path:
    """A CSV of standard-normal features at full precision (as pandas writes floats) and a 0/1
    target, written once and kept in ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"synthetic-{rows}x{cols}.csv"
    if path.exists():
        return path
    import pandas as pd

    rng = np.random.default_rng(1)
    tmp = path.with_suffix(".part")
    header = True
    with open(tmp, "w", newline="") as fh:
        for lo in range(0, rows, 100_000):
            m = min(100_000, rows - lo)
            names = [f"x{j}" for j in range(cols)]
            frame = pd.DataFrame(rng.standard_normal((m, cols)), columns=names)
            frame["y"] = (rng.random(m) < 0.5).astype(np.int64)
            frame.to_csv(fh, index=False, header=header)
            header = False
    tmp.rename(path)
    return path


def startup(repeats: int) -> list[dict[str, Any]]:
    exe = shutil.which("losslab", path=str(Path(sys.executable).parent)) or "losslab"
    out = []
    for args, target in ((["--help"], 0.3), (["compare", "--no-save"], 3.0)):
        cmd = [exe, *args]
        n = repeats if args == ["--help"] else max(1, repeats // 2)
        t = median_time(lambda cmd=cmd: subprocess.run(cmd, capture_output=True, check=True), n)
        out.append(
            {
                "section": "6 start-up",
                "case": "losslab " + " ".join(args),
                "seconds": t,
                "peer": "target (s)",
                "peer_seconds": target,
                "ratio": t / target,
                "target": 1.0,
                "met": t <= target,
            }
        )
    return out


def start_ratio(repeats: int) -> list[dict[str, Any]]:
    """Section 12: whole processes of `losslab --help` and `losslab fit --help` (the console
    script) against `python -c "import typer, rich, numpy"`; one warm-up each, then the median
    of at least 10 runs each, the three taking turns."""
    exe = shutil.which("losslab", path=str(Path(sys.executable).parent)) or "losslab"
    base = "import typer, rich, numpy"
    cmds = {
        base: [sys.executable, "-c", base],
        "losslab --help": [exe, "--help"],
        "losslab fit --help": [exe, "fit", "--help"],
    }
    times = alternate(
        {
            case: timed(lambda cmd=cmd: subprocess.run(cmd, capture_output=True, check=True))
            for case, cmd in cmds.items()
        },
        max(10, repeats),
    )
    peer = f'python -c "{base}"'
    return [
        row("12 start-up ratio", case, times[case], peer, times[base], 1.3)
        for case in cmds
        if case != base
    ]


def scaling(rows: int, cols: int, repeats: int) -> list[dict[str, Any]]:
    out = []
    base = None
    for n in (rows // 10, rows, rows * 4):
        data = Data(n, cols, seed=2)
        epochs = 3
        seconds = statistics.median(
            fit(data, "logistic", optimizer="gd", batch_size=0, lr=0.1, epochs=epochs).seconds
            / epochs
            for _ in range(max(2, repeats // 2))
        )
        per_row = seconds / n
        base = base or per_row
        out.append(
            {
                "section": "7 scaling (full-batch epoch)",
                "case": f"{n:,} rows: {per_row * 1e9:.1f} ns/row",
                "seconds": seconds,
                "peer": f"ns/row at {rows // 10:,} rows",
                "peer_seconds": None,
                "ratio": per_row / base,
                "target": None,
                "met": None,
            }
        )
        del data
    return out


def row(
    section: str,
    case: str,
    seconds: float,
    peer: str,
    peer_seconds: float,
    target: float | None,
    ok: bool | None = None,
) -> dict[str, Any]:
    ratio = seconds / peer_seconds
    met = ok if ok is not None else (None if target is None else ratio <= target)
    return {
        "section": section,
        "case": case,
        "seconds": seconds,
        "peer": peer,
        "peer_seconds": peer_seconds,
        "ratio": ratio,
        "target": target,
        "met": met,
    }


# --------------------------------------------------------------------------- output


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {
        "losslab": losslab.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cores": cores(),
    }
    tpc = optional("threadpoolctl")
    if tpc is not None:
        info["blas"] = [
            {k: d.get(k) for k in ("internal_api", "num_threads", "version")}
            for d in tpc.threadpool_info()
        ]
    for name in ("pandas", "sklearn", "torch"):
        mod = optional(name)
        info[name] = getattr(mod, "__version__", None) if mod is not None else None
    torch = optional("torch")
    if torch is not None:
        torch.set_num_threads(cores())
        info["torch_threads"] = torch.get_num_threads()
    return info


def render(rows: list[dict[str, Any]], env: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"losslab {env['losslab']} · {args.rows:,} × {args.cols} float64 · {env['cores']} cores, "
        f"BLAS threads {[b['num_threads'] for b in env.get('blas', [])] or '?'}, "
        f"torch threads {env.get('torch_threads', '-')} · median of {args.repeats}",
        "",
        f"{'section':<28} {'losslab case':<44} {'vs':<40} {'ratio':>7} {'target':>7}  met",
    ]
    for r in rows:
        target = "" if r["target"] is None else f"≤{r['target']:g}"
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(
            f"{r['section']:<28} {r['case'][:44]:<44} {r['peer'][:40]:<40} {ratio:>7} "
            f"{target:>7}  {met}"
        )
    return "\n".join(lines)


def mnist_cnn(repeats: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One epoch of the seed's Keras MNIST network against torch doing the same work.

    Both: conv32 → pool → conv64 → pool → conv64 → flatten → dense64 → dense10 with relu,
    softmax cross-entropy, Adam lr 1e-3, batch 32 from the same ``rng.permutation(60000)``,
    float32, every core; then the loss and accuracy over the 60,000 training and the 10,000 test
    images in chunks (torch: 1,000 images per ``no_grad`` pass). Also the forward and the
    backward + step time per batch of both, and the peak memory (tracemalloc) of losslab's epoch.
    """
    import tracemalloc

    problem, split = mnist_problem("cnn")
    X, y, X_test, y_test = split.X_train, split.y_train, split.X_test, split.y_test
    config = FitConfig(
        model="cnn", optimizer="adam", lr=1e-3, batch_size=32, epochs=1, dtype="float32",
        test_size=0.0,
    )  # fmt: skip
    config.validate()

    def ours() -> float:
        return train(problem, split, config, interrupt=_Interrupt()).seconds

    torch = optional("torch")
    fns: dict[str, Callable[[], float]] = {"losslab": ours}
    if torch is not None:
        fns["torch"] = lambda: torch_cnn_epoch(torch, X, y, X_test, y_test)
    times = alternate(fns, max(1, repeats // 2))
    tracemalloc.start()
    ours()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    extra: dict[str, Any] = {
        "losslab_seconds": times["losslab"],
        "torch_seconds": times.get("torch"),
        "losslab_peak_bytes": peak,
        "losslab_split_ms": cnn_batch_split(None, X, y, problem=problem),
    }
    if torch is None:
        return [], extra
    extra["torch_split_ms"] = cnn_batch_split(torch, X, y)
    case = "MNIST CNN epoch, adam, batch 32, float32"
    rows = [row("9 CNN epoch", case, times["losslab"], "torch, same work", times["torch"], 1.5)]
    ours_ms, theirs_ms = extra["losslab_split_ms"], extra["torch_split_ms"]
    for part in ("forward", "backward"):
        case = f"… {part} per batch ({ours_ms[part]:.1f} ms)"
        peer = f"torch {part} ({theirs_ms[part]:.1f} ms)"
        rows.append(row("9 CNN epoch", case, ours_ms[part], peer, theirs_ms[part], None))
    return rows, extra


def _seed_cnn(torch: Any) -> Any:
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(576, 64),
        nn.ReLU(), nn.Linear(64, 10),
    )  # fmt: skip


def torch_cnn_epoch(
    torch: Any, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray
) -> float:
    torch.set_num_threads(cores())
    torch.manual_seed(0)
    net = _seed_cnn(torch)
    Xt = torch.from_numpy(np.ascontiguousarray(X).reshape(-1, 1, 28, 28))
    Xv = torch.from_numpy(np.ascontiguousarray(X_test).reshape(-1, 1, 28, 28))
    return torch_net_epoch(torch, net, Xt, y, Xv, y_test, batch=32, chunk=1000)


def cnn_batch_split(
    torch: Any, X: np.ndarray, y: np.ndarray, batches: int = 300, problem: Problem | None = None
) -> dict:
    """Milliseconds per batch of 32 in the forward pass (with the loss) and in the backward pass
    with the Adam step: losslab's layers when ``torch`` is None, else torch's."""
    from losslab.optim.optimizers import make_optimizer
    from losslab.train.kernels import objective_for

    rows = np.ascontiguousarray(X[: 32 * batches])
    fwd = bwd = 0.0
    if torch is None:
        assert problem is not None
        net = Network([784, 10], "relu", layers=SEED_LAYERS, image=(28, 28, 1), dtype=np.float32)
        net.init("torch", np.random.default_rng(0))
        objective = objective_for(problem, {})
        opt = make_optimizer("adam")
        state = opt.init([net.theta])
        G = np.empty((32, 10), dtype=np.float32)
        for k in range(batches):
            t0 = time.perf_counter()
            objective.grad(net.forward(rows[32 * k : 32 * k + 32]), y[32 * k : 32 * k + 32], G)
            t1 = time.perf_counter()
            net.backward(G)
            opt.step([net.theta], [net.grad], state, 1e-3, decay_mask=[True])
            t2 = time.perf_counter()
            fwd, bwd = fwd + t1 - t0, bwd + t2 - t1
    else:
        torch.set_num_threads(cores())
        net = _seed_cnn(torch)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        Xt, yt = torch.from_numpy(rows.reshape(-1, 1, 28, 28)), torch.from_numpy(y).long()
        for k in range(batches):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            value = torch.nn.functional.cross_entropy(
                net(Xt[32 * k : 32 * k + 32]), yt[32 * k : 32 * k + 32]
            )
            t1 = time.perf_counter()
            value.backward()
            opt.step()
            t2 = time.perf_counter()
            fwd, bwd = fwd + t1 - t0, bwd + t2 - t1
    return {"forward": 1e3 * fwd / batches, "backward": 1e3 * bwd / batches}


def optimizer_steps(repeats: int, steps: int = 200) -> tuple[list[dict[str, Any]], dict]:
    """Section 10: the cost of one update of every registered optimizer, relative to sgd's.

    On the parameters of the seed's MNIST MLP (784-128-64-10, 109,386 numbers, float64) with a
    fixed gradient, each optimizer steps on the arrays the training loop gives it
    (``training.step_arrays``: θ whole, its two halves, or torch-layout tensors). Rules that
    call the objective (L-BFGS, Polyak) get a quadratic f = ½‖θ‖² whose gradient is θ, so their
    line searches cost what their own arithmetic costs: one L-BFGS step is up to ``max_iter``
    iterations, and its row says per step. Times alternate between optimizers.
    """
    from losslab.optim.optimizers import OPTIMIZERS, StepContext, make_optimizer
    from losslab.train.loop import step_arrays

    rng = np.random.default_rng(0)
    g0 = rng.normal(size=109_386) * 1e-2

    def runner(name: str) -> Callable[[], float]:
        opt = make_optimizer(name)
        net = Network([784, 128, 64, 10], "relu")
        net.init("torch", np.random.default_rng(1))
        params, grads, mask = step_arrays(net, opt.rule)
        state = opt.init(params)
        theta0 = net.theta.copy()

        def closure() -> float:
            np.copyto(net.grad, net.theta)
            return 0.5 * float(net.theta @ net.theta)

        ctx = StepContext(closure=closure, optimum=0.0)

        # an L-BFGS step is up to max_iter iterations over 2·history_size vectors: fewer steps
        n_steps = max(2, steps // 40) if opt.rule.full_batch else steps

        def run() -> float:
            np.copyto(net.theta, theta0)
            t0 = time.perf_counter()
            for _ in range(n_steps):
                np.copyto(net.grad, g0 if not opt.rule.full_batch else net.theta)
                ctx.loss = 0.5 * float(net.theta @ net.theta) if opt.rule.full_batch else None
                opt.step(params, grads, state, 1e-3, decay_mask=mask, ctx=ctx)
            return (time.perf_counter() - t0) / n_steps

        return run

    names = OPTIMIZERS.names()
    times = alternate({name: runner(name) for name in names}, repeats)
    base = times["sgd"]
    rows = [
        row("10 optimizer step", f"{name} step / sgd step", times[name], "sgd", base, None)
        for name in names
    ]
    return rows, {name: 1e6 * t for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 3 repeats")
    parser.add_argument("--rows", type=int, default=None, help="rows (default 1,000,000)")
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per number (5)")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--cache", type=Path, default=ROOT / "results" / "cache")
    parser.add_argument(
        "--skip", default="", help="comma-separated sections to skip (1-12), e.g. 5,7"
    )
    args = parser.parse_args(argv)
    args.rows = args.rows or (100_000 if args.quick else 1_000_000)
    args.repeats = args.repeats or (3 if args.quick else 5)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    env = environment()
    started = time.perf_counter()
    data = Data(args.rows, args.cols)
    rows: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    say = lambda text: print(f"[{time.perf_counter() - started:6.1f}s] {text}", file=sys.stderr)  # noqa: E731
    if "1" not in skip:
        say("1 full-batch epoch")
        rows += full_batch(data, args.repeats)
    if "2" not in skip:
        say("2 minibatch epoch")
        part, extra["minibatch"] = minibatch(data, args.repeats)
        rows += part
    say("4 reference optimum")
    part, optimum = reference(data)
    extra["optimum"] = optimum
    if "3" not in skip:
        say("3 time to target")
        part3, extra["time_to_target"] = time_to_target(data, optimum, args.repeats)
        rows += part3
    if "4" not in skip:
        rows += part
    del data
    if "5" not in skip:
        say("5 CSV loading")
        rows += csv_loading(args.rows, args.cols, args.repeats, args.cache)
    if "6" not in skip:
        say("6 start-up")
        rows += startup(args.repeats)
    if "7" not in skip:
        say("7 scaling")
        rows += scaling(args.rows, args.cols, args.repeats)
    if "8" not in skip:
        say("8 MNIST network epoch")
        part, extra["mnist_mlp"] = mnist_mlp(args.repeats)
        rows += part
    if "9" not in skip:
        say("9 MNIST CNN epoch")
        part, extra["mnist_cnn"] = mnist_cnn(args.repeats)
        rows += part
    if "10" not in skip:
        say("10 optimizer steps")
        part, extra["optimizer_step_us"] = optimizer_steps(args.repeats)
        rows += part
    if "11" not in skip and optional("distributed") is not None:
        say("11 compare on a local dask cluster")
        from scaleout import measure  # (benchmarks/ is on the path: this script's directory)

        part, extra["dask"] = measure(args.repeats, cores())
        rows += part
    if "12" not in skip:
        say("12 start-up ratio")
        rows += start_ratio(args.repeats)
    rows.sort(key=lambda r: int(r["section"].split()[0]))
    table = render(rows, env, args)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = args.out / f"bench-{stamp}.json"
    record = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "rows": args.rows,
        "cols": args.cols,
        "repeats": args.repeats,
        "environment": env,
        "results": rows,
        "extra": extra,
        "seconds": time.perf_counter() - started,
    }
    path.write_text(json.dumps(record, indent=2, default=float) + "\n")
    print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
