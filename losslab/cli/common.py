"""What every command shares: the lazy table of a module's commands, the one-line errors and exit
codes, progress on stderr, the option types and the flags declared by the registries."""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer

from losslab.errors import LossLabError, OutputError

F = TypeVar("F", bound=Callable[..., Any])


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
    _say("[bold yellow]warning:[/]", message)


def _note(message: str) -> None:
    _say("[bold]note:[/]", message)


def _say(label: str, message: str) -> None:
    """One line on stderr: ``label`` (markup) then ``message`` (as it is)."""
    from losslab.views.render import stderr_console

    try:
        stderr_console().print(f"{label} {render_escape(message)}", soft_wrap=True)
    except OSError:
        pass


def _warn_row_ids(prep: dict[str, Any]) -> None:
    """A feature that looks like a row id: one line on stderr (the record has it too)."""
    if prep.get("row_id"):
        from losslab.train.prepare import row_id_note

        _warn(row_id_note(prep["row_id"]))


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


class Commands:
    """The commands of one module, each turned into a click command only when it runs or shows
    its help (:meth:`build`, called by :class:`losslab.cli.group.LazyGroup`).

    ``declared`` names the decorators that give a command the flags a registry declares
    (:func:`hyper_options`, :func:`schedule_options`, :func:`loss_options`), in the order they
    would be stacked above it: they import their registry, so they run at build time, and
    `losslab --help` or another command's help never imports that registry.
    """

    def __init__(self) -> None:
        self.defined: dict[str, tuple[Callable[..., Any], tuple[Callable[[Any], Any], ...]]] = {}

    def command(
        self, name: str, *, declared: tuple[Callable[[Any], Any], ...] = ()
    ) -> Callable[[F], F]:
        def define(fn: F) -> F:
            self.defined[name] = (fn, declared)
            return fn

        return define

    def build(self, name: str, **settings: Any) -> Any:
        """The click command ``name`` (``settings``: typer's ``rich_markup_mode`` and
        ``pretty_exceptions_short``), its library errors one line each (:func:`command`)."""
        from typer.main import get_command_from_info
        from typer.models import CommandInfo

        from losslab.cli.helptext import HelpCommand, epilog

        fn, declared = self.defined[name]
        for add in reversed(declared):
            fn = add(fn)
        fn = plugin_option(fn)
        info = CommandInfo(name=name, cls=HelpCommand, callback=command(fn), epilog=epilog(name))
        return get_command_from_info(info, **settings)


# --------------------------------------------------------------------------- plugins

PluginOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--plugin",
        metavar="FILE.py",
        help="Load a plugin file first (repeatable): its losses, optimizers and schedules are "
        "checked, then usable here like the built-in ones (also LOSSLAB_PLUGINS and installed "
        "entry points; `losslab plugins` lists them).",
    ),
]


def load_plugins(files: list[str], *, entry_points: bool) -> int:
    """Load the plugins of LOSSLAB_PLUGINS, ``files`` and (``entry_points``) the installed
    packages; how many are new. A plugin that fails is one line and exit code 1."""
    from losslab.train import plugins

    before = len(plugins.LOADED)
    try:
        plugins.load_all(files, entry_points=entry_points)
    except LossLabError as exc:
        _fail(render_escape(str(exc)))
        raise typer.Exit(1) from None
    return len(plugins.LOADED) - before


def note_plugins(record: str) -> None:
    """One note on stderr per plugin the record names that is not loaded."""
    from losslab.study.records import plugins_needed

    for plugin in plugins_needed(record):
        path, digest = plugin.get("path"), str(plugin.get("sha256"))[:12]
        _note(f"{record} was made with the plugin {path} (sha256 {digest}…); pass --plugin {path}")


def plugin_option(fn: F) -> F:
    """Give a command the ``--plugin FILE.py`` option. The group loads the files named before
    it builds the command (:class:`losslab.cli.group.LazyGroup`), so that their declared flags
    exist; here they are loaded again (a no-op) for a command built some other way."""
    import inspect

    sig = inspect.signature(fn, eval_str=True)
    param = inspect.Parameter(
        "plugin", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=PluginOpt
    )

    @functools.wraps(fn)
    def wrapper(*args: Any, plugin: list[str] | None = None, **kwargs: Any) -> Any:
        if plugin:
            load_plugins(plugin, entry_points=False)
        return fn(*args, **kwargs)

    wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[*sig.parameters.values(), param]
    )
    wrapper.__annotations__ = {**fn.__annotations__, "plugin": PluginOpt, "return": None}
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


def _loss_names() -> str:
    from losslab.losses import LOSSES

    return ", ".join(LOSSES.names())


# --------------------------------------------------------------------------- eval


def declared_options(
    declared: dict[str, list[tuple[str, Any]]],
    into: str,
    aliases: dict[str, str] | None = None,
) -> Callable[[F], F]:
    """Give a command one option per declared setting, gathered into its parameter ``into``.

    ``declared`` maps each name to its declarations ``(owner, Hyper)`` (an optimizer's
    hyperparameters, a schedule's parameters): registering an owner adds its flags here, with
    their types and help (:func:`losslab.hyper.declared_help`). A flag not given is None, "the
    owner's default"; booleans are ``--x/--no-x``; a list of integers is one comma-separated
    string. ``aliases``: a second flag for some names (where it is free in the command).
    """
    import inspect

    from losslab.cli.helptext import DECLARED_PANELS
    from losslab.hyper import declared_help

    panel = DECLARED_PANELS[into]

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
                    bool | None,
                    typer.Option(
                        f"{flag}/--no-{flag[2:]}", help=help_of(name), rich_help_panel=panel
                    ),
                ]
            elif h.kind in (str, tuple):
                annotation = Annotated[
                    str | None, typer.Option(flag, help=help_of(name), rich_help_panel=panel)
                ]
            else:
                flags = [flag, *([aliases[name]] if aliases and name in aliases else [])]
                annotation = Annotated[
                    h.kind | None,  # type: ignore[name-defined]
                    typer.Option(*flags, help=help_of(name), rich_help_panel=panel),
                ]
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


def eval_loss_options(fn: F) -> F:
    """:func:`loss_options` for a command without optimizer flags (`eval`), where Barron's
    shape ``--robust-alpha`` is also ``--alpha`` (in fit and compare, ``--alpha`` is RMSprop's
    and ASGD's)."""
    from losslab.losses import DECLARED

    return declared_options(DECLARED, "loss_args", {"robust_alpha": "--alpha"})(fn)


def schedule_options(fn: F) -> F:
    """One option per declared schedule parameter (:data:`losslab.optim.schedules.DECLARED`),
    gathered into the command's ``schedule_params``."""
    from losslab.optim.schedules import DECLARED

    return declared_options(DECLARED, "schedule_params")(fn)


# --------------------------------------------------------------------------- fit

Opt = typer.Option


# Options whose help lists a registry call these from the commands' annotations: typer
# evaluates those (strings, PEP 563) when it builds the command, so the registries are imported
# only by a command that shows them.


def optimizer_help() -> str:
    """The help of `--optimizer`: every optimizer with its default lr."""
    from losslab.nn.models import MODELS
    from losslab.optim.optimizers import OPTIMIZERS

    linear = dict(MODELS.get("linear").default_lrs)
    opts = ", ".join(
        f"{name} (lr {OPTIMIZERS.get(name).default_lr:g}"
        + (f"; linear regression {linear[name]:g}" if name in linear else "")
        + ")"
        for name in OPTIMIZERS.names()
    )
    return f"Optimizer and its default --lr: {opts}."


def schedule_help() -> str:
    """The help of `--schedule`: every schedule's name."""
    from losslab.optim.schedules import SCHEDULES

    return (
        f"Learning-rate schedule (torch.optim.lr_scheduler's; `losslab schedules` lists their "
        f"parameters): {', '.join(SCHEDULES.names())}."
    )


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
Exclude = Annotated[
    str | None,
    Opt(help="Comma-separated columns dropped from the features (a row id, a leak)."),
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
TargetScale = Annotated[
    str,
    Opt(
        help="Regression target scaling fitted on the training rows: none (default) or standard "
        "(the model fits (y − μ)/σ, as scikit-learn's TransformedTargetRegressor with a "
        "StandardScaler; losses are on that scale, R² and predictions are in the target's units)."
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
Threads = Annotated[
    int,
    Opt(
        "--threads",
        help="BLAS threads of the run's matrix products (default 1, as every run of "
        "`compare`: faster for minibatch products, unslowed by a busy core; 2 threads may "
        "change the last bits of large products).",
    ),
]
# every command that draws: the figure's resolution and size (losslab.views.figures checks them)
FIGURE_DPI = 150  # losslab.views.figures.DPI, not imported here: --help stays light (tested)
DpiOpt = Annotated[
    float, Opt("--dpi", help="Resolution of the figure in dots per inch (50 to 600; PNG pixels).")
]
SizeOpt = Annotated[
    str | None,
    Opt(
        "--size",
        metavar="WxH",
        help="Figure size in inches, e.g. 12x6.75 for a 16:9 slide (default: sized to its panels).",
    ),
]


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


def render_escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# progress on stderr: the same display for the CLI and the library forms (losslab.api)
def _progress(*args: Any, **kwargs: Any) -> Any:
    """Progress on stderr (:class:`losslab.views.render.StderrProgress`), imported when a
    command runs, not when the CLI starts."""
    from losslab.views.render import StderrProgress

    return StderrProgress(*args, **kwargs)


# --------------------------------------------------------------------------- compare


# LIST options: comma-separated values or the flag repeated; 'default' keeps the default
def _split_list(*args: Any, **kwargs: Any) -> Any:
    """A comma-separated or repeated list option (:func:`losslab.api.options.split_list`)."""
    from losslab.api.options import split_list

    return split_list(*args, **kwargs)


def _batch_size(text: str) -> int:
    return 0 if text.lower() == "full" else int(text)


ListOpt = Annotated[list[str] | None, Opt()]
