"""Robust losses (losses/robust.py): Barron's general loss against its reference implementation
(``robust_loss_pytorch.general.lossfun``, written out below as it computes, epsilon handling
included) and against the same formula at 60 digits, its limits from both sides, ψ against
finite differences, and the properties `explain` states (bounded, redescending)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from losslab.losses import get_loss

mpmath = pytest.importorskip("mpmath")

F32_EPS = float(np.finfo(np.float32).eps)
X = np.array([-1e3, -37.5, -5.0, -2.0, -1.0, -0.3, -1e-3, 1e-3, 0.05, 0.7, 1.0, 3.0, 12.0, 400.0])


def reference_lossfun(x, alpha, scale):
    """robust_loss_pytorch's general.lossfun (approximate=False), in float64 numpy, step for
    step: |α − 2| and |α| are clamped at float32's eps before dividing."""
    squared_scaled_x = (x / scale) ** 2
    loss_two = 0.5 * squared_scaled_x
    loss_zero = np.log1p(np.minimum(0.5 * squared_scaled_x, 3.4028235e38))  # util.log1p_safe
    loss_neginf = -np.expm1(-0.5 * squared_scaled_x)
    beta_safe = max(F32_EPS, abs(alpha - 2.0))
    alpha_safe = (1.0 if alpha >= 0 else -1.0) * max(F32_EPS, abs(alpha))
    loss_otherwise = (beta_safe / alpha_safe) * (
        np.power(squared_scaled_x / beta_safe + 1.0, 0.5 * alpha) - 1.0
    )
    if alpha == -math.inf:
        return loss_neginf
    if alpha == 0:
        return loss_zero
    if alpha == 2:
        return loss_two
    return loss_otherwise


def precise(x: float, alpha: float, scale: float) -> float:
    """The reference's general case (no clamp needed away from 0 and 2) at 60 digits."""
    with mpmath.workdps(60):
        z = (mpmath.mpf(x) / mpmath.mpf(scale)) ** 2
        a = mpmath.mpf(alpha)
        b = abs(a - 2)
        return float(b / a * ((z / b + 1) ** (a / 2) - 1))


def barron(x, alpha, scale=1.0):
    loss = get_loss("barron")
    return loss.per_row(np.zeros_like(x), x, robust_c=scale, robust_alpha=alpha)


ALPHAS = sorted(
    {*np.linspace(-10, 10, 81).tolist(), -1e-3, 1e-3, 1e-5, -1e-5, 2 - 1e-3, 2 + 1e-3, 2 - 1e-5}
    | {2 + 1e-5, 1e-6, -1e-6, 2 + 1e-6, 2 - 1e-6}
)


@pytest.mark.parametrize("scale", [1.0, 0.3, 25.0])
def test_barron_equals_the_reference_formula_at_60_digits(scale):
    """1e-10 relative over α ∈ [−10, 10], α near 0 and 2 included (outside the reference's
    float32 clamp, |α| and |α − 2| ≥ 1e-6)."""
    for a in ALPHAS:
        if a in (0.0, 2.0):
            continue
        want = [precise(x, a, scale) for x in X]
        np.testing.assert_allclose(barron(X, a, scale), want, rtol=1e-10, atol=0, err_msg=f"{a}")


def test_barron_equals_the_reference_implementation_where_its_float64_is_accurate():
    """The reference as it computes, in float64: equal to 1e-10 wherever its own pow(·) − 1
    does not cancel (α·log(1 + z/|α − 2|) ≥ 1e-4), its special cases α = 0, 2, −∞ exactly."""
    for a in [*ALPHAS, -math.inf]:
        ref = reference_lossfun(X, a, 1.0)
        ours = barron(X, a)
        if a in (0.0, 2.0, -math.inf):
            np.testing.assert_allclose(ours, ref, rtol=1e-15, atol=0)
            continue
        b = abs(a - 2)
        sharp = np.abs(a * np.log1p(X**2 / b)) >= 1e-4
        np.testing.assert_allclose(ours[sharp], ref[sharp], rtol=1e-10, atol=0, err_msg=f"{a}")


def test_the_reference_clamp_departs_from_rho_and_ours_does_not():
    """Within float32's eps of α = 0 the reference divides by 1.2e-7 instead of α: its value
    is ~α/1.2e-7 of ρ; ours stays on ρ (the 60-digit formula)."""
    a = 1e-9
    x = np.array([3.0])
    assert barron(x, a)[0] == pytest.approx(precise(3.0, a, 1.0), rel=1e-12)
    assert reference_lossfun(x, a, 1.0)[0] < 0.05 * barron(x, a)[0]


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_barron_limits_from_both_sides(side):
    z = X**2
    limits = {
        0.0: np.log1p(0.5 * z),
        2.0: 0.5 * z,
    }
    for at, limit in limits.items():
        np.testing.assert_allclose(barron(X, at), limit, rtol=1e-15)
        for eps in (1e-4, 1e-8, 1e-12):
            got = barron(X, at + side * eps)
            # the gap shrinks like eps·log(1/eps) (near 2, (z/eps)^(eps/2) → 1)
            gap = np.abs(got - limit) / np.maximum(limit, 1e-300)
            bound = 10 * eps * (1 + np.log1p(z) - math.log(eps)) ** 2
            assert (gap <= bound).all(), (at, side, eps)
    np.testing.assert_allclose(barron(X, -math.inf), -np.expm1(-0.5 * z), rtol=1e-15)
    for a in (-1e3, -1e6, -1e9):  # towards −∞: 1 − exp(−z/2), from above
        np.testing.assert_allclose(
            barron(X[np.abs(X) < 50], a), -np.expm1(-0.5 * z[np.abs(X) < 50]), rtol=100 / -a
        )


def test_barron_near_two_stays_finite_where_z_over_the_gap_overflows():
    got = barron(np.array([1e200, 3.0]), 2.0 - 1e-300)
    assert np.isfinite(got[1]) and got[1] == pytest.approx(4.5, rel=1e-15)
    assert got[0] == math.inf  # ½·1e400 is beyond float64


@pytest.mark.parametrize(
    "a", [-math.inf, -7.0, -2.0, -1e-7, 0.0, 1e-9, 0.5, 1.0, 1.999999, 2.0, 4.0]
)
def test_barron_gradient_matches_finite_differences_and_the_paper(a):
    loss = get_loss("barron")
    x = np.array([-4.0, -0.7, 0.2, 1.3, 6.0])
    y = np.zeros_like(x)
    g = loss.row_grad(y, x, robust_c=1.5, robust_alpha=a)
    h = 1e-6
    numeric = (
        loss.per_row(y, x + h, robust_c=1.5, robust_alpha=a)
        - loss.per_row(y, x - h, robust_c=1.5, robust_alpha=a)
    ) / (2 * h)
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)
    if math.isfinite(a) and a != 2.0:  # eq. 14 with the math module
        want = [d / 1.5**2 * ((d / 1.5) ** 2 / abs(a - 2) + 1) ** (a / 2 - 1) for d in x]
        np.testing.assert_allclose(g, want, rtol=1e-12)


def test_barron_special_cases_are_the_named_losses():
    y, x = np.zeros_like(X), X
    welsch = get_loss("welsch").per_row(y, x, robust_c=2.0)
    np.testing.assert_allclose(barron(X, -math.inf, 2.0), welsch, rtol=1e-15)
    gm = get_loss("geman-mcclure").per_row(y, x, robust_c=2.0)
    np.testing.assert_allclose(barron(X, -2.0, 2.0), gm, rtol=1e-13)
    pseudo_huber = X**2 / (np.sqrt(1 + X**2) + 1)  # √(1 + x²) − 1 without cancellation
    np.testing.assert_allclose(barron(X, 1.0), pseudo_huber, rtol=1e-12)


# the largest ψ = ρ′ (d ≥ 0, c = 1) and where: every one is bounded and redescends (ψ → 0)
PEAKS = {
    "cauchy": (0.5, 1.0),  # d/(1 + d²)
    "geman-mcclure": (3 * math.sqrt(3) / 8, 2 / math.sqrt(3)),  # 16d/(d² + 4)²
    "welsch": (math.exp(-0.5), 1.0),  # d·exp(−d²/2)
    "tukey": (16 / (25 * math.sqrt(5)), 1 / math.sqrt(5)),  # d(1 − d²)²
}


@pytest.mark.parametrize("name", PEAKS)
def test_influence_is_bounded_and_redescending(name):
    loss = get_loss(name)
    d = np.linspace(0, 1e3, 2000001)
    psi = loss.row_grad(np.zeros_like(d), d)
    peak, at = PEAKS[name]
    assert psi.max() == pytest.approx(peak, rel=1e-6)  # the grid misses the peak by < 1e-6
    assert d[np.argmax(psi)] == pytest.approx(at, abs=1e-3)
    assert (psi >= 0).all() and psi[-1] < 1e-3
    if name == "tukey":
        assert (psi[d >= 1.0] == 0).all()  # hard redescending: no pull beyond c


def test_values_are_half_the_square_near_zero():
    d = np.array([1e-6, -3e-5])
    for name in ("cauchy", "geman-mcclure", "welsch", "tukey", "barron"):
        got = get_loss(name).per_row(np.zeros_like(d), d)
        np.testing.assert_allclose(got, 0.5 * d * d, rtol=1e-8, err_msg=name)
