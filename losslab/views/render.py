"""Turning results into tables (for people), JSON and CSV (for programs). Only here and in the CLI
is rich imported: results go to stdout, progress and diagnostics to stderr."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from losslab.data.write import to_csv, to_json, write
from losslab.views.numbers import Elapsed, column_formatter, plural, spread_formatter

FOLD = 16  # a column of text may break a word longer than this (not a name's)

FORMATS = ("table", "json", "csv")
SPARKS = "▁▂▃▄▅▆▇█"


class Undefined(str):
    """A value that has none, with the reason ("undefined (constant target)"): shown in its
    number column, aligned as a number; JSON and CSV carry null / empty instead."""

    def __new__(cls, reason: str) -> Undefined:
        return super().__new__(cls, f"undefined ({reason})")


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """A unicode sparkline of a loss curve, resampled to at most ``width`` points."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    if len(finite) > width:
        step = (len(finite) - 1) / (width - 1)
        finite = [finite[round(i * step)] for i in range(width)]
    lo, hi = min(finite), max(finite)
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return SPARKS[0] * len(finite)
    scale = (len(SPARKS) - 1) / (hi - lo)
    return "".join(SPARKS[round((v - lo) * scale)] for v in finite)


def stdout_console():
    """Tables on stdout; when piped, wide enough not to squeeze them (rich would use 80)."""
    import os

    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=240)
    return console


def stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def table(
    title: str | None,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    highlight_row: int | None = None,
    digits: int = 5,
    compact: bool = False,
    names: Sequence[str] | None = None,
    column_digits: dict[str, int] | None = None,
    optional: Sequence[str] = (),
) -> Any:
    """A table for people: text left-aligned, numbers right-aligned, each number column in one
    notation with ``digits`` significant digits (:func:`losslab.views.numbers.column_formatter`;
    ``column_digits``: other digits for some columns, by name).

    The first column (the row's name) and the numbers are never wrapped or cut; the columns
    ``names`` hold names a user types (aliases, a torch class): they wrap between names, never
    within one; the other columns wrap at spaces (a word longer than :data:`FOLD` may break).
    A terminal too narrow even for that shows one block per row (:class:`FittedTable`), unless
    leaving out the ``optional`` columns (by name, in that order) makes the table fit.
    ``compact``: rules under the header only, for narrow terminals."""
    rows = [list(r) for r in rows]
    count = len(header)
    numeric = [
        bool(rows)
        and all(
            isinstance(r[j], (int, float, Undefined)) or r[j] is None for r in rows if j < len(r)
        )
        for j in range(count)
    ]
    shows = [
        column_formatter(
            [r[j] for r in rows if j < len(r)], (column_digits or {}).get(header[j], digits)
        )
        for j in range(count)
    ]
    cells = [[shows[j](v) for j, v in enumerate(r)] for r in rows]
    whole = [numeric[j] or j == 0 for j in range(count)]
    words = [header[j] in (names or ()) for j in range(count)]
    return FittedTable(
        title, list(header), cells, numeric=numeric, whole=whole, words=words, caption=caption,
        highlight_row=highlight_row, compact=compact,
        optional=[header.index(n) for n in optional if n in header],
    )  # fmt: skip


class FittedTable:
    """A table laid out at print time for the width it gets: as is when it fits; else with its
    wrappable columns narrowed to their longest word (never below: a class name stays whole) and
    the room left shared out; else compact (rules under the header only); else, leaving out the
    ``optional`` columns one by one (a line under the table names them), the same again; else one
    block per row. Columns in ``whole`` (the names of the rows, numbers) keep their full width in
    every layout, those in ``words`` their longest word."""

    def __init__(
        self,
        title: str | None,
        header: list[str],
        cells: list[list[str]],
        *,
        numeric: list[bool],
        whole: list[bool],
        words: list[bool],
        caption: str | None = None,
        highlight_row: int | None = None,
        compact: bool = False,
        optional: Sequence[int] = (),
    ) -> None:
        self.title, self.header, self.cells, self.caption = title, header, cells, caption
        self.numeric, self.whole, self.words = numeric, whole, words
        self.highlight_row, self.compact = highlight_row, compact
        self.optional = list(optional)

    def without(self, j: int) -> FittedTable:
        """The same table without its column ``j``."""
        drop = lambda xs: [x for i, x in enumerate(xs) if i != j]  # noqa: E731
        return FittedTable(
            self.title, drop(self.header), [drop(r) for r in self.cells],
            numeric=drop(self.numeric), whole=drop(self.whole), words=drop(self.words),
            caption=self.caption, highlight_row=self.highlight_row, compact=self.compact,
            optional=[i - (i > j) for i in self.optional if i != j],
        )  # fmt: skip

    def _texts(self, j: int) -> list[str]:
        return [self.header[j]] + [r[j] for r in self.cells if j < len(r)]

    def _widths(self) -> tuple[list[int], list[int]]:
        """The widest line of each column, and the least width it may take."""
        from rich.cells import cell_len

        widest, least = [], []
        for j in range(len(self.header)):
            lines = [line for text in self._texts(j) for line in text.splitlines()] or [""]
            widest.append(max(cell_len(line) for line in lines))
            word = max(cell_len(w) for line in lines for w in [*line.split(), ""])
            least.append(
                widest[-1] if self.whole[j] else word if self.words[j] else min(word, FOLD)
            )
        return widest, least

    def _build(self, widths: list[int] | None, compact: bool) -> Any:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        out = Table(
            title=self.title, caption=self.caption, title_justify="left", caption_justify="left"
        )
        out.show_header = any(self.header)  # a table of (field, value) pairs needs no header
        if compact:
            out.box, out.pad_edge, out.show_edge = box.SIMPLE_HEAD, False, False
            out.collapse_padding = True
        for j, name in enumerate(self.header):
            out.add_column(
                name,
                justify="right" if self.numeric[j] else "left",
                no_wrap=self.whole[j],
                overflow="fold",
                width=None if widths is None else widths[j],
            )
        for i, row in enumerate(self.cells):
            style = "bold green" if i == self.highlight_row else None
            out.add_row(*(Text(v) for v in row), style=style)
        return out

    def _blocks(self, room: int, least: list[int]) -> list[Any]:
        """One block per row: its name, then each other field on a line of its own (or, when a
        name in it would not fit beside the labels, the label on a line and the value under it)."""
        from rich.cells import cell_len
        from rich.padding import Padding
        from rich.table import Table
        from rich.text import Text

        labels = [name.replace("\n", " ") for name in self.header]
        label = max(map(cell_len, labels[1:]), default=0)
        kept = [least[j] for j in range(1, len(labels)) if self.whole[j] or self.words[j]]
        beside = 2 + label + 1 + max(kept, default=0) <= room
        out: list[Any] = [Text(self.title, style="bold")] if self.title else []
        for i, row in enumerate(self.cells):
            style = "bold green" if i == self.highlight_row else "bold"
            out.append(Text(row[0], style=style))
            given = [(n, v) for n, v in zip(labels[1:], row[1:], strict=False) if v.strip()]
            if not beside:
                for name, value in given:
                    out.append(Padding(Text(name, style="dim"), (0, 0, 0, 2), expand=False))
                    out.append(Padding(Text(value, overflow="fold"), (0, 0, 0, 4), expand=False))
                continue
            fields = Table.grid(padding=(0, 1))
            fields.add_column(no_wrap=True, style="dim")
            fields.add_column(overflow="fold")
            for name, value in given:
                fields.add_row(name, value)
            out.append(Padding(fields, (0, 0, 0, 2), expand=False))
        if self.caption:
            out.append(Text(self.caption))
        return out

    def _fitted(self, room: int, squeeze: bool) -> Any:
        """The table laid out in ``room`` columns (``squeeze``: its wrappable columns narrowed),
        or None when it does not fit."""
        widest, least = self._widths()
        for compact in (True,) if self.compact else (False, True):
            probe = self._build(None, compact)
            chrome = probe._extra_width + sum(
                probe._get_padding_width(j) for j in range(len(self.header))
            )
            if sum(widest) + chrome <= room:
                return probe
            if squeeze and sum(least) + chrome <= room:
                return self._build(_share(room - chrome, least, widest), compact)
        return None

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        room = options.max_width
        levels = [self]  # the table, then without each optional column in turn
        for _ in self.optional:
            levels.append(levels[-1].without(levels[-1].optional[0]))
        # natural widths without all but the last optional column, then squeezed; the last
        # optional column goes only when nothing else fits
        n = len(self.optional)
        order = [(k, False) for k in range(max(n, 1))] + [(k, True) for k in range(max(n, 1))]
        order += [(n, False), (n, True)] if n else []
        for k, squeeze in order:
            fitted = levels[k]._fitted(room, squeeze)
            if fitted is not None:
                yield fitted
                if k:
                    left_out = [self.header[j].replace("\n", " ") for j in self.optional[:k]]
                    yield Text(
                        f"{', '.join(left_out)}: left out at this terminal's width "
                        "(--format json|csv has every column)"
                    )
                return
        yield from self._blocks(room, self._widths()[1])


def _share(room: int, least: list[int], widest: list[int]) -> list[int]:
    """Column widths from ``least`` up, the ``room`` left shared in proportion to what each
    column lacks of its ``widest`` (never beyond it)."""
    widths = list(least)
    spare = room - sum(widths)
    while spare > 0:
        lacking = [j for j in range(len(widths)) if widths[j] < widest[j]]
        if not lacking:
            break
        total = sum(widest[j] - widths[j] for j in lacking)
        given = 0
        for j in lacking:
            add = min(widest[j] - widths[j], (spare * (widest[j] - widths[j])) // total)
            widths[j] += add
            given += add
        if given == 0:  # less room left than columns lacking: one each, widest first
            for j in sorted(lacking, key=lambda j: widths[j] - widest[j])[:spare]:
                widths[j] += 1
            break
        spare -= given
    return widths


def line(text: str, style: str | None = "bold"):
    """A heading or note printed as is (no markup, no wrapping into a narrow table's width)."""
    from rich.text import Text

    return Text(text, style=style or "")


def emit(
    fmt: str,
    *,
    obj: Any,
    csv_header: Sequence[str],
    csv_rows: Iterable[Sequence[Any]],
    render: Callable[[], Any],
) -> None:
    """Print a result in the chosen format: JSON object, CSV rows or rich renderables."""
    if fmt == "json":
        write(to_json(obj) + "\n")
    elif fmt == "csv":
        write(to_csv(csv_header, csv_rows))
    else:
        from losslab.errors import OutputError

        console = stdout_console()
        try:
            for renderable in render():
                console.print(renderable)
            console.file.flush()
        except OSError as exc:
            raise OutputError(exc) from None


# --------------------------------------------------------------------------- run and study tables


def fit_rows(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, value) rows of a run's table from its metrics (as metrics.json holds them:
    status, epochs_run, seconds and the train, val, test losses and metric)."""
    train, test = metrics["train"], metrics.get("test")
    val = metrics.get("val")
    key = next((k for k in ("accuracy", "knn1") if k in train), "r2")
    extra = ["knn5"] if key == "knn1" else []  # an embedding's k-NN accuracies

    def metric(value: float | None) -> Any:
        # a finished run has an R² unless its target is constant (evaluate.r2_score)
        return (
            Undefined("constant target") if value is None and train["loss"] is not None else value
        )

    rows = [
        ("status", metrics["status"]),
        ("epochs run", metrics["epochs_run"]),
        ("train loss", train["loss"]),
        (f"train {key}", metric(train[key])),
        *((f"train {k}", train.get(k)) for k in extra),
    ]
    if val is not None:
        rows += [("val loss", val["loss"]), (f"val {key}", val[key])]
        rows += [(f"val {k}", val.get(k)) for k in extra]
    if test is not None:
        rows += [("test loss", test["loss"]), (f"test {key}", metric(test[key]))]
        rows += [(f"test {k}", test.get(k)) for k in extra]
        rows += [(f"test {k}", test[k]) for k in ("ece", "mce", "brier") if k in test]
    seconds = metrics["seconds"]
    rows += [("seconds", None if seconds is None else Elapsed(seconds))]
    return rows


def architecture(cfg: dict[str, Any]) -> str:
    """``mlp 128-64 relu`` or ``cnn 28x28x1 conv32,pool,… relu`` for a network, the model's name
    otherwise."""
    if cfg.get("layers") and cfg.get("activation"):
        return f"{cfg['model']} {cfg['image']} {cfg['layers']} {cfg['activation']}"
    if cfg.get("hidden") and cfg.get("activation"):
        return f"{cfg['model']} {'-'.join(map(str, cfg['hidden']))} {cfg['activation']}"
    return str(cfg["model"])


def fit_title(result: Any) -> str:
    """The heading of a run: data · architecture · loss · optimizer lr · batch · seed."""
    return _run_title(result, f"{result.config['optimizer']} lr {result.config['lr']:g}")


def lr_find_title(result: Any) -> str:
    """The heading of an lr range test (its table and its figure)."""
    return "lr range test · " + _run_title(result, result.config["optimizer"])


def _run_title(result: Any, optimizer: str) -> str:
    cfg = result.config
    return (
        f"{result.data.get('source', '')} · {architecture(cfg)} · {cfg['loss']} · {optimizer} · "
        f"batch {cfg['batch_size'] or 'full'} · seed {cfg['seed']}"
    ) + target_scaled(result.data.get("target_scale"))


def target_scaled(scale: dict[str, Any] | None) -> str:
    """The title's note of --target-scale standard: the losses are on (y − μ)/σ."""
    if not scale:
        return ""
    return f" · losses on the standardised target (y − {scale['mean']:.6g}) / {scale['std']:.6g}"


def study_title(study: Any) -> str:
    """data · model · N runs, the title of a study's table and figure."""
    cfg = study.config
    trials = sum(r.get("phase") == "tune" for r in study.runs)  # compare --tune's
    title = f"{cfg['data']['source']} · {cfg['model']} · {len(study.runs) - trials} runs"
    title += f" after {trials} trials" if trials else ""
    if cfg.get("base", {}).get("target_scale", "none") != "none":
        title += " · losses on the standardised target (y − μ) / σ of each seed's training rows"
    return title


STUDY_COLUMNS = (
    "hidden", "layers", "optimizer", "lr", "tuned", "loss", "batch", "train loss", "val loss",
    "test loss", "metric", "ece", "brier", "vs best", "gap", "epochs→target", "time s",
    "diverged", "train curve",
)  # fmt: skip


def study_table(
    study: Any, *, narrow: bool = False, plot: str | None = None
) -> tuple[str, list[str], list[list[Any]], list[str]]:
    """(title, header, rows, notes) of a study's table, the one `losslab compare` prints and
    `losslab report` shows; ``narrow`` keeps the columns that choose between configurations."""
    from losslab.study.summary import ranked_by

    metrics = study.metrics or [study.metric]
    ref = study.reference or {}

    def column(name: str, digits: int = 4) -> Callable[[dict[str, Any]], str]:
        """The cells of the column of ``name``: mean ± std (means only when narrow), in one
        notation for the whole column."""
        means = [row.get(f"{name}_mean") for row in study.summary]
        show = spread_formatter(means, digits)
        return lambda row: show(row.get(f"{name}_mean"), None if narrow else row.get(f"{name}_std"))

    shown = {name: column(name) for name in ("train_loss", "val_loss", "test_loss")}
    shown.update({m: column(m, 3) for m in metrics})
    shown.update({c: column(c, 3) for c in ("ece", "brier")})  # classifiers' calibration
    seconds = column_formatter([row.get("seconds_mean") for row in study.summary], 3)

    by_loss = ref.get("by_loss") or {}

    def gap(row: dict[str, Any]) -> str:
        objective = (by_loss.get(row["loss"]) or {}).get("objective")
        if objective is None or not math.isfinite(objective):
            return "n/a"
        mean = row["gap_mean"]
        return "—" if mean is None else "0" if mean == 0 else f"{mean:.2e}"

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
                "train loss": shown["train_loss"](row),
                "val loss": shown["val_loss"](row),
                "test loss": shown["test_loss"](row),
                "metric": next(
                    (shown[m](row) for m in metrics if row.get(f"{m}_mean") is not None), None
                )
                or ("undefined (constant target)" if row["diverged"] < row["seeds"] else "—"),
                "ece": shown["ece"](row),
                "brier": shown["brier"](row),
                "gap": gap(row),
                "epochs→target": "—"
                if ett is None
                else f"{ett} ({row['reached_target']}/{row['seeds'] - row['diverged']})",
                "time s": seconds(row.get("seconds_mean")),
                "diverged": f"{row['diverged']}/{row['seeds']}"
                + (f" · {row['rose']}↑" if row.get("rose") else ""),
                "train curve": sparkline(row["curve"]),
                "tuned": _tuned_cell(row.get("settings", "")),
                "vs best": _vs_best(study.config.get("pairs") or [], row),
            }
        )
    dropped = set()  # the columns that say nothing for this study (an empty one: all of them)
    if not networks:
        dropped.add("hidden")
    if not any(row.get("layers") for row in study.summary):
        dropped.add("layers")
    if not validated:
        dropped.add("val loss")
    if not any(row.get("settings") for row in study.summary):  # compare --tune's columns
        dropped.add("tuned")
    if not study.config.get("pairs"):  # no statistics, or no cell with two configurations
        dropped.add("vs best")
    if not any(row.get("ece_mean") is not None for row in study.summary):
        dropped.update(("ece", "brier"))
    hidden_notes = []
    if narrow:
        dropped.update(("time s", "train curve"))
        if len({row["loss"] for row in study.summary}) <= 1:
            dropped.add("loss")
        if not any(row["diverged"] for row in study.summary):  # runs that rose: the note
            dropped.add("diverged")
            hidden_notes.append("no run diverged")
        for empty in ("gap", "epochs→target"):  # explained by the notes below
            if all(cell[empty] in ("n/a", "—") for cell in cells):
                dropped.add(empty)
        hidden_notes.append(
            "means over seeds; ± std, times, curves and losses per run in --format json|csv"
        )
    columns = [c for c in STUDY_COLUMNS if c not in dropped]
    names = {"metric": " / ".join(metrics)}
    if narrow:
        names.update({"train loss": "train", "val loss": "val", "test loss": "test"})
        names.update({"epochs→target": "epochs→\ntarget", "diverged": "diverged"})
    header = [names.get(c, c) for c in columns]
    rows = [[cell[c] for c in columns] for cell in cells]

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
            f"{where} ({info['method']}, {plural(info['iterations'], 'iteration')}"
            + ("; each seed against its own split's optimum)" if len(per_seed) > 1 else ")")
        )
    if study.target_loss is not None:
        what = (
            "train objective within 1% of the optimum"
            if study.config.get("target_default")
            else f"train loss ≤ {study.target_loss:.6g}"
        )
        notes.append(f"epochs→target: median first epoch with {what} (seeds that reached it)")
    what = {
        "val_loss": "validation loss",
        "objective": "training objective (loss + penalty, as the gap)",
    }.get(ranked_by(study.runs), "training loss")
    notes.append(f"ranked by mean {what} within each loss (the test loss never chooses)")
    rose = [row for row in study.summary if row.get("rose")]
    if rose:
        several = len(by_loss) > 1

        def named(row: dict[str, Any]) -> str:
            return f"{row['optimizer']} lr {row['lr']:g}" + (f" ({row['loss']})" if several else "")

        which = ", ".join(named(row) for row in rose[:3])
        which += f" and {len(rose) - 3} more" if len(rose) > 3 else ""
        count = sum(row["rose"] for row in rose)
        notes.append(
            f"↑ ended above the start: {count} run{'s' if count != 1 else ''} ({which}) ended "
            "with a training objective above the one at the starting parameters, short of "
            "--divergence-factor: not converged, whatever the other columns say"
        )
    notes += _fair_notes(study.config)
    notes += [f"grid: {note}" for note in study.config.get("coincided") or []]
    if study.config.get("model_note"):
        notes.append(f"model: {study.config['model_note']}")
    if study.record:
        notes.append(f"saved: {study.record}")
    if plot:
        notes.append(f"plot: {plot}")
    if study.partial:
        notes.append("PARTIAL: interrupted before every run finished")
    notes += hidden_notes
    spread = "mean over seeds" if narrow else "mean ± std over seeds"
    title = study_title(study)
    if study.seconds is not None:
        title += f" · {study.seconds:.{1 if study.seconds >= 0.1 else 3}f} s"
    title += f" · {spread}"
    if narrow and len({row["loss"] for row in study.summary}) == 1 and study.summary:
        title += f" · {study.summary[0]['loss']}"
    return title, header, rows, notes


SYMBOLS = {"beta1": "β1", "beta2": "β2", "eps": "ε", "weight_decay": "λ", "momentum": "μ",
           "alpha": "α", "rho": "ρ"}  # fmt: skip


def _tuned_cell(settings: str) -> str:
    """The chosen settings but the lr (a column of its own), in symbols: ``β1=0.9 ε=1e-08``."""
    parts = [p.split("=", 1) for p in settings.split(" ")[1:] if "=" in p]
    return " ".join(f"{SYMBOLS.get(k, k)}={v}" for k, v in parts) or "—"


def _fair_notes(config: dict[str, Any]) -> list[str]:
    """What --tune did and what the ``vs best`` column means."""
    notes = []
    tune = config.get("tune")
    if tune:
        chooser = "validation loss" if tune["select"] == "val" else "training objective"
        budgets = sorted({entry["budget"] for entry in (config.get("tuning") or {}).values()})
        if budgets == [0]:
            notes.append("tuned: --tune default, each optimizer at its declared settings")
        else:
            notes.append(
                f"tuned: --tune {tune['mode']} (budget {'/'.join(map(str, budgets))} per "
                f"optimizer) on seed {tune['seed']}, chosen by the {chooser}, then run on every "
                "seed; the trials are in --format json|csv (phase tune)"
            )
    if config.get("pairs"):
        notes.append(
            "vs best: seeds on which the best wins / seeds paired, and the Holm-adjusted p of an "
            "exact sign-flip test on the mean difference; tied: p ≥ 0.05"
        )
    return notes


def _vs_best(pairs: list[dict[str, Any]], row: dict[str, Any]) -> str:
    """The ``vs best`` cell of a summary row: its pair with the best of its cell, ``best`` for
    the best itself, empty where it has none (one seed in common, a single configuration)."""
    from losslab.study.stats import CELL_KEYS, vs_best

    cell = {k: row.get(k) for k in CELL_KEYS if row.get(k) is not None}
    names = (row["optimizer"], f"{row['optimizer']} lr={row['lr']:g}")
    for pair in pairs:
        if pair["cell"] == cell:
            if pair["other"] in names:
                return vs_best(pair)
            if pair["best"] in names:
                return "best"
    return ""


PROFILE_HEADER = ["optimizer", "problem", "ratio"]


def profile_rows(result: Any) -> list[list[Any]]:
    """The CSV of a performance profile: one row per optimizer and problem, r (empty: ∞)."""
    problems = result.profile["problems"]
    return [
        [name, problem, r if math.isfinite(r) else None]
        for name, ratios in result.ratios.items()
        for problem, r in zip(problems, ratios, strict=True)
    ]


def profile_table(
    result: Any, plot: str | None
) -> tuple[str, list[str], list[list[Any]], list[str]]:
    """(title, header, rows, notes) of the performance profile of several studies: each
    optimizer's ratio r on each problem, how often it was the fastest, how many it solved."""
    problems = result.profile["problems"]
    header = ["optimizer", *problems, "fastest on", "solved"]
    rows = []
    for name, ratios in result.ratios.items():
        cells = ["∞" if not math.isfinite(r) else f"{r:.3g}" for r in ratios]
        fastest = sum(r == 1.0 for r in ratios)
        solved = sum(math.isfinite(r) for r in ratios)
        rows.append([name, *cells, f"{fastest}/{len(ratios)}", f"{solved}/{len(ratios)}"])
    unit = "epochs" if result.by == "epochs" else "seconds"
    title = f"Performance profile: {len(problems)} problems (dataset · loss), by {unit} to target"
    notes = [
        f"r = {unit} to target ÷ the fastest optimizer's on that problem (its best configuration, "
        "median over seeds); target: training objective within 1% of the exact optimum, else of "
        "the best any run reached; ∞: not reached"
    ]
    if plot:
        notes.append(f"plot: {plot}")
    return title, header, rows, notes


# --------------------------------------------------------------------------- progress


class StderrProgress:
    """Progress on stderr, called as ``(done, total, value)``: a rich bar, plain lines or nothing.

    ``auto`` is the bar when stderr is a terminal, nothing otherwise. ``lines`` prints the first
    update (a sign of life that scripts and tests can wait for), the last, and in between at most
    one line a second, so a fast run does not print thousands.
    """

    LINE_SECONDS = 1.0

    def __init__(self, label: str, mode: str = "auto") -> None:
        self.label = label
        self.mode = mode
        self.bar: Any = None
        self.task: Any = None
        self.last_line: float | None = None
        self.last_step: float | None = None  # running-loss lines have a clock of their own

    def __enter__(self) -> Any:
        from losslab.views.render import stderr_console

        self.console = stderr_console()
        if self.mode == "bar" or (self.mode == "auto" and self.console.is_terminal):
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
        return self.bar is not None or self.mode == "lines"

    def __call__(self, done: int, total: int, value: float | None = None) -> None:
        info = f"loss {value:.6g}" if value is not None else ""
        if self.bar is not None:
            if self.task is None:
                self.task = self.bar.add_task(self.label, total=total, info="")
            self.bar.update(self.task, completed=done, total=total, info=info)
        elif self.mode == "lines":
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
