"""Optimizers and learning-rate schedules.

An optimizer is an update rule (optax's pair ``init`` / ``step``, in place on a list of NumPy
arrays) registered with its declared hyperparameters (:class:`losslab.hyper.Hyper`) in
:data:`~losslab.optim.optimizers.OPTIMIZERS`: ``optimizers`` holds the contract and torch.optim's
core rules, ``torch_more`` the rest of torch.optim's elementwise rules, ``matrix`` the rules that
see a matrix or the whole objective (Adafactor, Muon, L-BFGS, Polyak), ``modern`` those beyond
torch (Lion, Schedule-Free, Prodigy …); ``schedules`` holds torch's lr schedulers as O(1)
lookups. Imports only ``losslab.errors``, ``losslab.registry`` and ``losslab.hyper``.
"""

import importlib

# The rest of the zoo registers itself after the rules it builds on, in the order of the
# listing: torch.optim's other rules, those that see matrices or the whole objective, then the
# optimizers beyond torch.
for _module in ("optimizers", "torch_more", "matrix", "modern"):
    importlib.import_module(f"losslab.optim.{_module}")
