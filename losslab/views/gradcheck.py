"""Analytic gradients against central finite differences, for every loss and every model.

The check the tests use, for users who add their own loss or layer. For a loss, the gradient of
the mean loss with respect to the model output (``Loss.grad``) against
(L(out + h·eᵢ) − L(out − h·eᵢ)) / 2h for every entry of ``out``; for a model, the gradient of the
training objective with respect to every parameter (the network's ``backward``) against the same
differences of the objective. The batch losses of an embedding (contrastive, triplet, supcon)
are checked the same way, through the network: the gradient of the batch loss (every pair /
triplet / anchor of a 9-row batch of 3 classes, ``--mining all``) with respect to every
parameter of a network ending in 3 embedding coordinates. The error of an entry is
|a − n| / max(|a|, |n|, floor), where the floor (1e-4 × the largest entry) keeps entries
that are 0 up to rounding from counting as failures; a pair fails when its largest error
exceeds ``tol`` (1e-4; correct gradients give 1e-6 or less with h = 1e-6 on inputs drawn away
from kinks, a wrong one 1e-2 or more).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.losses.sampling import relative_error, sample_inputs

H = 1e-6
TOL = 1e-4


@dataclass(frozen=True)
class Check:
    """One gradient check: what was checked, its largest relative error, and whether it held."""

    kind: str  # "loss" or "model"
    name: str
    detail: str
    entries: int
    max_error: float
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def numeric_gradient(f: Callable[[], float], x: np.ndarray, h: float = H) -> np.ndarray:
    """Central differences of ``f()`` in every entry of ``x`` (perturbed in place, restored)."""
    flat = x.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that its entries can be perturbed in place")
    out = np.empty(flat.size)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = f()
        flat[i] = keep - h
        down = f()
        flat[i] = keep
        out[i] = (up - down) / (2 * h)
    return out.reshape(x.shape)


def check_loss(loss: Any, *, logits: bool = False, seed: int = 0, tol: float = TOL) -> Check:
    """``loss.grad`` against central differences of ``loss.value`` at sampled inputs."""
    y, out = sample_inputs(loss, logits, seed=seed)
    out = np.ascontiguousarray(out, dtype=np.float64)
    value = loss.value(y, out, logits=logits)
    analytic = np.asarray(loss.grad(y, out, logits=logits), dtype=np.float64)
    numeric = numeric_gradient(lambda: loss.value(y, out, logits=logits), out)
    error = relative_error(analytic, numeric, value)
    detail = "logits" if logits else loss.inputs
    return Check("loss", loss.name, detail, out.size, error, error <= tol)


# Small networks: every layer kind and every activation, few enough parameters to difference
# (an mlp 4-5-4-out; a cnn with both kernel sizes, pooling and flatten on 6×6×2 images).
SMALL_HIDDEN = (5, 4)
SMALL_IMAGE = (6, 6, 2)
SMALL_LAYERS = "conv3,pool,conv2k2,flatten,dense4"


EMBED_DIM = 3  # embedding coordinates of the networks that check a batch loss


def _embedding_batch(rng: np.random.Generator, n: int = 9, k: int = 3) -> np.ndarray:
    """Class codes of a batch of ``n`` rows, n/k of each of ``k`` classes (every row has a
    positive and a negative), in a random order."""
    return rng.permutation(np.arange(n) % k)


def _embedded(loss: str) -> str:
    from losslab.losses.embedding import PAIR_LOSSES

    return "embeddings" + (", mining all" if loss in PAIR_LOSSES else "")


def check_batch_loss(name: str, *, seed: int = 0, tol: float = TOL) -> Check:
    """The gradient of a batch loss of an embedding (every pair / triplet / anchor) with respect
    to the embeddings E (9 rows × 3) against central differences."""
    from losslab.losses.embedding import batch_loss, find_loss

    loss = find_loss(name)
    rng = np.random.default_rng([seed, len(loss.name)])
    y = _embedding_batch(rng)
    E = rng.normal(0.0, 1.0, (y.size, EMBED_DIM))

    def value() -> float:
        return batch_loss(loss.name, E, y, params=loss.params, want_grad=False).value

    analytic = batch_loss(loss.name, E, y, params=loss.params).grad
    assert analytic is not None
    numeric = numeric_gradient(value, E)
    error = relative_error(analytic, numeric, value())
    return Check("loss", loss.name, _embedded(loss.name), E.size, error, error <= tol)


def _network(model: Any, loss: Any, activation: str, n_features: int, k: int) -> Any:
    from losslab.nn.models import head_of
    from losslab.nn.network import Network

    head = head_of(model, loss.name)
    out = k if head.multi_output else 1
    if model.images:
        net = Network(
            [n_features, out],
            activation,
            vector_output=not head.multi_output,
            layers=SMALL_LAYERS,
            image=SMALL_IMAGE,
        )
    elif model.network:
        net = Network(
            [n_features, *SMALL_HIDDEN, out], activation, vector_output=not head.multi_output
        )
    else:
        net = Network([n_features, out], None, vector_output=not head.multi_output)
    return net, head


def check_model(
    model_name: str,
    loss_name: str | None = None,
    *,
    activation: str = "relu",
    seed: int = 0,
    tol: float = TOL,
) -> Check:
    """The network's ``backward`` (objective = mean loss + (l2/2)‖W‖² with l2 = 0.1, so the
    penalty's gradient is checked too) against central differences over every parameter."""
    from losslab.losses import LOSSES
    from losslab.nn.models import MODELS
    from losslab.nn.models import check_loss as fits

    model = MODELS.get(model_name)
    loss = LOSSES.get(loss_name or model.default_loss())
    fits(model, loss.name)
    rng = np.random.default_rng([seed, len(model.name), len(loss.name)])
    n, k = 9, 3
    p = int(np.prod(SMALL_IMAGE)) if model.images else 4
    net, head = _network(model, loss, activation, p, k)
    if model.network:
        net.init("torch", rng)
    else:  # one-layer models start at zero; move them off that symmetric point
        net.theta[...] = rng.normal(0.0, 0.5, net.theta.size)
    X = rng.normal(0.0, 1.0, (n, p))
    y, _ = sample_inputs(loss, head.logits, n=n, k=k, seed=seed)
    l2 = 0.1

    # a loss of positive predictions trains through its link (ŷ = exp(s)): the chain rule is
    # part of what is checked
    link = loss.link if loss.link is not None and not loss.score_input else None

    def predictions(S: np.ndarray) -> np.ndarray:
        return link.inverse(S) if link is not None else S

    def objective() -> float:
        P = predictions(net.forward(X, "batch"))
        return float(loss.value(y, P, logits=head.logits)) + net.penalty(0.0, l2)

    value = objective()
    S = net.forward(X, "batch")
    P = predictions(S)
    G = np.asarray(loss.grad(y, P, logits=head.logits), dtype=net.dtype)
    if link is not None:
        G = G * link.slope(S, P)
    net.backward(G, "batch")
    net.add_penalty_grad(0.0, l2)
    analytic = net.grad.copy()
    numeric = numeric_gradient(objective, net.theta)
    error = relative_error(analytic, numeric, value)
    detail = f"loss {loss.name}" + (f", {activation}" if model.network else "")
    return Check("model", model.name, detail, analytic.size, error, error <= tol)


def check_embedding(
    model_name: str,
    loss_name: str,
    *,
    activation: str = "relu",
    seed: int = 0,
    tol: float = TOL,
) -> Check:
    """The network's ``backward`` of a batch loss of an embedding (objective = the batch loss
    over every pair / triplet / anchor + (l2/2)‖W‖², l2 = 0.1) against central differences over
    every parameter of a network whose output is the embedding (3 coordinates, no head)."""
    from losslab.losses.embedding import batch_loss, find_loss
    from losslab.nn.models import EMBEDDING_MODELS, MODELS

    model, loss = MODELS.get(model_name), find_loss(loss_name)
    if model.name not in EMBEDDING_MODELS:
        raise ConfigError(
            f"loss {loss.name} trains an embedding with a {', '.join(EMBEDDING_MODELS)} model; "
            f"not {model.name}"
        )
    rng = np.random.default_rng([seed, len(model.name), len(loss.name), EMBED_DIM])
    y = _embedding_batch(rng)
    p = int(np.prod(SMALL_IMAGE)) if model.images else 4
    net, _ = _network(model, loss, activation, p, EMBED_DIM)
    net.init("torch", rng)
    X = rng.normal(0.0, 1.0, (y.size, p))
    l2 = 0.1

    def objective() -> float:
        E = net.forward(X, "batch")
        value = batch_loss(loss.name, E, y, params=loss.params, want_grad=False).value
        return value + net.penalty(0.0, l2)

    value = objective()
    result = batch_loss(loss.name, net.forward(X, "batch"), y, params=loss.params)
    assert result.grad is not None
    net.backward(np.asarray(result.grad, dtype=net.dtype), "batch")
    net.add_penalty_grad(0.0, l2)
    analytic = net.grad.copy()
    numeric = numeric_gradient(objective, net.theta)
    error = relative_error(analytic, numeric, value)
    detail = f"loss {loss.name} ({_embedded(loss.name)})" + (
        f", {activation}" if model.network else ""
    )
    return Check("model", model.name, detail, analytic.size, error, error <= tol)


def gradcheck(
    losses: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    *,
    seed: int = 0,
    tol: float = TOL,
) -> list[Check]:
    """Every requested loss (default: every per-row loss, with logits too where a loss takes
    them; triplet and supcon on embeddings) and every requested model with each loss it takes
    (networks also with every activation). A batch loss of an embedding (contrastive, triplet,
    supcon) asked for with a model is checked through that model's embedding network (not by
    default, where contrastive is the per-row loss of a distance)."""
    from losslab.losses import LOSSES
    from losslab.losses.embedding import BATCH_LOSSES, find_loss, is_embedding
    from losslab.nn.activations import ACTIVATIONS
    from losslab.nn.models import EMBEDDING_MODELS, MODELS

    everything = losses is None and models is None
    if everything:
        losses, models = LOSSES.names(), MODELS.names()
    loss_names = [find_loss(name).name for name in (losses or [])]
    model_names = [MODELS.resolve(name) for name in (models or [])]
    checks: list[Check] = []
    for name in loss_names:
        if name in BATCH_LOSSES:
            checks.append(check_batch_loss(name, seed=seed, tol=tol))
            continue
        loss = LOSSES.get(name)
        for logits in (False, True) if loss.supports_logits else (False,):
            checks.append(check_loss(loss, logits=logits, seed=seed, tol=tol))
    # the embedding networks when asked for (the default checks contrastive on a distance)
    embedded = [] if everything else [ln for ln in loss_names if is_embedding(ln)]
    for name in model_names:
        model = MODELS.get(name)
        wanted = [ln for ln in model.losses if ln in loss_names] if loss_names else model.losses
        embeds = embedded if name in EMBEDDING_MODELS else []
        if embedded and not embeds and not wanted:
            check_embedding(name, embedded[0])  # the one-line refusal
        for loss_name in wanted or ([] if embeds else model.losses):
            checks.append(check_model(name, loss_name, seed=seed, tol=tol))
        for loss_name in embeds:
            checks.append(check_embedding(name, loss_name, seed=seed, tol=tol))
        if model.network:
            for activation in ACTIVATIONS.names():
                if activation == "relu":
                    continue
                if embeds and not wanted:  # only embedding losses asked: they take the turn
                    checks.append(
                        check_embedding(name, embeds[0], activation=activation, seed=seed, tol=tol)
                    )
                else:
                    checks.append(check_model(name, activation=activation, seed=seed, tol=tol))
    return checks
