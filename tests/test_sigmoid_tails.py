"""σ and everything built on it, exact in both tails: torch's sigmoid (1/(1 + e^−z), float64) is
the reference at |z| up to 700, where ½(1 + tanh(z/2)) loses its relative accuracy (z < −14)
and rounds to 0 (z < −37)."""

from __future__ import annotations

import numpy as np
import pytest

from losslab.losses import LOSSES, loss_grad, loss_value
from losslab.nn.activations import ACTIVATIONS, sigmoid
from losslab.nn.models import MODELS, probabilities
from losslab.train.kernels import BCE
from losslab.train.loop import Problem, objective_for

torch = pytest.importorskip("torch")
F = torch.nn.functional

Z = np.array([-700.0, -40.0, -37.5, -20.0, -14.0, -1.0, 0.0, 1.0, 14.0, 20.0, 40.0, 700.0])
RTOL = 1e-15


def _torch_sigmoid(z: np.ndarray) -> np.ndarray:
    return torch.sigmoid(torch.from_numpy(z)).numpy()


def test_sigmoid_matches_torch_in_both_tails():
    want = _torch_sigmoid(Z)
    assert want[1] == pytest.approx(4.248354255291589e-18, rel=1e-15)  # e^−40/(1 + e^−40)
    np.testing.assert_allclose(sigmoid(Z), want, rtol=RTOL, atol=0)
    A = np.empty_like(Z)
    ACTIVATIONS.get("sigmoid").forward(Z, A)
    np.testing.assert_allclose(A, want, rtol=RTOL, atol=0)
    np.testing.assert_allclose(probabilities(MODELS.get("logistic"), Z), want, rtol=RTOL, atol=0)


def test_sigmoid_beyond_the_float64_range_is_zero_and_one_without_warnings():
    np.testing.assert_array_equal(sigmoid(np.array([-1e4, -750.0, 750.0, 1e4])), [0, 0, 1, 1])
    assert sigmoid(-40.0) == pytest.approx(4.248354255291589e-18, rel=RTOL)


def _torch_value_and_grad(fn, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    ot = torch.tensor(out, requires_grad=True)
    ref = fn(ot, torch.from_numpy(target))
    ref.backward()
    return ref.item(), ot.grad.numpy()


@pytest.mark.parametrize(
    ("name", "fn", "labels"),
    [
        ("bce", F.binary_cross_entropy_with_logits, (0.0, 1.0)),
        ("soft-margin", F.soft_margin_loss, (-1.0, 1.0)),
    ],
)
def test_logit_losses_match_torch_in_both_tails(name, fn, labels):
    out = np.concatenate([Z, Z])
    y = np.repeat(np.array(labels), len(Z))
    value, grad = _torch_value_and_grad(fn, out, y)
    logits = {"logits": True} if name == "bce" else {}
    assert loss_value(name, y, out, **logits) == pytest.approx(value, rel=1e-15)
    np.testing.assert_allclose(loss_grad(name, y, out, **logits), grad, rtol=RTOL, atol=0)


def test_fused_logistic_kernel_matches_torch_in_both_tails():
    out = np.concatenate([Z, Z])
    y = np.repeat(np.array([0.0, 1.0]), len(Z))
    _, want = _torch_value_and_grad(F.binary_cross_entropy_with_logits, out, y)
    problem = Problem(
        None, "y", [], MODELS.get("logistic"), LOSSES.get("bce"), out[:, None], y, [0, 1]
    )  # type: ignore[arg-type]
    fused = objective_for(problem, {})
    assert isinstance(fused, BCE)
    G = np.empty_like(out)
    with np.errstate(over="ignore"):  # as the training loop runs it
        fused.grad(out.copy(), y, G)
    np.testing.assert_allclose(G, want, rtol=RTOL, atol=0)
