"""Plugins from Python: the issue's file as written, the examples against independent references,
the checks on load (a table of bad plugins, each refused in one line with nothing registered),
entry points, and what workers load."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from losslab.losses import LOSSES
from losslab.nn.models import MODELS
from losslab.optim.optimizers import OPTIMIZERS, make_optimizer
from losslab.optim.schedules import SCHEDULES
from losslab.train import plugins

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "plugins"

# The file of issue 24, as written there.
ISSUE_FILE = '''\
import numpy as np
from losslab import Hyper, register_loss, register_optimizer


@register_loss("scaled-mse", task="regression", formula="3·(ŷ − y)²",
               grad=lambda y, out: 6.0 * (out - y))
def scaled_mse(y, out):
    return 3.0 * (out - y) ** 2


@register_optimizer("shrunk-sgd", lr=0.01,
                    hypers=[Hyper("shrink", 0.5, low=0.0, high=1.0, help="fraction of the step taken")])
class ShrunkSGD:
    """θ ← θ − shrink·lr·g"""

    def init(self, params):
        return {}

    def step(self, params, grads, state, lr, *, shrink):
        for p, g in zip(params, grads):
            p -= shrink * lr * g
'''  # noqa: E501 (as the issue writes it)


@pytest.fixture
def isolated():
    """Every plugin loaded in the test is gone afterwards."""
    saved = plugins.snapshot()
    yield plugins
    plugins.restore(saved)


@pytest.fixture
def issue_file(tmp_path):
    path = tmp_path / "my.py"
    path.write_text(ISSUE_FILE, encoding="utf-8")
    return path


def _names():
    return (
        LOSSES.names(),
        OPTIMIZERS.names(),
        SCHEDULES.names(),
        [m.losses for _, m in MODELS.items()],
        list(plugins.LOADED),
    )


def test_the_issue_file_works_as_written(isolated, issue_file):
    plugin = plugins.load_plugin(issue_file)
    assert plugin.entries == [("loss", "scaled-mse"), ("optimizer", "shrunk-sgd")]
    assert all(c.ok for c in plugin.checks)
    loss = LOSSES.get("scaled-mse")
    y, out = np.array([1.0, -2.0, 0.5]), np.array([1.5, 0.0, 0.5])
    assert loss.value(y, out) == pytest.approx((3 * 0.25 + 3 * 4 + 0) / 3, rel=1e-15)
    np.testing.assert_allclose(loss.grad(y, out), 6.0 * (out - y) / 3, rtol=1e-15)
    assert not loss.numeric_grad and "scaled-mse" in MODELS.get("linear").losses
    opt = make_optimizer("shrunk-sgd", shrink=0.3)
    assert opt.default_lr == 0.01 and opt.hyperparameters == {"shrink": 0.3}
    theta, g = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    state = opt.init([theta])
    opt.step([theta], [g.copy()], state, 0.1)
    np.testing.assert_array_equal(theta, [1.0 - 0.3 * 0.1 * 0.5, -2.0 - 0.3 * 0.1 * 4.0])
    assert OPTIMIZERS.get("shrunk-sgd").description == "θ ← θ − shrink·lr·g"


def test_hyper_takes_help_as_a_keyword_and_keeps_its_positional_order():
    from losslab import Hyper

    h = Hyper("shrink", 0.5, low=0.0, high=1.0, help="fraction")
    assert (h.help, h.range_text()) == ("fraction", "[0, 1]")
    assert Hyper("rho", 0.9, "decay", low=0, high=1).help == "decay"


def test_loading_twice_loads_once_and_a_changed_file_is_refused(isolated, issue_file):
    first = plugins.load_plugin(issue_file)
    assert plugins.load_plugin(issue_file) is first
    issue_file.write_text(ISSUE_FILE + "\n# edited\n", encoding="utf-8")
    with pytest.raises(plugins.PluginError, match="changed since it was loaded"):
        plugins.load_plugin(issue_file)


def test_a_loss_without_gradient_gets_central_differences(isolated):
    plugins.load_plugin(EXAMPLES / "charbonnier.py")
    loss = LOSSES.get("charbonnier")
    (plugin,) = plugins.loaded()
    assert loss.numeric_grad and plugin.checks[-1].detail.startswith("numeric gradient")
    rng = np.random.default_rng(3)
    y, out = rng.normal(size=200), rng.normal(scale=3.0, size=200)
    for c in (0.5, 1.0, 2.0):
        d = out - y
        exact = d / np.sqrt(1.0 + (d / c) ** 2)  # d/dŷ of c²·(√(1 + (d/c)²) − 1), by hand
        np.testing.assert_allclose(loss.row_grad(y, out, width=c), exact, rtol=1e-8, atol=1e-10)


def _adopt_reference(theta0, grads_of, lr, steps, b1=0.9, b2=0.9999, eps=1e-6, clip=True):
    """ADOPT as Taniguchi et al. 2024 write it (Algorithm 2), entry by entry in plain Python."""
    theta = [float(x) for x in theta0]
    g0 = grads_of(np.array(theta))
    v = [float(g) ** 2 for g in g0]
    m = [0.0] * len(theta)
    out = []
    for t in range(1, steps):
        g = grads_of(np.array(theta))
        for i in range(len(theta)):
            normed = g[i] / max(math.sqrt(v[i]), eps)
            if clip:
                normed = min(max(normed, -(t**0.25)), t**0.25)
            m[i] = b1 * m[i] + (1 - b1) * normed
            theta[i] -= lr * m[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
        out.append(list(theta))
    return out


@pytest.mark.parametrize("clip", [True, False])
def test_adopt_example_follows_the_paper(isolated, clip):
    plugins.load_plugin(EXAMPLES / "adopt.py")
    a = np.array([3.0, 0.5, 1e-3, 20.0])
    c = np.array([1.0, -2.0, 0.3, 0.1])

    def grads_of(x):
        return a * x - c + 0.3 * np.sin(5 * x)  # not a pure quadratic: the moments matter

    theta0, lr, steps = np.array([0.4, -1.0, 2.0, 0.05]), 0.05, 40
    expected = _adopt_reference(theta0, grads_of, lr, steps, clip=clip)
    opt = make_optimizer("adopt", clip=clip)
    theta = theta0.copy()
    state = opt.init([theta])
    opt.step([theta], [grads_of(theta)], state, lr)
    np.testing.assert_array_equal(theta, theta0)  # the first gradient only fills v
    for want in expected:
        opt.step([theta], [grads_of(theta)], state, lr)
        np.testing.assert_allclose(theta, want, rtol=1e-12, atol=1e-14)


def test_adopt_example_equals_optax_contrib_adopt(isolated):
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    contrib = pytest.importorskip("optax.contrib")
    if not hasattr(contrib, "adopt"):
        pytest.skip("optax without contrib.adopt")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    plugins.load_plugin(EXAMPLES / "adopt.py")
    rng = np.random.default_rng(0)
    a, c = rng.uniform(0.1, 5.0, 6), rng.normal(size=6)
    theta0 = rng.normal(size=6)
    tx = contrib.adopt(0.02)
    x = jnp.asarray(theta0)
    s = tx.init(x)
    opt = make_optimizer("adopt")
    theta = theta0.copy()
    state = opt.init([theta])
    for _ in range(30):
        updates, s = tx.update(a * x - c, s, x)
        x = optax.apply_updates(x, updates)
        opt.step([theta], [a * theta - c], state, 0.02)
        np.testing.assert_allclose(theta, np.asarray(x), rtol=1e-12, atol=1e-14)


def test_schedule_example(isolated):
    plugins.load_plugin(EXAMPLES / "inverse_sqrt.py")
    entry = SCHEDULES.get("inverse-sqrt")
    rate = entry.build(0.3, 50, entry.resolve({"tau": 4.0}))
    assert [rate(e) for e in (0, 4, 12)] == pytest.approx(
        [0.3, 0.3 / math.sqrt(2), 0.3 / 2], rel=1e-15
    )


# --------------------------------------------------------------------------- refused on load

GOOD_OPT = """
from losslab import register_optimizer

@register_optimizer("fine-sgd", lr=0.1)
class Fine:
    def init(self, params):
        return {}
    def step(self, params, grads, state, lr):
        for p, g in zip(params, grads):
            p -= lr * g
"""
OPT = """
import numpy as np
from losslab import Hyper, register_optimizer

@register_optimizer("bad-opt", lr=0.1{hypers})
class Bad:
    def init(self, params):
        return {init}
    def step(self, params, grads, state, lr, **kw):
        for p, g in zip(params, grads):
            {step}
"""
LOSS = """
import numpy as np
from losslab import register_loss

@register_loss("bad-loss", task="regression", formula="?"{grad})
def bad(y, out):
    return {value}
"""
BAD = {
    "syntax": ("def f(:\n    pass\n", "line 1: SyntaxError"),
    "import": ("import numpy\nimport no_such_module_xyz\n", "line 2: ModuleNotFoundError"),
    "raises": (GOOD_OPT + "\nraise RuntimeError('boom')\n", "line 12: RuntimeError: boom"),
    "task": (LOSS.format(grad="", value="out - y").replace("regression", "regresion"), "line 5"),
    "low >= high": (
        OPT.format(
            hypers=', hypers=[Hyper("wob", 0.5, low=1.0, high=0.0)]', init="{}", step="p -= lr * g"
        ),
        "'bad-opt' fails the --wob check: low 1 must be below high 0",
    ),
    "default outside": (
        OPT.format(
            hypers=', hypers=[Hyper("wob", 1.5, low=0.0, high=1.0)]', init="{}", step="p -= lr * g"
        ),
        "default 1.5 is outside its range [0, 1]",
    ),
    "reserved name": (
        OPT.format(hypers=', hypers=[Hyper("epochs", 3)]', init="{}", step="p -= lr * g"),
        "'epochs' is already a setting of every run",
    ),
    "loss NaN": (LOSS.format(grad="", value="np.log(out - y)"), "fails the value check: returns"),
    "loss shape": (
        LOSS.format(grad="", value="np.mean((out - y) ** 2)"),
        "returns shape (), expected (16,) (one value per row)",
    ),
    "grad shape": (
        LOSS.format(grad=", grad=lambda y, out: (out - y)[:3]", value="(out - y) ** 2"),
        "fails the gradient check: returns shape (3,), expected (16,)",
    ),
    "wrong grad": (
        LOSS.format(grad=", grad=lambda y, out: out - y", value="(out - y) ** 2"),
        "'bad-loss' fails the gradient check: worst relative error 0.5 against central",
    ),
    "optimizer NaN": (
        OPT.format(hypers="", init="{}", step="p -= lr * np.log(g)"),
        "fails the quadratic check: parameter 0 is not finite after step 1",
    ),
    "not in place": (
        OPT.format(hypers="", init="{}", step="p = p - lr * g"),
        "the parameters are unchanged after 5 steps (update them in place",
    ),
    "aliasing": (
        OPT.format(hypers="", init='{"keep": params}', step="p -= lr * g"),
        "its state shares memory with the parameters",
    ),
    "not deterministic": (
        OPT.format(hypers="", init="{}", step="p -= lr * g * np.random.random()"),
        "fails the determinism check: two runs from the same start differ",
    ),
    "builtin clash": (
        GOOD_OPT.replace('"fine-sgd"', '"adam"'),
        "line 4: optimizer 'adam' is taken by a built-in optimizer",
    ),
    "alias clash": (
        LOSS.format(grad="", value="(out - y) ** 2").replace(
            'formula="?"', 'formula="?", aliases=("squared-error",)'
        ),
        "loss 'squared-error' is taken by a built-in loss",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_plugin_is_refused_in_one_line_with_nothing_registered(isolated, tmp_path, case):
    text, expected = BAD[case]
    path = tmp_path / "bad.py"
    # a good optimizer first: it must not stay registered when the rest fails
    path.write_text(GOOD_OPT.replace("fine-sgd", "first-sgd") + text, encoding="utf-8")
    if case in ("syntax", "import", "raises", "task", "builtin clash"):  # lines as written
        path.write_text(text, encoding="utf-8")
    before = _names()
    with pytest.raises(plugins.PluginError) as info:
        plugins.load_plugin(path)
    message = str(info.value)
    assert message.startswith(f"plugin {path}") and "\n" not in message
    assert expected in message, message
    assert _names() == before


def test_a_clash_between_two_plugins_names_the_first(isolated, tmp_path):
    one, two = tmp_path / "one.py", tmp_path / "two.py"
    one.write_text(GOOD_OPT, encoding="utf-8")
    two.write_text(GOOD_OPT, encoding="utf-8")
    plugins.load_plugin(one)
    with pytest.raises(plugins.PluginError, match=f"taken by plugin {one}"):
        plugins.load_plugin(two)


def test_missing_and_non_python_files(isolated, tmp_path):
    with pytest.raises(plugins.PluginError, match=r"nope\.py: cannot read it"):
        plugins.load_plugin(tmp_path / "nope.py")
    (tmp_path / "x.txt").write_text("", encoding="utf-8")
    with pytest.raises(plugins.PluginError, match=r"expected a Python file \(.py\)"):
        plugins.load_plugin(tmp_path / "x.txt")


# --------------------------------------------------------------------------- elsewhere


def test_installed_entry_points_are_loaded_and_checked(isolated, tmp_path, monkeypatch):
    (tmp_path / "plug_pkg_xyz.py").write_text(GOOD_OPT, encoding="utf-8")
    info = tmp_path / "plug_pkg_xyz-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plug-pkg-xyz\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[losslab.optimizers]\nfine = plug_pkg_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fresh = plugins.snapshot()
    (loaded,) = plugins.load_entry_points()
    assert loaded.entries == [("optimizer", "fine-sgd")] and loaded.origin.startswith("entry")
    assert len(loaded.sha256) == 64 and plugins.load_entry_points() == []
    sources = plugins.shipped()
    assert sources == ((loaded.path, loaded.sha256, None),)
    plugins.restore(fresh)  # a new worker process: it loads its own installed entry points
    sys.modules.pop("plug_pkg_xyz")
    plugins.ensure(sources)
    assert "fine-sgd" in OPTIMIZERS
    sys.modules.pop("plug_pkg_xyz", None)


def test_a_worker_loads_the_shipped_source_once(isolated, issue_file):
    fresh = plugins.snapshot()
    plugins.load_plugin(issue_file)
    sources = plugins.shipped()
    assert [(p, d) for p, d, _ in sources] == [(str(issue_file), plugins.recorded()[0]["sha256"])]
    plugins.restore(fresh)  # a worker process that has not loaded it
    assert "shrunk-sgd" not in OPTIMIZERS and "scaled-mse" not in MODELS.get("linear").losses
    issue_file.unlink()  # nor can it read the file: the source travels
    plugins.ensure(sources)
    plugins.ensure(sources)
    assert "shrunk-sgd" in OPTIMIZERS and plugins.LOADED[str(issue_file)].origin == "worker"


def test_numeric_gradient_is_vectorised_over_rows_and_columns():
    from losslab.losses.base import numeric_row_grad

    calls = []

    def rows(y, out):
        calls.append(out.shape)
        return np.sum(out**3, axis=1) if out.ndim > 1 else out**3

    out = np.random.default_rng(1).normal(size=(50, 3))
    g = numeric_row_grad(rows)(None, out)
    np.testing.assert_allclose(g, 3 * out**2, rtol=1e-8, atol=1e-9)  # h² and rounding
    assert len(calls) == 6  # two passes per column, all rows at once


def test_the_library_takes_plugin_as_the_command_line_does(isolated, issue_file):
    import losslab

    result = losslab.fit(
        "diabetes", plugin=str(issue_file), optimizer="shrunk-sgd", shrink=0.3,
        loss="scaled-mse", epochs=2,
    )  # fmt: skip
    assert (result.config["optimizer"], result.config["shrink"]) == ("shrunk-sgd", 0.3)
    assert result.config["loss"] == "scaled-mse" and result.status == "completed"


LOGIT_LOSS = """
import numpy as np
from losslab import register_loss


def grad(y, out, *, logits=False):
    if logits:
        return 1.0 / (1.0 + np.exp(-out)) - y
    return {grad_p}


@register_loss("my-bce", task="binary", formula="bce", supports_logits=True, grad=grad)
def my_bce(y, out, *, logits=False):
    p = 1.0 / (1.0 + np.exp(-out)) if logits else out
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))
"""


def test_a_classification_loss_that_reads_logits_trains_logistic_regression(isolated, tmp_path):
    import losslab

    path = tmp_path / "bce.py"
    path.write_text(LOGIT_LOSS.format(grad_p="(out - y) / (out * (1 - out))"), encoding="utf-8")
    plugin = plugins.load_plugin(path)
    assert {c.what for c in plugin.checks} == {"value", "gradient", "value (logits)",
                                               "gradient (logits)"}  # fmt: skip
    assert "my-bce" in MODELS.get("logistic").losses
    mine, theirs = (
        losslab.fit("breast-cancer", loss=loss, optimizer="gd", epochs=5).metrics["test"]["loss"]
        for loss in ("my-bce", "bce")
    )
    assert mine == pytest.approx(theirs, rel=1e-9)  # the fused bce kernel, another sum order


def test_a_wrong_logits_gradient_or_no_logits_keyword_is_refused(isolated, tmp_path):
    path = tmp_path / "bce.py"
    wrong = LOGIT_LOSS.format(grad_p="(out - y) / (out * (1 - out))").replace("- y\n", "+ y\n")
    path.write_text(wrong, encoding="utf-8")
    with pytest.raises(plugins.PluginError, match=r"fails the gradient \(logits\) check"):
        plugins.load_plugin(path)
    no_keyword = LOGIT_LOSS.replace(", *, logits=False):\n    p =", "):\n    logits = 0\n    p =")
    path.write_text(no_keyword, encoding="utf-8")
    with pytest.raises(plugins.PluginError, match="a loss that supports logits takes logits="):
        plugins.load_plugin(path)
    assert "my-bce" not in LOSSES
