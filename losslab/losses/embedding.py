"""Batch losses of an embedding: contrastive, triplet and supervised contrastive.

These losses are not row-separable: a batch's value depends on the pairs or triplets its rows
form. Each function takes the batch's embeddings E (n × D) and class codes y and returns a
:class:`BatchLoss` (the mean over the batch's pairs / triplets / anchors, the gradient
∂value/∂E, and how many terms were averaged; 0 terms: nothing to score, value nan). Everything
is vectorised: a pairwise distance matrix and masks, never a Python loop over pairs; ``all``
triplets (O(B³)) go through anchors in chunks so that memory stays bounded.

- ``contrastive`` (Hadsell, Chopra & LeCun 2006): ℓ = y·d² + (1 − y)·max(0, m − d)²,
  d = ‖e_i − e_j‖₂ (gradient 0 where d = 0); with ``all`` every unordered pair i < j,
  otherwise the (a, p) and (a, n) pairs of the mined triplets.
- ``triplet`` (torch's ``TripletMarginLoss``, p = 2): ℓ = max(0, d(a, p) − d(a, n) + m),
  d(x, y) = ‖x − y + ε‖₂ with ε = 1e-6 (``pairwise_distance``); ``swap``: d(a, n) ←
  min(d(a, n), d(p, n)) (torch's gradient at a tie of the min: half to each).
- ``supcon`` (Khosla et al. 2020, eq. 2, L_out): z = e/‖e‖₂, for every anchor i with a positive
  −(1/|P(i)|)·Σ_{p∈P(i)} log( exp(z_i·z_p/τ) / Σ_{a≠i} exp(z_i·z_a/τ) ).

Mining (``mining``), for contrastive and triplet, picks triplets (a, p, n) from the batch:
``all`` every (a, p, n) with a ≠ p, y_p = y_a, y_n ≠ y_a; ``semi-hard`` (FaceNet, Schroff et
al. 2015) per anchor–positive pair the nearest negative farther than the positive (none: the
farthest negative, as TensorFlow's ``triplet_semihard_loss``); ``hard`` (batch-hard, Hermans et
al. 2017) per anchor its farthest positive and nearest negative; ``random`` per anchor one
positive and one negative drawn from ``rng``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.hyper import Hyper, positive, switch
from losslab.losses.base import MARGIN, Loss, check_pair, get_loss
from losslab.losses.pair import contrastive, contrastive_grad
from losslab.registry import Registry

EMBEDDING_LOSSES = ("contrastive", "triplet", "supcon")
MINING = ("all", "semi-hard", "hard", "random")
PAIR_LOSSES = ("contrastive", "triplet")  # the losses that take --mining
TRIPLET_EPS = 1e-6  # torch.nn.functional.pairwise_distance's eps
CHUNK = 1 << 21  # values per (anchors × rows × rows) block of the `all` triplets
EXPLICIT_DIMS = 32  # embeddings up to this size get their distances by explicit differences

TEMPERATURE = positive("temperature", 0.1, "SupCon temperature τ")
SWAP = switch("swap", False, "Triplet: d(a, n) ← min(d(a, n), d(p, n)) (torch's swap)")


@dataclass(frozen=True)
class BatchLoss:
    """A batch's mean loss, its gradient with respect to the embeddings (None when not asked),
    and the number of pairs / triplets / anchors averaged (0: nothing to score)."""

    value: float
    grad: np.ndarray | None
    terms: int


def _empty(E: np.ndarray, want_grad: bool) -> BatchLoss:
    return BatchLoss(float("nan"), np.zeros_like(E) if want_grad else None, 0)


# --------------------------------------------------------------------------- distances


def distances(E: np.ndarray, eps: float = 0.0, F: np.ndarray | None = None) -> np.ndarray:
    """P_ij = ‖e_i − f_j + ε‖₂ (F defaults to E): by explicit differences, one coordinate at a
    time, up to :data:`EXPLICIT_DIMS` coordinates (exact where a Gram matrix would cancel);
    beyond, from the Gram matrix ‖a‖² + ‖f‖² − 2a·f with a = e + ε, clipped at 0."""
    F = E if F is None else F
    if E.shape[1] > EXPLICIT_DIMS:
        A = E + eps if eps else E
        sq = np.einsum("ij,ij->i", A, A)[:, None] + np.einsum("ij,ij->i", F, F)[None, :]
        sq -= 2.0 * (A @ F.T)
        return np.sqrt(np.maximum(sq, 0.0, out=sq), out=sq)
    sq = np.zeros((E.shape[0], F.shape[0]), dtype=np.result_type(E, F))
    diff = np.empty_like(sq)
    for k in range(E.shape[1]):
        np.subtract(E[:, k, None], F[None, :, k], out=diff)
        if eps:
            diff += eps
        diff *= diff
        sq += diff
    return np.sqrt(sq, out=sq)


def _grad_from(V: np.ndarray, E: np.ndarray, eps: float) -> np.ndarray:
    """∂/∂E of Σ_ij W_ij·P_ij where V = W/P: e_i gets Σ_j V_ij (e_i − e_j + ε), e_j the
    negative of the same sum over i."""
    r, c = V.sum(axis=1)[:, None], V.sum(axis=0)[:, None]
    G = r * E + c * E - V @ E - V.T @ E
    if eps:
        G += (r - c) * eps
    return G


def _masks(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative): same class and not the same row; another class."""
    same = y[:, None] == y[None, :]
    pos = same.copy()
    np.fill_diagonal(pos, False)
    return pos, ~same


# --------------------------------------------------------------------------- mining


SORTED_FROM = 128  # batches larger than this mine semi-hard negatives from sorted rows


def _semi_hard_sorted(
    P: np.ndarray, pos: np.ndarray, neg: np.ndarray, a: np.ndarray, p: np.ndarray
) -> np.ndarray:
    """The semi-hard negative of each pair (a, p) as the masked argmin picks it (the nearest
    negative strictly farther than p, the lowest index among equals; else the farthest
    negative), in O(B² log B) instead of O(B³): each row sorted by distance, negatives before
    the other columns at an equal distance and by index among themselves, then the first
    negative after p's place in its anchor's row."""
    B = P.shape[0]
    rows, cols = np.arange(B)[:, None], np.arange(B)
    by_kind = np.argsort(~neg, axis=1, kind="stable")  # negatives first, each kind by index
    order = by_kind[rows, np.argsort(P[rows, by_kind], axis=1, kind="stable")]
    place = np.empty_like(order)
    place[rows, order] = cols  # where each column stands in its row
    first_neg = np.where(neg[rows, order], cols, B)  # the first negative at or after each place
    first_neg = np.minimum.accumulate(first_neg[:, ::-1], axis=1)[:, ::-1]
    j = first_neg[a, place[a, p]]
    far = np.where(neg, P, -np.inf).argmax(axis=1)
    return np.where(j < B, order[a, np.minimum(j, B - 1)], far[a])


def mine(
    P: np.ndarray, y: np.ndarray, mining: str, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The triplets (a, p, n) that ``mining`` (semi-hard, hard, random) picks, as index arrays,
    from the distance matrix P (P[a, p] = d(a, p))."""
    pos, neg = _masks(y)
    valid = pos.any(axis=1) & neg.any(axis=1)  # anchors with a positive and a negative
    if mining == "semi-hard":
        a, p = np.nonzero(pos & valid[:, None])
        if y.shape[0] > SORTED_FROM:
            return a, p, _semi_hard_sorted(P, pos, neg, a, p)
        Dan = P[a]
        nega = neg[a]
        farther = nega & (Dan > P[a, p][:, None])
        semi = np.where(farther, Dan, np.inf).argmin(axis=1)
        far = np.where(nega, Dan, -np.inf).argmax(axis=1)
        return a, p, np.where(farther.any(axis=1), semi, far)
    a = np.flatnonzero(valid)
    if mining == "hard":
        p = np.where(pos[a], P[a], -np.inf).argmax(axis=1)
        n = np.where(neg[a], P[a], np.inf).argmin(axis=1)
        return a, p, n
    if mining == "random":
        if rng is None:
            raise ValueError("random mining needs a generator")
        u = rng.random((2, a.size, y.shape[0]))
        p = np.where(pos[a], u[0], -1.0).argmax(axis=1)
        n = np.where(neg[a], u[1], -1.0).argmax(axis=1)
        return a, p, n
    raise ConfigError(f"--mining must be one of {', '.join(MINING)}; found {mining!r}")


# --------------------------------------------------------------------------- the losses


def contrastive_batch(
    E: np.ndarray,
    y: np.ndarray,
    *,
    margin: float = 1.0,
    mining: str = "all",
    rng: np.random.Generator | None = None,
    want_grad: bool = True,
) -> BatchLoss:
    """Mean contrastive loss over the batch's pairs (every i < j, or the mined triplets'
    (a, p) and (a, n) pairs); a batch without a positive pair has nothing to score."""
    pos, _ = _masks(y)
    if not pos.any():
        return _empty(E, want_grad)
    D = distances(E)
    n = E.shape[0]
    if mining == "all":
        C = np.triu(np.ones((n, n), dtype=bool), 1).astype(E.dtype)  # each pair once
    else:
        a, p, q = mine(D, y, mining, rng)
        if a.size == 0:
            return _empty(E, want_grad)
        C = (
            np.bincount(np.concatenate([a * n + p, a * n + q]), minlength=n * n)
            .reshape(n, n)
            .astype(E.dtype)
        )
    terms = int(C.sum())
    same = pos.astype(E.dtype)
    value = float(np.sum(C * contrastive(same, D, margin=margin))) / terms
    if not want_grad:
        return BatchLoss(value, None, terms)
    g = contrastive_grad(same, D, margin=margin)
    with np.errstate(divide="ignore", invalid="ignore"):
        V = np.where(D > 0, C * g / D, 0.0) / terms
    return BatchLoss(value, _grad_from(V, E, 0.0), terms)


def triplet_batch(
    E: np.ndarray,
    y: np.ndarray,
    *,
    margin: float = 1.0,
    swap: bool = False,
    mining: str = "all",
    rng: np.random.Generator | None = None,
    want_grad: bool = True,
) -> BatchLoss:
    """Mean of torch's triplet margin loss over the batch's triplets (all, or mined)."""
    pos, neg = _masks(y)
    if not (pos.any(axis=1) & neg.any(axis=1)).any():
        return _empty(E, want_grad)
    P = distances(E, TRIPLET_EPS)
    if mining == "all":
        total, terms, W = _all_triplets(P, pos, neg, margin, swap)
    else:
        a, p, q = mine(P, y, mining, rng)
        total, terms, W = _some_triplets(P, a, p, q, margin, swap)
    value = total / terms
    if not want_grad:
        return BatchLoss(value, None, terms)
    return BatchLoss(value, _grad_from(W / (P * terms), E, TRIPLET_EPS), terms)


def _hinge(dap: np.ndarray, dan: np.ndarray, dpn: np.ndarray | None, margin: float) -> tuple:
    """(loss, active, share of the gradient on d(a, n)) of max(0, d(a,p) − d_neg + m); torch's
    clamp_min passes the gradient at 0, its minimum splits it at a tie."""
    if dpn is None:
        L = dap - dan + margin
        return L, L >= 0, None
    L = dap - np.minimum(dan, dpn) + margin
    share = np.where(dan < dpn, 1.0, np.where(dan == dpn, 0.5, 0.0))
    return L, L >= 0, share


def _all_triplets(
    P: np.ndarray, pos: np.ndarray, neg: np.ndarray, margin: float, swap: bool
) -> tuple[float, int, np.ndarray]:
    """(Σ ℓ, count, ∂Σℓ/∂P) over every triplet, anchors in chunks of CHUNK values."""
    n = P.shape[0]
    W = np.zeros_like(P)
    total, terms = 0.0, 0
    step = max(1, CHUNK // (n * n))
    for lo in range(0, n, step):
        A = slice(lo, min(lo + step, n))
        mask = pos[A][:, :, None] & neg[A][:, None, :]
        terms += int(np.count_nonzero(mask))
        dap, dan = P[A][:, :, None], P[A][:, None, :]
        L, active, share = _hinge(dap, dan, P[None] if swap else None, margin)
        active &= mask
        total += float(np.sum(L, where=active))
        W[A] += active.sum(axis=2)
        if share is None:
            W[A] -= active.sum(axis=1)
        else:
            W[A] -= (active * share).sum(axis=1)
            W -= (active * (1.0 - share)).sum(axis=0)
    return total, terms, W


def _some_triplets(
    P: np.ndarray, a: np.ndarray, p: np.ndarray, q: np.ndarray, margin: float, swap: bool
) -> tuple[float, int, np.ndarray]:
    """(Σ ℓ, count, ∂Σℓ/∂P) over the given triplets (a, p, q)."""
    n = P.shape[0]
    L, active, share = _hinge(P[a, p], P[a, q], P[p, q] if swap else None, margin)
    on = active.astype(P.dtype)
    parts = [(a * n + p, on), (a * n + q, -on if share is None else -on * share)]
    if share is not None:
        parts.append((p * n + q, -on * (1.0 - share)))
    idx = np.concatenate([i for i, _ in parts])
    W = np.bincount(idx, np.concatenate([w for _, w in parts]), minlength=n * n)
    return float(np.sum(L, where=active)), int(a.size), W.reshape(n, n)


def supcon_batch(
    E: np.ndarray, y: np.ndarray, *, temperature: float = 0.1, want_grad: bool = True
) -> BatchLoss:
    """Mean SupCon L_out over the anchors with a positive (Khosla et al. 2020, eq. 2)."""
    pos, _ = _masks(y)
    npos = pos.sum(axis=1)
    anchors = npos > 0
    terms = int(np.count_nonzero(anchors))
    if terms == 0:
        return _empty(E, want_grad)
    norm = np.sqrt(np.einsum("ij,ij->i", E, E))[:, None]
    Z = E / norm
    S = (Z @ Z.T) / temperature
    np.fill_diagonal(S, -np.inf)
    top = S.max(axis=1, keepdims=True)
    Ex = np.exp(S - top)
    lse = np.log(Ex.sum(axis=1, keepdims=True)) + top
    logp = S - lse
    per = np.where(anchors, -np.sum(logp, where=pos, axis=1) / np.maximum(npos, 1), 0.0)
    value = float(per.sum()) / terms
    if not want_grad:
        return BatchLoss(value, None, terms)
    soft = Ex / Ex.sum(axis=1, keepdims=True)
    M = (soft - pos / np.maximum(npos, 1)[:, None]) * anchors[:, None] / terms
    gz = (M + M.T) @ Z / temperature
    G = (gz - Z * np.einsum("ij,ij->i", Z, gz)[:, None]) / norm
    return BatchLoss(value, G, terms)


def batch_loss(
    name: str,
    E: np.ndarray,
    y: np.ndarray,
    *,
    params: dict[str, Any],
    mining: str = "all",
    rng: np.random.Generator | None = None,
    want_grad: bool = True,
) -> BatchLoss:
    """The batch loss ``name`` (contrastive, triplet, supcon) of embeddings E with class codes
    y; ``params``: margin, swap, temperature (those the loss takes)."""
    if name == "contrastive":
        return contrastive_batch(
            E, y, margin=params.get("margin", 1.0), mining=mining, rng=rng, want_grad=want_grad
        )
    if name == "triplet":
        return triplet_batch(
            E,
            y,
            margin=params.get("margin", 1.0),
            swap=bool(params.get("swap", False)),
            mining=mining,
            rng=rng,
            want_grad=want_grad,
        )
    return supcon_batch(E, y, temperature=params.get("temperature", 0.1), want_grad=want_grad)


def check_mining(loss: str, mining: str | None) -> str:
    """The mining of a run of ``loss``: ``all`` unless given; refused for a loss without
    pairs or triplets to mine."""
    if mining is None:
        return "all"
    if loss not in PAIR_LOSSES:
        raise ConfigError(
            f"--mining applies to the losses that form pairs or triplets "
            f"({', '.join(PAIR_LOSSES)}); {loss} has none to mine"
        )
    if mining not in MINING:
        raise ConfigError(f"--mining must be one of {', '.join(MINING)}; found {mining!r}")
    return mining


# --------------------------------------------------------------------------- registry entries


def _batch_only(name: str) -> Any:
    def per_row(y: np.ndarray, out: np.ndarray, *, logits: bool = False, **params: Any) -> Any:
        raise ConfigError(f"{name} is a batch loss: it scores pairs of rows, not one row")

    return per_row


def _loss(name: str, inputs: str, formula: str, hypers: tuple[Hyper, ...]) -> Loss:
    return Loss(
        name,
        "embedding",
        inputs,
        formula,
        {h.name: h.default for h in hypers},
        _batch_only(name),
        _batch_only(name),
        check_pair,
        hypers=hypers,
    )


# The embedding losses that are not also per-row pair losses; kept out of LOSSES, whose
# entries score one row at a time (contrastive is there, on a distance column).
BATCH_LOSSES: Registry[Loss] = Registry("loss")
BATCH_LOSSES.add(
    "triplet",
    _loss(
        "triplet",
        "embeddings of an anchor, a positive and a negative",
        "max(0, ‖a − p + ε‖ − ‖a − n + ε‖ + m)",
        (MARGIN, SWAP),
    ),
)
BATCH_LOSSES.add(
    "supcon",
    _loss(
        "supcon",
        "embeddings with class labels",
        "−(1/|P(i)|)·Σ_p log softmax_{a≠i}(z_i·z_a/τ)_p",
        (TEMPERATURE,),
    ),
    aliases=("supervised-contrastive",),
)


def find_loss(name: str) -> Loss:
    """The loss ``name``: a registered per-row loss, or one of the batch losses."""
    if name in BATCH_LOSSES:
        return BATCH_LOSSES.get(name)
    return get_loss(name)


def is_embedding(loss: str) -> bool:
    return loss in EMBEDDING_LOSSES


# --------------------------------------------------------------------------- k-NN accuracy


def knn_accuracy(
    R: np.ndarray,
    yr: np.ndarray,
    Q: np.ndarray,
    yq: np.ndarray,
    ks: tuple[int, ...] = (1, 5),
    *,
    leave_one_out: bool = False,
) -> dict[int, float]:
    """k-NN accuracy of queries Q (labels yq) against references R (labels yr): Euclidean,
    majority vote of the k nearest, a tie to the class met first (the nearer); with
    ``leave_one_out`` Q is R and each row's own point is left out."""
    if Q.shape[0] == 0:
        return {k: float("nan") for k in ks}
    kmax = min(max(ks), R.shape[0] - (1 if leave_one_out else 0))
    rr = np.einsum("ij,ij->i", R, R)
    hits = {k: 0 for k in ks}
    step = max(1, (1 << 22) // max(1, R.shape[0]))
    for lo in range(0, Q.shape[0], step):
        q = Q[lo : lo + step]
        D = rr[None, :] - 2.0 * (q @ R.T)
        if leave_one_out:
            D[np.arange(q.shape[0]), np.arange(lo, lo + q.shape[0])] = np.inf
        near = np.argpartition(D, kmax - 1, axis=1)[:, :kmax] if kmax < D.shape[1] else None
        if near is None:
            near = np.broadcast_to(np.arange(D.shape[1]), D.shape).copy()
        order = np.argsort(np.take_along_axis(D, near, axis=1), axis=1, kind="stable")
        labels = yr[np.take_along_axis(near, order, axis=1)]
        for k in ks:
            top = labels[:, : min(k, kmax)]
            votes = (top[:, :, None] == top[:, None, :]).sum(axis=2)
            best = np.argmax(votes * top.shape[1] - np.arange(top.shape[1]), axis=1)
            hits[k] += int(np.sum(top[np.arange(top.shape[0]), best] == yq[lo : lo + step]))
    return {k: hits[k] / Q.shape[0] for k in ks}
