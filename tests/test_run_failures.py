"""A run's failure stays that run's: step-size arithmetic beyond the float64 range gives inf
(a diverged run, as for every other optimizer), and a run that raises anyway is kept in its
study as a failed run beside the others."""

from __future__ import annotations

import json
import math

import pytest

from losslab.optim.optimizers import power
from losslab.study import runner

HUGE = [
    ("asgd", "--alpha", "1e300"),  # η = lr/(1 + λ·lr·t)^α: (1 + 5e-6)^1e300 = inf, η = 0
    ("schedule-free-sgd", "--lr", "1e160"),  # weight lr_max²: 1e320
    ("schedule-free-sgd", "--lr", "1.5e154"),
    ("schedule-free-adamw", "--r", "1e300"),  # weight t^r: 2^1e300
]


@pytest.mark.parametrize(
    ("x", "y", "want"),
    [
        (2.0, 0.5, math.sqrt(2.0)),
        (1e160, 2.0, math.inf),
        (2, 1e300, math.inf),
        (1.000005, 1e300, math.inf),
        (-1e160, 3.0, -math.inf),
        (0.5, 1e300, 0.0),
    ],
)
def test_power_overflows_to_inf_as_float64_arithmetic(x, y, want):
    assert power(x, y) == want


@pytest.mark.parametrize(("optimizer", "flag", "value"), HUGE)
def test_fit_with_huge_step_sizes_ends_as_a_run(cli, optimizer, flag, value):
    args = ("fit", "iris", "--epochs", "3", "--no-save", "--optimizer", optimizer, flag, value)
    result = cli(*args, "--format", "json", code=None)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    out = json.loads(result.stdout)
    if out["status"] == "diverged":
        assert result.exit_code == 1
        assert result.stderr.strip().startswith("error: diverged at epoch")
    else:  # asgd: η = 0 after the first step, a finite run
        assert (optimizer, out["status"], result.exit_code) == ("asgd", "completed", 0)


def test_compare_keeps_the_other_runs_of_a_huge_step_size(cli):
    out = cli.json(
        "compare", "iris", "--optimizer", "schedule-free-sgd", "--lr", "0.1,1e160",
        "--epochs", "3", "--seeds", "1", "--jobs", "1", "--no-save", "--progress", "none",
    )  # fmt: skip
    status = {run["lr"]: run["status"] for run in out["runs"]}
    assert status == {0.1: "completed", 1e160: "diverged"}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_run_that_raises_is_that_runs_failure(cli, tmp_path, monkeypatch, jobs):
    real = runner.train

    def train(problem, split, config, **kw):
        if config.lr == 0.2:
            raise ZeroDivisionError("float division by zero\nsecond line")
        return real(problem, split, config, **kw)

    monkeypatch.setattr(runner, "train", train)  # the workers are forked: they see it too
    result = cli(
        "compare", "iris", "--optimizer", "gd,adam", "--lr", "0.1,0.2", "--epochs", "3",
        "--seeds", "1", "--jobs", jobs, "--progress", "none", "--format", "json",
        "--out", tmp_path, code=1,
    )  # fmt: skip
    out = json.loads(result.stdout)
    status = {(run["optimizer"], run["lr"]): run["status"] for run in out["runs"]}
    assert status == {
        ("gd", 0.1): "completed",
        ("gd", 0.2): "failed",
        ("adam", 0.1): "completed",
        ("adam", 0.2): "failed",
    }
    assert {(row["optimizer"], row["lr"]) for row in out["summary"]} == {("gd", 0.1), ("adam", 0.1)}
    why = "failed: ZeroDivisionError: float division by zero"
    assert result.stderr.strip().splitlines() == [
        f"error: run 1 (gd, lr 0.2, cross-entropy, seed 0) {why}",
        f"error: run 3 (adam, lr 0.2, cross-entropy, seed 0) {why}",
    ]
    # the saved study loads and reports, its failed runs listed with their message
    (record,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    cli("report", record)
    runs_csv = (record / "runs.csv").read_text()
    assert runs_csv.count(",failed,ZeroDivisionError: float division by zero") == 2
