"""A saved model (``model.json``) on new data: `losslab predict` and `losslab eval --model`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from losslab.data.encoding import Encoder
from losslab.data.read import Table, read_table
from losslab.errors import DataError, LossLabError
from losslab.losses import LOSSES
from losslab.nn.models import MODELS, ModelKind, class_codes, head_of, probabilities
from losslab.nn.network import Network
from losslab.train.prepare import unscale_target


@dataclass
class SavedModel:
    kind: ModelKind  # the head: linear, logistic or softmax (a network's output layer)
    loss: str
    target: str
    features: list[str]
    classes: list
    net: Network
    mean: np.ndarray | None
    scale: np.ndarray | None
    source: str
    encoder: Encoder | None = None  # missing values and string columns, as in training
    target_scale: dict[str, Any] | None = None  # --target-scale standard: output σ·s + μ

    def scores(self, table: Table) -> np.ndarray:
        missing = [c for c in self.features if c not in table.frame.columns]
        if missing:
            raise DataError(
                f"{table.label}: feature column {missing[0]!r} of the model ({self.source}) is "
                f"missing; the model needs: {', '.join(self.features)}"
            )
        if self.encoder is not None:
            X = self.encoder.transform(table.frame, table.where)
        else:
            X = table.matrix(self.features)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.mean is not None:
                X = (X - self.mean) / self.scale
            S = unscale_target(self.net.scores(X), self.target_scale)
        if not np.isfinite(S).all():
            row = int(np.flatnonzero(~np.isfinite(S.reshape(len(S), -1)).all(axis=1))[0])
            largest = float(np.max(np.abs(self.net.weights)))
            raise DataError(
                f"{self.source}: the model's score of {table.where(row)} is beyond the float64 "
                f"range (largest |weight| {largest:.3g}); no prediction"
            )
        return S


def load_model(path: str | Path) -> SavedModel:
    """Read a run directory's model.json (or the file itself), validated by ``schema.model``."""
    from losslab.study import schema
    from losslab.study.records import check_finished

    path = Path(path)
    check_finished(path)
    file = path / "model.json" if path.is_dir() else path
    if not file.is_file():
        raise DataError(f"{path}: no model.json here (give a run directory or a model.json)")
    return _saved_model(schema.model(file), str(file))


def model_from_dict(obj: dict[str, Any], source: str) -> SavedModel:
    """The model of a run in memory (``FitResult.model``), read as its saved model.json is: the
    same numbers as `losslab predict` on the saved run."""
    import json

    from losslab.data.write import to_json
    from losslab.study import schema

    return _saved_model(schema.model_of(json.loads(to_json(obj)), source), source)


def _saved_model(raw: dict[str, Any], file: str) -> SavedModel:
    if raw["kind"] not in MODELS.names():
        raise DataError(
            f"{file}: field 'kind' is {raw['kind']!r}; this losslab predicts with "
            f"{', '.join(MODELS.names())}"
        )
    model = MODELS.get(raw["kind"])
    kind = head_of(model, raw["loss"])
    n = len(raw["inputs"])
    if model.network:
        arrays = [layer[k] for layer in raw["layers"] for k in ("W", "b")]
        sizes = [n] + [b.shape[0] for b in arrays[1::2]]
        if model.images:
            net = Network(
                [n, sizes[-1]],
                raw["activation"],
                vector_output=not kind.multi_output,
                layers=raw["spec"],
                image=raw["image"],
            )
        else:
            net = Network(sizes, raw["activation"], vector_output=not kind.multi_output)
    else:
        arrays = [raw["coef"], raw["intercept"]]
        vector = raw["coef"].ndim == 1
        net = Network([n, 1 if vector else raw["coef"].shape[1]], vector_output=vector)
    try:
        net.load(arrays, file)
    except LossLabError as exc:
        raise DataError(str(exc)) from None
    scaler = raw["scaler"]
    return SavedModel(
        kind,
        raw["loss"],
        raw["target"],
        raw["features"],
        raw["classes"],
        net,
        scaler["mean"] if scaler else None,
        scaler["scale"] if scaler else None,
        file,
        raw["encoder"],
        raw["target_scale"],
    )


def predictions(model: SavedModel, table: Table) -> tuple[list[str], list[np.ndarray]]:
    """Columns of predictions: the label or value, then class probabilities for classifiers."""
    S = model.scores(table)
    if model.kind.name == "linear":
        if model.classes:
            labels = np.asarray(model.classes, dtype=object)[(S > 0).astype(int)]
            return ["prediction", "score"], [labels, S]
        spec = LOSSES.get(model.loss)
        if spec.link is not None:  # poisson's exp(log rate), tweedie's exp(s) …
            with np.errstate(over="ignore"):
                return ["prediction", "score"], [spec.predict(S), S]
        return ["prediction"], [S]
    with np.errstate(over="ignore"):  # S − max(S) below −1.8e308 is −inf: a probability of 0
        P = probabilities(model.kind, S)
    classes = np.asarray(model.classes, dtype=object)
    if model.kind.multi_output:
        labels = classes[np.argmax(S, axis=1)]
        return ["prediction", *(f"p_{c}" for c in model.classes)], [labels, *P.T]
    labels = classes[(S > 0).astype(int)]
    return ["prediction", f"p_{model.classes[1]}"], [labels, P]


def predict_csv(model_path: str | Path, data: str | Path, *, sep: str | None = None) -> str:
    """`losslab predict`: the CSV text of predictions, one row per data row."""
    from losslab.data.write import to_csv

    model = load_model(model_path)
    names, cols = predictions(model, read_table(data, sep=sep))
    rows = zip(*(c.tolist() for c in cols), strict=True)
    return to_csv(names, rows)


def evaluate_model(
    model_path: str | Path | SavedModel,
    data: str | Path | Table,
    *,
    losses: Sequence[str] = ("all",),
    target: Sequence[str] = (),
    params: dict[str, Any] | None = None,
    sep: str | None = None,
    weight_column: str | None = None,
    class_weight: str | None = None,
):
    """`losslab eval --model`: the model's scores on DATA, scored like `losslab eval` does.

    A regression model trained through a link (tweedie's ŷ = exp(s)) is scored on its
    predictions ŷ; poisson reads its score, the log rate, as `eval`'s poisson does by default.
    """
    import pandas as pd

    from losslab.study.evaluate import evaluate

    model = model_path if isinstance(model_path, SavedModel) else load_model(model_path)
    table = data if isinstance(data, Table) else read_table(data, sep=sep)
    column = target[0] if target else model.target
    table.require(column)
    S = model.scores(table)
    spec = LOSSES.get(model.loss)
    if spec.link is not None and not spec.score_input:
        S = spec.link.inverse(S)
    pred_cols = [str(c) for c in model.classes] if model.kind.multi_output else ["score"]
    frame = pd.DataFrame(S.reshape(len(S), -1), columns=pred_cols)
    if model.classes:
        labels = table.labels(column)
        y = class_codes(
            labels, model.classes, lambda row: table.where(row, column), "is unknown to the model"
        )
    else:
        y = table.numeric(column)
    frame.insert(0, column, y)
    if weight_column is not None:
        from losslab.data.weighting import read_weights

        table.require(weight_column)
        frame[weight_column] = read_weights(table, weight_column)
    scored = Table(path=table.path, label=table.label, frame=frame)
    return evaluate(
        scored,
        losses,
        target=[column],
        pred=pred_cols,
        logits=model.kind.logits or bool(model.classes),
        params=params,
        weight_column=weight_column,
        class_weight=class_weight,
    )
