"""`losslab compare` and `losslab plot`: a study, and the figure of a saved study or run."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from losslab.cli.common import (
    FIGURE_DPI,
    L1,
    Activation,
    Categorical,
    CategoricalOpt,
    ClassWeight,
    ClipNorm,
    Commands,
    DivergenceFactor,
    DpiOpt,
    Dtype,
    DtypeOpt,
    Epochs,
    Exclude,
    Executor,
    Features,
    Format,
    FormatOpt,
    Image,
    Init,
    InitFrom,
    Missing,
    MissingOpt,
    Model,
    NoSave,
    Opt,
    OutDir,
    Patience,
    Progress,
    ProgressOpt,
    Scale,
    ScheduleUnit,
    SepOpt,
    Shuffle,
    ShuffleOpt,
    SizeOpt,
    Standardize,
    Target,
    TargetScale,
    TestData,
    TestSize,
    Tol,
    ValSize,
    Warmup,
    WeightColumn,
    _batch_size,
    _fail,
    _finish,
    _progress,
    _saved,
    _split_list,
    _warn_row_ids,
    hyper_options,
    loss_options,
    note_plugins,
    render_escape,
    schedule_help,
    schedule_options,
)
from losslab.cli.embedding import EmbedDim, Mining, Swap, Temperature
from losslab.cli.settings import (
    data_settings,
    loss_settings,
    model_settings,
    optimizer_settings,
    run_settings,
    schedule_settings,
)
from losslab.cli.survive import (
    AllowChangedData,
    Cache,
    NoCache,
    Resume,
    SaveConfig,
    StudyConfig,
    reuse_note,
    study_store,
)

commands = Commands()


@commands.command("compare", declared=(hyper_options, schedule_options, loss_options))
def compare_cmd(
    ctx: typer.Context,
    data: Annotated[
        str | None,
        typer.Argument(
            help="CSV file or bundled dataset name. Default: the study of breast-cancer with "
            "--l2 0.01 (so that the optimum is finite and every gap is a number)."
        ),
    ] = None,
    target: Target = None,
    features: Features = None,
    exclude: Exclude = None,
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
    dpi: DpiOpt = FIGURE_DPI,
    size: SizeOpt = None,
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
    embed_dim: EmbedDim = None,
    mining: Mining = None,
    temperature: Temperature = None,
    swap: Swap = False,
    test_size: TestSize = 0.2,
    val_size: ValSize = None,
    test_data: TestData = None,
    standardize: Standardize = True,
    scale: Scale = None,
    target_scale: TargetScale = "none",
    l1: L1 = 0.0,
    l2: Annotated[
        float | None, Opt(help="L2 penalty (l2/2)·‖W‖² (default 0; 0.01 in the bare study).")
    ] = None,
    schedule: Annotated[str, Opt(help=schedule_help())] = "constant",
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
    more_data: Annotated[
        list[str] | None,
        Opt(
            "--data",
            help="More datasets (repeat, or a comma list in DATA): the same grid on each, each "
            "with its table, and their performance profile (--plot draws it).",
        ),
    ] = None,
    tune: Annotated[
        str,
        Opt(
            "--tune",
            help="none (the grid as given), default (each optimizer at its declared settings), "
            "random:N (N settings per optimizer drawn from its search space) or grid:N (N values "
            "per tuned hyperparameter, at most 2); chosen on --seed, then run on every seed. "
            "`losslab optimizers NAME` shows the spaces; a flag given is fixed.",
        ),
    ] = "none",
    select: Annotated[
        str,
        Opt(
            "--select",
            help="What chooses among --tune's trials: val (validation loss; --val-size 0.2 "
            "unless given) or train (the training objective: a question of optimisation).",
        ),
    ] = "val",
    seed: Annotated[
        int,
        Opt(
            "--seed",
            help="Seed of --tune's trials and of the statistics' resamples and sign patterns.",
        ),
    ] = 0,
    stats: Annotated[
        bool | None,
        Opt(
            "--stats/--no-stats",
            help="Each configuration against the best, paired by seed (wins, mean difference "
            "with a bootstrap 95% interval, exact sign-flip p, Holm). Default: on with --seeds 2 "
            "or more.",
        ),
    ] = None,
    profile_by: Annotated[
        str,
        Opt(help="Time to target of the performance profile of several datasets: epochs or time."),
    ] = "epochs",
    config: StudyConfig = None,
    save_config: SaveConfig = None,
    resume: Resume = None,
    cache: Cache = None,
    no_cache: NoCache = False,
    allow_changed_data: AllowChangedData = False,
    hyper: dict[str, Any] | None = None,
    schedule_params: dict[str, Any] | None = None,
    loss_args: dict[str, Any] | None = None,
) -> None:
    """Compare optimizers × learning rates × losses × batch sizes over several seeds.

    Every run is exactly `losslab fit` with the same settings. The table aggregates the seeds
    (mean ± std), shows the gap to the exact optimum where the objective is smooth and convex
    (mse, bce, cross-entropy, with or without --l2), and saves config.json, runs.csv, curves.csv
    and summary.csv under results/ unless --no-save. A bare `losslab compare` runs a default study.
    Each run is kept as it finishes (the study's runs/ and the run cache); --resume DIR finishes
    a study that was stopped, and --config study.toml runs a study written as a file.
    """
    from losslab.api import compare
    from losslab.study.compare import save_study
    from losslab.study.summary import failures as run_failures
    from losslab.train.config import parse_hidden

    settings = {  # every run's (the grid's options below; the seeds are 0..--seeds-1)
        **data_settings(
            sep=sep,
            target=target,
            features=features,
            exclude=exclude,
            weight_column=weight_column,
            test_size=test_size,
            val_size=val_size,
            test_data=test_data,
            standardize=standardize,
            scale=scale,
            target_scale=target_scale,
            missing=missing,
            categorical=categorical,
        ),
        **model_settings(
            model=model,
            image=image,
            activation=activation,
            init=init,
            init_from=init_from,
            embed_dim=embed_dim,
        ),
        **loss_settings(
            loss_args=loss_args,
            class_weight=class_weight,
            l1=l1,
            l2=l2,
            mining=mining,
            temperature=temperature,
            swap=swap,
        ),
        **optimizer_settings(hyper=hyper, clip_norm=clip_norm, shuffle=shuffle, dtype=dtype),
        **schedule_settings(
            schedule=schedule,
            warmup=warmup,
            schedule_unit=schedule_unit,
            schedule_params=schedule_params,
        ),
        **run_settings(
            epochs=epochs, patience=patience, tol=tol, divergence_factor=divergence_factor
        ),
    }
    grid = {
        "optimizer": _split_list(optimizer, str, "--optimizer") if optimizer else None,
        "lr": _split_list(lr, float, "--lr"),
        "loss": _split_list(loss, str, "--loss"),
        "batch_size": _split_list(batch_size, _batch_size, "--batch-size"),
        "hidden": [parse_hidden(h) for h in hidden] if hidden else None,
        "layers": list(layers) if layers else None,
    }
    from losslab.views.figures import check_figure

    _, dpi, inches = check_figure(plot, dpi, size)
    datasets = ([data] if data is not None else []) + list(more_data or [])
    store = study_store(ctx, out, no_save, resume, cache, no_cache, allow_changed_data, save_config)
    several = _several(datasets)
    if several:  # each dataset's study keeps its own runs, in the same cache
        kept = {"cache": None if store is None or store.cache is None else str(store.cache)}
    else:
        kept = {"store": store}
    with _progress("runs", progress) as bar:  # its note tells of an interruption
        result = compare(
            data,
            more_data=more_data,
            **grid,
            seeds=seeds,
            jobs=jobs,
            executor=executor.value,
            scheduler=scheduler,
            target_loss=target_loss,
            progress=bar,
            tune=tune,
            select=select,
            seed=seed,
            stats=stats,
            profile_by=profile_by,
            **({"plot": plot, "dpi": dpi, "size": size} if several else {}),
            **kept,
            **settings,
        )
    if hasattr(result, "studies"):  # several datasets: each study, then the profile
        _report_several(result, fmt.value, no_save, out, plot)
        return
    _warn_row_ids(result.config["data"].get("preparation", {}))
    failures = run_failures(result.runs)  # each run's own, after the study's result
    with _ctrl_c_ignored(result.partial):  # once stopped, one more Ctrl-C must not lose the study
        if not no_save:
            directory = None if store is None else store.directory
            result.record = _saved(lambda: save_study(result, out, directory), failures)
        if plot is not None:
            from losslab.study.summary import optima
            from losslab.views.plot import plot_study
            from losslab.views.render import study_title

            drawn = _saved(
                lambda: plot_study(
                    result.runs,
                    result.curves,
                    plot,
                    optima=optima(result.reference),
                    title=study_title(result),
                    dpi=dpi,
                    size=inches,
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


def _several(datasets: list[str]) -> bool:
    """Several datasets, in DATA's comma list or --data."""
    from losslab.study.profile import split_data

    return len(split_data(datasets)) > 1


def _report_several(
    result: Any, fmt: str, no_save: bool, out: str | None, plot: str | None
) -> None:
    """Each dataset's table (and record), then the performance profile."""
    from losslab.study.compare import save_study
    from losslab.study.summary import failures as run_failures
    from losslab.views import render

    failures = [m for s in result.studies for m in run_failures(s.runs)]
    if not no_save:
        for study in result.studies:
            study.record = _saved(lambda study=study: save_study(study, out), failures)
    if fmt != "table":
        render.emit(fmt, obj=result.to_dict(), csv_header=render.PROFILE_HEADER,
                    csv_rows=render.profile_rows(result), render=lambda: [])  # fmt: skip
        _finish(failures)
        return
    for study in result.studies:
        _report_study(study, fmt, None)
    title, header, rows, notes = render.profile_table(result, plot)
    render.emit(fmt, obj=None, csv_header=header, csv_rows=rows,
                render=lambda: [render.line(title), render.table(None, header, rows),
                                *(render.line(n, None) for n in notes)])  # fmt: skip
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
        table = render.table(
            None, header, rows, highlight_row=0, compact=narrow, names=("optimizer", "loss"),
            optional=("ece", "brier", "vs best"),  # the first to go where the width is short
        )  # fmt: skip
        notes = [*reuse_note(study), *notes]
        return [render.line(title), table, *(render.line(n, None) for n in notes)]

    runs_header = list(study.runs[0].keys())
    render.emit(
        fmt,
        obj=study.to_dict(),
        csv_header=runs_header,
        csv_rows=([r[k] for k in runs_header] for r in study.runs),
        render=tables,
    )


@commands.command("plot")
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
    reliability: Annotated[
        bool,
        Opt(
            "--reliability",
            help="A run's reliability diagram instead (accuracy against confidence per bin, "
            "the bin counts below; default RESULT/reliability.png).",
        ),
    ] = False,
    dpi: DpiOpt = FIGURE_DPI,
    size: SizeOpt = None,
) -> None:
    """Draw the comparison figure of a saved study (or the curves of a run)."""
    from losslab.views.figures import check_figure
    from losslab.views.plot import plot_record
    from losslab.views.render import write

    note_plugins(result)
    _, dpi, inches = check_figure(output or "curves.png", dpi, size, "--out", drawing_now=True)
    if reliability:
        from losslab.views.reliability import plot_reliability

        write(f"{plot_reliability(result, output, dpi=dpi, size=inches)}\n")
        return
    path = plot_record(result, output, dpi=dpi, size=inches)
    write(f"{path}\n")
