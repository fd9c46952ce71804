"""Ctrl-C: `fit` stops after the current batch and still saves its record; `compare` keeps the
finished runs and saves a study marked partial. Real processes, a real SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")


def _interrupt(args: list[str], tmp_path: Path, wait_for: str) -> subprocess.CompletedProcess:
    """Start `losslab …`, wait until ``wait_for`` exists below tmp_path's marker, send SIGINT."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "losslab", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    time.sleep(float(wait_for))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_fit_interrupted_saves_record(tmp_path):
    done = _interrupt(
        ["fit", "digits", "--epochs", "100000", "--format", "json", "--out", "runs"],
        tmp_path,
        "2.5",
    )
    assert done.returncode == 130, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "interrupted" and 0 < out["epochs_run"] < 100000
    assert "interrupted" in done.stderr and "Traceback" not in done.stderr
    (record,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((record / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    assert len((record / "history.csv").read_text().splitlines()) == out["epochs_run"] + 1


def test_compare_interrupted_keeps_finished_runs(tmp_path):
    done = _interrupt(
        [
            "compare",
            "digits",
            "--optimizer",
            "sgd,adam",
            "--seeds",
            "400",
            "--epochs",
            "60",
            "--jobs",
            "2",
            "--format",
            "json",
            "--out",
            "studies",
        ],
        tmp_path,
        "4",
    )
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    out = json.loads(done.stdout)
    assert out["partial"] is True and 0 < len(out["runs"]) < 800
    (study,) = (tmp_path / "studies").iterdir()
    assert study.name.endswith("-partial")
    config = json.loads((study / "config.json").read_text())
    assert config["partial"] is True
    assert len((study / "runs.csv").read_text().splitlines()) == len(out["runs"]) + 1
