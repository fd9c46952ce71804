"""Tampered records: every variant of a model.json, a study or a run that losslab cannot trust is
one line on stderr naming the file and the field, exit code 1 — never a traceback, never a
silent prediction from NaN coefficients, and never the data file blamed for a bad model."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import losslab
from losslab.errors import DataError
from losslab.study import schema
from losslab.study.predict import evaluate_model

DATA = {"linear": "diabetes", "logistic": "breast-cancer", "softmax": "iris"}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("models")
    found = {}
    for kind, data in DATA.items():
        run = losslab.fit(data, epochs=1, save=True, out=str(out))
        found[kind] = json.loads(Path(run.record, "model.json").read_text())
    return found


def put(key: str, value: Any) -> Callable[[dict], None]:
    """A change at a dotted path (``scaler.scale``) or a list index (``coef.2``)."""

    def change(model: dict) -> None:
        *parents, last = key.split(".")
        node: Any = model
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def drop(key: str) -> Callable[[dict], None]:
    return lambda model: model.pop(key)


def apply(fn: Callable[[dict], Any]) -> Callable[[dict], None]:
    return fn


NAN, INF = float("nan"), float("inf")

# (model kind, change, the field the one-line message must name)
MODEL_VARIANTS: list[tuple[str, Callable[[dict], Any], str]] = [
    ("linear", drop("kind"), "field 'kind' is missing"),
    ("linear", put("kind", None), "field 'kind' is null"),
    ("linear", put("kind", "tree"), "field 'kind' is the text 'tree'; known kinds"),
    ("linear", put("kind", 3), "field 'kind' is 3"),
    ("linear", put("kind", ["linear"]), "field 'kind' is a JSON list; known kinds"),
    ("linear", put("kind", {"linear": 1}), "field 'kind' is a JSON object; known kinds"),
    ("linear", put("scaler.kind", ["standard"]), "field 'scaler.kind' is a JSON list"),
    ("linear", put("coef", None), "field 'coef' must be a list of numbers, found null"),
    ("linear", put("coef", "0.5"), "field 'coef' must be a list"),
    ("linear", put("coef.1", NAN), "field 'coef[1]' must be finite"),
    ("linear", put("coef.0", INF), "field 'coef[0]' must be finite"),
    ("linear", put("coef.0", -INF), "field 'coef[0]' must be finite"),
    ("linear", apply(lambda m: m.update(coef=m["coef"][:3])), "field 'coef' has 3 values"),
    ("linear", apply(lambda m: m.update(coef=[m["coef"]])), "field 'coef' has 1 values"),
    ("linear", put("coef.2", "1.5"), "field 'coef[2]' must be a number"),
    ("linear", put("coef.0", True), "field 'coef[0]' must be a number, found a boolean"),
    ("linear", put("coef.0", [[[[[1.0]]]]]), "field 'coef[0]' must be a number"),
    ("linear", put("intercept", None), "field 'intercept' must be a number, found null"),
    ("linear", put("intercept", [1.0, 2.0]), "field 'intercept' has 2 values"),
    ("linear", put("intercept", "1.0"), "field 'intercept' must be a number"),
    ("linear", put("intercept", NAN), "field 'intercept' must be finite"),
    ("linear", put("classes", [0, 1]), "field 'classes' has 2 entries"),
    ("linear", put("features.1", "age"), "field 'features' names 'age' twice"),
    ("linear", put("features", []), "field 'features' must be a non-empty list"),
    ("linear", put("features.0", 7), "field 'features[0]' must be a non-empty text"),
    ("linear", put("features", None), "field 'features' must be a non-empty list"),
    ("linear", put("scaler", {}), "field 'scaler.mean' is missing"),
    ("linear", put("scaler", []), "field 'scaler' must be an object"),
    ("linear", put("scaler.scale.2", 0.0), "field 'scaler.scale[2]' must be > 0, found 0.0"),
    ("linear", put("scaler.scale.0", -1.0), "field 'scaler.scale[0]' must be > 0"),
    ("linear", put("scaler.mean.0", NAN), "field 'scaler.mean[0]' must be finite"),
    ("linear", put("scaler.scale.0", INF), "field 'scaler.scale[0]' must be finite"),
    ("linear", apply(lambda m: m["scaler"]["mean"].pop()), "field 'scaler.mean' has 9 values"),
    ("linear", put("scaler.kind", "robust"), "field 'scaler.kind' is the text 'robust'"),
    ("linear", put("loss", "nope"), "field 'loss' is the text 'nope', not a loss"),
    ("linear", put("loss", 5), "field 'loss' must be a non-empty text, found 5"),
    ("linear", put("target", None), "field 'target' must be a non-empty text, found null"),
    ("logistic", put("loss", "mse"), "field 'loss' is 'mse', which does not fit a logistic"),
    ("logistic", put("classes", [0, 1, 2]), "field 'classes' has 3 entries"),
    ("logistic", put("classes", [1, 1]), "field 'classes' names class '1' twice"),
    ("logistic", put("classes", None), "field 'classes' has 0 entries"),
    ("logistic", put("classes.1", {"a": 1}), "field 'classes[1]' must be a text or a number"),
    ("logistic", put("intercept", [0.0, 0.0]), "field 'intercept' has 2 values"),
    ("softmax", apply(lambda m: m["coef"].pop()), "field 'coef' has 3 rows; the model has 4"),
    ("softmax", apply(lambda m: m["coef"][1].pop()), "field 'coef[1]' has 2 values"),
    ("softmax", put("coef.2.1", NAN), "field 'coef[2][1]' must be finite"),
    ("softmax", put("coef.0", 1.0), "field 'coef' must be a list of rows"),
    ("softmax", apply(lambda m: m["intercept"].pop()), "field 'intercept' has 2 values"),
    ("softmax", put("intercept", 0.0), "field 'intercept' must be a list of numbers"),
    ("softmax", apply(lambda m: m["classes"].pop()), "field 'coef[0]' has 3 values"),
    ("softmax", put("classes", ["a"]), "field 'classes' has 1 entries"),
    # --target-scale standard (a model without the field predicts as it always did)
    ("linear", put("target_scale", {"kind": "standard", "mean": 1.0, "std": 0.0}),
     "field 'target_scale.std' must be > 0, found 0.0"),
    ("linear", put("target_scale", {"kind": "robust", "mean": 1.0, "std": 2.0}),
     "field 'target_scale.kind' is the text 'robust'; known: standard"),
    ("linear", put("target_scale", {"kind": "standard", "std": 2.0}),
     "field 'target_scale.mean' is missing"),
    ("logistic", put("target_scale", {"kind": "standard", "mean": 0.0, "std": 1.0}),
     "field 'target_scale' is given, but the model is a classifier"),
]  # fmt: skip


def _write(tmp_path: Path, model: dict, name: str = "model.json") -> Path:
    file = tmp_path / name
    file.write_text(json.dumps(model), encoding="utf-8")
    return file


@pytest.mark.parametrize(
    ("kind", "change", "message"), MODEL_VARIANTS, ids=[v[2][:60] for v in MODEL_VARIANTS]
)
def test_tampered_model(cli, tmp_path, models, kind, change, message):
    model = copy.deepcopy(models[kind])
    change(model)
    file = _write(tmp_path, model)
    line = cli.error("predict", file, DATA[kind])
    assert line.startswith(f"error: {file}: "), line
    assert message in line, line
    with pytest.raises(DataError) as caught:  # `eval --model`: the same check, the same line
        evaluate_model(file, DATA[kind])
    assert f"error: {caught.value}" == line


RAW_VARIANTS = [
    ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
    ('{"kind": "linear", "coef": ' + "[" * 5000 + "]" * 5000 + "}", "JSON nested too deeply"),
    ("", "not a JSON file"),
    ('{"kind": "linear",', "not a JSON file"),
    ('{"intercept": ' + "9" * 5000 + "}", "not a JSON file"),
    ("[1, 2]", "field '(top level)' must be an object"),
    ("null", "field '(top level)' must be an object"),
]


@pytest.mark.parametrize(("text", "message"), RAW_VARIANTS, ids=[v[1] for v in RAW_VARIANTS])
def test_malformed_model_file(cli, tmp_path, text, message):
    file = tmp_path / "model.json"
    file.write_text(text, encoding="utf-8")
    line = cli.error("predict", file, "iris")
    assert line.startswith(f"error: {file}: ") and message in line, line


def test_binary_model_file(cli, tmp_path):
    file = tmp_path / "model.json"
    file.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    assert f"{file}: not a JSON file (not UTF-8 text)" in cli.error("predict", file, "iris")


def test_big_coefficients_from_a_text_overflow_to_inf(cli, tmp_path, models):
    model = copy.deepcopy(models["linear"])
    text = json.dumps(model).replace('"intercept": ', '"intercept": 1e999, "x": ', 1)
    file = tmp_path / "model.json"
    file.write_text(text)
    assert "field 'intercept' must be finite, found inf" in cli.error("predict", file, "diabetes")


@pytest.mark.parametrize(
    "change",
    [
        put("scaler", None),
        put("scaler.kind", "minmax"),
        put("scaler.kind", "standard"),
        put("extra", {"future": "field"}),
        put("intercept", [0.5]),
    ],
)
def test_valid_variants_still_load(cli, tmp_path, models, change):
    model = copy.deepcopy(models["linear"])
    change(model)
    out = cli("predict", _write(tmp_path, model), "diabetes").stdout
    assert out.startswith("prediction\n") and len(out.splitlines()) == 443


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_scores_beyond_float64_are_no_prediction(cli, tmp_path, models, command):
    model = copy.deepcopy(models["linear"])
    model["coef"][2] = 1e308  # finite, but times a standardised bmi far from its mean: inf
    file = _write(tmp_path, model)
    args = (
        ("predict", file, "diabetes")
        if command == "predict"
        else ("eval", "diabetes", "--model", file)
    )
    line = cli.error(*args)
    assert (
        line.startswith(f"error: {file}: the model's score of diabetes, line ") and "1e+308" in line
    )


def test_a_good_model_with_bad_data_blames_the_data(cli, tmp_path, models):
    file = _write(tmp_path, models["softmax"])
    line = cli.error("predict", file, "diabetes")
    assert "diabetes" in line and "feature column" in line and str(file) in line


# --------------------------------------------------------------------------- the mlp kind


def _mlp(features: int = 4, hidden: int = 5, classes: int = 3) -> dict[str, Any]:
    return {
        "kind": "mlp",
        "loss": "cross-entropy",
        "target": "species",
        "features": [f"x{i}" for i in range(features)],
        "classes": [f"c{i}" for i in range(classes)],
        "activation": "relu",
        "layers": [
            {"W": [[0.1] * hidden] * features, "b": [0.0] * hidden},
            {"W": [[0.2] * classes] * hidden, "b": [0.0] * classes},
        ],
        "scaler": {"kind": "standard", "mean": [0.0] * features, "scale": [1.0] * features},
    }


MLP_VARIANTS = [
    (put("layers", []), "field 'layers' must be a non-empty list"),
    (apply(lambda m: m["layers"][1]["W"].pop()), "field 'layers[1].W' has 4 rows; layer 0 gives 5"),
    (apply(lambda m: m["layers"][0]["b"].pop()), "field 'layers[0].b' has 4 values"),
    (put("layers.0.W", [[0.1] * 5] * 3), "field 'layers[0].W' has 3 rows; the model has 4"),
    (put("layers.1.b", [0.0, 0.0]), "field 'layers[1].b' has 2 values"),
    (put("layers.1", {"W": [[0.1] * 2] * 5, "b": [0, 0]}), "gives 2 outputs; the model needs 3"),
    (put("layers.0.W", [[]] * 4), "field 'layers[0].W' has no columns"),
    (drop("activation"), "field 'activation' is missing"),
    (put("layers.0", None), "field 'layers[0]' must be an object"),
]


def test_mlp_schema_accepts_a_consistent_model(tmp_path):
    checked = schema.model(_write(tmp_path, _mlp()))
    assert [layer["W"].shape for layer in checked["layers"]] == [(4, 5), (5, 3)]


@pytest.mark.parametrize(("change", "message"), MLP_VARIANTS, ids=[v[1] for v in MLP_VARIANTS])
def test_mlp_schema_rejects(tmp_path, change, message):
    model = _mlp()
    model["layers"] = copy.deepcopy(model["layers"])
    change(model)
    file = _write(tmp_path, model)
    with pytest.raises(DataError) as caught:
        schema.model(file)
    assert str(caught.value).startswith(f"{file}: ") and message in str(caught.value)


def test_a_valid_mlp_model_predicts(cli, tmp_path, write_csv):
    file = _write(tmp_path, _mlp())
    data = write_csv("x0,x1,x2,x3,species\n1,2,3,4,c0\n-1,0,2,5,c2\n")
    out = cli("predict", file, data).stdout.splitlines()
    assert out[0] == "prediction,p_c0,p_c1,p_c2"
    # equal weights in every column: every class gets the same score, probability 1/3
    assert [float(v) for v in out[1].split(",")[1:]] == pytest.approx([1 / 3] * 3, rel=1e-15)


# --------------------------------------------------------------------------- studies and runs


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("records")
    run = Path(losslab.fit("iris", epochs=3, save=True, out=str(out / "runs")).record)
    from losslab.study.compare import Grid, compare, save_study
    from losslab.train.loop import FitConfig

    study = compare(
        FitConfig(data="iris", epochs=3), Grid(["gd", "adam"], [None], [None], [None], 2), jobs=1
    )
    return {"run": run, "study": Path(save_study(study, str(out / "studies")))}


def edit_json(name: str, fn: Callable[[Any], Any], *, new: bool = False) -> Callable[[Path], None]:
    """Change the JSON of ``name`` in place with ``fn``, or replace it by ``fn``'s result."""

    def change(directory: Path) -> None:
        file = directory / name
        value = json.loads(file.read_text())
        result = fn(value)
        file.write_text(json.dumps(result if new else value))

    return change


def edit_text(name: str, fn: Callable[[str], str]) -> Callable[[Path], None]:
    def change(directory: Path) -> None:
        file = directory / name
        file.write_text(fn(file.read_text()))

    return change


def remove(name: str) -> Callable[[Path], None]:
    return lambda directory: (directory / name).unlink()


def _lines(fn: Callable[[list[str]], list[str]]) -> Callable[[str], str]:
    return lambda text: "\n".join(fn(text.splitlines())) + "\n"


def _cell(line: int, column: int, value: str) -> Callable[[str], str]:
    def change(lines: list[str]) -> list[str]:
        cells = lines[line].split(",")
        cells[column] = value
        lines[line] = ",".join(cells)
        return lines

    return _lines(change)


def _first_row(fn: Callable[[dict], Any]) -> Callable[[Any], None]:
    return lambda rows: fn(rows[0])


# (study or run, change, file named, message)
RECORD_VARIANTS: list[tuple[str, Callable[[Path], None], str, str]] = [
    ("study", remove("config.json"), "config.json", "missing"),
    ("study", edit_text("summary.json", lambda t: t[:-20]), "summary.json", "not a JSON file"),
    (
        "study",
        edit_json("summary.json", lambda v: {}, new=True),
        "summary.json",
        "field '(top level)'",
    ),
    (
        "study",
        edit_json("summary.json", lambda v: [], new=True),
        "summary.json",
        "non-empty list of rows",
    ),
    (
        "study",
        edit_json("summary.json", lambda v: [None], new=True),
        "summary.json",
        "field '[0]' must be",
    ),
    (
        "study",
        edit_json("summary.json", _first_row(lambda r: r.pop("optimizer"))),
        "summary.json",
        "field '[0].optimizer' is missing",
    ),
    (
        "study",
        edit_json("summary.json", _first_row(lambda r: r["curve"].__setitem__(1, "x"))),
        "summary.json",
        "field '[0].curve[1]' must be a number",
    ),
    (
        "study",
        edit_text("summary.json", lambda t: t.replace("[\n      0.", "[\n      NaN, 0.", 1)),
        "summary.json",
        "must be finite, found nan",
    ),
    (
        "study",
        edit_json("summary.json", _first_row(lambda r: r["curve_min"].pop())),
        "summary.json",
        "field '[0].curve_min' has 2 points; the curve has 3",
    ),
    (
        "study",
        edit_json("summary.json", _first_row(lambda r: r.update(lr=-0.1))),
        "summary.json",
        "field '[0].lr' must be > 0",
    ),
    (
        "study",
        edit_json("summary.json", _first_row(lambda r: r.update(lr=None))),
        "summary.json",
        "field '[0].lr' must be a number",
    ),
    (
        "study",
        edit_json("summary.json", _first_row(lambda r: r.update(batch_size="32"))),
        "summary.json",
        "field '[0].batch_size' must be an integer",
    ),
    (
        "study",
        edit_json("summary.json", _first_row(lambda r: r.update(curve={"a": 1}))),
        "summary.json",
        "field '[0].curve' must be a list",
    ),
    (
        "study",
        edit_text("summary.json", lambda t: "[" * 50_000 + "]" * 50_000),
        "summary.json",
        "nested too deeply",
    ),
    (
        "study",
        edit_json("config.json", lambda v: v.pop("data")),
        "config.json",
        "field 'data' is missing",
    ),
    (
        "study",
        edit_json("config.json", lambda v: v["data"].update(source=None)),
        "config.json",
        "field 'data.source' must be a non-empty text",
    ),
    (
        "study",
        edit_json("config.json", lambda v: v.update(command="fit")),
        "config.json",
        "field 'command' is the text 'fit'; expected 'compare'",
    ),
    (
        "study",
        edit_json("config.json", lambda v: v.update(versions=[1])),
        "config.json",
        "field 'versions' must be an object",
    ),
    (
        "study",
        edit_json("config.json", lambda v: v.update(partial="yes")),
        "config.json",
        "field 'partial' must be true or false",
    ),
    (
        "study",
        edit_json("config.json", lambda v: v.update(model=None)),
        "config.json",
        "field 'model' must be a non-empty text",
    ),
    (
        "study",
        edit_text("curves.csv", _lines(lambda ls: [*ls[:2], ls[2] + ",1"])),
        "curves.csv",
        "line 3 has 9 fields; the header has 8",
    ),
    (
        "study",
        edit_text("curves.csv", _cell(1, 1, "x")),
        "curves.csv",
        "line 2, field 'epoch': 'x' is not an integer",
    ),
    (
        "study",
        edit_text("curves.csv", _cell(4, 2, "inf")),
        "curves.csv",
        "line 5, field 'train_loss': 'inf' is not a finite number",
    ),
    (
        "study",
        edit_text("curves.csv", lambda t: t.replace("run,", "rn,", 1)),
        "curves.csv",
        "no column 'run'",
    ),
    (
        "study",
        lambda d: (d / "curves.csv").write_bytes(b"\xff\xfe\x00run"),
        "curves.csv",
        "not UTF-8",
    ),
    ("study", remove("runs.csv"), "runs.csv", "cannot read"),
    (
        "study",
        edit_text("runs.csv", lambda t: t.replace(",status", ",state", 1)),
        "runs.csv",
        "no column 'status'",
    ),
    (
        "study",
        edit_text("runs.csv", _cell(1, 4, "-0.5")),
        "runs.csv",
        "line 2, field 'lr': must be > 0, found -0.5",
    ),
    (
        "study",
        edit_text("runs.csv", _cell(1, 0, "first")),
        "runs.csv",
        "line 2, field 'run': 'first' is not an integer >= 0",
    ),
    (
        "study",
        edit_json("config.json", lambda v: v.update(metrics="accuracy")),
        "config.json",
        "field 'metrics' must be a non-empty list of names",
    ),
    (
        "study",
        edit_json("config.json", lambda v: v.update(reference={"by_loss": {"mse": []}})),
        "config.json",
        "field 'reference.by_loss.mse' must be an object",
    ),
    (
        "study",
        edit_json(
            "config.json", lambda v: v["reference"].update(by_loss={"mse": {"per_seed": ["x"]}})
        ),
        "config.json",
        "field 'reference.by_loss.mse.per_seed[0]' must be a number",
    ),
    ("run", edit_text("history.csv", lambda t: ""), "history.csv", "empty (no header)"),
    (
        "run",
        edit_text("history.csv", lambda t: t.replace("train_loss", "loss", 1)),
        "history.csv",
        "no column 'train_loss'",
    ),
    (
        "run",
        edit_text("history.csv", _cell(2, 1, "nan")),
        "history.csv",
        "line 3, field 'train_loss': 'nan' is not a finite number",
    ),
    (
        "run",
        edit_text("history.csv", _cell(2, 1, "")),
        "history.csv",
        "line 3, field 'train_loss': '' is not a finite number",
    ),
    (
        "run",
        edit_text("history.csv", _cell(3, 2, "-inf")),
        "history.csv",
        "field 'test_loss': '-inf'",
    ),
    (
        "run",
        edit_text("history.csv", _cell(2, 0, "7")),
        "history.csv",
        "line 3, field 'epoch': '7'; expected 2",
    ),
    (
        "run",
        edit_text("history.csv", _lines(lambda ls: [ls[0] + ",train_loss", *ls[1:]])),
        "history.csv",
        "column 'train_loss' appears twice",
    ),
    (
        "run",
        edit_json("config.json", lambda v: v.update(lr=None)),
        "config.json",
        "field 'lr' must be a number, found null",
    ),
    (
        "run",
        edit_json("config.json", lambda v: [v], new=True),
        "config.json",
        "field '(top level)' must be an object",
    ),
    (
        "run",
        edit_json("config.json", lambda v: v.pop("optimizer")),
        "config.json",
        "field 'optimizer' is missing",
    ),
    (
        "run",
        edit_json("config.json", lambda v: v.update(batch_size=-1)),
        "config.json",
        "field 'batch_size' must be an integer >= 0",
    ),
    ("run", remove("config.json"), "config.json", "missing"),
    ("run", lambda d: [p.unlink() for p in d.iterdir()], "", "holds neither summary.json"),
    *[
        ("study", edit_json("summary.json", _first_row(lambda r, k=k, v=v: r.update({k: v}))),
         "summary.json", message)
        for k, v, message in [
            ("test_loss_mean", NAN, "field '[0].test_loss_mean' must be finite, found nan"),
            ("test_loss_std", "0.1", "field '[0].test_loss_std' must be a number, found the text"),
            ("seeds", INF, "field '[0].seeds' must be an integer >= 1, found inf"),
            ("seeds", 0, "field '[0].seeds' must be an integer >= 1, found 0"),
            ("diverged", "1", "field '[0].diverged' must be an integer >= 0, found the text '1'"),
            ("diverged", 9, "field '[0].diverged' is 9, more than its 2 seeds"),
            ("seconds_mean", -1.0, "field '[0].seconds_mean' must be >= 0, found -1.0"),
            ("epochs_to_target", 1.5, "field '[0].epochs_to_target' must be an integer >= 0"),
            ("hidden", [8], "field '[0].hidden' must be a non-empty text, found a JSON list"),
            ("extra", [1.0, INF], "field '[0].extra[1]' must be finite, found inf"),
        ]
    ],
    ("study", edit_json("config.json", lambda v: v.pop("command")), "config.json",
     "field 'command' is missing"),
    ("study", edit_json("config.json", lambda v: v.update(runs_planned=INF)), "config.json",
     "field 'runs_planned' must be an integer >= 0, found inf"),
    ("study", edit_json("config.json", lambda v: v["base"].update(l2=NAN)), "config.json",
     "field 'base.l2' must be finite, found nan"),
    ("run", edit_json("config.json", lambda v: v.pop("command")), "config.json",
     "field 'command' is missing"),
    ("run", edit_json("config.json", lambda v: v.update(seed="0")), "config.json",
     "field 'seed' must be an integer >= 0, found the text '0'"),
    ("run", edit_json("config.json", lambda v: v.update(l2=INF)), "config.json",
     "field 'l2' must be finite, found inf"),
    *[
        ("run", edit_json("metrics.json", change), "metrics.json", message)
        for change, message in [
            (lambda v: v.update(status=NAN), "field 'status' must be a non-empty text, found nan"),
            (lambda v: v.update(status="exploded"), "field 'status' is 'exploded'; known: "),
            (lambda v: v.update(seconds="x"), "field 'seconds' must be a number, found the text"),
            (lambda v: v.update(seconds=-1), "field 'seconds' must be >= 0, found -1"),
            (lambda v: v.update(epochs_run=INF), "field 'epochs_run' must be an integer >= 0"),
            (lambda v: v["train"].update(loss=INF), "field 'train.loss' must be finite, found inf"),
            (lambda v: v["train"].update(accuracy="1"), "field 'train.accuracy' must be a number"),
            (lambda v: v.pop("train"), "field 'train' is missing"),
            (lambda v: v.update(test=[1]), "field 'test' must be an object, found a JSON list"),
            (lambda v: v.update(diverged_at=0), "field 'diverged_at' must be an integer >= 1"),
        ]
    ],
]  # fmt: skip


@pytest.mark.parametrize(
    ("which", "change", "file", "message"),
    RECORD_VARIANTS,
    ids=[f"{v[0]}-{v[2]}-{v[3][:40]}" for v in RECORD_VARIANTS],
)
def test_tampered_record_directory(cli, tmp_path, records, which, change, file, message):
    directory = tmp_path / which
    shutil.copytree(records[which], directory)
    change(directory)
    line = cli.error("plot", directory)
    assert line.startswith(f"error: {directory / file if file else directory}"), line
    assert message in line, line
    assert not (directory / "curves.png").exists()


@pytest.mark.parametrize(
    ("which", "change", "file", "message"),
    [v for v in RECORD_VARIANTS if v[2] in ("summary.json", "config.json", "metrics.json")],
)
def test_report_reads_records_as_plot_does(cli, tmp_path, records, which, change, file, message):
    directory = tmp_path / which
    shutil.copytree(records[which], directory)
    change(directory)
    line = cli.error("report", directory)
    assert line.startswith(f"error: {directory / file}: ") and message in line, line
    assert not (directory / "report.html").exists()


def test_untampered_records_validate(records):
    assert schema.study_summary(records["study"] / "summary.json")[0]["optimizer"] in ("gd", "adam")
    assert schema.study_curves(records["study"] / "curves.csv")[0][:2] == ["run", "epoch"]
    header, rows = schema.run_history(records["run"] / "history.csv")
    assert len(rows) == 3 and "train_loss" in header
    assert schema.run_config(records["run"] / "config.json")["optimizer"] == "adam"
