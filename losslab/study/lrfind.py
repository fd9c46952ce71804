"""`losslab lr-find`: Smith's learning-rate range test, as fastai and Lightning run it.

A heuristic, not a measurement of the best lr: the model starts at its initial weights with a
fresh optimizer and takes ``steps`` minibatch steps (cycling over the training rows in the run's
shuffled batch order) with the lr swept exponentially, ``lr_i = start·(end/start)^(i/(steps−1))``
from ``start_lr`` to ``end_lr``. Each step records its lr and the objective of its batch before
the step; the curve is smoothed by fastai's bias-corrected moving average (β = 0.98:
``a ← βa + (1 − β)·loss``, ``smoothed_i = a/(1 − β^(i+1))``), and the sweep stops early when the
smoothed loss exceeds 4× the best so far or is not finite. Two suggestions are read off the
smoothed curve: ``steepest``, where it falls fastest against log lr (Lightning's
``suggestion()``: the first 10 and the last point skipped), and ``valley``, fastai's rule (the
longest decreasing run of the curve without its first tenth and last 5 points; the lr ~55% into
it). Smith 2017, "Cyclical Learning Rates for Training Neural Networks", arXiv:1506.01186 §3.3.
Nothing is saved; the weights it reaches are thrown away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.optim.schedules import LRSchedule

HEURISTIC = (
    "a heuristic: the lr where the loss falls fastest in one short sweep from the initial "
    "weights; train and compare around it (e.g. a factor of 3 either way) before trusting it"
)
BETA = 0.98  # fastai's and Lightning's smoothing
STOP_FACTOR = 4.0  # stop once the smoothed loss exceeds this × the best so far
STEEPEST_SKIP = (10, 1)  # Lightning's suggestion(skip_begin=10, skip_end=1)
VALLEY_SKIP_END = 5  # fastai skips the first num_it//10 points and the last 5

# settings a sweep decides itself (and what to give instead)
NOT_FOR_LR_FIND = {
    "lr": "it sweeps the lr from --start-lr to --end-lr",
    "epochs": "it runs --steps minibatch steps",
    "schedule": "the sweep is its schedule",
    "warmup": "the sweep is its schedule",
    "schedule_unit": "the sweep is its schedule",
    "patience": "it stops on its own rule",
}


@dataclass
class LRFindResult:
    """The sweep's points and both suggestions; ``to_dict()`` is the JSON output.

    ``lrs[i]``, ``losses[i]`` (the batch objective before step i) and ``smoothed[i]``;
    ``stopped``: why the sweep ended before ``steps`` (None: it ran them all);
    ``suggestions``: ``steepest`` and ``valley``, each ``{"lr", "loss", "index", "rule"}`` or
    None when the curve is too short for the rule.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    steps: int
    start_lr: float
    end_lr: float
    stopped: str | None
    suggestions: dict[str, dict[str, Any] | None]
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    interrupted: str | None = None  # the signal that stopped the sweep (SIGINT, SIGTERM)

    def to_dict(self) -> dict[str, Any]:
        return {
            "heuristic": HEURISTIC,
            "suggestions": self.suggestions,
            "sweep": {
                "start_lr": self.start_lr,
                "end_lr": self.end_lr,
                "steps": self.steps,
                "steps_run": len(self.lrs),
                "beta": BETA,
                "stop_factor": STOP_FACTOR,
                "stopped": self.stopped,
            },
            "points": [
                {"step": i, "lr": lr, "loss": loss, "smoothed": smooth}
                for i, (lr, loss, smooth) in enumerate(
                    zip(self.lrs, self.losses, self.smoothed, strict=True)
                )
            ],
            "config": self.config,
            "data": self.data,
        }

    def to_frame(self) -> Any:
        """A pandas DataFrame as `losslab lr-find --format csv`: one row per step (step, lr,
        loss, smoothed, suggestion: the rules that pick it, NaN for none)."""
        from losslab.data.write import to_frame

        marks: dict[int, list[str]] = {}
        for name, s in self.suggestions.items():
            if s is not None:
                marks.setdefault(s["index"], []).append(name)
        points = zip(self.lrs, self.losses, self.smoothed, strict=True)
        rows = [
            {"step": i, "lr": lr, "loss": loss, "smoothed": smooth,
             "suggestion": ", ".join(marks.get(i, [])) or None}
            for i, (lr, loss, smooth) in enumerate(points)
        ]  # fmt: skip
        return to_frame(rows, ["step", "lr", "loss", "smoothed", "suggestion"])

    def __repr__(self) -> str:
        """One line: data · model · optimizer · steps run · both suggestions."""
        cfg = self.config
        found = [
            f"{name} lr {s['lr']:.3g}" if s is not None else f"{name} none"
            for name, s in self.suggestions.items()
        ]
        return (
            f"<LRFindResult {str(self.data.get('source', '?'))[-40:]} · {cfg.get('model')} · "
            f"{cfg.get('optimizer')} · {len(self.lrs)} of {self.steps} steps · {', '.join(found)}>"
        )

    def _repr_html_(self) -> str | None:
        """The suggestions and the curve in a notebook (:func:`losslab.registry.html_of`)."""
        from losslab.registry import html_of

        return html_of(self)


def sweep_lrs(start_lr: float, end_lr: float, steps: int) -> LRSchedule:
    """The exponential sweep ``start·(end/start)^(i/(steps−1))``, i = 0 … steps−1, as a per-step
    schedule the training loop can run (O(1) per lookup)."""
    check_sweep(start_lr, end_lr, steps)
    ratio = end_lr / start_lr
    last = steps - 1
    return LRSchedule(
        "lr-find",
        steps,
        0,
        "step",
        start_lr,
        lambda i: start_lr * ratio ** (i / last),
        {"start_lr": start_lr, "end_lr": end_lr, "steps": steps},
    )


def check_sweep(start_lr: float, end_lr: float, steps: int) -> None:
    if not (start_lr > 0 and math.isfinite(start_lr)):
        raise ConfigError(f"--start-lr must be > 0, got {start_lr:g}")
    if not (end_lr > start_lr and math.isfinite(end_lr)):
        raise ConfigError(f"--end-lr must be > --start-lr ({start_lr:g}), got {end_lr:g}")
    if steps < 2:
        raise ConfigError(f"--steps must be >= 2, got {steps}")


class _Recorder:
    """Hears each step (lr, batch objective), smooths, and stops the run by its rule."""

    def __init__(self, steps: int, stop: Any) -> None:
        self.steps, self.stop = steps, stop
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.average = 0.0
        self.best = math.inf
        self.reason: str | None = None

    def __call__(self, lr: float, loss: float) -> None:
        i = len(self.lrs)
        self.average = BETA * self.average + (1 - BETA) * loss
        smooth = self.average / (1 - BETA ** (i + 1))
        self.lrs.append(lr)
        self.losses.append(float(loss))
        self.smoothed.append(smooth)
        self.best = min(self.best, smooth)
        if not math.isfinite(smooth):
            self.reason = f"the loss is not finite at lr {lr:.3g}"
        elif smooth > STOP_FACTOR * self.best:
            self.reason = (
                f"the smoothed loss {smooth:.4g} exceeds {STOP_FACTOR:g} × the best "
                f"{self.best:.4g} at lr {lr:.3g}"
            )
        if self.reason is not None or i + 1 >= self.steps:
            self.stop.requested = True


def steepest(lrs: list[float], smoothed: list[float]) -> dict[str, Any] | None:
    """Lightning's ``suggestion()``: the most negative gradient of the smoothed loss (against
    log lr, which for an exponential sweep is its unit-step gradient), skipping the first 10 and
    the last point and any non-finite one; None with fewer than 2 points left."""
    begin, end = STEEPEST_SKIP
    idx = np.arange(len(smoothed))[begin : len(smoothed) - end]
    y = np.asarray(smoothed, dtype=float)[idx]
    keep = np.isfinite(y)
    idx, y = idx[keep], y[keep]
    if len(y) < 2:
        return None
    x = np.log10(np.asarray(lrs, dtype=float)[idx])
    best = int(idx[int(np.argmin(np.gradient(y, x)))])
    return {
        "lr": lrs[best],
        "loss": smoothed[best],
        "index": best,
        "rule": "steepest descent of the smoothed loss against log lr (Lightning)",
    }


def valley(lrs: list[float], smoothed: list[float], steps: int) -> dict[str, Any] | None:
    """fastai's ``valley``: on the curve without its first ``steps//10`` and last 5 points (cut
    at the first non-finite one), the longest decreasing subsequence; the lr at
    ``start + ⌊len/3⌋ + ⌊len/6⌋`` into it. None when no point is left."""
    begin = steps // 10
    y = np.asarray(smoothed[begin : max(len(smoothed) - VALLEY_SKIP_END, begin)], dtype=float)
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        y = y[: bad[0]]
    n = len(y)
    if n == 0:
        return None
    # lds[i]: the longest strictly decreasing subsequence ending at i (fastai's double loop,
    # one vectorised pass per i)
    lds = np.ones(n, dtype=int)
    max_start, max_end = 0, 0
    for i in range(1, n):
        higher = lds[:i][y[:i] > y[i]]
        if higher.size:
            lds[i] = higher.max() + 1
        if lds[max_end] < lds[i]:
            max_end, max_start = i, i - int(lds[i])
    sections = (max_end - max_start) / 3
    # fastai's start is one before a valley that begins at the first point; never index −1
    at = max(max_start + int(sections) + int(sections / 2), 0) + begin
    return {
        "lr": lrs[at],
        "loss": smoothed[at],
        "index": at,
        "rule": "fastai's valley: ~55% into the longest decreasing run of the smoothed loss",
    }


def lr_find(
    data: Any = None,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    **settings: Any,
) -> LRFindResult:
    """Run the range test on ``data`` with `fit` ``settings`` (model, loss, optimizer and its
    hyperparameters, batch size, seed, split, scaling, penalties …); see the module docstring.

    The lr, the epochs and the schedule are the sweep's own: giving one is a ConfigError.
    """
    from losslab.train.config import FitConfig
    from losslab.train.loop import _Interrupt, data_info, prepare, train

    for name, why in NOT_FOR_LR_FIND.items():
        if settings.get(name) not in (None, "constant", 0):
            raise ConfigError(f"lr-find takes no --{name.replace('_', '-')}: {why}")
    lrs = sweep_lrs(start_lr, end_lr, steps)
    # every step its own epoch at most, so the run never ends before the sweep does
    config = FitConfig.from_dict(
        {**settings, **({"data": data} if data is not None else {}), "epochs": steps}
    )
    problem, split = prepare(config)
    stop = _Interrupt()
    recorder = _Recorder(steps, stop)
    with stop.installed():
        result = train(problem, split, config, interrupt=stop, lrs=lrs, on_batch=recorder)
    stopped = recorder.reason
    if stopped is None and len(recorder.lrs) < steps:
        stopped = result.message or "interrupted"
    resolved = {
        k: v for k, v in result.config.items() if k not in NOT_FOR_LR_FIND and k not in lrs.params
    }
    return LRFindResult(
        lrs=recorder.lrs,
        losses=recorder.losses,
        smoothed=recorder.smoothed,
        steps=steps,
        start_lr=start_lr,
        end_lr=end_lr,
        stopped=stopped,
        suggestions={
            "steepest": steepest(recorder.lrs, recorder.smoothed),
            "valley": valley(recorder.lrs, recorder.smoothed, steps),
        },
        config=resolved,
        data=data_info(problem, split),
        interrupted=stop.signal if stop.requested else None,
    )
