"""The problems of a study, cached per process: the data read once, one problem per loss (its
classes encode the target) and one split per seed and loss, reused by every run that shares them."""

from __future__ import annotations

from typing import Any

from losslab.losses.embedding import find_loss
from losslab.train.loop import (
    FitConfig,
    Problem,
    Split,
    load_test,
    prepare,
    with_loss,
)

_worker: dict[str, Any] = {}


def _use_problem(problem: Problem) -> None:
    """Start this process's caches (per-loss problems, per-seed splits) for ``problem``."""
    if _worker.get("problem") is not problem:
        _worker.clear()
        _worker.update(problem=problem, problems={}, splits={})


def _problem_for(config: FitConfig) -> Problem:
    """The shared problem with this run's loss (the model is fixed for a study)."""
    problems: dict[str, Problem] = _worker["problems"]
    problem: Problem = _worker["problem"]
    key = find_loss(config.loss).name if config.loss else problem.loss.name
    if key not in problems:
        problems[key] = with_loss(problem, key, config.loss_params())
    return problems[key]


def _split_for(problem: Problem, config: FitConfig) -> Split:
    # the split depends on the loss too: a margin loss makes a linear model a classifier,
    # whose split is stratified
    key = (config.seed, problem.loss.name)
    if key not in _worker["splits"]:
        test = None
        if config.test_data is not None:  # read once per loss (its classes encode the target)
            tests = _worker.setdefault("tests", {})
            if problem.loss.name not in tests:
                tests[problem.loss.name] = load_test(problem, config.test_data)
            test = tests[problem.loss.name]
        _worker["splits"][key] = prepare(config, problem, test)[1]
    return _worker["splits"][key]
