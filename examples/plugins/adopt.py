"""ADOPT (Taniguchi et al., "ADOPT: Modified Adam Can Converge with Any β2 with the Optimal
Rate", NeurIPS 2024), as a losslab plugin: ``losslab compare … --plugin examples/plugins/adopt.py``.

Adam divides the momentum of g by √v, where v already holds g²: the step and its scale are
correlated, and Adam can diverge unless β2 is tuned to the problem. ADOPT (the paper's
Algorithm 2) normalises g by the second moment of the *previous* gradients, then averages, then
steps, and only then adds g² to v:

    v₀ = g₀²  (the first gradient only fills v; θ does not move)
    m_t = β1·m_{t−1} + (1 − β1)·clip(g_t / max(√v_{t−1}, ε), t^¼)
    θ_t = θ_{t−1} − lr·m_t
    v_t = β2·v_{t−1} + (1 − β2)·g_t²

The clipping at t^¼ is the paper's stabilised variant (``--clip``, on by default as in the
authors' code and optax.contrib.adopt); ``--no-clip`` gives Algorithm 1.
"""

import numpy as np

from losslab import Hyper, register_optimizer


@register_optimizer(
    "adopt",
    lr=0.001,
    hypers=[
        Hyper("beta1", 0.9, low=0.0, high=1.0, high_open=True, help="decay of the first moment β1"),
        Hyper(
            "beta2", 0.9999, low=0.0, high=1.0, high_open=True, help="decay of the second moment β2"
        ),
        Hyper("eps", 1e-6, low=0.0, low_open=True, help="floor ε of √v in the normalisation"),
        Hyper(
            "clip",
            True,
            kind=bool,
            help="clip the normalised gradient at t^¼ (ADOPT's Algorithm 2)",
        ),
    ],
    reference="Taniguchi et al. 2024, Algorithm 2 (optax.contrib.adopt)",
)
class Adopt:
    """ADOPT: m = β1m + (1−β1)·clip(g/max(√v, ε)), θ −= lr·m, then v = β2v + (1−β2)g²"""

    def init(self, params):
        return {
            "t": 0,
            "m": [np.zeros_like(p) for p in params],
            "v": [np.zeros_like(p) for p in params],
        }

    def step(self, params, grads, state, lr, *, beta1, beta2, eps, clip):
        t = state["t"]
        state["t"] = t + 1
        for p, g, m, v in zip(params, grads, state["m"], state["v"]):
            if t == 0:
                v[...] = g * g  # v₀ = g₀²; no step
                continue
            normed = g / np.maximum(np.sqrt(v), eps)
            if clip:
                np.clip(normed, -(t**0.25), t**0.25, out=normed)
            m *= beta1
            m += (1.0 - beta1) * normed
            p -= lr * m
            v *= beta2  # the second moment is updated after the step: ADOPT's change to Adam
            v += (1.0 - beta2) * g * g
