"""The interactive pages in a real browser: headless Chromium with every network request sent to
a proxy that does not exist, its own requests recorded (--log-net-log). Each page runs its
self-test (the URL fragment #selftest: the page moves its own controls and writes what it drew
into the DOM); every script error lands in the DOM through window.onerror. Skipped without
Chromium or plotly."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("plotly")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium")


def load(page: Path, tmp_path: Path, fragment: str = "#selftest") -> tuple[dict, str, list[str]]:
    """(what the page's self-test wrote, the errors it caught, the page's own network requests:
    those with the page as initiator; the browser's own background requests have none)."""
    log = tmp_path / f"{page.stem}-net.json"
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>", f"--log-net-log={log}",
         "--virtual-time-budget=30000", "--dump-dom", page.resolve().as_uri() + fragment],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    net = json.loads(log.read_text(encoding="utf-8").rstrip().rstrip(",") + "\n")
    types = {v: k for k, v in net["constants"]["logEventTypes"].items()}
    requests = [
        e["params"]["url"]
        for e in net.get("events", [])
        if types.get(e["type"]) == "URL_REQUEST_START_JOB"
        and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"
    ]
    selftest = re.search(r'<pre id="losslab-selftest">([^<]*)</pre>', dom)
    errors = re.search(r'<pre id="losslab-errors">([^<]*)</pre>', dom)
    return (json.loads(selftest.group(1)) if selftest and selftest.group(1) else {},
            errors.group(1) if errors else "no error box", requests)  # fmt: skip


def test_the_request_detector_sees_a_page_request(tmp_path):
    page = tmp_path / "control.html"
    page.write_text(
        '<html><body><img src="http://example.invalid/a.png">'
        '<script>fetch("https://example.invalid/b").catch(function () {});</script></body></html>',
        encoding="utf-8",
    )
    _, _, requests = load(page, tmp_path, "")
    assert "http://example.invalid/a.png" in requests
    assert "https://example.invalid/b" in requests


def test_study_explorer(cli, saved_study, tmp_path):
    directory, shown = saved_study
    page = tmp_path / "study.html"
    cli("report", directory, "--interactive", "--out", page)
    result, errors, requests = load(page, tmp_path)
    assert errors == "" and requests == []
    runs = len(shown["runs"])
    assert result["traces"] == runs
    finite = sum(r["status"] != "diverged" for r in shown["runs"])
    assert result["drawnPaths"] >= finite  # every run with a finite curve is drawn
    assert result["xBefore"] == 4 and 0 < result["xAfter"] < 60  # epochs, then seconds
    assert result["yaxis"] == "log"
    # sorted twice by the first column (run): descending, so the last run comes first
    assert result["firstRowAfterSort"] == str(runs - 1)
    assert sorted(result["hotWidths"]) == [1.6] * (runs - 1) + [4]  # that row's curve stands out
    assert result["hotWidths"][-1] == 4


def test_landscape_animation_and_sliders(cli, tmp_path):
    page = tmp_path / "land.html"
    cli("landscape", "rosenbrock", "--steps", "60", "--html", page)
    result, errors, requests = load(page, tmp_path)
    assert errors == "" and requests == []
    assert result["paths"] == 6 and result["traces"] == 2 + 2 * 6  # map, marks, line + head each
    assert result["contour"] == 1 and result["drawnPaths"] == 6
    assert result["pointsAtEnd"] == 61 and result["pointsAtStep3"] == 4  # the step slider
    assert result["sliderChangesPath"] is True
    assert result["playedTo"] == result["longest"] and result["playing"] is False  # ▶ play


def test_landscape_noise_control_on_data(cli, tmp_path):
    page = tmp_path / "data.html"
    cli("landscape", "breast-cancer", "--l2", "0.01", "--epochs", "5", "--optimizer",
        "sgd,adam", "--batch-size", "16,full", "--html", page)  # fmt: skip
    result, errors, requests = load(page, tmp_path)
    assert errors == "" and requests == []
    assert result["paths"] == 2 and result["pointsAtEnd"] == 6
    assert result["sliderChangesPath"] is True  # the first slider: sgd's lr
    assert (
        result["legendAfter"].startswith("sgd · lr ") and "batch size 16" in result["legendAfter"]
    )


def test_shapes_sliders(cli, tmp_path):
    page = tmp_path / "shapes.html"
    cli("shapes", "--html", page)
    result, errors, requests = load(page, tmp_path)
    assert errors == "" and requests == []
    assert result["charts"] == 3
    assert result["drawnPaths"] >= sum(result["traces"]) - 4  # a few curves leave the window
    assert result["sliderChangesCurve"] is True
