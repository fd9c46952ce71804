"""The Python API is the CLI: every option of each command is a keyword of its library form, by
the same name and value; both give the same numbers; bad values and unknown names are one clear
ConfigError; saved runs load and predict as `losslab predict` does; results show in a notebook."""

from __future__ import annotations

import functools
import io
import json
import math
from enum import Enum
from typing import Any

import pandas as pd
import pytest
import typer

import losslab
from losslab.cli import app
from losslab.data.write import to_json
from losslab.errors import ConfigError, LossLabError

# the command-line options that are not options of the result: how it is printed
PRINTING = {"fmt"}
COMMANDS = {
    "fit": ("fit", "data"),
    "compare": ("compare", "data"),
    "eval": ("evaluate", "data"),
    "lr-find": ("lr_find", "data"),
    "landscape": ("landscape", "source"),
}


@functools.cache
def cli_options(command: str) -> dict[str, Any]:
    """The options of a command, read from its typer definition: name -> default (the value an
    Enum option stands for)."""
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    _, positional = COMMANDS[command]
    out = {}
    for param in click_command.params:
        if param.name in PRINTING or param.name == positional:
            continue
        default = param.default
        out[param.name] = default.value if isinstance(default, Enum) else default
    return out


class Ran(Exception):
    """Raised by a stub in place of the work: the options got that far."""


def _stub(monkeypatch, *targets: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def stub(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise Ran

    for target in targets:
        module, _, name = target.rpartition(".")
        monkeypatch.setattr(module + "." + name, stub)
    return seen


STUBS = {
    "fit": ("losslab.train.loop.fit",),
    "compare": ("losslab.study.compare.compare",),
    "eval": ("losslab.study.evaluate.evaluate",),
    "lr-find": ("losslab.study.lrfind.lr_find",),
    "landscape": ("losslab.views.landscape.data_landscape",),
}


@pytest.mark.parametrize(
    ("command", "option"),
    [(c, o) for c in COMMANDS for o in cli_options(c)],
)
def test_every_option_of_the_command_is_a_keyword_of_the_api(monkeypatch, command, option):
    """Read from the typer command: a flag added to the CLI but not to the API fails here."""
    name, _ = COMMANDS[command]
    default = cli_options(command)[option]
    data = "iris-probabilities" if command == "eval" else "iris"
    _stub(monkeypatch, *STUBS[command])
    with pytest.raises(Ran):
        getattr(losslab, name)(data, **{option: default})


def test_the_option_lists_are_those_of_the_commands():
    fit = cli_options("fit")
    assert {"epochs", "batch_size", "hidden", "progress", "no_save", "chunk_rows"} <= set(fit)
    assert {"momentum", "t_0", "delta"} <= set(fit)  # declared: optimizer, schedule, loss
    assert {"seeds", "jobs", "executor", "plot"} <= set(cli_options("compare"))
    assert {"start_lr", "end_lr", "steps", "plot"} <= set(cli_options("lr-find"))
    assert {"tune_grid", "directions", "layout", "start"} <= set(cli_options("landscape"))
    assert {"pred", "logits", "model", "delta"} <= set(cli_options("eval"))


def _scrubbed(obj: Any) -> Any:
    """JSON as the CLI writes it, without wall times and record paths."""
    drop = {"seconds", "seconds_mean", "record", "jobs"}

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items() if k not in drop}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(json.loads(to_json(obj)))


def test_fit_gives_the_numbers_of_the_cli(cli):
    args = ["--model", "mlp", "--hidden", "8,4", "--epochs", "3", "--batch-size", "16"]
    ours = losslab.fit(
        "iris", model="mlp", hidden="8,4", epochs="3", batch_size="16", optimizer="sgd", lr=0.1
    )
    theirs = cli.json("fit", "iris", *args, "--optimizer", "sgd", "--lr", "0.1", "--no-save")
    assert _scrubbed(ours.to_dict()) == _scrubbed(theirs)
    assert ours.config["hidden"] == [8, 4] and ours.config["batch_size"] == 16


def test_fit_takes_hidden_as_a_list_and_the_full_batch_by_name():
    a = losslab.fit("iris", model="mlp", hidden=[8, 4], epochs=2, batch_size="full")
    b = losslab.fit("iris", model="mlp", hidden="8,4", epochs=2, batch_size=0)
    assert a.config["batch_size"] == 0
    assert _scrubbed(a.to_dict()) == _scrubbed(b.to_dict())


def test_compare_gives_the_numbers_of_the_cli(cli):
    ours = losslab.compare(
        "iris", optimizer="adam,sgd", lr=["0.01", 0.1], seeds=2, epochs=3, jobs=1, progress="none"
    )
    theirs = cli.json(
        "compare", "iris", "--optimizer", "adam,sgd", "--lr", "0.01", "--lr", "0.1",
        "--seeds", "2", "--epochs", "3", "-j", "1", "--no-save", "--progress", "none",
    )  # fmt: skip
    assert _scrubbed(ours.to_dict()) == _scrubbed(theirs)
    assert len(ours.runs) == 8


def test_compare_takes_architectures_and_batch_sizes_as_lists(cli):
    ours = losslab.compare(
        "iris", model="mlp", hidden=["4", [8, 4]], batch_size=[16, "full"], optimizer="adam",
        seeds=1, epochs=2, jobs=1,
    )  # fmt: skip
    theirs = cli.json(
        "compare", "iris", "--model", "mlp", "--hidden", "4", "--hidden", "8,4",
        "--batch-size", "16,full", "--optimizer", "adam", "--seeds", "1", "--epochs", "2",
        "-j", "1", "--no-save",
    )  # fmt: skip
    assert _scrubbed(ours.to_dict()) == _scrubbed(theirs)
    assert {(r["hidden"], r["batch_size"]) for r in ours.runs} == {
        ("4", 16),
        ("4", 0),
        ("8,4", 16),
        ("8,4", 0),
    }


def test_lr_find_gives_the_numbers_of_the_cli(cli):
    ours = losslab.lr_find("iris", steps=30, batch_size="16", start_lr="1e-5")
    args = ["--steps", "30", "--batch-size", "16", "--start-lr", "1e-5"]
    theirs = cli.json("lr-find", "iris", *args)
    assert _scrubbed(ours.to_dict()) == _scrubbed(theirs)


def test_landscape_gives_the_numbers_of_the_cli(cli):
    ours = losslab.landscape("quadratic", optimizer="adam,sgd", steps=30, grid=11, momentum=0.5)
    theirs = cli.json(
        "landscape", "quadratic", "--optimizer", "adam,sgd", "--steps", "30", "--grid", "11",
        "--momentum", "0.5",
    )  # fmt: skip
    assert _scrubbed(ours.to_dict()) == _scrubbed(theirs)
    on_data = losslab.landscape("iris", optimizer=["adam"], epochs=3, grid=5, l2="0.01")
    theirs = cli.json(
        "landscape", "iris", "--optimizer", "adam", "--epochs", "3", "--grid", "5", "--l2", "0.01"
    )
    assert _scrubbed(on_data.to_dict()) == _scrubbed(theirs)


def test_evaluate_gives_the_numbers_of_the_cli(cli):
    ours = losslab.evaluate("iris-probabilities", "cross-entropy", label_smoothing=0.1)
    theirs = cli.json(
        "eval", "iris-probabilities", "--loss", "cross-entropy", "--label-smoothing", "0.1"
    )
    assert _scrubbed(ours.to_dict()) == _scrubbed(theirs)


@pytest.mark.parametrize("mode", ["none", "lines", "bar", "auto"])
def test_progress_takes_the_cli_strings(capsys, mode):
    result = losslab.fit("iris", epochs=2, progress=mode)
    assert result.status == "completed"
    err = capsys.readouterr().err
    if mode == "lines":
        assert "epoch 1/2" in err and "epoch 2/2" in err
    if mode in ("none", "auto"):  # auto: a bar only on a terminal
        assert err == ""


def test_progress_still_takes_a_callable():
    calls: list[tuple] = []
    losslab.fit("iris", epochs=3, progress=lambda done, total, loss: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: losslab.fit("iris", epochs="ten"), "epochs must be an integer, got 'ten'"),
        (lambda: losslab.fit("iris", epochs=2.5), "epochs must be an integer, got 2.5"),
        (lambda: losslab.fit("iris", lr="fast"), "lr must be a number, got 'fast'"),
        (
            lambda: losslab.fit("iris", standardize="yes"),
            "standardize must be True or False, got 'yes'",
        ),
        (lambda: losslab.fit("iris", momentum="high"), "momentum must be a number, got 'high'"),
        (
            lambda: losslab.fit("iris", optimzer="adam"),
            "unknown option 'optimzer' (did you mean 'optimizer'?)",
        ),
        (lambda: losslab.fit("iris", colour=1), "unknown option 'colour'"),
        (
            lambda: losslab.fit("iris", progress="loud"),
            "progress must be one of auto, bar, lines, none, got 'loud'",
        ),
        (
            lambda: losslab.fit("iris", batch_size="most"),
            "--batch-size takes a number of rows or 'full', got 'most'",
        ),
        (lambda: losslab.compare("iris", lr=[0.1, "x"]), "lr must be a number, got 'x'"),
        (lambda: losslab.compare("iris", seeds="two"), "seeds must be an integer, got 'two'"),
        (
            lambda: losslab.compare("iris", optimiser="adam"),
            "unknown option 'optimiser' (did you mean 'optimizer'?)",
        ),
        (
            lambda: losslab.evaluate("iris-probabilities", losses=["mse"]),
            "unknown option 'losses' (did you mean 'loss'?)",
        ),
        (lambda: losslab.lr_find("iris", steps="many"), "steps must be an integer, got 'many'"),
        (
            lambda: losslab.landscape("quadratic", stpes=10),
            "unknown option 'stpes' (did you mean 'steps'?)",
        ),
        (
            lambda: losslab.fit("iris", save=True, no_save=True),
            "save=True and no_save=True contradict each other",
        ),
    ],
)
def test_bad_values_are_one_config_error_naming_the_option(call, message):
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value) == message
    assert isinstance(info.value, LossLabError)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> tuple[Any, str]:
    """A fitted softmax run saved under a temporary results directory: (result, record)."""
    out = tmp_path_factory.mktemp("runs")
    result = losslab.fit("iris", epochs=4, save=True, out=str(out))
    return result, result.record


def test_load_gives_back_the_saved_run(saved_run):
    result, record = saved_run
    back = losslab.load(record)
    assert type(back) is type(result)
    assert _scrubbed(back.to_dict()) == _scrubbed(result.to_dict())
    pd.testing.assert_frame_equal(back.to_frame(), result.to_frame())


def test_load_gives_back_the_saved_study(saved_study):
    directory, saved = saved_study
    back = losslab.load(directory)
    assert back.summary == saved["summary"]
    assert back.to_dict()["runs"] == saved["runs"]


def test_load_refuses_what_is_not_a_record(tmp_path):
    with pytest.raises(LossLabError, match=r"holds neither summary\.json"):
        losslab.load(tmp_path)


def test_predict_equals_the_cli_csv(cli, saved_run):
    result, record = saved_run
    text = cli("predict", record, "iris").stdout
    expected = pd.read_csv(io.StringIO(text))
    for run in (record, result, losslab.load(record)):
        ours = losslab.predict(run, "iris")
        pd.testing.assert_frame_equal(ours, expected, check_dtype=False, check_exact=True)
    frame = pd.read_csv(_iris_path())
    pd.testing.assert_frame_equal(
        losslab.predict(record, frame), expected, check_dtype=False, check_exact=True
    )
    assert list(expected.columns) == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]


def _iris_path() -> Any:
    from losslab.data.read import DATASETS

    return DATASETS.get("iris").path


def test_evaluate_scores_a_run_in_memory_as_its_saved_model(cli, saved_run):
    result, record = saved_run
    theirs = cli.json("eval", "iris", "--model", record)
    assert _scrubbed(losslab.evaluate("iris", model=result).to_dict()) == _scrubbed(theirs)


@pytest.fixture(scope="module")
def results(saved_run) -> dict[str, Any]:
    small = {"optimizer": "adam,sgd", "seeds": 1, "epochs": 3, "jobs": 1}
    return {
        "fit": saved_run[0],
        "study": losslab.compare("iris", **small),
        "eval": losslab.evaluate("iris-probabilities", "cross-entropy"),
        "lr_find": losslab.lr_find("iris", steps=30),
        "landscape": losslab.landscape("quadratic", optimizer="adam,sgd", steps=20, grid=11),
    }


KINDS = ["fit", "study", "eval", "lr_find", "landscape"]


@pytest.mark.parametrize("kind", KINDS)
def test_repr_is_one_short_line(results, kind):
    text = repr(results[kind])
    assert len(text) < 200 and "\n" not in text and text.startswith("<")


def test_repr_of_a_study_names_the_best_configuration(saved_study):
    directory, _ = saved_study
    text = repr(losslab.load(directory))
    assert text.startswith("<Study breast-cancer · logistic · 12 runs · best ")
    assert "(test loss " in text


@pytest.mark.parametrize("kind", KINDS)
def test_notebook_html_holds_the_table_and_the_figure(results, kind):
    pytest.importorskip("matplotlib")
    html = results[kind]._repr_html_()
    assert "<table" in html
    if kind != "eval":  # a table of losses has no figure
        assert "<svg" in html


def test_notebook_html_without_matplotlib_is_the_table(results, no_matplotlib):
    html = results["study"]._repr_html_()
    assert "<table" in html and "<svg" not in html


def test_notebook_html_holds_the_numbers(results):
    html = results["eval"]._repr_html_()
    loss = results["eval"].losses["cross-entropy"]  # eight significant digits, as `eval` prints
    assert f"{loss:.{7 - math.floor(math.log10(loss))}f}" in html


@pytest.mark.parametrize(
    ("kind", "table"),
    [("study", "runs"), ("study", "summary"), ("study", "curves"), ("fit", None),
     ("eval", None), ("lr_find", None), ("landscape", None)],
)  # fmt: skip
def test_frames_hold_nan_never_none(results, kind, table):
    result = results[kind]
    frame = result.to_frame(table) if table else result.to_frame()
    assert not frame.map(lambda v: v is None).any().any()
    for name in frame.columns:
        values = [v for v in frame[name] if not (isinstance(v, float) and math.isnan(v))]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            assert frame[name].dtype.kind in "fi", (name, frame[name].dtype)


def test_missing_numbers_are_float_nan():
    study = losslab.compare("iris", optimizer="adam", seeds=1, epochs=2, jobs=1)
    runs = study.to_frame()
    assert runs["val_loss"].dtype == float and runs["val_loss"].isna().all()  # no validation
    assert runs["gap"].dtype == float
    fit = losslab.fit("iris", epochs=2, test_size=0).to_frame()
    assert fit["test_loss"].dtype == float and fit["test_loss"].isna().all()
