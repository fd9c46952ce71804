"""Figures fit for a slide, across every command that draws (compare, plot, lr-find, landscape,
shapes): one set of formats, --dpi and --size read back from the saved PNG's header, every
legend and title inside the figure (matplotlib's renderer extents), the landscape's default lrs
and its colour map."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from losslab.views import figures
from losslab.views import functions2d as f2d
from losslab.views import landscape as ls

pytest.importorskip("matplotlib")


@pytest.fixture
def plt():
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from the PNG's IHDR chunk (bytes 16–24)."""
    data = Path(path).read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def inside(fig, artist) -> bool:
    """Whether the artist's drawn extent lies within the figure (to a pixel)."""
    box, frame = artist.get_window_extent(fig.canvas.get_renderer()), fig.bbox
    return (
        box.x0 >= frame.x0 - 1
        and box.y0 >= frame.y0 - 1
        and box.x1 <= frame.x1 + 1
        and box.y1 <= frame.y1 + 1
    )


# --------------------------------------------------------------------------- options


def test_size_and_dpi_checks():
    assert figures.parse_size("12x6.75") == (12.0, 6.75)
    assert figures.parse_size("8×4.5") == (8.0, 4.5)
    assert figures.parse_size(None) is None
    assert figures.check_dpi(300) == 300.0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dpi", "0"], "--dpi must be between 50 and 600 dots per inch, got 0"),
        (["--dpi", "nan"], "--dpi must be between 50 and 600 dots per inch, got nan"),
        (["--size", "12"], "--size must be WxH in inches, each from 2 to 30 (e.g. 12x6.75), "
                           "got '12'"),
        (["--size", "axb"], "--size must be WxH in inches"),
        (["--size", "100x2"], "--size must be WxH in inches"),
        (["--size", "8x4x2"], "--size must be WxH in inches"),
    ],
)  # fmt: skip
@pytest.mark.parametrize(
    "command",
    [
        ["shapes", "--plot", "x.png"],
        ["landscape", "quadratic", "--steps", "2", "--plot", "x.png"],
        ["lr-find", "iris", "--steps", "10", "--plot", "x.png"],
        ["compare", "iris", "--epochs", "1", "--seeds", "1", "--no-save", "--plot", "x.png"],
        ["plot", "nowhere", "--out", "x.png"],
    ],
    ids=lambda c: c[0],
)
def test_a_bad_dpi_or_size_is_one_line_before_any_work(cli, tmp_path, monkeypatch, command, args,
                                                        message):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert message in cli.error(*command, *args)
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    "command",
    [["shapes"], ["landscape", "quadratic", "--steps", "2"], ["lr-find", "iris", "--steps", "10"]],
    ids=lambda c: c[0],
)
def test_dpi_and_size_need_a_figure(cli, command):
    message = "error: --dpi and --size apply to a figure: add --plot FILE"
    assert cli.error(*command, "--size", "8x4") == message
    assert cli.error(*command, "--dpi", "300") == message


@pytest.mark.parametrize(
    "command",
    [
        ["shapes", "--kind", "regression"],
        ["landscape", "quadratic", "--steps", "5", "--grid", "9"],
        ["lr-find", "iris", "--steps", "20"],
        ["compare", "iris", "--optimizer", "sgd", "--epochs", "2", "--seeds", "1", "--no-save"],
    ],
    ids=lambda c: c[0],
)
def test_every_drawing_command_takes_dpi_size_and_every_format(cli, tmp_path, command):
    png = tmp_path / "a.png"
    cli(*command, "--plot", png, "--dpi", "100", "--size", "8x4.5")
    assert png_size(png) == (800, 450)
    cli(*command, "--plot", png, "--dpi", "200", "--size", "6x3")
    assert png_size(png) == (1200, 600)
    for name, magic in (("a.svg", b"<?xml"), ("a.pdf", b"%PDF")):
        cli(*command, "--plot", tmp_path / name)
        assert (tmp_path / name).read_bytes()[: len(magic)] == magic


def test_default_resolution_is_for_a_slide(cli, tmp_path):
    # compare.png and zoo.png were 730 × 410: the same 7.3 × 4.1-inch figure now at 150 dpi
    assert figures.DPI >= 150
    png = tmp_path / "a.png"
    cli("compare", "iris", "--optimizer", "sgd", "--epochs", "2", "--seeds", "1", "--no-save",
        "--plot", png)  # fmt: skip
    width, height = png_size(png)
    assert width >= 1000 and height >= 550


def test_plot_command_takes_dpi_and_size(cli, saved_study, tmp_path):
    directory, _ = saved_study
    out = tmp_path / "s.png"
    cli("plot", directory, "--out", out, "--dpi", "100", "--size", "12x6.75")
    assert png_size(out) == (1200, 675)


# --------------------------------------------------------------------------- lr-find


@pytest.mark.parametrize("data", ["digits", "breast-cancer"])
def test_lr_find_legend_and_labels_inside_the_figure(plt, data):
    from losslab.study.lrfind import lr_find
    from losslab.views.lr_find_plot import lr_find_figure

    result = lr_find(data, optimizer="sgd", steps=100)
    fig = lr_find_figure(result, title=f"lr range test · {data} · softmax · sgd · batch 32")
    fig.canvas.draw()
    (legend,) = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    assert inside(fig, legend)
    assert len([t for t in legend.get_texts() if t.get_text()]) == 4
    for ax in fig.axes:
        assert inside(fig, ax.title) and inside(fig, ax.xaxis.label)
        for text in ax.texts:  # the suggestions' labels
            assert inside(fig, text)


# --------------------------------------------------------------------------- landscape


def test_landscape_writes_pdf(cli, tmp_path):
    out = tmp_path / "map.pdf"
    assert cli.json("landscape", "himmelblau", "--steps", "5", "--grid", "9",
                    "--plot", out)["plot"] == str(out)  # fmt: skip
    assert out.read_bytes()[:4] == b"%PDF"


@pytest.mark.parametrize("name", ["rosenbrock", "rastrigin", "beale", "himmelblau", "quadratic"])
def test_default_lrs_move_every_default_optimizer_without_diverging(name):
    """The bare `losslab landscape FUNCTION`: each default optimizer at the function's lr,
    none diverges, each ends well below the start (rosenbrock's used to diverge at step 1–2
    for three of six and leave the rest at f ≈ 6.5 of 409)."""
    fn = f2d.make_function(name)
    assert set(fn.lrs) == set(ls.DEFAULT_OPTIMIZERS)
    land = ls.function_landscape(name, grid=5)
    start = float(fn.value(*fn.start))
    for p in land.paths:
        assert p.lr == fn.lrs[p.optimizer]
        assert p.diverged_at is None, p.optimizer
        assert p.final < 0.5 * start, (p.optimizer, p.final, start)
    if name == "rosenbrock":  # most reach the valley's floor near (1, 1), f < 0.5
        assert sum(p.final < 0.5 for p in land.paths) >= 4


def test_default_lrs_yield_to_a_given_lr_and_to_other_optimizers():
    fn = f2d.make_function("rosenbrock")
    assert ls.function_path(fn, "sgd", steps=3, lr=1e-4).lr == 1e-4
    # an optimizer the function declares nothing for keeps its own default
    from losslab.optim.optimizers import make_optimizer

    assert ls.function_path(fn, "lion", steps=3).lr == make_optimizer("lion").default_lr
    land = ls.function_landscape("rosenbrock", optimizers=["adam"], steps=3, lr=0.01, grid=5)
    assert land.paths[0].lr == 0.01 and land.info["lr"] == 0.01


def test_quadratic_default_lrs_follow_the_condition():
    for kappa in (10.0, 50.0, 1000.0):
        fn = f2d.make_function("quadratic", condition=kappa)
        # sgd's stability limit on ½(x² + κy²) is 2/κ: its default is half of it
        assert fn.lrs["sgd"] == pytest.approx(1 / kappa)
        path = ls.function_path(fn, "sgd")
        assert path.diverged_at is None and path.final < float(fn.value(*fn.start))
        assert abs(path.points[-1][1]) < 1e-6  # one step settles y; x crawls at (1 − 1/κ)^k


def test_landscape_map_is_a_perceptual_colour_map_with_contour_lines(plt):
    from matplotlib.colors import to_rgb

    from losslab.views.landscape_plot import figure

    land = ls.function_landscape("rosenbrock", optimizers=["sgd"], steps=5, grid=21)
    fig = figure(land)
    ax = next(a for a in fig.axes if a.collections and a.get_label() != "<colorbar>")
    filled, lines = ax.collections[:2]
    assert filled.cmap.name.startswith("viridis")
    # not grey: the low and high ends differ in hue, not only in lightness
    low, high = np.array(filled.cmap(0.0)[:3]), np.array(filled.cmap(1.0)[:3])
    assert np.ptp(low) > 0.5 and np.ptp(high) > 0.2
    assert np.linalg.norm(low - high) > 0.8
    assert np.allclose(to_rgb(lines.get_edgecolor()[0][:3]), to_rgb("#3b3b3b"))
    title = fig._suptitle.get_text().replace("\n", " ")
    assert "rosenbrock's default lr" in title


def test_landscape_titles_and_legends_inside_the_figure(plt):
    from losslab.views.landscape_plot import figure

    land = ls.function_landscape("himmelblau", steps=20, grid=21)
    fig = figure(land)
    fig.canvas.draw()
    maps = [a for a in fig.axes if a.collections and a.get_label() != "<colorbar>"]
    assert len(maps) == 6
    for ax in maps:
        assert inside(fig, ax.title)
    # neighbouring panels' x tick labels do not touch
    renderer = fig.canvas.get_renderer()
    bottom = min(a.get_position().y0 for a in maps)
    row = sorted((a for a in maps if a.get_position().y0 == bottom),
                 key=lambda a: a.get_position().x0)  # fmt: skip
    boxes = [
        [t.get_window_extent(renderer) for t in a.get_xticklabels() if t.get_text()] for a in row
    ]
    for left, right in itertools.pairwise(boxes):
        assert max(b.x1 for b in left) < min(b.x0 for b in right)
    assert all(inside(fig, leg) for leg in fig.legends)


# --------------------------------------------------------------------------- shapes


def test_shapes_legends_inside_the_figure(plt, tmp_path, monkeypatch):
    from losslab.views import shapes

    saved = {}
    monkeypatch.setattr(shapes, "save_figure", lambda fig, out, **kw: saved.setdefault("fig", fig))
    charts = [shapes.loss_shapes(k) for k in shapes.KINDS]
    shapes.plot_shapes(charts, str(tmp_path / "s.png"), gradients=True)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = saved["fig"]
    FigureCanvasAgg(fig).draw()  # plot_shapes closed it
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert len(legends) == 3 and all(inside(fig, leg) for leg in legends)
    # a slide-sized figure: at most 14 inches wide for three charts
    assert fig.get_figwidth() <= 14 and math.isfinite(fig.get_figheight())


def test_the_api_takes_dpi_and_size_as_the_cli_does(tmp_path):
    import losslab
    from losslab.errors import ConfigError

    png = tmp_path / "map.png"
    losslab.landscape("quadratic", steps=2, grid=9, plot=str(png), dpi=100, size="8x4.5")
    assert png_size(png) == (800, 450)
    with pytest.raises(ConfigError, match="--dpi must be between 50 and 600"):
        losslab.lr_find("iris", steps=10, plot=str(tmp_path / "a.png"), dpi=10)


def test_the_cli_default_dpi_is_the_figures_default():
    from losslab.cli.common import FIGURE_DPI

    assert FIGURE_DPI == figures.DPI
