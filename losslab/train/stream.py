"""`losslab fit DATA --stream`: training on a CSV (or Parquet) file that need not fit in memory.

The file is read in chunks of ``--chunk-rows`` rows, pass after pass; no pass holds more than a
chunk (plus fewer than a batch of rows carried to the next one):

- **Pass 0** reads every row once: it checks every value (an error names the file, the line and
  the column), learns the class set and the row split, and the standardisation statistics of the
  training rows, merged chunk by chunk with Chan, Golub & LeVeque's update (numerically stable):
  for two parts a, b of n rows, mean m and M2 = Σ(x − m)², n = n_a + n_b, δ = m_b − m_a,
  m = m_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n ("Updating formulae and a pairwise
  algorithm for computing sample variances", 1979). Each chunk's own m and M2 are computed as
  ``numpy.std`` computes them, so one chunk gives exactly the in-memory scaler.
- **Pass k** (epoch k): each chunk's training rows join a shuffle buffer — the chunk plus the
  rows left over from the previous one, fewer than a batch — which is permuted by the run's
  shuffle stream and stepped on a batch at a time; the leftover of the last chunk is the epoch's
  last, smaller batch. The same chunk also evaluates the parameters that ended epoch k − 1 (loss
  and metric of the training, validation and test rows), so epoch k − 1's history is complete
  after pass k, and one more pass evaluates the last epoch: E epochs take E + 2 passes.

Rows are split by a hash of their row number and the seed (splitmix64): a row is a test row when
its number u ∈ [0, 1) is below ``--test-size``, a validation row when below ``test_size + (1 −
test_size)·val_size``; the same rows whatever the chunk size (``--test-data FILE`` scores on
that file, streamed too, and trains on every row). With ``--test-size 0`` (or ``--test-data``)
and one chunk holding the whole file, a streamed run is the in-memory run, bit for bit.

Every pass checks that the file is the one pass 0 read: its device, inode, size, modification
and change times before every chunk, and for a CSV the CRC-32 of all its bytes at the end of the
pass (pass 0 also gives the sha256 of the record). A change is one error; no model is returned.
"""

from __future__ import annotations

import io
import math
import os
import re
import stat
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from losslab.train.config import FitConfig
from losslab.data.read import (
    GZIP_MAGIC,
    HEAD,
    Table,
    _check_names,
    _header_names,
    _os_problem,
    _separator,
    resolve_path,
    sniff_separator,
)
from losslab.errors import ConfigError, DataError
from losslab.train.kernels import _metric, metric_name, objective_for
from losslab.losses import LOSSES
from losslab.nn.models import MODELS, check_loss, choose_model, encode_target
from losslab.train.prepare import SHUFFLE, SPLIT, Problem, Scaler, Split, choose_columns
from losslab.train.loop import (
    DIVERGED_HINT,
    FitResult,
    ProgressFn,
    _Interrupt,
    build_network,
    divergence,
    generator,
    model_dict,
    resolved_settings,
    run_settings,
    schedule_for,
    step_arrays,
)

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
                raise DataError(f"{self.label}: not a readable Parquet file ({exc})") from None
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
            raise DataError(f"{self.label}: cannot read the Parquet file ({exc})") from None


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


# --------------------------------------------------------------------------- rows of a chunk


@dataclass
class Layout:
    """Which columns a run reads and what it makes of them."""

    target: str
    features: list[str]
    missing: str
    test_share: float  # the hash split's thresholds
    val_share: float
    key: int
    classes: Any = None  # sorted labels (classifiers), once pass 0 has seen them

    def sets(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Each set's rows of a chunk (boolean masks; all-train without a split)."""
        if self.test_share == 0 and self.val_share == 0:
            every = np.ones(rows.shape[0], dtype=bool)
            return {"train": every}
        u = unit_hash(rows, self.key)
        test = u < self.test_share
        val = ~test & (u < self.test_share + self.val_share)
        return {"train": ~(test | val), "val": val, "test": test}


def _chunk(source: Source, frame: Any, start: int, layout: Layout) -> tuple[Any, ...]:
    """(row numbers, X float64 column-major, labels, rows dropped) of a chunk, every value
    checked: a non-numeric, missing or infinite value is one DataError at its line."""
    import pandas as pd

    features, target = layout.features, layout.target
    n = len(frame)
    rows = np.arange(start, start + n)
    series = [frame[c] for c in features]
    for column, s in zip(features, series, strict=True):
        if s.dtype.kind not in "fiub":
            coerced = pd.to_numeric(s, errors="coerce")
            bad = np.flatnonzero(coerced.isna().to_numpy() & s.notna().to_numpy())
            if bad.size:
                value = s.iloc[int(bad[0])]
                raise DataError(
                    f"{source.where(start + int(bad[0]), column)}: non-numeric value {value!r} "
                    "(--stream reads numeric feature columns; drop --stream to one-hot strings)"
                )
    X = np.empty((n, len(features)), order="F")  # column by column: no row-major detour
    for j, s in enumerate(series):
        X[:, j] = s.to_numpy()
    labels = frame[target].to_numpy()
    if labels.dtype.kind == "O":
        missing_label = pd.isna(frame[target]).to_numpy()
    elif labels.dtype.kind == "f":
        missing_label = np.isnan(labels)
    else:
        missing_label = np.zeros(n, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        sums = np.add.reduce(X, axis=0)
    dropped = 0
    if not np.isfinite(sums).all() or missing_label.any():
        nan = np.isnan(X)
        incomplete = nan.any(axis=1) | missing_label
        infinite = np.isinf(X).any(axis=1)
        if infinite.any():
            r = int(np.flatnonzero(infinite)[0])
            j = int(np.flatnonzero(np.isinf(X[r]))[0])
            raise DataError(f"{source.where(start + r, features[j])}: infinite value {X[r, j]}")
        if incomplete.any() and layout.missing != "drop":
            r = int(np.flatnonzero(incomplete)[0])
            column = target if missing_label[r] else features[int(np.flatnonzero(nan[r])[0])]
            raise DataError(
                f"{source.where(start + r, column)}: missing value (--missing drop handles it)"
            )
        keep = ~incomplete
        dropped = int(incomplete.sum())
        rows, X, labels = rows[keep], _rows_of(X, keep), labels[keep]
    if labels.dtype.kind == "O":
        labels = labels.astype(str)
    return rows, X, labels, dropped


def _rows_of(X: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """X[mask], column-major as X (fancy indexing would give a row-major copy)."""
    rows = np.flatnonzero(mask)
    out = np.empty((rows.shape[0], X.shape[1]), order="F", dtype=X.dtype)
    for j in range(X.shape[1]):
        np.take(X[:, j], rows, out=out[:, j])
    return out


def _scale(scaler: Scaler | None, X: np.ndarray) -> None:
    """X ← (X − center) / scale in place: :meth:`Scaler.apply`'s numbers, without its copies."""
    if scaler is not None:
        np.subtract(X, scaler.mean, out=X)
        np.divide(X, scaler.scale, out=X)


# --------------------------------------------------------------------------- pass 0


@dataclass
class Scan:
    """What pass 0 learnt: the problem, the split's counts, the scaler, the target's spread per
    set (for R²), the file's sha256."""

    problem: Problem
    layout: Layout
    counts: dict[str, int]
    scaler: Scaler | None
    y_moments: dict[str, Moments]
    sha256: str
    dropped: int = 0
    test_counts: int = 0
    seconds: float = 0.0
    prep: dict[str, Any] = field(default_factory=dict)


def scan(
    source: Source,
    config: FitConfig,
    chunk_rows: int,
    interrupt: _Interrupt,
    test: Source | None = None,
) -> Scan:
    """Pass 0 over DATA (and the test file): every value checked, the classes, the split's
    counts, the training rows' statistics; Ctrl-C here is a KeyboardInterrupt (nothing yet)."""
    start_time = time.perf_counter()
    target, features, why = choose_columns(source, config)
    key = int(np.random.SeedSequence(config.seed).spawn(3)[SPLIT].generate_state(1, np.uint64)[0])
    test_share = 0.0 if test is not None else config.test_size
    val_share = (1.0 - test_share) * config.validation
    layout = Layout(target, features, config.missing, test_share, val_share, key)
    X_moments = Moments()
    y_moments = {name: Moments() for name in SETS}
    counts = dict.fromkeys(SETS, 0)
    labels_seen = _Labels()
    dropped = 0
    seen = Pass()
    for start, frame in source.chunks(chunk_rows, [*features, target], seen, first=True):
        if interrupt.requested:
            raise KeyboardInterrupt("stopped while reading the data; nothing was trained")
        rows, X, labels, lost = _chunk(source, frame, start, layout)
        dropped += lost
        labels_seen.add(labels, lambda: source.where(start, target))  # noqa: B023 (used at once)
        for name, mask in layout.sets(rows).items():
            counts[name] += int(mask.sum())
            if name == "train":
                X_moments.add(X if mask.all() else _rows_of(X, mask))
            if labels.dtype.kind in "fiub":
                y_moments[name].add(labels[mask].astype(np.float64))
    if counts["train"] == 0:
        raise DataError(f"{source.label}: no training rows (the file has no rows left)")
    automatic, how = labels_seen.model()
    model = MODELS.get(config.model or automatic)
    if config.model is not None:
        how = f"{model.name} (--model)"
    if model.images:
        raise ConfigError("--stream trains linear models and mlp; a cnn trains in memory")
    chosen = MODELS.get(automatic) if model.network else model  # as default_loss chooses
    loss = LOSSES.get(config.loss or chosen.default_loss())
    check_loss(model, loss.name)
    problem = Problem(
        Table(path=source.path, label=source.label, frame=_empty(features, target)),
        target,
        features,
        model,
        loss,
        np.empty((0, len(features))),
        np.empty(0),
        [],
        f"target {target!r} ({why}) · {how}",
        None,
        config.missing,
    )
    head = problem.head
    where = f"{source.label}, column {target!r}"
    if not head.is_classifier(loss.name) and labels_seen.kind == "text":
        raise DataError(
            f"{where}: text labels; a regression ({loss.name}) needs a numeric target "
            "(use --model logistic or softmax for labels)"
        )
    if head.is_classifier(loss.name) and labels_seen.distinct is None:
        raise DataError(f"{where}: more than {CLASSES} distinct labels: too many classes")
    distinct = labels_seen.distinct if labels_seen.distinct is not None else np.empty(0)
    _, classes = encode_target(head, loss.name, distinct, where)
    problem.classes = classes
    if classes:
        layout.classes = distinct
    scaler = None
    if config.scaling != "none":
        scaler = X_moments.scaler(config.scaling, features, source.label)
    prep: dict[str, Any] = {"missing": config.missing}
    if dropped:
        prep["dropped_rows"] = dropped
    result = Scan(problem, layout, counts, scaler, y_moments, seen.sha256 or "", dropped)
    result.prep = prep
    if test is not None:
        _scan_test(test, result, chunk_rows, interrupt)
    problem.table.__dict__["sha256"] = result.sha256
    result.seconds = time.perf_counter() - start_time
    return result


class _Labels:
    """The distinct target values, as far as a classifier could have them (CLASSES); beyond,
    only whether they were all integers, for the model's choice."""

    def __init__(self) -> None:
        self.distinct: np.ndarray | None = np.empty(0)
        self.kind: str | None = None
        self.integral = True

    def add(self, labels: np.ndarray, where: Callable[[], str]) -> None:
        kind = "number" if labels.dtype.kind in "fiub" else "text"
        if self.kind not in (None, kind):
            raise DataError(
                f"{where()}: the target column holds numbers in some rows and text in others "
                "(--stream needs one kind)"
            )
        self.kind = kind
        values = np.unique(labels)
        if kind == "number" and values.dtype.kind == "f":
            self.integral = self.integral and bool(np.all(values == np.round(values)))
        if self.distinct is not None:
            merged = np.union1d(self.distinct, values) if self.distinct.size else values
            self.distinct = merged if merged.size <= CLASSES else None

    def model(self) -> tuple[str, str]:
        """(model, why) as :func:`choose_model` picks them for this target."""
        if self.distinct is not None:
            return choose_model(self.distinct)
        if self.kind == "text":
            return "softmax", f"more than {CLASSES} distinct strings → softmax"
        what = "integers" if self.integral else "numbers"
        return "linear", f"more than {CLASSES} distinct {what} → linear"


def _empty(features: list[str], target: str) -> Any:
    import pandas as pd

    return pd.DataFrame(columns=[*features, target])


def _scan_test(test: Source, scan: Scan, chunk_rows: int, interrupt: _Interrupt) -> None:
    """The test file's pass 0: the same columns (by name), classes among the training ones."""
    layout = scan.layout
    needed = [*layout.features, layout.target]
    missing = [c for c in needed if c not in test.columns]
    if missing:
        what = "target" if missing[0] == layout.target else "feature"
        raise DataError(
            f"{test.label}: no {what} column {missing[0]!r} (the training data "
            f"{scan.problem.table.label} has it); test data needs the same column names"
        )
    moments = scan.y_moments["test"] = Moments()
    count = 0
    seen = Pass()
    for start, frame in test.chunks(chunk_rows, needed, seen, first=True):
        if interrupt.requested:
            raise KeyboardInterrupt("stopped while reading the data; nothing was trained")
        rows, _, labels, _ = _chunk(test, frame, start, _keep_all(layout))
        _codes(labels, layout, test, rows)
        if layout.classes is None:
            if labels.dtype.kind not in "fiub":
                raise DataError(f"{test.where(start, layout.target)}: a regression needs numbers")
            moments.add(labels.astype(np.float64))
        count += rows.shape[0]
    scan.test_counts = count


def _keep_all(layout: Layout) -> Layout:
    """The layout of a test file: every row a test row, nothing dropped silently."""
    return Layout(layout.target, layout.features, "error", 0.0, 0.0, 0, layout.classes)


def _codes(labels: np.ndarray, layout: Layout, source: Source, rows: np.ndarray) -> np.ndarray:
    """y of a chunk: class indices (float64) for a classifier, the numbers for a regression."""
    classes = layout.classes
    if classes is None:
        return labels.astype(np.float64)
    if (labels.dtype.kind in "fiub") != (classes.dtype.kind in "fiub"):
        raise DataError(
            f"{source.where(int(rows[0]), layout.target)}: the labels are "
            f"{'numbers' if labels.dtype.kind in 'fiub' else 'text'} here, not as in the data"
        )
    codes = np.searchsorted(classes, labels)
    codes = np.minimum(codes, classes.shape[0] - 1)
    unknown = classes[codes] != labels
    if unknown.any():
        r = int(np.flatnonzero(unknown)[0])
        from losslab.nn.models import plain

        raise DataError(
            f"{source.where(int(rows[r]), layout.target)}: class {plain(labels[r])!r} does not "
            f"occur in the training data (classes: {', '.join(map(str, map(plain, classes)))})"
        )
    return codes.astype(np.float64)


# --------------------------------------------------------------------------- training


class _Tally:
    """One set's loss and metric over the chunks of a pass: a chunk's mean loss weighted by
    its rows; accuracy by its hits; R² as 1 − Σ(s − y)²/M2 with the set's M2 from pass 0. One
    chunk: its own numbers, exactly."""

    def __init__(self, classifier: bool, spread: float) -> None:
        self.classifier, self.spread = classifier, spread
        self.parts: list[tuple[float, Any, int, float]] = []

    def add(self, value: float, metric: Any, S: np.ndarray, y: np.ndarray) -> None:
        sse = 0.0
        if not self.classifier:
            with np.errstate(over="ignore", invalid="ignore"):
                d = S - y
                sse = float(np.vdot(d, d))
        self.parts.append((value, metric, y.shape[0], sse))

    @property
    def rows(self) -> int:
        return sum(p[2] for p in self.parts)

    def result(self, undefined: Any) -> tuple[float, Any]:
        """(mean loss, metric); ``undefined`` is the metric of a constant target."""
        if len(self.parts) == 1:
            return self.parts[0][0], self.parts[0][1]
        n = self.rows
        value = math.fsum(v * m for v, _, m, _ in self.parts) / n
        if self.classifier:
            return value, sum(round(a * m) for _, a, m, _ in self.parts) / n
        if not self.spread > 0:
            return value, undefined
        with np.errstate(over="ignore", invalid="ignore"):
            r2 = 1.0 - math.fsum(p[3] for p in self.parts) / self.spread
        return value, r2 if math.isfinite(r2) else undefined


@dataclass
class _Evaluation:
    """The parameters at the end of one epoch and what the pass after it measured of them."""

    theta: np.ndarray
    history: dict[str, _Tally] = field(default_factory=dict)
    final: dict[str, _Tally] = field(default_factory=dict)


class _Shuffler:
    """The shuffle buffer: a chunk's training rows plus the rows left from the chunk before
    (fewer than a batch), permuted by the shuffle stream and cut into batches."""

    def __init__(self, batch: int, rng: np.random.Generator) -> None:
        self.batch, self.rng = batch, rng
        self.X: np.ndarray | None = None
        self.y: np.ndarray | None = None

    def feed(self, X: np.ndarray, y: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        from losslab.train.kernels import _rows_c_order

        if self.X is not None and self.X.shape[0]:
            X_rows = np.concatenate([self.X, X])  # row-major, as the rest
            y = np.concatenate([self.y, y])  # type: ignore[list-item]
        else:
            X_rows = _rows_c_order(X)
        n, batch = X_rows.shape[0], self.batch
        order = self.rng.permutation(n)
        full = n - n % batch
        out_X = np.empty((min(batch, n), X_rows.shape[1]), dtype=X_rows.dtype)
        out_y = np.empty(min(batch, n), dtype=y.dtype)
        for begin in range(0, full, batch):
            rows = order[begin : begin + batch]
            yield (
                np.take(X_rows, rows, axis=0, out=out_X, mode="clip"),
                np.take(y, rows, out=out_y, mode="clip"),
            )
        rest = order[full:]
        self.X, self.y = X_rows[rest], y[rest]

    def last(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The epoch's last, smaller batch (what is left), then an empty buffer."""
        if self.X is not None and self.X.shape[0]:
            yield self.X, self.y  # type: ignore[misc]
        self.X = self.y = None


def train(
    source: Source,
    plan: Scan,
    config: FitConfig,
    chunk_rows: int,
    *,
    test: Source | None = None,
    progress: ProgressFn | None = None,
    interrupt: _Interrupt | None = None,
) -> FitResult:
    """The training loop of :func:`losslab.train.loop.train`, on chunks: epoch k's steps and
    the evaluation of epoch k − 1 share pass k (see the module docstring). Never raises on
    divergence; a changed file is a DataError."""
    problem, layout = plan.problem, plan.layout
    opt, lr0, batch, loss_kw = run_settings(problem, config)
    lrs = schedule_for(config, lr0, steps_per_epoch=1)  # per epoch: check_settings saw to it
    rule = opt.rule
    if rule.full_batch or batch in (0, None):
        raise ConfigError(
            f"--stream steps on minibatches; {opt.name} uses the full batch here "
            "(give --batch-size N)"
        )
    if rule.needs_optimum:
        raise ConfigError(f"{opt.name} needs the exact optimum, which --stream cannot compute")
    loss = problem.loss
    if loss.link is not None and not loss.score_input:
        raise ConfigError(
            f"the {loss.name} loss predicts through its link ({loss.link.formula}), which "
            "--stream does not apply yet: fit it in memory (without --stream)"
        )
    l1, l2, clip = config.l1, config.l2, config.clip_norm
    dtype = np.dtype(config.dtype)
    p = len(layout.features)
    net = build_network(problem, config, p, dtype)
    step_params, step_grads, step_mask = step_arrays(net, rule)
    rule.check_model(step_params, step_mask, problem.model.name)
    state = opt.init(step_params)
    n_train = plan.counts["train"]
    batch = min(batch, n_train)
    rng = generator(config.seed, SHUFFLE)
    objective = objective_for(problem, loss_kw)
    one_layer = net.n_layers == 1
    tail = () if net.vector_output else (net.sizes[-1],)
    G_batch = np.empty((batch, *tail), dtype=dtype)
    shuffler = _Shuffler(batch, rng)
    eval_net = net.copy()
    final_net = eval_net if dtype == np.float64 else net.copy(np.float64)
    classifier = problem.classifier
    metric_key = metric_name(problem)
    has_val = plan.counts["val"] > 0
    has_test = plan.counts["test"] > 0 or test is not None
    running = bool(getattr(progress, "running", False))
    step_progress = getattr(progress, "step", None) if running else None
    count = -(-n_train // batch)
    logits = problem.head.logits
    interrupt = interrupt or _Interrupt()

    def step(G: np.ndarray, lr: float) -> None:
        net.backward(G, "batch")
        net.add_penalty_grad(l1, l2)
        if clip is not None:
            coef = clip / (net.grad_norm() + 1e-6)
            if coef < 1.0:
                np.multiply(net.grad, coef, out=net.grad)
        opt.step(step_params, step_grads, state, lr, decay_mask=step_mask, ctx=None)

    def measure(ev: _Evaluation, name: str, X64: np.ndarray, y64: np.ndarray, full: bool) -> None:
        """Loss and metric of ev's parameters on rows of set ``name``, as `train` records them
        (the history, in the run's dtype) and as `_final_metrics` does (float64)."""
        spread = float(plan.y_moments[name].m2) if plan.y_moments[name].n else 0.0
        X = X64 if dtype == np.float64 else np.asfortranarray(X64, dtype=dtype)
        y = y64 if dtype == np.float64 else y64.astype(dtype)
        if one_layer:
            S, shift = eval_net.forward(X, name, output_bias=False), eval_net.output_shift
        else:
            S, shift = eval_net.scores(X), 0.0
        value, metric = objective.evaluate(S, y, None, shift)
        ev.history.setdefault(name, _Tally(classifier, spread)).add(value, metric, S, y)
        objective.forget()
        if full:
            S = final_net.scores(X64)
            value = problem.loss.value(y64, S, logits=logits, **loss_kw)
            tally = ev.final.setdefault(name, _Tally(classifier, spread))
            tally.add(value, _metric(problem, y64, S), S, y64)

    history: list[dict[str, Any]] = []
    finals: dict[int, _Evaluation] = {}
    status, diverged_at, why = "completed", None, ""
    best, best_epoch, waited = math.inf, 0, 0
    initial = ceiling = math.nan
    start = time.perf_counter()
    evaluating = _Evaluation(net.theta.copy())  # θ₀, for the initial objective
    passes = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(1, config.epochs + 2):
            training = k <= config.epochs
            lr = lrs[k - 1] if training else math.nan
            eval_net.theta[...] = evaluating.theta
            if final_net is not eval_net:
                final_net.theta[...] = evaluating.theta
            full = k > 1  # θ₀ only gives the initial objective
            seen, total, b = 0, 0.0, 0
            stopped = False
            passes += 1
            for start_row, frame in source.chunks(
                chunk_rows, [*layout.features, layout.target], Pass()
            ):
                if interrupt.requested:
                    stopped = True
                    break
                rows, X, labels, _ = _chunk(source, frame, start_row, layout)
                y = _codes(labels, layout, source, rows)
                _scale(plan.scaler, X)
                for name, mask in layout.sets(rows).items():
                    if name != "train" and not full:
                        continue
                    if mask.all():
                        Xs, ys = X, y
                    elif not mask.any():
                        continue
                    else:
                        Xs, ys = _rows_of(X, mask), y[mask]
                    measure(evaluating, name, Xs, ys, full)
                    if name != "train" or not training:
                        continue
                    Xt = Xs if dtype == np.float64 else np.asfortranarray(Xs, dtype=dtype)
                    for Xb, yb in shuffler.feed(Xt, ys.astype(dtype, copy=False)):
                        b += 1
                        seen, total = _step_on(
                            net, objective, Xb, yb, G_batch, step, lr, running, seen, total
                        )
                        if step_progress is not None:
                            step_progress(k, b, count, total / seen)
                        if interrupt.requested:
                            stopped = True
                            break
                    if stopped:
                        break
                if stopped:
                    break
            if not stopped and training:
                for Xb, yb in shuffler.last():
                    b += 1
                    seen, total = _step_on(
                        net, objective, Xb, yb, G_batch, step, lr, running, seen, total
                    )
                    if step_progress is not None:
                        step_progress(k, b, count, total / seen)
            if not stopped and test is not None and full:
                for start_row, frame in test.chunks(
                    chunk_rows, [*layout.features, layout.target], Pass()
                ):
                    if interrupt.requested:
                        stopped = True
                        break
                    rows, X, labels, _ = _chunk(test, frame, start_row, _keep_all(layout))
                    y = _codes(labels, layout, test, rows)
                    _scale(plan.scaler, X)
                    measure(evaluating, "test", X, y, True)
            if stopped:
                status = "interrupted"
                break
            # pass k measured the parameters that ended epoch k − 1
            epoch = k - 1
            penalty = eval_net.penalty(l1, l2)
            train_loss, train_metric = evaluating.history["train"].result(math.nan)
            if epoch == 0:
                initial = train_loss + penalty
                ceiling = config.divergence_factor * initial if initial > 0 else math.inf
            else:
                total_objective = train_loss + penalty
                why = divergence(total_objective, ceiling, config.divergence_factor, initial)
                if why:
                    status, diverged_at = "diverged", epoch
                    break
                record: dict[str, Any] = {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "test_loss": None,
                    "lr": lrs[epoch - 1],
                    "objective": total_objective,
                    f"train_{metric_key}": train_metric,
                }
                monitored, metric = train_loss, train_metric
                if has_val:
                    val_loss, val_metric = evaluating.history["val"].result(math.nan)
                    monitored = record["val_loss"] = val_loss
                    record[f"val_{metric_key}"] = val_metric
                if has_test:
                    test_loss, metric = evaluating.history["test"].result(math.nan)
                    record["test_loss"] = test_loss
                    record[f"test_{metric_key}"] = metric
                record[metric_key] = metric
                history.append(record)
                finals[epoch] = evaluating
                if progress is not None:
                    progress(epoch, config.epochs, train_loss)
                if config.patience is not None:
                    if monitored < best - config.tol:
                        best, best_epoch, waited = monitored, epoch, 0
                    else:
                        waited += 1
                        if waited >= config.patience:
                            status = "early_stopped"
                            break
                finals = {e: v for e, v in finals.items() if e in (epoch, best_epoch)}
            if not training:
                break
            rule.to_eval(step_params, state)
            evaluating = _Evaluation(net.theta.copy())
            if k < config.epochs:
                rule.to_train(step_params, state)
            if not np.isfinite(evaluating.theta).all():
                status, diverged_at = "diverged", k
                why = "the loss or the parameters overflowed"
                break
    seconds = time.perf_counter() - start
    kept = best_epoch if status == "early_stopped" else len(history)
    final = finals.get(kept)
    theta = final.theta if final is not None else evaluating.theta
    if status == "diverged":
        theta = evaluating.theta if diverged_at == len(history) + 1 else theta
    eval_net.theta[...] = theta
    model_net = eval_net if dtype == np.float64 else eval_net.copy(np.float64)
    resolved = resolved_settings(problem, config, opt, lr0, batch, loss_kw, net, lrs)
    resolved.update(stream=True, chunk_rows=chunk_rows)
    metrics = _final(problem, final, status, has_val, has_test, model_net, config)
    split = Split(np.empty((0, p)), np.empty(0), None, None, plan.scaler, np.empty(0, np.intp))
    return FitResult(
        status=status,
        epochs_run=len(history) if status != "diverged" else diverged_at or 0,
        seconds=seconds,
        config=resolved,
        history=history,
        metrics=metrics,
        model=model_dict(problem, split, model_net),
        diverged_at=diverged_at,
        message=f"diverged at epoch {diverged_at} ({why}): {DIVERGED_HINT}" if why else None,
        data={"passes": passes},
    )


def _step_on(
    net: Any,
    objective: Any,
    Xb: np.ndarray,
    yb: np.ndarray,
    G_batch: np.ndarray,
    step: Callable[[np.ndarray, float], None],
    lr: float,
    running: bool,
    seen: int,
    total: float,
) -> tuple[int, float]:
    """One minibatch step, as `train` takes it; (rows, summed loss) so far when running."""
    m = yb.shape[0]
    Sb, Gb = net.forward(Xb, "batch"), G_batch[:m]
    if running:
        value, _ = objective.evaluate(Sb, yb, Gb)
        seen, total = seen + m, total + value * m
    else:
        objective.grad(Sb, yb, Gb)
    step(Gb, lr)
    return seen, total


def _final(
    problem: Problem,
    final: _Evaluation | None,
    status: str,
    has_val: bool,
    has_test: bool,
    net: Any,
    config: FitConfig,
) -> dict[str, Any]:
    """The report's train (val, test) loss and metric of the parameters kept, measured in the
    pass after their epoch (nothing when the run diverged or stopped before an epoch ended)."""
    key = metric_name(problem)
    val: dict[str, Any] = {"val": None} if has_val else {}
    if status == "diverged" or final is None:
        return {"train": {"loss": None, key: None, "objective": None}, "test": None, **val}
    train_loss, train_metric = final.final["train"].result(None)
    out: dict[str, Any] = {
        "train": {
            "loss": train_loss,
            key: train_metric,
            "objective": train_loss + net.penalty(config.l1, config.l2),
        },
        "test": None,
    }
    for name in ("val", "test"):
        if name in final.final:
            loss, metric = final.final[name].result(None)
            out[name] = {"loss": loss, key: metric}
    return out


# --------------------------------------------------------------------------- fit


def chunk_rows_for(chunk_rows: int | None, columns: int) -> int:
    """``--chunk-rows``, or as many rows as hold CHUNK_VALUES values."""
    if chunk_rows is None:
        return max(1, CHUNK_VALUES // max(columns, 1))
    if chunk_rows < 1:
        raise ConfigError(f"--chunk-rows must be >= 1, got {chunk_rows}")
    return chunk_rows


def check_settings(config: FitConfig) -> None:
    """What --stream refuses whatever the data, one line each."""
    if config.shuffle != "epoch":
        raise ConfigError(
            "--shuffle once permutes every row once, in memory; --stream shuffles within each "
            "chunk (--shuffle epoch)"
        )
    if config.missing in ("mean", "median"):
        raise ConfigError(
            f"--missing {config.missing} fills values from all training rows in memory; "
            "--stream takes --missing error or drop"
        )
    if config.model is not None and MODELS.get(config.model).images:
        raise ConfigError("--stream trains linear models and mlp; a cnn trains in memory")
    if config.test_data is not None and not isinstance(config.test_data, str | Path):
        raise ConfigError("--test-data: --stream reads a file (a path or a bundled name)")
    for flag, value in (("--weight-column", config.weight_column),
                        ("--class-weight", config.class_weight)):  # fmt: skip
        if value is not None:
            raise ConfigError(f"{flag} is not streamed yet: fit it in memory (without --stream)")
    from losslab.optim.schedules import SCHEDULES, schedule_unit

    if SCHEDULES.get(config.schedule).build is None:
        raise ConfigError(
            f"--schedule {config.schedule} watches the loss every epoch; --stream measures it a "
            "pass later: give a schedule with a closed form"
        )
    if schedule_unit(config.schedule, config.schedule_unit) == "step":
        raise ConfigError(
            f"--stream advances the schedule per epoch; {config.schedule} counts optimizer steps "
            "here (give --schedule-unit epoch)"
        )


def fit(
    data: Any = None,
    *,
    chunk_rows: int | None = None,
    progress: ProgressFn | None = None,
    **settings: Any,
) -> FitResult:
    """`losslab fit DATA --stream`: train on ``data`` read in chunks of ``chunk_rows`` rows,
    pass after pass; the same settings and result as :func:`losslab.train.loop.fit`."""
    config = FitConfig.from_dict({**settings, **({"data": data} if data is not None else {})})
    config.validate()
    check_settings(config)
    source = Source(config.data, sep=config.sep)
    test = Source(config.test_data, flag="--test-data") if config.test_data is not None else None
    rows = chunk_rows_for(chunk_rows, len(source.columns))
    interrupt = _Interrupt()
    with interrupt.installed():
        plan = scan(source, config, rows, interrupt, test)
        result = train(
            source, plan, config, rows, test=test, progress=progress, interrupt=interrupt
        )
    passes = result.data.get("passes", 0)
    result.data = {
        "source": source.label,
        "path": str(source.path.resolve()),
        "sha256": plan.sha256,
        "rows": sum(plan.counts.values()) + plan.dropped,
        "train_rows": plan.counts["train"],
        "test_rows": plan.test_counts if test is not None else plan.counts["test"],
        "val_rows": plan.counts["val"],
        "choice": plan.problem.choice,
        "preparation": plan.prep,
        "stream": {
            "chunk_rows": rows,
            "passes": passes + 1,
            "split": "by row hash" if test is None else "--test-data",
            "format": source.kind,
        },
    }
    if test is not None:
        result.data["test_data"] = test.label
    return result
