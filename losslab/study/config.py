"""study.toml: a study's settings as a file — read with ``tomllib`` (``tomli`` before Python
3.11), written by a small emitter of the flat keys, scalars and lists a study holds (ten lines;
no dependency for them).

Keys are the command's options (the long flag with ``-`` or ``_``); a ``[fit]`` table may hold
the settings every run shares; a relative path in the file is relative to the file. Checking the
keys against a command's options is the caller's (the CLI walks its click parameters, the API its
keywords), so that an option added anywhere is a key at once.
"""

from __future__ import annotations

import enum
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from losslab.errors import ConfigError

STUDY_TOML = "study.toml"


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib


def read_study_file(path: str | Path) -> dict[str, tuple[str, Any]]:
    """``{key with _: (key as written, value)}`` of a study file, the ``[fit]`` table merged in
    and relative paths made relative to the file; a syntax error names its line and column."""
    path = Path(path)
    tomllib = _toml()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such study file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        last = text.split("\n")
        where = f"at line {len(last)}, column {len(last[-1]) + 1}"
        message = str(exc).replace("at end of document", f"{where}: the end of the file")
        raise ConfigError(f"{path}: not valid TOML: {message}") from None
    flat = {k: v for k, v in doc.items() if k != "fit"}
    fit = doc.get("fit", {})
    if not isinstance(fit, dict):
        raise ConfigError(f"{path}: 'fit' must be a table ([fit]) of the runs' shared settings")
    for key, value in fit.items():
        if key in flat:
            raise ConfigError(f"{path}: key {key!r} is both in [fit] and at the top level")
        flat[key] = value
    return {key.replace("-", "_"): (key, _relative(path, value)) for key, value in flat.items()}


def _relative(path: Path, value: Any) -> Any:
    """A relative path in a study file is relative to the file (when it names a file there)."""
    if isinstance(value, list):
        return [_relative(path, v) for v in value]
    if not isinstance(value, str) or not value or os.path.isabs(value):
        return value
    candidate = path.parent / value
    return str(candidate) if candidate.exists() else value


def dump_study_file(values: dict[str, Any], where: str | Path) -> str:
    """A study file of ``values`` (None left out: "the default"), to be saved at ``where``."""
    lines = ["# losslab compare --config this-file (flags on the command line override it)"]
    for name, value in values.items():
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        lines.append(f"{name} = {_emit(value, Path(where))}")
    return "\n".join(lines) + "\n"


def _emit(value: Any, where: Path) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_emit(v, where) for v in value) + "]"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    text = str(value)
    if text and os.path.exists(text):  # a file: relative to the study file, as it is read
        text = os.path.relpath(Path(text).resolve(), where.parent.resolve())
    return json.dumps(text, ensure_ascii=False)
