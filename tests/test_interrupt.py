"""Ctrl-C and killed parents, with real processes and real signals, and no clocks.

Every signal is sent after an event the process emits: the first line of ``--progress lines``, or
the notice a study prints when it has seen a Ctrl-C. Timeouts are only safety nets, far longer
than any of these takes on a loaded machine. `fit` stops after the current batch and saves its
record; `compare` keeps what finished, lists the runs it stopped as ``interrupted`` without
averaging them (whatever ``--jobs``), stops at once on a second Ctrl-C, and leaves no worker
behind, not even when its own process is killed.
"""

from __future__ import annotations

import csv
import ctypes
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import losslab
from losslab.study import records
from losslab.study.grid import default_grid
from losslab.study.runner import _Stop, run_grid
from losslab.train.loop import FitConfig, load_problem

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")

SAFETY = 120  # seconds; only reached when something hangs
STOPPING = "interrupted: the runs under way stop after their current batch"
HAS_PROC = Path("/proc/self/stat").exists()


class Losslab:
    """A running `losslab …` whose stderr the test reads line by line (stdout goes to a file)."""

    def __init__(self, args: list[str], cwd: Path, *, new_session: bool = False) -> None:
        root = str(Path(losslab.__file__).resolve().parents[1])  # the losslab under test
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
        }
        self.stdout_path = cwd / "stdout.txt"
        with open(self.stdout_path, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "losslab", *args],
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
                cwd=cwd,
                env=env,
                start_new_session=new_session,  # its own process group, as in a terminal
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, prefix: str) -> str:
        """Block until a line of stderr starts with ``prefix``; fail if the process ends first."""
        while True:
            line = self.lines.get(timeout=SAFETY)
            if line is None:
                pytest.fail(f"exited {self.proc.wait()} before {prefix!r}:\n{''.join(self.stderr)}")
            if line.startswith(prefix):
                return line

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) once the process has exited."""
        code = self.proc.wait(timeout=SAFETY)
        self.reader.join(timeout=SAFETY)
        return code, self.stdout_path.read_text(), "".join(self.stderr)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def start(tmp_path):
    started: list[Losslab] = []

    def run(*args: str, new_session: bool = False) -> Losslab:
        started.append(Losslab(list(args), tmp_path, new_session=new_session))
        return started[-1]

    yield run
    for process in started:  # a failed test must not leave its processes behind
        process.kill()


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running or stopped; a zombie (dead, waiting to be reaped by its adopter) is gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + SAFETY  # a safety net: they go within a second
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still alive: {[p for p in pids if alive(p)]}"
        time.sleep(0.02)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- fit


def test_fit_of_a_billion_epochs_stops_on_ctrl_c_and_saves_its_record(start, tmp_path):
    """No 10⁹-element schedule first: the first epoch is reported at once, and Ctrl-C stops it."""
    fit = start(
        *("fit", "iris", "--epochs", "1000000000", "--progress", "lines"),
        *("--format", "json", "--out", "runs"),
    )
    first = fit.wait_for("epoch 1/")  # (running-loss lines "epoch 1 batch …" may come first)
    assert first.startswith("epoch 1/1000000000 loss ")
    fit.signal(signal.SIGINT)
    code, out, err = fit.finish()
    assert code == 130, err
    assert "Traceback" not in err and "interrupted at epoch" in err
    result = json.loads(out)
    assert result["status"] == "interrupted" and 0 < result["epochs_run"] < 10**9
    (record,) = (tmp_path / "runs").iterdir()
    assert json.loads((record / "metrics.json").read_text())["status"] == "interrupted"
    assert len(read_csv(record / "history.csv")) == result["epochs_run"]


def test_progress_lines_are_throttled_but_never_skip_the_first_and_last(cli):
    result = cli("fit", "iris", "--epochs", "3000", "--progress", "lines", "--no-save")
    lines = [line for line in result.stderr.splitlines() if re.match(r"epoch \d+/", line)]
    assert lines[0].startswith("epoch 1/3000 loss ")
    assert lines[-1].startswith("epoch 3000/3000 loss ")
    assert len(lines) < 3000 // 10
    quiet = cli("fit", "iris", "--epochs", "30", "--progress", "none", "--no-save")
    assert quiet.stderr == ""


@pytest.mark.parametrize(
    ("command", "target"),
    [
        (["fit", "iris", "--epochs", "3"], f"{load_problem.__module__}.read_table"),  # loading
        (
            ["compare", "iris", "--epochs", "3", "--seeds", "1"],
            "losslab.train.reference.reference_optimum",
        ),
        (["fit", "iris", "--epochs", "3"], "losslab.study.records.os.fsync"),  # saving
        (["compare", "iris", "--epochs", "3", "--seeds", "1"], "losslab.study.records.os.fsync"),
    ],
)
def test_ctrl_c_at_any_other_stage_is_one_line_and_exit_130(
    cli, tmp_path, monkeypatch, command, target
):
    """What the default SIGINT handler raises outside a training loop: KeyboardInterrupt."""

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(target, ctrl_c)
    result = cli(*command, "--optimizer", "gd", "--out", tmp_path / "out", code=130)
    assert result.stderr.strip() == "error: interrupted"
    assert not list((tmp_path / "out").glob("*"))  # no record, not even a half-written one


# --------------------------------------------------------------------------- compare


def test_first_ctrl_c_means_the_same_for_one_and_two_jobs(start, tmp_path):
    """The run under way stops after its batch, is listed as interrupted and is not averaged.

    The grid's first run is full batch (fast), its second has batches of one row (5000 epochs of
    455 steps: minutes, far longer than it takes to see a line and send SIGINT), so when
    "runs 1/2" appears the second is under way, with one job or with two.
    """
    studies = {}
    for jobs in ("1", "2"):
        compare = start(
            *("compare", "--optimizer", "sgd", "--batch-size", "0,1"),
            *("--seeds", "1", "--epochs", "5000", "--jobs", jobs, "--progress", "lines"),
            *("--format", "json", "--out", f"studies-{jobs}"),
        )
        compare.wait_for("runs 1/2")
        compare.signal(signal.SIGINT)
        code, out, err = compare.finish()
        assert code == 130, err
        assert "Traceback" not in err
        assert "1 of 2 runs finished; 1 stopped early (listed, not averaged)" in err
        study = json.loads(out)
        assert study["partial"] is True
        done, stopped = study["runs"]
        assert (done["status"], done["batch_size"]) == ("completed", 0)
        assert (stopped["status"], stopped["batch_size"]) == ("interrupted", 1)
        assert 1 <= stopped["epochs_run"] < 5000
        (row,) = study["summary"]  # only the finished configuration
        assert (row["batch_size"], row["seeds"]) == (0, 1)
        assert row["train_loss_mean"] == done["train_loss"]
        assert len(row["curve"]) == done["epochs_run"]
        (saved,) = (tmp_path / f"studies-{jobs}").iterdir()
        assert [r["status"] for r in read_csv(saved / "runs.csv")] == ["completed", "interrupted"]
        assert len(read_csv(saved / "summary.csv")) == 1
        studies[jobs] = study

    def numbers(study):
        drop = ("seconds", "seconds_mean", "epochs_run")
        return [{k: v for k, v in run.items() if k not in drop} for run in study["runs"][:1]], [
            {k: v for k, v in row.items() if k not in drop} for row in study["summary"]
        ]

    assert numbers(studies["1"]) == numbers(studies["2"])


@pytest.mark.skipif(not HAS_PROC, reason="finds the workers in /proc")
def test_second_ctrl_c_stops_now_and_keeps_what_finished(start, tmp_path):
    """One worker is frozen (SIGSTOP), so only a second Ctrl-C can end the study: it must kill
    the workers, save the finished runs and exit 130 (it used to hang at 0 % CPU)."""
    compare = start(
        *("compare", "--optimizer", "sgd", "--batch-size", "0,1", "--seeds", "2"),
        *("--epochs", "5000", "--jobs", "2", "--progress", "lines"),
        *("--format", "json", "--out", "studies"),
    )
    compare.wait_for("runs 1/4")
    workers = children(compare.proc.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGSTOP)  # it cannot answer the first Ctrl-C
    compare.signal(signal.SIGINT)
    compare.wait_for(STOPPING)
    compare.signal(signal.SIGINT)
    code, out, err = compare.finish()
    wait_gone(workers)
    assert code == 130, err
    assert "Traceback" not in err
    study = json.loads(out)
    assert study["partial"] is True
    statuses = [run["status"] for run in study["runs"]]
    assert "completed" in statuses and set(statuses) <= {"completed", "interrupted"}
    (saved,) = (tmp_path / "studies").iterdir()
    assert saved.name.endswith("-partial")
    assert json.loads((saved / "config.json").read_text())["partial"] is True
    assert len(read_csv(saved / "runs.csv")) == len(study["runs"])


@pytest.mark.skipif(not HAS_PROC, reason="finds the workers in /proc")
def test_ctrl_c_before_any_run_finished_is_one_line(start):
    """Ctrl-C while every run is under way: they stop after their batch and are listed as
    interrupted, none averaged; the empty summary's table must still print (it raised
    ValueError in the table's columns), then the one line and exit 130."""
    compare = start(
        *("compare", "--optimizer", "sgd", "--batch-size", "1", "--seeds", "2"),
        *("--epochs", "100000", "--jobs", "2", "--progress", "lines", "--no-save"),
    )
    deadline = time.monotonic() + SAFETY
    while len(children(compare.proc.pid)) < 2:  # the pool is up: both runs under way
        assert compare.proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    compare.signal(signal.SIGINT)
    compare.wait_for(STOPPING)
    code, out, err = compare.finish()
    assert code == 130, err
    assert "Traceback" not in err and "Error" not in err
    assert "interrupted: 0 of 2 runs finished; 2 stopped early" in err
    assert "optimizer" in out and "PARTIAL" in out  # the (empty) table, and why it is empty


@pytest.mark.skipif(not HAS_PROC, reason="finds the workers in /proc")
def test_workers_die_with_a_killed_parent(start):
    compare = start(
        *("compare", "--optimizer", "sgd", "--batch-size", "0,1", "--seeds", "2"),
        *("--epochs", "5000", "--jobs", "2", "--progress", "lines", "--no-save"),
    )
    compare.wait_for("runs 1/4")
    workers = children(compare.proc.pid)
    assert len(workers) == 2
    compare.signal(signal.SIGKILL)
    compare.finish()
    wait_gone(workers)


@pytest.mark.skipif(not HAS_PROC, reason="finds the workers in /proc")
def test_workers_die_with_their_parent_without_prctl(tmp_path):
    """The portable fallback alone: a thread that sees the parent's pid change."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import signal, sys\n"
        "from losslab.study import workers\n"
        "sys.platform = 'elsewhere'  # no PR_SET_PDEATHSIG: only the watcher thread is left\n"
        "pool = workers.Pool(2, handle=abs, init=int)\n"
        "print(*pool.pids, flush=True)\n"
        "signal.pause()\n"
    )
    root = str(Path(losslab.__file__).resolve().parents[1])
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
    )
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        parent.kill()
        parent.wait(timeout=SAFETY)
        wait_gone(pids)
    finally:
        parent.kill()
        parent.wait()


# --------------------------------------------------------------------------- in process


def test_the_second_ctrl_c_raises_the_third_is_ignored():
    previous = signal.getsignal(signal.SIGINT)
    stop = _Stop(ctypes.c_bool())
    with stop.installed():
        signal.raise_signal(signal.SIGINT)
        assert stop.requested and not stop.now
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        assert stop.now
        signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is previous


@pytest.mark.parametrize("presses", [1, 2])
def test_run_grid_with_one_job_after_a_reported_run(presses):
    """Ctrl-C once a run is reported: the next is under way, so one press stops it after its
    first batch (listed as interrupted) and no other run starts; a second press drops it."""
    base = FitConfig(data="iris", epochs=3, optimizer="gd")
    grid = default_grid()
    grid.optimizers, grid.seeds = ["gd"], 4
    runs = grid.configs(base)

    def progress(done: int, total: int) -> None:
        if done == 1:
            for _ in range(presses):
                signal.raise_signal(signal.SIGINT)

    got, interrupted = run_grid(runs, base, load_problem(base), jobs=1, progress=progress)
    assert interrupted
    statuses = [(r["index"], r["status"], r["epochs_run"]) for r in got]
    if presses == 1:
        assert statuses == [(0, "completed", 3), (1, "interrupted", 1)]
    else:
        assert statuses == [(0, "completed", 3)]


def test_records_are_written_atomically_or_not_at_all(tmp_path, monkeypatch):
    def ctrl_c(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(records.os, "fsync", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        records.write_record(tmp_path, "study", {"a.csv": "x\n", "b.csv": "y\n"})
    assert list(tmp_path.iterdir()) == []
