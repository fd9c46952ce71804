"""Activation functions of hidden layers: ``forward`` and ``backward`` pairs on whole arrays.

Each follows torch.nn's definition and the order of operations of its backward kernel, so that a
network trained here equals ``torch.nn.Sequential`` step for step in float64:

- relu: max(z, 0); gradient where z > 0 (0 at z = 0, as torch).
- leaky-relu: z if z > 0 else 0.01·z (torch's ``negative_slope``); gradient 1 or 0.01.
- tanh: tanh(z); gradient 1 − a².
- sigmoid: σ(z) = 1/(1 + e^−z), torch's form, exact in both tails; gradient (1 − a)·a.
- gelu: z·Φ(z) = ½·z·(1 + erf(z/√2)), torch's exact (erf) form; gradient Φ(z) + z·φ(z).

``erf`` is W. J. Cody / S. L. Moshier's rational approximation (the Cephes library's, which
scipy.special uses), vectorised: relative error below 1e-15 over the real line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from losslab.registry import Registry

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """``forward(Z, A)`` writes f(Z) into A; ``backward(D, Z, A)`` multiplies the upstream
    gradient D by f′ in place, reading Z (the input) or A (the output) as the rule needs."""

    name: str
    formula: str
    forward: Callable[[np.ndarray, np.ndarray], None]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], None]


ACTIVATIONS: Registry[Activation] = Registry("activation")


def _relu(Z: np.ndarray, A: np.ndarray) -> None:
    np.maximum(Z, 0.0, out=A)


def _relu_back(D: np.ndarray, Z: np.ndarray, A: np.ndarray) -> None:
    np.multiply(D, A > 0, out=D)


def _leaky(Z: np.ndarray, A: np.ndarray) -> None:
    np.multiply(Z, LEAKY_SLOPE, out=A)
    np.maximum(Z, A, out=A)  # for slope < 1: z if z > 0 else slope·z


def _leaky_back(D: np.ndarray, Z: np.ndarray, A: np.ndarray) -> None:
    np.multiply(D, np.where(Z > 0, 1.0, LEAKY_SLOPE).astype(D.dtype, copy=False), out=D)


def _tanh(Z: np.ndarray, A: np.ndarray) -> None:
    np.tanh(Z, out=A)


def _tanh_back(D: np.ndarray, Z: np.ndarray, A: np.ndarray) -> None:
    t = A * A
    np.subtract(1.0, t, out=t)
    D *= t


def sigmoid(
    z: np.ndarray, out: np.ndarray | None = None, *, overflow_ignored: bool = False
) -> np.ndarray:
    """σ(z) = 1/(1 + e^−z), in torch's order of operations (its CPU sigmoid kernel).

    Exact to a few ulps in both tails: below 0, e^−z is large and 1/(1 + e^−z) keeps full
    relative accuracy (σ(−40) = 4.2e-18), unlike ½(1 + tanh(z/2)), which rounds to 0 below −37.
    Below z ≈ −709.8, e^−z overflows to inf, silently, and σ is 0, as torch's (the true value
    is subnormal). ``overflow_ignored``: the caller already runs under
    ``np.errstate(over="ignore")`` (the training loop's hot path, where entering another costs
    as much as the rest of σ).
    """
    z = np.asarray(z)
    if out is None:
        out = np.empty(z.shape, z.dtype if z.dtype.kind == "f" else np.float64)
    np.negative(z, out=out)
    if overflow_ignored:
        np.exp(out, out=out)
    else:
        with np.errstate(over="ignore"):
            np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def _sigmoid(Z: np.ndarray, A: np.ndarray) -> None:
    sigmoid(Z, A)


def _sigmoid_back(D: np.ndarray, Z: np.ndarray, A: np.ndarray) -> None:
    D *= 1.0 - A
    D *= A


def _gelu(Z: np.ndarray, A: np.ndarray) -> None:
    np.multiply(Z, math.sqrt(0.5), out=A)
    A[...] = erf(A)
    A += 1.0
    A *= Z
    A *= 0.5


_PDF_COEF = 0.5 * (2.0 / math.sqrt(math.pi)) * math.sqrt(0.5)  # torch: M_2_SQRTPI·M_SQRT1_2·½


def _gelu_back(D: np.ndarray, Z: np.ndarray, A: np.ndarray) -> None:
    cdf = 0.5 * (1.0 + erf(Z * math.sqrt(0.5)))
    pdf = np.exp(-0.5 * Z * Z) * _PDF_COEF
    D *= cdf + Z * pdf


ACTIVATIONS.add("relu", Activation("relu", "max(z, 0)", _relu, _relu_back))
ACTIVATIONS.add(
    "leaky-relu",
    Activation("leaky-relu", f"z if z > 0 else {LEAKY_SLOPE}·z", _leaky, _leaky_back),
    aliases=("leakyrelu",),
)
ACTIVATIONS.add("tanh", Activation("tanh", "tanh(z)", _tanh, _tanh_back))
ACTIVATIONS.add(
    "sigmoid", Activation("sigmoid", "1/(1 + e^−z)", _sigmoid, _sigmoid_back), aliases=("logistic",)
)
ACTIVATIONS.add("gelu", Activation("gelu", "z·Φ(z) = ½z(1 + erf(z/√2))", _gelu, _gelu_back))


# --------------------------------------------------------------------------- erf

_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
      7.00332514112805075473e3, 5.55923013010394962768e4)  # fmt: skip
_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
      2.26290000613890934246e4, 4.92673942608635921086e4)  # fmt: skip
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
      4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
      9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)  # fmt: skip
_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
      9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
      1.65666309194161350182e3, 5.57535340817727675546e2)  # fmt: skip


def _poly(x: np.ndarray, coefs: tuple[float, ...]) -> np.ndarray:
    """Horner's rule, highest power first."""
    out = np.full_like(x, coefs[0])
    for c in coefs[1:]:
        out *= x
        out += c
    return out


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise (float64 accuracy; float32 in, float32 out).

    |x| ≤ 1: x·T(x²)/U(x²); 1 < |x| < 8: 1 − e^(−x²)·P(|x|)/Q(|x|); |x| ≥ 8: ±1 (erfc(8) is
    1e-29, below half an ulp of 1). NaN stays NaN.
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    a = np.abs(x.astype(np.float64, copy=False))
    out = np.empty_like(a)
    small = a <= 1.0
    if small.any():
        s = a[small]
        z = s * s
        out[small] = s * _poly(z, _T) / _poly(z, _U)
    mid = ~small & ~(a >= 8.0)  # NaN goes here and stays NaN
    if mid.any():
        s = a[mid]
        out[mid] = 1.0 - np.exp(-s * s) * _poly(s, _P) / _poly(s, _Q)
    big = a >= 8.0
    if big.any():
        out[big] = 1.0
    np.copysign(out, x, out=out)
    return out.astype(dtype, copy=False)
