"""Studies that survive (issue 23): run keys, run files, the run cache, study.toml, --resume and
their one-line errors. The kill tests are in test_survive_kill.py."""

from __future__ import annotations

import csv
import json
import math
import os
import time
from pathlib import Path

import pytest

from losslab.cli.studyfile import _toml_module
from losslab.errors import ConfigError, DataError
from losslab.study import store
from losslab.train.config import FitConfig

STUDY = ["iris", "--optimizer", "sgd,adam", "--seeds", "2", "--epochs", "3", "--jobs", "1"]
TIME_COLUMNS = ("seconds",)
tomllib = _toml_module()


def numbers(directory: Path, name: str) -> list[dict[str, str]]:
    """A study's CSV, times aside."""
    with open(directory / name, newline="") as fh:
        return [
            {k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in csv.DictReader(fh)
        ]


def studies(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


# --------------------------------------------------------------------------- run keys and files


def test_the_run_key_changes_with_every_setting_the_data_and_the_numerics(tmp_path, monkeypatch):
    base = FitConfig(data="iris", optimizer="adam", lr=0.01, seed=0).to_dict()
    key = store.run_key("a" * 64, base)
    assert key == store.run_key("a" * 64, dict(base))  # a function of its inputs only
    assert len(key) == 64 and int(key, 16) >= 0
    for change in ({"seed": 1}, {"lr": 0.02}, {"optimizer": "sgd"}, {"epochs": 7}):
        assert store.run_key("a" * 64, {**base, **change}) != key, change
    assert store.run_key("b" * 64, base) != key
    monkeypatch.setattr(store, "NUMERICS_VERSION", store.NUMERICS_VERSION + 1)
    assert store.run_key("a" * 64, base) != key


def test_a_file_named_by_a_setting_adds_its_bytes_to_the_key(tmp_path):
    test = tmp_path / "test.csv"
    test.write_text("x,y\n1,2\n")
    settings = {**FitConfig(data="iris").to_dict(), "test_data": str(test)}
    before = store.run_key("a" * 64, settings)
    test.write_text("x,y\n1,3\n")
    assert store.run_key("a" * 64, settings) != before


def test_a_run_file_keeps_every_value_exactly_and_a_bad_one_is_refused(tmp_path):
    record = {
        "index": 3,
        "status": "diverged",
        "epochs_run": 2,
        "seconds": 0.5,
        "config": {"lr": 0.1},
        "train_loss": math.inf,
        "test_loss": math.nan,
        "curve": [[0.1 + 0.2, 1 / 3, None, 0.75, None, 0.01], [1e-300, 2.5e300, 1.0, 1.0, 0, 0]],
    }
    path = tmp_path / f"{'k' * 64}.json"
    store.write_atomic(path, store.encode_run("k" * 64, record))
    back = store.read_run(path, "k" * 64)
    assert back["curve"][0][0] == 0.1 + 0.2 and back["curve"][0][1] == 1 / 3
    assert back["train_loss"] == math.inf and math.isnan(back["test_loss"])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left
    with pytest.raises(DataError, match="key or numerics"):
        store.read_run(path, "j" * 64)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # a truncated file
    with pytest.raises(DataError, match="unreadable run file"):
        store.read_run(path, "k" * 64)
    path.write_text(json.dumps({"schema": 1, "numerics": store.NUMERICS_VERSION, "key": "k" * 64,
                                "record": {**record, "curve": [[1, 2]]}}))  # fmt: skip
    with pytest.raises(DataError, match="6-slot"):
        store.read_run(path, "k" * 64)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("1.5w", 907200)]
)
def test_ages(text, seconds):
    assert store.parse_age(text) == seconds


# --------------------------------------------------------------------------- the CLI


def test_each_run_is_kept_and_the_study_is_derived_from_the_run_files(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # under results/, with the default cache results/.cache
    out = cli.json("compare", *STUDY, "--progress", "none")
    assert (out["ran"], out["reused"]) == (4, 0)
    tmp_path = tmp_path / "results"
    (study,) = studies(tmp_path)
    files = sorted(p.name for p in (study / "runs").iterdir())
    assert len(files) == 4 and all(len(f) == 64 + 5 for f in files)
    assert len(list((tmp_path / ".cache").glob("*.json"))) == 4
    # runs.csv is what the run files hold: the final train loss of each run is its curve's last
    by_seed = {}
    for f in files:
        record = json.loads((study / "runs" / f).read_text())["record"]
        by_seed[(record["config"]["optimizer"], record["config"]["seed"])] = record
    for row in numbers(study, "runs.csv"):
        record = by_seed[(row["optimizer"], int(row["seed"]))]
        assert float(row["train_loss"]) == record["curve"][-1][0] == record["train_loss"]


def test_adding_an_optimizer_runs_only_its_runs_and_changes_no_number(cli, tmp_path):
    first = cli.json("compare", *STUDY, "--out", tmp_path / "a", "--cache", tmp_path / "c")
    more = [*STUDY[:2], "sgd,adam,rmsprop", *STUDY[3:]]
    second = cli.json("compare", *more, "--out", tmp_path / "a", "--cache", tmp_path / "c")
    assert (first["ran"], first["reused"]) == (4, 0)
    assert (second["ran"], second["reused"]) == (2, 4)
    fresh = cli.json("compare", *more, "--out", tmp_path / "b", "--no-cache")
    assert (fresh["ran"], fresh["reused"]) == (6, 0)
    assert not (tmp_path / "b" / ".cache").exists()
    (mixed,) = studies(tmp_path / "a")[1:]
    (alone,) = studies(tmp_path / "b")
    for name in ("runs.csv", "curves.csv"):
        assert numbers(mixed, name) == numbers(alone, name)
    table = cli("compare", *more, "--out", tmp_path / "a", "--cache", tmp_path / "c").stdout
    assert "6 of 6 runs reused" in table


def test_no_save_keeps_nothing_unless_a_cache_is_named(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = cli.json("compare", *STUDY, "--no-save")
    assert out["ran"] == 4 and not (tmp_path / "results").exists()
    cli.json("compare", *STUDY, "--out", "elsewhere")  # saved elsewhere: no default cache
    assert [p.name for p in (tmp_path / "elsewhere").iterdir() if p.name.startswith(".")] == []
    out = cli.json("compare", *STUDY, "--no-save", "--cache", "c")
    again = cli.json("compare", *STUDY, "--no-save", "--cache", "c")
    assert (out["ran"], again["reused"]) == (4, 4)
    assert not (tmp_path / "results").exists()


def test_a_saved_study_toml_repeats_the_study(cli, tmp_path):
    data = tmp_path / "data" / "iris.csv"
    data.parent.mkdir()
    import losslab.data.read as read

    data.write_text(read.read_table("iris").frame.to_csv(index=False))
    args = [data, "--optimizer", "sgd,adam", "--lr", "0.05,default", "--seeds", "2"]
    args += ["--epochs", "3", "--l2", "0.01", "--jobs", "1", "--no-cache"]
    cli.json("compare", *args, "--out", tmp_path / "a", "--save-config", tmp_path / "s.toml")
    (study,) = studies(tmp_path / "a")
    saved = tomllib.loads((study / "study.toml").read_text())
    assert saved["l2"] == 0.01 and saved["seeds"] == 2 and saved["epochs"] == 3
    assert saved["data"] == "../../data/iris.csv"  # relative to the file
    assert tomllib.loads((tmp_path / "s.toml").read_text())["data"] == "data/iris.csv"
    # from elsewhere: the path in the file is relative to the file
    os.chdir(tmp_path / "data")
    try:
        cli.json("compare", "--config", study / "study.toml", "--out", tmp_path / "b", "--no-cache")
    finally:
        os.chdir(Path(__file__).parent)
    (again,) = studies(tmp_path / "b")
    for name in ("runs.csv", "curves.csv"):
        assert numbers(study, name) == numbers(again, name)
    # the same file by another spelling of its path: the same runs, taken from the cache
    args = ["--out", tmp_path / "c", "--cache", tmp_path / "cache"]
    assert cli.json("compare", "--config", study / "study.toml", *args)["ran"] == 6  # sgd: 1 lr
    more = cli.json("compare", "--config", tmp_path / "s.toml", *args, "--optimizer", "sgd,rmsprop")
    assert (more["ran"], more["reused"]) == (4, 2)
    assert cli.json("compare", "--config", tmp_path / "s.toml", *args)["reused"] == 6


def test_a_study_file_by_hand_lists_fit_table_and_flags_that_override(cli, tmp_path):
    config = tmp_path / "study.toml"
    config.write_text(
        'data = "iris"\noptimizer = ["sgd", "adam"]\nlr = [0.5, "default"]\nseeds = 1\n'
        "batch-size = [16]\n[fit]\nepochs = 2\nl2 = 0.01\nstandardize = true\n"
    )
    out = cli.json("compare", "--config", config, "--no-save", "--epochs", "3")
    runs = out["runs"]
    assert len(runs) == 4 and {(r["optimizer"], r["lr"]) for r in runs} >= {
        ("adam", 0.5),
        ("sgd", 0.5),
    }
    assert {r["epochs_run"] for r in runs} == {3} and {r["batch_size"] for r in runs} == {16}
    assert out["config"]["base"]["l2"] == 0.01


def test_every_option_of_compare_is_a_study_file_key():
    """Generic: keys come from the command's parameters, so an option added to compare by
    anyone is a key at once (its long flag name, with - or _)."""
    from losslab.cli.group import _Commands
    from losslab.cli.studyfile import META, OUTPUT, settable

    command = _Commands()["compare"]
    keys = settable(command)
    for param in command.params:
        if param.name in META | OUTPUT:
            assert param.name not in keys
            continue
        assert keys[param.name] is param
        for opt in param.opts:
            if opt.startswith("--") and param.name != "more_data":  # --data: DATA's own key
                assert keys[opt[2:].replace("-", "_")] is param


def test_a_study_file_data_list_is_several_datasets(tmp_path):
    """`data` takes a name or a list (the several-datasets form); --save-config writes DATA and
    --data back as that one list."""
    from losslab.cli.group import _Commands
    from losslab.cli.studyfile import _checked, settable

    param = settable(_Commands()["compare"])["data"]
    assert _checked(tmp_path / "s.toml", "data", param, ["iris", "digits"]) == "iris,digits"
    with pytest.raises(ConfigError, match="takes a dataset name"):
        _checked(tmp_path / "s.toml", "data", param, ["iris", 3])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('optimiser = "adam"\n', ["unknown key 'optimiser'", "closest option: 'optimizer'"]),
        ("[fit]\nepoch = 3\n", ["unknown key 'epoch'", "'epochs'"]),
        ("epochs = 'x'\n", ["key 'epochs' takes an integer, got 'x'"]),
        ("epochs = 2.5\n", ["key 'epochs' takes an integer, got 2.5"]),
        ("l2 = true\n", ["key 'l2' takes a number, got True"]),
        ("standardize = 1\n", ["key 'standardize' takes true or false"]),
        ('dtype = "float16"\n', ["key 'dtype' takes one of float64, float32"]),
        ("seeds = [1, 2]\n", ["key 'seeds' takes an integer, got a list"]),
        ("optimizer = [{a = 1}]\n", ["key 'optimizer' takes a list of text"]),
        ("epochs = [\n", ["not valid TOML", "line 2"]),
        ("epochs = 3\nepochs = 4\n", ["not valid TOML", "line 2, column"]),
        ('out = "x"\n', ["key 'out' says how the study is run or shown"]),
        ("fit = 3\n", ["'fit' must be a table"]),
    ],
)
def test_a_bad_study_file_is_one_line_naming_file_and_key(cli, tmp_path, text, words):
    config = tmp_path / "study.toml"
    config.write_text(text)
    line = cli.error("compare", "--config", config, "--no-save")
    assert str(config) in line
    for word in words:
        assert word in line, line


def test_a_missing_study_file_is_one_line(cli, tmp_path):
    assert "no such study file" in cli.error("compare", "--config", tmp_path / "nope.toml")


# --------------------------------------------------------------------------- --resume


def _killed_study(cli, tmp_path: Path) -> Path:
    """A finished study made to look killed after its first two runs."""
    cli.json("compare", *STUDY, "--out", tmp_path, "--no-cache")
    (study,) = studies(tmp_path)
    for name in ("config.json", "runs.csv", "curves.csv", "summary.csv", "summary.json"):
        (study / name).unlink()
    for run in sorted((study / "runs").iterdir())[2:]:
        run.unlink()
    return study


def test_resume_runs_only_the_runs_without_a_file(cli, tmp_path):
    study = _killed_study(cli, tmp_path / "a")
    line = cli.error("plot", study)
    assert "did not finish" in line and f"--resume {study}" in line
    out = cli.json("compare", "--resume", study, "--no-cache")
    assert (out["ran"], out["reused"]) == (2, 2)
    cli.json("compare", *STUDY, "--out", tmp_path / "b", "--no-cache")
    (alone,) = studies(tmp_path / "b")
    for name in ("runs.csv", "curves.csv"):
        assert numbers(study, name) == numbers(alone, name)
    assert cli.json("compare", "--resume", study, "--no-cache")["ran"] == 0


def test_resume_refuses_what_is_not_its_study(cli, tmp_path):
    study = _killed_study(cli, tmp_path / "a")
    assert "not a study directory" in cli.error("compare", "--resume", tmp_path / "nope")
    assert "not a resumable study" in cli.error("compare", "--resume", tmp_path)
    line = cli.error("compare", "--resume", study, "--epochs", "9")
    assert "--epochs cannot change them" in line
    toml = study / "study.toml"
    text = toml.read_text()
    toml.write_text(text.replace("epochs = 3", "epochs = 4"))
    assert "study.toml: changed since the study started" in cli.error("compare", "--resume", study)
    toml.unlink()
    assert "study.toml: missing" in cli.error("compare", "--resume", study)
    toml.write_text(text)
    line = cli.error("compare", *STUDY, "--allow-changed-data", "--no-save")
    assert "--allow-changed-data goes with --resume" in line


def test_resume_refuses_changed_data_unless_allowed_which_starts_over(cli, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x,y\n" + "".join(f"{i},{(3 * i) % 7}\n" for i in range(40)))
    args = [data, "--optimizer", "sgd,adam", "--seeds", "1", "--epochs", "2", "--jobs", "1"]
    cli.json("compare", *args, "--out", tmp_path / "r", "--no-cache")
    (study,) = studies(tmp_path / "r")
    data.write_text("x,y\n" + "".join(f"{i},{(5 * i) % 7}\n" for i in range(40)))
    line = cli.error("compare", "--resume", study)
    assert "the data" in line and "has changed since the study started" in line
    assert "--allow-changed-data" in line
    out = cli.json("compare", "--resume", study, "--allow-changed-data")
    assert (out["ran"], out["reused"]) == (2, 0)
    assert len(list((study / "runs").glob("*.json"))) == 2  # the old runs' files are gone


# --------------------------------------------------------------------------- cache faults


def test_an_unwritable_cache_is_warned_once_and_nothing_is_lost(cli, tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file, not a directory")
    result = cli("compare", *STUDY, "--out", tmp_path / "r", "--cache", blocker, "--format", "json")
    out = json.loads(result.stdout)
    assert out["ran"] == 4
    warnings = [line for line in result.stderr.splitlines() if "run cache" in line]
    assert len(warnings) == 1 and "running without it" in warnings[0]
    (study,) = studies(tmp_path / "r")
    assert len(list((study / "runs").glob("*.json"))) == 4 and (study / "runs.csv").is_file()


def test_a_damaged_cache_entry_is_ignored_said_and_run_again(cli, tmp_path):
    cache = tmp_path / "c"
    cli.json("compare", *STUDY, "--out", tmp_path / "a", "--cache", cache)
    entry = sorted(cache.glob("*.json"))[0]
    entry.write_text(entry.read_text()[:100])
    result = cli("compare", *STUDY, "--out", tmp_path / "b", "--cache", cache, "--format", "json")
    out = json.loads(result.stdout)
    assert (out["ran"], out["reused"]) == (1, 3)
    said = [line for line in result.stderr.splitlines() if "cache entry ignored" in line]
    assert len(said) == 1 and entry.name in said[0]
    store.read_run(entry, entry.stem)  # written again, whole
    first, second = studies(tmp_path / "a")[0], studies(tmp_path / "b")[0]
    assert numbers(first, "runs.csv") == numbers(second, "runs.csv")


def test_cache_info_and_clear(cli, tmp_path):
    cache = tmp_path / "c"
    empty = cli.json("cache", "--cache", cache)
    assert (empty["runs"], empty["bytes"]) == (0, 0)
    cli.json("compare", *STUDY, "--no-save", "--cache", cache)
    files = sorted(cache.glob("*.json"))
    info = cli.json("cache", "--info", "--cache", cache)
    assert info["runs"] == 4 and info["bytes"] == sum(f.stat().st_size for f in files)
    old = time.time() - 40 * 86400
    os.utime(files[0], (old, old))
    done = cli.json("cache", "--clear", "--older-than", "30d", "--cache", cache)
    assert done["removed"] == 1 and sorted(cache.glob("*.json")) == files[1:]
    assert cli.json("cache", "--clear", "--cache", cache)["removed"] == 3
    assert "--older-than must be a number and a unit" in cli.error(
        "cache", "--clear", "--older-than", "soon", "--cache", cache
    )
    assert "goes with --clear" in cli.error("cache", "--older-than", "3d", "--cache", cache)


def test_the_api_takes_the_same_study_options(tmp_path):
    import losslab

    config = tmp_path / "s.toml"
    config.write_text('optimizer = ["sgd", "adam"]\nseeds = 2\n[fit]\nepochs = 3\n')
    first = losslab.compare("iris", config=config, jobs=1, save=True, out=tmp_path / "r",
                            cache=tmp_path / "c")  # fmt: skip
    assert (first.ran, first.reused, len(first.runs)) == (4, 0, 4)
    again = losslab.compare("iris", config=config, jobs=1, cache=tmp_path / "c", epochs=3)
    assert (again.ran, again.reused) == (0, 4)
    study = Path(first.record)
    for name in ("config.json", "runs.csv", "curves.csv", "summary.csv", "summary.json"):
        (study / name).unlink()
    sorted((study / "runs").iterdir())[0].unlink()
    resumed = losslab.compare(resume=study, no_cache=True)
    assert (resumed.ran, resumed.reused) == (1, 3)
    fresh = losslab.compare("iris", config=tmp_path / "s.toml", jobs=1, save=True,
                            out=tmp_path / "f")  # fmt: skip
    for name in ("runs.csv", "curves.csv"):
        assert numbers(study, name) == numbers(Path(fresh.record), name)
    with pytest.raises(ConfigError, match=r"unknown key 'optimiser'.*'optimizer'"):
        config.write_text('optimiser = "sgd"\n')
        losslab.compare("iris", config=config)


def test_a_full_cache_is_warned_once_and_nothing_is_lost(cli, tmp_path, monkeypatch):
    import errno

    write = store.write_atomic

    def full(path, text, **kwargs):
        if Path(path).parent == tmp_path / "c":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(path, text, **kwargs)

    monkeypatch.setattr(store, "write_atomic", full)
    args = ["compare", *STUDY, "--out", tmp_path / "r", "--cache", tmp_path / "c"]
    result = cli(*args, "--format", "json")
    assert json.loads(result.stdout)["ran"] == 4
    (warning,) = [line for line in result.stderr.splitlines() if "run cache" in line]
    assert "No space left on device" in warning and "nothing is lost" in warning
    (study,) = studies(tmp_path / "r")
    assert len(list((study / "runs").glob("*.json"))) == 4 and (study / "summary.json").is_file()


def test_resume_names_the_plugins_of_a_study_and_runs_them_only_when_named_again(tmp_path):
    """A study file names its plugins; --resume never loads them by itself (issue 24): without
    --plugin it says which one to give, with it the study resumes."""
    import subprocess
    import sys

    adopt = Path(__file__).resolve().parent.parent / "examples" / "plugins" / "adopt.py"
    env = {**os.environ, "LOSSLAB_PLUGINS": ""}

    def losslab(*args):
        return subprocess.run(
            [sys.executable, "-m", "losslab", *map(str, args)],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
        )  # fmt: skip

    first = losslab(
        "compare", "breast-cancer", "--plugin", adopt, "--optimizer", "adam,adopt",
        "--epochs", "2", "--seeds", "1", "--out", "res", "--progress", "none",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    (study,) = (tmp_path / "res").iterdir()
    next((study / "runs").glob("*.json")).unlink()
    refused = losslab("compare", "--resume", study, "--progress", "none")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"needs the plugin {adopt}" in refused.stderr
    assert "plugins run only when named: --plugin" in refused.stderr
    resumed = losslab("compare", "--resume", study, "--plugin", adopt, "--format", "json",
                      "--progress", "none")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert (json.loads(resumed.stdout)["ran"], json.loads(resumed.stdout)["reused"]) == (1, 1)
