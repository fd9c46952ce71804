"""The splits of a study prepared once and shared, read-only, by its worker processes.

Before ``compare --jobs N`` starts its workers, this process prepares every split the grid needs
(one per seed and loss, as :func:`losslab.study.problems._split_for` would in each worker) and
moves the large arrays (the scaled feature matrices) into one shared memory mapping: a file in
``/dev/shm`` (else the temporary folder) mapped ``MAP_SHARED``. Every worker reads the same pages:
no worker prepares the data again, and none holds a copy of it (a forked worker that touched the
parent's arrays page by page, or a spawned one that unpickled them, did).

The file is unlinked as soon as it is mapped where workers are forked (the mappings stay; nothing
is left behind even if the study is killed); where they are spawned, the workers map it by name
and it is removed when the study ends (Ctrl-C included, and at exit). The arrays are the same
bytes in the same memory order (Fortran, as :func:`losslab.train.prepare.make_split` makes them),
so every number is identical to an unshared run's.
"""

from __future__ import annotations

import atexit
import mmap
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from losslab.study.problems import _problem_for, _split_for, _use_problem, _worker
from losslab.train.loop import FitConfig, Problem

FIELDS = ("X_train", "X_test", "X_val")  # the arrays as large as the data
ALIGN = mmap.PAGESIZE
SHM = "/dev/shm"


@dataclass
class SharedSplits:
    """Splits by cache key, their large arrays in the file ``path`` (None: unlinked, fork only):
    ``layout[key][name] = (offset, dtype, shape, fortran)``."""

    path: str | None
    size: int
    splits: dict[Any, Any] = field(default_factory=dict)
    layout: dict[Any, dict[str, tuple[int, str, tuple[int, ...], bool]]] = field(
        default_factory=dict
    )

    def __getstate__(self) -> dict[str, Any]:  # (spawned workers: the arrays travel as the file)
        lean = {
            key: replace(split, **dict.fromkeys(self.layout[key]))
            for key, split in self.splits.items()
        }
        return {**self.__dict__, "splits": lean}

    def install(self) -> None:
        """Put the splits into this process's cache (a spawned worker maps the file first)."""
        splits = _worker["splits"]
        missing = {key: s for key, s in self.splits.items() if key not in splits}
        if not missing:
            return
        buffer = _map(self.path, self.size, write=False) if self.path else None
        for key, split in missing.items():
            arrays = {}
            for name, (offset, dtype, shape, fortran) in self.layout[key].items():
                arrays[name] = getattr(split, name)
                if buffer is not None:
                    arrays[name] = _view(buffer, offset, dtype, shape, fortran)
            splits[key] = replace(split, **arrays)


def _map(path: str, size: int, *, write: bool) -> mmap.mmap:
    with open(path, "r+b" if write else "rb") as fh:
        access = mmap.ACCESS_WRITE if write else mmap.ACCESS_READ
        return mmap.mmap(fh.fileno(), size, access=access)


def _view(
    buffer: Any, offset: int, dtype: str, shape: tuple[int, ...], fortran: bool
) -> np.ndarray:
    array = np.ndarray(
        shape, np.dtype(dtype), buffer=buffer, offset=offset, order="F" if fortran else "C"
    )
    array.flags.writeable = False
    return array


def _folder(size: int) -> str:
    try:
        st = os.statvfs(SHM)
        if st.f_bavail * st.f_frsize > 2 * size:
            return SHM
    except OSError:
        pass
    return tempfile.gettempdir()


def _prepare(problem: Problem, runs: list[FitConfig]) -> dict[Any, Any]:
    """Every split the runs need, by cache key, prepared here; a split that fails is left to
    the worker that needs it (which fails as it always did)."""
    _use_problem(problem)
    keys: dict[Any, Any] = {}
    for config in runs:
        try:
            run_problem = _problem_for(config)
            split = _split_for(run_problem, config)
        except Exception:
            continue
        keys[(config.seed, run_problem.loss.name)] = split
    return keys


@contextmanager
def shared_splits(
    problem: Problem, runs: list[FitConfig], *, forked: bool
) -> Iterator[SharedSplits]:
    """The splits of ``runs``, prepared here with their large arrays in one shared mapping,
    and put into this process's cache (forked workers inherit it); the file is gone after."""
    splits = _prepare(problem, runs)
    arrays: dict[int, tuple[int, np.ndarray]] = {}  # id -> (offset, array): a shared test set once
    layout: dict[Any, dict[str, tuple[int, str, tuple[int, ...], bool]]] = {}
    size = 0
    for key, split in splits.items():
        layout[key] = {}
        for name in FIELDS:
            a = getattr(split, name)
            if not isinstance(a, np.ndarray) or a.nbytes == 0:
                continue
            if id(a) not in arrays:
                arrays[id(a)] = (size, a)
                size += -(-a.nbytes // ALIGN) * ALIGN
            fortran = bool(a.flags.f_contiguous and not a.flags.c_contiguous)
            layout[key][name] = (arrays[id(a)][0], a.dtype.str, a.shape, fortran)
    table = SharedSplits(None, size, splits, layout)
    if size == 0:
        yield table
        return
    fd, path = tempfile.mkstemp(prefix="losslab-study-", dir=_folder(size))
    try:
        os.ftruncate(fd, size)
        os.close(fd)
        buffer = _map(path, size, write=True)
        for offset, a in arrays.values():
            fortran = bool(a.flags.f_contiguous and not a.flags.c_contiguous)
            dst = np.ndarray(
                a.shape, a.dtype, buffer=buffer, offset=offset, order="F" if fortran else "C"
            )
            dst[...] = a
        for key, split in splits.items():
            views = {name: _view(buffer, *spec) for name, spec in layout[key].items()}
            splits[key] = replace(split, **views)
        _worker["splits"].update(splits)
        if forked:
            os.unlink(path)  # the mapping stays; nothing is left on disk whatever happens next
        else:
            table.path = path
            atexit.register(_remove, path)
        yield table
    finally:
        _remove(path)


def _remove(path: str) -> None:
    with suppress(OSError):
        os.unlink(path)
