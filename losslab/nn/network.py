"""A model is a stack of layers: ``forward(X) -> scores`` and ``backward(G) -> gradients``.

The layers (:mod:`losslab.nn.layers`) are dense layers — ``Z = A·W_l + b_l`` with ``W_l`` of shape
(fan_in, fan_out), torch's ``nn.Linear`` weight transposed, every hidden layer applying the
activation — and, for a cnn, conv2d, pool and flatten layers on rows read as images, always
ending in a dense output layer. The linear, logistic and softmax models are the one dense layer
case; their output is a vector when there is one score (``W`` of shape (features,)).

All parameters live in one vector θ, weights first (layer by layer; a dense W column-major, a
conv W as (k, k, C_in, C_out)), then the biases, and every layer's W and b are views of it
(likewise their gradients in one vector g): an update rule runs each elementwise step once on
θ, and decoupled weight decay, which spares the biases, takes the two halves. Each layer keeps
its activations per "slot" (``train``, ``test``, ``batch``, ``eval``) in buffers allocated once,
so that a full-batch gradient can reuse the forward pass that gave the epoch's loss, and a
minibatch step allocates nothing.

Initialisation (``init``):
- ``zeros``: the linear models' start, as before.
- ``torch`` (default for networks): ``nn.Linear`` / ``nn.Conv2d.reset_parameters`` — W and b
  uniform in ±1/√fan_in — drawn from the generator layer by layer (layers with weights only):
  a dense ``W_l`` as ``rng.uniform(-k, k, size=(fan_in, fan_out))``, a conv ``W_l`` as
  ``rng.uniform(-k, k, size=(C_out, C_in, k, k))`` (torch's layout, fan_in = C_in·k·k), then
  ``b_l`` as ``rng.uniform(-k, k, fan_out)`` (C_out for a conv).
- ``he``: W normal with std √(2/fan_in) (torch's ``kaiming_normal_``), b = 0.
- ``xavier``: W uniform in ±√(6/(fan_in + fan_out)) (``xavier_uniform_``; a conv's fan_out is
  C_out·k·k), b = 0.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.nn.activations import ACTIVATIONS, Activation
from losslab.nn.layers import (
    Dense,
    Layer,
    LayerSpec,
    build_stack,
    format_layers,
    parse_layers,
)
from losslab.resources import check_memory

INITS = ("torch", "he", "xavier")
EVAL_CHUNK = 8192  # rows per forward pass when only the scores are needed
EVAL_BYTES = 1 << 26  # a layer stack's evaluation buffers stay about this size


@dataclass
class _Slot:
    """The buffers of one kind of input (``train``, ``test``, ``batch``, ``eval``), one dict per
    layer, and the input of the last forward pass."""

    rows: int
    bufs: list[dict[str, np.ndarray]] = field(default_factory=list)
    inputs: list[np.ndarray] = field(default_factory=list)
    X: np.ndarray | None = None


class Network:
    """A stack of layers. ``Network(sizes, activation)``: dense layers ``sizes[0] → … →
    sizes[-1]`` with one activation between them; with ``layers`` (``--layers`` specs) and
    ``image`` (H, W, C): those layers on the rows read as images, then a dense output layer of
    ``sizes[-1]`` (``sizes[0]`` = H·W·C).

    ``vector_output``: a single score per row, kept as a vector (``W_L`` of shape (fan_in,)).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Activation | None = None,
        *,
        vector_output: bool = False,
        dtype: Any = np.float64,
        layers: Sequence[LayerSpec] | str | None = None,
        image: Sequence[int] | None = None,
    ) -> None:
        if len(sizes) < 2:
            raise ValueError("a network needs an input and an output size")
        sizes = [int(s) for s in sizes]
        self.vector_output = vector_output
        if vector_output and sizes[-1] != 1:
            raise ValueError("a vector output has one score per row")
        if isinstance(activation, str):
            activation = ACTIVATIONS.get(activation)
        self.activation = activation
        self.dtype = np.dtype(dtype)
        self.spec: list[LayerSpec] | None = None
        self.image: tuple[int, int, int] | None = None
        if layers is None:
            if activation is None and len(sizes) > 2:
                raise ValueError("hidden layers need an activation")
            self.layers: list[Layer] = [
                Dense(a, b, activation if i < len(sizes) - 2 else None, False)
                for i, (a, b) in enumerate(itertools.pairwise(sizes))
            ]
            if vector_output:
                self.layers[-1] = Dense(sizes[-2], 1, None, True)
            self.sizes = sizes
        else:
            if activation is None:
                raise ValueError("a layer stack needs an activation")
            self.spec = parse_layers(layers) if isinstance(layers, str) else list(layers)
            assert image is not None
            self.image = (int(image[0]), int(image[1]), int(image[2]))
            if math.prod(self.image) != sizes[0]:
                raise ValueError("the image shape does not match the input size")
            self.layers = build_stack(
                self.spec, self.image, sizes[-1], activation, vector_output=vector_output
            )
            self.sizes = [sizes[0]] + [
                math.prod(layer.out_shape) for layer in self.layers if layer.has_params
            ]
        self.weighted = [layer for layer in self.layers if layer.has_params]
        # backward stops at the first layer with weights: nothing below it needs a gradient
        self._first = next(i for i, layer in enumerate(self.layers) if layer.has_params)
        shapes = [layer.weight_shape for layer in self.weighted]
        n_weights = sum(math.prod(s) for s in shapes)
        n_biases = sum(layer.n_bias for layer in self.weighted)
        # θ, its gradient, the optimizer's state (Adam: two more) and a best copy: six vectors
        check_memory(
            6 * (n_weights + n_biases) * self.dtype.itemsize,
            f"a network of {n_weights + n_biases:,} parameters",
        )
        self.theta = np.zeros(n_weights + n_biases, dtype=self.dtype)
        self.grad = np.zeros_like(self.theta)
        self.weights, self.biases = self.theta[:n_weights], self.theta[n_weights:]
        orders = [layer.order for layer in self.weighted]
        self.W = self._views(self.theta, shapes, 0, orders)
        self.gW = self._views(self.grad, shapes, 0, orders)
        bias_shapes = [(layer.n_bias,) for layer in self.weighted]
        self.b = self._views(self.theta, bias_shapes, n_weights)
        self.gb = self._views(self.grad, bias_shapes, n_weights)
        for layer, W, b, gW, gb in zip(
            self.weighted, self.W, self.b, self.gW, self.gb, strict=True
        ):
            layer.W, layer.b, layer.gW, layer.gb = W, b, gW, gb
        self._slots: dict[str, _Slot] = {}

    # ------------------------------------------------------------------ structure

    @property
    def n_layers(self) -> int:
        """Layers with weights (pool and flatten have none)."""
        return len(self.weighted)

    @property
    def hidden(self) -> list[int]:
        return self.sizes[1:-1] if self.spec is None else []

    @property
    def architecture(self) -> str | None:
        """The ``--layers`` spec of a layer stack (None for dense layers from ``sizes``)."""
        return format_layers(self.spec) if self.spec is not None else None

    def weight_shapes(self) -> list[tuple[int, ...]]:
        return [layer.weight_shape for layer in self.weighted]

    @staticmethod
    def _views(
        vec: np.ndarray,
        shapes: list[tuple[int, ...]],
        start: int,
        orders: list[str] | None = None,
    ) -> list[np.ndarray]:
        out, at = [], start
        for k, shape in enumerate(shapes):
            size = math.prod(shape)
            order = "F" if orders is None else orders[k]
            out.append(vec[at : at + size].reshape(shape, order=order))  # type: ignore[call-overload]
            at += size
        return out

    def params(self) -> list[np.ndarray]:
        """[W1, b1, W2, b2, …] (views into θ)."""
        return [p for pair in zip(self.W, self.b, strict=True) for p in pair]

    def grads(self) -> list[np.ndarray]:
        return [g for pair in zip(self.gW, self.gb, strict=True) for g in pair]

    def torch_tensors(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(parameters, gradients) as torch's module lists them — each layer's weight in torch's
        layout ((out, in); a conv's (C_out, C_in, k, k)), then its bias — all views into θ, g."""
        ps: list[np.ndarray] = []
        gs: list[np.ndarray] = []
        for layer in self.weighted:
            view = layer.torch_view  # type: ignore[attr-defined]
            ps += [view(layer.W), layer.b]
            gs += [view(layer.gW), layer.gb]
        return ps, gs

    @property
    def output_shift(self) -> np.ndarray:
        """The output bias, shaped to be added to the scores (a 1-vector for vector output)."""
        return self.b[-1][0:1] if self.vector_output else self.b[-1]

    def copy(self, dtype: Any = None) -> Network:
        twin = Network(
            [self.sizes[0], self.sizes[-1]] if self.spec is not None else self.sizes,
            self.activation,
            vector_output=self.vector_output,
            dtype=self.dtype if dtype is None else dtype,
            layers=self.spec,
            image=self.image,
        )
        twin.theta[...] = self.theta
        return twin

    # ------------------------------------------------------------------ initialisation

    def init(self, scheme: str, rng: np.random.Generator | None) -> None:
        """Fill θ by ``scheme`` (zeros, torch, he, xavier); see the module docstring."""
        if scheme == "zeros":
            self.theta[...] = 0.0
            return
        if scheme not in INITS:
            raise ConfigError(f"--init must be one of {', '.join(INITS)}, got {scheme!r}")
        assert rng is not None
        for layer in self.weighted:
            shape, fan_in, fan_out = layer.torch_shape, layer.fan_in, layer.fan_out
            if scheme == "torch":
                k = 1.0 / math.sqrt(fan_in)
                layer.set_weight(rng.uniform(-k, k, size=shape))
                layer.b[...] = rng.uniform(-k, k, size=layer.n_bias)
            elif scheme == "he":
                layer.set_weight(rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape))
                layer.b[...] = 0.0
            else:
                a = math.sqrt(6.0 / (fan_in + fan_out))
                layer.set_weight(rng.uniform(-a, a, size=shape))
                layer.b[...] = 0.0

    def load(self, arrays: Sequence[np.ndarray], where: str) -> None:
        """Set [W1, b1, …] from arrays of the documented shapes: (fan_in, fan_out) for a dense
        layer, torch's (C_out, C_in, k, k) for a conv layer, (fan_out,) for a bias."""
        want = 2 * self.n_layers
        if len(arrays) != want:
            raise ConfigError(
                f"{where}: has {len(arrays) // 2} layers' weights; this model has "
                f"{self.n_layers} ({self.describe()})"
            )
        for i, value in enumerate(arrays):
            layer = self.weighted[i // 2]
            name = f"{'Wb'[i % 2]}{i // 2 + 1}"
            value = np.asarray(value, dtype=np.float64)
            shape = layer.torch_shape if i % 2 == 0 else (layer.n_bias,)
            also = layer.W.shape if i % 2 == 0 and layer.kind == "dense" else shape
            if value.shape not in (shape, also):
                raise ConfigError(
                    f"{where}: {name} has shape {value.shape}; this model needs {shape} "
                    f"({self.describe()})"
                )
            if not np.isfinite(value).all():
                raise ConfigError(f"{where}: {name} holds a non-finite value")
            if i % 2 == 0:
                layer.set_weight(value)
            else:
                layer.b[...] = value

    def describe(self) -> str:
        if self.spec is not None:
            h, w, c = self.image  # type: ignore[misc]
            return f"{h}x{w}x{c}-{self.architecture}-{self.sizes[-1]}"
        return "-".join(map(str, self.sizes))

    # ------------------------------------------------------------------ passes

    def _slot(self, key: str, rows: int) -> _Slot:
        slot = self._slots.get(key)
        if slot is None or slot.rows < rows:
            slot = _Slot(rows, [layer.buffers(rows, self.dtype) for layer in self.layers])
            self._slots[key] = slot
        return slot

    def _as_input(self, X: np.ndarray) -> np.ndarray:
        """The rows as the first layer takes them: (rows, H, W, C) views of (C, H, W) pixels."""
        if self.image is None or len(self.layers[0].in_shape) != 3:
            return X
        h, w, c = self.image
        return X.reshape(X.shape[0], c, h, w).transpose(0, 2, 3, 1)

    def forward(self, X: np.ndarray, key: str = "batch", *, output_bias: bool = True) -> np.ndarray:
        """Scores of the rows of X, keeping what :meth:`backward` needs under ``key``.

        The result is a view of the slot's buffer, valid until the next forward of that slot.
        ``output_bias=False`` leaves the last bias out (add :attr:`output_shift` later).
        """
        n = X.shape[0]
        slot = self._slot(key, n)
        slot.X = X
        A = self._as_input(X)
        slot.inputs = []
        for layer, buf in zip(self.layers, slot.bufs, strict=True):
            slot.inputs.append(A)
            A = layer.forward(A, buf, n, output_bias)
        return A

    def backward(self, G: np.ndarray, key: str = "batch") -> None:
        """Gradients of the loss into :attr:`grad` from G = ∂loss/∂scores of the last forward of
        ``key``; the deltas of the layers below go to the slot's buffers."""
        n = G.shape[0]
        slot = self._slots[key]
        D: np.ndarray | None = G
        first = self._first
        for i in range(len(self.layers) - 1, first - 1, -1):
            layer = self.layers[i]
            D = layer.backward(D, slot.inputs[i], slot.bufs[i], n, i > first)  # type: ignore[arg-type]

    def eval_chunk(self) -> int:
        """Rows per evaluation pass: EVAL_CHUNK for dense layers; a layer stack's buffers are
        held to about EVAL_BYTES."""
        if self.spec is None:
            return EVAL_CHUNK
        per_row = sum(layer.row_floats() for layer in self.layers) * self.dtype.itemsize
        return max(1, min(EVAL_CHUNK, EVAL_BYTES // max(per_row, 1)))

    def scores(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Scores with the output bias, in chunks of rows for networks (memory stays bounded);
        the one-layer models take the whole matrix in one product."""
        n = X.shape[0]
        shape = (n,) if self.vector_output else (n, self.sizes[-1])
        if out is None:
            out = np.empty(shape, dtype=np.result_type(X.dtype, self.dtype))
        if len(self.layers) == 1:
            np.matmul(X, self.W[0], out=out)
            out += self.output_shift
            return out
        chunk = self.eval_chunk()
        for lo in range(0, n, chunk):
            hi = min(lo + chunk, n)
            out[lo:hi] = self.forward(X[lo:hi], "eval")
        return out

    # ------------------------------------------------------------------ penalties

    def penalty(self, l1: float, l2: float) -> float:
        """(l2/2)·Σ‖W_l‖² + l1·Σ‖W_l‖₁ over the weights (biases are never penalised)."""
        value = 0.0
        if l2:
            value += 0.5 * l2 * sum(float(np.vdot(W, W)) for W in self.W)
        if l1:
            value += l1 * sum(float(np.abs(W).sum()) for W in self.W)
        return value

    def add_penalty_grad(self, l1: float, l2: float) -> None:
        if l2:
            self.grad[: self.weights.size] += l2 * self.weights
        if l1:
            self.grad[: self.weights.size] += l1 * np.sign(self.weights)

    def grad_norm(self) -> float:
        """‖g‖₂ over every parameter (torch.nn.utils.clip_grad_norm_'s total norm)."""
        total = sum(float(np.vdot(g, g)) for g in self.gW)
        total += sum(float(np.vdot(g, g)) for g in self.gb)
        return math.sqrt(total)

    def to_lists(self) -> list[dict[str, Any]]:
        """JSON-ready layers with weights: ``W`` as (fan_in, fan_out) lists of lists for a dense
        layer (torch's (C_out, C_in, k, k) for a conv layer, whose entry also names its
        ``kind``), ``b`` as a list."""
        out = []
        for layer in self.weighted:
            entry: dict[str, Any] = {"kind": layer.kind} if self.spec is not None else {}
            entry.update(W=layer.get_weight().tolist(), b=layer.b.tolist())
            out.append(entry)
        return out
