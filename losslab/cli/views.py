"""`losslab shapes`, `explain`, `gradcheck`, `report` and `landscape`: looking at losses,
optimizers and saved results."""

from __future__ import annotations

import math
from enum import Enum
from typing import Annotated, Any

import typer

from losslab.cli.common import (
    FIGURE_DPI,
    L1,
    L2,
    Activation,
    Categorical,
    CategoricalOpt,
    ClipNorm,
    Commands,
    DivergenceFactor,
    DpiOpt,
    Exclude,
    Features,
    Format,
    FormatOpt,
    Image,
    Init,
    Missing,
    MissingOpt,
    Model,
    Opt,
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
    TestSize,
    Warmup,
    _fail,
    _finish,
    _saved,
    _split_list,
    _warn,
    hyper_options,
    loss_options,
    note_plugins,
    render_escape,
    schedule_help,
    schedule_options,
)
from losslab.cli.embedding import EmbedDim, Mining, Swap, Temperature
from losslab.errors import LossLabError

commands = Commands()


class ShapeFamily(str, Enum):
    robust = "robust"


class ShapeKind(str, Enum):
    all = "all"
    regression = "regression"
    positive = "positive"
    classification = "classification"


@commands.command("shapes")
def shapes_cmd(
    kind: Annotated[
        ShapeKind,
        Opt(
            help="Regression losses against the residual, losses of positive targets against "
            "the prediction, classification losses against the margin, or all three."
        ),
    ] = ShapeKind.all,
    loss: Annotated[list[str] | None, Opt(help="Only these losses (LIST).")] = None,
    family: Annotated[
        ShapeFamily | None,
        Opt(
            help="robust: the robust losses' ρ and influence ψ side by side, with Barron's "
            "α = 2, 1, 0, −2, −∞ (instead of --kind and --loss)."
        ),
    ] = None,
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
    dpi: DpiOpt = FIGURE_DPI,
    size: SizeOpt = None,
    html: Annotated[
        str | None,
        Opt(
            "--html",
            help="Write an interactive page (needs losslab[interactive]): each loss and its "
            "gradient, hover to read values, a slider per loss parameter.",
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Every loss on one chart: regression losses against the residual r = ŷ − y, classification
    losses against the margin m = t·s (scikit-learn's "convex loss functions" figure).

    Without --plot, a chart drawn in the terminal; --format json/csv gives the curves.
    """
    from losslab.views import render
    from losslab.views.figures import check_figure
    from losslab.views.shapes import KINDS, loss_shapes, plot_shapes, text_chart

    _, dpi, inches = check_figure(plot, dpi, size)
    if html is not None:
        from losslab.views.interactive import check_html_name, require_plotly

        check_html_name(html)
        require_plotly()
    kinds = KINDS if kind is ShapeKind.all else (kind.value,)
    names = [x for x in _split_list(loss, str, "--loss") if x] if loss else None
    charts = []
    if family is not None:
        from losslab.views.robust_shapes import plot_robust, robust_shapes

        if loss:
            raise typer.BadParameter("--family draws its own losses; drop --loss")
        charts.append(robust_shapes(lo=lo, hi=hi))
        kinds = ()
    for k in kinds:
        try:
            charts.append(loss_shapes(k, losses=names, lo=lo, hi=hi))
        except LossLabError:
            if kind is not ShapeKind.all or (k == kinds[-1] and not charts):
                raise
    if plot is not None and family is not None:
        path = plot_robust(charts[0], plot, dpi=dpi, size=inches)
    elif plot is not None:
        path = plot_shapes(charts, plot, gradients=gradients, dpi=dpi, size=inches)
    if html is not None:
        from pathlib import Path

        from losslab.views.interactive_shapes import shapes_page
        from losslab.views.report import write_text_atomic

        write_text_atomic(Path(html), shapes_page(charts))
    csv_rows = [
        (c.kind, name, float(x), float(v), float(g))
        for c in charts
        for name in c.values
        for x, v, g in zip(c.x, c.values[name], c.gradients[name], strict=True)
        if math.isfinite(v)
    ]

    def drawn() -> list[Any]:
        if plot is not None or html is not None:
            return [f"wrote {f}" for f in (plot and path, html) if f]
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


@commands.command("explain")
def explain_cmd(
    name: Annotated[
        str,
        typer.Argument(
            help="A loss (the embedding losses triplet and supcon too), optimizer or schedule name."
        ),
    ],
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
    from losslab.hyper import shown as show_default
    from losslab.views import render
    from losslab.views.explain import explain

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


@commands.command("gradcheck")
def gradcheck_cmd(
    loss: Annotated[
        list[str] | None,
        Opt(
            help="Losses to check (LIST; default: every per-row loss and model). triplet and "
            "supcon are checked on embeddings; with --model linear, mlp or cnn, contrastive, "
            "triplet and supcon are checked through the model's embedding network."
        ),
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
    images), the gradient of the objective (with an l2 penalty) with respect to every parameter;
    for an embedding loss with a model (`--loss triplet --model mlp`), the batch loss over every
    pair / triplet / anchor of a 9-row, 3-class batch through a network ending in 3 coordinates.
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


@commands.command("report")
def report_cmd(
    result: Annotated[str, typer.Argument(help="A saved study or run directory under results/.")],
    out: Annotated[
        str | None, Opt("--out", "-o", help="The HTML file (default: RESULT/report.html).")
    ] = None,
    interactive: Annotated[
        bool,
        Opt(
            "--interactive",
            help="An interactive page (needs losslab[interactive]): hover, legend toggles, "
            "epoch/time and linear/log selectors, a sortable table; plotly.js inlined, offline.",
        ),
    ] = False,
) -> None:
    """Write one self-contained HTML page of a saved study or run: its table, figure
    (inline SVG), configuration, data fingerprint and versions; nothing loaded from the network."""
    from losslab.views.render import write
    from losslab.views.report import report

    note_plugins(result)
    path, warnings = report(result, out, interactive=interactive)
    for warning in warnings:
        _warn(warning)
    write(f"{path}\n")


# --------------------------------------------------------------------------- landscape


@commands.command("landscape", declared=(hyper_options, schedule_options, loss_options))
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
        float | None,
        Opt(
            help="One learning rate for every optimizer (default: on a test function its lr "
            "for each optimizer, as `losslab landscape FUNCTION --format json` lists; on data "
            "each optimizer's own)."
        ),
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
        str | None, Opt(help="Draw the map to this .png, .svg or .pdf (needs losslab[plot]).")
    ] = None,
    dpi: DpiOpt = FIGURE_DPI,
    size: SizeOpt = None,
    html: Annotated[
        str | None,
        Opt(
            "--html",
            help="Write an interactive page (needs losslab[interactive]): the paths animated, "
            "sliders for each optimizer's lr and momentum/β1 on a test function, a noise control "
            "on data (--batch-size 8,32,full).",
        ),
    ] = None,
    target: Target = None,
    features: Features = None,
    exclude: Exclude = None,
    model: Model = None,
    loss: Annotated[
        str | None,
        Opt(
            help="Loss (default: mse, bce or cross-entropy by model); contrastive, triplet or "
            "supcon draw an embedding network's batch loss."
        ),
    ] = None,
    embed_dim: EmbedDim = None,
    mining: Mining = None,
    temperature: Temperature = None,
    swap: Swap = False,
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
    target_scale: TargetScale = "none",
    l1: L1 = 0.0,
    l2: L2 = 0.0,
    schedule: Annotated[str, Opt(help=schedule_help())] = "constant",
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
    With --loss contrastive, triplet or supcon the objective is the embedding network's batch
    loss on the training rows, in batches of the run's size, as `fit` reports it.
    """
    import inspect

    from losslab.api import landscape as run

    fit_options = {  # the `fit` options landscape takes on data (and refuses on a test function)
        "target": target,
        "features": features,
        "exclude": exclude,
        "model": model,
        "loss": loss,
        "embed_dim": embed_dim,
        "mining": mining,
        "temperature": temperature,
        "swap": swap,
        "batch_size": batch_size,
        "hidden": hidden,
        "layers": layers,
        "image": image,
        "activation": activation,
        "init": init,
        "seed": seed,
        "test_size": test_size,
        "standardize": standardize,
        "scale": scale,
        "target_scale": target_scale,
        "l1": l1,
        "l2": l2,
        "schedule": schedule,
        "schedule_unit": schedule_unit,
        "warmup": warmup,
        "clip_norm": clip_norm,
        "missing": missing,
        "categorical": categorical,
        "divergence_factor": divergence_factor,
        "shuffle": shuffle,
        "sep": sep,
    }
    from losslab.views.figures import check_figure

    _, dpi, inches = check_figure(plot, dpi, size)
    # the fit flags given: those left at their defaults are the library's defaults too, and on a
    # test function the API refuses any that is given
    defaults = inspect.signature(landscape_cmd).parameters
    settings = {
        name: value.value if isinstance(value, Enum) else value
        for name, value in fit_options.items()
        if value != defaults[name].default
    }
    noise = None
    if html is not None and batch_size is not None and "," in batch_size:
        noise = batch_size  # the noise control's batch sizes; the map is drawn at the first
        settings.pop("batch_size")
    declared = {**(hyper or {}), **(schedule_params or {}), **(loss_args or {})}
    land = run(
        source,
        optimizer=optimizer,
        steps=steps,
        start=start,
        condition=condition,
        lr=lr,
        tune=tune,
        tune_grid=tune_grid,
        tol=tol,
        grid=grid,
        layout=layout,
        directions=directions,
        html=html,
        noise=noise,
        progress=progress,
        **{k: v for k, v in {**settings, **declared}.items() if v is not None},
    )
    failures: list[str] = []
    if plot is not None:
        from losslab.views.landscape_plot import plot_landscape

        drawn = _saved(
            lambda: plot_landscape(land, plot, layout=layout, dpi=dpi, size=inches), failures
        )
        plot = None if drawn is None else str(drawn)
    _report_landscape(land, fmt.value, plot, html)
    _finish(failures)


def _report_landscape(land: Any, fmt: str, plot: str | None, html: str | None = None) -> None:
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
        out = [render.line(land.title), render.table(None, header, cells, column_digits={"lr": 3})]
        target = "f*" if known else "the best value reached"
        out.append(
            render.line(f"{unit} to tol: first {unit[:-1]} with f ≤ {target} + {land.tol:g}", None)
        )
        if land.kind == "data":
            out.append(render.line(f"plane: spanned by {land.info['plane']['spanned_by']}", None))
        if "objective" in land.info:
            out.append(render.line(f"objective: {land.info['objective']}", None))
        for skip in land.skipped:
            out.append(render.line(f"skipped {skip['optimizer']}: {skip['reason']}", None))
        if plot:
            out.append(render.line(f"plot: {plot}", None))
        if html:
            out.append(render.line(f"page: {html}", None))
        return out

    obj = land.to_dict()
    if plot:
        obj["plot"] = plot
    if html:
        obj["html"] = html
    csv_header = list(rows[0]) if rows else []
    render.emit(
        fmt,
        obj=obj,
        csv_header=csv_header,
        csv_rows=([r.get(k) for k in csv_header] for r in rows),
        render=tables,
    )
