"""The file of `fit --stream`: a CSV (gzip too) or Parquet file read chunk by chunk, checked for
changes between and within passes, with the statistics of pass 0 merged chunk by chunk (Chan's
update) and the hash that chooses each row's split."""

from __future__ import annotations

import io
import math
import os
import re
import stat
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from losslab.data.read import (
    GZIP_MAGIC,
    HEAD,
    _check_names,
    _header_names,
    _os_problem,
    _separator,
    resolve_path,
    sniff_separator,
)
from losslab.errors import ConfigError, DataError
from losslab.train.prepare import Scaler

CHUNK_VALUES = 1 << 22  # default --chunk-rows: as many rows as hold 4,194,304 values (32 MB)
PARQUET_MAGIC = b"PAR1"
PARQUET_INSTALL = "pip install 'losslab[parquet]'"
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
SETS = ("train", "val", "test")
CLASSES = 1000  # the most a softmax model takes: pass 0 keeps no more distinct labels


# --------------------------------------------------------------------------- the file


@dataclass(frozen=True)
class Stamp:
    """What identifies a file's content without reading it: a write changes the size or the
    change time (ctime, which no utime() can set back), a replacement the inode."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: Path, label: str) -> Stamp:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise DataError(_os_problem(label, path, exc)) from None
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _Checksummed(io.RawIOBase):
    """A file's bytes as the parser reads them, through a running CRC-32 (and sha256)."""

    def __init__(self, path: Path, sha: Any = None) -> None:
        self.fh = open(path, "rb")  # closed with this object
        self.crc = 0
        self.sha = sha

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.fh.readinto(buffer)
        if n:
            view = memoryview(buffer)[:n]
            self.crc = zlib.crc32(view, self.crc)
            if self.sha is not None:
                self.sha.update(view)
        return n or 0

    def close(self) -> None:
        self.fh.close()
        super().close()


@dataclass
class Pass:
    """What one pass over a file saw: its CRC-32 (CSV) and its sha256 (pass 0)."""

    crc: int | None = None
    sha256: str | None = None


class Source:
    """A data file read in chunks, once per pass, checked to be the same file every pass.

    CSV (plain or gzip; the separator as ``--sep`` names it or sniffed) or, with pyarrow,
    Parquet (known by its magic bytes). Chunks are DataFrames of the columns asked for.
    """

    def __init__(self, source: Any, *, sep: str | None = None, flag: str = "DATA") -> None:
        if not isinstance(source, str | Path):
            raise ConfigError(f"{flag}: --stream reads a file (a path or a bundled name)")
        self.path, self.label = resolve_path(source)
        try:
            mode = os.stat(self.path).st_mode
        except OSError as exc:
            raise DataError(_os_problem(self.label, self.path, exc)) from None
        if stat.S_ISDIR(mode):
            raise DataError(f"{self.label}: is a directory, not a CSV file")
        if not stat.S_ISREG(mode):
            raise DataError(
                f"{self.label}: --stream reads the file once per epoch; a pipe can be read only "
                "once (save it to a file, or drop --stream)"
            )
        self.stamp = Stamp.of(self.path, self.label)
        try:
            with open(self.path, "rb") as fh:
                magic = fh.read(4)
        except OSError as exc:
            raise DataError(_os_problem(self.label, self.path, exc)) from None
        self.gzip = magic.startswith(GZIP_MAGIC)
        self.kind = "parquet" if magic == PARQUET_MAGIC else "csv"
        self.sep = ","
        self.crc: int | None = None  # of the whole file, from pass 0
        if self.kind == "parquet":
            pq = _pyarrow(self.label)
            try:
                self.columns = list(pq.ParquetFile(self.path).schema_arrow.names)
            except Exception as exc:  # pyarrow's many errors for a bad file
                raise DataError(
                    f"{self.label}: not a readable Parquet file ({_one_line(exc)})"
                ) from None
        else:
            head = self._head()
            if not head.removeprefix(b"\xef\xbb\xbf").strip():
                raise DataError(f"{self.label}: empty file")
            if b"\x00" in head:
                raise DataError(f"{self.label}: binary file, not CSV text")
            text = head.decode("utf-8-sig", errors="replace")
            self.sep = _separator(sep) or sniff_separator(text)
            names = _header_names(text, self.sep)
            _check_names(names, self.label)
            self.columns = names
        if len(self.columns) < 2:
            raise DataError(f"{self.label}: needs a target column and at least one feature column")

    def _head(self) -> bytes:
        import gzip

        opener = gzip.open if self.gzip else open
        try:
            with opener(self.path, "rb") as fh:  # type: ignore[operator]
                head = fh.read(HEAD)
                while b"\n" not in head and (more := fh.read(HEAD)):
                    head += more  # a header longer than HEAD
                return head
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{self.label}: cannot read ({exc})") from None

    def where(self, row: int, column: str | None = None) -> str:
        """``file, line L, column 'c'`` of 0-based data row ``row`` (``row R`` for Parquet)."""
        if self.kind == "parquet":
            place = f"{self.label}, row {row + 1}"
        else:
            place = f"{self.label}, line {self.line_of(row)}"
        return place if column is None else f"{place}, column {column!r}"

    def line_of(self, row: int) -> int:
        """The file line of data row ``row``: the header's line, then one per non-blank line
        (as pandas counts records). Scans the file: only for error messages."""
        import gzip

        opener = gzip.open if self.gzip else open
        wanted, seen, line, rest = row + 1, -1, 0, b""  # seen: records, the header being -1
        try:
            with opener(self.path, "rb") as fh:  # type: ignore[operator]
                while block := fh.read(1 << 24):
                    lines = (rest + block).split(b"\n")
                    rest = lines.pop()
                    for text in lines:
                        line += 1
                        if text.strip(b"\r"):
                            seen += 1
                            if seen == wanted:
                                return line
        except (OSError, EOFError, zlib.error):
            pass
        return line + 1

    def check(self) -> None:
        """The file is still the one pass 0 read (cheap: one stat)."""
        if Stamp.of(self.path, self.label) != self.stamp:
            raise DataError(
                f"{self.label}: the file changed while training (its size or times differ "
                "from the first pass); no model is saved: train again on the new file"
            )

    def chunks(
        self, rows: int, columns: list[str], seen: Pass, *, first: bool = False
    ) -> Iterator[tuple[int, Any]]:
        """(index of the chunk's first data row, DataFrame of ``columns``) for the whole file.

        ``seen`` gets the pass's CRC-32 (and, ``first``, the sha256); a later pass whose CRC
        differs from the first's is a DataError at its end.
        """
        self.check()
        if self.kind == "parquet":
            yield from self._parquet_chunks(rows, columns)
            self.check()
            return
        import hashlib

        import pandas as pd

        raw = _Checksummed(self.path, hashlib.sha256() if first else None)
        try:
            handle: Any = io.BufferedReader(raw, buffer_size=1 << 18)
            if self.gzip:
                import gzip

                handle = gzip.GzipFile(fileobj=handle, mode="rb")
            start = 0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", pd.errors.DtypeWarning)
                warnings.simplefilter("error", pd.errors.ParserWarning)
                try:
                    reader = pd.read_csv(
                        handle,
                        sep=self.sep,
                        engine="c",
                        encoding="utf-8-sig",
                        compression=None,
                        index_col=False,
                        chunksize=rows,  # (no usecols: it would let a ragged row pass)
                    )
                    with reader:
                        for frame in reader:
                            self.check()
                            yield start, frame
                            start += len(frame)
                except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
                    raise DataError(self._parser_problem(str(exc))) from None
                except UnicodeDecodeError:
                    raise DataError(f"{self.label}: not UTF-8 text (save it as UTF-8)") from None
                except (OSError, EOFError, zlib.error) as exc:
                    raise DataError(f"{self.label}: cannot read ({exc})") from None
        finally:
            raw.close()
        self.check()
        seen.crc = raw.crc
        if first:
            self.crc = raw.crc
            seen.sha256 = raw.sha.hexdigest()  # type: ignore[union-attr]
        elif raw.crc != self.crc:
            raise DataError(
                f"{self.label}: the file changed while training (its bytes differ from the "
                "first pass's); no model is saved: train again on the new file"
            )

    def _parser_problem(self, text: str) -> str:
        match = _RAGGED.search(text)
        if match:
            header, line, fields = match.groups()
            return (
                f"{self.label}, line {line}: ragged row with {fields} fields; "
                f"the header has {header}"
            )
        return f"{self.label}: " + text.strip().splitlines()[-1].replace(
            "Error tokenizing data. C error: ", ""
        )

    def _parquet_chunks(self, rows: int, columns: list[str]) -> Iterator[tuple[int, Any]]:
        pq = _pyarrow(self.label)
        try:
            data = pq.ParquetFile(self.path)
            start = 0
            for batch in data.iter_batches(batch_size=rows, columns=columns):
                self.check()
                frame = batch.to_pandas()
                yield start, frame
                start += len(frame)
        except DataError:
            raise
        except Exception as exc:  # pyarrow's many errors for a bad file
            raise DataError(
                f"{self.label}: cannot read the Parquet file ({_one_line(exc)})"
            ) from None


def _one_line(exc: Exception) -> str:
    """An exception's message on one line (pyarrow's span several)."""
    return " ".join(str(exc).split())


def _pyarrow(label: str) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{label}: a Parquet file; reading it needs pyarrow, not installed: {PARQUET_INSTALL}"
        ) from None
    return pq


# --------------------------------------------------------------------------- statistics


@dataclass
class Moments:
    """Count, mean and M2 = Σ(x − mean)² per column (or of a vector), with min and max.

    Chunks are merged with Chan et al.'s update on the data shifted by its first row K (exact
    by Sterbenz's lemma near K): the chunk means then differ by what the data spread is, not by
    rounding errors of a large common offset. One chunk alone gives numpy's own numbers.
    """

    n: int = 0
    chunks: int = 0
    shift: Any = 0.0
    shifted_mean: Any = 0.0
    shifted_m2: Any = 0.0
    first: tuple[Any, Any] = (0.0, 0.0)
    lo: Any = math.inf
    hi: Any = -math.inf

    @staticmethod
    def _two_pass(X: np.ndarray) -> tuple[Any, Any]:
        """(mean, M2) as ``numpy.std`` forms them: Σx/n, then Σ(x − mean)²."""
        mean = np.add.reduce(X, axis=0) / X.shape[0]
        d = X - mean
        np.multiply(d, d, out=d)
        return mean, np.add.reduce(d, axis=0)

    def add(self, X: np.ndarray) -> None:
        """Merge in the rows of X (n_b rows of mean m_b, M2_b): n = n_a + n_b, δ = m_b − m_a,
        m = m_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n."""
        m = X.shape[0]
        if m == 0:
            return
        lo, hi = X.min(axis=0), X.max(axis=0)
        if self.n == 0:
            self.shift = np.array(X[0], copy=True)
            self.first = self._two_pass(X)
        mean, m2 = self._two_pass(X - self.shift)
        if self.n == 0:
            self.n, self.shifted_mean, self.shifted_m2, self.lo, self.hi = m, mean, m2, lo, hi
        else:
            n = self.n + m
            delta = mean - self.shifted_mean
            self.shifted_mean = self.shifted_mean + delta * (m / n)
            self.shifted_m2 = self.shifted_m2 + m2 + delta * delta * (self.n * m / n)
            self.lo, self.hi = np.minimum(self.lo, lo), np.maximum(self.hi, hi)
            self.n = n
        self.chunks += 1

    @property
    def mean(self) -> Any:
        return self.first[0] if self.chunks == 1 else self.shift + self.shifted_mean

    @property
    def m2(self) -> Any:
        return self.first[1] if self.chunks == 1 else self.shifted_m2

    def scaler(self, kind: str, features: list[str], where: str) -> Scaler:
        """The --scale of these rows, as :meth:`Scaler.fit` would fit it on them at once."""
        with np.errstate(over="ignore", invalid="ignore"):
            if kind == "minmax":
                center, spread = self.lo, self.hi - self.lo
            else:
                center, spread = self.mean, np.sqrt(self.m2 / self.n)
        bad = ~(np.isfinite(center) & np.isfinite(spread))
        if bad.any():
            column = features[int(np.flatnonzero(bad)[0])]
            raise DataError(
                f"{where}, column {column!r}: values too large to scale in float64 "
                "(divide them by a power of ten first, or use --scale none)"
            )
        return Scaler(center, np.where(spread > 0, spread, 1.0), kind)


def unit_hash(rows: np.ndarray, key: int) -> np.ndarray:
    """u ∈ [0, 1) per row number: splitmix64 of key + row·γ, top 53 bits (Steele, Lea & Flood,
    "Fast splittable pseudorandom number generators", 2014)."""
    z = rows.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(key)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53
