"""`losslab compare`: a grid of `fit` runs (optimizers × lrs × losses × batch sizes × seeds),
aggregated over seeds, with the reference optimum and each configuration's optimality gap.

Each run is exactly `losslab fit` with the same settings (``prepare`` + ``train``); the grid is
:mod:`~losslab.study.grid`, running it :mod:`~losslab.study.runner`, the aggregation
:mod:`~losslab.study.summary`; this module joins them and saves or loads a study."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from losslab.errors import ConfigError, DataError
from losslab.study.grid import (
    CURVE_COLUMNS,
    Grid,
    resolve_runs,
    validate_grid,
)
from losslab.study.problems import (
    _problem_for,
    _use_problem,
)
from losslab.study.runner import (
    run_grid,
)
from losslab.study.stats import study_pairs
from losslab.study.store import StudyStore, data_fingerprint, run_key, write_atomic
from losslab.study.summary import (
    Study,
    ranked_by,
    reference_for,
    summarise,
)
from losslab.study.tune import Tune, run_tuning, tag_runs
from losslab.train import blas
from losslab.train.loop import (
    FitConfig,
    Problem,
    load_problem,
    metric_name,
)
from losslab.train.prepare import source_path


def compare(
    base: FitConfig,
    grid: Grid,
    *,
    jobs: int | None = None,
    target_loss: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    tune: Tune | None = None,
    select: str = "val",
    seed: int = 0,
    stats: bool | None = None,
    store: StudyStore | None = None,
) -> Study:
    """Run the study and summarise it (no printing); Ctrl-C and ``executor`` as in
    ``run_grid``. ``tune``: each optimizer's trials first (:mod:`~losslab.study.tune`), chosen
    by ``select`` on seed ``seed``; ``stats`` (default: on with two seeds or more): the paired
    statistics against the best (:mod:`~losslab.study.stats`, drawn from ``seed``). With a
    ``store``, each finished run (trial or final) is kept at once and the runs it already holds
    (this study's, or the run cache's) are taken instead of run."""
    from losslab.study.cluster import check_executor

    check_executor(executor, scheduler)
    base.validate()
    problem = load_problem(base)
    problem, model_note = _one_score_model(problem, base, grid)
    validate_grid(grid, base, problem)
    if target_loss is not None and not math.isfinite(target_loss):
        raise ConfigError(f"--target-loss must be finite, got {target_loss}")
    runs = grid.configs(base)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    start = time.perf_counter()
    _use_problem(problem)
    runs, coincided = resolve_runs(runs)
    reference = reference_for(problem, base, grid.losses, grid.seeds)
    model_name = "linear" if problem.score_models else problem.model.name
    name = f"compare-{problem.table.label}-{model_name}"
    counts = {"ran": 0}

    def run(todo: list[FitConfig], tick: Callable[[int, int], None] | None) -> tuple:
        """Run ``todo`` (records indexed by position in it), taking what the store holds."""
        offset = len(store.keys) if store is not None else 0
        found = _stored(store, problem, todo, name)
        left = [i for i in range(len(todo)) if i not in found]

        def keep(record: dict[str, Any]) -> dict[str, Any]:
            i = left[record["index"]]
            if store is None:
                return {**record, "index": i}
            return {**store.put(offset + i, record), "index": i}

        records, stopped = [], False
        if left:
            shown = tick
            if tick is not None and found:  # the bar counts the kept runs as done
                shown = lambda d, _: tick(len(found) + d, len(todo))  # noqa: E731
            records, stopped = run_grid([todo[i] for i in left], base, problem, jobs=jobs,
                                        progress=shown, on_interrupt=on_interrupt,
                                        executor=executor, scheduler=scheduler,
                                        on_record=keep)  # fmt: skip
        counts["ran"] += len(records)
        return sorted([*found.values(), *records], key=lambda r: r["index"]), stopped

    tune = tune or Tune()
    tuning: dict[str, Any] = {}
    trial_records: list[dict[str, Any]] = []
    if tune.on:
        lr_fixed = grid.lrs != [None]
        runs, tuning, trial_records, notes = run_tuning(
            runs, base, tune, run, seed=seed, select=select, lr_fixed=lr_fixed, progress=progress
        )
        coincided += notes
        if grid.seeds < 2:
            coincided.append("--tune with one seed: no statistics (they need --seeds 2 or more)")
        if progress is not None:
            done = len(trial_records)
            total = done + len(runs)
            tell = progress
            progress = lambda d, _: tell(done + d, total)  # noqa: E731
    records, interrupted = run(runs, progress)
    ran = counts["ran"]
    if not records:
        if store is not None:
            store.abandon()
        raise KeyboardInterrupt("stopped before any run finished; nothing to report")
    # a study of a linear model may mix regression losses (R²) and margin losses (accuracy)
    metrics = list(dict.fromkeys(metric_name(_problem_for(run)) for run in runs))
    metric = metrics[0]
    flat, summary, target = summarise(
        records, metrics=metrics, reference=reference, target_loss=target_loss
    )
    config = {
        "base": base.to_dict(),
        "grid": {
            "optimizers": grid.optimizers,
            "lrs": grid.lrs,
            "losses": grid.losses,
            "batch_sizes": grid.batch_sizes,
            "seeds": grid.seeds,
            "hiddens": grid.hiddens,
            "layers": grid.layers,
        },
        "model": model_name,
        **({"model_note": model_note} if model_note else {}),
        "jobs": jobs,
        "executor": executor,
        "scheduler": scheduler,
        "blas": blas.record(),  # every run's products use blas.run_threads(), whatever --jobs
        "runs_planned": len(runs),
        "coincided": coincided,
        "target_default": target_loss is None,
        "data": {
            "source": problem.table.label,
            "path": source_path(problem.table),
            "sha256": problem.table.sha256,
            "rows": problem.table.n_rows,
            "choice": problem.choice,
            **(
                {"preparation": {"row_id": problem.prep["row_id"]}}
                if "row_id" in problem.prep
                else {}
            ),
        },
    }
    metric_of = [metric_name(_problem_for(run)) for run in runs]
    curves = [
        {
            "run": rec["index"],
            "epoch": e,
            "train_loss": pt[0],
            "test_loss": pt[1],
            "val_loss": pt[4],
            "objective": pt[2],
            "seconds": pt[5],
            # each run's metric in its own column (a study may mix R² and accuracy)
            **{m: pt[3] if m == metric_of[rec["index"]] else None for m in metrics},
        }
        for rec in records
        for e, pt in enumerate(rec["curve"], start=1)
    ]
    if tune.on:
        trial_flat = summarise(
            trial_records, metrics=metrics, reference=reference, target_loss=target_loss
        )[0]
        flat = tag_runs(flat, records, trial_flat, trial_records, summary)
        config["tune"] = {"mode": tune.text(), "select": select, "seed": seed}
        config["tuning"] = tuning
    if stats if stats is not None else (tune.on or grid.seeds >= 2):
        config["pairs"] = study_pairs(flat, summary, ranked_by(flat), seed)
    return Study(
        runs=flat,
        summary=summary,
        reference=reference,
        metric=metric,
        metrics=metrics,
        partial=interrupted,
        config=config,
        seconds=time.perf_counter() - start,
        target_loss=target,
        curves=curves,
        ran=ran,
        reused=store.reused if store is not None else 0,
    )


def _stored(
    store: StudyStore | None, problem: Problem, runs: list[FitConfig], name: str
) -> dict[int, dict[str, Any]]:
    """The runs ``store`` already holds, by position; each run's key is the data's fingerprint,
    its resolved settings and whether it runs on the one-score model."""
    if store is None:
        return {}
    sha = data_fingerprint(problem.table)
    extra = {"score_models": problem.score_models}
    keys = [run_key(sha, run.to_dict(), extra) for run in runs]
    return store.begin(name, sha, keys, source=problem.table.label)


def _one_score_model(problem: Problem, base: FitConfig, grid: Grid) -> tuple[Problem, str]:
    """(the study's problem, why its model): when the model was chosen (not --model) and the
    losses do not all fit it but all fit the one-score model s = X·w + b (bce and hinge on a
    binary target), each loss runs on that score (logistic regression is bce with logits on it);
    else the problem as it is and no note."""
    from losslab.losses.embedding import find_loss
    from losslab.nn.models import score_model_for

    names = list(dict.fromkeys(find_loss(n).name if n else problem.loss.name for n in grid.losses))
    if base.model is not None or all(name in problem.model.losses for name in names):
        return problem, ""
    if score_model_for(names) is None:
        return problem, ""
    note = (
        f"the linear score X·w + b for {' and '.join(names)}, which do not all fit the "
        f"{problem.model.name} model chosen for the target (bce with logits on a linear score is "
        "logistic regression, a margin loss on it a linear SVM)"
    )
    return replace(problem, score_models=True), note


def save_study(study: Study, out: str | None, directory: str | Path | None = None) -> str:
    """Write the study under ``out`` (a new record), or into its ``directory`` (a study whose
    runs were kept as they finished), each file by atomic rename, summary.json last."""
    from losslab.data.write import to_csv, to_json
    from losslab.study.records import plugins_used, versions, write_record

    # every key of any run: a failed run adds its message
    runs_header = list(dict.fromkeys(k for run in study.runs for k in run))
    summary_rows = [
        {k: v for k, v in row.items() if k not in ("curve", "test_curve", "curve_min", "curve_max")}
        for row in study.summary
    ]
    summary_header = list(summary_rows[0].keys()) if summary_rows else []
    curve_header = [*CURVE_COLUMNS, *(study.metrics or [study.metric])]
    config = {
        **study.config,
        "metrics": study.metrics or [study.metric],
        "seconds": study.seconds,
        "partial": study.partial,
        "reference": study.reference,
        "target_loss": study.target_loss,
        "versions": versions(),
        **plugins_used(),
        "command": "compare",
    }
    files = {
        "config.json": to_json(config) + "\n",
        "runs.csv": to_csv(runs_header, ([r.get(k) for k in runs_header] for r in study.runs)),
        "curves.csv": to_csv(curve_header, ([c[k] for k in curve_header] for c in study.curves)),
        "summary.csv": to_csv(
            summary_header, ([r[k] for k in summary_header] for r in summary_rows)
        ),
        "summary.json": to_json(study.summary) + "\n",
    }
    if directory is not None:
        return str(_into(Path(directory), files, study.partial))
    src = study.config["data"]["source"]
    name = f"compare-{src}-{study.config['model']}" + ("-partial" if study.partial else "")
    return str(write_record(out, name, files))


PARTIAL_SUFFIX = "-partial"


def _into(directory: Path, files: dict[str, str], partial: bool) -> Path:
    """The derived files into a study's own directory; a stopped study's name ends in
    ``-partial``, a finished one's not (a resumed study is renamed back)."""
    from losslab.errors import LossLabError

    try:
        for filename, text in sorted(files.items(), key=lambda kv: kv[0] == "summary.json"):
            write_atomic(directory / filename, text, stage="derived")
        named = directory.name.endswith(PARTIAL_SUFFIX)
        if partial != named:
            stem = directory.name[: -len(PARTIAL_SUFFIX)] if named else directory.name
            target = directory.with_name(stem + (PARTIAL_SUFFIX if partial else ""))
            if not target.exists():
                os.rename(directory, target)
                directory = target
    except OSError as exc:
        raise LossLabError(f"cannot save the study to {directory}: {exc.strerror or exc}") from None
    return directory


def load_study(directory: str | Path) -> Study:
    """A saved study (config.json, summary.json, runs.csv, curves.csv), each file validated on
    load; studies saved before curves.csv had val_loss, objective and seconds load too."""
    from losslab.study import schema

    directory = Path(directory)
    config = schema.study_config(directory / "config.json")
    summary = schema.study_summary(directory / "summary.json")
    _, runs = schema.study_runs(directory / "runs.csv")
    header, curves = schema.study_curves(directory / "curves.csv")
    metrics = config.get("metrics") or [c for c in header if c not in CURVE_COLUMNS]
    if not metrics:
        raise DataError(f"{directory / 'curves.csv'}: no metric column")
    return Study(
        runs=runs,
        summary=summary,
        reference=config.get("reference"),
        metric=metrics[0],
        metrics=metrics,
        partial=config.get("partial", False),
        config=config,
        seconds=config.get("seconds"),
        target_loss=config.get("target_loss"),
        curves=curves,
        record=str(directory),
    )
