"""Learning-rate schedules: torch.optim.lr_scheduler's, lr for lr, as O(1) lookups.

A schedule gives the lr of each 0-based *unit* of a run: an epoch, or with ``--schedule-unit
step`` an optimizer step (one minibatch). Each is a closed form in the unit's index, so a run
of 10⁹ units costs nothing until an lr is asked for; it equals torch's scheduler driven the way
torch's docs drive it (``optimizer.step(); scheduler.step()`` once per unit) to rounding.

With ``warmup = w`` units of linear warm-up, unit ``k < w`` uses ``start·(k+1)/(w+1)`` and unit
``k ≥ w`` runs the schedule afresh at ``e = k − w`` over the ``T = units − w`` remaining units:
torch's ``SequentialLR([LinearLR(start_factor=1/(w+1), total_iters=w), schedule],
milestones=[w])``. ``start`` is the lr the schedule starts from (``--lr``; one-cycle's
``lr/div_factor``). Lengths left unset (``t_max``, ``total_iters``, one-cycle's total steps) are
``T``.

Every schedule declares its parameters once (:class:`losslab.hyper.Hyper`): validation, the CLI
flags, ``losslab schedules`` and the run record derive from the declaration. One schedule is
stateful: ``reduce-on-plateau`` (:class:`Plateau`) learns its lrs from the losses the training
loop reports after each epoch (``observe``).
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from losslab.errors import ConfigError
from losslab.hyper import Hyper, count, nonnegative, positive, resolve, switch
from losslab.registry import Registry

UNITS = ("epoch", "step")
Rate = Callable[[int], float]  # e (0-based, after warm-up) -> lr
# (base lr, T units after warm-up, the resolved parameters) -> the rate; a build fills in the
# values its unset parameters take (t_max = T …), so that the run record holds what was used
Build = Callable[[float, int, dict[str, Any]], Rate]
Check = Callable[[float, int, dict[str, Any]], None]


@dataclass(frozen=True)
class Schedule:
    """A registry entry: the declared parameters, the rate they build, and a line of help."""

    name: str
    build: Build | None  # None: stateful (reduce-on-plateau, see Plateau)
    params: tuple[Hyper, ...]
    description: str  # one line, with the formula
    reference: str  # what it equals, lr for lr
    unit: str = "epoch"  # the default --schedule-unit
    check: Check | None = None  # constraints that need the lr or the run's length
    start: Callable[[float, dict[str, Any]], float] | None = None  # the lr warm-up ramps to

    @property
    def defaults(self) -> dict[str, Any]:
        return {h.name: h.default for h in self.params}

    def resolve(self, given: dict[str, Any]) -> dict[str, Any]:
        """Every parameter (``given`` over the defaults, None = default), range-checked;
        ConfigError for a given parameter this schedule does not use."""
        return resolve(self.params, given, self.name)

    def to_dict(self) -> dict[str, Any]:
        """The row of `losslab schedules`."""
        return {
            "name": self.name,
            "unit": self.unit,
            "parameters": [h.to_dict() for h in self.params],
            "description": self.description,
            "reference": self.reference,
        }


SCHEDULES: Registry[Schedule] = Registry("schedule")
# Each parameter name's declarations, one per schedule that takes it (in registration order):
# the names FitConfig and the CLI accept, and what their --help is built from.
DECLARED: dict[str, list[tuple[str, Hyper]]] = {}


def register(
    name: str,
    build: Build | None,
    *,
    params: tuple[Hyper, ...] = (),
    description: str,
    reference: str,
    unit: str = "epoch",
    check: Check | None = None,
    start: Callable[[float, dict[str, Any]], float] | None = None,
    **defaults: Any,
) -> Schedule:
    """Register a schedule with its own ``defaults`` for some of its declared parameters."""
    declared = {h.name for h in params}
    for k in defaults:
        if k not in declared:
            raise TypeError(f"schedule {name!r} declares no parameter {k!r}")
    params = tuple(h.with_default(defaults[h.name]) if h.name in defaults else h for h in params)
    entry = SCHEDULES.add(
        name, Schedule(name, build, params, description, reference, unit, check, start)
    )
    for h in params:
        DECLARED.setdefault(h.name, []).append((entry.name, h))
    return entry


def register_schedule(
    name: str,
    *,
    params: Sequence[Hyper] = (),
    description: str | None = None,
    reference: str | None = None,
    unit: str = "epoch",
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Register the decorated ``f(e, lr, T, **params) -> float`` as the schedule ``name``: the
    lr of the 0-based unit ``e`` (after any warm-up) of a run of ``T`` units from the base
    ``lr``, with its declared ``params`` as keywords (they become flags, as for the built-in
    schedules). ``description`` defaults to the first line of the docstring."""
    if unit not in UNITS:
        raise ValueError(f"schedule {name!r}: unit must be one of {', '.join(UNITS)}, got {unit!r}")

    def deco(fn: Callable[..., float]) -> Callable[..., float]:
        def build(lr: float, T: int, p: dict[str, Any]) -> Rate:
            return lambda e: float(fn(e, lr, T, **p))

        doc = (fn.__doc__ or "").strip().splitlines()
        register(
            name,
            build,
            params=tuple(params),
            description=description or (doc[0] if doc else name),
            reference=reference or f"{fn.__module__}.{fn.__qualname__}",
            unit=unit,
        )
        return fn

    return deco


# --------------------------------------------------------------------------- declarations

STEP_SIZE = count("step_size", 10, "units between two decays")
DECAY = Hyper(
    "decay",
    0.5,
    "multiplicative factor of a decay (torch's gamma; reduce-on-plateau's factor)",
    low=0.0,
    high=1.0,
    low_open=True,
)
MIN_LR = nonnegative("min_lr", 0.0, "floor of the lr (torch's eta_min, min_lr), at most --lr")
TOTAL_ITERS = count(
    "total_iters",
    None,
    "units until the schedule reaches its final lr (unset: the run's units after warm-up)",
    optional=True,
)


def _run(value: int | None, T: int) -> int:
    """An unset length is the run's ``T`` units after warm-up."""
    return T if value is None else value


# --------------------------------------------------------------------------- the schedules


def _constant(lr: float, T: int, p: dict[str, Any]) -> Rate:
    f = p["factor"]
    n = p["total_iters"] = _run(p["total_iters"], T)
    # torch's closed form, term for term (factor 1 gives lr itself: 1 + 0·0 = 1)
    return lambda e: lr * (f + (e >= n) * (1 - f))


def _step(lr: float, T: int, p: dict[str, Any]) -> Rate:
    d, s = p["decay"], p["step_size"]
    return lambda e: lr * d ** (e // s)


def _multistep(lr: float, T: int, p: dict[str, Any]) -> Rate:
    d, ms = p["decay"], p["milestones"]
    return lambda e: lr * d ** bisect_right(ms, e)


def _needs_milestones(lr: float, T: int, p: dict[str, Any]) -> None:
    if p["milestones"] is None:
        raise ConfigError("multistep needs --milestones (units at which to decay, e.g. 30,80)")


def _exponential(lr: float, T: int, p: dict[str, Any]) -> Rate:
    d = p["decay"]
    return lambda e: lr * d**e


def _cosine(lr: float, T: int, p: dict[str, Any]) -> Rate:
    m = p["min_lr"]
    t = p["t_max"] = _run(p["t_max"], T)
    return lambda e: m + (lr - m) * (1 + math.cos(math.pi * e / t)) / 2


def _restart(e: int, t0: int, mult: int) -> tuple[int, int]:
    """(T_cur, T_i) at unit e: cycles of t0, t0·mult, t0·mult², … units (torch's step())."""
    if mult == 1:
        return e % t0, t0

    def begin(i: int) -> int:  # the first unit of cycle i
        return t0 * (mult**i - 1) // (mult - 1)

    i = int(math.log(e * (mult - 1) / t0 + 1, mult))  # may be one off at a boundary
    while begin(i + 1) <= e:
        i += 1
    while i > 0 and begin(i) > e:
        i -= 1
    return e - begin(i), t0 * mult**i


def _warm_restarts(lr: float, T: int, p: dict[str, Any]) -> Rate:
    m, t0, mult = p["min_lr"], p["t_0"], p["t_mult"]

    def rate(e: int) -> float:
        cur, period = _restart(e, t0, mult)
        return m + (lr - m) * (1 + math.cos(math.pi * cur / period)) / 2

    return rate


def _cyclic(lr: float, T: int, p: dict[str, Any]) -> Rate:
    hi, mode, g = p["max_lr"], p["mode"], p["decay"]
    up = float(p["step_size_up"])
    p["step_size_down"] = _run(p["step_size_down"], p["step_size_up"])
    total = up + float(p["step_size_down"])
    ratio = up / total

    # torch's get_lr, term for term
    def rate(e: int) -> float:
        cycle = math.floor(1 + e / total)
        x = 1.0 + e / total - cycle
        height = (hi - lr) * (x / ratio if x <= ratio else (x - 1) / (ratio - 1))
        if mode == "triangular":
            return lr + height
        if mode == "triangular2":
            return lr + height * (1 / (2.0 ** (cycle - 1)))
        return lr + height * g**e

    return rate


def _needs_max_lr(lr: float, T: int, p: dict[str, Any]) -> None:
    if p["max_lr"] is None:
        raise ConfigError("cyclic needs --max-lr (the top of the cycle; --lr is its bottom)")


def _one_cycle(lr: float, T: int, p: dict[str, Any]) -> Rate:
    pct, cos = p["pct_start"], p["anneal_strategy"] == "cos"
    initial = lr / p["div_factor"]
    low = initial / p["final_div_factor"]
    last = T - 1
    end0 = float(pct * T) - 1
    end1 = float(2 * pct * T) - 2

    def anneal(a: float, b: float, x: float) -> float:
        if cos:
            return b + (a - b) / 2.0 * (math.cos(math.pi * x) + 1)
        return (b - a) * x + a

    # torch's phases: (start, end] → anneal(start lr, end lr, (e − start)/(end − start))
    if p["three_phase"]:

        def rate(e: int) -> float:
            if e <= end0:
                return anneal(initial, lr, (e - 0.0) / (end0 - 0.0))
            if e <= end1:
                return anneal(lr, initial, (e - end0) / (end1 - end0))
            return anneal(initial, low, (e - end1) / (last - end1))

        return rate

    def rate2(e: int) -> float:
        if e <= end0:
            return anneal(initial, lr, (e - 0.0) / (end0 - 0.0))
        return anneal(lr, low, (e - end0) / (last - end0))

    return rate2


def _one_cycle_fits(lr: float, T: int, p: dict[str, Any]) -> None:
    if float(p["pct_start"] * T) - 1 == 0:
        raise ConfigError(
            f"--pct-start {p['pct_start']:g} of {T} steps puts one-cycle's peak at its first "
            "step, where torch's formula divides by zero; choose another --pct-start"
        )


def _polynomial(lr: float, T: int, p: dict[str, Any]) -> Rate:
    n = p["total_iters"] = _run(p["total_iters"], T)
    power = p["poly_power"]
    return lambda e: lr * (1.0 - min(n, e) / n) ** power


def _linear(lr: float, T: int, p: dict[str, Any]) -> Rate:
    a, b = p["start_factor"], p["end_factor"]
    n = p["total_iters"] = _run(p["total_iters"], T)
    return lambda e: lr * (a + (b - a) * min(n, e) / n)


def _inverse_scaling(lr: float, T: int, p: dict[str, Any]) -> Rate:
    power_t = p["power_t"]
    return lambda e: lr / (e + 1) ** power_t


def _plateau_decays(lr: float, T: int, p: dict[str, Any]) -> None:
    if not p["decay"] < 1:
        raise ConfigError(f"--decay must be < 1 for reduce-on-plateau, got {p['decay']:g}")


_LRS = "torch.optim.lr_scheduler.{}"
# fmt: off
register("constant", _constant, reference=_LRS.format("ConstantLR"),
         params=(Hyper("factor", 1.0, "multiplies the lr for the first total_iters units",
                       low=0.0, high=1.0, low_open=True), TOTAL_ITERS),
         description="lr·factor for e < total_iters, then lr (factor 1, the default: lr)")
register("step", _step, params=(STEP_SIZE, DECAY), reference=_LRS.format("StepLR"),
         description="lr·decay^⌊e/step_size⌋")
register("multistep", _multistep, reference=_LRS.format("MultiStepLR"), check=_needs_milestones,
         params=(Hyper("milestones", None, "units at which the lr decays (e.g. 30,80)",
                       kind=tuple, low=1, optional=True), DECAY),
         description="lr·decay^(number of milestones ≤ e)")
register("exponential", _exponential, params=(DECAY,), reference=_LRS.format("ExponentialLR"),
         description="lr·decay^e")
register("cosine", _cosine, reference=_LRS.format("CosineAnnealingLR"),
         params=(count("t_max", None, "period T_max of the cosine, in units (unset: the run's "
                       "units after warm-up)", optional=True), MIN_LR),
         description="min_lr + (lr − min_lr)·(1 + cos(π·e/t_max))/2")
register("cosine-warm-restarts", _warm_restarts,
         reference=_LRS.format("CosineAnnealingWarmRestarts"),
         params=(count("t_0", 10, "units until the first restart"),
                 count("t_mult", 1, "factor by which the cycle grows after each restart"),
                 MIN_LR),
         description="min_lr + (lr − min_lr)·(1 + cos(π·T_cur/T_i))/2, T_i = t_0·t_mult^i units")
register("cyclic", _cyclic, unit="step", reference=_LRS.format("CyclicLR") + " (no momentum "
         "cycling)", check=_needs_max_lr,
         params=(positive("max_lr", None, "top of cyclic's cycle (--lr is its bottom)",
                          optional=True),
                 count("step_size_up", 2000, "units of the rising half of a cycle"),
                 count("step_size_down", None, "units of the falling half of a cycle (unset: "
                       "step_size_up)", optional=True),
                 Hyper("mode", "triangular", "amplitude of cyclic's cycles: constant, halved "
                       "each cycle, or ×decay^e", kind=str,
                       choices=("triangular", "triangular2", "exp-range")),
                 DECAY), decay=1.0,
         description="lr ↗ max_lr over step_size_up units, ↘ lr over step_size_down, the "
                     "amplitude ×1 (triangular), ×2^−cycle (triangular2) or ×decay^e (exp-range)")
register("one-cycle", _one_cycle, unit="step", reference=_LRS.format("OneCycleLR") + " (max_lr "
         "= --lr; no momentum cycling)", check=_one_cycle_fits,
         start=lambda lr, p: lr / p["div_factor"],
         params=(Hyper("pct_start", 0.3, "share of the run spent raising the lr", low=0.0,
                       high=1.0),
                 Hyper("anneal_strategy", "cos", "shape of one-cycle's ramps", kind=str,
                       choices=("cos", "linear")),
                 positive("div_factor", 25.0, "the first lr is --lr/div_factor"),
                 positive("final_div_factor", 1e4,
                          "the last lr is --lr/(div_factor·final_div_factor)"),
                 switch("three_phase", False, "come back down to lr/div_factor symmetrically, "
                        "then anneal to the last lr (the paper's schedule)")),
         description="lr/div_factor ↗ lr over pct_start of the run, then ↘ "
                     "lr/(div_factor·final_div_factor), by cos or linear ramps")
register("polynomial", _polynomial, reference=_LRS.format("PolynomialLR"),
         params=(TOTAL_ITERS,
                 nonnegative("poly_power", 1.0, "exponent of the decay (torch's power)")),
         description="lr·(1 − min(e, total_iters)/total_iters)^poly_power")
register("linear", _linear, reference=_LRS.format("LinearLR") + " (defaults: a decay to 0)",
         params=(Hyper("start_factor", 1.0, "factor of the lr at the first unit", low=0.0,
                       high=1.0, low_open=True),
                 Hyper("end_factor", 0.0, "factor of the lr after total_iters units", low=0.0,
                       high=1.0),
                 TOTAL_ITERS),
         description="lr·(start_factor + (end_factor − start_factor)·min(e, total_iters)/"
                     "total_iters)")
register("inverse-scaling", _inverse_scaling, reference="scikit-learn invscaling (t in units)",
         params=(nonnegative("power_t", 0.5, "exponent of inverse-scaling: lr/(e+1)^power_t"),),
         description="lr/(e+1)^power_t")
register("reduce-on-plateau", None, reference=_LRS.format("ReduceLROnPlateau") + " (mode min)",
         check=_plateau_decays,
         params=(DECAY, count("plateau_patience", 10, "epochs without improvement before the lr "
                              "decays", low=0),
                 nonnegative("threshold", 1e-4, "the improvement that counts (relative or "
                             "absolute, by threshold_mode)"),
                 Hyper("threshold_mode", "rel", "how an improvement is measured: below "
                       "best·(1 − threshold) (rel) or below best − threshold (abs)", kind=str,
                       choices=("rel", "abs")),
                 count("cooldown", 0, "epochs after a decay before bad epochs count again",
                       low=0),
                 MIN_LR), decay=0.1,
         description="lr·decay after more than plateau_patience epochs without improvement of "
                     "the validation loss (else the training loss), at least min_lr")
# fmt: on


# --------------------------------------------------------------------------- building


def schedule_unit(schedule: str, unit: str | None = None) -> str:
    """The unit a schedule advances by: ``unit`` if given, else the schedule's own default."""
    entry = SCHEDULES.get(schedule)
    if unit is None:
        return entry.unit
    if unit not in UNITS:
        raise ConfigError(f"--schedule-unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if entry.build is None and unit != "epoch":
        raise ConfigError(
            f"{entry.name} watches each epoch's loss: it steps once per epoch, "
            f"not per --schedule-unit {unit}"
        )
    return unit


def _check_run(base_lr: float, units: int, warmup: int, unit: str) -> None:
    if not (base_lr > 0 and math.isfinite(base_lr)):
        raise ConfigError(f"--lr must be > 0, got {base_lr:g}")
    if units < 1:
        raise ConfigError(f"--epochs must be >= 1, got {units}")
    if not 0 <= warmup < units:
        if unit == "epoch":
            raise ConfigError(f"--warmup must be >= 0 and < --epochs ({units}), got {warmup}")
        raise ConfigError(
            f"--warmup counts steps with --schedule-unit step: it must be >= 0 and < the run's "
            f"{units} steps, got {warmup}"
        )


def lr_schedule(
    *,
    base_lr: float,
    units: int,
    schedule: str = "constant",
    warmup: int = 0,
    unit: str | None = None,
    **params: Any,
) -> LRSchedule | Plateau:
    """The lrs of a run of ``units`` units (epochs, or steps), validated once.

    ``params`` are the schedule's declared parameters (None = its default); one it does not
    use, or a value out of range, is a ConfigError naming the flag. Stateless schedules give an
    :class:`LRSchedule` (a lazy sequence); reduce-on-plateau a :class:`Plateau`.
    """
    entry = SCHEDULES.get(schedule)
    unit = schedule_unit(entry.name, unit)
    values = entry.resolve(params)
    _check_run(base_lr, units, warmup, unit)
    if values.get("min_lr", 0.0) > base_lr:
        raise ConfigError(
            f"--min-lr must be in [0, lr] = [0, {base_lr:g}], got {values['min_lr']:g}"
        )
    T = units - warmup
    if entry.check is not None:
        entry.check(base_lr, T, values)
    if entry.build is None:
        return Plateau(entry.name, base_lr, units, warmup, values)
    rate = entry.build(base_lr, T, values)
    start = entry.start(base_lr, values) if entry.start is not None else base_lr
    return LRSchedule(entry.name, units, warmup, unit, start, rate, values)


def lr_at(
    index: int,
    *,
    base_lr: float,
    units: int,
    schedule: str = "constant",
    warmup: int = 0,
    unit: str | None = None,
    **params: Any,
) -> float:
    """The lr of 0-based unit ``index`` of ``units``: ``lr_schedule(...)[index]``.

    ValueError for ``index`` outside [0, units); ConfigError for reduce-on-plateau, whose lrs
    depend on the losses.
    """
    lrs = lr_schedule(
        base_lr=base_lr, units=units, schedule=schedule, warmup=warmup, unit=unit, **params
    )
    if isinstance(lrs, Plateau):
        raise ConfigError("reduce-on-plateau has no lr before the losses are known")
    if not 0 <= index < units:
        raise ValueError(f"unit must be in [0, {units}), got {index}")
    return lrs.at(index)


@dataclass(frozen=True, eq=False)
class LRSchedule(Sequence[float]):
    """The lr of each 0-based unit, computed on demand: O(1) in time and memory.

    ``at(k)`` is the unchecked lookup the training loop calls once per unit; indexing checks.
    ``params``: the values used (unset lengths filled in), for the run record.
    """

    name: str
    units: int
    warmup: int
    unit: str
    start: float  # the lr the warm-up ramps to
    rate: Rate
    params: dict[str, Any] = field(default_factory=dict)
    stateful = False

    def at(self, k: int) -> float:
        """The lr of unit ``0 <= k < units`` (not checked)."""
        w = self.warmup
        if k < w:
            return self.start * (k + 1) / (w + 1)
        return self.rate(k - w)

    def observe(self, k: int, loss: float) -> None:
        """The monitored loss after unit ``k``: a stateless schedule needs none."""

    def __len__(self) -> int:
        return self.units

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> list[float]: ...
    def __getitem__(self, index: int | slice) -> float | list[float]:
        if isinstance(index, slice):
            return [self.at(k) for k in range(*index.indices(self.units))]
        k = operator.index(index)
        if k < 0:
            k += self.units
        if not 0 <= k < self.units:
            raise IndexError(f"unit must be in [0, {self.units}), got {index}")
        return self.at(k)


class Plateau:
    """torch's ReduceLROnPlateau (mode min) after the warm-up, fed one loss per epoch.

    The lr starts at ``base_lr``. After each epoch ``k ≥ warmup``, ``observe(k, loss)``: the loss
    is an improvement when it is below best·(1 − threshold) (``rel``) or best − threshold
    (``abs``); after more than ``plateau_patience`` epochs without one (bad epochs are not
    counted during ``cooldown`` epochs after a decay), lr ← max(lr·decay, min_lr), unless that
    changes it by 1e-8 or less (torch's eps). ``at(k)`` is the lr of the coming epoch.
    """

    stateful = True
    unit = "epoch"
    EPS = 1e-8  # torch's default eps: smaller changes of the lr are ignored

    def __init__(
        self, name: str, base_lr: float, units: int, warmup: int, params: dict[str, Any]
    ) -> None:
        self.name, self.base_lr, self.units, self.warmup = name, base_lr, units, warmup
        self.params = params
        self.lr = base_lr
        self.best = math.inf
        self.bad = 0
        self.cooling = 0

    def __len__(self) -> int:
        return self.units

    def at(self, k: int) -> float:
        w = self.warmup
        if k < w:
            return self.base_lr * (k + 1) / (w + 1)
        return self.lr

    def observe(self, k: int, loss: float) -> None:
        """The monitored loss of epoch ``k`` (0-based); warm-up epochs are not watched."""
        if k < self.warmup:
            return
        p = self.params
        threshold = p["threshold"]
        current = float(loss)
        if p["threshold_mode"] == "rel":
            better = current < self.best * (1.0 - threshold)
        else:
            better = current < self.best - threshold
        if better:
            self.best, self.bad = current, 0
        else:
            self.bad += 1
        if self.cooling > 0:
            self.cooling -= 1
            self.bad = 0
        if self.bad > p["plateau_patience"]:
            new = max(self.lr * p["decay"], p["min_lr"])
            if self.lr - new > self.EPS:
                self.lr = new
            self.cooling = p["cooldown"]
            self.bad = 0
