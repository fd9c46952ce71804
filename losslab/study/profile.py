"""Dolan–Moré performance profiles over several studies (Dolan & Moré 2002, "Benchmarking
optimization software with performance profiles"), as AlgoPerf and benchopt draw them.

A problem p is one dataset × loss. For each optimizer o, t(p, o) is its time to the target: the
first epoch (or second, ``by="time"``) at which the training objective is within 1 % of the
exact optimum f* where one is known, else within 1 % of the best objective any run reached on
p — each seed against its own split's f* or best; a seed that never gets there counts ∞, a
configuration takes the median over its seeds, and an optimizer its best configuration. Then
r(p, o) = t(p, o) / min_o t(p, o), and the profile of o is ρ_o(τ) = |{p : r(p, o) ≤ τ}| / |P|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.study.summary import UNAVERAGED, Study, optima

TARGET_SLACK = 0.01  # within 1 % of the optimum (or of the best reached)
TAU_POINTS = 60


@dataclass
class Studies:
    """The studies of several datasets run with the same grid, and their performance profile."""

    studies: list[Study]
    profile: dict[str, Any] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)  # r(p, o), inf: never reached
    by: str = "epochs"

    def to_dict(self) -> dict[str, Any]:
        return {"studies": [s.to_dict() for s in self.studies], "profile": self.profile}

    def __repr__(self) -> str:
        names = ", ".join(
            str((s.config.get("data") or {}).get("source", "?")) for s in self.studies
        )
        return f"<Studies of {names}: {len(self.profile.get('problems', []))} problems>"


def split_data(data: Any) -> list[Any]:
    """``"iris,digits"`` or a list -> the datasets (a file whose name has a comma stays one)."""
    from pathlib import Path

    if isinstance(data, (list, tuple)):
        out = [d for item in data for d in split_data(item)]
        return out or [None]
    if isinstance(data, str) and "," in data and not Path(data).exists():
        return [part.strip() for part in data.split(",") if part.strip()]
    return [data]


def check_one_task(names: list[str], metrics: list[str]) -> None:
    """Several datasets share a grid and a profile only if they are the same kind of problem."""
    if len(set(metrics)) > 1:
        kinds = ", ".join(f"{n} ({m})" for n, m in zip(names, metrics, strict=True))
        raise ConfigError(
            f"the datasets mix tasks: {kinds}; a comparison across datasets takes one kind "
            "(all classification or all regression)"
        )


def _time_to(points: list[tuple[float, float]], target: float) -> float:
    """The first time (epoch or seconds) at which the objective is at most ``target``."""
    for when, value in points:
        if value is not None and value <= target:
            return float(when)
    return math.inf


def times_to_target(study: Study, by: str = "epochs") -> dict[str, dict[str, float]]:
    """{loss: {optimizer: t}} of one study: its problems' times to target (see the module)."""
    if by not in ("epochs", "time"):
        raise ConfigError(f"--profile-by must be epochs or time, got {by!r}")
    curves: dict[int, list[tuple[float, float]]] = {}
    for c in study.curves:
        curves.setdefault(c["run"], []).append(
            (c["epoch"] if by == "epochs" else c["seconds"], c["objective"])
        )
    known = optima(study.reference)
    runs = [
        r
        for r in study.runs
        if r.get("phase", "final") == "final" and r["status"] not in UNAVERAGED
    ]
    out: dict[str, dict[str, float]] = {}
    for loss in dict.fromkeys(r["loss"] for r in runs):
        mine = [r for r in runs if r["loss"] == loss]
        per_seed = known.get(loss)
        best: dict[int, float] = {}  # without f*: each seed's best (each seed has its split)
        for r in mine:
            if r["status"] == "diverged":  # its last finite values may be anything
                continue
            values = [v for _, v in curves.get(r["run"], []) if v is not None]
            best[r["seed"]] = min([best.get(r["seed"], math.inf), *values])
        configs: dict[tuple, list[float]] = {}
        for r in mine:
            f = per_seed[r["seed"] % len(per_seed)] if per_seed else best.get(r["seed"], math.inf)
            target = f + TARGET_SLACK * abs(f)
            t = (
                math.inf
                if r["status"] == "diverged"
                else _time_to(curves.get(r["run"], []), target)
            )
            key = (r["optimizer"], r["lr"], r.get("batch_size"), r.get("hidden"), r.get("layers"))
            configs.setdefault(key, []).append(t)
        times: dict[str, float] = {}
        for key, ts in configs.items():
            t = float(np.median(ts))
            times[key[0]] = min(times.get(key[0], math.inf), t)
        out[loss] = times
    return out


def performance_profile(
    problems: dict[str, dict[str, float]], optimizers: list[str]
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """(``{"tau": [...], "fraction": {o: [...]}, "problems": [...]}``, each optimizer's ratio r
    per problem) from {problem: {o: t}}.

    τ runs from 1 to the largest finite ratio (at least 2), log-spaced, with every ratio that
    occurs among the points so that each step of ρ is drawn where it happens."""
    ratios: dict[str, list[float]] = {o: [] for o in optimizers}
    for times in problems.values():
        fastest = min((times.get(o, math.inf) for o in optimizers), default=math.inf)
        for o in optimizers:
            t = times.get(o, math.inf)
            if not math.isfinite(fastest) or not math.isfinite(t):
                ratios[o].append(math.inf)
            else:
                ratios[o].append(t / fastest if fastest > 0 else (1.0 if t == 0 else math.inf))
    finite = [r for rs in ratios.values() for r in rs if math.isfinite(r)]
    top = max([2.0, *finite])
    tau = sorted({1.0, *np.geomspace(1.0, top, TAU_POINTS).tolist(), *finite})
    n = max(len(problems), 1)
    fraction = {
        o: [sum(r <= t * (1 + 1e-12) for r in rs) / n for t in tau] for o, rs in ratios.items()
    }
    return {"tau": tau, "fraction": fraction, "problems": list(problems)}, ratios


def profile_of(
    studies: list[Study], by: str = "epochs"
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The performance profile of several studies (one problem per dataset × loss) and the
    ratios behind it."""
    problems: dict[str, dict[str, float]] = {}
    optimizers: list[str] = []
    for study in studies:
        source = str((study.config.get("data") or {}).get("source", "?"))
        for loss, times in times_to_target(study, by).items():
            problems[f"{source} · {loss}"] = times
            optimizers += [o for o in times if o not in optimizers]
    return performance_profile(problems, optimizers)
