"""Writers of data for programs: JSON (non-finite floats as null), CSV (floats at full
precision) and pandas DataFrames (missing values as NaN); stdout that reports a failed write as
one :class:`OutputError`; new temporary files and directories whose mode the umask decides."""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import secrets
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from losslab.errors import OutputError


def to_json(obj: Any) -> str:
    """JSON with non-finite floats as null (never NaN tokens that other parsers reject)."""
    return json.dumps(_clean(obj), indent=2, allow_nan=False)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    return obj


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])
    return buffer.getvalue()


def to_frame(rows: Iterable[dict[str, Any]], columns: Sequence[str] | None = None) -> Any:
    """Rows (dicts) as a pandas DataFrame whose missing values are NaN, as ``pandas.read_csv``
    reads the CSV of the same rows: a column of numbers and None is float (an empty one too),
    None in any other column is NaN; never None in an object column."""
    import numbers

    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=columns)
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        given = [v for v in column if v is not None and not (isinstance(v, float) and v != v)]
        if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in given):
            frame[name] = column.astype(float)
        else:
            frame[name] = column.map(lambda v: np.nan if v is None else v)
    return frame


def write(text: str) -> None:
    """Write ``text`` to stdout and flush it; an OSError becomes OutputError."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        raise OutputError(exc) from None


T = TypeVar("T")


def _fresh(parent: Path, prefix: str, make: Callable[[Path], T]) -> tuple[Path, T]:
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            return path, make(path)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(parent))


def new_dir(parent: Path, prefix: str) -> Path:
    """A new directory ``parent/<prefix><random>``, as ``tempfile.mkdtemp`` makes, but with the
    mode the umask gives (0777 & ~umask, as ``mkdir`` makes): mkdtemp's is 0700 whatever the
    umask."""
    return _fresh(parent, prefix, os.mkdir)[0]


def new_file(parent: Path, prefix: str) -> tuple[int, Path]:
    """(descriptor open for writing, path) of a new file ``parent/<prefix><random>``, as
    ``tempfile.mkstemp`` makes, but with the mode the umask gives (0666 & ~umask, as ``open``
    makes): mkstemp's is 0600 whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    path, fd = _fresh(parent, prefix, lambda p: os.open(p, flags, 0o666))
    return fd, path
