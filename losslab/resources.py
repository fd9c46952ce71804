"""The memory a setting needs, estimated before anything is allocated.

A network of ten billion parameters, a landscape grid of 10¹⁰ points or an ``.npz`` whose header
declares an array of 10¹² values is refused in one line with the figure, instead of a
``MemoryError`` (or a machine swapping) half-way through: :func:`check_memory` compares the
estimate with the memory the operating system says is available.
"""

from __future__ import annotations

import os

from losslab.errors import ConfigError


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation: Linux's MemAvailable, else the physical
    memory (``sysconf``), else None (unknown: nothing is refused)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def size_text(nbytes: float) -> str:
    """1536 -> '1.5 KB'; decimal units, as people read them."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if nbytes < 1000 or unit == "PB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.3g} {unit}"
        nbytes /= 1000
    raise AssertionError("unreachable")


def check_memory(nbytes: float, what: str) -> None:
    """Refuse, in one line naming ``what`` and both figures, a need above the available memory."""
    available = available_memory()
    if available is not None and nbytes > available:
        raise ConfigError(
            f"{what} would take about {size_text(nbytes)} of memory; "
            f"{size_text(available)} is available"
        )
