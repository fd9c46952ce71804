"""Ctrl-C (and SIGTERM) at any moment is one line and the right exit code: while Python loads,
while a command is built, while pandas reads the data, during an lr sweep; SIGTERM keeps a fit's
record as Ctrl-C does. (A hostile tester found a traceback, exit 1 as "a bad file", exit 0 and a
lost run.)"""

from __future__ import annotations

import json
import signal

import pandas as pd
import pytest
from test_interrupt import Losslab

import losslab.cli
import losslab.cli.group
from losslab.cli.common import Commands
from losslab.data import read


def test_ctrl_c_while_the_cli_loads_is_one_line(monkeypatch, capsys):
    def loading() -> None:
        raise KeyboardInterrupt  # as if Ctrl-C came while typer and NumPy were imported

    monkeypatch.setattr(losslab.cli.group, "main", loading)
    with pytest.raises(SystemExit) as info:
        losslab.cli.main()
    assert info.value.code == 130
    assert capsys.readouterr().err == "error: interrupted\n"


def test_ctrl_c_while_a_command_is_built_is_one_line(cli, monkeypatch):
    def building(*args, **kwargs):
        raise KeyboardInterrupt  # importing the command's module and registries

    monkeypatch.setattr(Commands, "build", building)
    result = cli("datasets", code=130)
    assert result.stderr == "error: interrupted\n"


def test_ctrl_c_inside_pandas_reader_is_not_a_bad_file(monkeypatch, tmp_path):
    """pandas' C reader turns a KeyboardInterrupt in its read() into a ParserError ("Calling
    read(nbytes) on source failed"): read_table gives the interrupt back."""
    path = tmp_path / "a.csv"
    path.write_text("x,y\n1,2\n3,4\n")

    def reading(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            raise pd.errors.ParserError("Calling read(nbytes) on source failed.") from None

    monkeypatch.setattr(pd, "read_csv", reading)
    with pytest.raises(KeyboardInterrupt):
        read.read_table(path)


def test_a_real_parser_error_is_still_a_bad_file(cli, tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("x,y\n1,2\n3,4,5,6\n")
    assert "line 3" in cli.error("fit", path, "--no-save")


def test_ctrl_c_during_lr_find_exits_130_with_the_sweep_so_far(cli, monkeypatch):
    from losslab.study import lrfind

    heard = lrfind._Recorder.__call__

    def hearing(self, lr, loss):
        heard(self, lr, loss)
        if len(self.lrs) == 20:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(lrfind._Recorder, "__call__", hearing)
    result = cli("lr-find", "iris", "--steps", "100", "--format", "json", code=130)
    out = json.loads(result.stdout)
    assert len(out["points"]) == out["sweep"]["steps_run"] == 20
    assert result.stderr.strip() == (
        "error: interrupted at step 20 of 100; the suggestions are from the steps done"
    )


def test_sigterm_keeps_a_fit_as_ctrl_c_does(tmp_path):
    run = Losslab(
        ["fit", "iris", "--epochs", "100000000", "--progress", "lines", "--out", "runs"],
        tmp_path,
    )
    run.wait_for("epoch")  # training: the first progress line
    run.signal(signal.SIGTERM)
    code, _, err = run.finish()
    assert code == 143, err
    assert "error: stopped by SIGTERM at epoch" in err and "the record holds what was done" in err
    (record,) = (tmp_path / "runs").iterdir()
    assert json.loads((record / "metrics.json").read_text())["status"] == "interrupted"
