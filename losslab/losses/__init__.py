"""Losses: a value per row and its gradient with respect to the model output.

``base`` holds the contract (:class:`Loss` and its link, reduction in one place, the input checks,
the declared parameters and ``register_loss``); each family registers its entries in its own
module, in the order of the listings: ``regression``, ``classification``, ``pair``, ``robust``
(regression losses that bound an outlier's pull, listed apart). ``metrics``
holds the scores reported beside a loss (accuracy, R²), ``calibration`` those of predicted
probabilities (ECE, MCE, Brier). This package imports only
``losslab.errors``, ``losslab.registry``, ``losslab.hyper`` and σ from ``losslab.nn.activations``
(one σ for losses, layers and the fused kernels).

``sampling``: points of a loss's domain and a gradient's error against finite differences (what
``gradcheck`` reports and a plugin's loss must pass).
"""

import importlib

from losslab.losses.base import (
    DECLARED,
    LOG_LINK,
    LOSSES,
    PROB_EPS,
    Link,
    Loss,
    get_loss,
    loss_grad,
    loss_value,
    register_loss,
    show_param,
)

# The families register their entries here, in the order of the listings.
for _family in ("regression", "classification", "pair", "robust"):
    importlib.import_module(f"losslab.losses.{_family}")

__all__ = [
    "DECLARED",
    "LOG_LINK",
    "LOSSES",
    "PROB_EPS",
    "Link",
    "Loss",
    "get_loss",
    "loss_grad",
    "loss_value",
    "register_loss",
    "show_param",
]
