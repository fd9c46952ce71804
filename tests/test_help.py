"""Every command's --help: options in panels, plain text, and examples that run as printed."""

from __future__ import annotations

import glob
import re
import shlex

import pytest

from losslab.cli.group import COMMANDS
from losslab.cli.helptext import EXAMPLES

FIT_PANELS = (
    "Arguments", "Data", "Model", "Loss", "Optimizer", "Schedule", "Training", "Output",
    "Plugins", "Loss parameters", "Schedule parameters", "Optimizer hyperparameters",
)  # fmt: skip


def _headings(text: str) -> list[str]:
    return re.findall(r"^(\S[^:\n]*):\s*$", text, flags=re.M)


def test_every_command_has_two_or_three_examples_in_its_help(cli):
    for name in COMMANDS:
        assert 2 <= len(EXAMPLES[name]) <= 3, name
        text = cli(name, "--help").stdout
        shown = text.split("Examples:\n", 1)[1].splitlines()
        assert [line.strip() for line in shown if line.strip()] == list(EXAMPLES[name]), name
        for example in EXAMPLES[name]:
            assert example.split()[:2] == ["losslab", name], example


def test_every_example_runs_as_printed(cli, tmp_path, monkeypatch):
    """Run as a shell would, in order (a later one reads what an earlier one saved)."""
    pytest.importorskip("matplotlib")  # some examples draw
    monkeypatch.chdir(tmp_path)
    for name in COMMANDS:
        for example in EXAMPLES[name]:
            words = shlex.split(example)[1:]
            into = None
            if ">" in words:
                words, into = words[: words.index(">")], words[words.index(">") + 1]
            args = []
            for word in words:
                if "*" in word:
                    (match,) = glob.glob(word)  # exactly one, as the example promises
                    args.append(match)
                else:
                    args.append(word)
            result = cli(*args)
            if into is not None:
                (tmp_path / into).write_text(result.stdout, encoding="utf-8")
    assert (tmp_path / "iris.svg").stat().st_size > 0
    assert (tmp_path / "iris.html").stat().st_size > 0
    assert (tmp_path / "predictions.csv").read_text().count("\n") == 151  # header + 150 rows


@pytest.mark.parametrize("name", ["fit", "compare", "landscape", "lr-find"])
def test_long_option_lists_are_grouped_in_panels(cli, name):
    text = cli(name, "--help").stdout
    headings = _headings(text)
    assert "Optimizer hyperparameters" in headings and "Loss parameters" in headings
    assert "Data" in headings and "Model" in headings and "Output" in headings
    if name == "fit":
        assert headings == [*FIT_PANELS, "Examples"]
        section = text.split("\nModel:\n", 1)[1].split("\n\n", 1)[0]
        assert {"--model", "--hidden", "--layers", "--image"} <= set(
            re.findall(r"--[a-z-]+", section)
        )
        section = text.split("\nOptimizer hyperparameters:\n", 1)[1].split("\n\n", 1)[0]
        assert "--beta1" in section and "--momentum" in section and "--lr " not in section


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_is_plain_text_within_80_columns(cli, name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    text = cli(name, "--help").stdout
    assert max(map(len, text.splitlines())) <= 80
    assert not re.search(r"\[/?(bold|dim|red|green|yellow|cyan|link)\b|[╭╮╰╯│─━┃]", text)


def test_the_model_lists_name_cnn():
    assert "mlp or cnn" in COMMANDS["fit"][1]
