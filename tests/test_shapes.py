"""`losslab shapes`: every loss against the residual or the margin, from the registry itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

from losslab.losses import LOSSES
from losslab.views.shapes import loss_shapes, text_chart


def at(chart, name, x):
    i = int(np.argmin(np.abs(chart.x - x)))
    assert chart.x[i] == pytest.approx(x)
    return chart.values[name][i], chart.gradients[name][i]


@pytest.mark.parametrize(
    ("kind", "name", "x", "value", "grad"),
    [
        ("regression", "mse", 2.0, 4.0, 4.0),
        ("regression", "mae", -1.5, 1.5, -1.0),
        ("regression", "huber", 2.0, 1.5, 1.0),  # δ = 1: δ(|r| − δ/2)
        ("regression", "quantile", 1.0, 0.5, 0.5),
        ("regression", "epsilon-insensitive", 0.05, 0.0, 0.0),
        ("classification", "hinge", 0.0, 1.0, -1.0),
        ("classification", "hinge", 2.0, 0.0, 0.0),
        ("classification", "bce", 0.0, math.log(2.0), -0.5),
        ("classification", "cross-entropy", 1.0, math.log1p(math.exp(-1.0)), -1 / (1 + math.e)),
        ("classification", "squared-hinge", -1.0, 4.0, -4.0),
        ("classification", "modified-huber", -2.0, 8.0, -4.0),
        ("classification", "multiclass-hinge", 0.5, 0.5, -1.0),
    ],
)
def test_values_and_gradients_by_hand(kind, name, x, value, grad):
    got_value, got_grad = at(loss_shapes(kind, points=601), name, x)
    assert got_value == pytest.approx(value, abs=1e-12)
    assert got_grad == pytest.approx(grad, abs=1e-12)


def test_every_loss_with_a_residual_or_margin_is_drawn():
    drawn = set().union(
        *(loss_shapes(k).values for k in ("regression", "positive", "classification"))
    )
    # the robust family on its own chart (shapes --family robust), barron once per α
    from losslab.views.robust_shapes import robust_shapes

    drawn |= {label.split(" ")[0] for label in robust_shapes().values}
    for name, loss in LOSSES.items():
        if loss.task in ("regression", "positive", "binary", "margin", "multiclass"):
            assert name in drawn, name


def test_equal_curves_are_named():
    reg, cls = loss_shapes("regression"), loss_shapes("classification")
    assert reg.same_as == {"rmse": "mse", "mape": "mae"} and "rmse" in reg.notes  # at y = 1
    assert cls.same_as["cross-entropy"] == "bce" and cls.same_as["multiclass-hinge"] == "hinge"
    assert cls.label("cross-entropy") == "cross-entropy (= bce)"


def test_text_chart_has_a_legend_and_fits():
    lines = text_chart(loss_shapes("classification"), width=60, height=12)
    assert all(len(line) <= 100 for line in lines)
    assert "cross-entropy (= bce)" in "\n".join(lines)


def test_cli_json_csv_and_text(cli):
    charts = cli.json("shapes", "--loss", "mse,hinge")
    assert [c["kind"] for c in charts] == ["regression", "classification"]  # none is positive
    assert set(charts[0]["values"]) == {"mse"} and set(charts[1]["values"]) == {"hinge"}
    assert len(charts[0]["x"]) == len(charts[0]["values"]["mse"])
    csv = cli("shapes", "--kind", "regression", "--loss", "mae", "--format", "csv").output
    assert csv.splitlines()[0] == "kind,loss,x,value,gradient"
    assert "a mse" in cli("shapes", "--kind", "regression").output


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_cli_plot(cli, tmp_path, suffix):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"shapes{suffix}"
    assert "wrote" in cli("shapes", "--gradients", "--plot", out).output
    assert out.stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loss", "msee"], "Did you mean 'mse'?"),
        (["--loss", "mse", "--kind", "classification"], "none of mse is a classification loss"),
        (["--from", "1", "--to", "0"], "lo < hi"),
        (["--plot", "x.gif"], "--plot takes a .png, .svg or .pdf file name, got 'x.gif'"),
        (["--from", "-1e308", "--to", "1e308"], "must lie within ±1e+100"),
        (["--from", "0", "--to", "1e-320"], "too narrow for 601 distinct points"),
    ],
)
def test_bad_input(cli, args, message):
    assert message in cli("shapes", *args, code=1).output


def test_the_widest_range_draws_without_warnings_or_overflow(cli):
    """±1e100 (the limit): the text chart draws (it raised on NaN scale), the JSON holds
    numbers wherever the loss is defined (null only outside a domain: ŷ ≤ 0 of a rate)."""
    result = cli("shapes", "--from", "-1e100", "--to", "1e100")
    assert "Traceback" not in result.output and "Warning" not in result.stderr
    charts = cli.json("shapes", "--from", "-1e100", "--to", "1e100")
    for chart in charts:
        for name, values in chart["values"].items():
            if chart["kind"] != "positive":
                assert None not in values, (chart["kind"], name)
