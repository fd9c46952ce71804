"""`compare --executor dask`: the runs of a study as tasks on a ``dask.distributed`` cluster.

Every run is one ``Client.submit`` of :func:`losslab.study.runner._run_remote`; the data goes to the
workers once (``Client.scatter(..., broadcast=True)``) and every task takes it by reference. We
submit tasks ourselves rather than through joblib's Dask backend: a run's result has to be read
as soon as it finishes (progress bar, a partial study on Ctrl-C), a first Ctrl-C has to reach the
runs under way on every worker (``Client.run``), and a worker's death is the scheduler's to
repair (it re-runs the lost tasks elsewhere, ``distributed.scheduler.allowed-failures`` times) —
all of which joblib's ``Parallel`` would hide behind one blocking call.

Without ``--scheduler`` a ``LocalCluster`` of worker processes on 127.0.0.1 is started (one
thread each, no dashboard) and closed afterwards; its workers ignore SIGINT (the study decides
what Ctrl-C means) and leave when this process dies. With ``--scheduler`` we connect to a running
scheduler and leave its workers as they are.

dask is an optional dependency (``pip install 'losslab[distributed]'``), imported only here.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any

from losslab.errors import ConfigError, LossLabError

INSTALL = "pip install 'losslab[distributed]'"
CONNECT_SECONDS = 30  # how long to wait for a scheduler (or a local cluster) to answer
STOP_SECONDS = 5  # how long a stopping study waits for a remote cluster's workers to hear it
EXECUTORS = ("local", "dask")


def distributed() -> Any:
    """The ``distributed`` module, or one ConfigError saying how to install it."""
    try:
        import distributed as module
    except ImportError:
        raise ConfigError(
            f"--executor dask needs dask.distributed, not installed: {INSTALL}"
        ) from None
    return module


def check_executor(executor: str, scheduler: str | None) -> None:
    """``--executor`` is local or dask; ``--scheduler`` goes with dask only."""
    if executor not in EXECUTORS:
        raise ConfigError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if scheduler is not None and executor != "dask":
        raise ConfigError(f"--scheduler {scheduler} needs --executor dask")
    if executor == "dask":
        distributed()  # before any data is read: a missing extra is the first thing said


@dataclass
class Session:
    """A connected client, the cluster we started (None for a scheduler given by address)."""

    client: Any
    cluster: Any
    address: str

    @property
    def threads(self) -> int:
        """Worker threads of the cluster right now (the study's parallelism)."""
        return sum(self.client.nthreads().values())

    def cancel(self, futures: list[Any], stop: tuple[Any, ...] = ()) -> None:
        """Drop the tasks not yet finished, and have the workers run ``stop`` (a function and
        its arguments) so that the runs under way end too; a cluster of our own is about to
        go anyway."""
        if self.cluster is not None:
            return
        if stop:
            broadcast(self.client, *stop).join(timeout=STOP_SECONDS)
        try:
            self.client.cancel(futures, force=True)
        except Exception:  # a connection already lost has nothing to cancel
            pass

    def close(self) -> None:
        """Disconnect; a cluster we started is shut down, its worker processes with it."""
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def session(scheduler: str | None, workers: int) -> Session:
    """A client of the scheduler at ``scheduler``, else of a new local cluster of ``workers``
    processes on 127.0.0.1 (one thread each, no dashboard). Close it with ``Session.close``."""
    dd = distributed()
    if scheduler is None:
        cluster = dd.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # (its HTTP server for /health and /metrics still listens: on a free loopback port)
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.CRITICAL,  # a worker's death is reported by the study itself
        )
        try:
            client = dd.Client(cluster, set_as_default=False, timeout=CONNECT_SECONDS)
            client.register_plugin(_local_worker_plugin(os.getpid()))
        except BaseException:
            cluster.close()
            raise
        return Session(client, cluster, cluster.scheduler_address)
    _probe(dd, scheduler)
    try:
        client = dd.Client(scheduler, set_as_default=False, timeout=CONNECT_SECONDS)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    live = Session(client, None, scheduler)
    try:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError):
        live.close()
        raise ConfigError(
            f"--scheduler {scheduler}: no worker joined within {CONNECT_SECONDS} s "
            "(start some with `dask worker ADDRESS`)"
        ) from None
    return live


def _probe(dd: Any, scheduler: str) -> None:
    """Ask the scheduler at ``scheduler`` who it is, within CONNECT_SECONDS, before a Client
    exists: a malformed address, a refused connection or a server that accepts and never
    answers is one ConfigError, and no half-made Client is left to hang for a minute in its
    ``__del__``."""
    import asyncio

    async def ask() -> Any:
        comm = await dd.comm.connect(scheduler, timeout=CONNECT_SECONDS)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            comm.abort()

    try:
        # dask's own connect retries a refused address until CONNECT_SECONDS, then raises
        # OSError (said as "cannot connect"); the outer bound is for a server that accepts the
        # connection and then says nothing
        answer = asyncio.run(asyncio.wait_for(ask(), CONNECT_SECONDS + max(5, CONNECT_SECONDS)))
    except (TimeoutError, asyncio.TimeoutError):
        raise ConfigError(
            f"--scheduler {scheduler}: no answer within "
            f"{CONNECT_SECONDS + max(5, CONNECT_SECONDS):g} s (is it a dask scheduler?)"
        ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        raise ConfigError(f"--scheduler {scheduler}: the server there is not a dask scheduler")


def result(future: Any) -> Any:
    """A finished task's value; a task that killed every worker it ran on is one LossLabError."""
    dd = distributed()
    try:
        return future.result()
    except dd.KilledWorker as exc:
        raise LossLabError(
            f"task {exc.task}: every worker that ran it died ({exc.allowed_failures + 1} "
            f"tries, the last on {exc.last_worker.address}); see the workers' logs"
        ) from None
    finally:
        future.release()


def _local_worker_plugin(parent: int) -> Any:
    """A WorkerPlugin for the workers of our LocalCluster: Ctrl-C is the parent's to handle, and
    a worker leaves when the parent is gone (even killed with SIGKILL). Built on first use, so
    that importing losslab never imports dask."""
    dd = distributed()

    class LocalWorker(dd.WorkerPlugin):  # type: ignore[misc,name-defined]
        name = "losslab-local-worker"

        def __init__(self, parent: int) -> None:
            self.parent = parent

        def setup(self, worker: Any) -> None:
            from losslab.study import workers
            from losslab.train import blas

            blas.set_threads(1)  # one thread per worker process, as the local pool's workers
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            workers.watch_parent(self.parent)

    return LocalWorker(parent)


def broadcast(client: Any, function: Any, *args: Any) -> threading.Thread:
    """Run ``function(*args)`` on every worker without waiting: a worker that does not answer
    (stopped, or dying) must not hold up a study that is stopping."""

    def run() -> None:
        try:
            client.run(function, *args, on_error="ignore")
        except Exception:  # the client closing under us; nothing left to tell
            pass

    thread = threading.Thread(target=run, name="losslab-broadcast", daemon=True)
    thread.start()
    return thread
