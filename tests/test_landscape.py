"""`losslab landscape`: test functions, paths, --tune, planes, projections, JSON, errors, figures.

References are written here: central finite differences, Newton-free checks of the minima (∇f = 0
and a positive definite finite-difference Hessian), hand-written update loops (torch's formulas),
scikit-learn's PCA, an explicit projector matrix, and the softmax cross-entropy objective from its
definition.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from losslab.errors import ConfigError
from losslab.optim.optimizers import OPTIMIZERS, SGD
from losslab.train.config import FitConfig
from losslab.views import functions2d as f2d
from losslab.views import landscape as ls

NAMES = ["rosenbrock", "rastrigin", "beale", "himmelblau", "quadratic"]


def functions():
    return [f2d.make_function(n) for n in NAMES] + [f2d.make_function("quadratic", condition=50)]


def fd_gradient(fn, x, y, h=1e-6):
    gx = (fn.value(x + h, y) - fn.value(x - h, y)) / (2 * h)
    gy = (fn.value(x, y + h) - fn.value(x, y - h)) / (2 * h)
    return np.array([gx, gy])


# --------------------------------------------------------------------------- test functions


@pytest.mark.parametrize("fn", functions(), ids=lambda f: f"{f.name}-{f.formula}")
def test_gradient_matches_central_differences(fn):
    rng = np.random.default_rng(0)
    x0, x1, y0, y1 = fn.window
    for x, y in zip(rng.uniform(x0, x1, 20), rng.uniform(y0, y1, 20), strict=True):
        analytic = np.array(fn.gradient(x, y), dtype=float)
        numeric = fd_gradient(fn, x, y)
        scale = max(1.0, np.abs(analytic).max())
        np.testing.assert_allclose(analytic, numeric, rtol=0, atol=2e-7 * scale)


@pytest.mark.parametrize("fn", functions(), ids=lambda f: f"{f.name}-{f.formula}")
def test_known_minima_are_minima(fn):
    for x, y in fn.minima:
        assert fn.value(x, y) == pytest.approx(fn.minimum, abs=1e-20)
        g = np.array(fn.gradient(x, y), dtype=float)
        assert np.abs(g).max() < 1e-12
        h = 1e-5  # the Hessian by differences of the analytic gradient: positive definite
        H = np.column_stack(
            [
                (np.array(fn.gradient(x + h, y)) - np.array(fn.gradient(x - h, y))) / (2 * h),
                (np.array(fn.gradient(x, y + h)) - np.array(fn.gradient(x, y - h))) / (2 * h),
            ]
        )
        assert np.linalg.eigvalsh((H + H.T) / 2).min() > 0
    _, _, values = fn.grid(101)
    assert values.min() >= fn.minimum - 1e-12  # the minima are global on the window
    x0, x1, y0, y1 = fn.window
    assert x0 <= fn.start[0] <= x1 and y0 <= fn.start[1] <= y1


def test_textbook_values():
    rosen = f2d.make_function("rosenbrock")
    assert rosen.value(-2.0, 2.0) == 9 + 100 * 4
    assert f2d.make_function("rastrigin").value(-2.0, 3.5) == pytest.approx(20 - 6 + 22.25)
    assert f2d.make_function("beale").value(0.0, 0.0) == pytest.approx(1.5**2 + 2.25**2 + 2.625**2)
    assert f2d.make_function("himmelblau").value(0.0, 0.0) == 121 + 49
    assert f2d.make_function("quadratic", condition=50).value(1.0, 1.0) == 25.5


def test_condition_belongs_to_the_quadratic():
    with pytest.raises(ConfigError, match="--condition applies to the quadratic"):
        f2d.make_function("rosenbrock", condition=5)
    with pytest.raises(ConfigError, match="--condition must be >= 1"):
        f2d.make_function("quadratic", condition=0.5)
    assert f2d.make_function("quadratic").condition == f2d.DEFAULT_CONDITION


# --------------------------------------------------------------------------- paths


def test_sgd_path_equals_a_hand_written_loop():
    fn = f2d.make_function("rosenbrock")
    path = ls.function_path(fn, "sgd", steps=50, lr=1e-3)
    theta = np.array(fn.start)
    expected = [theta.copy()]
    for _ in range(50):
        theta = theta - 1e-3 * np.array(fn.gradient(*theta))
        expected.append(theta.copy())
    np.testing.assert_allclose(path.points, np.array(expected), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(path.values, [fn.value(*p) for p in expected], rtol=1e-12)
    assert path.diverged_at is None and path.lr == 1e-3


def test_momentum_path_equals_torch_heavy_ball():
    fn = f2d.make_function("quadratic", condition=50)
    path = ls.function_path(fn, "momentum", steps=40, lr=0.02)
    theta, b = np.array(fn.start), None
    expected = [theta.copy()]
    for _ in range(40):
        g = np.array(fn.gradient(*theta))
        b = g if b is None else 0.9 * b + g  # torch: the buffer starts as the first gradient
        theta = theta - 0.02 * b
        expected.append(theta.copy())
    np.testing.assert_allclose(path.points, np.array(expected), rtol=1e-12, atol=1e-14)


def test_adam_path_equals_a_hand_written_loop():
    fn = f2d.make_function("rosenbrock")
    lr, b1, b2, eps = 0.05, 0.8, 0.99, 1e-8
    path = ls.function_path(fn, "adam", steps=60, lr=lr, hyper={"beta1": b1, "beta2": b2})
    theta, m, v = np.array(fn.start), np.zeros(2), np.zeros(2)
    expected = [theta.copy()]
    for t in range(1, 61):
        g = np.array(fn.gradient(*theta))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        expected.append(theta.copy())
    np.testing.assert_allclose(path.points, np.array(expected), rtol=1e-11, atol=1e-12)
    assert path.hyperparameters["beta1"] == b1


def test_a_path_stops_where_it_diverges():
    fn = f2d.make_function("rosenbrock")
    path = ls.function_path(fn, "sgd", steps=50, lr=0.1)
    assert path.diverged_at is not None and path.diverged_at <= 5
    assert len(path.points) <= path.diverged_at + 1 and np.isfinite(path.points).all()
    assert path.final == math.inf


def _register(monkeypatch, name, rule):
    spec = dataclasses.replace(OPTIMIZERS.get("sgd"), name=name, rule=rule)
    monkeypatch.setitem(OPTIMIZERS._entries, name, spec)


class _Refuses(SGD):
    layout = "tensors"

    def check_model(self, params, decay_mask, model):
        raise ConfigError(f"refuses needs a matrix; {model} has none")


class _Shifted(SGD):
    """SGD whose evaluation point is θ + 1 (to see that paths are recorded there)."""

    evaluates_elsewhere = True

    def to_eval(self, params, state):
        params[0] += 1.0

    def to_train(self, params, state):
        params[0] -= 1.0


class _Closure(SGD):
    """θ −= lr·g/(1 + f(θ) − f*), f from ctx.loss; checks the closure recomputes f and g."""

    full_batch = True
    needs_optimum = True

    def step(self, params, grads, state, lr, *, decay_mask=None, ctx=None):
        g = grads[0].copy()
        assert ctx.closure() == pytest.approx(ctx.loss, rel=1e-15)
        np.testing.assert_array_equal(grads[0], g)
        params[0] -= lr * grads[0] / (1.0 + ctx.loss - ctx.optimum)


def test_rules_that_refuse_evaluate_elsewhere_or_need_a_closure(monkeypatch):
    fn = f2d.make_function("quadratic")
    _register(monkeypatch, "refuses", _Refuses)
    _register(monkeypatch, "shifted", _Shifted)
    _register(monkeypatch, "closure", _Closure)
    land = ls.function_landscape(
        "quadratic", optimizers=["refuses", "shifted", "closure"], steps=5, lr=0.1, grid=5
    )
    assert land.skipped == [
        {"optimizer": "refuses", "reason": "refuses needs a matrix; a 2-d point has none"}
    ]
    shifted, closure = land.paths
    theta, expected = np.array(fn.start), [np.array(fn.start)]
    for _ in range(5):
        theta = theta - 0.1 * np.array(fn.gradient(*theta))
        expected.append(theta + 1.0)
    np.testing.assert_allclose(shifted.points, np.array(expected), rtol=1e-14)
    theta, expected = np.array(fn.start), [np.array(fn.start)]
    for _ in range(5):
        theta = theta - 0.1 * np.array(fn.gradient(*theta)) / (1.0 + fn.value(*theta))
        expected.append(theta.copy())
    np.testing.assert_allclose(closure.points, np.array(expected), rtol=1e-14)


# --------------------------------------------------------------------------- tuning


def test_tune_picks_the_lowest_final_value_of_its_grid():
    fn = f2d.make_function("rosenbrock")
    land = ls.function_landscape(
        "rosenbrock", optimizers=["sgd", "adam"], steps=30, tune=(1e-4, 1.0, 5), grid=5
    )
    for path in land.paths:
        finals = {}
        for lr in np.geomspace(1e-4, 1.0, 5):
            alone = ls.function_path(fn, path.optimizer, steps=30, lr=float(lr))
            finals[float(lr)] = alone.final
        best = min((v, lr) for lr, v in finals.items() if math.isfinite(v))
        assert path.lr == pytest.approx(best[1], rel=1e-15)
        assert path.final == best[0]
        assert [c["lr"] for c in path.candidates] == pytest.approx(list(finals))
        assert [c["diverged"] for c in path.candidates] == [
            not math.isfinite(v) for v in finals.values()
        ]
    sgd = land.paths[0]
    assert any(c["diverged"] for c in sgd.candidates)  # lr 1 on rosenbrock


def test_tune_breaks_ties_towards_the_smaller_lr_and_survives_all_diverging():
    def run(lr):
        return ls.Trajectory("x", lr, {}, np.zeros((2, 2)), np.array([1.0, 0.5]))

    assert ls.tune_lr(run, [0.1, 0.01, 1.0]).lr == 0.1  # first of equals in grid order

    def diverging(lr):
        return ls.Trajectory("x", lr, {}, np.zeros((1, 2)), np.array([1.0]), diverged_at=1)

    path = ls.tune_lr(diverging, [0.5, 1.0])
    assert path.lr == 0.5 and path.diverged_at == 1
    assert [c["diverged"] for c in path.candidates] == [True, True]


def test_lr_grid_is_log_spaced_and_checked():
    np.testing.assert_allclose(ls.lr_grid(1e-3, 1.0, 4), [1e-3, 1e-2, 1e-1, 1.0])
    with pytest.raises(ConfigError, match="--tune-grid"):
        ls.lr_grid(1.0, 0.1, 4)
    with pytest.raises(ConfigError, match="N >= 2"):
        ls.lr_grid(1e-3, 1.0, 1)


def test_steps_to_tol_counts_to_the_minimum():
    land = ls.function_landscape("quadratic", optimizers=["sgd"], steps=100, lr=0.1, grid=5)
    path = land.paths[0]
    first = next(k for k, v in enumerate(path.values) if v <= 1e-4)
    assert path.steps_to_tol == first


# --------------------------------------------------------------------------- planes


def test_pca_plane_holds_all_of_a_planar_path():
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.standard_normal((10, 2)))
    offset = rng.standard_normal(10)
    coeffs = rng.standard_normal((30, 2)) * [3.0, 0.5]
    path = offset + coeffs @ Q.T
    D, ratio = ls.pca_directions([path], center=rng.standard_normal(10))
    assert ls.explained_share(path, D) == pytest.approx(1.0, abs=1e-12)
    assert ratio.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(D @ D.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(D.T @ D, Q @ Q.T, atol=1e-10)  # the same plane


def test_variance_shares_against_the_covariance_and_a_projector():
    rng = np.random.default_rng(2)
    paths = [np.cumsum(rng.standard_normal((20, 6)) * [4, 2, 1, 0.5, 0.2, 0.1], axis=0)]
    paths.append(paths[0][::-1] * 0.5 + rng.standard_normal((20, 6)) * 0.3)
    center = rng.standard_normal(6)
    D, ratio = ls.pca_directions(paths, center)
    # PCA from its definition: the top eigenvectors of the stacked points' covariance matrix
    M = np.vstack(paths) - center
    C = np.cov(M, rowvar=False)
    eigenvalues, eigenvectors = np.linalg.eigh(C)
    np.testing.assert_allclose(ratio, eigenvalues[::-1][:2] / eigenvalues.sum(), rtol=1e-10)
    top = eigenvectors[:, ::-1][:, :2]
    np.testing.assert_allclose(np.abs(D @ top), np.eye(2), atol=1e-9)
    P = D.T @ np.linalg.inv(D @ D.T) @ D
    for path in paths:
        X = path - path.mean(axis=0)
        residual = X - X @ P
        expected = 1.0 - (residual**2).sum() / (X**2).sum()
        assert ls.explained_share(path, D) == pytest.approx(expected, rel=1e-12)
    oblique = D + np.array([[0.0] * 6, list(0.3 * D[0])])  # the same plane, not orthogonal
    assert ls.explained_share(paths[0], oblique) == pytest.approx(
        ls.explained_share(paths[0], D), rel=1e-12
    )


def test_plane_coordinates_are_the_least_squares_projection():
    rng = np.random.default_rng(3)
    D = rng.standard_normal((2, 7))  # not orthonormal
    center, points = rng.standard_normal(7), rng.standard_normal((9, 7))
    coords = ls.plane_coordinates(points, center, D)
    for c, p in zip(coords, points, strict=True):
        expected, *_ = np.linalg.lstsq(D.T, p - center, rcond=None)
        np.testing.assert_allclose(c, expected, rtol=1e-10, atol=1e-12)
    Q, _ = np.linalg.qr(D.T)
    np.testing.assert_allclose(
        ls.plane_coordinates(points, center, Q.T), (points - center) @ Q, atol=1e-12
    )


def test_filter_normalised_directions():
    from losslab.nn.network import Network

    net = Network([4, 5, 3], "relu")
    net.init("torch", np.random.default_rng(0))
    d = ls.filter_normalized_direction(net, net.theta.copy(), np.random.default_rng(1))
    twin = net.copy()
    twin.theta[...] = d
    for W, Wd in zip(net.W, twin.W, strict=True):  # (fan_in, fan_out): a filter is a column
        np.testing.assert_allclose(np.linalg.norm(Wd, axis=0), np.linalg.norm(W, axis=0), rtol=1e-9)
    for b in twin.b:
        assert not b.any()


def _softmax_ce(X, y, theta, K, l2):
    """mean_i (logsumexp(s_i) − s_{i,y_i}) + (l2/2)‖W‖², θ = (W column-major, then b)."""
    p = X.shape[1]
    W, b = theta[: p * K].reshape(K, p).T, theta[p * K :]
    S = X @ W + b
    m = S.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(S - m).sum(axis=1, keepdims=True)))[:, 0]
    return float(np.mean(lse - S[np.arange(len(y)), y.astype(int)]) + 0.5 * l2 * np.sum(W * W))


@pytest.fixture(scope="module")
def iris_land():
    config = FitConfig(data="iris", epochs=6, l2=0.01, lr=0.05)
    return config, ls.data_landscape(config, ["sgd", "adam"], grid=5)


def test_data_paths_are_the_fit_runs(iris_land):
    from losslab.train.loop import fit

    _, land = iris_land
    for path in land.paths:
        result = fit("iris", epochs=6, l2=0.01, lr=0.05, optimizer=path.optimizer)
        assert path.values[-1] == pytest.approx(result.metrics["train"]["objective"], rel=1e-10)
        np.testing.assert_allclose(
            path.values[1:], [h["objective"] for h in result.history], rtol=1e-10
        )
        assert len(path.points) == 7 and path.lr == 0.05


def test_data_grid_interpolation_and_projection_against_references(iris_land):
    from losslab.train.prepare import prepare

    _, land = iris_land
    _, split = prepare(FitConfig(data="iris", l2=0.01))
    X, y = split.X_train, split.y_train
    assert land.info["plane"]["center"] == "optimum θ*"
    assert land.minimum is not None
    sgd, adam = land.paths
    for path in (sgd, adam):
        for theta, value in zip(path.thetas, path.values, strict=True):
            assert value == pytest.approx(_softmax_ce(X, y, theta, 3, 0.01), rel=1e-12)
    assert land.minimum <= min(p.values.min() for p in land.paths)
    # grid values: objective(centre + x_j·d1 + y_i·d2), centre and directions recomputed here
    from losslab.train.reference import reference_optimum

    ref = reference_optimum("softmax", "cross-entropy", X, y, n_classes=3, l2=0.01)
    center = np.concatenate([ref.coef.T.ravel(), ref.intercept])
    assert land.minimum == pytest.approx(_softmax_ce(X, y, center, 3, 0.01), rel=1e-12)
    D, _ = ls.pca_directions([p.thetas for p in land.paths], center)
    for i, j in [(0, 0), (2, 3), (4, 1)]:
        theta = center + land.x[j] * D[0] + land.y[i] * D[1]
        assert land.values[i, j] == pytest.approx(_softmax_ce(X, y, theta, 3, 0.01), rel=1e-10)
    for path in land.paths:
        np.testing.assert_allclose(path.points, (path.thetas - center) @ D.T, atol=1e-10)
        theta0, end = path.thetas[0], path.thetas[-1]
        for a, value in zip(land.alphas[::20], path.interpolation[::20], strict=True):
            expected = _softmax_ce(X, y, theta0 + a * (end - theta0), 3, 0.01)
            assert value == pytest.approx(expected, rel=1e-10)


def test_networks_default_to_random_directions():
    config = FitConfig(data="iris", model="mlp", hidden=[8], epochs=2)
    land = ls.data_landscape(config, ["sgd"], grid=3)
    assert land.info["plane"]["directions"] == "random"
    assert land.info["plane"]["center"] == "final θ of sgd"
    assert land.x[0] <= -1 and land.x[-1] >= 1
    with pytest.raises(ConfigError, match="--directions"):
        ls.data_landscape(config, ["sgd"], grid=3, directions="spiral")


# --------------------------------------------------------------------------- the command


def test_json_of_a_test_function(cli):
    out = cli.json(
        "landscape", "rosenbrock", "--steps", "5", "--grid", "7", "--optimizer", "sgd,adam",
        "--lr", "1e-3",
    )  # fmt: skip
    assert out["kind"] == "function" and out["function"]["name"] == "rosenbrock"
    grid = out["grid"]
    assert len(grid["x"]) == 7 and len(grid["y"]) == 7
    assert np.array(grid["values"]).shape == (7, 7)
    fn = f2d.make_function("rosenbrock")
    assert grid["values"][2][5] == pytest.approx(fn.value(grid["x"][5], grid["y"][2]))
    assert [p["optimizer"] for p in out["paths"]] == ["sgd", "adam"]
    for p in out["paths"]:
        assert np.array(p["points"]).shape == (6, 2) and len(p["values"]) == 6
        assert p["lr"] == 1e-3 and p["tuned"] is False
    assert out["minimum"] == 0.0 and out["marks"] == [[1.0, 1.0]]


def test_json_with_tune_lists_every_candidate(cli):
    out = cli.json(
        "landscape", "quadratic", "--condition", "50", "--steps", "5", "--grid", "5",
        "--optimizer", "sgd", "--tune", "--tune-grid", "1e-3,1,4",
    )  # fmt: skip
    (path,) = out["paths"]
    assert path["tuned"] and len(path["candidates"]) == 4
    assert out["function"]["condition"] == 50
    assert path["candidates"][-1]["diverged"] and path["candidates"][-1]["final"] is None


def test_json_on_data(cli):
    out = cli.json(
        "landscape", "iris", "--epochs", "3", "--grid", "5", "--optimizer", "sgd",
        "--progress", "none",
    )  # fmt: skip
    assert out["kind"] == "data" and out["plane"]["directions"] == "pca"
    assert np.array(out["grid"]["values"]).shape == (5, 5)
    (path,) = out["paths"]
    assert np.array(path["points"]).shape == (4, 2)
    assert len(path["interpolation"]) == len(out["alphas"])
    assert 0 <= path["explained"] <= 1 + 1e-12


def test_table_and_csv(cli):
    text = cli(
        "landscape", "quadratic", "--steps", "20", "--grid", "5", "--optimizer", "sgd"
    ).stdout
    assert "quadratic" in text and "steps to tol" in text and "sgd" in text
    csv = cli(
        "landscape", "quadratic", "--steps", "20", "--grid", "5", "--optimizer", "sgd,adam",
        "--format", "csv",
    ).stdout.splitlines()  # fmt: skip
    assert csv[0].startswith("optimizer,lr,final,gap,steps_to_tol") and len(csv) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rosenbrok"], "Did you mean 'rosenbrock'?"),
        (["irsi"], "Did you mean 'iris'?"),
        (["rosenbrock", "--start", "1"], "--start must be two numbers x,y, got '1'"),
        (["rosenbrock", "--start", "a,b"], "--start must be two numbers"),
        (["rosenbrock", "--steps", "0"], "--steps must be >= 1, got 0"),
        (["iris", "--epochs", "0"], "--steps must be >= 1, got 0"),
        (["rosenbrock", "--optimizer", "adamm"], "Did you mean 'adam'?"),
        (["rosenbrock", "--condition", "5"], "--condition applies to the quadratic"),
        (["rosenbrock", "--model", "mlp"], "--model applies to data"),
        (["iris", "--start", "1,2"], "--start applies to the test functions"),
        (["rosenbrock", "--plot", "x.gif"], "--plot takes a .png, .svg or .pdf file name"),
        (["rosenbrock", "--tune", "--tune-grid", "1,2"], "--tune-grid must be LO,HI,N"),
        (["rosenbrock", "--beta1", "0.5", "--optimizer", "sgd"], "--beta1 is not used by any"),
        (["rosenbrock", "--grid", "2"], "--grid must be >= 3"),
        (["rosenbrock", "--tune", "--lr", "0.1"], "--lr and --tune exclude each other"),
        (["rosenbrock", "--layout", "spiral"], "--layout must be one of auto, overlay, panels"),
        (["rosenbrock", "--layout", "panels"], "--layout panels applies to a figure: add --plot"),
    ],
)
def test_bad_input_is_one_line(cli, args, message):
    assert message in cli.error("landscape", *args)


def test_plot_no_matplotlib_names_the_extra(cli, no_matplotlib):
    assert "losslab[plot]" in cli.error("landscape", "rosenbrock", "--plot", "x.png")


# --------------------------------------------------------------------------- figures


@pytest.fixture
def plt():
    plt = pytest.importorskip("matplotlib.pyplot")
    yield plt
    plt.close("all")


def _legends(fig):
    return [*fig.legends, *(leg for sub in fig.subfigs for leg in sub.legends)]


def _texts(fig):
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def test_overlay_figure_structure(plt):
    from matplotlib.colors import LogNorm

    from losslab.views.landscape_plot import figure

    land = ls.function_landscape(
        "rosenbrock", optimizers=["sgd", "adam"], steps=10, lr=1e-3, grid=21
    )
    fig = figure(land)
    maps = [ax for ax in fig.get_axes() if ax.collections and ax.get_label() != "<colorbar>"]
    assert len(maps) == 1
    ax = maps[0]
    assert ax.get_aspect() == 1.0
    assert isinstance(ax.collections[0].norm, LogNorm)  # rosenbrock spans decades
    stars = [ln for ln in ax.get_lines() if ln.get_marker() == "*"]
    assert len(stars) == 1 and tuple(stars[0].get_xydata()[0]) == (1.0, 1.0)
    paths = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 11 and ln.get_color() != "white"]
    assert len(paths) == 2
    np.testing.assert_allclose(paths[1].get_xydata(), land.paths[1].points)
    assert len({ln.get_color() for ln in paths}) == 2
    legend = _legends(fig)[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[0].startswith("sgd  lr 0.001") and "minimum" in labels
    # the legend lies outside the map
    fig.canvas.draw()
    box, frame = legend.get_window_extent(), ax.get_window_extent()
    assert box.y1 <= frame.y0 or box.x0 >= frame.x1
    assert any("rosenbrock" in t for t in _texts(fig))


def test_panels_and_tune_figure_structure(plt):
    from losslab.views.landscape_plot import figure

    land = ls.function_landscape(
        "rastrigin", optimizers=["sgd", "momentum", "adam", "rmsprop", "adagrad"], steps=5,
        tune=(1e-3, 1e-1, 3), grid=15,
    )  # fmt: skip
    fig = figure(land)
    axes = [ax for ax in fig.get_axes() if ax.get_label() != "<colorbar>" and ax.axison]
    maps = [ax for ax in axes if ax.collections]
    assert len(maps) == 5  # one panel per optimizer (auto: more than four paths)
    assert [ax.get_title().split()[0] for ax in maps] == [p.optimizer for p in land.paths]
    tune = [ax for ax in axes if ax.get_xscale() == "log"]
    assert len(tune) == 1
    rings = [ln for ln in tune[0].get_lines() if ln.get_markersize() == 10]
    assert len(rings) == sum(p.diverged_at is None for p in land.paths)
    overlay = figure(land, "overlay")
    assert len([ax for ax in overlay.get_axes() if ax.collections and ax.axison]) == 2


def test_data_figure_structure(plt, iris_land):
    from losslab.views.landscape_plot import figure

    _, land = iris_land
    fig = figure(land)
    title = fig._suptitle.get_text().replace("\n", " ")
    assert "A projected path is not the path" in title and "principal directions" in title
    labels = [t.get_text() for t in _legends(fig)[0].get_texts()]
    assert any(t.startswith("sgd") and "plane holds" in t for t in labels)
    assert "optimum θ*" in labels
    line = [ax for ax in fig.get_axes() if ax.get_xlabel() == "α"]
    assert (
        len(line) == 1 and len([ln for ln in line[0].get_lines() if len(ln.get_xdata()) > 2]) == 2
    )


def test_plot_files(cli, tmp_path, plt):
    for name in ("map.png", "map.svg"):
        out = cli.json(
            "landscape", "himmelblau", "--steps", "5", "--grid", "9", "--optimizer", "adam",
            "--plot", tmp_path / name,
        )  # fmt: skip
        assert out["plot"] == str(tmp_path / name)
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "map.svg").read_text().lstrip().startswith("<?xml")


def test_figure_names_the_skipped_rules(plt, monkeypatch):
    from losslab.views.landscape_plot import figure

    _register(monkeypatch, "refuses", _Refuses)
    land = ls.function_landscape("quadratic", optimizers=["sgd", "refuses"], steps=3, grid=5)
    assert figure(land)._supxlabel.get_text().endswith(": refuses")
