"""Nothing lost, nothing hangs: a failed save never throws away a finished result, unfinished
record directories are never read and are cleaned up once their writer is gone, and stdout on a
full disk or a closed pipe ends in one line (or quietly), never in a traceback."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import losslab
from losslab.study import records

ROOT = str(Path(losslab.__file__).resolve().parent.parent)
FIT = ("fit", "iris", "--epochs", "2")
COMPARE = ("compare", "iris", "--epochs", "2", "--seeds", "1", "--optimizer", "gd", "--jobs", "1")


def _stderr_lines(result) -> list[str]:
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if line.strip()]


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


# --------------------------------------------------------------------------- failed saves


@pytest.mark.parametrize(
    "where",
    ["file", "dev-null", "below-file"],
)
def test_fit_result_survives_an_unusable_out(cli, tmp_path, where):
    (tmp_path / "file").write_text("x")
    out = {
        "file": tmp_path / "file",
        "dev-null": Path(os.devnull),
        "below-file": tmp_path / "file" / "results",
    }[where]
    result = cli(*FIT, "--format", "json", "--out", out, code=1)
    assert json.loads(result.stdout)["status"] == "completed"
    assert json.loads(result.stdout)["record"] is None
    (line,) = _stderr_lines(result)
    assert "cannot save the record" in line and str(out)[:20] in line


def test_fit_disk_full_at_fsync(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", _no_space)
    result = cli(*FIT, "--out", tmp_path / "res", code=1)
    assert "test accuracy" in result.stdout  # the table is printed
    (line,) = _stderr_lines(result)
    assert line.endswith(f"cannot save the record to {tmp_path / 'res'}: No space left on device")
    assert list((tmp_path / "res").iterdir()) == []  # nothing half-written is left


def test_fit_disk_full_at_open(cli, tmp_path, monkeypatch):
    import builtins

    real_open = builtins.open

    def full_open(file, mode="r", *args, **kwargs):
        if "w" in mode and ".partial-" in str(file):
            _no_space()
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full_open)
    result = cli(*FIT, "--format", "csv", "--out", tmp_path / "res", code=1)
    assert result.stdout.startswith("name,value\nstatus,completed")
    assert "No space left on device" in _stderr_lines(result)[0]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_fit_unwritable_results(cli, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = cli(*FIT, "--format", "json", "--out", locked, code=1)
    finally:
        locked.chmod(0o700)
    assert json.loads(result.stdout)["record"] is None
    assert "Permission denied" in _stderr_lines(result)[0]


def test_compare_study_survives_failed_save_and_plot(cli, tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "file").write_text("x")
    result = cli(
        *COMPARE,
        "--format",
        "json",
        "--out",
        tmp_path / "file",
        "--plot",
        tmp_path / "file" / "curves.png",
        code=1,
    )
    study = json.loads(result.stdout)
    assert study["record"] is None and len(study["runs"]) == 1
    save, plot = _stderr_lines(result)
    assert "cannot save the record" in save
    assert f"cannot write the plot {tmp_path / 'file' / 'curves.png'}" in plot


def test_compare_disk_full_keeps_the_table(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", _no_space)
    result = cli(*COMPARE, "--out", tmp_path, code=1)
    assert "gd" in result.stdout and "saved:" not in result.stdout
    assert "No space left on device" in _stderr_lines(result)[0]
    assert list(tmp_path.iterdir()) == []


def test_plot_to_unwritable_place(cli, tmp_path):
    pytest.importorskip("matplotlib")
    run = Path(cli.json(*FIT, "--out", tmp_path)["record"])
    (tmp_path / "file").write_text("x")
    line = cli.error("plot", run, "--output", tmp_path / "file" / "x.png")
    assert f"cannot write the plot {tmp_path / 'file' / 'x.png'}: not a directory" in line


# --------------------------------------------------------------------------- unfinished records


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def _partial(base: Path, pid: int) -> Path:
    directory = base / f"{records.partial_prefix(pid)}abc123"
    directory.mkdir(parents=True)
    (directory / "config.json").write_text("{}")
    return directory


def test_stale_partials_are_removed_live_ones_kept(cli, tmp_path):
    stale = _partial(tmp_path, _dead_pid())
    live = _partial(tmp_path, os.getppid())  # a running process: a concurrent writer
    legacy = tmp_path / ".partial-xyz"  # no writer PID: cannot tell, so keep it
    legacy.mkdir()
    elsewhere = tmp_path / f"{records.PARTIAL}{stale.name.split('-')[1]}-0badf00d-x"
    elsewhere.mkdir()  # another host's PID: cannot tell either
    record = Path(cli.json(*FIT, "--out", tmp_path)["record"])
    assert record.is_dir() and not stale.exists() and live.exists() and legacy.exists()
    assert elsewhere.exists()


@pytest.mark.parametrize("command", ["plot", "predict", "eval"])
def test_partials_are_never_read(cli, tmp_path, command):
    run = Path(cli.json(*FIT, "--out", tmp_path)["record"])
    partial = tmp_path / f"{records.partial_prefix(_dead_pid())}x1"
    run.rename(partial)
    args = {
        "plot": ("plot", partial),
        "predict": ("predict", partial, "iris"),
        "eval": ("eval", "iris", "--model", partial / "model.json"),
    }[command]
    line = cli.error(*args)
    assert "unfinished record" in line and partial.name in line


def test_kill_during_write_leaves_a_partial_that_the_next_run_removes(cli, tmp_path):
    code = (
        "import os, signal, sys\n"
        "os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"
        "from losslab.cli import main\n"
        "sys.argv = ['losslab', 'fit', 'iris', '--epochs', '2', '--out', sys.argv[1]]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert done.returncode == -9
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(records.PARTIAL)
    assert "unfinished record" in cli.error("plot", left)
    cli.json(*FIT, "--out", tmp_path)
    assert not left.exists()


# --------------------------------------------------------------------------- stdout


def _run_all(commands: list[tuple[str, ...]], stdout: list[int], cwd: Path) -> list:
    """Run every command at once (each on its own stdout descriptor); their results in order."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "losslab", *args],
            stdout=fd,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": ROOT},
        )
        for args, fd in zip(commands, stdout, strict=True)
    ]
    for fd in stdout:
        os.close(fd)
    return [(proc.communicate(timeout=120)[1], proc.returncode) for proc in procs]


def _commands(tmp_path: Path) -> list[tuple[str, ...]]:
    return [
        (*FIT, "--out", str(tmp_path / "res")),
        ("datasets",),
        ("losses", "--format", "csv"),
        ("eval", "diabetes-predictions", "--format", "json"),
        ("predict", str(tmp_path / "model.json"), "iris"),
        ("eval", "iris", "--model", str(tmp_path / "model.json")),
        (*COMPARE, "--no-save"),
        ("--version",),
    ]


def _model(tmp_path: Path) -> None:
    run = losslab.fit("iris", epochs=2, save=True, out=str(tmp_path / "first"))
    (tmp_path / "model.json").write_text(Path(run.record, "model.json").read_text())


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_on_a_full_disk(tmp_path):
    _model(tmp_path)
    commands = _commands(tmp_path)
    full = [os.open("/dev/full", os.O_WRONLY) for _ in commands]
    for args, (stderr, code) in zip(commands, _run_all(commands, full, tmp_path), strict=True):
        assert code == 1, (args, stderr)
        assert stderr == "error: cannot write output: No space left on device\n", args
    (record,) = (tmp_path / "res").iterdir()  # fit saved its record before printing
    assert (record / "model.json").is_file()


@pytest.mark.skipif(os.name != "posix", reason="needs a POSIX pipe")
def test_stdout_on_a_closed_pipe(tmp_path):
    _model(tmp_path)
    commands = _commands(tmp_path)[::2]  # every writer path, half the processes
    ends = []
    for _ in commands:
        read, write = os.pipe()
        os.close(read)  # the reader is gone before the first byte: every write is EPIPE
        ends.append(write)
    for args, (stderr, code) in zip(commands, _run_all(commands, ends, tmp_path), strict=True):
        assert code == 1, (args, stderr)
        assert stderr == "", args


def test_fit_unwritable_results_simulated(cli, tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "mkdir", denied)  # the record's new directory
    result = cli(*FIT, "--format", "json", "--out", tmp_path, code=1)
    assert json.loads(result.stdout)["record"] is None
    (line,) = _stderr_lines(result)
    assert line.endswith(f"cannot save the record to {tmp_path}: Permission denied")


# --------------------------------------------------------------------------- modes


@pytest.fixture
def umask():
    """``os.umask`` for one test: the process's umask is restored afterwards."""
    before = os.umask(0o022)
    os.umask(before)
    yield os.umask
    os.umask(before)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize(
    ("mask", "directory", "file"), [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)]
)
def test_records_and_reports_follow_the_umask(cli, tmp_path, umask, mask, directory, file):
    umask(mask)
    out = tmp_path / "results"
    run = Path(json.loads(cli(*FIT, "--format", "json", "--out", out).stdout)["record"])
    cli(*COMPARE, "--format", "json", "--out", out)
    cli("report", run)
    assert _mode(out) == directory
    records_made = [p for p in out.iterdir() if p.is_dir()]
    assert len(records_made) == 2
    for record in records_made:
        assert _mode(record) == directory, record.name
        for f in record.rglob("*"):  # a study's run files are in its runs/
            assert _mode(f) == (directory if f.is_dir() else file), f"{record.name}/{f.name}"
    assert (run / "report.html").exists()
