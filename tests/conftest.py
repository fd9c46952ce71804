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


@pytest.fixture(scope="session")
def saved_study(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    """A saved study with a known optimum (l2 = 0.01), three lrs of which one diverges at once,
    two seeds: its directory and its `--format json` output."""
    import losslab

    result = losslab.compare(
        "breast-cancer",
        optimizer=["gd", "adam"],
        lr=[0.01, 0.1, 1e30],
        seeds=2,
        epochs=4,
        l2=0.01,
        jobs=1,
        save=True,
        out=str(tmp_path_factory.mktemp("studies")),
    )
    return Path(result.record), result.to_dict()


@pytest.fixture
def no_matplotlib(monkeypatch) -> None:
    """Every import of matplotlib fails, as where the plot extra is not installed."""
    import builtins

    real = builtins.__import__

    def fake(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
