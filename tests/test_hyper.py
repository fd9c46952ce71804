"""Declared hyperparameters: one declaration gives the validation, the flags, the help and the
listing (losslab/hyper.py, the optimizer registry, `losslab optimizers`)."""

from __future__ import annotations

import pytest

from losslab.errors import ConfigError
from losslab.hyper import Hyper, count, nonnegative, positive, resolve, switch, unit
from losslab.optim.optimizers import DECLARED, HYPERPARAMETERS, OPTIMIZERS, hyper_help


@pytest.mark.parametrize(
    ("hyper", "value", "message"),
    [
        (unit("rho", 0.9, "decay"), 1.5, "--rho must be in [0, 1), got 1.5"),
        (unit("rho", 0.9, "decay"), -0.0001, "--rho must be in [0, 1), got -0.0001"),
        (positive("eps", 1e-8, "eps"), 0.0, "--eps must be > 0, got 0"),
        (positive("eps", 1e-8, "eps"), float("inf"), "--eps must be > 0, got inf"),
        (nonnegative("weight_decay", 0.0, "wd"), -1, "--weight-decay must be >= 0, got -1"),
        (count("history_size", 100, "m"), 0, "--history-size must be >= 1, got 0"),
        (count("history_size", 100, "m"), 2.5, "--history-size must be an integer, got 2.5"),
        (switch("nesterov", False, "n"), 1, "--nesterov must be true or false, got 1"),
        (unit("rho", 0.9, "decay"), "0.5", "--rho must be a number, got '0.5'"),
        (unit("rho", 0.9, "decay"), None, "--rho needs a value"),
        (
            Hyper("line_search_fn", "none", "ls", kind=str, choices=("none", "strong-wolfe")),
            "wolfe",
            "--line-search-fn must be one of none, strong-wolfe, got 'wolfe'",
        ),
        (
            Hyper("eta_plus", 1.2, "growth", low=1.0, low_open=True),
            1.0,
            "--eta-plus must be > 1, got 1",
        ),
        (Hyper("x", 0.5, "x", low=0, high=1, low_open=True), 0, "--x must be in (0, 1], got 0"),
    ],
)
def test_check_names_flag_range_and_value(hyper, value, message):
    with pytest.raises(ConfigError) as err:
        hyper.check(value)
    assert str(err.value) == message


def test_check_accepts_and_converts():
    assert count("max_iter", 20, "n").check(5.0) == 5
    assert isinstance(count("max_iter", 20, "n").check(5.0), int)
    assert Hyper("ls", "none", "ls", kind=str, choices=("strong-wolfe",)).check("Strong_Wolfe") == (
        "strong-wolfe"
    )
    assert positive("eps1", None, "e", optional=True).check(None) is None
    assert unit("rho", 0.9, "d").check(0) == 0.0


def test_resolve_fills_defaults_and_names_what_is_taken():
    declared = (unit("rho", 0.9, "d"), positive("eps", 1e-6, "e"))
    assert resolve(declared, {"rho": None, "eps": 1e-3}, "adadelta") == {"rho": 0.9, "eps": 1e-3}
    with pytest.raises(ConfigError, match=r"--beta1 is not used by adadelta \(it takes: --rho"):
        resolve(declared, {"beta1": 0.5}, "adadelta")
    assert resolve(declared, {"beta1": None}, "adadelta") == {"rho": 0.9, "eps": 1e-6}


def test_every_declaration_is_consistent():
    """A name means one thing: the same type wherever it is declared; defaults in range."""
    for name, entries in DECLARED.items():
        kinds = {h.kind for _, h in entries}
        assert len(kinds) == 1, (name, kinds)
        for opt, h in entries:
            assert h.check(h.default) == h.default or h.default is None, (opt, name)
            assert h.help and not h.help.endswith("."), (opt, name)
    assert HYPERPARAMETERS == list(DECLARED)
    for name, spec in OPTIMIZERS.items():
        assert [h.name for h in spec.hypers] == [h.name for h in spec.rule.hypers], name


@pytest.mark.parametrize("command", ["fit", "compare"])
def test_every_hyperparameter_is_a_flag_with_its_help(cli, command):
    text = " ".join(cli(command, "--help").output.split())
    for name in HYPERPARAMETERS:
        flag = "--" + name.replace("_", "-")
        assert flag in text, flag
        # the help names every optimizer that takes it
        for opt, _ in DECLARED[name]:
            assert opt in hyper_help(name)


def test_flags_reach_the_optimizer_and_the_record(cli):
    out = cli.json(
        "fit",
        "iris",
        "--optimizer",
        "adam",
        "--beta1",
        "0.8",
        "--amsgrad",
        "--epochs",
        "2",
        "--no-save",
    )
    assert out["config"]["beta1"] == 0.8 and out["config"]["amsgrad"] is True
    assert out["config"]["beta2"] == 0.999
    off = cli.json(
        "fit",
        "iris",
        "--optimizer",
        "adamw",
        "--no-decoupled-weight-decay",
        "--epochs",
        "2",
        "--no-save",
    )
    assert off["config"]["decoupled_weight_decay"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--optimizer", "sgd", "--beta1", "0.5"], "--beta1 is not used by sgd"),
        (["--optimizer", "adam", "--beta2", "1"], "--beta2 must be in [0, 1), got 1"),
        (["--optimizer", "rmsprop", "--eps", "-1"], "--eps must be > 0, got -1"),
    ],
)
def test_bad_hyperparameters_are_one_line(cli, args, message):
    result = cli("fit", "iris", "--no-save", *args, code=1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_optimizers_lists_every_name_with_reference(cli):
    rows = cli.json("optimizers")
    assert [r["name"] for r in rows] == OPTIMIZERS.names()
    for row in rows:
        assert row["reference"] and row["description"] and row["lr"] > 0


def test_optimizers_name_shows_the_declarations(cli):
    info = cli.json("optimizers", "AdamW")
    assert info["name"] == "adamw"
    by_name = {h["name"]: h for h in info["hyperparameters"]}
    assert by_name["weight_decay"]["default"] == 0.01
    assert by_name["beta1"]["range"] == "[0, 1)"
    assert by_name["decoupled_weight_decay"]["default"] is True
    table = cli("optimizers", "adamw").output
    assert "--weight-decay" in table and "torch.optim.AdamW" in table
    result = cli("optimizers", "adamm", code=1)
    assert "Did you mean 'adam'?" in result.output
