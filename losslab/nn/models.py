"""Model kinds: how a target is encoded, how scores come out of X, and which losses fit.

linear, logistic and softmax are affine maps ``S = X·W + b`` (W of shape features for
linear/logistic, features × K for softmax); they differ in the target encoding, the loss family
and how scores become predictions. Their parameters start at zero.

mlp is a network of dense layers (:mod:`losslab.nn.network`) whose output layer is one of those
three "heads", chosen by the loss: K logits for a multiclass loss, one score for a binary or a
regression loss. Its target is encoded as its head's is. cnn is the same with a stack of
convolution, pooling, flatten and dense layers (:mod:`losslab.nn.layers`) on rows read as images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from losslab.errors import ConfigError, DataError
from losslab.nn.activations import sigmoid
from losslab.registry import Registry

MARGIN_LOSSES = ("hinge", "squared-hinge", "modified-huber", "perceptron", "soft-margin")
# Batch losses of an embedding (losslab.losses.embedding): the model ends in --embed-dim outputs
EMBEDDING_LOSSES = ("contrastive", "triplet", "supcon")
EMBEDDING_MODELS = ("linear", "mlp", "cnn")


@dataclass(frozen=True)
class ModelKind:
    name: str
    losses: tuple[str, ...]  # compatible losses; the first is the default
    description: str
    multi_output: bool = False  # softmax: one score column per class
    logits: bool = False  # the loss reads the scores as logits
    # Default learning rates that differ from the optimizer's own. Regression targets are not
    # scaled, and adaptive optimizers move each parameter by about lr per step, so they need a
    # larger lr to bring the intercept to the target's mean within the default 100 epochs.
    default_lrs: tuple[tuple[str, float], ...] = ()
    network: bool = False  # hidden layers before the head (``--hidden``, ``--activation``)
    images: bool = False  # the rows are images and the layers a stack (``--layers``, ``--image``)

    def default_lr(
        self, optimizer: str, fallback: float, loss: str = "", *, target_scaled: bool = False
    ) -> float:
        """The default lr of ``optimizer`` for this model with ``loss`` (regression losses only);
        a standardised target (``target_scaled``) takes the optimizer's own, as a classifier."""
        if self.is_classifier(loss) or target_scaled:
            return fallback
        return dict(self.default_lrs).get(optimizer, fallback)

    def default_loss(self) -> str:
        return self.losses[0]

    def is_classifier(self, loss: str) -> bool:
        return self.name != "linear" or loss in MARGIN_LOSSES

    def init_params(self, n_features: int, n_classes: int) -> list[np.ndarray]:
        """[coef, intercept], zeros, in the shapes the optimizer updates in place."""
        if self.multi_output:
            return [np.zeros((n_features, n_classes), order="F"), np.zeros(n_classes)]
        return [np.zeros(n_features), np.zeros(1)]


# regression losses that bound an outlier's pull (losslab.losses.robust, by name: no import)
ROBUST_LOSSES = ("cauchy", "geman-mcclure", "welsch", "tukey", "barron")

MODELS: Registry[ModelKind] = Registry("model")
MODELS.add(
    "linear",
    ModelKind(
        "linear",
        (
            "mse",
            "mae",
            "huber",
            "log-cosh",
            "quantile",
            "epsilon-insensitive",
            "squared-epsilon-insensitive",
            "mape",
            "poisson",
            "tweedie",
            "gamma-deviance",
            "msle",
            *MARGIN_LOSSES,
            *ROBUST_LOSSES,
        ),
        "score = X·w + b; regression (poisson, tweedie, gamma-deviance: prediction exp(score); "
        "msle: exp(score) − 1), or a linear SVM with a margin loss on a binary target",
        default_lrs=(
            ("adagrad", 5.0),
            ("adam", 0.3),
            ("adamw", 0.3),
            ("rmsprop", 0.3),
            ("nadam", 0.3),
            ("radam", 0.3),
            ("adamax", 0.5),
            ("adadelta", 100.0),
            ("signsgd", 0.3),
            ("signum", 0.3),
            ("lion", 0.3),
            ("yogi", 0.3),
            ("adabelief", 0.3),
            ("schedule-free-adamw", 1.0),
        ),
    ),
)
MODELS.add(
    "logistic",
    ModelKind("logistic", ("bce", "focal"), "p = sigmoid(X·w + b); binary target", logits=True),
)
MODELS.add(
    "softmax",
    ModelKind(
        "softmax",
        ("cross-entropy", "multiclass-hinge", "multi-margin"),
        "logits = X·W + b, W features × K; K classes in sorted order",
        multi_output=True,
        logits=True,
    ),
)


MODELS.add(
    "mlp",
    ModelKind(
        "mlp",
        tuple(dict.fromkeys(loss for kind in MODELS.names() for loss in MODELS.get(kind).losses)),
        "a network of dense layers (--hidden 128,64, --activation relu) with the head the loss "
        "needs: K logits (cross-entropy), one score (bce, hinge…) or a value (mse…)",
        network=True,
    ),
    aliases=("nn", "network"),
)
MODELS.add(
    "cnn",
    ModelKind(
        "cnn",
        MODELS.get("mlp").losses,
        "a convolutional network on images (--layers conv32,pool,conv64,pool,conv64,flatten,"
        "dense64 by default, --image HxWxC) with the head the loss needs, as mlp",
        network=True,
        images=True,
    ),
    aliases=("conv", "convnet"),
)


# The output of a model trained with an embedding loss: D coordinates, no head; the labels
# only say which rows are similar (not registered: it is no model a user picks).
EMBEDDING = ModelKind(
    "embedding", EMBEDDING_LOSSES, "--embed-dim coordinates per row", multi_output=True
)


def head_of(model: ModelKind, loss: str) -> ModelKind:
    """The one-layer model whose output and target encoding ``model`` has with ``loss``: the
    model itself, or for a network the first of softmax, logistic, linear that takes the loss
    (an embedding loss: :data:`EMBEDDING`)."""
    if loss in EMBEDDING_LOSSES and model.name in EMBEDDING_MODELS:
        return EMBEDDING
    if not model.network:
        return model
    for name in ("softmax", "logistic", "linear"):
        kind = MODELS.get(name)
        if loss in kind.losses:
            return kind
    raise ConfigError(f"loss {loss!r} does not fit a {model.name} model")


def default_loss(model: ModelKind, labels: np.ndarray) -> str:
    """The model's default loss; a network's follows the target, as the model choice does."""
    if model.network:
        return MODELS.get(default_model(labels)).default_loss()
    return model.default_loss()


MAX_INTEGER_CLASSES = 20  # more distinct integers than this make a count or a value, not classes


def default_model(labels: np.ndarray) -> str:
    """The model :func:`choose_model` picks for a target."""
    return choose_model(labels)[0]


def choose_model(labels: np.ndarray) -> tuple[str, str]:
    """(model, why) for a target column.

    2 distinct values -> logistic; strings (3 or more) -> softmax; integers (also integral floats)
    -> softmax only when there are few of them (3 to 20 distinct), else linear: a count with many
    distinct values is a regression target. Everything else -> linear. (scikit-learn's
    ``type_of_target`` calls all integers multiclass; we do not, since a softmax over 34 counts
    is rarely what anyone means.)
    """
    distinct = np.unique(labels)
    k = distinct.size
    if k == 2:
        return "logistic", "2 distinct values → logistic (--model linear to override)"
    if labels.dtype.kind in "USOTb":
        if k >= 3:
            return "softmax", f"{k} distinct strings → softmax"
        return "linear", f"{k} distinct value → linear"
    integral = labels.dtype.kind in "iu" or bool(np.all(distinct == np.round(distinct)))
    if integral and 3 <= k <= MAX_INTEGER_CLASSES:
        return "softmax", f"{k} distinct integers → softmax (--model linear to override)"
    if integral and k > MAX_INTEGER_CLASSES:
        return "linear", (
            f"{k} distinct integers (more than {MAX_INTEGER_CLASSES}: a count or a value) "
            "→ linear (--model softmax to override)"
        )
    return "linear", f"{'non-integer numbers' if k > 1 else f'{k} distinct value'} → linear"


# The one-score models: s = X·w + b. logistic is bce (or focal) with logits on that score, linear
# the same score under a regression or margin loss, so losses of both compare on one model.
SCORE_MODELS = ("linear", "logistic")


def score_model_for(losses: list[str]) -> str | None:
    """ "linear" when the losses are all binary classification losses of the one-score models
    (bce, focal, the margin losses) but do not all fit one of them (bce and hinge: logistic
    regression and a linear SVM on the same score X·w + b); else None."""
    kinds = [MODELS.get(name) for name in SCORE_MODELS]
    if any(all(loss in kind.losses for loss in losses) for kind in kinds):
        return None
    binary = (*MODELS.get("logistic").losses, *MARGIN_LOSSES)
    return "linear" if all(loss in binary for loss in losses) else None


def model_for_loss(model: ModelKind, loss: str, *, score: bool = False) -> ModelKind:
    """The model a run of ``loss`` uses: ``model``, or with ``score`` (a study of one-score
    models) the one of :data:`SCORE_MODELS` that takes ``loss``."""
    if score and loss not in model.losses:
        for name in SCORE_MODELS:
            if loss in MODELS.get(name).losses:
                return MODELS.get(name)
    return model


def check_loss(model: ModelKind, loss: str) -> None:
    if loss in EMBEDDING_LOSSES and model.name in EMBEDDING_MODELS:
        return
    if loss not in model.losses:
        raise ConfigError(
            f"loss {loss!r} does not fit a {model.name} model; compatible losses: "
            f"{', '.join(model.losses)}"
        )


def encode_target(
    model: ModelKind, loss: str, labels: np.ndarray, where: str
) -> tuple[np.ndarray, list]:
    """(y as float64, classes). Classes are sorted; y holds 0/1 or class indices for classifiers."""
    if not model.is_classifier(loss):
        if labels.dtype.kind not in "fiub":
            raise DataError(
                f"{where}: a linear model needs a numeric target; found {labels[0]!r} "
                "(use --model logistic or softmax for labels)"
            )
        return labels.astype(np.float64), []
    if model is EMBEDDING and np.unique(labels).size > 1 and choose_model(labels)[0] == "linear":
        raise DataError(
            f"{where}: {loss} learns which rows are similar from class labels; this target is "
            f"a regression target ({choose_model(labels)[1].split(' →')[0]})"
        )
    classes, y = np.unique(labels, return_inverse=True)
    if classes.size < 2:
        raise DataError(
            f"{where}: the target has a single class ({classes[0]!r}); need two or more"
        )
    if model.name not in ("softmax", "embedding") and classes.size != 2:
        raise DataError(
            f"{where}: a {model.name} model needs a binary target; found {classes.size} classes "
            f"(use --model softmax)"
        )
    if model.multi_output and classes.size > 1000:
        raise DataError(f"{where}: {classes.size} classes is too many for a softmax model")
    return y.astype(np.float64), [plain(c) for c in classes]


def class_codes(labels: np.ndarray, classes: list, where: Any, why: str) -> np.ndarray:
    """Labels as indices into ``classes`` (compared as text, so 1 and 1.0 and "1" agree), as
    float64; a label outside them is a DataError at ``where(row)``: ``class 'x' {why} (classes:
    …)``."""
    known = {str(plain(c)): k for k, c in enumerate(classes)}
    codes = np.fromiter(
        (known.get(str(plain(v)), -1) for v in labels), dtype=np.intp, count=len(labels)
    )
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise DataError(
            f"{where(row)}: class {plain(labels[row])!r} {why} "
            f"(classes: {', '.join(map(str, classes))})"
        )
    return codes.astype(np.float64)


def plain(value: object) -> object:
    """numpy scalar -> python scalar for JSON."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def probabilities(model: ModelKind, S: np.ndarray) -> np.ndarray | None:
    """Class probabilities for logistic (P(class 1)) and softmax models; None for linear."""
    if model.name == "logistic":
        return sigmoid(S)
    if model is EMBEDDING:
        return None
    if model.multi_output:
        shifted = S - S.max(axis=1, keepdims=True)
        np.exp(shifted, out=shifted)
        shifted /= shifted.sum(axis=1, keepdims=True)
        return shifted
    return None
