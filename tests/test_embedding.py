"""Embedding losses (contrastive, triplet, supcon): values and gradients against torch written
here and finite differences, mining against loop references, k-NN accuracy, the training path
and its one-line errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from losslab.losses.embedding import (
    TRIPLET_EPS,
    batch_loss,
    distances,
    knn_accuracy,
    mine,
    supcon_batch,
    triplet_batch,
)
from losslab.nn.network import Network

RNG = np.random.default_rng(7)
X = RNG.normal(size=(14, 5))
Y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 0, 3, 3])


def _net() -> Network:
    net = Network([5, 8, 3], "tanh")
    net.init("torch", np.random.default_rng(1))
    return net


# --------------------------------------------------------------------------- torch references


def _torch_mlp(net: Network):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(a.copy(), requires_grad=True) for a in (*net.W, *net.b)]
    W1, W2, b1, b2 = params
    E = torch.tanh(torch.tensor(X) @ W1 + b1) @ W2 + b2
    return torch, params, E


def _torch_loss(torch, name: str, E, y: np.ndarray, swap: bool = False):
    n = y.shape[0]
    same = y[:, None] == y[None, :]
    if name == "triplet":
        a, p, q = np.nonzero((same & ~np.eye(n, dtype=bool))[:, :, None] & ~same[:, None, :])
        return torch.nn.TripletMarginLoss(margin=1.0, swap=swap)(E[a], E[p], E[q])
    if name == "contrastive":
        i, j = np.triu_indices(n, 1)
        d = (E[i] - E[j]).norm(dim=1)
        s = torch.tensor(same[i, j].astype(float))
        return (s * d**2 + (1 - s) * torch.clamp(1.0 - d, min=0) ** 2).mean()
    z = E / E.norm(dim=1, keepdim=True)
    S = (z @ z.T / 0.1).masked_fill(torch.eye(n, dtype=torch.bool), -float("inf"))
    logp = S - torch.logsumexp(S, dim=1, keepdim=True)
    pos = torch.tensor(same & ~np.eye(n, dtype=bool))
    npos = pos.sum(1)
    per = -logp.masked_fill(~pos, 0.0).sum(1) / npos.clamp(min=1)
    return per[npos > 0].mean()


@pytest.mark.parametrize(
    ("name", "swap"),
    [("contrastive", False), ("triplet", False), ("triplet", True), ("supcon", False)],
)
def test_value_and_gradient_through_an_mlp_equal_torch(name: str, swap: bool) -> None:
    net = _net()
    torch, params, E = _torch_mlp(net)
    expected = _torch_loss(torch, name, E, Y, swap)
    expected.backward()
    S = net.forward(X, "train")
    out = batch_loss(name, S, Y, params={"margin": 1.0, "swap": swap, "temperature": 0.1})
    net.backward(out.grad, "train")
    assert out.value == pytest.approx(expected.item(), rel=1e-8, abs=1e-12)
    for got, ref in zip((*net.gW, *net.gb), params, strict=True):
        np.testing.assert_allclose(got, ref.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name", ["contrastive", "triplet", "supcon"])
@pytest.mark.parametrize("mining", ["all", "semi-hard", "hard", "random"])
def test_gradient_equals_finite_differences(name: str, mining: str) -> None:
    if name == "supcon" and mining != "all":
        pytest.skip("supcon takes every anchor")
    E = RNG.normal(size=(10, 3))
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 0, 1])

    def f(E: np.ndarray) -> float:
        rng = np.random.default_rng(3)
        return batch_loss(name, E, y, params={}, mining=mining, rng=rng, want_grad=False).value

    rng = np.random.default_rng(3)
    G = batch_loss(name, E, y, params={}, mining=mining, rng=rng).grad
    h = 1e-6
    fd = np.zeros_like(E)
    for i, j in itertools.product(range(E.shape[0]), range(E.shape[1])):
        step = np.zeros_like(E)
        step[i, j] = h
        fd[i, j] = (f(E + step) - f(E - step)) / (2 * h)
    np.testing.assert_allclose(G, fd, atol=1e-6)


@pytest.mark.parametrize("sorted_rows", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_semi_hard_mining_equals_a_loop_reference(
    ties: bool, sorted_rows: bool, monkeypatch
) -> None:
    """Both forms of semi-hard mining (the masked argmin of small batches, the sorted rows of
    large ones: forced here on 16 rows) pick what the loop written here picks."""
    import losslab.losses.embedding as embedding

    monkeypatch.setattr(embedding, "SORTED_FROM", 0 if sorted_rows else 10**9)
    E = RNG.integers(0, 3, size=(16, 2)).astype(float) if ties else RNG.normal(size=(16, 2))
    y = RNG.integers(0, 3, 16)
    P = distances(E, TRIPLET_EPS)
    a, p, q = mine(P, y, "semi-hard")
    expected = []
    for i in range(16):
        for j in range(16):
            if i == j or y[i] != y[j]:
                continue
            negatives = [k for k in range(16) if y[k] != y[i]]
            if not negatives:
                continue
            d = lambda u, v: float(np.linalg.norm(E[u] - E[v] + TRIPLET_EPS))  # noqa: E731
            farther = [k for k in negatives if d(i, k) > d(i, j)]
            k = (
                min(farther, key=lambda k: d(i, k))
                if farther
                else max(negatives, key=lambda k: d(i, k))
            )
            expected.append((i, j, k))
    assert list(zip(a.tolist(), p.tolist(), q.tolist(), strict=True)) == expected
    loss = triplet_batch(E, y, mining="semi-hard", want_grad=False)
    ref = np.mean([max(0.0, P[i, j] - P[i, k] + 1.0) for i, j, k in expected])
    assert loss.value == pytest.approx(ref, rel=1e-12)


def test_hard_and_random_mining_pick_one_triplet_per_anchor() -> None:
    E = RNG.normal(size=(12, 2))
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 0, 1])
    P = distances(E, TRIPLET_EPS)
    a, p, q = mine(P, y, "hard")
    for i, j, k in zip(a, p, q, strict=True):
        pos = [u for u in range(12) if u != i and y[u] == y[i]]
        neg = [u for u in range(12) if y[u] != y[i]]
        assert j == max(pos, key=lambda u: P[i, u]) and k == min(neg, key=lambda u: P[i, u])
    assert 9 not in a  # class 3 has one row: no positive
    first = mine(P, y, "random", np.random.default_rng(5))
    again = mine(P, y, "random", np.random.default_rng(5))
    for u, v in zip(first, again, strict=True):
        np.testing.assert_array_equal(u, v)
    a, p, q = first
    assert np.all(y[a] == y[p]) and np.all(a != p) and np.all(y[a] != y[q])


def test_all_triplets_are_chunked_by_anchor(monkeypatch: pytest.MonkeyPatch) -> None:
    import losslab.losses.embedding as emb

    E = RNG.normal(size=(30, 4))
    y = RNG.integers(0, 4, 30)
    whole = triplet_batch(E, y, swap=True)
    monkeypatch.setattr(emb, "CHUNK", 30 * 30 * 2)  # two anchors per block
    chunked = triplet_batch(E, y, swap=True)
    assert chunked.value == pytest.approx(whole.value, rel=1e-13)
    np.testing.assert_allclose(chunked.grad, whole.grad, rtol=1e-12, atol=1e-15)


def test_a_batch_without_a_positive_pair_has_nothing_to_score() -> None:
    E = RNG.normal(size=(4, 2))
    for name in ("contrastive", "triplet", "supcon"):
        out = batch_loss(name, E, np.arange(4), params={})
        assert out.terms == 0 and np.isnan(out.value) and not out.grad.any()


def test_supcon_of_zero_temperature_free_example_by_hand() -> None:
    # two rows of one class, one of another, on the unit circle: cosines by hand
    E = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    y = np.array([0, 0, 1])
    tau = 0.5
    s01, s02, s12 = 0.0, -1.0, 0.0
    anchor0 = -(s01 / tau - np.log(np.exp(s01 / tau) + np.exp(s02 / tau)))
    anchor1 = -(s01 / tau - np.log(np.exp(s01 / tau) + np.exp(s12 / tau)))
    out = supcon_batch(E, y, temperature=tau)
    assert out.value == pytest.approx((anchor0 + anchor1) / 2, rel=1e-14)


# --------------------------------------------------------------------------- k-NN


def _knn_reference(R, yr, Q, yq, k, loo=False):
    hits = 0
    for i, q in enumerate(Q):
        d = np.linalg.norm(R - q, axis=1)
        if loo:
            d[i] = np.inf
        near = np.argsort(d, kind="stable")[:k]
        labels = list(yr[near])
        counts = {c: labels.count(c) for c in labels}
        top = max(counts.values())
        winner = next(c for c in labels if counts[c] == top)  # the nearer of tied classes
        hits += winner == yq[i]
    return hits / len(Q)


def test_knn_accuracy_equals_a_loop_reference() -> None:
    R, yr = RNG.normal(size=(60, 2)), RNG.integers(0, 4, 60)
    Q, yq = RNG.normal(size=(25, 2)), RNG.integers(0, 4, 25)
    got = knn_accuracy(R, yr, Q, yq)
    assert got[1] == _knn_reference(R, yr, Q, yq, 1)
    assert got[5] == _knn_reference(R, yr, Q, yq, 5)
    loo = knn_accuracy(R, yr, R, yr, leave_one_out=True)
    assert loo[5] == _knn_reference(R, yr, R, yr, 5, loo=True)


def test_knn_tie_goes_to_the_nearer_class() -> None:
    R = np.array([[1.0], [2.0], [3.0], [4.0]])
    yr = np.array([1, 0, 0, 1])
    # k = 4 would tie 2–2; with k = 5 capped at 4 rows the nearest (class 1 at 1.0) wins
    assert knn_accuracy(R, yr, np.array([[0.9]]), np.array([1]), (5,))[5] == 1.0
    assert knn_accuracy(R, yr, np.array([[0.9]]), np.array([0]), (5,))[5] == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_semi_hard_sorted_rows_equal_the_masked_argmin_on_large_batches(seed, monkeypatch):
    import losslab.losses.embedding as embedding

    rng = np.random.default_rng(seed)
    E = rng.normal(size=(300, 2)).round(1 if seed % 2 else 8)  # odd seeds: many equal distances
    y = rng.integers(0, 10, 300)
    P = distances(E, TRIPLET_EPS)
    monkeypatch.setattr(embedding, "SORTED_FROM", 10**9)
    masked = mine(P, y, "semi-hard")
    monkeypatch.setattr(embedding, "SORTED_FROM", 0)
    sorted_rows = mine(P, y, "semi-hard")
    for u, v in zip(masked, sorted_rows, strict=True):
        np.testing.assert_array_equal(u, v)
