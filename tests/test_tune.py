"""compare --tune: search spaces, trials drawn from --seed, the choice, records and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import losslab
from losslab.errors import ConfigError
from losslab.hyper import Hyper, Space, log_uniform, one_minus_log
from losslab.optim.optimizers import OPTIMIZERS, check_spaces
from losslab.study.tune import Tune, draw, parse_tune

FAST = ("--epochs", "8", "--no-save")


def test_log_uniform_draws_are_uniform_in_log():
    space = log_uniform(1e-5, 1.0)
    rng = np.random.default_rng(0)
    x = np.array([space.sample(rng) for _ in range(4000)])
    assert x.min() >= 1e-5 and x.max() <= 1.0
    # log10 x is uniform on [-5, 0]: mean -2.5, variance 25/12
    assert np.log10(x).mean() == pytest.approx(-2.5, abs=0.08)
    assert np.log10(x).var() == pytest.approx(25 / 12, rel=0.05)
    # the draw is exp(log lo + u·(log hi − log lo)) with u the generator's next uniform
    u = np.random.default_rng(1).random()
    assert space.sample(np.random.default_rng(1)) == pytest.approx(1e-5 ** (1 - u))


def test_one_minus_and_zero():
    beta = one_minus_log(1e-3, 0.5)
    assert beta.grid(3) == pytest.approx([0.999, 1 - math.sqrt(5e-4), 0.5])
    wd = log_uniform(1e-4, 1e-2, zero=True)
    assert wd.grid(3) == pytest.approx([0.0, 1e-4, 1e-2])
    draws = [wd.sample(np.random.default_rng(s)) for s in range(2000)]
    assert np.mean(np.array(draws) == 0.0) == pytest.approx(0.2, abs=0.03)
    assert "or 0" in wd.text() and beta.text() == "1 − log-uniform [0.001, 0.5]"


@pytest.mark.parametrize(
    "space, message",
    [
        (lambda: Space("log", 1.0, 0.1), "needs 0 < low < high"),
        (lambda: Space("log", 0.1, 0.1), "needs 0 < low < high"),
        (lambda: Space("log", 0.0, 1.0), "needs 0 < low < high"),
        (lambda: Space("cubic", 0.1, 1.0), "must be log or one-minus"),
    ],
)
def test_a_bad_space_in_a_declaration_is_one_line(space, message):
    with pytest.raises(ConfigError, match=message) as err:
        space()
    assert "\n" not in str(err.value)


def test_a_space_outside_the_range_or_missing_is_refused_at_registration():
    h = Hyper("momentum", 0.5, "μ", low=0.0, high=1.0, high_open=True)
    wide = h.with_space(log_uniform(0.1, 2.0))
    with pytest.raises(ConfigError, match="leaves its range"):
        check_spaces("plug", (wide,), ("momentum",))
    with pytest.raises(ConfigError, match="without a space"):
        check_spaces("plug", (h,), ("momentum",))


def test_every_registered_space_lies_in_its_range():
    for name, spec in OPTIMIZERS.items():
        check_spaces(name, spec.hypers, spec.tuned)
        assert set(spec.spaces) == {"lr", *spec.tuned}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("none", Tune()),
        ("default", Tune("default")),
        ("random:20", Tune("random", 20)),
        ("Grid:5", Tune("grid", 5)),
    ],
)
def test_parse_tune(text, expected):
    assert parse_tune(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("random:0", "needs N >= 1"),
        ("random:x", "needs a whole number N"),
        ("grid:-2", "needs N >= 1"),
        ("bayes:3", "must be none, default, random:N or grid:N"),
        ("random", "needs a whole number N"),
    ],
)
def test_bad_tune_is_one_line(cli, text, message):
    err = cli.error("compare", "iris", "--tune", text, *FAST)
    assert message in err


def test_draws_depend_on_the_seed_and_the_optimizer_only():
    adam = OPTIMIZERS.get("adam")
    a = draw(adam, Tune("random", 5), set(), seed=3)
    assert a == draw(adam, Tune("random", 5), set(), seed=3)
    assert a != draw(adam, Tune("random", 5), set(), seed=4)
    assert list(a[0]) == ["lr", "beta1", "beta2", "eps"]
    fixed = draw(adam, Tune("random", 5), {"beta2", "eps"}, seed=3)
    assert list(fixed[0]) == ["lr", "beta1"]
    grid = draw(adam, Tune("grid", 3), {"beta2", "eps"}, seed=3)
    assert len(grid) == 9 and grid[0] == {"lr": 1e-5, "beta1": 0.999}
    with pytest.raises(ConfigError, match="at most 2 tuned"):
        draw(adam, Tune("grid", 3), set(), seed=3)


def _tuned(cli, *args):
    return cli.json("compare", "iris", "--optimizer", "sgd,adam", "--seeds", "2", *FAST, *args)


def test_tuning_records_trials_choice_and_finals(cli):
    out = _tuned(cli, "--tune", "random:3", "--seed", "5", "--jobs", "1")
    tuning = out["tuning"]
    assert set(tuning) == {"sgd", "adam"}
    for name, entry in tuning.items():
        assert entry["budget"] == 3 and len(entry["trials"]) == 3
        scores = [t["score"] for t in entry["trials"]]
        best = min(s for s in scores if s is not None)
        assert entry["score"] == best
        chosen = entry["trials"][scores.index(best)]
        assert entry["chosen"] == {k: v for k, v in chosen.items() if k != "score"}
        # the trial's score is its run's final validation loss
        trials = [r for r in out["runs"] if r["phase"] == "tune" and r["optimizer"] == name]
        assert [r["val_loss"] for r in trials] == scores
        assert {r["seed"] for r in trials} == {5}
        finals = [r for r in out["runs"] if r["phase"] == "final" and r["optimizer"] == name]
        assert [r["seed"] for r in finals] == [0, 1]
        assert {r["lr"] for r in finals} == {entry["chosen"]["lr"]}
    assert out["config"]["base"]["val_size"] == 0.2  # --tune makes a validation split
    # the summary holds the finals only
    assert sum(row["seeds"] for row in out["summary"]) == 4
    (pair,) = out["pairs"]
    assert set(pair) == {"best", "other", "cell", "metric", "n", "wins", "mean_diff", "ci", "p",
                         "p_holm"}  # fmt: skip
    assert pair["n"] == 2 and pair["metric"] == "val_loss"


def test_same_seed_same_trials_and_choice_whatever_jobs(cli):
    one = _tuned(cli, "--tune", "random:3", "--jobs", "1")
    two = _tuned(cli, "--tune", "random:3", "--jobs", "2")
    assert one["tuning"] == two["tuning"]
    assert one["pairs"] == two["pairs"]


def test_tune_default_has_budget_zero(cli):
    out = _tuned(cli, "--tune", "default")
    assert out["tuning"]["sgd"] == {"budget": 0, "chosen": {"lr": 0.05}, "score": None,
                                    "trials": []}  # fmt: skip
    assert out["tuning"]["adam"]["chosen"] == {"lr": 0.01, "beta1": 0.9, "beta2": 0.999,
                                               "eps": 1e-8}  # fmt: skip
    assert all(r["phase"] == "final" for r in out["runs"])


def test_a_given_flag_is_fixed_and_nothing_left_runs_once(cli):
    out = cli.json("compare", "iris", "--optimizer", "sgd", "--lr", "0.1", "--tune", "random:4",
                   "--seeds", "2", *FAST)  # fmt: skip
    assert out["tuning"]["sgd"]["budget"] == 0
    assert any("nothing to tune" in n for n in out["config"]["coincided"])
    assert [r["lr"] for r in out["runs"]] == [0.1, 0.1]
    out = cli.json("compare", "iris", "--optimizer", "adam", "--beta1", "0.8", "--tune",
                   "random:2", "--seeds", "2", *FAST)  # fmt: skip
    assert all(t["beta1"] == 0.8 for t in out["tuning"]["adam"]["trials"])


def test_one_seed_tunes_and_says_there_are_no_statistics(cli):
    out = cli.json("compare", "iris", "--optimizer", "sgd,adam", "--tune", "random:2", *FAST,
                   "--seeds", "1")  # fmt: skip
    assert out["pairs"] == []
    assert any("no statistics" in n for n in out["config"]["coincided"])


def test_select_train_chooses_by_the_training_objective(cli):
    out = _tuned(cli, "--tune", "random:3", "--select", "train")
    runs = [r for r in out["runs"] if r["phase"] == "tune" and r["optimizer"] == "sgd"]
    assert [t["score"] for t in out["tuning"]["sgd"]["trials"]] == [r["objective"] for r in runs]
    assert cli.error("compare", "iris", "--tune", "random:2", "--select", "test", *FAST)


def test_the_table_shows_the_choice_and_the_statistics(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    text = cli("compare", "iris", "--optimizer", "sgd,adam", "--tune", "random:2",
               "--seeds", "3", *FAST).stdout  # fmt: skip
    assert "vs best" in text and "tuned" in text and "β1=" in text
    assert "tuned: --tune random:2 (budget 2 per optimizer) on seed 0" in text


def test_a_tuned_study_saves_and_loads(cli, tmp_path):
    from losslab.study.compare import load_study

    out = cli.json("compare", "iris", "--optimizer", "sgd,adam", "--tune", "random:2",
                   "--seeds", "2", "--epochs", "5", "--out", tmp_path)  # fmt: skip
    study = load_study(out["record"])
    assert [r["phase"] for r in study.runs].count("tune") == 4
    assert study.config["tuning"] == out["tuning"]


def test_api_compare_tune():
    study = losslab.compare("iris", optimizer="sgd", tune="random:2", seeds=2, epochs=5)
    assert study.to_dict()["tuning"]["sgd"]["budget"] == 2


def test_several_given_lrs_each_tune_the_rest(cli):
    out = cli.json("compare", "iris", "--optimizer", "momentum", "--lr", "0.01,0.1", "--tune",
                   "random:2", "--seeds", "2", *FAST)  # fmt: skip
    tuning = out["tuning"]
    assert set(tuning) == {"momentum (lr 0.01, cross-entropy, batch 32)",
                           "momentum (lr 0.1, cross-entropy, batch 32)"}  # fmt: skip
    for name, entry in tuning.items():
        lr = 0.01 if "lr 0.01" in name else 0.1
        assert {t["lr"] for t in entry["trials"]} == {lr} and entry["budget"] == 2
    finals = [r for r in out["runs"] if r["phase"] == "final"]
    assert sorted(r["lr"] for r in finals) == [0.01, 0.01, 0.1, 0.1]
