"""The files of a record, checked on load: one function per file type.

``model`` (model.json), ``study_config`` / ``study_summary`` / ``study_curves`` / ``study_runs``
(a study's config.json, summary.json, curves.csv, runs.csv), ``run_config`` / ``run_history``
(a run's config.json, history.csv). Each returns the content it vouches for (types, shapes,
finite numbers, a known kind) or raises one DataError naming the file and the field::

    results/x/model.json: field 'coef' has 3 rows; the model has 4 features

A model kind's own fields are one entry of :data:`MODEL_KINDS`: a function from the raw JSON and
the features/classes already checked to the kind's parameters.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from losslab.errors import DataError


class Invalid(Exception):
    """One violation inside a file; the loader adds the file's name."""


def _field(name: str, problem: str) -> Invalid:
    return Invalid(f"field '{name}' {problem}")


def _what(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"{value!r}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return f"a JSON {'list' if isinstance(value, list) else 'object'}"


# --------------------------------------------------------------------------- reading


def read_json(file: Path) -> Any:
    """The parsed JSON of ``file``; unreadable, not UTF-8, malformed or too deep: one line."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{file}: not a JSON file (not UTF-8 text)") from None
    except OSError as exc:
        raise DataError(f"{file}: cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise DataError(f"{file}: not a losslab record (JSON nested too deeply)") from None
    except ValueError as exc:
        raise DataError(f"{file}: not a JSON file ({exc})") from None


def read_csv(
    file: Path, required: tuple[str, ...], *, empty: bool = False
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a record's CSV with the ``required`` columns and no ragged rows;
    ``empty``: a blank header with no rows means no rows."""
    try:
        with open(file, encoding="utf-8", newline="") as fh:
            table = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise DataError(f"{file}: not a CSV file (not UTF-8 text)") from None
    except csv.Error as exc:
        raise DataError(f"{file}: not a CSV file ({exc})") from None
    except OSError as exc:
        raise DataError(f"{file}: cannot read: {exc.strerror or exc}") from None
    if not table:
        raise DataError(f"{file}: empty (no header)")
    header, rows = table[0], table[1:]
    if empty and header == [] and not rows:
        return list(required), []
    for name in required:
        if name not in header:
            raise DataError(f"{file}: no column '{name}' (header: {', '.join(header)})")
    if len(set(header)) != len(header):
        twice = next(h for h in header if header.count(h) > 1)
        raise DataError(f"{file}: column '{twice}' appears twice")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{file}: line {line} has {len(row)} fields; the header has {len(header)}"
            )
    return header, rows


def _load(file: Path, check: Callable[[Any], Any]) -> Any:
    try:
        return check(read_json(file))
    except Invalid as exc:
        raise DataError(f"{file}: {exc}") from None


# --------------------------------------------------------------------------- values


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _field(name, f"must be an object, found {_what(value)}")
    return value


def _get(obj: dict[str, Any], key: str, prefix: str = "") -> Any:
    if key not in obj:
        raise Invalid(f"field '{prefix}{key}' is missing")
    return obj[key]


def _text(value: Any, name: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise _field(name, f"must be a non-empty text, found {_what(value)}")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _field(name, f"must be a number, found {_what(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise _field(name, f"must be finite, found {value!r}")
    return number


def _integer(value: Any, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _field(name, f"must be an integer >= {minimum}, found {_what(value)}")
    return value


def _at_least(check: Callable[[Any, str], Any], low: float) -> Callable[[Any, str], Any]:
    """``check``, then value >= ``low``."""

    def checked(value: Any, name: str) -> Any:
        out = check(value, name)
        if out < low:
            raise _field(name, f"must be >= {low:g}, found {value!r}")
        return out

    return checked


def _finite(value: Any, name: str) -> None:
    """Any JSON value whose numbers, however deep, are finite (NaN and ±Infinity are tokens
    Python's JSON reader accepts)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise _field(name, f"must be finite, found {value!r}")
    if isinstance(value, dict):
        for key, v in value.items():
            _finite(v, f"{name}.{key}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite(v, f"{name}[{i}]")


def _fields(obj: dict[str, Any], kinds: dict[str, Callable[[Any, str], Any]], prefix: str) -> None:
    """Each present key of ``kinds`` through its check; every other value finite."""
    for key, value in obj.items():
        name = f"{prefix}{key}"
        check = kinds.get(key)
        if check is not None:
            check(value, name)
        else:
            _finite(value, name)


def _optional(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    return lambda value, name: None if value is None else check(value, name)


def _texts(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _field(name, f"must be a non-empty list of names, found {_what(value)}")
    out = [_text(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if len(set(out)) != len(out):
        twice = next(v for v in out if out.count(v) > 1)
        raise _field(name, f"names {twice!r} twice")
    return out


def _vector(value: Any, name: str, n: int, what: str, *, positive: bool = False) -> np.ndarray:
    """A list of ``n`` finite numbers (``what`` says why n: "the model has 4 features")."""
    if not isinstance(value, list):
        raise _field(name, f"must be a list of numbers, found {_what(value)}")
    if len(value) != n:
        raise _field(name, f"has {len(value)} values; {what}")
    out = np.array([_number(v, f"{name}[{i}]") for i, v in enumerate(value)], dtype=np.float64)
    if positive and out.size and not (out > 0).all():
        i = int(np.flatnonzero(out <= 0)[0])
        raise _field(f"{name}[{i}]", f"must be > 0, found {value[i]!r}")
    return out


def _matrix(value: Any, name: str, shape: tuple[int, int], what: tuple[str, str]) -> np.ndarray:
    """A list of ``shape[0]`` rows of ``shape[1]`` finite numbers."""
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise _field(name, f"must be a list of rows of numbers, found {_what(value)}")
    if len(value) != shape[0]:
        raise _field(name, f"has {len(value)} rows; {what[0]}")
    rows = [_vector(row, f"{name}[{i}]", shape[1], what[1]) for i, row in enumerate(value)]
    return np.array(rows, dtype=np.float64).reshape(shape)


def _versions(value: Any, name: str = "versions") -> dict[str, str]:
    obj = _object(value, name)
    for key, text in obj.items():
        _text(text, f"{name}.{key}")
    return obj


def _blas(value: Any, name: str = "blas") -> dict[str, Any]:
    """The BLAS a record's runs used (library, version, kernel, threads); older records have
    none."""
    obj = _object(value, name)
    for key in ("library", "version", "kernel"):
        if key in obj:
            _text(obj[key], f"{name}.{key}", empty=True)
    if "threads" in obj:
        _integer(obj["threads"], f"{name}.threads")
    return obj


# --------------------------------------------------------------------------- model.json

SCALERS = ("standard", "minmax")


def _classes(value: Any) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _field("classes", f"must be a list, found {_what(value)}")
    for i, c in enumerate(value):
        if isinstance(c, bool) or not isinstance(c, (str, int, float)):
            raise _field(f"classes[{i}]", f"must be a text or a number, found {_what(c)}")
        if isinstance(c, float):
            _number(c, f"classes[{i}]")
    keys = [str(c) for c in value]
    if len(set(keys)) != len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise _field("classes", f"names class {twice!r} twice")
    return list(value)


def _scaler(value: Any, n_features: int) -> dict[str, Any] | None:
    if value is None:
        return None
    obj = _object(value, "scaler")
    kind = obj.get("kind", "standard")
    if not isinstance(kind, str) or kind not in SCALERS:
        raise _field("scaler.kind", f"is {_what(kind)}; known: {', '.join(SCALERS)}")
    what = f"the model has {n_features} features"
    return {
        "kind": kind,
        "mean": _vector(_get(obj, "mean", "scaler."), "scaler.mean", n_features, what),
        "scale": _vector(
            _get(obj, "scale", "scaler."), "scaler.scale", n_features, what, positive=True
        ),
    }


def _target_scale(value: Any, classes: list, loss: str) -> dict[str, Any] | None:
    """--target-scale standard: {"kind": "standard", "mean": μ, "std": σ > 0}, of a regression
    model only (models saved before it have none)."""
    if value is None:
        return None
    obj = _object(value, "target_scale")
    kind = obj.get("kind")
    if kind != "standard":
        raise _field("target_scale.kind", f"is {_what(kind)}; known: standard")
    if classes:
        raise _field("target_scale", "is given, but the model is a classifier (it has classes)")
    from losslab.losses.embedding import find_loss
    from losslab.train.prepare import target_scalable

    if not target_scalable(find_loss(loss)):
        raise _field("target_scale", f"is given, but {loss} depends on the target's own scale")
    mean = _number(_get(obj, "mean", "target_scale."), "target_scale.mean")
    std = _number(_get(obj, "std", "target_scale."), "target_scale.std")
    if not std > 0:
        raise _field("target_scale.std", f"must be > 0, found {std!r}")
    return {"kind": kind, "mean": mean, "std": std}


def _intercepts(value: Any, n: int, kind: str) -> np.ndarray:
    if n == 1 and not isinstance(value, list):
        return np.array([_number(value, "intercept")])
    return _vector(value, "intercept", n, f"a {kind} model has {n}")


def _n_classes(classes: list, kind: str, allowed: Callable[[int], bool], need: str) -> int:
    if not allowed(len(classes)):
        raise _field("classes", f"has {len(classes)} entries; a {kind} model needs {need}")
    return len(classes)


def _linear(raw: dict[str, Any], features: list[str], classes: list) -> dict[str, Any]:
    from losslab.nn.models import MARGIN_LOSSES

    if raw.get("loss") in ("contrastive", "triplet", "supcon"):
        return _affine(raw, features, "linear", _outputs(raw, classes))
    margin = raw.get("loss") in MARGIN_LOSSES
    need = "2 (its loss is a margin loss)" if margin else "none (it is a regression)"
    _n_classes(classes, "linear", (lambda k: k == 2) if margin else (lambda k: k == 0), need)
    return _affine(raw, features, "linear", 1)


def _logistic(raw: dict[str, Any], features: list[str], classes: list) -> dict[str, Any]:
    _n_classes(classes, "logistic", lambda k: k == 2, "2")
    return _affine(raw, features, "logistic", 1)


def _softmax(raw: dict[str, Any], features: list[str], classes: list) -> dict[str, Any]:
    k = _n_classes(classes, "softmax", lambda k: k >= 2, "2 or more")
    return _affine(raw, features, "softmax", k)


def _affine(raw: dict[str, Any], features: list[str], kind: str, k: int) -> dict[str, Any]:
    """S = X·W + b: W a vector (one output) or features × k; b one number per output."""
    n = len(features)
    coef = _get(raw, "coef")
    if k == 1:
        W = _vector(coef, "coef", n, f"the model has {n} features")
    else:
        W = _matrix(
            coef, "coef", (n, k), (f"the model has {n} features", f"the model has {k} classes")
        )
    return {"coef": W, "intercept": _intercepts(_get(raw, "intercept"), k, kind)}


def _mlp(raw: dict[str, Any], features: list[str], classes: list) -> dict[str, Any]:
    """Layers ``[{"W": inputs × outputs, "b": outputs}, …]`` chained from the features to one
    output per class (one for a binary target or a regression), and an activation name."""
    layers = _get(raw, "layers")
    if not isinstance(layers, list) or not layers:
        raise _field("layers", f"must be a non-empty list of layers, found {_what(layers)}")
    width, out = len(features), []
    for i, layer in enumerate(layers):
        obj = _object(layer, f"layers[{i}]")
        W = _get(obj, "W", f"layers[{i}].")
        cols = len(W[0]) if isinstance(W, list) and W and isinstance(W[0], list) else 1
        if cols == 0:
            raise _field(f"layers[{i}].W", "has no columns")
        source = "the model has" if i == 0 else f"layer {i - 1} gives"
        noun = "features" if i == 0 else "outputs"
        W = _matrix(
            W,
            f"layers[{i}].W",
            (width, cols),
            (f"{source} {width} {noun}", f"row 0 of layers[{i}].W has {cols}"),
        )
        b = _vector(
            _get(obj, "b", f"layers[{i}]."),
            f"layers[{i}].b",
            W.shape[1],
            f"layers[{i}].W has {W.shape[1]} columns",
        )
        out.append({"W": W, "b": b})
        width = W.shape[1]
    k = _outputs(raw, classes)
    if width != k:
        raise _field(f"layers[{len(layers) - 1}].W", f"gives {width} outputs; the model needs {k}")
    return {"layers": out, "activation": _text(_get(raw, "activation"), "activation")}


def _outputs(raw: dict[str, Any], classes: list) -> int:
    """The outputs the model's loss needs: one per class, one, or an embedding's
    ``embed_dim``."""
    from losslab.nn.models import EMBEDDING, MODELS, head_of

    head = head_of(MODELS.get(raw["kind"]), raw["loss"])  # the output follows the loss
    if head is EMBEDDING:
        k = raw.get("embed_dim")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise _field("embed_dim", f"must be a positive integer, found {_what(k)}")
        return k
    return len(classes) if head.multi_output else 1


def _cnn(raw: dict[str, Any], features: list[str], classes: list) -> dict[str, Any]:
    """A layer ``spec`` (``--layers``), an ``image`` [H, W, C] of as many pixels as features,
    and the layers with weights in order: a conv ``W`` in torch's (C_out, C_in, k, k) layout, a
    dense ``W`` inputs × outputs, each ``b`` one value per output."""
    from losslab.errors import LossLabError
    from losslab.nn.activations import ACTIVATIONS
    from losslab.nn.layers import build_stack, parse_layers

    spec = _text(_get(raw, "spec"), "spec")
    image = _get(raw, "image")
    if (
        not isinstance(image, list)
        or len(image) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in image)
    ):
        raise _field("image", f"must be [H, W, C], three positive integers, found {_what(image)}")
    if math.prod(image) != len(features):
        raise _field(
            "image", f"has {math.prod(image)} pixels; the model has {len(features)} features"
        )
    activation = _text(_get(raw, "activation"), "activation")
    k = _outputs(raw, classes)
    try:
        act = ACTIVATIONS.get(activation)
        stack = build_stack(parse_layers(spec), tuple(image), k, act, vector_output=False)
    except LossLabError as exc:
        raise _field("spec", f"does not describe a network on this image: {exc}") from None
    weighted = [layer for layer in stack if layer.has_params]
    layers = _get(raw, "layers")
    if not isinstance(layers, list) or len(layers) != len(weighted):
        raise _field(
            "layers", f"must list {len(weighted)} layers with weights, found {_what(layers)}"
        )
    out = []
    for i, (layer, entry) in enumerate(zip(weighted, layers, strict=True)):
        obj = _object(entry, f"layers[{i}]")
        name, shape = f"layers[{i}].W", layer.torch_shape  # type: ignore[attr-defined]
        try:
            W = np.array(_get(obj, "W", f"layers[{i}]."), dtype=np.float64)
        except (TypeError, ValueError):
            raise _field(name, f"must be nested lists of numbers of shape {shape}") from None
        if W.shape != shape:
            raise _field(name, f"has shape {W.shape}; the spec {spec!r} needs {shape}")
        if not np.isfinite(W).all():
            raise _field(name, "holds a value that is not a finite number")
        b = _vector(_get(obj, "b", f"layers[{i}]."), f"layers[{i}].b", layer.n_bias,
                    f"layer {i} has {layer.n_bias} outputs")  # fmt: skip
        out.append({"W": W, "b": b})
    return {"layers": out, "activation": activation, "spec": spec, "image": image}


# kind -> its own fields; the common ones (features, classes, target, loss, scaler) are checked
# first. A new kind is one entry here.
MODEL_KINDS: dict[str, Callable[[dict[str, Any], list[str], list], dict[str, Any]]] = {
    "linear": _linear,
    "logistic": _logistic,
    "softmax": _softmax,
    "mlp": _mlp,
    "cnn": _cnn,
}


def _model(raw: Any) -> dict[str, Any]:
    from losslab.errors import LossLabError
    from losslab.losses.embedding import find_loss
    from losslab.nn.models import EMBEDDING_LOSSES, EMBEDDING_MODELS, MODELS

    obj = _object(raw, "(top level)")
    kind = _get(obj, "kind")
    if not isinstance(kind, str) or kind not in MODEL_KINDS:  # a list is not even hashable
        raise _field("kind", f"is {_what(kind)}; known kinds: {', '.join(MODEL_KINDS)}")
    loss = obj.get("loss")
    if loss is None and kind in MODELS.names():
        loss = MODELS.get(kind).default_loss()
    _text(loss, "loss")
    try:
        loss = find_loss(loss).name
    except LossLabError:
        raise _field("loss", f"is {_what(loss)}, not a loss losslab knows") from None
    embedding = loss in EMBEDDING_LOSSES and kind in EMBEDDING_MODELS
    if kind in MODELS.names() and loss not in MODELS.get(kind).losses and not embedding:
        raise _field("loss", f"is {loss!r}, which does not fit a {kind} model")
    features = _texts(_get(obj, "features"), "features")
    classes = _classes(obj.get("classes"))
    encoder = _encoder(obj.get("encoder"), features)
    inputs = encoder.names if encoder is not None else features  # the model's input columns
    return {
        "kind": kind,
        "loss": loss,
        "target": _text(_get(obj, "target"), "target"),
        "features": features,
        "classes": classes,
        "encoder": encoder,
        "inputs": inputs,
        "scaler": _scaler(obj.get("scaler"), len(inputs)),
        "target_scale": _target_scale(obj.get("target_scale"), classes, loss),
        **MODEL_KINDS[kind]({**obj, "loss": loss}, inputs, classes),
    }


def _encoder(value: Any, features: list[str]) -> Any:
    """The imputation and one-hot encoding of the features (``--missing``, ``--categorical``)."""
    from losslab.data.encoding import Encoder

    if value is None:
        return None
    obj = _object(value, "encoder")
    try:
        encoder = Encoder.from_dict(obj)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _field("encoder", "is malformed (columns, fill, categories)") from None
    if encoder.columns != features:
        raise _field("encoder.columns", "differ from the model's features")
    unknown = sorted((set(encoder.fill) | set(encoder.categories)) - set(features))
    if unknown:
        raise _field("encoder", f"names {unknown[0]!r}, which is not a feature")
    return encoder


def model(file: Path) -> dict[str, Any]:
    """A model.json: its kind, loss, target, features, classes, scaler and the kind's parameters
    (numpy arrays), all checked against each other."""
    return _load(file, _model)


def model_of(raw: Any, source: str) -> dict[str, Any]:
    """:func:`model` of a model's JSON object already read (a run's ``model`` in memory)."""
    try:
        return _model(raw)
    except Invalid as exc:
        raise DataError(f"{source}: {exc}") from None


# --------------------------------------------------------------------------- studies and runs


def _command(obj: dict[str, Any], expected: str) -> None:
    command = _get(obj, "command")
    if command != expected:
        raise _field("command", f"is {_what(command)}; expected {expected!r}")
    if "versions" in obj:
        _versions(obj["versions"])


def _study_config(raw: Any) -> dict[str, Any]:
    obj = _object(raw, "(top level)")
    _command(obj, "compare")
    _fields(obj, {"runs_planned": _optional(_integer), "versions": _versions, "blas": _blas}, "")
    _text(_get(obj, "model"), "model")
    data = _object(_get(obj, "data"), "data")
    _text(_get(data, "source", "data."), "data.source")
    if not isinstance(obj.get("partial", False), bool):
        raise _field("partial", f"must be true or false, found {_what(obj['partial'])}")
    if obj.get("metrics") is not None:
        _texts(obj["metrics"], "metrics")
    _optional(_number)(obj.get("seconds"), "seconds")
    _optional(_number)(obj.get("target_loss"), "target_loss")
    reference = obj.get("reference")
    if reference is not None:
        by_loss = _object(_object(reference, "reference").get("by_loss") or {}, "reference.by_loss")
        for loss, info in by_loss.items():
            name = f"reference.by_loss.{loss}.per_seed"
            per_seed = _object(info, f"reference.by_loss.{loss}").get("per_seed")
            if per_seed is not None:
                if not isinstance(per_seed, list) or not per_seed:
                    raise _field(
                        name, f"must be a non-empty list of numbers, found {_what(per_seed)}"
                    )
                for i, v in enumerate(per_seed):  # null: no finite optimum on that seed
                    _optional(_number)(v, f"{name}[{i}]")
    return obj


def study_config(file: Path) -> dict[str, Any]:
    """A study's config.json: command compare, the model, the data source, versions."""
    return _load(file, _study_config)


def _curve(value: Any, name: str, n: int | None = None) -> list[float | None]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _field(name, f"must be a list of numbers, found {_what(value)}")
    if n is not None and value and len(value) != n:
        raise _field(name, f"has {len(value)} points; the curve has {n}")
    return [None if v is None else _number(v, f"{name}[{i}]") for i, v in enumerate(value)]


def _batch(value: Any, name: str) -> int | None:
    return _optional(_integer)(value, name)


def _config_row(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The four settings a study varies (and a run has)."""
    lr = _number(_get(obj, "lr", prefix), f"{prefix}lr")
    if lr <= 0:
        raise _field(f"{prefix}lr", f"must be > 0, found {obj['lr']!r}")
    return {
        "optimizer": _text(_get(obj, "optimizer", prefix), f"{prefix}optimizer"),
        "lr": lr,
        "loss": _text(_get(obj, "loss", prefix), f"{prefix}loss"),
        "batch_size": _batch(_get(obj, "batch_size", prefix), f"{prefix}batch_size"),
    }


# the fields of a summary row besides its settings, its curves and its statistics (``*_mean``,
# ``*_std``: finite numbers or null)
SUMMARY_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "seeds": lambda value, name: _integer(value, name, 1),
    "diverged": _integer,
    "reached_target": _integer,
    "epochs_to_target": _optional(_integer),
    "seconds_mean": _optional(_at_least(_number, 0)),
    "hidden": _optional(_text),
    "layers": _optional(_text),
    "settings": _optional(_text),  # compare --tune: the chosen settings
}


def _study_summary(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise _field("(top level)", f"must be a non-empty list of rows, found {_what(raw)}")
    rows = []
    for i, value in enumerate(raw):
        obj = _object(value, f"[{i}]")
        row = _config_row(obj, f"[{i}].")
        stats = {k: _optional(_number) for k in obj if k.endswith(("_mean", "_std"))}
        _fields(obj, {**stats, **SUMMARY_FIELDS}, f"[{i}].")
        seeds = _get(obj, "seeds", f"[{i}].")
        if obj.get("diverged", 0) > seeds:
            raise _field(f"[{i}].diverged", f"is {obj['diverged']}, more than its {seeds} seeds")
        curve = _curve(_get(obj, "curve", f"[{i}]."), f"[{i}].curve")
        for key in ("test_curve", "curve_min", "curve_max"):
            row[key] = _curve(obj.get(key), f"[{i}].{key}", len(curve))
        rows.append({**obj, **row, "curve": curve})
    return rows


def study_summary(file: Path) -> list[dict[str, Any]]:
    """A study's summary.json: one row per configuration with its curves (lists of equal length,
    finite numbers or null)."""
    return _load(file, _study_summary)


def _cells(
    file: Path, header: list[str], rows: list[list[str]], kinds: dict[str, str]
) -> list[dict[str, Any]]:
    """Each cell of the named columns: "int" (>= 0), "number" (finite), "text", or with "?"
    also empty; returns the rows as dicts of typed values (an empty cell is None)."""
    out: list[dict[str, Any]] = []
    columns = [(j, name, kinds.get(name, "text?")) for j, name in enumerate(header)]
    for line, row in enumerate(rows, start=2):
        typed: dict[str, Any] = {}
        for j, column, kind in columns:
            text = row[j]
            if text == "" and kind.endswith("?"):
                typed[column] = None
                continue
            if kind.startswith("text"):
                typed[column] = text
                continue
            integer = kind.startswith("int")
            try:
                value = int(text) if integer else float(text)
            except ValueError:
                value = None
            if value is None or (integer and value < 0) or not math.isfinite(value):
                noun = "an integer >= 0" if integer else "a finite number"
                raise DataError(f"{file}: line {line}, field '{column}': {text!r} is not {noun}")
            typed[column] = value
        out.append(typed)
    return out


def study_curves(file: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """A study's curves.csv: (header, rows): run and epoch (integers), train_loss, test_loss and
    the other columns (val_loss, objective, seconds, the metrics) finite numbers or empty."""
    header, rows = read_csv(file, ("run", "epoch", "train_loss", "test_loss"))
    kinds = {"run": "int", "epoch": "int"}
    kinds.update({c: "number?" for c in header if c not in kinds})
    return header, _cells(file, header, rows, kinds)


RUN_TEXTS = ("hidden", "layers", "optimizer", "loss", "model", "status", "message")
RUN_TEXTS += ("phase", "settings")  # compare --tune's studies
RUN_INTEGERS = ("run", "seed", "epochs_run", "epochs_to_target", "batch_size")


def study_runs(file: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """A study's runs.csv: (header, rows): one row per run with its settings (texts and
    integers) and results (finite numbers or empty)."""
    required = ("run", "optimizer", "lr", "loss", "batch_size", "seed", "status")
    header, rows = read_csv(file, required)
    kinds = {c: "int?" if c in RUN_INTEGERS else "number?" for c in header}
    kinds.update({c: "text?" for c in RUN_TEXTS})
    kinds.update({"run": "int", "seed": "int", "lr": "number", "optimizer": "text"})
    kinds.update({"loss": "text", "status": "text"})
    table = _cells(file, header, rows, kinds)
    for line, row in enumerate(table, start=2):
        if row["lr"] <= 0:
            raise DataError(f"{file}: line {line}, field 'lr': must be > 0, found {row['lr']!r}")
        for name in ("optimizer", "loss", "status"):
            if not row[name]:
                raise DataError(f"{file}: line {line}, field '{name}': empty")
        if row.get("phase", "final") not in ("tune", "final"):  # compare --tune's studies
            raise DataError(
                f"{file}: line {line}, field 'phase': {row['phase']!r} is not tune or final"
            )
    return header, table


# the settings of a run's config.json that the views read, beyond those a study varies
RUN_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "data": _optional(_text),
    "seed": _optional(_integer),
    "epochs": _optional(lambda value, name: _integer(value, name, 1)),
    "command": _text,
    "versions": _versions,
    "blas": _blas,
}


def _run_config(raw: Any) -> dict[str, Any]:
    obj = _object(raw, "(top level)")
    _command(obj, "fit")
    _fields(obj, RUN_FIELDS, "")
    return {**obj, **_config_row(obj), "model": _text(_get(obj, "model"), "model")}


def run_config(file: Path) -> dict[str, Any]:
    """A run's config.json: command fit, the model, optimizer, lr, loss, batch size, versions."""
    return _load(file, _run_config)


def _scores(value: Any, name: str) -> dict[str, float | None]:
    """A part's final scores (loss, objective, accuracy or r2): finite numbers or null."""
    obj = _object(value, name)
    for key, v in obj.items():
        _optional(_number)(v, f"{name}.{key}")
    return obj


def _run_metrics(raw: Any) -> dict[str, Any]:
    from losslab.train.config import STATUSES

    obj = _object(raw, "(top level)")
    status = _text(_get(obj, "status"), "status")
    if status not in STATUSES:
        raise _field("status", f"is {status!r}; known: {', '.join(STATUSES)}")
    _integer(_get(obj, "epochs_run"), "epochs_run")
    _at_least(_number, 0)(_get(obj, "seconds"), "seconds")
    _scores(_get(obj, "train"), "train")
    kinds = {
        "status": _text,
        "epochs_run": _integer,
        "seconds": _number,
        "diverged_at": _optional(lambda value, name: _integer(value, name, 1)),
        "message": _optional(_text),
        "initial_objective": _optional(_number),  # recorded since the flag of runs that rose
        "train": _scores,
        "val": _optional(_scores),
        "test": _optional(_scores),
    }
    _fields(obj, kinds, "")
    return obj


def run_metrics(file: Path) -> dict[str, Any]:
    """A run's metrics.json: its status, epochs run, seconds and final train (val, test) scores."""
    return _load(file, _run_metrics)


def run_history(file: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """A run's history.csv: (header, rows): epochs 1, 2, … and a finite train_loss each; other
    columns finite numbers or empty. A run that diverged in its first epoch has no rows (and,
    saved before the header was written for it, no header either)."""
    header, rows = read_csv(file, ("epoch", "train_loss"), empty=True)
    kinds = {"epoch": "int", "train_loss": "number"}
    kinds.update({c: "number?" for c in header if c not in kinds})
    table = _cells(file, header, rows, kinds)
    epoch = header.index("epoch")
    for line, row in enumerate(rows, start=2):
        if int(row[epoch]) != line - 1:
            raise DataError(
                f"{file}: line {line}, field 'epoch': {row[epoch]!r}; expected {line - 1}"
            )
    return header, table
