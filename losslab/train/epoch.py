"""One epoch of optimizer steps: on minibatches, or one step on the full batch.

A step is g ← ∇(loss + penalty) at the batch's scores (``net.backward`` of the objective's
gradient G, then the l1/l2 penalty's gradient), rescaled to norm ``--clip-norm`` when longer
(g·clip/(‖g‖ + 1e-6), torch's ``clip_grad_norm_``), then the rule's update of θ. The rules that
see the whole objective (L-BFGS's line search, Polyak's step) get it through a
:class:`~losslab.optim.optimizers.StepContext`: the full-batch objective as a closure, the
objective at θ, and f* where the rule needs it.

The lr comes from :class:`Stepping`: one lr per epoch, one per optimizer step (``--schedule-unit
step`` on minibatches), or reduce-on-plateau's, fed the monitored loss of each epoch.

:class:`Minibatches` is the hot loop: per step one forward pass, the objective's gradient (its
value too only when someone listens: a progress bar's running loss, lr-find's recorder), one
backward pass and the rule's step; nothing else is allocated or looked up per step (the
streamed loop, :mod:`losslab.train.stream`, takes the same step on its chunks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from losslab.nn.network import Network
from losslab.optim.optimizers import StepContext
from losslab.optim.schedules import LRSchedule, Plateau
from losslab.train.kernels import Batches, Objective

GradientFn = Callable[[np.ndarray, str], None]
StepFn = Callable[[np.ndarray, str, float], None]
BatchFn = Callable[[float, float], None]


def make_gradient(net: Network, l1: float, l2: float, clip: float | None) -> GradientFn:
    """``gradient(G, key)``: net.grad ← the gradient of loss + penalty, from the objective's
    gradient G at the scores of the forward pass ``key``, clipped to norm ``clip``."""

    def gradient(G: np.ndarray, key: str) -> None:
        net.backward(G, key)
        net.add_penalty_grad(l1, l2)
        if clip is not None:
            coef = clip / (net.grad_norm() + 1e-6)
            if coef < 1.0:
                np.multiply(net.grad, coef, out=net.grad)

    return gradient


def make_step(
    gradient: GradientFn,
    opt: Any,
    state: Any,
    arrays: tuple[list[np.ndarray], list[np.ndarray], list[bool]],
    ctx: StepContext | None = None,
) -> StepFn:
    """``step(G, key, lr)``: the gradient, then the rule's update of the ``arrays`` (params,
    grads, decay mask: :func:`losslab.train.loop.step_arrays`) at ``lr``."""
    params, grads, mask = arrays

    def step(G: np.ndarray, key: str, lr: float) -> None:
        gradient(G, key)
        opt.step(params, grads, state, lr, decay_mask=mask, ctx=ctx)

    return step


def step_context(
    rule: Any,
    net: Network,
    objective: Objective,
    part: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    G: np.ndarray | None,
    gradient: GradientFn,
    penalty: tuple[float, float],
    optimum: float | None,
) -> StepContext | None:
    """What a rule that sees the whole objective needs (None for the others): the full-batch
    objective of the training ``part`` (X, y, w) as a closure that leaves its gradient in
    net.grad (G is its scratch), and f*."""
    if not (rule.full_batch or rule.needs_optimum):
        return None
    X, y, w = part
    l1, l2 = penalty

    def closure() -> float:
        """The full-batch objective at the current θ; its gradient goes into net.grad."""
        S = net.forward(X, "train")
        value = objective.evaluate(S, y, G, w=w)[0] + net.penalty(l1, l2)
        gradient(G, "train")  # type: ignore[arg-type]
        return float(value)

    return StepContext(closure=closure, optimum=optimum)


class Stepping:
    """How the lr schedule advances: once per epoch, once per optimizer step (``unit ==
    "step"`` on minibatches; ``t`` counts the steps taken), or by the monitored loss of each
    epoch (a stateful schedule: reduce-on-plateau)."""

    def __init__(self, lrs: LRSchedule | Plateau, full_batch: bool) -> None:
        self.lrs = lrs
        self.at = lrs.at
        self.per_step = lrs.unit == "step" and not full_batch
        self.t = 0

    def epoch_lr(self, epoch: int) -> float:
        """The lr of epoch ``epoch`` (1-based); per step, nan (each step has its own)."""
        return math.nan if self.per_step else self.at(epoch - 1)

    def observe(self, epoch: int, monitored: float) -> None:
        """A stateful schedule hears the monitored loss of ``epoch``."""
        if self.lrs.stateful:
            self.lrs.observe(epoch - 1, monitored)


class Minibatches:
    """An epoch of steps on the minibatches of :class:`~losslab.train.kernels.Batches`.

    ``progress.step(epoch, k, count, running mean loss)`` hears each step when the progress
    reports steps (``progress.running``); ``on_batch(lr, objective)`` hears, after each step,
    its lr and its batch's objective before it. A requested interrupt ends the epoch early.
    """

    def __init__(
        self,
        net: Network,
        objective: Objective,
        step: StepFn,
        scratch: np.ndarray,
        batches: Batches,
        stepping: Stepping,
        interrupt: Any,
        *,
        progress: Any = None,
        on_batch: BatchFn | None = None,
        penalty: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.net, self.objective, self.step, self.scratch = net, objective, step, scratch
        self.batches, self.stepping, self.interrupt = batches, stepping, interrupt
        running = bool(getattr(progress, "running", False))
        self.report = getattr(progress, "step", None) if running else None
        self.listening = running or on_batch is not None
        self.on_batch, self.penalty = on_batch, penalty

    def run(self, epoch: int, lr: float) -> float:
        """The epoch's steps (per step, each at its own lr); the lr of its last step."""
        net, objective, step, scratch = self.net, self.objective, self.step, self.scratch
        on_batch, interrupt, report = self.on_batch, self.interrupt, self.report
        listening, batches, stepping = self.listening, self.batches, self.stepping
        lr_at = stepping.at if stepping.per_step else None
        t, (l1, l2) = stepping.t, self.penalty
        seen, total = 0, 0.0
        for k, (Xb, yb, wb) in enumerate(batches.epoch(), start=1):
            m = yb.shape[0]
            Sb, Gb = net.forward(Xb, "batch"), scratch[:m]
            if listening:
                value, _ = objective.evaluate(Sb, yb, Gb, w=wb)
                seen, total = seen + m, total + value * m
                if report is not None:
                    report(epoch, k, batches.count, total / seen)
                if on_batch is not None:
                    value += net.penalty(l1, l2)  # θ before the step
            else:
                objective.grad(Sb, yb, Gb, wb)
            if objective.empty:  # a batch loss with nothing to score: no step (it is counted)
                continue
            if lr_at is not None:
                lr = lr_at(t)
                t += 1
            step(Gb, "batch", lr)
            if on_batch is not None:
                on_batch(lr, value)
            if interrupt.requested:
                break
        stepping.t = t
        return lr


class FullBatch:
    """One step per epoch on the whole training part (X, y, w). The gradient at θ is already
    in the scratch G: the evaluation of the previous epoch left it there (and the initial
    objective's for the first), except for a rule evaluated elsewhere (at an average of θ),
    whose gradient is taken afresh. ``current`` is the objective at θ."""

    def __init__(
        self,
        net: Network,
        objective: Objective,
        step: StepFn,
        scratch: np.ndarray,
        part: tuple[np.ndarray, np.ndarray, np.ndarray | None],
        rule: Any,
        ctx: StepContext | None,
        *,
        on_batch: BatchFn | None = None,
        penalty: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.net, self.objective, self.step, self.scratch = net, objective, step, scratch
        self.part, self.rule, self.ctx = part, rule, ctx
        self.on_batch, self.penalty = on_batch, penalty
        self.current = math.nan

    def run(self, epoch: int, lr: float) -> float:
        """The epoch's step at ``lr``; returns it."""
        if self.rule.evaluates_elsewhere and epoch > 1:
            X, y, w = self.part
            S = self.net.forward(X, "train")
            current = self.objective.evaluate(S, y, self.scratch, w=w)[0]
            current += self.net.penalty(*self.penalty)
            self.current = current
        if self.ctx is not None:
            self.ctx.loss = self.current
        self.step(self.scratch, "train", lr)
        if self.on_batch is not None:
            self.on_batch(lr, self.current)
        return lr
