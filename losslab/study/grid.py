"""The grid of a study: optimizers × lrs × losses × batch sizes × architectures × seeds, each cell
one `fit` configuration, checked against the data before anything runs."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import Any

from losslab.errors import ConfigError
from losslab.losses.embedding import find_loss
from losslab.nn.models import check_loss, model_for_loss
from losslab.optim.optimizers import OPTIMIZERS
from losslab.study.problems import (
    _problem_for,
)
from losslab.train.loop import (
    FitConfig,
    Problem,
)

DEFAULT_DATA = "breast-cancer"  # the bare `losslab compare` study
DEFAULT_L2 = 0.01  # its classes are separable: without a penalty there is no finite optimum
DEFAULT_OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
CONFIG_KEYS = ("hidden", "layers", "optimizer", "lr", "loss", "batch_size")
# curves.csv: these, then one column per metric of the study; ``seconds`` is the wall time from
# the start of the run to the end of the epoch (older studies lack val_loss, objective, seconds)
CURVE_COLUMNS = ("run", "epoch", "train_loss", "test_loss", "val_loss", "objective", "seconds")


@dataclass
class Grid:
    """The lists a study varies; ``None`` in lrs/losses/batch_sizes means "the default"."""

    optimizers: list[str]
    lrs: list[float | None]
    losses: list[str | None]
    batch_sizes: list[int | None]
    seeds: int
    hiddens: list[list[int] | None] = field(default_factory=lambda: [None])
    layers: list[str | None] = field(default_factory=lambda: [None])  # cnn stacks

    def configs(self, base: FitConfig) -> list[FitConfig]:
        """Every run, in grid order: architecture, optimizer, lr, loss, batch size, then seed."""
        runs = []
        for hidden, stack, opt, lr, loss, bs, seed in itertools.product(
            self.hiddens,
            self.layers,
            self.optimizers,
            self.lrs,
            self.losses,
            self.batch_sizes,
            range(self.seeds),
        ):
            hyper = _hyper_for(opt, base)
            if hidden is None:
                hidden = base.hidden
            if stack is None:
                stack = base.layers
            runs.append(
                replace(
                    base,
                    optimizer=opt,
                    lr=lr,
                    loss=loss,
                    batch_size=bs,
                    seed=seed,
                    hidden=hidden,
                    layers=stack,
                    hyper=hyper,
                )
            )
        return runs


def _hyper_for(optimizer: str, base: FitConfig) -> dict[str, Any]:
    """Study-wide hyperparameters reach only the optimizers that use them."""
    used = OPTIMIZERS.get(optimizer).hyper_defaults
    return {k: v for k, v in base.hyper.items() if k in used and v is not None}


def resolve_runs(runs: list[FitConfig]) -> tuple[list[FitConfig], list[str]]:
    """(the distinct runs, notes): ``default`` lr, batch size and loss resolved to the values the
    run would use, then runs with identical resolved settings kept once (the first in grid order).

    Needs the worker caches started (:func:`_use_problem`).
    """
    seen: dict[tuple, tuple] = {}
    out: list[FitConfig] = []
    notes: list[str] = []
    for run in runs:
        problem = _problem_for(run)
        spec = OPTIMIZERS.get(run.optimizer)
        name, loss = OPTIMIZERS.resolve(run.optimizer), problem.loss.name
        scaled = run.target_scale != "none"
        lr = run.lr
        if lr is None:
            lr = problem.head.default_lr(name, spec.default_lr, loss, target_scaled=scaled)
        batch = run.batch_size if run.batch_size is not None else spec.default_batch_size
        if spec.rule.full_batch and batch:
            # L-BFGS and Polyak step on the whole objective: a minibatch run is not theirs
            if run.seed == 0:
                notes.append(
                    f"{name} steps on the full batch only (each step uses the whole objective): "
                    f"its runs at batch size {batch} are left out"
                )
            continue
        if batch and not spec.default_batch_size and run.seed == 0:
            # gd, rprop: defined on the whole objective; on minibatches they become stochastic
            note = (
                f"{name} is a full-batch method: at batch size {batch} it steps on minibatches "
                "(stochastic, not the method its name promises)"
            )
            if note not in notes:
                notes.append(note)
        key = (tuple(run.hidden or ()), run.layers, name, lr, loss, batch, run.seed)
        raw = (run.lr, run.batch_size, run.loss)
        if key in seen:
            if run.seed == 0:
                same = [
                    f"{flag} {_given(a)} and {_given(b)} are both {value}"
                    for flag, a, b, value in zip(
                        ("lr", "batch size", "loss"),
                        seen[key],
                        raw,
                        (f"{lr:g}", batch or "full", loss),
                        strict=True,
                    )
                    if a != b
                ]
                what = "; ".join(same) or "the same settings twice"
                notes.append(f"{name} ({loss}): {what}; ran once")
            continue
        seen[key] = raw
        # study-wide loss parameters reach only the losses that take them
        args = {k: v for k, v in run.loss_args.items() if k in problem.loss.params}
        out.append(replace(run, lr=lr, batch_size=batch, loss=loss, loss_args=args))
    if not out:
        raise ConfigError("no run left to do: " + "; ".join(notes))
    return out, notes


def _given(value: Any) -> str:
    return "default" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def validate_grid(grid: Grid, base: FitConfig, problem: Problem) -> None:
    """Reject bad grid values before any run starts, one clear line each."""
    if grid.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {grid.seeds}")
    for name, values in (
        ("--optimizer", grid.optimizers),
        ("--lr", grid.lrs),
        ("--loss", grid.losses),
        ("--batch-size", grid.batch_sizes),
    ):
        if not values:
            raise ConfigError(f"{name} got an empty list")
    for opt in grid.optimizers:
        OPTIMIZERS.resolve(opt)
    for lr in grid.lrs:
        if lr is not None and not (lr > 0 and math.isfinite(lr)):
            raise ConfigError(f"--lr must be > 0, got {lr:g}")
    for bs in grid.batch_sizes:
        if bs is not None and bs < 0:
            raise ConfigError(f"--batch-size must be >= 0 (0 = full batch), got {bs}")
    names = [find_loss(loss).name if loss else problem.loss.name for loss in grid.losses]
    for name in names:
        check_loss(model_for_loss(problem.model, name, score=problem.score_models), name)
    for param in base.loss_params():
        if not any(param in find_loss(name).params for name in names):
            flag = "--" + param.replace("_", "-")
            raise ConfigError(f"{flag} is not used by {', '.join(names)}")
    for run in grid.configs(base)[: len(grid.optimizers)]:
        run.validate()
    if problem.model.images:
        from losslab.nn.layers import check_stack

        for stack in grid.layers:
            check_stack(stack or base.layers, base.image, len(problem.features))


def default_grid() -> Grid:
    return Grid(list(DEFAULT_OPTIMIZERS), [None], [None], [None], 3)
