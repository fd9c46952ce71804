"""`losslab report`: a saved study or run as one self-contained HTML page.

The page holds the table `losslab compare` (or `fit`) prints, the comparison figure inline as SVG,
the configuration, the data's fingerprint and the versions. Nothing is loaded from elsewhere (no
script, stylesheet, font or image from the network), so the file can be mailed, handed in or
opened offline years later.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any

from losslab.data.write import new_file
from losslab.errors import ConfigError, LossLabError

CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #fff; color: #1a1a1a;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "Liberation Sans", sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.lede { color: #555; margin: 0 0 16px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 7px; border-bottom: 1px solid #e4e4e4; text-align: left;
  vertical-align: top; white-space: nowrap; }
th { border-bottom: 2px solid #bbb; font-weight: 600; }
td.num, th.num { text-align: right; }
tr.best td { background: #eef6ee; font-weight: 600; }
table.kv td:first-child { color: #555; }
td.wrap { white-space: normal; word-break: break-all; }
ul.notes { color: #444; font-size: 13.5px; padding-left: 20px; }
figure { margin: 16px 0; }
figure svg { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption, .muted { color: #666; font-size: 13.5px; }
details { margin: 8px 0; }
summary { cursor: pointer; color: #333; }
.settings { column-width: 300px; column-gap: 24px; font-size: 13px; margin: 8px 0; }
.settings div { break-inside: avoid; padding: 2px 0; border-bottom: 1px solid #eee;
  display: flex; gap: 12px; justify-content: space-between; }
.settings span:first-child { color: #555; }
.settings span:last-child { text-align: right; overflow-wrap: anywhere; }
pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 12.5px; }
code, pre { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace; }
"""
TEXT_COLUMNS = {"optimizer", "loss", "hidden", "layers", "status", "model", ""}


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(header: list[str], rows: list[list[Any]], *, best: bool = False, digits: int = 5) -> str:
    """An HTML table; columns of numbers are right-aligned, each in one notation with ``digits``
    significant digits, as the terminal shows it."""
    from losslab.views.numbers import column_formatter

    numeric = [name.split("\n")[0] not in TEXT_COLUMNS for name in header]
    shows = [column_formatter([r[j] for r in rows], digits) for j in range(len(header))]
    head = "".join(
        f"<th{' class=num' if n else ''}>{_e(h.replace(chr(10), ' '))}</th>"
        for h, n in zip(header, numeric, strict=True)
    )
    body = []
    for i, row in enumerate(rows):
        cells = "".join(
            f"<td{' class=num' if n else ''}>{_e(show(v))}</td>"
            for v, n, show in zip(row, numeric, shows, strict=True)
        )
        body.append(f"<tr{' class=best' if best and i == 0 else ''}>{cells}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _pairs(items: list[tuple[str, Any]]) -> str:
    """A two-column table of settings; long values (hashes, paths) may wrap."""
    rows = []
    for key, value in items:
        if isinstance(value, (list, dict)):
            value = json.dumps(value, ensure_ascii=False)
        text = _e(value)
        wrap = ' class="wrap"' if len(text) > 60 else ""
        rows.append(f"<tr><td>{_e(key)}</td><td{wrap}>{text}</td></tr>")
    return f'<div class="scroll"><table class="kv"><tbody>{"".join(rows)}</tbody></table></div>'


def figure_svg(drawable: Any) -> str:
    """The comparison figure as inline SVG markup (no XML prolog, no metadata, no external
    reference: glyphs are paths, ids are local)."""
    from losslab.views.plot import study_figure

    return svg_of(
        study_figure(
            drawable.runs,
            drawable.curves,
            optima=drawable.optima,
            title=drawable.title,
            skip=drawable.skip,
        )
    )


def svg_of(fig: Any) -> str:
    """A matplotlib figure as inline SVG markup (closed once drawn): no XML prolog, no metadata,
    no external reference."""
    import io

    from losslab.views.plot import require_matplotlib

    plt = require_matplotlib()
    buffer = io.StringIO()
    try:
        metadata = {"Creator": None, "Date": None, "Format": None, "Type": None}
        with plt.rc_context({"svg.hashsalt": "losslab-report", "svg.fonttype": "path"}):
            fig.savefig(buffer, format="svg", metadata=metadata)
    finally:
        plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # the XML declaration and the DTD (a URL) go
    # inside HTML the namespaces are implied; dropping them leaves no URL in the page
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg, count=0)
    return svg.replace("<svg", '<svg role="img"', 1)


def _figure_section(drawable: Any, caption: str, draw: Any = None) -> tuple[str, list[str]]:
    """(the figure's HTML, warnings): without matplotlib the page says so and has no figure.
    ``draw()`` gives another figure's SVG than the comparison figure of ``drawable``."""
    try:
        svg = draw() if draw is not None else figure_svg(drawable)
    except LossLabError as exc:
        note = f"no figure: {exc}"
        return f'<p class="muted">{_e(note)}</p>', [note]
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>", []


def _page(title: str, lede: str, sections: list[tuple[str, str]], source: Path) -> str:
    from losslab import __version__

    body = "".join(f"<section><h2>{_e(h)}</h2>{content}</section>" for h, content in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f'<body><main><h1>{_e(title)}</h1><p class="lede">{_e(lede)}</p>{body}'
        f'<p class="muted">Written by losslab {_e(__version__)} (<code>losslab report</code>) '
        f"from the record <code>{_e(source)}</code>.</p></main></body></html>\n"
    )


def _versions(config: dict[str, Any]) -> str:
    versions = config.get("versions") or {}
    if not versions:
        return '<p class="muted">not recorded</p>'
    order = ["python", "numpy", "losslab"]
    keys = [k for k in order if k in versions] + [k for k in versions if k not in order]
    return _pairs([(k, versions[k]) for k in keys])


def _settings(settings: dict[str, Any], skip: tuple[str, ...] = ()) -> str:
    """Every setting that has a value, in columns, and the whole of them as JSON."""
    items = []
    for key, value in settings.items():
        if value is None or key in skip:
            continue
        if isinstance(value, (list, dict)):
            value = json.dumps(value, ensure_ascii=False)
        items.append(f"<div><span>{_e(key)}</span><span>{_e(value)}</span></div>")
    everything = json.dumps(settings, indent=2, ensure_ascii=False)
    return (
        f'<div class="settings">{"".join(items)}</div>'
        f"<details><summary>as JSON</summary><pre>{_e(everything)}</pre></details>"
    )


STUDY_CAPTION = (
    "Each panel has its own y-axis; colour (and marker) is the optimizer, line style the "
    "learning rate; the legend has one entry per optimizer and learning rate."
)


def study_results(study: Any) -> tuple[str, str]:
    """(title, HTML) of a study's table (as `losslab compare` prints it, without the curves the
    figure shows) and its notes."""
    from losslab.views.render import study_table

    title, header, rows, notes = study_table(study)
    keep = [i for i, h in enumerate(header) if h != "train curve"]  # the figure shows curves
    table = _table([header[i] for i in keep], [[r[i] for i in keep] for r in rows], best=True)
    notes = [n for n in notes if not n.startswith("saved: ")]
    return title, table + _notes(notes)


def _notes(notes: list[str]) -> str:
    return '<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"


def study_html(directory: Path, drawable: Any) -> tuple[str, list[str]]:
    """(the page of a saved study, warnings), from its records (plot.study_records)."""
    study = drawable.study
    title, results = study_results(study)
    figure, warnings = _figure_section(drawable, STUDY_CAPTION)
    runs_header = [k for k in study.runs[0] if any(r.get(k) is not None for r in study.runs)]
    runs = _table(runs_header, [[r.get(k) for k in runs_header] for r in study.runs])
    results += f"<details><summary>every run ({len(study.runs)})</summary>{runs}</details>"
    config = study.config
    grid = config.get("grid") or {}
    base = config.get("base") or {}

    def listed(values: Any) -> Any:
        if isinstance(values, list):
            return ", ".join("default" if v is None else str(v) for v in values)
        return values

    varied = ("optimizer", "lr", "loss", "batch_size", "seed", "hidden", "layers", "features")
    configuration = (
        _pairs(
            [
                (name, listed(v))
                for name, v in grid.items()
                if v is not None and (name not in ("hiddens", "layers") or v != [None])
            ]
        )
        + '<p class="muted">Every run\'s other settings:</p>'
        + _settings(base, skip=varied)
    )
    data = config.get("data") or {}
    sections = [
        ("Results", results),
        ("Figure", figure),
        ("Configuration", configuration),
        ("Data", _pairs(list(data.items()))),
        ("Versions", _versions(config)),
    ]
    lede = title + (" · PARTIAL: interrupted before every run finished" if study.partial else "")
    heading = f"losslab compare · {config['data']['source']} · {config['model']}"
    return _page(heading, lede, sections, directory), warnings


def run_html(directory: Path, drawable: Any) -> tuple[str, list[str]]:
    """(the page of a saved run, warnings), from its records (plot.run_records)."""
    from losslab.study import schema
    from losslab.views.describe import preparation, run_settings
    from losslab.views.render import fit_rows

    config = drawable.config
    metrics_file = directory / "metrics.json"
    results = ""
    if metrics_file.is_file():
        rows = fit_rows(schema.run_metrics(metrics_file))
        results = _table(["", "value"], [list(r) for r in rows])
    figure, warnings = _figure_section(drawable, "Loss and metric by epoch of this run.")
    calibration = _reliability_section(directory, warnings)
    data = config.get("data_file") or {}
    settings = {k: v for k, v in config.items() if k not in ("data_file", "versions", "command")}
    chosen = _pairs(run_settings(config))
    everything = json.dumps(settings, indent=2, ensure_ascii=False)
    configuration = (
        f"{chosen}<details><summary>every setting</summary><pre>{_e(everything)}</pre></details>"
    )
    data_items = [(k, preparation(config, v) if k == "preparation" else v) for k, v in data.items()]
    sections = [
        ("Results", results or '<p class="muted">no metrics.json in the record</p>'),
        ("Figure", figure),
        *calibration,
        ("Configuration", configuration),
        ("Data", _pairs(data_items)),
        ("Versions", _versions(config)),
    ]
    heading = f"losslab fit · {config.get('data', '')} · {config['model']}"
    return _page(heading, drawable.title, sections, directory), warnings


def _reliability_section(directory: Path, warnings: list[str]) -> list[tuple[str, str]]:
    """The Calibration section of a classifier's run that recorded reliability bins (none
    otherwise): its reliability diagram (views/reliability.py)."""
    from losslab.views.reliability import reliability_figure, reliability_of

    try:
        config, bins = reliability_of(directory)
    except LossLabError:
        return []
    title = f"{config.get('data', '?')} · {config['model']} · {config['loss']}"
    caption = "Reliability diagram: accuracy against confidence per bin, the bin counts below."
    section, more = _figure_section(
        None, caption, lambda: svg_of(reliability_figure(bins, title=title))
    )
    warnings.extend(more)
    return [("Calibration", section)]


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place: a reader sees
    the old file or the new one, never half of one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = new_file(path.parent, f".{path.name}.")
    except FileExistsError:
        raise LossLabError(f"cannot write the report {path}: not a directory") from None
    except OSError as exc:
        raise LossLabError(f"cannot write the report {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LossLabError(f"cannot write the report {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def report(
    result: str | Path, out: str | Path | None = None, *, interactive: bool = False
) -> tuple[Path, list[str]]:
    """Write the HTML report of a saved study or run (default: RESULT/report.html); returns
    (the file, warnings such as a figure left out for want of matplotlib). ``interactive``:
    the explorer page of :mod:`losslab.views.interactive` (needs plotly)."""
    from losslab.views.plot import records_of

    directory = Path(result)
    path = Path(out) if out is not None else directory / "report.html"
    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out takes an .html file name, got {path.name!r}")
    if interactive:
        from losslab.views.interactive import require_plotly

        require_plotly()  # before the records are read: one line naming the extra
    drawable = records_of(directory)  # validated as `losslab plot` validates it
    if interactive:
        from losslab.views.interactive import study_page

        if drawable.study is None:
            page = study_page(drawable, title=f"losslab fit · {directory.name}")
        else:
            page = study_page(drawable, results_html=study_results(drawable.study)[1])
        warnings: list[str] = []
    elif drawable.study is not None:
        page, warnings = study_html(directory, drawable)
    else:
        page, warnings = run_html(directory, drawable)
    write_text_atomic(path, page)
    return path, warnings
