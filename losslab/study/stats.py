"""Statistics between optimizers run on the same seeds: a paired sign-flip permutation test, a
percentile-bootstrap interval of the mean difference, and Holm's correction.

Every random draw comes from one ``np.random.Generator`` built from the study's ``--seed``
(``np.random.default_rng(seed)``): the bootstrap resamples first, then (above
:data:`EXACT_UP_TO` seeds) the random sign patterns, so the same seed gives the same numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

EXACT_UP_TO = 16  # all 2^n sign patterns up to this many pairs; random patterns above
RANDOM_PATTERNS = 100_000
RESAMPLES = 10_000
# the relative tolerance scipy.stats.permutation_test uses for ties with the observed statistic
_TIE = np.finfo(float).eps * 100


def sign_flip_p(d: Sequence[float], rng: np.random.Generator | None = None) -> float:
    """Two-sided p of the paired sign-flip permutation test on the mean of ``d``.

    Under H0 (no difference) each d_s is as likely to be −d_s: p = P(|mean(ε·d)| ≥ |mean(d)|)
    over sign patterns ε ∈ {−1, 1}^n, all 2^n of them for n ≤ 16 (exact), else 100,000 drawn
    from ``rng`` with p = (k + 1)/(100,000 + 1) (Phipson & Smyth 2010). Differences that are all
    zero give p = 1. Equals ``scipy.stats.permutation_test(..., permutation_type='samples')``.
    """
    x = np.asarray(d, dtype=float)
    n = x.size
    observed = abs(x.mean()) if n else 0.0
    if n == 0 or observed == 0.0:
        return 1.0
    if n <= EXACT_UP_TO:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        extra = 0
    else:
        rng = rng if rng is not None else np.random.default_rng(0)
        signs = rng.choice(np.array([1.0, -1.0]), size=(RANDOM_PATTERNS, n))
        extra = 1
    null = signs @ x / n
    # null is symmetric about 0: two-sided = 2·P(T ≥ |t|), the form scipy computes
    k = np.count_nonzero(null >= observed - _TIE * observed)
    return float(min(1.0, 2.0 * (k + extra) / (len(null) + extra)))


def bootstrap_ci(
    d: Sequence[float], rng: np.random.Generator, level: float = 0.95
) -> tuple[float, float]:
    """The percentile-bootstrap interval of mean(d): ``RESAMPLES`` resamples of the n values with
    replacement (indices ``rng.integers(0, n, (RESAMPLES, n))``), their means' ``(1−level)/2``
    and ``(1+level)/2`` percentiles (numpy's linear interpolation) — Efron & Tibshirani 1993,
    as ``scipy.stats.bootstrap(..., method='percentile')`` computes it."""
    x = np.asarray(d, dtype=float)
    means = x[rng.integers(0, x.size, (RESAMPLES, x.size))].mean(axis=-1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(means, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def holm(p: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979): sorted ascending, p̃_(i) =
    max_{j ≤ i} min(1, (m − j + 1)·p_(j)); returned in the input's order."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def paired(d: Sequence[float], rng: np.random.Generator) -> dict[str, Any]:
    """n, wins (d_s > 0: the best was lower), the mean difference, its bootstrap interval, p."""
    x = np.asarray(d, dtype=float)
    ci = bootstrap_ci(x, rng) if x.size else (float("nan"), float("nan"))
    return {
        "n": int(x.size),
        "wins": int(np.count_nonzero(x > 0)),
        "mean_diff": float(x.mean()) if x.size else float("nan"),
        "ci": [ci[0], ci[1]],
        "p": sign_flip_p(x, rng),
    }


CELL_KEYS = ("loss", "batch_size", "hidden", "layers")  # what a comparison holds fixed


def study_pairs(
    runs: Sequence[dict[str, Any]],
    summary: Sequence[dict[str, Any]],
    metric: str,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Within each cell (loss, batch size, architecture), every configuration against the best
    one on ``metric`` (the first of ``summary``, which is ranked), paired by seed.

    d_s = other − best on seed s, over the seeds on which both ended with a value (a diverged or
    failed run has none); a pair needs two such seeds. p_holm corrects the cell's p values
    together. One generator from ``seed`` serves the whole study, in the order of the pairs.
    """
    rng = np.random.default_rng(seed)
    values: dict[tuple, dict[int, float]] = {}
    for run in runs:
        if run.get("phase", "final") != "final" or run.get(metric) is None:
            continue
        if run["status"] in ("diverged", "failed", "interrupted"):
            continue
        values.setdefault(_config_of(run), {})[run["seed"]] = float(run[metric])
    cells: dict[tuple, list[tuple]] = {}
    for row in summary:
        cells.setdefault(tuple(row.get(k) for k in CELL_KEYS), []).append(_config_of(row))
    out: list[dict[str, Any]] = []
    for cell, configs in cells.items():
        configs = [c for c in configs if c in values]
        if len(configs) < 2:
            continue
        names = _names(configs)
        best, found = configs[0], []
        for other in configs[1:]:
            seeds = sorted(set(values[best]) & set(values[other]))
            if len(seeds) < 2:
                continue
            d = [values[other][s] - values[best][s] for s in seeds]
            found.append(
                {
                    "best": names[best],
                    "other": names[other],
                    "cell": {k: v for k, v in zip(CELL_KEYS, cell, strict=True) if v is not None},
                    "metric": metric,
                    **paired(d, rng),
                }
            )
        for pair, adjusted in zip(found, holm([p["p"] for p in found]), strict=True):
            pair["p_holm"] = adjusted
        out.extend(found)
    return out


def _config_of(row: dict[str, Any]) -> tuple:
    return tuple(row.get(k) for k in (*CELL_KEYS, "optimizer", "lr"))


def _names(configs: list[tuple]) -> dict[tuple, str]:
    """The optimizer's name, with its lr where the cell holds it at several."""
    optimizers = [c[len(CELL_KEYS)] for c in configs]
    return {
        c: o if optimizers.count(o) == 1 else f"{o} lr={c[len(CELL_KEYS) + 1]:g}"
        for c, o in zip(configs, optimizers, strict=True)
    }


def vs_best(pair: dict[str, Any] | None, alpha: float = 0.05) -> str:
    """The table's cell: ``9/10, p=0.004`` when the best wins for real, else ``tied (p=0.38)``
    (Holm-adjusted p ≥ alpha); empty for the best itself."""
    if pair is None:
        return ""
    if pair["p_holm"] >= alpha:
        return f"tied (p={pair['p_holm']:.2g})"
    return f"{pair['wins']}/{pair['n']}, p={pair['p_holm']:.2g}"
