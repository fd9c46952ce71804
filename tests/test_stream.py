"""`losslab fit --stream`: the in-memory fit when one chunk holds the file, the same optimum
when it does not, memory bounded by the chunk, the hash split, Chan's merge, and the clean ends:
Ctrl-C, a bad row deep in the file, a file that changes between passes."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import losslab
from losslab.data.read import DATASETS
from losslab.errors import ConfigError, DataError
from losslab.train import stream, stream_scan, stream_source


def _path(name: str) -> str:
    return str(DATASETS.get(name).path)


def _same(a, b) -> None:
    """Two results with the same numbers, bit for bit (history, model, final metrics)."""
    assert a.status == b.status and a.epochs_run == b.epochs_run
    assert json.dumps(a.history) == json.dumps(b.history)
    assert json.dumps(a.model) == json.dumps(b.model)
    assert json.dumps(_scores(a.metrics)) == json.dumps(_scores(b.metrics))


def _scores(metrics: dict) -> dict:
    """The final metrics without a classifier's calibration (ece, mce, brier and the reliability
    bins), which the in-memory fit measures and a streamed one does not (yet)."""
    calibration = {"ece", "mce", "brier"}
    return {
        k: {n: v for n, v in part.items() if n not in calibration} if part else part
        for k, part in metrics.items()
        if k != "reliability"
    }


# --------------------------------------------------------------------------- the same numbers


@pytest.mark.parametrize(
    ("data", "settings"),
    [
        ("diabetes", {"optimizer": "adam", "epochs": 4, "l2": 0.1}),
        ("breast-cancer", {"optimizer": "momentum", "epochs": 3, "batch_size": 16}),
        ("iris", {"optimizer": "sgd", "epochs": 3, "model": "mlp", "hidden": [6]}),
        ("digits", {"optimizer": "adamw", "epochs": 2, "dtype": "float32"}),
        ("breast-cancer", {"optimizer": "rmsprop", "epochs": 3, "scale": "minmax", "l1": 1e-3}),
    ],
)
def test_one_chunk_holding_the_file_is_the_in_memory_fit(data, settings):
    """No split (--test-size 0), so both train on every row, in the same shuffled order."""
    here = losslab.fit(data, test_size=0, **settings)
    streamed = stream.fit(_path(data), test_size=0, chunk_rows=10**6, **settings)
    _same(here, streamed)


def test_with_a_test_file_and_patience_too(tmp_path):
    frame = pd.read_csv(_path("iris"))
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.iloc[::3].to_csv(test, index=False)
    frame.drop(index=frame.index[::3]).to_csv(train, index=False)
    settings = dict(optimizer="adam", epochs=30, patience=2, val_size=0, tol=0.05)
    here = losslab.fit(str(train), test_data=str(test), **settings)
    streamed = stream.fit(str(train), test_data=str(test), chunk_rows=1000, **settings)
    assert here.status == "early_stopped"
    _same(here, streamed)


def test_gzip_and_parquet_read_as_the_csv(tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(_path("breast-cancer"))
    plain, packed, columnar = tmp_path / "a.csv", tmp_path / "a.csv.gz", tmp_path / "a.parquet"
    frame.to_csv(plain, index=False)
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    frame.to_parquet(columnar)
    runs = [stream.fit(str(p), epochs=3, chunk_rows=100) for p in (plain, packed, columnar)]
    _same(runs[0], runs[1])
    _same(runs[0], runs[2])
    assert runs[2].data["stream"]["format"] == "parquet"


def test_many_chunks_reach_the_same_optimum():
    """Ridge regression on diabetes (standardised, every row): the exact optimum from the
    normal equations, written here; streamed in chunks of 50 rows (shuffled within each chunk)
    and in memory, Adam with a cosine schedule gets within 1e-4 of it."""
    frame = pd.read_csv(_path("diabetes"))
    X, y = frame.iloc[:, :-1].to_numpy(), frame.iloc[:, -1].to_numpy()
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    n, d = Z.shape
    l2 = 0.1
    A = np.c_[Z, np.ones(n)]  # mean (Zw + b − y)² + (l2/2)‖w‖²: ∇ = (2/n)Aᵀ(A·θ − y) + l2·(w, 0)
    theta = np.linalg.solve(2 / n * A.T @ A + np.diag([l2] * d + [0.0]), 2 / n * A.T @ y)
    w = theta[:d]
    optimum = np.mean((A @ theta - y) ** 2) + l2 / 2 * w @ w
    settings = dict(optimizer="adam", lr=1.0, epochs=60, schedule="cosine", l2=l2, test_size=0)
    for result in (
        losslab.fit("diabetes", batch_size=16, **settings),
        stream.fit(_path("diabetes"), chunk_rows=50, batch_size=16, **settings),
    ):
        gap = result.metrics["train"]["objective"] - optimum
        assert 0 <= gap < 1e-4 * optimum
        coef = np.array(result.model["coef"])
        assert np.linalg.norm(coef - w) < 0.02 * np.linalg.norm(w)


# --------------------------------------------------------------------------- the parts


def test_chan_merge_equals_the_exact_statistics():
    """Chunks of uneven sizes (one of a single row), values 1e8 + noise of scale 1e-3 … 1e3,
    where Σx² − n·mean² loses every digit: mean and M2 = Σ(x − mean)² against their exact
    values (rational arithmetic on the same floats)."""
    from fractions import Fraction

    rng = np.random.default_rng(3)
    X = 1e8 + rng.normal(size=(3_000, 3)) * [1e-3, 1.0, 1e3]
    moments = stream_source.Moments()
    for lo, hi in ((0, 1), (1, 700), (700, 701), (701, 2_000), (2_000, 3_000)):
        moments.add(np.asfortranarray(X[lo:hi]))
    assert moments.n == 3_000
    for j in range(3):
        xs = [Fraction(v) for v in X[:, j].tolist()]
        mean = sum(xs) / len(xs)
        m2 = sum((v - mean) ** 2 for v in xs)
        assert moments.mean[j] == pytest.approx(float(mean), rel=1e-15)
        assert moments.m2[j] == pytest.approx(float(m2), rel=1e-13)
        naive = float(np.sum(X[:, j] ** 2) - 3_000 * X[:, j].mean() ** 2)
        assert j > 0 or abs(naive - float(m2)) >= float(m2) / 2  # (the naive one: no digit left)
    assert np.array_equal(moments.lo, X.min(axis=0)) and np.array_equal(moments.hi, X.max(axis=0))


def _splitmix64(x: int) -> int:
    """The published algorithm (Steele et al. 2014; Vigna's splitmix64.c) on Python ints."""
    mask = (1 << 64) - 1
    z = x & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def test_the_row_hash_is_splitmix64_and_splits_by_row_alone():
    key = 12345
    rows = np.array([0, 1, 2, 10**9, 2**40])
    expected = [(_splitmix64(r * 0x9E3779B97F4A7C15 + key) >> 11) * 2.0**-53 for r in rows.tolist()]
    assert stream_source.unit_hash(rows, key).tolist() == expected
    u = stream_source.unit_hash(np.arange(200_000), key)
    assert abs((u < 0.2).mean() - 0.2) < 0.005 and 0 <= u.min() and u.max() < 1


def test_the_split_does_not_depend_on_the_chunk_size(tmp_path):
    runs = [
        stream.fit(_path("breast-cancer"), epochs=1, chunk_rows=rows, val_size=0.1)
        for rows in (7, 1000)
    ]
    counts = [(r.data["train_rows"], r.data["val_rows"], r.data["test_rows"]) for r in runs]
    assert counts[0] == counts[1] and counts[0][2] > 0 and counts[0][1] > 0
    assert sum(counts[0]) == 569


def _numbers_file(path: Path, rows: int, cols: int = 6, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, cols)).round(6)
    y = (X @ rng.normal(size=cols) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(cols)])
    frame["y"] = y
    frame.to_csv(path, index=False)
    return path


def test_memory_is_bounded_by_the_chunk_not_the_file(tmp_path):
    """tracemalloc (numpy's arrays, pandas' frames, the read buffers) over a streamed fit of a
    file and of one four times longer, chunks of 2,000 rows: the same peak, and a small part
    of what the in-memory fit of the longer file takes."""
    peaks = {}
    for rows in (8_000, 32_000):
        path = str(_numbers_file(tmp_path / f"n{rows}.csv", rows))
        for how, run, extra in (
            ("stream", stream.fit, {"chunk_rows": 2_000}),
            ("memory", losslab.fit, {}),
        ):
            run(path, epochs=1, optimizer="sgd", **extra)  # (imports, first-use caches)
            tracemalloc.start()
            try:
                run(path, epochs=1, optimizer="sgd", **extra)
                peaks[how, rows] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    assert peaks["stream", 32_000] < 1.2 * peaks["stream", 8_000] + 64_000
    assert peaks["memory", 32_000] > 2.5 * peaks["memory", 8_000]  # (it does grow in memory)
    assert peaks["stream", 32_000] < peaks["memory", 32_000] / 3


# --------------------------------------------------------------------------- clean ends


def test_ctrl_c_stops_after_the_batch_and_the_record_says_interrupted(cli, tmp_path, monkeypatch):
    steps = []
    step_on = stream._step_on

    def pressing(*args, **kwargs):
        steps.append(1)
        if len(steps) == 40:  # in epoch 3 (15 batches an epoch)
            signal.raise_signal(signal.SIGINT)
        return step_on(*args, **kwargs)

    monkeypatch.setattr(stream, "_step_on", pressing)
    path = _path("breast-cancer")
    result = cli(
        "fit", path, "--stream", "--chunk-rows", "100", "--epochs", "50",
        "--format", "json", "--out", tmp_path / "runs", code=130,
    )  # fmt: skip
    assert "interrupted at epoch 1; the record holds what was done" in result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "interrupted" and len(out["history"]) == 1
    (record,) = (tmp_path / "runs").iterdir()
    assert json.loads((record / "metrics.json").read_text())["status"] == "interrupted"
    assert json.loads((record / "config.json").read_text())["stream"] is True


def test_ctrl_c_while_reading_the_data_leaves_no_record(cli, tmp_path, monkeypatch):
    chunk = stream._chunk

    def pressing(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        return chunk(*args, **kwargs)

    monkeypatch.setattr(stream_scan, "_chunk", pressing)  # pass 0
    monkeypatch.setattr(stream, "_chunk", pressing)
    result = cli(
        "fit", _path("iris"), "--stream", "--chunk-rows", "50", "--out", tmp_path / "runs",
        code=130,
    )  # fmt: skip
    assert result.stderr.strip() == (
        "error: interrupted: stopped while reading the data; nothing was trained"
    )
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("line", "bad", "message"),
    [
        ("1,2,abc,4,0", "x2", "non-numeric value 'abc'"),
        ("1,2,,4,0", "x2", "missing value (--missing drop handles it)"),
        ("1,2,inf,4,0", "x2", "infinite value inf"),
        ("1,2,3,4,0,9", None, "ragged row with 6 fields; the header has 5"),
    ],
)
def test_a_bad_row_deep_in_the_file_is_one_line_with_its_line(cli, tmp_path, line, bad, message):
    """Line 25,003: data row 25,001 after a blank line; found by pass 0, before any step."""
    rows = ["x0,x1,x2,x3,y"] + [f"{i % 7},{i % 5},{i % 3},{i % 11},{i % 2}" for i in range(30_000)]
    rows[100] = ""  # a blank line (line 101): pandas skips it, the line numbers count it
    rows[25_002] = line
    path = tmp_path / "big.csv"
    path.write_text("\n".join(rows) + "\n")
    error = cli.error("fit", path, "--stream", "--chunk-rows", "1000", "--out", tmp_path / "r")
    where = f"line 25003, column {bad!r}" if bad else "line 25003"
    assert error.startswith(f"error: {path}, {where}: {message}")
    assert not (tmp_path / "r").exists()


def test_missing_drop_drops_the_rows(tmp_path):
    rows = ["x0,x1,y"] + [f"{i % 7},{i % 5},{i % 2}" for i in range(500)]
    rows[10], rows[300] = "1,,0", "2,3,"
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(rows) + "\n")
    result = stream.fit(str(path), epochs=1, chunk_rows=64, missing="drop")
    assert result.data["preparation"]["dropped_rows"] == 2
    assert result.data["rows"] == 500


def _changer(path: Path, change):
    """A progress callback that changes the file once, after the first epoch is reported."""
    done = []

    def progress(epoch: int, epochs: int, loss: float) -> None:
        if not done:
            done.append(epoch)
            change(path)

    return progress


def test_a_file_that_grows_between_passes_is_an_error_not_a_model(tmp_path):
    path = _numbers_file(tmp_path / "a.csv", 2_000)

    def append(p: Path) -> None:
        with open(p, "a") as fh:
            fh.write("0,0,0,0,0,0,1\n")

    with pytest.raises(DataError, match="the file changed while training"):
        stream.fit(str(path), epochs=5, chunk_rows=300, progress=_changer(path, append))


def test_a_change_that_keeps_size_and_times_is_caught_by_the_checksum(tmp_path, monkeypatch):
    """On a file system whose times cannot tell (simulated: the stamp never changes), the
    CRC-32 of the pass differs from the first pass's: an error at the end of that pass."""
    path = _numbers_file(tmp_path / "a.csv", 2_000)
    fixed = stream_source.Stamp.of(path, "a.csv")
    monkeypatch.setattr(stream_source.Stamp, "of", classmethod(lambda cls, p, label: fixed))

    def flip_some(p: Path) -> None:
        text = bytearray(p.read_bytes())
        at = text.index(b".", 5_000) + 1  # a fraction digit
        text[at] = ord("0") if text[at] != ord("0") else ord("1")
        p.write_bytes(bytes(text))

    with pytest.raises(DataError, match="its bytes differ from the first pass's"):
        stream.fit(str(path), epochs=5, chunk_rows=300, progress=_changer(path, flip_some))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chunk-rows", "10"], "--chunk-rows 10 needs --stream"),
        (["--stream", "--chunk-rows", "0"], "--chunk-rows must be >= 1, got 0"),
        (["--stream", "--shuffle", "once"], "--shuffle once permutes every row once"),
        (["--stream", "--missing", "mean"], "--missing mean fills values from all training"),
        (["--stream", "--optimizer", "gd"], "--stream steps on minibatches; gd uses the full"),
        (["--stream", "--model", "cnn"], "--stream trains linear models and mlp"),
    ],
)
def test_what_stream_refuses_is_one_line(cli, args, message):
    assert message in cli.error("fit", _path("iris"), "--no-save", "--epochs", "1", *args)


def test_a_string_feature_and_a_dataframe_are_refused(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("a,b,y\n1,x,0\n2,y,1\n3,x,0\n")
    with pytest.raises(DataError, match=r"line 2, column 'b': non-numeric value 'x'"):
        stream.fit(str(path), epochs=1)
    with pytest.raises(ConfigError, match="--stream reads a file"):
        stream.fit(pd.read_csv(_path("iris")), epochs=1)


def test_without_pyarrow_a_parquet_file_is_one_line(cli, tmp_path, monkeypatch):
    path = tmp_path / "a.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    assert cli.error("fit", path, "--no-save") == (
        f"error: {path}: a Parquet file; `fit --stream` reads Parquet, in chunks"
    )
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    assert cli.error("fit", path, "--stream", "--no-save") == (
        f"error: {path}: a Parquet file; reading it needs pyarrow, not installed: "
        "pip install 'losslab[parquet]'"
    )


def test_the_cli_reports_and_records_a_streamed_run(cli, tmp_path):
    out = cli.json(
        "fit", _path("breast-cancer"), "--stream", "--chunk-rows", "128", "--epochs", "3",
        "--out", tmp_path / "runs",
    )  # fmt: skip
    assert out["status"] == "completed" and len(out["history"]) == 3
    assert out["data"]["stream"] == {
        "chunk_rows": 128,
        "passes": 5,
        "split": "by row hash",
        "format": "csv",
    }
    assert out["config"]["stream"] is True and out["config"]["chunk_rows"] == 128
    assert out["data"]["sha256"] == losslab.fit("breast-cancer", epochs=1).data["sha256"]
    (record,) = (tmp_path / "runs").iterdir()
    predictions = cli("predict", record, _path("breast-cancer")).stdout.splitlines()
    assert len(predictions) == 570
    assert os.path.getsize(record / "model.json") > 0


def test_a_target_of_many_values_is_a_regression_as_in_memory(tmp_path):
    """More distinct target values than any classifier takes: pass 0 stops collecting them
    (its memory stays bounded) and still chooses the linear model."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3_000, 3)).round(4)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["y"] = (X @ [1.0, -2.0, 0.5] + rng.normal(size=3_000)).round(3)
    path = tmp_path / "many.csv"
    frame.to_csv(path, index=False)
    settings = dict(test_size=0, epochs=2, optimizer="sgd")
    here = losslab.fit(str(path), **settings)
    streamed = stream.fit(str(path), chunk_rows=10**6, **settings)
    assert streamed.config["model"] == here.config["model"] == "linear"
    assert "more than 1000 distinct numbers" in streamed.data["choice"]
    _same(here, streamed)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["diabetes", "--loss", "tweedie", "--model", "linear", "--batch-size", "32"],
         "the tweedie loss predicts through its link"),
        (["diabetes", "--schedule", "one-cycle", "--batch-size", "32"],
         "--stream advances the schedule per epoch; one-cycle counts optimizer steps"),
        (["diabetes", "--schedule", "reduce-on-plateau", "--batch-size", "32"],
         "--schedule reduce-on-plateau watches the loss every epoch"),
        (["iris", "--class-weight", "balanced"], "--class-weight is not streamed yet"),
        (["iris", "--weight-column", "sepal_length"], "--weight-column is not streamed yet"),
    ],
)  # fmt: skip
def test_what_the_stream_does_not_take_yet_is_one_line(cli, args, message):
    assert message in cli.error("fit", *args, "--stream", "--no-save", "--epochs", "2")


@pytest.mark.parametrize(
    ("args", "name"),
    [(["--optimizer", "lbfgs"], "lbfgs"), (["--optimizer", "gd"], "gd"),
     (["--optimizer", "polyak", "--batch-size", "8"], "polyak")],
)  # fmt: skip
def test_a_full_batch_optimizer_is_refused_before_the_file_is_read(cli, monkeypatch, args, name):
    def unread(*a, **k):
        raise AssertionError("the file was opened before the optimizer was refused")

    monkeypatch.setattr(stream, "Source", unread)
    message = cli.error("fit", _path("iris"), "--stream", "--no-save", *args)
    assert message == (
        f"error: --stream steps on minibatches; {name} uses the full batch here "
        "(give --batch-size N)"
    )


def test_a_parquet_error_of_several_lines_is_said_on_one(cli, monkeypatch, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")

    class Broken:
        def __init__(self, *args, **kwargs):
            raise OSError("Couldn't deserialize thrift: TProtocolException: Invalid data\n"
                          "Deserializing page header failed.\n")  # fmt: skip

    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")
    monkeypatch.setattr(pq, "ParquetFile", Broken)
    assert cli.error("fit", path, "--stream", "--no-save", "--optimizer", "sgd") == (
        f"error: {path}: not a readable Parquet file (Couldn't deserialize thrift: "
        "TProtocolException: Invalid data Deserializing page header failed.)"
    )
