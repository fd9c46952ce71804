"""Points of a loss's domain and the error of a gradient against finite differences: what
``losslab gradcheck`` reports and what a plugin's loss must pass when it is loaded.

The error of an entry is |a − n| / max(|a|, |n|, floor), where the floor (1e-4 × the largest
entry) keeps entries that are 0 up to rounding from counting as failures.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from losslab.errors import ConfigError


def relative_error(analytic: np.ndarray, numeric: np.ndarray, scale: float) -> float:
    """max |a − n| / max(|a|, |n|, floor) over the entries, with floor = 1e-4 × the largest
    gradient entry (or 1e-8·max(1, |f|) if that is larger): entries that are tiny next to the
    others are judged on the gradient's scale, where finite differences' rounding (about
    1e-16·|f|/h) cannot make them fail."""
    if not analytic.size:
        return 0.0
    largest = max(float(np.max(np.abs(analytic))), float(np.max(np.abs(numeric))))
    floor = max(1e-4 * largest, 1e-8 * max(1.0, abs(scale)))
    denom = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    return float(np.max(np.abs(analytic - numeric) / denom))


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sample_inputs(
    loss: Any, logits: bool, *, n: int = 16, k: int = 4, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Valid random (y, out) for ``loss``, drawn from its task, checked by the loss itself.

    Continuous draws hit a kink (hinge's margin 1, mae's 0) with probability 0, and the seed
    is fixed, so finite differences see smooth pieces.
    """
    rng = np.random.default_rng([seed, len(loss.name), int(logits)])
    task = loss.task
    if task == "regression":
        y = rng.normal(0.0, 2.0, n)
        out = y + rng.normal(0.0, 1.5, n)
    elif task == "binary":
        y = rng.integers(0, 2, n).astype(float)
        out = rng.normal(0.0, 2.0, n) if logits else rng.uniform(0.05, 0.95, n)
    elif task == "margin":
        y = rng.choice([-1.0, 1.0], n)
        out = rng.normal(0.0, 1.5, n)
    elif task == "multiclass":
        y = rng.integers(0, k, n).astype(float)
        scores = rng.normal(0.0, 2.0, (n, k))
        out = _softmax(scores) if loss.supports_logits and not logits else scores
    elif task == "distribution":
        y, out = rng.dirichlet(np.full(k, 3.0), n), rng.dirichlet(np.full(k, 3.0), n)
    elif task == "positive":  # counts, amounts, durations: y > 0 suits every domain rule
        y = rng.gamma(2.0, 1.0, n)
        out = rng.normal(0.0, 1.0, n) if loss.score_input else rng.gamma(2.0, 1.0, n)
    elif task == "pair":
        y = rng.integers(0, 2, n).astype(float)
        out = rng.uniform(0.0, 2.5, n)
    else:
        raise ConfigError(f"gradcheck has no sampler for the task {task!r} of loss {loss.name!r}")
    loss.check(y, out, logits=logits)
    return y, out
