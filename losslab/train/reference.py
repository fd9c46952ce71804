"""The exact optimum of a study's training objective, for the optimality gap of `losslab compare`.

    objective(W, b) = mean_i loss(x_i·W + b, y_i) + (l2/2)·‖W‖²      (b is never penalised)

mse is solved in closed form: the intercept is eliminated by centring, the ridge normal equations
(XcᵀXc + (n·l2/2)·I) w = Xcᵀyc are solved and refined once from the data's own residual (the
corrected semi-normal equations of Björck, *Numerical Methods for Least Squares Problems*), and
`np.linalg.lstsq` on the centred data takes over when they are ill-conditioned. bce and
cross-entropy are solved by Newton's method with an Armijo backtracking line search from zero (Boyd
& Vandenberghe, *Convex Optimization*, §9.5). Everything else (a non-smooth or non-convex loss, an
l1 penalty, an optimum that is not attained) gets no number but a one-line reason.

Big inputs are read in row blocks, so memory stays bounded: only the lstsq fallback copies X.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from losslab.errors import ConfigError, DataError, DomainError

MAX_ITER = 100  # Newton iterations; well-posed problems need 5–20
MAX_PARAMS = 4000  # the dense (Hessian or Gram) matrix is MAX_PARAMS² floats, 128 MB
# Above this condition number (of the Gram matrix scaled to unit diagonal) lstsq takes over.
COND_MAX = 1e10
_BLOCK = 1 << 20  # floats per row block (8 MiB)

SEPARABLE = "the classes are separable: no finite optimum without --l2"
_NOT_SMOOTH = ("mae", "quantile", "epsilon-insensitive", "hinge", "multiclass-hinge")
_NOT_CONVEX = ("focal",)


@dataclass(frozen=True)
class Reference:
    """The minimum of the objective and where it is, or why there is none."""

    objective: float | None  # the optimum value, or None
    coef: np.ndarray | None  # (p,) or (p, K)
    intercept: np.ndarray | None  # (1,) for linear/logistic, (K,) for softmax
    method: str  # "normal equations", "least squares", "newton", or "none" (nothing was solved)
    iterations: int
    reason: str | None = None  # why there is no number (None when objective is a number)
    # The infimum when it is known but not attained: 0 when an iterate separated the classes
    # (without a penalty, every row's loss then goes to 0 along that direction).
    infimum: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the parameters are left out)."""
        return {
            "objective": self.objective,
            "method": self.method,
            "iterations": self.iterations,
            "reason": self.reason,
        }


NETWORKS = ("mlp", "cnn")  # models with hidden layers: no global optimum to compare with


def _none(reason: str, method: str = "none", iterations: int = 0) -> Reference:
    return Reference(None, None, None, method, iterations, reason)


# --------------------------------------------------------------------------- per-row losses


def _bce_rows(s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """max(s, 0) − s·y + log(1 + e^−|s|): binary cross-entropy on logits, without overflow."""
    return np.maximum(s, 0.0) - s * y + np.log1p(np.exp(-np.abs(s)))


def _ce_rows(S: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """logsumexp(S_i) − S_{i,y_i}, as log1p(Σ_{k≠top} e^{S_ik − m_i}) + (m_i − S_{i,y_i}).

    Shifting out the row maximum m_i keeps exp from overflowing; taking log1p of the other classes'
    mass keeps a confident row's loss to full relative precision instead of log(1 + tiny).
    """
    rows = np.arange(len(S))
    top = S.argmax(axis=1)
    m = S[rows, top]
    E = np.exp(S - m[:, None])
    E[rows, top] = 0.0
    return np.log1p(E.sum(axis=1)) + (m - S[rows, labels])


def objective(
    model: str,
    loss: str,
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray | float,
    *,
    l2: float = 0.0,
) -> float:
    """mean_i loss(x_i·W + b, y_i) + (l2/2)·‖W‖² at any parameters (the intercept is free).

    mse is (s − y)², not halved; bce is max(s,0) − s·y + log1p(e^−|s|); cross-entropy is
    logsumexp(S_i) − S_{i,y_i} with y the class index.
    """
    X, y = _as_data(X, y)
    if len(y) == 0:
        raise DataError("the objective of no rows is undefined")
    W = np.asarray(coef, dtype=np.float64)
    S = X @ W + np.asarray(intercept, dtype=np.float64)
    if (model, loss) == ("linear", "mse"):
        with np.errstate(over="ignore"):  # beyond float64 is inf, which callers report
            rows = (S - y) ** 2
    elif (model, loss) == ("logistic", "bce"):
        rows = _bce_rows(S, y)
    elif (model, loss) == ("softmax", "cross-entropy"):
        rows = _ce_rows(S, _class_index(y, W.shape[1]))
    else:
        raise ConfigError(f"no objective for model {model!r} with loss {loss!r}")
    return float(np.mean(rows)) + 0.5 * l2 * float(np.vdot(W, W))


# --------------------------------------------------------------------------- entry point


def reference_optimum(
    model: str,
    loss: str,
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_classes: int = 2,
    l1: float = 0.0,
    l2: float = 0.0,
) -> Reference:
    """The minimum of `objective` over W and b, by the exact method for the (model, loss) pair.

    y holds 0/1 for logistic and class indices 0..n_classes−1 for softmax (n_classes is ignored
    otherwise). Returns objective None with a reason when there is no smooth convex problem to solve
    or its infimum is not attained; raises `ConfigError` for a negative penalty and `DataError` for
    inputs of the wrong shape or labels outside the loss's domain.
    """
    for name, value in (("l1", l1), ("l2", l2)):
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} must be >= 0, got {value}")
    if model in NETWORKS:
        return _none("a network's objective is not convex: no reference optimum")
    solver = _SOLVERS.get((model, loss))
    if solver is None:
        if loss in _NOT_SMOOTH:
            return _none(f"{loss} is not smooth: no reference optimum")
        if loss in _NOT_CONVEX:
            return _none(f"{loss} is not convex: no reference optimum")
        return _none(
            f"no reference solver for {model} with {loss} (only linear/mse, "
            "logistic/bce and softmax/cross-entropy have one)"
        )
    if l1 > 0:
        return _none("l1 penalty is not smooth: no reference optimum")
    X, y = _as_data(X, y)
    if len(y) == 0:
        return _none("no training rows: no reference optimum")
    with np.errstate(over="ignore", invalid="ignore"):
        xbar = X.mean(axis=0)  # one pass that also catches a NaN or an infinity anywhere in X
    if not (np.isfinite(xbar).all() and np.isfinite(y).all()):
        return _none("the data hold non-finite values: no reference optimum")
    size = (X.shape[1] + 1) * (n_classes if model == "softmax" else 1)
    if size > MAX_PARAMS:
        return _none(f"{size} parameters are too many for an exact solve (limit {MAX_PARAMS})")
    return solver(X, y, xbar, n_classes, float(l2))


def _as_data(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise DataError(
            f"expected X of shape (n, p) and y of shape (n,), got {X.shape} and {y.shape}"
        )
    return X, y


def _class_index(y: np.ndarray, n_classes: int) -> np.ndarray:
    bad = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= n_classes))
    if bad.size:
        row = int(bad[0])
        raise DomainError(
            f"cross-entropy needs class indices 0..{n_classes - 1}; row {row} has {y[row]:g}",
            row=row,
            part="target",
        )
    return y.astype(np.intp)


def _rows_per_block(width: int) -> int:
    return max(64, _BLOCK // max(width, 1))


# --------------------------------------------------------------------------- mse: closed form


def _linear(X: np.ndarray, y: np.ndarray, xbar: np.ndarray, n_classes: int, l2: float) -> Reference:
    n, p = X.shape
    ybar = float(y.mean())
    if p == 0:
        return _linear_result(X, y, np.zeros(0), ybar, l2, "normal equations", 1)
    yc = y - ybar
    # XᵀX − n·x̄x̄ᵀ is one BLAS call but loses about log10(x̄²/σ²) digits to cancellation; columns
    # further than 10σ from zero are centred block by block instead (a copy of one block at a time).
    G = X.T @ X - n * np.outer(xbar, xbar)
    far = bool(np.any(xbar**2 > 100.0 * np.diag(G) / n))
    if far:
        A = np.zeros((p + 1, p + 1))
        for Z in _centred_blocks(X, xbar, yc):
            A += Z.T @ Z  # [Xc, yc]ᵀ[Xc, yc]: the Gram matrix and Xcᵀyc in one product
        G, c = A[:p, :p].copy(), A[:p, p].copy()
    else:
        c = X.T @ yc - xbar * yc.sum()
    ridge = 0.5 * n * l2
    G[np.diag_indices(p)] += ridge
    d = np.sqrt(np.diag(G))
    if not np.all(d > 0):  # a constant column and no ridge: rank-deficient
        return _linear_lstsq(X, y, xbar, ybar, l2)
    Gs = G / d[:, None] / d[None, :]
    lam = np.linalg.eigvalsh(Gs)
    if not lam[0] > lam[-1] / COND_MAX:
        return _linear_lstsq(X, y, xbar, ybar, l2)
    w = np.linalg.solve(Gs, c / d) / d
    # One refinement from the data's own residual: the error of the Gram route falls from about
    # cond(X)²·eps to cond(X)·eps.
    if far:
        r, v = np.zeros(p), np.append(-w, 1.0)
        for Z in _centred_blocks(X, xbar, yc):
            r += Z[:, :p].T @ (Z @ v)
    else:
        res = yc - (X @ w - float(xbar @ w))
        r = X.T @ res - xbar * res.sum()
    w = w + np.linalg.solve(Gs, (r - ridge * w) / d) / d
    return _linear_result(X, y, w, ybar - float(xbar @ w), l2, "normal equations", 2)


def _centred_blocks(X: np.ndarray, xbar: np.ndarray, yc: np.ndarray) -> Iterator[np.ndarray]:
    """[X − x̄, yc], one row block at a time in one reused buffer."""
    n, p = X.shape
    step = _rows_per_block(p + 1)
    buf = np.empty((min(step, n), p + 1))
    for lo in range(0, n, step):
        Z = buf[: min(step, n - lo)]
        np.subtract(X[lo : lo + step], xbar, out=Z[:, :p])
        Z[:, p] = yc[lo : lo + step]
        yield Z


def _linear_lstsq(
    X: np.ndarray, y: np.ndarray, xbar: np.ndarray, ybar: float, l2: float
) -> Reference:
    """Minimum-norm least squares on the centred data; the ridge as √(n·l2/2)·I rows below it."""
    n, p = X.shape
    A, rhs = X - xbar, y - ybar
    if l2 > 0:
        A = np.vstack([A, math.sqrt(0.5 * n * l2) * np.eye(p)])
        rhs = np.concatenate([rhs, np.zeros(p)])
    w = np.linalg.lstsq(A, rhs, rcond=None)[0]
    return _linear_result(X, y, w, ybar - float(xbar @ w), l2, "least squares", 1)


def _linear_result(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, l2: float, method: str, iterations: int
) -> Reference:
    intercept = np.array([b])
    value = objective("linear", "mse", X, y, w, intercept, l2=l2)
    return Reference(value, w, intercept, method, iterations)


# --------------------------------------------------------------------------- Newton's method


class _Logistic:
    """bce on s = X·w + b; θ = (w, b)."""

    separated = False  # an iterate classified every row correctly (set by _newton)

    def __init__(self, X: np.ndarray, y: np.ndarray, l2: float) -> None:
        self.X, self.y, self.l2 = X, y, l2
        n, p = X.shape
        self.p, self.size = p, p + 1
        self.penalised = np.arange(p)
        self.free = np.arange(p + 1)
        self.step = _rows_per_block(p + 1)
        self.buf = np.empty((min(self.step, n), p + 1))

    def start(self) -> np.ndarray:
        return np.zeros(len(self.y))

    def value(self, s: np.ndarray, theta: np.ndarray) -> float:
        w = theta[: self.p]
        return float(np.mean(_bce_rows(s, self.y))) + 0.5 * self.l2 * float(w @ w)

    def derivatives(self, s: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X, y, p = self.X, self.y, self.p
        n = len(y)
        e = np.exp(-np.abs(s))
        # σ(s) − y and σ(s)(1 − σ(s)) written so that neither subtracts nearly equal numbers.
        r = np.where(s >= 0, (1.0 - y) - y * e, (1.0 - y) * e - y) / (1.0 + e)
        root = np.sqrt(e) / (1.0 + e)
        H = np.zeros((p + 1, p + 1))
        for lo in range(0, n, self.step):  # Xᵀ diag(σ(1−σ)) X, bordered by the intercept
            Xb = X[lo : lo + self.step]
            Z = self.buf[: len(Xb)]
            np.multiply(Xb, root[lo : lo + self.step, None], out=Z[:, :p])
            Z[:, p] = root[lo : lo + self.step]
            H += Z.T @ Z
        H /= n
        H[self.penalised, self.penalised] += self.l2
        return self._gradient(r, theta), H

    def gradient(self, s: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """The gradient alone (one pass over X), for steps that reuse the last Hessian."""
        y = self.y
        e = np.exp(-np.abs(s))
        r = np.where(s >= 0, (1.0 - y) - y * e, (1.0 - y) * e - y) / (1.0 + e)
        return self._gradient(r, theta)

    def _gradient(self, r: np.ndarray, theta: np.ndarray) -> np.ndarray:
        # One more pass rather than a small product per block: every BLAS call syncs its threads,
        # which costs dearly on a busy machine.
        g = np.append(self.X.T @ r, r.sum()) / len(r)
        g[: self.p] += self.l2 * theta[: self.p]
        return g

    def logits(self, d: np.ndarray) -> np.ndarray:
        return self.X @ d[: self.p] + d[self.p]

    def separates(self, s: np.ndarray) -> bool:
        return bool(np.all((2.0 * self.y - 1.0) * s > 0))

    def params(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return theta[: self.p].copy(), theta[self.p :].copy()


class _Softmax:
    """Cross-entropy on S = X·W + b; θ = vec([W; b]) class by class, K blocks of p + 1.

    Adding one vector to every class's column of [W; b] leaves the logits' differences, hence the
    loss, unchanged, so the Hessian is singular along those directions. The last class is pinned:
    its intercept (the penalty fixes the rest of W) or, without a penalty, its whole column.
    """

    separated = False  # an iterate classified every row correctly (set by _newton)

    def __init__(self, X: np.ndarray, labels: np.ndarray, n_classes: int, l2: float) -> None:
        self.X, self.labels, self.K, self.l2 = X, labels, n_classes, l2
        n, p = X.shape
        q = p + 1
        self.p, self.q, self.size = p, q, q * n_classes
        blocks = np.arange(n_classes)[:, None] * q
        self.penalised = (blocks + np.arange(p)).ravel()
        pinned = (n_classes - 1) * q + (np.array([p]) if l2 > 0 else np.arange(q))
        self.free = np.setdiff1d(np.arange(self.size), pinned)
        self.step = _rows_per_block(q * n_classes)
        rows = min(self.step, n)
        self.outer = np.empty((rows, n_classes, q))
        self.inner = np.empty((rows, n_classes, q))

    def start(self) -> np.ndarray:
        return np.zeros((len(self.labels), self.K))

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        T = theta.reshape(self.K, self.q).T
        return T[: self.p], T[self.p]

    def value(self, S: np.ndarray, theta: np.ndarray) -> float:
        W = self.split(theta)[0]
        return float(np.mean(_ce_rows(S, self.labels))) + 0.5 * self.l2 * float(np.vdot(W, W))

    def derivatives(self, S: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X, labels, K, p, q = self.X, self.labels, self.K, self.p, self.q
        n = len(labels)
        rows = np.arange(n)
        top = S.argmax(axis=1)
        E = np.exp(S - S[rows, top][:, None])
        E[rows, top] = 0.0
        rest = E.sum(axis=1)  # the mass of every class but the top one
        E[rows, top] = 1.0
        total = rest + 1.0
        P = E / total[:, None]
        # 1 − P_k as the other classes' share: exact for the top class, where P_k ≈ 1 would cancel.
        Q = (total[:, None] - E) / total[:, None]
        Q[rows, top] = rest / total
        R = P.copy()
        R[rows, labels] = -Q[rows, labels]  # P − Y
        PQ = P * Q
        cross = np.zeros((self.size, self.size))
        diag = np.zeros((q, K * q))
        for lo in range(0, n, self.step):
            Xb = X[lo : lo + self.step]
            m = len(Xb)
            # Σ_i (P_i ⊗ z_i)(P_i ⊗ z_i)ᵀ: every block of the −P Pᵀ ⊗ z zᵀ part at once.
            A = self.outer[:m]
            np.multiply(Xb[:, None, :], P[lo : lo + m, :, None], out=A[:, :, :p])
            A[:, :, p] = P[lo : lo + m]
            A = A.reshape(m, K * q)
            cross += A.T @ A
            # The diagonal blocks Zᵀ diag(P_k(1 − P_k)) Z side by side, from the accurate 1 − P_k.
            B = self.inner[:m]
            np.multiply(Xb[:, None, :], PQ[lo : lo + m, :, None], out=B[:, :, :p])
            B[:, :, p] = PQ[lo : lo + m]
            B = B.reshape(m, K * q)
            diag[:p] += Xb.T @ B
            diag[p] += B.sum(axis=0)
        G = np.vstack([X.T @ R, R.sum(axis=0)])
        H = -cross
        for k in range(K):
            H[k * q : (k + 1) * q, k * q : (k + 1) * q] = diag[:, k * q : (k + 1) * q]
        H /= n
        g = G.T.ravel() / n
        g[self.penalised] += self.l2 * theta[self.penalised]
        H[self.penalised, self.penalised] += self.l2
        return g, H

    def logits(self, d: np.ndarray) -> np.ndarray:
        dW, db = self.split(d)
        return self.X @ dW + db

    def separates(self, S: np.ndarray) -> bool:
        rows = np.arange(len(S))
        own = S[rows, self.labels]
        other = S.copy()
        other[rows, self.labels] = -np.inf
        return bool(np.all(own > other.max(axis=1)))

    def params(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        W, b = self.split(theta)
        # A canonical point of the flat valley: classes centred (only b needs it when l2 > 0,
        # where the optimal W already sums to zero over the classes).
        if self.l2 == 0:
            W = W - W.mean(axis=1, keepdims=True)
        return np.array(W), b - b.mean()


def _direction(H: np.ndarray, g: np.ndarray, definite: bool) -> np.ndarray:
    """The Newton step −H⁻¹g; on the range of H alone when H is (nearly) singular.

    ``definite`` says H is positive definite in exact arithmetic (a penalty on W, the softmax gauge
    pinned), so one LU solve will do; otherwise a Cholesky factorisation has to show it first.
    Scaling H to unit diagonal makes the singularity test blind to the units of the features.
    """
    h = np.diag(H)
    scale = np.sqrt(np.where(h > 0, h, 1.0))
    Hs = H / scale[:, None] / scale[None, :]
    gs = g / scale
    try:
        if definite or np.min(np.diag(np.linalg.cholesky(Hs))) ** 2 > 1e-12:
            d = np.linalg.solve(Hs, -gs)
            if np.all(np.isfinite(d)) and d @ gs < 0:
                return d / scale
    except np.linalg.LinAlgError:
        pass
    lam, V = np.linalg.eigh(Hs)
    keep = lam > lam[-1] * len(lam) * np.finfo(float).eps
    return -(V[:, keep] @ ((V[:, keep].T @ gs) / lam[keep])) / scale


def _newton(
    prob: _Logistic | _Softmax,
    l2: float,
    theta0: np.ndarray | None = None,
    H0: np.ndarray | None = None,
) -> tuple[np.ndarray | None, int, str | None]:
    """Damped Newton from θ = 0 (or ``theta0``): (θ, iterations, None) at the optimum,
    (None, iterations, reason) if the infimum is not attained.

    Stops when the Newton decrement λ² = gᵀH⁻¹g (twice the predicted f − f*) is below 1e-20·f and
    the step no longer moves the logits, or the logits stop moving at all. Without a penalty,
    separable classes send ‖W‖ to infinity: an iterate that classifies every row correctly proves
    it, and quasi-separation (a tie on the margin) shows as a vanishing decrement while the logits
    keep moving by O(1) per step.
    """
    theta = np.zeros(prob.size) if theta0 is None else theta0.copy()
    s = prob.start() if theta0 is None else prob.logits(theta)
    f = prob.value(s, theta)
    free = prob.free
    drifting = 0
    # A logistic problem may keep a Hessian for several steps (a chord method): near the
    # optimum, or given a subsample's Hessian, it barely changes, and a gradient costs one pass
    # over X where a Hessian costs a product of X with itself. The optimum is the same; a step
    # that does not shrink the gradient tenfold brings a fresh Hessian.
    chord = isinstance(prob, _Logistic) and (l2 > 0 or H0 is not None)
    H, reuse, last_norm = H0, chord and H0 is not None, math.inf
    for it in range(1, MAX_ITER + 1):
        if reuse:
            g = prob.gradient(s, theta)
        else:
            g, H = prob.derivatives(s, theta)
        prob.last_hessian = H
        norm = float(np.linalg.norm(g))
        if reuse and norm > 0.1 * last_norm:
            g, H = prob.derivatives(s, theta)
            prob.last_hessian = H
        last_norm = norm
        d = np.zeros(prob.size)
        d[free] = _direction(H[np.ix_(free, free)], g[free], definite=l2 > 0)
        dec = -float(g @ d)
        if not math.isfinite(dec):
            return None, it, f"Newton's method broke down at iteration {it}"
        if dec <= 0:  # a zero gradient (on the range of H)
            return theta, it - 1, None
        u = prob.logits(d)
        t, new = 1.0, _trial(prob, s, u, theta, d, 1.0)
        # Inside the quadratic region the full step is right and Armijo's test would only compare
        # rounding errors of f.
        if dec > 1e-10 * f:
            while not new <= f - 1e-4 * t * dec:
                t *= 0.5
                if t < 1e-12:
                    return None, it, f"the line search failed at iteration {it}"
                new = _trial(prob, s, u, theta, d, t)
        theta, s, f = theta + t * d, s + t * u, new
        reuse = chord and (reuse or dec <= 1e-8 * f)
        if l2 == 0 and prob.separates(s):
            prob.separated = True
            return None, it, SEPARABLE
        moved = t * float(np.max(np.abs(u))) / (1.0 + float(np.max(np.abs(s))))
        small = dec <= 1e-20 * f
        if (small and moved <= 1e-6) or moved <= 1e-12:
            return theta, it, None
        drifting = drifting + 1 if small else 0
        if drifting >= 3 and l2 == 0:
            return None, it, SEPARABLE
        if drifting >= 3:  # a penalised problem has a finite optimum: the drift is rounding
            return theta, it, None
    return (
        None,
        MAX_ITER,
        SEPARABLE if l2 == 0 else f"Newton did not converge in {MAX_ITER} iterations",
    )


WARM_ROWS = 65_536  # from this many rows on, logistic Newton starts from a subsample's optimum
WARM_STRIDE = 16


def _trial(
    prob: _Logistic | _Softmax,
    s: np.ndarray,
    u: np.ndarray,
    theta: np.ndarray,
    d: np.ndarray,
    t: float,
) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        value = prob.value(s + t * u, theta + t * d)
    return value if math.isfinite(value) else math.inf


def _logistic(
    X: np.ndarray, y: np.ndarray, xbar: np.ndarray, n_classes: int, l2: float
) -> Reference:
    bad = np.flatnonzero((y != 0) & (y != 1))
    if bad.size:
        row = int(bad[0])
        raise DomainError(
            f"bce needs targets 0 or 1; row {row} has {y[row]:g}", row=row, part="target"
        )
    if y.min() == y.max():
        return _none(
            f"every target is {y[0]:g}: no finite optimum (the intercept runs off to infinity)"
        )
    theta0 = H0 = None
    if len(y) >= WARM_ROWS:
        # Newton on every 16th row first: its optimum is close to the full one, which then takes
        # two or three full-data iterations instead of seven (each one pass for the Hessian).
        sub_y = y[::WARM_STRIDE]
        if sub_y.min() != sub_y.max():
            sub = _Logistic(np.asfortranarray(X[::WARM_STRIDE]), sub_y, l2)
            theta0 = _newton(sub, l2)[0]
            H0 = sub.last_hessian if theta0 is not None else None
    return _newton_result(_Logistic(X, y, l2), "logistic", "bce", X, y, l2, theta0, H0)


def _softmax(
    X: np.ndarray, y: np.ndarray, xbar: np.ndarray, n_classes: int, l2: float
) -> Reference:
    if n_classes < 2:
        raise ConfigError(f"n_classes must be >= 2, got {n_classes}")
    labels = _class_index(y, n_classes)
    empty = np.flatnonzero(np.bincount(labels, minlength=n_classes) == 0)
    if empty.size:
        return _none(
            f"class {int(empty[0])} has no rows: no finite optimum (its intercept runs "
            "off to −infinity)"
        )
    return _newton_result(_Softmax(X, labels, n_classes, l2), "softmax", "cross-entropy", X, y, l2)


def _newton_result(
    prob: _Logistic | _Softmax,
    model: str,
    loss: str,
    X: np.ndarray,
    y: np.ndarray,
    l2: float,
    theta0: np.ndarray | None = None,
    H0: np.ndarray | None = None,
) -> Reference:
    theta, iterations, reason = _newton(prob, l2, theta0, H0)
    if theta is None:
        ref = _none(reason or "no optimum", "newton", iterations)
        return replace(ref, infimum=0.0) if prob.separated else ref
    coef, intercept = prob.params(theta)
    value = objective(model, loss, X, y, coef, intercept, l2=l2)
    return Reference(value, coef, intercept, "newton", iterations)


_Solver = Callable[[np.ndarray, np.ndarray, np.ndarray, int, float], Reference]
_SOLVERS: dict[tuple[str, str], _Solver] = {
    ("linear", "mse"): _linear,
    ("logistic", "bce"): _logistic,
    ("softmax", "cross-entropy"): _softmax,
}
