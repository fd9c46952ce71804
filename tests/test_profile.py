"""Performance profiles over several datasets (losslab.study.profile), by hand and end to end."""

from __future__ import annotations

import math

import pytest

from losslab.study.profile import performance_profile, split_data, times_to_target
from losslab.study.summary import Study

INF = math.inf


def test_profile_by_hand():
    # three problems; a is fastest on p1, b on p2, nobody reaches p3's target but c
    problems = {
        "p1": {"a": 10.0, "b": 20.0, "c": 40.0},
        "p2": {"a": 30.0, "b": 10.0, "c": INF},
        "p3": {"a": INF, "b": INF, "c": 5.0},
    }
    profile, ratios = performance_profile(problems, ["a", "b", "c"])
    assert ratios == {"a": [1.0, 3.0, INF], "b": [2.0, 1.0, INF], "c": [4.0, INF, 1.0]}
    assert profile["problems"] == ["p1", "p2", "p3"]
    tau = profile["tau"]
    assert tau[0] == 1.0 and {2.0, 3.0, 4.0} <= set(tau) and tau == sorted(tau)

    def rho(name, t):
        return profile["fraction"][name][tau.index(t)]

    assert [rho("a", t) for t in (1.0, 2.0, 3.0, 4.0)] == pytest.approx(
        [1 / 3, 1 / 3, 2 / 3, 2 / 3]
    )
    assert [rho("b", t) for t in (1.0, 2.0, 4.0)] == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert [rho("c", t) for t in (1.0, 3.0, 4.0)] == pytest.approx([1 / 3, 1 / 3, 2 / 3])


def test_a_problem_nobody_solves_counts_for_nobody():
    profile, ratios = performance_profile({"p": {"a": INF, "b": INF}}, ["a", "b"])
    assert ratios == {"a": [INF], "b": [INF]}
    assert set(profile["fraction"]["a"]) == {0.0}


def _study(curves_by_run, runs, per_seed=None):
    curves = [
        {"run": run, "epoch": e, "objective": v, "seconds": 0.5 * e}
        for run, values in curves_by_run.items()
        for e, v in enumerate(values, start=1)
    ]
    reference = {"by_loss": {"mse": {"per_seed": per_seed}}} if per_seed else None
    return Study(runs=runs, summary=[], reference=reference, metric="r2", partial=False,
                 config={"data": {"source": "toy"}}, seconds=0.0, target_loss=None,
                 curves=curves)  # fmt: skip


def _run(i, opt, seed, lr=0.1, status="converged"):
    return {"run": i, "optimizer": opt, "lr": lr, "loss": "mse", "batch_size": 32, "seed": seed,
            "status": status}  # fmt: skip


def test_times_to_target_with_a_known_optimum():
    # f* = 1 on both seeds: target 1.01; a reaches it at epochs 3 and 5 (median 4), b at 2 and
    # never (median ∞), b's other lr at 6 and 6
    runs = [_run(0, "a", 0), _run(1, "a", 1), _run(2, "b", 0), _run(3, "b", 1),
            _run(4, "b", 0, lr=0.2), _run(5, "b", 1, lr=0.2)]  # fmt: skip
    curves = {
        0: [3, 2, 1.005, 1.0, 1.0],
        1: [3, 2, 1.5, 1.2, 1.01],
        2: [2, 1.0, 1.0, 1.0, 1.0, 1.0],
        3: [2, 2, 2, 2, 2, 2],
        4: [2, 2, 2, 2, 2, 1.0],
        5: [2, 2, 2, 2, 2, 1.0],
    }
    study = _study(curves, runs, per_seed=[1.0, 1.0])
    assert times_to_target(study) == {"mse": {"a": 4.0, "b": 6.0}}
    assert times_to_target(study, "time") == {"mse": {"a": 2.0, "b": 3.0}}


def test_without_an_optimum_the_best_reached_is_the_target():
    runs = [_run(0, "a", 0), _run(1, "b", 0), _run(2, "b", 1, status="diverged"),
            _run(3, "a", 1)]  # fmt: skip
    study = _study({0: [5, 4, 2.0], 1: [5, 2.01, 2.01], 2: [1.0], 3: [9, 8, 7]}, runs)
    # seed 0's target 2·1.01 from the best any run reached on seed 0; seed 1's 7·1.07 (not the
    # diverged run's last values): a takes (3, 3) epochs, b (2, ∞): its median is ∞
    assert times_to_target(study) == {"mse": {"a": 3.0, "b": INF}}


def test_split_data():
    assert split_data("iris,digits") == ["iris", "digits"]
    assert split_data(["iris", "breast-cancer,digits"]) == ["iris", "breast-cancer", "digits"]
    assert split_data("iris") == ["iris"]


def test_several_datasets_each_keep_their_study_and_add_a_profile(cli, tmp_path):
    out = cli.json("compare", "iris,breast-cancer", "--optimizer", "sgd,adam", "--seeds", "2",
                   "--epochs", "6", "--no-save")  # fmt: skip
    assert [s["config"]["data"]["source"] for s in out["studies"]] == ["iris", "breast-cancer"]
    assert set(out["profile"]) == {"tau", "fraction", "problems"}
    assert out["profile"]["problems"] == ["iris · cross-entropy", "breast-cancer · bce"]
    assert set(out["profile"]["fraction"]) == {"sgd", "adam"}
    again = cli.json("compare", "iris", "--data", "breast-cancer", "--optimizer", "sgd,adam",
                     "--seeds", "2", "--epochs", "6", "--no-save")  # fmt: skip
    assert again["profile"] == out["profile"]


def test_several_datasets_draw_the_profile(cli, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "profile.png"
    cli("compare", "iris,digits", "--optimizer", "sgd,adam", "--seeds", "2", "--epochs", "3",
        "--no-save", "--plot", png)  # fmt: skip
    assert png.stat().st_size > 0


def test_mixed_tasks_are_one_line(cli):
    err = cli.error("compare", "iris,diabetes", "--epochs", "2", "--no-save")
    assert "the datasets mix tasks" in err and "diabetes" in err


def test_profile_by_must_be_known(cli):
    err = cli.error("compare", "iris,digits", "--profile-by", "steps", "--no-save")
    assert "--profile-by must be epochs or time" in err
