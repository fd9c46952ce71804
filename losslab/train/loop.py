"""`losslab fit`: the training loop and its result.

The loop sees a network (parameters θ, ``forward``, ``backward``), an objective (loss and
gradient of the scores) and an optimizer; it never asks which model it trains. The exact
semantics (split, scaling, objective, batching, history) are documented in the README; they are
what makes a run comparable with PyTorch step for step.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.nn.network import Network
from losslab.optim.optimizers import OPTIMIZERS, StepContext, make_optimizer
from losslab.optim.schedules import LRSchedule, Plateau, lr_schedule, schedule_unit
from losslab.train.config import (  # noqa: F401  (re-exported: the settings live in losslab.train.config)
    DEFAULT_ACTIVATION,
    DEFAULT_HIDDEN,
    DTYPES,
    SHUFFLES,
    STATUSES,
    FitConfig,
)
from losslab.train.kernels import (  # noqa: F401  (re-exported for the tests and benchmarks)
    _CHUNK,
    Batches,
    Objective,
    _metric,
    metric_name,
    objective_for,
)
from losslab.train.prepare import (  # noqa: F401  (re-exported)
    INIT,
    SHUFFLE,
    Problem,
    Scaler,
    Split,
    data_info,
    generator,
    load_problem,
    load_test,
    make_split,
    prepare,
    split_rows,
    with_loss,
)

DIVERGED_HINT = "lower --lr (or keep --standardize on, or add --clip-norm)"
_Objective = Objective  # the name the speed-path tests know


@dataclass
class FitResult:
    """What `losslab fit` reports; ``to_dict()`` is its JSON, ``to_frame()`` its history.

    ``status``: completed, early_stopped, diverged or interrupted; ``config``: every resolved
    setting; ``history``: one dict per epoch (train/val/test loss, metric, lr, objective);
    ``metrics``: the final train (val, test) loss and metric; ``model``: the saved model;
    ``data``: the data's provenance and the choices made on it; ``record``: the run directory;
    ``epoch_seconds``: wall time from the start of training to the end of each epoch of
    ``history`` (kept out of it, so that the history of a seed is always the same numbers).
    """

    status: str
    epochs_run: int
    seconds: float
    config: dict[str, Any]
    history: list[dict[str, Any]]
    metrics: dict[str, dict[str, float | None] | None]
    model: dict[str, Any]
    record: str | None = None
    diverged_at: int | None = None
    message: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    epoch_seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "epochs_run": self.epochs_run,
            "seconds": self.seconds,
            "diverged_at": self.diverged_at,
            "message": self.message,
            "config": self.config,
            "data": self.data,
            "history": self.history,
            "metrics": self.metrics,
            "model": self.model,
            "record": self.record,
        }

    def to_frame(self) -> Any:
        """The history as a pandas DataFrame, one row per epoch (NaN where a value is missing,
        e.g. the test loss without a test split)."""
        from losslab.data.write import to_frame

        return to_frame(self.history)

    def __repr__(self) -> str:
        """One line: data · model · loss · optimizer lr · status · the last losses."""
        cfg = self.config
        source = str(self.data.get("source") or cfg.get("data") or "?")[-40:]
        where = next((k for k in ("test", "val", "train") if self.metrics.get(k)), None)
        shown = ""
        if where is not None:
            part = self.metrics[where] or {}
            values = [f"{k} {v:.4g}" for k, v in part.items() if k != "objective" and v is not None]
            shown = f" · {where} " + ", ".join(values) if values else ""
        lr = f" lr {cfg['lr']:g}" if isinstance(cfg.get("lr"), (int, float)) else ""
        return (
            f"<FitResult {source} · {cfg.get('model')} · {cfg.get('loss')} · "
            f"{cfg.get('optimizer')}{lr} · {self.status}, {self.epochs_run} epochs{shown}>"
        )

    def _repr_html_(self) -> str | None:
        """The run's table and curves in a notebook (:func:`losslab.registry.html_of`)."""
        from losslab.registry import html_of

        return html_of(self)


class _Interrupt:
    """Ctrl-C sets a flag that the loop reads after each batch (main thread only)."""

    def __init__(self) -> None:
        self.requested = False

    @contextmanager
    def installed(self) -> Iterator[_Interrupt]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum: int, frame: Any) -> None:
            self.requested = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


ProgressFn = Callable[[int, int, float], None]
EpochFn = Callable[[int, np.ndarray], None]


def build_network(problem: Problem, config: FitConfig, n_features: int, dtype: Any) -> Network:
    """The model's network with its initial weights: zeros for the one-layer models, the
    ``--init`` scheme from the seed's INIT stream for networks, or ``--init-from``'s weights."""
    head = problem.head
    out = problem.n_outputs
    if problem.model.images:
        from losslab.nn.layers import SEED_LAYERS, image_shape

        net = Network(
            [n_features, out],
            config.activation or DEFAULT_ACTIVATION,
            vector_output=not head.multi_output,
            dtype=dtype,
            layers=config.layers or SEED_LAYERS,
            image=image_shape(config.image, n_features),
        )
    else:
        if problem.model.network:
            hidden = config.hidden or list(DEFAULT_HIDDEN)
            activation = config.activation or DEFAULT_ACTIVATION
        else:
            hidden, activation = [], None
        net = Network(
            [n_features, *hidden, out],
            activation,
            vector_output=not head.multi_output,
            dtype=dtype,
        )
    if config.init_from is not None:
        from losslab.nn.init_from import load_weights

        arrays = load_weights(
            config.init_from,
            kind=problem.model.name,
            features=problem.features,
            n_layers=net.n_layers,
        )
        net.load(arrays, f"--init-from {config.init_from}")
    elif problem.model.network:
        net.init(config.init or "torch", generator(config.seed, INIT))
    return net


def step_arrays(net: Network, rule: Any) -> tuple[list[np.ndarray], list[np.ndarray], list[bool]]:
    """(params, grads, decay mask) that ``rule`` steps on, all views into θ and g.

    A rule that treats matrices as matrices steps on each layer's tensors (torch's layout);
    weight decay spares the biases, so a decaying rule steps on the two halves of θ; every
    other rule steps once on the whole vector.
    """
    if rule.layout == "tensors":
        params, grads = net.torch_tensors()
        return params, grads, [True, False] * net.n_layers
    if rule.decays:
        w = net.weights.size
        return [net.weights, net.biases], [net.grad[:w], net.grad[w:]], [True, False]
    return [net.theta], [net.grad], [True]


def run_settings(problem: Problem, config: FitConfig) -> tuple[Any, float, int, dict]:
    """(optimizer, lr, batch size, loss parameters) of a run: the settings given, else the
    optimizer's defaults for this model and loss (batch 0: the full batch). The lr schedule
    needs the batch count too: :func:`schedule_for`."""
    loss, head = problem.loss, problem.head
    opt = make_optimizer(config.optimizer, **config.hyperparameters())
    scaled = config.target_scale != "none"
    lr0 = config.lr
    if lr0 is None:
        lr0 = head.default_lr(opt.name, opt.default_lr, loss.name, target_scaled=scaled)
    batch = config.batch_size if config.batch_size is not None else opt.default_batch_size
    loss_kw = loss_settings(loss, config)
    return opt, lr0, batch, loss_kw


def resolved_settings(
    problem: Problem,
    config: FitConfig,
    opt: Any,
    lr0: float,
    batch: int,
    loss_kw: dict[str, Any],
    net: Network,
    lrs: Any,
    class_record: Any = None,
) -> dict[str, Any]:
    """Every setting of a finished run as its record states it: defaults resolved."""
    loss = problem.loss
    resolved = config.to_dict()
    resolved.update(
        model=problem.model.name,
        loss=loss.name,
        optimizer=OPTIMIZERS.resolve(config.optimizer),
        schedule=lrs.name,
        schedule_unit=lrs.unit,
        **lrs.params,
        lr=lr0,
        batch_size=batch,
        target=problem.target,
        features=problem.features,
        scale=config.scaling,
        val_size=config.validation,
        **opt.hyperparameters,
        **{k: loss_kw.get(k, v) for k, v in loss.params.items()},
    )
    if class_record is not None:
        resolved["class_weights"] = class_record
    if problem.model.network:
        resolved.update(
            hidden=net.hidden if net.spec is None else None,
            activation=net.activation.name,  # type: ignore[union-attr]
            init=config.init or ("torch" if config.init_from is None else None),
        )
    if net.image is not None:
        resolved.update(layers=net.architecture, image="x".join(map(str, net.image)))
    return resolved


def divergence(objective: float, ceiling: float, factor: float, initial: float) -> str:
    """Why a run has diverged at this training objective, or "" while it has not."""
    if not math.isfinite(objective):
        return "the loss or the parameters overflowed"
    if objective > ceiling:
        return f"objective {objective:.4g} > {factor:g} × the initial {initial:.4g}"
    return ""


def optimum_of(rule: Any, problem: Problem, split: Split, config: FitConfig) -> float | None:
    """f*, the exact minimum of the training objective, for the rules that need it.

    The objective is the one the loop minimises: the mean loss over the training rows (the
    validation rows left out) + (l2/2)·‖W‖², solved by
    :func:`losslab.train.reference.reference_optimum`
    as `compare`'s gap column is. Where the classes are separable and nothing is penalised, the
    infimum 0 is approached but not attained: f* = 0 (the interpolation case of Loizou et al.
    2021). Elsewhere (a network, a non-smooth or non-convex loss, --l1, an unattained optimum)
    a ConfigError says why there is none.
    """
    if not rule.needs_optimum:
        return None
    from losslab.train.reference import reference_optimum

    ref = reference_optimum(
        problem.model.name,
        problem.loss.name,
        split.X_train,
        split.y_train,
        n_classes=max(problem.n_outputs, 2),
        l1=config.l1,
        l2=config.l2,
    )
    if ref.objective is not None:
        return ref.objective
    if ref.infimum is not None:
        return ref.infimum
    raise ConfigError(
        f"{OPTIMIZERS.resolve(config.optimizer)} needs the exact optimum f*, which losslab "
        "computes for linear/mse, logistic/bce and softmax/cross-entropy without --l1; "
        f"{problem.model.name}/{problem.loss.name} has none here: {ref.reason}"
    )


def schedule_for(config: FitConfig, lr0: float, steps_per_epoch: int) -> LRSchedule | Plateau:
    """The run's lr schedule: per epoch, or per optimizer step over the run's
    ``epochs × steps_per_epoch`` steps (``--schedule-unit step``)."""
    unit = schedule_unit(config.schedule, config.schedule_unit)
    return lr_schedule(
        base_lr=lr0,
        units=config.epochs * (steps_per_epoch if unit == "step" else 1),
        schedule=config.schedule,
        warmup=config.warmup,
        unit=unit,
        **config.schedule_params,
    )


def train(
    problem: Problem,
    split: Split,
    config: FitConfig,
    *,
    progress: ProgressFn | None = None,
    interrupt: _Interrupt | None = None,
    lrs: LRSchedule | None = None,
    on_batch: Callable[[float, float], None] | None = None,
    on_epoch: EpochFn | None = None,
) -> FitResult:
    """Run the optimisation loop on a prepared split; never raises on divergence.

    ``on_epoch(epoch, θ)`` sees the parameters (a view, to copy) before the first step (epoch 0)
    and after each epoch that is kept in the history, at the point the model is evaluated at.

    Full batch, an epoch is one backward pass and one forward pass: the forward pass that gives
    the epoch's loss is the one the next gradient needs. Minibatches are gathered from a
    row-major copy of the training rows into one reused buffer (:class:`Batches`).

    ``lrs`` replaces the configured schedule (lr-find's sweep); ``on_batch(lr, objective)``
    hears, after each step, its lr and the objective of its batch before it (lr-find's
    recorder: it stops the run through ``interrupt``).
    """
    loss = problem.loss
    opt, lr0, batch, loss_kw = run_settings(problem, config)
    class_weight, class_record = None, None
    if config.class_weight is not None:
        from losslab.data.weighting import class_weights

        class_weight, class_record = class_weights(
            config.class_weight, loss.name, problem.classes, split.y_train
        )
    l1, l2, clip = config.l1, config.l2, config.clip_norm
    dtype = np.dtype(config.dtype)

    X, y = split.X_train, split.y_train
    X_test, y_test = split.X_test, split.y_test
    X_val, y_val = split.X_val, split.y_val
    w_train, w_test, w_val = split.w_train, split.w_test, split.w_val
    if dtype != X.dtype:
        X, y = np.asfortranarray(X, dtype=dtype), y.astype(dtype)
        if X_test is not None and y_test is not None:
            X_test, y_test = np.asfortranarray(X_test, dtype=dtype), y_test.astype(dtype)
        if X_val is not None and y_val is not None:
            X_val, y_val = np.asfortranarray(X_val, dtype=dtype), y_val.astype(dtype)
        w_train, w_test, w_val = (
            None if a is None else a.astype(dtype) for a in (w_train, w_test, w_val)
        )
    n, p = X.shape
    net = build_network(problem, config, p, dtype)
    rule = opt.rule
    step_params, step_grads, step_mask = step_arrays(net, rule)
    rule.check_model(step_params, step_mask, problem.model.name)
    if rule.full_batch and batch not in (0, None) and batch < n:
        raise ConfigError(
            f"{opt.name} needs the full batch (each step uses the whole objective); "
            f"drop --batch-size {batch} or give --batch-size full"
        )
    state = opt.init(step_params)
    batch = n if batch == 0 or batch >= n else batch
    full_batch = batch == n
    if lrs is None:
        lrs = schedule_for(config, lr0, steps_per_epoch=-(-n // batch))
    # Per step, the lr changes with every minibatch (an O(1) lookup: one float per step).
    per_step = lrs.unit == "step" and not full_batch
    lr_of = lrs.at
    t = 0  # optimizer steps taken, the unit of a per-step schedule
    rng = generator(config.seed, SHUFFLE)
    weighted = any(a is not None for a in (w_train, w_test, w_val))
    objective = objective_for(problem, loss_kw, class_weight=class_weight, weighted=weighted)
    shift = net.output_shift
    one_layer = net.n_layers == 1
    tail = () if net.vector_output else (net.sizes[-1],)  # the scores' shape after the rows

    def gradient(G: np.ndarray, key: str) -> None:
        net.backward(G, key)
        net.add_penalty_grad(l1, l2)
        if clip is not None:
            coef = clip / (net.grad_norm() + 1e-6)
            if coef < 1.0:
                np.multiply(net.grad, coef, out=net.grad)

    ctx = None
    if rule.full_batch or rule.needs_optimum:

        def closure() -> float:
            """The full-batch objective at the current θ; its gradient goes into net.grad."""
            S = net.forward(X, "train")
            value = objective.evaluate(S, y, G_train, w=w_train)[0] + net.penalty(l1, l2)
            gradient(G_train, "train")
            return float(value)

        ctx = StepContext(closure=closure, optimum=optimum_of(rule, problem, split, config))

    def step(G: np.ndarray, key: str, lr: float) -> None:
        gradient(G, key)
        opt.step(step_params, step_grads, state, lr, decay_mask=step_mask, ctx=ctx)

    eval_out: dict[str, np.ndarray] = {}

    def scores_of(Xs: np.ndarray, key: str) -> tuple[np.ndarray, Any]:
        """(scores, shift still to add): without the output bias, which the objective adds as
        it goes, through the slot ``key`` that a full-batch backward reuses; a network's
        evaluation-only pass goes in bounded chunks, bias included."""
        if one_layer or (key == "train" and full_batch):
            return net.forward(Xs, key, output_bias=False), shift
        if key not in eval_out:
            eval_out[key] = np.empty((Xs.shape[0], *tail), dtype=dtype)
        return net.scores(Xs, out=eval_out[key]), 0.0

    # The objective at the starting parameters, before the first step: the yardstick of
    # divergence (full batch, the same pass gives the first gradient).
    G_train = None
    if full_batch:
        G_train = np.empty((n, *tail), dtype=dtype)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            initial = objective.evaluate(net.forward(X, "train"), y, G_train, w=w_train)[0]
    else:
        S0, add0 = scores_of(X, "train")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            initial = objective.evaluate(S0, y, None, add0, w_train)[0]
        batches = Batches(X, y, batch, config.shuffle, rng, w_train)
        G_batch = np.empty((min(batch, n), *tail), dtype=dtype)
    running = bool(getattr(progress, "running", False)) and not full_batch
    step_progress = getattr(progress, "step", None) if running else None

    initial += net.penalty(l1, l2)
    current = initial  # the objective at the current θ (full batch, where the gradient is)
    ceiling = config.divergence_factor * initial if initial > 0 else math.inf
    history: list[dict[str, Any]] = []
    epoch_seconds: list[float] = []
    status = "completed"
    diverged_at = None
    why = ""
    best = math.inf
    best_theta: np.ndarray | None = None
    waited = 0
    metric_key = metric_name(problem)
    has_test = X_test is not None
    has_val = X_val is not None
    interrupt = interrupt or _Interrupt()
    if on_epoch is not None:
        on_epoch(0, net.theta)
    start = time.perf_counter()
    epoch = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(1, config.epochs + 1):
            lr = lr_of(epoch - 1) if not per_step else math.nan
            if epoch > 1:
                rule.to_train(step_params, state)
            if full_batch:
                if rule.evaluates_elsewhere and epoch > 1:
                    # the evaluation pass ran at the averaged point; the gradient is taken here
                    current = objective.evaluate(net.forward(X, "train"), y, G_train, w=w_train)[0]
                    current += net.penalty(l1, l2)
                if ctx is not None:
                    ctx.loss = current
                step(G_train, "train", lr)
                if on_batch is not None:
                    on_batch(lr, current)
            else:
                seen, total = 0, 0.0
                for k, (Xb, yb, wb) in enumerate(batches.epoch(), start=1):
                    m = yb.shape[0]
                    Sb, Gb = net.forward(Xb, "batch"), G_batch[:m]
                    if running or on_batch is not None:
                        value, _ = objective.evaluate(Sb, yb, Gb, w=wb)
                        seen, total = seen + m, total + value * m
                        if step_progress is not None:
                            step_progress(epoch, k, batches.count, total / seen)
                        if on_batch is not None:
                            value += net.penalty(l1, l2)  # θ before the step
                    else:
                        objective.grad(Sb, yb, Gb, wb)
                    if per_step:
                        lr = lr_of(t)
                        t += 1
                    step(Gb, "batch", lr)
                    if on_batch is not None:
                        on_batch(lr, value)
                    if interrupt.requested:
                        break
            rule.to_eval(step_params, state)
            finite = bool(np.isfinite(net.theta).all())
            S_train, add = scores_of(X, "train")
            train_loss, train_metric = math.nan, math.nan
            if finite:
                # Full batch, the gradient of the next epoch comes from these same scores.
                ahead = G_train if epoch < config.epochs else None
                train_loss, train_metric = objective.evaluate(S_train, y, ahead, add, w_train)
            total_objective = train_loss + net.penalty(l1, l2) if finite else math.nan
            current = total_objective
            why = divergence(total_objective, ceiling, config.divergence_factor, initial)
            if why:
                status, diverged_at = "diverged", epoch
                break
            record: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss, "test_loss": None}
            record["lr"] = lr  # per step: the lr of the epoch's last step
            record["objective"] = total_objective
            record[f"train_{metric_key}"] = train_metric
            monitored, metric = train_loss, train_metric
            if has_val:
                S_val, add = scores_of(X_val, "val")
                val_loss, val_metric = objective.evaluate(S_val, y_val, shift=add, w=w_val)
                monitored = record["val_loss"] = val_loss
                record[f"val_{metric_key}"] = val_metric
            if has_test:
                S_test, add = scores_of(X_test, "test")
                test_loss, metric = objective.evaluate(S_test, y_test, shift=add, w=w_test)
                record["test_loss"] = test_loss
                record[f"test_{metric_key}"] = metric
            record[metric_key] = metric
            history.append(record)
            if lrs.stateful:
                lrs.observe(epoch - 1, monitored)
            epoch_seconds.append(time.perf_counter() - start)
            if on_epoch is not None:
                on_epoch(epoch, net.theta)
            if progress is not None:
                progress(epoch, config.epochs, train_loss)
            if interrupt.requested:
                status = "interrupted"
                break
            if config.patience is not None:
                if monitored < best - config.tol:
                    best, waited = monitored, 0
                    best_theta = net.theta.copy()
                else:
                    waited += 1
                    if waited >= config.patience:
                        status = "early_stopped"
                        if best_theta is not None:
                            net.theta[...] = best_theta
                        break
    seconds = time.perf_counter() - start
    if status == "interrupted" and not history:
        epoch = 0
    final = net if dtype == np.float64 else net.copy(np.float64)

    resolved = resolved_settings(
        problem, config, opt, lr0, 0 if full_batch else batch, loss_kw, net, lrs, class_record
    )
    metrics = _final_metrics(problem, split, final, config, status, objective)
    return FitResult(
        status=status,
        epochs_run=len(history) if status != "diverged" else epoch,
        seconds=seconds,
        config=resolved,
        history=history,
        metrics=metrics,
        model=model_dict(problem, split, final),
        diverged_at=diverged_at,
        epoch_seconds=epoch_seconds,
        message=f"diverged at epoch {diverged_at} ({why}): {DIVERGED_HINT}" if why else None,
    )


def loss_settings(loss: Any, config: FitConfig) -> dict[str, Any]:
    """The loss parameters given for ``loss``, validated: one it does not take is an error, as
    is poisson without log input (a model's score is a log rate, never a rate)."""
    loss_kw = dict(config.loss_params())
    for name in loss_kw:
        if name not in loss.params:
            raise ConfigError(f"--{name.replace('_', '-')} is not used by the {loss.name} loss")
    resolved = loss.resolve_params(**loss_kw)
    if loss.score_input and resolved.get("log_input") is False:
        raise ConfigError(
            f"--no-log-input: {loss.name} trains on the model's score as the log rate (the "
            "score is unbounded, so it cannot be the rate itself); drop --no-log-input"
        )
    return loss_kw


def _final_metrics(
    problem: Problem,
    split: Split,
    net: Network,
    config: FitConfig,
    status: str,
    objective: Objective,
) -> dict[str, dict[str, float | None] | None]:
    """The final losses and metrics of each part, from the registry's (unfused) objective."""
    key = metric_name(problem)
    if status == "diverged":
        val: dict[str, None] = {"val": None} if split.X_val is not None else {}
        return {"train": {"loss": None, key: None, "objective": None}, "test": None, **val}
    score = Objective(problem, objective.loss_kw, objective.class_weight)

    def part(X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> dict[str, float | None]:
        loss, metric = score.evaluate(net.scores(X), y, w=w)
        return {"loss": loss, key: metric}

    train = part(split.X_train, split.y_train, split.w_train)
    train["objective"] = train["loss"] + net.penalty(config.l1, config.l2)  # type: ignore[operator]
    out: dict[str, dict[str, float | None] | None] = {"train": train, "test": None}
    if split.X_val is not None and split.y_val is not None:
        out["val"] = part(split.X_val, split.y_val, split.w_val)
    if split.X_test is not None and split.y_test is not None:
        out["test"] = part(split.X_test, split.y_test, split.w_test)
    return out


def model_dict(problem: Problem, split: Split, net: Network) -> dict[str, Any]:
    """The saved model: JSON-ready, enough for `losslab predict` on raw features.

    One-layer models keep ``coef`` and ``intercept``; networks list their ``layers`` with
    weights (``W`` as (fan_in, fan_out), a conv's as torch's (C_out, C_in, k, k); ``b``) with the
    ``activation``; a cnn also its layer ``spec`` and ``image`` shape [H, W, C].
    """
    out: dict[str, Any] = {
        "kind": problem.model.name,
        "loss": problem.loss.name,
        "target": problem.target,
        "features": problem.features,
        "classes": problem.classes,
    }
    if problem.model.network:
        out["activation"] = net.activation.name  # type: ignore[union-attr]
        if net.image is not None:
            out["spec"] = net.architecture
            out["image"] = list(net.image)
        out["layers"] = net.to_lists()
    else:
        W, b = net.W[0], net.b[0]
        out["coef"] = W.tolist()
        out["intercept"] = b.tolist() if problem.head.multi_output else float(b[0])
    out["scaler"] = split.scaler.to_dict() if split.scaler is not None else None
    if split.target_scale is not None:
        out["target_scale"] = split.target_scale
    if split.encoder is not None:
        out["encoder"] = split.encoder.to_dict()
        out["inputs"] = split.encoder.names
    return out


def fit(
    data: Any = None,
    *,
    progress: ProgressFn | None = None,
    **settings: Any,
) -> FitResult:
    """Train a model as `losslab fit` does; returns the result the JSON output carries (saving
    it is the caller's: :func:`losslab.study.records.save_fit`).

    ``settings`` are FitConfig fields (``model``, ``loss``, ``optimizer``, ``lr``, ``epochs`` …).
    """
    config = FitConfig.from_dict({**settings, **({"data": data} if data is not None else {})})
    problem, split = prepare(config)
    interrupt = _Interrupt()
    with interrupt.installed():
        result = train(problem, split, config, progress=progress, interrupt=interrupt)
    result.data = data_info(problem, split)
    return result


def with_settings(config: FitConfig, **changes: Any) -> FitConfig:
    return replace(config, **changes)
