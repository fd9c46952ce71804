"""Issue 21's measurements in one command (BENCHMARKS section 13):

    python benchmarks/issue21.py                  # about 4 min on a quiet 2-core machine
    python benchmarks/issue21.py --repeats 5 --rows 20000 --epochs 6
    python benchmarks/issue21.py --skip study     # the BLAS rows alone

Prints the machine (CPU, its vector flags, the BLAS library, kernel and threads as threadpoolctl
sees them, the load average before and after), then

- ``study``: one study of 4 equal runs (softmax on the first ``--rows`` rows of the bundled MNIST,
  784 pixels scaled to [0, 1], sgd/adam/adagrad/nesterov, batch 128, ``--epochs`` epochs, one
  seed), timed whole from ``losslab.compare(...)`` to its return, interleaved: ``--jobs 1`` (one
  BLAS thread, as the CLI's default), ``--jobs 2`` (the pool: forked workers, one thread each,
  the splits shared), and ``--executor dask --jobs 2`` (a local cluster started and closed by the
  study). Ratios of medians against ``--jobs 1``; every number of the three is checked equal.
- ``startup``: the cost of starting the pool of 2 workers (fork, one BLAS thread each) and what
  the alternative would cost: a spawned worker that sets ``OPENBLAS_NUM_THREADS=1`` before NumPy
  loads must import NumPy and losslab (timed as a fresh interpreter doing so), and the cost of
  setting the threads at run time (threadpoolctl, or the OpenBLAS call losslab falls back on).
- ``blas``: the products of a minibatch step (batch × 784 by 784 × 128, float32; batch × 784 by
  784 × 10, float64) and of an epoch's evaluation (the full training set), 1 against 2 BLAS
  threads, interleaved, on a quiet machine and with a busy core (a spinning process beside).

Six other processes may share this machine while it runs: ratios of medians of interleaved runs
move far less than absolute times, and the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any

import numpy as np

import losslab
from losslab.train import blas

OPTIMIZERS = "sgd,adam,adagrad,nesterov"


def machine() -> dict[str, Any]:
    flags: set[str] = set()
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
                if line.startswith("model name") and not model:
                    model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
    try:
        import threadpoolctl

        pools = threadpoolctl.threadpool_info()
    except ImportError:
        pools = [blas.info()]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "flags": [f for f in wanted if f in flags],
        "blas": pools,
        "numpy": np.__version__,
        "load": os.getloadavg(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP", "MKL"))},
    }


def mnist(rows: int) -> Any:
    import pandas as pd

    from losslab.data.read import DATASETS

    return pd.read_csv(DATASETS.get("mnist").path, nrows=rows)


def _numbers(study: Any) -> str:
    runs = [{k: v for k, v in r.items() if k != "seconds"} for r in study.runs]
    for r in runs:
        r["curve"] = [c[:5] for c in r.get("curve", [])]
    return json.dumps(runs, sort_keys=True, default=str)


def study_rows(repeats: int, rows: int, epochs: int) -> tuple[list[str], dict[str, Any]]:
    frame = mnist(rows)
    settings = dict(
        optimizer=OPTIMIZERS, model="softmax", scale="minmax", batch_size=128, epochs=epochs
    )
    ways: dict[str, dict[str, Any]] = {
        "jobs 1": {"jobs": 1},
        "jobs 2 (pool)": {"jobs": 2},
        "dask, jobs 2": {"jobs": 2, "executor": "dask"},
    }
    try:
        import distributed  # noqa: F401
    except ImportError:
        ways.pop("dask, jobs 2")
    times: dict[str, list[float]] = {w: [] for w in ways}
    run_s: dict[str, list[float]] = {w: [] for w in ways}  # each run's own seconds, in its worker
    numbers: dict[str, str] = {}
    blas.set_threads(1)  # what `losslab compare --jobs 1` does (--threads 1)
    for rep in range(repeats + 1):  # the first round warms the page cache and the imports
        for way, options in ways.items():
            start = time.perf_counter()
            study = losslab.compare(frame, seeds=1, **settings, **options)
            seconds = time.perf_counter() - start
            numbers[way] = _numbers(study)
            if rep:
                times[way].append(seconds)
                run_s[way] += [r["seconds"] for r in study.runs]
    same = len(set(numbers.values())) == 1
    base = statistics.median(times["jobs 1"])
    lines = [f"study of 4 runs, {rows} rows, {epochs} epochs; numbers equal: {same}"]
    for way, values in times.items():
        m = statistics.median(values)
        r = statistics.median(run_s[way])
        rest = m - len(study.runs) * r / (1 if way == "jobs 1" else 2)
        lines.append(
            f"  {way:<16} {m:7.2f} s   ratio to jobs 1: {m / base:.2f}   a run: {r:.2f} s, "
            f"the rest (reading, reference, start-up): {rest:.2f} s"
        )
    return lines, {"seconds": times, "run_seconds": run_s, "identical": same}


def _noop(x: int) -> int:
    return x


def _one_thread() -> None:
    blas.set_threads(1)


def startup_rows(repeats: int) -> tuple[list[str], dict[str, Any]]:
    from losslab.study import workers

    pool_s, spawn_s, tpc_s, direct_s = [], [], [], []
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    code = "import numpy, losslab.train.loop"
    for _ in range(repeats):
        start = time.perf_counter()
        pool = workers.Pool(2, handle=_noop, init=_one_thread)
        for i, w in enumerate(pool.workers):
            pool.submit(w, i, tag=i)
        while pool.busy:
            list(pool.results(timeout=5))
        pool.close()
        pool_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        spawn_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(100):
            blas.set_threads(1)
        tpc_s.append((time.perf_counter() - start) / 100)
    import unittest.mock

    with unittest.mock.patch.dict(sys.modules, {"threadpoolctl": None}):
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(100):
                blas.set_threads(1)
            direct_s.append((time.perf_counter() - start) / 100)
    med = statistics.median
    lines = [
        f"pool of 2 forked workers, started, one task each, closed: {1e3 * med(pool_s):.0f} ms",
        f"a spawned worker's imports (numpy + losslab, env set):    {1e3 * med(spawn_s):.0f} ms",
        f"setting the BLAS threads: threadpoolctl {1e6 * med(tpc_s):.0f} µs, "
        f"OpenBLAS directly {1e6 * med(direct_s):.1f} µs",
    ]
    return lines, {"pool": pool_s, "spawn": spawn_s, "threadpoolctl": tpc_s, "direct": direct_s}


@contextmanager
def busy_core() -> Any:
    spin = subprocess.Popen(
        [sys.executable, "-c", "import time\nend=time.time()+600\nwhile time.time()<end: pass"]
    )
    try:
        time.sleep(0.2)
        yield
    finally:
        spin.kill()
        spin.wait()


def _per_call(a: np.ndarray, b: np.ndarray, calls: int) -> float:
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    start = time.perf_counter()
    for _ in range(calls):
        np.matmul(a, b, out=out)
    return (time.perf_counter() - start) / calls


def blas_rows(repeats: int) -> tuple[list[str], dict[str, Any]]:
    rng = np.random.default_rng(0)
    cases = {
        "64×784 @ 784×128 f32": (64, 784, 128, np.float32, 400),
        "128×784 @ 784×10 f64": (128, 784, 10, np.float64, 400),
        "256×784 @ 784×128 f32": (256, 784, 128, np.float32, 200),
        "60000×784 @ 784×10 f64": (60000, 784, 10, np.float64, 5),
        "60000×784 @ 784×128 f32": (60000, 784, 128, np.float32, 3),
    }
    lines, details = [], {}
    for load in ("quiet", "busy core"):
        ctx = busy_core() if load == "busy core" else _nothing()
        with ctx:
            for name, (m, k, n, dtype, calls) in cases.items():
                a = rng.standard_normal((m, k)).astype(dtype)
                b = rng.standard_normal((k, n)).astype(dtype)
                t: dict[int, list[float]] = {1: [], 2: []}
                bits = {}
                for _ in range(repeats):
                    for threads in (1, 2):
                        with blas.limited(threads):
                            t[threads].append(_per_call(a, b, calls))
                            bits[threads] = (a @ b).tobytes()
                one, two = statistics.median(t[1]), statistics.median(t[2])
                lines.append(
                    f"{load:<9} {name:<24} 1 thread {1e6 * one:9.1f} µs  2 threads "
                    f"{1e6 * two:9.1f} µs  2/1 {two / one:5.2f}  same bits {bits[1] == bits[2]}"
                )
                details[f"{load}/{name}"] = t
    return lines, details


@contextmanager
def _nothing() -> Any:
    yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--skip", default="", help="comma-separated: study,startup,blas")
    parser.add_argument("--json", help="also write the details here")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    details: dict[str, Any] = {"machine": machine()}
    print(json.dumps(details["machine"], indent=1))
    sections = {
        "study": lambda: study_rows(args.repeats, args.rows, args.epochs),
        "startup": lambda: startup_rows(args.repeats),
        "blas": lambda: blas_rows(args.repeats),
    }
    for name, run in sections.items():
        if name in skip:
            continue
        lines, details[name] = run()
        print(f"## {name} (load average {os.getloadavg()[0]:.2f})", *lines, sep="\n", flush=True)
    details["load_after"] = os.getloadavg()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(details, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
