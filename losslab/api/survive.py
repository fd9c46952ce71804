"""Studies that survive, from Python: ``losslab.compare(config=..., resume=..., cache=...,
save_config=...)`` as the command's --config, --resume, --cache and --save-config."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from losslab.errors import ConfigError

# keywords that say how a study is run or shown, not what it is: not in a study file
NOT_SETTINGS = frozenset(
    {"config", "save_config", "resume", "cache", "no_cache", "allow_changed_data", "plot",
     "dpi", "size", "save", "no_save", "out", "progress", "store"}
)  # fmt: skip


def with_study_file(
    fn: Callable[..., Any], here: dict[str, Any], known: set[str], path: Path
) -> dict[str, Any]:
    """The keywords of ``fn``: the study file's, then those given (``here``: the call's own
    values, a keyword at its default counting as not given)."""
    from losslab.study.config import read_study_file

    params = inspect.signature(fn).parameters
    given = {
        name: value
        for name, value in here.items()
        if name in params
        and params[name].kind is not inspect.Parameter.VAR_KEYWORD
        and value is not params[name].default
        and not (isinstance(value, (bool, int, float, str)) and value == params[name].default)
    }
    given.update(here.get("settings") or {})
    values: dict[str, Any] = {}
    for norm, (key, value) in read_study_file(path).items():
        if norm not in known or norm in NOT_SETTINGS:
            close = difflib.get_close_matches(norm, sorted(known - NOT_SETTINGS), n=1)
            hint = f" (the closest option: {close[0]!r})" if close else ""
            raise ConfigError(f"{path}: unknown key {key!r}{hint}")
        values[norm] = value
    return {**values, **given, "config": None}


def study_settings(here: dict[str, Any]) -> dict[str, Any]:
    """The keywords a study depends on, as its study.toml holds them."""
    settings = dict(here.get("settings") or {})
    own = {k: v for k, v in here.items() if k not in NOT_SETTINGS and k != "settings"}
    return {**own, **settings}


def store_for(here: dict[str, Any], save: bool, warn: Callable[[str], None] | None = None) -> Any:
    """The StudyStore of a call (None when it keeps nothing), its study.toml written first if
    ``save_config``."""
    from losslab.study.config import STUDY_TOML, dump_study_file
    from losslab.study.store import StudyStore, read_meta

    resume, cache = here.get("resume"), here.get("cache")
    if cache is not None and here.get("no_cache"):
        raise ConfigError("cache and no_cache: give one of them")
    if here.get("allow_changed_data") and resume is None:
        raise ConfigError("allow_changed_data goes with resume")
    settings = study_settings(here)
    if here.get("save_config") is not None:
        from losslab.study.store import write_atomic

        target = Path(here["save_config"])
        write_atomic(target, dump_study_file(settings, target))
    if resume is not None:
        read_meta(Path(resume))
    if resume is None and not save and cache is None:
        return None
    root = Path(resume).parent if resume is not None else Path(here.get("out") or "results")
    return StudyStore(
        root=root,
        directory=resume,
        cache=None if here.get("no_cache") else cache,
        toml=dump_study_file(settings, root / "study" / STUDY_TOML),
        allow_changed_data=bool(here.get("allow_changed_data")),
        warn=warn,
        keep=save or resume is not None,
    )
