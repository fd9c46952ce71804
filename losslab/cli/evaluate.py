"""`losslab eval`: losses of prediction columns, or of a saved model on data."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from losslab.cli.common import (
    Commands,
    Format,
    FormatOpt,
    SepOpt,
    _loss_names,
    eval_loss_options,
)

commands = Commands()


@commands.command("eval", declared=(eval_loss_options,))
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
    class_weight: Annotated[
        str | None,
        typer.Option(
            help="Class weights of cross-entropy (torch's weight) and bce (its pos_weight), as "
            "in `fit`: 'balanced' (from the rows evaluated) or CLASS=WEIGHT,… (classes: the "
            "prediction columns' names for string labels, else 0, 1, …)."
        ),
    ] = None,
    anchor: Annotated[
        str | None,
        typer.Option(help="--loss triplet: the anchor's embedding columns (comma-separated)."),
    ] = None,
    positive: Annotated[
        str | None, typer.Option(help="--loss triplet: the positive's embedding columns.")
    ] = None,
    negative: Annotated[
        str | None, typer.Option(help="--loss triplet: the negative's embedding columns.")
    ] = None,
    swap: Annotated[
        bool,
        typer.Option("--swap", help="--loss triplet: torch's swap, d(a, n) ← min(…, d(p, n))."),
    ] = False,
    bins: Annotated[
        int | None,
        typer.Option(
            help="Bins of the calibration scores (ece, mce) of probability columns: equal-width "
            "in confidence. Default 15; given, probabilities are required (one line if not)."
        ),
    ] = None,
    sep: SepOpt = None,
    fmt: FormatOpt = Format.table,
    loss_args: dict[str, Any] | None = None,
) -> None:
    """Compute losses of prediction columns against target columns in a CSV.

    Probabilities are clipped to [eps, 1 - eps], eps = float64 machine epsilon, as scikit-learn
    does. Also reports accuracy (classification) or R² (regression), and for probability columns
    the calibration: ece, mce (top label, --bins equal-width bins) and the Brier score.
    """
    params = {k: v for k, v in (loss_args or {}).items() if v is not None}
    if loss == ["triplet"] or any(v is not None for v in (anchor, positive, negative)):
        _triplet(data, loss, anchor, positive, negative, params, swap, sep, fmt.value)
        return
    if model is not None and bins is not None:
        from losslab.api import BINS_WITH_MODEL
        from losslab.errors import ConfigError

        raise ConfigError(BINS_WITH_MODEL)
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
            class_weight=class_weight,
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
            class_weight=class_weight,
            bins=bins,
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
            out.append(render.table(None, ["metric", "value"], metric_rows))
        if result.params:
            from losslab.losses import show_param

            text = ", ".join(f"{k} = {show_param(v)}" for k, v in result.params.items())
            out.append(render.line(f"parameters: {text}", None))
        if result.weight_column:
            out.append(render.line(f"weighted by column {result.weight_column!r}", None))
        for name, weights in result.class_weight.items():
            text = ", ".join(f"{k} = {v:.6g}" for k, v in weights.items())
            out.append(render.line(f"{name} class weights: {text}", None))
        return out

    render.emit(fmt.value, obj=obj, csv_header=["name", "value"], csv_rows=rows, render=tables)


def _triplet(
    data: str,
    loss: list[str] | None,
    anchor: str | None,
    positive: str | None,
    negative: str | None,
    params: dict[str, Any],
    swap: bool,
    sep: str | None,
    fmt: str,
) -> None:
    """`eval --loss triplet --anchor … --positive … --negative …`."""
    from losslab.errors import ConfigError
    from losslab.study.embedding_eval import triplet_columns
    from losslab.views import render

    if loss != ["triplet"] or None in (anchor, positive, negative):
        raise ConfigError("--anchor, --positive and --negative go together, with --loss triplet")
    unknown = sorted(set(params) - {"margin"})
    if unknown:
        raise ConfigError(f"--{unknown[0].replace('_', '-')} is not used by the triplet loss")
    result = triplet_columns(data, anchor, positive, negative,  # type: ignore[arg-type]
                             margin=params.get("margin", 1.0), swap=swap, sep=sep)  # fmt: skip
    rows = [("triplet", result["value"]), ("active share", result["active"])]

    def tables() -> list[Any]:
        where = (
            f"{result['data']}: {result['rows']} triplets · anchor {', '.join(result['anchor'])}"
        )
        return [render.line(where), render.table(None, ["loss", "value"], rows, digits=8)]

    render.emit(fmt, obj=result, csv_header=["name", "value"], csv_rows=rows, render=tables)
