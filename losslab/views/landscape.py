"""Loss landscapes: optimizer paths on the classic 2-D test functions and on a fit's objective.

**Test functions** (:data:`FUNCTIONS`): rosenbrock, rastrigin, beale, himmelblau and the
ill-conditioned quadratic ½(x² + κy²), each with its analytic gradient, its minima, a default start
and a plotting window (pytorch-optimizer's ``examples/viz_optimizers.py`` for rosenbrock and
rastrigin, Louis Tiao's "Visualizing and animating optimization algorithms" for beale). A path is
the registered update rule itself (``make_optimizer(name).step``) on the point θ = (x, y) as one
vector parameter, one full-batch step per iteration, so it is exactly what `losslab fit` would do
on that objective. ``tune`` picks each optimizer's lr from a log grid by the final value.

**On data**: each optimizer trains with the `fit` loop (:func:`losslab.train.loop.train`), which
hands over θ after every epoch; the training objective is drawn on the plane through the exact
optimum θ* (where :mod:`losslab.train.reference` knows it) or the best final point, spanned by the
top
two principal directions of the stacked trajectories (Li et al. 2018, "Visualizing the Loss
Landscape of Neural Nets", §7, arXiv:1712.09913) or, by default for networks, by two random
filter-normalised directions (§4 of the same paper); each path is projected onto the plane, and
:func:`explained_share` says how much of its variance the plane holds. The 1-D linear
interpolation from the initial to the final parameters follows Goodfellow, Vinyals & Saxe 2015,
"Qualitatively characterizing neural network optimization problems" (arXiv:1412.6544).

The test functions themselves are :mod:`~losslab.views.functions2d`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.hyper import flag_of
from losslab.optim.optimizers import OPTIMIZERS, StepContext, make_optimizer
from losslab.registry import canonical
from losslab.resources import check_memory
from losslab.train.config import DEFAULT_DIVERGENCE, FitConfig
from losslab.views.functions2d import (
    Function2D,
    make_function,
)

DEFAULT_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
DEFAULT_STEPS = 200
DEFAULT_TOL = 1e-4
FUNCTION_GRID = 201  # points per axis of a test function's map (cheap: one vectorised call)
DATA_GRID = 41  # points per axis of the objective's plane (one objective per point)
TUNE_GRID = (1e-5, 1.0, 16)  # --tune: 16 lrs log-spaced from 1e-5 to 1 (three per decade)
ALPHAS = np.linspace(-0.5, 1.5, 81)  # the interpolation θ0 + α(θ_final − θ0)
DIRECTIONS = ("pca", "random")
_CHUNK_FLOATS = 1 << 21  # score floats per batch of grid points (16 MiB)


@dataclass
class Trajectory:
    """One optimizer's path: the points drawn and the objective at each (the true point's value,
    also on data where the point drawn is its projection)."""

    optimizer: str
    lr: float
    hyperparameters: dict[str, Any]
    points: np.ndarray  # (k + 1, 2): the start, then after each step (epoch)
    values: np.ndarray  # (k + 1,)
    diverged_at: int | None = None
    steps_to_tol: int | None = None
    candidates: list[dict[str, Any]] | None = None  # --tune: every lr tried
    explained: float | None = None  # on data: the share of the path's variance in the plane
    interpolation: np.ndarray | None = None  # on data: f(θ0 + α(θ_final − θ0)) over ALPHAS
    thetas: np.ndarray | None = field(default=None, repr=False)  # on data: (k + 1, P)

    @property
    def final(self) -> float:
        """The last value, inf for a diverged path (what --tune ranks by)."""
        if self.diverged_at is not None or not len(self.values):
            return math.inf
        return float(self.values[-1])

    @property
    def tuned(self) -> bool:
        return self.candidates is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "optimizer": self.optimizer,
            "lr": self.lr,
            "tuned": self.tuned,
            "hyperparameters": self.hyperparameters,
            "final": self.final if math.isfinite(self.final) else None,
            "diverged_at": self.diverged_at,
            "steps_to_tol": self.steps_to_tol,
            "points": self.points.tolist(),
            "values": self.values.tolist(),
        }
        if self.candidates is not None:
            out["candidates"] = self.candidates
        if self.explained is not None:
            out["explained"] = self.explained
        if self.interpolation is not None:
            out["interpolation"] = self.interpolation.tolist()
        return out


def steps_to(values: np.ndarray, target: float) -> int | None:
    """The first step (0 = the start) whose value is at most ``target``."""
    hit = np.flatnonzero(np.asarray(values) <= target)
    return int(hit[0]) if hit.size else None


def hyper_for(optimizer: str, hyper: dict[str, Any]) -> dict[str, Any]:
    """The given hyperparameters this optimizer declares (the others are for the others)."""
    from losslab.study.grid import _hyper_for

    return _hyper_for(optimizer, FitConfig(hyper=hyper))


def check_hyper(optimizers: Sequence[str], hyper: dict[str, Any]) -> None:
    """ConfigError for a given hyperparameter that none of the optimizers takes."""
    for name, value in hyper.items():
        if value is not None and not any(
            name in OPTIMIZERS.get(o).hyper_defaults for o in optimizers
        ):
            raise ConfigError(f"{flag_of(name)} is not used by any of {', '.join(optimizers)}")


def function_path(
    fn: Function2D,
    optimizer: str,
    *,
    start: Sequence[float] | None = None,
    steps: int = DEFAULT_STEPS,
    lr: float | None = None,
    hyper: dict[str, Any] | None = None,
    divergence_factor: float = DEFAULT_DIVERGENCE,
) -> Trajectory:
    """The path of ``optimizer`` on ``fn`` from ``start`` (default: the function's) over ``steps``
    at ``lr`` (default: the function's lr for this optimizer, :attr:`Function2D.lrs`, else the
    optimizer's own).

    θ = (x, y) is one vector parameter (weight decay applies to it); each step computes ∇f at θ
    and calls the rule's ``step`` exactly as the training loop does (``ctx.loss``, ``closure`` and
    ``optimum`` for the rules that ask; a rule that evaluates elsewhere is recorded at its
    evaluation point). ConfigError if the rule refuses a 2-vector (``check_model``). The path
    stops where it diverges: a non-finite value or one above ``divergence_factor`` × f(start).
    """
    opt = make_optimizer(optimizer, **(hyper or {}))
    rule = opt.rule
    if lr is None:  # the function's own default for this optimizer, else the optimizer's
        lr = fn.lrs.get(OPTIMIZERS.resolve(optimizer), opt.default_lr)
    theta = np.array(fn.start if start is None else start, dtype=np.float64)
    g = np.empty(2)
    params, grads, mask = [theta], [g], [True]
    rule.check_model(params, mask, "a 2-d point")
    state = opt.init(params)

    def value() -> float:
        return float(fn.value(theta[0], theta[1]))

    def gradient() -> None:
        g[0], g[1] = fn.gradient(theta[0], theta[1])

    ctx = None
    if rule.full_batch or rule.needs_optimum:

        def closure() -> float:
            gradient()
            return value()

        ctx = StepContext(closure=closure, optimum=fn.minimum if rule.needs_optimum else None)
    points, values = [theta.copy()], [value()]
    ceiling = divergence_factor * values[0] if values[0] > 0 else math.inf
    diverged = None
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            if k > 1:
                rule.to_train(params, state)
            gradient()
            if ctx is not None:
                ctx.loss = value()
            opt.step(params, grads, state, lr, decay_mask=mask, ctx=ctx)
            rule.to_eval(params, state)
            f = value()
            if not (np.isfinite(theta).all() and math.isfinite(f)):
                diverged = k
                break
            points.append(theta.copy())
            values.append(f)
            if f > ceiling:
                diverged = k
                break
    return Trajectory(
        OPTIMIZERS.resolve(optimizer),
        float(lr),
        opt.hyperparameters,
        np.array(points),
        np.array(values),
        diverged_at=diverged,
    )


def lr_grid(low: float, high: float, n: int) -> np.ndarray:
    """``n`` learning rates log-spaced from ``low`` to ``high`` (the --tune grid)."""
    if not (math.isfinite(low) and low > 0 and math.isfinite(high) and high > low):
        raise ConfigError(f"--tune-grid needs 0 < LO < HI, got {low:g},{high:g}")
    if n < 2:
        raise ConfigError(f"--tune-grid needs N >= 2 learning rates, got {n}")
    return np.geomspace(low, high, n)


def tune_lr(run: Callable[[float], Trajectory], lrs: Sequence[float]) -> Trajectory:
    """The path of the lr with the lowest final value (ties: the smaller lr), with every
    candidate listed in ``candidates`` (lr, final value, diverged). When every lr diverges, the
    smallest lr's path (marked diverged)."""
    best: Trajectory | None = None
    first: Trajectory | None = None
    candidates = []
    for lr in lrs:
        path = run(float(lr))
        first = first or path
        diverged = path.diverged_at is not None
        candidates.append(
            {"lr": float(lr), "final": None if diverged else path.final, "diverged": diverged}
        )
        if not diverged and (best is None or path.final < best.final):
            best = path
    chosen = best if best is not None else first
    assert chosen is not None
    chosen.candidates = candidates
    return chosen


def run_all(
    names: Sequence[str],
    run: Callable[[str, float | None], Trajectory],
    lr: float | None,
    lrs: Sequence[float] | None,
    what: str,
) -> tuple[list[Trajectory], list[dict[str, str]]]:
    """(paths, skipped): ``run(name, lr)`` for each optimizer, or its best of ``lrs``. A rule
    that refuses the model (a matrix rule on a vector, a full-batch rule on minibatches) is
    skipped with its reason; any other error stops everything."""
    paths, skipped = [], []
    for name in names:
        try:
            if lrs is not None:
                paths.append(tune_lr(lambda rate, name=name: run(name, rate), lrs))  # type: ignore[misc]
            else:
                paths.append(run(name, lr))
        except ConfigError as exc:
            rule = OPTIMIZERS.get(name).rule
            if not (rule.layout == "tensors" or rule.full_batch):
                raise
            skipped.append({"optimizer": name, "reason": str(exc)})
    if not paths:
        raise ConfigError(f"no optimizer can {what}: {skipped[0]['reason']}")
    return paths, skipped


# --------------------------------------------------------------------------- the result


@dataclass
class Landscape:
    """A map (``values[i, j]`` = f at (``x[j]``, ``y[i]``)) with the paths drawn on it.

    ``marks``: the points marked on the map (the minima; on data, the plane's centre) and
    ``mark_label`` what they are; ``minimum``: f*, where known; ``info``: the function or the
    plane (centre, directions, the share of variance of each direction) and the settings.
    """

    kind: str  # "function" or "data"
    title: str
    x: np.ndarray
    y: np.ndarray
    values: np.ndarray
    paths: list[Trajectory]
    marks: list[tuple[float, float]]
    mark_label: str
    minimum: float | None
    log_levels: bool
    labels: tuple[str, str]
    tol: float
    skipped: list[dict[str, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    alphas: np.ndarray | None = None  # on data: the interpolation's α
    # on data: the settings, centre, directions and objective (more paths onto the same plane)
    plane: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def reference(self) -> float:
        """What "steps to tolerance" counts to: f*, else the best value any path reached."""
        if self.minimum is not None:
            return self.minimum
        finals = [float(np.min(p.values)) for p in self.paths if len(p.values)]
        return min(finals) if finals else math.nan

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "title": self.title,
            **self.info,
            "minimum": self.minimum,
            "tol": self.tol,
            "marks": [list(m) for m in self.marks],
            "labels": list(self.labels),
            "grid": {"x": self.x.tolist(), "y": self.y.tolist(), "values": self.values.tolist()},
            "paths": [p.to_dict() for p in self.paths],
            "skipped": self.skipped,
        }
        if self.alphas is not None:
            out["alphas"] = self.alphas.tolist()
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per path: what the table and the CSV show."""
        out = []
        for p in self.paths:
            gap = p.final - self.minimum if self.minimum is not None else None
            row: dict[str, Any] = {
                "optimizer": p.optimizer,
                "lr": p.lr,
                "final": p.final if math.isfinite(p.final) else None,
                "gap": gap if gap is not None and math.isfinite(gap) else None,
                "steps_to_tol": p.steps_to_tol,
                "diverged_at": p.diverged_at,
            }
            if p.candidates is not None:
                row["tried"] = len(p.candidates)
                row["tried_diverged"] = sum(c["diverged"] for c in p.candidates)
            if p.explained is not None:
                row["explained"] = p.explained
            out.append(row)
        return out

    def to_frame(self) -> Any:
        """:meth:`rows` as a pandas DataFrame (NaN where a value is missing)."""
        from losslab.data.write import to_frame

        return to_frame(self.rows())

    def __repr__(self) -> str:
        """One line: the map · paths · the lowest final value."""
        what = self.info.get("data") or (self.info.get("function") or {}).get("name", "?")
        head = f"{self.kind} {str(what)[-40:]} · {len(self.paths)} paths"
        finite = [p for p in self.paths if math.isfinite(p.final)]
        if finite:
            best = min(finite, key=lambda p: p.final)
            head += f" · best {best.optimizer} lr {best.lr:.3g} (final {best.final:.4g})"
        return f"<Landscape {head}>"

    def _repr_html_(self) -> str | None:
        """The table and the map in a notebook (:func:`losslab.registry.html_of`)."""
        from losslab.registry import html_of

        return html_of(self)


def _finish(landscape: Landscape) -> Landscape:
    target = landscape.reference + landscape.tol
    for p in landscape.paths:
        p.steps_to_tol = steps_to(p.values, target) if math.isfinite(target) else None
    return landscape


def _check_common(steps: int, grid: int, tol: float, lr: float | None, tune: Any) -> None:
    if lr is not None and tune is not None:
        raise ConfigError("--lr and --tune exclude each other: --tune picks the lr")
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    if grid < 3:
        raise ConfigError(f"--grid must be >= 3 points per axis, got {grid}")
    # the map's coordinates and values (x, y, f and a chunk of scores per point)
    check_memory(4 * 8 * grid**2, f"--grid {grid} (a map of {grid**2:,} points)")
    if not (tol >= 0 and math.isfinite(tol)):
        raise ConfigError(f"--tol must be >= 0, got {tol:g}")


def _optimizer_list(optimizers: Sequence[str] | None) -> list[str]:
    names = list(optimizers) if optimizers else list(DEFAULT_OPTIMIZERS)
    if any(canonical(n) == "all" for n in names):
        return OPTIMIZERS.names()
    return list(dict.fromkeys(OPTIMIZERS.resolve(n) for n in names))


def function_landscape(
    name: str,
    *,
    optimizers: Sequence[str] | None = None,
    start: Sequence[float] | None = None,
    steps: int = DEFAULT_STEPS,
    lr: float | None = None,
    tune: tuple[float, float, int] | None = None,
    condition: float | None = None,
    hyper: dict[str, Any] | None = None,
    grid: int = FUNCTION_GRID,
    tol: float = DEFAULT_TOL,
) -> Landscape:
    """Every optimizer's path on the test function ``name`` over its contour map.

    ``optimizers``: registered names or "all" (default: :data:`DEFAULT_OPTIMIZERS`); ``lr``: one
    lr for all (default: the function's lr for each, else the optimizer's own) unless ``tune`` =
    (low, high, n) picks each one's from that log grid by the final value. A rule that refuses
    a 2-vector is skipped with a note.
    """
    fn = make_function(name, condition=condition)
    _check_common(steps, grid, tol, lr, tune)
    if start is not None:
        start = tuple(float(v) for v in start)
        if len(start) != 2 or not all(math.isfinite(v) for v in start):
            raise ConfigError(f"--start must be two finite numbers x,y, got {start}")
    if lr is not None and not (lr > 0 and math.isfinite(lr)):
        raise ConfigError(f"--lr must be > 0, got {lr:g}")
    names = _optimizer_list(optimizers)
    hyper = {k: v for k, v in (hyper or {}).items() if v is not None}
    check_hyper(names, hyper)
    lrs = lr_grid(*tune) if tune is not None else None

    def run(opt: str, rate: float | None) -> Trajectory:
        return function_path(
            fn, opt, start=start, steps=steps, lr=rate, hyper=hyper_for(opt, hyper)
        )

    paths, skipped = run_all(names, run, lr, lrs, "step on a 2-d point")
    xs, ys, values = fn.grid(grid)
    s = fn.start if start is None else start
    return _finish(
        Landscape(
            "function",
            f"{fn.name}: f = {fn.formula} · {steps} steps from ({s[0]:g}, {s[1]:g})",
            xs,
            ys,
            values,
            paths,
            list(fn.minima),
            "minimum" if len(fn.minima) == 1 else "minima",
            fn.minimum,
            fn.log_levels,
            ("x", "y"),
            tol,
            skipped,
            {"function": fn.to_dict(), "steps": steps, "start": list(s), "lr": lr},
        )
    )


# --------------------------------------------------------------------------- planes


def pca_directions(
    trajectories: Sequence[np.ndarray], center: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(D, ratio): the top two principal directions (rows of D, orthonormal) of the stacked
    points θ_t − centre of every trajectory, and the share of their total variance each holds.

    PCA centres the stacked points on their mean, as Li et al.'s code (scikit-learn's PCA) does;
    each direction's sign makes its largest component positive (scikit-learn's ``svd_flip``).
    """
    M = np.vstack(trajectories) - center
    if M.shape[1] < 2:
        raise ConfigError("a plane needs at least 2 parameters; this model has 1")
    M -= M.mean(axis=0)
    _, s, Vt = np.linalg.svd(M, full_matrices=False)
    D = Vt[:2].copy()
    if D.shape[0] < 2:  # a single point: any orthonormal pair
        D = np.eye(2, M.shape[1])
    D *= np.sign(D[np.arange(2), np.argmax(np.abs(D), axis=1)])[:, None]
    total = float(np.sum(s * s))
    ratio = (s[:2] ** 2 / total) if total > 0 else np.zeros(2)
    return D, np.pad(ratio, (0, 2 - ratio.size))


def plane_coordinates(points: np.ndarray, center: np.ndarray, D: np.ndarray) -> np.ndarray:
    """The coordinates c of each point's orthogonal projection centre + cᵀD onto the plane:
    the least-squares solution of Dᵀc = θ − centre (dot products when D is orthonormal)."""
    return np.linalg.solve(D @ D.T, D @ (np.atleast_2d(points) - center).T).T


def explained_share(points: np.ndarray, D: np.ndarray) -> float:
    """The share of a path's variance the plane holds: Σ‖P(θ_t − θ̄)‖² / Σ‖θ_t − θ̄‖² with P the
    orthogonal projector onto span(D) and θ̄ the path's mean (1 for a path that does not move)."""
    Q, _ = np.linalg.qr(D.T)
    X = points - points.mean(axis=0)
    total = float(np.sum(X * X))
    if total <= 0:
        return 1.0
    return float(np.sum((X @ Q) ** 2) / total)


def filter_normalized_direction(net: Any, center: np.ndarray, rng: np.random.Generator) -> Any:
    """A random direction d scaled filter by filter to the centre's norms (Li et al. 2018, §4):
    d_ij ← d_ij · ‖θ_ij‖/‖d_ij‖ for each filter j (a dense layer's output unit, a conv's output
    channel: the rows of torch's weight layout) of each layer i; biases get 0 (their code's
    default, ``ignore='biasbn'``). d is drawn N(0, 1) from ``rng``."""
    d, c = net.copy(), net.copy()
    d.theta[...] = rng.standard_normal(d.theta.size)
    c.theta[...] = center
    (d_params, _), (c_params, _) = d.torch_tensors(), c.torch_tensors()
    for i, (dp, cp) in enumerate(zip(d_params, c_params, strict=True)):
        if i % 2:
            dp[...] = 0.0
            continue
        axes = tuple(range(1, dp.ndim))
        scale = np.sqrt(np.sum(cp * cp, axis=axes)) / (np.sqrt(np.sum(dp * dp, axis=axes)) + 1e-10)
        dp *= scale.reshape(-1, *([1] * len(axes)))
    return d.theta.copy()


class ObjectiveAt:
    """The training objective mean_i loss(score_θ(x_i), y_i) + (l2/2)‖W‖² + l1‖W‖₁ at many θ.

    One-layer models go through one batched product for a block of θ (``S = X·W_θ + b_θ`` for
    every θ of the block at once); networks take one forward pass per θ. The loss is the
    registry's ``per_row`` on the stacked scores, reduced per θ as :meth:`Loss.value` does; an
    embedding's batch loss (contrastive, triplet, supcon) is ``embedding``'s loss of the
    training rows, the mean over batches of the run's size that `fit` reports as training loss.
    """

    def __init__(
        self,
        net: Any,
        loss: Any,
        X: np.ndarray,
        y: np.ndarray,
        *,
        logits: bool,
        loss_kw: dict[str, float],
        l1: float = 0.0,
        l2: float = 0.0,
        embedding: Any = None,
    ) -> None:
        self.net = net.copy(np.float64)
        self.loss, self.logits = loss, logits
        self.embedding = embedding
        self.kw = loss.resolve_params(**loss_kw)
        self.X, self.y = X, y
        self.l1, self.l2 = l1, l2
        self.n_weights = net.weights.size
        self.one_layer = net.n_layers == 1
        self.out = 1 if net.vector_output else net.sizes[-1]

    def _mean_loss(self, S: np.ndarray) -> np.ndarray:
        """Per-θ mean of the per-row losses (an embedding's: its batch loss); S is (θs, rows[,
        K])."""
        g, n = S.shape[:2]
        if self.embedding is not None:
            return np.array([self.embedding.part_loss(S[i], self.y) for i in range(g)])
        y = np.broadcast_to(self.y, (g, *self.y.shape)).reshape(g * n, *self.y.shape[1:])
        rows = self.loss.per_row(y, S.reshape(g * n, *S.shape[2:]), logits=self.logits, **self.kw)
        mean = np.mean(np.asarray(rows, dtype=np.float64).reshape(g, n), axis=1)
        return np.sqrt(mean) if self.loss.root_of_mean else mean

    def _scores(self, thetas: np.ndarray) -> np.ndarray:
        g, n = thetas.shape[0], self.X.shape[0]
        if self.one_layer:
            p, k = self.X.shape[1], self.out
            # a dense W is stored column-major in θ: its k columns of p weights, then the biases
            W = thetas[:, : p * k].reshape(g, k, p)
            S = np.matmul(W, self.X.T).transpose(0, 2, 1)  # (g, n, k)
            S += thetas[:, p * k : p * k + k][:, None, :]
            return S[..., 0] if self.net.vector_output else S
        S = np.empty((g, n) if self.net.vector_output else (g, n, self.out))
        for i, theta in enumerate(thetas):
            self.net.theta[...] = theta
            self.net.scores(self.X, out=S[i])
        return S

    def __call__(self, thetas: np.ndarray) -> np.ndarray:
        """The objective at each row of ``thetas`` (m, P)."""
        thetas = np.atleast_2d(thetas)
        block = max(1, _CHUNK_FLOATS // max(1, self.X.shape[0] * self.out))
        out = np.empty(thetas.shape[0])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for lo in range(0, thetas.shape[0], block):
                T = thetas[lo : lo + block]
                value = self._mean_loss(self._scores(T))
                W = T[:, : self.n_weights]
                if self.l2:
                    value += 0.5 * self.l2 * np.einsum("ij,ij->i", W, W)
                if self.l1:
                    value += self.l1 * np.abs(W).sum(axis=1)
                out[lo : lo + block] = value
        return out

    def on_plane(
        self, center: np.ndarray, D: np.ndarray, xs: np.ndarray, ys: np.ndarray
    ) -> np.ndarray:
        """values[i, j] = objective(centre + xs[j]·D[0] + ys[i]·D[1])."""
        A, B = np.meshgrid(xs, ys)
        C = np.column_stack([A.ravel(), B.ravel()])
        out = np.empty(C.shape[0])
        block = max(1, _CHUNK_FLOATS // max(1, center.size))
        for lo in range(0, C.shape[0], block):
            out[lo : lo + block] = self(center + C[lo : lo + block] @ D)
        return out.reshape(A.shape)


def _window(coords: np.ndarray, random: bool) -> tuple[float, float, float, float]:
    """The plane's window: every projected point and the centre, padded by 10% of the span
    (and at least [−1, 1]² for random directions, the range Li et al. draw)."""
    pts = np.vstack([coords, np.zeros((1, 2))])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    if random:
        lo, hi = np.minimum(lo, -1.0), np.maximum(hi, 1.0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    lo, hi = lo - 0.1 * span, hi + 0.1 * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def _spans_decades(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > 100)


def direction_seed(seed: int) -> np.random.Generator:
    """The generator of the random directions: a fourth child of ``SeedSequence(seed)``, apart
    from the split, shuffle and initialisation streams."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])


def embedding_objective(problem: Any, config: FitConfig, y: np.ndarray) -> Any:
    """The training objective of an embedding loss as `fit` evaluates it: the batch loss over
    consecutive batches of the run's batch size in the seed's fixed order of the training rows
    (:class:`~losslab.train.embedding.EmbeddingObjective`)."""
    from losslab.train.embedding import EmbeddingObjective
    from losslab.train.loop import batch_rows, run_settings

    opt, _, batch, loss_kw = run_settings(problem, config)
    batch = batch_rows(opt.name, opt.rule, batch, y.shape[0])
    return EmbeddingObjective(problem, loss_kw, config, batch, y)


def data_landscape(
    config: FitConfig,
    optimizers: Sequence[str] | None = None,
    *,
    tune: tuple[float, float, int] | None = None,
    grid: int = DATA_GRID,
    tol: float = DEFAULT_TOL,
    directions: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Landscape:
    """Train each optimizer as `losslab fit` with ``config`` and draw the training objective on
    a plane through the optimum (or the best final point), with every path projected onto it.

    ``directions``: ``pca`` (the top two principal directions of the stacked trajectories) or
    ``random`` (filter-normalised); default pca for one-layer models, random for networks.
    ``tune``: each optimizer's lr picked from that log grid by the final training objective.
    With an embedding loss the objective is the batch loss of the training rows in batches of
    the first optimizer's batch size (:func:`embedding_objective`).
    """
    from losslab.train.loop import build_network, train
    from losslab.train.prepare import prepare
    from losslab.train.reference import NETWORKS, reference_optimum

    _check_common(config.epochs, grid, tol, config.lr, tune)
    names = _optimizer_list(optimizers)
    check_hyper(names, config.hyper)
    lrs = lr_grid(*tune) if tune is not None else None
    problem, split = prepare(config)
    X, y = split.X_train, split.y_train
    net = build_network(problem, config, X.shape[1], np.float64)
    network = problem.model.name in NETWORKS
    embedding = (
        embedding_objective(problem, replace(config, optimizer=names[0]), y)
        if problem.head.name == "embedding"
        else None
    )
    directions = directions or ("random" if network else "pca")
    if directions not in DIRECTIONS:
        raise ConfigError(
            f"--directions must be one of {', '.join(DIRECTIONS)}, got {directions!r}"
        )
    objective = ObjectiveAt(
        net,
        problem.loss,
        X,
        y,
        logits=problem.head.logits,
        loss_kw=config.loss_params(),
        l1=config.l1,
        l2=config.l2,
        embedding=embedding,
    )
    total, done = len(names) * (len(lrs) if lrs is not None else 1), 0

    def run(opt: str, rate: float | None) -> Trajectory:
        nonlocal done
        thetas: list[np.ndarray] = []
        cfg = replace(config, optimizer=opt, lr=rate, hyper=hyper_for(opt, config.hyper))
        result = train(problem, split, cfg, on_epoch=lambda _, th: thetas.append(th.copy()))
        done += 1
        if progress is not None:
            progress(done, total)
        T = np.array(thetas)
        return Trajectory(
            opt,
            float(result.config["lr"]),
            {k: result.config[k] for k in OPTIMIZERS.get(opt).hyper_defaults},
            np.zeros((len(T), 2)),
            objective(T),
            diverged_at=result.diverged_at,
            thetas=T,
        )

    paths, skipped = run_all(names, run, config.lr, lrs, "train this model")

    ref = None
    if not network and embedding is None:
        ref = reference_optimum(
            problem.model.name,
            problem.loss.name,
            X,
            y,
            n_classes=max(problem.n_outputs, 2),
            l1=config.l1,
            l2=config.l2,
        )
    if ref is not None and ref.objective is not None:
        twin = net.copy(np.float64)
        twin.W[0][...] = ref.coef
        twin.b[0][...] = ref.intercept
        center, center_label = twin.theta.copy(), "optimum θ*"
        minimum: float | None = float(objective(center)[0])
    else:
        best = min(paths, key=lambda p: (p.final, p.optimizer))
        center, center_label = best.thetas[-1].copy(), f"final θ of {best.optimizer}"  # type: ignore[index]
        minimum = None
    trajectories = [p.thetas for p in paths]
    if directions == "pca":
        D, ratio = pca_directions(trajectories, center)  # type: ignore[arg-type]
        labels = (f"PC1 ({ratio[0]:.1%} of the paths' variance)", f"PC2 ({ratio[1]:.1%})")
        what = "the paths' top two principal directions (Li et al. 2018, §7)"
    else:
        rng = direction_seed(config.seed)
        D = np.vstack([filter_normalized_direction(net, center, rng) for _ in range(2)])
        ratio = None
        labels = ("α (random direction 1)", "β (random direction 2)")
        what = "two random filter-normalised directions (Li et al. 2018, §4; biases fixed)"
    theta0 = trajectories[0][0]  # type: ignore[index]
    for p in paths:
        p.points = plane_coordinates(p.thetas, center, D)  # type: ignore[arg-type]
        p.explained = explained_share(p.thetas, D)  # type: ignore[arg-type]
        end = p.thetas[-1]  # type: ignore[index]
        p.interpolation = objective(theta0 + ALPHAS[:, None] * (end - theta0)[None, :])
    x0, x1, y0, y1 = _window(np.vstack([p.points for p in paths]), directions == "random")
    xs, ys = np.linspace(x0, x1, grid), np.linspace(y0, y1, grid)
    values = objective.on_plane(center, D, xs, ys)
    arch = problem.model.name
    if network:
        arch += f" {net.describe()} {net.activation.name}"  # type: ignore[union-attr]
    source = config.data if isinstance(config.data, str) else "<DataFrame>"
    title = (
        f"{source} · {arch} · {problem.loss.name} · {config.epochs} epochs · plane through "
        f"the {center_label}"
    )
    info = {
        "data": source,
        "model": problem.model.name,
        "loss": problem.loss.name,
        "epochs": config.epochs,
        "plane": {
            "center": center_label,
            "directions": directions,
            "spanned_by": what,
            "variance_ratio": ratio.tolist() if ratio is not None else None,
            "parameters": int(center.size),
        },
    }
    if embedding is not None:
        mined = f" (mining {embedding.mining})" if problem.loss.name != "supcon" else ""
        info["objective"] = (
            f"the {problem.loss.name} batch loss of the training rows in batches of "
            f"{embedding.batch}{mined}, as fit reports it"
        )
    return _finish(
        Landscape(
            "data",
            title,
            xs,
            ys,
            values,
            paths,
            [(0.0, 0.0)],
            center_label,
            minimum,
            minimum is not None or _spans_decades(values),
            labels,
            tol,
            skipped,
            info,
            alphas=ALPHAS.copy(),
            plane={"config": config, "center": center, "D": D, "objective": objective},
        )
    )
