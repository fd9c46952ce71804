"""How numbers read in a table: significant digits, one notation per column, plural-aware counts.

A column is formatted as a whole (:func:`column_formatter`): fixed decimals, the same number of
them on every row, when every value sits between 10⁻³ and 10⁵; scientific notation on every row
otherwise (one value that needs it is enough), so the digits of a column line up and compare at
a glance. JSON and CSV never pass through here: they keep full precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

LOW, HIGH = 1e-3, 1e5  # fixed notation between these magnitudes


def _magnitudes(values: Iterable[Any]) -> list[float]:
    return [
        abs(float(v))
        for v in values
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v != 0
    ]


class Elapsed(float):
    """A wall time in a column of other numbers: shown with millisecond decimals and left out
    of the column's notation, so that how long a run took never changes how its losses print."""


def notation(values: Iterable[Any], digits: int = 5) -> tuple[bool, int]:
    """(scientific, decimals) of a column of ``values`` (integers aside): scientific when any
    value is outside [10⁻³, 10⁵); else the decimals that give the smallest ``digits``
    significant digits."""
    mags = _magnitudes(v for v in values if not isinstance(v, int))
    scientific = bool(mags) and (min(mags) < LOW or max(mags) >= HIGH)
    if not mags or scientific:
        return scientific, 0
    return False, max(digits - 1 - math.floor(math.log10(min(mags))), 0)


def column_formatter(values: Iterable[Any], digits: int = 5) -> Callable[[Any], str]:
    """The formatter of a column holding ``values`` (:func:`notation`): ``digits`` significant
    digits for the smallest magnitude in fixed notation (the same decimals on every row), or
    ``digits`` significant digits in scientific notation on every row when any value needs it.
    Integers stay integers; None is "—", NaN "nan", booleans yes/no, text as it is."""
    values = list(values)
    scientific, decimals = notation([v for v in values if not isinstance(v, Elapsed)], digits)

    def show(value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, Elapsed):
            return f"{value:.3f}"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if math.isnan(value):
                return "nan"
            if math.isinf(value):
                return "inf" if value > 0 else "-inf"
            if value == 0:
                return "0"  # exactly: never a row of zeros
            return f"{value:.{digits - 1}e}" if scientific else f"{value:.{decimals}f}"
        return str(value)

    return show


def spread_formatter(means: Iterable[Any], digits: int = 4) -> Callable[[Any, Any], str]:
    """The formatter of a column of ``mean ± std``: one notation for the whole column, chosen by
    its means (:func:`notation`); in fixed notation the spread has the means' decimals, in
    scientific notation two significant digits. A spread of exactly 0 is "0"; one that the
    means' decimals would round to zeros shows its two digits (never a row of zeros)."""
    means = list(means)
    scientific, decimals = notation(means, digits)

    def one(value: float, sci: str) -> str:
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return "0"
        fixed = f"{value:.{decimals}f}"
        return f"{value:{sci}}" if scientific or not fixed.strip("-0.") else fixed

    def show(mean: Any, std: Any) -> str:
        if mean is None:
            return "—"
        if std is None:
            return one(mean, f".{digits - 1}e")
        return f"{one(mean, f'.{digits - 1}e')} ± {one(std, '.1e')}"

    return show


def plural(count: int, unit: str, units: str | None = None) -> str:
    """``1 iteration``, ``2 iterations``: a count with its unit in the right number."""
    return f"{count} {unit if count == 1 else units or unit + 's'}"
