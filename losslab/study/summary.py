"""A finished study: its runs aggregated over seeds (mean ± std), ranked, and the exact optimum
of each loss's training objective with every configuration's gap."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from losslab.errors import ConfigError
from losslab.losses.calibration import NAMES
from losslab.losses.embedding import find_loss
from losslab.study.grid import (
    CONFIG_KEYS,
)
from losslab.study.problems import (
    _problem_for,
    _split_for,
)
from losslab.train.loop import (
    FitConfig,
    Problem,
)

# a study's interrupted runs and those that failed (raised) are listed, never averaged or drawn
UNAVERAGED = ("interrupted", "failed")
CALIBRATION = NAMES  # a classifier's ece, mce and brier, beside its metric


def failures(runs: Sequence[dict[str, Any]]) -> list[str]:
    """One line per failed run of a study's flat runs, naming the run and its exception."""
    return [
        f"run {r['run']} ({r['optimizer']}, lr {r['lr']:g}, {r['loss']}, seed {r['seed']}) "
        f"failed: {r.get('message') or 'no message'}"
        for r in runs
        if r["status"] == "failed"
    ]


@dataclass
class Study:
    """A finished (or interrupted, ``partial``) study.

    ``runs``: one dict per run (settings, final losses, metric, gap, status); ``summary``: one
    per configuration, mean/std over seeds, in ranking order; ``curves``: (run, epoch) rows;
    ``reference``: the exact optimum per loss; ``config``: the settings and the grid.
    ``to_dict()`` is the JSON output; ``to_frame()`` gives the tidy tables.
    """

    runs: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    reference: dict[str, Any] | None
    metric: str
    partial: bool
    config: dict[str, Any]
    seconds: float | None  # None: a study saved before the total time was recorded
    target_loss: float | None
    curves: list[dict[str, Any]] = field(default_factory=list)
    record: str | None = None
    metrics: list[str] = field(default_factory=list)  # all of them, when losses mix tasks
    ran: int | None = None  # runs run by this command (None: a study loaded from disk)
    reused: int = 0  # runs taken from the study's own run files or the run cache

    def to_dict(self) -> dict[str, Any]:
        return {
            "partial": self.partial,
            "seconds": self.seconds,
            "metric": self.metric,
            "metrics": self.metrics or [self.metric],
            "ranked_by": ranked_by(self.runs),
            "target_loss": self.target_loss,
            "reference": self.reference,
            "config": self.config,
            "summary": self.summary,
            "runs": self.runs,
            "record": self.record,
            # compare --tune and the paired statistics (study.tune, study.stats)
            **{k: self.config[k] for k in ("tuning", "pairs") if k in self.config},
            "ran": self.ran,
            "reused": self.reused,
        }

    def to_frame(self, table: str = "runs") -> Any:
        """A pandas DataFrame: ``runs`` (one row per run, as runs.csv), ``summary`` (one row
        per configuration, without the curves) or ``curves`` (one row per run and epoch)."""
        from losslab.data.write import to_frame

        if table == "runs":
            return to_frame(self.runs)
        if table == "summary":
            drop = ("curve", "test_curve", "curve_min", "curve_max")
            return to_frame([{k: v for k, v in r.items() if k not in drop} for r in self.summary])
        if table == "curves":
            return to_frame(self.curves)
        raise ConfigError(f"to_frame: table must be runs, summary or curves, got {table!r}")

    def __repr__(self) -> str:
        """One line: data · model · runs · the best configuration and its test loss."""
        data = self.config.get("data") or {}
        head = f"{str(data.get('source', '?'))[-40:]} · {self.config.get('model')}"
        head += f" · {len(self.runs)} runs" + (" · partial" if self.partial else "")
        if self.summary:
            best = self.summary[0]
            by = "test_loss" if best.get("test_loss_mean") is not None else ranked_by(self.runs)
            value = best.get(f"{by}_mean")
            shown = f" ({by.replace('_', ' ')} {value:.4g})" if value is not None else ""
            head += f" · best {best['optimizer']} lr {best['lr']:g}{shown}"
        return f"<Study {head}>"

    def _repr_html_(self) -> str | None:
        """The study's table and figure in a notebook (:func:`losslab.registry.html_of`)."""
        from losslab.registry import html_of

        return html_of(self)


def _mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = math.fsum(values) / len(values)
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    return mean, std


def _epochs_to(curve: list[tuple], target: float | None, use_objective: bool) -> int | None:
    if target is None:
        return None
    for epoch, point in enumerate(curve, start=1):
        value = point[2] if use_objective else point[0]
        if value is not None and value <= target:
            return epoch
    return None


def summarise(
    records: list[dict[str, Any]],
    *,
    metrics: list[str],
    reference: dict[str, Any] | None,
    target_loss: float | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float | None]:
    """(flat runs, per-configuration summary sorted by test loss, the target used).

    Interrupted runs are listed in the flat runs only: the summary (means, counts, curves) holds
    the runs that ended on their own, so a partial study means the same whatever ``--jobs``.
    """
    known = optima(reference)
    use_objective = target_loss is None and bool(known)
    target = target_loss
    if use_objective:
        first = next(iter(known.values()))
        target = first[0] + 0.01 * abs(first[0])
    runs = []
    # every run has the calibration columns when one has (None where not measured)
    calibrated = [c for c in CALIBRATION if any(c in rec for rec in records)]
    for rec in records:
        cfg = rec["config"]
        finished = rec["status"] not in ("diverged", "failed")  # these have no final losses
        per_seed = known.get(cfg["loss"])
        optimum = per_seed[cfg["seed"] % len(per_seed)] if per_seed else None
        gap = rec["objective"] - optimum if finished and optimum is not None else None
        if use_objective:
            run_target = optimum + 0.01 * abs(optimum) if optimum is not None else None
        else:
            run_target = target
        runs.append(
            {
                "run": rec["index"],
                "hidden": ",".join(map(str, cfg["hidden"])) if cfg.get("hidden") else None,
                "layers": cfg.get("layers"),
                "optimizer": cfg["optimizer"],
                "lr": cfg["lr"],
                "loss": cfg["loss"],
                "model": cfg["model"],
                "batch_size": cfg["batch_size"],
                "seed": cfg["seed"],
                "train_loss": rec["train_loss"],
                "test_loss": rec["test_loss"],
                "val_loss": rec.get("val_loss"),
                **{m: rec.get(m) for m in metrics},
                **{c: rec.get(c) for c in calibrated},
                "objective": rec["objective"],
                "epochs_run": rec["epochs_run"],
                "epochs_to_target": _epochs_to(rec["curve"], run_target, use_objective),
                "gap": gap,
                "seconds": rec["seconds"],
                "rose": int(bool(rec.get("rose"))),  # 0/1: a number in runs.csv
                "status": rec["status"],
                **({"message": rec["message"]} if rec.get("message") else {}),  # a failed run's
            }
        )
    groups: dict[tuple, list[int]] = {}
    for i, run in enumerate(runs):
        if run["status"] not in UNAVERAGED:  # listed in runs, never averaged
            groups.setdefault(tuple(run[k] for k in CONFIG_KEYS), []).append(i)
    summary = []
    for key, members in groups.items():
        ok = [i for i in members if runs[i]["status"] != "diverged"]
        row: dict[str, Any] = dict(zip(CONFIG_KEYS, key, strict=True))
        row["seeds"] = len(members)
        row["diverged"] = len(members) - len(ok)
        row["rose"] = sum(runs[i]["rose"] for i in ok)  # ended above their start, not diverged
        for name in ("train_loss", "objective", "test_loss", "val_loss", *metrics, "gap"):
            vals = [runs[i][name] for i in ok if runs[i][name] is not None]
            row[f"{name}_mean"], row[f"{name}_std"] = _mean_std(vals)
        for name in calibrated:  # the classifiers' calibration (the metric's part)
            vals = [runs[i][name] for i in ok if runs[i][name] is not None]
            row[f"{name}_mean"], row[f"{name}_std"] = _mean_std(vals)
        reached = [
            runs[i]["epochs_to_target"] for i in ok if runs[i]["epochs_to_target"] is not None
        ]
        row["epochs_to_target"] = statistics.median_low(reached) if reached else None
        row["reached_target"] = len(reached)
        row["seconds_mean"] = _mean_std([runs[i]["seconds"] for i in members])[0]
        curves = [records[i]["curve"] for i in ok]
        row["curve"] = _per_epoch(curves, 0, _mean)
        row["test_curve"] = _per_epoch(curves, 1, _mean)
        row["curve_min"] = _per_epoch(curves, 0, min)
        row["curve_max"] = _per_epoch(curves, 0, max)
        summary.append(row)

    # Within each loss (losses in the order of the grid; their values are not comparable), by
    # the loss that may choose: validation, else training. The test loss never ranks.
    by = ranked_by(runs)
    loss_rank = {name: k for k, name in enumerate(dict.fromkeys(run["loss"] for run in runs))}

    def order(row: dict[str, Any]) -> tuple:
        value = row[f"{by}_mean"]
        return (loss_rank[row["loss"]], value is None, value if value is not None else math.inf)

    summary.sort(key=order)
    return runs, summary, target


def ranked_by(runs: list[dict[str, Any]]) -> str:
    """``val_loss`` when the runs hold a validation split; else ``objective`` (the training loss
    plus the penalty, what the optimizers minimise and the gap measures) when an L1/L2 penalty
    makes it differ from the loss; else ``train_loss``."""
    if any(run.get("val_loss") is not None for run in runs):
        return "val_loss"
    penalised = any(
        run.get("objective") is not None
        and run.get("train_loss") is not None
        and run["objective"] != run["train_loss"]
        for run in runs
    )
    return "objective" if penalised else "train_loss"


def _per_epoch(
    curves: list[list[tuple]], slot: int, reduce: Callable[[list[float]], float]
) -> list[float | None]:
    """``reduce`` over the seeds' values at each epoch (seeds that stopped early drop out)."""
    length = max((len(c) for c in curves), default=0)
    out: list[float | None] = []
    for e in range(length):
        vals = [c[e][slot] for c in curves if e < len(c) and c[e][slot] is not None]
        out.append(reduce(vals) if vals else None)
    return out


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def reference_for(
    problem: Problem, base: FitConfig, losses: list[str | None], seeds: int
) -> dict[str, Any]:
    """The optimum of each loss's objective on each seed's standardised training split.

    Each seed draws its own train/test split, so each has its own optimum; without a split they
    coincide. The top level describes the first loss (``objective`` is seed 0's, ``per_seed`` all
    of them); ``by_loss`` holds the same for every loss of the study.
    """
    names = list(dict.fromkeys(find_loss(n).name if n else problem.loss.name for n in losses))
    by_loss = {name: _reference_of(base, name, seeds) for name in names}
    return {**by_loss[names[0]], "by_loss": by_loss}


def _reference_of(base: FitConfig, loss: str, seeds: int) -> dict[str, Any]:
    from losslab.train.reference import reference_optimum

    per_seed: list[dict[str, Any]] = []
    for seed in range(seeds if base.test_size > 0 else 1):
        config = replace(base, seed=seed, loss=loss)
        problem = _problem_for(config)
        reason = _not_plain(problem, config)
        if reason:
            return {
                "objective": None,
                "method": "none",
                "iterations": 0,
                "reason": reason,
                "per_seed": None,
            }
        split = _split_for(problem, config)  # cached: the runs (forked workers too) reuse it
        ref = reference_optimum(
            problem.model.name,
            loss,
            split.X_train,
            split.y_train,
            n_classes=max(problem.n_outputs, 2),
            l1=base.l1,
            l2=base.l2,
        )
        per_seed.append(ref.to_dict())
        if ref.objective is None:
            break
    first = per_seed[0]
    values = [r["objective"] for r in per_seed]
    return {**first, "per_seed": values if first["objective"] is not None else None}


def _not_plain(problem: Problem, config: FitConfig) -> str | None:
    """Why the objective is not the plain mean loss the reference solvers minimise, if so."""
    if problem.weights is not None:
        return f"sample weights (--weight-column {config.weight_column}): no reference optimum"
    if config.class_weight is not None:
        return f"class weights (--class-weight {config.class_weight}): no reference optimum"
    loss = problem.loss
    for name, value in config.loss_params().items():
        if name in loss.params and value != loss.params[name]:
            return f"{loss.name} with --{name.replace('_', '-')} {value:g}: no reference optimum"
    return None


def optima(reference: dict[str, Any] | None) -> dict[str, list[float]]:
    """Each loss's exact optimum per seed (seed k uses entry k mod n), where one is known."""
    by_loss = (reference or {}).get("by_loss") or {}
    return {loss: info["per_seed"] for loss, info in by_loss.items() if info.get("per_seed")}
