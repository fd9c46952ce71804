"""Training with a batch loss of an embedding (contrastive, triplet, supcon).

The model's D outputs are the embedding; the loss of a batch depends on the pairs or triplets
its rows form (:mod:`losslab.losses.embedding`), so the objective sees whole batches: a
minibatch step takes the batch's loss and gradient (mined from the run's MINING stream of
``--seed``), and a batch with nothing to score (no positive pair) is skipped and counted.

Evaluation: a part's loss is the mean of the batch loss over consecutive batches of the run's
batch size, in one fixed order of its rows (a permutation from the seed, the same at every
epoch; random mining from a generator reset at each evaluation), so that the reported loss is
the training objective's and a full-batch run's is exactly it. The metric is k-NN accuracy
(:func:`~losslab.losses.embedding.knn_accuracy`, k = 1 and 5): the training rows leave-one-out
(at most :data:`KNN_QUERIES` of them), the validation and test rows against the training rows'
embeddings of the same evaluation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losslab.errors import ConfigError, DataError
from losslab.losses.embedding import batch_loss, check_mining, knn_accuracy
from losslab.train.config import FitConfig
from losslab.train.kernels import Objective
from losslab.train.prepare import Problem

MINING_STREAM, EVAL_STREAM, ORDER_STREAM = 3, 4, 5  # after SPLIT, SHUFFLE and INIT
KNN_QUERIES = 5000  # training rows whose leave-one-out k-NN accuracy the history reports
KS = (1, 5)


def stream(seed: int, k: int) -> np.random.Generator:
    """The generator of stream ``k`` of ``seed`` (streams 0–2 are the split, shuffle, init)."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(k + 1)[k])


class EmbeddingObjective(Objective):
    """Batch loss, its gradient and k-NN accuracy of an embedding network."""

    def __init__(
        self,
        problem: Problem,
        loss_kw: dict[str, Any],
        config: FitConfig,
        batch: int,
        train_y: np.ndarray,
        *,
        weighted: bool = False,
        class_weight: Any = None,
    ) -> None:
        if weighted or class_weight is not None:
            raise ConfigError(
                f"{problem.loss.name} averages over pairs of rows: it takes no row or class "
                "weights (drop --weight-column / --class-weight)"
            )
        super().__init__(problem, loss_kw)
        name = problem.loss.name
        self.name, self.batch, self.seed = name, batch, config.seed
        self.mining = check_mining(name, config.mining)
        self.params = {**problem.loss.params, **loss_kw}
        if name == "supcon" and config.temperature is not None:
            self.params["temperature"] = float(config.temperature)
        if name == "triplet":
            self.params["swap"] = bool(config.swap)
        self.rng = stream(config.seed, MINING_STREAM)
        self.train_y = train_y
        self.reference: tuple[np.ndarray, np.ndarray] | None = None  # training embeddings
        self.skipped = 0  # minibatches without a positive pair
        self.steps = 0
        self.empty = False
        self.knn: dict[int, float] = {}
        self.last = math.nan
        counts = np.unique(train_y, return_counts=True)[1]
        if not (counts > 1).any():
            raise DataError(
                f"{name}: no two training rows share a class, so there is no positive pair "
                "to learn from (use more rows per class or a smaller --test-size)"
            )

    def _loss(self, E: np.ndarray, y: np.ndarray, rng: Any, want_grad: bool) -> Any:
        return batch_loss(
            self.name, E, y.astype(np.intp), params=self.params, mining=self.mining,
            rng=rng, want_grad=want_grad,
        )  # fmt: skip

    def grad(self, S: np.ndarray, y: np.ndarray, G: np.ndarray, w: Any = None) -> None:
        """G = ∂(batch loss)/∂S; a batch with nothing to score leaves G = 0, sets ``empty``
        (the loop skips its step) and is counted in ``skipped``."""
        result = self._loss(S, y, self.rng, True)
        self.steps += 1
        self.empty = result.terms == 0
        if self.empty:
            self.skipped += 1
            G[...] = 0.0
        else:
            G[...] = result.grad
        self.last = result.value

    def evaluate(
        self,
        S: np.ndarray,
        y: np.ndarray,
        G: np.ndarray | None = None,
        shift: Any = 0.0,
        w: Any = None,
    ) -> tuple[float, float]:
        """(loss, knn1) of a part at scores S + shift; with G the whole part is one batch and
        its gradient goes into G (the full-batch step and the minibatch listener)."""
        S += shift
        if G is not None:
            self.grad(S, y, G)
            whole = S.shape[0] == self.train_y.shape[0]  # a minibatch's metric is not wanted
            return self.last, self._knn(S, y) if whole else math.nan
        return self.part_loss(S, y), self._knn(S, y)

    def part_loss(self, S: np.ndarray, y: np.ndarray) -> float:
        """Mean batch loss over consecutive batches of the run's size in the part's fixed
        order (nan when no batch has anything to score)."""
        n = S.shape[0]
        order = self.per_target("order", y, lambda: stream(self.seed, ORDER_STREAM).permutation(n))
        rng = stream(self.seed, EVAL_STREAM)
        total, rows = 0.0, 0
        for lo in range(0, n, max(1, self.batch)):
            idx = order[lo : lo + self.batch] if n > self.batch else slice(None)
            part = self._loss(S[idx], y[idx], rng, False)
            if part.terms:
                m = S[idx].shape[0]
                total, rows = total + part.value * m, rows + m
        return total / rows if rows else math.nan

    def _knn(self, S: np.ndarray, y: np.ndarray) -> float:
        """knn1 of the part (and knn5 kept in ``knn``): the training rows leave-one-out (which
        also keeps their embeddings as the reference), any other part against them."""
        if not np.isfinite(S).all():
            self.knn = {k: math.nan for k in KS}
            return math.nan
        train = y is self.train_y or (
            y.shape == self.train_y.shape and np.array_equal(y, self.train_y)
        )
        if train:
            self.reference = (S.astype(np.float64), y)
            q = min(S.shape[0], KNN_QUERIES)
            self.knn = knn_accuracy(self.reference[0], y, self.reference[0][:q], y[:q], KS,
                                    leave_one_out=True)  # fmt: skip
        elif self.reference is not None:
            self.knn = knn_accuracy(*self.reference, S.astype(np.float64), y, KS)
        else:
            self.knn = {k: math.nan for k in KS}
        return self.knn[1]

    def unfused(self) -> Objective:
        return self

    def extras(self) -> dict[str, float]:
        return {f"knn{k}": v for k, v in self.knn.items() if k != 1}
