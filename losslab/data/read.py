"""Reading CSV files (or bundled datasets) into validated float64 arrays.

Every error names the file it is about, and the line and column where that applies. Line numbers
are the file's own (the header is line 1), counted in the decompressed text of a gzip file. pandas
is imported only when a file is actually read.
"""

from __future__ import annotations

import codecs
import errno
import gzip
import hashlib
import io
import os
import select
import stat
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from losslab.errors import ConfigError, DataError
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
GZIP_MAGIC = b"\x1f\x8b"
PIPE_WAIT = 60.0  # seconds a pipe may stay silent before its first byte (a FIFO nobody writes)
HEAD = 8192  # bytes of text checked for NULs and sniffed for the separator before parsing
# What --sep accepts, and what each means; sniffing tries the separators in this order.
SEPARATORS = {",": ",", ";": ";", "tab": "\t", "\\t": "\t", "\t": "\t", "|": "|"}


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
    "mnist",
    "mnist_train.csv.gz",
    "label",
    "10-class classification",
    "MNIST: the 60,000 training images, 28×28 grey levels 0–255 (LeCun et al.)",
)
_dataset(
    "mnist-test",
    "mnist_test.csv.gz",
    "label",
    "10-class classification",
    "MNIST: the 10,000 official test images (use with --test-data)",
)
_dataset(
    "diabetes-outliers",
    "diabetes_outliers.csv",
    "progression",
    "regression",
    "354 diabetes rows, 18 targets corrupted (+5 to 10 std; scripts/make_outliers.py, seed 26)",
)
_dataset(
    "diabetes-outliers-test",
    "diabetes_outliers_test.csv",
    "progression",
    "regression",
    "the other 88 diabetes rows, clean: --test-data for diabetes-outliers",
)
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
    here = Path(__file__).resolve().parent.parent  # the package's directory
    for candidate in (here / "datasets", here.parent / "datasets"):
        if (candidate / "iris.csv").is_file():
            return candidate
    raise DataError(f"bundled datasets not found next to {here}; reinstall losslab")


def resolve_path(source: str | Path) -> tuple[Path, str]:
    """(path, label) for a file path or a bundled dataset name.

    An existing file wins over a bundled name, so a local ``iris`` file is read as itself.
    """
    text = str(source)
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~user that does not exist
        path = Path(text)
    if os.path.lexists(path) or text not in DATASETS:
        return path, text
    return DATASETS.get(text).path, DATASETS.resolve(text)


@dataclass
class Layout:
    """Where each data record of a CSV text starts (its file line) and how many fields it has.

    Read as pandas reads: quoted fields may span lines, blank lines are skipped, the first
    record is the header. ``long`` is the first data record with more fields than the header,
    bar one empty field (a trailing delimiter, which pandas drops).
    """

    header: int = 0
    starts: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    long: int | None = None

    @classmethod
    def of(cls, text: io.StringIO, sep: str) -> Layout:
        import csv

        out = cls()
        reader = csv.reader(text, delimiter=sep)
        start = 1
        try:
            with fields_of_any_size():
                for fields in reader:
                    line, start = start, reader.line_num + 1
                    if len(fields) <= 1 and not "".join(fields).strip():
                        continue
                    if not out.header:
                        out.header = len(fields)
                        continue
                    extra = len(fields) - out.header
                    if out.long is None and (extra > 1 or (extra == 1 and fields[-1])):
                        out.long = len(out.starts)
                    out.starts.append(line)
                    out.widths.append(len(fields))
        except csv.Error:
            pass  # lines known so far stand
        return out


@dataclass
class Table:
    """A parsed CSV with its provenance; columns are converted on demand with full checks."""

    path: Path
    label: str
    frame: pd.DataFrame
    sep: str = ","
    raw: bytes | None = field(default=None, repr=False)  # the bytes of a pipe, read only once
    _numeric: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @cached_property
    def sha256(self) -> str:
        """The hash of the file's bytes as stored (compressed, if it is)."""
        if self.raw is not None:
            return hashlib.sha256(self.raw).hexdigest()
        digest = hashlib.sha256()
        try:
            with open(self.path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError as exc:
            raise DataError(_os_problem(self.label, self.path, exc)) from None
        return digest.hexdigest()

    @cached_property
    def _layout(self) -> Layout:
        return Layout.of(_text_of(self.path, self.raw, self.label), self.sep)

    def line_of(self, row: int) -> int:
        """The file line of 0-based data row ``row``."""
        lines = self._layout.starts
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
        layout = self._layout
        if 0 <= row < len(layout.widths) and layout.widths[row] < layout.header:
            return (
                f"{self.label}, line {layout.starts[row]}: ragged row with "
                f"{layout.widths[row]} fields; the header has {layout.header}"
            )
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
            value = _shown(series.iloc[row])
            raise DataError(f"{self.where(row, column)}: non-numeric value {value}")
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


def _shown(value: Any, width: int = 60) -> str:
    """A value's repr for a one-line message, cut in the middle when long."""
    text = repr(value)
    return text if len(text) <= width else f"{text[: width // 2]}…{text[-width // 2 :]}"


def _to_float(series: pd.Series) -> np.ndarray | None:
    """float64 values, or None when some value is not a number."""
    kind = series.dtype.kind
    if kind in "fiub":
        return series.to_numpy(dtype=np.float64)
    try:
        return series.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        return None


def read_table(source: str | Path, *, sep: str | None = None) -> Table:
    """Parse a CSV file (or bundled dataset name) with a header row.

    The separator is ``sep`` (``,`` ``;`` ``tab`` or ``\\t``, ``|``), else sniffed from the first
    lines. A gzip file is read as its decompressed text; a UTF-8 byte-order mark is skipped.
    """
    path, label = resolve_path(source)
    forced = _separator(sep)
    raw, text, head = _load(path, label)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(f"{label}: UTF-16 text; save the file as UTF-8")
    if not head.removeprefix(codecs.BOM_UTF8).strip():
        raise DataError(f"{label}: empty file")
    if head.startswith(b"PAR1"):
        raise DataError(f"{label}: a Parquet file; `fit --stream` reads Parquet, in chunks")
    if b"\x00" in head:
        raise DataError(f"{label}: binary file, not CSV text")
    head_text = head.decode("utf-8-sig", errors="replace")
    delimiter = forced or sniff_separator(head_text)
    names = _header_names(head_text, delimiter)
    import warnings

    import pandas as pd

    try:
        with warnings.catch_warnings(), _noticing_ctrl_c() as interrupted:
            # A large column of mixed numbers and strings is typed per chunk; numeric() still
            # finds the string and its line, so pandas' advice is noise on stderr.
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            # index_col=False drops a trailing delimiter's empty field; a non-empty extra field
            # would be dropped too, with this warning: it is a ragged row.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path if text is None else io.BytesIO(text),
                sep=delimiter,
                engine="c",
                encoding="utf-8-sig",
                compression=None,
                index_col=False,
            )
    except pd.errors.EmptyDataError:
        raise DataError(f"{label}: empty file") from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        if interrupted():  # pandas' reader turns a Ctrl-C in its read() into a ParserError
            raise KeyboardInterrupt from None
        layout = Layout.of(_text_of(path, raw, label), delimiter)
        raise DataError(_parser_message(str(exc), layout, label)) from None
    except UnicodeDecodeError:
        raise DataError(_not_utf8(_bytes_of(path, raw, label), label)) from None
    except OSError as exc:
        raise DataError(_os_problem(label, path, exc)) from None
    if names and names[-1] == "" and frame.iloc[:, -1].isna().all():
        names, frame = names[:-1], frame.iloc[:, :-1]  # a trailing delimiter on every line
    _check_names(names, label)
    if frame.empty:
        raise DataError(f"{label}: the header has no data rows")
    return Table(path=path, label=label, frame=frame, sep=delimiter, raw=raw)


def _bytes_of(path: Path, raw: bytes | None, label: str) -> bytes:
    """The (decompressed) text bytes of a file, again, for locating a problem in it.

    Empty for a pipe whose bytes are not at hand: better no line numbers than a second open
    that waits for a writer forever.
    """
    if raw is None:
        try:
            raw = path.read_bytes() if stat.S_ISREG(os.stat(path).st_mode) else b""
        except OSError:
            raw = b""
    return _decompressed(raw, label)


def _text_of(path: Path, raw: bytes | None, label: str) -> io.StringIO:
    """The file's text, for the csv module (line ends kept as they are)."""
    text = _bytes_of(path, raw, label).decode("utf-8-sig", errors="replace")
    return io.StringIO(text, newline="")


@contextmanager
def _noticing_ctrl_c() -> Iterator[Callable[[], bool]]:
    """Whether a Ctrl-C came while the block ran (the handler in force still acts on it)."""
    import signal
    import threading

    seen: list[bool] = []
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield lambda: False  # a worker, or Ctrl-C ignored: nothing to notice
        return

    def handler(signum: int, frame: Any) -> None:
        seen.append(True)
        previous(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def fields_of_any_size() -> Iterator[None]:
    """The csv module's field limit (131,072 characters) lifted: pandas reads fields, and
    column names, of any length."""
    import csv

    limit = csv.field_size_limit(1 << 30)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def _header_names(head: str, sep: str) -> list[str]:
    """The column names as the header spells them (pandas renames duplicates ``a`` → ``a.1``)."""
    import csv

    with fields_of_any_size():
        for fields in csv.reader(head.splitlines(keepends=True), delimiter=sep):
            if len(fields) > 1 or "".join(fields).strip():
                return fields
    return []


def _check_names(names: list[str], label: str) -> None:
    """Every column has a name, and no name is used twice."""
    seen: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        if not name.strip():
            raise DataError(f"{label}: the header has an empty column name (column {number})")
        if name in seen:
            raise DataError(
                f"{label}: duplicate column name {name!r} (columns {seen[name]} and {number})"
            )
        seen[name] = number


def _not_utf8(data: bytes, label: str) -> str:
    """Where a text stops being UTF-8, as the message."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        return (
            f"{label}, line {line}: not UTF-8 text (byte 0x{byte:02x}; Latin-1? save it as UTF-8)"
        )
    return f"{label}: not UTF-8 text"


def _load(path: Path, label: str) -> tuple[bytes | None, bytes | None, bytes]:
    """(raw, text, head): what pandas and the checks need from ``path``, read once.

    ``raw`` holds the bytes of a pipe or device, which can be read only once; ``text`` the whole
    (decompressed) text when pandas must parse it from memory, else None (pandas reads the
    file itself); ``head`` the first bytes of the text.
    """
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise DataError(f"{label}: is a directory, not a CSV file")
        if not stat.S_ISREG(mode):
            raw = _read_stream(path, label)
            text = _decompressed(raw, label)
            return raw, text, _head(text)
        with open(path, "rb") as fh:
            head = fh.read(HEAD)
            if not head.startswith(GZIP_MAGIC):
                # A header longer than HEAD: read on in doubling chunks (linear time, not
                # quadratic), stopping at a NUL byte (a binary file is said as such at once).
                size = HEAD
                while b"\x00" not in head and _head(head) == head and (more := fh.read(size)):
                    head += more
                    size *= 2
                return None, None, _head(head)
            # Decompressed in memory once: the checks and pandas see the same text, and one
            # zlib call is faster than pandas' own streaming decompression.
            text = _decompressed(head + fh.read(), label)
            return None, text, _head(text)
    except (OSError, ValueError) as exc:
        raise DataError(_os_problem(label, path, exc)) from None


def _head(text: bytes) -> bytes:
    """The first HEAD bytes of ``text``, or more, up to the end of the header's line."""
    import re

    content = re.match(rb"\s*", text).end()  # type: ignore[union-attr]
    end = text.find(b"\n", content)
    end = len(text) if end < 0 else end
    cr = text.find(b"\r", content, end)
    return text[: max(HEAD, (end if cr < 0 else cr) + 1)]


def _read_stream(path: Path, label: str) -> bytes:
    """Every byte of a FIFO, a pipe's /dev/fd/N or a device, read once.

    Opening does not block; a pipe silent for PIPE_WAIT seconds (a FIFO nobody writes to) is an
    error rather than a hang. A binary first chunk stops the reading (think /dev/zero).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb", buffering=0) as fh:
        if not select.select([fd], [], [], PIPE_WAIT)[0]:
            raise DataError(f"{label}: nothing was written to this pipe in {PIPE_WAIT:g} s")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        while chunk := fh.read(1 << 20):
            chunks.append(chunk)
            if len(chunks) == 1 and b"\x00" in chunk[:HEAD] and not chunk.startswith(GZIP_MAGIC):
                break
    return b"".join(chunks)


def _os_problem(label: str, path: Path, exc: OSError | ValueError) -> str:
    """One line on what is wrong with ``path``, from the error the system gave."""
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        if os.path.islink(path):
            return f"{label}: no such file (a symbolic link to a missing file)"
        hint = f" (bundled datasets: {', '.join(DATASETS.names())})" if "/" not in label else ""
        return f"{label}: no such file{hint}"
    if code == errno.ENAMETOOLONG:
        longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
        if longest > 255:
            return f"{label}: file name too long ({longest} bytes in one name; the limit is 255)"
        return f"{label}: path too long ({len(os.fsencode(path))} bytes)"
    if code in (errno.EACCES, errno.EPERM):
        return f"{label}: permission denied (cannot read the file, or enter a directory above it)"
    if code == errno.ELOOP:
        return f"{label}: too many levels of symbolic links (a symlink loop)"
    if code == errno.ENOTDIR:
        return f"{label}: no such file (a part of the path is not a directory)"
    if isinstance(exc, ValueError):
        return f"{label}: not a valid file name ({exc})"
    return f"{label}: cannot read ({exc.strerror or exc})"


def _separator(sep: str | None) -> str | None:
    """The delimiter ``--sep`` names, or None to sniff it."""
    if sep is None or sep in SEPARATORS:
        return None if sep is None else SEPARATORS[sep]
    raise ConfigError(f"--sep must be one of , ; tab (or \\t) |, got {sep!r}")


def sniff_separator(head: str) -> str:
    """The delimiter of CSV text from its first lines: comma, semicolon, tab or pipe.

    The candidate that splits the header and the following (complete) lines into the same
    number of fields, the most such; failing that, the one that splits the header the most. Ties
    go to the earlier of , ; tab |. A single-column header reads as comma-separated.
    """
    import csv

    lines = head.splitlines(keepends=True)[:21]
    if len(lines) > 1 and not lines[-1].endswith(("\n", "\r")):
        lines = lines[:-1]  # cut by the head's size
    best, best_key = ",", (1, False)
    for delimiter in dict.fromkeys(SEPARATORS.values()):
        with fields_of_any_size():
            rows = [r for r in csv.reader(lines, delimiter=delimiter) if any(f.strip() for f in r)]
        if not rows:
            continue
        width = len(rows[0])
        key = (width, all(len(r) == width for r in rows[1:]))
        if width > 1 and (key[1], key[0]) > (best_key[1], best_key[0]):
            best, best_key = delimiter, key
    return best


def _decompressed(data: bytes, label: str) -> bytes:
    """``data`` itself, or its decompression when it starts with the gzip magic bytes."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{label}: corrupt gzip file ({exc})") from None


def _parser_message(text: str, layout: Layout, label: str) -> str:
    """pandas' tokenizer error as one plain line, at the file line ``layout`` finds.

    pandas numbers its lines by records, or from 0: the file's own lines are counted again.
    """
    if layout.long is not None:
        row = layout.long
        return (
            f"{label}, line {layout.starts[row]}: ragged row with {layout.widths[row]} fields; "
            f"the header has {layout.header}"
        )
    if "EOF inside string" in text:  # the open quote swallowed the rest: it is the last record
        line = layout.starts[-1] if layout.starts else 1
        return f'{label}, line {line}: a quoted field is never closed (")'
    return f"{label}: " + text.strip().splitlines()[-1].replace(
        "Error tokenizing data. C error: ", ""
    )


def dataset_shape(dataset: Dataset) -> tuple[int, int]:
    """(data rows, columns) of a bundled CSV, plain or gzip, counted without parsing numbers."""
    with open(dataset.path, "rb") as fh:
        gzipped = fh.read(len(GZIP_MAGIC)) == GZIP_MAGIC
    with (gzip.open if gzipped else open)(dataset.path, "rb") as fh:
        lines = (line for line in _lines(fh) if line.removeprefix(codecs.BOM_UTF8).strip())
        header = next(lines, b"").decode("utf-8-sig", errors="replace")
        columns = len(_header_names(header, sniff_separator(header)))
        rows = sum(1 for _ in lines)
    return rows, columns


def _lines(fh: BinaryIO) -> Iterator[bytes]:
    """The lines of a binary file, read in large blocks (much faster than line by line)."""
    rest = b""
    while block := fh.read(1 << 22):
        lines = (rest + block).splitlines(keepends=True)
        rest = lines.pop() if not lines[-1].endswith((b"\n", b"\r")) else b""
        yield from lines
    if rest:
        yield rest
