"""One registry per extension point: the key is the name a user types, prints and saves."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from losslab.errors import UnknownNameError

T = TypeVar("T")


def canonical(name: str) -> str:
    """Fold a user-typed name to its kebab-case key: ``Log_Loss`` -> ``log-loss``."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


class NameTaken(ValueError):
    """A name (or alias) registered twice: ``kind`` and the canonical ``key``."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} registered twice")
        self.kind = kind
        self.key = key


class Registry(Generic[T]):
    """Names (and aliases) mapped to entries, in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def add(self, name: str, entry: T, aliases: tuple[str, ...] = ()) -> T:
        key = canonical(name)
        for taken in (key, *map(canonical, aliases)):
            if taken in self._entries or taken in self._aliases:
                raise NameTaken(self.kind, taken)
        self._entries[key] = entry
        for alias in aliases:
            self._aliases[canonical(alias)] = key
        return entry

    def replace(self, name: str, entry: T) -> None:
        """Put ``entry`` in place of the one registered as ``name`` (a model kind that gains a
        plugin's loss)."""
        self._entries[self.resolve(name)] = entry

    def snapshot(self) -> tuple[dict[str, T], dict[str, str]]:
        """The entries and aliases as they are, for :meth:`restore` (a plugin that fails its
        checks leaves nothing registered)."""
        return dict(self._entries), dict(self._aliases)

    def restore(self, snapshot: tuple[dict[str, T], dict[str, str]]) -> None:
        self._entries, self._aliases = dict(snapshot[0]), dict(snapshot[1])

    def register(self, name: str, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(entry: T) -> T:
            return self.add(name, entry, aliases)

        return deco

    def resolve(self, name: str) -> str:
        """The canonical name for ``name`` or an alias of it; UnknownNameError otherwise."""
        key = canonical(name)
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        known = list(self._entries) + list(self._aliases)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
        hint = f" Did you mean {self._aliases.get(close[0], close[0])!r}?" if close else ""
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}; choose from: {', '.join(self._entries)}.{hint}"
        )

    def get(self, name: str) -> T:
        return self._entries[self.resolve(name)]

    def names(self) -> list[str]:
        return list(self._entries)

    def aliases_of(self, name: str) -> list[str]:
        key = self.resolve(name)
        return [a for a, k in self._aliases.items() if k == key]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = canonical(name)
        return key in self._entries or key in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __len__(self) -> int:
        return len(self._entries)


# --------------------------------------------------------------------------- notebook display

# How a result is shown as HTML in a notebook, by the name of its class. The results live in the
# low layers (train, study) and must not import the views that draw them; ``losslab.api``, which
# sits above every layer, fills this table with the views' renderers when it is imported (as it is
# by ``losslab.fit`` and every other public function).
HTML_RENDERERS: dict[str, Callable[[object], str]] = {}


def html_of(result: object) -> str | None:
    """The notebook HTML of ``result`` (``_repr_html_``), or None where no renderer is
    registered (the notebook then shows its ``repr``)."""
    render = HTML_RENDERERS.get(type(result).__name__)
    return None if render is None else render(result)
