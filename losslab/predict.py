"""A saved model (``model.json``) on new data: `losslab predict` and `losslab eval --model`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from losslab.data import Table, read_table
from losslab.errors import DataError, LossLabError
from losslab.layers import image_shape
from losslab.models import MODELS, ModelKind, head_of, plain, probabilities
from losslab.network import Network


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

    def scores(self, table: Table) -> np.ndarray:
        missing = [c for c in self.features if c not in table.frame.columns]
        if missing:
            raise DataError(
                f"{table.label}: feature column {missing[0]!r} of the model ({self.source}) is "
                f"missing; the model needs: {', '.join(self.features)}"
            )
        X = table.matrix(self.features)
        if self.mean is not None:
            X = (X - self.mean) / self.scale
        return self.net.scores(X)


def load_model(path: str | Path) -> SavedModel:
    """Read a run directory's model.json (or the file itself), validating its shape."""
    from losslab.records import check_finished

    path = Path(path)
    check_finished(path)
    file = path / "model.json" if path.is_dir() else path
    if not file.is_file():
        raise DataError(f"{path}: no model.json here (give a run directory or a model.json)")
    try:
        raw: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        model = MODELS.get(raw["kind"])
        loss = raw.get("loss") or model.default_loss()
        kind = head_of(model, loss)
        features = [str(f) for f in raw["features"]]
        classes = list(raw.get("classes") or [])
        if model.network:
            layers = raw["layers"]
            arrays = [np.asarray(layer[k], dtype=np.float64) for layer in layers for k in "Wb"]
            sizes = [len(features)] + [a.shape[-1] for a in arrays[1::2]]
            if model.images:
                net = Network(
                    [len(features), sizes[-1]],
                    raw["activation"],
                    vector_output=not kind.multi_output,
                    layers=str(raw["spec"]),
                    image=image_shape("x".join(map(str, raw["image"])), len(features)),
                )
            else:
                net = Network(sizes, raw["activation"], vector_output=not kind.multi_output)
        else:
            coef = np.asarray(raw["coef"], dtype=np.float64)
            intercept = np.atleast_1d(np.asarray(raw["intercept"], dtype=np.float64))
            arrays = [coef, intercept]
            if coef.shape[0] != len(features):
                raise DataError(f"{file}: coefficients do not match its {len(features)} features")
            net = Network(
                [len(features), coef.shape[1] if coef.ndim == 2 else 1],
                vector_output=coef.ndim == 1,
            )
        scaler = raw.get("scaler")
        mean = np.asarray(scaler["mean"], dtype=np.float64) if scaler else None
        scale = np.asarray(scaler["scale"], dtype=np.float64) if scaler else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"{file}: not a JSON model file") from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataError(f"{file}: not a losslab model ({exc})") from None
    except LossLabError as exc:
        raise DataError(f"{file}: {exc}") from None
    if mean is not None and mean.shape[0] != len(features):
        raise DataError(f"{file}: the scaler does not match its {len(features)} features")
    try:
        net.load(arrays, str(file))
    except LossLabError as exc:
        raise DataError(str(exc)) from None
    return SavedModel(
        kind, loss, str(raw.get("target", "")), features, classes, net, mean, scale, str(file)
    )


def predictions(model: SavedModel, table: Table) -> tuple[list[str], list[np.ndarray]]:
    """Columns of predictions: the label or value, then class probabilities for classifiers."""
    S = model.scores(table)
    if model.kind.name == "linear":
        if model.classes:
            labels = np.asarray(model.classes, dtype=object)[(S > 0).astype(int)]
            return ["prediction", "score"], [labels, S]
        return ["prediction"], [S]
    P = probabilities(model.kind, S)
    classes = np.asarray(model.classes, dtype=object)
    if model.kind.multi_output:
        labels = classes[np.argmax(S, axis=1)]
        return ["prediction", *(f"p_{c}" for c in model.classes)], [labels, *P.T]
    labels = classes[(S > 0).astype(int)]
    return ["prediction", f"p_{model.classes[1]}"], [labels, P]


def predict_csv(model_path: str | Path, data: str | Path) -> str:
    """`losslab predict`: the CSV text of predictions, one row per data row."""
    from losslab.render import to_csv

    model = load_model(model_path)
    names, cols = predictions(model, read_table(data))
    rows = zip(*(c.tolist() for c in cols), strict=True)
    return to_csv(names, rows)


def evaluate_model(
    model_path: str | Path,
    data: str | Path,
    *,
    losses: Sequence[str] = ("all",),
    target: Sequence[str] = (),
    params: dict[str, float | None] | None = None,
):
    """`losslab eval --model`: the model's scores on DATA, scored like `losslab eval` does."""
    import pandas as pd

    from losslab.evaluate import evaluate

    model = load_model(model_path)
    table = read_table(data)
    column = target[0] if target else model.target
    table.require(column)
    S = model.scores(table)
    pred_cols = [str(c) for c in model.classes] if model.kind.multi_output else ["score"]
    frame = pd.DataFrame(S.reshape(len(S), -1), columns=pred_cols)
    if model.classes:
        labels = table.labels(column)
        known = {str(plain(c)): k for k, c in enumerate(model.classes)}
        codes = [known.get(str(plain(v))) for v in labels]
        if None in codes:
            row = codes.index(None)
            raise DataError(
                f"{table.where(row, column)}: class {labels[row]!r} is unknown to the model "
                f"(classes: {', '.join(map(str, model.classes))})"
            )
        y = np.asarray(codes, dtype=np.float64)
    else:
        y = table.numeric(column)
    frame.insert(0, column, y)
    scored = Table(path=table.path, label=table.label, frame=frame)
    return evaluate(
        scored,
        losses,
        target=[column],
        pred=pred_cols,
        logits=model.kind.logits or bool(model.classes),
        params=params,
    )
