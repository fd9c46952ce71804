"""The README's shown outputs are what the commands print today.

Every ```text block of README.md that starts with ``$ losslab …`` is run as written (a figure
goes to a temporary directory instead of docs/), and the numbers it prints are compared with the
numbers the block shows, in order: a changed loss, lr, count or ranking fails the test. The
terminal is as wide as the block's widest line (at least 80 columns). A block that marks an
excerpt with "…" shows some of the numbers, in order; a block that shows no output only has to
run. A block with a boxed (wide) table runs at 300 columns: its natural width. Wall times are
left out (a ``time s`` column, ``8.4 s`` in a title, ``seconds`` rows). The MNIST blocks take
minutes: they run with ``LOSSLAB_README_ALL=1``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import losslab

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SLOW = re.compile(r"\bmnist\b")
TIME_COLUMNS = {"time s", "time", "seconds", "s/epoch"}
NUMBER = re.compile(r"[-+−]?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?")


def _blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    out = []
    for match in re.finditer(r"```text\n(.*?)```", text, re.S):
        lines = match.group(1).rstrip("\n").splitlines()
        if lines and lines[0].startswith("$ losslab "):
            out.append((lines[0][2:], "\n".join(lines[1:])))
    return out


BLOCKS = _blocks()


def _without_times(text: str) -> str:
    """The text with wall times removed: time columns of rich tables, durations elsewhere."""
    out, drop = [], set()
    for line in text.splitlines():
        if line.startswith("┃"):  # a header row: find the time columns
            cells = [c.strip() for c in line.strip("┃").split("┃")]
            drop = {i for i, c in enumerate(cells) if c in TIME_COLUMNS}
        elif line.startswith("│") and drop:
            cells = line.strip("│").split("│")
            line = "│".join(c for i, c in enumerate(cells) if i not in drop)
        elif line.startswith(("└", "┗", "╰")):
            drop = set()
        if re.match(r"\s*│?\s*seconds\b", line) or line.startswith(("saved: ", "record: ")):
            continue  # a wall time; a record's directory (named by the clock)
        line = re.sub(r"\d+(?:\.\d+)?\s?(?:s|ms|min)\b", "", line)
        line = re.sub(r"\d+:\d\d(?::\d\d)?", "", line)
        out.append(line)
    return "\n".join(out)


def numbers(text: str) -> list[str]:
    return NUMBER.findall(_without_times(text))


def _command(line: str, tmp: Path) -> list[str]:
    args = shlex.split(line.replace("…", ""))
    env_prefix = [a for a in args if re.match(r"^[A-Z_]+=", a)]
    args = args[len(env_prefix) :]
    assert args[0] == "losslab", line
    out = []
    for i, arg in enumerate(args[1:], start=1):
        previous = args[i - 1]
        if previous in ("--plot", "--out", "-o") and arg.startswith("docs/"):
            arg = str(tmp / Path(arg).name)  # never redraw the README's own figures
        elif arg.startswith("examples/"):
            arg = str(ROOT / arg)  # the repository's example files, from the temporary directory
        out.append(arg)
    return out


@pytest.mark.parametrize(("line", "shown"), BLOCKS, ids=[b[0][:60] for b in BLOCKS])
def test_readme_output_is_what_the_command_prints(line, shown, tmp_path):
    if SLOW.search(line) and not os.environ.get("LOSSLAB_README_ALL"):
        pytest.skip("minutes of MNIST: run with LOSSLAB_README_ALL=1")
    if "…" in line:
        pytest.skip("an abridged command")
    if "--plot" in line:
        pytest.importorskip("matplotlib")  # the figure is part of the command
    args = _command(line, tmp_path)
    root = str(Path(losslab.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
        # a boxed table is shown at its natural width (its time column may grow by a digit)
        "COLUMNS": "300"
        if "┏" in shown
        else str(max([80, *(len(row) for row in shown.splitlines())])),
        "NO_COLOR": "1",
    }
    env.update(dict(a.split("=", 1) for a in shlex.split(line) if re.match(r"^[A-Z_]+=", a)))
    run = subprocess.run(
        [sys.executable, "-m", "losslab", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=1800,
    )
    printed = run.stdout + run.stderr
    printed = printed.replace(str(tmp_path) + os.sep, "docs/")
    assert run.returncode == 0, f"$ {line}\n{printed}"
    if "…" in shown:  # an excerpt: its numbers, in order, among those printed
        rest = iter(numbers(printed))
        assert all(n in rest for n in numbers(shown)), f"$ {line}\n{printed}"
    elif shown.strip():
        assert numbers(printed) == numbers(shown), f"$ {line}\n{printed}"


def test_the_time_filter_keeps_every_other_number():
    table = (
        "iris · 4 runs · 8.4 s · mean\n"
        "┃ optimizer ┃ lr   ┃ time s ┃ diverged ┃\n"
        "│ adam      │ 0.01 │ 0.702  │ 0/3      │\n"
        "└───────────┴──────┴────────┴──────────┘\n"
        "epochs→target: 12"
    )
    assert numbers(table) == ["4", "0.01", "0", "3", "12"]
