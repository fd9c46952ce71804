"""`losslab fit DATA --stream`: training on a CSV (or Parquet) file that need not fit in memory.

The file is read in chunks of ``--chunk-rows`` rows, pass after pass; no pass holds more than a
chunk (plus fewer than a batch of rows carried to the next one):

- **Pass 0** reads every row once: it checks every value (an error names the file, the line and
  the column), learns the class set and the row split, and the standardisation statistics of the
  training rows, merged chunk by chunk with Chan, Golub & LeVeque's update (numerically stable):
  for two parts a, b of n rows, mean m and M2 = Σ(x − m)², n = n_a + n_b, δ = m_b − m_a,
  m = m_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n ("Updating formulae and a pairwise
  algorithm for computing sample variances", 1979). Each chunk's own m and M2 are computed as
  ``numpy.std`` computes them, so one chunk gives exactly the in-memory scaler.
- **Pass k** (epoch k): each chunk's training rows join a shuffle buffer — the chunk plus the
  rows left over from the previous one, fewer than a batch — which is permuted by the run's
  shuffle stream and stepped on a batch at a time; the leftover of the last chunk is the epoch's
  last, smaller batch. The same chunk also evaluates the parameters that ended epoch k − 1 (loss
  and metric of the training, validation and test rows), so epoch k − 1's history is complete
  after pass k, and one more pass evaluates the last epoch: E epochs take E + 2 passes.

Rows are split by a hash of their row number and the seed (splitmix64): a row is a test row when
its number u ∈ [0, 1) is below ``--test-size``, a validation row when below ``test_size + (1 −
test_size)·val_size``; the same rows whatever the chunk size (``--test-data FILE`` scores on
that file, streamed too, and trains on every row). With ``--test-size 0`` (or ``--test-data``)
and one chunk holding the whole file, a streamed run is the in-memory run, bit for bit.

Every pass checks that the file is the one pass 0 read: its device, inode, size, modification
and change times before every chunk, and for a CSV the CRC-32 of all its bytes at the end of the
pass (pass 0 also gives the sha256 of the record). A change is one error; no model is returned.

The source is :mod:`~losslab.train.stream_source`, pass 0 and the rows of a chunk
:mod:`~losslab.train.stream_scan`; this module holds the epoch loop and the entry point.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.nn.models import MODELS
from losslab.train.config import FitConfig
from losslab.train.epoch import StepFn, Stepping, make_gradient, make_step
from losslab.train.evaluation import history_row
from losslab.train.kernels import _metric, metric_name, objective_for
from losslab.train.loop import (
    FitResult,
    ProgressFn,
    build_network,
    generator,
    model_dict,
    resolved_settings,
    run_settings,
    schedule_for,
    step_arrays,
)
from losslab.train.prepare import SHUFFLE, Problem, Split
from losslab.train.stopping import OVERFLOWED, Divergence, EarlyStopping, Ending, Interrupt
from losslab.train.stream_scan import (
    Scan,
    _chunk,
    _codes,
    _Evaluation,
    _keep_all,
    _rows_of,
    _scale,
    _Shuffler,
    _Tally,
    scan,
)
from losslab.train.stream_source import (
    CHUNK_VALUES,
    Pass,
    Source,
)


def train(
    source: Source,
    plan: Scan,
    config: FitConfig,
    chunk_rows: int,
    *,
    test: Source | None = None,
    progress: ProgressFn | None = None,
    interrupt: Interrupt | None = None,
) -> FitResult:
    """The training loop of :func:`losslab.train.loop.train`, on chunks: epoch k's steps and
    the evaluation of epoch k − 1 share pass k (see the module docstring). Never raises on
    divergence; a changed file is a DataError."""
    problem, layout = plan.problem, plan.layout
    opt, lr0, batch, loss_kw = run_settings(problem, config)
    # per epoch, on minibatches, no optimum needed: check_settings saw to it
    stepping = Stepping(schedule_for(config, lr0, steps_per_epoch=1), full_batch=False)
    rule = opt.rule
    loss = problem.loss
    if loss.link is not None and not loss.score_input:
        raise ConfigError(
            f"the {loss.name} loss predicts through its link ({loss.link.formula}), which "
            "--stream does not apply yet: fit it in memory (without --stream)"
        )
    l1, l2, clip = config.l1, config.l2, config.clip_norm
    dtype = np.dtype(config.dtype)
    p = len(layout.features)
    net = build_network(problem, config, p, dtype)
    step_params, step_grads, step_mask = step_arrays(net, rule)
    rule.check_model(step_params, step_mask, problem.model.name)
    state = opt.init(step_params)
    n_train = plan.counts["train"]
    batch = min(batch, n_train)
    rng = generator(config.seed, SHUFFLE)
    objective = objective_for(problem, loss_kw)
    one_layer = net.n_layers == 1
    tail = () if net.vector_output else (net.sizes[-1],)
    G_batch = np.empty((batch, *tail), dtype=dtype)
    shuffler = _Shuffler(batch, rng)
    eval_net = net.copy()
    final_net = eval_net if dtype == np.float64 else net.copy(np.float64)
    classifier = problem.classifier
    metric_key = metric_name(problem)
    has_val = plan.counts["val"] > 0
    has_test = plan.counts["test"] > 0 or test is not None
    logits = problem.head.logits
    interrupt = interrupt or Interrupt()
    step = make_step(
        make_gradient(net, l1, l2, clip), opt, state, (step_params, step_grads, step_mask)
    )
    running = bool(getattr(progress, "running", False))
    step_progress = getattr(progress, "step", None) if running else None
    count = -(-n_train // batch)

    def measure(ev: _Evaluation, name: str, X64: np.ndarray, y64: np.ndarray, full: bool) -> None:
        """Loss and metric of ev's parameters on rows of set ``name``, as `train` records them
        (the history, in the run's dtype) and as `_final_metrics` does (float64)."""
        spread = float(plan.y_moments[name].m2) if plan.y_moments[name].n else 0.0
        X = X64 if dtype == np.float64 else np.asfortranarray(X64, dtype=dtype)
        y = y64 if dtype == np.float64 else y64.astype(dtype)
        if one_layer:
            S, shift = eval_net.forward(X, name, output_bias=False), eval_net.output_shift
        else:
            S, shift = eval_net.scores(X), 0.0
        value, metric = objective.evaluate(S, y, None, shift)
        ev.history.setdefault(name, _Tally(classifier, spread)).add(value, metric, S, y)
        objective.forget()
        if full:
            S = final_net.scores(X64)
            value = problem.loss.value(y64, S, logits=logits, **loss_kw)
            tally = ev.final.setdefault(name, _Tally(classifier, spread))
            tally.add(value, _metric(problem, y64, S), S, y64)

    history: list[dict[str, Any]] = []
    finals: dict[int, _Evaluation] = {}
    ending, patience = Ending(), EarlyStopping(config.patience, config.tol)
    guard = Divergence(math.nan, config.divergence_factor)  # set by pass 1, from θ₀
    start = time.perf_counter()
    evaluating = _Evaluation(net.theta.copy())  # θ₀, for the initial objective
    passes = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(1, config.epochs + 2):
            training = k <= config.epochs
            lr = stepping.epoch_lr(k) if training else math.nan
            eval_net.theta[...] = evaluating.theta
            if final_net is not eval_net:
                final_net.theta[...] = evaluating.theta
            full = k > 1  # θ₀ only gives the initial objective
            seen, total, b = 0, 0.0, 0
            stopped = False
            passes += 1
            for start_row, frame in source.chunks(
                chunk_rows, [*layout.features, layout.target], Pass()
            ):
                if interrupt.requested:
                    stopped = True
                    break
                rows, X, labels, _ = _chunk(source, frame, start_row, layout)
                y = _codes(labels, layout, source, rows)
                _scale(plan.scaler, X)
                for name, mask in layout.sets(rows).items():
                    if name != "train" and not full:
                        continue
                    if mask.all():
                        Xs, ys = X, y
                    elif not mask.any():
                        continue
                    else:
                        Xs, ys = _rows_of(X, mask), y[mask]
                    measure(evaluating, name, Xs, ys, full)
                    if name != "train" or not training:
                        continue
                    Xt = Xs if dtype == np.float64 else np.asfortranarray(Xs, dtype=dtype)
                    for Xb, yb in shuffler.feed(Xt, ys.astype(dtype, copy=False)):
                        b += 1
                        seen, total = _step_on(
                            net, objective, Xb, yb, G_batch, step, lr, running, seen, total
                        )
                        if step_progress is not None:
                            step_progress(k, b, count, total / seen)
                        if interrupt.requested:
                            stopped = True
                            break
                    if stopped:
                        break
                if stopped:
                    break
            if not stopped and training:
                for Xb, yb in shuffler.last():
                    b += 1
                    seen, total = _step_on(
                        net, objective, Xb, yb, G_batch, step, lr, running, seen, total
                    )
                    if step_progress is not None:
                        step_progress(k, b, count, total / seen)
            if not stopped and test is not None and full:
                for start_row, frame in test.chunks(
                    chunk_rows, [*layout.features, layout.target], Pass()
                ):
                    if interrupt.requested:
                        stopped = True
                        break
                    rows, X, labels, _ = _chunk(test, frame, start_row, _keep_all(layout))
                    y = _codes(labels, layout, test, rows)
                    _scale(plan.scaler, X)
                    measure(evaluating, "test", X, y, True)
            if stopped:
                ending.interrupt(interrupt.signal)
                break
            # pass k measured the parameters that ended epoch k − 1
            epoch = k - 1
            penalty = eval_net.penalty(l1, l2)
            train_loss, train_metric = evaluating.history["train"].result(math.nan)
            if epoch == 0:
                guard = Divergence(train_loss + penalty, config.divergence_factor)
            else:
                total_objective = train_loss + penalty
                why = guard.why(total_objective)
                if why:
                    ending.diverge(epoch, why)
                    break
                results = evaluating.history
                val_part = results["val"].result(math.nan) if has_val else None
                test_part = results["test"].result(math.nan) if has_test else None
                row, monitored = history_row(
                    epoch,
                    stepping.epoch_lr(epoch),
                    total_objective,
                    metric_key,
                    (train_loss, train_metric),
                    val_part,
                    test_part,
                )
                history.append(row)
                finals[epoch] = evaluating
                if progress is not None:
                    progress(epoch, config.epochs, train_loss)
                if patience.stop(epoch, monitored):
                    ending.status = "early_stopped"
                    break
                finals = {e: v for e, v in finals.items() if e in (epoch, patience.best_epoch)}
            if not training:
                break
            rule.to_eval(step_params, state)
            evaluating = _Evaluation(net.theta.copy())
            if k < config.epochs:
                rule.to_train(step_params, state)
            if not np.isfinite(evaluating.theta).all():
                ending.diverge(k, OVERFLOWED)
                break
    seconds = time.perf_counter() - start
    status = ending.status
    kept = patience.best_epoch if status == "early_stopped" else len(history)
    final = finals.get(kept)
    theta = final.theta if final is not None else evaluating.theta
    if status == "diverged":
        theta = evaluating.theta if ending.diverged_at == len(history) + 1 else theta
    eval_net.theta[...] = theta
    model_net = eval_net if dtype == np.float64 else eval_net.copy(np.float64)
    resolved = resolved_settings(problem, config, opt, lr0, batch, loss_kw, net, stepping.lrs)
    resolved.update(stream=True, chunk_rows=chunk_rows)
    metrics = _final(problem, final, status, has_val, has_test, model_net, config)
    split = Split(np.empty((0, p)), np.empty(0), None, None, plan.scaler, np.empty(0, np.intp))
    return FitResult(
        status=status,
        epochs_run=ending.epochs_run(len(history)),
        seconds=seconds,
        config=resolved,
        history=history,
        metrics=metrics,
        model=model_dict(problem, split, model_net),
        diverged_at=ending.diverged_at,
        message=ending.message,
        data={"passes": passes},
    )


def _step_on(
    net: Any,
    objective: Any,
    Xb: np.ndarray,
    yb: np.ndarray,
    G_batch: np.ndarray,
    step: StepFn,
    lr: float,
    running: bool,
    seen: int,
    total: float,
) -> tuple[int, float]:
    """One minibatch step, as :class:`~losslab.train.epoch.Minibatches` takes it; (rows,
    summed loss) so far when running."""
    m = yb.shape[0]
    Sb, Gb = net.forward(Xb, "batch"), G_batch[:m]
    if running:
        value, _ = objective.evaluate(Sb, yb, Gb)
        seen, total = seen + m, total + value * m
    else:
        objective.grad(Sb, yb, Gb)
    step(Gb, "batch", lr)
    return seen, total


def _final(
    problem: Problem,
    final: _Evaluation | None,
    status: str,
    has_val: bool,
    has_test: bool,
    net: Any,
    config: FitConfig,
) -> dict[str, Any]:
    """The report's train (val, test) loss and metric of the parameters kept, measured in the
    pass after their epoch (nothing when the run diverged or stopped before an epoch ended)."""
    key = metric_name(problem)
    val: dict[str, Any] = {"val": None} if has_val else {}
    if status == "diverged" or final is None:
        return {"train": {"loss": None, key: None, "objective": None}, "test": None, **val}
    train_loss, train_metric = final.final["train"].result(None)
    out: dict[str, Any] = {
        "train": {
            "loss": train_loss,
            key: train_metric,
            "objective": train_loss + net.penalty(config.l1, config.l2),
        },
        "test": None,
    }
    for name in ("val", "test"):
        if name in final.final:
            loss, metric = final.final[name].result(None)
            out[name] = {"loss": loss, key: metric}
    return out


# --------------------------------------------------------------------------- fit


def chunk_rows_for(chunk_rows: int | None, columns: int) -> int:
    """``--chunk-rows``, or as many rows as hold CHUNK_VALUES values."""
    if chunk_rows is None:
        return max(1, CHUNK_VALUES // max(columns, 1))
    if chunk_rows < 1:
        raise ConfigError(f"--chunk-rows must be >= 1, got {chunk_rows}")
    return chunk_rows


def check_settings(config: FitConfig) -> None:
    """What --stream refuses whatever the data, one line each."""
    if config.shuffle != "epoch":
        raise ConfigError(
            "--shuffle once permutes every row once, in memory; --stream shuffles within each "
            "chunk (--shuffle epoch)"
        )
    if config.missing in ("mean", "median"):
        raise ConfigError(
            f"--missing {config.missing} fills values from all training rows in memory; "
            "--stream takes --missing error or drop"
        )
    if config.model is not None and MODELS.get(config.model).images:
        raise ConfigError("--stream trains linear models and mlp; a cnn trains in memory")
    if config.test_data is not None and not isinstance(config.test_data, str | Path):
        raise ConfigError("--test-data: --stream reads a file (a path or a bundled name)")
    scaled = None if config.target_scale == "none" else config.target_scale
    for flag, value in (("--weight-column", config.weight_column),
                        ("--class-weight", config.class_weight),
                        ("--target-scale", scaled)):  # fmt: skip
        if value is not None:
            raise ConfigError(f"{flag} is not streamed yet: fit it in memory (without --stream)")
    from losslab.optim.optimizers import OPTIMIZERS
    from losslab.optim.schedules import SCHEDULES, schedule_unit

    # before the file is read: what the optimizer is decides whether it can stream at all
    name, spec = OPTIMIZERS.resolve(config.optimizer), OPTIMIZERS.get(config.optimizer)
    batch = config.batch_size if config.batch_size is not None else spec.default_batch_size
    if spec.rule.full_batch or not batch:
        raise ConfigError(
            f"--stream steps on minibatches; {name} uses the full batch here (give --batch-size N)"
        )
    if spec.rule.needs_optimum:
        raise ConfigError(f"{name} needs the exact optimum, which --stream cannot compute")

    if SCHEDULES.get(config.schedule).build is None:
        raise ConfigError(
            f"--schedule {config.schedule} watches the loss every epoch; --stream measures it a "
            "pass later: give a schedule with a closed form"
        )
    if schedule_unit(config.schedule, config.schedule_unit) == "step":
        raise ConfigError(
            f"--stream advances the schedule per epoch; {config.schedule} counts optimizer steps "
            "here (give --schedule-unit epoch)"
        )


def fit(
    data: Any = None,
    *,
    chunk_rows: int | None = None,
    progress: ProgressFn | None = None,
    **settings: Any,
) -> FitResult:
    """`losslab fit DATA --stream`: train on ``data`` read in chunks of ``chunk_rows`` rows,
    pass after pass; the same settings and result as :func:`losslab.train.loop.fit`."""
    config = FitConfig.from_dict({**settings, **({"data": data} if data is not None else {})})
    config.validate()
    check_settings(config)
    source = Source(config.data, sep=config.sep)
    test = Source(config.test_data, flag="--test-data") if config.test_data is not None else None
    rows = chunk_rows_for(chunk_rows, len(source.columns))
    interrupt = Interrupt()
    with interrupt.installed():
        plan = scan(source, config, rows, interrupt, test)
        result = train(
            source, plan, config, rows, test=test, progress=progress, interrupt=interrupt
        )
    passes = result.data.get("passes", 0)
    result.data = {
        "source": source.label,
        "path": str(source.path.resolve()),
        "sha256": plan.sha256,
        "rows": sum(plan.counts.values()) + plan.dropped,
        "train_rows": plan.counts["train"],
        "test_rows": plan.test_counts if test is not None else plan.counts["test"],
        "val_rows": plan.counts["val"],
        "choice": plan.problem.choice,
        "preparation": plan.prep,
        "stream": {
            "chunk_rows": rows,
            "passes": passes + 1,
            "split": "by row hash" if test is None else "--test-data",
            "format": source.kind,
        },
    }
    if test is not None:
        result.data["test_data"] = test.label
    return result
