"""Plugins on the command line: `--plugin` on every command, LOSSLAB_PLUGINS, `losslab plugins`,
one-line errors, records that name them, and the same numbers on 1 process, 2 and dask."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from test_plugins import BAD, EXAMPLES, ISSUE_FILE

from losslab.cli.group import COMMANDS, ENTRY_POINT_GROUPS
from losslab.train import plugins


@pytest.fixture(autouse=True)
def isolated():
    saved = plugins.snapshot()
    yield
    plugins.restore(saved)


@pytest.fixture
def my(tmp_path) -> Path:
    path = tmp_path / "my.py"
    path.write_text(ISSUE_FILE, encoding="utf-8")
    return path


def test_every_command_takes_plugin(cli, my):
    for name in COMMANDS:
        text = cli(name, "--plugin", my, "--help").stdout
        assert "--plugin FILE.py" in text, name


def test_the_entry_point_groups_are_the_loaders():
    assert ENTRY_POINT_GROUPS == tuple(plugins.GROUPS)


def test_declared_flags_and_listings(cli, my):
    assert "--shrink" in cli("fit", "--plugin", my, "--help").stdout
    assert "--shrink" in cli("compare", f"--plugin={my}", "--help").stdout
    losses = {row["name"]: row for row in cli.json("losses", "--plugin", my)}
    assert losses["scaled-mse"]["formula"] == "3·(ŷ − y)²"
    row = next(r for r in cli.json("optimizers", "--plugin", my) if r["name"] == "shrunk-sgd")
    assert (row["lr"], row["hyperparameters"]) == (0.01, {"shrink": 0.5})
    charbonnier = EXAMPLES / "charbonnier.py"
    row = next(r for r in cli.json("losses", "--plugin", charbonnier) if r["name"] == "charbonnier")
    assert row["inputs"].endswith("; numeric gradient")


def test_fit_with_the_plugin_optimizer_and_loss(cli, my):
    out = cli.json(
        "fit", "diabetes", "--plugin", my, "--optimizer", "shrunk-sgd", "--shrink", "0.3",
        "--loss", "scaled-mse", "--epochs", "3", "--no-save",
    )  # fmt: skip
    assert out["config"]["optimizer"] == "shrunk-sgd" and out["config"]["shrink"] == 0.3
    assert out["config"]["loss"] == "scaled-mse"
    message = cli.error("fit", "diabetes", "--plugin", my, "--optimizer", "shrunk-sgd",
                        "--shrink", "2", "--no-save")  # fmt: skip
    assert "--shrink must be in [0, 1], got 2" in message


def test_env_variable(cli, my, tmp_path, monkeypatch):
    other = tmp_path / "other.py"
    other.write_text((EXAMPLES / "inverse_sqrt.py").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("LOSSLAB_PLUGINS", f"{my}{__import__('os').pathsep}{other}")
    names = [p["path"] for p in cli.json("plugins")]
    assert names == [str(my), str(other)]
    assert "inverse-sqrt" in [r["name"] for r in cli.json("schedules")]


def test_plugins_command_lists_every_check(cli):
    out = cli.json("plugins", *sorted(EXAMPLES.glob("*.py")))
    assert [Path(p["path"]).name for p in out] == ["adopt.py", "charbonnier.py", "inverse_sqrt.py"]
    checks = [c for p in out for c in p["checks"]]
    assert all(c["ok"] for c in checks) and len({p["sha256"] for p in out}) == 3
    assert {"quadratic", "determinism", "gradient", "lrs"} <= {c["what"] for c in checks}
    assert cli.json("plugins") == out  # loaded for the rest of this process


@pytest.mark.parametrize("case", ["syntax", "import", "wrong grad", "loss NaN", "builtin clash"])
def test_a_bad_plugin_is_one_line_and_exit_1(cli, tmp_path, case):
    path = tmp_path / "bad.py"
    path.write_text(BAD[case][0], encoding="utf-8")
    for args in (("losses", "--plugin", path), ("plugins", path)):
        message = cli.error(*args)
        assert message.startswith(f"error: plugin {path}") and BAD[case][1] in message


def test_missing_plugin_file(cli, tmp_path):
    assert "nope.py: cannot read it" in cli.error("datasets", "--plugin", tmp_path / "nope.py")


def _runs(cli, *args):
    out = cli.json("compare", "diabetes", *args)
    keys = ("optimizer", "loss", "seed", "train_loss", "test_loss")
    return [tuple(r[k] for k in keys) for r in out["runs"]]


def test_the_same_numbers_on_one_process_two_and_dask(cli):
    pytest.importorskip("distributed")
    args = (
        "--plugin", EXAMPLES / "adopt.py", "--plugin", EXAMPLES / "charbonnier.py",
        "--plugin", EXAMPLES / "inverse_sqrt.py", "--optimizer", "adopt,sgd", "--lr", "0.05",
        "--loss", "charbonnier,mse", "--schedule", "inverse-sqrt", "--tau", "3", "--target-scale",
        "standard", "--epochs", "3", "--seeds", "2", "--no-save",
    )  # fmt: skip
    one = _runs(cli, *args, "--jobs", "1")
    assert len(one) == 8 and {r[0] for r in one} == {"adopt", "sgd"}
    assert _runs(cli, *args, "--jobs", "2") == one
    assert _runs(cli, *args, "--executor", "dask", "--jobs", "2") == one


def test_a_record_names_its_plugins(cli, my, tmp_path):
    fresh = plugins.snapshot()
    cli.json("compare", "diabetes", "--plugin", my, "--optimizer", "shrunk-sgd", "--epochs", "2",
             "--seeds", "1", "--out", tmp_path / "res")  # fmt: skip
    (study,) = (tmp_path / "res").iterdir()
    config = json.loads((study / "config.json").read_text(encoding="utf-8"))
    assert config["plugins"] == [{"path": str(my), "sha256": plugins.recorded()[0]["sha256"]}]
    if importlib.util.find_spec("matplotlib") is None:  # plot and report draw with it
        plugins.restore(fresh)
        pytest.skip("plot and report need matplotlib")
    assert "plugin" not in cli("plot", study, "--out", tmp_path / "x.svg").stderr
    plugins.restore(fresh)  # a later process, without the plugin: told, and nothing loaded
    said = cli("report", study, "--out", tmp_path / "x.html").stderr
    assert f"was made with the plugin {my} (sha256 {config['plugins'][0]['sha256'][:12]}" in said
    assert f"pass --plugin {my}" in said and not plugins.LOADED
