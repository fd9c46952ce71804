"""The rest of torch.optim's elementwise rules (NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD)."""

from __future__ import annotations
