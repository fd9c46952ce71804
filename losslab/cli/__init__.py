"""The `losslab` command line: one module per group of commands, each only parsing options,
calling the library and rendering the result. The only package that imports typer."""

from losslab.cli.app import app, main

__all__ = ["app", "main"]
