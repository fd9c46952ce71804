"""`losslab report`: one self-contained HTML page of a study or a run — nothing to load from the
network, the figure inline, the table's numbers, the fingerprint and versions; and what headless
Chromium shows of it."""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import losslab

pytest.importorskip("matplotlib")


@pytest.fixture
def study(saved_study) -> tuple[Path, dict]:
    return saved_study


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    return Path(losslab.fit("iris", epochs=3, val_size=0.2, save=True, out=str(out)).record)


# an attribute or a CSS url() that names anything but a fragment of the page itself
LOADS = re.compile(
    r"""\b(src|href|action|poster|data)\s*=\s*["']?\s*(?!#)[^\s"'>]|url\(\s*["']?(?!#)|@import"""
)


def self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert not LOADS.search(page), LOADS.search(page)
    assert "<script" not in page and "<link" not in page and "<iframe" not in page


def spread(means: list[float]):
    """The table's rule for a column of mean ± std: four significant digits; scientific notation
    (std to two digits) for the whole column when a mean is outside [1e-3, 1e5), else the
    smallest mean's decimals on every row."""
    mags = [abs(m) for m in means if m]
    sci = min(mags) < 1e-3 or max(mags) >= 1e5
    decimals = 0 if sci else max(3 - math.floor(math.log10(min(mags))), 0)

    def show(mean: float, std: float) -> str:
        if sci:
            return f"{mean:.3e} ± {std:.1e}"
        return f"{mean:.{decimals}f} ± {std:.{decimals}f}"

    return show


def test_study_report_is_one_self_contained_page(cli, study):
    directory, out = study
    path = Path(cli("report", directory).stdout.strip())
    assert path == directory / "report.html"
    page = path.read_text(encoding="utf-8")
    self_contained(page)
    assert page.count("<svg") == 1 and "</svg>" in page and "<?xml" not in page
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    text = html.unescape(page)
    # the table's numbers as `losslab compare` prints them (means ± std, gaps, diverged)
    show = spread(
        [r["train_loss_mean"] for r in out["summary"] if r["train_loss_mean"] is not None]
    )
    for row in out["summary"]:
        if row["train_loss_mean"] is not None:
            mean, std = row["train_loss_mean"], row["train_loss_std"]
            assert show(mean, std) in text
            assert f"{row['gap_mean']:.2e}" in text
        assert f"{row['diverged']}/{row['seeds']}" in text
    config = json.loads((directory / "config.json").read_text())
    for value in (config["data"]["sha256"], config["data"]["source"], str(config["data"]["rows"])):
        assert value in text
    for name, version in config["versions"].items():
        assert f"<td>{name}</td><td>{version}</td>" in page
    assert "gd, adam" in text and "0.01, 0.1, 1e+30" in text  # the grid
    # no temporary file left next to it
    assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == []


def test_run_report_and_out(cli, run, tmp_path):
    target = tmp_path / "deep" / "page.html"
    assert Path(cli("report", run, "--out", target).stdout.strip()) == target
    page = target.read_text(encoding="utf-8")
    self_contained(page)
    metrics = json.loads((run / "metrics.json").read_text())
    text = html.unescape(page)
    assert "<svg" in page and "validation loss" in text  # --val-size: its own panel
    # the value column: five significant digits for its smallest number, or all scientific
    # (the seconds row, a wall time, takes no part: it would make the digits depend on timing)
    numbers = [metrics[s][k] for s in ("train", "val", "test") for k in ("loss", "accuracy")]
    numbers += [metrics["test"][k] for k in ("ece", "mce", "brier") if k in metrics["test"]]
    low, high = min(map(abs, numbers)), max(map(abs, numbers))
    loss = metrics["train"]["loss"]
    if low < 1e-3 or high >= 1e5:
        assert f"{loss:.4e}" in text
    else:
        assert f"{loss:.{4 - math.floor(math.log10(low))}f}" in text
    assert "completed" in text
    config = json.loads((run / "config.json").read_text())
    assert config["data_file"]["sha256"] in text


def _configuration(page: str) -> dict[str, str]:
    """The (label, words) rows of a run page's Configuration section."""
    section = page.split("<h2>Configuration</h2>", 1)[1].split("<details>", 1)[0]
    cells = re.findall(r"<td(?: class=\"wrap\")?>(.*?)</td>", section)
    return {
        html.unescape(k): html.unescape(v) for k, v in zip(cells[::2], cells[1::2], strict=True)
    }


def test_run_report_tells_the_chosen_settings_in_words(cli, tmp_path):
    run = Path(losslab.fit("diabetes", epochs=2, save=True, out=str(tmp_path)).record)
    cli("report", run)
    chosen = _configuration((run / "report.html").read_text(encoding="utf-8"))
    assert chosen["schedule"] == "constant lr"  # not "factor 1.0, total_iters 2"
    assert chosen["loss"] == "mse"  # no other loss's parameters
    assert chosen["optimizer"].startswith("adam, lr 0.3, batch 32; beta1 0.9, beta2 0.999")
    assert "momentum" not in chosen["optimizer"] and "{" not in chosen["preparation"]
    assert chosen["preparation"].startswith("Features standardised")
    assert chosen["training"] == "2 epochs, seed 0"

    run = losslab.fit(
        "iris", epochs=2, schedule="cosine", warmup=1, l2=0.01, patience=3, save=True,
        out=str(tmp_path / "b"),
    ).record  # fmt: skip
    cli("report", run)
    chosen = _configuration((Path(run) / "report.html").read_text(encoding="utf-8"))
    assert (
        chosen["schedule"]
        == "cosine, per epoch: t max 1, min lr 0, after 1 epoch of linear warm-up"
    )
    assert chosen["loss"] == "cross-entropy, label smoothing 0, L2 penalty 0.01"
    assert "stops after 3 epochs without a validation-loss improvement" in chosen["training"]


def test_report_errors_are_one_line(cli, study, tmp_path):
    directory, _ = study
    line = cli.error("report", directory, "--out", tmp_path / "r.txt")
    assert line == "error: --out takes an .html file name, got 'r.txt'"
    assert "holds neither summary.json" in cli.error("report", tmp_path)
    (tmp_path / "file").write_text("x")
    line = cli.error("report", directory, "--out", tmp_path / "file" / "r.html")
    assert line.startswith(f"error: cannot write the report {tmp_path / 'file' / 'r.html'}")


def test_report_without_matplotlib_still_writes_the_page(cli, study, tmp_path, no_matplotlib):
    directory, _ = study
    result = cli("report", directory, "--out", tmp_path / "r.html")
    assert "warning: no figure: plotting needs matplotlib" in result.stderr
    page = (tmp_path / "r.html").read_text()
    assert "<svg" not in page and "losslab[plot]" in page and "<table" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_chromium_renders_the_report(cli, study, tmp_path):
    import matplotlib.image

    directory, _ = study
    page = Path(cli("report", directory, "--out", tmp_path / "r.html").stdout.strip())
    shot = tmp_path / "r.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,2000",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=180,
        check=True,
    )
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1200)
    ink = (pixels < 0.9).any(axis=2)
    assert 0.02 < ink.mean() < 0.5  # text, table and figure; not a blank or black page
    rows = ink.any(axis=1)
    assert rows[:1000].mean() > 0.3  # the content starts at the top, not an error page
    colours = {tuple(c) for c in (pixels[::7, ::7] * 255).astype(int).reshape(-1, 3)}
    assert len(colours) > 50  # the figure's coloured curves are drawn
