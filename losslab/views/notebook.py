"""Results as HTML in a notebook (``_repr_html_``): the table the command prints and its figure
inline as SVG where matplotlib is installed, made of the pieces of the HTML report
(:mod:`losslab.views.report`) and the figures of :mod:`losslab.views.plot`.

The results live in lower layers; :data:`RENDERERS` maps each one's class name to its renderer,
and ``losslab.api`` registers them in :data:`losslab.registry.HTML_RENDERERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from losslab.views import report
from losslab.views.report import _e, _figure_section, _notes, _table


def _block(title: str, *parts: str) -> str:
    return f'<div class="losslab"><p><b>{_e(title)}</b></p>{"".join(parts)}</div>'


def fit_html(result: Any) -> str:
    """A run: its table (status, losses, metrics) and its curves."""
    from losslab.views.plot import run_drawable
    from losslab.views.render import fit_rows, fit_title

    rows = fit_rows(
        {
            "status": result.status,
            "epochs_run": result.epochs_run,
            "seconds": result.seconds,
            **result.metrics,
        }
    )
    table = _table(["", "value"], [list(r) for r in rows])
    drawable = run_drawable(result.config, result.history, result.status, result.epochs_run)
    figure, _ = _figure_section(drawable, "Loss and metric by epoch of this run.")
    notes = [f"record: {result.record}"] if result.record else []
    return _block(fit_title(result), table, _notes(notes) if notes else "", figure)


def study_html(study: Any) -> str:
    """A study: the table `losslab compare` prints, its notes and the comparison figure."""
    from losslab.views.plot import study_drawable

    title, results = report.study_results(study)
    figure, _ = _figure_section(study_drawable(study), report.STUDY_CAPTION)
    return _block(title, results, figure)


def eval_html(result: Any) -> str:
    """Losses and metrics of prediction columns: two tables, as `losslab eval` prints them."""
    where = f"{result.data}: {result.rows} rows · target {', '.join(result.target)}"
    where += f" · predictions {', '.join(result.pred)}" + (" (logits)" if result.logits else "")

    def shown(name: str, value: float | None) -> Any:
        return f"undefined ({result.undefined[name]})" if value is None else value

    losses = [[k, shown(k, v)] for k, v in result.losses.items()]
    parts = [_table(["loss", "value"], losses, digits=8)]  # as `losslab eval` prints them
    if result.metrics:
        parts.append(
            _table(["metric", "value"], [[k, shown(k, v)] for k, v in result.metrics.items()])
        )
    return _block(where, *parts)


def lr_find_html(result: Any) -> str:
    """The range test: both suggestions and the curve."""
    from losslab.study.lrfind import HEURISTIC
    from losslab.views.lr_find_plot import lr_find_figure
    from losslab.views.render import lr_find_title

    title = lr_find_title(result)
    suggested = [
        [name, f"{s['lr']:.3g}", s["loss"], s["index"], s["rule"]]
        if s is not None
        else [name, "—", None, None, "too few points for this rule"]
        for name, s in result.suggestions.items()
    ]
    table = _table(["suggestion", "lr", "smoothed loss", "step", "rule"], suggested)
    sweep = f"{len(result.lrs)} of {result.steps} steps, lr {result.start_lr:g} → {result.end_lr:g}"
    if result.stopped:
        sweep += f"; stopped early: {result.stopped}"
    figure, _ = _figure_section(
        None,
        "Batch objective (grey) and smoothed (blue) against the lr; both suggestions marked.",
        draw=lambda: report.svg_of(lr_find_figure(result, title=title)),
    )
    return _block(title, table, _notes([f"{HEURISTIC}.", f"sweep: {sweep}"]), figure)


def landscape_html(land: Any) -> str:
    """Optimizer paths: one row per path and the map."""
    from losslab.views.landscape_plot import figure

    rows = land.rows()
    known = land.minimum is not None
    header = ["optimizer", "lr", "final f", *(["f − f*"] if known else []), "to tol"]
    cells = [
        [r["optimizer"], r["lr"], r["final"], *([r["gap"]] if known else []), r["steps_to_tol"]]
        for r in rows
    ]
    notes = [f"skipped {s['optimizer']}: {s['reason']}" for s in land.skipped]
    drawn, _ = _figure_section(
        None, "Each optimizer's path on the map.", draw=lambda: report.svg_of(figure(land))
    )
    return _block(land.title, _table(header, cells), _notes(notes) if notes else "", drawn)


RENDERERS: dict[str, Callable[[Any], str]] = {
    "FitResult": fit_html,
    "Study": study_html,
    "EvalResult": eval_html,
    "LRFindResult": lr_find_html,
    "Landscape": landscape_html,
}
