"""The settings of one run (`losslab fit`, and every run of `compare`), validated together."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from losslab.errors import ConfigError

STATUSES = ("completed", "early_stopped", "diverged", "interrupted")
SHUFFLES = ("epoch", "once")
DTYPES = ("float64", "float32")
SCALES = ("standard", "minmax", "none")
TARGET_SCALES = ("none", "standard")  # --target-scale: a regression target as it is, or (y − μ)/σ
INITS = ("torch", "he", "xavier")
DEFAULT_HIDDEN = (128, 64)
DEFAULT_ACTIVATION = "relu"
DEFAULT_VAL_SIZE = 0.1  # the validation share --patience monitors when --val-size is not given
DEFAULT_DIVERGENCE = 1e4  # a run diverges when its objective exceeds this × the initial one


@dataclass
class DataSettings:
    """What to read and how to prepare it: the file, its columns, the split, scaling, encoding."""

    data: Any = "breast-cancer"  # a path, a bundled name (or, from Python, a DataFrame)
    sep: str | None = None  # the data's column separator; None = sniffed
    target: str | None = None
    features: list[str] | None = None
    test_size: float = 0.2
    val_size: float | None = None  # of the training rows; None: 0.1 with --patience, else 0
    test_data: Any = None  # score on this file instead of splitting
    standardize: bool = True
    scale: str | None = None  # standard, minmax, none; None: from ``standardize``
    missing: str = "error"  # missing feature values: error, drop, mean, median
    categorical: str = "onehot"  # string feature columns: onehot, error
    weight_column: str | None = None  # a column of per-row weights (not a feature)
    exclude: list[str] | None = None  # columns dropped from the features
    target_scale: str = "none"  # standard: fit (y − μ)/σ of the training rows (regression)


@dataclass
class ModelSettings:
    """The model: its kind, a network's layers and activation, and its starting weights."""

    model: str | None = None
    hidden: list[int] | None = None  # widths of the hidden layers (mlp)
    layers: str | None = None  # the layer stack of a cnn ("conv32,pool,…,dense64")
    image: str | None = None  # a cnn's input shape "HxWxC" (default: square, one channel)
    activation: str | None = None  # of the hidden layers (mlp)
    init: str | None = None  # torch, he, xavier (networks); linear models start at zero
    init_from: str | None = None  # .npz of W1, b1, … or a saved run
    embed_dim: int | None = None  # outputs of a model trained with an embedding loss (default 2)


@dataclass
class LossSettings:
    """The objective: the loss with its parameters and weights, and the penalties."""

    loss: str | None = None
    # the loss's parameters by name (those its registry entry declares: delta, quantile,
    # epsilon, gamma, label_smoothing, power …); a missing name or None means the loss's default.
    # Kept at the top level by ``from_dict`` and ``to_dict``, as the hyperparameters are.
    loss_args: dict[str, Any] = field(default_factory=dict)
    class_weight: str | None = None  # "balanced" or "class=weight,…" (cross-entropy, bce)
    l1: float = 0.0
    l2: float = 0.0
    # the embedding losses (losslab.losses.embedding): how pairs / triplets are mined from a
    # batch (None: all), supcon's temperature τ (None: 0.1) and the triplet's distance swap
    mining: str | None = None
    temperature: float | None = None
    swap: bool = False


@dataclass
class OptimizerSettings:
    """The update rule: its name, lr and declared hyperparameters, and gradient clipping."""

    optimizer: str = "adam"
    lr: float | None = None
    # the optimizer's hyperparameters by name (those its registry entry declares); a missing
    # name or None means the optimizer's default. ``from_dict`` and ``to_dict`` keep them at the
    # top level, where the run records have them.
    hyper: dict[str, Any] = field(default_factory=dict)
    clip_norm: float | None = None


@dataclass
class ScheduleSettings:
    """The learning-rate schedule, its unit and parameters, and the warm-up."""

    schedule: str = "constant"
    warmup: int = 0  # units (of schedule_unit) of linear warm-up
    schedule_unit: str | None = None  # epoch or step; None: the schedule's own
    # the schedule's parameters by name (those its registry entry declares), kept like ``hyper``
    schedule_params: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunSettings:
    """How the loop runs: epochs and batches, the seed, precision, stopping and divergence."""

    epochs: int = 100
    batch_size: int | None = None  # 0 (or "full"): the full batch
    seed: int = 0
    shuffle: str = "epoch"  # minibatches: "epoch" reshuffles the rows, "once" the batch order
    dtype: str = "float64"  # "float32" halves the memory traffic of every pass
    patience: int | None = None
    tol: float = 1e-4
    divergence_factor: float = DEFAULT_DIVERGENCE


# Each group of settings by name, in the order a reader (and `--help`) meets them.
GROUPS: dict[str, type] = {
    "data": DataSettings,
    "model": ModelSettings,
    "loss": LossSettings,
    "optimizer": OptimizerSettings,
    "schedule": ScheduleSettings,
    "run": RunSettings,
}

# The order of the settings in a record's config.json (the order records have always had).
RECORD_ORDER = (
    "data", "sep", "target", "features", "model", "loss", "optimizer", "lr", "epochs",
    "batch_size", "seed", "test_size", "val_size", "test_data", "standardize", "scale", "hidden",
    "layers", "image", "activation", "init", "init_from", "l1", "l2", "hyper", "schedule",
    "warmup", "schedule_unit", "schedule_params", "clip_norm", "patience", "tol",
    "divergence_factor", "missing", "categorical", "loss_args", "class_weight", "weight_column",
    "shuffle", "dtype",
)  # fmt: skip
# Settings a record has only when given (records before them, and runs without them, are as
# they were): their defaults.
RECORD_WHEN_GIVEN = {
    "exclude": None,
    "target_scale": "none",
    "embed_dim": None,
    "mining": None,
    "temperature": None,
    "swap": False,
}


def json_safe(value: Any) -> Any:
    """A setting as a record holds it: Barron's α = −∞ as the text "-inf" (JSON has no −∞)."""
    return "-inf" if isinstance(value, float) and value == -math.inf else value


@dataclass
class FitConfig(
    RunSettings, ScheduleSettings, OptimizerSettings, LossSettings, ModelSettings, DataSettings
):
    """Every setting of a run, in six groups (:data:`GROUPS`): data, model, loss, optimizer,
    schedule and run; ``None`` means "resolve from the data or the optimizer". The fields are
    flat (``config.lr``), as the records and the CLI name them; ``group(name)`` gives one group.
    """

    def group(self, name: str) -> Any:
        """The settings of one group (``"optimizer"`` → its OptimizerSettings), as a copy."""
        cls = GROUPS[name]
        return cls(**{f.name: getattr(self, f.name) for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        """Every setting by name: the optimizer's, the schedule's and the loss's parameters among
        them (every declared loss parameter, None where not given)."""
        from losslab.losses import DECLARED as LOSS_DECLARED

        # asdict deep-copies every value: not the data, which may be a whole DataFrame
        flat = asdict(replace(self, data=None, test_data=None))
        out = {name: flat[name] for name in RECORD_ORDER}
        out.update({k: flat[k] for k, v in RECORD_WHEN_GIVEN.items() if flat[k] != v})
        out.update(out.pop("hyper"))
        out.update(out.pop("schedule_params"))
        given = out.pop("loss_args")
        # JSON has no −∞ (Barron's α = −∞, a valid setting): recorded as the text "-inf"
        out.update({name: json_safe(given.get(name)) for name in LOSS_DECLARED})
        for key in ("data", "test_data"):
            value = getattr(self, key)
            out[key] = value if value is None or isinstance(value, str) else "<DataFrame>"
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FitConfig:
        """The settings ``to_dict`` gives (or any subset): the optimizer's hyperparameters, the
        schedule's and the loss's parameters by their own names."""
        from losslab.losses import DECLARED as LOSS_DECLARED
        from losslab.optim.optimizers import HYPERPARAMETERS
        from losslab.optim.schedules import DECLARED

        nested = ("hyper", "schedule_params", "loss_args")
        known = {f.name for f in fields(cls)} - set(nested)
        hyper = dict(values.get("hyper") or {})
        schedule_params = dict(values.get("schedule_params") or {})
        loss_args = dict(values.get("loss_args") or {})
        settings = {}
        for key, value in values.items():
            if key in known:
                settings[key] = value
            elif key in HYPERPARAMETERS:
                hyper[key] = value
            elif key in DECLARED:
                schedule_params[key] = value
            elif key in LOSS_DECLARED:
                loss_args[key] = value
            elif key not in nested:
                raise ConfigError(f"unknown setting {key!r}")
        return cls(**settings, hyper=hyper, schedule_params=schedule_params, loss_args=loss_args)

    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters given (None dropped): what the optimizer is built with."""
        return {k: v for k, v in self.hyper.items() if v is not None}

    def loss_params(self) -> dict[str, Any]:
        """The loss parameters given (None dropped): what the loss is computed with."""
        return {k: v for k, v in self.loss_args.items() if v is not None}

    @property
    def validation(self) -> float:
        """The validation share of the training rows: ``val_size``, else 0.1 with --patience."""
        if self.val_size is not None:
            return self.val_size
        return DEFAULT_VAL_SIZE if self.patience is not None else 0.0

    @property
    def scaling(self) -> str:
        """The feature scaling: ``scale`` when given, else standard or none by ``standardize``."""
        if self.scale is not None:
            return self.scale
        return "standard" if self.standardize else "none"

    def validate(self) -> None:
        """Settings that are wrong whatever the data; one clear line each."""
        from losslab.losses.embedding import find_loss
        from losslab.nn.models import MODELS
        from losslab.optim.optimizers import OPTIMIZERS
        from losslab.optim.schedules import SCHEDULES, schedule_unit

        OPTIMIZERS.resolve(self.optimizer)
        schedule_unit(self.schedule, self.schedule_unit)
        SCHEDULES.get(self.schedule).resolve(self.schedule_params)
        model = MODELS.get(self.model) if self.model is not None else None
        if self.loss is not None:
            find_loss(self.loss)
        self.validate_embedding()
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"--lr must be > 0, got {self.lr:g}")
        if self.epochs < 1:
            raise ConfigError(f"--epochs must be >= 1, got {self.epochs}")
        self.batch_size = parse_batch_size(self.batch_size)
        if self.batch_size is not None and self.batch_size < 0:
            raise ConfigError(f"--batch-size must be >= 0 (0 = full batch), got {self.batch_size}")
        if not 0.0 <= self.test_size < 1.0:
            raise ConfigError(f"--test-size must be in [0, 1), got {self.test_size:g}")
        if self.val_size is not None and not 0.0 <= self.val_size < 1.0:
            raise ConfigError(f"--val-size must be in [0, 1), got {self.val_size:g}")
        for name in ("l1", "l2"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"--{name} must be >= 0, got {value:g}")
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise ConfigError(f"--clip-norm must be > 0, got {self.clip_norm:g}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"--patience must be >= 1, got {self.patience}")
        if not (self.divergence_factor > 1 and not math.isnan(self.divergence_factor)):
            raise ConfigError(f"--divergence-factor must be > 1, got {self.divergence_factor:g}")
        if not self.tol >= 0:
            raise ConfigError(f"--tol must be >= 0, got {self.tol:g}")
        if self.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")
        if self.shuffle not in SHUFFLES:
            raise ConfigError(
                f"--shuffle must be one of {', '.join(SHUFFLES)}, got {self.shuffle!r}"
            )
        if self.dtype not in DTYPES:
            raise ConfigError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        from losslab.data.encoding import CATEGORICAL, MISSING

        for flag, value, choices in (
            ("--missing", self.missing, MISSING),
            ("--categorical", self.categorical, CATEGORICAL),
        ):
            if value not in choices:
                raise ConfigError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")
        if self.class_weight is not None:
            from losslab.data.weighting import parse_class_weight

            parse_class_weight(self.class_weight)
        if self.weight_column is not None and not str(self.weight_column).strip():
            raise ConfigError("--weight-column needs a column name")
        self.exclude = parse_columns(self.exclude, "--exclude")
        if self.target_scale not in TARGET_SCALES:
            raise ConfigError(
                f"--target-scale must be one of {', '.join(TARGET_SCALES)}, "
                f"got {self.target_scale!r}"
            )
        if self.scale is not None and self.scale not in SCALES:
            raise ConfigError(f"--scale must be one of {', '.join(SCALES)}, got {self.scale!r}")
        self.hidden = parse_hidden(self.hidden)
        network = model is not None and model.network
        images = model is not None and model.images
        what = f"a {model.name} model" if model is not None else "the model chosen"
        for flag, value in (("--hidden", self.hidden), ("--activation", self.activation)):
            if value is not None and not network:
                raise ConfigError(
                    f"{flag} applies to networks (--model mlp); {what} has no hidden layers"
                )
        if self.hidden is not None and images:
            raise ConfigError("--hidden applies to --model mlp; a cnn takes --layers")
        for flag, value in (("--layers", self.layers), ("--image", self.image)):
            if value is not None and not images:
                raise ConfigError(f"{flag} applies to --model cnn; {what} has no image layers")
        if self.layers is not None:
            from losslab.nn.layers import format_layers, parse_layers

            self.layers = format_layers(parse_layers(self.layers))
        if self.image is not None:
            from losslab.nn.layers import parse_image

            self.image = "x".join(map(str, parse_image(self.image)))
        if self.activation is not None:
            from losslab.nn.activations import ACTIVATIONS

            self.activation = ACTIVATIONS.resolve(self.activation)
        if self.init is not None:
            if self.init not in INITS:
                raise ConfigError(f"--init must be one of {', '.join(INITS)}, got {self.init!r}")
            if not network:
                raise ConfigError(
                    "--init applies to networks (--model mlp, cnn); linear models start at zero "
                    "(use --init-from to start elsewhere)"
                )

    def validate_embedding(self) -> None:
        """--embed-dim, --mining, --temperature and --swap: each only with a loss that uses it."""
        from losslab.losses.embedding import TEMPERATURE, check_mining, find_loss

        name = find_loss(self.loss).name if self.loss is not None else None
        embedding = name in ("contrastive", "triplet", "supcon")
        if self.embed_dim is not None:
            if self.embed_dim < 1:
                raise ConfigError(f"--embed-dim must be >= 1, got {self.embed_dim}")
            if not embedding:
                raise ConfigError("--embed-dim applies to --loss contrastive, triplet or supcon")
        if self.mining is not None:
            if not embedding:
                raise ConfigError("--mining applies to --loss contrastive or triplet")
            check_mining(name, self.mining)  # type: ignore[arg-type]
        if self.temperature is not None:
            if name != "supcon":
                raise ConfigError(f"--temperature is not used by the {name or 'chosen'} loss")
            try:
                TEMPERATURE.check(float(self.temperature))
            except ConfigError:
                raise ConfigError(
                    f"--temperature must be {TEMPERATURE.range_words()}; found {self.temperature:g}"
                ) from None
        if self.swap and name != "triplet":
            raise ConfigError(f"--swap is not used by the {name or 'chosen'} loss (triplet's)")


def parse_columns(value: Any, flag: str) -> list[str] | None:
    """``"id, row"`` or ``["id", "row"]`` -> ["id", "row"]; None (or nothing named) -> None."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(c).strip() for c in items if str(c).strip()]
    if not names:
        raise ConfigError(f"{flag} needs at least one column name")
    return names


def parse_hidden(value: Any) -> list[int] | None:
    """``"128,64"`` or ``[128, 64]`` -> [128, 64]; every width a positive integer."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    widths = []
    for item in items:
        text = str(item).strip()
        try:
            width = int(text)
        except ValueError:
            width = 0
        if width < 1 or (not isinstance(item, int) and text != str(width)):
            raise ConfigError(
                f"--hidden takes comma-separated positive integers (e.g. 128,64), got {item!r}"
            )
        widths.append(width)
    if not widths:
        raise ConfigError("--hidden needs at least one width (e.g. 128,64)")
    return widths


def parse_batch_size(value: Any) -> int | None:
    """``"full"`` -> 0 (the full batch); an integer (or its text) as it is."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip().lower()
    if text == "full":
        return 0
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--batch-size takes a number of rows or 'full', got {value!r}") from None
