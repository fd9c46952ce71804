"""Calibration (losses/calibration.py): ECE and MCE against a reference written here from the
definition (Guo et al. 2017; torchmetrics' loop version of its binning, bins (lo, hi]), hand-
worked bins, the edges' assignment, the Brier score against scikit-learn, and bad input."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest

from losslab.errors import ConfigError, DomainError
from losslab.losses.calibration import brier, calibration_scores, ece, mce, reliability


def reference_ece(conf, correct, n_bins, norm="l1"):
    """One bin at a time, as torchmetrics' _binning_with_loop: rows with lo < conf ≤ hi."""
    edges = [i / n_bins for i in range(n_bins + 1)]
    n = len(conf)
    total, worst = 0.0, 0.0
    for lo, hi in pairwise(edges):
        members = [i for i in range(n) if lo < conf[i] <= hi]
        if not members:
            continue
        acc = sum(correct[i] for i in members) / len(members)
        mean_conf = sum(conf[i] for i in members) / len(members)
        total += len(members) / n * abs(acc - mean_conf)
        worst = max(worst, abs(acc - mean_conf))
    return total if norm == "l1" else worst


def softmax(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k,bins,seed", [(3, 15, 0), (10, 15, 1), (4, 7, 2), (2, 1, 3), (5, 40, 4)])
def test_ece_and_mce_match_the_reference_loop(k, bins, seed):
    rng = np.random.default_rng(seed)
    p = softmax(rng.normal(0, 2.0, (500, k)))
    y = rng.integers(0, k, 500).astype(float)
    conf = p.max(axis=1).tolist()
    correct = (p.argmax(axis=1) == y).astype(float).tolist()
    assert ece(y, p, bins=bins) == pytest.approx(reference_ece(conf, correct, bins), rel=1e-12)
    assert mce(y, p, bins=bins) == pytest.approx(
        reference_ece(conf, correct, bins, "max"), rel=1e-12
    )


def test_hand_worked_bins():
    # 4 rows, 2 bins (0, .5], (.5, 1]: confidences .5 (edge: first bin), .6, .9, .8
    p = np.array([[0.5, 0.5], [0.4, 0.6], [0.9, 0.1], [0.2, 0.8]])
    y = np.array([1.0, 1.0, 1.0, 1.0])  # correct: no (tie → class 0), yes, no, yes
    r = reliability(y, p, bins=2)
    np.testing.assert_array_equal(r.counts, [1, 3])
    np.testing.assert_allclose(r.accuracy, [0.0, 2 / 3])
    np.testing.assert_allclose(r.confidence, [0.5, (0.6 + 0.9 + 0.8) / 3])
    gap2 = abs(2 / 3 - 2.3 / 3)
    assert r.ece == pytest.approx(0.25 * 0.5 + 0.75 * gap2, rel=1e-14)
    assert r.mce == pytest.approx(0.5)
    want_brier = (0.25 + 0.25 + 0.16 + 0.16 + 0.81 + 0.81 + 0.04 + 0.04) / 4
    assert r.brier == pytest.approx(want_brier, rel=1e-14)


def test_edges_are_closed_on_the_right_like_bucketize():
    # a confidence exactly on an edge k/n belongs to the bin that ends there
    p = np.array([0.75, 0.25, 1.0, 0.5])
    r = reliability(np.array([1.0, 0.0, 1.0, 0.0]), p, bins=4)
    # confidences .75 (bin (.5,.75]), .75, 1.0 (bin (.75, 1]), .5 (bin (.25,.5])
    np.testing.assert_array_equal(r.counts, [0, 1, 2, 1])
    torch = pytest.importorskip("torch")
    edges = torch.linspace(0, 1, 5, dtype=torch.float64)
    conf = torch.tensor([0.75, 0.75, 1.0, 0.5], dtype=torch.float64)
    assert (torch.bucketize(conf, edges) - 1).tolist() == [2, 2, 3, 1]


def test_binary_column_is_read_as_two_classes():
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 1, 300)
    y = (rng.uniform(0, 1, 300) < p).astype(float)
    two = np.column_stack([1 - p, p])
    assert ece(y, p) == pytest.approx(ece(y, two), rel=1e-14)
    assert mce(y, p) == pytest.approx(mce(y, two), rel=1e-14)
    # the binary Brier score is (p − y)²: half the two-column sum
    assert brier(y, p) == pytest.approx(brier(y, two) / 2, rel=1e-14)
    assert brier(y, p) == pytest.approx(float(np.mean((p - y) ** 2)), rel=1e-14)


def test_brier_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(6)
    p = rng.uniform(0, 1, 200)
    y = rng.integers(0, 2, 200).astype(float)
    assert brier(y, p) == pytest.approx(metrics.brier_score_loss(y, p), rel=1e-14)
    w = rng.uniform(0.1, 2, 200)
    got = calibration_scores(y, p, w=w)["brier"]
    assert got == pytest.approx(metrics.brier_score_loss(y, p, sample_weight=w), rel=1e-14)


def test_weights_count_rows_like_repeats():
    p = np.array([[0.7, 0.3], [0.2, 0.8], [0.55, 0.45]])
    y = np.array([0.0, 0.0, 1.0])
    repeated = calibration_scores(np.repeat(y, [2, 1, 3]), np.repeat(p, [2, 1, 3], axis=0))
    weighted = calibration_scores(y, p, w=np.array([2.0, 1.0, 3.0]))
    assert weighted == pytest.approx(repeated, rel=1e-14)


def test_a_perfectly_calibrated_bin_has_no_gap():
    p = np.full((10, 2), 0.5)
    p[:, 1] = 0.2
    p[:, 0] = 0.8
    y = np.array([0.0] * 8 + [1.0] * 2)  # 80 % correct at confidence 0.8
    assert ece(y, p) == pytest.approx(0.0, abs=1e-15)
    assert mce(y, p) == pytest.approx(0.0, abs=1e-15)


BAD = [
    ([0, 1], [[0.5, 0.6], [0.5, 0.5]], "probability rows must sum to 1 (within 1e-6); found 1.1"),
    ([0, 1], [[1.2, -0.2], [0.5, 0.5]], "probabilities must lie in [0, 1]; found 1.2"),
    ([0, 1], [0.3, math.nan], "probabilities must be finite; found nan"),
    ([0, 2], [0.3, 0.4], "labels must be 0 or 1; found 2"),
    ([0, 3], [[0.5, 0.5], [0.5, 0.5]], "labels must be a class index in 0..1; found 3"),
    ([0], [0.2, 0.3], "expected 2 labels, one per row"),
]


@pytest.mark.parametrize("y,p,needle", BAD)
def test_bad_input_is_one_domain_error(y, p, needle):
    with pytest.raises(DomainError) as err:
        ece(y, p)
    assert needle in str(err.value)


@pytest.mark.parametrize("bins", [0, -3, 2.5, True, "15"])
def test_bad_bins(bins):
    with pytest.raises(ConfigError, match="--bins must be an integer >= 1"):
        ece([0, 1], [0.2, 0.9], bins=bins)
