"""Preparation errors that name the line and the value: a non-numeric regression target, and
features too large to scale (they used to become zeros silently)."""

from __future__ import annotations

import pytest


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


def test_pixel_like_features_suggest_minmax(tmp_path):
    """Integers in [0, 255] with near-constant columns: standard scaling sends a rare pixel to
    z = √(n − 1) ≈ 63.2 for one 255 among 4000 rows; the preparation line says so."""
    import numpy as np
    import pandas as pd

    from losslab.train.config import FitConfig
    from losslab.train.prepare import data_info, preparation_line, prepare

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(4000, 20))
    X[:, :4] = 0
    X[7, 0] = 255  # one ink pixel in an otherwise empty column
    frame = pd.DataFrame(X, columns=[f"p{i}" for i in range(20)])
    frame["label"] = rng.integers(0, 3, size=4000)
    path = tmp_path / "pixels.csv"
    frame.to_csv(path, index=False)
    problem, split = prepare(FitConfig(data=str(path), test_size=0.0))
    prep = data_info(problem, split)["preparation"]
    assert prep["pixel_z"] == pytest.approx(np.sqrt(3999), abs=0.05)  # (255 − μ)/σ, n = 4000
    assert "--scale minmax keeps every pixel in [0, 1]" in preparation_line(prep)
    for config in (FitConfig(data=str(path), scale="minmax"), FitConfig(data="digits")):
        problem, split = prepare(config)
        assert "pixel_z" not in data_info(problem, split)["preparation"]
