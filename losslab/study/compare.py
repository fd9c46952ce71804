"""`losslab compare`: a grid of `fit` runs (optimizers × lrs × losses × batch sizes × seeds),
aggregated over seeds, with the reference optimum and each configuration's optimality gap.

Each run is exactly `losslab fit` with the same settings (``prepare`` + ``train``).
Runs go to worker processes (``workers.Pool``) with ``jobs > 1``, or one task each to a dask
cluster with ``executor="dask"`` (:mod:`losslab.study.cluster`); results are ordered by their place in
the grid, so the numbers do not depend on which worker finishes first.
"""

from __future__ import annotations

import ctypes
import itertools
import math
import os
import queue
import signal
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from losslab.study import workers
from losslab.errors import ConfigError, DataError
from losslab.losses import LOSSES
from losslab.nn.models import check_loss
from losslab.optim.optimizers import OPTIMIZERS
from losslab.train.prepare import source_path
from losslab.train.loop import (
    FitConfig,
    FitResult,
    Problem,
    Split,
    _Interrupt,
    load_problem,
    load_test,
    metric_name,
    prepare,
    train,
    with_loss,
)

DEFAULT_DATA = "breast-cancer"  # the bare `losslab compare` study
DEFAULT_L2 = 0.01  # its classes are separable: without a penalty there is no finite optimum
DEFAULT_OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
CONFIG_KEYS = ("hidden", "layers", "optimizer", "lr", "loss", "batch_size")
# curves.csv: these, then one column per metric of the study; ``seconds`` is the wall time from
# the start of the run to the end of the epoch (older studies lack val_loss, objective, seconds)
CURVE_COLUMNS = ("run", "epoch", "train_loss", "test_loss", "val_loss", "objective", "seconds")


@dataclass
class Grid:
    """The lists a study varies; ``None`` in lrs/losses/batch_sizes means "the default"."""

    optimizers: list[str]
    lrs: list[float | None]
    losses: list[str | None]
    batch_sizes: list[int | None]
    seeds: int
    hiddens: list[list[int] | None] = field(default_factory=lambda: [None])
    layers: list[str | None] = field(default_factory=lambda: [None])  # cnn stacks

    def configs(self, base: FitConfig) -> list[FitConfig]:
        """Every run, in grid order: architecture, optimizer, lr, loss, batch size, then seed."""
        runs = []
        for hidden, stack, opt, lr, loss, bs, seed in itertools.product(
            self.hiddens,
            self.layers,
            self.optimizers,
            self.lrs,
            self.losses,
            self.batch_sizes,
            range(self.seeds),
        ):
            hyper = _hyper_for(opt, base)
            if hidden is None:
                hidden = base.hidden
            if stack is None:
                stack = base.layers
            runs.append(
                replace(
                    base,
                    optimizer=opt,
                    lr=lr,
                    loss=loss,
                    batch_size=bs,
                    seed=seed,
                    hidden=hidden,
                    layers=stack,
                    hyper=hyper,
                )
            )
        return runs


def _hyper_for(optimizer: str, base: FitConfig) -> dict[str, Any]:
    """Study-wide hyperparameters reach only the optimizers that use them."""
    used = OPTIMIZERS.get(optimizer).hyper_defaults
    return {k: v for k, v in base.hyper.items() if k in used and v is not None}


def resolve_runs(runs: list[FitConfig]) -> tuple[list[FitConfig], list[str]]:
    """(the distinct runs, notes): ``default`` lr, batch size and loss resolved to the values the
    run would use, then runs with identical resolved settings kept once (the first in grid order).

    Needs the worker caches started (:func:`_use_problem`).
    """
    seen: dict[tuple, tuple] = {}
    out: list[FitConfig] = []
    notes: list[str] = []
    for run in runs:
        problem = _problem_for(run)
        spec = OPTIMIZERS.get(run.optimizer)
        name, loss = OPTIMIZERS.resolve(run.optimizer), problem.loss.name
        lr = run.lr if run.lr is not None else problem.head.default_lr(name, spec.default_lr, loss)
        batch = run.batch_size if run.batch_size is not None else spec.default_batch_size
        if spec.rule.full_batch and batch:
            # L-BFGS and Polyak step on the whole objective: a minibatch run is not theirs
            if run.seed == 0:
                notes.append(
                    f"{name} steps on the full batch only (each step uses the whole objective): "
                    f"its runs at batch size {batch} are left out"
                )
            continue
        key = (tuple(run.hidden or ()), run.layers, name, lr, loss, batch, run.seed)
        raw = (run.lr, run.batch_size, run.loss)
        if key in seen:
            if run.seed == 0:
                same = [
                    f"{flag} {_given(a)} and {_given(b)} are both {value}"
                    for flag, a, b, value in zip(
                        ("lr", "batch size", "loss"),
                        seen[key],
                        raw,
                        (f"{lr:g}", batch or "full", loss),
                        strict=True,
                    )
                    if a != b
                ]
                what = "; ".join(same) or "the same settings twice"
                notes.append(f"{name} ({loss}): {what}; ran once")
            continue
        seen[key] = raw
        # study-wide loss parameters reach only the losses that take them
        args = {k: v for k, v in run.loss_args.items() if k in problem.loss.params}
        out.append(replace(run, lr=lr, batch_size=batch, loss=loss, loss_args=args))
    if not out:
        raise ConfigError("no run left to do: " + "; ".join(notes))
    return out, notes


def _given(value: Any) -> str:
    return "default" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def validate_grid(grid: Grid, base: FitConfig, problem: Problem) -> None:
    """Reject bad grid values before any run starts, one clear line each."""
    if grid.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {grid.seeds}")
    for name, values in (
        ("--optimizer", grid.optimizers),
        ("--lr", grid.lrs),
        ("--loss", grid.losses),
        ("--batch-size", grid.batch_sizes),
    ):
        if not values:
            raise ConfigError(f"{name} got an empty list")
    for opt in grid.optimizers:
        OPTIMIZERS.resolve(opt)
    for lr in grid.lrs:
        if lr is not None and not (lr > 0 and math.isfinite(lr)):
            raise ConfigError(f"--lr must be > 0, got {lr:g}")
    for bs in grid.batch_sizes:
        if bs is not None and bs < 0:
            raise ConfigError(f"--batch-size must be >= 0 (0 = full batch), got {bs}")
    names = [LOSSES.resolve(loss) if loss else problem.loss.name for loss in grid.losses]
    for name in names:
        check_loss(problem.model, name)
    for param in base.loss_params():
        if not any(param in LOSSES.get(name).params for name in names):
            flag = "--" + param.replace("_", "-")
            raise ConfigError(f"{flag} is not used by {', '.join(names)}")
    for run in grid.configs(base)[: len(grid.optimizers)]:
        run.validate()
    if problem.model.images:
        from losslab.nn.layers import check_stack

        for stack in grid.layers:
            check_stack(stack or base.layers, base.image, len(problem.features))


# --------------------------------------------------------------------------- running

_worker: dict[str, Any] = {}


class _Stop(_Interrupt):
    """A study's Ctrl-C, one meaning whatever ``--jobs``.

    The first asks every run under way to stop after its current batch (the training loop reads
    ``requested`` after each one): such a run is kept with status ``interrupted``, and no new run
    starts. The flag is one byte that forked or spawned workers share, so theirs stop too. The
    second Ctrl-C raises KeyboardInterrupt in the parent: stop now, drop the runs under way.
    """

    def __init__(self, flag: Any) -> None:  # no super().__init__(): it would lower the flag
        self.flag = flag
        self.now = False
        self.shielded = False  # while the workers are being reaped, a Ctrl-C must not cut in

    @property  # type: ignore[override]
    def requested(self) -> bool:
        return bool(self.flag.value)

    @requested.setter
    def requested(self, value: bool) -> None:
        if value:  # a request is never withdrawn (a worker must not lower the parent's flag)
            self.flag.value = True

    @contextmanager
    def installed(self) -> Iterator[_Stop]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals reach the main thread only
            return

        def handler(signum: int, frame: Any) -> None:
            if not self.requested:
                self.requested = True
            elif not self.now:
                self.now = True
                if not self.shielded:
                    raise KeyboardInterrupt

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)

    @contextmanager
    def shield(self) -> Iterator[None]:
        self.shielded = True
        try:
            yield
        finally:
            self.shielded = False


def _init_worker(problem: Problem, flag: Any) -> None:
    _use_problem(problem)
    _worker["stop"] = _Stop(flag)


def _run_task(task: tuple[int, FitConfig]) -> dict[str, Any]:
    index, config = task
    return run_one(index, config, _worker["stop"])


def _use_problem(problem: Problem) -> None:
    """Start this process's caches (per-loss problems, per-seed splits) for ``problem``."""
    if _worker.get("problem") is not problem:
        _worker.clear()
        _worker.update(problem=problem, problems={}, splits={})


def _problem_for(config: FitConfig) -> Problem:
    """The shared problem with this run's loss (the model is fixed for a study)."""
    problems: dict[str, Problem] = _worker["problems"]
    problem: Problem = _worker["problem"]
    key = LOSSES.resolve(config.loss) if config.loss else problem.loss.name
    if key not in problems:
        problems[key] = with_loss(problem, key, config.loss_params())
    return problems[key]


def _split_for(problem: Problem, config: FitConfig) -> Split:
    # the split depends on the loss too: a margin loss makes a linear model a classifier,
    # whose split is stratified
    key = (config.seed, problem.loss.name)
    if key not in _worker["splits"]:
        test = None
        if config.test_data is not None:  # read once per loss (its classes encode the target)
            tests = _worker.setdefault("tests", {})
            if problem.loss.name not in tests:
                tests[problem.loss.name] = load_test(problem, config.test_data)
            test = tests[problem.loss.name]
        _worker["splits"][key] = prepare(config, problem, test)[1]
    return _worker["splits"][key]


def run_one(index: int, config: FitConfig, interrupt: _Interrupt | None = None) -> dict[str, Any]:
    """One grid cell, as `losslab fit` would run it; returns a compact JSON-ready record."""
    problem = _problem_for(config)
    result = train(problem, _split_for(problem, config), config, interrupt=interrupt)
    return {"index": index, **_run_record(result, problem)}


# --------------------------------------------------------------------------- on a dask cluster


@dataclass
class _Shared:
    """What every task of a study on a cluster needs, scattered to the workers once: the problem
    (its table reduced to the target column: the features are in ``X``) and the test data of
    each loss (``--test-data``, read once here; the workers may not see the file)."""

    problem: Problem
    tests: dict[str, Any]


_stopped: set[str] = set()  # the studies whose Ctrl-C this worker process has heard of
_setting_up = threading.Lock()  # a worker may run tasks in several threads; the caches are shared


def _stop_study(study: str) -> None:
    _stopped.add(study)


class _RemoteStop(_Interrupt):
    """A run on a worker stops after its current batch once its study is in ``_stopped``."""

    def __init__(self, study: str) -> None:  # no super().__init__(): requested is read-only
        self.study = study

    @property  # type: ignore[override]
    def requested(self) -> bool:
        return self.study in _stopped


def _run_remote(
    index: int, config: FitConfig, shared: _Shared, study: str
) -> dict[str, Any] | None:
    """One run as a dask task, exactly :func:`run_one`; None when its study stopped before it
    started (no new run starts after a Ctrl-C)."""
    if study in _stopped:
        return None
    with _setting_up:
        if _worker.get("problem") is not shared.problem:
            _use_problem(shared.problem)
            _worker["tests"] = dict(shared.tests)
        problem = _problem_for(config)
        split = _split_for(problem, config)
    result = train(problem, split, config, interrupt=_RemoteStop(study))
    return {"index": index, **_run_record(result, problem)}


def _shared(problem: Problem, runs: list[FitConfig]) -> _Shared:
    from losslab.data.read import Table

    table = problem.table
    lean = Table(path=table.path, label=table.label, frame=table.frame[[problem.target]])
    tests: dict[str, Any] = {}
    for run in runs:
        if run.test_data is not None:
            _split_for(_problem_for(run), replace(run, seed=0))  # reads each loss's test data once
            tests = dict(_worker.get("tests", {}))
    return _Shared(replace(problem, table=lean), tests)


def _shippable(config: FitConfig) -> FitConfig:
    """A run's settings without the data (the workers have it): a DataFrame travels as the
    text its record holds."""
    frame = "<DataFrame>"
    return replace(
        config,
        data=config.data if isinstance(config.data, str) else frame,
        test_data=config.test_data
        if config.test_data is None or isinstance(config.test_data, str)
        else frame,
    )


def _run_record(result: FitResult, problem: Problem) -> dict[str, Any]:
    key = metric_name(problem)
    train_m = result.metrics["train"] or {}
    test_m = result.metrics["test"] or {}
    val_m = result.metrics.get("val") or {}
    return {
        "status": result.status,
        "epochs_run": result.epochs_run,
        "seconds": result.seconds,
        "config": result.config,
        "train_loss": train_m.get("loss"),
        "test_loss": test_m.get("loss"),
        "val_loss": val_m.get("loss"),
        "objective": train_m.get("objective"),
        key: test_m.get(key, train_m.get(key)) if test_m else train_m.get(key),
        # per epoch: (train, test, objective, metric, val, seconds); slots only ever appended
        "curve": [
            (h["train_loss"], h["test_loss"], h.get("objective"), h.get(key), h.get("val_loss"), t)
            for h, t in zip(result.history, result.epoch_seconds, strict=True)
        ],
    }


def run_grid(
    runs: list[FitConfig],
    base: FitConfig,
    problem: Problem,
    *,
    jobs: int,
    progress: Callable[[int, int], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """(records in grid order, interrupted?), the same meaning for every ``jobs`` and executor.

    The first Ctrl-C: the runs under way stop after their current batch and are kept with status
    ``interrupted``; no other run starts; ``on_interrupt()`` is called once when that is seen. The
    second Ctrl-C: stop now; the runs under way are dropped, their workers killed. Either way the
    finished runs are kept, and no worker outlives this call.

    ``executor="dask"``: every run is a task on the dask scheduler at ``scheduler``, else on a
    local cluster of ``jobs`` worker processes (:mod:`losslab.study.cluster`).
    """
    jobs = min(jobs, len(runs))
    dask = executor == "dask"
    shared = workers.context().RawValue(ctypes.c_bool, False) if jobs > 1 and not dask else None
    flag = shared if shared is not None else ctypes.c_bool()
    study = _Execution(
        runs,
        problem,
        _Stop(flag),
        progress or (lambda done, total: None),
        on_interrupt or (lambda: None),
    )
    with study.stop.installed():
        try:
            if dask:
                study.on_dask(jobs, scheduler)
            elif jobs > 1:
                study.in_workers(jobs)
            else:
                study.here()
        except KeyboardInterrupt:
            if not study.stop.now:  # not ours: a KeyboardInterrupt raised by hand
                raise
    return [study.done[i] for i in sorted(study.done)], study.stop.requested


@dataclass
class _Execution:
    """A grid being run: its runs, the records so far (by grid index), and whom to tell."""

    runs: list[FitConfig]
    problem: Problem
    stop: _Stop
    progress: Callable[[int, int], None]
    on_interrupt: Callable[[], None]
    done: dict[int, dict[str, Any]] = field(default_factory=dict)

    def here(self) -> None:
        _use_problem(self.problem)
        for i, config in enumerate(self.runs):
            self.done[i] = run_one(i, config, self.stop)
            # read before reporting: once a run is reported, the next is under way (as a
            # worker's next run is, handed out before the report), so a Ctrl-C after it stops it
            stopping = self.stop.requested
            self.progress(len(self.done), len(self.runs))
            if stopping:
                self.on_interrupt()
                return

    def in_workers(self, jobs: int) -> None:
        """Each worker holds one run at a time and gets the next as soon as it reports."""
        stop, tasks = self.stop, iter(enumerate(self.runs))
        pool = workers.Pool(
            jobs, handle=_run_task, init=_init_worker, initargs=(self.problem, stop.flag)
        )

        def give(worker: Any) -> None:
            task = None if stop.requested else next(tasks, None)
            if task is not None:
                pool.submit(worker, task, tag=task[0])

        try:
            for worker in pool.workers:
                give(worker)
            announced = False
            while pool.busy:
                finished = 0
                # the timeout only bounds how late on_interrupt is called
                for worker, record in pool.results(timeout=0.1):
                    self.done[record["index"]] = record
                    finished += 1
                    give(worker)
                if finished:
                    self.progress(len(self.done), len(self.runs))
                if stop.requested and not announced:
                    announced = True
                    self.on_interrupt()
        except BaseException:
            with stop.shield():
                pool.close(now=True)
            raise
        with stop.shield():
            pool.close()

    def on_dask(self, jobs: int, scheduler: str | None) -> None:
        """Every run a task on the cluster, all submitted at once (the scheduler queues them);
        each record is taken as soon as its task finishes. A task whose worker dies is run again
        elsewhere by the scheduler."""
        from losslab.study import cluster

        stop, study = self.stop, uuid.uuid4().hex
        _use_problem(self.problem)
        with stop.shield():  # a Ctrl-C while the cluster starts must not leave it half-made
            live = cluster.session(scheduler, jobs)
        futures: list[Any] = []
        try:
            client = live.client
            shared = client.scatter(_shared(self.problem, self.runs), broadcast=True, hash=False)
            finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
            for i, config in enumerate(self.runs):
                future = client.submit(
                    _run_remote,
                    i,
                    _shippable(config),
                    shared,
                    study,
                    key=f"losslab-run-{i}-{study}",
                    pure=False,
                )
                future.add_done_callback(finished.put)
                futures.append(future)
            waiting, announced = len(futures), False
            while waiting:
                try:
                    future = finished.get(timeout=0.1)  # the timeout bounds how late a stop is
                except queue.Empty:
                    future = None
                if future is not None:
                    waiting -= 1
                    record = cluster.result(future)
                    if record is not None:
                        self.done[record["index"]] = record
                        self.progress(len(self.done), len(self.runs))
                if stop.requested and not announced:
                    announced = True
                    cluster.broadcast(client, _stop_study, study)
                    self.on_interrupt()
        except BaseException:
            with stop.shield():
                live.cancel(futures, stop=(_stop_study, study))
                live.close()
            raise
        with stop.shield():
            live.close()


# --------------------------------------------------------------------------- summarising


@dataclass
class Study:
    """A finished (or interrupted, ``partial``) study.

    ``runs``: one dict per run (settings, final losses, metric, gap, status); ``summary``: one
    per configuration, mean/std over seeds, in ranking order; ``curves``: (run, epoch) rows;
    ``reference``: the exact optimum per loss; ``config``: the settings and the grid.
    ``to_dict()`` is the JSON output; ``to_frame()`` gives the tidy tables.
    """

    runs: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    reference: dict[str, Any] | None
    metric: str
    partial: bool
    config: dict[str, Any]
    seconds: float | None  # None: a study saved before the total time was recorded
    target_loss: float | None
    curves: list[dict[str, Any]] = field(default_factory=list)
    record: str | None = None
    metrics: list[str] = field(default_factory=list)  # all of them, when losses mix tasks

    def to_dict(self) -> dict[str, Any]:
        return {
            "partial": self.partial,
            "seconds": self.seconds,
            "metric": self.metric,
            "metrics": self.metrics or [self.metric],
            "ranked_by": ranked_by(self.runs),
            "target_loss": self.target_loss,
            "reference": self.reference,
            "config": self.config,
            "summary": self.summary,
            "runs": self.runs,
            "record": self.record,
        }

    def to_frame(self, table: str = "runs") -> Any:
        """A pandas DataFrame: ``runs`` (one row per run, as runs.csv), ``summary`` (one row
        per configuration, without the curves) or ``curves`` (one row per run and epoch)."""
        import pandas as pd

        if table == "runs":
            return pd.DataFrame(self.runs)
        if table == "summary":
            drop = ("curve", "test_curve", "curve_min", "curve_max")
            return pd.DataFrame(
                [{k: v for k, v in r.items() if k not in drop} for r in self.summary]
            )
        if table == "curves":
            return pd.DataFrame(self.curves)
        raise ConfigError(f"to_frame: table must be runs, summary or curves, got {table!r}")


def _mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = math.fsum(values) / len(values)
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    return mean, std


def _epochs_to(curve: list[tuple], target: float | None, use_objective: bool) -> int | None:
    if target is None:
        return None
    for epoch, point in enumerate(curve, start=1):
        value = point[2] if use_objective else point[0]
        if value is not None and value <= target:
            return epoch
    return None


def summarise(
    records: list[dict[str, Any]],
    *,
    metrics: list[str],
    reference: dict[str, Any] | None,
    target_loss: float | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float | None]:
    """(flat runs, per-configuration summary sorted by test loss, the target used).

    Interrupted runs are listed in the flat runs only: the summary (means, counts, curves) holds
    the runs that ended on their own, so a partial study means the same whatever ``--jobs``.
    """
    known = optima(reference)
    use_objective = target_loss is None and bool(known)
    target = target_loss
    if use_objective:
        first = next(iter(known.values()))
        target = first[0] + 0.01 * abs(first[0])
    runs = []
    for rec in records:
        cfg = rec["config"]
        finished = rec["status"] != "diverged"
        per_seed = known.get(cfg["loss"])
        optimum = per_seed[cfg["seed"] % len(per_seed)] if per_seed else None
        gap = rec["objective"] - optimum if finished and optimum is not None else None
        if use_objective:
            run_target = optimum + 0.01 * abs(optimum) if optimum is not None else None
        else:
            run_target = target
        runs.append(
            {
                "run": rec["index"],
                "hidden": ",".join(map(str, cfg["hidden"])) if cfg.get("hidden") else None,
                "layers": cfg.get("layers"),
                "optimizer": cfg["optimizer"],
                "lr": cfg["lr"],
                "loss": cfg["loss"],
                "model": cfg["model"],
                "batch_size": cfg["batch_size"],
                "seed": cfg["seed"],
                "train_loss": rec["train_loss"],
                "test_loss": rec["test_loss"],
                "val_loss": rec.get("val_loss"),
                **{m: rec.get(m) for m in metrics},
                "objective": rec["objective"],
                "epochs_run": rec["epochs_run"],
                "epochs_to_target": _epochs_to(rec["curve"], run_target, use_objective),
                "gap": gap,
                "seconds": rec["seconds"],
                "status": rec["status"],
            }
        )
    groups: dict[tuple, list[int]] = {}
    for i, run in enumerate(runs):
        if run["status"] != "interrupted":  # listed in runs, never averaged
            groups.setdefault(tuple(run[k] for k in CONFIG_KEYS), []).append(i)
    summary = []
    for key, members in groups.items():
        ok = [i for i in members if runs[i]["status"] != "diverged"]
        row: dict[str, Any] = dict(zip(CONFIG_KEYS, key, strict=True))
        row["seeds"] = len(members)
        row["diverged"] = len(members) - len(ok)
        for name in ("train_loss", "objective", "test_loss", "val_loss", *metrics, "gap"):
            vals = [runs[i][name] for i in ok if runs[i][name] is not None]
            row[f"{name}_mean"], row[f"{name}_std"] = _mean_std(vals)
        reached = [
            runs[i]["epochs_to_target"] for i in ok if runs[i]["epochs_to_target"] is not None
        ]
        row["epochs_to_target"] = statistics.median_low(reached) if reached else None
        row["reached_target"] = len(reached)
        row["seconds_mean"] = _mean_std([runs[i]["seconds"] for i in members])[0]
        curves = [records[i]["curve"] for i in ok]
        row["curve"] = _per_epoch(curves, 0, _mean)
        row["test_curve"] = _per_epoch(curves, 1, _mean)
        row["curve_min"] = _per_epoch(curves, 0, min)
        row["curve_max"] = _per_epoch(curves, 0, max)
        summary.append(row)

    # Within each loss (losses in the order of the grid; their values are not comparable), by
    # the loss that may choose: validation, else training. The test loss never ranks.
    by = ranked_by(runs)
    loss_rank = {name: k for k, name in enumerate(dict.fromkeys(run["loss"] for run in runs))}

    def order(row: dict[str, Any]) -> tuple:
        value = row[f"{by}_mean"]
        return (loss_rank[row["loss"]], value is None, value if value is not None else math.inf)

    summary.sort(key=order)
    return runs, summary, target


def ranked_by(runs: list[dict[str, Any]]) -> str:
    """``val_loss`` when the runs hold a validation split; else ``objective`` (the training loss
    plus the penalty, what the optimizers minimise and the gap measures) when an L1/L2 penalty
    makes it differ from the loss; else ``train_loss``."""
    if any(run.get("val_loss") is not None for run in runs):
        return "val_loss"
    penalised = any(
        run.get("objective") is not None
        and run.get("train_loss") is not None
        and run["objective"] != run["train_loss"]
        for run in runs
    )
    return "objective" if penalised else "train_loss"


def _per_epoch(
    curves: list[list[tuple]], slot: int, reduce: Callable[[list[float]], float]
) -> list[float | None]:
    """``reduce`` over the seeds' values at each epoch (seeds that stopped early drop out)."""
    length = max((len(c) for c in curves), default=0)
    out: list[float | None] = []
    for e in range(length):
        vals = [c[e][slot] for c in curves if e < len(c) and c[e][slot] is not None]
        out.append(reduce(vals) if vals else None)
    return out


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def reference_for(
    problem: Problem, base: FitConfig, losses: list[str | None], seeds: int
) -> dict[str, Any]:
    """The optimum of each loss's objective on each seed's standardised training split.

    Each seed draws its own train/test split, so each has its own optimum; without a split they
    coincide. The top level describes the first loss (``objective`` is seed 0's, ``per_seed`` all
    of them); ``by_loss`` holds the same for every loss of the study.
    """
    names = list(dict.fromkeys(LOSSES.resolve(n) if n else problem.loss.name for n in losses))
    by_loss = {name: _reference_of(base, name, seeds) for name in names}
    return {**by_loss[names[0]], "by_loss": by_loss}


def _reference_of(base: FitConfig, loss: str, seeds: int) -> dict[str, Any]:
    from losslab.train.reference import reference_optimum

    per_seed: list[dict[str, Any]] = []
    for seed in range(seeds if base.test_size > 0 else 1):
        config = replace(base, seed=seed, loss=loss)
        problem = _problem_for(config)
        reason = _not_plain(problem, config)
        if reason:
            return {
                "objective": None,
                "method": "none",
                "iterations": 0,
                "reason": reason,
                "per_seed": None,
            }
        split = _split_for(problem, config)  # cached: the runs (forked workers too) reuse it
        ref = reference_optimum(
            problem.model.name,
            loss,
            split.X_train,
            split.y_train,
            n_classes=max(problem.n_outputs, 2),
            l1=base.l1,
            l2=base.l2,
        )
        per_seed.append(ref.to_dict())
        if ref.objective is None:
            break
    first = per_seed[0]
    values = [r["objective"] for r in per_seed]
    return {**first, "per_seed": values if first["objective"] is not None else None}


def _not_plain(problem: Problem, config: FitConfig) -> str | None:
    """Why the objective is not the plain mean loss the reference solvers minimise, if so."""
    if problem.weights is not None:
        return f"sample weights (--weight-column {config.weight_column}): no reference optimum"
    if config.class_weight is not None:
        return f"class weights (--class-weight {config.class_weight}): no reference optimum"
    loss = problem.loss
    for name, value in config.loss_params().items():
        if name in loss.params and value != loss.params[name]:
            return f"{loss.name} with --{name.replace('_', '-')} {value:g}: no reference optimum"
    return None


def compare(
    base: FitConfig,
    grid: Grid,
    *,
    jobs: int | None = None,
    target_loss: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> Study:
    """Run the study and summarise it (no saving, no printing); Ctrl-C and ``executor`` as in
    ``run_grid``."""
    from losslab.study.cluster import check_executor

    check_executor(executor, scheduler)
    base.validate()
    problem = load_problem(base)
    validate_grid(grid, base, problem)
    if target_loss is not None and not math.isfinite(target_loss):
        raise ConfigError(f"--target-loss must be finite, got {target_loss}")
    runs = grid.configs(base)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    start = time.perf_counter()
    _use_problem(problem)
    runs, coincided = resolve_runs(runs)
    reference = reference_for(problem, base, grid.losses, grid.seeds)
    records, interrupted = run_grid(
        runs,
        base,
        problem,
        jobs=jobs,
        progress=progress,
        on_interrupt=on_interrupt,
        executor=executor,
        scheduler=scheduler,
    )
    if not records:
        raise KeyboardInterrupt("stopped before any run finished; nothing to report")
    # a study of a linear model may mix regression losses (R²) and margin losses (accuracy)
    metrics = list(dict.fromkeys(metric_name(_problem_for(run)) for run in runs))
    metric = metrics[0]
    flat, summary, target = summarise(
        records, metrics=metrics, reference=reference, target_loss=target_loss
    )
    config = {
        "base": base.to_dict(),
        "grid": {
            "optimizers": grid.optimizers,
            "lrs": grid.lrs,
            "losses": grid.losses,
            "batch_sizes": grid.batch_sizes,
            "seeds": grid.seeds,
            "hiddens": grid.hiddens,
            "layers": grid.layers,
        },
        "model": problem.model.name,
        "jobs": jobs,
        "executor": executor,
        "scheduler": scheduler,
        "runs_planned": len(runs),
        "coincided": coincided,
        "target_default": target_loss is None,
        "data": {
            "source": problem.table.label,
            "path": source_path(problem.table),
            "sha256": problem.table.sha256,
            "rows": problem.table.n_rows,
            "choice": problem.choice,
        },
    }
    metric_of = [metric_name(_problem_for(run)) for run in runs]
    curves = [
        {
            "run": rec["index"],
            "epoch": e,
            "train_loss": pt[0],
            "test_loss": pt[1],
            "val_loss": pt[4],
            "objective": pt[2],
            "seconds": pt[5],
            # each run's metric in its own column (a study may mix R² and accuracy)
            **{m: pt[3] if m == metric_of[rec["index"]] else None for m in metrics},
        }
        for rec in records
        for e, pt in enumerate(rec["curve"], start=1)
    ]
    return Study(
        runs=flat,
        summary=summary,
        reference=reference,
        metric=metric,
        metrics=metrics,
        partial=interrupted,
        config=config,
        seconds=time.perf_counter() - start,
        target_loss=target,
        curves=curves,
    )


def save_study(study: Study, out: str | None) -> str:
    from losslab.study.records import versions, write_record
    from losslab.data.write import to_csv, to_json

    runs_header = list(study.runs[0].keys()) if study.runs else []
    summary_rows = [
        {k: v for k, v in row.items() if k not in ("curve", "test_curve", "curve_min", "curve_max")}
        for row in study.summary
    ]
    summary_header = list(summary_rows[0].keys()) if summary_rows else []
    curve_header = [*CURVE_COLUMNS, *(study.metrics or [study.metric])]
    config = {
        **study.config,
        "metrics": study.metrics or [study.metric],
        "seconds": study.seconds,
        "partial": study.partial,
        "reference": study.reference,
        "target_loss": study.target_loss,
        "versions": versions(),
        "command": "compare",
    }
    files = {
        "config.json": to_json(config) + "\n",
        "runs.csv": to_csv(runs_header, ([r[k] for k in runs_header] for r in study.runs)),
        "curves.csv": to_csv(curve_header, ([c[k] for k in curve_header] for c in study.curves)),
        "summary.csv": to_csv(
            summary_header, ([r[k] for k in summary_header] for r in summary_rows)
        ),
        "summary.json": to_json(study.summary) + "\n",
    }
    src = study.config["data"]["source"]
    name = f"compare-{src}-{study.config['model']}" + ("-partial" if study.partial else "")
    return str(write_record(out, name, files))


def load_study(directory: str | Path) -> Study:
    """A saved study (config.json, summary.json, runs.csv, curves.csv), each file validated on
    load; studies saved before curves.csv had val_loss, objective and seconds load too."""
    from losslab.study import schema

    directory = Path(directory)
    config = schema.study_config(directory / "config.json")
    summary = schema.study_summary(directory / "summary.json")
    _, runs = schema.study_runs(directory / "runs.csv")
    header, curves = schema.study_curves(directory / "curves.csv")
    metrics = config.get("metrics") or [c for c in header if c not in CURVE_COLUMNS]
    if not metrics:
        raise DataError(f"{directory / 'curves.csv'}: no metric column")
    return Study(
        runs=runs,
        summary=summary,
        reference=config.get("reference"),
        metric=metrics[0],
        metrics=metrics,
        partial=config.get("partial", False),
        config=config,
        seconds=config.get("seconds"),
        target_loss=config.get("target_loss"),
        curves=curves,
        record=str(directory),
    )


def optima(reference: dict[str, Any] | None) -> dict[str, list[float]]:
    """Each loss's exact optimum per seed (seed k uses entry k mod n), where one is known."""
    by_loss = (reference or {}).get("by_loss") or {}
    return {loss: info["per_seed"] for loss, info in by_loss.items() if info.get("per_seed")}


def default_grid() -> Grid:
    return Grid(list(DEFAULT_OPTIMIZERS), [None], [None], [None], 3)


def _values(value: Any, convert: Callable[[Any], Any] = lambda v: v) -> list[Any]:
    """One value or a list of them -> the grid's list; ``None`` or ``"default"`` -> default."""
    items = value if isinstance(value, list | tuple) else [value]
    out = [None if v is None or str(v).lower() == "default" else convert(v) for v in items]
    return list(dict.fromkeys(out)) or [None]


def study(
    data: Any = None,
    *,
    optimizer: Any = None,
    lr: Any = None,
    loss: Any = None,
    batch_size: Any = None,
    hidden: Any = None,
    layers: Any = None,
    seeds: int = 3,
    jobs: int | None = None,
    target_loss: float | None = None,
    save: bool = False,
    out: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    **settings: Any,
) -> Study:
    """`losslab compare` from Python: the grid options take one value or a list (``"default"``
    for the optimizer's own), every other keyword is a `fit` setting for all runs.

    ``hidden`` takes one architecture (``[128, 64]`` or ``"128,64"``) or a list of them;
    ``layers`` one cnn stack (``"conv32,pool,flatten,dense64"``) or a list of them. Without
    ``data``, the bare study (breast-cancer with l2 = 0.01 unless given). Saved only with
    ``save=True``. ``executor="dask"`` runs it on a dask cluster (``scheduler``: its address;
    none: a local one of ``jobs`` worker processes).
    """
    from losslab.train.config import parse_batch_size, parse_hidden

    if settings.get("l2") is None:
        settings["l2"] = DEFAULT_L2 if data is None else 0.0
    if data is None:
        data = DEFAULT_DATA
    if hidden is None:
        hiddens: list[list[int] | None] = [None]
    elif isinstance(hidden, str) or all(isinstance(h, int) for h in hidden):
        hiddens = [parse_hidden(hidden)]
    else:
        hiddens = [parse_hidden(h) for h in hidden]
    base = FitConfig.from_dict({**settings, "data": data})
    grid = Grid(
        optimizers=_values(optimizer, str) if optimizer else list(DEFAULT_OPTIMIZERS),
        lrs=_values(lr, float),
        losses=_values(loss, str),
        batch_sizes=_values(batch_size, parse_batch_size),
        seeds=seeds,
        hiddens=hiddens,
        layers=[layers] if isinstance(layers, str) else list(layers) if layers else [None],
    )
    result = compare(
        base,
        grid,
        jobs=jobs,
        target_loss=target_loss,
        progress=progress,
        on_interrupt=on_interrupt,
        executor=executor,
        scheduler=scheduler,
    )
    if save:
        result.record = save_study(result, out)
    return result
