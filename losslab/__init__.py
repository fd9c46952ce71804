"""losslab: a laboratory for loss functions and optimizers on real CSV data.

``losslab.fit(...)``, ``losslab.evaluate(...)`` and ``losslab.compare(...)`` are the library forms
of the commands; they import their modules on first use so that ``import losslab`` stays light.
They stay these functions whatever is imported later: importing the submodules
``losslab.compare`` or ``losslab.evaluate`` (``from losslab.compare import Grid``) does not
replace them (the submodules are in ``sys.modules`` as usual).
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from losslab.compare import Study
    from losslab.evaluate import EvalResult
    from losslab.training import FitResult

__version__ = "0.1.0"

_LAZY = {
    "FitConfig": ("losslab.training", "FitConfig"),
    "LOSSES": ("losslab.losses", "LOSSES"),
    "OPTIMIZERS": ("losslab.optimizers", "OPTIMIZERS"),
    "SCHEDULES": ("losslab.schedules", "SCHEDULES"),
    "lr_find": ("losslab.lrfind", "lr_find"),  # the range test of `losslab lr-find`
}
_API = ("fit", "evaluate", "compare")

__all__ = ["__version__", *_API, *_LAZY]


def fit(data: Any = None, **settings: Any) -> FitResult:
    """Train a model as `losslab fit` does: ``data`` is a path, a bundled name or a DataFrame;
    ``settings`` are the options (``optimizer="nesterov"``, ``epochs=50``, ``save=True`` …).
    Returns a :class:`~losslab.training.FitResult` (``to_dict()``, ``to_frame()``)."""
    from losslab.training import fit as run

    return run(data, **settings)


def evaluate(data: Any, losses: Any = ("all",), **options: Any) -> EvalResult:
    """Losses of prediction columns against target columns, as `losslab eval` computes them:
    ``data`` is a path, a bundled name or a DataFrame; ``losses`` one name or a list."""
    from losslab.evaluate import evaluate as run
    from losslab.prepare import table_of

    return run(table_of(data), [losses] if isinstance(losses, str) else list(losses), **options)


def compare(data: Any = None, **options: Any) -> Study:
    """A study as `losslab compare` runs it, with the CLI's options as keyword arguments
    (``optimizer=["adam", "sgd"], lr=[0.01, 0.1], seeds=3``). Returns a
    :class:`~losslab.compare.Study` (``to_dict()``, ``to_frame()``)."""
    from losslab.compare import study

    return study(data, **options)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # The import system sets each loaded submodule as an attribute of its package; the
        # names of the API functions keep meaning the functions.
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'losslab' has no attribute {name!r}")
