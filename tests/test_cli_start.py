"""A fast start: `losslab --help` imports no command module and no registry, and each command's
--help imports only the registries it shows; the listing reads each command's help from a table
that must agree with the command itself. (Speed is measured in benchmarks/run.py, section 12.)"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.core import TyperCommand

import losslab
from losslab.cli.group import COMMANDS, LazyGroup

ROOT = str(Path(losslab.__file__).resolve().parent.parent)

# Runs `losslab ARGS…` as the console script does; its last line lists the modules it imported.
PROBE = """\
import json, sys
sys.argv = ["losslab", *sys.argv[1:]]
from losslab.cli import main
try:
    main()
except SystemExit as done:
    code = done.code
print(json.dumps([code, sorted(sys.modules)]))
"""

# the registries whose entries a --help lists (in a flag's help or as the flags they declare)
REGISTRIES = (
    "losslab.losses",
    "losslab.optim.optimizers",
    "losslab.optim.schedules",
    "losslab.nn.models",
)
SHOWN = {
    "eval": {"losslab.losses"},
    "fit": set(REGISTRIES),
    "lr-find": {"losslab.losses", "losslab.optim.optimizers", "losslab.nn.models"},
    "compare": {"losslab.losses", "losslab.optim.optimizers", "losslab.optim.schedules"},
    "landscape": {"losslab.losses", "losslab.optim.optimizers", "losslab.optim.schedules"},
}
# never needed to show help: the data, training and study layers, the heavy libraries, and
# pydantic (which typer imports only to coerce an option's value)
NEVER = (
    "pandas",
    "matplotlib",
    "pydantic",
    "losslab.data",
    "losslab.train",
    "losslab.study",
    "losslab.views",
)


def _imported(*args: str) -> tuple[int, str, set[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    *text, last = out.stdout.splitlines()
    code, modules = json.loads(last)
    return code, "\n".join(text), set(modules)


def _under(modules: set[str], prefixes: tuple[str, ...] | set[str]) -> set[str]:
    return {p for p in prefixes if any(m == p or m.startswith(p + ".") for m in modules)}


def test_top_level_help_imports_no_command_and_no_registry():
    code, text, modules = _imported("--help")
    assert code == 0 and "Commands:" in text
    assert list(COMMANDS) == [
        line.split()[0] for line in text.split("Commands:")[1].splitlines()[1:]
    ]
    assert not _under(modules, (*NEVER, *REGISTRIES, "numpy", "losslab.optim", "losslab.nn"))
    assert not {f"losslab.cli.{module}" for module, _ in COMMANDS.values()} & modules


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_help_imports_only_the_registries_it_shows(name):
    code, text, modules = _imported(name, "--help")
    assert code == 0 and text.startswith(f"Usage: losslab {name} ")
    assert _under(modules, REGISTRIES) == SHOWN.get(name, set())
    assert not _under(modules, NEVER)


def test_the_listing_is_each_commands_own_help():
    group = LazyGroup(name="losslab")
    assert list(group.commands) == list(COMMANDS)
    for name, (_module, text) in COMMANDS.items():
        command = group.get_command(None, name)  # type: ignore[arg-type]
        assert command.name == name
        first = inspect.cleandoc(command.help).split("\n\n")[0]
        assert " ".join(first.split()) == text, name
        listed = TyperCommand(name=name, help=text)
        for limit in (20, 45, 74, 120, 400):
            assert listed.get_short_help_str(limit) == command.get_short_help_str(limit)
    defined = set()
    for module in {module for module, _ in COMMANDS.values()}:
        defined |= set(__import__(f"losslab.cli.{module}", fromlist=["commands"]).commands.defined)
    assert defined == set(COMMANDS)


def test_the_test_runner_reaches_every_command(cli):
    for name in COMMANDS:
        assert cli(name, "--help").stdout.startswith(f"Usage: losslab {name} ")
    assert "Did you mean 'landscape'?" in cli("lanscape", code=2).stderr
