"""A model is a stack of dense layers: ``forward(X) -> scores`` and ``backward(G) -> gradients``.

Layer l maps its input A (rows × fan_in) to ``Z = A·W_l + b_l`` with ``W_l`` of shape
(fan_in, fan_out) — torch's ``nn.Linear`` weight transposed — and every hidden layer applies the
activation. The linear, logistic and softmax models are the case without hidden layers; their
output is a vector when there is one score (``W`` of shape (features,)).

All parameters live in one vector θ, weights first (layer by layer, each column-major), then the
biases, and every ``W_l``/``b_l`` is a view of it (likewise their gradients in one vector g): an
update rule runs each elementwise step once on θ, and decoupled weight decay, which spares the
biases, takes the two halves. Activations are kept per "slot" (``train``, ``test``, ``batch``)
in buffers allocated once, so that a full-batch gradient can reuse the forward pass that gave the
epoch's loss, and a minibatch step allocates nothing.

Initialisation (``init``):
- ``zeros``: the linear models' start, as before.
- ``torch`` (default for networks): ``nn.Linear.reset_parameters`` — W and b uniform in
  ±1/√fan_in — drawn from the generator layer by layer: ``W_l`` as
  ``rng.uniform(-k, k, size=(fan_in, fan_out))``, then ``b_l`` as ``rng.uniform(-k, k, fan_out)``.
- ``he``: W normal with std √(2/fan_in) (torch's ``kaiming_normal_``), b = 0.
- ``xavier``: W uniform in ±√(6/(fan_in + fan_out)) (``xavier_uniform_``), b = 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losslab.activations import ACTIVATIONS, Activation
from losslab.errors import ConfigError

INITS = ("torch", "he", "xavier")
EVAL_CHUNK = 8192  # rows per forward pass when only the scores are needed


@dataclass
class _Slot:
    """The buffers of one kind of input: pre-activations Z, activations A, backward deltas D."""

    rows: int
    Z: list[np.ndarray] = field(default_factory=list)
    A: list[np.ndarray] = field(default_factory=list)
    D: list[np.ndarray] = field(default_factory=list)
    X: np.ndarray | None = None


class Network:
    """Dense layers ``sizes[0] → sizes[1] → … → sizes[-1]`` with one activation between them.

    ``vector_output``: a single score per row, kept as a vector (``W_L`` of shape (fan_in,)).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Activation | None = None,
        *,
        vector_output: bool = False,
        dtype: Any = np.float64,
    ) -> None:
        if len(sizes) < 2:
            raise ValueError("a network needs an input and an output size")
        self.sizes = [int(s) for s in sizes]
        self.vector_output = vector_output
        if vector_output and self.sizes[-1] != 1:
            raise ValueError("a vector output has one score per row")
        if isinstance(activation, str):
            activation = ACTIVATIONS.get(activation)
        if activation is None and len(self.sizes) > 2:
            raise ValueError("hidden layers need an activation")
        self.activation = activation
        self.dtype = np.dtype(dtype)
        shapes = self.weight_shapes()
        n_weights = sum(math.prod(s) for s in shapes)
        n_biases = sum(self.sizes[1:])
        self.theta = np.zeros(n_weights + n_biases, dtype=self.dtype)
        self.grad = np.zeros_like(self.theta)
        self.weights, self.biases = self.theta[:n_weights], self.theta[n_weights:]
        self.W = self._views(self.theta, shapes, 0)
        self.gW = self._views(self.grad, shapes, 0)
        bias_shapes = [(s,) for s in self.sizes[1:]]
        self.b = self._views(self.theta, bias_shapes, n_weights)
        self.gb = self._views(self.grad, bias_shapes, n_weights)
        self._slots: dict[str, _Slot] = {}

    # ------------------------------------------------------------------ structure

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def hidden(self) -> list[int]:
        return self.sizes[1:-1]

    def weight_shapes(self) -> list[tuple[int, ...]]:
        shapes: list[tuple[int, ...]] = [
            (self.sizes[i], self.sizes[i + 1]) for i in range(self.n_layers)
        ]
        if self.vector_output:
            shapes[-1] = (self.sizes[-2],)
        return shapes

    @staticmethod
    def _views(vec: np.ndarray, shapes: list[tuple[int, ...]], start: int) -> list[np.ndarray]:
        out, at = [], start
        for shape in shapes:
            size = math.prod(shape)
            out.append(vec[at : at + size].reshape(shape, order="F"))
            at += size
        return out

    def params(self) -> list[np.ndarray]:
        """[W1, b1, W2, b2, …] (views into θ)."""
        return [p for pair in zip(self.W, self.b, strict=True) for p in pair]

    def grads(self) -> list[np.ndarray]:
        return [g for pair in zip(self.gW, self.gb, strict=True) for g in pair]

    @property
    def output_shift(self) -> np.ndarray:
        """The output bias, shaped to be added to the scores (a 1-vector for vector output)."""
        return self.b[-1][0:1] if self.vector_output else self.b[-1]

    def copy(self, dtype: Any = None) -> Network:
        twin = Network(
            self.sizes,
            self.activation,
            vector_output=self.vector_output,
            dtype=self.dtype if dtype is None else dtype,
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
        for W, b, fan_in, fan_out in zip(
            self.W, self.b, self.sizes[:-1], self.sizes[1:], strict=True
        ):
            shape = (fan_in, fan_out)
            if scheme == "torch":
                k = 1.0 / math.sqrt(fan_in)
                W[...] = rng.uniform(-k, k, size=shape).reshape(W.shape)
                b[...] = rng.uniform(-k, k, size=fan_out)
            elif scheme == "he":
                W[...] = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape).reshape(W.shape)
                b[...] = 0.0
            else:
                a = math.sqrt(6.0 / (fan_in + fan_out))
                W[...] = rng.uniform(-a, a, size=shape).reshape(W.shape)
                b[...] = 0.0

    def load(self, arrays: Sequence[np.ndarray], where: str) -> None:
        """Set [W1, b1, …] from arrays of the documented shapes ((fan_in, fan_out), (fan_out,))."""
        want = 2 * self.n_layers
        if len(arrays) != want:
            raise ConfigError(
                f"{where}: has {len(arrays) // 2} layers' weights; this model has "
                f"{self.n_layers} ({self.describe()})"
            )
        for i, (param, value) in enumerate(zip(self.params(), arrays, strict=True)):
            name = f"{'Wb'[i % 2]}{i // 2 + 1}"
            value = np.asarray(value, dtype=np.float64)
            shape = (
                (self.sizes[i // 2], self.sizes[i // 2 + 1])
                if i % 2 == 0
                else (self.sizes[i // 2 + 1],)
            )
            if value.shape not in (shape, param.shape):
                raise ConfigError(
                    f"{where}: {name} has shape {value.shape}; this model needs {shape} "
                    f"({self.describe()})"
                )
            if not np.isfinite(value).all():
                raise ConfigError(f"{where}: {name} holds a non-finite value")
            param[...] = value.reshape(param.shape)

    def describe(self) -> str:
        return "-".join(map(str, self.sizes))

    # ------------------------------------------------------------------ passes

    def _slot(self, key: str, rows: int) -> _Slot:
        slot = self._slots.get(key)
        if slot is None or slot.rows < rows:
            slot = _Slot(rows)
            width = self.sizes[1:]
            for i, w in enumerate(width):
                shape = (rows,) if (self.vector_output and i == len(width) - 1) else (rows, w)
                slot.Z.append(np.empty(shape, dtype=self.dtype))
                hidden = i < len(width) - 1
                slot.A.append(np.empty(shape, dtype=self.dtype) if hidden else slot.Z[-1])
                slot.D.append(np.empty(shape, dtype=self.dtype) if hidden else slot.Z[-1])
            self._slots[key] = slot
        return slot

    def forward(self, X: np.ndarray, key: str = "batch", *, output_bias: bool = True) -> np.ndarray:
        """Scores of the rows of X, keeping what :meth:`backward` needs under ``key``.

        The result is a view of the slot's buffer, valid until the next forward of that slot.
        ``output_bias=False`` leaves the last bias out (add :attr:`output_shift` later).
        """
        n = X.shape[0]
        slot = self._slot(key, n)
        slot.X = X
        A = X
        last = self.n_layers - 1
        for i in range(self.n_layers):
            Z = slot.Z[i][:n]
            np.matmul(A, self.W[i], out=Z)
            if i < last:
                Z += self.b[i]
                A = slot.A[i][:n]
                self.activation.forward(Z, A)  # type: ignore[union-attr]
            elif output_bias:
                Z += self.output_shift
        return Z

    def backward(self, G: np.ndarray, key: str = "batch") -> None:
        """Gradients of the loss into :attr:`grad` from G = ∂loss/∂scores of the last forward of
        ``key``; the deltas of the hidden layers go to the slot's D buffers."""
        n = G.shape[0]
        slot = self._slots[key]
        D = G
        for i in range(self.n_layers - 1, -1, -1):
            A_in = slot.X if i == 0 else slot.A[i - 1][:n]
            np.matmul(A_in.T, D, out=self.gW[i])
            self.gb[i][...] = D.sum(axis=0)
            if i == 0:
                break
            below = slot.D[i - 1][:n]
            if D.ndim == 1:
                np.multiply.outer(D, self.W[i], out=below)
            else:
                np.matmul(D, self.W[i].T, out=below)
            self.activation.backward(below, slot.Z[i - 1][:n], slot.A[i - 1][:n])  # type: ignore[union-attr]
            D = below

    def scores(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Scores with the output bias, in chunks of rows for networks (memory stays bounded);
        the one-layer models take the whole matrix in one product."""
        n = X.shape[0]
        shape = (n,) if self.vector_output else (n, self.sizes[-1])
        if out is None:
            out = np.empty(shape, dtype=np.result_type(X.dtype, self.dtype))
        if self.n_layers == 1:
            np.matmul(X, self.W[0], out=out)
            out += self.output_shift
            return out
        for lo in range(0, n, EVAL_CHUNK):
            hi = min(lo + EVAL_CHUNK, n)
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
        """JSON-ready layers: ``W`` as (fan_in, fan_out) lists of lists, ``b`` as a list."""
        return [
            {"W": W.reshape(fan_in, fan_out).tolist(), "b": b.tolist()}
            for W, b, fan_in, fan_out in zip(
                self.W, self.b, self.sizes[:-1], self.sizes[1:], strict=True
            )
        ]
