"""A loss given without its gradient: losslab takes it by central differences (vectorised over
the rows) and `losslab losses` marks it "numeric gradient".

The Cauchy (Lorentzian) loss ℓ = (c²/2)·log(1 + (d/c)²), d = ŷ − y, is quadratic near 0 and grows
only logarithmically: an outlier pulls on the fit with a force that falls to 0 as it grows.
"""

import numpy as np

from losslab import Hyper, register_loss


@register_loss(
    "cauchy",
    task="regression",
    formula="(c²/2)·log(1 + ((ŷ − y)/c)²)",
    params=(
        Hyper(
            "width",
            1.0,
            low=0.0,
            low_open=True,
            help="Cauchy width c: the error where the loss turns logarithmic",
        ),
    ),
)
def cauchy(y, out, *, width=1.0):
    r = (out - y) / width
    return 0.5 * width**2 * np.log1p(r * r)
