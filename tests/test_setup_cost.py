"""Issue 21's setup and step costs, checked by what is done, never by the clock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from losslab.nn.network import Network
from losslab.train.prepare import row_id_columns


def test_row_ids_are_ruled_out_by_their_range_before_np_unique(monkeypatch):
    # 784 pixel-like columns of 0..255 on 1,000 rows cannot hold 1,000 distinct integers
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(0, 256, (1000, 6)), columns=[f"p{k}" for k in range(6)])
    frame["rid"] = rng.permutation(1000)
    frame["spread"] = rng.integers(0, 10_000, 1000)  # wide range, repeats: np.unique decides
    seen = []
    unique = np.unique

    def counting(values, *args, **kwargs):
        seen.append(values.size)
        return unique(values, *args, **kwargs)

    monkeypatch.setattr(np, "unique", counting)
    assert row_id_columns(frame, list(frame.columns)) == ["rid"]
    assert len(seen) == 2  # rid and spread only


@pytest.mark.parametrize("values", [[np.nan] * 25, [np.inf, -np.inf] * 13, [np.inf] * 25])
def test_row_ids_skip_non_finite_columns(values):
    frame = pd.DataFrame({"x": values[:25]})
    assert row_id_columns(frame, ["x"]) == []


@pytest.mark.parametrize(("sizes", "vector"), [([5, 1], True), ([5, 4, 3], False)])
def test_bias_gradients_are_written_into_g_as_column_sums(sizes, vector):
    rng = np.random.default_rng(3)
    net = Network(sizes, "relu", vector_output=vector)
    net.init("torch", rng)
    X = rng.standard_normal((9, sizes[0]))
    S = net.forward(X)
    G = rng.standard_normal(S.shape)
    grad = net.grad
    net.backward(G.copy())
    assert net.grad is grad  # the same vector, the biases' part written in place
    np.testing.assert_array_equal(net.gb[-1], np.atleast_1d(G.sum(axis=0)))
