"""A learning-rate schedule as a plugin: the inverse square-root decay of the Transformer
(Vaswani et al. 2017, without its warm-up, which `--warmup` adds): lr·√(τ / (τ + e))."""

import math

from losslab import Hyper, register_schedule


@register_schedule(
    "inverse-sqrt",
    params=[Hyper("tau", 10.0, low=0.0, low_open=True, help="units until the lr has fallen by √2")],
    reference="Vaswani et al. 2017 (after warm-up)",
)
def inverse_sqrt(e, lr, T, *, tau):
    """lr·√(τ / (τ + e))"""
    return lr * math.sqrt(tau / (tau + e))
