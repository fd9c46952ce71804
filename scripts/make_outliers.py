"""Write the bundled diabetes-with-outliers pair (seeded; run from the repository's root):

    python scripts/make_outliers.py

datasets/diabetes.csv's 442 rows are shuffled with ``numpy.random.default_rng(SEED)``; the
first 20 % (88 rows) become ``diabetes_outliers_test.csv``, untouched: the clean rows a model is
scored on (``--test-data diabetes-outliers-test``). The other 354 rows become
``diabetes_outliers.csv``, in which 5 % of the targets (18 rows, drawn from the same generator)
are corrupted: ``progression`` + U(5, 10) standard deviations of ``progression``, rounded to
the file's precision — gross one-sided errors, as a broken sensor or a unit mix-up makes. The
features are not touched, and no column marks the corrupted rows (a model would read it as a
feature); the ``corrupted`` list printed here (and recomputable from the seed) names them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 26  # the number
TEST_SHARE = 0.2
CORRUPT_SHARE = 0.05
ROOT = Path(__file__).resolve().parent.parent


def make(frame: pd.DataFrame, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """(training rows with corrupted targets, clean test rows, the corrupted rows' positions in
    the training file)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    n_test = round(TEST_SHARE * len(frame))
    test = frame.iloc[order[:n_test]].reset_index(drop=True)
    train = frame.iloc[order[n_test:]].reset_index(drop=True)
    n_bad = round(CORRUPT_SHARE * len(train))
    bad = np.sort(rng.choice(len(train), n_bad, replace=False))
    y = train["progression"].to_numpy(dtype=float, copy=True)
    shift = rng.uniform(5.0, 10.0, n_bad) * float(np.std(frame["progression"]))
    y[bad] = np.round(y[bad] + shift, 1)
    train["progression"] = y
    return train, test, bad


def main() -> None:
    frame = pd.read_csv(ROOT / "datasets" / "diabetes.csv")
    train, test, bad = make(frame)
    train.to_csv(ROOT / "datasets" / "diabetes_outliers.csv", index=False)
    test.to_csv(ROOT / "datasets" / "diabetes_outliers_test.csv", index=False)
    print(
        f"{len(train)} training rows, {len(bad)} corrupted (rows {bad.tolist()}); "
        f"{len(test)} clean test rows"
    )


if __name__ == "__main__":
    main()
