"""`compare --config study.toml` and the study.toml every saved study holds.

The file's keys are the command's own options, found by walking the click command's parameters
(so an option added to `compare` anywhere is a key at once): the long flag name with ``-`` or
``_``, a list for an option that repeats, and a ``[fit]`` table or top-level keys for the
settings every run shares. The file's values become the command's defaults (click's
``default_map``): a flag on the command line wins. A relative path in the file is relative to
the file (reading and writing the file: :mod:`losslab.study.config`).
"""

from __future__ import annotations

import difflib
import enum
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
    from losslab.study.config import _toml

    return _toml()


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
    from losslab.study.config import read_study_file as read

    keys = settable(ctx.command)
    out: dict[str, Any] = {}
    for norm, (key, value) in read(path).items():
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
    if param.name == "data" and isinstance(value, list) and value:  # several datasets
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(
                f"{path}: key {key!r} takes a dataset name or path, or a list of them"
            )
        value = ",".join(value)
    if isinstance(value, list) and not param.multiple:
        raise ConfigError(f"{path}: key {key!r} takes {_takes(param)}, got a list")
    kind, fixed = _element(param), []
    for item in value if isinstance(value, list) else [value]:
        if not _fits(kind, item):
            raise ConfigError(f"{path}: key {key!r} takes {_takes(param)}, got {item!r}")
        if kind is str and not isinstance(item, str):
            item = _number_text(item)
        fixed.append(item)
    return fixed if param.multiple else fixed[0]


def _number_text(value: float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def use_study_file(ctx: Any, path: Path) -> None:
    """Make the file's settings the command's defaults (the command line overrides them)."""
    ctx.default_map = {**(ctx.default_map or {}), **read_study_file(ctx, path)}


# --------------------------------------------------------------------------- writing


def study_toml(ctx: Any, where: Path) -> str:
    """The study's resolved settings as a study file to be saved at ``where``: every option of
    the command that the study depends on, with its value (options left at None are left out:
    None is "the default" to the command as well)."""
    from losslab.study.config import dump_study_file

    names = [p.name for p in ctx.command.params if p.name and p.name not in META | OUTPUT]
    values = {name: ctx.params.get(name) for name in names}
    more = values.pop("more_data", None) or []
    if more:  # DATA and --data: the study file's one `data`, a list
        given = [values["data"]] if values.get("data") is not None else []
        values["data"] = [d for text in [*given, *more] for d in str(text).split(",") if d]
    return dump_study_file(values, where)


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
