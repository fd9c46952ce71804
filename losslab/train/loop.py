"""`losslab fit`: the training loop and its result.

The loop sees a network (parameters θ, ``forward``, ``backward``), an objective (loss and
gradient of the scores) and an optimizer; it never asks which model it trains. The exact
semantics (split, scaling, objective, batching, history) are documented in the README; they are
what makes a run comparable with PyTorch step for step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.nn.network import Network
from losslab.optim.optimizers import OPTIMIZERS, make_optimizer
from losslab.optim.schedules import LRSchedule, Plateau, lr_schedule, schedule_unit
from losslab.train import blas
from losslab.train.config import (  # noqa: F401  (re-exported: the settings live in losslab.train.config)
    DEFAULT_ACTIVATION,
    DEFAULT_HIDDEN,
    DTYPES,
    SHUFFLES,
    STATUSES,
    FitConfig,
    json_safe,
)
from losslab.train.epoch import (
    FullBatch,
    Minibatches,
    Stepping,
    make_gradient,
    make_step,
    step_context,
)
from losslab.train.evaluation import Evaluation, final_metrics
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
from losslab.train.stopping import (  # noqa: F401  (re-exported)
    DIVERGED_HINT,
    Divergence,
    EarlyStopping,
    Ending,
    Interrupt,
    divergence,
)

_Objective = Objective  # the name the speed-path tests know
_Interrupt = Interrupt  # the name the studies and benchmarks know


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
    # the training objective at the starting parameters (what divergence is measured against)
    initial_objective: float | None = None

    @property
    def rose(self) -> bool:
        """Whether the run ended above where it started: a final training objective beyond the
        starting one, without diverging (a run can blow up short of --divergence-factor)."""
        final = (self.metrics.get("train") or {}).get("objective")
        start = self.initial_objective
        return (
            self.status != "diverged"
            and final is not None
            and start is not None
            and math.isfinite(start)
            and final > start
        )

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
            "initial_objective": self.initial_objective,
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
    elif problem.model.network or problem.head.name == "embedding":
        # an embedding starts away from zero, where every row would sit on one point
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
        **{k: json_safe(loss_kw.get(k, v)) for k, v in loss.params.items()},
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


@blas.pinned  # its products use the run's BLAS threads, not the process's
def train(
    problem: Problem,
    split: Split,
    config: FitConfig,
    *,
    progress: ProgressFn | None = None,
    interrupt: Interrupt | None = None,
    lrs: LRSchedule | Plateau | None = None,
    on_batch: Callable[[float, float], None] | None = None,
    on_epoch: EpochFn | None = None,
) -> FitResult:
    """Run the optimisation loop on a prepared split; never raises on divergence.

    Each epoch steps (:mod:`~losslab.train.epoch`: minibatches, or one full-batch step), is
    evaluated (:mod:`~losslab.train.evaluation`: its history row) and may end the run
    (:mod:`~losslab.train.stopping`: divergence, Ctrl-C through ``interrupt``, early stopping).
    ``on_epoch(epoch, θ)`` sees the parameters (a view, to copy) before the first step (epoch 0)
    and after each epoch kept in the history, where the model is evaluated. ``lrs`` replaces
    the configured schedule (lr-find's sweep); ``on_batch(lr, objective)`` hears, after each
    step, its lr and the objective of its batch before it (lr-find's recorder).
    """
    run = Run.setup(problem, split, config, lrs, interrupt, progress, on_batch)
    net, epochs, evaluation, stepping = run.net, run.epochs, run.evaluation, run.stepping
    rule, params, state, interrupt = run.opt.rule, run.arrays[0], run.state, run.interrupt
    epochs.current = initial = evaluation.initial()
    guard, ending = Divergence(initial, config.divergence_factor), Ending()
    patience, history, epoch_seconds = EarlyStopping(config.patience, config.tol), [], []
    if on_epoch is not None:
        on_epoch(0, net.theta)
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(1, config.epochs + 1):
            if epoch > 1:
                rule.to_train(params, state)
            lr = epochs.run(epoch, stepping.epoch_lr(epoch))
            rule.to_eval(params, state)
            measured = evaluation.train(ahead=epoch < config.epochs)  # (loss, metric, objective)
            epochs.current = measured[2]
            why = guard.why(measured[2])
            if why:
                ending.diverge(epoch, why)
                break
            row, monitored = evaluation.row(epoch, lr, measured)
            history.append(row)
            stepping.observe(epoch, monitored)
            epoch_seconds.append(time.perf_counter() - start)
            if on_epoch is not None:
                on_epoch(epoch, net.theta)
            if progress is not None:
                progress(epoch, config.epochs, measured[0])
            if interrupt.requested:
                ending.interrupt(interrupt.signal)
                break
            if patience.stop(epoch, monitored, net.theta):
                ending.status = "early_stopped"
                patience.restore(net.theta)
                break
    seconds = time.perf_counter() - start
    result = run.result(problem, split, config, ending, history, seconds, epoch_seconds)
    result.initial_objective = float(initial)
    return result


@dataclass
class Run:
    """The parts of one in-memory run, as :func:`train` steps them: the optimizer and its
    settings, the network and the arrays the rule steps on, the lr's stepping, the epochs
    (how θ steps) and the evaluation (where it is measured)."""

    opt: Any
    lr0: float
    batch: int  # rows per step (n: the full batch)
    loss_kw: dict[str, Any]
    class_record: Any
    net: Network
    arrays: tuple[list[np.ndarray], list[np.ndarray], list[bool]]
    state: Any
    objective: Objective
    stepping: Stepping
    interrupt: Interrupt
    epochs: Minibatches | FullBatch
    evaluation: Evaluation

    @classmethod
    def setup(
        cls,
        problem: Problem,
        split: Split,
        config: FitConfig,
        lrs: LRSchedule | Plateau | None = None,
        interrupt: Interrupt | None = None,
        progress: ProgressFn | None = None,
        on_batch: Callable[[float, float], None] | None = None,
    ) -> Run:
        """The run's parts, from its settings (see :func:`train` for the hooks)."""
        opt, lr0, batch, loss_kw = run_settings(problem, config)
        class_weight, class_record = class_weighting(problem, split, config)
        data = in_dtype(split, np.dtype(config.dtype))
        n, p = data.X_train.shape
        net = build_network(problem, config, p, data.X_train.dtype)
        rule, arrays = opt.rule, step_arrays(net, opt.rule)
        rule.check_model(arrays[0], arrays[2], problem.model.name)
        batch = batch_rows(opt.name, rule, batch, n)
        state = opt.init(arrays[0])
        if lrs is None:
            lrs = schedule_for(config, lr0, steps_per_epoch=-(-n // batch))
        stepping, interrupt = Stepping(lrs, full_batch=batch == n), interrupt or Interrupt()
        weighted = any(w is not None for w in (data.w_train, data.w_test, data.w_val))
        if problem.head.name == "embedding":
            from losslab.train.embedding import EmbeddingObjective

            objective: Objective = EmbeddingObjective(
                problem, loss_kw, config, batch, data.y_train,
                weighted=weighted, class_weight=class_weight,
            )  # fmt: skip
        else:
            objective = objective_for(
                problem, loss_kw, class_weight=class_weight, weighted=weighted
            )

        dtype, tail = data.X_train.dtype, () if net.vector_output else (net.sizes[-1],)
        penalty, part = (config.l1, config.l2), (data.X_train, data.y_train, data.w_train)
        # full batch, the epochs and the evaluation share G: each evaluation leaves in it the
        # gradient that the next step takes
        G = np.empty((n, *tail), dtype=dtype) if batch == n else None
        gradient = make_gradient(net, config.l1, config.l2, config.clip_norm)
        optimum = optimum_of(rule, problem, split, config)
        ctx = step_context(rule, net, objective, part, G, gradient, penalty, optimum)
        step = make_step(gradient, opt, state, arrays, ctx)
        key = metric_name(problem)
        evaluation = Evaluation(
            net, objective, data, key, full_batch=G is not None, G=G, penalty=penalty
        )
        epochs: Minibatches | FullBatch
        if G is not None:
            epochs = FullBatch(
                net, objective, step, G, part, rule, ctx, on_batch=on_batch, penalty=penalty
            )
        else:
            rng = generator(config.seed, SHUFFLE)
            batches = Batches(*part[:2], batch, config.shuffle, rng, part[2])
            scratch = np.empty((min(batch, n), *tail), dtype=dtype)
            epochs = Minibatches(
                net, objective, step, scratch, batches, stepping, interrupt,
                progress=progress, on_batch=on_batch, penalty=penalty,
            )  # fmt: skip
        return cls(
            opt, lr0, batch, loss_kw, class_record, net, arrays, state, objective,
            stepping, interrupt, epochs, evaluation,
        )  # fmt: skip

    def result(
        self,
        problem: Problem,
        split: Split,
        config: FitConfig,
        ending: Ending,
        history: list[dict[str, Any]],
        seconds: float,
        epoch_seconds: list[float],
    ) -> FitResult:
        """The run's result: its settings resolved, the final metrics and model in float64."""
        net = self.net
        final = net if net.theta.dtype == np.float64 else net.copy(np.float64)
        full_batch = isinstance(self.epochs, FullBatch)
        resolved = resolved_settings(
            problem, config, self.opt, self.lr0, 0 if full_batch else self.batch,
            self.loss_kw, net, self.stepping.lrs, self.class_record,
        )  # fmt: skip
        penalty = (config.l1, config.l2)
        return FitResult(
            status=ending.status,
            epochs_run=ending.epochs_run(len(history)),
            seconds=seconds,
            config=resolved,
            history=history,
            metrics=final_metrics(problem, split, final, penalty, ending.status, self.objective),
            model=model_dict(problem, split, final),
            diverged_at=ending.diverged_at,
            epoch_seconds=epoch_seconds,
            message=ending.message or skipped_note(self.objective),
        )


def skipped_note(objective: Objective) -> str | None:
    """How many batches a batch loss skipped for want of a positive pair (None: none)."""
    skipped = getattr(objective, "skipped", 0)
    if not skipped:
        return None
    steps = getattr(objective, "steps", 0)
    return (
        f"{skipped} of {steps} batches had no positive pair (two rows of one class) and "
        "were skipped; a larger --batch-size gives every batch one"
    )


def in_dtype(split: Split, dtype: np.dtype) -> Split:
    """The split with its arrays in ``dtype`` (X column-major), or the split itself when it
    is already in it."""
    if dtype == split.X_train.dtype:
        return split
    changes: dict[str, Any] = {}
    for name in ("train", "test", "val"):
        X, y = getattr(split, f"X_{name}"), getattr(split, f"y_{name}")
        if X is not None and y is not None:
            changes[f"X_{name}"] = np.asfortranarray(X, dtype=dtype)
            changes[f"y_{name}"] = y.astype(dtype)
        w = getattr(split, f"w_{name}")
        changes[f"w_{name}"] = None if w is None else w.astype(dtype)
    return replace(split, **changes)


def class_weighting(problem: Problem, split: Split, config: FitConfig) -> tuple[Any, Any]:
    """(the class weights, their record) of ``--class-weight``; (None, None) without it."""
    if config.class_weight is None:
        return None, None
    from losslab.data.weighting import class_weights

    return class_weights(config.class_weight, problem.loss.name, problem.classes, split.y_train)


def batch_rows(name: str, rule: Any, batch: int, n: int) -> int:
    """The rows of a step: ``batch``, or all n for 0 (the full batch) and anything ≥ n; a
    rule that uses the whole objective refuses fewer."""
    if rule.full_batch and batch not in (0, None) and batch < n:
        raise ConfigError(
            f"{name} needs the full batch (each step uses the whole objective); "
            f"drop --batch-size {batch} or give --batch-size full"
        )
    return n if batch == 0 or batch >= n else batch


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
    if problem.head.name == "embedding":
        out["embed_dim"] = problem.n_outputs
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
    interrupt = Interrupt()
    with interrupt.installed():
        result = train(problem, split, config, progress=progress, interrupt=interrupt)
    result.data = data_info(problem, split)
    return result


def with_settings(config: FitConfig, **changes: Any) -> FitConfig:
    return replace(config, **changes)
