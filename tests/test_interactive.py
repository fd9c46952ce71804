"""Interactive pages (losslab[interactive]): their data against independent references, the
CLI's options and one-line errors, and the file itself (one plotly.js, nothing remote). What a
browser draws of them is tests/test_interactive_browser.py."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("plotly")

from losslab.views import interactive as ia
from losslab.views import interactive_landscape as il
from losslab.views import interactive_shapes as ish


def page_data(text: str) -> dict:
    block = re.search(
        r'<script id="losslab-data" type="application/json">(.*?)</script>', text, re.S
    )
    assert block, "no data block"
    return json.loads(block.group(1).replace("<\\/", "</"))


def remote_references(text: str) -> list[str]:
    """Attributes and calls that would load something from another host in the page outside
    plotly.js (src/href/url() to http(s), any fetch/XMLHttpRequest/import or http(s) URL at all).
    plotly.js is its unchanged offline bundle, whose strings name links (attributions of its map
    tiles, unused here) it never follows without a click; the browser test checks that no
    request is made."""
    import plotly.offline

    own = text.replace(plotly.offline.get_plotlyjs(), "")
    found = re.findall(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]+""", own, re.I)
    found += re.findall(r"url\(\s*['\"]?(?:https?:)?//[^)]+\)", own, re.I)
    found += re.findall(r"\bfetch\s*\(|XMLHttpRequest|\bimport\s*\(|https?://", own)
    return found


def test_one_plotly_and_nothing_remote(tmp_path, saved_study, cli):
    import plotly.offline

    directory, _ = saved_study
    out = tmp_path / "page.html"
    cli("report", directory, "--interactive", "--out", out)
    text = out.read_text(encoding="utf-8")
    assert text.count(plotly.offline.get_plotlyjs()) == 1
    assert text.count("<script") == 5  # the trap, the config, plotly.js, the data, the page
    assert remote_references(text) == []
    # the checker does see a remote reference
    assert remote_references('<img src="https://example.org/a.png">')


# --------------------------------------------------------------------------- study explorer


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_study_page_holds_every_run_and_its_gap(tmp_path, saved_study, cli):
    directory, _ = saved_study
    out = tmp_path / "s.html"
    cli("report", directory, "--interactive", "--out", out)
    data = page_data(out.read_text(encoding="utf-8"))
    runs = read_csv(directory / "runs.csv")
    curves = read_csv(directory / "curves.csv")
    assert [c["run"] for c in data["curves"]] == [int(r["run"]) for r in runs]
    # runs.csv's columns, but those without a value in any run (hidden, layers, val_loss)
    assert data["columns"] == [k for k in runs[0] if any(r[k] != "" for r in runs)]
    assert "val_loss" not in data["columns"]
    assert {q["key"] for q in data["quantities"]} >= {"gap", "train_loss", "test_loss"}
    for c, run in zip(data["curves"], runs, strict=True):
        rows = [r for r in curves if int(r["run"]) == c["run"]]
        assert c["epoch"] == [int(r["epoch"]) for r in rows]  # 4 epochs: nothing thinned
        if run["status"] == "completed":  # the last gap is the table's gap (runs.csv)
            assert c["train_loss"] == pytest.approx(
                [float(r["train_loss"]) for r in rows], rel=1e-3
            )
            assert c["gap"][-1] == pytest.approx(float(run["gap"]), rel=1e-3)
        else:  # diverged at once: nothing finite to draw
            assert run["status"] == "diverged" and "train_loss" not in c
        assert f"seed {run['seed']}" in c["settings"]
    # one legend entry per optimizer and lr
    groups = {(r["optimizer"], r["lr"]) for r in runs}
    assert len({c["group"] for c in data["curves"]}) == len(groups)
    assert data["thinned"] is None


def drawable(n_runs: int, epochs: int, extra: bool = False) -> SimpleNamespace:
    rng = np.random.default_rng(0)
    runs, curves = [], []
    for r in range(n_runs):
        run = {"run": r, "optimizer": ["sgd", "adam", "rmsprop"][r % 3], "lr": 10.0 ** -(r % 4),
               "loss": "mse", "batch_size": 32, "seed": r % 3, "status": "completed"}  # fmt: skip
        if extra:
            run |= {"phase": "tune" if r % 2 else "final", "settings": {"momentum": 0.9}}
        runs.append(run)
        loss = np.cumsum(rng.random(epochs))[::-1] + 1.0
        for e in range(epochs):
            curves.append({"run": r, "epoch": e + 1, "train_loss": float(loss[e]),
                           "objective": float(loss[e]), "seconds": 0.01 * (e + 1)})  # fmt: skip
    return SimpleNamespace(runs=runs, curves=curves, optima={"mse": [0.5, 0.25, 0.0]}, title="t")


def test_200_runs_stay_under_5_mb_and_say_they_were_thinned():
    page = ia.study_page(drawable(200, 1000))
    assert len(page.encode("utf-8")) < 5 * 2**20, len(page.encode("utf-8"))
    data = page_data(page)
    assert data["thinned"]["longest"] == 1000 and 20 <= data["thinned"]["kept"] < 1000
    assert "Curves thinned for size" in page
    first = data["curves"][0]
    assert first["epoch"][0] == 1 and first["epoch"][-1] == 1000  # first and last kept
    assert len(first["epoch"]) == data["thinned"]["kept"]
    # a small study keeps every epoch
    assert page_data(ia.study_page(drawable(24, 100)))["thinned"] is None
    # the gap against each seed's optimum (the seeds cycle through the optima)
    d = drawable(200, 1000)
    last = [c for c in d.curves if c["run"] == 4][-1]
    assert data["curves"][4]["gap"][-1] == pytest.approx(last["objective"] - 0.25, rel=1e-3)


def test_extra_columns_are_carried_and_shown():
    data = page_data(ia.study_page(drawable(4, 5, extra=True)))
    assert "phase" in data["columns"] and "settings" in data["columns"]
    row = data["rows"][1]
    assert row[data["columns"].index("phase")] == "tune"
    assert json.loads(row[data["columns"].index("settings")]) == {"momentum": 0.9}


@pytest.mark.parametrize(("n", "keep"), [(10, 20), (1000, 60), (7, 2), (61, 60)])
def test_thin_keeps_the_ends_and_at_most_keep(n, keep):
    kept = ia.thin(n, keep)
    assert kept[0] == 0 and kept[-1] == n - 1
    assert len(kept) == min(n, keep) and kept == sorted(set(kept))


def test_a_run_record_gets_the_explorer_too(tmp_path, cli):
    import losslab

    record = losslab.fit("iris", epochs=3, save=True, out=str(tmp_path)).record
    out = tmp_path / "run.html"
    cli("report", record, "--interactive", "--out", out)
    data = page_data(out.read_text(encoding="utf-8"))
    assert len(data["curves"]) == 1 and data["curves"][0]["epoch"] == [1, 2, 3]


def test_without_plotly_one_line_naming_the_extra(cli, saved_study, monkeypatch, tmp_path):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.startswith("plotly"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    directory, _ = saved_study
    error = cli.error("report", directory, "--interactive", "--out", tmp_path / "x.html")
    assert "losslab[interactive]" in error
    assert "losslab[interactive]" in cli.error("shapes", "--html", tmp_path / "s.html")
    assert "losslab[interactive]" in cli.error(
        "landscape", "quadratic", "--html", tmp_path / "q.html"
    )
    assert not list(tmp_path.glob("*.html"))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["shapes", "--html", "x.png"], "--html takes an .html file name, got 'x.png'"),
        (["landscape", "quadratic", "--html", "x.svg"], "--html takes an .html file name"),
        (["landscape", "breast-cancer", "--batch-size", "8,x", "--html", "a.html"], "'x'"),
        (["landscape", "breast-cancer", "--batch-size", "8,8", "--html", "a.html"], "twice"),
        (["landscape", "quadratic", "--batch-size", "8,16", "--html", "a.html"], "applies to data"),
    ],
)
def test_bad_options_one_line(cli, args, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert says in cli.error(*args)
    assert not list(tmp_path.glob("*.html"))


# --------------------------------------------------------------------------- landscape


def test_quadratic_sliders_hold_the_closed_form_paths(cli, tmp_path):
    """On ½(x² + κy²) gradient descent is x_k = (1 − η)^k x0, y_k = (1 − ηκ)^k y0, and heavy ball
    (torch's momentum: v ← μv + g, θ ← θ − ηv) a two-term recurrence, written out here."""
    out = tmp_path / "q.html"
    shown = cli.json(
        "landscape", "quadratic", "--condition", "10", "--optimizer", "sgd,momentum,adam",
        "--steps", "30", "--html", out,
    )  # fmt: skip
    assert shown["html"] == str(out)
    data = page_data(out.read_text(encoding="utf-8"))
    x0, y0 = shown["start"]
    by_name = {o["name"]: o for o in data["optimizers"]}
    assert list(by_name) == ["sgd", "momentum", "adam"]
    assert [a["name"] for a in by_name["adam"]["axes"]] == ["lr", "β1"]
    sgd = by_name["sgd"]
    lrs, momenta = sgd["axes"][0]["values"], sgd["axes"][1]["values"]
    assert sgd["axes"][0]["values"][sgd["axes"][0]["index"]] == shown["paths"][0]["lr"]
    assert 0.0 in momenta and 0.9 in momenta
    for i, lr in enumerate(lrs):
        p = sgd["paths"][f"{i},{momenta.index(0.0)}"]
        k = np.array(p["step"])
        if p["diverged"] is None:
            assert p["x"] == pytest.approx(x0 * (1 - lr) ** k, rel=1e-4, abs=1e-9)
            assert p["y"] == pytest.approx(y0 * (1 - lr * 10) ** k, rel=1e-4, abs=1e-9)
        else:
            assert abs(1 - lr * 10) > 1  # only the unstable steps diverge
    lr = lrs[0]
    p = sgd["paths"][f"0,{momenta.index(0.9)}"]
    theta, v, xs = np.array([x0, y0]), np.zeros(2), [[x0, y0]]
    for _ in range(30):
        g = theta * np.array([1.0, 10.0])
        v = 0.9 * v + g
        theta = theta - lr * v
        xs.append(list(theta))
    assert p["x"] == pytest.approx([a for a, _ in xs], rel=1e-4, abs=1e-9)
    assert p["y"] == pytest.approx([b for _, b in xs], rel=1e-4, abs=1e-9)
    # the landscape's own path is the slider's starting point
    own = shown["paths"][1]
    start = by_name["momentum"]["paths"][
        ",".join(str(a["index"]) for a in by_name["momentum"]["axes"])
    ]
    assert start["x"] == pytest.approx([q[0] for q in own["points"]], rel=1e-5, abs=1e-9)


def test_tuned_landscape_slides_over_the_tune_grid(cli, tmp_path):
    out = tmp_path / "t.html"
    shown = cli.json("landscape", "rosenbrock", "--optimizer", "adam", "--tune", "--tune-grid",
                     "1e-3,1,4", "--steps", "20", "--html", out)  # fmt: skip
    axis = page_data(out.read_text(encoding="utf-8"))["optimizers"][0]["axes"][0]
    assert axis["values"] == pytest.approx([1e-3, 1e-2, 1e-1, 1.0])
    assert axis["values"][axis["index"]] == pytest.approx(shown["paths"][0]["lr"])


def test_noise_control_on_a_fits_plane(cli, tmp_path):
    """The full-batch variant of gd's path is `fit --batch-size full`: its objective per epoch
    is the history's, from the same start."""
    import losslab

    out = tmp_path / "d.html"
    cli("landscape", "breast-cancer", "--l2", "0.01", "--epochs", "6", "--optimizer", "sgd",
        "--lr", "0.1", "--batch-size", "64,full", "--html", out)  # fmt: skip
    data = page_data(out.read_text(encoding="utf-8"))
    (sgd,) = data["optimizers"]
    lrs, batches = sgd["axes"]
    assert lrs == {"name": "lr", "values": [0.01, 0.03, 0.1, 0.3, 1.0], "index": 2}
    assert batches == {"name": "batch size", "values": ["64", "full"], "index": 0, "noise": True}
    assert len(sgd["paths"]) == 10
    for i in (2, 0):  # its own lr, and a tenth of it
        full = sgd["paths"][f"{i},1"]
        fit = losslab.fit("breast-cancer", l2=0.01, epochs=6, optimizer="sgd",
                          lr=lrs["values"][i], batch_size="full")  # fmt: skip
        assert full["f"][1:] == pytest.approx([h["objective"] for h in fit.history], rel=1e-4)
        assert full["x"][0] == sgd["paths"]["2,0"]["x"][0]  # one start, one plane
        assert full["f"][-1] != sgd["paths"][f"{i},0"]["f"][-1]
    assert 'id="noise"' in out.read_text(encoding="utf-8")


def test_a_data_page_without_noise_has_lr_sliders(cli, tmp_path):
    out = tmp_path / "d.html"
    cli("landscape", "iris", "--epochs", "3", "--optimizer", "adam", "--html", out)
    (adam,) = page_data(out.read_text(encoding="utf-8"))["optimizers"]
    assert [a["name"] for a in adam["axes"]] == ["lr"] and len(adam["paths"]) == 5
    assert 'id="noise"' not in out.read_text(encoding="utf-8")


def test_batch_sizes_parse():
    assert il.parse_batch_sizes("8, 32,full") == [8, 32, 0]
    assert il.parse_batch_sizes("0,4") == [0, 4]


# --------------------------------------------------------------------------- shapes


def test_param_values_cover_the_range_with_the_default():
    from losslab.losses import LOSSES

    (delta,) = LOSSES.get("huber").hypers
    values = ish.param_values(delta)
    assert 1.0 in values and min(values) > 0 and max(values) / min(values) == pytest.approx(64)
    (tau,) = LOSSES.get("quantile").hypers
    assert 0.5 in ish.param_values(tau) and all(0 < v < 1 for v in ish.param_values(tau))
    p, _ = LOSSES.get("multi-margin").hypers
    assert ish.param_values(p) == [1, 2]


def named(chart: dict, name: str) -> dict:
    return next(entry for entry in chart["losses"] if entry["name"] == name)


def test_shapes_page_curves_are_the_formulas(cli, tmp_path):
    """Huber at δ on the residual r (target 1): ½r² for |r| ≤ δ, else δ(|r| − ½δ); focal at
    γ = 0 is the logistic loss log(1 + e^−m) and its gradient −1/(1 + e^m)."""
    out = tmp_path / "s.html"
    cli("shapes", "--html", out)
    data = page_data(out.read_text(encoding="utf-8"))
    charts = {c["kind"]: c for c in data["charts"]}
    reg = charts["regression"]
    huber = named(reg, "huber")
    (slider,) = huber["sliders"]
    r = np.array(reg["x"])
    for i, delta in enumerate(slider["values"]):
        want = np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
        assert huber["curves"][str(i)]["v"] == pytest.approx(want, rel=1e-4, abs=1e-9)
    cls = charts["classification"]
    focal = named(cls, "focal")
    m = np.array(cls["x"])
    zero = focal["curves"][str(focal["sliders"][0]["values"].index(0.0))]
    assert zero["v"] == pytest.approx(np.log1p(np.exp(-m)), rel=1e-4)
    assert zero["g"] == pytest.approx(-1 / (1 + np.exp(m)), rel=1e-4, abs=1e-9)
    # a loss without parameters has one curve and no slider
    mse = named(reg, "mse")
    assert mse["sliders"] == [] and list(mse["curves"]) == [""]
    assert remote_references(out.read_text(encoding="utf-8")) == []


def test_notebook_page_is_a_sandboxed_frame(tmp_path):
    import losslab

    study = losslab.compare("iris", optimizer="sgd,adam", seeds=1, epochs=3, jobs=1)
    page = losslab.interactive(study, tmp_path / "nb.html")
    shown = page._repr_html_()
    assert shown.startswith('<iframe sandbox="allow-scripts"') and "srcdoc=" in shown
    assert "<script" not in shown  # every script is inside the (escaped) frame document
    assert (tmp_path / "nb.html").read_text(encoding="utf-8") == page.html
    land = losslab.landscape("quadratic", optimizer="sgd", steps=5)
    assert page_data(losslab.interactive(land).html)["optimizers"][0]["axes"]
    with pytest.raises(losslab.errors.ConfigError, match="Study or a Landscape"):
        losslab.interactive(42)
    assert math.isfinite(len(page))
