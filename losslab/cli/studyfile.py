"""`compare --config study.toml` and the study.toml every saved study holds.

The file's keys are the command's own options, found by walking the click command's parameters
(so an option added to `compare` anywhere is a key at once): the long flag name with ``-`` or
``_``, a list for an option that repeats, and a ``[fit]`` table or top-level keys for the
settings every run shares. The file's values become the command's defaults (click's
``default_map``): a flag on the command line wins. A relative path in the file is relative to
the file. study.toml is written by a small emitter of the flat keys, scalars and lists it holds
(no dependency for the ten lines that this takes); it is read by ``tomllib`` (``tomli`` before
Python 3.11).
"""

from __future__ import annotations

import difflib
import enum
import json
import math
import os
import sys
import typing
from pathlib import Path
from typing import Any

from losslab.errors import ConfigError

# options that say how a study is run or shown, not what it is: never in a study file
META = frozenset(
    {"config", "save_config", "resume", "cache", "no_cache", "allow_changed_data", "help"}
)
OUTPUT = frozenset({"fmt", "progress", "out", "no_save", "plot", "dpi", "size"})
STUDY_TOML = "study.toml"


def _toml_module() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib


def _names(param: Any) -> list[str]:
    """The keys that name ``param``: its name and each long flag, in ``_`` form."""
    names = [param.name or ""]
    for opt in getattr(param, "opts", []):
        if opt.startswith("--"):
            names.append(opt[2:].replace("-", "_"))
    return names


def settable(command: Any) -> dict[str, Any]:
    """Every key a study file may hold, to its parameter."""
    keys: dict[str, Any] = {}
    for param in command.params:
        if param.name in META or param.name in OUTPUT or param.name is None:
            continue
        for name in _names(param):
            keys.setdefault(name, param)
    return keys


def read_study_file(ctx: Any, path: Path) -> dict[str, Any]:
    """The command's defaults from a study file: ``{parameter name: value}``, each checked."""
    tomllib = _toml_module()
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
    keys = settable(ctx.command)
    out: dict[str, Any] = {}
    for key, value in flat.items():
        norm = key.replace("-", "_")
        param = keys.get(norm)
        if param is None:
            raise ConfigError(_unknown(path, key, norm, keys, ctx.command))
        out[param.name or norm] = _checked(path, key, param, value)
    return out


def _unknown(path: Path, key: str, norm: str, keys: dict[str, Any], command: Any) -> str:
    if isinstance(key, str) and any(norm in _names(p) for p in command.params):
        return f"{path}: key {key!r} says how the study is run or shown, not what it is"
    close = difflib.get_close_matches(norm, list(keys), n=1, cutoff=0.5)
    hint = f" (the closest option: {close[0].replace('_', '-')!r})" if close else ""
    return f"{path}: unknown key {key!r}{hint}"


def _element(param: Any) -> Any:
    """The type one value of ``param`` takes (of a list's items, for an option that repeats)."""
    kind = param.type_descriptor.annotation
    if param.type_descriptor.is_list:
        kind = typing.get_args(kind)[0] if typing.get_args(kind) else str
    return kind


def _takes(param: Any) -> str:
    kind = _element(param)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        what = "one of " + ", ".join(str(e.value) for e in kind)
    else:
        what = {bool: "true or false", int: "an integer", float: "a number"}.get(kind, "text")
    return f"a list of {what}" if param.multiple else what


def _fits(kind: Any, item: Any) -> bool:
    if kind is bool:
        return isinstance(item, bool)
    if isinstance(item, bool) or isinstance(item, (dict, list)):
        return False
    if kind is int:
        return isinstance(item, int)
    if kind is float:
        return isinstance(item, (int, float))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return item in [e.value for e in kind]
    return isinstance(item, (str, int, float))


def _checked(path: Path, key: str, param: Any, value: Any) -> Any:
    """``value`` as the command line would give it, or one line naming the key and its type."""
    if isinstance(value, dict):
        raise ConfigError(f"{path}: key {key!r} takes {_takes(param)}, got a table")
    if isinstance(value, list) and not param.multiple:
        raise ConfigError(f"{path}: key {key!r} takes {_takes(param)}, got a list")
    kind, fixed = _element(param), []
    for item in value if isinstance(value, list) else [value]:
        if not _fits(kind, item):
            raise ConfigError(f"{path}: key {key!r} takes {_takes(param)}, got {item!r}")
        if kind is str and not isinstance(item, str):
            item = _number_text(item)
        if isinstance(item, str):
            item = _relative_to(path, item)
        fixed.append(item)
    return fixed if param.multiple else fixed[0]


def _number_text(value: float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _relative_to(path: Path, value: str) -> str:
    """A relative path in a study file is relative to the file (when it names a file there)."""
    if not value or os.path.isabs(value):
        return value
    candidate = path.parent / value
    return str(candidate) if candidate.exists() else value


def use_study_file(ctx: Any, path: Path) -> None:
    """Make the file's settings the command's defaults (the command line overrides them)."""
    ctx.default_map = {**(ctx.default_map or {}), **read_study_file(ctx, path)}


# --------------------------------------------------------------------------- writing


def study_toml(ctx: Any, where: Path) -> str:
    """The study's resolved settings as a study file to be saved at ``where``: every option of
    the command that the study depends on, with its value (options left at None are left out:
    None is "the default" to the command as well)."""
    lines = [
        "# losslab compare --config this-file (flags on the command line override it)",
    ]
    for param in ctx.command.params:
        name = param.name
        if name is None or name in META or name in OUTPUT:
            continue
        value = ctx.params.get(name)
        if value is None or (param.multiple and not value):
            continue
        lines.append(f"{name} = {_emit(value, where)}")
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
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    text = str(value)
    if text and os.path.exists(text):  # a file: relative to the study file, as it is read
        text = os.path.relpath(os.path.abspath(text), where.parent.resolve())
    return json.dumps(text, ensure_ascii=False)


def write_study_toml(ctx: Any, path: Path) -> str:
    from losslab.errors import LossLabError
    from losslab.study.store import write_atomic

    text = study_toml(ctx, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    except OSError as exc:
        raise LossLabError(f"cannot write {path}: {exc.strerror or exc}") from None
    return text
