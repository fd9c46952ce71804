"""Fused loss kernels and minibatch helpers: the trainer's hot paths.

An objective gives the mean loss, the metric and the gradient G = ∂(mean loss)/∂scores of one
(head, loss) pair on a set of rows. The generic :class:`Objective` goes through the loss
registry; :class:`MSE`, :class:`BCE` and :class:`CrossEntropy` are fused versions for the common
pairs that give the registry's numbers (bit for bit row by row; only the order of the final sum
differs) in fewer passes over memory and without temporaries. They see only scores, so they
serve the one-layer models and the networks alike. Sample weights, class weights, label
smoothing and links (poisson's, tweedie's exp) take the generic objective: the fused ones are
the plain unweighted mean of their pair.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from losslab.losses.metrics import r2_score
from losslab.nn.activations import sigmoid

if TYPE_CHECKING:  # pragma: no cover
    from losslab.train.prepare import Problem


def metric_name(problem: Problem) -> str:
    if problem.head.name == "embedding":
        return "knn1"  # k-NN accuracy of the embeddings (losslab.train.embedding)
    return "accuracy" if problem.classifier else "r2"


def _metric(problem: Problem, y: np.ndarray, S: np.ndarray, w: np.ndarray | None = None) -> float:
    """Accuracy (Σ wᵢ·[ŷᵢ = yᵢ] / Σ wᵢ with weights), or R² of the predictions (the loss's
    inverse link of the scores; weighted sums with weights)."""
    if problem.classifier:
        if problem.head.multi_output:
            hits = np.argmax(S, axis=1) == y
        else:
            hits = (S > 0) == (y > 0.5)
        return float(np.mean(hits)) if w is None else float(np.dot(w, hits) / np.sum(w))
    return r2_score(y, problem.loss.predict(S), w)


# A fused pass walks the rows in chunks small enough that a chunk's few work vectors stay in the
# core's cache from one ufunc to the next, and the work vectors are reused instead of allocated.
# (Splitting the chunks between threads gains nothing here: the GIL hand-offs between ufuncs cost
# as much as the second core gives.) An input of at most one chunk is one plain pass.
_CHUNK = 1 << 15
_local = threading.local()  # the work vectors, per thread


def _chunked(n: int, work: Callable[[slice], Any]) -> list[Any]:
    """``work`` on consecutive slices of at most _CHUNK rows covering ``range(n)``, in order."""
    return [work(slice(lo, min(lo + _CHUNK, n))) for lo in range(0, n, _CHUNK)]


def _scratch(name: str, like: np.ndarray, dtype: Any = None) -> np.ndarray:
    """A work vector of ``like``'s length (at most a chunk), reused across calls."""
    key = (name, np.dtype(like.dtype if dtype is None else dtype))
    work = _local.__dict__.setdefault("work", {})
    buf = work.get(key)
    if buf is None or buf.shape[0] < like.shape[0]:
        buf = work[key] = np.empty(max(like.shape[0], _CHUNK), key[1])
    return buf[: like.shape[0]]


class Objective:
    """Mean loss, metric and gradient of one (model, loss) pair on a set of rows.

    This generic one goes through the loss registry; :class:`MSE`, :class:`BCE` and
    :class:`CrossEntropy` are fused versions for the common pairs that give the registry's
    numbers (bit for bit row by row; only the order of the final sum differs) in fewer passes
    over memory and without temporaries.
    """

    empty = False  # a batch-level objective's batch had nothing to score: no step on it

    def __init__(self, problem: Problem, loss_kw: dict[str, Any], class_weight: Any = None) -> None:
        self.problem, self.loss, self.loss_kw = problem, problem.loss, loss_kw
        self.logits = problem.head.logits
        self.class_weight = class_weight
        link = problem.loss.link
        # the link between the score and what the loss reads (poisson reads the score itself)
        self.link = None if link is None or problem.loss.score_input else link
        self._buffers: dict[tuple[Any, ...], np.ndarray] = {}
        self._cache: dict[tuple[str, int], tuple[np.ndarray, Any]] = {}

    def buffer(self, key: Any, like: np.ndarray, dtype: Any = None) -> np.ndarray:
        """A scratch array shaped like ``like``, allocated once per (key, shape)."""
        full = (key, like.shape, like.dtype if dtype is None else dtype)
        buf = self._buffers.get(full)
        if buf is None:
            buf = self._buffers[full] = np.empty(like.shape, like.dtype if dtype is None else dtype)
        return buf

    def per_target(self, name: str, y: np.ndarray, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per target vector (the train and the test targets live for the run;
        the cache holds ``y`` itself, so its id cannot be reused while cached)."""
        key = (name, id(y))
        hit = self._cache.get(key)
        if hit is None or hit[0] is not y:
            hit = self._cache[key] = (y, compute())
        return hit[1]

    def forget(self) -> None:
        """Drop the buffers and per-target values kept so far (a stream's rows change chunk
        by chunk; kept, they would grow with the file)."""
        self._buffers.clear()
        self._cache.clear()

    def unfused(self) -> Objective:
        """The registry's objective of the same loss (what the final metrics are taken with)."""
        return Objective(self.problem, self.loss_kw, self.class_weight)

    def extras(self) -> dict[str, float]:
        """Metrics besides the main one from the last evaluation (none here)."""
        return {}

    def _kw(self, w: np.ndarray | None) -> dict[str, Any]:
        return {
            "logits": self.logits,
            "sample_weight": w,
            "class_weight": self.class_weight,
            **self.loss_kw,
        }

    def grad(self, S: np.ndarray, y: np.ndarray, G: np.ndarray, w: Any = None) -> None:
        """G = ∂(mean loss)/∂S (the weighted mean Σ wᵢℓᵢ / Σ wᵢ with row weights ``w``)."""
        if self.link is None:
            G[...] = self.loss.grad(y, S, **self._kw(w))
            return
        pred = self.link.inverse(S)
        np.multiply(self.loss.grad(y, pred, **self._kw(w)), self.link.slope(S, pred), out=G)

    def evaluate(
        self,
        S: np.ndarray,
        y: np.ndarray,
        G: np.ndarray | None = None,
        shift: Any = 0.0,
        w: Any = None,
    ) -> tuple[float, float]:
        """(mean loss, metric) at scores S + shift (S is updated in place); also the gradient
        into G when given. ``w``: the rows' weights (None: unweighted)."""
        S += shift
        if G is not None:
            self.grad(S, y, G, w)
        pred = S if self.link is None else self.link.inverse(S)
        value = self.loss.value(y, pred, **self._kw(w))
        return value, _metric(self.problem, y, S, w)


class MSE(Objective):
    """linear + mse: mean (s − y)², gradient 2(s − y)/n, R² from the same sum of squares."""

    def grad(self, S: np.ndarray, y: np.ndarray, G: np.ndarray, w: Any = None) -> None:
        np.subtract(S, y, out=G)
        G *= 2.0
        G /= S.shape[0]

    def evaluate(
        self,
        S: np.ndarray,
        y: np.ndarray,
        G: np.ndarray | None = None,
        shift: Any = 0.0,
        w: Any = None,
    ) -> tuple[float, float]:
        n = S.shape[0]

        def chunk(i: slice) -> float:
            s = S[i]
            s += shift
            d = _scratch("d", s)
            np.subtract(s, y[i], out=d)
            if G is not None:
                g = G[i]
                np.multiply(d, 2.0, out=g)
                g /= n
            d *= d
            return float(d.sum())

        sse = math.fsum(_chunked(n, chunk))
        total = self.per_target("total", y, lambda: float(np.sum((y - y.mean()) ** 2)))
        return sse / n, 1.0 - sse / total if total > 0 else float("nan")


class BCE(Objective):
    """logistic + bce from logits: max(s,0) − s·y + log1p(e^−|s|), gradient (σ(s) − y)/n with
    σ(s) = 1/(1 + e^−s) (``sigmoid``, exact in both tails), both in the registry's order of
    operations. Called, as every fused objective, under the training loop's
    ``np.errstate(over="ignore")``, which σ's e^−s needs below s ≈ −709.8."""

    def grad(
        self, S: np.ndarray, y: np.ndarray, G: np.ndarray, w: Any = None, n: int | None = None
    ) -> None:
        sigmoid(S, out=G, overflow_ignored=True)
        G -= y
        G /= S.shape[0] if n is None else n

    def evaluate(
        self,
        S: np.ndarray,
        y: np.ndarray,
        G: np.ndarray | None = None,
        shift: Any = 0.0,
        w: Any = None,
    ) -> tuple[float, float]:
        n = S.shape[0]
        positive = self.per_target("positive", y, lambda: y > 0.5)
        flip = self.per_target("flip", y, lambda: _flip(y))

        def chunk(i: slice) -> tuple[float, int]:
            s = S[i]
            s += shift
            if G is not None:
                self.grad(s, y[i], G[i], n=n)
            a, b, hits = _scratch("a", s), _scratch("b", s), _scratch("hits", s, bool)
            if flip is not None:  # y ∈ {0, 1}: max(s,0) − s·y is exactly max(s·(1 − 2y), 0)
                np.multiply(s, flip[i], out=b)
                np.maximum(b, 0.0, out=b)
            else:
                np.multiply(s, y[i], out=a)
                np.maximum(s, 0.0, out=b)
                b -= a
            np.abs(s, out=a)
            np.negative(a, out=a)
            np.exp(a, out=a)
            np.log1p(a, out=a)
            b += a
            np.greater(s, 0.0, out=hits)
            np.equal(hits, positive[i], out=hits)
            return float(b.sum()), int(np.count_nonzero(hits))

        parts = _chunked(n, chunk)
        return math.fsum(v for v, _ in parts) / n, sum(k for _, k in parts) / n


def _flip(y: np.ndarray) -> np.ndarray | None:
    """1 − 2y for hard 0/1 labels (±1, so multiplying by it is exact), None for soft labels."""
    return 1.0 - 2.0 * y if bool(np.all((y == 0) | (y == 1))) else None


class CrossEntropy(Objective):
    """softmax + cross-entropy from logits: log1p(Σ_{k≠top} e^(s_k − m)) − (s_y − m) and
    softmax(s) − onehot(y), sharing one exp of the shifted scores."""

    def grad(self, S: np.ndarray, y: np.ndarray, G: np.ndarray, w: Any = None) -> None:
        self._shared(S, y, G)

    def evaluate(
        self,
        S: np.ndarray,
        y: np.ndarray,
        G: np.ndarray | None = None,
        shift: Any = 0.0,
        w: Any = None,
    ) -> tuple[float, float]:
        S += shift
        return self._shared(S, y, G, value=True)

    def _shared(
        self, S: np.ndarray, y: np.ndarray, G: np.ndarray | None, *, value: bool = False
    ) -> tuple[float, float]:
        n = S.shape[0]
        rows, cls = np.arange(n), y.astype(np.intp)
        top = S.argmax(axis=1)
        Z = self.buffer("z", S)
        np.subtract(S, S[rows, top][:, None], out=Z)
        E = self.buffer("e", S)
        np.exp(Z, out=E)
        loss = metric = math.nan
        if value:
            E[rows, top] = 0.0
            rest = E.sum(axis=1)
            loss = float(np.mean(np.log1p(rest) - Z[rows, cls]))
            metric = float(np.mean(top == y))
            E[rows, top] = 1.0
        if G is not None:
            np.divide(E, E.sum(axis=1, keepdims=True), out=G)
            G[rows, cls] -= 1.0
            G /= n
        return loss, metric


_FUSED: dict[tuple[str, str], type[Objective]] = {
    ("linear", "mse"): MSE,
    ("logistic", "bce"): BCE,
    ("softmax", "cross-entropy"): CrossEntropy,
}


def objective_for(
    problem: Problem,
    loss_kw: dict[str, Any],
    *,
    class_weight: Any = None,
    weighted: bool = False,
) -> Objective:
    """The fused objective of the (model, loss) pair when there is one and the run is its plain
    mean (no sample or class weights, the loss's default parameters), else the registry's."""
    plain = (
        class_weight is None
        and not weighted
        and all(loss_kw.get(k, d) == d for k, d in problem.loss.params.items())
    )
    cls = _FUSED.get((problem.head.name, problem.loss.name), Objective) if plain else Objective
    return cls(problem, loss_kw, class_weight)


def _rows_c_order(X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """X (or X[rows]) as a C-ordered copy, so that a minibatch is a gather of whole rows.

    Gathering rows of a column-major X touches one cache line per value; a row-major copy made
    once turns every batch into a few contiguous reads (5–8× faster at 50 columns).
    """
    if rows is None:
        return np.ascontiguousarray(X)
    out = np.empty((rows.shape[0], X.shape[1]), dtype=X.dtype)
    for j in range(X.shape[1]):  # column by column: each gather reads one contiguous column
        out[:, j] = X[:, j][rows]
    return out


class Batches:
    """The minibatches of the training rows, epoch after epoch (``rng`` is the shuffle stream).

    ``shuffle="epoch"``: each epoch takes ``rng.permutation(n)`` and steps on consecutive slices
    of ``batch`` rows (the last may be smaller), gathered from a row-major copy of X into one
    reused buffer. ``shuffle="once"``: the rows are permuted once, here, and each epoch permutes
    only the order of the batches (``rng.permutation(n_batches)``).
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        batch: int,
        shuffle: str,
        rng: np.random.Generator,
        w: np.ndarray | None = None,
    ) -> None:
        n, p = X.shape
        self.n, self.batch, self.shuffle, self.rng = n, batch, shuffle, rng
        self.count = -(-n // batch)
        m0 = min(batch, n)
        self.w = w
        if shuffle == "once":
            perm = rng.permutation(n)
            self.X_rows, self.y_rows = _rows_c_order(X, perm), y[perm]
            self.w_rows = None if w is None else w[perm]
        else:
            self.X_rows, self.y = _rows_c_order(X), y
            self.X_batch = np.empty((m0, p), dtype=X.dtype)
            self.y_batch = np.empty(m0, dtype=y.dtype)
            self.w_batch = None if w is None else np.empty(m0, dtype=w.dtype)

    def epoch(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """One epoch's minibatches (X, y and the rows' weights, None when unweighted): views of
        reused buffers, valid until the next one."""
        batch = self.batch
        if self.shuffle == "once":
            for k in self.rng.permutation(self.count):
                lo = k * batch
                wb = None if self.w_rows is None else self.w_rows[lo : lo + batch]
                yield self.X_rows[lo : lo + batch], self.y_rows[lo : lo + batch], wb
            return
        order = self.rng.permutation(self.n)
        for begin in range(0, self.n, batch):
            rows = order[begin : begin + batch]
            m = rows.shape[0]
            wb = None
            if self.w is not None:
                wb = np.take(self.w, rows, out=self.w_batch[:m], mode="clip")  # type: ignore[index]
            yield (
                np.take(self.X_rows, rows, axis=0, out=self.X_batch[:m], mode="clip"),
                np.take(self.y, rows, out=self.y_batch[:m], mode="clip"),
                wb,
            )
