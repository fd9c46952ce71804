"""The reference optimum against independent references: lstsq and the ridge normal equations built
here, L-BFGS from scipy on an objective written here, scikit-learn's LogisticRegression, finite
differences of `objective`, and hand-derived values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from losslab.errors import ConfigError, DataError, DomainError
from losslab.train import reference as ref
from losslab.train.reference import SEPARABLE, objective, reference_optimum

DATA = Path(__file__).resolve().parent.parent / "datasets"
LOSS = {"linear": "mse", "logistic": "bce", "softmax": "cross-entropy"}


def standardise(X: np.ndarray) -> np.ndarray:
    """Population std; a constant column is divided by 1."""
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    D = np.loadtxt(DATA / f"{name}.csv", skiprows=1, delimiter=",")
    return standardise(D[:, :-1]), D[:, -1]


def synthetic(model: str, n: int = 300, p: int = 5, K: int = 3, seed: int = 0, shift: float = 0.0):
    """Correlated columns of mixed scales; targets drawn from the model, so classes overlap."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) * rng.uniform(0.5, 3.0, p) + shift
    Xs = standardise(X)
    if model == "linear":
        return X, Xs @ rng.normal(size=p) + 3.0 + rng.normal(size=n)
    if model == "logistic":
        return X, (rng.random(n) < 1 / (1 + np.exp(-Xs @ rng.normal(size=p) - 0.3))).astype(float)
    S = Xs @ rng.normal(size=(p, K))
    P = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)
    return X, (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).astype(float)


# --------------------------------------------------------------------------- written here


def ref_objective(model: str, X, y, W, b, l2: float) -> float:
    S = X @ W + b
    if model == "linear":
        rows = (S - y) ** 2
    elif model == "logistic":
        rows = np.logaddexp(0.0, S) - S * y
    else:
        M = S.max(axis=1, keepdims=True)
        rows = np.log(np.exp(S - M).sum(axis=1)) + M[:, 0] - S[np.arange(len(y)), y.astype(int)]
    return float(rows.mean() + 0.5 * l2 * np.sum(W * W))


def ref_gradient(model: str, X, y, W, b, l2: float) -> tuple[np.ndarray, np.ndarray]:
    S = X @ W + b
    if model == "logistic":
        R = 1 / (1 + np.exp(-S)) - y
    else:
        P = np.exp(S - S.max(axis=1, keepdims=True))
        R = P / P.sum(axis=1, keepdims=True) - np.eye(W.shape[1])[y.astype(int)]
    return X.T @ R / len(y) + l2 * W, np.atleast_1d(R.mean(axis=0))


def lbfgs(model: str, X, y, l2: float, K: int = 2) -> float:
    """scipy's L-BFGS-B on the objective and gradient above, at the tightest tolerances."""
    optimize = pytest.importorskip("scipy.optimize")
    p = X.shape[1]
    shape = (p + 1,) if model == "logistic" else (p + 1, K)

    def fg(theta):
        T = theta.reshape(shape)
        W, b = T[:p], T[p]
        gW, gb = ref_gradient(model, X, y, W, b, l2)
        grad = np.vstack([gW.reshape(p, -1), gb.reshape(1, -1)])
        return ref_objective(model, X, y, W, b, l2), grad.ravel()

    res = optimize.minimize(
        fg,
        np.zeros(np.prod(shape)),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20000, "maxcor": 50, "ftol": 0, "gtol": 1e-12},
    )
    return float(res.fun)


def ridge_normal_equations(X, y, l2: float) -> tuple[np.ndarray, float]:
    """∂/∂(w, b) of mean (Xw + b − y)² + (l2/2)|w|² = 0, the intercept's row and column kept."""
    n, p = X.shape
    A = np.column_stack([X, np.ones(n)])
    M = A.T @ A + np.diag(np.r_[np.full(p, 0.5 * n * l2), 0.0])
    theta = np.linalg.solve(M, A.T @ y)
    return theta[:p], theta[p]


def lstsq(X, y) -> tuple[np.ndarray, float]:
    theta = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)[0]
    return theta[:-1], theta[-1]


# --------------------------------------------------------------------------- the objective


@pytest.mark.parametrize(
    ("model", "X", "y", "W", "b", "l2", "expected"),
    [
        # residuals 0 and 1: mse is not halved
        ("linear", [[1.0], [2.0]], [1.0, 1.0], [1.0], [0.0], 0.0, 0.5),
        ("linear", [[1.0], [2.0]], [1.0, 1.0], [1.0], [0.0], 2.0, 1.5),
        ("logistic", [[0.0]], [1.0], [1.0], [0.0], 0.0, np.log(2.0)),
        ("logistic", [[1.0], [1.0]], [1.0, 0.0], [1000.0], [0.0], 0.0, 500.0),  # no overflow
        ("logistic", [[1.0]], [1.0], [-40.0], [0.0], 0.0, 40.0 + np.log1p(np.exp(-40.0))),
        ("softmax", [[0.0]], [2.0], [[1.0, 2.0, 3.0]], [0.0, 0.0, 0.0], 0.0, np.log(3.0)),
        ("softmax", [[1.0]], [0.0], [[0.0, 800.0]], [0.0, 0.0], 0.0, 800.0),
        ("softmax", [[1.0]], [1.0], [[0.0, 50.0]], [0.0, 0.0], 0.0, np.exp(-50.0)),  # log1p, not 0
        ("softmax", [[1.0]], [1.0], [[1.0, 2.0]], [0.5, 0.0], 1.0, np.log1p(np.exp(-0.5)) + 2.5),
    ],
)
def test_objective_by_hand(model, X, y, W, b, l2, expected):
    value = objective(model, LOSS[model], np.array(X), np.array(y), np.array(W), np.array(b), l2=l2)
    assert value == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("model", ["linear", "logistic", "softmax"])
def test_objective_matches_the_definition_on_random_parameters(model):
    X, y = synthetic(model, n=50, p=4, K=3, seed=7)
    rng = np.random.default_rng(1)
    W = rng.normal(size=(4, 3) if model == "softmax" else 4)
    b = rng.normal(size=3 if model == "softmax" else 1)
    expected = ref_objective(model, X, y, W, b, 0.3)
    assert objective(model, LOSS[model], X, y, W, b, l2=0.3) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- mse


def _check_linear(X, y, l2, w_ref, b_ref, method="normal equations"):
    r = reference_optimum("linear", "mse", X, y, l2=l2)
    assert r.method == method and r.reason is None
    assert r.coef.shape == (X.shape[1],) and r.intercept.shape == (1,)
    expected = ref_objective("linear", X, y, w_ref, b_ref, l2)
    assert r.objective == pytest.approx(expected, rel=1e-10)
    return r


@pytest.mark.parametrize("shift", [0.0, 50.0])
@pytest.mark.parametrize("order", ["C", "F"])
def test_mse_equals_lstsq_with_an_intercept_column(shift, order):
    X, y = synthetic("linear", n=400, p=6, shift=shift)
    X = np.asarray(X, order=order)
    w, b = lstsq(X, y)
    r = _check_linear(X, y, 0.0, w, b)
    np.testing.assert_allclose(r.coef, w, rtol=1e-10, atol=1e-12 * np.abs(w).max())
    assert r.intercept[0] == pytest.approx(b, rel=1e-10)


@pytest.mark.parametrize("l2", [1e-3, 0.1, 10.0])
def test_ridge_leaves_the_intercept_free(l2):
    X, y = synthetic("linear", n=300, p=5, shift=-7.0, seed=3)
    w, b = ridge_normal_equations(X, y, l2)
    r = _check_linear(X, y, l2, w, b)
    np.testing.assert_allclose(r.coef, w, rtol=1e-10, atol=1e-12 * np.abs(w).max())
    assert r.intercept[0] == pytest.approx(b, rel=1e-10)


def test_collinear_columns_fall_back_to_least_squares():
    X, y = synthetic("linear", n=200, p=4, seed=5)
    X = np.column_stack([X, 2.0 * X[:, 0] - X[:, 1], np.full(200, 3.0)])  # exact dependencies
    w, b = lstsq(X, y)
    r = _check_linear(X, y, 0.0, w, b, method="least squares")
    np.testing.assert_allclose(X @ r.coef + r.intercept, X @ w + b, rtol=1e-10)
    assert np.all(np.isfinite(r.coef))
    # the ridge makes the same columns well-posed again
    w, b = ridge_normal_equations(X, y, 0.5)
    _check_linear(X, y, 0.5, w, b)


def test_more_columns_than_rows_fit_exactly():
    X, y = synthetic("linear", n=6, p=10, seed=2)
    r = reference_optimum("linear", "mse", X, y)
    assert r.method == "least squares" and r.objective == pytest.approx(0.0, abs=1e-20)


def test_row_blocks_do_not_change_the_answer(monkeypatch):
    cases = [
        ("linear", synthetic("linear", n=500, shift=100.0)),
        ("logistic", synthetic("logistic", n=500)),
        ("softmax", synthetic("softmax", n=500, K=4)),
    ]
    whole = [reference_optimum(m, LOSS[m], X, y, n_classes=4, l2=0.01) for m, (X, y) in cases]
    monkeypatch.setattr(ref, "_BLOCK", 1)  # 64-row blocks
    centred = []  # columns 100σ off zero are centred block by block
    blocks = ref._centred_blocks
    monkeypatch.setattr(ref, "_centred_blocks", lambda *a: centred.append(1) or blocks(*a))
    for (m, (X, y)), one in zip(cases, whole, strict=True):
        blocked = reference_optimum(m, LOSS[m], X, y, n_classes=4, l2=0.01)
        assert blocked.objective == pytest.approx(one.objective, rel=1e-13)
        np.testing.assert_allclose(blocked.coef, one.coef, rtol=1e-7, atol=1e-9)
    assert centred


# --------------------------------------------------------------------------- Newton


@pytest.mark.parametrize("l2", [0.0, 1e-3, 0.1])
@pytest.mark.parametrize(("model", "K"), [("logistic", 2), ("softmax", 3), ("softmax", 5)])
def test_newton_matches_lbfgs_and_zeroes_the_gradient(model, K, l2):
    X, y = synthetic(model, n=400, p=5, K=K, seed=K, shift=1.0)
    r = reference_optimum(model, LOSS[model], X, y, n_classes=K, l2=l2)
    assert r.method == "newton" and r.reason is None and r.iterations <= 30
    assert r.coef.shape == ((5,) if model == "logistic" else (5, K))
    assert r.intercept.shape == ((1,) if model == "logistic" else (K,))
    assert r.objective == pytest.approx(
        ref_objective(model, X, y, r.coef, r.intercept, l2), rel=1e-14
    )
    gW, gb = ref_gradient(model, X, y, r.coef, r.intercept, l2)
    assert np.abs(gW).max() < 1e-10 and np.abs(gb).max() < 1e-10
    assert r.objective == pytest.approx(lbfgs(model, X, y, l2, K), rel=1e-8)


def test_raw_columns_reach_the_optimum_of_the_standardised_problem():
    """Without a penalty the optimum value does not depend on the columns' shift and scale; L-BFGS
    on the standardised columns is the reference for columns of mean ~1e4·scale."""
    X, y = synthetic("logistic", n=500, p=5, seed=3, shift=1e4)
    X = X * np.array([1e-3, 1.0, 1e3, 1e5, 1.0])
    r = reference_optimum("logistic", "bce", X, y)
    assert r.objective == pytest.approx(lbfgs("logistic", standardise(X), y, 0.0), rel=1e-11)


@pytest.mark.parametrize(("model", "K"), [("logistic", 2), ("softmax", 3)])
def test_redundant_columns_change_nothing_without_a_penalty(model, K):
    """A copy, a zero column and a combination of columns make the Hessian singular; the optimum
    value is that of the independent columns, with finite weights, in either memory order."""
    X, y = synthetic(model, n=300, p=3, K=K, seed=5)
    base = reference_optimum(model, LOSS[model], X, y, n_classes=K)
    X = np.column_stack([X, X[:, 0], np.zeros(300), 3 * X[:, 1] - X[:, 2]])
    for order in "CF":
        r = reference_optimum(model, LOSS[model], np.asarray(X, order=order), y, n_classes=K)
        assert r.objective == pytest.approx(base.objective, rel=1e-12)
        assert np.abs(r.coef).max() < 10


def test_two_class_softmax_is_logistic_regression():
    X, y = synthetic("logistic", n=300, p=4, seed=8)
    two = reference_optimum("softmax", "cross-entropy", X, y, n_classes=2)
    one = reference_optimum("logistic", "bce", X, y)
    assert two.objective == pytest.approx(one.objective, rel=1e-12)
    np.testing.assert_allclose(two.coef[:, 1] - two.coef[:, 0], one.coef, rtol=1e-8)


@pytest.mark.parametrize(
    ("model", "y", "expected"),
    [
        ("linear", [0.0, 1.0, 1.0, 1.0], 0.1875),  # the variance
        ("logistic", [0.0, 1.0, 1.0, 1.0], -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))),
        ("softmax", [0.0, 1.0, 2.0, 2.0], -(np.log(0.25) + np.log(0.5)) / 2),  # the entropy
    ],
)
def test_no_columns_leave_the_intercept_alone(model, y, expected):
    r = reference_optimum(model, LOSS[model], np.zeros((4, 0)), np.array(y), n_classes=3)
    assert r.objective == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("model", ["linear", "logistic", "softmax"])
def test_finite_differences_of_objective_vanish_at_the_optimum(model):
    X, y = synthetic(model, n=120, p=3, K=3, seed=11)
    r = reference_optimum(model, LOSS[model], X, y, n_classes=3, l2=0.05)
    h = 1e-5
    for params in (r.coef, r.intercept):
        for i in np.ndindex(params.shape):
            up, down = params.copy(), params.copy()
            up[i] += h
            down[i] -= h
            args = (r.coef, up) if params is r.intercept else (up, r.intercept)
            fu = objective(model, LOSS[model], X, y, *args, l2=0.05)
            args = (r.coef, down) if params is r.intercept else (down, r.intercept)
            fd = objective(model, LOSS[model], X, y, *args, l2=0.05)
            assert abs(fu - fd) / (2 * h) < 1e-7
            assert min(fu, fd) >= r.objective - 1e-15


@pytest.mark.parametrize(("model", "K"), [("logistic", 2), ("softmax", 4)])
def test_agrees_with_scikit_learn(model, K):
    """sklearn minimises C·Σ loss + ½|W|², which is ours times n·C when C = 1/(n·l2)."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    l2 = 0.02
    if model == "logistic":
        X, y = bundled("breast_cancer")
    else:
        X, y = synthetic("softmax", n=500, p=6, K=K, seed=4)
    r = reference_optimum(model, LOSS[model], X, y, n_classes=K, l2=l2)
    sk = linear_model.LogisticRegression(C=1 / (len(y) * l2), tol=1e-12, max_iter=100000)
    sk.fit(X, y)
    W = sk.coef_[0] if model == "logistic" else sk.coef_.T
    theirs = objective(model, LOSS[model], X, y, W, sk.intercept_, l2=l2)
    assert r.objective <= theirs * (1 + 1e-12)
    assert r.objective == pytest.approx(theirs, rel=1e-8)
    np.testing.assert_allclose(r.coef, W, atol=1e-4)


@pytest.mark.parametrize(
    ("name", "model", "K"), [("breast_cancer", "logistic", 2), ("digits", "softmax", 10)]
)
def test_bundled_data_converge_with_a_penalty(name, model, K):
    X, y = bundled(name)
    r = reference_optimum(model, LOSS[model], X, y, n_classes=K, l2=0.01)
    assert r.method == "newton" and r.iterations <= 20
    gW, gb = ref_gradient(model, X, y, r.coef, r.intercept, 0.01)
    assert np.abs(gW).max() < 1e-10 and np.abs(gb).max() < 1e-10
    assert r.objective == pytest.approx(
        ref_objective(model, X, y, r.coef, r.intercept, 0.01), rel=1e-14
    )
    assert json.loads(json.dumps(r.to_dict())) == {
        "objective": r.objective,
        "method": "newton",
        "iterations": r.iterations,
        "reason": None,
    }


# --------------------------------------------------------------------------- no number


def quasi_separable() -> tuple[np.ndarray, np.ndarray]:
    """Overlapping classes on one column, plus a 0/1 column that is 1 only on some positives:
    its weight runs to +∞ while the loss tends to a positive infimum."""
    X, y = synthetic("logistic", n=200, p=2, seed=9)
    flag = ((y == 1) & (np.arange(200) % 3 == 0)).astype(float)
    return np.column_stack([X, flag]), y


@pytest.mark.parametrize(
    ("name", "model", "K"),
    [
        ("breast_cancer", "logistic", 2),
        ("digits", "softmax", 10),
        ("quasi", "logistic", 2),
        ("line", "softmax", 3),
    ],
)
def test_separable_classes_have_no_optimum_without_a_penalty(name, model, K):
    if name == "quasi":
        X, y = quasi_separable()
    elif name == "line":
        X = np.linspace(-1, 1, 30)[:, None]
        y = np.repeat([0.0, 1.0, 2.0], 10)
    else:
        X, y = bundled(name)
    r = reference_optimum(model, LOSS[model], X, y, n_classes=K)
    assert r.objective is None and r.reason == SEPARABLE and r.coef is None
    # an iterate that separates every row settles it early; a tie on the margin takes longer
    assert r.iterations <= (60 if name == "quasi" else 20)
    if name != "digits":  # (slow; digits with a penalty is test_bundled_data_converge_...)
        penalised = reference_optimum(model, LOSS[model], X, y, n_classes=K, l2=1e-3)
        assert penalised.objective is not None


@pytest.mark.parametrize(
    ("model", "loss", "l1", "words"),
    [
        ("linear", "mae", 0.0, "mae is not smooth"),
        ("linear", "hinge", 0.0, "hinge is not smooth"),
        ("softmax", "multiclass-hinge", 0.0, "multiclass-hinge is not smooth"),
        ("logistic", "focal", 0.0, "focal is not convex"),
        ("linear", "huber", 0.0, "no reference solver for linear with huber"),
        ("linear", "mse", 0.1, "l1 penalty is not smooth"),
        ("logistic", "bce", 0.1, "l1 penalty is not smooth"),
    ],
)
def test_no_smooth_convex_problem_no_number(model, loss, l1, words):
    X, y = synthetic("logistic", n=20, p=2)
    r = reference_optimum(model, loss, X, y, l1=l1)
    assert r.objective is None and r.method == "none" and words in r.reason
    assert json.loads(json.dumps(r.to_dict()))["reason"] == r.reason


@pytest.mark.parametrize(
    ("model", "X", "y", "K", "words"),
    [
        ("linear", np.zeros((0, 3)), np.zeros(0), 2, "no training rows"),
        ("logistic", np.eye(3), np.ones(3), 2, "every target is 1"),
        ("softmax", np.eye(3), np.array([0.0, 2.0, 2.0]), 3, "class 1 has no rows"),
        ("linear", np.array([[1.0], [np.nan]]), np.ones(2), 2, "non-finite"),
        ("logistic", np.ones((2, 1)), np.array([0.0, np.inf]), 2, "non-finite"),
        ("softmax", np.ones((2, 999)), np.array([0.0, 1.0]), 5, "5000 parameters are too many"),
    ],
)
def test_degenerate_data_give_a_reason(model, X, y, K, words):
    r = reference_optimum(model, LOSS[model], X, y, n_classes=K, l2=0.1)
    assert r.objective is None and words in r.reason


def test_invalid_input_raises():
    X = np.ones((3, 2))
    with pytest.raises(ConfigError, match="l2 must be >= 0, got -1"):
        reference_optimum("linear", "mse", X, np.ones(3), l2=-1.0)
    with pytest.raises(DomainError, match="row 2 has 2") as info:
        reference_optimum("logistic", "bce", X, np.array([0.0, 1.0, 2.0]))
    assert info.value.row == 2 and info.value.part == "target"
    with pytest.raises(DomainError, match=r"0\.\.2; row 0 has 3"):
        reference_optimum("softmax", "cross-entropy", X, np.array([3.0, 1.0, 0.0]), n_classes=3)
    with pytest.raises(DataError, match="shape"):
        reference_optimum("linear", "mse", X, np.ones(4))
    with pytest.raises(ConfigError):
        objective("linear", "mae", X, np.ones(3), np.zeros(2), 0.0)


def test_warm_start_and_chord_steps_reach_the_same_optimum(monkeypatch):
    """Large problems start Newton from every 16th row's optimum and keep Hessians while the
    gradient shrinks fast; the optimum must be the cold start's."""
    rng = np.random.default_rng(5)
    X = np.asfortranarray(rng.standard_normal((4000, 6)))
    y = (rng.random(4000) < 1 / (1 + np.exp(-(X @ rng.standard_normal(6))))).astype(float)
    cold = reference_optimum("logistic", "bce", X, y, l2=1e-3)
    monkeypatch.setattr(ref, "WARM_ROWS", 1000)
    warm = reference_optimum("logistic", "bce", X, y, l2=1e-3)
    assert warm.objective == pytest.approx(cold.objective, rel=1e-14)
    np.testing.assert_allclose(warm.coef, cold.coef, rtol=1e-9, atol=1e-12)
