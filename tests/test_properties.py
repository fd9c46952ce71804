"""Properties that must hold for any input (hypothesis): exact CSV round trips, loss invariants,
and the train/test split."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from losslab.data.read import read_table
from losslab.losses import LOSSES, get_loss
from losslab.train.loop import split_rows

FAST = settings(max_examples=60, deadline=None)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
moderate = st.floats(-30, 30, allow_nan=False)


@FAST
@given(st.lists(finite, min_size=1, max_size=40))
def test_csv_numbers_round_trip_bit_for_bit(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("csv") / "v.csv"
    path.write_text("v,w\n" + "".join(f"{v!r},1\n" for v in values), encoding="utf-8")
    got = read_table(path).numeric("v")
    assert got.tobytes() == np.array(values, dtype=np.float64).tobytes()


REGRESSION = [name for name, loss in LOSSES.items() if loss.task == "regression"]


@FAST
@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6)))
def test_regression_losses_vanish_at_the_target_and_are_nonnegative(y):
    for name in REGRESSION:
        loss = get_loss(name)
        assert loss.value(y, y.copy()) == 0.0
        assert loss.value(y, y + 1.0) >= 0.0


@FAST
@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-8, 8)), st.data())
def test_bce_from_logits_equals_bce_from_probabilities(s, data):
    # |s| <= 8 keeps 1 - sigmoid(s), computed here in probability space, accurate to ~1e-13
    y = data.draw(arrays(np.float64, s.shape, elements=st.sampled_from([0.0, 1.0])))
    bce = get_loss("bce")
    p = 1.0 / (1.0 + np.exp(-s))
    assert math.isclose(bce.value(y, s, logits=True), bce.value(y, p), rel_tol=1e-9, abs_tol=1e-12)


@FAST
@given(
    arrays(np.float64, st.tuples(st.integers(1, 10), st.integers(2, 5)), elements=moderate),
    st.floats(-1e3, 1e3),
    st.data(),
)
def test_cross_entropy_logits_ignore_a_shift(S, shift, data):
    n, k = S.shape
    y = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), float)
    ce = get_loss("cross-entropy")
    a, b = ce.value(y, S, logits=True), ce.value(y, S + shift, logits=True)
    assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    assert np.allclose(ce.grad(y, S, logits=True), ce.grad(y, S + shift, logits=True), atol=1e-12)


@FAST
@given(
    st.lists(st.integers(0, 3), min_size=2, max_size=80),
    st.floats(0.01, 0.9),
    st.integers(0, 2**32 - 1),
)
def test_split_partitions_rows_and_keeps_every_class_in_training(labels, test_size, seed):
    y = np.array(labels, dtype=float)
    if math.ceil(test_size * y.size) >= y.size:
        return
    train, test = split_rows(y, test_size, np.random.default_rng(seed), stratify=True)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(y.size))
    assert set(np.unique(y[train])) == set(np.unique(y))
    again = split_rows(y, test_size, np.random.default_rng(seed), stratify=True)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
    assert test.size <= math.ceil(test_size * y.size)
