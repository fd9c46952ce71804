"""The trainer's fast paths against the slow definitions they replace: the fused objectives
against the loss registry, chunked passes against one pass, the new FitConfig options
(``shuffle``, ``dtype``) against their documented semantics."""

from __future__ import annotations

import numpy as np
import pytest

import losslab
from losslab.errors import ConfigError
from losslab.losses import LOSSES
from losslab.nn.models import MODELS
from losslab.train.loop import (
    _CHUNK,
    FitConfig,
    Problem,
    Split,
    _metric,
    _Objective,
    objective_for,
    train,
)

PAIRS = [("linear", "mse"), ("logistic", "bce"), ("softmax", "cross-entropy")]


def _problem(model: str, loss: str, X: np.ndarray, y: np.ndarray, K: int = 1) -> Problem:
    classes = list(range(K)) if model != "linear" else []
    return Problem(None, "y", [], MODELS.get(model), LOSSES.get(loss), X, y, classes)  # type: ignore[arg-type]


def _case(model: str, n: int, rng: np.random.Generator, scale: float = 3.0):
    if model == "softmax":
        S = rng.standard_normal((n, 4)) * scale
        y = rng.integers(0, 4, n).astype(float)
        return S, y, 4
    S = rng.standard_normal(n) * scale
    y = rng.integers(0, 2, n).astype(float) if model == "logistic" else rng.standard_normal(n)
    return S, y, 1


@pytest.mark.parametrize(("model", "loss"), PAIRS)
@pytest.mark.parametrize("n", [7, 1000, 2 * _CHUNK + 123])
@pytest.mark.parametrize("scale", [1.0, 40.0, 800.0])
def test_fused_objective_equals_registry(model, loss, n, scale):
    rng = np.random.default_rng(n)
    S, y, K = _case(model, n, rng, scale)
    problem = _problem(model, loss, np.zeros((n, 1)), y, K)
    fused = objective_for(problem, {})
    assert type(fused) is not _Objective
    logits = problem.model.logits
    entry = LOSSES.get(loss)
    want_value = entry.value(y, S, logits=logits)
    want_grad = entry.grad(y, S, logits=logits)
    want_metric = _metric(problem, y, S)

    G = np.empty_like(S)
    with np.errstate(over="ignore"):  # as the training loop runs them
        value, metric = fused.evaluate(S.copy(), y, G)
    assert value == pytest.approx(want_value, rel=1e-13, abs=1e-300)
    assert metric == pytest.approx(want_metric, rel=1e-13)  # R²: a chunked sum
    np.testing.assert_array_equal(G, want_grad)  # row by row, the registry's own operations
    G2 = np.empty_like(S)
    with np.errstate(over="ignore"):
        fused.grad(S, y, G2)
    np.testing.assert_array_equal(G2, want_grad)
    # The intercept shift is added in place before anything else.
    shifted = S - 0.25
    value, _ = fused.evaluate(shifted, y, shift=0.25)
    assert value == pytest.approx(want_value, rel=1e-12)


def test_bce_soft_labels_take_the_general_form():
    rng = np.random.default_rng(0)
    S, y = rng.standard_normal(500) * 5, rng.random(500)
    problem = _problem("logistic", "bce", np.zeros((500, 1)), y)
    value, _ = objective_for(problem, {}).evaluate(S.copy(), y)
    assert value == pytest.approx(LOSSES.get("bce").value(y, S, logits=True), rel=1e-14)


def _blobs(n: int, p: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.asfortranarray(rng.standard_normal((n, p)))
    w = rng.standard_normal(p)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w)))).astype(float)
    return X, y


def _run(X, y, **settings):
    problem = _problem("logistic", "bce", X, y, 2)
    split = Split(X, y, None, None, None, np.empty(0, dtype=np.intp))
    config = FitConfig(test_size=0.0, **settings)
    config.validate()
    return train(problem, split, config)


def test_chunked_full_batch_matches_the_registry_loss():
    X, y = _blobs(2 * _CHUNK + 500, 3)
    result = _run(X, y, optimizer="gd", batch_size=0, lr=0.5, epochs=3)
    W, b = np.array(result.model["coef"]), result.model["intercept"]
    final = LOSSES.get("bce").value(y, X @ W + b, logits=True)
    assert result.history[-1]["train_loss"] == pytest.approx(final, rel=1e-13)


def test_shuffle_once_permutes_rows_once_and_batches_each_epoch():
    """With shuffle "once" an epoch visits the same batches (rows of one permutation) in a new
    order: with SGD at lr→0 the sum of steps equals full-batch-like sums, and runs repeat."""
    X, y = _blobs(1000, 4)
    a = _run(X, y, optimizer="sgd", batch_size=64, lr=0.05, epochs=4, shuffle="once")
    b = _run(X, y, optimizer="sgd", batch_size=64, lr=0.05, epochs=4, shuffle="once")
    c = _run(X, y, optimizer="sgd", batch_size=64, lr=0.05, epochs=4)
    assert a.model["coef"] == b.model["coef"]
    assert a.model["coef"] != c.model["coef"]
    assert a.history[-1]["train_loss"] == pytest.approx(c.history[-1]["train_loss"], rel=0.05)


def test_shuffle_once_follows_its_definition():
    X, y = _blobs(300, 3, seed=1)
    n, batch, lr = 300, 64, 0.1
    result = _run(X, y, optimizer="sgd", batch_size=batch, lr=lr, epochs=2, shuffle="once")
    rng = np.random.default_rng(np.random.SeedSequence(0).spawn(2)[1])
    perm = rng.permutation(n)
    Xs, ys = X[perm], y[perm]
    w, b = np.zeros(3), 0.0
    for _ in range(2):
        for k in rng.permutation(-(-n // batch)):
            Xb, yb = Xs[k * batch : (k + 1) * batch], ys[k * batch : (k + 1) * batch]
            G = (0.5 * (1 + np.tanh(0.5 * (Xb @ w + b))) - yb) / len(yb)
            w, b = w - lr * (Xb.T @ G), b - lr * G.sum()
    np.testing.assert_allclose(result.model["coef"], w, rtol=1e-12)
    assert result.model["intercept"] == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("batch", [0, 32])
def test_float32_tracks_float64(batch):
    result64 = losslab.fit("breast-cancer", epochs=20, batch_size=batch, l2=0.01)
    result32 = losslab.fit("breast-cancer", epochs=20, batch_size=batch, l2=0.01, dtype="float32")
    assert result32.config["dtype"] == "float32"
    for h32, h64 in zip(result32.history, result64.history, strict=True):
        assert h32["train_loss"] == pytest.approx(h64["train_loss"], rel=1e-4)
    assert isinstance(result32.model["coef"][0], float)


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"shuffle": "never"}, "--shuffle must be one of epoch, once"),
        ({"dtype": "int8"}, "--dtype"),
    ],
)
def test_new_settings_are_validated(settings, needle):
    with pytest.raises(ConfigError, match=needle):
        FitConfig(**settings).validate()
