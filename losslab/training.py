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

from losslab.config import (  # noqa: F401  (re-exported: the settings live in losslab.config)
    DEFAULT_ACTIVATION,
    DEFAULT_HIDDEN,
    DTYPES,
    LOSS_PARAMS,
    SHUFFLES,
    STATUSES,
    FitConfig,
)
from losslab.errors import ConfigError
from losslab.kernels import (  # noqa: F401  (re-exported for the tests and benchmarks)
    _CHUNK,
    Batches,
    Objective,
    _metric,
    metric_name,
    objective_for,
)
from losslab.network import Network
from losslab.optimizers import OPTIMIZERS, StepContext, make_optimizer
from losslab.prepare import (  # noqa: F401  (re-exported)
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
from losslab.schedules import SCHEDULES, lr_schedule

DIVERGED_HINT = "lower --lr (or keep --standardize on, or add --clip-norm)"
_Objective = Objective  # the name the speed-path tests know


@dataclass
class FitResult:
    """What `losslab fit` reports; ``to_dict()`` is its JSON, ``to_frame()`` its history.

    ``status``: completed, early_stopped, diverged or interrupted; ``config``: every resolved
    setting; ``history``: one dict per epoch (train/val/test loss, metric, lr, objective);
    ``metrics``: the final train (val, test) loss and metric; ``model``: the saved model;
    ``data``: the data's provenance and the choices made on it; ``record``: the run directory.
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
        """The history as a pandas DataFrame, one row per epoch."""
        import pandas as pd

        return pd.DataFrame(self.history)


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


def build_network(problem: Problem, config: FitConfig, n_features: int, dtype: Any) -> Network:
    """The model's network with its initial weights: zeros for the one-layer models, the
    ``--init`` scheme from the seed's INIT stream for networks, or ``--init-from``'s weights."""
    head = problem.head
    out = problem.n_outputs
    if problem.model.images:
        from losslab.layers import SEED_LAYERS, image_shape

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
        from losslab.weights import load_weights

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


def run_settings(problem: Problem, config: FitConfig) -> tuple[Any, float, int, Any, dict]:
    """(optimizer, lr, batch size, lr per epoch, loss parameters) of a run: the settings given,
    else the optimizer's defaults for this model and loss (batch 0: the full batch)."""
    loss, head = problem.loss, problem.head
    opt = make_optimizer(config.optimizer, **config.hyperparameters())
    lr0 = (
        config.lr if config.lr is not None else head.default_lr(opt.name, opt.default_lr, loss.name)
    )
    batch = config.batch_size if config.batch_size is not None else opt.default_batch_size
    lrs = lr_schedule(
        base_lr=lr0,
        epochs=config.epochs,
        schedule=config.schedule,
        warmup=config.warmup,
        step_size=config.step_size,
        decay=config.decay,
        power_t=config.power_t,
        min_lr=config.min_lr,
    )
    loss_kw = dict(config.loss_params())
    for name in loss_kw:
        if name not in loss.params:
            raise ConfigError(f"--{name} is not used by the {loss.name} loss")
    return opt, lr0, batch, lrs, loss_kw


def resolved_settings(
    problem: Problem,
    config: FitConfig,
    opt: Any,
    lr0: float,
    batch: int,
    loss_kw: dict[str, float],
    net: Network,
) -> dict[str, Any]:
    """Every setting of a finished run as its record states it: defaults resolved."""
    loss = problem.loss
    resolved = config.to_dict()
    resolved.update(
        model=problem.model.name,
        loss=loss.name,
        optimizer=OPTIMIZERS.resolve(config.optimizer),
        schedule=SCHEDULES.resolve(config.schedule),
        lr=lr0,
        batch_size=batch,
        target=problem.target,
        features=problem.features,
        scale=config.scaling,
        val_size=config.validation,
        **opt.hyperparameters,
        **{k: loss_kw.get(k, v) for k, v in loss.params.items()},
    )
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
    """f*, the exact minimum of the training objective, for the rules that need it."""
    if not rule.needs_optimum:
        return None
    raise ConfigError("no rule needs the optimum yet")


def train(
    problem: Problem,
    split: Split,
    config: FitConfig,
    *,
    progress: ProgressFn | None = None,
    interrupt: _Interrupt | None = None,
) -> FitResult:
    """Run the optimisation loop on a prepared split; never raises on divergence.

    Full batch, an epoch is one backward pass and one forward pass: the forward pass that gives
    the epoch's loss is the one the next gradient needs. Minibatches are gathered from a
    row-major copy of the training rows into one reused buffer (:class:`Batches`).
    """
    opt, lr0, batch, lrs, loss_kw = run_settings(problem, config)
    l1, l2, clip = config.l1, config.l2, config.clip_norm
    dtype = np.dtype(config.dtype)

    X, y = split.X_train, split.y_train
    X_test, y_test = split.X_test, split.y_test
    X_val, y_val = split.X_val, split.y_val
    if dtype != X.dtype:
        X, y = np.asfortranarray(X, dtype=dtype), y.astype(dtype)
        if X_test is not None and y_test is not None:
            X_test, y_test = np.asfortranarray(X_test, dtype=dtype), y_test.astype(dtype)
        if X_val is not None and y_val is not None:
            X_val, y_val = np.asfortranarray(X_val, dtype=dtype), y_val.astype(dtype)
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
    rng = generator(config.seed, SHUFFLE)
    objective = objective_for(problem, loss_kw)
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
            value = objective.evaluate(S, y, G_train)[0] + net.penalty(l1, l2)
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
            initial = objective.evaluate(net.forward(X, "train"), y, G_train)[0]
    else:
        S0, add0 = scores_of(X, "train")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            initial = objective.evaluate(S0, y, None, add0)[0]
        batches = Batches(X, y, batch, config.shuffle, rng)
        G_batch = np.empty((min(batch, n), *tail), dtype=dtype)
    running = bool(getattr(progress, "running", False)) and not full_batch
    step_progress = getattr(progress, "step", None) if running else None

    initial += net.penalty(l1, l2)
    current = initial  # the objective at the current θ (full batch, where the gradient is)
    ceiling = config.divergence_factor * initial if initial > 0 else math.inf
    history: list[dict[str, Any]] = []
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
    start = time.perf_counter()
    epoch = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(1, config.epochs + 1):
            lr = lrs[epoch - 1]
            if epoch > 1:
                rule.to_train(step_params, state)
            if full_batch:
                if rule.evaluates_elsewhere and epoch > 1:
                    # the evaluation pass ran at the averaged point; the gradient is taken here
                    current = objective.evaluate(net.forward(X, "train"), y, G_train)[0]
                    current += net.penalty(l1, l2)
                if ctx is not None:
                    ctx.loss = current
                step(G_train, "train", lr)
            else:
                seen, total = 0, 0.0
                for k, (Xb, yb) in enumerate(batches.epoch(), start=1):
                    m = yb.shape[0]
                    Sb, Gb = net.forward(Xb, "batch"), G_batch[:m]
                    if running:
                        value, _ = objective.evaluate(Sb, yb, Gb)
                        seen, total = seen + m, total + value * m
                        if step_progress is not None:
                            step_progress(epoch, k, batches.count, total / seen)
                    else:
                        objective.grad(Sb, yb, Gb)
                    step(Gb, "batch", lr)
                    if interrupt.requested:
                        break
            rule.to_eval(step_params, state)
            finite = bool(np.isfinite(net.theta).all())
            S_train, add = scores_of(X, "train")
            train_loss, train_metric = math.nan, math.nan
            if finite:
                # Full batch, the gradient of the next epoch comes from these same scores.
                ahead = G_train if epoch < config.epochs else None
                train_loss, train_metric = objective.evaluate(S_train, y, ahead, add)
            total_objective = train_loss + net.penalty(l1, l2) if finite else math.nan
            current = total_objective
            why = divergence(total_objective, ceiling, config.divergence_factor, initial)
            if why:
                status, diverged_at = "diverged", epoch
                break
            record: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss, "test_loss": None}
            record["lr"] = lr
            record["objective"] = total_objective
            record[f"train_{metric_key}"] = train_metric
            monitored, metric = train_loss, train_metric
            if has_val:
                S_val, add = scores_of(X_val, "val")
                val_loss, val_metric = objective.evaluate(S_val, y_val, shift=add)
                monitored = record["val_loss"] = val_loss
                record[f"val_{metric_key}"] = val_metric
            if has_test:
                S_test, add = scores_of(X_test, "test")
                test_loss, metric = objective.evaluate(S_test, y_test, shift=add)
                record["test_loss"] = test_loss
                record[f"test_{metric_key}"] = metric
            record[metric_key] = metric
            history.append(record)
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
        problem, config, opt, lr0, 0 if full_batch else batch, loss_kw, net
    )
    metrics = _final_metrics(problem, split, final, config, status, loss_kw)
    return FitResult(
        status=status,
        epochs_run=len(history) if status != "diverged" else epoch,
        seconds=seconds,
        config=resolved,
        history=history,
        metrics=metrics,
        model=model_dict(problem, split, final),
        diverged_at=diverged_at,
        message=f"diverged at epoch {diverged_at} ({why}): {DIVERGED_HINT}" if why else None,
    )


def _final_metrics(
    problem: Problem,
    split: Split,
    net: Network,
    config: FitConfig,
    status: str,
    loss_kw: dict[str, float],
) -> dict[str, dict[str, float | None] | None]:
    key = metric_name(problem)
    if status == "diverged":
        val: dict[str, None] = {"val": None} if split.X_val is not None else {}
        return {"train": {"loss": None, key: None, "objective": None}, "test": None, **val}
    logits = problem.head.logits
    S = net.scores(split.X_train)
    train_loss = problem.loss.value(split.y_train, S, logits=logits, **loss_kw)
    out: dict[str, dict[str, float | None] | None] = {
        "train": {
            "loss": train_loss,
            key: _metric(problem, split.y_train, S),
            "objective": train_loss + net.penalty(config.l1, config.l2),
        },
        "test": None,
    }
    if split.X_val is not None:
        S = net.scores(split.X_val)
        out["val"] = {
            "loss": problem.loss.value(split.y_val, S, logits=logits, **loss_kw),
            key: _metric(problem, split.y_val, S),
        }
    if split.X_test is not None:
        S = net.scores(split.X_test)
        out["test"] = {
            "loss": problem.loss.value(split.y_test, S, logits=logits, **loss_kw),
            key: _metric(problem, split.y_test, S),
        }
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
    if split.encoder is not None:
        out["encoder"] = split.encoder.to_dict()
        out["inputs"] = split.encoder.names
    return out


def fit(
    data: Any = None,
    *,
    progress: ProgressFn | None = None,
    save: bool = False,
    out: str | None = None,
    **settings: Any,
) -> FitResult:
    """Train a model as `losslab fit` does; returns the result the JSON output carries.

    ``settings`` are FitConfig fields (``model``, ``loss``, ``optimizer``, ``lr``, ``epochs`` …).
    """
    config = FitConfig.from_dict({**settings, **({"data": data} if data is not None else {})})
    problem, split = prepare(config)
    interrupt = _Interrupt()
    with interrupt.installed():
        result = train(problem, split, config, progress=progress, interrupt=interrupt)
    result.data = data_info(problem, split)
    if save:
        from losslab.records import save_fit

        result.record = str(save_fit(result, out))
    return result


def with_settings(config: FitConfig, **changes: Any) -> FitConfig:
    return replace(config, **changes)
