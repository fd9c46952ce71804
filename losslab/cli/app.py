"""The `losslab` command line: parses options, calls the library, renders the result.

This is the only module that imports typer. Every library error (``LossLabError``) becomes one
line on stderr and exit code 1; usage errors are typer's (exit code 2).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer

from losslab import __version__
from losslab.errors import LossLabError, OutputError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="losslab",
    help="A laboratory for loss functions and optimizers on real CSV data.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", help="Output: a table for people, json or csv.")
]
SepOpt = Annotated[
    str | None,
    typer.Option("--sep", help="Column separator: , ; tab |  (default: sniffed from the header)."),
]


class Progress(str, Enum):
    auto = "auto"
    bar = "bar"
    lines = "lines"
    none = "none"


ProgressOpt = Annotated[
    Progress,
    typer.Option(
        "--progress",
        help="Progress on stderr: auto (a bar when stderr is a terminal), bar, lines (plain "
        "lines, the first update always, then at most one a second) or none.",
    ),
]


def _fail(message: str) -> None:
    from losslab.views.render import stderr_console

    try:
        stderr_console().print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True)
    except OSError:
        pass  # nowhere left to report to; the exit code still tells


def _warn(message: str) -> None:
    from losslab.views.render import stderr_console

    try:
        stderr_console().print(f"[bold yellow]warning:[/] {render_escape(message)}", soft_wrap=True)
    except OSError:
        pass


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush cannot fail again."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (AttributeError, OSError, ValueError):
        return  # not a real file (a test's buffer)
    os.dup2(devnull, fd)
    os.close(devnull)


def _output_failed(exc: OutputError | OSError) -> None:
    """stdout refused the result: a closed pipe ends quietly, anything else in one line."""
    _silence_stdout()
    if exc.errno != errno.EPIPE:
        message = str(exc) if isinstance(exc, OutputError) else str(OutputError(exc))
        _fail(render_escape(message))
    raise typer.Exit(1)


def command(fn: F) -> F:
    """Run a command, turning a LossLabError into one line on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OutputError as exc:
            _output_failed(exc)
        except LossLabError as exc:
            _fail(render_escape(str(exc)))
            raise typer.Exit(1) from None
        except KeyboardInterrupt as exc:  # Ctrl-C outside a training loop: loading, saving …
            from rich.markup import escape

            _fail(escape(f"interrupted: {exc}" if str(exc) else "interrupted"))
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _saved(save: Callable[[], Any], failures: list[str]) -> Any:
    """``save()``, or None with its error kept for after the result is printed."""
    try:
        return save()
    except LossLabError as exc:
        failures.append(str(exc))
        return None


def _finish(failures: list[str]) -> None:
    """After a printed result: one line per failed save, exit code 1 if any."""
    for message in failures:
        _fail(render_escape(message))
    if failures:
        raise typer.Exit(1)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"losslab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """A laboratory for loss functions and optimizers on real CSV data.

    DATA arguments take a CSV path or a bundled dataset name (see `losslab datasets`).
    """


def _loss_names() -> str:
    from losslab.losses import LOSSES

    return ", ".join(LOSSES.names())


# --------------------------------------------------------------------------- eval


def declared_options(declared: dict[str, list[tuple[str, Any]]], into: str) -> Callable[[F], F]:
    """Give a command one option per declared setting, gathered into its parameter ``into``.

    ``declared`` maps each name to its declarations ``(owner, Hyper)`` (an optimizer's
    hyperparameters, a schedule's parameters): registering an owner adds its flags here, with
    their types and help (:func:`losslab.hyper.declared_help`). A flag not given is None, "the
    owner's default"; booleans are ``--x/--no-x``; a list of integers is one comma-separated
    string.
    """
    import inspect

    from losslab.hyper import declared_help

    def help_of(name: str) -> str:
        return declared_help(declared[name])

    def deco(fn: F) -> F:
        sig = inspect.signature(fn, eval_str=True)
        params = [p for p in sig.parameters.values() if p.name != into]
        annotations = {p.name: p.annotation for p in params}
        for name, entries in declared.items():
            h = entries[0][1]
            flag = "--" + name.replace("_", "-")
            if h.kind is bool:
                annotation: Any = Annotated[
                    bool | None, typer.Option(f"{flag}/--no-{flag[2:]}", help=help_of(name))
                ]
            elif h.kind in (str, tuple):
                annotation = Annotated[str | None, typer.Option(flag, help=help_of(name))]
            else:
                annotation = Annotated[h.kind | None, typer.Option(flag, help=help_of(name))]  # type: ignore[name-defined]
            params.append(
                inspect.Parameter(
                    name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
                )
            )
            annotations[name] = annotation
        names = tuple(declared)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {k: kwargs.pop(k) for k in names if k in kwargs}
            return fn(*args, **kwargs, **{into: given})

        wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {**annotations, "return": None}
        return wrapper  # type: ignore[return-value]

    return deco


def hyper_options(fn: F) -> F:
    """One option per declared optimizer hyperparameter (:data:`losslab.optim.optimizers.DECLARED`),
    gathered into the command's ``hyper``."""
    from losslab.optim.optimizers import DECLARED

    return declared_options(DECLARED, "hyper")(fn)


def loss_options(fn: F) -> F:
    """One option per declared loss parameter (:data:`losslab.losses.DECLARED`), gathered into
    the command's ``loss_args``."""
    from losslab.losses import DECLARED

    return declared_options(DECLARED, "loss_args")(fn)


def schedule_options(fn: F) -> F:
    """One option per declared schedule parameter (:data:`losslab.optim.schedules.DECLARED`),
    gathered into the command's ``schedule_params``."""
    from losslab.optim.schedules import DECLARED

    return declared_options(DECLARED, "schedule_params")(fn)


@app.command("eval")
@command
@loss_options
def eval_cmd(
    data: Annotated[str, typer.Argument(help="CSV file or bundled dataset name.")],
    loss: Annotated[
        list[str] | None,
        typer.Option(
            "--loss",
            "-l",
            help=f"Loss to compute (repeatable), or 'all' for every loss that applies. "
            f"Choices: {_loss_names()}.",
        ),
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option(
            help="Target column (repeat for kl-div's K probability columns). Default: a column "
            "named y/target/label…, else the first."
        ),
    ] = None,
    pred: Annotated[
        list[str] | None,
        typer.Option(help="Prediction column(s) (repeat for K class columns). Default: the rest."),
    ] = None,
    logits: Annotated[
        bool, typer.Option("--logits", help="Predictions are logits/scores, not probabilities.")
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(help="Score a saved model (run directory or model.json) on DATA instead."),
    ] = None,
    weight_column: Annotated[
        str | None,
        typer.Option(
            help="A column of row weights (finite, >= 0; not a target or prediction): every "
            "loss and metric is the weighted mean Σ w·ℓ / Σ w; rows of weight 0 do not count."
        ),
    ] = None,
    sep: SepOpt = None,
    fmt: FormatOpt = Format.table,
    loss_args: dict[str, Any] | None = None,
) -> None:
    """Compute losses of prediction columns against target columns in a CSV.

    Probabilities are clipped to [eps, 1 - eps], eps = float64 machine epsilon, as scikit-learn
    does. Also reports accuracy (classification) or R² (regression).
    """
    params = {k: v for k, v in (loss_args or {}).items() if v is not None}
    if model is not None:
        from losslab.study.predict import evaluate_model

        result = evaluate_model(
            model,
            data,
            losses=loss or ["all"],
            target=target or [],
            params=params,
            sep=sep,
            weight_column=weight_column,
        )
    else:
        from losslab.study.evaluate import evaluate

        result = evaluate(
            data,
            loss or ["all"],
            target=target or [],
            pred=pred or [],
            logits=logits,
            params=params,
            sep=sep,
            weight_column=weight_column,
        )
    from losslab.views import render

    obj = result.to_dict()
    rows = [(name, value) for name, value in {**result.losses, **result.metrics}.items()]

    def shown(name: str, value: float | None) -> Any:
        return render.Undefined(result.undefined[name]) if value is None else value

    def tables() -> list[Any]:
        where = f"{result.data}: {result.rows} rows · target {', '.join(result.target)}"
        where += f" · predictions {', '.join(result.pred)}" + (" (logits)" if result.logits else "")
        loss_rows = [(name, shown(name, value)) for name, value in result.losses.items()]
        metric_rows = [(name, shown(name, value)) for name, value in result.metrics.items()]
        out = [render.line(where), render.table(None, ["loss", "value"], loss_rows, digits=8)]
        if metric_rows:
            out.append(render.table(None, ["metric", "value"], metric_rows, digits=6))
        if result.params:
            from losslab.losses import show_param

            text = ", ".join(f"{k} = {show_param(v)}" for k, v in result.params.items())
            out.append(render.line(f"parameters: {text}", None))
        if result.weight_column:
            out.append(render.line(f"weighted by column {result.weight_column!r}", None))
        return out

    render.emit(fmt.value, obj=obj, csv_header=["name", "value"], csv_rows=rows, render=tables)


# --------------------------------------------------------------------------- listings


@app.command("losses")
@command
def losses_cmd(fmt: FormatOpt = Format.table) -> None:
    """List every loss: name, task, inputs, formula and parameters."""
    from losslab.views import render
    from losslab.losses import LOSSES, show_param

    rows = []
    for name, loss in LOSSES.items():
        params = ", ".join(f"{k}={show_param(v)}" for k, v in loss.params.items())
        aliases = ", ".join(LOSSES.aliases_of(name))
        logit = " (or logits)" if loss.supports_logits else ""
        if loss.link is not None:
            logit += f"; fit: {loss.link.formula}"
        rows.append((name, aliases, loss.task, loss.inputs + logit, loss.formula, params))
    header = ["name", "aliases", "task", "inputs", "formula", "parameters"]
    obj = [dict(zip(header, row, strict=True)) for row in rows]
    render.emit(
        fmt.value,
        obj=obj,
        csv_header=header,
        csv_rows=rows,
        render=lambda: [render.table("Losses (value per row, then the mean)", header, rows)],
    )


@app.command("optimizers")
@command
def optimizers_cmd(
    name: Annotated[
        str | None,
        typer.Argument(help="Show one optimizer's hyperparameters: default, range, meaning."),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List every optimizer: default lr and batch size, update rule, the reference it equals."""
    from losslab.views import render
    from losslab.nn.models import MODELS
    from losslab.optim.optimizers import OPTIMIZERS

    linear = dict(MODELS.get("linear").default_lrs)
    if name is not None:
        spec = OPTIMIZERS.get(name)
        info = spec.to_dict()
        info["lr_linear"] = linear.get(spec.name, spec.default_lr)
        info["hyperparameters"] = [h.to_dict() for h in spec.hypers]
        header = ["hyperparameter", "flag", "default", "range", "meaning"]
        from losslab.hyper import shown as show_default

        rows = [
            (h.name, h.flag, show_default(h.default), h.range_text(), h.help) for h in spec.hypers
        ]
        title = (
            f"{spec.name}: {spec.description}\nreference: {spec.reference}; default lr "
            f"{spec.default_lr:g} (linear regression {info['lr_linear']:g}), batch "
            f"{spec.default_batch_size or 'full'}"
        )
        render.emit(
            fmt.value,
            obj=info,
            csv_header=header,
            csv_rows=rows,
            render=lambda: [render.table(title, header, rows, digits=6)],
        )
        return
    rows, obj = [], []
    for key, spec in OPTIMIZERS.items():
        info = spec.to_dict()
        info["lr_linear"] = linear.get(key, spec.default_lr)
        obj.append(info)
        lr = f"{spec.default_lr:g}"
        if info["lr_linear"] != spec.default_lr:
            lr += f" ({info['lr_linear']:g})"
        rows.append((key, lr, spec.default_batch_size or "full", spec.description, spec.reference))
    header = ["name", "lr (linear regression)", "batch", "update", "reference"]
    render.emit(
        fmt.value,
        obj=obj,
        csv_header=header,
        csv_rows=rows,
        render=lambda: [
            render.table(
                "Optimizers (defaults); `losslab optimizers NAME` lists one's hyperparameters",
                header,
                rows,
                digits=4,
            )
        ],
    )


@app.command("schedules")
@command
def schedules_cmd(fmt: FormatOpt = Format.table) -> None:
    """List every lr schedule: default unit, parameters with their defaults, formula, reference.

    e counts units (epochs, or optimizer steps with --schedule-unit step) after any --warmup.
    """
    from losslab.views import render
    from losslab.optim.schedules import SCHEDULES

    rows, obj = [], []
    for name, entry in SCHEDULES.items():
        obj.append(entry.to_dict())
        params = ", ".join(
            f"{h.name}={'unset' if h.default is None else h.default}" for h in entry.params
        )
        rows.append((name, entry.unit, params, entry.description, entry.reference))
    header = ["name", "unit", "parameters", "lr at unit e", "equals"]
    render.emit(
        fmt.value,
        obj=obj,
        csv_header=header,
        csv_rows=rows,
        render=lambda: [render.table("Learning-rate schedules (defaults)", header, rows)],
    )


@app.command("datasets")
@command
def datasets_cmd(fmt: FormatOpt = Format.table) -> None:
    """List the bundled datasets: name, rows, features, target, task."""
    from losslab.views import render
    from losslab.data.read import DATASETS, dataset_shape

    rows = []
    for name, ds in DATASETS.items():
        n_rows, n_cols = dataset_shape(ds)
        features = None if ds.example else n_cols - 1
        rows.append((name, n_rows, features, ds.target, ds.task, ds.description))
    header = ["name", "rows", "features", "target", "task", "description"]
    obj = [dict(zip(header, row, strict=True)) for row in rows]
    render.emit(
        fmt.value,
        obj=obj,
        csv_header=header,
        csv_rows=rows,
        render=lambda: [
            render.table("Bundled datasets (use the name wherever DATA is asked)", header, rows)
        ],
    )


# --------------------------------------------------------------------------- fit

Opt = typer.Option


def _fit_options_help() -> dict[str, str]:
    from losslab.nn.models import MODELS
    from losslab.optim.optimizers import OPTIMIZERS
    from losslab.optim.schedules import SCHEDULES

    linear = dict(MODELS.get("linear").default_lrs)
    opts = ", ".join(
        f"{name} (lr {OPTIMIZERS.get(name).default_lr:g}"
        + (f"; linear regression {linear[name]:g}" if name in linear else "")
        + ")"
        for name in OPTIMIZERS.names()
    )
    return {
        "optimizer": f"Optimizer and its default --lr: {opts}.",
        "schedule": f"Learning-rate schedule (torch.optim.lr_scheduler's; `losslab schedules` "
        f"lists their parameters): {', '.join(SCHEDULES.names())}.",
    }


_HELP = _fit_options_help()

Target = Annotated[
    str | None,
    Opt(
        help="Target column (default: a column named target, label, class or y, any case, "
        "else the last column)."
    ),
]
Features = Annotated[
    str | None, Opt(help="Comma-separated feature columns (default: all but the target).")
]
Model = Annotated[
    str | None,
    Opt(
        help="linear, logistic, softmax, mlp or cnn (default: from the target: 2 values -> "
        "logistic, strings or 3-20 distinct integers -> softmax, else linear). mlp: a network of "
        "--hidden layers whose output follows the loss (K logits, one score or a value); "
        "cnn: --layers on the rows read as --image images, output as mlp."
    ),
]
Activation = Annotated[
    str | None,
    Opt(help="Activation of the hidden layers: relu (default), tanh, sigmoid, leaky-relu, gelu."),
]
Init = Annotated[
    str | None,
    Opt(
        help="Initial weights of a network, drawn from the seed: torch (nn.Linear's default, "
        "U(±1/√fan_in)), he or xavier."
    ),
]
Image = Annotated[
    str | None,
    Opt(
        help="Input shape of --model cnn, HxWxC (pixels in row-major (C, H, W) order); "
        "default: a square number of columns is one H×H channel."
    ),
]
InitFrom = Annotated[
    str | None,
    Opt(
        help="Start from these weights: an .npz of W1, b1, … (W of shape fan_in × fan_out) or a "
        "saved run (directory or model.json) of the same model; continues training it."
    ),
]
TestData = Annotated[
    str | None,
    Opt(
        help="Score on this CSV or bundled dataset (columns matched by name) instead of "
        "splitting off --test-size of the rows."
    ),
]
Scale = Annotated[
    str | None,
    Opt(
        help="Feature scaling fitted on the training rows: standard (mean/std, the default), "
        "minmax ((x − min)/(max − min)) or none. Overrides --standardize/--no-standardize."
    ),
]
Epochs = Annotated[int, Opt(help="Passes over the training rows.")]
Seed = Annotated[
    int,
    Opt(
        help="Seed of the split, the shuffles and a network's initial weights (same seed, same "
        "numbers)."
    ),
]
TestSize = Annotated[float, Opt(help="Share of rows held out for testing, in [0, 1); 0 = none.")]
ValSize = Annotated[
    float | None,
    Opt(
        help="Share of the training rows held out for validation, in [0, 1) (drawn after the "
        "test rows); --patience monitors it. Default: 0.1 with --patience, else 0."
    ),
]
DivergenceFactor = Annotated[
    float,
    Opt(
        help="A run diverges when its training objective exceeds this multiple of the "
        "objective at the starting parameters (or overflows)."
    ),
]
Standardize = Annotated[
    bool, Opt("--standardize/--no-standardize", help="Scale features by the training mean/std.")
]
L1 = Annotated[float, Opt(help="L1 penalty l1·‖W‖₁ (the intercept is never penalised).")]
L2 = Annotated[float, Opt(help="L2 penalty (l2/2)·‖W‖².")]
Schedule = Annotated[str, Opt(help=_HELP["schedule"])]
Warmup = Annotated[
    int,
    Opt(
        help="Units (of --schedule-unit) of linear lr warm-up: unit k < w uses lr·(k+1)/(w+1), "
        "then the schedule starts afresh (torch's LinearLR then SequentialLR)."
    ),
]


class Unit(str, Enum):
    epoch = "epoch"
    step = "step"


ScheduleUnit = Annotated[
    Unit | None,
    Opt(
        help="What the schedule counts: epochs, or optimizer steps (minibatches; the history's "
        "lr is then the lr of each epoch's last step). Default: step for cyclic and one-cycle "
        "(as in torch's examples), epoch for the others."
    ),
]
ClipNorm = Annotated[float | None, Opt(help="Clip the gradient's global L2 norm to this.")]
Patience = Annotated[
    int | None,
    Opt(
        help="Stop after N epochs without improvement of the validation loss (train loss with "
        "--val-size 0) and restore the best parameters; the test split is never monitored."
    ),
]
Tol = Annotated[float, Opt(help="Improvement that resets --patience.")]
ClassWeight = Annotated[
    str | None,
    Opt(
        help="Class weights: 'balanced' (n / (K·count(class)) on the training rows, "
        "scikit-learn's) or CLASS=WEIGHT,… (unnamed classes 1). cross-entropy: torch's weight, "
        "the mean Σ w_y·ℓ / Σ w_y; bce: torch's pos_weight, the positive class's term "
        "multiplied (name the positive class; balanced = n_negative / n_positive)."
    ),
]
WeightColumn = Annotated[
    str | None,
    Opt(
        help="A column of row weights (not a feature; finite, >= 0): the objective, each "
        "batch's, the losses and the metrics become weighted means Σ w·ℓ / Σ w; rows of weight "
        "0 do not count."
    ),
]
OutDir = Annotated[str | None, Opt("--out", help="Directory for the record (default: results/).")]
NoSave = Annotated[bool, Opt("--no-save", help="Do not write a run record.")]


class Shuffle(str, Enum):
    epoch = "epoch"
    once = "once"


class Executor(str, Enum):
    local = "local"
    dask = "dask"


class Dtype(str, Enum):
    float64 = "float64"
    float32 = "float32"


class Missing(str, Enum):
    error = "error"
    drop = "drop"
    mean = "mean"
    median = "median"


class Categorical(str, Enum):
    onehot = "onehot"
    error = "error"


MissingOpt = Annotated[
    Missing,
    Opt(
        help="Missing feature values: stop (error), drop the rows before the split, or fill "
        "them with the training rows' mean or median (saved with the model)."
    ),
]
CategoricalOpt = Annotated[
    Categorical,
    Opt(
        help="String feature columns: one 0/1 column per category of the training rows "
        "(unseen categories: all zeros), or stop (error)."
    ),
]
ShuffleOpt = Annotated[
    Shuffle,
    Opt(
        help="Minibatches: reshuffle the rows every epoch, or shuffle them once and permute the "
        "batch order each epoch (faster)."
    ),
]
DtypeOpt = Annotated[
    Dtype, Opt(help="Training precision; float32 halves the memory traffic (float64 is exact).")
]


def _hyper_settings(**values: Any) -> dict[str, Any]:
    """Typer values -> FitConfig fields (``hyper``, ``schedule_params``, ``loss_args``: the
    optimizer's hyperparameters, the schedule's and the loss's parameters given)."""
    nested = {k: values.pop(k, None) or {} for k in ("hyper", "schedule_params", "loss_args")}
    values = {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}
    for key, given in nested.items():
        values[key] = {k: v for k, v in given.items() if v is not None}
    if values.get("features") is not None:
        values["features"] = [c.strip() for c in values["features"].split(",") if c.strip()]
    return values


@app.command("fit")
@command
@hyper_options
@schedule_options
@loss_options
def fit_cmd(
    data: Annotated[str, typer.Argument(help="CSV file or bundled dataset name.")],
    target: Target = None,
    features: Features = None,
    model: Model = None,
    loss: Annotated[
        str | None, Opt(help="Loss (default: mse, bce or cross-entropy by model).")
    ] = None,
    optimizer: Annotated[str, Opt(help=_HELP["optimizer"])] = "adam",
    lr: Annotated[float | None, Opt(help="Learning rate (default: the optimizer's).")] = None,
    epochs: Epochs = 100,
    batch_size: Annotated[
        str | None,
        Opt(help="Rows per step; 0 or 'full' = full batch (default: gd full, others 32)."),
    ] = None,
    hidden: Annotated[
        str | None,
        Opt(help="Widths of the hidden layers of --model mlp, comma-separated (default 128,64)."),
    ] = None,
    layers: Annotated[
        str | None,
        Opt(
            help="Layers of --model cnn: convC (3×3), convCkK (K×K), pool (2×2 max), flatten, "
            "denseN; default conv32,pool,conv64,pool,conv64,flatten,dense64."
        ),
    ] = None,
    image: Image = None,
    activation: Activation = None,
    init: Init = None,
    init_from: InitFrom = None,
    seed: Seed = 0,
    test_size: TestSize = 0.2,
    val_size: ValSize = None,
    test_data: TestData = None,
    standardize: Standardize = True,
    scale: Scale = None,
    l1: L1 = 0.0,
    l2: L2 = 0.0,
    schedule: Schedule = "constant",
    warmup: Warmup = 0,
    schedule_unit: ScheduleUnit = None,
    clip_norm: ClipNorm = None,
    patience: Patience = None,
    tol: Tol = 1e-4,
    missing: MissingOpt = Missing.error,
    categorical: CategoricalOpt = Categorical.onehot,
    divergence_factor: DivergenceFactor = 1e4,
    shuffle: ShuffleOpt = Shuffle.epoch,
    dtype: DtypeOpt = Dtype.float64,
    class_weight: ClassWeight = None,
    weight_column: WeightColumn = None,
    sep: SepOpt = None,
    fmt: FormatOpt = Format.table,
    progress: ProgressOpt = Progress.auto,
    out: OutDir = None,
    no_save: NoSave = False,
    stream: Annotated[
        bool,
        Opt(
            "--stream",
            help="Read DATA in chunks, once per epoch, instead of into memory: for a CSV (or, "
            "with losslab[parquet], a Parquet file) larger than memory; minibatch optimizers, "
            "linear models and mlp. The test (and validation) rows are chosen by a hash of the "
            "row number.",
        ),
    ] = False,
    chunk_rows: Annotated[
        int | None,
        Opt(
            help="Rows per chunk with --stream (the shuffle buffer; memory grows with it). "
            "Default: as many as hold 4,194,304 values."
        ),
    ] = None,
    hyper: dict[str, Any] | None = None,
    schedule_params: dict[str, Any] | None = None,
    loss_args: dict[str, Any] | None = None,
) -> None:
    """Train a linear, logistic, softmax or mlp model on a CSV and report loss and accuracy/R².

    The objective per batch is the mean loss + (l2/2)·‖W‖² + l1·‖W‖₁; updates follow torch.optim.
    A record (config.json, history.csv, metrics.json, model.json) goes to results/ unless --no-save.
    """
    settings = _hyper_settings(
        **{
            k: v
            for k, v in locals().items()
            if k not in ("data", "fmt", "progress", "out", "no_save", "stream", "chunk_rows")
        }
    )
    from losslab.study.records import save_fit
    from losslab.train.loop import fit

    if chunk_rows is not None and not stream:
        raise LossLabError(f"--chunk-rows {chunk_rows} needs --stream")
    with _progress("epoch", progress) as bar:
        if stream:
            from losslab.train.stream import fit as fit_stream

            result = fit_stream(data, chunk_rows=chunk_rows, progress=bar, **settings)
        else:
            result = fit(data, progress=bar, **settings)
    failures: list[str] = []
    if not no_save:
        record = _saved(lambda: save_fit(result, out), failures)
        result.record = str(record) if record is not None else None
    _report_fit(result, fmt.value)
    if result.status == "diverged":
        failures.insert(0, result.message or "diverged")
    if result.status == "interrupted":
        done = "the record holds what was done" if result.record else "no record was saved"
        _fail(f"interrupted at epoch {result.epochs_run}; {done}")
        for message in failures:
            _fail(render_escape(message))
        raise typer.Exit(130)
    _finish(failures)


def render_escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class _progress:
    """Progress on stderr, called as ``(done, total, value)``: a rich bar, plain lines or nothing.

    ``auto`` is the bar when stderr is a terminal, nothing otherwise. ``lines`` prints the first
    update (a sign of life that scripts and tests can wait for), the last, and in between at most
    one line a second, so a fast run does not print thousands.
    """

    LINE_SECONDS = 1.0

    def __init__(self, label: str, mode: Progress = Progress.auto) -> None:
        self.label = label
        self.mode = mode
        self.bar: Any = None
        self.task: Any = None
        self.last_line: float | None = None
        self.last_step: float | None = None  # running-loss lines have a clock of their own

    def __enter__(self) -> Any:
        from losslab.views.render import stderr_console

        self.console = stderr_console()
        if self.mode is Progress.bar or (self.mode is Progress.auto and self.console.is_terminal):
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as Bar

            self.bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.bar.__enter__()
        return self

    @property
    def running(self) -> bool:
        """Whether the trainer should report a running loss within each epoch (`step`)."""
        return self.bar is not None or self.mode is Progress.lines

    def __call__(self, done: int, total: int, value: float | None = None) -> None:
        info = f"loss {value:.6g}" if value is not None else ""
        if self.bar is not None:
            if self.task is None:
                self.task = self.bar.add_task(self.label, total=total, info="")
            self.bar.update(self.task, completed=done, total=total, info=info)
        elif self.mode is Progress.lines:
            now = time.monotonic()
            if self.last_line is None or done >= total or now - self.last_line >= self.LINE_SECONDS:
                self.last_line = now
                sys.stderr.write(f"{self.label} {done}/{total}{' ' + info if info else ''}\n")
                sys.stderr.flush()

    def note(self, message: str) -> None:
        """A line on stderr (above the bar, if there is one) whatever the mode."""
        self.console.print(message, soft_wrap=True, markup=False)

    def step(self, epoch: int, batch: int, batches: int, running: float) -> None:
        """Within an epoch: the batch reached and the mean loss of the epoch's batches so far
        (the running loss of the classic PyTorch training log)."""
        if self.bar is None:
            now = time.monotonic()
            if self.last_step is not None and now - self.last_step < self.LINE_SECONDS:
                return
            self.last_step = now
            sys.stderr.write(f"epoch {epoch} batch {batch}/{batches} running loss {running:.4f}\n")
            sys.stderr.flush()
            return
        if self.task is None:
            self.task = self.bar.add_task(self.label, total=None, info="")
        if batch % 20 == 0 or batch == batches:
            info = f"epoch {epoch} · batch {batch}/{batches} · running loss {running:.4f}"
            self.bar.update(self.task, info=info)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _architecture(cfg: dict[str, Any]) -> str:
    """``mlp 128-64 relu`` or ``cnn 28x28x1 conv32,pool,… relu`` for a network, the model's name
    otherwise."""
    if cfg.get("layers") and cfg.get("activation"):
        return f"{cfg['model']} {cfg['image']} {cfg['layers']} {cfg['activation']}"
    if cfg.get("hidden") and cfg.get("activation"):
        return f"{cfg['model']} {'-'.join(map(str, cfg['hidden']))} {cfg['activation']}"
    return str(cfg["model"])


def _report_fit(result: Any, fmt: str) -> None:
    from losslab.views import render

    rows = render.fit_rows(
        {
            "status": result.status,
            "epochs_run": result.epochs_run,
            "seconds": result.seconds,
            **result.metrics,
        }
    )

    def tables() -> list[Any]:
        cfg = result.config
        title = (
            f"{result.data.get('source', '')} · {_architecture(cfg)} · {cfg['loss']} · "
            f"{cfg['optimizer']} lr {cfg['lr']:g} · batch {cfg['batch_size'] or 'full'} · "
            f"seed {cfg['seed']}"
        )
        curve = render.sparkline([h["train_loss"] for h in result.history])
        out = [render.line(title)]
        from losslab.train.prepare import preparation_line

        prep = preparation_line(result.data.get("preparation", {}))
        for note in (result.data.get("choice"), prep):
            if note:
                out.append(render.line(note, None))
        out.append(render.table(None, ["", "value"], rows))
        out.append(render.line(f"train loss by epoch {curve}", None))
        if result.record:
            out.append(render.line(f"record: {result.record}", None))
        return out

    csv_rows = [(k, None if isinstance(v, render.Undefined) else v) for k, v in rows]
    render.emit(
        fmt, obj=result.to_dict(), csv_header=["name", "value"], csv_rows=csv_rows, render=tables
    )


# --------------------------------------------------------------------------- lr-find

LR_FIND_ROWS = 25  # the table shows this many points, evenly spaced; json and csv show all


@app.command("lr-find")
@command
@hyper_options
@loss_options
def lr_find_cmd(
    data: Annotated[str, typer.Argument(help="CSV file or bundled dataset name.")],
    start_lr: Annotated[float, Opt(help="First lr of the exponential sweep.")] = 1e-7,
    end_lr: Annotated[float, Opt(help="Last lr of the exponential sweep.")] = 10.0,
    steps: Annotated[
        int,
        Opt(
            help="Minibatch steps of the sweep (cycling over the training rows in the run's "
            "shuffled batch order); it stops earlier once the smoothed loss exceeds 4× its best "
            "or is not finite."
        ),
    ] = 100,
    plot: Annotated[
        str | None,
        Opt(help="Also draw the curve and both suggestions to this PNG (needs losslab[plot])."),
    ] = None,
    target: Target = None,
    features: Features = None,
    model: Model = None,
    loss: Annotated[
        str | None, Opt(help="Loss (default: mse, bce or cross-entropy by model).")
    ] = None,
    optimizer: Annotated[str, Opt(help=_HELP["optimizer"])] = "adam",
    batch_size: Annotated[
        str | None,
        Opt(help="Rows per step; 0 or 'full' = full batch (default: gd full, others 32)."),
    ] = None,
    hidden: Annotated[
        str | None,
        Opt(help="Widths of the hidden layers of --model mlp, comma-separated (default 128,64)."),
    ] = None,
    layers: Annotated[str | None, Opt(help="Layers of --model cnn (as for fit).")] = None,
    image: Image = None,
    activation: Activation = None,
    init: Init = None,
    init_from: InitFrom = None,
    seed: Seed = 0,
    test_size: TestSize = 0.2,
    val_size: ValSize = None,
    standardize: Standardize = True,
    scale: Scale = None,
    l1: L1 = 0.0,
    l2: L2 = 0.0,
    clip_norm: ClipNorm = None,
    missing: MissingOpt = Missing.error,
    categorical: CategoricalOpt = Categorical.onehot,
    divergence_factor: DivergenceFactor = 1e4,
    shuffle: ShuffleOpt = Shuffle.epoch,
    dtype: DtypeOpt = Dtype.float64,
    sep: SepOpt = None,
    fmt: FormatOpt = Format.table,
    hyper: dict[str, Any] | None = None,
    loss_args: dict[str, Any] | None = None,
) -> None:
    """Smith's lr range test: suggest a learning rate (a heuristic, not a guarantee).

    From the model's initial weights with a fresh optimizer, --steps minibatch steps sweep the
    lr exponentially from --start-lr to --end-lr, recording each batch's objective; the curve is
    smoothed as fastai does (β 0.98, bias-corrected). Two suggestions: the steepest descent of
    the smoothed curve (Lightning's suggestion()) and fastai's valley rule. Both are heuristics:
    train and compare around them before trusting one. Nothing is saved (the weights reached are
    thrown away); --plot draws the curve.
    """
    settings = _hyper_settings(
        **{
            k: v
            for k, v in locals().items()
            if k not in ("data", "fmt", "start_lr", "end_lr", "steps", "plot")
        }
    )
    from losslab.study.lrfind import check_sweep, lr_find

    check_sweep(start_lr, end_lr, steps)
    if plot is not None:
        from losslab.views.plot import check_plot_name, require_matplotlib

        check_plot_name(plot)
        require_matplotlib()
    result = lr_find(data, start_lr=start_lr, end_lr=end_lr, steps=steps, **settings)
    failures: list[str] = []
    cfg = result.config
    title = (
        f"lr range test · {result.data.get('source', '')} · {_architecture(cfg)} · "
        f"{cfg['loss']} · {cfg['optimizer']} · batch {cfg['batch_size'] or 'full'} · "
        f"seed {cfg['seed']}"
    )
    if plot is not None:
        from losslab.views.plot import plot_lr_find

        drawn = _saved(lambda: plot_lr_find(result, plot, title=title), failures)
        plot = None if drawn is None else plot
    _report_lr_find(result, fmt.value, title, plot)
    _finish(failures)


def _report_lr_find(result: Any, fmt: str, title: str, plot: str | None) -> None:
    from losslab.views import render
    from losslab.study.lrfind import HEURISTIC

    marks: dict[int, list[str]] = {}
    for name, s in result.suggestions.items():
        if s is not None:
            marks.setdefault(s["index"], []).append(name)
    points = list(zip(result.lrs, result.losses, result.smoothed, strict=True))
    header = ["step", "lr", "loss", "smoothed", "suggestion"]
    rows = [
        (i, lr, loss, smooth, ", ".join(marks.get(i, [])) or None)
        for i, (lr, loss, smooth) in enumerate(points)
    ]

    def tables() -> list[Any]:
        every = max(1, -(-len(rows) // LR_FIND_ROWS))
        shown = [r for r in rows if r[0] % every == 0 or r[0] in marks or r[0] == len(rows) - 1]
        cells = [(i, f"{lr:.3g}", loss, smooth, mark or "") for i, lr, loss, smooth, mark in shown]
        suggested = [
            (name, f"{s['lr']:.3g}", s["loss"], s["index"], s["rule"])
            if s is not None
            else (name, "—", None, None, "too few points for this rule")
            for name, s in result.suggestions.items()
        ]
        out = [
            render.line(title),
            render.table(None, ["suggestion", "lr", "smoothed loss", "step", "rule"], suggested),
            render.line(f"{HEURISTIC}.", None),
        ]
        sweep = f"{len(rows)} of {result.steps} steps, lr {result.start_lr:g} → {result.end_lr:g}"
        if result.stopped:
            sweep += f"; stopped early: {result.stopped}"
        out.append(render.line(f"sweep: {sweep}", None))
        out.append(render.table(None, header, cells))
        if every > 1:
            out.append(render.line(f"every {every}th step shown; all in --format json|csv", None))
        if plot:
            out.append(render.line(f"plot: {plot}", None))
        return out

    render.emit(fmt, obj=result.to_dict(), csv_header=header, csv_rows=rows, render=tables)


@app.command("predict")
@command
def predict_cmd(
    model: Annotated[str, typer.Argument(help="Run directory or model.json.")],
    data: Annotated[str, typer.Argument(help="CSV file or bundled dataset name.")],
    sep: SepOpt = None,
) -> None:
    """Write predictions (and class probabilities) of a saved model as CSV on stdout."""
    from losslab.study.predict import predict_csv
    from losslab.views.render import write

    write(predict_csv(model, data, sep=sep))


# --------------------------------------------------------------------------- compare


def _split_list(values: list[str] | None, convert: Callable[[str], Any], flag: str) -> list[Any]:
    """LIST options: comma-separated values or the flag repeated; 'default' keeps the default."""
    if not values:
        return [None]
    out: list[Any] = []
    for value in values:
        parts = [p.strip() for p in value.split(",")]
        if not any(parts):
            raise LossLabError(f"{flag} got an empty list")
        for part in parts:
            if not part:
                raise LossLabError(f"{flag} has an empty item in {value!r}")
            if part.lower() == "default":
                out.append(None)
                continue
            try:
                out.append(convert(part))
            except ValueError:
                raise LossLabError(f"{flag}: {part!r} is not a valid value") from None
    return list(dict.fromkeys(out))


def _batch_size(text: str) -> int:
    return 0 if text.lower() == "full" else int(text)


ListOpt = Annotated[list[str] | None, Opt()]


@app.command("compare")
@command
@hyper_options
@schedule_options
@loss_options
def compare_cmd(
    data: Annotated[
        str | None,
        typer.Argument(
            help="CSV file or bundled dataset name. Default: the study of breast-cancer with "
            "--l2 0.01 (so that the optimum is finite and every gap is a number)."
        ),
    ] = None,
    target: Target = None,
    features: Features = None,
    model: Model = None,
    optimizer: Annotated[
        list[str] | None,
        Opt(
            help="Optimizers (comma-separated or repeated). Default: gd, sgd, momentum, nesterov, "
            "adagrad, rmsprop, adam, adamw."
        ),
    ] = None,
    lr: Annotated[
        list[str] | None, Opt(help="Learning rates (LIST; 'default' = each optimizer's own).")
    ] = None,
    loss: Annotated[list[str] | None, Opt(help="Losses (LIST; default: the model's).")] = None,
    batch_size: Annotated[
        list[str] | None,
        Opt(help="Batch sizes (LIST; 0 or 'full' = full batch; default: gd full, others 32)."),
    ] = None,
    seeds: Annotated[int, Opt(help="Seeds 0..N-1 per configuration.")] = 3,
    epochs: Epochs = 100,
    jobs: Annotated[
        int | None,
        Opt(
            "--jobs",
            "-j",
            help="Worker processes, also of --executor dask's local cluster (default: the "
            "number of cores).",
        ),
    ] = None,
    executor: Annotated[
        Executor,
        Opt(
            help="Where the runs go: local (worker processes of this machine) or dask (one task "
            "per run on a dask.distributed cluster; needs losslab[distributed])."
        ),
    ] = Executor.local,
    scheduler: Annotated[
        str | None,
        Opt(
            help="With --executor dask: the scheduler's address (e.g. tcp://10.0.0.5:8786). "
            "Default: a local cluster of --jobs processes on 127.0.0.1, closed afterwards."
        ),
    ] = None,
    target_loss: Annotated[
        float | None,
        Opt(help="Train loss to reach for 'epochs to target' (default: the optimum + 1%)."),
    ] = None,
    plot: Annotated[
        str | None,
        Opt(help="Also draw the comparison figure to this .png, .svg or .pdf (losslab[plot])."),
    ] = None,
    hidden: Annotated[
        list[str] | None,
        Opt(
            help="Hidden widths of --model mlp (e.g. 128,64); repeat the option to compare "
            "architectures: --hidden 64 --hidden 128,64."
        ),
    ] = None,
    layers: Annotated[
        list[str] | None,
        Opt(
            help="Layers of --model cnn (e.g. conv32,pool,flatten,dense64); repeat the option "
            "to compare architectures."
        ),
    ] = None,
    image: Image = None,
    activation: Activation = None,
    init: Init = None,
    init_from: InitFrom = None,
    test_size: TestSize = 0.2,
    val_size: ValSize = None,
    test_data: TestData = None,
    standardize: Standardize = True,
    scale: Scale = None,
    l1: L1 = 0.0,
    l2: Annotated[
        float | None, Opt(help="L2 penalty (l2/2)·‖W‖² (default 0; 0.01 in the bare study).")
    ] = None,
    schedule: Schedule = "constant",
    warmup: Warmup = 0,
    schedule_unit: ScheduleUnit = None,
    clip_norm: ClipNorm = None,
    patience: Patience = None,
    tol: Tol = 1e-4,
    missing: MissingOpt = Missing.error,
    categorical: CategoricalOpt = Categorical.onehot,
    divergence_factor: DivergenceFactor = 1e4,
    shuffle: ShuffleOpt = Shuffle.epoch,
    dtype: DtypeOpt = Dtype.float64,
    class_weight: ClassWeight = None,
    weight_column: WeightColumn = None,
    sep: SepOpt = None,
    fmt: FormatOpt = Format.table,
    progress: ProgressOpt = Progress.auto,
    out: OutDir = None,
    no_save: NoSave = False,
    hyper: dict[str, Any] | None = None,
    schedule_params: dict[str, Any] | None = None,
    loss_args: dict[str, Any] | None = None,
) -> None:
    """Compare optimizers × learning rates × losses × batch sizes over several seeds.

    Every run is exactly `losslab fit` with the same settings. The table aggregates the seeds
    (mean ± std), shows the gap to the exact optimum where the objective is smooth and convex
    (mse, bce, cross-entropy, with or without --l2), and saves config.json, runs.csv, curves.csv
    and summary.csv under results/ unless --no-save. A bare `losslab compare` runs a default study.
    """
    from losslab.study.compare import save_study, study
    from losslab.train.config import parse_hidden
    from losslab.train.loop import FitConfig

    settings = _hyper_settings(
        **{
            k: v
            for k, v in locals().items()
            if k in {f for f in FitConfig.__dataclass_fields__}
            and k not in ("data", "optimizer", "lr", "loss", "batch_size", "hidden", "layers")
        }
    )
    grid = {
        "optimizer": _split_list(optimizer, str, "--optimizer") if optimizer else None,
        "lr": _split_list(lr, float, "--lr"),
        "loss": _split_list(loss, str, "--loss"),
        "batch_size": _split_list(batch_size, _batch_size, "--batch-size"),
        "hidden": [parse_hidden(h) for h in hidden] if hidden else None,
        "layers": list(layers) if layers else None,
    }
    if plot is not None:
        from losslab.views.plot import check_plot_name, require_matplotlib

        check_plot_name(plot)
        require_matplotlib()
    with _progress("runs", progress) as bar:
        result = study(
            data,
            **grid,
            seeds=seeds,
            jobs=jobs,
            executor=executor.value,
            scheduler=scheduler,
            target_loss=target_loss,
            progress=bar,
            on_interrupt=lambda: bar.note(
                "interrupted: the runs under way stop after their current batch "
                "(Ctrl-C again to stop now)"
            ),
            **settings,
        )
    failures: list[str] = []
    with _ctrl_c_ignored(result.partial):  # once stopped, one more Ctrl-C must not lose the study
        if not no_save:
            result.record = _saved(lambda: save_study(result, out), failures)
        if plot is not None:
            from losslab.study.compare import optima
            from losslab.views.plot import plot_study
            from losslab.views.render import study_title

            drawn = _saved(
                lambda: plot_study(
                    result.runs,
                    result.curves,
                    plot,
                    optima=optima(result.reference),
                    title=study_title(result),
                ),
                failures,
            )
            plot = None if drawn is None else plot
        _report_study(result, fmt.value, plot)
    if result.partial:
        stopped = sum(run["status"] == "interrupted" for run in result.runs)
        _fail(
            f"interrupted: {len(result.runs) - stopped} of {result.config['runs_planned']} runs "
            f"finished; {stopped} stopped early (listed, not averaged); the study is marked partial"
        )
        for message in failures:
            _fail(render_escape(message))
        raise typer.Exit(130)
    _finish(failures)


@contextlib.contextmanager
def _ctrl_c_ignored(active: bool) -> Iterator[None]:
    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


NARROW_TABLE = 150  # below this many columns, the compare table keeps the essential columns


def _report_study(study: Any, fmt: str, plot: str | None) -> None:
    from losslab.views import render

    # At 80 columns the table keeps what chooses between configurations; --format json|csv
    # keep everything.
    narrow = render.stdout_console().width < NARROW_TABLE

    def tables() -> list[Any]:
        title, header, rows, notes = render.study_table(study, narrow=narrow, plot=plot)
        table = render.table(None, header, rows, highlight_row=0, digits=4, compact=narrow)
        return [render.line(title), table, *(render.line(n, None) for n in notes)]

    runs_header = list(study.runs[0].keys())
    render.emit(
        fmt,
        obj=study.to_dict(),
        csv_header=runs_header,
        csv_rows=([r[k] for k in runs_header] for r in study.runs),
        render=tables,
    )


@app.command("plot")
@command
def plot_cmd(
    result: Annotated[str, typer.Argument(help="A saved study or run directory under results/.")],
    output: Annotated[
        str | None,
        Opt(
            "--out",
            "--output",
            "-o",
            help="A .png, .svg or .pdf file (default: RESULT/curves.png).",
        ),
    ] = None,
) -> None:
    """Draw the comparison figure of a saved study (or the curves of a run)."""
    from losslab.views.plot import plot_record
    from losslab.views.render import write

    path = plot_record(result, output)
    write(f"{path}\n")


class ShapeKind(str, Enum):
    all = "all"
    regression = "regression"
    positive = "positive"
    classification = "classification"


@app.command("shapes")
@command
def shapes_cmd(
    kind: Annotated[
        ShapeKind,
        Opt(
            help="Regression losses against the residual, losses of positive targets against "
            "the prediction, classification losses against the margin, or all three."
        ),
    ] = ShapeKind.all,
    loss: Annotated[list[str] | None, Opt(help="Only these losses (LIST).")] = None,
    gradients: Annotated[
        bool, Opt("--gradients", help="Also draw each loss's gradient (a second row).")
    ] = False,
    lo: Annotated[
        float | None, Opt("--from", help="Left end of the x axis (default −3; 0.05 for ŷ).")
    ] = None,
    hi: Annotated[
        float | None, Opt("--to", help="Right end of the x axis (default 3; 4 for ŷ).")
    ] = None,
    plot: Annotated[
        str | None, Opt(help="Draw to this .png, .svg or .pdf (needs losslab[plot]).")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Every loss on one chart: regression losses against the residual r = ŷ − y, classification
    losses against the margin m = t·s (scikit-learn's "convex loss functions" figure).

    Without --plot, a chart drawn in the terminal; --format json/csv gives the curves.
    """
    from losslab.views import render
    from losslab.views.shapes import KINDS, loss_shapes, plot_shapes, text_chart

    kinds = KINDS if kind is ShapeKind.all else (kind.value,)
    names = [x for x in _split_list(loss, str, "--loss") if x] if loss else None
    charts = []
    for k in kinds:
        try:
            charts.append(loss_shapes(k, losses=names, lo=lo, hi=hi))
        except LossLabError:
            if kind is not ShapeKind.all or (k == kinds[-1] and not charts):
                raise
    if plot is not None:
        path = plot_shapes(charts, plot, gradients=gradients)
    csv_rows = [
        (c.kind, name, float(x), float(v), float(g))
        for c in charts
        for name in c.values
        for x, v, g in zip(c.x, c.values[name], c.gradients[name], strict=True)
        if math.isfinite(v)
    ]

    def drawn() -> list[Any]:
        if plot is not None:
            return [f"wrote {path}"]
        out: list[Any] = []
        for c in charts:
            out += ["\n".join(text_chart(c)), ""]
            out += [f"  {name}: {note}" for name, note in c.notes.items()]
        return out

    render.emit(
        fmt.value,
        obj=[c.to_dict() for c in charts],
        csv_header=["kind", "loss", "x", "value", "gradient"],
        csv_rows=csv_rows,
        render=drawn,
    )


class ExplainKind(str, Enum):
    loss = "loss"
    optimizer = "optimizer"
    schedule = "schedule"


@app.command("explain")
@command
def explain_cmd(
    name: Annotated[str, typer.Argument(help="A loss, optimizer or schedule name.")],
    kind: Annotated[
        ExplainKind | None, Opt(help="Which registry, when a name is in several.")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """What a loss, optimizer or schedule is: formula, gradient or update rule, defaults,
    properties, the reference it equals, when to use it.

    Read from the registry entry and the code it runs (properties of a loss are measured on its
    functions), so it cannot drift from what `fit` does.
    """
    from losslab.views import render
    from losslab.views.explain import explain
    from losslab.hyper import shown as show_default

    entries = explain(name, kind.value if kind is not None else None)
    rows = [(e.kind, e.name, label, text) for e in entries for label, text in e.sections]

    def tables() -> list[Any]:
        out: list[Any] = []
        for e in entries:
            out.append(render.table(e.summary, ["", ""], [(k, v) for k, v in e.sections]))
            if e.parameters:
                out.append(
                    render.table(
                        "parameters",
                        ["flag", "default", "range", "meaning"],
                        [
                            (p["flag"], show_default(p["default"]), p["range"], p["help"])
                            for p in e.parameters
                        ],
                    )
                )
        return out

    render.emit(
        fmt.value,
        obj=[e.to_dict() for e in entries],
        csv_header=["kind", "name", "field", "value"],
        csv_rows=rows,
        render=tables,
    )


@app.command("gradcheck")
@command
def gradcheck_cmd(
    loss: Annotated[
        list[str] | None, Opt(help="Losses to check (LIST; default: every loss and model).")
    ] = None,
    model: Annotated[
        list[str] | None,
        Opt(
            help="Models to check, each with every loss it takes (LIST; networks also with "
            "every activation)."
        ),
    ] = None,
    tol: Annotated[float, Opt(help="Largest relative error that passes.")] = 1e-4,
    seed: Annotated[int, Opt(help="Seed of the sampled inputs and weights.")] = 0,
    fmt: FormatOpt = Format.table,
) -> None:
    """Analytic gradients against central finite differences, per loss and per model.

    For a loss, the gradient of the mean loss with respect to the model output; for a model
    (its layers included: an mlp 4-5-4-out, a cnn conv3,pool,conv2k2,flatten,dense4 on 6×6×2
    images), the gradient of the objective (with an l2 penalty) with respect to every parameter.
    The error is max |a − n| / max(|a|, |n|, 1e-4·max|g|); exit 1 when a pair exceeds --tol.
    """
    from losslab.views import render
    from losslab.views.gradcheck import gradcheck

    if not (tol > 0 and math.isfinite(tol)):
        raise LossLabError(f"--tol must be > 0, got {tol:g}")
    losses = [x for x in _split_list(loss, str, "--loss") if x] if loss else None
    models = [x for x in _split_list(model, str, "--model") if x] if model else None
    checks = gradcheck(losses, models, seed=seed, tol=tol)
    header = ["kind", "name", "checked", "entries", "max rel. error", "ok"]
    rows = [
        (c.kind, c.name, c.detail, c.entries, f"{c.max_error:.1e}", "ok" if c.ok else "FAIL")
        for c in checks
    ]
    failed = [c for c in checks if not c.ok]
    render.emit(
        fmt.value,
        obj=[c.to_dict() for c in checks],
        csv_header=header,
        csv_rows=rows,
        render=lambda: [
            render.table(
                f"Gradients vs central differences (h = 1e-6): {len(checks) - len(failed)} of "
                f"{len(checks)} within {tol:g}",
                header,
                rows,
            )
        ],
    )
    if failed:
        worst = max(failed, key=lambda c: c.max_error)
        _fail(
            render_escape(
                f"gradcheck: {len(failed)} of {len(checks)} failed; worst {worst.kind} "
                f"{worst.name} ({worst.detail}): {worst.max_error:.2e} > {tol:g}"
            )
        )
        raise typer.Exit(1)


@app.command("report")
@command
def report_cmd(
    result: Annotated[str, typer.Argument(help="A saved study or run directory under results/.")],
    out: Annotated[
        str | None, Opt("--out", "-o", help="The HTML file (default: RESULT/report.html).")
    ] = None,
) -> None:
    """Write one self-contained HTML page of a saved study or run: its table, figure
    (inline SVG), configuration, data fingerprint and versions; nothing loaded from the network."""
    from losslab.views.render import write
    from losslab.views.report import report

    path, warnings = report(result, out)
    for warning in warnings:
        _warn(warning)
    write(f"{path}\n")


# --------------------------------------------------------------------------- landscape


def _pair(text: str, flag: str, what: str) -> list[float]:
    """``"x,y"`` -> [x, y] (finite numbers), or a one-line error naming the flag."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 2 or not all(math.isfinite(v) for v in values):
        raise LossLabError(f"{flag} must be two numbers {what}, got {text!r}")
    return values


def _tune_grid(text: str) -> tuple[float, float, int]:
    parts = text.split(",")
    try:
        low, high, n = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3:
            raise ValueError
    except (ValueError, IndexError):
        raise LossLabError(f"--tune-grid must be LO,HI,N (e.g. 1e-5,1,16), got {text!r}") from None
    return low, high, n


# the `fit` options `landscape` takes on data (and refuses on a test function)
LANDSCAPE_FIT_OPTIONS = (
    "target", "features", "model", "loss", "batch_size", "hidden", "layers", "image",
    "activation", "init", "seed", "test_size", "standardize", "scale", "l1", "l2", "schedule",
    "schedule_unit", "warmup", "clip_norm", "missing", "categorical", "divergence_factor",
    "shuffle", "sep",
)  # fmt: skip


@app.command("landscape")
@command
@hyper_options
@schedule_options
@loss_options
def landscape_cmd(
    source: Annotated[
        str,
        typer.Argument(
            metavar="FUNCTION|DATA",
            help="A test function (rosenbrock, rastrigin, beale, himmelblau, quadratic), or a "
            "CSV file or bundled dataset to train on.",
        ),
    ],
    optimizer: Annotated[
        list[str] | None,
        Opt(
            help="Optimizers (comma-separated or repeated; 'all' = every registered one). "
            "Default: sgd, momentum, nesterov, adagrad, rmsprop, adam."
        ),
    ] = None,
    steps: Annotated[
        int | None,
        Opt(
            "--steps",
            "--epochs",
            help="Steps on a test function (default 200); epochs on data (default 100).",
        ),
    ] = None,
    start: Annotated[
        str | None, Opt(help="Start point x,y on a test function (default: the function's).")
    ] = None,
    condition: Annotated[
        float | None, Opt(help="Condition number κ of the quadratic ½(x² + κy²) (default 10).")
    ] = None,
    lr: Annotated[
        float | None, Opt(help="One learning rate for every optimizer (default: each one's own).")
    ] = None,
    tune: Annotated[
        bool,
        Opt(
            "--tune",
            help="Pick each optimizer's lr from --tune-grid by the lowest final value (diverged "
            "lrs are listed and marked).",
        ),
    ] = False,
    tune_grid: Annotated[
        str, Opt(help="LO,HI,N: the N log-spaced learning rates --tune tries.")
    ] = "1e-5,1,16",
    tol: Annotated[
        float,
        Opt(
            help="'steps to tol' counts to f − f* ≤ tol (f*: the minimum where known, else the "
            "best value any path reached)."
        ),
    ] = 1e-4,
    grid: Annotated[
        int | None,
        Opt(help="Grid points per axis of the map (default 201 on a function, 41 on data)."),
    ] = None,
    layout: Annotated[
        str,
        Opt(
            help="Test functions: all paths on one map (overlay), one panel per optimizer "
            "(panels), or auto (overlay up to 4 paths)."
        ),
    ] = "auto",
    directions: Annotated[
        str | None,
        Opt(
            help="Data: the plane's directions, pca (the paths' top two principal directions; "
            "default for linear models) or random (filter-normalised, Li et al. 2018; default "
            "for networks)."
        ),
    ] = None,
    plot: Annotated[
        str | None, Opt(help="Draw the map to this .png or .svg (needs losslab[plot]).")
    ] = None,
    target: Target = None,
    features: Features = None,
    model: Model = None,
    loss: Annotated[
        str | None, Opt(help="Loss (default: mse, bce or cross-entropy by model).")
    ] = None,
    batch_size: Annotated[
        str | None,
        Opt(help="Rows per step; 0 or 'full' = full batch (default: gd full, others 32)."),
    ] = None,
    hidden: Annotated[
        str | None, Opt(help="Widths of the hidden layers of --model mlp (default 128,64).")
    ] = None,
    layers: Annotated[str | None, Opt(help="Layers of --model cnn (as in `fit`).")] = None,
    image: Image = None,
    activation: Activation = None,
    init: Init = None,
    seed: Seed = 0,
    test_size: TestSize = 0.2,
    standardize: Standardize = True,
    scale: Scale = None,
    l1: L1 = 0.0,
    l2: L2 = 0.0,
    schedule: Schedule = "constant",
    schedule_unit: ScheduleUnit = None,
    warmup: Warmup = 0,
    clip_norm: ClipNorm = None,
    missing: MissingOpt = Missing.error,
    categorical: CategoricalOpt = Categorical.onehot,
    divergence_factor: DivergenceFactor = 1e4,
    shuffle: ShuffleOpt = Shuffle.epoch,
    sep: SepOpt = None,
    fmt: FormatOpt = Format.table,
    progress: ProgressOpt = Progress.auto,
    hyper: dict[str, Any] | None = None,
    schedule_params: dict[str, Any] | None = None,
    loss_args: dict[str, Any] | None = None,
) -> None:
    """Optimizer paths on a test function's contour map, or on a fit's loss landscape.

    On a test function every path is the registered update rule itself, one full-batch step at a
    time. On DATA each optimizer trains as `losslab fit` would, and the training objective is
    drawn on the plane through the exact optimum (or the best final point) spanned by the paths'
    top two principal directions (random filter-normalised ones for networks), with every path
    projected onto it and the 1-D interpolation from the initial to the final parameters.
    """
    from losslab.views import landscape as ls
    from losslab.data.read import DATASETS, resolve_path

    given = dict(locals())
    import inspect

    defaults = {p.name: p.default for p in inspect.signature(landscape_cmd).parameters.values()}
    fit_flags = {name: defaults[name] for name in LANDSCAPE_FIT_OPTIONS}
    if plot is not None:
        from losslab.views.landscape_plot import check_plot_name
        from losslab.views.plot import require_matplotlib

        check_plot_name(plot)
        require_matplotlib()
    names = _split_list(optimizer, str, "--optimizer") if optimizer else None
    tuned = _tune_grid(tune_grid) if tune else None
    if ls.is_function(source):
        for name, default in fit_flags.items():
            if given[name] != default:
                raise LossLabError(
                    f"--{name.replace('_', '-')} applies to data; {source} is a test function"
                )
        if directions is not None:
            raise LossLabError(f"--directions applies to data; {source} is a test function")
        land = ls.function_landscape(
            source,
            optimizers=names,
            start=_pair(start, "--start", "x,y") if start is not None else None,
            steps=ls.DEFAULT_STEPS if steps is None else steps,
            lr=lr,
            tune=tuned,
            condition=condition,
            hyper=hyper,
            grid=ls.FUNCTION_GRID if grid is None else grid,
            tol=tol,
        )
    else:
        path, _ = resolve_path(source)
        if not path.exists() and source not in DATASETS:
            raise ls.unknown_target(source, DATASETS.names())
        for flag, value in (("--start", start), ("--condition", condition)):
            if value is not None:
                raise LossLabError(f"{flag} applies to the test functions, not to data")
        if layout != "auto":
            raise LossLabError("--layout applies to the test functions' maps, not to data")
        from losslab.train.config import FitConfig

        settings = _hyper_settings(
            **{k: given[k] for k in fit_flags},
            hyper=hyper,
            schedule_params=schedule_params,
            loss_args=loss_args,
            lr=lr,
            tol=1e-4,
        )
        config = FitConfig.from_dict(
            {**settings, "data": source, "epochs": 100 if steps is None else steps}
        )
        with _progress("runs", progress) as bar:
            land = ls.data_landscape(
                config,
                names,
                tune=tuned,
                grid=ls.DATA_GRID if grid is None else grid,
                tol=tol,
                directions=directions,
                progress=bar,
            )
    failures: list[str] = []
    if plot is not None:
        from losslab.views.landscape_plot import plot_landscape

        drawn = _saved(lambda: plot_landscape(land, plot, layout=layout), failures)
        plot = None if drawn is None else str(drawn)
    _report_landscape(land, fmt.value, plot)
    _finish(failures)


def _report_landscape(land: Any, fmt: str, plot: str | None) -> None:
    from losslab.views import render

    rows = land.rows()
    known = land.minimum is not None
    unit = "steps" if land.kind == "function" else "epochs"
    header = ["optimizer", "lr", "final f", *(["f − f*"] if known else []), f"{unit} to tol"]
    header.append("note")
    cells = []
    for row in rows:
        notes = []
        if row["diverged_at"] is not None:
            notes.append(f"diverged at {unit[:-1]} {row['diverged_at']}")
        if "tried" in row:
            notes.append(f"tuned over {row['tried']} lrs, {row['tried_diverged']} diverged")
        if "explained" in row:
            notes.append(f"plane holds {100 * row['explained']:.3g}% of its variance")
        cells.append(
            [
                row["optimizer"],
                row["lr"],
                row["final"],
                *([row["gap"]] if known else []),
                row["steps_to_tol"],
                "; ".join(notes),
            ]
        )

    def tables() -> list[Any]:
        out = [render.line(land.title), render.table(None, header, cells, digits=6)]
        target = "f*" if known else "the best value reached"
        out.append(
            render.line(f"{unit} to tol: first {unit[:-1]} with f ≤ {target} + {land.tol:g}", None)
        )
        if land.kind == "data":
            out.append(render.line(f"plane: spanned by {land.info['plane']['spanned_by']}", None))
        for skip in land.skipped:
            out.append(render.line(f"skipped {skip['optimizer']}: {skip['reason']}", None))
        if plot:
            out.append(render.line(f"plot: {plot}", None))
        return out

    obj = land.to_dict()
    if plot:
        obj["plot"] = plot
    csv_header = list(rows[0]) if rows else []
    render.emit(
        fmt,
        obj=obj,
        csv_header=csv_header,
        csv_rows=([r.get(k) for k in csv_header] for r in rows),
        render=tables,
    )


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except OSError as exc:  # --help or --version on a full disk or a closed pipe
        try:
            _output_failed(exc)
        except typer.Exit as done:
            sys.exit(done.exit_code)
