"""A loss given without its gradient: losslab takes it by central differences (vectorised over
the rows) and `losslab losses` marks it "numeric gradient".

The Charbonnier loss ℓ = c²·(√(1 + (d/c)²) − 1), d = ŷ − y (also called pseudo-Huber, or L1-L2),
is quadratic near 0 (≈ d²/2) and grows like c·|d| far out: a smooth Huber, whose pull on the fit
is bounded by c.
"""

import numpy as np

from losslab import Hyper, register_loss


@register_loss(
    "charbonnier",
    task="regression",
    formula="c²·(√(1 + ((ŷ − y)/c)²) − 1)",
    params=(
        Hyper(
            "width",
            1.0,
            low=0.0,
            low_open=True,
            help="Charbonnier width c: the error where the loss turns from square to linear",
        ),
    ),
)
def charbonnier(y, out, *, width=1.0):
    r = (out - y) / width
    return width**2 * (np.sqrt(1.0 + r * r) - 1.0)
