"""The `losslab` command line: one module per group of commands, each only parsing options,
calling the library and rendering the result. The only package that imports typer.

``main`` is the console script. It imports the app itself, so that a Ctrl-C while Python is
still loading typer and NumPy (the first tenth of a second) is the same one line and exit code
130 as a Ctrl-C later, not a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    try:
        from losslab.cli.group import main as run

        run()
    except KeyboardInterrupt:  # only while loading: every command handles its own Ctrl-C
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)


def __getattr__(name: str) -> Any:
    if name == "app":
        from losslab.cli.group import app

        return app
    raise AttributeError(f"module 'losslab.cli' has no attribute {name!r}")
