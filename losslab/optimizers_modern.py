"""Optimizers beyond torch.optim: Lion, Schedule-Free, Prodigy, Yogi, AdaBelief, LAMB, signSGD."""

from __future__ import annotations
