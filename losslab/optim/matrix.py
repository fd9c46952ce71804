"""Rules that see a matrix or the whole objective: Adafactor, Muon, L-BFGS, Polyak's step.

Adafactor and Muon step on each layer's tensors in torch's layout (``layout = "tensors"``):
Adafactor factors the second moment of a matrix into its row and column means, Muon
orthogonalises a weight matrix's momentum by a Newton–Schulz iteration. L-BFGS and Polyak's step
need the whole training objective at every step (``full_batch``): L-BFGS calls
``ctx.closure`` in its line search, Polyak's step needs ``ctx.loss`` and the optimum f*
(``needs_optimum``). Each equals its reference step for step in float64 (Polyak's, which torch
does not have, its published formula).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from losslab.errors import ConfigError
from losslab.hyper import Hyper, count, nonnegative, positive, switch
from losslab.optim.optimizers import (
    EPS,
    MOMENTUM,
    WEIGHT_DECAY,
    Adam,
    OptState,
    Params,
    StepContext,
    UpdateRule,
    register,
    weight_decay,
)


def _lerp(start: np.ndarray, end: np.ndarray, w: float, out: np.ndarray) -> np.ndarray:
    """torch's ``lerp``, its two formulas included: start + w·(end − start) for |w| < 0.5,
    end − (end − start)·(1 − w) otherwise (exact at w = 1). ``out`` may be ``start``."""
    if abs(w) < 0.5:
        diff = end - start
        diff *= w
        np.add(start, diff, out=out)
    else:
        diff = end - start
        diff *= 1.0 - w
        np.subtract(end, diff, out=out)
    return out


def _needs(rule: str, ctx: StepContext | None, *what: str) -> StepContext:
    """``ctx`` with the fields ``rule`` needs; the training loop fills them for full-batch rules."""
    missing = [w for w in what if ctx is None or getattr(ctx, w) is None]
    if missing or ctx is None:
        raise ValueError(f"{rule} needs a StepContext with {', '.join(missing)} (full batch)")
    return ctx


# --------------------------------------------------------------------------- Adafactor


class Adafactor(UpdateRule):
    """Adafactor (Shazeer & Stern 2018, arXiv:1804.04235) as torch.optim.Adafactor.

    Step t (per tensor): β̂ = 1 − t^τ (τ = beta2_decay), ρ = min(lr, 1/√t),
    α = max(ε2, RMS(θ))·ρ; decoupled decay θ ← θ·(1 − lr·λ) (weights only). A tensor with two
    or more dimensions keeps row and column means of g² over its last two dimensions,
    R ← lerp(R, mean_cols(g²), 1 − β̂), C ← lerp(C, mean_rows(g²), 1 − β̂), and
    V̂ = R·C / max(mean(R), ε1); a vector keeps V̂ ← lerp(V̂, g², 1 − β̂). Then
    U = g/√max(V̂, ε1²) and θ −= α·U/max(1, RMS(U)/d). ε1 None is the dtype's machine epsilon.
    Operation order of torch's ``_single_tensor_adafactor``.
    """

    layout = "tensors"
    hypers = (
        Hyper(
            "beta2_decay",
            -0.8,
            "exponent τ of the second-moment decay β̂2 = 1 − t^τ",
            high=0.0,
        ),
        positive(
            "eps1",
            None,
            "floor ε1 of the second-moment estimate (unset: the dtype's machine epsilon)",
            optional=True,
        ),
        nonnegative("eps2", 1e-3, "floor ε2 of the parameter RMS that scales the step"),
        Hyper("d", 1.0, "clipping threshold d of the update's RMS", low=1.0),
        WEIGHT_DECAY,
    )
    beta2_decay: float
    eps1: float | None
    eps2: float
    d: float
    weight_decay: float

    def init(self, params: Params) -> OptState:
        state = super().init(params)
        for p, buf in zip(params, state.buffers, strict=True):
            if p.ndim > 1:
                buf["row"] = np.zeros((*p.shape[:-1], 1), dtype=p.dtype)
                buf["col"] = np.zeros((*p.shape[:-2], 1, p.shape[-1]), dtype=p.dtype)
            else:
                buf["v"] = np.zeros_like(p)
        return state

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
        ctx: StepContext | None = None,
    ) -> None:
        state.step += 1
        t = float(state.step)
        w = t**self.beta2_decay  # 1 − β̂2
        rho = min(lr, 1.0 / t**0.5)
        for i, (p, g, s) in enumerate(zip(params, grads, state.scratch, strict=True)):
            buf = state.buffers[i]
            eps1 = self.eps1 if self.eps1 is not None else float(np.finfo(p.dtype).eps)
            alpha = max(self.eps2, float(np.linalg.norm(p)) / p.size**0.5) * rho
            if decay_mask is None or decay_mask[i]:
                weight_decay(p, g, s, lr, self.weight_decay, True)
            if p.ndim > 1:
                row, col = buf["row"], buf["col"]
                row_mean = np.linalg.norm(g, axis=-1, keepdims=True)
                row_mean **= 2
                row_mean /= g.shape[-1]
                _lerp(row, row_mean, w, out=row)
                col_mean = np.linalg.norm(g, axis=-2, keepdims=True)
                col_mean **= 2
                col_mean /= g.shape[-2]
                _lerp(col, col_mean, w, out=col)
                np.matmul(row, col, out=s)
                s /= np.maximum(row.mean(axis=-2, keepdims=True), eps1)
            else:
                v = buf["v"]
                np.multiply(g, g, out=s)
                _lerp(v, s, w, out=v)
                np.copyto(s, v)
            np.maximum(s, eps1 * eps1, out=s)
            np.sqrt(s, out=s)
            np.divide(1.0, s, out=s)
            s *= g
            denom = max(1.0, float(np.linalg.norm(s)) / (s.size**0.5 * self.d))
            s *= -alpha / denom
            p += s


# --------------------------------------------------------------------------- Muon

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # Keller Jordan's quintic, as torch's DEFAULT_A/B/C
ADAMW = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}  # Muon's fallback: torch.optim.AdamW's defaults


def orthogonalise(
    G: np.ndarray, coefficients: tuple[float, float, float], steps: int, eps: float
) -> np.ndarray:
    """Newton–Schulz's quintic iteration towards the orthogonal factor UVᵀ of G = USVᵀ.

    X = G/max(‖G‖_F, ε) (transposed when G is tall), then ``steps`` times A = XXᵀ,
    X ← aX + (bA + cA²)X: torch's ``_zeropower_via_newtonschulz``, in G's dtype where torch
    computes in bfloat16. The singular values end near 1, in about (0.7, 1.2), not at 1.
    """
    a, b, c = coefficients
    tall = G.shape[0] > G.shape[1]
    X = G.T if tall else G
    X = X / max(float(np.linalg.norm(X)), eps)
    for _ in range(steps):
        A = X @ X.T
        B = A @ A
        B *= c
        B += b * A
        X = B @ X + a * X
    return X.T if tall else X


class Muon(UpdateRule):
    """Muon (Jordan et al. 2024, kellerjordan.github.io/posts/muon) as torch.optim.Muon on the
    weight matrices, torch.optim.AdamW on every other parameter.

    A weight matrix (two dimensions, both > 1): b ← lerp(b, g, 1 − μ) (b = μb + (1−μ)g),
    u = lerp(g, b, μ) with Nesterov, else b; O = NS(u) (:func:`orthogonalise`);
    θ ← θ·(1 − lr·λ); θ −= lr·r·O with r = √max(1, A/B) (``original``) or 0.2·√max(A, B)
    (``match-rms-adamw``) for an A×B weight. As torch's docs prescribe, Muon is for matrices:
    biases, conv kernels and a weight with a single row or column (a one-output layer, whose
    orthogonalisation is only its normalisation g/‖g‖) take AdamW with the same lr and λ (the
    biases no decay), β = (0.9, 0.999), ε = 1e-8.
    """

    layout = "tensors"
    hypers = (
        WEIGHT_DECAY.with_default(0.1),
        MOMENTUM.with_default(0.95),
        switch("nesterov", True, "Nesterov momentum"),
        Hyper("ns_a", NS_COEFFICIENTS[0], "Newton–Schulz coefficient a of aX + (bA + cA²)X"),
        Hyper("ns_b", NS_COEFFICIENTS[1], "Newton–Schulz coefficient b of aX + (bA + cA²)X"),
        Hyper("ns_c", NS_COEFFICIENTS[2], "Newton–Schulz coefficient c of aX + (bA + cA²)X"),
        EPS.with_default(1e-7),
        Hyper("ns_steps", 5, "Newton–Schulz iterations", kind=int, low=1, high=99),
        Hyper(
            "adjust_lr_fn",
            "original",
            "lr scale of an A×B weight: original √max(1, A/B), match-rms-adamw 0.2·√max(A, B)",
            kind=str,
            choices=("original", "match-rms-adamw"),
        ),
    )
    weight_decay: float
    momentum: float
    nesterov: bool
    ns_a: float
    ns_b: float
    ns_c: float
    eps: float
    ns_steps: int
    adjust_lr_fn: str

    @staticmethod
    def is_matrix(p: np.ndarray) -> bool:
        """Whether Muon steps on ``p`` (else AdamW does)."""
        return p.ndim == 2 and min(p.shape) > 1

    def check_model(self, params: Params, decay_mask: Sequence[bool], model: str) -> None:
        if not any(self.is_matrix(p) for p in params):
            has = "a weight vector" if model in ("linear", "logistic") else "none"
            raise ConfigError(
                "muon needs a weight matrix (2-D, both sizes > 1) to orthogonalise; "
                f"a {model} model has {has}: use adamw"
            )

    def init(self, params: Params) -> OptState:
        state = super().init(params)
        matrices = [i for i, p in enumerate(params) if self.is_matrix(p)]
        others = [i for i in range(len(params)) if i not in matrices]
        for i in matrices:
            state.buffers[i]["momentum"] = np.zeros_like(params[i])
        adamw = Adam(**ADAMW, weight_decay=self.weight_decay, decoupled_weight_decay=True)
        state.scalars.update(
            matrices=matrices,
            others=others,
            adamw=adamw,
            adamw_state=adamw.init([params[i] for i in others]),
        )
        return state

    def adjusted_lr(self, lr: float, shape: tuple[int, ...]) -> float:
        """torch's ``_adjust_lr``: the lr of an A×B weight."""
        A, B = shape[:2]
        if self.adjust_lr_fn == "original":
            return lr * math.sqrt(max(1.0, A / B))
        return lr * 0.2 * math.sqrt(max(A, B))

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
        ctx: StepContext | None = None,
    ) -> None:
        state.step += 1
        mu, sc = self.momentum, state.scalars
        coefficients = (self.ns_a, self.ns_b, self.ns_c)
        for i in sc["matrices"]:
            p, g, s = params[i], grads[i], state.scratch[i]
            b = state.buffers[i]["momentum"]
            _lerp(b, g, 1.0 - mu, out=b)
            u = _lerp(g, b, mu, out=s) if self.nesterov else b
            ortho = orthogonalise(u, coefficients, self.ns_steps, self.eps)
            p *= 1.0 - lr * self.weight_decay
            np.multiply(ortho, -self.adjusted_lr(lr, p.shape), out=s)
            p += s
        others = sc["others"]
        if others:
            mask = None if decay_mask is None else [decay_mask[i] for i in others]
            sc["adamw"].step(
                [params[i] for i in others],
                [grads[i] for i in others],
                sc["adamw_state"],
                lr,
                decay_mask=mask,
            )


# --------------------------------------------------------------------------- L-BFGS


def cubic_interpolate(
    x1: float,
    f1: float,
    g1: float,
    x2: float,
    f2: float,
    g2: float,
    bounds: tuple[float, float] | None = None,
) -> float:
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to ``bounds``
    (default: between x1 and x2); their midpoint when the cubic has none. torch's
    ``_cubic_interpolate`` (from minFunc's polyinterp)."""
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, lo), hi)
    return (lo + hi) / 2.0


Evaluate = Callable[[float], tuple[float, np.ndarray]]


def strong_wolfe(
    evaluate: Evaluate,
    t: float,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: float,
    *,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, np.ndarray, float, int]:
    """A step t along d meeting the strong Wolfe conditions f(x + td) ≤ f + c1·t·gᵀd and
    |∇f(x + td)ᵀd| ≤ −c2·gᵀd, by bracketing then zooming with cubic interpolation (Nocedal &
    Wright, Algorithms 3.5–3.6). ``evaluate(t)`` gives (f, ∇f) at x + td. Returns
    (f, ∇f, t, evaluations): torch's ``_strong_wolfe`` (from minFunc's lswolfe), branch for
    branch."""
    d_norm = float(np.abs(d).max())
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = cubic_interpolate(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step)
        )
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket around a point meeting the conditions
    insufficient = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        # A trial too close to an end of the bracket moves to 10% of its width inside it
        # (at once if at or beyond an end, or after two such trials in a row).
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(UpdateRule):
    """L-BFGS (Liu & Nocedal 1989) as torch.optim.LBFGS: one step = up to ``max_iter``
    iterations on the full-batch objective.

    Each iteration: the direction d = −Hg by the two-loop recursion over the last
    ``history_size`` pairs (s = td, y = Δg, kept when yᵀs > 1e-10) with H₀ = (yᵀs/yᵀy)·I
    (d = −g at the very first); the step t = lr (the very first min(1, 1/‖g‖₁)·lr), or from a
    strong-Wolfe line search (:func:`strong_wolfe`); θ += td. It stops early when
    max|g| ≤ tolerance_grad, gᵀd > −tolerance_change, max|td| ≤ tolerance_change,
    |Δf| < tolerance_change, or after ``max_eval`` evaluations of the objective. The history
    carries over from one step to the next. torch's ``LBFGS.step`` line for line.
    """

    full_batch = True
    hypers = (
        count("max_iter", 20, "L-BFGS iterations per step (epoch)"),
        Hyper(
            "max_eval",
            None,
            "objective evaluations per step at most (unset: max_iter·5/4)",
            kind=int,
            low=1,
            optional=True,
        ),
        nonnegative("tolerance_grad", 1e-7, "stop when max|g| is at most this"),
        nonnegative("tolerance_change", 1e-9, "stop when f or θ changes by less than this"),
        count("history_size", 100, "correction pairs (s, y) kept for the inverse Hessian"),
        Hyper(
            "line_search_fn",
            "none",
            "line search: none (step lr) or strong-wolfe",
            kind=str,
            choices=("none", "strong-wolfe"),
        ),
    )
    max_iter: int
    max_eval: int | None
    tolerance_grad: float
    tolerance_change: float
    history_size: int
    line_search_fn: str

    def init(self, params: Params) -> OptState:
        state = super().init(params)
        state.scalars.update(n_iter=0, func_evals=0, old_dirs=[], old_stps=[], ro=[])
        return state

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
        ctx: StepContext | None = None,
    ) -> None:
        ctx = _needs("lbfgs", ctx, "loss", "closure")
        closure = ctx.closure
        assert closure is not None
        (x,), (grad,) = params, grads
        sc = state.scalars
        state.step += 1
        max_eval = self.max_eval if self.max_eval is not None else self.max_iter * 5 // 4
        tol_change = self.tolerance_change
        loss = float(ctx.loss)  # type: ignore[arg-type]
        flat_grad = grad.copy()  # the closure overwrites ``grad``
        current_evals = 1
        sc["func_evals"] += 1
        if np.abs(flat_grad).max() <= self.tolerance_grad:
            return
        d, t = sc.get("d"), sc.get("t")
        old_dirs, old_stps, ro = sc["old_dirs"], sc["old_stps"], sc["ro"]
        H_diag = sc.get("H_diag")
        prev_flat_grad, prev_loss = sc.get("prev_flat_grad"), sc.get("prev_loss")
        opt_cond = False

        def evaluate(step: float) -> tuple[float, np.ndarray]:
            """(f, ∇f) at x0 + step·d; θ is back at x0 afterwards (torch's
            ``_directional_evaluate``)."""
            np.add(x, step * d, out=x)
            f = float(closure())
            g = grad.copy()
            np.copyto(x, x0)
            return f, g

        n_iter = 0
        while n_iter < self.max_iter:
            n_iter += 1
            sc["n_iter"] += 1
            if sc["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(old_dirs) == self.history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y @ y)
                # the two-loop recursion, in one buffer
                al = [0.0] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q += old_dirs[i] * -al[i]
                d = r = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = float(old_dirs[i] @ r) * ro[i]
                    r += old_stps[i] * (al[i] - be_i)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr if sc["n_iter"] == 1 else lr
            gtd = float(flat_grad @ d)
            if gtd > -tol_change:
                break
            evals = 0
            if self.line_search_fn == "strong-wolfe":
                x0 = x.copy()
                loss, flat_grad, t, evals = strong_wolfe(
                    evaluate, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                x += t * d
                opt_cond = bool(np.abs(flat_grad).max() <= self.tolerance_grad)
            else:
                x += t * d
                if n_iter != self.max_iter:
                    # the last iteration leaves the evaluation at the new θ to the next step
                    loss = float(closure())
                    flat_grad = grad.copy()
                    opt_cond = bool(np.abs(flat_grad).max() <= self.tolerance_grad)
                    evals = 1
            current_evals += evals
            sc["func_evals"] += evals
            if n_iter == self.max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        sc.update(
            d=d,
            t=t,
            old_dirs=old_dirs,
            old_stps=old_stps,
            ro=ro,
            H_diag=H_diag,
            prev_flat_grad=prev_flat_grad,
            prev_loss=prev_loss,
        )


# --------------------------------------------------------------------------- Polyak


class Polyak(UpdateRule):
    """Gradient descent with Polyak's step size (Polyak 1987, *Introduction to Optimization*
    §5.3; capped as SPS_max, Loizou et al. 2021, arXiv:2002.10542), on the full batch.

    η = lr·(f − f*)/‖g‖², capped at γ_b (``max_step``) when given; θ −= η·g. f is the
    objective at θ (``ctx.loss``), f* its exact minimum (``ctx.optimum``); η = 0 where
    f ≤ f* (rounding at the optimum) or g = 0. lr = 1 is Polyak's step, lr = 1/c Loizou's SPS
    with constant c.
    """

    full_batch = True
    needs_optimum = True
    hypers = (
        positive(
            "max_step",
            None,
            "cap γ_b on the step size η (SPS_max; unset: no cap)",
            optional=True,
        ),
    )
    max_step: float | None

    def step(
        self,
        params: Params,
        grads: Params,
        state: OptState,
        lr: float,
        *,
        decay_mask: Sequence[bool] | None = None,
        ctx: StepContext | None = None,
    ) -> None:
        ctx = _needs("polyak", ctx, "loss", "optimum")
        state.step += 1
        gap = max(float(ctx.loss) - float(ctx.optimum), 0.0)  # type: ignore[arg-type]
        norm2 = math.fsum(float(np.vdot(g, g)) for g in grads)
        eta = lr * gap / norm2 if norm2 > 0 else 0.0
        if self.max_step is not None:
            eta = min(eta, self.max_step)
        for p, g, s in zip(params, grads, state.scratch, strict=True):
            np.multiply(g, eta, out=s)
            p -= s


# fmt: off
register("adafactor", Adafactor, lr=0.1, reference="torch.optim.Adafactor",
         description="Adafactor: V̂ = R·C/mean(R) from row/column means of g² (vectors: full), "
                     "θ −= max(ε2, RMS(θ))·min(lr, 1/√t)·U/max(1, RMS(U)/d), U = g/√V̂")
register("muon", Muon, lr=0.02, reference="torch.optim.Muon on weight matrices + "
         "torch.optim.AdamW (β 0.9, 0.999, ε 1e-8, same lr and λ) on the rest",
         description="Muon: b = μb + (1−μ)g, θ ← θ·(1 − lr·λ) − lr·√max(1, A/B)·NS₅(lerp(g, b, μ)) "
                     "on each A×B weight matrix; AdamW (β 0.9/0.999, ε 1e-8) on the rest")
register("lbfgs", LBFGS, lr=1.0, batch_size=0, reference="torch.optim.LBFGS",
         description="L-BFGS: per epoch up to max_iter steps θ += t·d, d = −Hg by the two-loop "
                     "recursion, t = lr or a strong-Wolfe line search (full batch)")
register("polyak", Polyak, lr=1.0, batch_size=0,
         reference="Polyak 1987 (Introduction to Optimization §5.3); SPS_max of Loizou et al. "
         "2021 (arXiv:2002.10542)",
         description="Polyak's step: θ −= lr·(f − f*)/‖g‖²·g with f* the exact optimum "
                     "(full batch; --max-step caps the step as SPS_max)")
# fmt: on
