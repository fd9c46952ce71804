"""Learning-rate schedules: the lr of each epoch, from the base lr and the run's length.

Epochs are 0-based here (the training loop's epoch 1 uses ``lr_at(0, ...)``). With ``warmup = w``
epochs of linear warm-up, epoch ``e < w`` uses ``base_lr·(e+1)/(w+1)`` — a ramp that reaches
``base_lr`` at the first epoch after it — and epoch ``e ≥ w`` runs the schedule at ``e' = e − w``
over the ``T' = epochs − w`` remaining epochs, so every schedule starts from ``base_lr``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, overload

from losslab.errors import ConfigError
from losslab.registry import Registry


@dataclass(frozen=True)
class ScheduleParams:
    """The knobs of every schedule, validated together."""

    step_size: int = 10
    decay: float = 0.5
    power_t: float = 0.5
    min_lr: float = 0.0


Rate = Callable[[int, int, float, ScheduleParams], float]


@dataclass(frozen=True)
class Schedule:
    """A registry entry: ``rate(e', T', base_lr, params)`` after warm-up, and a line of help."""

    name: str
    rate: Rate
    description: str  # one line, with the formula
    uses: tuple[str, ...]  # the ScheduleParams fields it reads

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "uses": list(self.uses)}


SCHEDULES: Registry[Schedule] = Registry("schedule")


def _schedule(name: str, description: str, uses: tuple[str, ...] = ()) -> Callable[[Rate], Rate]:
    def deco(rate: Rate) -> Rate:
        SCHEDULES.add(name, Schedule(name, rate, description, uses))
        return rate

    return deco


@_schedule("constant", "lr every epoch")
def _constant(e: int, T: int, lr: float, p: ScheduleParams) -> float:
    return lr


@_schedule("step", "lr·decay^⌊e/step_size⌋ (torch StepLR)", ("step_size", "decay"))
def _step(e: int, T: int, lr: float, p: ScheduleParams) -> float:
    return lr * p.decay ** (e // p.step_size)


@_schedule("exponential", "lr·decay^e (torch ExponentialLR)", ("decay",))
def _exponential(e: int, T: int, lr: float, p: ScheduleParams) -> float:
    return lr * p.decay**e


@_schedule(
    "cosine", "min_lr + (lr − min_lr)·(1 + cos(π·e/T))/2 (torch CosineAnnealingLR)", ("min_lr",)
)
def _cosine(e: int, T: int, lr: float, p: ScheduleParams) -> float:
    # torch's closed form, term for term
    return p.min_lr + (lr - p.min_lr) * (1 + math.cos(math.pi * e / T)) / 2


@_schedule(
    "inverse-scaling", "lr/(e+1)^power_t (scikit-learn invscaling, t in epochs)", ("power_t",)
)
def _inverse_scaling(e: int, T: int, lr: float, p: ScheduleParams) -> float:
    return lr / (e + 1) ** p.power_t


def _validate(
    *,
    base_lr: float,
    epochs: int,
    warmup: int,
    step_size: int,
    decay: float,
    power_t: float,
    min_lr: float,
) -> ScheduleParams:
    if not (base_lr > 0 and math.isfinite(base_lr)):
        raise ConfigError(f"--lr must be > 0, got {base_lr:g}")
    if epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, got {epochs}")
    if not 0 <= warmup < epochs:
        raise ConfigError(f"--warmup must be >= 0 and < --epochs ({epochs}), got {warmup}")
    if step_size < 1:
        raise ConfigError(f"--step-size must be >= 1, got {step_size}")
    if not 0 < decay <= 1:
        raise ConfigError(f"--decay must be in (0, 1], got {decay:g}")
    if not (power_t >= 0 and math.isfinite(power_t)):
        raise ConfigError(f"--power-t must be >= 0, got {power_t:g}")
    if not 0 <= min_lr <= base_lr:
        raise ConfigError(f"--min-lr must be in [0, lr] = [0, {base_lr:g}], got {min_lr:g}")
    return ScheduleParams(step_size=step_size, decay=decay, power_t=power_t, min_lr=min_lr)


def _lr(e: int, base_lr: float, epochs: int, warmup: int, rate: Rate, p: ScheduleParams) -> float:
    if e < warmup:
        return base_lr * (e + 1) / (warmup + 1)
    return rate(e - warmup, epochs - warmup, base_lr, p)


def lr_at(
    epoch: int,
    *,
    base_lr: float,
    epochs: int,
    schedule: str = "constant",
    warmup: int = 0,
    step_size: int = 10,
    decay: float = 0.5,
    power_t: float = 0.5,
    min_lr: float = 0.0,
) -> float:
    """The learning rate of 0-based ``epoch`` of ``epochs``; see the module docstring.

    ``constant``: lr. ``step``: lr·decay^⌊e'/step_size⌋. ``exponential``: lr·decay^e'.
    ``cosine``: min_lr + (lr − min_lr)(1 + cos(π·e'/T'))/2, torch's CosineAnnealingLR with
    T_max = T' (it reaches min_lr one epoch after the last). ``inverse-scaling``:
    lr/(e'+1)^power_t, scikit-learn's invscaling with t counted in epochs. Here e' = epoch − warmup
    and T' = epochs − warmup; warm-up epochs use lr·(epoch+1)/(warmup+1).
    ConfigError names any value out of range; ``epoch`` outside [0, epochs) is a ValueError.
    """
    rate = SCHEDULES.get(schedule).rate
    p = _validate(
        base_lr=base_lr,
        epochs=epochs,
        warmup=warmup,
        step_size=step_size,
        decay=decay,
        power_t=power_t,
        min_lr=min_lr,
    )
    if not 0 <= epoch < epochs:
        raise ValueError(f"epoch must be in [0, {epochs}), got {epoch}")
    return _lr(epoch, base_lr, epochs, warmup, rate, p)


def lr_schedule(
    *,
    base_lr: float,
    epochs: int,
    schedule: str = "constant",
    warmup: int = 0,
    step_size: int = 10,
    decay: float = 0.5,
    power_t: float = 0.5,
    min_lr: float = 0.0,
) -> LRSchedule:
    """The lrs of all ``epochs``, validated once: ``lr_schedule(...)[e] == lr_at(e, ...)``.

    A lazy sequence, O(1) in memory: a run of 10⁹ epochs does not build a list first.
    """
    rate = SCHEDULES.get(schedule).rate
    p = _validate(
        base_lr=base_lr,
        epochs=epochs,
        warmup=warmup,
        step_size=step_size,
        decay=decay,
        power_t=power_t,
        min_lr=min_lr,
    )
    return LRSchedule(base_lr, epochs, warmup, rate, p)


@dataclass(frozen=True)
class LRSchedule(Sequence[float]):
    """The lr of each 0-based epoch, computed on demand by the same formula as ``lr_at``."""

    base_lr: float
    epochs: int
    warmup: int
    rate: Rate
    params: ScheduleParams

    def __len__(self) -> int:
        return self.epochs

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> list[float]: ...
    def __getitem__(self, index: int | slice) -> float | list[float]:
        if isinstance(index, slice):
            return [self[e] for e in range(*index.indices(self.epochs))]
        e = operator.index(index)
        if e < 0:
            e += self.epochs
        if not 0 <= e < self.epochs:
            raise IndexError(f"epoch must be in [0, {self.epochs}), got {index}")
        return _lr(e, self.base_lr, self.epochs, self.warmup, self.rate, self.params)
