"""Interactive offline pages (``losslab[interactive]``: Plotly's offline bundle, imported here).

One HTML file per page: plotly.js inlined once (``plotly.offline.get_plotlyjs()``), the page's
data as one JSON block, a short script that draws it; no script, style, font or image from
elsewhere, and no network request of any kind (Plotly's links to its cloud and its map server
are switched off). Every figure is drawn in the browser from the same tidy records the CSVs
hold. Besides the study explorer (:func:`study_page`) this module holds what every page shares:
the frame (:func:`page`), the error trap the tests read (``window.onerror`` writes into the
DOM), the data block and the sortable table. The landscape page is
:mod:`~losslab.views.interactive_landscape`, the loss shapes page
:mod:`~losslab.views.interactive_shapes`.

The study explorer: one curve per run (f − f* where the optimum is known; the training,
validation and test loss, the objective and the metric), hover showing the run's optimizer,
settings, epoch and value; the legend toggles an optimizer-and-lr group; selectors switch the
x-axis between epoch and wall time, the y-axis between linear and log and the quantity drawn;
the runs' table sorts by any column and highlights the curve of the row under the pointer.
Curves longer than :data:`PAGE_BYTES` allows are thinned (every k-th epoch, the first and
last always kept) and the page says so: 200 runs stay near 5 MB with plotly.js's 4.8 MB.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from losslab.errors import ConfigError

PAGE_BYTES = 5 * 2**20  # a study page at most: plotly.js (4.8 MB), the tables, thinned curves
CHROME_BYTES = 20_000  # the page around the data: styles, scripts, headings
DIGITS = 4  # significant digits of a curve's values (the table keeps 6)
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C8C8C")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
PLOTLY_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "showLink": False,
    "showEditInChartStudio": False,
    "showSendToCloud": False,
    "topojsonURL": "",
    "toImageButtonOptions": {"format": "png", "scale": 2},
}

CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #fff; color: #1a1a1a;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "Liberation Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 20px 40px; }
h1 { font-size: 23px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 26px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.lede, .muted { color: #555; }
p.lede { margin: 0 0 12px; }
.muted { font-size: 13.5px; }
.controls { display: flex; flex-wrap: wrap; gap: 10px 22px; align-items: center;
  margin: 8px 0; font-size: 14.5px; }
.controls label { display: inline-flex; gap: 6px; align-items: center; }
.controls output { font-variant-numeric: tabular-nums; min-width: 4.5em; display: inline-block; }
button { font: inherit; padding: 3px 12px; cursor: pointer; }
select, input[type=range] { font: inherit; }
.plot { width: 100%; }
.scroll { overflow: auto; max-height: 520px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 7px; border-bottom: 1px solid #e4e4e4; text-align: left;
  white-space: nowrap; }
th { border-bottom: 2px solid #bbb; font-weight: 600; position: sticky; top: 0; background: #fff;
  cursor: pointer; user-select: none; }
th.sorted-up::after { content: " ▲"; font-size: 10px; }
th.sorted-down::after { content: " ▼"; font-size: 10px; }
td.num, th.num { text-align: right; }
tbody tr:hover td, tr.hot td { background: #fff4d6; }
fieldset { border: 1px solid #ddd; margin: 8px 0; padding: 6px 12px; }
legend { font-size: 13.5px; color: #444; }
#losslab-errors:empty, #losslab-selftest:empty { display: none; }
#losslab-errors { color: #a00; white-space: pre-wrap; }
"""

# Before plotly.js: every script error (and unhandled rejection) is written into the DOM, where
# the browser tests (and a reader) find it.
ERROR_TRAP = """
window.losslabErrors = [];
window.onerror = function (message, source, line, column) {
  var text = String(message) + " (line " + line + ":" + column + ")";
  window.losslabErrors.push(text);
  var box = document.getElementById("losslab-errors");
  if (box) box.textContent += text + "\\n";
};
window.addEventListener("unhandledrejection", function (e) {
  window.onerror("unhandled rejection: " + e.reason, "", 0, 0);
});
"""

# Shared helpers: the data block, number formatting, the sortable table, the self-test output.
COMMON_JS = """
var LL = (function () {
  function data() { return JSON.parse(document.getElementById("losslab-data").textContent); }
  function fmt(v) {
    if (v === null || v === undefined) return "";
    if (typeof v !== "number") return String(v);
    if (!isFinite(v)) return String(v);
    if (Math.abs(v) >= 1e6) return v.toExponential(3);
    return String(+v.toPrecision(5));
  }
  function short(v) {  // a slider's value: three significant digits
    return typeof v === "number" ? String(+v.toPrecision(3)) : String(v);
  }
  function table(el, columns, rows, onHover) {
    var numeric = columns.map(function (c, j) {
      return rows.some(function (r) { return typeof r[j] === "number"; }) &&
        rows.every(function (r) { return r[j] === null || typeof r[j] === "number"; });
    });
    var thead = "<thead><tr>" + columns.map(function (c, j) {
      return "<th data-col=\\"" + j + "\\"" + (numeric[j] ? " class=num" : "") + ">" +
        escape(c) + "</th>";
    }).join("") + "</tr></thead>";
    el.innerHTML = "<table>" + thead + "<tbody></tbody></table>";
    var body = el.querySelector("tbody"), order = rows.map(function (r, i) { return i; });
    var sortCol = -1, up = true;
    function draw() {
      body.innerHTML = order.map(function (i) {
        return "<tr data-row=\\"" + i + "\\">" + rows[i].map(function (v, j) {
          return "<td" + (numeric[j] ? " class=num" : "") + ">" + escape(fmt(v)) + "</td>";
        }).join("") + "</tr>";
      }).join("");
    }
    el.querySelectorAll("th").forEach(function (th) {
      th.addEventListener("click", function () {
        var j = +th.dataset.col;
        up = sortCol === j ? !up : true; sortCol = j;
        order.sort(function (a, b) {
          var x = rows[a][j], y = rows[b][j];
          if (x === y) return a - b;
          if (x === null || x === undefined) return 1;
          if (y === null || y === undefined) return -1;
          var c = numeric[j] ? x - y
            : String(x).localeCompare(String(y), undefined, {numeric: true});
          return (up ? c : -c) || a - b;
        });
        el.querySelectorAll("th").forEach(function (h) {
          h.className = numeric[+h.dataset.col] ? "num" : "";
        });
        th.classList.add(up ? "sorted-up" : "sorted-down");
        draw();
      });
    });
    if (onHover) {
      body.addEventListener("mouseover", function (e) {
        var tr = e.target.closest("tr"); if (tr) onHover(+tr.dataset.row);
      });
      body.addEventListener("mouseleave", function () { onHover(null); });
    }
    draw();
    return {sort: function (j) { el.querySelectorAll("th")[j].click(); }};
  }
  function escape(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\"": "&quot;"}[c];
    });
  }
  function selftest(result) {
    document.getElementById("losslab-selftest").textContent = JSON.stringify(result);
  }
  function wantsSelftest() { return location.hash.indexOf("selftest") >= 0; }
  return {data: data, fmt: fmt, short: short, table: table, escape: escape, selftest: selftest,
          wantsSelftest: wantsSelftest};
})();
"""


def require_plotly() -> str:
    """plotly.js (the offline bundle), or one line naming the extra to install."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise ConfigError(
            "interactive pages need plotly: pip install 'losslab[interactive]'"
        ) from None
    return get_plotlyjs()


def rounded(value: Any, digits: int = DIGITS) -> float | None:
    """A number with ``digits`` significant digits for the page (None for NaN, ±inf, None)."""
    if value is None or isinstance(value, bool):
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        return value
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits}g}")


def rounded_list(values: Any, digits: int = DIGITS) -> list[float | None]:
    return [rounded(v, digits) for v in values]


def _json(data: Any) -> str:
    """JSON safe inside a <script> block (no "</" can close it)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def page(title: str, lede: str, body: str, data: Any, script: str) -> str:
    """A complete self-contained page: the error trap, plotly.js once, the data block, the
    shared helpers and the page's script."""
    from losslab import __version__

    plotly_js = require_plotly()
    config = _json(PLOTLY_CONFIG)
    e = html.escape
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style>"
        f"<script>{ERROR_TRAP}</script>"
        f"<script>window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script>"
        f"<script>{plotly_js}</script></head>"
        f'<body><main><h1>{e(title)}</h1><p class="lede">{e(lede)}</p>'
        '<pre id="losslab-errors"></pre><pre id="losslab-selftest"></pre>'
        f"{body}"
        f'<p class="muted">Written by losslab {e(__version__)} with plotly.js (inlined: this '
        "file needs no network).</p></main>"
        f'<script id="losslab-data" type="application/json">{_json(data)}</script>'
        f"<script>var PLOTLY_CONFIG = {config};{COMMON_JS}{script}</script>"
        "</body></html>\n"
    )


def thin(n: int, keep: int) -> list[int]:
    """At most ``keep`` (≥ 2) of the indices 0 … n−1, evenly spread, the first and last kept."""
    if n <= keep:
        return list(range(n))
    step = (n - 1) / (keep - 1)
    return sorted({round(i * step) for i in range(keep)})


# --------------------------------------------------------------------------- the study explorer

CURVE_LABELS = {
    "gap": "f − f* (training objective − exact optimum)",
    "objective": "training objective",
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "test_loss": "test loss",
}
SETTINGS = ("loss", "batch_size", "hidden", "layers", "seed")


def study_data(drawable: Any, keep: int | None = None) -> dict[str, Any]:
    """The explorer's data from a study's tidy records (``plot.Drawable``: runs, curves, optima):
    per run its row of runs.csv and its curves (at most ``keep`` epochs of each, evenly spread),
    the quantities to draw and the legend groups. Extra columns (a phase, settings) are carried
    as they are. Where the optimum is known, f − f* is drawn and the objective (f* apart) not."""
    runs, optima = drawable.runs, drawable.optima
    by_run: dict[Any, list[dict[str, Any]]] = {}
    for row in drawable.curves:
        by_run.setdefault(row["run"], []).append(row)
    longest = max((len(v) for v in by_run.values()), default=0)
    keep = max(2, longest if keep is None else keep)
    thinned = longest > keep
    columns: list[str] = []  # every column any run has a value in (extra ones too)
    for run in runs:
        columns += [k for k in run if k not in columns and any(r.get(k) is not None for r in runs)]
    quantities: list[str] = []
    curves = []
    groups: dict[tuple[str, Any], int] = {}
    optimizers = list(dict.fromkeys(str(r.get("optimizer")) for r in runs))
    lrs: dict[str, list[Any]] = {}
    for run in runs:
        lrs.setdefault(str(run.get("optimizer")), [])
        if run.get("lr") not in lrs[str(run.get("optimizer"))]:
            lrs[str(run.get("optimizer"))].append(run.get("lr"))
    for run in runs:
        rows = sorted(by_run.get(run["run"], []), key=lambda r: r.get("epoch") or 0)
        picked = [rows[i] for i in thin(len(rows), keep)]
        series: dict[str, list[Any]] = {
            "epoch": [r.get("epoch") for r in picked],
            "seconds": rounded_list([r.get("seconds") for r in picked], 4),
        }
        per_seed = optima.get(run.get("loss")) or []
        optimum = per_seed[int(run.get("seed") or 0) % len(per_seed)] if per_seed else None
        if optimum is not None:
            floor = 1e-15 * max(1.0, abs(optimum))
            series["gap"] = rounded_list(
                [
                    max(r["objective"] - optimum, floor)
                    if isinstance(r.get("objective"), (int, float))
                    and math.isfinite(r["objective"])
                    else None
                    for r in picked
                ]
            )
        known = {"run", "epoch", "seconds", "lr", *(["objective"] if "gap" in series else [])}
        for name in picked[0] if picked else {}:
            if name not in known and any(_finite(r.get(name)) for r in picked):
                series[name] = rounded_list([r.get(name) for r in picked])
        quantities += [q for q in series if q not in ("epoch", "seconds") and q not in quantities]
        opt = str(run.get("optimizer"))
        key = (opt, run.get("lr"))
        group = groups.setdefault(key, len(groups))
        settings = {k: run[k] for k in SETTINGS if run.get(k) not in (None, "")}
        curves.append(
            {
                "run": run["run"],
                "group": group,
                "label": f"{opt} lr {run.get('lr'):g}"
                if isinstance(run.get("lr"), (int, float))
                else opt,
                "settings": ", ".join(f"{k} {v}" for k, v in settings.items()),
                "status": run.get("status"),
                "colour": COLOURS[optimizers.index(opt) % len(COLOURS)],
                "dash": DASHES[lrs[opt].index(run.get("lr")) % len(DASHES)],
                **series,
            }
        )
    order = ["gap", "objective", "train_loss", "val_loss", "test_loss"]
    quantities.sort(key=lambda q: order.index(q) if q in order else len(order))
    return {
        "title": drawable.title,
        "columns": columns,
        "rows": [[_cell(run.get(c)) for c in columns] for run in runs],
        "curves": curves,
        "quantities": [{"key": q, "label": CURVE_LABELS.get(q, q)} for q in quantities],
        "thinned": {"kept": keep, "longest": longest} if thinned else None,
    }


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _cell(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float):
        return rounded(v, 6)
    return v


STUDY_JS = """
(function () {
  var D = LL.data(), gd = document.getElementById("curves");
  var state = {x: "epoch", log: true, hot: null,
               q: D.quantities.length ? D.quantities[0].key : null};
  var qsel = document.getElementById("quantity");
  D.quantities.forEach(function (q) {
    var o = document.createElement("option");
    o.value = q.key; o.textContent = q.label; qsel.appendChild(o);
  });
  function traces() {
    var seen = {};
    return D.curves.map(function (c) {
      var first = !seen[c.group]; seen[c.group] = true;
      var ys = c[state.q] || [];
      var hot = state.hot, dim = hot !== null && hot !== c.run;
      return {
        type: "scatter", mode: "lines", x: c[state.x], y: ys, name: c.label,
        legendgroup: "g" + c.group, showlegend: first,
        customdata: c.epoch,
        line: {color: c.colour, dash: c.dash, width: hot === c.run ? 4 : 1.6},
        opacity: dim ? 0.18 : 0.9,
        hovertemplate: "<b>" + LL.escape(c.label) + "</b> · run " + c.run + "<br>" +
          LL.escape(c.settings) + (c.status && c.status !== "completed" ? " · " + c.status : "") +
          "<br>epoch %{customdata}" + (state.x === "seconds" ? " · %{x:.3g} s" : "") +
          "<br>" + LL.escape(state.q) + " = %{y:.5g}<extra></extra>"
      };
    });
  }
  function layout() {
    var q = D.quantities.filter(function (x) { return x.key === state.q; })[0];
    return {
      margin: {l: 70, r: 20, t: 20, b: 55}, height: 520, hovermode: "closest",
      font: {size: 14},
      xaxis: {title: {text: state.x === "epoch" ? "epoch" : "wall time (s)"}, zeroline: false},
      yaxis: {title: {text: q ? q.label : ""}, type: state.log ? "log" : "linear",
              exponentformat: "power"},
      legend: {title: {text: "optimizer · lr (click: hide/show)"}, font: {size: 13}}
    };
  }
  function draw() { return Plotly.react(gd, traces(), layout(), PLOTLY_CONFIG); }
  function bind(id, key, parse) {
    document.getElementById(id).addEventListener("change", function (e) {
      state[key] = parse(e.target.value); draw();
    });
  }
  bind("xaxis", "x", String); bind("yscale", "log", function (v) { return v === "log"; });
  bind("quantity", "q", String);
  var runIndex = D.columns.indexOf("run");
  LL.table(document.getElementById("runs"), D.columns, D.rows, function (i) {
    var run = i === null ? null : D.rows[i][runIndex];
    if (run === state.hot) return;
    state.hot = run;
    var widths = D.curves.map(function (c) { return run === c.run ? 4 : 1.6; });
    var opacity = D.curves.map(function (c) { return run === null || run === c.run ? 0.9 : 0.18; });
    Plotly.restyle(gd, {"line.width": widths, "opacity": opacity});
  });
  draw().then(function () {
    if (!LL.wantsSelftest()) return;
    var out = {traces: gd.data.length, xBefore: gd.data[0].x.slice(-1)[0]};
    var sel = document.getElementById("xaxis"); sel.value = "seconds";
    sel.dispatchEvent(new Event("change"));
    out.xAfter = gd.data[0].x.slice(-1)[0];
    out.yaxis = gd.layout.yaxis.type;
    document.querySelector("#runs th").click(); document.querySelector("#runs th").click();
    out.firstRowAfterSort = document.querySelector("#runs tbody tr td").textContent;
    var row = document.querySelector("#runs tbody tr");
    row.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
    out.hotWidths = gd.data.map(function (t) { return t.line.width; });
    out.drawnPaths = gd.querySelectorAll(".scatterlayer .trace path.js-line").length;
    LL.selftest(out);
  });
})();
"""


def study_page(
    drawable: Any, *, results_html: str = "", title: str = "losslab compare · interactive"
) -> str:
    """The explorer of a study (its tidy records): curves, selectors, the sortable runs table;
    ``results_html`` (the compare table) above them."""
    budget = PAGE_BYTES - len(require_plotly()) - len(results_html.encode()) - CHROME_BYTES
    data = study_data(drawable)
    size = len(_json(data).encode())
    for _ in range(6):  # thinner curves until the page fits (the tables do not shrink)
        if size <= budget or (data["thinned"] and data["thinned"]["kept"] <= 2):
            break
        longest = max((len(c["epoch"]) for c in data["curves"]), default=2)
        data = study_data(drawable, int(longest * min(0.9, 0.95 * budget / size)))
        size = len(_json(data).encode())
    thinned = data["thinned"]
    note = (
        f" Curves thinned for size: each run keeps {thinned['kept']} of up to "
        f"{thinned['longest']} epochs (evenly spread, the first and last kept); the CSVs hold "
        "every epoch."
        if thinned
        else ""
    )
    controls = (
        '<div class="controls">'
        '<label>x-axis <select id="xaxis"><option value="epoch">epoch</option>'
        '<option value="seconds">wall time</option></select></label>'
        '<label>y-axis <select id="yscale"><option value="log">log</option>'
        '<option value="linear">linear</option></select></label>'
        '<label>curve <select id="quantity"></select></label></div>'
    )
    body = (
        (f"<h2>Results</h2>{results_html}" if results_html else "")
        + "<h2>Curves</h2>"
        + controls
        + '<div id="curves" class="plot"></div>'
        + '<p class="muted">One curve per run. Hover a curve for its optimizer, settings, epoch '
        "and value; click a legend entry to hide or show that optimizer and lr (double-click: "
        f"only it); drag to zoom, double-click to reset.{html.escape(note)}</p>"
        + f"<h2>Runs ({len(data['rows'])})</h2>"
        + '<p class="muted">Click a column head to sort (again: reverse); the row under the '
        "pointer highlights its curve.</p>" + '<div id="runs" class="scroll"></div>'
    )
    return page(title, data["title"], body, data, STUDY_JS)


class Page:
    """An interactive page in a notebook: ``_repr_html_`` shows it in a sandboxed frame (its
    scripts apart from the notebook's); ``html`` is the file's text."""

    def __init__(self, text: str, height: int = 1100) -> None:
        self.html = text
        self.height = height

    def __len__(self) -> int:
        return len(self.html)

    def _repr_html_(self) -> str:
        return (
            f'<iframe sandbox="allow-scripts" style="width:100%;height:{self.height}px;'
            f'border:1px solid #ddd" srcdoc="{html.escape(self.html, quote=True)}"></iframe>'
        )


def check_html_name(path: str | Path, flag: str = "--html") -> Path:
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"{flag} takes an .html file name, got {path.name!r}")
    return path
