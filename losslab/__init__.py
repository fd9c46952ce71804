"""losslab: a laboratory for loss functions and optimizers on real CSV data.

``losslab.fit(...)``, ``losslab.evaluate(...)`` and ``losslab.compare(...)`` are the library forms
of the commands; they are imported on first use so that ``import losslab`` stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "fit": ("losslab.training", "fit"),
    "FitConfig": ("losslab.training", "FitConfig"),
    "evaluate": ("losslab.evaluate", "evaluate"),
    "compare": ("losslab.compare", "compare"),
    "LOSSES": ("losslab.losses", "LOSSES"),
    "OPTIMIZERS": ("losslab.optimizers", "OPTIMIZERS"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'losslab' has no attribute {name!r}")
