"""The torch.optim twin of a registered optimizer, for the tests that train with both."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from losslab.optim.optimizers import OPTIMIZERS

# losslab splits torch's tuple-valued hyperparameters into two names.
TUPLES = {
    "betas": ("beta1", "beta2"),
    "etas": ("eta_minus", "eta_plus"),
    "step_sizes": ("step_min", "step_max"),
}


def torch_kwargs(name: str, **hyper: Any) -> dict[str, Any]:
    """The keywords of torch's optimizer for the registered ``name`` with ``hyper`` over its
    defaults (weight decay left out: it goes to the parameter groups)."""
    h = {**OPTIMIZERS.get(name).hyper_defaults, **hyper}
    h.pop("weight_decay", None)
    for joined, (a, b) in TUPLES.items():
        if a in h:
            h[joined] = (h.pop(a), h.pop(b))
    return h


def torch_optimizer(torch: Any, name: str, weights: Sequence, biases: Sequence, lr: float, **hyper):
    """torch's optimizer for ``name``: the weights in a group with the weight decay, the biases in
    a group without (losslab never decays a bias). The rules are named as torch names them, and
    ``adamw`` is torch's Adam with ``decoupled_weight_decay``, which AdamW is."""
    spec = OPTIMIZERS.get(name)
    cls = getattr(torch.optim, spec.rule.__name__)
    kwargs = torch_kwargs(name, **hyper)
    if "weight_decay" not in spec.hyper_defaults:
        return cls([*weights, *biases], lr=lr, **kwargs)
    decay = {**spec.hyper_defaults, **hyper}["weight_decay"]
    groups = [
        {"params": list(weights), "weight_decay": decay},
        {"params": list(biases), "weight_decay": 0.0},
    ]
    return cls(groups, lr=lr, **kwargs)


@contextlib.contextmanager
def float64_state(torch: Any) -> Iterator[None]:
    """Default dtype float64 while torch optimizers make their state: NAdam's μ-product and
    ASGD's η and μ are scalar tensors of the default dtype, float32 otherwise."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(before)
