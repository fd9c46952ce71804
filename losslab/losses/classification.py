"""Classification losses: binary (probabilities, logits or margins) and multiclass."""

from __future__ import annotations

import numpy as np

from losslab.losses.base import (
    GAMMA,
    LABEL_SMOOTHING,
    MARGIN,
    P,
    _check_classes,
    _clip,
    _no_logits,
    _rows_and_classes,
    _sigmoid,
    _signs,
    _softplus,
    check_binary,
    check_distributions,
    check_focal,
    check_margin,
    register_loss,
)

# --------------------------------------------------------------------------- binary


def bce_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """σ(s) − y for logits; (p − y) / (p(1 − p)) for probabilities, evaluated at the clipped p
    (so it stays finite at p = 0 or 1 and still points inwards)."""
    if logits:
        return _sigmoid(out) - y
    p = _clip(out)
    return (p - y) / (p * (1.0 - p))


def _bce_terms(
    y: np.ndarray,
    out: np.ndarray,
    pos_weight: np.ndarray,
    *,
    logits: bool = False,
    grad: bool = False,
) -> tuple[np.ndarray, None, np.ndarray]:
    """torch's ``binary_cross_entropy_with_logits`` with ``pos_weight`` w, row by row:
    −[w·y·log σ(s) + (1 − y)·log(1 − σ(s))] in torch's form (1 − y)·s + (1 + (w − 1)·y)·
    (log1p(e^−|s|) + max(−s, 0)), gradient σ(s)·(1 + (w − 1)·y) − w·y; from probabilities p
    (clipped), −[w·y·log p + (1 − y)·log(1 − p)] and −w·y/p + (1 − y)/(1 − p). The mean is
    over rows (no denominator), as torch's."""
    w = float(pos_weight)
    if logits:
        lw = 1.0 + (w - 1.0) * y
        values = (1.0 - y) * out + lw * (np.log1p(np.exp(-np.abs(out))) + np.maximum(-out, 0.0))
        g = _sigmoid(out) * lw - w * y if grad else values
        return values, None, g
    p = _clip(out)
    values = -(w * y * np.log(p) + (1.0 - y) * np.log1p(-p))
    g = -w * y / p + (1.0 - y) / (1.0 - p) if grad else values
    return values, None, g


@register_loss(
    "bce",
    aliases=("log-loss", "binary-cross-entropy"),
    class_rows=_bce_terms,
    grad=bce_grad,
    check=check_binary,
    task="binary",
    inputs="y ∈ [0,1], p ∈ [0,1]",
    formula="−[y log p + (1 − y) log(1 − p)]",
    supports_logits=True,
)
def bce(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−[y log p + (1 − y) log(1 − p)] with p clipped; from a logit s,
    max(s, 0) − s·y + log1p(e^−|s|) (torch ``binary_cross_entropy_with_logits``)."""
    if logits:
        return np.maximum(out, 0.0) - out * y + np.log1p(np.exp(-np.abs(out)))
    p = _clip(out)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def focal_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, gamma: float = 2.0
) -> np.ndarray:
    """From logits: −t (1 − p_t)^γ [γ p_t softplus(−z) + 1 − p_t]; from probabilities:
    t [γ (1 − p_t)^(γ−1) log p_t − (1 − p_t)^γ / p_t] at the clipped p. Smooth: no kinks."""
    t = _signs(y)
    if logits:
        z = t * out
        sp_neg, sp_pos = _softplus(-z), _softplus(z)
        return -t * np.exp(-gamma * sp_pos) * (gamma * np.exp(-sp_neg) * sp_neg + np.exp(-sp_pos))
    p = _clip(out)
    pos = y == 1
    q = np.where(pos, 1.0 - p, p)
    pt = np.where(pos, p, 1.0 - p)
    log_pt = np.where(pos, np.log(p), np.log1p(-p))
    return t * (gamma * q ** (gamma - 1.0) * log_pt - q**gamma / pt)


@register_loss(
    "focal",
    params=(GAMMA,),
    grad=focal_grad,
    check=check_focal,
    task="binary",
    inputs="y ∈ {0,1}, p ∈ [0,1]",
    formula="−(1 − p_t)^γ log p_t, p_t = p if y = 1 else 1 − p",
    supports_logits=True,
)
def focal(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, gamma: float = 2.0
) -> np.ndarray:
    """−(1 − p_t)^γ log p_t, p_t = p for y = 1 and 1 − p for y = 0 (Lin et al. 2017, without
    α). From logits, with z = t·s: log p_t = −softplus(−z) and log(1 − p_t) = −softplus(z)."""
    if logits:
        z = _signs(y) * out
        return np.exp(-gamma * _softplus(z)) * _softplus(-z)
    p = _clip(out)
    pos = y == 1
    q = np.where(pos, 1.0 - p, p)  # 1 − p_t, without the cancellation of 1 − (1 − p)
    log_pt = np.where(pos, np.log(p), np.log1p(-p))
    return -(q**gamma) * log_pt


# --------------------------------------------------------------------------- margin

MARGIN_INPUTS = "y ∈ {0,1} or {−1,1}, score s"


def hinge_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−t where t·s ≤ 1 (the kink included, as scikit-learn's ``dloss``), else 0."""
    t = _signs(y)
    return np.where(t * out <= 1.0, -t, 0.0)


@register_loss(
    "hinge",
    grad=hinge_grad,
    check=check_margin,
    task="margin",
    inputs=MARGIN_INPUTS,
    formula="max(0, 1 − t·s), t = ±1",
)
def hinge(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """max(0, 1 − t·s), t = +1 for a positive label, −1 otherwise (scikit-learn ``Hinge``)."""
    return np.maximum(1.0 - _signs(y) * out, 0.0)


def squared_hinge_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−2t·max(0, 1 − t·s); continuous."""
    t = _signs(y)
    return -2.0 * t * np.maximum(1.0 - t * out, 0.0)


@register_loss(
    "squared-hinge",
    grad=squared_hinge_grad,
    check=check_margin,
    task="margin",
    inputs=MARGIN_INPUTS,
    formula="max(0, 1 − t·s)²",
)
def squared_hinge(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """max(0, 1 − t·s)² (scikit-learn ``SquaredHinge``)."""
    gap = np.maximum(1.0 - _signs(y) * out, 0.0)
    return gap * gap


def modified_huber_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−2t·max(0, 1 − z) for z = t·s ≥ −1, else −4t; continuous."""
    t = _signs(y)
    z = t * out
    return np.where(z >= -1.0, -2.0 * t * np.maximum(1.0 - z, 0.0), -4.0 * t)


@register_loss(
    "modified-huber",
    grad=modified_huber_grad,
    check=check_margin,
    task="margin",
    inputs=MARGIN_INPUTS,
    formula="max(0, 1 − t·s)² if t·s ≥ −1 else −4t·s",
)
def modified_huber(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """max(0, 1 − z)² for z = t·s ≥ −1, else −4z (Zhang 2004; scikit-learn ``ModifiedHuber``)."""
    z = _signs(y) * out
    gap = np.maximum(1.0 - z, 0.0)
    return np.where(z >= -1.0, gap * gap, -4.0 * z)


def perceptron_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−t where t·s ≤ 0 (the kink included, scikit-learn's ``Hinge(0)``), else 0."""
    t = _signs(y)
    return np.where(t * out <= 0.0, -t, 0.0)


@register_loss(
    "perceptron",
    grad=perceptron_grad,
    check=check_margin,
    task="margin",
    inputs=MARGIN_INPUTS,
    formula="max(0, −t·s)",
)
def perceptron(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """max(0, −t·s) (Rosenblatt; scikit-learn ``SGDClassifier(loss="perceptron")``)."""
    return np.maximum(-_signs(y) * out, 0.0)


def soft_margin_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−t·σ(−t·s); smooth."""
    t = _signs(y)
    return -t * _sigmoid(-t * out)


@register_loss(
    "soft-margin",
    grad=soft_margin_grad,
    check=check_margin,
    task="margin",
    inputs=MARGIN_INPUTS,
    formula="log(1 + exp(−t·s))",
)
def soft_margin(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """log(1 + e^(−t·s)) as softplus(−t·s) (torch ``SoftMarginLoss``)."""
    return _softplus(-_signs(y) * out)


# --------------------------------------------------------------------------- multiclass


def cross_entropy_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, label_smoothing: float = 0.0
) -> np.ndarray:
    """softmax(s) − onehot(y) for logits; −1/p_y in column y (clipped p_y) for probabilities;
    with label smoothing ε the target q = (1 − ε)·onehot + ε/K takes onehot's place (−q/p)."""
    if label_smoothing:
        return _cross_entropy_terms(
            y, out, None, logits=logits, grad=True, label_smoothing=label_smoothing
        )[2]
    rows, cls = _rows_and_classes(y, out)
    if not logits:
        g = np.zeros_like(out)
        g[rows, cls] = -1.0 / _clip(out[rows, cls])
        return g
    e = np.exp(out - out.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    e[rows, cls] -= 1.0
    return e


def _cross_entropy_terms(
    y: np.ndarray,
    out: np.ndarray,
    weight: np.ndarray | None,
    *,
    logits: bool = False,
    grad: bool = False,
    label_smoothing: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """torch's ``cross_entropy`` with ``weight`` w and ``label_smoothing`` ε, row by row:
    (1 − ε)·w_y·(−log p_y) + (ε/K)·Σ_k w_k·(−log p_k), the denominator w_y of torch's weighted
    mean, and the gradient (Σ_k a_k)·p − a with a = (1 − ε)·w_y·onehot + (ε/K)·w (from
    probabilities: −a/p). Without weights w = 1 and the denominator is None."""
    n, k = out.shape
    rows, cls = _rows_and_classes(y, out)
    w = np.ones(k) if weight is None else weight
    eps = label_smoothing
    if logits:
        top = out.argmax(axis=1)
        z = out - out[rows, top][:, None]
        e = np.exp(z)
        e[rows, top] = 0.0  # the max's own e⁰ = 1 goes to log1p, as in cross_entropy
        nll = np.log1p(e.sum(axis=1))[:, None] - z  # −log p_k, every k
    else:
        nll = -np.log(_clip(out))
    wy = w[cls]
    values = (1.0 - eps) * wy * nll[rows, cls]
    if eps:
        values += (eps / k) * (nll @ w)
    g = values
    if grad:
        a = np.tile((eps / k) * w, (n, 1))
        a[rows, cls] += (1.0 - eps) * wy
        if logits:
            e[rows, top] = 1.0
            g = a.sum(axis=1, keepdims=True) * (e / e.sum(axis=1, keepdims=True)) - a
        else:
            g = -a / _clip(out)
    return values, (None if weight is None else wy), g


@register_loss(
    "cross-entropy",
    aliases=("ce", "categorical-cross-entropy"),
    grad=cross_entropy_grad,
    check=_check_classes(probabilities=True),
    task="multiclass",
    inputs="class y, K probabilities",
    formula="−log p_y; smoothed: −Σ_k q_k log p_k, q = (1 − ε)·onehot(y) + ε/K",
    params=(LABEL_SMOOTHING,),
    class_rows=_cross_entropy_terms,
    supports_logits=True,
    multi_output=True,
)
def cross_entropy(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, label_smoothing: float = 0.0
) -> np.ndarray:
    """−log p_y with p clipped; from logits, logsumexp(s) − s_y (torch ``cross_entropy``),
    computed with the row max m shifted out as log1p(Σ_{j≠m} e^(s_j − m)) − (s_y − m). With
    label smoothing ε, (1 − ε)·(−log p_y) + (ε/K)·Σ_k −log p_k (torch's ``label_smoothing``)."""
    if label_smoothing:
        return _cross_entropy_terms(y, out, None, logits=logits, label_smoothing=label_smoothing)[0]
    rows, cls = _rows_and_classes(y, out)
    if not logits:
        return -np.log(_clip(out[rows, cls]))
    top = out.argmax(axis=1)
    z = out - out[rows, top][:, None]
    e = np.exp(z)
    e[rows, top] = 0.0  # the max's own e⁰ = 1 goes to log1p: confident rows keep their digits
    return np.log1p(e.sum(axis=1)) - z[rows, cls]


def _rival(y: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, the column of the best wrong class, and the margin term 1 + s_rival − s_y."""
    rows, cls = _rows_and_classes(y, out)
    others = out.copy()
    others[rows, cls] = -np.inf
    rival = others.argmax(axis=1)
    return rows, rival, 1.0 + others[rows, rival] - out[rows, cls]


def multiclass_hinge_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−1 in column y and +1 in the best wrong column where the margin term is ≥ 0 (the kink
    counts as active, as for the binary hinge); a tie for best wrong class goes to the first."""
    rows, rival, margin = _rival(y, out)
    active = (margin >= 0.0).astype(np.float64)
    g = np.zeros_like(out)
    g[rows, y.astype(np.intp)] = -active
    g[rows, rival] += active
    return g


@register_loss(
    "multiclass-hinge",
    grad=multiclass_hinge_grad,
    check=_check_classes(probabilities=False),
    task="multiclass",
    inputs="class y, K scores",
    formula="max(0, 1 + max_{j≠y} s_j − s_y)",
    multi_output=True,
)
def multiclass_hinge(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """max(0, 1 + max_{j≠y} s_j − s_y) (Crammer & Singer 2001; scikit-learn ``hinge_loss``)."""
    return np.maximum(_rival(y, out)[2], 0.0)


def _margin_terms(
    y: np.ndarray, out: np.ndarray, margin: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, classes, h) with h_i = margin − s_y + s_i for i ≠ y and 0 in column y."""
    rows, cls = _rows_and_classes(y, out)
    h = margin - out[rows, cls][:, None] + out
    h[rows, cls] = 0.0
    return rows, cls, h


def multi_margin_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, p: int = 1, margin: float = 1.0
) -> np.ndarray:
    """p·h_i^(p−1)/K in each column i ≠ y with h_i > 0 (strictly, as torch's kernel: 0 at the
    kink), minus their sum in column y."""
    rows, cls, h = _margin_terms(y, out, margin)
    g = np.where(h > 0.0, 1.0 if p == 1 else 2.0 * h, 0.0) / out.shape[1]
    g[rows, cls] = -g.sum(axis=1)
    return g


@register_loss(
    "multi-margin",
    params=(P, MARGIN),
    grad=multi_margin_grad,
    check=_check_classes(probabilities=False),
    task="multiclass",
    inputs="class y, K scores",
    formula="Σ_{i≠y} max(0, m − s_y + s_i)^p / K",
    multi_output=True,
)
def multi_margin(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, p: int = 1, margin: float = 1.0
) -> np.ndarray:
    """Σ_{i≠y} max(0, m − s_y + s_i)^p / K (Weston & Watkins 1999; torch ``MultiMarginLoss``,
    p ∈ {1, 2})."""
    h = np.maximum(_margin_terms(y, out, margin)[2], 0.0)
    if p == 2:
        h = h * h
    return h.sum(axis=1) / out.shape[1]


# --------------------------------------------------------------------------- distribution, pair


def kl_div_grad(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """−q_k / p_k at the clipped p."""
    _no_logits("kl-div", logits)
    return -y / _clip(out)


@register_loss(
    "kl-div",
    aliases=("kl",),
    grad=kl_div_grad,
    check=check_distributions,
    task="distribution",
    inputs="K target probs q, K probs p",
    formula="Σ q log(q / p)",
    multi_output=True,
    multi_target=True,
)
def kl_div(y: np.ndarray, out: np.ndarray, *, logits: bool = False) -> np.ndarray:
    """Σ_k q_k log(q_k / p_k) with 0·log 0 = 0 and p clipped (torch ``kl_div(log p, q)``)."""
    _no_logits("kl-div", logits)
    log_q = np.log(np.where(y > 0, y, 1.0))
    return np.sum(y * (log_q - np.log(_clip(out))), axis=1)
