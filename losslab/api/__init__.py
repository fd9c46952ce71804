"""The library forms of the commands: ``losslab.fit``, ``evaluate``, ``compare``, ``lr_find``,
``landscape``, and ``load`` and ``predict`` for saved runs.

Each takes its command's options by the same names (the long flag with ``_``) and the same values
(``progress="lines"``, ``batch_size="full"``, ``hidden="128,64"``, a list or ``"a,b"`` for a
LIST option), checked as :mod:`losslab.api.options` says, and returns the result the command
renders (``to_dict()`` is its JSON, ``to_frame()`` its table, ``_repr_html_()`` its table and
figure in a notebook). Nothing is saved unless asked (``save=True``). This package sits above
every layer: it is the one place, besides the CLI, that joins training with records and views, and
it registers the views' notebook renderers for the results of the lower layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from losslab.api.options import (
    fit_settings,
    loss_settings,
    progress_display,
    split_list,
    takes_options,
    value_of,
)
from losslab.errors import ConfigError, DataError, LossLabError

if TYPE_CHECKING:  # pragma: no cover
    from losslab.study.evaluate import EvalResult
    from losslab.study.lrfind import LRFindResult
    from losslab.study.summary import Study
    from losslab.train.loop import FitResult
    from losslab.views.landscape import Landscape

# the `fit` settings `landscape` takes on data (and refuses on a test function)
LANDSCAPE_FIT_OPTIONS = (
    "target", "features", "exclude", "model", "loss", "batch_size", "hidden", "layers", "image",
    "activation", "init", "seed", "test_size", "standardize", "scale",
    "target_scale", "l1", "l2", "schedule",
    "schedule_unit", "warmup", "clip_norm", "missing", "categorical", "divergence_factor",
    "shuffle", "sep", "embed_dim", "mining", "temperature", "swap",
)  # fmt: skip


INTERRUPTED = (
    "interrupted: the runs under way stop after their current batch (Ctrl-C again to stop now)"
)


def _install_renderers() -> None:
    from losslab.registry import HTML_RENDERERS
    from losslab.views.notebook import RENDERERS

    HTML_RENDERERS.update(RENDERERS)


_install_renderers()


def _saving(save: bool, no_save: bool | None) -> bool:
    """``save=True`` or, as the command line says it, ``no_save=False``."""
    if save and no_save:
        raise ConfigError("save=True and no_save=True contradict each other")
    return save or no_save is False


def _check_plot(plot: str | None, dpi: float | None, size: Any) -> tuple[float, Any]:
    """(dpi, size in inches) of the figure to draw (dpi None: the default 150), checked before
    any work."""
    from losslab.views.figures import DPI, check_figure

    _, dpi, inches = check_figure(plot, DPI if dpi is None else dpi, size)
    return dpi, inches


@takes_options(fit_settings)
def fit(
    data: Any = None,
    *,
    save: bool = False,
    no_save: bool | None = None,
    out: str | None = None,
    stream: bool = False,
    chunk_rows: int | None = None,
    plot: str | None = None,
    dpi: float | None = None,
    size: str | None = None,
    progress: Any = None,
    threads: int = 1,
    **settings: Any,
) -> FitResult:
    """Train a model as `losslab fit` does: ``data`` is a path, a bundled name or a DataFrame;
    ``settings`` are its options (``optimizer="nesterov"``, ``epochs=50``, ``batch_size="full"``
    …); ``save=True`` (or ``no_save=False``) writes the run record under ``out`` (default
    results/); ``stream=True`` reads ``data`` in chunks as ``fit --stream``; ``progress``:
    ``"auto"``, ``"bar"``, ``"lines"`` or ``"none"`` on stderr, or a callable ``(epoch, epochs,
    train_loss)``; ``plot`` draws the run's curves to that file (at ``dpi``, ``size`` "WxH"
    inches); ``threads``: the run's BLAS threads (as ``fit --threads``). Returns a
    :class:`~losslab.train.loop.FitResult`."""
    save = _saving(save, no_save)
    if chunk_rows is not None and not stream:
        raise ConfigError(f"chunk_rows={chunk_rows} needs stream=True")
    dpi, inches = _check_plot(plot, dpi, size)
    from losslab.train import blas

    with blas.runs_with(threads), blas.limited(threads), progress_display(progress, "epoch") as bar:
        if stream:
            from losslab.train.stream import fit as run_stream

            result = run_stream(data, chunk_rows=chunk_rows, progress=bar, **settings)
        else:
            from losslab.train.loop import fit as run

            result = run(data, progress=bar, **settings)
        used = blas.record()
    if save:
        from losslab.study.records import save_fit

        result.record = str(save_fit(result, out, blas_used=used))
    if plot is not None:
        from losslab.views.plot import plot_fit

        plot_fit(result, plot, dpi=dpi, size=inches)
    return result


@takes_options(loss_settings)
def evaluate(
    data: Any,
    loss: Any = ("all",),
    *,
    target: Any = None,
    pred: Any = None,
    logits: bool = False,
    model: Any = None,
    weight_column: str | None = None,
    class_weight: str | None = None,
    bins: int | None = None,
    sep: str | None = None,
    anchor: Any = None,
    positive: Any = None,
    negative: Any = None,
    swap: bool = False,
    **params: Any,
) -> EvalResult | dict[str, Any]:
    """Losses of prediction columns against target columns, as `losslab eval` computes them:
    ``data`` is a path, a bundled name or a DataFrame; ``loss`` one name or a list (``"all"``:
    every loss that applies); ``target``/``pred`` a column or a list; ``model`` scores a saved
    run (its directory, model.json or a FitResult) on ``data`` instead; ``params`` the losses'
    parameters (``delta=0.5``); ``bins`` the calibration's bins (probability columns).
    ``loss="triplet"`` with ``anchor``, ``positive`` and ``negative`` (each a column or a list
    of the embedding's columns; ``swap`` as torch's) is the triplet loss of those rows, as a
    dict (value, active share, rows)."""
    from losslab.train.prepare import table_of

    losses = [loss] if isinstance(loss, str) else list(loss or ["all"])
    if losses == ["triplet"] or any(v is not None for v in (anchor, positive, negative)):
        from losslab.study.embedding_eval import triplet_columns

        if losses != ["triplet"] or anchor is None or positive is None or negative is None:
            raise ConfigError("anchor, positive and negative go together, with loss='triplet'")
        unknown = sorted(set(params) - {"margin"})
        if unknown:
            raise ConfigError(f"{unknown[0]!r} is not used by the triplet loss")
        return triplet_columns(data, anchor, positive, negative,
                               margin=params.get("margin", 1.0), swap=swap, sep=sep)  # fmt: skip
    targets = [target] if isinstance(target, str) else list(target or [])
    preds = [pred] if isinstance(pred, str) else list(pred or [])
    if model is not None:
        from losslab.study.predict import evaluate_model

        if bins is not None:
            raise ConfigError(BINS_WITH_MODEL)
        return evaluate_model(
            _saved_model(model),
            table_of(data, sep=sep),
            losses=losses,
            target=targets,
            params=params,
            weight_column=weight_column,
            class_weight=class_weight,
        )
    from losslab.study.evaluate import evaluate as run

    return run(
        table_of(data, sep=sep),
        losses,
        target=targets,
        pred=preds,
        logits=logits,
        params=params,
        weight_column=weight_column,
        class_weight=class_weight,
        bins=bins,
    )


BINS_WITH_MODEL = "--bins applies to probability columns, not to a saved model's scores (--model)"


def _grid_values(name: str, value: Any, kind: Any) -> list[Any]:
    return split_list(value, lambda v: value_of(name, v, kind), name)


@takes_options(fit_settings)
def compare(
    data: Any = None,
    *,
    optimizer: Any = None,
    lr: Any = None,
    loss: Any = None,
    batch_size: Any = None,
    hidden: Any = None,
    layers: Any = None,
    seeds: int = 3,
    jobs: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    target_loss: float | None = None,
    plot: str | None = None,
    dpi: float | None = None,
    size: str | None = None,
    save: bool = False,
    no_save: bool | None = None,
    out: str | None = None,
    progress: Any = None,
    tune: str | None = None,
    select: str = "val",
    seed: int = 0,
    stats: bool | None = None,
    profile_by: str = "epochs",
    more_data: Any = None,
    config: str | None = None,
    save_config: str | None = None,
    resume: str | None = None,
    cache: str | None = None,
    no_cache: bool = False,
    allow_changed_data: bool = False,
    store: Any = None,
    **settings: Any,
) -> Study:
    """A study as `losslab compare` runs it: the grid options (``optimizer``, ``lr``, ``loss``,
    ``batch_size``) take one value, a list or comma-separated text (``"default"``: each
    optimizer's own); ``hidden`` one architecture (``"128,64"``, ``[128, 64]``) or a list of
    them, ``layers`` one cnn stack or a list; every other keyword is a `fit` setting for all runs.
    ``plot`` also draws the figure to that file (at ``dpi``, ``size`` "WxH" inches); ``save=True``
    writes the study under ``out``. ``tune`` (``"default"``, ``"random:20"``, ``"grid:5"``)
    tunes each optimizer first on seed ``seed``, chosen by ``select`` (``"val"``: a validation
    split of 0.2 unless ``val_size``; ``"train"``: the training objective); ``stats`` (default:
    with two seeds or more) adds the paired statistics against the best (``Study.config["pairs"]``).
    Several datasets (``"iris,digits"``, a list, or ``more_data``) run the same grid each and
    return a :class:`~losslab.study.profile.Studies` with their performance profile (by
    ``profile_by``: epochs or time to target; ``plot`` draws it). A
    :class:`~losslab.study.store.StudyStore` as ``store`` keeps each run as it finishes and
    takes the runs it already holds (``config``, ``save_config``, ``resume``, ``cache``,
    ``no_cache``, ``allow_changed_data``: as the command's flags; no cache unless ``cache``
    names one).
    Returns a :class:`~losslab.study.summary.Study`."""
    here = dict(locals())  # the call's keywords, before any other name is bound here
    from losslab.api.survive import store_for, with_study_file
    from losslab.study.config import STUDY_TOML

    if config is not None or (resume is not None and store is None):
        from inspect import signature
        from pathlib import Path

        source = Path(resume) / STUDY_TOML if resume is not None else Path(str(config))
        if resume is not None:
            from losslab.study.store import read_meta

            read_meta(Path(resume))
        known = set(signature(compare).parameters) | set(fit_settings())
        merged = with_study_file(compare, here, known, source)
        if resume is not None:
            merged["store"] = store_for({**merged, "resume": resume}, True)
            merged["save"] = True
        return compare(**merged)
    from losslab.study.compare import compare as run
    from losslab.study.compare import save_study
    from losslab.study.grid import DEFAULT_DATA, DEFAULT_L2, DEFAULT_OPTIMIZERS, Grid
    from losslab.train.config import FitConfig, parse_hidden

    save = _saving(save, no_save)
    if settings.get("l2") is None:  # the bare study has a finite optimum: l2 = 0.01
        settings["l2"] = DEFAULT_L2 if data is None else 0.0
    if hidden is None:
        hiddens: list[list[int] | None] = [None]
    elif isinstance(hidden, str) or all(isinstance(h, int) for h in hidden):
        hiddens = [parse_hidden(hidden)]
    else:
        hiddens = [parse_hidden(h) for h in hidden]
    grid = Grid(
        optimizers=[v for v in _grid_values("optimizer", optimizer, str) if v]
        or list(DEFAULT_OPTIMIZERS),
        lrs=_grid_values("lr", lr, float),
        losses=_grid_values("loss", loss, str),
        batch_sizes=_grid_values("batch_size", batch_size, None),
        seeds=seeds,
        hiddens=hiddens,
        layers=[layers] if isinstance(layers, str) else list(layers) if layers else [None],
    )
    from losslab.study.tune import VAL_SIZE, parse_tune

    tuning = parse_tune(tune)
    if tuning.on and select == "val" and settings.get("val_size") is None:
        settings["val_size"] = VAL_SIZE
    from losslab.study.profile import split_data

    datasets = split_data([data, *more_data] if more_data else data)
    if more_data and data is None:
        datasets = datasets[1:]
    if len(datasets) > 1:  # one study each, and their performance profile
        return _several(datasets, settings, locals())
    if store is None:
        store = store_for(here, save)
    base = FitConfig.from_dict({**settings, "data": DEFAULT_DATA if data is None else data})
    dpi, inches = _check_plot(plot, dpi, size)
    with progress_display(progress, "runs") as bar:
        note = getattr(bar, "note", None)
        result = run(
            base,
            grid,
            jobs=jobs,
            target_loss=target_loss,
            progress=bar,
            on_interrupt=None if note is None else lambda: note(INTERRUPTED),
            executor=executor,
            scheduler=scheduler,
            tune=tuning,
            select=select,
            seed=seed,
            stats=stats,
            store=store,
        )
    if save:
        result.record = save_study(result, out, getattr(store, "directory", None))
    if plot is not None:
        from losslab.study.summary import optima
        from losslab.views.plot import plot_study
        from losslab.views.render import study_title

        plot_study(result.runs, result.curves, plot, optima=optima(result.reference),
                   title=study_title(result), dpi=dpi, size=inches)  # fmt: skip
    return result


def _several(datasets: list[Any], settings: dict[str, Any], given: dict[str, Any]) -> Any:
    """`compare` of several datasets (``given``: compare's arguments): the same grid on each,
    checked to be one kind of task first; ``plot`` draws the performance profile."""
    from losslab.study.profile import Studies, check_one_task, profile_of
    from losslab.train.config import FitConfig
    from losslab.train.loop import load_problem, metric_name

    by = given["profile_by"]
    if by not in ("epochs", "time"):
        raise ConfigError(f"--profile-by must be epochs or time, got {by!r}")
    metrics = [
        metric_name(load_problem(FitConfig.from_dict({**settings, "data": d}))) for d in datasets
    ]
    check_one_task([str(d) for d in datasets], metrics)
    keep = ("optimizer", "lr", "loss", "batch_size", "hidden", "layers", "seeds", "jobs",
            "executor", "scheduler", "target_loss", "save", "out", "progress", "tune", "select",
            "seed", "stats", "cache", "no_cache")  # fmt: skip
    if given["save_config"] is not None:  # one file for the whole study, its data a list
        from losslab.api.survive import store_for

        store_for({**given["here"], "cache": None, "no_cache": True}, False)
    args = {k: given[k] for k in keep}
    args["no_save"] = None
    studies = [compare(d, **args, **settings) for d in datasets]
    profile, ratios = profile_of(studies, by)
    result = Studies(studies, profile, ratios, by)
    if given["plot"] is not None:
        from losslab.views.profile_plot import plot_profile

        dpi, inches = _check_plot(given["plot"], given["dpi"], given["size"])
        plot_profile(result, given["plot"], dpi=dpi, size=inches)
    return result


@takes_options(fit_settings)
def lr_find(
    data: Any = None,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    plot: str | None = None,
    dpi: float | None = None,
    size: str | None = None,
    **settings: Any,
) -> LRFindResult:
    """Smith's lr range test as `losslab lr-find` runs it (``steps`` minibatch steps, the lr
    swept from ``start_lr`` to ``end_lr``), with `fit` settings; ``plot`` draws the curve to that
    file. Returns a :class:`~losslab.study.lrfind.LRFindResult` (``suggestions``)."""
    from losslab.study.lrfind import check_sweep
    from losslab.study.lrfind import lr_find as run

    check_sweep(start_lr, end_lr, steps)
    dpi, inches = _check_plot(plot, dpi, size)
    result = run(data, start_lr=start_lr, end_lr=end_lr, steps=steps, **settings)
    if plot is not None:
        from losslab.views.lr_find_plot import plot_lr_find
        from losslab.views.render import lr_find_title

        plot_lr_find(result, plot, title=lr_find_title(result), dpi=dpi, size=inches)
    return result


def _landscape_settings() -> dict[str, Any]:
    from losslab.losses import DECLARED as LOSS
    from losslab.optim.optimizers import DECLARED as OPTIMIZER
    from losslab.optim.schedules import DECLARED as SCHEDULE

    every = fit_settings()
    names = [*LANDSCAPE_FIT_OPTIONS, *OPTIMIZER, *SCHEDULE, *LOSS]
    return {name: every[name] for name in names}


def _pair(text: Any, flag: str, what: str) -> list[float]:
    """``"x,y"`` (or two numbers) -> [x, y] (finite), or a one-line error naming the flag."""
    import math

    try:
        parts = text.split(",") if isinstance(text, str) else list(text)
        values = [float(part) for part in parts]
    except (TypeError, ValueError):
        values = []
    if len(values) != 2 or not all(math.isfinite(v) for v in values):
        raise LossLabError(f"{flag} must be two numbers {what}, got {text!r}")
    return values


def _tune_grid(text: Any) -> tuple[float, float, int]:
    """``"LO,HI,N"`` (or three values) -> (lo, hi, n)."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        low, high, n = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3:
            raise ValueError
    except (ValueError, IndexError, TypeError):
        raise LossLabError(f"--tune-grid must be LO,HI,N (e.g. 1e-5,1,16), got {text!r}") from None
    return low, high, n


@takes_options(_landscape_settings)
def landscape(
    source: Any,
    *,
    optimizer: Any = None,
    steps: int | None = None,
    epochs: int | None = None,
    start: Any = None,
    condition: float | None = None,
    lr: float | None = None,
    tune: bool = False,
    tune_grid: Any = "1e-5,1,16",
    tol: float = 1e-4,
    grid: int | None = None,
    layout: str = "auto",
    directions: str | None = None,
    plot: str | None = None,
    dpi: float | None = None,
    size: str | None = None,
    html: Any = None,
    noise: Any = None,
    progress: Any = None,
    **settings: Any,
) -> Landscape:
    """Optimizer paths as `losslab landscape` draws them: on a test function (``source``:
    rosenbrock, rastrigin, beale, himmelblau, quadratic) ``steps`` full-batch steps from
    ``start`` ("x,y"), or on data (a path, bundled name or DataFrame) ``steps`` (or ``epochs``)
    epochs of `fit` with ``settings``, on the plane of ``directions``. ``optimizer``: a list,
    comma-separated text or "all"; ``tune=True`` picks each lr from ``tune_grid`` ("LO,HI,N");
    ``plot`` draws the map to that file; ``html`` writes the interactive page there, on data
    with a noise control where ``noise`` lists batch sizes ("8,64,full": the map and its paths
    at the first, as `--batch-size 8,64,full --html FILE`). Returns a
    :class:`~losslab.views.landscape.Landscape`."""
    from losslab.views import functions2d
    from losslab.views import landscape as ls

    noise = _html_noise(html, noise, settings)
    if epochs is not None:
        if steps is not None and steps != epochs:
            raise ConfigError(f"steps={steps} and epochs={epochs}: give one (the same option)")
        steps = epochs
    dpi, inches = _check_plot(plot, dpi, size)
    from losslab.views.landscape_plot import LAYOUTS

    if layout not in LAYOUTS:  # before any path is computed, as every figure option
        raise ConfigError(f"--layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if layout != "auto" and plot is None:
        raise ConfigError(f"--layout {layout} applies to a figure: add --plot FILE")
    names = split_list(optimizer, str, "--optimizer") if optimizer else None
    tuned = _tune_grid(tune_grid) if tune else None
    from losslab.optim.optimizers import DECLARED

    given = {k: v for k, v in settings.items() if v is not None}
    hyper = {k: v for k, v in given.items() if k in DECLARED}  # a test function takes these
    if isinstance(source, str) and functions2d.is_function(source):
        for name in given:
            if name in LANDSCAPE_FIT_OPTIONS:
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
        if isinstance(source, str):
            from losslab.data.read import DATASETS, resolve_path

            path, _ = resolve_path(source)
            if not path.exists() and source not in DATASETS:
                raise functions2d.unknown_target(source, DATASETS.names())
        for flag, value in (("--start", start), ("--condition", condition)):
            if value is not None:
                raise LossLabError(f"{flag} applies to the test functions, not to data")
        if layout != "auto":
            raise LossLabError("--layout applies to the test functions' maps, not to data")
        from losslab.train.config import FitConfig

        config = FitConfig.from_dict(
            {**given, "lr": lr, "data": source, "epochs": 100 if steps is None else steps}
        )
        with progress_display(progress, "runs") as bar:
            land = ls.data_landscape(
                config,
                names,
                tune=tuned,
                grid=ls.DATA_GRID if grid is None else grid,
                tol=tol,
                directions=directions,
                progress=bar,
            )
    if plot is not None:
        from losslab.views.landscape_plot import plot_landscape

        plot_landscape(land, plot, layout=layout, dpi=dpi, size=inches)
    if html is not None:
        from pathlib import Path

        from losslab.views.interactive_landscape import html_landscape
        from losslab.views.report import write_text_atomic

        write_text_atomic(Path(html), html_landscape(land, noise=noise))
    return land


def _html_noise(html: Any, noise: Any, settings: dict[str, Any]) -> list[int] | None:
    """Before any work: the page's name and plotly checked, and the batch sizes of its noise
    control (the map is drawn at the first)."""
    if html is None:
        if noise is not None:
            raise ConfigError("noise (batch sizes) applies to an interactive page: add html")
        return None
    from losslab.views.interactive import check_html_name, require_plotly

    check_html_name(html)
    require_plotly()
    if noise is None:
        return None
    from losslab.views.interactive_landscape import parse_batch_sizes

    text = noise if isinstance(noise, str) else ",".join(str(b) for b in noise)
    sizes = parse_batch_sizes(text)
    if settings.get("batch_size") not in (None, sizes[0]):
        raise ConfigError(
            f"batch_size {settings['batch_size']} is not the first of noise {text!r}: the map "
            "is drawn at the first"
        )
    settings["batch_size"] = sizes[0]
    return sizes


def interactive(result: Any, path: Any = None) -> Any:
    """The interactive page (needs ``losslab[interactive]``) of a Study (``compare``, ``load``)
    or a Landscape (``landscape``): shown in a notebook cell (a sandboxed frame), written to
    ``path`` (.html) when given, as ``losslab report --interactive`` and ``landscape --html``
    write them."""
    from pathlib import Path

    from losslab.views.interactive import Page, check_html_name, require_plotly

    if path is not None:
        check_html_name(path, "path")
    require_plotly()
    kind = type(result).__name__
    if kind == "Study":
        from losslab.views.interactive import study_page
        from losslab.views.plot import study_drawable
        from losslab.views.report import study_results

        page = Page(study_page(study_drawable(result), results_html=study_results(result)[1]))
    elif kind == "Landscape":
        from losslab.views.interactive_landscape import html_landscape

        page = Page(html_landscape(result))
    else:
        raise ConfigError(f"no interactive page for a {kind}: give a Study or a Landscape")
    if path is not None:
        from losslab.views.report import write_text_atomic

        write_text_atomic(Path(path), page.html)
    return page


def load(record: Any) -> FitResult | Study:
    """A saved run (a :class:`~losslab.train.loop.FitResult` read from its record: settings,
    history, metrics and model) or study (a :class:`~losslab.study.summary.Study`), from its
    directory under results/; every file is validated on load."""
    from losslab.study.records import load_run, record_kind

    if record_kind(record) == "study":
        from losslab.study.compare import load_study

        return load_study(record)
    return load_run(record)


def _saved_model(run: Any) -> Any:
    """The model of ``run``: a run directory or model.json, or a FitResult (fresh or loaded)."""
    from losslab.study.predict import load_model, model_from_dict
    from losslab.train.loop import FitResult

    if isinstance(run, FitResult):
        return model_from_dict(run.model, run.record or "<FitResult>")
    if isinstance(run, str) or hasattr(run, "__fspath__"):
        return load_model(run)
    raise DataError(f"predict needs a run directory, a model.json or a FitResult, got {run!r}")


def predict(run: Any, data: Any, *, sep: str | None = None) -> Any:
    """Predictions of a saved (or fresh) run's model on ``data`` (a path, bundled name or
    DataFrame) as a pandas DataFrame: ``prediction`` (the label or value), then the class
    probabilities ``p_<class>`` (or the ``score``), the numbers `losslab predict` writes."""
    import pandas as pd

    from losslab.study.predict import predictions
    from losslab.train.prepare import table_of

    sep = value_of("sep", sep, str)
    names, columns = predictions(_saved_model(run), table_of(data, sep=sep))
    return pd.DataFrame(dict(zip(names, columns, strict=True)))
