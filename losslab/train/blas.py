"""The BLAS under NumPy: which library and kernel, and how many threads its products use.

A run's products are small (a minibatch of 64 to 256 rows): on this project's 2-core machines one
BLAS thread is faster than two, and far faster when another process holds the second core (every
2-thread product then waits for a descheduled thread; BENCHMARKS section 13). So a run chooses its
threads instead of inheriting OpenBLAS's default of one per core: ``fit --threads`` (default 1), and
one per worker process of ``compare --jobs N``.

threadpoolctl (the ``threads`` extra) is used where installed: it knows every BLAS (OpenBLAS, MKL,
BLIS). Without it, NumPy's own OpenBLAS is found among the loaded libraries and asked directly
(``openblas_set_num_threads``, under the symbol prefix and suffix of the wheel's build); any other
BLAS is left as it is and recorded as unknown. Both cost well under a millisecond once loaded.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from losslab.errors import ConfigError

INSTALL = "pip install 'losslab[threads]'"


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
    if _openblas() is not None:
        config = _call("openblas_get_config", text=True).split()
        return {
            "library": "openblas",
            "version": config[1] if len(config) > 1 else "",
            "kernel": _call("openblas_get_corename", text=True),
            "threads": int(_call("openblas_get_num_threads")),
        }
    return {"library": "unknown", "version": "", "kernel": "", "threads": 0}


def threads() -> int:
    """The threads a BLAS product uses now (0: unknown)."""
    return int(info()["threads"])


def set_threads(n: int) -> None:
    """Every BLAS product of this process from now on uses ``n`` threads (at most the library's
    maximum); nothing happens where the BLAS cannot be told (see the module's text)."""
    if n < 1:
        raise ConfigError(f"--threads must be at least 1, got {n}")
    tpc = _threadpoolctl()
    if tpc is not None:
        tpc.threadpool_limits(limits=n, user_api="blas")
    elif _openblas() is not None:
        _call("openblas_set_num_threads", n)


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


def record(threads: int | None = None) -> dict[str, Any]:
    """What a run's record keeps under ``blas``: :func:`info`, with ``threads`` the count its
    products used when that is not this process's (a worker's one thread)."""
    found = info()
    return found if threads is None else {**found, "threads": threads}
