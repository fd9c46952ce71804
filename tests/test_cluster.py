"""`compare --executor dask`: the same study as `--jobs 1`, bit for bit, on a local cluster (ours
or one at an address), through a worker killed mid-study and through Ctrl-C. Loopback only.

No clocks: a worker is killed, or Ctrl-C pressed, once the worker itself says it is running one
of the study's runs (its ``state.executing``); deadlines are only safety nets.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from test_interrupt import Losslab, wait_gone

from losslab.study.grid import default_grid
from losslab.study.runner import run_grid
from losslab.train.loop import FitConfig, load_problem

distributed = pytest.importorskip("distributed")

SAFETY = 120  # seconds; reached only when something hangs


@pytest.fixture(scope="module")
def dask_cluster():
    """Two worker processes (one thread each) on 127.0.0.1, for the tests that bring their own
    scheduler address: (the cluster, a client of it); closed after the module."""
    from losslab.study import cluster

    live = cluster.session(None, 2)
    yield live.cluster, live.client
    live.close()


def _numbers(records: list[dict]) -> str:
    """The records without their timings (a run's seconds, each epoch's wall time: the last
    slot of a curve point), as one comparable text."""
    return json.dumps(
        [
            {
                k: [list(point[:-1]) for point in v] if k == "curve" else v
                for k, v in r.items()
                if k != "seconds"
            }
            for r in records
        ]
    )


def _study_numbers(out: dict) -> str:
    out = json.loads(json.dumps(out))
    out.pop("seconds")
    for run in out["runs"]:
        run.pop("seconds")
    for row in out["summary"]:
        row.pop("seconds_mean")
    for key in ("jobs", "executor", "scheduler"):
        out["config"].pop(key)
    return json.dumps(out, sort_keys=True)


def _busy_worker(client, prefix: str = "losslab-run-") -> str:
    """The address of a worker running one of our tasks right now (asked of the workers)."""

    def executing(dask_worker) -> list[str]:
        return [str(ts.key) for ts in dask_worker.state.executing]

    deadline = time.monotonic() + SAFETY
    running: dict = {}
    while time.monotonic() < deadline:
        running = client.run(executing)
        busy = [a for a, keys in running.items() if any(k.startswith(prefix) for k in keys)]
        if busy:
            return busy[0]
        time.sleep(0.01)
    pytest.fail(f"no worker ran {prefix}…: {running}; the scheduler: {client.processing()}")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers in /proc")
def test_a_study_on_a_local_cluster_equals_one_job_and_leaves_no_worker(cli):
    args = ["compare", "iris", "--optimizer", "sgd,adam", "--lr", "0.01,0.1"]
    args += ["--epochs", "8", "--seeds", "2", "--no-save"]
    before = set(_spawned_children(os.getpid()))
    dask = cli.json(*args, "--executor", "dask", "--jobs", "2")
    assert set(_spawned_children(os.getpid())) <= before  # its worker processes are gone
    one = cli.json(*args, "--jobs", "1")
    assert _study_numbers(dask) == _study_numbers(one)
    assert dask["config"]["executor"] == "dask" and len(dask["runs"]) == 8


def test_a_study_at_a_scheduler_address_equals_one_job(dask_cluster, tmp_path):
    """From Python, on a DataFrame with a separate test file: the data and the test data reach
    the workers scattered (the workers never read either)."""
    import pandas as pd

    import losslab
    from losslab.data.read import DATASETS

    cluster, _ = dask_cluster
    frame = pd.read_csv(DATASETS.get("iris").path)
    test = tmp_path / "test.csv"
    frame.iloc[::3].to_csv(test, index=False)
    settings = dict(optimizer=["sgd", "adam"], batch_size=[16, 0], epochs=6, seeds=2)
    settings.update(test_data=str(test), model="softmax")
    here = losslab.compare(frame.iloc[1::3].reset_index(drop=True), jobs=1, **settings)
    there = losslab.compare(
        frame.iloc[1::3].reset_index(drop=True),
        executor="dask",
        scheduler=cluster.scheduler_address,
        **settings,
    )
    assert _study_numbers(there.to_dict()) == _study_numbers(here.to_dict())
    assert there.config["scheduler"] == cluster.scheduler_address
    assert {r["status"] for r in there.runs} == {"completed"}


def _slow_grid(seeds: int = 3) -> tuple[FitConfig, list[FitConfig]]:
    base = FitConfig(data="iris", epochs=60, batch_size=4)
    grid = default_grid()
    grid.optimizers, grid.lrs, grid.seeds = ["sgd", "adam"], [0.01, 0.1], seeds
    return base, grid.configs(base)


def test_a_worker_killed_mid_study_loses_nothing(dask_cluster):
    """SIGKILL to a worker process while it runs one of the study's runs: the scheduler runs it
    again elsewhere, and the study is complete and identical to one job's."""
    cluster, client = dask_cluster
    base, runs = _slow_grid()
    problem = load_problem(base)
    reference, _ = run_grid(runs, base, problem, jobs=1)
    pids = client.run(os.getpid)
    killed: list[str] = []

    def progress(done: int, total: int) -> None:
        if not killed:
            address = _busy_worker(client)
            os.kill(pids[address], signal.SIGKILL)
            killed.append(address)

    got, interrupted = run_grid(
        runs,
        base,
        problem,
        jobs=2,
        executor="dask",
        scheduler=cluster.scheduler_address,
        progress=progress,
    )
    assert killed and not interrupted
    assert _numbers(got) == _numbers(reference)
    # the scheduler saw the worker go with one of our runs in hand
    deadline = time.monotonic() + SAFETY
    lost: list[str] = []
    while not lost and time.monotonic() < deadline:
        for _, event in client.get_events(killed[0]):
            if isinstance(event, dict) and event.get("action") == "remove-worker":
                lost = [str(k) for k in event["processing-tasks"]]
        time.sleep(0.01)
    assert any(key.startswith("losslab-run-") for key in lost)


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_on_a_cluster_means_what_it_means_locally(dask_cluster, presses):
    """Once a slow run (batches of one row, thousands of epochs) is under way on a worker: one
    Ctrl-C stops it after its current batch (listed as interrupted) and starts nothing new; two
    stop at once and keep only what finished."""
    cluster, client = dask_cluster
    base = FitConfig(data="iris", epochs=2000)
    grid = default_grid()
    grid.optimizers, grid.batch_sizes, grid.seeds = ["sgd", "adam", "momentum"], [0, 1], 1
    runs = grid.configs(base)  # full batch (fast) and batches of one row (slow), in turn
    slow = {1, 3, 5}

    def progress(done: int, total: int) -> None:
        if done == 1:
            _busy_worker(client, "losslab-run-1-")  # (the first slow run)
            for _ in range(presses):
                signal.raise_signal(signal.SIGINT)

    got, interrupted = run_grid(
        runs,
        base,
        load_problem(base),
        jobs=2,
        executor="dask",
        scheduler=cluster.scheduler_address,
        progress=progress,
    )
    assert interrupted
    status = {r["index"]: (r["status"], r["epochs_run"]) for r in got}
    assert {s for s, _ in status.values()} <= {"completed", "interrupted"}
    stopped = [status[i] for i in slow if i in status]
    assert all(s == "interrupted" and 1 <= epochs < 2000 for s, epochs in stopped)
    if presses == 1:
        assert 1 in status  # the run under way is kept, as with local workers
    else:
        assert not stopped and len(got) == 1  # only what had finished
    # the workers are free again: nothing of the study still runs
    deadline = time.monotonic() + SAFETY
    while client.processing() and any(client.processing().values()):
        assert time.monotonic() < deadline, client.processing()
        time.sleep(0.01)


def test_without_dask_the_executor_is_one_line(cli, monkeypatch):
    import losslab.train.prepare

    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails

    def unread(*args, **kwargs):
        raise AssertionError("the data was read before the missing extra was said")

    monkeypatch.setattr(losslab.train.prepare, "read_table", unread)  # said before any work
    message = cli.error("compare", "iris", "--epochs", "2", "--executor", "dask")
    assert message == (
        "error: --executor dask needs dask.distributed, not installed: "
        "pip install 'losslab[distributed]'"
    )


def test_executor_and_scheduler_errors_are_one_line(cli, monkeypatch):
    from losslab.study import cluster

    base = ["compare", "iris", "--epochs", "2", "--no-save"]
    assert "--scheduler tcp://127.0.0.1:9 needs --executor dask" in cli.error(
        *base, "--scheduler", "tcp://127.0.0.1:9"
    )
    # refused (nothing listens on port 9): dask retries until CONNECT_SECONDS, then says why
    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 0.5)
    message = cli.error(*base, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert message.startswith("error: --scheduler tcp://127.0.0.1:9: cannot connect")


def test_a_scheduler_that_never_answers_is_one_line(cli, monkeypatch):
    """A server that accepts the connection and says nothing (it hung compare for ever)."""
    import socket
    import threading

    from losslab.study import cluster

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held, done = [], threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not done.is_set():
            try:
                held.append(server.accept()[0])  # hold it open, answer nothing
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 1)
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        message = cli.error("compare", "iris", "--epochs", "2", "--no-save",
                            "--executor", "dask", "--scheduler", address)  # fmt: skip
    finally:
        done.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
    # CONNECT_SECONDS for dask's connect, then 5 s more for an answer to "identity"
    assert (
        message == f"error: --scheduler {address}: no answer within 6 s (is it a dask scheduler?)"
    )


def test_a_malformed_scheduler_address_is_one_line_and_no_more(tmp_path):
    """The line, the exit, and nothing after it (a half-made Client used to hang 60 s in its
    ``__del__`` and print 'Exception ignored … TimeoutError')."""
    run = Losslab(
        ["compare", "iris", "--epochs", "2", "--no-save", "--executor", "dask",
         "--scheduler", "tcp://not a host::"],
        tmp_path,
    )  # fmt: skip
    code, _, err = run.finish()
    assert code == 1
    assert err.strip().splitlines() == [
        "error: --scheduler tcp://not a host::: cannot connect (invalid address 'not a host::'; "
        "maybe: ipv6 needs brackets like [::1])"
    ]


# --------------------------------------------------------------------------- real signals


def _spawned_children(pid: int) -> list[int]:
    """The live child processes of ``pid`` started by multiprocessing's spawn: dask's worker
    processes (not multiprocessing's resource tracker, which lives as long as its parent)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers in /proc")
@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_a_terminal_ctrl_c_or_a_kill_on_a_local_cluster(tmp_path, how):
    """Ctrl-C in a terminal reaches the whole process group, the cluster's workers too: they
    ignore it, the study stops as with local workers (partial, saved, exit 130). A SIGKILL of
    the study leaves no worker behind either."""
    args = ["compare", "--optimizer", "sgd,adam", "--batch-size", "0,1", "--seeds", "1"]
    args += ["--epochs", "3000", "--executor", "dask", "--jobs", "2", "--progress", "lines"]
    compare = Losslab([*args, "--format", "json", "--out", "studies"], tmp_path, new_session=True)
    try:
        _stop_a_study(compare, how, tmp_path)
    finally:
        compare.kill()


def _stop_a_study(compare: Losslab, how: str, tmp_path: Path) -> None:
    compare.wait_for("runs 1/4")
    workers = _spawned_children(compare.proc.pid)
    assert len(workers) == 2
    if how == "kill":
        compare.signal(signal.SIGKILL)
        compare.finish()
        wait_gone(workers)
        return
    os.killpg(compare.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    code, out, err = compare.finish()
    assert code == 130, err
    assert "Traceback" not in err and "the study is marked partial" in err
    study = json.loads(out)
    assert study["partial"] is True
    assert {run["status"] for run in study["runs"]} <= {"completed", "interrupted"}
    (saved,) = (tmp_path / "studies").iterdir()
    assert saved.name.endswith("-partial")
    wait_gone(workers)
