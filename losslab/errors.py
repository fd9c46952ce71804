"""The one exception family losslab raises for anything a user can fix."""

from __future__ import annotations


class LossLabError(Exception):
    """A problem with the user's input or settings; the CLI prints it as one line and exits 1."""


class DataError(LossLabError):
    """A data file that cannot be read or does not hold what the command needs."""


class ConfigError(LossLabError):
    """A setting (option value, name, combination) that cannot be honoured."""


class UnknownNameError(ConfigError):
    """A name that is not in a registry; the message lists the choices and the closest match."""


class DomainError(DataError):
    """Values outside a loss's domain; ``row`` is the first offending row (0-based), if known.

    ``part`` says which input is at fault (``"target"`` or ``"prediction"``), so the caller can
    add the file, the column names and the line number.
    """

    def __init__(self, message: str, *, row: int | None = None, part: str = "prediction") -> None:
        super().__init__(message)
        self.row = row
        self.part = part


class OutputError(LossLabError):
    """Standard output cannot take the result (a full disk, a closed pipe); ``errno`` says which."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(f"cannot write output: {exc.strerror or exc}")
        self.errno = exc.errno
