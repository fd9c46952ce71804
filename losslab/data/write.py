"""Writers of data for programs: JSON (non-finite floats as null) and CSV (floats at full
precision), and stdout that reports a failed write as one :class:`OutputError`."""

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


def write(text: str) -> None:
    """Write ``text`` to stdout and flush it; an OSError becomes OutputError."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        raise OutputError(exc) from None
