"""When a run ends before its last epoch: divergence, early stopping, Ctrl-C.

- **Divergence**: the training objective f(θ) (loss + penalty) is not finite, or exceeds
  ``--divergence-factor`` × f(θ₀), the objective at the starting parameters (when f(θ₀) > 0).
  The epoch that diverges is marked and gets no history row.
- **Early stopping** (``--patience P``, ``--tol τ``): the monitored loss (validation when there
  are validation rows, else training) improves when it drops below best − τ; after P epochs
  without improvement the run stops and, in memory, the parameters of the best epoch return.
- **Interruption**: Ctrl-C sets a flag the loops read after each step; the run ends after the
  epoch in progress is evaluated, with status ``interrupted``.

Both :func:`losslab.train.loop.train` and the streamed loop (:mod:`losslab.train.stream`) end
their runs through these pieces; :class:`Ending` is what a result reports of it.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

DIVERGED_HINT = "lower --lr (or keep --standardize on, or add --clip-norm)"
OVERFLOWED = "the loss or the parameters overflowed"


class Interrupt:
    """Ctrl-C (SIGINT) or SIGTERM sets a flag that the loop reads after each batch (main thread
    only): either way the run ends after its epoch, and what was done is kept. ``signal`` names
    the one that came ("SIGINT", "SIGTERM"; None before)."""

    signal: str | None = None  # (a class default: subclasses need not call __init__)

    def __init__(self) -> None:
        self.requested = False

    @contextmanager
    def installed(self) -> Iterator[Interrupt]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum: int, frame: Any) -> None:
            self.requested = True
            self.signal = signal.Signals(signum).name

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, action in previous.items():
                signal.signal(sig, action)


def divergence(objective: float, ceiling: float, factor: float, initial: float) -> str:
    """Why a run has diverged at this training objective, or "" while it has not."""
    if not math.isfinite(objective):
        return OVERFLOWED
    if objective > ceiling:
        return f"objective {objective:.4g} > {factor:g} × the initial {initial:.4g}"
    return ""


class Divergence:
    """The yardstick of divergence: ``factor`` × the initial objective f(θ₀) (none when
    f(θ₀) ≤ 0), and non-finite objectives."""

    def __init__(self, initial: float, factor: float) -> None:
        self.initial, self.factor = initial, factor
        self.ceiling = factor * initial if initial > 0 else math.inf

    def why(self, objective: float) -> str:
        """Why ``objective`` means divergence, or "" while it does not."""
        return divergence(objective, self.ceiling, self.factor, self.initial)


class EarlyStopping:
    """``--patience``/``--tol``: stop after ``patience`` epochs whose monitored loss did not
    drop below best − ``tol``; remembers the best epoch (and its θ, when given one)."""

    def __init__(self, patience: int | None, tol: float) -> None:
        self.patience, self.tol = patience, tol
        self.best, self.best_epoch, self.waited = math.inf, 0, 0
        self.best_theta: np.ndarray | None = None

    def stop(self, epoch: int, monitored: float, theta: np.ndarray | None = None) -> bool:
        """Whether the run stops after ``epoch`` whose monitored loss is ``monitored``; an
        improvement keeps a copy of ``theta``. Without patience, never."""
        if self.patience is None:
            return False
        if monitored < self.best - self.tol:
            self.best, self.best_epoch, self.waited = monitored, epoch, 0
            if theta is not None:
                self.best_theta = theta.copy()
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore(self, theta: np.ndarray) -> None:
        """θ ← the best epoch's θ (unchanged if no epoch improved)."""
        if self.best_theta is not None:
            theta[...] = self.best_theta


@dataclass
class Ending:
    """How a run ended: ``status`` (completed, early_stopped, diverged or interrupted) and,
    for a diverged run, the epoch and the reason."""

    status: str = "completed"
    diverged_at: int | None = None
    why: str = ""

    def diverge(self, epoch: int, why: str) -> None:
        self.status, self.diverged_at, self.why = "diverged", epoch, why

    def interrupt(self, by: str | None) -> None:
        """Stopped by a signal: Ctrl-C says nothing more, SIGTERM is named."""
        self.status = "interrupted"
        if by == "SIGTERM":
            self.why = "stopped by SIGTERM"

    @property
    def message(self) -> str | None:
        if not self.why:
            return None
        if self.status == "interrupted":
            return self.why
        return f"diverged at epoch {self.diverged_at} ({self.why}): {DIVERGED_HINT}"

    def epochs_run(self, rows: int) -> int:
        """The epochs a result reports: its history rows, or the epoch that diverged."""
        return (self.diverged_at or 0) if self.status == "diverged" else rows
