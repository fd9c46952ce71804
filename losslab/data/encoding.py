"""Feature columns that are not plain numbers: missing values and string (categorical) columns.

Fitted on the training rows alone and saved with the model, like the scaler:

- ``--missing mean|median`` fills a numeric column's missing values with the mean or median of
  its training rows (``--missing drop`` drops incomplete rows before the split; ``error``, the
  default, stops at the first one).
- ``--categorical onehot`` (the default) expands a string column into one 0/1 column per
  category seen in the training rows (sorted), named ``column=category``; a category never seen
  in training, or a missing value, is all zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from losslab.errors import DataError
from losslab.resources import check_memory

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MISSING = ("error", "drop", "mean", "median")
CATEGORICAL = ("onehot", "error")


def is_categorical(series: pd.Series) -> bool:
    """A string column: not numeric, and not a numeric column with a few stray values (those
    stay errors that name the value): fewer than 90% of its values read as numbers."""
    if series.dtype.kind in "fiub":
        return False
    import pandas as pd

    present = series.notna()
    numbers = pd.to_numeric(series[present], errors="coerce").notna().sum()
    return bool(numbers < 0.9 * present.sum())


@dataclass
class Encoder:
    """Raw feature columns -> the model's input matrix (numeric columns as they are, missing
    values filled; string columns one-hot)."""

    columns: list[str]
    fill: dict[str, float] = field(default_factory=dict)  # numeric column -> its fill value
    categories: dict[str, list[str]] = field(default_factory=dict)  # string column -> categories

    @classmethod
    def fit(cls, frame: pd.DataFrame, columns: list[str], missing: str, where: str) -> Encoder:
        """Learn the fill values and categories from ``frame``, the training rows."""
        fill: dict[str, float] = {}
        categories: dict[str, list[str]] = {}
        for column in columns:
            series = frame[column]
            if is_categorical(series):
                categories[column] = sorted(series.dropna().astype(str).unique().tolist())
            elif missing in ("mean", "median") and series.isna().any():
                values = series.to_numpy(dtype=np.float64)
                with np.errstate(all="ignore"):
                    value = np.nanmean(values) if missing == "mean" else np.nanmedian(values)
                if not np.isfinite(value):
                    raise DataError(
                        f"{where}, column {column!r}: no value in the training rows to take "
                        f"the {missing} of (drop the column, or use --missing drop)"
                    )
                fill[column] = float(value)
        return cls(list(columns), fill, categories)

    @property
    def active(self) -> bool:
        return bool(self.fill or self.categories)

    @property
    def names(self) -> list[str]:
        """The model's input columns: ``column`` or ``column=category``."""
        out: list[str] = []
        for column in self.columns:
            if column in self.categories:
                out += [f"{column}={c}" for c in self.categories[column]]
            else:
                out.append(column)
        return out

    def transform(self, frame: pd.DataFrame, where: Any = None) -> np.ndarray:
        """The input matrix (column-major float64) of ``frame``'s rows; ``where(row, column)``
        names a value that is still missing or not a number."""
        import pandas as pd

        n = len(frame)
        # the matrix, then its scaled and row-major copies on the way to training
        check_memory(
            3 * 8 * n * len(self.names),
            f"the encoded features ({n:,} rows × {len(self.names):,} columns: every string "
            "column becomes one column per category)",
        )
        out = np.zeros((n, len(self.names)), order="F")
        j = 0
        for column in self.columns:
            series = frame[column]
            if column in self.categories:
                cats = self.categories[column]
                codes = pd.Index(cats).get_indexer(series.astype(str))
                codes[series.isna().to_numpy()] = -1
                seen = np.flatnonzero(codes >= 0)
                out[seen, j + codes[seen]] = 1.0
                j += len(cats)
                continue
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
            if column in self.fill:
                values = np.where(np.isnan(values), self.fill[column], values)
            bad = ~np.isfinite(values)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                place = where(row, column) if where is not None else f"column {column!r}"
                raw = series.iloc[row]
                what = "missing value" if pd.isna(raw) else f"not a finite number: {raw!r}"
                raise DataError(f"{place}: {what}")
            out[:, j] = values
            j += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "fill": self.fill, "categories": self.categories}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Encoder:
        fill = {str(k): float(v) for k, v in (raw.get("fill") or {}).items()}
        cats = {str(k): [str(c) for c in v] for k, v in (raw.get("categories") or {}).items()}
        return cls([str(c) for c in raw["columns"]], fill, cats)
