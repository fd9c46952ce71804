"""Reading CSV files (or bundled datasets) into validated float64 arrays.

Every error names the file it is about, and the line and column where that applies. Line numbers
are the file's own (the header is line 1). pandas is imported only when a file is actually read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from losslab.errors import DataError
from losslab.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass(frozen=True)
class Dataset:
    """A CSV shipped with losslab."""

    name: str
    file: str  # relative to the datasets directory
    target: str
    task: str
    description: str
    example: bool = False  # a generated file of predictions for `losslab eval`

    @property
    def path(self) -> Path:
        return datasets_dir() / self.file


DATASETS: Registry[Dataset] = Registry("dataset")


def _dataset(name: str, *args: Any, aliases: tuple[str, ...] = (), **kw: Any) -> None:
    DATASETS.add(name, Dataset(name, *args, **kw), aliases)


_dataset("iris", "iris.csv", "species", "3-class classification", "Fisher's iris flowers")
_dataset(
    "breast-cancer",
    "breast_cancer.csv",
    "malignant",
    "binary classification",
    "Breast Cancer Wisconsin (Diagnostic)",
)
_dataset("diabetes", "diabetes.csv", "progression", "regression", "Efron et al. (2004), raw")
_dataset("digits", "digits.csv", "digit", "10-class classification", "UCI 8×8 handwritten digits")
_dataset(
    "diabetes-predictions",
    "examples/diabetes_predictions.csv",
    "progression",
    "regression predictions",
    "out-of-fold least-squares predictions for diabetes (generated)",
    example=True,
)
_dataset(
    "breast-cancer-probabilities",
    "examples/breast_cancer_probabilities.csv",
    "malignant",
    "binary probabilities",
    "out-of-fold logistic-regression P(malignant) (generated)",
    example=True,
)
_dataset(
    "iris-probabilities",
    "examples/iris_probabilities.csv",
    "species",
    "class probabilities",
    "out-of-fold softmax probabilities per species (generated)",
    example=True,
)


def datasets_dir() -> Path:
    """The directory holding the bundled CSVs, in a wheel or in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "datasets", here.parent / "datasets"):
        if (candidate / "iris.csv").is_file():
            return candidate
    raise DataError(f"bundled datasets not found next to {here}; reinstall losslab")


def resolve_path(source: str | Path) -> tuple[Path, str]:
    """(path, label) for a file path or a bundled dataset name.

    An existing file wins over a bundled name, so a local ``iris`` file is read as itself.
    """
    text = str(source)
    path = Path(text).expanduser()
    if path.exists() or text not in DATASETS:
        return path, text
    return DATASETS.get(text).path, DATASETS.resolve(text)


@dataclass
class Table:
    """A parsed CSV with its provenance; columns are converted on demand with full checks."""

    path: Path
    label: str
    frame: pd.DataFrame
    _numeric: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @cached_property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    @cached_property
    def _data_lines(self) -> list[int]:
        """File line number (1-based) of each data row, skipping blank lines as pandas does."""
        lines: list[int] = []
        with open(self.path, encoding="utf-8", errors="replace", newline="") as fh:
            header_seen = False
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                if header_seen:
                    lines.append(number)
                header_seen = True
        return lines

    def line_of(self, row: int) -> int:
        """The file line of 0-based data row ``row``."""
        lines = self._data_lines
        return lines[row] if 0 <= row < len(lines) else row + 2

    def where(self, row: int | None = None, column: str | None = None) -> str:
        """``file, line L, column 'c'`` for error messages."""
        parts = [self.label]
        if row is not None:
            parts.append(f"line {self.line_of(row)}")
        if column is not None:
            parts.append(f"column {column!r}")
        return ", ".join(parts)

    def require(self, column: str) -> None:
        if column not in self.frame.columns:
            raise DataError(
                f"{self.label}: no column {column!r}; columns are: {', '.join(self.columns)}"
            )

    def _field_count_problem(self, row: int) -> str | None:
        """A message if data row ``row`` has fewer fields than the header (pandas pads with NaN)."""
        import csv

        line = self.line_of(row)
        with open(self.path, encoding="utf-8", errors="replace", newline="") as fh:
            for number, text in enumerate(fh, start=1):
                if number == line:
                    fields = next(csv.reader([text]))
                    if len(fields) != len(self.frame.columns):
                        return (
                            f"{self.label}, line {line}: ragged row with {len(fields)} fields; "
                            f"the header has {len(self.frame.columns)}"
                        )
                    return None
        return None

    def numeric(self, column: str) -> np.ndarray:
        """Column as finite float64; errors name the file, line, column and value."""
        if column in self._numeric:
            return self._numeric[column]
        self.require(column)
        series = self.frame[column]
        values = _to_float(series)
        if values is None:
            import pandas as pd

            coerced = pd.to_numeric(series, errors="coerce")
            bad = np.flatnonzero(coerced.isna().to_numpy() & series.notna().to_numpy())
            row = int(bad[0])
            raise DataError(f"{self.where(row, column)}: non-numeric value {series.iloc[row]!r}")
        finite = np.isfinite(values)
        if not finite.all():
            row = int(np.flatnonzero(~finite)[0])
            if np.isnan(values[row]):
                problem = self._field_count_problem(row)
                if problem:
                    raise DataError(problem)
                raise DataError(f"{self.where(row, column)}: missing value")
            raise DataError(f"{self.where(row, column)}: infinite value {values[row]}")
        self._numeric[column] = values
        return values

    def matrix(self, columns: list[str]) -> np.ndarray:
        """Columns as a finite float64 matrix of shape (rows, len(columns)), column-major.

        Read-only when it shares memory with the parsed frame.
        """
        for column in columns:
            self.require(column)
        series = [self.frame[c] for c in columns]
        if all(s.dtype.kind in "fiub" for s in series):
            # All numeric. pandas keeps same-typed columns as one block of shape (columns, rows),
            # whose transpose is already the column-major matrix: no copy at all, then. Else one
            # contiguous copy per column. Finiteness in one pass, by column sums: finite iff every
            # value is, barring an overflow, which only sends us down the checking path below.
            out = self.frame[columns].to_numpy(dtype=np.float64)
            if not out.flags.f_contiguous:
                out = np.empty((self.n_rows, len(columns)), order="F")
                for j, s in enumerate(series):
                    out[:, j] = s.to_numpy()
            with np.errstate(over="ignore", invalid="ignore"):  # overflow: the slow path
                sums = np.add.reduce(out, axis=0)
            if np.isfinite(sums).all():
                self._numeric.clear()
                out.flags.writeable = False
                return out
        out = np.empty((self.n_rows, len(columns)), order="F")
        for j, column in enumerate(columns):
            out[:, j] = self.numeric(column)
        self._numeric.clear()
        return out

    def labels(self, column: str) -> np.ndarray:
        """Column as labels (numbers or strings), no missing values."""
        self.require(column)
        series = self.frame[column]
        missing = series.isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            problem = self._field_count_problem(row)
            raise DataError(problem or f"{self.where(row, column)}: missing value")
        values = series.to_numpy()
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            raise DataError(f"{self.where(row, column)}: infinite value {values[row]}")
        if values.dtype.kind == "O" or values.dtype.kind in "SUT":
            values = values.astype(str)
        return values


def _to_float(series: pd.Series) -> np.ndarray | None:
    """float64 values, or None when some value is not a number."""
    kind = series.dtype.kind
    if kind in "fiub":
        return series.to_numpy(dtype=np.float64)
    try:
        return series.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        return None


def read_table(source: str | Path) -> Table:
    """Parse a CSV file (or bundled dataset name) with a header row."""
    path, label = resolve_path(source)
    if not path.exists():
        hint = f" (bundled datasets: {', '.join(DATASETS.names())})" if "/" not in label else ""
        raise DataError(f"{label}: no such file{hint}")
    if path.is_dir():
        raise DataError(f"{label}: is a directory, not a CSV file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise DataError(f"{label}: cannot read ({exc.strerror})") from None
    if not head.strip():
        raise DataError(f"{label}: empty file")
    if b"\x00" in head:
        raise DataError(f"{label}: binary file, not CSV text")
    import pandas as pd

    try:
        frame = pd.read_csv(path, engine="c", encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DataError(f"{label}: empty file") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{label}: {_parser_message(str(exc))}") from None
    except UnicodeDecodeError:
        raise DataError(f"{label}: not UTF-8 text (a binary file?)") from None
    if frame.empty:
        raise DataError(f"{label}: the header has no data rows")
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    if unnamed:
        raise DataError(f"{label}: header has an empty column name (column {unnamed[0][9:]})")
    dupes = [c for c in frame.columns if "." in str(c) and str(c).rsplit(".", 1)[0] in frame]
    if dupes:
        raise DataError(f"{label}: duplicate column name {str(dupes[0]).rsplit('.', 1)[0]!r}")
    return Table(path=path, label=label, frame=frame)


def _parser_message(text: str) -> str:
    """pandas' tokenizer error as one plain line."""
    import re

    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if match:
        want, line, got = match.groups()
        return f"line {line}: ragged row with {got} fields; the header has {want}"
    return text.strip().splitlines()[-1].replace("Error tokenizing data. C error: ", "")


def dataset_shape(dataset: Dataset) -> tuple[int, int]:
    """(data rows, columns) of a bundled CSV, counted without parsing the numbers."""
    with open(dataset.path, encoding="utf-8") as fh:
        columns = len(fh.readline().split(","))
        rows = sum(1 for line in fh if line.strip())
    return rows, columns
