"""The options of the library forms of the commands: their names, read from where they are
declared, and their values taken as the command line takes them.

A function's own keyword parameters (``seeds``, ``start_lr``, ``plot`` …) are typed by its
signature; its ``**settings`` are the settings of a run, whose names and types come from one
place: the fields of :class:`~losslab.train.config.FitConfig` and the declared optimizer
hyperparameters, schedule and loss parameters (:class:`~losslab.hyper.Hyper`). A value is taken
in the type the command line would give it (``epochs="10"`` is 10, ``batch_size="full"`` the full
batch, ``hidden="128,64"`` two layers); anything else is a ConfigError naming the option and the
value, and an unknown name one naming the closest known one.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import numbers
import os
import types
import typing
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any, TypeVar

from losslab.errors import ConfigError, LossLabError

F = TypeVar("F", bound=Callable[..., Any])
PROGRESS = ("auto", "bar", "lines", "none")


def fit_settings() -> dict[str, Any]:
    """Every setting of a run by name -> its type: FitConfig's fields (annotations), then each
    declared optimizer hyperparameter, schedule and loss parameter (its Hyper)."""
    from losslab.losses import DECLARED as LOSS
    from losslab.optim.optimizers import DECLARED as OPTIMIZER
    from losslab.optim.schedules import DECLARED as SCHEDULE
    from losslab.train.config import FitConfig

    out: dict[str, Any] = dict(typing.get_type_hints(FitConfig))
    for declared in (OPTIMIZER, SCHEDULE, LOSS):
        for name, entries in declared.items():
            out.setdefault(name, entries[0][1])
    return out


def loss_settings() -> dict[str, Any]:
    """The declared loss parameters by name -> their Hyper (what `eval` takes besides)."""
    from losslab.losses import DECLARED

    return {name: entries[0][1] for name, entries in DECLARED.items()}


def _names(value: Any) -> list[str]:
    """Column names: ``"a,b"`` (as ``--features`` takes them) or a list."""
    items = value.split(",") if isinstance(value, str) else value
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise ConfigError(f"features must be column names (a list or 'a,b'), got {value!r}")
    out = [str(c).strip() for c in items if str(c).strip()]
    return out


def _special() -> dict[str, Callable[[Any], Any]]:
    """Settings whose command-line form is not their type: ``full``, ``128,64``, ``a,b``."""
    from losslab.train.config import parse_batch_size, parse_hidden

    return {"batch_size": parse_batch_size, "hidden": parse_hidden, "features": _names}


def _scalar(annotation: Any) -> type | None:
    """int, float, bool or str when ``annotation`` is one of them (or it or None), else None:
    values of other types go through as given, checked where they are used."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    args = [
        a for a in (typing.get_args(annotation) if union else (annotation,)) if a is not type(None)
    ]
    return args[0] if len(args) == 1 and args[0] in (int, float, bool, str) else None


def as_type(base: type, name: str, value: Any) -> Any:
    """``value`` as ``base`` (int, float, bool, str), from a number or the text the command line
    would take; a ConfigError naming ``name`` and the value otherwise."""
    import numpy as np

    if base is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    if base is str:
        if isinstance(value, (str, os.PathLike)):
            return os.fspath(value)
        raise ConfigError(f"{name} must be a string, got {value!r}")
    number: Any = None
    if isinstance(value, str):
        try:
            number = int(value.strip()) if base is int else float(value.strip())
        except ValueError:
            number = None
    elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        number = value
    if base is int and isinstance(number, numbers.Real) and not float(number).is_integer():
        number = None
    if number is None:
        what = "an integer" if base is int else "a number"
        raise ConfigError(f"{name} must be {what}, got {value!r}")
    return int(number) if base is int else float(number)


def value_of(name: str, value: Any, kind: Any, *, setting: bool = True) -> Any:
    """An option's value as its ``kind`` (an annotation or a Hyper) takes it; None stays None
    ("the default"). A ``setting`` of a run may have a command-line form of its own (``full``,
    ``128,64``); a function's own parameter (a grid's list of them) is taken by its annotation."""
    from losslab.hyper import Hyper

    if value is None:
        return None
    if isinstance(value, Enum):
        value = value.value
    special = _special() if setting else {}
    if name in special:
        return special[name](value)
    if isinstance(kind, Hyper):
        base = kind.kind if kind.kind in (bool, int, float) else None  # str, tuple: Hyper.check
    else:
        base = _scalar(kind)
    return value if base is None else as_type(base, name, value)


def unknown(name: str, known: Iterable[str]) -> ConfigError:
    """``unknown option 'optimzer' (did you mean 'optimizer'?)``."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown option {name!r}{hint}")


def load_plugins(plugin: Any) -> None:
    """``plugin=``, as ``--plugin``: a plugin file (path) or a list of them, loaded and checked
    (:func:`losslab.train.plugins.load_plugin`) before the options are read."""
    if plugin is None:
        return
    from losslab.train.plugins import load_plugin

    for path in [plugin] if isinstance(plugin, (str, os.PathLike)) else plugin:
        load_plugin(path)


def takes_options(settings: Callable[[], dict[str, Any]] | None = None) -> Callable[[F], F]:
    """Check and convert the keyword arguments of a library function: its own parameters by
    their annotations, its ``**settings`` by ``settings()`` (name -> type); an unknown name is a
    ConfigError naming the closest known one."""

    def deco(fn: F) -> F:
        params = inspect.signature(fn).parameters
        own = {n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
        takes_more = len(own) < len(params)

        @functools.cache
        def types_of_own() -> dict[str, Any]:
            # the parameters' annotations (not the return's, which may name a class imported
            # only for type checkers), evaluated as typing.get_type_hints does
            return {
                name: eval(text, fn.__globals__) if isinstance(text, str) else text
                for name, text in fn.__annotations__.items()
                if name != "return"
            }

        @functools.wraps(fn)
        def wrapper(*args: Any, plugin: Any = None, **kwargs: Any) -> Any:
            load_plugins(plugin)  # first: a plugin's declared settings are options too
            hints = types_of_own()
            universe = settings() if settings is not None and takes_more else {}
            for key in kwargs:
                if key not in own and key not in universe:
                    raise unknown(key, own | set(universe))
            converted = {
                key: value_of(key, value, hints.get(key, Any), setting=False)
                if key in own
                else value_of(key, value, universe[key])
                for key, value in kwargs.items()
            }
            return fn(*args, **converted)

        return wrapper  # type: ignore[return-value]

    return deco


def split_list(values: Any, convert: Callable[[Any], Any], flag: str) -> list[Any]:
    """A LIST option: comma-separated text, a list of such texts or of values, or one value;
    ``default`` (or None) keeps the default; each item through ``convert``. Empty: [None]."""
    if values is None or (isinstance(values, (list, tuple)) and not values):
        return [None]
    items = [values] if isinstance(values, str) or not isinstance(values, (list, tuple)) else values
    out: list[Any] = []
    for value in items:
        if not isinstance(value, str):
            out.append(None if value is None else convert(value))
            continue
        parts = [p.strip() for p in value.split(",")]
        if not any(parts):
            raise LossLabError(f"{flag} got an empty list")
        for part in parts:
            if not part:
                raise LossLabError(f"{flag} has an empty item in {value!r}")
            if part.lower() == "default":
                out.append(None)
                continue
            try:
                out.append(convert(part))
            except ValueError:
                raise LossLabError(f"{flag}: {part!r} is not a valid value") from None
    return list(dict.fromkeys(out))


def progress_display(progress: Any, label: str) -> Any:
    """A context manager giving the progress callback: None for ``None`` or ``"none"``, the
    callable itself, or the display on stderr of ``"auto"``, ``"bar"`` or ``"lines"`` (as
    ``--progress``)."""
    import contextlib

    if isinstance(progress, Enum):
        progress = progress.value
    if progress is None or progress == "none":
        return contextlib.nullcontext(None)
    if isinstance(progress, str):
        if progress not in PROGRESS:
            raise ConfigError(f"progress must be one of {', '.join(PROGRESS)}, got {progress!r}")
        from losslab.views.render import StderrProgress

        return StderrProgress(label, progress)
    if callable(progress):
        return contextlib.nullcontext(progress)
    raise ConfigError(
        f"progress must be one of {', '.join(PROGRESS)} or a callable, got {progress!r}"
    )
