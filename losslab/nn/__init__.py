"""Networks as stacks of layers.

``activations`` (forward/backward pairs on whole arrays), ``layers`` (dense, convolution, pooling,
flatten: each owns its parameters as views into one vector θ and keeps its own buffers),
``network`` (the stack: ``forward(X) -> scores``, ``backward(G) -> gradients``, initialisation
from the seed), ``models`` (the model kinds linear, logistic, softmax, mlp and cnn: how a target
is encoded and which losses fit) and ``init_from`` (starting weights from an ``.npz`` or a saved
run). Imports only ``losslab.errors`` and ``losslab.registry``.
"""
