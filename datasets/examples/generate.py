"""Regenerate the example prediction files for `losslab eval` (needs scikit-learn).

Run from the repository root: ``python datasets/examples/generate.py``. Predictions are
out-of-fold (5-fold, fixed seed), so they carry honest errors rather than training-set fits.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

root = Path(__file__).resolve().parent
data = root.parent

diabetes = pd.read_csv(data / "diabetes.csv")
X, y = diabetes.iloc[:, :-1], diabetes["progression"]
pred = cross_val_predict(LinearRegression(), X, y, cv=KFold(5, shuffle=True, random_state=0))
pd.DataFrame({"progression": y, "predicted": np.round(pred, 4)}).to_csv(
    root / "diabetes_predictions.csv", index=False
)

cancer = pd.read_csv(data / "breast_cancer.csv")
X, y = cancer.iloc[:, :-1], cancer["malignant"]
model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))
cv = StratifiedKFold(5, shuffle=True, random_state=0)
proba = cross_val_predict(model, X, y, cv=cv, method="predict_proba")[:, 1]
pd.DataFrame({"malignant": y, "p_malignant": np.round(proba, 6)}).to_csv(
    root / "breast_cancer_probabilities.csv", index=False
)

iris = pd.read_csv(data / "iris.csv")
X, y = iris.iloc[:, :-1], iris["species"]
model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000))
proba = cross_val_predict(model, X, y, cv=cv, method="predict_proba")
classes = sorted(y.unique())
proba = np.round(proba, 6)
proba[:, -1] = np.round(1.0 - proba[:, :-1].sum(axis=1), 6)  # rows sum to 1 after rounding
frame = pd.DataFrame(proba, columns=classes)
frame.insert(0, "species", y)
frame.to_csv(root / "iris_probabilities.csv", index=False)
