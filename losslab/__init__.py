"""losslab: a laboratory for loss functions and optimizers on real CSV data.

``losslab.fit``, ``evaluate``, ``compare``, ``lr_find`` and ``landscape`` are the library forms of
the commands, with their options by the same names; ``losslab.load`` reads a saved run or study
and ``losslab.predict`` applies a run's model to data (:mod:`losslab.api`). Every public name is
imported on first use, so that ``import losslab`` stays light. ``register_loss``,
``register_optimizer``, ``register_schedule`` and ``Hyper`` add a user's own entries (README,
"Bring your own"); ``load_plugin(FILE)`` loads and checks a plugin file as ``--plugin`` does.
The layers, lowest first (each
imports only those below it): ``errors``, ``registry`` and ``hyper`` (the declarations); ``nn``,
``losses`` and ``optim``; ``data``; ``train``; ``study``; ``views``; then ``api`` and ``cli``.
ARCHITECTURE.md draws them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "fit": "losslab.api",
    "evaluate": "losslab.api",
    "compare": "losslab.api",
    "lr_find": "losslab.api",
    "landscape": "losslab.api",
    "interactive": "losslab.api",
    "load": "losslab.api",
    "predict": "losslab.api",
    "FitConfig": "losslab.train.config",
    "LOSSES": "losslab.losses",
    "OPTIMIZERS": "losslab.optim.optimizers",
    "SCHEDULES": "losslab.optim.schedules",
    "Hyper": "losslab.hyper",
    "register_loss": "losslab.losses",
    "register_optimizer": "losslab.optim.optimizers",
    "register_schedule": "losslab.optim.schedules",
    "load_plugin": "losslab.train.plugins",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'losslab' has no attribute {name!r}")
