"""Declared settings: a name, a default, a valid range and a line of help.

A registry entry (an optimizer, a schedule) lists its :class:`Hyper` declarations once; the CLI
flags, their ``--help``, the validation messages, ``losslab optimizers`` and the run record are
all derived from them. ``Hyper("rho", 0.9, "decay of the squared-gradient average", low=0,
high=1, high_open=True).check(1.5)`` raises ``--rho must be in [0, 1), got 1.5``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

import numpy as np

from losslab.errors import ConfigError


@dataclass(frozen=True)
class Space:
    """Where ``compare --tune`` draws a hyperparameter from.

    ``log``: log-uniform in [low, high]; ``one-minus``: 1 − x with x log-uniform in [low, high]
    (decay rates near 1: β, μ, α, ρ); ``zero``: 0 is one more value (drawn with probability
    :data:`ZERO_SHARE`, the first value of a grid). ``low < high``, both > 0, else ConfigError.
    """

    kind: str  # "log" or "one-minus"
    low: float
    high: float
    zero: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("log", "one-minus"):
            raise ConfigError(f"search space kind must be log or one-minus, got {self.kind!r}")
        if not (0 < self.low < self.high and math.isfinite(self.high)):
            raise ConfigError(
                f"search space {self.kind} [{self.low:g}, {self.high:g}]: needs 0 < low < high"
            )

    def _value(self, u: np.ndarray) -> np.ndarray:
        """u in [0, 1] to the space: exp of a uniform between log low and log high."""
        x = np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        return 1.0 - x if self.kind == "one-minus" else x

    def sample(self, rng: np.random.Generator) -> float:
        """One draw; two numbers from ``rng`` when ``zero`` (is it 0?, then where), else one."""
        if self.zero and rng.random() < ZERO_SHARE:
            return 0.0
        return float(self._value(np.array(rng.random())))

    def grid(self, n: int) -> list[float]:
        """n values evenly spaced on the log scale (0 first when ``zero``), low to high."""
        k = n - 1 if self.zero else n
        x = np.geomspace(self.low, self.high, k) if k > 1 else np.sqrt([self.low * self.high] * k)
        values = [float(v) for v in (1.0 - x if self.kind == "one-minus" else x)]
        return [0.0, *values] if self.zero else values

    def text(self) -> str:
        rng = f"[{self.low:g}, {self.high:g}]"
        text = f"log-uniform {rng}" if self.kind == "log" else f"1 − log-uniform {rng}"
        return text + " or 0" if self.zero else text


ZERO_SHARE = 0.2  # a space that includes 0 draws it this often


def log_uniform(low: float, high: float, *, zero: bool = False) -> Space:
    return Space("log", low, high, zero)


def one_minus_log(low: float, high: float) -> Space:
    """1 − log-uniform in [low, high]: a decay rate in [1 − high, 1 − low]."""
    return Space("one-minus", low, high)


def flag_of(name: str) -> str:
    """The command-line flag of a setting: ``weight_decay`` -> ``--weight-decay``."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class Hyper:
    """One declared hyperparameter.

    ``kind`` is ``float``, ``int``, ``bool``, ``str`` (then one of ``choices``) or ``tuple`` (a
    strictly increasing list of integers, given as ``"30,80"`` or a sequence); numbers lie in
    the interval from ``low`` to ``high`` (None: unbounded), open at an end when ``low_open`` /
    ``high_open``. ``optional``: None is a valid value (it then means what ``help`` says).
    """

    name: str
    default: Any
    help: str = ""
    kind: type = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False
    gap: tuple[float, float] | None = None  # an open interval of invalid values (no low/high)
    space: Space | None = None  # where ``compare --tune`` samples it (None: never tuned)

    @property
    def flag(self) -> str:
        return flag_of(self.name)

    def with_default(self, default: Any) -> Hyper:
        return replace(self, default=self.check(default))

    def with_space(self, space: Space | None) -> Hyper:
        return replace(self, space=space)

    def range_text(self) -> str:
        """``[0, 1)``, ``> 0``, ``>= 1`` …: the valid values, as the messages print them."""
        if self.kind is bool:
            return "on or off"
        if self.kind is str:
            return "one of " + ", ".join(self.choices)
        if self.kind is tuple:
            return "increasing integers " + replace(self, kind=int).range_text()
        if self.gap is not None:
            return f"<= {self.gap[0]:g} or >= {self.gap[1]:g}"
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            return f"{'(' if self.low_open else '['}{lo:g}, {hi:g}{')' if self.high_open else ']'}"
        if lo is not None:
            return f"{'>' if self.low_open else '>='} {lo:g}"
        if hi is not None:
            return f"{'<' if self.high_open else '<='} {hi:g}"
        return "finite"

    def range_words(self) -> str:
        """:meth:`range_text` as it follows "must be": ``in [0, 1)``, ``> 0``."""
        text = self.range_text()
        return f"in {text}" if text[0] in "[(" else text

    def check(self, value: Any) -> Any:
        """``value`` as this setting's type; ConfigError naming the flag, range and value."""
        if value is None:
            if self.optional:
                return None
            raise ConfigError(f"{self.flag} needs a value")
        if self.kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ConfigError(f"{self.flag} must be true or false, got {value!r}")
            return bool(value)
        if self.kind is str:
            from losslab.registry import canonical

            text = canonical(str(value))
            if text not in self.choices:
                raise ConfigError(f"{self.flag} must be {self.range_text()}, got {value!r}")
            return text
        if self.kind is tuple:
            return self._check_list(value)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise ConfigError(f"{self.flag} must be a number, got {value!r}")
        if self.kind is int:
            if float(value) != int(value):
                raise ConfigError(f"{self.flag} must be an integer, got {value!r}")
            x: float = int(value)
        else:
            x = float(value)
        ok = not (isinstance(x, float) and math.isnan(x))
        if ok and self.low is not None:
            ok = x > self.low if self.low_open else x >= self.low
        if ok and self.high is not None:
            ok = x < self.high if self.high_open else x <= self.high
        if ok and self.kind is float and (self.low is None or self.high is None):
            ok = math.isfinite(x)
        if ok and self.gap is not None:
            ok = math.isfinite(x) and not self.gap[0] < x < self.gap[1]
        if not ok:
            raise ConfigError(f"{self.flag} must be {self.range_words()}, got {value:g}")
        return x

    def _check_list(self, value: Any) -> tuple[int, ...]:
        items = value.split(",") if isinstance(value, str) else value
        try:
            if isinstance(items, (bool, int, float, np.number)):
                raise TypeError
            ints = [int(str(v).strip()) for v in items]
        except (TypeError, ValueError):
            raise ConfigError(
                f"{self.flag} takes comma-separated integers (e.g. 30,80), got {value!r}"
            ) from None
        if not ints:
            raise ConfigError(f"{self.flag} needs at least one integer (e.g. 30,80)")
        for x in ints:
            if self.low is not None and x < self.low:
                rng = replace(self, kind=int).range_text()
                raise ConfigError(f"{self.flag} takes integers {rng}, got {x}")
        if any(b <= a for a, b in pairwise(ints)):
            shown = ",".join(map(str, ints))
            raise ConfigError(f"{self.flag} must be strictly increasing, got {shown}")
        return tuple(ints)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "default": self.default,
            "type": "list[int]" if self.kind is tuple else self.kind.__name__,
            "range": self.range_text(),
            "help": self.help,
            **({"space": self.space.text()} if self.space is not None else {}),
        }


# Ranges used again and again.
def unit(name: str, default: float, help: str) -> Hyper:
    """A decay rate in [0, 1): momentum μ, β, α, ρ."""
    return Hyper(name, default, help, low=0.0, high=1.0, high_open=True)


def positive(name: str, default: float | None, help: str, *, optional: bool = False) -> Hyper:
    return Hyper(name, default, help, low=0.0, low_open=True, optional=optional)


def nonnegative(name: str, default: float, help: str) -> Hyper:
    return Hyper(name, default, help, low=0.0)


def switch(name: str, default: bool, help: str) -> Hyper:
    return Hyper(name, default, help, kind=bool)


def count(name: str, default: int, help: str, *, low: int = 1, optional: bool = False) -> Hyper:
    return Hyper(name, default, help, kind=int, low=low, optional=optional)


def resolve(declared: Iterable[Hyper], given: dict[str, Any], owner: str) -> dict[str, Any]:
    """Every declared value (``given`` over the defaults, None = the default), validated.

    A given name that is not declared is a ConfigError naming what ``owner`` takes.
    """
    by_name = {h.name: h for h in declared}
    for name, value in given.items():
        if value is not None and name not in by_name:
            takes = ", ".join(h.flag for h in by_name.values()) or "none"
            raise ConfigError(f"{flag_of(name)} is not used by {owner} (it takes: {takes})")
    return {
        name: h.check(given[name]) if given.get(name) is not None else h.default
        for name, h in by_name.items()
    }


def shown(value: Any) -> str:
    """A declared default as listings and ``--help`` show it: ``unset``, ``on``/``off``, a
    number in %g, a list comma-separated."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float)):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def declared_help(entries: Iterable[tuple[str, Hyper]]) -> str:
    """The ``--help`` of a declared flag from its declarations ``(owner, Hyper)``: what it is,
    its range, who takes it with which default (``Momentum factor μ, in [0, 1). Default 0.9:
    momentum, nesterov; 0: gd, sgd``); a None default shows as ``unset``. A name that means
    different things to different owners (RMSprop's and ASGD's α) gives each meaning with its
    range and its takers."""
    by_meaning: dict[str, list[str]] = {}
    by_default: dict[str, list[str]] = {}
    for owner, h in entries:
        meaning = h.help
        if h.kind is not bool:
            rng = h.range_text()
            meaning += f", {'in ' if rng[0] in '[(' else ''}{rng}"
        by_meaning.setdefault(meaning, []).append(owner)
        by_default.setdefault(shown(h.default), []).append(owner)
    users = "; ".join(f"{d}: {', '.join(owners)}" for d, owners in by_default.items())
    if len(by_meaning) == 1:
        text = next(iter(by_meaning))
    else:
        text = "; ".join(f"{m} ({', '.join(owners)})" for m, owners in by_meaning.items())
    return f"{text[0].upper()}{text[1:]}. Default {users}."
