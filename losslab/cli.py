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
    from losslab.render import stderr_console

    try:
        stderr_console().print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True)
    except OSError:
        pass  # nowhere left to report to; the exit code still tells


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


@app.command("eval")
@command
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
    delta: Annotated[float | None, typer.Option(help="Huber δ (default 1.0).")] = None,
    quantile: Annotated[
        float | None, typer.Option(help="Quantile τ in (0, 1) (default 0.5).")
    ] = None,
    epsilon: Annotated[
        float | None, typer.Option(help="Epsilon-insensitive ε (default 0.1).")
    ] = None,
    gamma: Annotated[float | None, typer.Option(help="Focal γ (default 2).")] = None,
    margin: Annotated[
        float | None, typer.Option(help="Contrastive margin m (default 1.0).")
    ] = None,
    sep: SepOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Compute losses of prediction columns against target columns in a CSV.

    Probabilities are clipped to [eps, 1 - eps], eps = float64 machine epsilon, as scikit-learn
    does. Also reports accuracy (classification) or R² (regression).
    """
    params = {
        "delta": delta,
        "quantile": quantile,
        "epsilon": epsilon,
        "gamma": gamma,
        "margin": margin,
    }
    if model is not None:
        from losslab.predict import evaluate_model

        result = evaluate_model(
            model, data, losses=loss or ["all"], target=target or [], params=params, sep=sep
        )
    else:
        from losslab.evaluate import evaluate

        result = evaluate(
            data,
            loss or ["all"],
            target=target or [],
            pred=pred or [],
            logits=logits,
            params=params,
            sep=sep,
        )
    from losslab import render

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
            params = ", ".join(f"{k} = {v:g}" for k, v in result.params.items())
            out.append(render.line(f"parameters: {params}", None))
        return out

    render.emit(fmt.value, obj=obj, csv_header=["name", "value"], csv_rows=rows, render=tables)


# --------------------------------------------------------------------------- listings


@app.command("losses")
@command
def losses_cmd(fmt: FormatOpt = Format.table) -> None:
    """List every loss: name, task, inputs, formula and parameters."""
    from losslab import render
    from losslab.losses import LOSSES

    rows = []
    for name, loss in LOSSES.items():
        params = ", ".join(f"{k}={v:g}" for k, v in loss.params.items())
        aliases = ", ".join(LOSSES.aliases_of(name))
        logit = " (or logits)" if loss.supports_logits else ""
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
    from losslab import render
    from losslab.models import MODELS
    from losslab.optimizers import OPTIMIZERS

    linear = dict(MODELS.get("linear").default_lrs)
    if name is not None:
        spec = OPTIMIZERS.get(name)
        info = spec.to_dict()
        info["lr_linear"] = linear.get(spec.name, spec.default_lr)
        info["hyperparameters"] = [h.to_dict() for h in spec.hypers]
        header = ["hyperparameter", "flag", "default", "range", "meaning"]
        rows = [(h.name, h.flag, _shown(h.default), h.range_text(), h.help) for h in spec.hypers]
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


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


@app.command("datasets")
@command
def datasets_cmd(fmt: FormatOpt = Format.table) -> None:
    """List the bundled datasets: name, rows, features, target, task."""
    from losslab import render
    from losslab.data import DATASETS, dataset_shape

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
    from losslab.models import MODELS
    from losslab.optimizers import OPTIMIZERS
    from losslab.schedules import SCHEDULES

    linear = dict(MODELS.get("linear").default_lrs)
    opts = ", ".join(
        f"{name} (lr {OPTIMIZERS.get(name).default_lr:g}"
        + (f"; linear regression {linear[name]:g}" if name in linear else "")
        + ")"
        for name in OPTIMIZERS.names()
    )
    return {
        "optimizer": f"Optimizer and its default --lr: {opts}.",
        "schedule": f"Per-epoch lr schedule: {', '.join(SCHEDULES.names())}.",
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
Warmup = Annotated[int, Opt(help="Epochs of linear lr warm-up.")]
StepSize = Annotated[int, Opt(help="Epochs between decays (step schedule).")]
Decay = Annotated[float, Opt(help="Decay factor (step, exponential).")]
PowerT = Annotated[float, Opt(help="Exponent of inverse-scaling: lr/(epoch+1)^power_t.")]
MinLr = Annotated[float, Opt(help="Floor of the cosine schedule.")]
ClipNorm = Annotated[float | None, Opt(help="Clip the gradient's global L2 norm to this.")]
Patience = Annotated[
    int | None,
    Opt(
        help="Stop after N epochs without improvement of the validation loss (train loss with "
        "--val-size 0) and restore the best parameters; the test split is never monitored."
    ),
]
Tol = Annotated[float, Opt(help="Improvement that resets --patience.")]
Delta = Annotated[float | None, Opt(help="Huber δ (1.0).")]
Quantile = Annotated[float | None, Opt(help="Quantile τ (0.5).")]
Epsilon = Annotated[float | None, Opt(help="Epsilon-insensitive ε (0.1).")]
Gamma = Annotated[float | None, Opt(help="Focal γ (2).")]
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


def hyper_options(fn: F) -> F:
    """Give a command one option per declared optimizer hyperparameter, in place of ``**hyper``.

    The flags, their types and their help come from the optimizers' declarations
    (:data:`losslab.optimizers.DECLARED`): registering an optimizer adds its flags here. A flag
    not given is None, "the optimizer's default"; booleans are ``--x/--no-x``.
    """
    import inspect

    from losslab.optimizers import DECLARED, hyper_help

    sig = inspect.signature(fn, eval_str=True)
    params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    annotations = {p.name: p.annotation for p in params}
    for name, entries in DECLARED.items():
        h = entries[0][1]
        flag = "--" + name.replace("_", "-")
        if h.kind is bool:
            annotation: Any = Annotated[
                bool | None, Opt(f"{flag}/--no-{flag[2:]}", help=hyper_help(name))
            ]
        elif h.kind is str:
            annotation = Annotated[str | None, Opt(flag, help=hyper_help(name))]
        else:
            annotation = Annotated[h.kind | None, Opt(flag, help=hyper_help(name))]  # type: ignore[name-defined]
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
            )
        )
        annotations[name] = annotation
    names = tuple(DECLARED)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        hyper = {k: kwargs.pop(k) for k in names if k in kwargs}
        return fn(*args, **kwargs, **hyper)

    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**annotations, "return": None}
    return wrapper  # type: ignore[return-value]


def _hyper_settings(**values: Any) -> dict[str, Any]:
    """Typer values -> FitConfig fields (``hyper``: the optimizer's hyperparameters given)."""
    hyper = values.pop("hyper", None) or {}
    values = {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}
    values["hyper"] = {k: v for k, v in hyper.items() if v is not None}
    if values.get("features") is not None:
        values["features"] = [c.strip() for c in values["features"].split(",") if c.strip()]
    return values


@app.command("fit")
@command
@hyper_options
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
    step_size: StepSize = 10,
    decay: Decay = 0.5,
    power_t: PowerT = 0.5,
    min_lr: MinLr = 0.0,
    clip_norm: ClipNorm = None,
    patience: Patience = None,
    tol: Tol = 1e-4,
    missing: MissingOpt = Missing.error,
    categorical: CategoricalOpt = Categorical.onehot,
    divergence_factor: DivergenceFactor = 1e4,
    shuffle: ShuffleOpt = Shuffle.epoch,
    dtype: DtypeOpt = Dtype.float64,
    delta: Delta = None,
    quantile: Quantile = None,
    epsilon: Epsilon = None,
    gamma: Gamma = None,
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
    **hyper: Any,
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
    from losslab.records import save_fit
    from losslab.training import fit

    if chunk_rows is not None and not stream:
        raise LossLabError(f"--chunk-rows {chunk_rows} needs --stream")
    with _progress("epoch", progress) as bar:
        if stream:
            from losslab.stream import fit as fit_stream

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
        from losslab.render import stderr_console

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
    from losslab import render

    train, test = result.metrics["train"], result.metrics["test"]
    val = result.metrics.get("val")
    key = "accuracy" if "accuracy" in train else "r2"

    def metric(value: float | None) -> Any:
        # a finished run has an R² unless its target is constant (evaluate.r2_score)
        return (
            render.Undefined("constant target")
            if value is None and train["loss"] is not None
            else value
        )

    rows = [
        ("status", result.status),
        ("epochs run", result.epochs_run),
        ("train loss", train["loss"]),
        (f"train {key}", metric(train[key])),
    ]
    if val is not None:
        rows += [("val loss", val["loss"]), (f"val {key}", val[key])]
    if test is not None:
        rows += [("test loss", test["loss"]), (f"test {key}", metric(test[key]))]
    rows += [("seconds", result.seconds)]

    def tables() -> list[Any]:
        cfg = result.config
        title = (
            f"{result.data.get('source', '')} · {_architecture(cfg)} · {cfg['loss']} · "
            f"{cfg['optimizer']} lr {cfg['lr']:g} · batch {cfg['batch_size'] or 'full'} · "
            f"seed {cfg['seed']}"
        )
        curve = render.sparkline([h["train_loss"] for h in result.history])
        out = [render.line(title)]
        from losslab.prepare import preparation_line

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


@app.command("predict")
@command
def predict_cmd(
    model: Annotated[str, typer.Argument(help="Run directory or model.json.")],
    data: Annotated[str, typer.Argument(help="CSV file or bundled dataset name.")],
    sep: SepOpt = None,
) -> None:
    """Write predictions (and class probabilities) of a saved model as CSV on stdout."""
    from losslab.predict import predict_csv
    from losslab.render import write

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
        str | None, Opt(help="Also draw the loss curves to this PNG (needs losslab[plot]).")
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
    step_size: StepSize = 10,
    decay: Decay = 0.5,
    power_t: PowerT = 0.5,
    min_lr: MinLr = 0.0,
    clip_norm: ClipNorm = None,
    patience: Patience = None,
    tol: Tol = 1e-4,
    missing: MissingOpt = Missing.error,
    categorical: CategoricalOpt = Categorical.onehot,
    divergence_factor: DivergenceFactor = 1e4,
    shuffle: ShuffleOpt = Shuffle.epoch,
    dtype: DtypeOpt = Dtype.float64,
    delta: Delta = None,
    quantile: Quantile = None,
    epsilon: Epsilon = None,
    gamma: Gamma = None,
    sep: SepOpt = None,
    fmt: FormatOpt = Format.table,
    progress: ProgressOpt = Progress.auto,
    out: OutDir = None,
    no_save: NoSave = False,
    **hyper: Any,
) -> None:
    """Compare optimizers × learning rates × losses × batch sizes over several seeds.

    Every run is exactly `losslab fit` with the same settings. The table aggregates the seeds
    (mean ± std), shows the gap to the exact optimum where the objective is smooth and convex
    (mse, bce, cross-entropy, with or without --l2), and saves config.json, runs.csv, curves.csv
    and summary.csv under results/ unless --no-save. A bare `losslab compare` runs a default study.
    """
    from losslab.compare import save_study, study
    from losslab.config import parse_hidden
    from losslab.training import FitConfig

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
        from losslab.plot import check_png_name, require_matplotlib

        check_png_name(plot)
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
            from losslab.plot import plot_study

            title = _study_title(result)
            drawn = _saved(lambda: plot_study(result.summary, plot, title=title), failures)
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


def _study_title(study: Any) -> str:
    cfg = study.config
    return f"{cfg['data']['source']} · {cfg['model']} · {len(study.runs)} runs"


NARROW_TABLE = 150  # below this many columns, the compare table keeps the essential columns


def _num(value: float, digits: int = 4, *, significant: bool = False) -> str:
    """Fixed decimals (or, ``significant``, that many significant digits) for ordinary
    magnitudes, scientific notation for tiny or huge ones: never a row of zeros, never forty
    digits."""
    if value == 0:
        return "0"
    if not 1e-3 <= abs(value) < 1e5:
        return f"{value:.{max(digits - 2, 1)}e}"
    if significant:
        digits = max(digits - 1 - math.floor(math.log10(abs(value))), 0)
    return f"{value:.{digits}f}"


def _report_study(study: Any, fmt: str, plot: str | None) -> None:
    from losslab import render

    metrics = study.metrics or [study.metric]
    ref = study.reference or {}

    # At 80 columns the table keeps what chooses between configurations; --format json|csv
    # keep everything.
    narrow = render.stdout_console().width < NARROW_TABLE

    def pm(row: dict[str, Any], name: str, digits: int = 4) -> str:
        mean, std = row[f"{name}_mean"], row[f"{name}_std"]
        if mean is None:
            return "—"
        if narrow:
            return _num(mean, digits, significant=True)
        return f"{_num(mean, digits)} ± {_num(std, digits)}"

    by_loss = ref.get("by_loss") or {}

    def gap(row: dict[str, Any]) -> str:
        objective = (by_loss.get(row["loss"]) or {}).get("objective")
        if objective is None or not math.isfinite(objective):
            return "n/a"
        mean = row["gap_mean"]
        return "—" if mean is None else "0" if mean == 0 else f"{mean:.2e}"

    from losslab.compare import ranked_by

    validated = ranked_by(study.runs) == "val_loss"
    networks = any(row.get("hidden") for row in study.summary)
    cells = []
    for row in study.summary:
        ett = row["epochs_to_target"]
        cells.append(
            {
                "hidden": row.get("hidden"),
                "layers": row.get("layers"),
                "optimizer": row["optimizer"],
                "lr": f"{row['lr']:g}",
                "loss": row["loss"],
                "batch": "full" if not row["batch_size"] else row["batch_size"],
                "train loss": pm(row, "train_loss"),
                "val loss": pm(row, "val_loss"),
                "test loss": pm(row, "test_loss"),
                "metric": next(
                    (pm(row, m, 3) for m in metrics if row[f"{m}_mean"] is not None), None
                )
                or ("undefined (constant target)" if row["diverged"] < row["seeds"] else "—"),
                "gap": gap(row),
                "epochs→target": "—"
                if ett is None
                else f"{ett} ({row['reached_target']}/{row['seeds'] - row['diverged']})",
                "time s": _num(row["seconds_mean"], 3),
                "diverged": f"{row['diverged']}/{row['seeds']}",
                "train curve": render.sparkline(row["curve"]),
            }
        )
    columns = list(cells[0]) if cells else []
    if not networks:
        columns.remove("hidden")
    if not any(row.get("layers") for row in study.summary):
        columns.remove("layers")
    if not validated:
        columns.remove("val loss")
    hidden_notes = []
    if narrow:
        columns = [c for c in columns if c not in ("time s", "train curve")]
        if len({row["loss"] for row in study.summary}) == 1:
            columns.remove("loss")
        if not any(row["diverged"] for row in study.summary):
            columns.remove("diverged")
            hidden_notes.append("no run diverged")
        for empty in ("gap", "epochs→target"):  # explained by the notes below
            if all(cell[empty] in ("n/a", "—") for cell in cells):
                columns.remove(empty)
        hidden_notes.append(
            "means over seeds; ± std, times, curves and losses per run in --format json|csv"
        )
    names = {"metric": " / ".join(metrics)}
    if narrow:
        names.update({"train loss": "train", "val loss": "val", "test loss": "test"})
        names.update({"epochs→target": "epochs→\ntarget", "diverged": "diverged"})
    header = [names.get(c, c) for c in columns]
    rows = [[cell[c] for c in columns] for cell in cells]

    def tables() -> list[Any]:
        notes = []
        for name, info in by_loss.items():
            label = f"{name}: " if len(by_loss) > 1 else ""
            per_seed = info.get("per_seed") or []
            if info.get("objective") is None or not math.isfinite(info["objective"]):
                reason = info.get("reason") or (
                    "no reference optimum"
                    if info.get("objective") is None
                    else "no finite reference optimum (the objective exceeds float64)"
                )
                notes.append(f"gap: {label}{reason}")
                continue
            where = "seed 0's training split" if len(per_seed) > 1 else "the training data"
            notes.append(
                f"gap = final objective − exact optimum: {label}{info['objective']:.10g} on "
                f"{where} ({info['method']}, {info['iterations']} iterations"
                + ("; each seed against its own split's optimum)" if len(per_seed) > 1 else ")")
            )
        if study.target_loss is not None:
            what = (
                "train objective within 1% of the optimum"
                if study.config.get("target_default")
                else f"train loss ≤ {study.target_loss:.6g}"
            )
            notes.append(f"epochs→target: median first epoch with {what} (seeds that reached it)")
        what = "validation" if validated else "training"
        notes.append(f"ranked by mean {what} loss within each loss (the test loss never chooses)")
        notes += [f"grid: {note}" for note in study.config.get("coincided") or []]
        if study.record:
            notes.append(f"saved: {study.record}")
        if plot:
            notes.append(f"plot: {plot}")
        if study.partial:
            notes.append("PARTIAL: interrupted before every run finished")
        notes += hidden_notes
        spread = "mean over seeds" if narrow else "mean ± std over seeds"
        seconds = f"{study.seconds:.{1 if study.seconds >= 0.1 else 3}f}"
        title = _study_title(study) + f" · {seconds} s · {spread}"
        if narrow and len({row["loss"] for row in study.summary}) == 1 and study.summary:
            title += f" · {study.summary[0]['loss']}"
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
        str | None, Opt("--output", "-o", help="PNG file (default: RESULT/curves.png).")
    ] = None,
) -> None:
    """Draw the loss curves of a saved study (or run) to a PNG."""
    from losslab.plot import plot_record
    from losslab.render import write

    path = plot_record(result, output)
    write(f"{path}\n")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except OSError as exc:  # --help or --version on a full disk or a closed pipe
        try:
            _output_failed(exc)
        except typer.Exit as done:
            sys.exit(done.exit_code)
