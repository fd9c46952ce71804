"""Issue 23: a study killed with SIGKILL at any moment, then `--resume`d, equals the study run
without interruption, value for value (times aside).

The kill points are chosen by events, never by clock time: the test-only hook
LOSSLAB_TEST_STALL=stage:k:file, with which the study's process announces (by writing ``file``)
that it is inside its k-th write of a run file, a cache entry or one of the study's derived
files, half of it written (stage ``run``, ``cache``, ``derived``), or just after it (``run+``,
``cache+``: between runs, while other runs are under way), and waits there to be killed.
The points themselves are drawn from a seeded generator.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from conftest import Cli
from test_interrupt import SAFETY, Losslab
from test_survive import numbers, studies

from losslab.study.store import TEST_STALL

STUDY = ["iris", "--optimizer", "sgd,adam,rmsprop", "--seeds", "2", "--epochs", "3"]
RUNS = 6
DERIVED = 5  # config.json, runs.csv, curves.csv, summary.csv, summary.json
_draw = random.Random(23)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The study run without interruption (no cache, one job)."""
    out = tmp_path_factory.mktemp("reference")
    Cli().json("compare", *STUDY, "--jobs", "1", "--no-cache", "--out", out, "--progress", "none")
    (study,) = studies(out)
    return study


def _wait_for_file(process: Losslab, path: Path) -> None:
    deadline = time.monotonic() + SAFETY  # a safety net only: the event is the file
    while not path.exists():
        if process.proc.poll() is not None:
            pytest.fail(f"exited {process.proc.returncode} first:\n{''.join(process.stderr)}")
        assert time.monotonic() < deadline, "the study never reached its kill point"
        time.sleep(0.005)


def _kill_and_resume(tmp_path, monkeypatch, reference, execution, stage, k) -> dict:
    out, announce = tmp_path / "studies", tmp_path / "reached"
    monkeypatch.setenv(TEST_STALL, f"{stage}:{k}:{announce}")
    args = ["compare", *STUDY, *execution, "--out", str(out), "--cache", str(out / ".cache")]
    process = Losslab([*args, "--format", "json"], tmp_path, new_session=True)
    try:
        _wait_for_file(process, announce)
        os.killpg(process.proc.pid, signal.SIGKILL)  # the study and every worker it started
        process.proc.wait(timeout=SAFETY)
    finally:
        process.kill()
    monkeypatch.delenv(TEST_STALL, raising=False)
    (study,) = studies(out)
    if stage in ("run", "cache"):  # killed with a half-written temporary in place
        where = study / "runs" if stage == "run" else out / ".cache"
        assert list(where.glob(".*.tmp")), "the kill was not inside the write"
    resumed = Cli().json("compare", "--resume", study, "--progress", "none")  # its cache: beside
    assert resumed["ran"] + resumed["reused"] == RUNS
    assert not list((study / "runs").glob(".*.tmp"))
    for name in ("runs.csv", "curves.csv"):
        assert numbers(study, name) == numbers(reference, name), name
    return resumed


POINTS = [
    *(("cache+", _draw.randint(1, RUNS - 1)) for _ in range(2)),
    ("run+", _draw.randint(1, RUNS)),
    *(("run", _draw.randint(1, RUNS)) for _ in range(2)),
    ("cache", _draw.randint(1, RUNS)),
    *(("derived", k) for k in sorted(_draw.sample(range(1, DERIVED + 1), 2))),
]


@pytest.mark.parametrize(("stage", "k"), POINTS)
def test_a_kill_at_any_point_then_resume_equals_the_uninterrupted_study(
    tmp_path, monkeypatch, reference, stage, k
):
    resumed = _kill_and_resume(tmp_path, monkeypatch, reference, ["--jobs", "1"], stage, k)
    expected = {"run": k - 1, "run+": k, "cache": k, "cache+": k, "derived": RUNS}[stage]
    assert resumed["reused"] == expected


@pytest.mark.parametrize(
    ("stage", "k"), [("cache+", _draw.randint(1, RUNS - 1)), ("run", _draw.randint(2, RUNS))]
)
def test_with_two_worker_processes(tmp_path, monkeypatch, reference, stage, k):
    resumed = _kill_and_resume(tmp_path, monkeypatch, reference, ["--jobs", "2"], stage, k)
    assert resumed["reused"] == (k if stage == "cache+" else k - 1)


@pytest.mark.parametrize(
    ("stage", "k"), [("cache+", _draw.randint(1, RUNS - 1)), ("run", _draw.randint(2, RUNS))]
)
def test_on_a_dask_cluster(tmp_path, monkeypatch, reference, stage, k):
    pytest.importorskip("distributed")
    execution = ["--executor", "dask", "--jobs", "2"]
    resumed = _kill_and_resume(tmp_path, monkeypatch, reference, execution, stage, k)
    assert resumed["reused"] == (k if stage == "cache+" else k - 1)


def test_a_study_stopped_by_ctrl_c_is_resumed_and_loses_its_partial_name(tmp_path):
    """Ctrl-C keeps the finished runs' files (not the one it stopped: a resume runs it again);
    the partial study, resumed, is the whole study under its own name again."""
    study = ["iris", "--optimizer", "sgd,adam,rmsprop", "--seeds", "1", "--epochs", "1500"]
    study += ["--jobs", "1", "--no-cache"]
    process = Losslab(
        ["compare", *study, "--out", "studies", "--progress", "lines"], tmp_path, new_session=True
    )
    try:
        process.wait_for("runs 1/3")
        os.killpg(process.proc.pid, signal.SIGINT)
        code, _, err = process.finish()
    finally:
        process.kill()
    assert code == 130, err
    (partial,) = studies(tmp_path / "studies")
    assert partial.name.endswith("-partial")
    kept = len(list((partial / "runs").glob("*.json")))
    assert 1 <= kept < 3
    resumed = Cli().json("compare", "--resume", partial, "--progress", "none")
    assert (resumed["ran"], resumed["reused"]) == (3 - kept, kept)
    (whole,) = studies(tmp_path / "studies")
    assert whole.name == partial.name.removesuffix("-partial")
    assert resumed["record"] == str(whole) and resumed["partial"] is False
    Cli().json("compare", *study, "--out", tmp_path / "ref", "--progress", "none")
    (reference,) = studies(tmp_path / "ref")
    for name in ("runs.csv", "curves.csv"):
        assert numbers(whole, name) == numbers(reference, name), name
