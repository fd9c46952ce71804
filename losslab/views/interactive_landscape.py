"""`losslab landscape … --html FILE`: the contour map with every optimizer's path animated.

Play, pause, step and a step slider move every path along at once (Distill's "Why Momentum
Really Works", Goh 2017, on losslab's test functions, the quadratic of any κ and a fit's plane).
Each optimizer has sliders that switch between *precomputed* paths: on a test function its
learning rate (the --tune grid, else nine lrs from a tenth to ten times its own) and, where the
rule has one, its momentum or β1 (:data:`MOMENTA`); on data its lr (the --tune grid, else five
lrs from a tenth to ten times its own) and a noise control that switches between the batch
sizes given (``--batch-size 8,32,full``), every path trained as `fit` trains it and projected
onto the same plane — the part Distill left out: what minibatch noise does to the same
optimizer. Nothing is computed in the browser but the drawing.
"""

from __future__ import annotations

import html
import itertools
from dataclasses import replace
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.views.interactive import COLOURS, page, rounded_list, thin

MOMENTUM_NAMES = ("momentum", "beta1")  # the first one a rule declares gets a slider
MOMENTA = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
LR_FACTORS = np.geomspace(0.1, 10.0, 9)  # around an optimizer's own lr when not --tune
DATA_LR_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0)  # on data (each a training run): five
MAP_POINTS = 121  # points per axis of the map on the page
PATH_POINTS = 400  # points per path on the page (longer paths are thinned evenly)


def _path(points: np.ndarray, values: np.ndarray, diverged: int | None) -> dict[str, Any]:
    keep = thin(len(values), PATH_POINTS)
    return {
        "x": rounded_list(points[keep, 0], 6),
        "y": rounded_list(points[keep, 1], 6),
        "f": rounded_list(values[keep], 5),
        "step": keep,
        "diverged": diverged,
    }


def _momentum_of(hyper: dict[str, Any]) -> str | None:
    return next((n for n in MOMENTUM_NAMES if n in hyper), None)


def _lr_grid(p: Any, factors: Any) -> list[float]:
    """A path's lr grid: the --tune grid it was picked from, else ``factors`` times its lr (to
    three digits), its own lr always among them."""
    if p.candidates:
        grid = [c["lr"] for c in p.candidates]
    else:
        grid = [float(f"{p.lr * f:.3g}") for f in factors]
    return grid if p.lr in grid else sorted([*grid, p.lr])


def function_variants(land: Any, *, lrs: Any = None) -> dict[str, dict[str, Any]]:
    """Per optimizer of a test-function landscape: its axes (lr, and momentum or β1 where the
    rule has one) and the path at every point of their grid (None where the rule refuses the
    setting). ``lrs``: the lr grid (default: the --tune grid the paths were tuned on, else
    :data:`LR_FACTORS` times each optimizer's lr)."""
    from losslab.views.functions2d import make_function
    from losslab.views.landscape import function_path

    info = land.info
    fn = make_function(info["function"]["name"], condition=info["function"].get("condition"))
    out = {}
    for p in land.paths:
        grid = list(lrs) if lrs is not None and not p.candidates else _lr_grid(p, LR_FACTORS)
        if p.lr not in grid:
            grid = sorted([*grid, p.lr])
        name = _momentum_of(p.hyperparameters)
        momenta = sorted({*MOMENTA, float(p.hyperparameters[name])}) if name else [None]
        paths: dict[str, Any] = {}
        for i, lr in enumerate(grid):
            for j, m in enumerate(momenta):
                hyper = dict(p.hyperparameters)
                if name is not None:
                    hyper[name] = m
                try:
                    t = function_path(
                        fn, p.optimizer, start=info["start"], steps=info["steps"], lr=lr,
                        hyper=hyper,
                    )  # fmt: skip
                except ConfigError:
                    continue
                paths[f"{i},{j}" if name else str(i)] = _path(t.points, t.values, t.diverged_at)
        axes = [{"name": "lr", "values": grid, "index": grid.index(p.lr)}]
        if name is not None:
            label = "β1" if name == "beta1" else name
            index = momenta.index(float(p.hyperparameters[name]))
            axes.append({"name": label, "values": momenta, "index": index})
        out[p.optimizer] = {"axes": axes, "paths": paths}
    return out


def data_variants(land: Any, batch_sizes: list[int] | None = None) -> dict[str, dict[str, Any]]:
    """Per optimizer of a landscape on data: its path at each lr of its grid (the --tune grid,
    else :data:`DATA_LR_FACTORS` times its lr) and, with ``batch_sizes`` (the map's own first),
    at each batch size: trained as `fit` trains it with the landscape's settings and projected
    onto the landscape's plane; the value is the full training objective at each epoch's θ."""
    from losslab.train.loop import train
    from losslab.train.prepare import prepare
    from losslab.views.landscape import hyper_for, plane_coordinates

    plane = land.plane
    if plane is None:
        raise ConfigError("this landscape keeps no plane: draw it again for an interactive page")
    config, center, D, objective = plane["config"], plane["center"], plane["D"], plane["objective"]
    problem, split = prepare(config)
    batches = batch_sizes if batch_sizes and len(batch_sizes) > 1 else None
    out = {}
    for p in land.paths:
        grid = _lr_grid(p, DATA_LR_FACTORS)
        paths: dict[str, Any] = {}
        for (i, lr), (j, batch) in itertools.product(
            enumerate(grid), enumerate(batches or [config.batch_size])
        ):
            key = f"{i},{j}" if batches else str(i)
            if lr == p.lr and j == 0:  # the landscape's own path
                paths[key] = _path(p.points, p.values, p.diverged_at)
                continue
            thetas: list[np.ndarray] = []
            cfg = replace(
                config, optimizer=p.optimizer, lr=lr, batch_size=batch,
                hyper=hyper_for(p.optimizer, config.hyper),
            )  # fmt: skip
            try:
                result = train(
                    problem, split, cfg, on_epoch=lambda _, th, out=thetas: out.append(th.copy())
                )
            except ConfigError:
                continue
            T = np.array(thetas)
            points = plane_coordinates(T, center, D)
            paths[key] = _path(points, objective(T), result.diverged_at)
        axes: list[dict[str, Any]] = [{"name": "lr", "values": grid, "index": grid.index(p.lr)}]
        if batches:
            shown = ["full" if not b else str(b) for b in batches]
            axes.append({"name": "batch size", "values": shown, "index": 0, "noise": True})
        out[p.optimizer] = {"axes": axes, "paths": paths}
    return out


def _map(land: Any) -> dict[str, Any]:
    """The map thinned to :data:`MAP_POINTS` per axis, as log10(f − floor) where f spans
    decades (the static figure's log levels)."""
    rows, cols = thin(len(land.y), MAP_POINTS), thin(len(land.x), MAP_POINTS)
    values = land.values[np.ix_(rows, cols)]
    floor = land.minimum if land.minimum is not None else float(np.nanmin(land.values))
    finite = values[np.isfinite(values)]
    log = bool(land.log_levels and finite.size and float(finite.max() - floor) > 0)
    star = "f*" if land.minimum is not None else "the grid's minimum"
    what = "f" if land.kind == "function" else "training objective"
    if log:
        gap = finite - floor
        hi = float(gap.max())
        lo = max(float(gap[gap > 0].min()) if (gap > 0).any() else hi * 1e-8, hi * 1e-8)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.log10(np.clip(values - floor, lo, None))
        label = f"{what} − {star} (log scale)"
    else:
        z, label = values, what
    return {
        "x": rounded_list(land.x[cols], 6),
        "y": rounded_list(land.y[rows], 6),
        "z": [rounded_list(row, 4) for row in z],
        "zlabel": label,
        "log": log,
        "equal": land.kind == "function",
    }


def landscape_data(land: Any, variants: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The page's data: the map, the marks, and per optimizer its axes and paths (the landscape's
    own path alone where no variants were computed)."""
    unit = "step" if land.kind == "function" else "epoch"
    optimizers = []
    for i, p in enumerate(land.paths):
        v = (variants or {}).get(p.optimizer)
        if v is None:
            v = {"axes": [], "paths": {"": _path(p.points, p.values, p.diverged_at)}}
        optimizers.append(
            {"name": p.optimizer, "lr": p.lr, "colour": COLOURS[i % len(COLOURS)], **v}
        )
    return {
        "title": land.title,
        "map": _map(land),
        "labels": list(land.labels),
        "marks": [list(m) for m in land.marks],
        "markLabel": land.mark_label,
        "unit": unit,
        "optimizers": optimizers,
        "skipped": land.skipped,
    }


LANDSCAPE_JS = """
(function () {
  var D = LL.data(), gd = document.getElementById("map"), M = D.map;
  var O = D.optimizers, step = 0, timer = null;
  function key(o) { return o.axes.map(function (a) { return a.index; }).join(","); }
  function path(o) { return o.paths[key(o)] || null; }
  function longest() {
    return Math.max.apply(null, O.map(function (o) {
      var p = path(o); return p ? p.step[p.step.length - 1] : 0;
    }));
  }
  function upto(p, s) {  // the points drawn up to step s
    var n = 0; while (n < p.step.length && p.step[n] <= s) n++; return n;
  }
  function pathTraces() {
    var out = [];
    O.forEach(function (o) {
      var p = path(o), n = p ? upto(p, step) : 0;
      var x = p ? p.x.slice(0, n) : [], y = p ? p.y.slice(0, n) : [];
      var f = p ? p.f.slice(0, n) : [], st = p ? p.step.slice(0, n) : [];
      var hasLr = o.axes.some(function (a) { return a.name === "lr"; });
      var label = o.name + (hasLr ? "" : " · lr " + LL.short(o.lr)) + o.axes.map(function (a) {
        return " · " + a.name + " " + LL.short(a.values[a.index]); }).join("");
      if (p && p.diverged !== null) label += " (diverged at " + D.unit + " " + p.diverged + ")";
      if (!p) label += " (not valid)";
      out.push({type: "scatter", mode: "lines", x: x, y: y, name: label, legendgroup: o.name,
        customdata: st.map(function (s, i) { return [s, f[i]]; }),
        line: {color: o.colour, width: 2.6},
        hovertemplate: "<b>" + LL.escape(o.name) + "</b><br>" + D.unit +
          " %{customdata[0]}<br>(%{x:.4g}, %{y:.4g})<br>f = %{customdata[1]:.5g}<extra></extra>"});
      out.push({type: "scatter", mode: "markers", x: x.slice(-1), y: y.slice(-1), showlegend: false,
        legendgroup: o.name, hoverinfo: "skip",
        marker: {color: o.colour, size: 11, line: {color: "white", width: 2}}});
    });
    return out;
  }
  function colorbar() {
    var bar = {title: {text: M.zlabel, side: "right"}, thickness: 14};
    if (!M.log) return bar;
    var lo = Infinity, hi = -Infinity;
    M.z.forEach(function (row) { row.forEach(function (v) {
      if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }); });
    var ticks = [];
    for (var k = Math.ceil(lo); k <= Math.floor(hi); k++) ticks.push(k);
    var every = Math.max(1, Math.ceil(ticks.length / 8));
    ticks = ticks.filter(function (k, i) { return i % every === 0; });
    bar.tickvals = ticks;
    bar.ticktext = ticks.map(function (k) { return "10<sup>" + k + "</sup>"; });
    return bar;
  }
  function base() {
    return [{type: "contour", x: M.x, y: M.y, z: M.z, colorscale: "Viridis", reversescale: true,
      opacity: 0.6, contours: {coloring: "fill", showlines: true},
      line: {width: 0.5, color: "#3b3b3b"},
      ncontours: 24, colorbar: colorbar(),
      hovertemplate: "(%{x:.3g}, %{y:.3g})<br>" + (M.log ? "log₁₀ of " : "") + LL.escape(M.zlabel) +
        " = %{z:.3g}<extra></extra>",
      name: "map", showlegend: false},
      {type: "scatter", mode: "markers", x: D.marks.map(function (m) { return m[0]; }),
       y: D.marks.map(function (m) { return m[1]; }), name: D.markLabel,
       marker: {symbol: "star", size: 16, color: "white", line: {color: "black", width: 1.5}}}];
  }
  function layout() {
    var l = {margin: {l: 60, r: 10, t: 10, b: 50}, height: 640, hovermode: "closest",
      font: {size: 14},
      xaxis: {title: {text: D.labels[0]}, range: [M.x[0], M.x[M.x.length - 1]],
              constrain: "domain"},
      yaxis: {title: {text: D.labels[1]}, range: [M.y[0], M.y[M.y.length - 1]],
              constrain: "domain"},
      legend: {orientation: "h", y: -0.12, font: {size: 13}}, uirevision: "keep"};
    if (M.equal) {  // equal scales (the gradient is normal to the contours): a figure as wide
      l.yaxis.scaleanchor = "x"; l.yaxis.scaleratio = 1;  // as the map, its colour bar beside
      var ratio = (M.x[M.x.length - 1] - M.x[0]) / (M.y[M.y.length - 1] - M.y[0]);
      l.width = Math.min(gd.clientWidth || 1200, Math.round(ratio * 580) + 190);
    }
    return l;
  }
  var slider = document.getElementById("step"), shown = document.getElementById("step-shown");
  function draw() {
    var last = longest();
    slider.max = last; if (step > last) step = last; slider.value = step;
    shown.textContent = step + " / " + last;
    return Plotly.react(gd, base().concat(pathTraces()), layout(), PLOTLY_CONFIG);
  }
  function stop() {
    if (timer) { clearInterval(timer); timer = null; }
    play.textContent = "▶ play";
  }
  var play = document.getElementById("play");
  play.addEventListener("click", function () {
    if (timer) { stop(); return; }
    if (step >= longest()) step = 0;
    play.textContent = "❚❚ pause";
    timer = setInterval(function () {
      var last = longest(); step = Math.min(last, step + Math.max(1, Math.round(last / 150)));
      draw(); if (step >= last) stop();
    }, 60);
  });
  function on(id, move) {
    document.getElementById(id).addEventListener("click", function () {
      stop(); step = move(step); draw();
    });
  }
  on("back", function (s) { return Math.max(0, s - 1); });
  on("fwd", function (s) { return s + 1; });
  on("end", function () { return longest(); });
  slider.addEventListener("input", function () { stop(); step = +slider.value; draw(); });
  var box = document.getElementById("sliders");
  O.forEach(function (o, oi) {
    if (!o.axes.length) return;
    var row = document.createElement("div"); row.className = "controls";
    row.innerHTML = "<b style='color:" + o.colour + ";min-width:7em'>" + LL.escape(o.name) + "</b>";
    o.axes.forEach(function (a, ai) {
      var lab = document.createElement("label"), out = document.createElement("output");
      var inp = document.createElement("input");
      inp.type = "range"; inp.min = 0; inp.max = a.values.length - 1; inp.step = 1;
      inp.value = a.index;
      inp.id = "axis-" + oi + "-" + ai; inp.dataset.noise = a.noise ? "1" : "";
      out.textContent = LL.short(a.values[a.index]);
      inp.addEventListener("input", function () {
        a.index = +inp.value; out.textContent = LL.short(a.values[a.index]); draw();
      });
      lab.appendChild(document.createTextNode(a.name)); lab.appendChild(inp); lab.appendChild(out);
      row.appendChild(lab);
    });
    box.appendChild(row);
  });
  var noise = document.getElementById("noise");
  if (noise) noise.addEventListener("change", function () {
    O.forEach(function (o, oi) { o.axes.forEach(function (a, ai) {
      if (!a.noise) return; a.index = +noise.value;
      var inp = document.getElementById("axis-" + oi + "-" + ai); inp.value = a.index;
      inp.nextSibling.textContent = LL.short(a.values[a.index]);
    }); });
    draw();
  });
  step = longest();
  draw().then(function () {
    if (!LL.wantsSelftest()) return;
    var t = {traces: gd.data.length, paths: O.length};
    var first = 2;  // the map and its marks come first
    t.pointsAtEnd = gd.data[first].x.length;
    slider.value = 3; slider.dispatchEvent(new Event("input"));
    t.pointsAtStep3 = gd.data[first].x.length;
    var axis = document.querySelector("#sliders input[type=range]");
    if (axis) {
      step = longest(); draw();
      var before = JSON.stringify([gd.data[first].x, gd.data[first].y]);
      axis.value = (+axis.value + 1) % (+axis.max + 1); axis.dispatchEvent(new Event("input"));
      t.sliderChangesPath = JSON.stringify([gd.data[first].x, gd.data[first].y]) !== before;
      t.legendAfter = gd.data[first].name;
    }
    t.drawnPaths = gd.querySelectorAll(".scatterlayer .trace path.js-line").length;
    t.contour = gd.querySelectorAll(".contourlayer .contour").length;
    slider.value = 0; slider.dispatchEvent(new Event("input"));
    play.click();  // plays to the end, then stops
    setTimeout(function () {
      t.playedTo = step; t.longest = longest(); t.playing = timer !== null;
      LL.selftest(t);
    }, 15000);
  });
})();
"""


def landscape_page(land: Any, variants: dict[str, dict[str, Any]] | None = None) -> str:
    """The page of a landscape and the precomputed variants of its paths."""
    data = landscape_data(land, variants)
    unit = data["unit"]
    noise = next(
        (a for o in data["optimizers"] for a in o["axes"] if a.get("noise")),
        None,
    )
    noise_html = ""
    if noise is not None:
        options = "".join(
            f'<option value="{i}">{html.escape(str(v))}</option>'
            for i, v in enumerate(noise["values"])
        )
        noise_html = (
            '<div class="controls"><label><b>noise</b>: every optimizer at batch size '
            f'<select id="noise">{options}</select></label>'
            '<span class="muted">smaller batches, noisier steps (full: no noise)</span></div>'
        )
    sliders = any(o["axes"] for o in data["optimizers"])
    body = (
        '<div class="controls"><button id="play">▶ play</button>'
        '<button id="back" title="one step back">◀ step</button>'
        '<button id="fwd" title="one step on">step ▶</button>'
        '<button id="end" title="the whole path">to the end</button>'
        f'<label>{unit} <input type="range" id="step" min="0" value="0" style="width:320px">'
        '<output id="step-shown"></output></label></div>'
        + noise_html
        + (
            "<fieldset><legend>switch between precomputed paths</legend>"
            '<div id="sliders"></div></fieldset>'
            if sliders
            else '<div id="sliders"></div>'
        )
        + '<div id="map" class="plot"></div>'
        + '<p class="muted">Every path is computed by losslab (the registered update rule, as '
        "`fit` runs it); the sliders only switch between paths computed in advance. Hover a path "
        "for its step and value; click a legend entry to hide it.</p>"
    )
    notes = [f"skipped {s['optimizer']}: {s['reason']}" for s in land.skipped]
    if notes:
        body += '<ul class="muted">' + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        body += "</ul>"
    return page("losslab landscape · interactive", land.title, body, data, LANDSCAPE_JS)


def parse_batch_sizes(text: str) -> list[int]:
    """``--batch-size 8,32,full`` with --html: the noise control's batch sizes (0 = full)."""
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        if part in ("full", "0"):
            out.append(0)
            continue
        try:
            value = int(part)
        except ValueError:
            value = -1
        if value < 1:
            raise ConfigError(f"--batch-size takes whole numbers >= 1 or 'full', got {part!r}")
        out.append(value)
    if len(set(out)) != len(out):
        raise ConfigError(f"--batch-size lists a batch size twice: {text!r}")
    return out


def html_landscape(land: Any, *, noise: list[int] | None = None) -> str:
    """The page: on a test function with lr (and momentum) variants, on data with lr variants
    and the noise control where ``noise`` lists more than one batch size."""
    if land.kind == "function":
        return landscape_page(land, function_variants(land))
    return landscape_page(land, data_variants(land, noise))
