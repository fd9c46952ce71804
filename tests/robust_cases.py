"""The robust losses' rows of test_losses.py's generic tables (losses/robust.py), kept apart so
that the shared tables grow by one line each: per-row math references, torch expressions,
extreme inputs, aliases and the alternative parameters the generic tests use."""

from __future__ import annotations

import math

ALT_PARAMS = {"robust_c": 0.7, "robust_alpha": -0.5}

ALIASES = {
    "cauchy": {"lorentzian"},
    "geman-mcclure": set(),
    "welsch": {"leclerc"},
    "tukey": {"biweight", "bisquare"},
    "barron": {"general-robust", "adaptive-robust"},
}

PARAMS = {
    "cauchy": {"robust_c": 1.0},
    "geman-mcclure": {"robust_c": 1.0},
    "welsch": {"robust_c": 1.0},
    "tukey": {"robust_c": 1.0},
    "barron": {"robust_c": 1.0, "robust_alpha": 1.0},
}


def _barron(d: float, c: float, a: float) -> float:
    """Barron's eq. 1 written out with the math module (α ∉ {0, 2}, as the samples are):
    x^(α/2) − 1 as expm1((α/2)·log x), exact for small residuals."""
    b = abs(a - 2)
    return b / a * math.expm1(a / 2 * math.log1p((d / c) ** 2 / b))


def _tukey(d: float, c: float) -> float:
    return c * c / 6 * (1 - (1 - (d / c) ** 2) ** 3) if abs(d) <= c else c * c / 6


REFERENCE = {
    "cauchy": lambda y, o, lg, robust_c: 0.5 * robust_c**2 * math.log1p(((o - y) / robust_c) ** 2),
    "geman-mcclure": lambda y, o, lg, robust_c: (
        2 * ((o - y) / robust_c) ** 2 / (((o - y) / robust_c) ** 2 + 4)
    ),
    "welsch": lambda y, o, lg, robust_c: -math.expm1(-0.5 * ((o - y) / robust_c) ** 2),
    "tukey": lambda y, o, lg, robust_c: _tukey(o - y, robust_c),
    "barron": lambda y, o, lg, robust_c, robust_alpha: _barron(o - y, robust_c, robust_alpha),
}


def torch_loss(name, torch, y, o, kw):
    """The same losses in torch ops (Barron's as robust_loss_pytorch's general case)."""
    c = kw["robust_c"]
    r2 = ((o - y) / c) ** 2
    if name == "cauchy":
        return (0.5 * c * c * torch.log1p(r2)).mean()
    if name == "geman-mcclure":
        return (2 * r2 / (r2 + 4)).mean()
    if name == "welsch":
        return (-torch.expm1(-0.5 * r2)).mean()
    if name == "tukey":
        inside = c * c / 6 * (1 - (1 - r2) ** 3)
        return torch.where(r2 <= 1, inside, torch.full_like(r2, c * c / 6)).mean()
    if name == "barron":
        a = kw["robust_alpha"]
        b = abs(a - 2)
        return (b / a * (torch.pow(r2 / b + 1, a / 2) - 1)).mean()
    return None


BIG = 1e4

# (y, out, logits, params, expected per-row values): far-out residuals and a huge one
EXTREMES = {
    "cauchy": [([0, 0], [BIG, -1e200], False, {}, [0.5 * math.log1p(BIG**2), 200 * math.log(10)])],
    "geman-mcclure": [([0, 0], [BIG, -1e200], False, {}, [2 * BIG**2 / (BIG**2 + 4), 2.0])],
    "welsch": [([0, 0], [BIG, -1e200], False, {}, [1.0, 1.0])],
    "tukey": [([0, 0], [BIG, -1e200], False, {}, [1 / 6, 1 / 6])],
    "barron": [
        ([0, 0], [BIG, -1e100], False, {}, [math.sqrt(1 + BIG**2) - 1, 1e100]),
        ([0, 0], [BIG, -1e200], False, {"robust_alpha": -math.inf}, [1.0, 1.0]),
        ([0], [BIG], False, {"robust_alpha": 0.0}, [math.log1p(0.5 * BIG**2)]),
        ([0], [BIG], False, {"robust_alpha": -2.0}, [2 * BIG**2 / (BIG**2 + 4)]),
    ],
}

BAD_PARAMS = [
    ("cauchy", {"robust_c": 0.0}, "robust_c must be > 0; found 0"),
    ("tukey", {"robust_c": -1.0}, "robust_c must be > 0; found -1"),
    ("welsch", {"robust_c": math.inf}, "found inf"),
    ("barron", {"robust_alpha": math.nan}, "robust_alpha must be in [-inf, inf); found nan"),
    ("barron", {"robust_alpha": math.inf}, "robust_alpha must be in [-inf, inf); found inf"),
]
