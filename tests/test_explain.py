"""`losslab explain`: every registered loss, optimizer and schedule, from its own entry."""

from __future__ import annotations

import re

import pytest

from losslab.losses import LOSSES
from losslab.optim.optimizers import OPTIMIZERS
from losslab.optim.schedules import SCHEDULES
from losslab.views.explain import (
    ADVICE,
    explain,
    loss_properties,
    optimizer_properties,
    plain,
)

REGISTRIES = {"loss": LOSSES, "optimizer": OPTIMIZERS, "schedule": SCHEDULES}


@pytest.mark.parametrize("kind", list(REGISTRIES))
def test_every_registered_name_is_explained_with_advice(kind):
    registry = REGISTRIES[kind]
    assert set(ADVICE[kind]) == set(registry.names())
    for name in registry.names():
        (e,) = [e for e in explain(name) if e.kind == kind]
        sections = dict(e.sections)
        assert all(sections.values()), (name, sections)
        assert sections["when to use"] == ADVICE[kind][name]


@pytest.mark.parametrize(
    ("name", "convex", "bounded"),
    [
        ("mse", True, False),
        ("mae", True, True),
        ("huber", True, True),
        ("log-cosh", True, True),
        ("squared-epsilon-insensitive", True, False),
        ("bce", True, True),
        ("focal", False, True),  # (1 − p)^γ bends the log loss: not convex in the margin
        ("hinge", True, True),
        ("squared-hinge", True, False),
        ("modified-huber", True, True),
        ("cross-entropy", True, True),
        ("gamma-deviance", False, False),  # in ŷ; convex in the log link's score
        ("kl-div", None, None),
    ],
)
def test_loss_properties_are_measured(name, convex, bounded):
    props = loss_properties(name)
    assert props["convex"] is convex and props["bounded gradient"] is bounded


def test_optimizer_properties_come_from_the_rule():
    assert optimizer_properties("adam")["buffers per parameter"] == ["m", "v"]
    assert optimizer_properties("sgd")["memory"] == "none beyond θ"
    assert optimizer_properties("lbfgs")["full batch only"] is True
    assert optimizer_properties("polyak")["needs the optimum f*"] is True
    assert optimizer_properties("lamb")["steps on"] == "each layer's tensors"
    assert optimizer_properties("schedule-free-adamw")["evaluated at"] == "the averaged point x"


def test_sections_are_the_entries_own_text():
    (adam,) = explain("adam")
    sections = dict(adam.sections)
    assert sections["update"] == OPTIMIZERS.get("adam").description
    assert sections["reference"] == "torch.optim.Adam"
    assert {p["name"] for p in adam.parameters} >= {"beta1", "beta2", "eps"}
    (huber,) = explain("Huber")
    assert dict(huber.sections)["formula"] == LOSSES.get("huber").formula
    assert [p["flag"] for p in huber.parameters] == ["--delta"]
    (cosine,) = explain("cosine")
    assert dict(cosine.sections)["reference"] == SCHEDULES.get("cosine").reference


def test_cli(cli):
    out = cli.json("explain", "nesterov")
    assert out[0]["kind"] == "optimizer" and out[0]["name"] == "nesterov"
    assert "torch.optim.SGD" in cli("explain", "nesterov").output
    assert cli.json("explain", "one-cycle", "--kind", "schedule")[0]["properties"] == {
        "default unit": "step",
        "stateful": False,
    }
    message = cli.error("explain", "adamm")
    assert "is no loss, optimizer or schedule" in message and "'adam'" in message
    assert "unknown loss 'adam'" in cli.error("explain", "adam", "--kind", "loss")


REST = re.compile(r":[a-z]+:`|``|(?<![\w.])_[A-Za-z]|\bctx\.")


@pytest.mark.parametrize("kind", list(REGISTRIES))
def test_explain_prints_plain_text_without_internal_names(cli, kind):
    """No reST role, no double backticks, no private (leading-underscore) name, in the table
    and in the JSON, for every registered entry."""
    for name in REGISTRIES[kind].names():
        for fmt in ("table", "json"):
            text = cli("explain", name, "--kind", kind, "--format", fmt).stdout
            assert not REST.search(text), (name, fmt, REST.search(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("decay λ (see :func:`weight_decay`): coupled", "decay λ: coupled"),
        ("O = NS(u) (:func:`orthogonalise`); θ", "O = NS(u); θ"),
        ("step of :class:`_ScheduleFree` with β", "step of ScheduleFree with β"),
        ("at θ (``ctx.loss``), f*", "at θ, f*"),
        ("torch's ``_single_tensor_adafactor``.", "torch's single_tensor_adafactor."),
        ("(Polyak 1987, *Introduction* §5.3) f* − f", "(Polyak 1987, Introduction §5.3) f* − f"),
    ],
)
def test_plain_unwraps_rest(text, expected):
    assert plain(text) == expected
