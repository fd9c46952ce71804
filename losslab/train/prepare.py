"""From a table to training data: target and features, the model and loss, the split, the scaling.

Randomness: ``SeedSequence(seed).spawn(3)`` gives three generators: the first draws the
train/test split and then the validation rows out of the training rows, the second the per-epoch
shuffles of the training rows, the third a network's initial weights (``spawn(3)[:2]`` equal
``spawn(2)``, so adding the third changed no split or shuffle).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from losslab.data.encoding import Encoder, is_categorical
from losslab.data.read import Layout, Table, read_table
from losslab.errors import ConfigError, DataError
from losslab.losses import Loss
from losslab.losses.embedding import find_loss
from losslab.nn.models import (
    EMBEDDING,
    MODELS,
    ModelKind,
    check_loss,
    choose_model,
    class_codes,
    default_loss,
    encode_target,
    head_of,
    model_for_loss,
)
from losslab.train.config import FitConfig

SPLIT, SHUFFLE, INIT = range(3)  # which child of SeedSequence(seed) feeds what


def generator(seed: int, stream: int) -> np.random.Generator:
    """The generator of one stream (SPLIT, SHUFFLE, INIT) of ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[stream])


@dataclass
class Problem:
    """A table turned into a target, a feature matrix and a model/loss pair (before splitting)."""

    table: Table
    target: str
    features: list[str]
    model: ModelKind
    loss: Loss
    X: np.ndarray
    y: np.ndarray
    classes: list
    choice: str = ""  # which target and model were chosen, and why
    frame: Any = None  # the raw feature columns, when they need an Encoder (X is then unused)
    missing: str = "error"
    prep: dict[str, Any] = field(default_factory=dict)  # rows dropped, values imputed, one-hot
    weights: np.ndarray | None = None  # --weight-column's weights (None: unweighted or all equal)
    weight_column: str | None = None
    # a study of losses that need both one-score models (bce, hinge): each loss runs on the one
    # of linear and logistic that takes it (see :func:`losslab.nn.models.model_for_loss`)
    score_models: bool = False
    embed_dim: int = 2  # the outputs of a model trained with an embedding loss (--embed-dim)

    @property
    def head(self) -> ModelKind:
        """The one-layer model the output follows (the model itself unless it is a network)."""
        return head_of(self.model, self.loss.name)

    @property
    def classifier(self) -> bool:
        return self.head.is_classifier(self.loss.name)

    @property
    def n_outputs(self) -> int:
        if self.head is EMBEDDING:
            return self.embed_dim
        return len(self.classes) if self.head.multi_output else 1


FRAME_LABEL = "<DataFrame>"


def table_of(source: Any, *, sep: str | None = None) -> Table:
    """A :class:`Table` from a path, a bundled name, a Table or (from Python) a DataFrame.

    A DataFrame is taken as it is (column names as strings); its sha256 is that of its rows'
    hashes (``pandas.util.hash_pandas_object``) and its "lines" are its rows, counted from 2 as if
    it had been read from a file with a header.
    """
    import pandas as pd

    if isinstance(source, Table):
        return source
    if not isinstance(source, pd.DataFrame):
        return read_table(source, sep=sep)
    if source.empty:
        raise DataError(f"{FRAME_LABEL}: no rows")
    frame = source.rename(columns=str).reset_index(drop=True)
    table = Table(path=Path(FRAME_LABEL), label=FRAME_LABEL, frame=frame)
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    table.__dict__["sha256"] = digest.hexdigest()
    n = len(frame)
    table.__dict__["_layout"] = Layout(frame.shape[1], list(range(2, n + 2)), [frame.shape[1]] * n)
    return table


def source_path(table: Table) -> str | None:
    """The data file's absolute path (None for a DataFrame)."""
    return None if table.label == FRAME_LABEL else str(table.path.resolve())


def load_problem(config: FitConfig, table: Table | None = None) -> Problem:
    """Read the data and resolve target, features, model and loss for ``config``."""
    table = table if table is not None else table_of(config.data, sep=config.sep)
    weight_column = config.weight_column
    if weight_column is not None:
        require_column(table, weight_column, "--weight-column")
    target, features, why = choose_columns(table, config)
    table, frame, prep = _incomplete_and_strings(table, target, features, config)
    weights = None
    if weight_column is not None:
        from losslab.data.weighting import effective, read_weights

        weights = effective(read_weights(table, weight_column))
        prep["weight_column"] = weight_column
        if weights is None:
            prep["weights"] = "all equal: the unweighted run"
    labels = table.labels(target)
    if config.model is not None:
        model = MODELS.get(config.model)
        how = f"{model.name} (--model)"
    else:
        name, how = choose_model(labels)
        model = MODELS.get(name)
    loss = find_loss(config.loss or default_loss(model, labels))
    y, classes = _encode(table, target, model, loss, labels, config.loss_params())
    X = table.matrix(features) if frame is None else np.empty((len(y), 0))
    choice = f"target {target!r} ({why}) · {how}"
    return Problem(
        table,
        target,
        features,
        model,
        loss,
        X,
        y,
        classes,
        choice,
        frame,
        config.missing,
        prep,
        weights,
        weight_column,
        embed_dim=config.embed_dim or 2,
    )


def choose_columns(table: Any, config: FitConfig) -> tuple[str, list[str], str]:
    """(target, features, why that target) of a table (anything with ``label`` and
    ``columns``): ``--target``, else the first column named like a target, else the last;
    ``--features``, else every other column (never the ``--weight-column``)."""
    weight_column = config.weight_column
    columns = [c for c in table.columns if c != weight_column]
    if len(columns) < 2:
        raise DataError(f"{table.label}: needs a target column and at least one feature column")
    if config.target is not None:
        target, why = config.target, "--target"
        require_column(table, target, "--target")
        if target == weight_column:
            raise ConfigError(f"column {target!r} is both the target and the --weight-column")
    else:
        named = [c for c in columns if c.lower() in TARGET_NAMES]
        target, why = (named[0], "named like a target") if named else (columns[-1], "last column")
    if config.features:
        features = list(config.features)
        for column in features:
            require_column(table, column, "--features")
        if target in features:
            raise ConfigError(f"column {target!r} is both the target and a feature")
        if weight_column in features:
            raise ConfigError(f"column {weight_column!r} is both a feature and the --weight-column")
    else:
        features = [c for c in columns if c != target]
    if config.exclude:
        for column in config.exclude:
            require_column(table, column, "--exclude")
            if column == target:
                raise ConfigError(f"--exclude {column}: {column!r} is the target, not a feature")
        features = [c for c in features if c not in config.exclude]
        if not features:
            raise ConfigError(f"--exclude {','.join(config.exclude)} leaves no feature column")
    return target, features, why


def _incomplete_and_strings(
    table: Table, target: str, features: list[str], config: FitConfig
) -> tuple[Table, Any, dict[str, Any]]:
    """(table, raw feature frame or None, what was done): ``--missing`` and ``--categorical``.

    The frame is returned when the features need an :class:`Encoder` (string columns, or values
    to impute); rows are dropped here, before any split.
    """
    frame = table.frame
    strings = [c for c in features if is_categorical(frame[c])]
    if strings and config.categorical == "error":
        column = strings[0]
        row = int(np.flatnonzero(frame[column].notna().to_numpy())[0])
        raise DataError(
            f"{table.where(row, column)}: non-numeric value {frame[column].iloc[row]!r} "
            "(--categorical onehot encodes string columns)"
        )
    columns = [*features, target]
    if _cannot_be_missing(frame, columns):
        isna, incomplete = np.zeros((0, 0), dtype=bool), np.zeros(0, dtype=bool)
    else:
        isna = frame[columns].isna().to_numpy()
        incomplete = isna.any(axis=1)
    prep: dict[str, Any] = {"missing": config.missing}
    ids = row_id_columns(frame, [c for c in features if c not in strings])
    if ids:
        prep["row_id"] = ids
    if strings:
        prep["onehot"] = strings
    if incomplete.any():
        row = int(np.flatnonzero(incomplete)[0])
        column = [*features, target][int(np.flatnonzero(isna[row])[0])]
        ragged = table._field_count_problem(row)
        if ragged:
            raise DataError(ragged)
        if config.missing == "error" or (column == target and config.missing != "drop"):
            options = "--missing drop" if column == target else "--missing drop, mean or median"
            raise DataError(f"{table.where(row, column)}: missing value ({options} handles it)")
        if config.missing == "drop":
            keep = np.flatnonzero(~incomplete)
            if keep.size == 0:
                raise DataError(f"{table.label}: every row has a missing value (--missing drop)")
            lines = [table.line_of(int(r)) for r in keep]
            table = Table(table.path, table.label, frame.iloc[keep].reset_index(drop=True))
            table.__dict__["_data_lines"] = lines  # errors still name the file's own lines
            prep["dropped_rows"] = int(incomplete.sum())
        else:
            counts = isna[:, : len(features)].sum(axis=0)
            prep["imputed"] = {c: int(k) for c, k in zip(features, counts, strict=True) if k}
            return table, frame[features], prep
    return table, (table.frame[features] if strings else None), prep


def _cannot_be_missing(frame: Any, columns: list[str]) -> bool:
    """Whether every column is of a NumPy integer or bool dtype, which holds no missing value
    (checked from the dtypes alone: no (rows × columns) mask of MNIST's 47 million values)."""
    if not frame.columns.is_unique:
        return False
    dtypes = frame.dtypes
    return all(isinstance(dtypes[c], np.dtype) and dtypes[c].kind in "iub" for c in columns)


ROW_ID_MIN_ROWS = 20  # fewer rows than this: distinct integers prove nothing


def row_id_columns(frame: Any, columns: list[str]) -> list[str]:
    """The columns that look like a row id: integers, all distinct, one per row (0..n−1 or any
    other distinct integers), in a table of at least ``ROW_ID_MIN_ROWS`` rows. As a feature such
    a column lets a model memorise rows; ``--exclude`` drops it."""
    n = len(frame)
    if n < ROW_ID_MIN_ROWS:
        return []
    ids = []
    for column in columns:
        values = frame[column].to_numpy()
        if values.dtype.kind not in "iuf":
            continue
        # n distinct integers span at least n − 1: most columns (pixels 0..255 of 60,000
        # rows) are ruled out by their range alone, before the sort or hash of np.unique
        if not float(values.max()) - float(values.min()) >= n - 1:
            continue
        if values.dtype.kind == "f" and not (
            np.isfinite(values).all() and (values == np.round(values)).all()
        ):
            continue
        if np.unique(values).size == n:
            ids.append(column)
    return ids


TARGET_NAMES = ("target", "label", "class", "y")  # without --target, the first column so named


def require_column(table: Any, column: str, flag: str) -> None:
    """A column the user named; unknown: the columns and the closest name."""
    if column in table.columns:
        return
    import difflib

    close = difflib.get_close_matches(column, table.columns, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise DataError(
        f"{table.label}: {flag}: no column {column!r}{hint} (columns: {', '.join(table.columns)})"
    )


def _encode(
    table: Table,
    target: str,
    model: ModelKind,
    loss: Loss,
    labels: np.ndarray,
    params: dict[str, Any] | None = None,
) -> tuple[np.ndarray, list]:
    """(y, classes) for ``loss``; a regression target must lie in the loss's domain (poisson's
    y >= 0, gamma's y > 0 …) under the given loss ``params`` (those the loss takes)."""
    check_loss(model, loss.name)
    head = head_of(model, loss.name)
    if not head.is_classifier(loss.name) and labels.dtype.kind not in "fiub":
        import pandas as pd

        numbers = pd.to_numeric(pd.Series(labels), errors="coerce").to_numpy()
        row = int(np.flatnonzero(np.isnan(numbers))[0]) if np.isnan(numbers).any() else 0
        raise DataError(
            f"{table.where(row, target)}: non-numeric value {str(labels[row])!r}; a regression "
            f"({loss.name}) needs a numeric target (use --model logistic or softmax for labels)"
        )
    y, classes = encode_target(head, loss.name, labels, f"{table.label}, column {target!r}")
    if not classes:
        from losslab.errors import DomainError

        kw = {k: v for k, v in (params or {}).items() if k in loss.params}
        try:
            loss.check_targets(y, **kw)
        except DomainError as exc:
            raise DataError(f"{table.where(exc.row, target)}: {exc} ({loss.name})") from None
    return y, classes


def with_loss(problem: Problem, loss: str | None, params: dict[str, Any] | None = None) -> Problem:
    """The same data and model with another loss (None: the model's default), its target
    encoded exactly as :func:`load_problem` would encode it for that loss."""
    labels = problem.table.labels(problem.target)
    spec = find_loss(loss or default_loss(problem.model, labels))
    if spec is problem.loss:
        return problem
    model = model_for_loss(problem.model, spec.name, score=problem.score_models)
    y, classes = _encode(problem.table, problem.target, model, spec, labels, params)
    return replace(problem, model=model, loss=spec, y=y, classes=classes)


@dataclass
class Scaler:
    """x ↦ (x − mean) / scale per feature: standard (mean, population std) or minmax (min,
    max − min); a constant column is divided by 1."""

    mean: np.ndarray
    scale: np.ndarray
    kind: str = "standard"

    @classmethod
    def fit(cls, X: np.ndarray, kind: str, features: list[str], where: str) -> Scaler:
        with np.errstate(over="ignore", invalid="ignore"):
            if kind == "minmax":
                lo, hi = X.min(axis=0), X.max(axis=0)
                center, spread = lo, hi - lo
            else:
                center, spread = X.mean(axis=0), X.std(axis=0)
        bad = ~(np.isfinite(center) & np.isfinite(spread))
        if bad.any():
            column = features[int(np.flatnonzero(bad)[0])] if features else "?"
            raise DataError(
                f"{where}, column {column!r}: values too large to scale in float64 "
                "(divide them by a power of ten first, or use --scale none)"
            )
        return cls(center, np.where(spread > 0, spread, 1.0), kind)

    def apply(self, X: np.ndarray) -> np.ndarray:
        # the same two operations as (X − mean) / scale, in one array instead of two
        out = np.subtract(X, self.mean, order="F")
        np.divide(out, self.scale, out=out)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mean": self.mean.tolist(), "scale": self.scale.tolist()}


@dataclass
class Split:
    """Scaled training (and test) data for one seed."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    scaler: Scaler | None
    test_rows: np.ndarray
    test_source: str | None = None  # the --test-data file, when the test rows come from one
    X_val: np.ndarray | None = None  # the validation rows (--val-size), carved from training
    y_val: np.ndarray | None = None
    val_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.intp))
    encoder: Encoder | None = None  # missing values and string columns, fitted on training rows
    # per-row weights of each part (None: unweighted, or all equal there); no training row
    # has weight 0 (those rows are left out of training)
    w_train: np.ndarray | None = None
    w_val: np.ndarray | None = None
    w_test: np.ndarray | None = None
    zero_weight_rows: int = 0  # training rows left out for their weight 0
    # --target-scale standard: {"kind": "standard", "mean": μ, "std": σ} of the training targets;
    # y_train, y_val and y_test are then (y − μ)/σ, and a prediction is σ·s + μ
    target_scale: dict[str, Any] | None = None


def split_rows(
    y: np.ndarray,
    test_size: float,
    rng: np.random.Generator,
    *,
    stratify: bool,
    flag: str = "--test-size",
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices, each sorted.

    ``ceil(test_size·n)`` rows go to test. Stratified: each class gets its share by largest
    remainder, at most all but one of its rows; rows are drawn per class (classes in sorted order)
    with ``rng.permutation``. Otherwise the first rows of one permutation.
    """
    n = y.shape[0]
    if test_size == 0:
        return np.arange(n), np.empty(0, dtype=np.intp)
    n_test = math.ceil(test_size * n)
    if n_test >= n:
        raise DataError(f"{flag} {test_size:g} leaves no training row out of {n}")
    if not stratify:
        perm = rng.permutation(n)
        return np.sort(perm[n_test:]), np.sort(perm[:n_test])
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    exact = counts * (n_test / n)
    quota = np.minimum(np.floor(exact).astype(np.intp), counts - 1)
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    for k in order:
        if quota.sum() >= n_test:
            break
        if quota[k] < counts[k] - 1:
            quota[k] += 1
    test_parts = []
    for k in range(classes.size):
        rows = np.flatnonzero(codes == k)
        test_parts.append(rng.permutation(rows)[: quota[k]])
    test = np.sort(np.concatenate(test_parts))
    mask = np.ones(n, dtype=bool)
    mask[test] = False
    return np.flatnonzero(mask), test


@dataclass
class TestData:
    """A separate test file, its columns matched to the training data's by name."""

    table: Table
    X: np.ndarray | None  # None: the features go through the training split's Encoder
    y: np.ndarray
    w: np.ndarray | None = None  # its --weight-column (None: unweighted, or all equal)


def load_test(problem: Problem, source: Any) -> TestData:
    """Read ``source`` and encode it like the training data: same feature and target columns
    (by name, in any order), target classes among the training classes."""
    table = table_of(source)
    needed = [*problem.features, problem.target]
    missing = [c for c in needed if c not in table.frame.columns]
    if missing:
        what = "target" if missing[0] == problem.target else "feature"
        raise DataError(
            f"{table.label}: no {what} column {missing[0]!r} (the training data "
            f"{problem.table.label} has it); test data needs the same column names"
        )
    labels = table.labels(problem.target)
    if problem.classes:
        y = class_codes(
            labels,
            problem.classes,
            lambda row: table.where(row, problem.target),
            "does not occur in the training data",
        )
    else:
        y = table.numeric(problem.target)
    X = table.matrix(problem.features) if problem.frame is None else None
    w = None
    if problem.weight_column is not None:
        from losslab.data.weighting import effective, read_weights

        if problem.weight_column not in table.frame.columns:
            raise DataError(
                f"{table.label}: no column {problem.weight_column!r}; the test data needs the "
                "--weight-column too"
            )
        w = effective(read_weights(table, problem.weight_column))
    return TestData(table, X, y, w)


def make_split(
    problem: Problem,
    config: FitConfig,
    rng: np.random.Generator,
    test: TestData | None = None,
) -> Split:
    """Training, validation and test rows for ``config.seed`` (all rows train when ``test`` is
    given), scaled by the training rows' statistics alone.

    The test rows are drawn first, then the validation rows out of the remaining training rows,
    from the same generator: without a validation split every split is what it always was.
    """
    if test is not None:
        train, test_rows = np.arange(problem.y.shape[0]), np.empty(0, dtype=np.intp)
    else:
        train, test_rows = split_rows(problem.y, config.test_size, rng, stratify=problem.classifier)
    val_rows = np.empty(0, dtype=np.intp)
    if config.validation > 0:
        keep, val = split_rows(
            problem.y[train], config.validation, rng, stratify=problem.classifier, flag="--val-size"
        )
        train, val_rows = train[keep], train[val]
    weights, zero = problem.weights, 0
    if weights is not None:  # a row of weight 0 is not a training row
        counted = weights[train] > 0
        zero = int(train.size - np.count_nonzero(counted))
        if zero:
            train = train[counted]
        if train.size == 0:
            raise DataError(f"{problem.table.label}: every training row has weight 0")
    if problem.classifier:
        present = np.unique(problem.y[train]).size
        if present < 2:
            raise DataError(
                f"{problem.table.label}: the training split holds a single class; "
                "lower --test-size or use more data"
            )
    encoder, names = None, problem.features
    if problem.frame is not None:
        frame, where = problem.frame, problem.table.where
        encoder = Encoder.fit(frame.iloc[train], problem.features, problem.missing, where())
        names = encoder.names
        X_train = encoder.transform(frame.iloc[train])
        X_val = encoder.transform(frame.iloc[val_rows]) if val_rows.size else None
        if test is not None:
            X_test = encoder.transform(test.table.frame, test.table.where)
        else:
            X_test = encoder.transform(frame.iloc[test_rows]) if test_rows.size else None
        y_test = test.y if test is not None else problem.y[test_rows] if test_rows.size else None
    else:
        X_train = problem.X[train] if train.size < problem.y.shape[0] else problem.X
        X_val = problem.X[val_rows] if val_rows.size else None
        if test is not None:
            X_test, y_test = test.X, test.y
        else:
            X_test = problem.X[test_rows] if test_rows.size else None
            y_test = problem.y[test_rows] if test_rows.size else None
    y_train, y_val = problem.y[train], problem.y[val_rows] if val_rows.size else None
    target_scale = None
    if config.target_scale != "none":
        target_scale = fit_target_scale(problem, y_train)
        y_train, y_val, y_test = (
            None if y is None else scale_target(y, target_scale) for y in (y_train, y_val, y_test)
        )
    scaler = None
    if config.scaling != "none":
        scaler = Scaler.fit(X_train, config.scaling, names, problem.table.label)
        X_train = scaler.apply(X_train)
        X_test = None if X_test is None else scaler.apply(X_test)
        X_val = None if X_val is None else scaler.apply(X_val)
    else:
        X_train = np.asfortranarray(X_train)
        X_test = None if X_test is None else np.asfortranarray(X_test)
        X_val = None if X_val is None else np.asfortranarray(X_val)
    return Split(
        X_train,
        y_train,
        X_test,
        y_test,
        scaler,
        test_rows,
        test_source=test.table.label if test is not None else None,
        X_val=X_val,
        y_val=y_val,
        val_rows=val_rows,
        encoder=encoder,
        **_split_weights(problem, train, val_rows, test_rows, test),
        zero_weight_rows=zero,
        target_scale=target_scale,
    )


def fit_target_scale(problem: Problem, y: np.ndarray) -> dict[str, Any]:
    """μ and σ (the population std, 1 for a constant target) of the training targets, as
    scikit-learn's StandardScaler in a TransformedTargetRegressor has them; only a regression
    target whose loss takes any real value (not poisson's y >= 0 …) can be standardised."""
    what = f"{problem.table.label}: --target-scale standard"
    if problem.classifier:
        raise ConfigError(
            f"{what} applies to regression (a linear, mlp or cnn model with a regression loss); "
            f"{problem.model.name} with {problem.loss.name} is a classifier"
        )
    if not target_scalable(problem.loss):
        raise ConfigError(
            f"{what}: {problem.loss.name} depends on the target's own scale (a link to its "
            "domain, or an error relative to it); a standardised target changes it (use mse, "
            "mae, huber …)"
        )
    std = float(np.std(y))
    return {"kind": "standard", "mean": float(np.mean(y)), "std": std if std > 0 else 1.0}


def target_scalable(loss: Loss) -> bool:
    """Whether ``loss`` means the same on (y − μ)/σ: not through a link (poisson's y >= 0 …),
    not relative to y (mape)."""
    return loss.link is None and loss.name != "mape"


def scale_target(y: np.ndarray, scale: dict[str, Any]) -> np.ndarray:
    """(y − μ)/σ."""
    return (y - scale["mean"]) / scale["std"]


def unscale_target(s: np.ndarray, scale: dict[str, Any] | None) -> np.ndarray:
    """σ·s + μ: a model's standardised output in the target's units (``s`` when not scaled)."""
    return s if scale is None else s * scale["std"] + scale["mean"]


def _split_weights(
    problem: Problem,
    train: np.ndarray,
    val_rows: np.ndarray,
    test_rows: np.ndarray,
    test: TestData | None,
) -> dict[str, np.ndarray | None]:
    """Each part's weights (None where they are all equal); a part whose rows all weigh 0
    has no mean to report: a DataError."""
    from losslab.data.weighting import effective

    w = problem.weights
    parts = {
        "w_train": None if w is None else w[train],
        "w_val": None if w is None or not val_rows.size else w[val_rows],
        "w_test": test.w if test is not None else None if w is None else w[test_rows],
    }
    for name, part in parts.items():
        if part is not None and part.size and not part.any():
            what = name[2:].replace("val", "validation")
            raise DataError(
                f"{problem.table.label}: every {what} row has weight 0 (--weight-column "
                f"{problem.weight_column}); no {what} loss to report"
            )
    return {name: effective(part) for name, part in parts.items()}


def prepare(
    config: FitConfig, problem: Problem | None = None, test: TestData | None = None
) -> tuple[Problem, Split]:
    """Validate the settings, load the data (unless given) and split it for ``config.seed``."""
    config.validate()
    problem = problem if problem is not None else load_problem(config)
    if test is None and config.test_data is not None:
        test = load_test(problem, config.test_data)
    return problem, make_split(problem, config, generator(config.seed, SPLIT), test)


def data_info(problem: Problem, split: Split) -> dict[str, Any]:
    table = problem.table
    info = {
        "source": table.label,
        "path": source_path(table),
        "sha256": table.sha256,
        "rows": table.n_rows,
        "train_rows": int(split.y_train.shape[0]),
        "test_rows": int(split.test_rows.size),
        "val_rows": int(split.val_rows.size),
        "choice": problem.choice,
        "weight_column": problem.weight_column,
        "preparation": _preparation(problem, split),
    }
    if split.test_source is not None and split.y_test is not None:
        info["test_rows"] = int(split.y_test.shape[0])
        info["test_data"] = split.test_source
    if split.target_scale is not None:
        info["target_scale"] = split.target_scale
    return info


def _preparation(problem: Problem, split: Split) -> dict[str, Any]:
    """What was done to the features: rows dropped, values imputed, string columns expanded."""
    out = dict(problem.prep)
    if split.zero_weight_rows:
        out["zero_weight_rows"] = split.zero_weight_rows
    if split.encoder is not None and split.encoder.categories:
        out["onehot"] = {c: len(v) for c, v in split.encoder.categories.items()}
    z = _pixels_blown_up(split)
    if z is not None:
        out["pixel_z"] = z
    if split.target_scale is None and not problem.classifier and split.y_train.size:
        span = [float(split.y_train.min()), float(split.y_train.max())]
        if max(span[1] - span[0], abs(span[0]), abs(span[1])) > TARGET_LARGE:
            out["target_range"] = span
    return out


# a regression target beyond this (its range or |y|) is far from where the default lrs, tuned for
# targets of order 1 to 100, bring a model that starts at zero: --target-scale standard helps
TARGET_LARGE = 1e3


def target_note(prep: dict[str, Any], config: dict[str, Any]) -> str:
    """One line when the regression target is large for the default lr (else ""): the flag."""
    if "target_range" not in prep:
        return ""
    lo, hi = prep["target_range"]
    return (
        f"the target spans {lo:.3g} to {hi:.3g}: at the default lr ({config['optimizer']} "
        f"{config['lr']:g}) a model that starts at zero may not reach it (test R² far below 0); "
        "--target-scale standard fits (y − μ)/σ and predicts in the target's units"
    )


PIXEL_Z = 50.0  # standardised pixels beyond this: a near-constant column's rare ink


def _pixels_blown_up(split: Split) -> float | None:
    """The largest |z| of the standardised training features when they look like pixels
    (integers in [0, 255], at least 16 columns) and some column is so nearly constant that
    standard scaling sends its rare values past ``PIXEL_Z`` (MNIST's border pixels: z ≈ 141);
    else None. --scale minmax keeps such features in [0, 1]."""
    scaler, X = split.scaler, split.X_train
    if scaler is None or scaler.kind != "standard" or X.shape[1] < 16 or not X.shape[0]:
        return None
    sample = X[:1000] * scaler.scale + scaler.mean  # the raw values, to rounding
    raw = np.round(sample)
    if not (np.abs(sample - raw).max() < 1e-6 and raw.min() >= 0 and 1 < raw.max() <= 255):
        return None
    z = max(float(X.max()), -float(X.min()))
    return round(z, 1) if z > PIXEL_Z else None


def row_id_note(columns: list[str]) -> str:
    """The one line saying which feature columns look like a row id, and the flag to drop them."""
    names = ", ".join(repr(c) for c in columns)
    what = "looks like a row id" if len(columns) == 1 else "look like row ids"
    return (
        f"feature {names} {what} (distinct integers, one per row): a model can memorise it; "
        f"--exclude {','.join(columns)} drops it"
    )


def preparation_line(prep: dict[str, Any]) -> str:
    """``2 rows dropped (missing values) · one-hot: region (3)``, or "" when nothing was done."""
    parts = []
    if prep.get("dropped_rows"):
        parts.append(f"{prep['dropped_rows']} rows dropped (missing values)")
    if prep.get("imputed"):
        filled = ", ".join(f"{c} ({k})" for c, k in prep["imputed"].items())
        parts.append(f"missing values filled with the training {prep['missing']}: {filled}")
    if prep.get("zero_weight_rows"):
        parts.append(f"{prep['zero_weight_rows']} training rows of weight 0 left out")
    if isinstance(prep.get("onehot"), dict):
        parts.append("one-hot: " + ", ".join(f"{c} ({k})" for c, k in prep["onehot"].items()))
    if prep.get("pixel_z"):
        parts.append(
            f"pixel-like features (integers in [0, 255]): standard scaling puts the rare values "
            f"of near-constant columns at z = {prep['pixel_z']:g}; --scale minmax keeps every "
            "pixel in [0, 1]"
        )
    return " · ".join(parts)
