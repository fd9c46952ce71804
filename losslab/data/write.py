"""Writers of data for programs: JSON (non-finite floats as null), CSV (floats at full
precision) and pandas DataFrames (missing values as NaN), and stdout that reports a failed write
as one :class:`OutputError`."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any

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
