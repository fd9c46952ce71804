"""Paired statistics between optimizers (losslab.study.stats) against scipy.stats and by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from losslab.study.stats import bootstrap_ci, holm, sign_flip_p, study_pairs, vs_best

DIFFS = [
    [0.3, 0.1, 0.2, -0.05, 0.4],
    [1.0, 2.0, 3.0],
    [0.5, -0.5, 0.5, -0.5],
    [1e-3, 2e-3, -1e-3, 4e-3, 5e-3, 6e-3, -2e-3, 3e-3, 1e-3, 2e-3],
    [0.2] * 6,  # ties everywhere: the tolerance counts them
    list(np.random.default_rng(3).normal(0.1, 1.0, 16)),
]


@pytest.mark.parametrize("d", DIFFS)
def test_sign_flip_is_scipy_exact_paired_permutation_test(d):
    stats = pytest.importorskip("scipy.stats")
    x = np.asarray(d)
    ref = stats.permutation_test(
        (x, np.zeros_like(x)),
        lambda a, b, axis: np.mean(a - b, axis=axis),
        permutation_type="samples",
        alternative="two-sided",
        vectorized=True,
        n_resamples=np.inf,
    )
    assert sign_flip_p(d) == pytest.approx(ref.pvalue, rel=1e-12)


def test_sign_flip_by_hand():
    # d = (1, 2, 3): of the 8 sign patterns only (+,+,+) and (−,−,−) reach |mean| = 2
    assert sign_flip_p([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)
    # |mean| 1 is reached by (+,+), (−,−): with d = (1, 1), every pattern but (+,−), (−,+)
    assert sign_flip_p([1.0, 1.0]) == pytest.approx(2 / 4)
    assert sign_flip_p([0.0, 0.0, 0.0]) == 1.0


def test_sign_flip_above_16_is_seeded_random():
    d = np.random.default_rng(0).normal(0.5, 1.0, 20)
    a = sign_flip_p(d, np.random.default_rng(7))
    assert a == sign_flip_p(d, np.random.default_rng(7))
    # exact by enumeration (2^20 patterns, here only as the reference): within sampling error
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=20)), dtype=np.float32)
    exact = float(np.mean(np.abs(signs @ d.astype(np.float32)) >= abs(d.sum()) * (1 - 1e-6)))
    assert a == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / 1e5) + 1e-5)


@pytest.mark.parametrize("d", DIFFS[:4])
def test_bootstrap_is_scipy_percentile(d):
    stats = pytest.importorskip("scipy.stats")
    ref = stats.bootstrap(
        (np.asarray(d),),
        np.mean,
        n_resamples=10_000,
        method="percentile",
        confidence_level=0.95,
        rng=np.random.default_rng(42),
    )
    lo, hi = bootstrap_ci(d, np.random.default_rng(42))
    assert (lo, hi) == pytest.approx(
        (ref.confidence_interval.low, ref.confidence_interval.high), rel=1e-12
    )


@pytest.mark.parametrize(
    "p, expected",
    [
        # m = 3, sorted 0.01, 0.02, 0.04: 3·0.01, max(0.03, 2·0.02), max(0.04, 1·0.04)
        ([0.04, 0.01, 0.02], [0.04, 0.03, 0.04]),
        ([0.5, 0.01], [0.5, 0.02]),
        ([0.3, 0.4, 0.9], [0.9, 0.9, 0.9]),
        ([0.2], [0.2]),
        ([], []),
    ],
)
def test_holm_by_hand(p, expected):
    assert holm(p) == pytest.approx(expected)


def test_holm_is_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = [0.001, 0.2, 0.03, 0.04, 0.5]
    assert holm(p) == pytest.approx(list(multitest.multipletests(p, method="holm")[1]))


def _runs(values: dict[str, list[float]]) -> list[dict]:
    return [
        {
            "optimizer": o,
            "lr": 0.1,
            "loss": "mse",
            "batch_size": 32,
            "seed": s,
            "status": "ok",
            "val_loss": v,
        }
        for o, vs in values.items()
        for s, v in enumerate(vs)
    ]


def test_study_pairs_pair_by_seed_and_correct_within_the_cell():
    values = {"a": [1.0, 2.0, 3.0, 4.0], "b": [1.5, 2.5, 3.5, 4.5], "c": [0.9, 2.2, 2.9, 4.3]}
    runs = _runs(values)
    summary = [{"optimizer": o, "lr": 0.1, "loss": "mse", "batch_size": 32} for o in "acb"]
    pairs = study_pairs(runs, summary, "val_loss", seed=0)
    assert [(p["best"], p["other"]) for p in pairs] == [("a", "c"), ("a", "b")]
    for pair in pairs:
        d = np.subtract(values[pair["other"]], values["a"])
        assert pair["n"] == 4
        assert pair["wins"] == int(np.sum(d > 0))
        assert pair["mean_diff"] == pytest.approx(d.mean())
        assert pair["p"] == pytest.approx(sign_flip_p(d))
        assert pair["ci"][0] <= pair["mean_diff"] <= pair["ci"][1]
        assert pair["cell"] == {"loss": "mse", "batch_size": 32}
    assert [p["p_holm"] for p in pairs] == pytest.approx(holm([p["p"] for p in pairs]))
    # b is always 0.5 worse: 4/4, p = 2/16
    assert pairs[1]["p"] == pytest.approx(2 / 16)
    assert vs_best(pairs[1]) == "tied (p=0.25)"
    assert vs_best({**pairs[1], "p_holm": 0.004}) == "4/4, p=0.004"
    # the same seed, the same intervals
    assert study_pairs(runs, summary, "val_loss", seed=0) == pairs


def test_a_diverged_seed_leaves_the_pair():
    runs = _runs({"a": [1.0, 2.0, 3.0], "b": [2.0, 3.0, 4.0]})
    runs[4]["status"] = "diverged"  # b on seed 1
    summary = [{"optimizer": o, "lr": 0.1, "loss": "mse", "batch_size": 32} for o in "ab"]
    (pair,) = study_pairs(runs, summary, "val_loss")
    assert pair["n"] == 2 and pair["wins"] == 2
