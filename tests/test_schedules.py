"""Learning-rate schedules against independent references: hand-computed values, a reference per
schedule written here from the published formula (always runs), torch's schedulers driven as
torch's docs drive them (``optimizer.step(); scheduler.step()`` per unit), SequentialLR for the
warm-up, ReduceLROnPlateau fed the same losses, and a torch training loop for per-step units."""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

import losslab
from losslab.errors import ConfigError, UnknownNameError
from losslab.hyper import Hyper
from losslab.optim.optimizers import HYPERPARAMETERS
from losslab.optim.schedules import DECLARED, SCHEDULES, LRSchedule, Plateau, lr_at, lr_schedule
from losslab.train.config import FitConfig

R2 = math.sqrt(2) / 2
DATA = Path(__file__).resolve().parent.parent / "datasets"


# --------------------------------------------------------------------------- by hand


@pytest.mark.parametrize(
    ("schedule", "kwargs", "expected"),
    [
        ("constant", {"base_lr": 0.1, "units": 3}, [0.1, 0.1, 0.1]),
        ("step", {"base_lr": 1.0, "units": 5, "step_size": 2}, [1, 1, 0.5, 0.5, 0.25]),
        (
            "step",
            {"base_lr": 0.3, "units": 4, "step_size": 1, "decay": 0.1},
            [0.3, 0.03, 0.003, 0.0003],
        ),
        ("exponential", {"base_lr": 2.0, "units": 4}, [2, 1, 0.5, 0.25]),
        ("exponential", {"base_lr": 1.0, "units": 3, "decay": 1.0}, [1, 1, 1]),
        ("cosine", {"base_lr": 1.0, "units": 4}, [1, (1 + R2) / 2, 0.5, (1 - R2) / 2]),
        ("cosine", {"base_lr": 1.0, "units": 2, "min_lr": 0.2}, [1, 0.6]),
        (
            "inverse-scaling",
            {"base_lr": 1.0, "units": 4},
            [1, 1 / math.sqrt(2), 1 / math.sqrt(3), 0.5],
        ),
        ("inverse-scaling", {"base_lr": 0.6, "units": 3, "power_t": 1.0}, [0.6, 0.3, 0.2]),
        ("inverse-scaling", {"base_lr": 0.6, "units": 2, "power_t": 0.0}, [0.6, 0.6]),
        # warm-up: base·(e+1)/(w+1) for e < w, then the schedule from e − w over units − w
        ("constant", {"base_lr": 1.0, "units": 5, "warmup": 3}, [0.25, 0.5, 0.75, 1, 1]),
        (
            "step",
            {"base_lr": 1.0, "units": 5, "warmup": 2, "step_size": 1},
            [1 / 3, 2 / 3, 1, 0.5, 0.25],
        ),
        ("cosine", {"base_lr": 1.0, "units": 3, "warmup": 1}, [0.5, 1, 0.5]),
        (
            "inverse-scaling",
            {"base_lr": 1.0, "units": 3, "warmup": 1, "power_t": 1.0},
            [0.5, 1, 0.5],
        ),
        # the new ones
        (
            "constant",
            {"base_lr": 1.0, "units": 4, "factor": 0.5, "total_iters": 2},
            [0.5, 0.5, 1, 1],
        ),
        (
            "multistep",
            {"base_lr": 1.0, "units": 6, "milestones": "2,3", "decay": 0.1},
            [1, 1, 0.1, 0.01, 0.01, 0.01],
        ),
        ("polynomial", {"base_lr": 1.0, "units": 4, "poly_power": 2.0}, [1, 9 / 16, 1 / 4, 1 / 16]),
        ("linear", {"base_lr": 1.0, "units": 4}, [1, 0.75, 0.5, 0.25]),
        (
            "linear",
            {"base_lr": 1.0, "units": 5, "start_factor": 0.5, "end_factor": 1.0, "total_iters": 2},
            [0.5, 0.75, 1, 1, 1],
        ),
        (
            "cosine-warm-restarts",
            {"base_lr": 1.0, "units": 7, "t_0": 2, "t_mult": 2},
            [1, 0.5, 1, (1 + R2) / 2, 0.5, (1 - R2) / 2, 1],
        ),
        (
            "cyclic",
            {"base_lr": 1.0, "units": 7, "max_lr": 3.0, "step_size_up": 2, "step_size_down": 1},
            [1, 2, 3, 1, 2, 3, 1],
        ),
        (
            "cyclic",
            {"base_lr": 0.0 + 1.0, "units": 6, "max_lr": 5.0, "step_size_up": 1},
            [1, 5, 1, 5, 1, 5],
        ),
        (
            "cyclic",
            {"base_lr": 1.0, "units": 6, "max_lr": 5.0, "step_size_up": 1, "mode": "triangular2"},
            [1, 5, 1, 3, 1, 2],
        ),
        (
            "one-cycle",  # peak at step pct·T − 1 = 1; linear ramps; 10 → 1 → 0.4 → 0.0004
            {
                "base_lr": 10.0,
                "units": 5,
                "pct_start": 0.4,
                "anneal_strategy": "linear",
                "div_factor": 10.0,
                "final_div_factor": 1000.0,
            },
            [1, 10, 10 - (10 - 1e-3) / 3, 10 - 2 * (10 - 1e-3) / 3, 1e-3],
        ),
    ],
)
def test_by_hand(schedule, kwargs, expected):
    got = list(lr_schedule(schedule=schedule, **kwargs))
    assert got == pytest.approx(expected, rel=1e-15, abs=1e-15)
    assert [lr_at(e, schedule=schedule, **kwargs) for e in range(kwargs["units"])] == got


def test_step_decays_exactly():
    """Powers of two stay exact, so run histories print the numbers people expect."""
    assert list(lr_schedule(base_lr=0.01, units=5, schedule="step", step_size=2)) == [
        0.01,
        0.01,
        0.005,
        0.005,
        0.0025,
    ]


# --------------------------------------------------------------------------- references
# Each written from the scheduler's published description, as a simulation where torch steps.


def ref_constant(lr, T, factor=1.0, total_iters=None):
    n = T if total_iters is None else total_iters
    return [lr * factor if e < n else lr for e in range(T)]


def ref_step(lr, T, step_size=10, decay=0.5):
    out, cur = [], lr
    for e in range(T):
        if e and e % step_size == 0:
            cur *= decay
        out.append(cur)
    return out


def ref_multistep(lr, T, milestones, decay=0.5):
    ms = [int(m) for m in str(milestones).split(",")]
    return [lr * decay ** sum(m <= e for m in ms) for e in range(T)]


def ref_exponential(lr, T, decay=0.5):
    out, cur = [], lr
    for _ in range(T):
        out.append(cur)
        cur *= decay
    return out


def ref_cosine(lr, T, t_max=None, min_lr=0.0):
    t = T if t_max is None else t_max
    return [min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * e / t)) for e in range(T)]


def ref_warm_restarts(lr, T, t_0=10, t_mult=1, min_lr=0.0):
    out, cur, period = [], 0, t_0
    for _ in range(T):
        out.append(min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * cur / period)))
        cur += 1
        if cur == period:
            cur, period = 0, period * t_mult
    return out


def ref_cyclic(lr, T, max_lr, step_size_up=2000, step_size_down=None, mode="triangular", decay=1.0):
    up = step_size_up
    down = up if step_size_down is None else step_size_down
    out = []
    for e in range(T):
        cycle, p = divmod(e, up + down)
        rise = p / up if p <= up else 1 - (p - up) / down
        amplitude = {"triangular": 1.0, "triangular2": 0.5**cycle, "exp-range": decay**e}
        out.append(lr + (max_lr - lr) * rise * amplitude[mode.replace("_", "-")])
    return out


def ref_one_cycle(
    lr,
    T,
    pct_start=0.3,
    anneal_strategy="cos",
    div_factor=25.0,
    final_div_factor=1e4,
    three_phase=False,
):
    first = lr / div_factor
    knots = [(0.0, first), (pct_start * T - 1, lr)]
    if three_phase:
        knots.append((2 * pct_start * T - 2, first))
    knots.append((T - 1, first / final_div_factor))

    def ramp(a, b, x):
        if anneal_strategy == "cos":
            return b + (a - b) * (1 + math.cos(math.pi * x)) / 2
        return a + (b - a) * x

    out = []
    for e in range(T):
        i = next((i for i in range(1, len(knots)) if e <= knots[i][0]), len(knots) - 1)
        (s0, a), (s1, b) = knots[i - 1], knots[i]
        out.append(ramp(a, b, (e - s0) / (s1 - s0)))
    return out


def ref_polynomial(lr, T, total_iters=None, poly_power=1.0):
    n = T if total_iters is None else total_iters
    return [lr * (1 - min(e, n) / n) ** poly_power for e in range(T)]


def ref_linear(lr, T, start_factor=1.0, end_factor=0.0, total_iters=None):
    n = T if total_iters is None else total_iters
    return [lr * (start_factor + (end_factor - start_factor) * min(e, n) / n) for e in range(T)]


def ref_inverse_scaling(lr, T, power_t=0.5):
    return [lr / (e + 1) ** power_t for e in range(T)]


def ref_plateau(
    lr,
    losses,
    decay=0.1,
    plateau_patience=10,
    threshold=1e-4,
    threshold_mode="rel",
    cooldown=0,
    min_lr=0.0,
):
    """The lr each epoch ran with, as ReduceLROnPlateau's documentation describes it."""
    lrs, best, waited, cooling = [], math.inf, 0, 0
    for loss in losses:
        lrs.append(lr)
        bar = best * (1 - threshold) if threshold_mode == "rel" else best - threshold
        if loss < bar:
            best, waited = loss, 0
        elif cooling:
            waited = 0
        else:
            waited += 1
        cooling = max(cooling - 1, 0)
        if waited > plateau_patience:
            lower = max(lr * decay, min_lr)
            if lr - lower > 1e-8:
                lr = lower
            cooling, waited = cooldown, 0
    return lrs


REFERENCES = {
    "constant": ref_constant,
    "step": ref_step,
    "multistep": ref_multistep,
    "exponential": ref_exponential,
    "cosine": ref_cosine,
    "cosine-warm-restarts": ref_warm_restarts,
    "cyclic": ref_cyclic,
    "one-cycle": ref_one_cycle,
    "polynomial": ref_polynomial,
    "linear": ref_linear,
    "inverse-scaling": ref_inverse_scaling,
    "reduce-on-plateau": ref_plateau,
}

# (schedule, parameters, torch's scheduler with the same parameters; T = the run's units)
TORCH_CASES = [
    ("constant", {}, lambda L, o, T: L.ConstantLR(o, factor=1.0, total_iters=T)),
    ("constant", {"factor": 0.25, "total_iters": 17}, lambda L, o, T: L.ConstantLR(o, 0.25, 17)),
    ("step", {}, lambda L, o, T: L.StepLR(o, step_size=10, gamma=0.5)),
    ("step", {"step_size": 7, "decay": 0.3}, lambda L, o, T: L.StepLR(o, 7, gamma=0.3)),
    (
        "multistep",
        {"milestones": "20,50,120", "decay": 0.3},
        lambda L, o, T: L.MultiStepLR(o, [20, 50, 120], gamma=0.3),
    ),
    ("exponential", {"decay": 0.97}, lambda L, o, T: L.ExponentialLR(o, gamma=0.97)),
    ("cosine", {}, lambda L, o, T: L.CosineAnnealingLR(o, T_max=T)),
    (
        "cosine",
        {"t_max": 60, "min_lr": 0.001},
        lambda L, o, T: L.CosineAnnealingLR(o, T_max=60, eta_min=0.001),
    ),
    (
        "cosine-warm-restarts",
        {"t_0": 9},
        lambda L, o, T: L.CosineAnnealingWarmRestarts(o, T_0=9),
    ),
    (
        "cosine-warm-restarts",
        {"t_0": 7, "t_mult": 2, "min_lr": 0.001},
        lambda L, o, T: L.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=2, eta_min=0.001),
    ),
    (
        "cosine-warm-restarts",
        {"t_0": 2, "t_mult": 3},
        lambda L, o, T: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3),
    ),
    (
        "cyclic",
        {"max_lr": 0.3, "step_size_up": 13, "step_size_down": 7},
        lambda L, o, T: L.CyclicLR(o, 0.05, 0.3, 13, 7, cycle_momentum=False),
    ),
    (
        "cyclic",
        {"max_lr": 0.3, "step_size_up": 11, "mode": "triangular2"},
        lambda L, o, T: L.CyclicLR(o, 0.05, 0.3, 11, mode="triangular2", cycle_momentum=False),
    ),
    (
        "cyclic",
        {"max_lr": 0.3, "step_size_up": 11, "mode": "exp_range", "decay": 0.99},
        lambda L, o, T: L.CyclicLR(
            o, 0.05, 0.3, 11, mode="exp_range", gamma=0.99, cycle_momentum=False
        ),
    ),
    (
        "one-cycle",
        {},
        lambda L, o, T: L.OneCycleLR(o, max_lr=0.05, total_steps=T, cycle_momentum=False),
    ),
    (
        "one-cycle",
        {"pct_start": 0.25, "anneal_strategy": "linear", "three_phase": True, "div_factor": 10.0},
        lambda L, o, T: L.OneCycleLR(
            o,
            max_lr=0.05,
            total_steps=T,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            div_factor=10.0,
            cycle_momentum=False,
        ),
    ),
    (
        "one-cycle",
        {"pct_start": 0.4, "final_div_factor": 100.0},
        lambda L, o, T: L.OneCycleLR(
            o,
            max_lr=0.05,
            total_steps=T,
            pct_start=0.4,
            final_div_factor=100.0,
            cycle_momentum=False,
        ),
    ),
    ("polynomial", {}, lambda L, o, T: L.PolynomialLR(o, total_iters=T)),
    (
        "polynomial",
        {"total_iters": 150, "poly_power": 2.0},
        lambda L, o, T: L.PolynomialLR(o, total_iters=150, power=2.0),
    ),
    # scikit-learn's invscaling has no torch class: LambdaLR with its formula
    ("inverse-scaling", {}, lambda L, o, T: L.LambdaLR(o, lambda e: 1 / (e + 1) ** 0.5)),
    (
        "inverse-scaling",
        {"power_t": 1.5},
        lambda L, o, T: L.LambdaLR(o, lambda e: 1 / (e + 1) ** 1.5),
    ),
    ("linear", {}, lambda L, o, T: L.LinearLR(o, 1.0, 0.0, total_iters=T)),
    (
        "linear",
        {"start_factor": 0.25, "end_factor": 0.5, "total_iters": 80},
        lambda L, o, T: L.LinearLR(o, 0.25, 0.5, 80),
    ),
]
UNITS = 200
BASE = 0.05
CASE_IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(TORCH_CASES)]


def torch_lrs(make, units: int, base_lr: float, warmup: int = 0) -> list[float]:
    """The lr of each unit, torch's way: read it, ``optimizer.step()``, ``scheduler.step()``."""
    torch = pytest.importorskip("torch")
    L = torch.optim.lr_scheduler
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    if warmup:
        ramp = L.LinearLR(opt, start_factor=1 / (warmup + 1), end_factor=1.0, total_iters=warmup)
        sched = L.SequentialLR(opt, [ramp, make(L, opt, units - warmup)], milestones=[warmup])
    else:
        sched = make(L, opt, units)
    out = []
    for _ in range(units):
        out.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradients: a no-op that keeps torch from warning about the order
        sched.step()
    return out


def test_every_schedule_has_a_reference_and_a_torch_case():
    assert set(REFERENCES) == set(SCHEDULES.names())
    stateless = {n for n, s in SCHEDULES.items() if s.build is not None}
    assert {name for name, *_ in TORCH_CASES} == stateless
    assert set(SCHEDULES.names()) - stateless == {"reduce-on-plateau"}  # tested on its own


@pytest.mark.parametrize(("name", "params", "make"), TORCH_CASES, ids=CASE_IDS)
def test_matches_the_reference(name, params, make):
    ours = list(lr_schedule(base_lr=BASE, units=UNITS, schedule=name, **params))
    np.testing.assert_allclose(
        ours, REFERENCES[name](BASE, UNITS, **params), rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize(("name", "params", "make"), TORCH_CASES, ids=CASE_IDS)
def test_matches_torch(name, params, make):
    ours = lr_schedule(base_lr=BASE, units=UNITS, schedule=name, **params)
    np.testing.assert_allclose(ours, torch_lrs(make, UNITS, BASE), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("name", "params", "make"), TORCH_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("warmup", [1, 7])
def test_warmup_matches_torch_sequential(name, params, make, warmup):
    """Warm-up = SequentialLR([LinearLR(1/(w+1), 1, w), the schedule], milestones=[w])."""
    ours = lr_schedule(base_lr=BASE, units=UNITS, schedule=name, warmup=warmup, **params)
    theirs = torch_lrs(make, UNITS, BASE, warmup)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    # and the reference: the ramp, then the schedule afresh over the rest
    start = ours.start
    ramp = [start * (k + 1) / (warmup + 1) for k in range(warmup)]
    rest = REFERENCES[name](BASE, UNITS - warmup, **params)
    np.testing.assert_allclose(ours, ramp + rest, rtol=1e-12, atol=1e-15)


def test_warmup_ramps_to_one_cycles_first_lr():
    lrs = lr_schedule(base_lr=1.0, units=20, schedule="one-cycle", warmup=3, div_factor=4.0)
    assert lrs[:4] == pytest.approx([1 / 16, 2 / 16, 3 / 16, 1 / 4], rel=1e-15)


# --------------------------------------------------------------------------- plateau

LOSSES = [
    *(1 / (1 + k) for k in range(12)),
    *([0.08] * 14),  # flat: a decay after patience + 1 epochs
    0.079999,  # within the relative threshold: not an improvement
    *(0.05 - 0.001 * k for k in range(5)),
    *(0.04 + 0.0001 * math.sin(k) for k in range(30)),
    0.03,
    *([0.03] * 30),
]
PLATEAU_CASES = [
    {},
    {"plateau_patience": 0},
    {"plateau_patience": 3, "cooldown": 4},
    {"plateau_patience": 2, "decay": 0.5, "min_lr": 0.011},
    {"plateau_patience": 2, "threshold": 0.002, "threshold_mode": "abs"},
    {"plateau_patience": 1, "decay": 0.9999},  # changes of ≤ 1e-8 are ignored, as torch's eps
]


def run_plateau(losses, warmup=0, **params):
    sched = lr_schedule(
        base_lr=0.1, units=len(losses), schedule="reduce-on-plateau", warmup=warmup, **params
    )
    assert isinstance(sched, Plateau)
    out = []
    for k, loss in enumerate(losses):
        out.append(sched.at(k))
        sched.observe(k, loss)
    return out


@pytest.mark.parametrize("params", PLATEAU_CASES)
def test_plateau_matches_the_reference(params):
    ours = run_plateau(LOSSES, **params)
    assert ours == pytest.approx(ref_plateau(0.1, LOSSES, **params), rel=1e-15)
    assert len(set(ours)) > 1 or params.get("decay") == 0.9999


@pytest.mark.parametrize("params", PLATEAU_CASES)
@pytest.mark.parametrize("warmup", [0, 4])
def test_plateau_matches_torch(params, warmup):
    torch = pytest.importorskip("torch")
    L = torch.optim.lr_scheduler
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    translate = {"decay": "factor", "plateau_patience": "patience"}
    kwargs = {translate.get(k, k): v for k, v in params.items()}
    theirs = []
    if warmup:  # torch's SequentialLR refuses ReduceLROnPlateau: the warm-up runs first, by hand
        ramp = L.LinearLR(opt, start_factor=1 / (warmup + 1), end_factor=1.0, total_iters=warmup)
        for _ in range(warmup):
            theirs.append(opt.param_groups[0]["lr"])
            opt.step()
            ramp.step()
    sched = L.ReduceLROnPlateau(opt, mode="min", **kwargs)
    for loss in LOSSES[warmup:]:
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(loss)
    ours = run_plateau(LOSSES, warmup=warmup, **params)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_plateau_through_fit_watches_the_validation_loss():
    """The lr column is what each epoch ran with; the decays follow the validation losses."""
    result = losslab.fit(
        "iris",
        optimizer="adam",
        lr=0.5,
        epochs=40,
        val_size=0.3,
        schedule="reduce-on-plateau",
        plateau_patience=2,
        decay=0.5,
    )
    history = result.history
    lrs = [h["lr"] for h in history]
    watched = {
        part: ref_plateau(0.5, [h[f"{part}_loss"] for h in history], decay=0.5, plateau_patience=2)
        for part in ("val", "train")
    }
    assert lrs == pytest.approx(watched["val"], rel=1e-15)
    assert lrs != watched["train"]  # the training losses would have decayed it otherwise
    assert min(lrs) < 0.01  # it did decay, several times
    assert result.config["plateau_patience"] == 2 and result.config["schedule_unit"] == "epoch"


# --------------------------------------------------------------------------- per step


def _breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    raw = np.genfromtxt(DATA / "breast_cancer.csv", delimiter=",", skip_header=1, dtype=str)
    X = raw[:, :-1].astype(float)
    classes = sorted(set(raw[:, -1].tolist()))
    y = np.array([classes.index(v) for v in raw[:, -1]], dtype=float)
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0), y


@pytest.mark.parametrize(
    ("optimizer", "torch_opt", "hyper"),
    [("sgd", "SGD", {"momentum": 0.9}), ("adam", "Adam", {})],
)
def test_one_cycle_per_step_matches_torch_training(optimizer, torch_opt, hyper):
    """losslab.fit with one-cycle per minibatch = a torch loop calling scheduler.step() after
    every optimizer.step(): same parameters, same losses, and the lr column is the lr of each
    epoch's last step."""
    torch = pytest.importorskip("torch")
    epochs, batch, lr, seed = 4, 50, 0.05, 5
    ours = losslab.fit(
        "breast-cancer",
        optimizer=optimizer,
        lr=lr,
        epochs=epochs,
        batch_size=batch,
        seed=seed,
        test_size=0.0,
        schedule="one-cycle",
        pct_start=0.25,
        **hyper,
    )
    assert ours.config["schedule_unit"] == "step"
    X, y = _breast_cancer()
    Xt, yt = torch.tensor(X), torch.tensor(y)
    lin = torch.nn.Linear(X.shape[1], 1, dtype=torch.float64)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    opt = getattr(torch.optim, torch_opt)(lin.parameters(), lr=lr, **hyper)
    steps = -(-len(y) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps, pct_start=0.25, cycle_momentum=False
    )
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    losses, last_lrs = [], []
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch):
            rows = torch.from_numpy(order[start : start + batch])
            opt.zero_grad()
            s = lin(Xt[rows]).squeeze(1)
            torch.nn.functional.binary_cross_entropy_with_logits(s, yt[rows]).backward()
            last = opt.param_groups[0]["lr"]
            opt.step()
            sched.step()
        last_lrs.append(last)
        with torch.no_grad():
            s = lin(Xt).squeeze(1)
            losses.append(torch.nn.functional.binary_cross_entropy_with_logits(s, yt).item())
    np.testing.assert_allclose([h["lr"] for h in ours.history], last_lrs, rtol=1e-12)
    np.testing.assert_allclose([h["train_loss"] for h in ours.history], losses, rtol=1e-10)
    np.testing.assert_allclose(
        ours.model["coef"], lin.weight.detach().numpy()[0], rtol=1e-8, atol=1e-12
    )
    np.testing.assert_allclose(ours.model["intercept"], lin.bias.item(), rtol=1e-8, atol=1e-12)


def test_per_step_history_is_the_last_step_of_each_epoch():
    n_train = 120  # iris: 150 rows, test_size 0.2
    result = losslab.fit(
        "iris",
        optimizer="sgd",
        lr=0.1,
        epochs=5,
        batch_size=32,
        schedule="cosine",
        schedule_unit="step",
        warmup=3,
        min_lr=0.001,
    )
    steps = -(-n_train // 32)
    lrs = lr_schedule(
        base_lr=0.1, units=5 * steps, schedule="cosine", warmup=3, unit="step", min_lr=0.001
    )
    assert [h["lr"] for h in result.history] == [lrs[(e + 1) * steps - 1] for e in range(5)]
    assert result.config["t_max"] == 5 * steps - 3  # the run's steps after the warm-up
    # per epoch (the default for cosine), the same settings count epochs
    per_epoch = losslab.fit("iris", optimizer="sgd", lr=0.1, epochs=5, schedule="cosine")
    assert per_epoch.config["schedule_unit"] == "epoch" and per_epoch.config["t_max"] == 5


def test_full_batch_steps_once_per_epoch():
    a = losslab.fit("iris", optimizer="gd", epochs=6, schedule="cyclic", max_lr=1.0, step_size_up=2)
    b = losslab.fit(
        "iris",
        optimizer="gd",
        epochs=6,
        schedule="cyclic",
        max_lr=1.0,
        step_size_up=2,
        schedule_unit="epoch",
    )
    assert [h["lr"] for h in a.history] == [h["lr"] for h in b.history]
    assert a.history[-1]["train_loss"] == b.history[-1]["train_loss"]


# --------------------------------------------------------------------------- lazy, O(1)


def _usable(name: str) -> dict:
    return {"multistep": {"milestones": "3,5000"}, "cyclic": {"max_lr": 1.0}}.get(name, {})


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_lazy_and_equal_to_lr_at_bit_for_bit(name):
    """No schedule holds a list: a billion units cost nothing until an lr is asked for."""
    kwargs = {"base_lr": 0.3, "schedule": name, "warmup": 7, **_usable(name)}
    lrs = lr_schedule(units=10**9, **kwargs)
    assert len(lrs) == 10**9
    if isinstance(lrs, Plateau):
        assert [lrs.at(k) for k in (0, 6, 7, 10**9 - 1)] == [0.3 / 8, 0.3 * 7 / 8, 0.3, 0.3]
        with pytest.raises(ConfigError, match="losses"):
            lr_at(0, units=10, **kwargs)
        return
    assert isinstance(lrs, LRSchedule)
    for e in (0, 6, 7, 8, 12345, 10**9 - 1):
        assert lrs[e] == lr_at(e, units=10**9, **kwargs)
        assert 0 <= lrs[e] < math.inf
    assert lrs[-1] == lrs[10**9 - 1] and lrs[:3] == [lrs[0], lrs[1], lrs[2]]
    small = lr_schedule(units=30, **kwargs)
    assert list(small) == [lr_at(e, units=30, **kwargs) for e in range(30)]
    with pytest.raises(IndexError, match="unit must be in"):
        small[30]
    with pytest.raises(ValueError, match="unit must be in"):
        lr_at(30, units=30, **kwargs)


def test_warm_restarts_with_growing_cycles_at_a_huge_unit():
    lrs = lr_schedule(base_lr=1.0, units=10**12, schedule="cosine-warm-restarts", t_0=3, t_mult=2)
    # cycles start at 3·(2^i − 1): unit 3·(2^30 − 1) begins a cycle, the one before ends one
    begin = 3 * (2**30 - 1)
    assert lrs[begin] == 1.0
    period = 3 * 2**29
    assert lrs[begin - 1] == pytest.approx(0.5 * (1 + math.cos(math.pi * (period - 1) / period)))


# --------------------------------------------------------------------------- declarations


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_metadata(name):
    entry = SCHEDULES.get(name)
    assert entry.name == name and entry.description and "\n" not in entry.description
    assert entry.reference and entry.unit in ("epoch", "step")
    assert all(isinstance(h, Hyper) for h in entry.params)
    assert entry.to_dict() == {
        "name": name,
        "unit": entry.unit,
        "parameters": [h.to_dict() for h in entry.params],
        "description": entry.description,
        "reference": entry.reference,
    }


def test_parameter_names_are_their_own():
    """A schedule parameter's flag must not clash with a fit setting or an optimizer's."""
    settings = {f.name for f in fields(FitConfig)}
    assert not set(DECLARED) & settings
    assert not set(DECLARED) & set(HYPERPARAMETERS)
    for name, entries in DECLARED.items():  # one type per name
        assert len({h.kind for _, h in entries}) == 1, name


def test_config_round_trip_keeps_schedule_parameters():
    config = FitConfig.from_dict({"schedule": "step", "step_size": 3, "decay": 0.2})
    assert config.schedule_params == {"step_size": 3, "decay": 0.2}
    flat = config.to_dict()
    assert flat["step_size"] == 3 and "schedule_params" not in flat
    assert FitConfig.from_dict(flat).schedule_params == config.schedule_params


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warmup": -1}, "--warmup must be >= 0 and < --epochs (10), got -1"),
        ({"warmup": 10}, "--warmup must be >= 0 and < --epochs (10), got 10"),
        ({"schedule": "step", "step_size": 0}, "--step-size must be >= 1, got 0"),
        ({"schedule": "step", "decay": 0.0}, "--decay must be in (0, 1], got 0"),
        ({"schedule": "step", "decay": 1.5}, "--decay must be in (0, 1], got 1.5"),
        ({"schedule": "step", "decay": float("nan")}, "--decay must be in (0, 1], got nan"),
        ({"schedule": "inverse-scaling", "power_t": -0.5}, "--power-t must be >= 0, got -0.5"),
        ({"min_lr": -0.1}, "--min-lr must be >= 0, got -0.1"),
        ({"min_lr": 0.2}, "--min-lr must be in [0, lr] = [0, 0.1], got 0.2"),
        ({"base_lr": 0.0}, "--lr must be > 0, got 0"),
        ({"units": 0}, "--epochs must be >= 1, got 0"),
        ({"step_size": 3}, "--step-size is not used by cosine (it takes: --t-max, --min-lr)"),
        ({"schedule": "step", "t_0": 3}, "--t-0 is not used by step"),
        ({"schedule": "multistep"}, "multistep needs --milestones"),
        ({"schedule": "multistep", "milestones": "5,x"}, "--milestones takes comma-separated"),
        ({"schedule": "multistep", "milestones": "8,3"}, "must be strictly increasing, got 8,3"),
        ({"schedule": "multistep", "milestones": "0,3"}, "--milestones takes integers >= 1"),
        ({"schedule": "cyclic"}, "cyclic needs --max-lr"),
        ({"schedule": "cyclic", "max_lr": 1, "mode": "sine"}, "--mode must be one of"),
        ({"schedule": "one-cycle", "pct_start": 1.5}, "--pct-start must be in [0, 1], got 1.5"),
        ({"schedule": "one-cycle", "pct_start": 0.1}, "--pct-start 0.1 of 10 steps puts"),
        ({"schedule": "one-cycle", "anneal_strategy": "exp"}, "--anneal-strategy must be one"),
        ({"schedule": "linear", "start_factor": 0.0}, "--start-factor must be in (0, 1]"),
        ({"schedule": "constant", "factor": 0.0}, "--factor must be in (0, 1], got 0"),
        ({"schedule": "reduce-on-plateau", "decay": 1.0}, "--decay must be < 1 for reduce-on"),
        ({"schedule": "reduce-on-plateau", "unit": "step"}, "steps once per epoch"),
        ({"unit": "batch"}, "--schedule-unit must be one of epoch, step, got 'batch'"),
        ({"unit": "step", "warmup": 12}, "the run's 10 steps, got 12"),
        ({"t_max": 0}, "--t-max must be >= 1, got 0"),
    ],
)
def test_invalid_settings(kwargs, message):
    settings = {"base_lr": 0.1, "units": 10, "schedule": "cosine", **kwargs}
    for call in (lambda: lr_schedule(**settings), lambda: lr_at(0, **settings)):
        with pytest.raises(ConfigError) as err:
            call()
        assert message in str(err.value)


def test_unknown_schedule_suggests():
    with pytest.raises(UnknownNameError) as err:
        lr_schedule(base_lr=0.1, units=3, schedule="cosin")
    assert "choose from: constant, step, multistep, exponential, cosine," in str(err.value)
    assert "Did you mean 'cosine'?" in str(err.value)
    assert list(lr_schedule(base_lr=0.1, units=1, schedule="Inverse_Scaling")) == [0.1]


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--schedule", "multistep", "--milestones", "5,x"], "--milestones takes comma-separated"),
        (["--schedule", "one-cycle", "--pct-start", "1.5"], "--pct-start must be in [0, 1]"),
        (["--schedule", "cosin"], "Did you mean 'cosine'?"),
        (["--schedule", "step", "--t-0", "3"], "--t-0 is not used by step"),
        (["--t-max", "3"], "--t-max is not used by constant"),
        (["--schedule", "reduce-on-plateau", "--schedule-unit", "step"], "once per epoch"),
        (["--schedule", "cyclic", "--mode", "sine", "--max-lr", "1"], "--mode must be one of"),
    ],
)
def test_bad_schedule_settings(cli, args, needle):
    err = cli.error("fit", "iris", "--epochs", "2", "--no-save", *args)
    assert needle in err
    err = cli.error("compare", "iris", "--epochs", "2", "--no-save", "--seeds", "1", *args)
    assert needle in err


def test_schedule_flags_reach_the_run(cli):
    out = cli.json(
        "fit",
        "iris",
        "--epochs",
        "6",
        "--no-save",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--schedule",
        "multistep",
        "--milestones",
        "2,4",
        "--decay",
        "0.1",
        "--warmup",
        "1",
    )
    assert [h["lr"] for h in out["history"]] == pytest.approx(
        [0.05, 0.1, 0.1, 0.01, 0.01, 0.001], rel=1e-15
    )
    cfg = out["config"]
    assert (cfg["schedule"], cfg["schedule_unit"], cfg["milestones"]) == (
        "multistep",
        "epoch",
        [2, 4],
    )
    flagged = cli.json(
        "fit",
        "iris",
        "--epochs",
        "2",
        "--no-save",
        "--schedule",
        "one-cycle",
        "--three-phase",
        "--anneal-strategy",
        "linear",
        "--schedule-unit",
        "epoch",
    )
    assert (
        flagged["config"]["three_phase"] is True and flagged["config"]["schedule_unit"] == "epoch"
    )


def test_compare_passes_schedule_parameters(cli):
    out = cli.json(
        "compare",
        "iris",
        "--optimizer",
        "sgd",
        "--epochs",
        "3",
        "--seeds",
        "1",
        "--jobs",
        "1",
        "--no-save",
        "--schedule",
        "step",
        "--step-size",
        "1",
        "--decay",
        "0.25",
    )
    assert out["config"]["base"]["step_size"] == 1 and out["config"]["base"]["decay"] == 0.25


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_schedules_listing(cli, fmt):
    result = cli("schedules", "--format", fmt)
    if fmt == "json":
        import json

        rows = json.loads(result.stdout)
        assert [r["name"] for r in rows] == SCHEDULES.names()
        one_cycle = next(r for r in rows if r["name"] == "one-cycle")
        assert one_cycle["unit"] == "step"
        assert {
            "name": "pct_start",
            "default": 0.3,
            "type": "float",
            "range": "[0, 1]",
        }.items() <= (one_cycle["parameters"][0].items())
    elif fmt == "csv":
        lines = result.stdout.splitlines()
        assert lines[0] == "name,unit,parameters,lr at unit e,equals"
        assert len(lines) == 1 + len(SCHEDULES)
    else:
        assert "reduce-on-plateau" in result.stdout


def test_help_lists_every_schedule_parameter(cli):
    text = "".join(cli("fit", "--help").stdout.split())
    for name in DECLARED:
        assert "--" + name.replace("_", "-") in text
    assert "Default0.5:step,multistep,exponential;1:cyclic;0.1:reduce-on-plateau." in text
