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
from losslab.study.summary import (
    Study,
    reference_for,
    summarise,
)
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
) -> Study:
    """Run the study and summarise it (no saving, no printing); Ctrl-C and ``executor`` as in
    ``run_grid``."""
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
    records, interrupted = run_grid(
        runs,
        base,
        problem,
        jobs=jobs,
        progress=progress,
        on_interrupt=on_interrupt,
        executor=executor,
        scheduler=scheduler,
    )
    if not records:
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
        "model": "linear" if problem.score_models else problem.model.name,
        **({"model_note": model_note} if model_note else {}),
        "jobs": jobs,
        "executor": executor,
        "scheduler": scheduler,
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
    )


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


def save_study(study: Study, out: str | None) -> str:
    from losslab.data.write import to_csv, to_json
    from losslab.study.records import versions, write_record

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
    src = study.config["data"]["source"]
    name = f"compare-{src}-{study.config['model']}" + ("-partial" if study.partial else "")
    return str(write_record(out, name, files))


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
