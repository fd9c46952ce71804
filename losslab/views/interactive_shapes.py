"""`losslab shapes --html FILE`: every loss and its gradient, with a slider per loss parameter.

The charts of :mod:`~losslab.views.shapes` (regression losses against the residual, losses of
positive targets against the prediction, classification losses against the margin), each with
its gradients under it; hover reads a value. For every loss that declares numeric parameters
(δ, τ, γ, ε, margin, power …) the curves over a range of each parameter (:func:`param_values`)
are computed in advance from the registered functions, and a slider per parameter switches
between them; a parameter that is a switch (poisson's log_input) stays at its default.
"""

from __future__ import annotations

import html
import itertools
from dataclasses import replace
from typing import Any

import numpy as np

from losslab.errors import ConfigError, LossLabError
from losslab.views.interactive import page, rounded_list, thin
from losslab.views.shapes import PALETTE  # the static figure's colours

PAGE_POINTS = 301  # points per curve on the page
PARAM_POINTS = 11  # values per parameter (its default added)
MAX_VARIANTS = 60  # curves per loss at most (the product of its parameters' values)

DASHES = ("solid", "dash", "dashdot", "dot")


def param_values(h: Any, n: int = PARAM_POINTS) -> list[float]:
    """The values a slider offers for the numeric parameter ``h`` (a :class:`Hyper`): its whole
    range where bounded on both sides (open ends moved in by 5%), a geometric range from an
    eighth to eight times the default where bounded below (0 too where allowed), the default
    ± 1 where unbounded; always with the default, only valid values."""
    d = h.default
    if h.kind is int:
        lo = h.low if h.low is not None else d
        hi = h.high if h.high is not None else d + n - 1
        grid = list(range(int(lo), int(hi) + 1))[:n]
    elif h.low is not None and h.high is not None:
        span = h.high - h.low
        lo = h.low + 0.05 * span if h.low_open else h.low
        hi = h.high - 0.05 * span if h.high_open else h.high
        grid = list(np.linspace(lo, hi, n))
    elif h.low is not None and d > 0:
        grid = list(np.geomspace(d / 8, d * 8, n - 1 if h.low == 0 else n))
        if h.low == 0 and not h.low_open:
            grid.insert(0, 0.0)
    else:
        grid = list(d + np.linspace(-1.0, 1.0, n - 1))
    values = sorted({float(f"{v:.3g}") for v in grid} | {d})
    valid = []
    for v in values:
        try:
            h.check(int(v) if h.kind is int else v)
        except (ConfigError, TypeError, ValueError):
            continue
        valid.append(int(v) if h.kind is int else v)
    return valid


GUARD = 1e-6  # a default this small is a numerical guard (poisson's eps), not a shape


def _numeric(loss: Any) -> list[Any]:
    """The parameters that get a slider: the numbers, not the switches or the guards."""
    return [h for h in loss.hypers if h.kind in (int, float) and not (0 < abs(h.default) < GUARD)]


def _variants(kind: str, loss: Any, x: np.ndarray, keep: list[int]) -> dict[str, Any]:
    """A loss's sliders (parameter, values, the default's index) and its curves at every
    combination of their values (keyed by the indices, "i,j"); a combination the loss refuses
    is left out."""
    from losslab.views.shapes import loss_curve

    params = _numeric(loss)
    grids = [param_values(h) for h in params]
    while np.prod([len(g) for g in grids]) > MAX_VARIANTS:  # thin the longest grid
        i = int(np.argmax([len(g) for g in grids]))
        g = grids[i]
        default = params[i].default
        grids[i] = sorted({*g[::2], default})
    curves = {}
    for combo in itertools.product(*[range(len(g)) for g in grids]):
        chosen = {h.name: grids[k][i] for k, (h, i) in enumerate(zip(params, combo, strict=True))}
        hypers = tuple(h.with_default(chosen[h.name]) if h.name in chosen else h
                       for h in loss.hypers)  # fmt: skip
        try:
            variant = replace(loss, hypers=hypers, params={h.name: h.default for h in hypers})
            value, grad, _ = loss_curve(kind, variant, x)
        except (LossLabError, ValueError, TypeError):
            continue
        curves[",".join(map(str, combo))] = {
            "v": rounded_list(np.asarray(value, dtype=float)[keep], 5),
            "g": rounded_list(np.asarray(grad, dtype=float)[keep], 5),
        }
    sliders = [
        {"name": h.name, "values": g, "index": g.index(h.default)}
        for h, g in zip(params, grids, strict=True)
    ]
    return {"sliders": sliders, "curves": curves}


def shapes_data(charts: list[Any]) -> dict[str, Any]:
    """The page's data: per chart its x, and per loss its label, colour and curves (every
    precomputed combination of its parameters)."""
    from losslab.losses import LOSSES

    out = []
    for chart in charts:
        keep = thin(len(chart.x), PAGE_POINTS)
        x = chart.x[keep]
        losses = []
        for i, name in enumerate(chart.values):
            loss = LOSSES.get(name)
            if _numeric(loss):
                v = _variants(chart.kind, loss, chart.x, keep)
            else:
                v = {"sliders": [], "curves": {"": {
                    "v": rounded_list(chart.values[name][keep], 5),
                    "g": rounded_list(chart.gradients[name][keep], 5),
                }}}  # fmt: skip
            losses.append(
                {
                    "name": name,
                    "label": chart.label(name),
                    "note": chart.notes.get(name, ""),
                    "colour": PALETTE[i % len(PALETTE)],
                    "dash": "dot"
                    if name in chart.same_as
                    else DASHES[(i // len(PALETTE)) % len(DASHES)],
                    **v,
                }
            )
        finite = [v[np.isfinite(v)] for v in chart.values.values()]
        top = float(np.percentile(np.concatenate(finite), 90)) if finite else 1.0
        title = "losses of positive targets" if chart.kind == "positive" else f"{chart.kind} losses"
        out.append(
            {
                "kind": chart.kind,
                "title": title,
                "xlabel": chart.xlabel,
                "x": rounded_list(x, 6),
                "top": 8.0 if chart.kind == "classification" else top,
                "grad": "s" if chart.kind == "classification" else "ŷ",
                "losses": losses,
            }
        )
    return {"charts": out}


SHAPES_JS = """
(function () {
  var D = LL.data(), root = document.getElementById("charts"), plots = [];
  function key(l) { return l.sliders.map(function (s) { return s.index; }).join(","); }
  function curve(l) { return l.curves[key(l)] || null; }
  function label(l) {  // "(= bce)" holds at the defaults only
    var moved = l.sliders.some(function (s) { return s.index !== s.start; });
    return (moved ? l.name : l.label) + l.sliders.map(function (s) {
      return " · " + s.name + " " + LL.short(s.values[s.index]);
    }).join("");
  }
  D.charts.forEach(function (c) { c.losses.forEach(function (l) {
    l.sliders.forEach(function (s) { s.start = s.index; });
  }); });
  D.charts.forEach(function (c, ci) {
    var sec = document.createElement("section");
    sec.innerHTML = "<h2>" + LL.escape(c.title) + "</h2><fieldset class='sl'><legend>parameters " +
      "(precomputed curves)</legend></fieldset><div class='plot' id='chart-" + ci + "'></div>";
    root.appendChild(sec);
    var gd = sec.querySelector(".plot"), box = sec.querySelector("fieldset");
    var traces = [];
    c.losses.forEach(function (l) {
      var k = curve(l) || {v: [], g: []};
      var line = {color: l.colour, dash: l.dash, width: 2};
      var hover = function (what) {
        return "<b>" + LL.escape(l.name) + "</b><br>x = %{x:.3g}<br>" + what +
          " = %{y:.4g}<extra></extra>";
      };
      traces.push({type: "scatter", mode: "lines", x: c.x, y: k.v, name: label(l),
        legendgroup: l.name, line: line, hovertemplate: hover("loss"), xaxis: "x", yaxis: "y"});
      traces.push({type: "scatter", mode: "lines", x: c.x, y: k.g, name: label(l),
        legendgroup: l.name, showlegend: false, line: line, hovertemplate: hover("gradient"),
        xaxis: "x2", yaxis: "y2"});
    });
    var layout = {height: 760, margin: {l: 70, r: 20, t: 34, b: 50}, font: {size: 14},
      hovermode: "closest",
      grid: {rows: 2, columns: 1, pattern: "independent", roworder: "top to bottom"},
      xaxis: {zeroline: true, anchor: "y"},
      yaxis: {title: {text: "loss per row"}, range: [-0.05 * c.top, 1.05 * c.top],
              domain: [0.52, 1]},
      xaxis2: {title: {text: c.xlabel}, zeroline: true, anchor: "y2", matches: "x"},
      yaxis2: {title: {text: "gradient ∂ℓ/∂" + c.grad}, range: [-3.5, 3.5], domain: [0, 0.42]},
      legend: {font: {size: 13}, x: 1.01, y: 1}};
    var plot = {gd: gd, chart: c};
    plots.push(plot);
    c.losses.forEach(function (l, li) {
      if (!l.sliders.length) return;
      var row = document.createElement("div"); row.className = "controls";
      row.innerHTML = "<b style='color:" + l.colour + ";min-width:11em'>" +
        LL.escape(l.name) + "</b>";
      l.sliders.forEach(function (s) {
        var lab = document.createElement("label"), out = document.createElement("output");
        var inp = document.createElement("input");
        inp.type = "range"; inp.min = 0; inp.max = s.values.length - 1; inp.step = 1;
        inp.value = s.index;
        out.textContent = LL.short(s.values[s.index]);
        inp.addEventListener("input", function () {
          s.index = +inp.value; out.textContent = LL.short(s.values[s.index]);
          var k = curve(l) || {v: [], g: []};
          Plotly.restyle(gd, {y: [k.v, k.g], name: [label(l), label(l)]}, [2 * li, 2 * li + 1]);
        });
        lab.appendChild(document.createTextNode(s.name));
        lab.appendChild(inp); lab.appendChild(out);
        row.appendChild(lab);
      });
      box.appendChild(row);
    });
    if (!box.querySelector(".controls")) box.remove();
    plot.ready = Plotly.newPlot(gd, traces, layout, PLOTLY_CONFIG);
  });
  Promise.all(plots.map(function (p) { return p.ready; })).then(function () {
    if (!LL.wantsSelftest()) return;
    var t = {charts: plots.length, traces: plots.map(function (p) { return p.gd.data.length; })};
    t.drawnPaths = document.querySelectorAll(".scatterlayer .trace path.js-line").length;
    var inp = document.querySelector("fieldset input[type=range]");
    if (inp) {
      var gd = inp.closest("section").querySelector(".plot");
      var before = JSON.stringify(gd.data.map(function (d) { return d.y; }));
      inp.value = (+inp.value + 1) % (+inp.max + 1); inp.dispatchEvent(new Event("input"));
      t.sliderChangesCurve = JSON.stringify(gd.data.map(function (d) { return d.y; })) !== before;
    }
    LL.selftest(t);
  });
})();
"""


def shapes_page(charts: list[Any]) -> str:
    """The page of the charts of :func:`losslab.views.shapes.loss_shapes`."""
    data = shapes_data(charts)
    notes = [
        f"{loss['name']}: {loss['note']}"
        for chart in data["charts"]
        for loss in chart["losses"]
        if loss["note"]
    ]
    body = (
        '<p class="muted">Hover a curve to read its value; click a legend entry to hide or show '
        "a loss. Each slider switches between curves computed in advance by the registered "
        "functions (the other parameters at their defaults).</p>"
        '<div id="charts"></div>'
        + (
            '<ul class="muted">' + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"
            if notes
            else ""
        )
    )
    lede = (
        "Regression losses against the residual r = ŷ − y (at y = 1), losses of positive "
        "targets against the prediction ŷ (at y = 1), classification losses against the "
        "margin m = t·s; each with its gradient under it."
    )
    return page("losslab shapes · interactive", lede, body, data, SHAPES_JS)
