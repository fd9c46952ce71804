"""`losslab fit`, `lr-find` and `predict`: one run, the lr range test, a saved model on data."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from losslab.cli.common import (
    FIGURE_DPI,
    L1,
    L2,
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
    Seed,
    SepOpt,
    Shuffle,
    ShuffleOpt,
    SizeOpt,
    Standardize,
    Target,
    TargetScale,
    TestData,
    TestSize,
    Threads,
    Tol,
    ValSize,
    Warmup,
    WeightColumn,
    _fail,
    _finish,
    _note,
    _progress,
    _saved,
    _warn_row_ids,
    hyper_options,
    loss_options,
    note_plugins,
    optimizer_help,
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
from losslab.errors import LossLabError

commands = Commands()


@commands.command("fit", declared=(hyper_options, schedule_options, loss_options))
def fit_cmd(
    data: Annotated[str, typer.Argument(help="CSV file or bundled dataset name.")],
    target: Target = None,
    features: Features = None,
    exclude: Exclude = None,
    model: Model = None,
    loss: Annotated[
        str | None, Opt(help="Loss (default: mse, bce or cross-entropy by model).")
    ] = None,
    optimizer: Annotated[str, Opt(help=optimizer_help())] = "adam",
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
    embed_dim: EmbedDim = None,
    mining: Mining = None,
    temperature: Temperature = None,
    swap: Swap = False,
    seed: Seed = 0,
    test_size: TestSize = 0.2,
    val_size: ValSize = None,
    test_data: TestData = None,
    standardize: Standardize = True,
    scale: Scale = None,
    target_scale: TargetScale = "none",
    l1: L1 = 0.0,
    l2: L2 = 0.0,
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
    threads: Threads = 1,
    plot: Annotated[
        str | None,
        Opt(
            help="Also draw the run's curves to this .png, .svg or .pdf (the figure `losslab "
            "plot RUN` draws; needs losslab[plot])."
        ),
    ] = None,
    dpi: DpiOpt = FIGURE_DPI,
    size: SizeOpt = None,
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
    """Train a linear, logistic, softmax, mlp or cnn model on a CSV; report loss and accuracy/R².

    The objective per batch is the mean loss + (l2/2)·‖W‖² + l1·‖W‖₁; updates follow torch.optim.
    A record (config.json, history.csv, metrics.json, model.json) goes to results/ unless --no-save.
    """
    settings = {
        **data_settings(
            sep=sep,
            target=target,
            features=features,
            exclude=exclude,
            weight_column=weight_column,
            seed=seed,
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
            hidden=hidden,
            layers=layers,
            image=image,
            activation=activation,
            init=init,
            init_from=init_from,
            embed_dim=embed_dim,
        ),
        **loss_settings(
            loss=loss,
            loss_args=loss_args,
            class_weight=class_weight,
            l1=l1,
            l2=l2,
            mining=mining,
            temperature=temperature,
            swap=swap,
        ),
        **optimizer_settings(
            optimizer=optimizer,
            lr=lr,
            hyper=hyper,
            batch_size=batch_size,
            clip_norm=clip_norm,
            shuffle=shuffle,
            dtype=dtype,
        ),
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
    from losslab.study.records import save_fit
    from losslab.train.loop import fit

    if chunk_rows is not None and not stream:
        raise LossLabError(f"--chunk-rows {chunk_rows} needs --stream")
    from losslab.views.figures import check_figure

    _, dpi, inches = check_figure(plot, dpi, size)  # before any work, as every drawing command
    from losslab.train import blas

    # chosen, not inherited (BENCHMARKS section 13)
    with blas.runs_with(threads), blas.limited(threads), _progress("epoch", progress) as bar:
        if stream:
            from losslab.train.stream import fit as fit_stream

            result = fit_stream(data, chunk_rows=chunk_rows, progress=bar, **settings)
        else:
            result = fit(data, progress=bar, **settings)
        record_blas = blas.record()
    _warn_row_ids(result.data.get("preparation", {}))
    if lr is None:
        from losslab.train.prepare import target_note

        note = target_note(result.data.get("preparation", {}), result.config)
        if note:
            _note(note)
    failures: list[str] = []
    if not no_save:
        record = _saved(lambda: save_fit(result, out, blas_used=record_blas), failures)
        result.record = str(record) if record is not None else None
    if plot is not None:
        from losslab.views.plot import plot_fit

        drawn = _saved(lambda: plot_fit(result, plot, dpi=dpi, size=inches), failures)
        plot = None if drawn is None else plot
    _report_fit(result, fmt.value, plot)
    if result.message and result.status in ("completed", "early_stopped"):
        _note(result.message)  # an embedding loss's skipped batches
    if result.status == "diverged":
        failures.insert(0, result.message or "diverged")
    if result.status == "interrupted":
        done = "the record holds what was done" if result.record else "no record was saved"
        term = result.message == "stopped by SIGTERM"
        _fail(f"{'stopped by SIGTERM' if term else 'interrupted'} at epoch {result.epochs_run}; "
              f"{done}")  # fmt: skip
        for message in failures:
            _fail(render_escape(message))
        raise typer.Exit(143 if term else 130)
    _finish(failures)


def _report_fit(result: Any, fmt: str, plot: str | None = None) -> None:
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
        title = render.fit_title(result)
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
        if plot:
            out.append(render.line(f"plot: {plot}", None))
        return out

    csv_rows = [(k, None if isinstance(v, render.Undefined) else v) for k, v in rows]
    render.emit(
        fmt, obj=result.to_dict(), csv_header=["name", "value"], csv_rows=csv_rows, render=tables
    )


# --------------------------------------------------------------------------- lr-find

LR_FIND_ROWS = 25  # the table shows this many points, evenly spaced; json and csv show all


@commands.command("lr-find", declared=(hyper_options, loss_options))
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
        Opt(
            help="Also draw the curve and both suggestions to this .png, .svg or .pdf (needs "
            "losslab[plot])."
        ),
    ] = None,
    dpi: DpiOpt = FIGURE_DPI,
    size: SizeOpt = None,
    target: Target = None,
    features: Features = None,
    exclude: Exclude = None,
    model: Model = None,
    loss: Annotated[
        str | None, Opt(help="Loss (default: mse, bce or cross-entropy by model).")
    ] = None,
    optimizer: Annotated[str, Opt(help=optimizer_help())] = "adam",
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
    target_scale: TargetScale = "none",
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
    settings = {  # the lr, the epochs and the schedule are the sweep's
        **data_settings(
            sep=sep,
            target=target,
            features=features,
            exclude=exclude,
            seed=seed,
            test_size=test_size,
            val_size=val_size,
            standardize=standardize,
            scale=scale,
            target_scale=target_scale,
            missing=missing,
            categorical=categorical,
        ),
        **model_settings(
            model=model,
            hidden=hidden,
            layers=layers,
            image=image,
            activation=activation,
            init=init,
            init_from=init_from,
        ),
        **loss_settings(loss=loss, loss_args=loss_args, l1=l1, l2=l2),
        **optimizer_settings(
            optimizer=optimizer,
            hyper=hyper,
            batch_size=batch_size,
            clip_norm=clip_norm,
            shuffle=shuffle,
            dtype=dtype,
        ),
        **run_settings(divergence_factor=divergence_factor),
    }
    from losslab.study.lrfind import check_sweep, lr_find

    check_sweep(start_lr, end_lr, steps)
    from losslab.views.figures import check_figure

    _, dpi, inches = check_figure(plot, dpi, size)
    result = lr_find(data, start_lr=start_lr, end_lr=end_lr, steps=steps, **settings)
    from losslab.views.render import lr_find_title

    failures: list[str] = []
    title = lr_find_title(result)
    if plot is not None:
        from losslab.views.lr_find_plot import plot_lr_find

        drawn = _saved(
            lambda: plot_lr_find(result, plot, title=title, dpi=dpi, size=inches), failures
        )
        plot = None if drawn is None else plot
    _report_lr_find(result, fmt.value, title, plot)
    if result.interrupted:  # the sweep so far is reported; the exit says it was cut short
        term = result.interrupted == "SIGTERM"
        _fail(f"{'stopped by SIGTERM' if term else 'interrupted'} at step {len(result.lrs)} of "
              f"{result.steps}; the suggestions are from the steps done")  # fmt: skip
        for message in failures:
            _fail(render_escape(message))
        raise typer.Exit(143 if term else 130)
    _finish(failures)


def _report_lr_find(result: Any, fmt: str, title: str, plot: str | None) -> None:
    from losslab.study.lrfind import HEURISTIC
    from losslab.views import render

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
        cells = [(i, lr, loss, smooth, mark or "") for i, lr, loss, smooth, mark in shown]
        suggested = [
            (name, s["lr"], s["loss"], s["index"], s["rule"])
            if s is not None
            else (name, "—", None, None, "too few points for this rule")
            for name, s in result.suggestions.items()
        ]
        out = [
            render.line(title),
            render.table(
                None,
                ["suggestion", "lr", "smoothed loss", "step", "rule"],
                suggested,
                column_digits={"lr": 3},
            ),
            render.line(f"{HEURISTIC}.", None),
        ]
        sweep = f"{len(rows)} of {result.steps} steps, lr {result.start_lr:g} → {result.end_lr:g}"
        if result.stopped:
            sweep += f"; stopped early: {result.stopped}"
        out.append(render.line(f"sweep: {sweep}", None))
        out.append(render.table(None, header, cells, column_digits={"lr": 3}))
        if every > 1:
            out.append(render.line(f"every {every}th step shown; all in --format json|csv", None))
        if plot:
            out.append(render.line(f"plot: {plot}", None))
        return out

    render.emit(fmt, obj=result.to_dict(), csv_header=header, csv_rows=rows, render=tables)


@commands.command("predict")
def predict_cmd(
    model: Annotated[str, typer.Argument(help="Run directory or model.json.")],
    data: Annotated[str, typer.Argument(help="CSV file or bundled dataset name.")],
    sep: SepOpt = None,
) -> None:
    """Write predictions (and class probabilities) of a saved model as CSV on stdout."""
    from losslab.study.predict import predict_csv
    from losslab.views.render import write

    note_plugins(model)
    write(predict_csv(model, data, sep=sep))
