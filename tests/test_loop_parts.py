"""The named parts of the training loop on their own: early stopping (and the restore of the
best parameters), divergence and how a run ends, the history row, the lr's stepping. The
expectations are worked out by hand from the documented rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from losslab.train.epoch import Stepping
from losslab.train.evaluation import history_row
from losslab.train.stopping import DIVERGED_HINT, Divergence, EarlyStopping, Ending

# (patience, tol, monitored losses, epoch that stops (None: never), best epoch)
STOPS = [
    (2, 0.0, [5, 4, 4, 3, 3, 3], 6, 4),  # 4 = 4 is no improvement: epoch 3 waits
    (1, 0.5, [5, 4.6, 4.4], 2, 1),  # 4.6 is not below 5 − 0.5
    (3, 0.5, [5, 4.4, 4.0, 3.85, 4.2, 3.0], None, 6),  # 3.85 < 4.4 − 0.5; 4.0 is not
    (None, 0.0, [1, 2, 3, 4, 5], None, 0),  # no patience: never, and nothing kept
    (2, 0.0, [math.nan, math.nan, 1.0], 2, 0),  # nan never improves
]


@pytest.mark.parametrize(("patience", "tol", "losses", "stops", "best"), STOPS)
def test_early_stopping_stops_after_patience_epochs_without_improvement(
    patience, tol, losses, stops, best
):
    stopper = EarlyStopping(patience, tol)
    stopped = None
    for epoch, loss in enumerate(losses, start=1):
        if stopper.stop(epoch, loss):
            stopped = epoch
            break
    assert stopped == stops
    assert stopper.best_epoch == best


def test_early_stopping_restores_the_best_epochs_parameters_not_a_view_of_them():
    theta = np.zeros(3)
    stopper = EarlyStopping(2, 0.0)
    for epoch, loss in enumerate([3.0, 1.0, 2.0, 2.0], start=1):
        theta[...] = epoch  # θ after epoch e: all e
        if stopper.stop(epoch, loss, theta):
            break
    assert epoch == 4 and stopper.best_epoch == 2
    stopper.restore(theta)
    np.testing.assert_array_equal(theta, [2.0, 2.0, 2.0])


def test_restore_without_an_improvement_leaves_the_parameters():
    theta = np.array([7.0, 8.0])
    stopper = EarlyStopping(1, 0.0)
    assert stopper.stop(1, math.nan, theta)
    stopper.restore(theta)
    np.testing.assert_array_equal(theta, [7.0, 8.0])


# (initial objective, factor, objective, diverged?)
DIVERGENCES = [
    (2.0, 10.0, 19.9, False),
    (2.0, 10.0, 20.0, False),  # the ceiling itself is allowed: "exceeds"
    (2.0, 10.0, 20.1, True),
    (2.0, 10.0, math.nan, True),
    (2.0, 10.0, math.inf, True),
    (0.0, 10.0, 1e300, False),  # f(θ₀) = 0 gives no ceiling
    (-1.0, 10.0, 1e300, False),
    (-1.0, 10.0, -math.inf, True),  # only finite objectives count
]


@pytest.mark.parametrize(("initial", "factor", "objective", "diverged"), DIVERGENCES)
def test_divergence_is_a_non_finite_objective_or_one_above_factor_times_the_initial(
    initial, factor, objective, diverged
):
    why = Divergence(initial, factor).why(objective)
    assert bool(why) == diverged
    if diverged and math.isfinite(objective):
        assert why == f"objective {objective:.4g} > {factor:g} × the initial {initial:.4g}"


def test_an_ending_reports_the_epoch_that_diverged_and_why():
    ending = Ending()
    assert (ending.status, ending.message, ending.epochs_run(3)) == ("completed", None, 3)
    ending.diverge(4, "the loss or the parameters overflowed")
    assert ending.status == "diverged" and ending.diverged_at == 4
    assert ending.epochs_run(3) == 4  # the epoch that diverged counts; it has no row
    assert ending.message == (
        f"diverged at epoch 4 (the loss or the parameters overflowed): {DIVERGED_HINT}"
    )


def test_the_history_row_monitors_validation_and_reports_the_test_metric():
    row, monitored = history_row(3, 0.1, 0.75, "accuracy", (0.5, 0.8))
    assert list(row) == [
        "epoch", "train_loss", "test_loss", "lr", "objective", "train_accuracy", "accuracy",
    ]  # fmt: skip
    assert (monitored, row["accuracy"], row["test_loss"]) == (0.5, 0.8, None)
    row, monitored = history_row(3, 0.1, 0.75, "accuracy", (0.5, 0.8), (0.6, 0.7), (0.9, 0.6))
    assert list(row) == [
        "epoch", "train_loss", "test_loss", "lr", "objective", "train_accuracy",
        "val_loss", "val_accuracy", "test_accuracy", "accuracy",
    ]  # fmt: skip
    assert monitored == 0.6  # the validation loss, not the training one
    assert (row["test_loss"], row["test_accuracy"], row["accuracy"]) == (0.9, 0.6, 0.6)
    assert row["val_accuracy"] == 0.7 and row["train_accuracy"] == 0.8


class _Schedule:
    """A schedule whose unit k has lr k + 1, recording what it observes."""

    def __init__(self, unit: str, stateful: bool = False) -> None:
        self.unit, self.stateful, self.seen = unit, stateful, []

    def at(self, k: int) -> float:
        return k + 1.0

    def observe(self, k: int, loss: float) -> None:
        self.seen.append((k, loss))


def test_stepping_per_epoch_per_step_and_on_plateau():
    per_epoch = Stepping(_Schedule("epoch"), full_batch=False)
    assert not per_epoch.per_step and per_epoch.epoch_lr(3) == 3.0  # epoch 3 is unit 2
    per_step = Stepping(_Schedule("step"), full_batch=False)
    assert per_step.per_step and math.isnan(per_step.epoch_lr(3))
    full = Stepping(_Schedule("step"), full_batch=True)  # full batch, a step is an epoch
    assert not full.per_step and full.epoch_lr(3) == 3.0
    plateau = _Schedule("epoch", stateful=True)
    Stepping(plateau, full_batch=False).observe(5, 0.25)
    stateless = _Schedule("epoch")
    Stepping(stateless, full_batch=False).observe(5, 0.25)
    assert plateau.seen == [(4, 0.25)] and stateless.seen == []
