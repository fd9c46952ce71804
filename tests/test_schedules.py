"""Learning-rate schedules: hand-computed values, warm-up, torch's schedulers, validation."""

from __future__ import annotations

import math
from dataclasses import fields
from itertools import pairwise

import pytest

from losslab.errors import ConfigError, UnknownNameError
from losslab.schedules import SCHEDULES, ScheduleParams, lr_at, lr_schedule

R2 = math.sqrt(2) / 2


@pytest.mark.parametrize(
    ("schedule", "kwargs", "expected"),
    [
        ("constant", {"base_lr": 0.1, "epochs": 3}, [0.1, 0.1, 0.1]),
        ("step", {"base_lr": 1.0, "epochs": 5, "step_size": 2}, [1, 1, 0.5, 0.5, 0.25]),
        (
            "step",
            {"base_lr": 0.3, "epochs": 4, "step_size": 1, "decay": 0.1},
            [0.3, 0.03, 0.003, 0.0003],
        ),
        ("exponential", {"base_lr": 2.0, "epochs": 4}, [2, 1, 0.5, 0.25]),
        ("exponential", {"base_lr": 1.0, "epochs": 3, "decay": 1.0}, [1, 1, 1]),
        ("cosine", {"base_lr": 1.0, "epochs": 4}, [1, (1 + R2) / 2, 0.5, (1 - R2) / 2]),
        ("cosine", {"base_lr": 1.0, "epochs": 2, "min_lr": 0.2}, [1, 0.6]),
        (
            "inverse-scaling",
            {"base_lr": 1.0, "epochs": 4},
            [1, 1 / math.sqrt(2), 1 / math.sqrt(3), 0.5],
        ),
        ("inverse-scaling", {"base_lr": 0.6, "epochs": 3, "power_t": 1.0}, [0.6, 0.3, 0.2]),
        ("inverse-scaling", {"base_lr": 0.6, "epochs": 2, "power_t": 0.0}, [0.6, 0.6]),
        # warm-up: base·(e+1)/(w+1) for e < w, then the schedule from e − w over epochs − w
        ("constant", {"base_lr": 1.0, "epochs": 5, "warmup": 3}, [0.25, 0.5, 0.75, 1, 1]),
        (
            "step",
            {"base_lr": 1.0, "epochs": 5, "warmup": 2, "step_size": 1},
            [1 / 3, 2 / 3, 1, 0.5, 0.25],
        ),
        ("cosine", {"base_lr": 1.0, "epochs": 3, "warmup": 1}, [0.5, 1, 0.5]),
        (
            "inverse-scaling",
            {"base_lr": 1.0, "epochs": 3, "warmup": 1, "power_t": 1.0},
            [0.5, 1, 0.5],
        ),
    ],
)
def test_by_hand(schedule, kwargs, expected):
    got = list(lr_schedule(schedule=schedule, **kwargs))
    assert got == pytest.approx(expected, rel=1e-15, abs=1e-17)
    assert [lr_at(e, schedule=schedule, **kwargs) for e in range(kwargs["epochs"])] == got


def test_step_decays_exactly():
    """Powers of two stay exact, so run histories print the numbers people expect."""
    assert list(lr_schedule(base_lr=0.01, epochs=5, schedule="step", step_size=2)) == [
        0.01,
        0.01,
        0.005,
        0.005,
        0.0025,
    ]


@pytest.mark.parametrize("name", SCHEDULES.names())
@pytest.mark.parametrize("warmup", [0, 4])
def test_every_schedule_ramps_then_starts_at_base(name, warmup):
    lrs = lr_schedule(
        base_lr=0.2, epochs=12, schedule=name, warmup=warmup, step_size=3, decay=0.7, min_lr=0.01
    )
    assert lrs[:warmup] == pytest.approx([0.2 * (e + 1) / (warmup + 1) for e in range(warmup)])
    assert lrs[warmup] == 0.2
    assert all(0 < a <= 0.2 for a in lrs)
    assert all(b <= a for a, b in pairwise(lrs[warmup:]))  # never increases


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_metadata(name):
    entry = SCHEDULES.get(name)
    assert entry.name == name and entry.description and "\n" not in entry.description
    assert set(entry.uses) <= {f.name for f in fields(ScheduleParams)}
    assert entry.to_dict() == {
        "name": name,
        "description": entry.description,
        "uses": list(entry.uses),
    }


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_lazy_and_equal_to_lr_at_bit_for_bit(name):
    """The schedule holds no list: a billion epochs cost nothing until an lr is asked for."""
    kwargs = {"base_lr": 0.3, "schedule": name, "warmup": 7, "step_size": 4, "min_lr": 0.01}
    lrs = lr_schedule(epochs=10**9, **kwargs)
    assert len(lrs) == 10**9
    for e in (0, 6, 7, 8, 12345, 10**9 - 1):
        assert lrs[e] == lr_at(e, epochs=10**9, **kwargs)
    assert lrs[-1] == lrs[10**9 - 1] and lrs[:3] == [lrs[0], lrs[1], lrs[2]]
    small = lr_schedule(epochs=30, **kwargs)
    assert list(small) == [lr_at(e, epochs=30, **kwargs) for e in range(30)]
    with pytest.raises(IndexError, match="epoch must be in"):
        small[30]


# --------------------------------------------------------------------------- torch


def torch_lrs(make, epochs: int, base_lr: float) -> list[float]:
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make(torch, opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradients: a no-op that keeps torch from warning about the order
        sched.step()
    return out


@pytest.mark.parametrize(
    ("schedule", "kwargs", "make"),
    [
        (
            "step",
            {"step_size": 3, "decay": 0.3},
            lambda torch, o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.3),
        ),
        (
            "exponential",
            {"decay": 0.9},
            lambda torch, o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
        ),
        (
            "cosine",
            {"min_lr": 0.0},
            lambda torch, o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=25),
        ),
        (
            "cosine",
            {"min_lr": 0.004},
            lambda torch, o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=25, eta_min=0.004),
        ),
    ],
)
def test_matches_torch(schedule, kwargs, make):
    ours = lr_schedule(base_lr=0.05, epochs=25, schedule=schedule, **kwargs)
    assert ours == pytest.approx(torch_lrs(make, 25, 0.05), rel=1e-12, abs=1e-15)


def test_cosine_after_warmup_matches_torch_over_the_rest():
    ours = lr_schedule(base_lr=0.05, epochs=25, schedule="cosine", warmup=5, min_lr=0.001)
    theirs = torch_lrs(
        lambda torch, o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.001),
        20,
        0.05,
    )
    assert ours[5:] == pytest.approx(theirs, rel=1e-12)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warmup": -1}, "--warmup must be >= 0 and < --epochs (10), got -1"),
        ({"warmup": 10}, "--warmup must be >= 0 and < --epochs (10), got 10"),
        ({"step_size": 0}, "--step-size must be >= 1, got 0"),
        ({"decay": 0.0}, "--decay must be in (0, 1], got 0"),
        ({"decay": 1.5}, "--decay must be in (0, 1], got 1.5"),
        ({"decay": float("nan")}, "--decay must be in (0, 1], got nan"),
        ({"power_t": -0.5}, "--power-t must be >= 0, got -0.5"),
        ({"min_lr": -0.1}, "--min-lr must be in [0, lr] = [0, 0.1], got -0.1"),
        ({"min_lr": 0.2}, "--min-lr must be in [0, lr] = [0, 0.1], got 0.2"),
        ({"base_lr": 0.0}, "--lr must be > 0, got 0"),
        ({"epochs": 0}, "--epochs must be >= 1, got 0"),
    ],
)
def test_invalid_settings(kwargs, message):
    settings = {"base_lr": 0.1, "epochs": 10, "schedule": "cosine", **kwargs}
    for call in (lambda: lr_schedule(**settings), lambda: lr_at(0, **settings)):
        with pytest.raises(ConfigError) as err:
            call()
        assert message in str(err.value)


def test_unknown_schedule_suggests():
    with pytest.raises(UnknownNameError) as err:
        lr_schedule(base_lr=0.1, epochs=3, schedule="cosin")
    assert "choose from: constant, step, exponential, cosine, inverse-scaling" in str(err.value)
    assert "Did you mean 'cosine'?" in str(err.value)
    assert list(lr_schedule(base_lr=0.1, epochs=1, schedule="Inverse_Scaling")) == [0.1]


def test_epoch_out_of_range():
    with pytest.raises(ValueError, match="epoch must be in"):
        lr_at(3, base_lr=0.1, epochs=3)
