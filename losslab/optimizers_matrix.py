"""Rules that see a matrix or the whole objective: Adafactor, Muon, L-BFGS, Polyak's step."""

from __future__ import annotations
