"""The classic 2-D test functions of `losslab landscape`: rosenbrock, rastrigin, beale, himmelblau
and the ill-conditioned quadratic ½(x² + κy²), each with its analytic gradient, its minima, a
default start, a plotting window and a default lr for each of `losslab landscape`'s default
optimizers."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losslab.errors import ConfigError, UnknownNameError
from losslab.registry import Registry, canonical

# --------------------------------------------------------------------------- test functions


@dataclass(frozen=True)
class Function2D:
    """A 2-D test function: value and gradient (elementwise on arrays), minima and defaults.

    ``window`` is (x_min, x_max, y_min, y_max); ``log_levels``: its values span decades, so the
    contour levels are log-spaced above the minimum. ``lrs``: the default lr of the default
    optimizers on this function from its start (an optimizer's own default is made for data,
    and on a function whose gradient at the start is in the hundreds it diverges at once): the
    value, among 1, 2, 3 and 5 per decade, at which the optimizer's character shows in the
    default 200 steps (sgd crawling or zigzagging, momentum overshooting, adagrad's steps
    dying out, rmsprop and adam moving at a steady pace) without diverging.
    """

    name: str
    formula: str
    value: Callable[[Any, Any], Any]
    gradient: Callable[[Any, Any], tuple[Any, Any]]
    minima: tuple[tuple[float, float], ...]
    minimum: float
    start: tuple[float, float]
    window: tuple[float, float, float, float]
    log_levels: bool
    source: str  # where the start and window come from
    condition: float | None = None
    lrs: dict[str, float] = field(default_factory=dict)

    def grid(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(xs, ys, values) on an n × n grid of the window; ``values[i, j] = f(xs[j], ys[i])``."""
        x0, x1, y0, y1 = self.window
        xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
        with np.errstate(over="ignore", invalid="ignore"):
            return xs, ys, np.asarray(self.value(*np.meshgrid(xs, ys)), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "formula": self.formula,
            "minima": [list(m) for m in self.minima],
            "minimum": self.minimum,
            "start": list(self.start),
            "window": list(self.window),
            "condition": self.condition,
            "source": self.source,
            "lrs": dict(self.lrs),
        }


def _rosenbrock(_: float | None) -> Function2D:
    """Rosenbrock's valley f = (1 − x)² + 100(y − x²)² (Rosenbrock 1960), minimum f(1, 1) = 0."""

    def value(x: Any, y: Any) -> Any:
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2

    def gradient(x: Any, y: Any) -> tuple[Any, Any]:
        r = y - x * x
        return -2 * (1 - x) - 400 * x * r, 200 * r

    return Function2D(
        "rosenbrock", "(1 − x)² + 100(y − x²)²", value, gradient, ((1.0, 1.0),), 0.0,
        (-2.0, 2.0), (-2.0, 2.0, -1.0, 3.0), True,
        "start and window of pytorch-optimizer's examples/viz_optimizers.py",
        # |∇f(start)| ≈ 1655: sgd above 1.5e-3 and momentum above 5e-4 diverge in a few steps
        lrs={"sgd": 1.5e-3, "momentum": 5e-4, "nesterov": 5e-4, "adagrad": 1.0,
             "rmsprop": 0.3, "adam": 0.5},
    )  # fmt: skip


def _rastrigin(_: float | None) -> Function2D:
    """Rastrigin's function, A = 10: f = 20 + Σ (v² − 10 cos 2πv) over v = x, y; f(0, 0) = 0."""

    def value(x: Any, y: Any) -> Any:
        return 20 + x * x - 10 * np.cos(2 * np.pi * x) + y * y - 10 * np.cos(2 * np.pi * y)

    def gradient(x: Any, y: Any) -> tuple[Any, Any]:
        k = 20 * np.pi
        return 2 * x + k * np.sin(2 * np.pi * x), 2 * y + k * np.sin(2 * np.pi * y)

    return Function2D(
        "rastrigin", "20 + x² − 10 cos 2πx + y² − 10 cos 2πy", value, gradient, ((0.0, 0.0),),
        0.0, (-2.0, 3.5), (-4.5, 4.5, -4.5, 4.5), False,
        "start and window of pytorch-optimizer's examples/viz_optimizers.py",
        # sgd and the momenta settle in the local minimum next to the start; the adaptive
        # rules' larger early steps hop one basin (adagrad, rmsprop) or two (adam) further
        lrs={"sgd": 5e-3, "momentum": 5e-3, "nesterov": 2e-3, "adagrad": 0.5, "rmsprop": 0.05,
             "adam": 0.5},
    )  # fmt: skip


def _beale(_: float | None) -> Function2D:
    """Beale's function f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²;
    f(3, 0.5) = 0."""

    def value(x: Any, y: Any) -> Any:
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2

    def gradient(x: Any, y: Any) -> tuple[Any, Any]:
        a, b, c = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
        gx = 2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1)
        gy = 2 * a * x + 4 * b * x * y + 6 * c * x * y**2
        return gx, gy

    return Function2D(
        "beale", "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²", value, gradient,
        ((3.0, 0.5),), 0.0, (3.0, 4.0), (-4.5, 4.5, -4.5, 4.5), True,
        "start and window of Louis Tiao's 'Visualizing and animating optimization algorithms "
        "with matplotlib'",
        # f(start) ≈ 3.9e4 with |∇f| ≈ 2e5: the gradient methods need lrs near 1e-5
        lrs={"sgd": 5e-5, "momentum": 3e-6, "nesterov": 1e-5, "adagrad": 1.0, "rmsprop": 0.1,
             "adam": 0.2},
    )  # fmt: skip


# Newton's method from the textbook approximations, to the last digit (tests check ∇f = 0).
HIMMELBLAU_MINIMA = (
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.283185991286169),
    (3.5844283403304917, -1.8481265269644034),
)


def _himmelblau(_: float | None) -> Function2D:
    """Himmelblau's function f = (x² + y − 11)² + (x + y² − 7)²: four minima, all f = 0."""

    def value(x: Any, y: Any) -> Any:
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2

    def gradient(x: Any, y: Any) -> tuple[Any, Any]:
        a, b = x * x + y - 11, x + y * y - 7
        return 4 * x * a + 2 * b, 2 * a + 4 * y * b

    return Function2D(
        "himmelblau", "(x² + y − 11)² + (x + y² − 7)²", value, gradient, HIMMELBLAU_MINIMA, 0.0,
        (-0.5, -4.5), (-5.0, 5.0, -5.0, 5.0), True,
        "Wikipedia's window; the start (ours) lies where the basins of three minima meet",
        lrs={"sgd": 1e-3, "momentum": 1e-4, "nesterov": 1e-4, "adagrad": 0.3, "rmsprop": 0.03,
             "adam": 0.1},
    )  # fmt: skip


DEFAULT_CONDITION = 10.0


def _quadratic(condition: float | None) -> Function2D:
    """The ill-conditioned quadratic f = ½(x² + κy²), axis-aligned: the Hessian diag(1, κ) has
    condition number κ, its eigenvectors are the axes (which favours the per-coordinate
    preconditioners: Adagrad, RMSprop and Adam rescale each eigen-direction). f(0, 0) = 0."""
    k = DEFAULT_CONDITION if condition is None else condition

    def value(x: Any, y: Any) -> Any:
        return 0.5 * (x * x + k * y * y)

    def gradient(x: Any, y: Any) -> tuple[Any, Any]:
        return 1.0 * x, k * y

    return Function2D(
        "quadratic", f"½(x² + {k:g}y²)", value, gradient, ((0.0, 0.0),), 0.0, (-4.0, 1.0),
        (-4.5, 1.5, -1.5, 1.5), True,
        "the ravine of Goh's 'Why Momentum Really Works' (Distill 2017), axis-aligned",
        condition=k,
        # sgd at 1/κ, half its stability limit 2/κ: one step along y, a crawl along x
        lrs={"sgd": 1 / k, "momentum": 0.1 / k, "nesterov": 0.1 / k, "adagrad": 0.5,
             "rmsprop": 0.05, "adam": 0.05},
    )  # fmt: skip


FUNCTIONS: Registry[Callable[[float | None], Function2D]] = Registry("test function")
for _name, _build in (
    ("rosenbrock", _rosenbrock),
    ("rastrigin", _rastrigin),
    ("beale", _beale),
    ("himmelblau", _himmelblau),
    ("quadratic", _quadratic),
):
    FUNCTIONS.add(_name, _build)


def make_function(name: str, *, condition: float | None = None) -> Function2D:
    """The test function ``name``; ``condition`` κ is the quadratic's (ConfigError elsewhere)."""
    key = FUNCTIONS.resolve(name)
    if condition is not None:
        if key != "quadratic":
            raise ConfigError(f"--condition applies to the quadratic, not to {key}")
        if not (math.isfinite(condition) and condition >= 1):
            raise ConfigError(f"--condition must be >= 1, got {condition:g}")
    return FUNCTIONS.get(key)(condition)


def is_function(name: str) -> bool:
    return name in FUNCTIONS


def unknown_target(name: str, datasets: Sequence[str]) -> UnknownNameError:
    """The error for a name that is neither a test function, a bundled dataset nor a file."""
    known = [*FUNCTIONS.names(), *datasets]
    close = difflib.get_close_matches(canonical(name), known, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return UnknownNameError(
        f"{name!r} is neither a test function ({', '.join(FUNCTIONS.names())}), a bundled "
        f"dataset nor a file.{hint}"
    )


# --------------------------------------------------------------------------- paths
