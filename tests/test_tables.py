"""Tables for people: names are never cut at any width, and numbers read one way per column."""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from losslab.data.read import DATASETS
from losslab.losses import LOSSES
from losslab.optim.optimizers import OPTIMIZERS
from losslab.optim.schedules import SCHEDULES
from losslab.views import render
from losslab.views.numbers import column_formatter, plural, spread_formatter

WIDTHS = (60, 80, 120, 140)


def _names(listing: str) -> list[str]:
    """Every name a user types that `losslab LISTING` shows."""
    if listing == "losses":
        return [n for name in LOSSES.names() for n in (name, *LOSSES.aliases_of(name))]
    if listing == "optimizers":
        return list(OPTIMIZERS.names())
    if listing == "schedules":
        classes = [re.findall(r"torch\.[\w.]+", SCHEDULES.get(n).reference) for n in SCHEDULES]
        return [*SCHEDULES.names(), *(c.rstrip(".") for found in classes for c in found)]
    return list(DATASETS)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("listing", ["losses", "optimizers", "schedules", "datasets"])
def test_listings_never_cut_a_name(cli, monkeypatch, listing, width):
    monkeypatch.setenv("COLUMNS", str(width))
    out = cli(listing).stdout
    assert "…" not in out
    assert max(cell_len(line.rstrip()) for line in out.splitlines()) <= width
    names = _names(listing)
    assert len(names) >= 9
    for name in names:
        assert re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", out), (name, width)


def _printed(table, width: int = 200) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue()


@pytest.mark.parametrize(
    ("values", "digits", "expected"),
    [
        # one value needs scientific notation: the whole column uses it
        ([0.000264, 4.5654e-05], 5, ["2.6400e-04", "4.5654e-05"]),
        ([136000.0, 548.5531], 4, ["1.360e+05", "5.486e+02"]),
        # fixed: the smallest value's significant digits, the same decimals on every row
        ([0.5, 12.25, 3.0], 4, ["0.5000", "12.2500", "3.0000"]),
        ([2978.413048, 43.796951], 5, ["2978.413", "43.797"]),
        # far apart: the small one's digits decide the decimals
        ([0.002, 99.0], 3, ["0.00200", "99.00000"]),
        # integers, missing values and text keep their own form
        ([3, None, "n/a", 0.25], 3, ["3", "—", "n/a", "0.250"]),
        # zero is 0, never a row of zeros
        ([0.0, 0.25], 3, ["0", "0.250"]),
    ],
)
def test_a_column_has_one_notation(values, digits, expected):
    show = column_formatter(values, digits)
    assert [show(v) for v in values] == expected


def test_mean_and_spread_share_the_column_notation():
    show = spread_formatter([136000.0, 21.0], 4)
    assert show(136000.0, 548.5531) == "1.360e+05 ± 5.5e+02"
    assert show(21.0, 0.5) == "2.100e+01 ± 5.0e-01"
    show = spread_formatter([0.5, 0.25], 3)
    assert show(0.5, 0.0123) == "0.500 ± 0.012"
    assert show(None, None) == "—"
    assert show(0.5, 0.0) == "0.500 ± 0" and show(0.5, 3e-9) == "0.500 ± 3.0e-09"


def test_units_agree_with_their_count():
    assert plural(1, "iteration") == "1 iteration"
    assert plural(2, "iteration") == "2 iterations"
    assert plural(0, "run") == "0 runs"


def test_render_table_applies_the_column_notation():
    table = render.table(None, ["optimizer", "f − f*"], [("sgd", 0.000264), ("adam", 4.5654e-05)])
    out = _printed(table)
    assert "2.6400e-04" in out and "4.5654e-05" in out and "0.000264" not in out


def test_a_table_too_narrow_for_its_names_shows_one_block_per_row():
    long = "squared-epsilon-insensitive"
    rows = [(long, "a formula with many words in it " * 3, 1.5)]
    out = _printed(render.table("T", ["name", "formula", "x"], rows), width=40)
    assert long in out and "…" not in out
    assert all(cell_len(line.rstrip()) <= 40 for line in out.splitlines())


def test_optional_columns_go_first_and_are_named_where_the_width_is_short():
    header = ["optimizer", "train", "ece", "brier", "vs best"]
    rows = [("adam", 0.123456, 0.0311, 0.0222, "best"), ("sgd", 0.2, 0.05, 0.03, "tied (p=1)")]
    optional = ("ece", "brier", "vs best")
    wide = _printed(render.table(None, header, rows, optional=optional, compact=True), width=120)
    assert "left out" not in wide and "tied (p=1)" in wide and "0.0311" in wide
    # room for all but the calibration: ece, then brier go, the statistics stay whole
    out = _printed(render.table(None, header, rows, optional=optional, compact=True), width=38)
    assert "tied (p=1)" in out and "0.0311" not in out and "0.0222" not in out
    assert "ece, brier: left out at this terminal's width" in " ".join(out.split())
    # too narrow for the statistics unsqueezed: the last optional column goes too
    out = _printed(render.table(None, header, rows, optional=optional, compact=True), width=22)
    assert "ece, brier, vs best: left out" in " ".join(out.split()) and "tied" not in out


def test_how_long_a_run_took_never_changes_how_its_losses_print():
    """The seconds row is a wall time: it is shown to the millisecond and takes no part in the
    value column's notation (a 0.02 s run printed its losses with one more decimal before)."""

    def shown(seconds: float) -> list[str]:
        metrics = {
            "status": "completed", "epochs_run": 5, "seconds": seconds,
            "train": {"loss": 0.5129975, "accuracy": 0.8425926},
            "test": {"loss": 0.5797718, "accuracy": 0.7666667},
        }  # fmt: skip
        out = _printed(render.table(None, ["", "value"], render.fit_rows(metrics)), width=60)
        return [line for line in out.splitlines() if "seconds" not in line]

    assert shown(0.0213) == shown(5.4)
    assert "0.51300" in "\n".join(shown(0.0213))
