"""Robust regression losses: a residual d = ŷ − y at a scale c (``--robust-c``), r = d/c.

Each is ρ(d) with its influence function ψ = ρ′ as the gradient. Near d = 0 every one is the
square's bowl (ρ ≈ ½d² up to the constant of its definition); far out they part: Cauchy grows
like log |d| (ψ → 0 but never crosses), Geman-McClure, Welsch and Tukey flatten to a constant
(ψ redescends to 0; Tukey's is exactly 0 beyond c), and Barron's general loss (Barron 2019,
"A General and Adaptive Robust Loss Function", eq. 1) moves between them through its shape α
(``--robust-alpha``): 2 the square, 1 pseudo-Huber, 0 Cauchy's log, −2 Geman-McClure, −∞ Welsch.

Barron's ρ is computed in a form that needs no special case near α = 0 and keeps full
precision there, ``(b/α)·expm1((α/2)·log1p(z/b))`` with z = r², b = |α − 2|, and near α = 2 in
``(z·e^{εu/2} + b·expm1(εu/2))/α`` with ε = α − 2, u = log(1 + z/b), which stays finite where
z/b overflows; α = 0, 2 and −∞ are its exact limits. The reference implementation
(``robust_loss_pytorch.general.lossfun``) clamps |α| and |α − 2| at float32's machine epsilon
(1.2e-7) before dividing: within that distance of 0 and 2 it departs from ρ, and we do not.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losslab.hyper import Hyper, positive
from losslab.losses.base import check_real, register_loss

ROBUST_C = positive("robust_c", 1.0, "Scale c of the robust losses: the residual is read as d/c")
ROBUST_ALPHA = Hyper(
    "robust_alpha",
    1.0,
    "Barron's shape α: 2 square, 1 pseudo-Huber, 0 Cauchy, −2 Geman-McClure, -inf Welsch",
    low=-math.inf,
    high=math.inf,
    high_open=True,
)

# The family, in the order of the listings and of `losslab shapes --family robust`.
ROBUST = ("cauchy", "geman-mcclure", "welsch", "tukey", "barron")

REAL = "y, ŷ real; scale c > 0"


def _robust(
    name: str, formula: str, grad: Any, *, aliases: tuple[str, ...] = (), **more: Any
) -> Any:
    """register_loss with what the family shares: regression, real inputs, the scale c."""
    spec = {"params": (ROBUST_C,), "inputs": REAL, **more}
    return register_loss(
        name, aliases=aliases, grad=grad, check=check_real, task="regression", formula=formula,
        **spec,
    )  # fmt: skip


def _r(y: np.ndarray, out: np.ndarray, c: float) -> np.ndarray:
    return (out - y) / c


def _z(y: np.ndarray, out: np.ndarray, c: float) -> np.ndarray:
    """z = (d/c)², capped at 1e300 instead of overflowing: only for the losses that are flat
    that far out (their values and slopes are exact at the cap)."""
    a = np.minimum(np.abs(_r(y, out, c)), 1e150)
    return a * a


def _log1p_z(r: np.ndarray, b: float) -> np.ndarray:
    """u = log(1 + r²/b) for b > 0: log1p where r²/b is finite, 2·log|r| − log b where it
    overflows (there b/r² < 1e-308, below log1p's resolution)."""
    a = np.abs(r)
    with np.errstate(over="ignore"):
        q = a * a / b
    far = 2.0 * np.log(np.maximum(a, 1e-300)) - math.log(b)
    return np.where(np.isfinite(q), np.log1p(q), far)


# --------------------------------------------------------------------------- the fixed shapes


def cauchy_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, robust_c: float = 1.0
) -> np.ndarray:
    """ψ = d / (1 + (d/c)²), as c / (r + 1/r) for |r| > 1 (no overflow): bounded by c/2
    (at |d| = c), → 0 far out."""
    r = _r(y, out, robust_c)
    far = np.abs(r) > 1.0
    s = np.where(far, r, 1.0)
    near = np.where(far, 0.0, r)
    return np.where(far, robust_c / (s + 1.0 / s), near * robust_c / (1.0 + near * near))


@_robust("cauchy", "½c²·log(1 + (d/c)²)", cauchy_grad, aliases=("lorentzian",))
def cauchy(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, robust_c: float = 1.0
) -> np.ndarray:
    """½c²·log1p((d/c)²) (Cauchy / Lorentzian; ½d² near 0)."""
    return 0.5 * robust_c * robust_c * _log1p_z(_r(y, out, robust_c), 1.0)


def geman_mcclure_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, robust_c: float = 1.0
) -> np.ndarray:
    """ψ = 16d / (c²·((d/c)² + 4)²); redescending."""
    r = _r(y, out, robust_c)
    q = _z(y, out, robust_c) + 4.0
    return 16.0 * r / robust_c / q / q


@_robust("geman-mcclure", "2(d/c)² / ((d/c)² + 4)", geman_mcclure_grad)
def geman_mcclure(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, robust_c: float = 1.0
) -> np.ndarray:
    """2z / (z + 4) with z = (d/c)² (Geman & McClure 1985, in Barron's scaling: ½(d/c)² near
    0, → 2 far out); 2 where z overflows."""
    z = _z(y, out, robust_c)
    return 2.0 * z / (z + 4.0)


def welsch_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, robust_c: float = 1.0
) -> np.ndarray:
    """ψ = (d/c²)·exp(−½(d/c)²); redescending."""
    return _r(y, out, robust_c) / robust_c * np.exp(-0.5 * _z(y, out, robust_c))


@_robust("welsch", "1 − exp(−½(d/c)²)", welsch_grad, aliases=("leclerc",))
def welsch(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, robust_c: float = 1.0
) -> np.ndarray:
    """−expm1(−½(d/c)²) (Welsch / Leclerc; ½(d/c)² near 0, → 1 far out)."""
    return -np.expm1(-0.5 * _z(y, out, robust_c))


def tukey_grad(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, robust_c: float = 1.0
) -> np.ndarray:
    """ψ = d·(1 − (d/c)²)² for |d| ≤ c, 0 beyond (continuous at |d| = c)."""
    t = 1.0 - np.minimum(_z(y, out, robust_c), 1.0)
    return (out - y) * t * t


@_robust(
    "tukey",
    "c²/6·(1 − (1 − (d/c)²)³) if |d| ≤ c else c²/6",
    tukey_grad,
    aliases=("biweight", "bisquare"),
)
def tukey(
    y: np.ndarray, out: np.ndarray, *, logits: bool = False, robust_c: float = 1.0
) -> np.ndarray:
    """c²/6·(1 − (1 − (d/c)²)³) for |d| ≤ c, c²/6 beyond (Tukey's biweight; ½d² near 0)."""
    z = np.minimum(_z(y, out, robust_c), 1.0)  # 1 − (1 − z)³ = z·(3 − 3z + z²): no cancellation
    return robust_c * robust_c / 6.0 * z * (3.0 - 3.0 * z + z * z)


# --------------------------------------------------------------------------- Barron


NEAR_TWO = 0.5  # |α − 2| below: the form that stays finite as z/|α − 2| overflows


def barron_grad(
    y: np.ndarray,
    out: np.ndarray,
    *,
    logits: bool = False,
    robust_c: float = 1.0,
    robust_alpha: float = 1.0,
) -> np.ndarray:
    """ψ = (d/c²)·((d/c)²/|α − 2| + 1)^(α/2 − 1) (Barron's eq. 14), as
    (d/c²)·exp(((α − 2)/2)·log1p(z/|α − 2|)); d/c² at α = 2, (d/c²)·exp(−½(d/c)²) at −∞."""
    c, a = robust_c, robust_alpha
    r = _r(y, out, c)
    if a == 2.0:
        return r / c
    if a == -math.inf:
        return r / c * np.exp(-0.5 * _z(y, out, c))
    return r / c * np.exp(0.5 * (a - 2.0) * _log1p_z(r, abs(a - 2.0)))


@_robust(
    "barron",
    "|α − 2|/α·(((d/c)²/|α − 2| + 1)^(α/2) − 1)",
    barron_grad,
    aliases=("general-robust", "adaptive-robust"),
    params=(ROBUST_C, ROBUST_ALPHA),
    inputs="y, ŷ real; scale c > 0; shape α real or -inf",
)
def barron(
    y: np.ndarray,
    out: np.ndarray,
    *,
    logits: bool = False,
    robust_c: float = 1.0,
    robust_alpha: float = 1.0,
) -> np.ndarray:
    """Barron's general loss ρ(d, α, c) (eq. 1) with its limits: ½(d/c)² at α = 2,
    log(½(d/c)² + 1) at α = 0, 1 − exp(−½(d/c)²) at α = −∞."""
    c, a = robust_c, robust_alpha
    r = _r(y, out, c)
    if a == -math.inf:
        return -np.expm1(-0.5 * _z(y, out, c))
    if a == 0.0:
        return _log1p_z(r, 2.0)
    with np.errstate(over="ignore"):  # a value beyond float64 is inf, for the caller to report
        if a == 2.0:
            return 0.5 * r * r
        b = abs(a - 2.0)
        u = _log1p_z(r, b)
        if b >= NEAR_TWO:
            return b / a * np.expm1(0.5 * a * u)
        # (b/α)·((1 + z/b)·(1 + z/b)^(ε/2) − 1) = (z·e^(εu/2) + b·expm1(εu/2)) / α, z·e^(εu/2)
        # as exp(2·log|r| + εu/2) where z overflows
        h = 0.5 * (a - 2.0) * u
        z = r * r
        zh = np.where(np.isfinite(z), z * np.exp(h), np.exp(2.0 * np.log(np.abs(r) + 1e-300) + h))
        return (zh + b * np.expm1(h)) / a
