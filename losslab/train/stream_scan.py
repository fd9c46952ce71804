"""Pass 0 of `fit --stream` and the rows of each chunk: the layout of the columns, the split by
row hash, the scaling, the labels seen, and the shuffle buffer of each epoch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losslab.data.read import (
    Table,
)
from losslab.errors import ConfigError, DataError
from losslab.losses import LOSSES
from losslab.nn.models import MODELS, check_loss, choose_model, encode_target
from losslab.train.config import FitConfig
from losslab.train.loop import (
    _Interrupt,
)
from losslab.train.prepare import SPLIT, Problem, Scaler, choose_columns
from losslab.train.stream_source import (
    CLASSES,
    SETS,
    Moments,
    Pass,
    Source,
    unit_hash,
)

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
