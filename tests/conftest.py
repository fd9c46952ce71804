from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from losslab.cli import app


class Cli:
    """Runs `losslab` in-process through Typer's CliRunner."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: Any, code: int | None = 0):
        result = self.runner.invoke(app, [str(a) for a in args])
        if code is not None:
            assert result.exit_code == code, (
                f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}\n"
                f"exception: {result.exception!r}"
            )
        return result

    def json(self, *args: Any) -> Any:
        return json.loads(self(*args, "--format", "json").stdout)

    def error(self, *args: Any, code: int = 1) -> str:
        """The one-line error of a failing command (no traceback)."""
        result = self(*args, code=code)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert "Traceback" not in result.stderr
        if code == 1:
            assert len(lines) == 1, result.stderr
        return result.stderr.strip()


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def write_csv(tmp_path: Path):
    def write(text: str, name: str = "data.csv") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def without_matplotlib(monkeypatch):
    """Make ``import matplotlib`` fail, as where the plot extra is not installed."""
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
