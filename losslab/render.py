"""Turning results into tables (for people), JSON and CSV (for programs). Only here and in the CLI
is rich imported: results go to stdout, progress and diagnostics to stderr."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

FORMATS = ("table", "json", "csv")
SPARKS = "▁▂▃▄▅▆▇█"


class Undefined(str):
    """A value that has none, with the reason ("undefined (constant target)"): shown in its
    number column, aligned as a number; JSON and CSV carry null / empty instead."""

    def __new__(cls, reason: str) -> Undefined:
        return super().__new__(cls, f"undefined ({reason})")


def fmt_number(value: Any, digits: int = 6) -> str:
    """Fixed, readable precision for tables (JSON/CSV keep full precision)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 10 ** -(digits - 2)):
            return f"{value:.{digits - 2}e}"
        return f"{value:.{digits}f}"
    return str(value)


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """A unicode sparkline of a loss curve, resampled to at most ``width`` points."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    if len(finite) > width:
        step = (len(finite) - 1) / (width - 1)
        finite = [finite[round(i * step)] for i in range(width)]
    lo, hi = min(finite), max(finite)
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return SPARKS[0] * len(finite)
    scale = (len(SPARKS) - 1) / (hi - lo)
    return "".join(SPARKS[round((v - lo) * scale)] for v in finite)


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


def stdout_console():
    """Tables on stdout; when piped, wide enough not to squeeze them (rich would use 80)."""
    import os

    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=240)
    return console


def stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def table(
    title: str | None,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    highlight_row: int | None = None,
    digits: int = 6,
):
    """A rich table: text left-aligned, numbers right-aligned at fixed precision."""
    from rich.table import Table

    rows = [list(r) for r in rows]
    out = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    for j, name in enumerate(header):
        numeric = rows and all(
            isinstance(r[j], (int, float, Undefined)) or r[j] is None for r in rows if j < len(r)
        )
        out.add_column(name, justify="right" if numeric else "left")
    from rich.text import Text

    for i, row in enumerate(rows):
        style = "bold green" if i == highlight_row else None
        out.add_row(*(Text(fmt_number(v, digits)) for v in row), style=style)
    return out


def line(text: str, style: str | None = "bold"):
    """A heading or note printed as is (no markup, no wrapping into a narrow table's width)."""
    from rich.text import Text

    return Text(text, style=style or "")


def write(text: str) -> None:
    """Write ``text`` to stdout and flush it; an OSError becomes OutputError."""
    from losslab.errors import OutputError

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        raise OutputError(exc) from None


def emit(
    fmt: str,
    *,
    obj: Any,
    csv_header: Sequence[str],
    csv_rows: Iterable[Sequence[Any]],
    render: Callable[[], Any],
) -> None:
    """Print a result in the chosen format: JSON object, CSV rows or rich renderables."""
    if fmt == "json":
        write(to_json(obj) + "\n")
    elif fmt == "csv":
        write(to_csv(csv_header, csv_rows))
    else:
        from losslab.errors import OutputError

        console = stdout_console()
        try:
            for renderable in render():
                console.print(renderable)
            console.file.flush()
        except OSError as exc:
            raise OutputError(exc) from None
