"""BLAS threads chosen, not inherited (issue 21): `fit --threads`, one thread per worker of
`compare --jobs N`, the BLAS in every record, and the splits a study's workers share.

The numbers must not depend on any of it: 1 and 2 threads give the same bits (OpenBLAS splits a
product's rows and columns between threads, never its inner sum), and so do --jobs 1, --jobs 2
and dask."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from losslab.study import runner, shared, workers
from losslab.study.problems import _worker
from losslab.train import blas
from losslab.train.loop import FitConfig, load_problem

known = pytest.mark.skipif(
    blas.info()["library"] == "unknown", reason="a BLAS losslab cannot tell or steer"
)


def _numbers(out: dict) -> str:
    out = json.loads(json.dumps(out))
    out.pop("seconds", None)
    for run in out.get("runs", []):
        run.pop("seconds")
    for row in out.get("summary", []):
        row.pop("seconds_mean")
    for key in ("jobs", "executor", "scheduler", "blas"):
        out.get("config", {}).pop(key, None)
    return json.dumps(out, sort_keys=True)


@known
def test_info_names_the_library_kernel_and_threads():
    found = blas.info()
    assert set(found) == {"library", "version", "kernel", "threads"}
    assert found["library"] and found["threads"] >= 1


@known
def test_threads_are_set_and_restored():
    before = blas.threads()
    with blas.limited(1):
        assert blas.threads() == 1
        with blas.limited(2):
            assert blas.threads() == min(2, os.cpu_count() or 2) or blas.threads() == 2
        assert blas.threads() == 1
    assert blas.threads() == before


@known
def test_without_threadpoolctl_the_openblas_is_asked_directly(monkeypatch):
    pytest.importorskip("threadpoolctl")
    with_it = blas.info()
    if with_it["library"] != "openblas":
        pytest.skip("the direct path knows OpenBLAS only")
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    assert blas.info() == with_it
    with blas.limited(1):
        assert blas.info()["threads"] == 1


def test_threads_below_one_are_one_line(cli):
    assert "--threads must be at least 1, got 0" in cli.error(
        "fit", "iris", "--epochs", "1", "--no-save", "--threads", "0"
    )


@known
@pytest.mark.parametrize(
    "args",
    [
        ["digits", "--model", "softmax", "--batch-size", "64", "--epochs", "3"],
        ["digits", "--model", "mlp", "--hidden", "32", "--epochs", "2", "--dtype", "float32"],
        ["breast-cancer", "--optimizer", "gd", "--epochs", "20"],
        ["digits", "--model", "cnn", "--layers", "conv4,pool,flatten,dense8", "--epochs", "1"],
    ],
)
def test_one_and_two_threads_give_the_same_bits_on_the_bundled_studies(cli, tmp_path, args):
    """Their products are below OpenBLAS's size for threading: one thread computes them."""
    runs = {}
    for n in (1, 2):
        out = cli.json("fit", *args, "--threads", n, "--out", tmp_path / str(n))
        config = json.loads((Path(out["record"]) / "config.json").read_text())
        assert config["blas"]["threads"] == n
        assert config["blas"]["library"] == blas.info()["library"]
        history = (Path(out["record"]) / "history.csv").read_text().splitlines()
        header = history[0].split(",")
        keep = [i for i, h in enumerate(header) if "second" not in h]
        runs[n] = [[row.split(",")[i] for i in keep] for row in history]
    assert runs[1] == runs[2]


def _worker_threads(task: int) -> int:
    return blas.threads()


@known
def test_each_worker_uses_one_blas_thread():
    problem = load_problem(FitConfig(data="iris"))
    flag = workers.context().RawValue("b", False)
    with blas.limited(2):  # the parent's two threads are not inherited
        pool = workers.Pool(
            2, handle=_worker_threads, init=runner._init_worker, initargs=(problem, flag)
        )
        try:
            for i, worker in enumerate(pool.workers):
                pool.submit(worker, i, tag=i)
            seen = []
            while pool.busy:
                seen += [threads for _, threads in pool.results(timeout=5)]
        finally:
            pool.close()
    assert seen == [1, 1]


@pytest.mark.parametrize("forked", [True, False])
def test_shared_splits_are_the_same_bytes_read_only_and_leave_no_file(forked):
    base = FitConfig(data="digits", model="softmax", scale="minmax", val_size=0.1)
    runs = [FitConfig(**{**base.__dict__, "seed": s}) for s in (0, 1, 0)]
    problem = load_problem(base)
    from losslab.train.loop import prepare

    expected = {s: prepare(FitConfig(**{**base.__dict__, "seed": s}), problem)[1] for s in (0, 1)}
    with shared.shared_splits(problem, runs, forked=forked) as table:
        assert (table.path is None) == forked
        if table.path is not None:
            assert Path(table.path).exists()
            path = table.path
        assert len(table.splits) == 2
        for (seed, _), split in _worker["splits"].items():
            for name in shared.FIELDS:
                a, b = getattr(split, name), getattr(expected[seed], name)
                assert a.tobytes(order="A") == b.tobytes(order="A")
                assert a.flags.f_contiguous == b.flags.f_contiguous
                assert a.dtype == b.dtype and not a.flags.writeable
        if not forked:  # a spawned worker: the table arrives pickled, the arrays as the file
            import pickle

            travelled = pickle.loads(pickle.dumps(table))
            _worker["splits"].clear()
            travelled.install()
            for (seed, _), split in _worker["splits"].items():
                for name in shared.FIELDS:
                    a, b = getattr(split, name), getattr(expected[seed], name)
                    assert a.tobytes(order="A") == b.tobytes(order="A")
    if not forked:
        assert not Path(path).exists()


def _wide(rows: int = 3000):
    """MNIST-wide data: an mlp's 128 × 784 by 784 × 64 products differ in their last bits
    between 1 and 2 OpenBLAS threads (measured: BENCHMARKS section 13)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((rows, 784)), columns=[f"p{i}" for i in range(784)])
    frame["label"] = rng.integers(0, 10, rows)
    return frame


WIDE = dict(target="label", model="mlp", hidden="64", batch_size=128, epochs=1, seeds=1)


@known
def test_runs_use_one_thread_whatever_the_process_has_so_jobs_agree():
    import losslab

    frame = _wide()
    with blas.limited(2):  # as a notebook's process has: one thread per core
        one = losslab.compare(frame, optimizer="sgd,adam", jobs=1, **WIDE)
        assert blas.threads() == 2  # restored after the runs
    two = losslab.compare(frame, optimizer="sgd,adam", jobs=2, **WIDE)
    assert _numbers({"runs": one.runs}) == _numbers({"runs": two.runs})
    settings = {k: v for k, v in WIDE.items() if k != "seeds"}
    with blas.limited(2):
        alone = losslab.fit(frame, optimizer="adam", seed=0, **settings)
    run = next(r for r in one.runs if r["optimizer"] == "adam")
    assert run["train_loss"] == alone.metrics["train"]["loss"]
    assert run["test_loss"] == alone.metrics["test"]["loss"]
    with blas.runs_with(2):
        other = losslab.fit(frame, optimizer="adam", seed=0, **settings)
    if other.history == alone.history:
        pytest.skip("this BLAS gives the same bits with 2 threads: the test shows nothing here")


@pytest.mark.parametrize("jobs", ["2"])
def test_a_shared_study_equals_one_job(cli, jobs):
    args = ["compare", "digits", "--model", "softmax", "--optimizer", "sgd,adam,adagrad,nesterov"]
    args += ["--epochs", "2", "--seeds", "1", "--scale", "minmax", "--no-save"]
    one = cli.json(*args, "--jobs", "1")
    many = cli.json(*args, "--jobs", jobs)
    assert _numbers(one) == _numbers(many)
    assert many["config"]["blas"]["threads"] == 1
    if "distributed" in sys.modules or _has("distributed"):
        dask = cli.json(*args, "--executor", "dask", "--jobs", "2")
        assert _numbers(dask) == _numbers(one)


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def test_a_record_without_blas_still_reads_and_a_bad_one_is_one_line(tmp_path):
    from losslab.errors import DataError
    from losslab.study import schema

    fixtures = Path(__file__).parent / "fixtures" / "records_v0"
    run = next(p for p in sorted(fixtures.iterdir()) if "-fit-" in p.name)
    config = json.loads((run / "config.json").read_text())
    assert "blas" not in config
    schema.run_config(run / "config.json")
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({**config, "blas": {"library": "openblas", "threads": "two"}}))
    with pytest.raises(DataError, match=r"blas\.threads"):
        schema.run_config(bad)
    np.testing.assert_equal(schema.run_config(run / "config.json")["command"], "fit")


@pytest.mark.parametrize("kind", ["standard", "minmax"])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scaling_in_one_array_is_the_two_step_formula_bit_for_bit(kind, order, dtype):
    from losslab.train.prepare import Scaler

    rng = np.random.default_rng(1)
    X = np.asarray(rng.standard_normal((300, 5)) * 1e3, dtype=dtype, order=order)
    scaler = Scaler.fit(X, kind, list("abcde"), "here")
    expected = np.asfortranarray((X - scaler.mean) / scaler.scale)
    got = scaler.apply(X)
    assert got.dtype == expected.dtype and got.flags.f_contiguous
    assert got.tobytes(order="F") == expected.tobytes(order="F")
