"""Where the optimizers beyond the first eight find their references.

Each ``tests/test_zoo_*.py`` module holds the independent references of the optimizers it adds
and says which names it covers: ``STEP_REFERENCED`` (every update, against a reference written
in the module and against torch or the named package when installed) and ``FIT_REFERENCED``
(``fit`` epoch by epoch on a linear model and on an MLP). The generic coverage tests take the
union, so a registered name without a reference fails them the moment it is registered.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def referenced(kind: str) -> set[str]:
    """The union of ``kind`` (``STEP_REFERENCED`` or ``FIT_REFERENCED``) over the zoo modules."""
    names: set[str] = set()
    for path in sorted(Path(__file__).parent.glob("test_zoo_*.py")):
        spec = importlib.util.spec_from_file_location(f"_zoo_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        names |= set(getattr(module, kind))
    return names
