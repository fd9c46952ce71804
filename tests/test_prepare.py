"""Preparation errors that name the line and the value: a non-numeric regression target, and
features too large to scale (they used to become zeros silently)."""

from __future__ import annotations


def test_non_numeric_regression_target_names_its_line_and_value(cli, write_csv):
    data = write_csv("a,b,y\n1,2,3.5\n2,3,4.5\n3,4,oops\n4,5,6.0\n")
    message = cli.error("fit", data, "--model", "linear", "--no-save")
    assert "line 4, column 'y': non-numeric value 'oops'" in message


def test_features_too_large_to_scale_are_refused(cli, write_csv):
    rows = "".join(f"{(-1) ** i * 1e300},{i % 3}\n" for i in range(6))
    data = write_csv("a,b\n" + rows)
    message = cli.error("fit", data, "--model", "linear", "--no-save")
    assert "column 'a': values too large to scale" in message
    # the range 2e300 is finite: minmax scaling takes such a column
    out = cli.json(
        "fit", data, "--model", "linear", "--scale", "minmax", "--epochs", "2", "--no-save"
    )
    assert out["model"]["scaler"]["kind"] == "minmax"
