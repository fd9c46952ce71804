"""Section 11 of benchmarks/run.py: `compare` on a local Dask cluster against the local pool.

    python benchmarks/scaleout.py [--repeats 3] [--jobs 2]    # this section alone

Runs per second of two studies, each timed whole (``losslab.compare(...)`` from call to return:
start-up, the reference optimum, the runs, the summary), alternating between

- ``pool``: ``--executor local`` (``jobs`` forked worker processes, the default),
- ``dask``: ``--executor dask`` (a LocalCluster of ``jobs`` worker processes on 127.0.0.1,
  started and closed by the study),
- ``dask@address``: ``--executor dask --scheduler ADDRESS`` on a LocalCluster started once
  beforehand (what a study on a running cluster pays: the scatter and the tasks);

and the per-task overhead of each executor: no-op tasks round-tripped through the pool's pipes
and through the cluster's scheduler (``Client.submit`` … ``result``), one at a time per worker.

Studies: the bare `losslab compare` (breast-cancer, 8 optimizers × 3 seeds = 24 runs of 100
epochs) and a 200-run grid on MNIST-sized data: the first 10,000 rows of the bundled MNIST
(784 pixel columns, scaled to [0, 1]), softmax regression, 8 optimizers × 5 learning rates ×
5 seeds, one epoch each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

import losslab
from losslab.study.grid import DEFAULT_OPTIMIZERS

MNIST_ROWS = 10_000
MNIST_GRID = {
    "optimizer": list(DEFAULT_OPTIMIZERS),
    "lr": [0.001, 0.003, 0.01, 0.03, 0.1],
    "seeds": 5,
    "epochs": 1,
    "model": "softmax",
    "scale": "minmax",
}


def _noop(x: int) -> int:
    return x


def _init_noop() -> None:
    pass


def pool_task_seconds(jobs: int, tasks: int) -> float:
    """Seconds per no-op task through losslab's worker pool (one task at a time per worker)."""
    from losslab.study import workers

    pool = workers.Pool(jobs, handle=_noop, init=_init_noop)
    try:
        todo = iter(range(tasks))
        for worker in pool.workers:
            pool.submit(worker, next(todo), tag=0)
        start = time.perf_counter()
        while pool.busy:
            for worker, _ in pool.results(timeout=1.0):
                task = next(todo, None)
                if task is not None:
                    pool.submit(worker, task, tag=task)
        return (time.perf_counter() - start) / tasks
    finally:
        pool.close()


def dask_task_seconds(client: Any, tasks: int) -> float:
    """Seconds per no-op task through the scheduler, as the study submits them (all at once,
    each result read as it finishes)."""
    client.gather(client.map(_noop, range(4), pure=False))  # (connections made)
    start = time.perf_counter()
    futures = client.map(_noop, range(tasks), pure=False)
    for future in futures:
        future.result()
    return (time.perf_counter() - start) / tasks


def mnist_subset() -> Any:
    import pandas as pd

    from losslab.data.read import DATASETS

    return pd.read_csv(DATASETS.get("mnist").path, nrows=MNIST_ROWS)


def measure(repeats: int, jobs: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(table rows, details): each study under each executor, alternating, median seconds."""
    from losslab.study import cluster

    live = cluster.session(None, jobs)  # the cluster a study started itself would be
    client, address = live.client, live.address
    frame = mnist_subset()
    studies: dict[str, tuple[Any, dict[str, Any]]] = {
        "default": (None, {}),
        "mnist": (frame, MNIST_GRID),
    }
    executors: dict[str, dict[str, Any]] = {
        "pool": {"executor": "local"},
        "dask": {"executor": "dask"},
        "dask@address": {"executor": "dask", "scheduler": address},
    }
    times: dict[tuple[str, str], list[float]] = {}
    runs: dict[str, int] = {}
    try:
        for name, (data, grid) in studies.items():
            for options in executors.values():  # warm-up: imports, caches, page cache
                losslab.compare(data, jobs=jobs, **grid, **options)
            for _ in range(repeats):
                for how, options in executors.items():
                    start = time.perf_counter()
                    study = losslab.compare(data, jobs=jobs, **grid, **options)
                    times.setdefault((name, how), []).append(time.perf_counter() - start)
                    runs[name] = len(study.runs)
        task = {"pool": [], "dask": []}
        for _ in range(repeats):
            task["pool"].append(pool_task_seconds(jobs, 500))
            task["dask"].append(dask_task_seconds(client, 500))
    finally:
        live.close()
    median = {key: statistics.median(values) for key, values in times.items()}
    per_task = {key: statistics.median(values) for key, values in task.items()}
    rows = []
    for name in studies:
        base = median[name, "pool"]
        for how in ("dask", "dask@address"):
            rows.append(
                {
                    "section": "11 compare on dask",
                    "case": f"{name}: {how} {runs[name] / median[name, how]:.1f} runs/s",
                    "seconds": median[name, how],
                    "peer": f"local pool {runs[name] / base:.1f} runs/s",
                    "peer_seconds": base,
                    "ratio": median[name, how] / base,
                    "target": None,
                    "met": None,
                }
            )
    rows.append(
        {
            "section": "11 compare on dask",
            "case": f"per task: dask {1e3 * per_task['dask']:.2f} ms",
            "seconds": per_task["dask"],
            "peer": f"local pool {1e3 * per_task['pool']:.3f} ms",
            "peer_seconds": per_task["pool"],
            "ratio": per_task["dask"] / per_task["pool"],
            "target": None,
            "met": None,
        }
    )
    details = {
        "jobs": jobs,
        "runs": runs,
        "seconds": {f"{k[0]}/{k[1]}": v for k, v in times.items()},
        "task_seconds": task,
    }
    return rows, details


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    rows, details = measure(args.repeats, args.jobs)
    for r in rows:
        print(f"{r['case']:<44} {r['peer']:<30} time ratio {r['ratio']:.2f}")
    json.dump(details, sys.stdout, indent=1, default=float)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
