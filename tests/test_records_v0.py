"""Records written by the previous version (tests/fixtures/records_v0: two runs and a study,
as saved before the schema checked every field) still load, plot, report and predict."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from losslab.study import schema

V0 = Path(__file__).parent / "fixtures" / "records_v0"
RUNS = sorted(p for p in V0.iterdir() if "-fit-" in p.name)
STUDIES = sorted(p for p in V0.iterdir() if "-compare-" in p.name)
ALL = [*RUNS, *STUDIES]


def _copy(record: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(record, tmp_path / record.name))


def test_the_fixtures_are_there():
    assert len(RUNS) == 2 and len(STUDIES) == 1


@pytest.mark.parametrize("record", RUNS, ids=lambda p: p.name)
def test_old_run_files_validate(record):
    assert schema.run_config(record / "config.json")["command"] == "fit"
    assert schema.run_metrics(record / "metrics.json")["status"] == "completed"
    assert schema.model(record / "model.json")["kind"] in ("softmax", "mlp")


@pytest.mark.parametrize("record", STUDIES, ids=lambda p: p.name)
def test_old_study_files_validate(record):
    assert schema.study_config(record / "config.json")["command"] == "compare"
    assert schema.study_summary(record / "summary.json")
    assert schema.study_runs(record / "runs.csv")[1]
    assert schema.study_curves(record / "curves.csv")[1]


@pytest.mark.parametrize("record", ALL, ids=lambda p: p.name)
def test_old_records_report(cli, tmp_path, record):
    directory = _copy(record, tmp_path)
    cli("report", directory)
    assert (directory / "report.html").stat().st_size > 0


@pytest.mark.parametrize("record", ALL, ids=lambda p: p.name)
def test_old_records_plot(cli, tmp_path, record):
    pytest.importorskip("matplotlib")
    directory = _copy(record, tmp_path)
    cli("plot", directory)
    assert (directory / "curves.png").stat().st_size > 0


@pytest.mark.parametrize("record", RUNS, ids=lambda p: p.name)
def test_old_models_predict_and_evaluate(cli, record):
    rows = list(csv.DictReader(io.StringIO(cli("predict", record, "iris").stdout)))
    assert len(rows) == 150 and rows[0]["prediction"] in ("setosa", "versicolor", "virginica")
    assert sum(float(rows[0][f"p_{c}"]) for c in ("setosa", "versicolor", "virginica")) == (
        pytest.approx(1.0, rel=1e-12)
    )
    out = cli.json("eval", "iris", "--model", record / "model.json")
    assert out["rows"] == 150
