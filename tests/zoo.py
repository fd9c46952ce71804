"""Where the optimizers beyond the first eight find their references.

Each ``tests/test_zoo_*.py`` module holds the independent references of the optimizers it adds
and says which names it covers: ``STEP_REFERENCED`` (every update, against a reference written
in the module and against torch or the named package when installed) and ``FIT_REFERENCED``
(``fit`` epoch by epoch on a linear model and on an MLP). The generic coverage tests take the
union, so a registered name without a reference fails them the moment it is registered. A module
may also list in ``REFUSED`` the (optimizer, dataset) pairs its rules refuse by design (Muon
without a weight matrix), with the start of the ConfigError they give.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType


@functools.cache
def _modules() -> tuple[ModuleType, ...]:
    modules = []
    for path in sorted(Path(__file__).parent.glob("test_zoo_*.py")):
        spec = importlib.util.spec_from_file_location(f"_zoo_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return tuple(modules)


def referenced(kind: str) -> set[str]:
    """The union of ``kind`` (``STEP_REFERENCED`` or ``FIT_REFERENCED``) over the zoo modules."""
    names: set[str] = set()
    for module in _modules():
        names |= set(getattr(module, kind))
    return names


def refused() -> dict[tuple[str, str], str]:
    """(optimizer, bundled dataset) -> the start of the ConfigError its default fit gives."""
    out: dict[tuple[str, str], str] = {}
    for module in _modules():
        out.update(getattr(module, "REFUSED", {}))
    return out
