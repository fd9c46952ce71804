"""The `losslab` command line: the app and its entry point. Each group of commands lives in its
own module (imported here in the order `--help` lists them); every library error
(``LossLabError``) becomes one line on stderr and exit code 1; usage errors are typer's (exit 2)."""

from __future__ import annotations

import importlib
import sys

import typer

from losslab.cli.common import _output_failed, app

# Each module registers its commands on ``app``, in the order `losslab --help` lists them.
for _group in ("evaluate", "catalog", "fit", "compare", "views"):
    importlib.import_module(f"losslab.cli.{_group}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except OSError as exc:  # --help or --version on a full disk or a closed pipe
        try:
            _output_failed(exc)
        except typer.Exit as done:
            sys.exit(done.exit_code)
