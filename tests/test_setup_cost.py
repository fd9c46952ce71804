"""Issue 21's setup and step costs, checked by what is done, never by the clock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from losslab.nn import layers
from losslab.nn.activations import ACTIVATIONS
from losslab.nn.layers import Conv2D
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


@pytest.mark.parametrize(("c_in", "kernel"), [(1, 3), (8, 3), (9, 5), (32, 2)])
def test_im2col_by_strided_view_equals_the_shifted_copies(monkeypatch, c_in, kernel):
    # both forms copy the same values into the column matrix: the outputs are equal bit for bit
    rng = np.random.default_rng(4)
    layer = Conv2D((7, 6, c_in), 5, kernel, ACTIVATIONS.get("relu"))
    layer.W = rng.standard_normal(layer.weight_shape).astype(np.float32)
    layer.b = rng.standard_normal(5).astype(np.float32)
    A = rng.standard_normal((4, 6, 7, c_in)).astype(np.float32).transpose(0, 2, 1, 3)  # a view
    outs = []
    for threshold in (1, 10**9):  # always the view, never the view
        monkeypatch.setattr(layers, "PATCH_COPY_CHANNELS", threshold)
        buf = layer.buffers(4, np.dtype(np.float32))
        outs.append((layer.forward(A, buf, 4).copy(), buf["cols"].copy()))
    (out_view, cols_view), (out_copies, cols_copies) = outs
    np.testing.assert_array_equal(cols_view, cols_copies)
    np.testing.assert_array_equal(out_view, out_copies)
    ho, wo = 7 - kernel + 1, 6 - kernel + 1
    want = sliding_window_view(A, (kernel, kernel), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)
    np.testing.assert_array_equal(layers._patches(A, kernel, ho, wo), want)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"a": [1, 2], "b": [True, False], "c": np.array([3, 4], dtype=np.uint8)}, True),
        ({"a": [1, 2], "f": [1.0, 2.0]}, False),  # a float column may hold NaN
        ({"a": [1, 2], "n": pd.array([1, None], dtype="Int64")}, False),  # nullable integers
        ({"a": [1, 2], "s": ["x", "y"]}, False),
    ],
)
def test_integer_columns_need_no_missing_value_mask(columns, expected):
    from losslab.train.prepare import _cannot_be_missing

    frame = pd.DataFrame(columns)
    assert _cannot_be_missing(frame, list(frame.columns)) is expected
    twice = pd.concat([frame, frame], axis=1)  # repeated names: the mask decides
    assert _cannot_be_missing(twice, list(frame.columns)) is False
