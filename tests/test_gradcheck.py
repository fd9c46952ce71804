"""`losslab gradcheck`: every registered loss and model passes, and a wrong gradient fails."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from losslab.losses import LOSSES
from losslab.nn import activations
from losslab.nn.models import MODELS
from losslab.views import gradcheck


def test_every_loss_and_model_passes():
    checks = gradcheck.gradcheck()
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = {(c.kind, c.name) for c in checks}
    assert {("loss", name) for name in LOSSES.names()} <= names
    assert {("model", name) for name in MODELS.names()} <= names
    # every loss that takes logits is checked both ways; every activation in a network
    assert sum(c.name == "bce" and c.kind == "loss" for c in checks) == 2
    details = " ".join(c.detail for c in checks if c.name == "mlp")
    assert all(a in details for a in activations.ACTIVATIONS.names())


def test_numeric_gradient_of_a_known_function():
    x = np.array([0.3, -1.2, 2.0])

    def f() -> float:
        return float(np.sin(x[0]) * x[1] ** 2 + np.exp(x[2]))

    want = [np.cos(0.3) * 1.44, 2 * np.sin(0.3) * -1.2, np.exp(2.0)]
    np.testing.assert_allclose(gradcheck.numeric_gradient(f, x), want, rtol=1e-8)
    np.testing.assert_array_equal(x, [0.3, -1.2, 2.0])  # restored


def test_relative_error_scale_floor():
    a = np.array([1.0, 0.0])
    assert gradcheck.relative_error(a, np.array([1.0, 1e-9]), 1.0) == pytest.approx(1e-5)
    assert gradcheck.relative_error(a, np.array([1.01, 0.0]), 1.0) == pytest.approx(0.01 / 1.01)


def test_a_wrong_loss_gradient_fails():
    mse = LOSSES.get("mse")
    bad = dataclasses.replace(mse, row_grad=lambda y, out, **kw: 2.02 * (out - y))
    check = gradcheck.check_loss(bad)
    assert not check.ok and check.max_error == pytest.approx(0.01 / 1.01, rel=1e-3)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_a_wrong_layer_backward_fails(monkeypatch, model):
    from losslab.nn.layers import Conv2D, Dense

    layer = Conv2D if model == "cnn" else Dense
    backward = layer.backward

    def off_by_a_bit(self, *args, **kwargs):
        out = backward(self, *args, **kwargs)
        self.gW *= 1.001
        return out

    monkeypatch.setattr(layer, "backward", off_by_a_bit)
    check = gradcheck.check_model(model)
    assert not check.ok and check.max_error > 1e-4


def test_cli_json_and_exit_codes(cli, monkeypatch):
    rows = cli.json("gradcheck", "--loss", "mse,huber", "--model", "mlp")
    assert {r["name"] for r in rows} >= {"mse", "huber", "mlp"}
    assert all(r["ok"] for r in rows)
    assert all(r["kind"] == "loss" or "mse" in r["detail"] or "huber" in r["detail"] for r in rows)

    real = gradcheck.check_loss

    def failing(loss, **kw):
        return dataclasses.replace(real(loss, **kw), max_error=0.5, ok=False)

    monkeypatch.setattr(gradcheck, "check_loss", failing)
    out = cli("gradcheck", "--loss", "mae", code=1).output
    assert "gradcheck: 1 of 1 failed; worst loss mae" in out and "Traceback" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loss", "msee"], "Did you mean 'mse'?"),
        (["--model", "mpl"], "Did you mean 'mlp'?"),
        (["--tol", "0"], "--tol must be > 0, got 0"),
    ],
)
def test_bad_input(cli, args, message):
    assert message in cli("gradcheck", *args, code=1).output
