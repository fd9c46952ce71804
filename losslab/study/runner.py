"""Running a study's runs: in this process, on worker processes (``jobs > 1``) or as tasks on a dask
cluster, with Ctrl-C stopping cleanly; results come back in grid order, so the numbers do not
depend on which worker finishes first."""

from __future__ import annotations

import ctypes
import queue
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from losslab.losses.calibration import NAMES as CALIBRATION
from losslab.optim.optimizers import OPTIMIZERS
from losslab.study import shared, workers
from losslab.study.problems import (
    _problem_for,
    _split_for,
    _use_problem,
    _worker,
)
from losslab.train import blas, plugins
from losslab.train.loop import (
    FitConfig,
    FitResult,
    Problem,
    _Interrupt,
    metric_name,
    train,
)


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


def _init_worker(
    problem: Problem, flag: Any, splits: Any = None, sources: tuple[Any, ...] = ()
) -> None:
    blas.set_threads(1)  # one BLAS thread per worker: two workers on two cores, none waiting
    plugins.ensure(sources)  # a spawned worker has none of the parent's plugins yet
    _use_problem(problem)
    if splits is not None:
        splits.install()
    _worker["stop"] = _Stop(flag)


def _run_task(task: tuple[int, FitConfig]) -> dict[str, Any]:
    index, config = task
    return run_one(index, config, _worker["stop"])


def run_one(index: int, config: FitConfig, interrupt: _Interrupt | None = None) -> dict[str, Any]:
    """One grid cell, as `losslab fit` would run it; returns a compact JSON-ready record."""
    problem = _problem_for(config)
    return _attempt(index, problem, _split_for(problem, config), config, interrupt)


def _attempt(
    index: int, problem: Problem, split: Any, config: FitConfig, interrupt: _Interrupt | None
) -> dict[str, Any]:
    """The record of one run, trained: a failure inside the run (an exception of any kind) is
    that run's, recorded with status ``failed`` and its message, so that the study keeps the
    other runs (a Ctrl-C is no exception here: it stops the study)."""
    try:
        result = train(problem, split, config, interrupt=interrupt)
    except Exception as exc:
        return {"index": index, **_failed_record(config, problem, exc)}
    return {"index": index, **_run_record(result, problem)}


# --------------------------------------------------------------------------- on a dask cluster


@dataclass
class _Shared:
    """What every task of a study on a cluster needs, scattered to the workers once: the problem
    (its table reduced to the target column: the features are in ``X``) and the test data of
    each loss (``--test-data``, read once here; the workers may not see the file)."""

    problem: Problem
    tests: dict[str, Any]
    plugins: tuple[Any, ...] = ()  # the plugin files' sources (the workers may not see them)


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
        plugins.ensure(shared.plugins)
        if _worker.get("problem") is not shared.problem:
            _use_problem(shared.problem)
            _worker["tests"] = dict(shared.tests)
        problem = _problem_for(config)
        split = _split_for(problem, config)
    return _attempt(index, problem, split, config, _RemoteStop(study))


def _shared(problem: Problem, runs: list[FitConfig]) -> _Shared:
    from losslab.data.read import Table

    table = problem.table
    lean = Table(path=table.path, label=table.label, frame=table.frame[[problem.target]])
    tests: dict[str, Any] = {}
    for run in runs:
        if run.test_data is not None:
            _split_for(_problem_for(run), replace(run, seed=0))  # reads each loss's test data once
            tests = dict(_worker.get("tests", {}))
    return _Shared(replace(problem, table=lean), tests, plugins.shipped())


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
        "rose": result.rose,  # ended above its starting objective without diverging
        key: test_m.get(key, train_m.get(key)) if test_m else train_m.get(key),
        # a classifier's calibration (train/evaluation.calibration), of the metric's part
        **{k: v for k, v in (test_m or train_m).items() if k in CALIBRATION},
        # per epoch: (train, test, objective, metric, val, seconds); slots only ever appended
        "curve": [
            (h["train_loss"], h["test_loss"], h.get("objective"), h.get(key), h.get("val_loss"), t)
            for h, t in zip(result.history, result.epoch_seconds, strict=True)
        ],
    }


def _failed_record(config: FitConfig, problem: Problem, exc: Exception) -> dict[str, Any]:
    """The record of a run that raised: its settings (as the grid resolved them), no results."""
    settings = config.to_dict()
    settings.update(
        model=problem.model.name,
        loss=problem.loss.name,
        optimizer=OPTIMIZERS.resolve(config.optimizer),
    )
    text = str(exc).splitlines()[0] if str(exc) else ""
    return {
        "status": "failed",
        "message": f"{type(exc).__name__}: {text}" if text else type(exc).__name__,
        "epochs_run": 0,
        "seconds": 0.0,
        "config": settings,
        "train_loss": None,
        "test_loss": None,
        "val_loss": None,
        "objective": None,
        metric_name(problem): None,
        "curve": [],
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
    on_record: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """(records in grid order, interrupted?), the same meaning for every ``jobs`` and executor.

    The first Ctrl-C: the runs under way stop after their current batch and are kept with status
    ``interrupted``; no other run starts; ``on_interrupt()`` is called once when that is seen. The
    second Ctrl-C: stop now; the runs under way are dropped, their workers killed. Either way the
    finished runs are kept, and no worker outlives this call.

    ``executor="dask"``: every run is a task on the dask scheduler at ``scheduler``, else on a
    local cluster of ``jobs`` worker processes (:mod:`losslab.study.cluster`).

    ``on_record(record)`` is called in this process with each run's record as soon as it is
    back (to keep it on disk at once); what it returns is kept instead.
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
        on_record or (lambda record: record),
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
    on_record: Callable[[dict[str, Any]], dict[str, Any]]
    done: dict[int, dict[str, Any]] = field(default_factory=dict)

    def take(self, record: dict[str, Any]) -> None:
        self.done[record["index"]] = self.on_record(record)

    def here(self) -> None:
        _use_problem(self.problem)
        for i, config in enumerate(self.runs):
            self.take(run_one(i, config, self.stop))
            # read before reporting: once a run is reported, the next is under way (as a
            # worker's next run is, handed out before the report), so a Ctrl-C after it stops it
            stopping = self.stop.requested
            self.progress(len(self.done), len(self.runs))
            if stopping:
                self.on_interrupt()
                return

    def in_workers(self, jobs: int) -> None:
        """Each worker holds one run at a time and gets the next as soon as it reports."""
        with shared.shared_splits(self.problem, self.runs, forked=workers.forked()) as splits:
            self._pool(jobs, splits)

    def _pool(self, jobs: int, splits: Any) -> None:
        stop, tasks = self.stop, iter(enumerate(self.runs))
        pool = workers.Pool(
            jobs,
            handle=_run_task,
            init=_init_worker,
            initargs=(self.problem, stop.flag, splits, plugins.shipped()),
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
                    self.take(record)
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
                        self.take(record)
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
