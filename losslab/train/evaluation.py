"""What a run measures: the objective at the start, each epoch's history row, the final metrics.

An epoch is evaluated at the parameters it ends with (after a rule's ``to_eval``, e.g. an
average): the training loss and metric first, and the objective f(θ) = loss + penalty that
divergence is judged on; then, unless the run diverged, the validation and test parts. The row
holds ``epoch``, ``train_loss``, ``test_loss`` (None without test rows), ``lr``, ``objective``,
``train_<metric>``, ``val_loss`` and ``val_<metric>`` with validation rows,
``test_<metric>``, and ``<metric>``: the test metric, else the training one. The monitored
loss (early stopping, reduce-on-plateau) is the validation loss, else the training loss.

The scores are those of the fast paths: a one-layer model's without its output bias, which the
fused objective adds as it goes; a network's in bounded chunks (full batch, the training
scores come from the pass whose cache the next backward reuses). The final metrics are
recomputed in float64 through the registry's (unfused) objective.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losslab.nn.activations import sigmoid
from losslab.nn.network import Network
from losslab.train.kernels import Objective, metric_name
from losslab.train.prepare import Problem, Split

Part = tuple[float, float]  # (loss, metric)


def history_row(
    epoch: int,
    lr: float,
    objective: float,
    key: str,
    train: Part,
    val: Part | None = None,
    test: Part | None = None,
) -> tuple[dict[str, Any], float]:
    """(the history row of an epoch, its monitored loss); ``key`` is the metric's name."""
    row: dict[str, Any] = {
        "epoch": epoch,
        "train_loss": train[0],
        "test_loss": None,
        "lr": lr,  # per step: the lr of the epoch's last step
        "objective": objective,
        f"train_{key}": train[1],
    }
    monitored, metric = train
    if val is not None:
        monitored = row["val_loss"] = val[0]
        row[f"val_{key}"] = val[1]
    if test is not None:
        row["test_loss"], metric = test
        row[f"test_{key}"] = metric
    row[key] = metric
    return row, monitored


class Evaluation:
    """Loss and metric of the current θ on the parts of a split (in the run's dtype).

    ``full_batch``: the training scores are the full-batch forward pass, and the evaluation of
    an epoch before the last leaves the gradient of the next step in ``G`` (the scratch the
    initial objective fills too).
    """

    def __init__(
        self,
        net: Network,
        objective: Objective,
        split: Split,
        key: str,
        *,
        full_batch: bool,
        G: np.ndarray | None = None,
        penalty: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.net, self.objective, self.split, self.key = net, objective, split, key
        self.full_batch, self.G, self.penalty = full_batch, G, penalty
        self.one_layer = net.n_layers == 1
        self.shift = net.output_shift
        self.tail = () if net.vector_output else (net.sizes[-1],)  # the scores' shape per row
        self.dtype = split.X_train.dtype
        self.out: dict[str, np.ndarray] = {}

    def scores(self, X: np.ndarray, key: str) -> tuple[np.ndarray, Any]:
        """(scores, shift still to add): without the output bias, which the objective adds as
        it goes, through the slot ``key`` that a full-batch backward reuses; a network's
        evaluation-only pass goes in bounded chunks, bias included."""
        if self.one_layer or (key == "train" and self.full_batch):
            return self.net.forward(X, key, output_bias=False), self.shift
        if key not in self.out:
            self.out[key] = np.empty((X.shape[0], *self.tail), dtype=self.dtype)
        return self.net.scores(X, out=self.out[key]), 0.0

    def initial(self) -> float:
        """f(θ₀), the objective before the first step: the yardstick of divergence (full
        batch, the same pass gives the first gradient)."""
        s, net = self.split, self.net
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.full_batch:
                S = net.forward(s.X_train, "train")
                value = self.objective.evaluate(S, s.y_train, self.G, w=s.w_train)[0]
            else:
                S, add = self.scores(s.X_train, "train")
                value = self.objective.evaluate(S, s.y_train, None, add, s.w_train)[0]
        return value + net.penalty(*self.penalty)

    def train(self, ahead: bool) -> tuple[float, float, float]:
        """(loss, metric, objective) on the training rows, nan when θ is not finite; ``ahead``:
        a full-batch step follows, whose gradient this pass leaves in G."""
        s, net = self.split, self.net
        finite = bool(np.isfinite(net.theta).all())
        S, add = self.scores(s.X_train, "train")
        if not finite:
            return math.nan, math.nan, math.nan
        G = self.G if ahead else None
        loss, metric = self.objective.evaluate(S, s.y_train, G, add, s.w_train)
        return loss, metric, loss + net.penalty(*self.penalty)

    def row(self, epoch: int, lr: float, train: tuple[float, float, float]) -> tuple[dict, float]:
        """The history row of ``epoch`` from its ``train`` (loss, metric, objective), with the
        validation and test parts measured now; and its monitored loss."""
        s = self.split
        val = test = None
        if s.X_val is not None:
            S, add = self.scores(s.X_val, "val")
            val = self.objective.evaluate(S, s.y_val, shift=add, w=s.w_val)
        if s.X_test is not None:
            S, add = self.scores(s.X_test, "test")
            test = self.objective.evaluate(S, s.y_test, shift=add, w=s.w_test)
        return history_row(epoch, lr, train[2], self.key, train[:2], val, test)


def calibration(problem: Problem, S: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> Any:
    """The reliability bins (:class:`losslab.losses.calibration.Reliability`: ece, mce, brier)
    of a classifier whose loss reads its scores as logits (σ or softmax gives its
    probabilities: bce, focal, cross-entropy); None for other models, whose scores are not
    probabilities, and for non-finite scores (a run that ended badly)."""
    if not (problem.classifier and problem.loss.supports_logits and problem.head.logits):
        return None
    if not np.isfinite(S).all():
        return None
    from losslab.losses.calibration import reliability

    S = np.asarray(S, dtype=np.float64)
    if S.ndim == 2:
        E = np.exp(S - S.max(axis=1, keepdims=True))
        P = E / E.sum(axis=1, keepdims=True)
    else:
        P = sigmoid(S)
    return reliability(y, P, w=w)


def final_metrics(
    problem: Problem,
    split: Split,
    net: Network,
    penalty: tuple[float, float],
    status: str,
    objective: Objective,
) -> dict[str, dict[str, float | None] | None]:
    """The final losses and metrics of each part, from the registry's (unfused) objective."""
    key = metric_name(problem)
    if status == "diverged":
        val: dict[str, None] = {"val": None} if split.X_val is not None else {}
        return {"train": {"loss": None, key: None, "objective": None}, "test": None, **val}
    score = objective.unfused()
    bins: dict[str, Any] = {}  # each part's reliability bins, of a classifier reading logits

    def part(X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> dict[str, float | None]:
        S = net.scores(X)
        loss, metric = score.evaluate(S, y, w=w)
        scores: dict[str, float | None] = {"loss": loss, key: metric, **score.extras()}
        reliability = calibration(problem, S, y, w)
        if reliability is not None:
            bins[name] = reliability
            scores.update(reliability.scores())
        return scores

    name = "train"
    train = part(split.X_train, split.y_train, split.w_train)
    train["objective"] = train["loss"] + net.penalty(*penalty)  # type: ignore[operator]
    out: dict[str, dict[str, float | None] | None] = {"train": train, "test": None}
    if split.X_val is not None and split.y_val is not None:
        name = "val"
        out["val"] = part(split.X_val, split.y_val, split.w_val)
    if split.X_test is not None and split.y_test is not None:
        name = "test"
        out["test"] = part(split.X_test, split.y_test, split.w_test)
    shown = "test" if "test" in bins else "train"
    if shown in bins:  # the reliability diagram's bins (`losslab plot RUN --reliability`)
        r = bins[shown].to_dict()
        out["reliability"] = {"part": shown, "bins": len(r["counts"]), **r}  # type: ignore[dict-item]
    return out
