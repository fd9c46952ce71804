"""`compare --tune`: each optimizer's own search space, a budget of trials, and the choice.

The protocol of Schmidt, Schneider & Hennig 2021 ("Descending through a Crowded Valley"): every
optimizer gets the same budget of configurations drawn from its declared search space
(:attr:`~losslab.optim.optimizers.OptimizerSpec.spaces`: the lr, and the hyperparameters its
registration tunes), each trial runs once on seed ``--seed``, the one with the lowest validation
loss (or training objective, ``select="train"``) is chosen, and the chosen setting is then run on
every seed of the study. A hyperparameter given on the command line is fixed, not tuned.

Trials are drawn here, in the parent, before any run starts: the draws of optimizer ``o`` come
from ``np.random.default_rng([seed, crc32(o)])``, so the same seed gives the same trials and the
same choice whatever ``--jobs``, the executor, or the other optimizers of the study.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import product
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.optim.optimizers import OPTIMIZERS, OptimizerSpec
from losslab.study.grid import CONFIG_KEYS
from losslab.train.loop import FitConfig

MODES = ("none", "default", "random", "grid")
VAL_SIZE = 0.2  # the validation share --tune makes unless --val-size says otherwise
GRID_MAX_TUNED = 2


@dataclass(frozen=True)
class Tune:
    """``--tune``: ``none`` (the grid as given), ``default`` (declared defaults, budget 0),
    ``random:N`` (N draws per optimizer), ``grid:N`` (N values per tuned hyperparameter)."""

    mode: str = "none"
    n: int = 0

    @property
    def on(self) -> bool:
        return self.mode != "none"

    def text(self) -> str:
        return f"{self.mode}:{self.n}" if self.mode in ("random", "grid") else self.mode


def parse_tune(text: str | Tune | None) -> Tune:
    """``none``, ``default``, ``random:N`` or ``grid:N`` (N ≥ 1); ConfigError naming the value."""
    if text is None:
        return Tune()
    if isinstance(text, Tune):
        return text
    mode, _, arg = str(text).strip().lower().partition(":")
    if mode in ("none", "default") and not arg:
        return Tune(mode)
    if mode in ("random", "grid"):
        try:
            n = int(arg)
        except ValueError:
            raise ConfigError(f"--tune {mode}:N needs a whole number N, got {text!r}") from None
        if n < 1:
            raise ConfigError(f"--tune {mode}:N needs N >= 1, got {text!r}")
        return Tune(mode, n)
    raise ConfigError(f"--tune must be none, default, random:N or grid:N, got {text!r}")


def rng_for(seed: int, optimizer: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(optimizer.encode())])


def searched(spec: OptimizerSpec, fixed: set[str]) -> dict[str, Any]:
    """The spaces ``--tune`` searches for ``spec``: its own, less those given (``fixed``)."""
    return {name: space for name, space in spec.spaces.items() if name not in fixed}


def draw(spec: OptimizerSpec, tune: Tune, fixed: set[str], seed: int) -> list[dict[str, float]]:
    """The trials of one optimizer: a list of {name: value} over the searched hyperparameters
    (empty dicts mean "the declared defaults"). ``default``: one trial, the defaults; nothing to
    search: one trial; ``grid``: the product of each space's :meth:`~losslab.hyper.Space.grid`."""
    spaces = searched(spec, fixed)
    if tune.mode == "default" or not spaces:
        return [{}]
    if tune.mode == "grid":
        if len(spaces) > GRID_MAX_TUNED:
            raise ConfigError(
                f"--tune grid:N takes at most {GRID_MAX_TUNED} tuned hyperparameters; "
                f"{spec.name} tunes {', '.join(spaces)}: fix some (e.g. "
                f"--{_flag(list(spaces)[-1])} VALUE) or use random:N"
            )
        axes = [space.grid(tune.n) for space in spaces.values()]
        return [dict(zip(spaces, values, strict=True)) for values in product(*axes)]
    rng = rng_for(seed, spec.name)
    return [{name: space.sample(rng) for name, space in spaces.items()} for _ in range(tune.n)]


def _flag(name: str) -> str:
    return name.replace("_", "-")


def settings_text(values: dict[str, Any]) -> str:
    """``lr=0.0123 beta1=0.951``: a trial's or a choice's settings, in 3 significant digits."""
    return " ".join(f"{k}={_short(v)}" for k, v in values.items())


def _short(v: Any) -> str:
    """3 significant digits; a decay rate near 1 keeps 2 of its distance to 1 (0.99957)."""
    if not isinstance(v, float):
        return str(v)
    if 0.5 < v < 1.0:
        return f"{v:.{max(3, 2 - math.floor(math.log10(1.0 - v)))}f}".rstrip("0")
    return f"{v:.3g}"


@dataclass
class Plan:
    """The trials of a study and what they are for: ``trials`` are runs (phase ``tune``), each
    with its group (one per final configuration: optimizer × loss × batch size × architecture)
    and the values it tries; ``notes`` say what was not tuned and why."""

    trials: list[FitConfig]
    group_of: list[int]
    tried: list[dict[str, float]]
    groups: list[list[FitConfig]]  # each group's final runs (one per seed), as the grid made them
    notes: list[str]


def plan(runs: list[FitConfig], base: FitConfig, tune: Tune, seed: int, lr_fixed: bool) -> Plan:
    """Group the final ``runs`` (one per seed) and draw each group's trials."""
    groups: dict[tuple, list[FitConfig]] = {}
    for run in runs:
        key = (tuple(run.hidden or ()), run.layers, run.optimizer, run.lr, run.loss, run.batch_size)
        groups.setdefault(key, []).append(run)
    fixed_hyper = {k for k, v in base.hyper.items() if v is not None}
    out = Plan([], [], [], list(groups.values()), [])
    said: set[str] = set()
    for g, members in enumerate(out.groups):
        first = members[0]
        spec = OPTIMIZERS.get(first.optimizer)
        fixed = fixed_hyper | ({"lr"} if lr_fixed else set())
        trials = draw(spec, tune, fixed, seed)
        if tune.mode != "default" and trials == [{}] and spec.name not in said:
            given = ", ".join(f"--{_flag(n)}" for n in spec.spaces)
            out.notes.append(
                f"{spec.name}: nothing to tune ({given} all given); it runs once per seed at "
                "the given settings"
            )
        said.add(spec.name)
        if trials == [{}]:  # budget 0: the declared (or given) settings, nothing to try
            continue
        for values in trials:
            out.trials.append(with_values(replace(first, seed=seed), values))
            out.group_of.append(g)
            out.tried.append(values)
    return out


def with_values(run: FitConfig, values: dict[str, float]) -> FitConfig:
    """``run`` at a trial's values: the lr and the optimizer's hyperparameters."""
    hyper = {**run.hyper, **{k: v for k, v in values.items() if k != "lr"}}
    return replace(run, lr=values.get("lr", run.lr), hyper=hyper)


def score_of(record: dict[str, Any], select: str) -> float:
    """A trial's score: its last validation loss (``val``) or training objective (``train``);
    +inf when it diverged, failed or has none (it is never chosen over one that has)."""
    if record["status"] in ("diverged", "failed", "interrupted"):
        return math.inf
    value = record.get("val_loss") if select == "val" else record.get("objective")
    return float(value) if value is not None and math.isfinite(value) else math.inf


def choose(
    the_plan: Plan,
    records: list[dict[str, Any]],
    select: str,
    spec_of: Callable[[FitConfig], OptimizerSpec] = lambda run: OPTIMIZERS.get(run.optimizer),
) -> tuple[list[FitConfig], dict[str, Any], list[int]]:
    """(the final runs at each group's chosen values, the JSON "tuning", each group's chosen
    trial). The lowest score wins; a tie goes to the first drawn."""
    by_index = {rec["index"]: rec for rec in records}
    best: dict[int, tuple[float, int]] = {}
    scores: list[float] = []
    for t, g in enumerate(the_plan.group_of):
        rec = by_index.get(t)
        score = score_of(rec, select) if rec is not None else math.inf
        scores.append(score)
        if g not in best or score < best[g][0]:
            best[g] = (score, t)
    finals: list[FitConfig] = []
    tuning: dict[str, Any] = {}
    chosen_trials = []
    for g, members in enumerate(the_plan.groups):
        score, t = best.get(g, (math.inf, -1))
        values = the_plan.tried[t] if t >= 0 else {}
        chosen_trials.append(t)
        finals.extend(with_values(run, values) for run in members)
        run = members[0]
        spec = spec_of(run)
        chosen = _full(spec, run, values)
        trials = [
            {**_full(spec, run, the_plan.tried[i]), "score": _finite(scores[i])}
            for i, gg in enumerate(the_plan.group_of)
            if gg == g
        ]
        entry = {"budget": len(trials), "chosen": chosen, "score": _finite(score), "trials": trials}
        one_each = len(the_plan.groups) == len({m[0].optimizer for m in the_plan.groups})
        lrs = {m[0].lr for m in the_plan.groups if m[0].optimizer == run.optimizer}
        lr = f"lr {run.lr:g}, " if len(lrs) > 1 else ""
        cell = f" ({lr}{run.loss}, batch {run.batch_size or 'full'}{_arch(run)})"
        tuning[spec.name if one_each else spec.name + cell] = entry
    return finals, tuning, chosen_trials


def _arch(run: FitConfig) -> str:
    if run.layers:
        return f", {run.layers}"
    return f", hidden {','.join(map(str, run.hidden))}" if run.hidden else ""


def _full(spec: OptimizerSpec, run: FitConfig, values: dict[str, float]) -> dict[str, Any]:
    """Every searched setting of a trial: the lr, and each tuned hyperparameter (drawn, given or
    default)."""
    hyper = {**spec.hyper_defaults, **{k: v for k, v in run.hyper.items() if v is not None}}
    out: dict[str, Any] = {"lr": values.get("lr", run.lr)}
    for name in spec.tuned:
        out[name] = values.get(name, hyper.get(name))
    return out


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


Runner = Callable[[list[FitConfig], Callable[[int, int], None] | None], tuple[list[dict], bool]]


def run_tuning(
    runs: list[FitConfig],
    base: FitConfig,
    tune: Tune,
    run: Runner,
    *,
    seed: int,
    select: str,
    lr_fixed: bool,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[FitConfig], dict[str, Any], list[dict[str, Any]], list[str]]:
    """(the final runs at the chosen settings, "tuning", the trials' records, notes): the trials
    of ``runs`` (the grid's final runs, resolved) run through ``run``, then the choice.

    A Ctrl-C during the trials stops the study (KeyboardInterrupt): no choice is made on part of
    a budget."""
    if select not in ("val", "train"):
        raise ConfigError(f"--select must be val or train, got {select!r}")
    the_plan = plan(runs, base, tune, seed, lr_fixed)
    total = len(the_plan.trials) + len(runs)
    records: list[dict[str, Any]] = []
    if the_plan.trials:
        tick = None if progress is None else (lambda done, _: progress(done, total))
        records, interrupted = run(the_plan.trials, tick)
        if interrupted:
            raise KeyboardInterrupt(
                f"stopped while tuning ({len(records)} of {len(the_plan.trials)} trials): "
                "no choice made, no final run started"
            )
    finals, tuning, _ = choose(the_plan, records, select)
    return finals, tuning, records, the_plan.notes


def tag_runs(
    finals: list[dict[str, Any]],
    final_records: list[dict[str, Any]],
    trials: list[dict[str, Any]],
    trial_records: list[dict[str, Any]],
    summary: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The study's flat runs with ``phase`` (``final``, then the trials as ``tune``, numbered
    after the finals) and ``settings`` (each run's searched settings, from its record); the
    summary rows get their runs' ``settings`` too."""
    out = []
    for row, rec in zip(finals, final_records, strict=True):
        out.append({**row, "phase": "final", "settings": settings_of(rec)})
    offset = len(finals)
    for row, rec in zip(trials, trial_records, strict=True):
        moved = {**row, "run": row["run"] + offset}
        out.append({**moved, "phase": "tune", "settings": settings_of(rec)})
    by_config = {tuple(r.get(k) for k in CONFIG_KEYS): r["settings"] for r in out[:offset]}
    for row in summary:
        row["settings"] = by_config.get(tuple(row.get(k) for k in CONFIG_KEYS), "")
    return out


def settings_of(record: dict[str, Any]) -> str:
    """``lr=0.0123 beta1=0.951``: the lr and the tuned hyperparameters a run used."""
    config = record["config"]
    spec = OPTIMIZERS.get(config["optimizer"])
    return settings_text({"lr": config["lr"], **{n: config.get(n) for n in spec.tuned}})
