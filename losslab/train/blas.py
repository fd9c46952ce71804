"""The BLAS under NumPy: which library and kernel, and how many threads its products use.

A run's products are small (a minibatch of 64 to 256 rows): on this project's 2-core machines one
BLAS thread is faster than two, and far faster when another process holds the second core (every
2-thread product then waits for a descheduled thread; BENCHMARKS section 13). So a run chooses its
threads instead of inheriting OpenBLAS's default of one per core: ``fit --threads`` (default 1), and
one per worker process of ``compare --jobs N``.

Every run (:func:`losslab.train.loop.train`) runs its products with :func:`run_threads` threads,
1 unless ``fit --threads`` says otherwise, whatever the process had: 1 and 2 threads give
different last bits for MNIST-sized products (OpenBLAS's one-thread path for small matrices sums
in another order), so the runs of a study agree whatever ``--jobs`` or executor.

NumPy's own OpenBLAS is found among the loaded libraries and asked directly
(``openblas_set_num_threads``, under the symbol prefix and suffix of the wheel's build: about
2 µs); for another BLAS (MKL, BLIS) threadpoolctl is used where installed (the ``threads`` extra;
milliseconds: it scans the loaded libraries at every call), else it is left as it is and recorded
as unknown.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, wraps
from typing import Any, TypeVar

from losslab.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def _threadpoolctl() -> Any:
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl


@cache
def _openblas() -> tuple[Any, str, str] | None:
    """(library, symbol prefix, symbol suffix) of the OpenBLAS NumPy loaded, or None."""
    import numpy as np  # noqa: F401  (loads the BLAS before we look for it)

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.lower()})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_", ""):
            for suffix in ("64_", ""):
                if hasattr(lib, f"{prefix}openblas_get_num_threads{suffix}"):
                    return lib, prefix, suffix
    return None


def _call(name: str, *args: int, text: bool = False) -> Any:
    found = _openblas()
    assert found is not None
    lib, prefix, suffix = found
    fn = getattr(lib, f"{prefix}{name}{suffix}")
    if text:
        fn.restype = ctypes.c_char_p
        return (fn() or b"").decode(errors="replace")
    return fn(*args)


def info() -> dict[str, Any]:
    """``{"library", "version", "kernel", "threads"}`` of the BLAS NumPy calls (what a run's
    record keeps under ``blas``); ``library`` is ``"unknown"`` when it cannot be told."""
    if _openblas() is not None:
        config = _call("openblas_get_config", text=True).split()
        return {
            "library": "openblas",
            "version": config[1] if len(config) > 1 else "",
            "kernel": _call("openblas_get_corename", text=True),
            "threads": int(_call("openblas_get_num_threads")),
        }
    tpc = _threadpoolctl()
    if tpc is not None:
        for lib in tpc.threadpool_info():
            if lib.get("user_api") == "blas":
                return {
                    "library": str(lib.get("internal_api")),
                    "version": str(lib.get("version")),
                    "kernel": str(lib.get("architecture", "")),
                    "threads": int(lib.get("num_threads", 0)),
                }
    return {"library": "unknown", "version": "", "kernel": "", "threads": 0}


def threads() -> int:
    """The threads a BLAS product uses now (0: unknown)."""
    if _openblas() is not None:
        return int(_call("openblas_get_num_threads"))
    return int(info()["threads"])


def set_threads(n: int) -> None:
    """Every BLAS product of this process from now on uses ``n`` threads (at most the library's
    maximum); nothing happens where the BLAS cannot be told (see the module's text)."""
    if n < 1:
        raise ConfigError(f"--threads must be at least 1, got {n}")
    if _openblas() is not None:
        _call("openblas_set_num_threads", n)
        return
    tpc = _threadpoolctl()
    if tpc is not None:
        tpc.threadpool_limits(limits=n, user_api="blas")


@contextmanager
def limited(n: int | None) -> Iterator[None]:
    """BLAS products inside use ``n`` threads (None: as they are); the count before is restored."""
    if n is None:
        yield
        return
    before = threads()
    set_threads(n)
    try:
        yield
    finally:
        if before > 0:
            set_threads(before)


_runs = {"threads": 1}


def run_threads() -> int:
    """The BLAS threads of every run in this process (1 unless :func:`set_run_threads`)."""
    return _runs["threads"]


def set_run_threads(n: int) -> None:
    """Runs from now on use ``n`` BLAS threads (``fit --threads``)."""
    if n < 1:
        raise ConfigError(f"--threads must be at least 1, got {n}")
    _runs["threads"] = n


@contextmanager
def runs_with(n: int) -> Iterator[None]:
    """Runs inside use ``n`` BLAS threads; the setting before is restored."""
    before = run_threads()
    set_run_threads(n)
    try:
        yield
    finally:
        _runs["threads"] = before


def pinned(fn: F) -> F:
    """``fn`` runs with :func:`run_threads` BLAS threads; the count before is restored."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with limited(run_threads()):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def record() -> dict[str, Any]:
    """What a record keeps under ``blas``: :func:`info`, with the threads its runs used."""
    return {**info(), "threads": run_threads()}
