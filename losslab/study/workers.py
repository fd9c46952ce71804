"""Worker processes for `compare --jobs N`: one pipe each, stopped at once, gone with their parent.

``ProcessPoolExecutor`` could not promise either: its shutdown joins workers that may sit on its
queue lock or a pipe read (a second Ctrl-C hung the study), and its workers outlive a parent
killed with SIGKILL. Here each worker owns one duplex pipe and takes one task at a time, so the
parent always knows which task each worker holds, and stopping means killing and reaping them.

A worker ignores SIGINT (the parent decides what Ctrl-C means and tells the workers through shared
memory) and dies with its parent: ``PR_SET_PDEATHSIG`` on Linux, and everywhere a thread that
notices the parent is gone.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from typing import Any

from losslab.errors import LossLabError

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_SECONDS = 0.5


def context() -> Any:
    """``fork`` where there is one (the workers inherit the parent's caches), else ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def forked() -> bool:
    """Whether the workers are forked (they inherit this process's memory and mappings)."""
    return context().get_start_method() == "fork"


class _RemoteTraceback(Exception):
    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


class Pool:
    """``size`` workers, each running ``handle(task)`` for every task it is given.

    ``init(*initargs)`` runs once in each worker first. ``handle``, ``init`` and the tasks must be
    picklable where processes are spawned rather than forked.
    """

    def __init__(
        self,
        size: int,
        *,
        handle: Callable[[Any], Any],
        init: Callable[..., None],
        initargs: tuple[Any, ...] = (),
    ) -> None:
        ctx = context()
        self.busy: dict[Connection, Any] = {}  # a busy worker's pipe -> the tag of its task
        self._procs: dict[Connection, Any] = {}
        try:
            with _sigint_blocked():  # a Ctrl-C during a fork must not reach a half-born worker
                for _ in range(size):
                    mine, theirs = ctx.Pipe()
                    proc = ctx.Process(
                        target=_serve,
                        args=(theirs, os.getpid(), handle, init, initargs),
                        daemon=True,
                    )
                    proc.start()
                    theirs.close()
                    self._procs[mine] = proc
        except BaseException:
            self.close(now=True)
            raise

    @property
    def workers(self) -> list[Connection]:
        return list(self._procs)

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self._procs.values()]

    def submit(self, worker: Connection, task: Any, tag: Any) -> None:
        worker.send(task)
        self.busy[worker] = tag

    def results(self, timeout: float | None = None) -> Iterator[tuple[Connection, Any]]:
        """(worker, result) of the tasks that finished within ``timeout`` seconds.

        A task's exception is raised here; so is a LossLabError naming a worker that died.
        """
        for worker in wait(list(self.busy), timeout):
            tag = self.busy.pop(worker)
            try:
                ok, value, text = worker.recv()
            except (EOFError, OSError):
                proc = self._procs[worker]
                proc.join(timeout=1)
                raise LossLabError(
                    f"worker process {proc.pid} died (exit code {proc.exitcode}) during task {tag}"
                ) from None
            if not ok:
                if text is not None:
                    value.__cause__ = _RemoteTraceback(text)
                raise value
            yield worker, value

    def close(self, *, now: bool = False) -> None:
        """Let the idle workers leave and reap them; with ``now`` (or still busy), kill them."""
        for worker, proc in self._procs.items():
            if now or worker in self.busy:
                proc.kill()
            else:
                try:
                    worker.send(None)
                except OSError:
                    proc.kill()
        for worker, proc in self._procs.items():
            proc.join(timeout=5)  # a worker asked to leave exits at once; this is a safety net
            if proc.exitcode is None:
                proc.kill()
                proc.join()
            worker.close()
            proc.close()
        self._procs.clear()
        self.busy.clear()


def _serve(
    conn: Connection,
    parent: int,
    handle: Callable[[Any], Any],
    init: Callable[..., None],
    initargs: tuple[Any, ...],
) -> None:
    """A worker's life: take a task, send back (ok, result or exception, traceback text)."""
    _die_with(parent)
    _keep_freed_memory()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    init(*initargs)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            reply = (True, handle(task), None)
        except Exception as exc:
            text = None if isinstance(exc, LossLabError) else traceback.format_exc()
            reply = (False, exc, text)
        try:
            try:
                conn.send(reply)
            except (TypeError, AttributeError, ValueError) as exc:  # an exception pickle refuses
                conn.send((False, RuntimeError(repr(reply[1])), str(exc)))
        except OSError:
            return


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
KEEP_BYTES = 1 << 30


def _keep_freed_memory() -> None:
    """glibc: allocate even large arrays from the heap and keep what is freed for the next run.

    By default an array above 32 MB is a fresh ``mmap`` and goes back to the system when freed,
    so every run's large arrays (a minibatch run's row-major copy of the training rows, the
    scores of an evaluation) are zeroed pages again, faulted in one by one: a forked worker took
    14× the page faults of ``--jobs 1`` (BENCHMARKS section 11). A worker lives for one study,
    so keeping up to ``KEEP_BYTES`` of freed memory costs nothing after it. Where ``mallopt``
    is not glibc's, nothing happens."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)
        libc.mallopt(M_TRIM_THRESHOLD, 2 * KEEP_BYTES)
    except (OSError, AttributeError):
        pass


def _die_with(parent: int) -> None:
    """Exit as soon as ``parent`` dies, so that no worker outlives a killed study."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    watch_parent(parent)


def watch_parent(parent: int) -> None:
    """Exit this process when ``parent`` is gone: a thread that sees the parent pid change (an
    orphan is adopted by another process). Also for processes whose creator is not ``parent``'s
    main thread, where ``PR_SET_PDEATHSIG`` would follow the wrong thread."""
    if os.getppid() != parent:  # it died before we could ask to follow it
        os._exit(1)
    watcher = threading.Thread(target=_watch, args=(parent,), name="losslab-parent", daemon=True)
    watcher.start()


def _watch(parent: int) -> None:
    # the portable fallback: an orphan is adopted by another process, so its ppid changes
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
