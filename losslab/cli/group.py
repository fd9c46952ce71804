"""The `losslab` command line: the app and its entry point.

Each group of commands lives in its own module, imported only when one of its commands runs or
shows its help: `losslab --help` lists the commands from :data:`COMMANDS` alone, so that it
imports no registry, no NumPy and no pandas. Every library error (``LossLabError``) becomes one
line on stderr and exit code 1; usage errors are typer's (exit 2).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from gettext import gettext as _
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from losslab import __version__

# Every command, in the order `losslab --help` lists them: the module under losslab.cli that
# defines it, and the first paragraph of its help, which that listing shortens to one line
# (tests/test_cli_start.py holds each equal to its command's own).
COMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("evaluate", "Compute losses of prediction columns against target columns in a CSV."),
    "losses": ("catalog", "List every loss: name, task, inputs, formula and parameters."),
    "optimizers": (
        "catalog",
        "List every optimizer: default lr and batch size, update rule, the reference it equals.",
    ),
    "schedules": (
        "catalog",
        "List every lr schedule: default unit, parameters with their defaults, formula, reference.",
    ),
    "datasets": ("catalog", "List the bundled datasets: name, rows, features, target, task."),
    "plugins": (
        "catalog",
        "List the plugins loaded (--plugin, LOSSLAB_PLUGINS, entry points) and their checks.",
    ),
    "fit": (
        "fit",
        "Train a linear, logistic, softmax, mlp or cnn model on a CSV; report loss and "
        "accuracy/R².",
    ),
    "lr-find": (
        "fit",
        "Smith's lr range test: suggest a learning rate (a heuristic, not a guarantee).",
    ),
    "predict": (
        "fit",
        "Write predictions (and class probabilities) of a saved model as CSV on stdout.",
    ),
    "compare": (
        "compare",
        "Compare optimizers × learning rates × losses × batch sizes over several seeds.",
    ),
    "cache": (
        "survive",
        "Show or clear the run cache that `compare` shares between studies.",
    ),
    "plot": (
        "compare",
        "Draw the comparison figure of a saved study (or the curves of a run).",
    ),
    "shapes": (
        "views",
        "Every loss on one chart: regression losses against the residual r = ŷ − y, "
        "classification losses against the margin m = t·s (scikit-learn's \"convex loss "
        'functions" figure).',
    ),
    "explain": (
        "views",
        "What a loss, optimizer or schedule is: formula, gradient or update rule, defaults, "
        "properties, the reference it equals, when to use it.",
    ),
    "gradcheck": (
        "views",
        "Analytic gradients against central finite differences, per loss and per model.",
    ),
    "report": (
        "views",
        "Write one self-contained HTML page of a saved study or run: its table, figure (inline "
        "SVG), configuration, data fingerprint and versions; nothing loaded from the network.",
    ),
    "landscape": (
        "views",
        "Optimizer paths on a test function's contour map, or on a fit's loss landscape.",
    ),
}


class _Commands(Mapping[str, Any]):
    """The click command of each name in :data:`COMMANDS`, built on first use (importing its
    module and the registries it declares flags from) and kept."""

    def __init__(self) -> None:
        self.built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.built:
            module = importlib.import_module(f"losslab.cli.{COMMANDS[name][0]}")
            self.built[name] = module.commands.build(
                name,
                rich_markup_mode=app.rich_markup_mode,
                pretty_exceptions_short=app.pretty_exceptions_short,
            )
        return self.built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


# The entry-point groups of installed plugins (losslab.train.plugins.GROUPS, which this module
# does not import before a plugin is there to load).
ENTRY_POINT_GROUPS = ("losslab.losses", "losslab.optimizers", "losslab.schedules")


def _plugin_files(args: list[str]) -> list[str]:
    """The files of ``--plugin FILE`` / ``--plugin=FILE`` among a command's arguments."""
    files, words = [], iter(args)
    for word in words:
        if word == "--":
            break
        if word == "--plugin":
            files.append(next(words, ""))
        elif word.startswith("--plugin="):
            files.append(word.split("=", 1)[1])
    return files


def _load_plugins(args: list[str], commands: _Commands) -> None:
    """Load the plugins a command needs before it is built (its flags include theirs): the
    ``--plugin`` files, LOSSLAB_PLUGINS and, unless only its help is asked for, the installed
    entry points. Without any, nothing beyond the standard library is imported."""
    files = _plugin_files(args)
    installed = False
    if not {"--help", "-h"} & set(args):
        from importlib.metadata import entry_points

        installed = any(entry_points(group=group) for group in ENTRY_POINT_GROUPS)
    if files or os.environ.get("LOSSLAB_PLUGINS", "").strip() or installed:
        from losslab.cli.common import load_plugins

        if load_plugins(files, entry_points=installed):
            commands.built.clear()  # rebuilt with the flags the plugins declare


class LazyGroup(TyperGroup):
    """`losslab`'s group: lists its commands from :data:`COMMANDS` and builds a command only
    when it is invoked or asked for its help."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands()  # type: ignore[assignment]

    def get_help_option(self, ctx: Any) -> Any:
        # typer coerces a flag's value through a pydantic adapter unless it is a bool already;
        # an absent --help would be None, and building that adapter imports pydantic (longer
        # than NumPy takes) before `losslab CMD --help` could print anything.
        option = super().get_help_option(ctx)
        if option is not None:
            option.default = False
        return option

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in COMMANDS:
            _load_plugins(args[1:], self.commands)  # type: ignore[arg-type]
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        # A Ctrl-C while a command is built (its module and registries imported) or its
        # arguments parsed: the one line every command says, not typer's silent exit 130.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            sys.stderr.write("error: interrupted\n")
            raise typer.Exit(130) from None

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The listing of TyperGroup.format_commands, each line from the help in COMMANDS."""
        limit = formatter.width - 6 - max(map(len, COMMANDS))
        rows = [
            (name, TyperCommand(name=name, help=text).get_short_help_str(limit))
            for name, (_module, text) in COMMANDS.items()
        ]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)


app = typer.Typer(
    cls=LazyGroup,
    name="losslab",
    help="A laboratory for loss functions and optimizers on real CSV data.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"losslab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """A laboratory for loss functions and optimizers on real CSV data.

    DATA arguments take a CSV path or a bundled dataset name (see `losslab datasets`).
    """


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except OSError as exc:  # --help or --version on a full disk or a closed pipe
        from losslab.cli.common import _output_failed

        try:
            _output_failed(exc)
        except typer.Exit as done:
            sys.exit(done.exit_code)
