"""Studies that survive, on the command line: `compare`'s --config, --save-config, --resume and
--cache options, and `losslab cache --info | --clear [--older-than 30d]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from losslab.cli.common import Commands, Format, FormatOpt, Opt, _fail, _warn, render_escape
from losslab.cli.studyfile import META, OUTPUT, STUDY_TOML, use_study_file, write_study_toml
from losslab.errors import ConfigError, LossLabError

DEFAULT_RESULTS = "results"


def _fail_now(exc: LossLabError) -> None:
    _fail(render_escape(str(exc)))
    raise typer.Exit(1)


def _config_given(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> Any:
    if value is not None:
        try:
            use_study_file(ctx, Path(value))
        except LossLabError as exc:
            _fail_now(exc)
    return value


def _resume_given(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> Any:
    if value is not None:
        from losslab.study.store import read_meta

        try:
            read_meta(Path(value))  # a study, its study.toml untouched
            use_study_file(ctx, Path(value) / STUDY_TOML)
            # a study file names its plugins, but --resume never runs them unless named again
            named = (ctx.default_map or {}).pop("plugin", None) or []
            ctx.meta["study_plugins"] = [Path(p).resolve() for p in named]  # file-relative
        except LossLabError as exc:
            _fail_now(exc)
    return value


StudyConfig = Annotated[
    str | None,
    Opt(
        "--config",
        help="A study file (TOML): every option of compare as a key (lists for the grid), a "
        "[fit] table for the settings all runs share; flags given here override it.",
        is_eager=True,
        callback=_config_given,
    ),
]
SaveConfig = Annotated[
    str | None,
    Opt("--save-config", help="Also write the study's resolved settings to this TOML file."),
]
Resume = Annotated[
    str | None,
    Opt(
        "--resume",
        help="A study directory under results/ stopped before it finished (kill, Ctrl-C, lost "
        "cluster): run only its runs without a run file, with its study.toml's settings.",
        is_eager=True,
        callback=_resume_given,
    ),
]
Cache = Annotated[
    str | None,
    Opt(
        "--cache",
        help="The run cache shared by studies (default: results/.cache when saving under "
        "results/): a run already there is taken, not run again.",
    ),
]
NoCache = Annotated[bool, Opt("--no-cache", help="Neither read nor write the run cache.")]
AllowChangedData = Annotated[
    bool,
    Opt(
        "--allow-changed-data",
        help="With --resume: if the data file has changed since, start the study over.",
    ),
]


def _check_plugins(resume: str, needed: list[Path]) -> None:
    """A resumed study's plugins must be loaded by the user (--plugin, LOSSLAB_PLUGINS): the
    study file names them, and --resume says so instead of running them by itself."""
    from losslab.train.plugins import recorded

    loaded = {Path(p["path"]).resolve() for p in recorded()}
    missing = [p for p in needed if p not in loaded]
    if missing:
        flags = " ".join(f"--plugin {p}" for p in missing)
        raise ConfigError(
            f"{resume}: the study needs the plugin{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(str, missing))}; plugins run only when named: {flags}"
        )


def study_store(
    ctx: Any,
    out: str | None,
    no_save: bool,
    resume: str | None,
    cache: str | None,
    no_cache: bool,
    allow_changed_data: bool,
    save_config: str | None,
) -> Any:
    """The store that keeps `compare`'s runs as they finish (None with --no-save and no
    --cache), after the checks of the study options."""
    from losslab.study.store import DEFAULT_CACHE, StudyStore

    if resume is not None:
        given = [
            p.opts[0] if getattr(p, "opts", None) else p.name
            for p in ctx.command.params
            if p.name not in META | OUTPUT | {"jobs", "executor", "scheduler", "plugin"}
            and getattr(ctx.get_parameter_source(p.name or ""), "name", "") == "COMMANDLINE"
        ]
        if given:
            raise ConfigError(
                f"--resume takes the study's settings from {Path(resume) / STUDY_TOML}; "
                f"{', '.join(given)} cannot change them (--config {Path(resume) / STUDY_TOML} "
                "with changes is a new study, its finished runs taken from the cache)"
            )
        _check_plugins(resume, ctx.meta.get("study_plugins") or [])
        if no_save:
            raise ConfigError("--resume and --no-save: a resumed study is saved where it is")
    if allow_changed_data and resume is None:
        raise ConfigError("--allow-changed-data goes with --resume")
    if cache is not None and no_cache:
        raise ConfigError("--cache and --no-cache: give one of them")
    if save_config is not None:
        write_study_toml(ctx, Path(save_config))
    if no_save and cache is None:
        return None
    root = Path(resume).parent if resume is not None else Path(out or DEFAULT_RESULTS)
    # the default cache is results/.cache: a study saved elsewhere (--out) uses one when
    # --cache names it, or when resumed beside the cache it was run with
    cache_dir = Path(cache) if cache is not None else None
    if cache is None and not no_cache and out is None:
        default = root / DEFAULT_CACHE
        cache_dir = default if resume is None or default.is_dir() else None
    from losslab.cli.studyfile import study_toml

    return StudyStore(
        root=None if no_save else root,
        directory=resume,
        cache=cache_dir,
        toml=None if no_save else study_toml(ctx, root / "study" / STUDY_TOML),
        allow_changed_data=allow_changed_data,
        warn=lambda message: _warn(render_escape(message)),
        keep=not no_save,
    )


def reuse_note(study: Any) -> list[str]:
    """The caption's line on reused runs (none when every run was run)."""
    if not study.reused:
        return []
    total = study.reused + (study.ran or 0)
    return [f"{study.reused} of {total} runs reused from run files (the study's or the cache's)"]


# --------------------------------------------------------------------------- losslab cache

commands = Commands()


@commands.command("cache")
def cache_cmd(
    info: Annotated[bool, Opt("--info", help="The cache's runs and size (the default).")] = False,
    clear: Annotated[bool, Opt("--clear", help="Remove the cache's run files.")] = False,
    older_than: Annotated[
        str | None,
        Opt("--older-than", help="With --clear: only run files older than this (30d, 12h, 90m)."),
    ] = None,
    cache: Annotated[str, Opt("--cache", help="The run cache.")] = f"{DEFAULT_RESULTS}/.cache",
    fmt: FormatOpt = Format.table,
) -> None:
    """Show or clear the run cache that `compare` shares between studies.

    A run in the cache is taken by any study that needs it instead of being run again (its key:
    the data's sha256, the run's full settings and the version of the numerics).
    """
    from losslab.study.store import cache_info, clear_cache, parse_age
    from losslab.views import render

    if info and clear:
        raise ConfigError("--info and --clear: give one of them")
    if older_than is not None and not clear:
        raise ConfigError("--older-than goes with --clear")
    if clear:
        age = None if older_than is None else parse_age(older_than)
        done = clear_cache(cache, age)
        rows = [
            ["cache", done["cache"]],
            ["runs removed", done["removed"]],
            ["bytes freed", done["bytes"]],
        ]
    else:
        done = cache_info(cache)
        oldest = done["oldest_days"]
        rows = [
            ["cache", done["cache"]],
            ["runs", done["runs"]],
            ["bytes", done["bytes"]],
            ["oldest (days)", "" if oldest is None else oldest],
        ]
    render.emit(
        fmt.value,
        obj=done,
        csv_header=list(done),
        csv_rows=[list(done.values())],
        render=lambda: [render.table(None, ["", "value"], rows)],
    )
