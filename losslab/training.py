"""`losslab fit`: data preparation, the training loop and its result.

The exact semantics (split, standardisation, objective, batching, history) are documented in the
README; they are what makes a run comparable with PyTorch step for step.

Randomness: ``SeedSequence(seed).spawn(2)`` gives two generators, the first for the train/test
split, the second for the per-epoch shuffles of the training rows.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from losslab.data import Table, read_table
from losslab.errors import ConfigError, DataError
from losslab.losses import LOSSES, Loss
from losslab.models import MODELS, ModelKind, check_loss, default_model, encode_target, scores
from losslab.optimizers import OPTIMIZERS, make_optimizer
from losslab.schedules import SCHEDULES, lr_schedule

STATUSES = ("completed", "early_stopped", "diverged", "interrupted")
HYPER = ("momentum", "nesterov", "beta1", "beta2", "eps", "amsgrad", "alpha", "weight_decay")
LOSS_PARAMS = ("delta", "quantile", "epsilon", "gamma")
DIVERGED_HINT = "lower --lr (or keep --standardize on, or add --clip-norm)"


@dataclass
class FitConfig:
    """Every setting of a run; ``None`` means "resolve from the data or the optimizer"."""

    data: str = "breast-cancer"
    target: str | None = None
    features: list[str] | None = None
    model: str | None = None
    loss: str | None = None
    optimizer: str = "adam"
    lr: float | None = None
    epochs: int = 100
    batch_size: int | None = None
    seed: int = 0
    test_size: float = 0.2
    standardize: bool = True
    l1: float = 0.0
    l2: float = 0.0
    momentum: float | None = None
    nesterov: bool | None = None
    beta1: float | None = None
    beta2: float | None = None
    eps: float | None = None
    amsgrad: bool | None = None
    alpha: float | None = None
    weight_decay: float | None = None
    schedule: str = "constant"
    warmup: int = 0
    step_size: int = 10
    decay: float = 0.5
    power_t: float = 0.5
    min_lr: float = 0.0
    clip_norm: float | None = None
    patience: int | None = None
    tol: float = 1e-4
    delta: float | None = None
    quantile: float | None = None
    epsilon: float | None = None
    gamma: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FitConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}")
        return cls(**values)

    def hyper(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in HYPER if getattr(self, k) is not None}

    def loss_params(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in LOSS_PARAMS if getattr(self, k) is not None}

    def validate(self) -> None:
        """Settings that are wrong whatever the data; one clear line each."""
        OPTIMIZERS.resolve(self.optimizer)
        SCHEDULES.resolve(self.schedule)
        if self.model is not None:
            MODELS.resolve(self.model)
        if self.loss is not None:
            LOSSES.resolve(self.loss)
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"--lr must be > 0, got {self.lr:g}")
        if self.epochs < 1:
            raise ConfigError(f"--epochs must be >= 1, got {self.epochs}")
        if self.batch_size is not None and self.batch_size < 0:
            raise ConfigError(f"--batch-size must be >= 0 (0 = full batch), got {self.batch_size}")
        if not 0.0 <= self.test_size < 1.0:
            raise ConfigError(f"--test-size must be in [0, 1), got {self.test_size:g}")
        for name in ("l1", "l2"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"--{name} must be >= 0, got {value:g}")
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise ConfigError(f"--clip-norm must be > 0, got {self.clip_norm:g}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"--patience must be >= 1, got {self.patience}")
        if not self.tol >= 0:
            raise ConfigError(f"--tol must be >= 0, got {self.tol:g}")
        if self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")


@dataclass
class Problem:
    """A table turned into a target, a feature matrix and a model/loss pairing (before splitting)."""

    table: Table
    target: str
    features: list[str]
    model: ModelKind
    loss: Loss
    X: np.ndarray
    y: np.ndarray
    classes: list

    @property
    def classifier(self) -> bool:
        return self.model.is_classifier(self.loss.name)

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.model.multi_output else 1


def load_problem(config: FitConfig, table: Table | None = None) -> Problem:
    """Read the data and resolve target, features, model and loss for ``config``."""
    table = table if table is not None else read_table(config.data)
    columns = table.columns
    if len(columns) < 2:
        raise DataError(f"{table.label}: needs a target column and at least one feature column")
    target = config.target if config.target is not None else columns[-1]
    table.require(target)
    if config.features:
        features = list(config.features)
        for column in features:
            table.require(column)
        if target in features:
            raise ConfigError(f"column {target!r} is both the target and a feature")
    else:
        features = [c for c in columns if c != target]
    labels = table.labels(target)
    model = MODELS.get(config.model or default_model(labels))
    loss = LOSSES.get(config.loss) if config.loss else LOSSES.get(model.default_loss())
    check_loss(model, loss.name)
    y, classes = encode_target(model, loss.name, labels, f"{table.label}, column {target!r}")
    X = table.matrix(features)
    return Problem(table, target, features, model, loss, X, y, classes)


@dataclass
class Scaler:
    mean: np.ndarray
    scale: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}


@dataclass
class Split:
    """Standardised training (and test) data for one seed."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    scaler: Scaler | None
    test_rows: np.ndarray


def split_rows(
    y: np.ndarray, test_size: float, rng: np.random.Generator, *, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices, each sorted.

    ``ceil(test_size·n)`` rows go to test. Stratified: each class gets its share by largest
    remainder, at most all but one of its rows; rows are drawn per class (classes in sorted order)
    with ``rng.permutation``. Otherwise the first rows of one permutation.
    """
    n = y.shape[0]
    if test_size == 0:
        return np.arange(n), np.empty(0, dtype=np.intp)
    n_test = math.ceil(test_size * n)
    if n_test >= n:
        raise DataError(f"--test-size {test_size:g} leaves no training row out of {n}")
    if not stratify:
        perm = rng.permutation(n)
        return np.sort(perm[n_test:]), np.sort(perm[:n_test])
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    exact = counts * (n_test / n)
    quota = np.minimum(np.floor(exact).astype(np.intp), counts - 1)
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    for k in order:
        if quota.sum() >= n_test:
            break
        if quota[k] < counts[k] - 1:
            quota[k] += 1
    test_parts = []
    for k in range(classes.size):
        rows = np.flatnonzero(codes == k)
        test_parts.append(rng.permutation(rows)[: quota[k]])
    test = np.sort(np.concatenate(test_parts))
    mask = np.ones(n, dtype=bool)
    mask[test] = False
    return np.flatnonzero(mask), test


def make_split(problem: Problem, config: FitConfig, rng: np.random.Generator) -> Split:
    train, test = split_rows(problem.y, config.test_size, rng, stratify=problem.classifier)
    if problem.classifier:
        present = np.unique(problem.y[train]).size
        if present < 2:
            raise DataError(
                f"{problem.table.label}: the training split holds a single class; "
                "lower --test-size or use more data"
            )
    X_train = problem.X[train] if test.size else problem.X
    X_test = problem.X[test] if test.size else None
    scaler = None
    if config.standardize:
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        scale = np.where(std > 0, std, 1.0)
        scaler = Scaler(mean, scale)
        X_train = np.asfortranarray((X_train - mean) / scale)
        if X_test is not None:
            X_test = np.asfortranarray((X_test - mean) / scale)
    else:
        X_train = np.asfortranarray(X_train)
        X_test = None if X_test is None else np.asfortranarray(X_test)
    y_test = problem.y[test] if test.size else None
    return Split(X_train, problem.y[train], X_test, y_test, scaler, test)


@dataclass
class FitResult:
    """What `losslab fit` reports; ``to_dict`` is its JSON."""

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


def metric_name(problem: Problem) -> str:
    return "accuracy" if problem.classifier else "r2"


def _metric(problem: Problem, y: np.ndarray, S: np.ndarray) -> float:
    if problem.classifier:
        if problem.model.multi_output:
            return float(np.mean(np.argmax(S, axis=1) == y))
        return float(np.mean((S > 0) == (y > 0.5)))
    total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - S) ** 2)) / total if total > 0 else float("nan")


def penalty(W: np.ndarray, l1: float, l2: float) -> float:
    """(l2/2)·‖W‖² + l1·‖W‖₁ (the intercept is never penalised)."""
    value = 0.0
    if l2:
        value += 0.5 * l2 * float(np.vdot(W, W))
    if l1:
        value += l1 * float(np.abs(W).sum())
    return value


ProgressFn = Callable[[int, int, float], None]


def train(
    problem: Problem,
    split: Split,
    config: FitConfig,
    *,
    progress: ProgressFn | None = None,
    interrupt: _Interrupt | None = None,
) -> FitResult:
    """Run the optimisation loop on a prepared split; never raises on divergence."""
    model, loss = problem.model, problem.loss
    opt = make_optimizer(config.optimizer, **config.hyper())
    lr0 = config.lr if config.lr is not None else model.default_lr(opt.name, opt.default_lr)
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
    logits = model.logits
    l1, l2, clip = config.l1, config.l2, config.clip_norm

    X, y = split.X_train, split.y_train
    n, p = X.shape
    params = model.init_params(p, problem.n_outputs)
    W, b = params
    grads = [np.empty_like(W), np.empty_like(b)]
    state = opt.init(params)
    decay_mask = [True, False]
    batch = n if batch == 0 or batch >= n else batch
    full_batch = batch == n
    rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(2)[1])

    def value(Xs: np.ndarray, ys: np.ndarray, S: np.ndarray) -> float:
        return loss.value(ys, S, logits=logits, **loss_kw)

    def gradient(Xb: np.ndarray, yb: np.ndarray, S: np.ndarray) -> None:
        G = loss.grad(yb, S, logits=logits, **loss_kw)
        np.matmul(Xb.T, G, out=grads[0])
        grads[1][...] = G.sum(axis=0)
        if l2:
            grads[0] += l2 * W
        if l1:
            grads[0] += l1 * np.sign(W)
        if clip is not None:
            norm = math.sqrt(
                float(np.vdot(grads[0], grads[0])) + float(np.vdot(grads[1], grads[1]))
            )
            coef = clip / (norm + 1e-6)
            if coef < 1.0:
                grads[0] *= coef
                grads[1] *= coef

    history: list[dict[str, Any]] = []
    status = "completed"
    diverged_at = None
    best = math.inf
    best_params: list[np.ndarray] | None = None
    waited = 0
    metric_key = metric_name(problem)
    has_test = split.X_test is not None
    S_train = scores(X, params)
    interrupt = interrupt or _Interrupt()
    start = time.perf_counter()
    epoch = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(1, config.epochs + 1):
            lr = lrs[epoch - 1]
            if full_batch:
                gradient(X, y, S_train)
                opt.step(params, grads, state, lr, decay_mask=decay_mask)
            else:
                order = rng.permutation(n)
                for begin in range(0, n, batch):
                    rows = order[begin : begin + batch]
                    Xb = X[rows]
                    gradient(Xb, y[rows], scores(Xb, params))
                    opt.step(params, grads, state, lr, decay_mask=decay_mask)
                    if interrupt.requested:
                        break
            finite = bool(np.isfinite(W).all() and np.isfinite(b).all())
            S_train = scores(X, params)
            train_loss = value(X, y, S_train) if finite else math.nan
            if not math.isfinite(train_loss):
                status, diverged_at = "diverged", epoch
                break
            record: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss, "test_loss": None}
            record["lr"] = lr
            record["objective"] = train_loss + penalty(W, l1, l2)
            train_metric = _metric(problem, y, S_train)
            record[f"train_{metric_key}"] = train_metric
            monitored, metric = train_loss, train_metric
            if has_test:
                S_test = scores(split.X_test, params)
                monitored = record["test_loss"] = value(split.X_test, split.y_test, S_test)
                metric = record[f"test_{metric_key}"] = _metric(problem, split.y_test, S_test)
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
                    best_params = [q.copy() for q in params]
                else:
                    waited += 1
                    if waited >= config.patience:
                        status = "early_stopped"
                        if best_params is not None:
                            for q, saved in zip(params, best_params, strict=True):
                                q[...] = saved
                        break
    seconds = time.perf_counter() - start
    if status == "interrupted" and not history:
        epoch = 0

    resolved = config.to_dict()
    resolved.update(
        model=model.name,
        loss=loss.name,
        optimizer=OPTIMIZERS.resolve(config.optimizer),
        schedule=SCHEDULES.resolve(config.schedule),
        lr=lr0,
        batch_size=0 if full_batch else batch,
        target=problem.target,
        features=problem.features,
        **opt.hyperparameters,
        **{k: loss_kw.get(k, v) for k, v in loss.params.items()},
    )
    metrics = _final_metrics(problem, split, params, config, status, loss_kw)
    return FitResult(
        status=status,
        epochs_run=len(history) if status != "diverged" else epoch,
        seconds=seconds,
        config=resolved,
        history=history,
        metrics=metrics,
        model=model_dict(problem, split, params),
        diverged_at=diverged_at,
        message=f"diverged at epoch {diverged_at}: {DIVERGED_HINT}" if diverged_at else None,
    )


def _final_metrics(
    problem: Problem,
    split: Split,
    params: list[np.ndarray],
    config: FitConfig,
    status: str,
    loss_kw: dict[str, float],
) -> dict[str, dict[str, float | None] | None]:
    key = metric_name(problem)
    if status == "diverged":
        return {"train": {"loss": None, key: None, "objective": None}, "test": None}
    logits = problem.model.logits
    S = scores(split.X_train, params)
    train_loss = problem.loss.value(split.y_train, S, logits=logits, **loss_kw)
    out: dict[str, dict[str, float | None] | None] = {
        "train": {
            "loss": train_loss,
            key: _metric(problem, split.y_train, S),
            "objective": train_loss + penalty(params[0], config.l1, config.l2),
        },
        "test": None,
    }
    if split.X_test is not None:
        S = scores(split.X_test, params)
        out["test"] = {
            "loss": problem.loss.value(split.y_test, S, logits=logits, **loss_kw),
            key: _metric(problem, split.y_test, S),
        }
    return out


def model_dict(problem: Problem, split: Split, params: list[np.ndarray]) -> dict[str, Any]:
    """The saved model: JSON-ready, enough for `losslab predict` on raw features."""
    W, b = params
    return {
        "kind": problem.model.name,
        "loss": problem.loss.name,
        "target": problem.target,
        "features": problem.features,
        "classes": problem.classes,
        "coef": W.tolist(),
        "intercept": b.tolist() if problem.model.multi_output else float(b[0]),
        "scaler": split.scaler.to_dict() if split.scaler is not None else None,
    }


def prepare(config: FitConfig, problem: Problem | None = None) -> tuple[Problem, Split]:
    """Validate the settings, load the data (unless given) and split it for ``config.seed``."""
    config.validate()
    problem = problem if problem is not None else load_problem(config)
    rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(2)[0])
    return problem, make_split(problem, config, rng)


def fit(
    data: str | None = None,
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


def data_info(problem: Problem, split: Split) -> dict[str, Any]:
    table = problem.table
    return {
        "source": table.label,
        "path": str(table.path.resolve()),
        "sha256": table.sha256,
        "rows": table.n_rows,
        "train_rows": int(split.y_train.shape[0]),
        "test_rows": int(split.test_rows.size),
    }


def with_settings(config: FitConfig, **changes: Any) -> FitConfig:
    return replace(config, **changes)
