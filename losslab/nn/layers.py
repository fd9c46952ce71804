"""Layers of a network: each a ``forward`` / ``backward`` pair on a batch, with its own buffers.

A layer owns views of its weights and bias in the network's parameter vector θ (and of their
gradients in g), set by :class:`losslab.nn.network.Network`; it keeps what its backward needs in
per-slot buffers (``buffers(rows)`` allocates them once per slot). Images travel between layers
as (rows, H, W, C) arrays (channels last, so that im2col columns and the product's output are
contiguous); the input rows and ``flatten`` use torch's (C, H, W) order.

- ``dense``: Z = A·W + b, W of shape (fan_in, fan_out) (torch's ``nn.Linear.weight`` transposed).
- ``conv2d``: valid padding, stride 1, a square k×k kernel: ``nn.Conv2d``. Forward is im2col —
  one copy per kernel offset (i, j) of the shifted input into a (rows·Ho·Wo, k·k·C_in) column
  matrix, or one copy of a strided view of every patch when there are channels enough — and one
  product with W; backward is two products and the reverse scatter-add. W is
  stored in θ as (k, k, C_in, C_out), read and written in torch's (C_out, C_in, k, k) layout.
- ``pool``: 2×2 max pooling with stride 2, ``nn.MaxPool2d(2)``: odd rows/columns at the bottom
  and right are dropped (floor), and the gradient goes to the first maximum of each window in
  row-major order, as torch's kernel (strict ``>``) does.
- ``flatten``: (rows, H, W, C) → (rows, C·H·W) in torch's (C, H, W) order, ``nn.Flatten``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.nn.activations import Activation

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerSpec:
    """One entry of ``--layers``: ``conv`` (width = C_out, kernel k), ``pool``, ``flatten``,
    ``dense`` (width = units)."""

    kind: str
    width: int = 0
    kernel: int = 0

    def __str__(self) -> str:
        if self.kind == "conv":
            return f"conv{self.width}" + (f"k{self.kernel}" if self.kernel != 3 else "")
        if self.kind == "dense":
            return f"dense{self.width}"
        return self.kind


SEED_LAYERS = "conv32,pool,conv64,pool,conv64,flatten,dense64"  # the seed's Keras MNIST network
_ITEM = re.compile(r"conv(\d+)(?:k(\d+))?|dense(\d+)|pool|flatten")


def parse_layers(value: Any) -> list[LayerSpec]:
    """``"conv32,pool,conv64k5,flatten,dense64"`` -> layer specs (3×3 unless ``kK``)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    specs = []
    for item in items:
        text = str(item).strip().lower()
        match = _ITEM.fullmatch(text)
        if match is None:
            kernel = re.fullmatch(r"conv\d+k(\d+)x(\d+)", text)
            if kernel and kernel[1] != kernel[2]:
                raise ConfigError(
                    f"--layers: {item!r}: only square kernels are supported (convCkK, K×K)"
                )
            raise ConfigError(
                f"--layers: cannot read {item!r}; use convC, convCkK, pool, flatten or denseN "
                "(e.g. conv32,pool,conv64,pool,conv64,flatten,dense64)"
            )
        if text.startswith("conv"):
            width, kernel = int(match[1]), int(match[2] or 3)
            if width < 1 or kernel < 1:
                raise ConfigError(f"--layers: {item!r} needs positive channels and kernel size")
            specs.append(LayerSpec("conv", width, kernel))
        elif text.startswith("dense"):
            if int(match[3]) < 1:
                raise ConfigError(f"--layers: {item!r} needs a positive width")
            specs.append(LayerSpec("dense", int(match[3])))
        else:
            specs.append(LayerSpec(text))
    if not specs:
        raise ConfigError("--layers needs at least one layer (e.g. conv32,pool,flatten,dense64)")
    return specs


def format_layers(specs: list[LayerSpec]) -> str:
    return ",".join(map(str, specs))


def parse_image(value: Any) -> tuple[int, int, int]:
    """``"28x28x1"`` or ``"28x28"`` (one channel) or a sequence -> (H, W, C)."""
    parts = value.lower().split("x") if isinstance(value, str) else list(value)
    try:
        dims = [int(str(p).strip()) for p in parts]
    except ValueError:
        dims = []
    if len(dims) not in (2, 3) or min(dims) < 1:
        raise ConfigError(f"--image takes HxWxC or HxW (e.g. 28x28x1), got {value!r}")
    return (dims[0], dims[1], dims[2] if len(dims) == 3 else 1)


def image_shape(image: Any, n_features: int) -> tuple[int, int, int]:
    """(H, W, C) from ``--image``, checked against the feature count, or from a square count."""
    if image is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ConfigError(
                f"--model cnn: {n_features} feature columns are not a square image; "
                "give --image HxWxC"
            )
        return (side, side, 1)
    h, w, c = parse_image(image)
    if h * w * c != n_features:
        raise ConfigError(
            f"--image {h}x{w}x{c} has {h * w * c} pixels; the data has {n_features} feature columns"
        )
    return (h, w, c)


# --------------------------------------------------------------------------- layers


class Layer:
    """``forward(A, buf, n)`` -> output; ``backward(D, A_in, buf, n, need_input)`` -> ∂L/∂A_in.

    D is ∂L/∂(this layer's output) and may be overwritten. Layers with parameters set
    ``W, b, gW, gb`` (views into θ and g) and declare ``weight_shape`` (their storage in θ),
    ``order`` of that storage and ``n_bias``.
    """

    kind = ""
    weight_shape: Shape = ()
    order = "C"
    n_bias = 0
    activation: Activation | None = None
    W: np.ndarray
    b: np.ndarray
    gW: np.ndarray
    gb: np.ndarray

    def __init__(self, in_shape: Shape, out_shape: Shape) -> None:
        self.in_shape, self.out_shape = in_shape, out_shape

    @property
    def has_params(self) -> bool:
        return self.n_bias > 0

    def row_floats(self) -> int:
        """Floats of buffer per row of a slot (bounds the evaluation chunks)."""
        return 0

    def buffers(self, rows: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        return {}


class Dense(Layer):
    """Z = A·W + b; a hidden layer applies ``activation`` (A_out = f(Z)), the output layer none."""

    kind = "dense"
    order = "F"

    def __init__(self, fan_in: int, fan_out: int, activation: Activation | None, vector: bool):
        super().__init__((fan_in,), (fan_out,))
        self.fan_in, self.fan_out, self.activation, self.vector = (
            fan_in,
            fan_out,
            activation,
            vector,
        )
        self.weight_shape = (fan_in,) if vector else (fan_in, fan_out)
        self.n_bias = fan_out
        self.torch_shape = (fan_in, fan_out)  # the documented (and drawn) shape

    @property
    def shift(self) -> np.ndarray:
        return self.b[0:1] if self.vector else self.b

    def row_floats(self) -> int:
        return 3 * self.fan_out + self.fan_in

    def buffers(self, rows: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        shape = (rows,) if self.vector else (rows, self.fan_out)
        Z = np.empty(shape, dtype=dtype)
        hidden = self.activation is not None
        return {"Z": Z, "A": np.empty(shape, dtype=dtype) if hidden else Z}

    def forward(self, A: np.ndarray, buf: dict, n: int, output_bias: bool = True) -> np.ndarray:
        Z = buf["Z"][:n]
        np.matmul(A, self.W, out=Z)
        if self.activation is not None:
            Z += self.b
            out = buf["A"][:n]
            self.activation.forward(Z, out)
            return out
        if output_bias:
            Z += self.shift
        return Z

    def backward(
        self, D: np.ndarray, A_in: np.ndarray, buf: dict, n: int, need_input: bool
    ) -> np.ndarray | None:
        if self.activation is not None:
            self.activation.backward(D, buf["Z"][:n], buf["A"][:n])
        np.matmul(A_in.T, D, out=self.gW)
        np.add.reduce(D, axis=0, out=self.gb.reshape(D.shape[1:]))  # D.sum(axis=0), in place
        if not need_input:
            return None
        if "DX" not in buf:
            buf["DX"] = np.empty((buf["Z"].shape[0], self.fan_in), dtype=D.dtype)
        below = buf["DX"][:n]
        if D.ndim == 1:
            np.multiply.outer(D, self.W, out=below)
        else:
            np.matmul(D, self.W.T, out=below)
        return below

    def get_weight(self) -> np.ndarray:
        return self.W.reshape(self.torch_shape)

    def torch_view(self, W: np.ndarray) -> np.ndarray:
        """``W`` (or its gradient) as a view in nn.Linear's (out, in) layout."""
        return W.reshape(1, -1) if self.vector else W.T

    def set_weight(self, value: np.ndarray) -> None:
        self.W[...] = value.reshape(self.W.shape)


# im2col as one copy of a strided view of every k×k patch, from this many input channels on
# (measured at batch 32, float32: 13×13×32 input 590 → 300 µs, 5×5×64 73 → 13 µs); below, the
# k·k copies of shifted blocks win (28×28×1: 256 µs against 820 µs, the view's innermost run
# being a single value)
PATCH_COPY_CHANNELS = 8


def _patches(A: np.ndarray, k: int, ho: int, wo: int) -> np.ndarray:
    """The (rows, Ho, Wo, k, k, C) read-only view of every k×k patch of (rows, H, W, C) images:
    ``view[r, y, x, i, j, c] == A[r, y + i, x + j, c]`` (``sliding_window_view``, without its
    checks)."""
    s0, s1, s2, s3 = A.strides
    shape = (A.shape[0], ho, wo, k, k, A.shape[3])
    return np.lib.stride_tricks.as_strided(A, shape, (s0, s1, s2, s1, s2, s3), writeable=False)


class Conv2D(Layer):
    """``nn.Conv2d(C_in, C_out, k)`` (valid padding, stride 1) followed by the activation."""

    kind = "conv2d"

    def __init__(self, in_shape: Shape, channels: int, kernel: int, activation: Activation):
        h, w, c = in_shape
        super().__init__(in_shape, (h - kernel + 1, w - kernel + 1, channels))
        self.k, self.c_in, self.c_out, self.activation = kernel, c, channels, activation
        self.weight_shape = (kernel, kernel, c, channels)
        self.n_bias = channels
        self.K = kernel * kernel * c
        self.torch_shape = (channels, c, kernel, kernel)

    @property
    def fan_in(self) -> int:
        return self.K

    @property
    def fan_out(self) -> int:
        return self.c_out * self.k * self.k

    def row_floats(self) -> int:
        ho, wo, _ = self.out_shape
        h, w, c = self.in_shape
        return ho * wo * (2 * self.K + 2 * self.c_out) + h * w * c

    def buffers(self, rows: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        ho, wo, c_out = self.out_shape
        m = rows * ho * wo
        return {
            "cols": np.empty((rows, ho, wo, self.k, self.k, self.c_in), dtype=dtype),
            "Z": np.empty((m, c_out), dtype=dtype),
            "A": np.empty((m, c_out), dtype=dtype),
        }

    def _matrix(self) -> np.ndarray:
        return self.W.reshape(self.K, self.c_out)

    def forward(self, A: np.ndarray, buf: dict, n: int, output_bias: bool = True) -> np.ndarray:
        ho, wo, c_out = self.out_shape
        cols = buf["cols"][:n]
        if self.c_in >= PATCH_COPY_CHANNELS:
            np.copyto(cols, _patches(A, self.k, ho, wo))
        else:
            for i in range(self.k):
                for j in range(self.k):
                    cols[:, :, :, i, j, :] = A[:, i : i + ho, j : j + wo, :]
        m = n * ho * wo
        Z, out = buf["Z"][:m], buf["A"][:m]
        np.matmul(cols.reshape(m, self.K), self._matrix(), out=Z)
        Z += self.b
        self.activation.forward(Z, out)  # type: ignore[union-attr]
        return out.reshape(n, ho, wo, c_out)

    def backward(
        self, D: np.ndarray, A_in: np.ndarray, buf: dict, n: int, need_input: bool
    ) -> np.ndarray | None:
        ho, wo, c_out = self.out_shape
        m = n * ho * wo
        D2 = D.reshape(m, c_out)
        self.activation.backward(D2, buf["Z"][:m], buf["A"][:m])  # type: ignore[union-attr]
        cols = buf["cols"][:n].reshape(m, self.K)
        np.matmul(cols.T, D2, out=self.gW.reshape(self.K, c_out))
        np.add.reduce(D2, axis=0, out=self.gb)
        if not need_input:
            return None
        if "dcols" not in buf:
            rows = buf["cols"].shape[0]
            buf["dcols"] = np.empty((rows * ho * wo, self.K), dtype=D.dtype)
            buf["DX"] = np.empty((rows, *self.in_shape), dtype=D.dtype)
        dcols = buf["dcols"][:m]
        np.matmul(D2, self._matrix().T, out=dcols)
        dc = dcols.reshape(n, ho, wo, self.k, self.k, self.c_in)
        DX = buf["DX"][:n]
        DX[...] = 0.0
        for i in range(self.k):
            for j in range(self.k):
                DX[:, i : i + ho, j : j + wo, :] += dc[:, :, :, i, j, :]
        return DX

    def get_weight(self) -> np.ndarray:
        return self.W.transpose(3, 2, 0, 1)

    def torch_view(self, W: np.ndarray) -> np.ndarray:
        """``W`` (or its gradient) as a view in nn.Conv2d's (C_out, C_in, k, k) layout."""
        return W.transpose(3, 2, 0, 1)

    def set_weight(self, value: np.ndarray) -> None:
        self.W[...] = value.reshape(self.torch_shape).transpose(2, 3, 1, 0)


_WINDOW = ((0, 0), (0, 1), (1, 0), (1, 1))  # row-major: the first maximum wins, as in torch


class MaxPool(Layer):
    """``nn.MaxPool2d(2)``: the maximum of each 2×2 window, stride 2, floor of odd sizes."""

    kind = "pool"

    def __init__(self, in_shape: Shape):
        h, w, c = in_shape
        super().__init__(in_shape, (h // 2, w // 2, c))

    def row_floats(self) -> int:
        return 2 * math.prod(self.out_shape) + math.prod(self.in_shape)

    def buffers(self, rows: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        shape = (rows, *self.out_shape)
        return {
            "out": np.empty(shape, dtype=dtype),
            "mask": np.empty(shape, dtype=bool),
            "taken": np.empty(shape, dtype=bool),
        }

    def _window(self, A: np.ndarray, k: int) -> np.ndarray:
        ho, wo, _ = self.out_shape
        di, dj = _WINDOW[k]
        return A[:, di : 2 * ho : 2, dj : 2 * wo : 2, :]

    def forward(self, A: np.ndarray, buf: dict, n: int, output_bias: bool = True) -> np.ndarray:
        out = buf["out"][:n]
        np.maximum(self._window(A, 0), self._window(A, 1), out=out)
        np.maximum(out, self._window(A, 2), out=out)
        np.maximum(out, self._window(A, 3), out=out)
        return out

    def backward(
        self, D: np.ndarray, A_in: np.ndarray, buf: dict, n: int, need_input: bool
    ) -> np.ndarray | None:
        """The first element of each window, row-major, that equals its maximum gets D: the
        element torch's strict ``>`` scan keeps."""
        if not need_input:
            return None
        if "DX" not in buf:
            # zeros once: the rows/columns an odd size drops are never written
            buf["DX"] = np.zeros((buf["out"].shape[0], *self.in_shape), dtype=D.dtype)
        DX, out = buf["DX"][:n], buf["out"][:n]
        mask, taken = buf["mask"][:n], buf["taken"][:n]
        for k in range(4):
            np.equal(self._window(A_in, k), out, out=mask)
            if k == 0:
                taken[...] = mask
            else:
                np.greater(mask, taken, out=mask)  # and not taken by an earlier element
                if k < 3:
                    taken |= mask
            np.multiply(D, mask, out=self._window(DX, k))
        return DX


class Flatten(Layer):
    """(rows, H, W, C) -> (rows, C·H·W) in torch's (C, H, W) order."""

    kind = "flatten"

    def __init__(self, in_shape: Shape):
        super().__init__(in_shape, (math.prod(in_shape),))

    def row_floats(self) -> int:
        return 2 * math.prod(self.in_shape)

    def buffers(self, rows: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        h, w, c = self.in_shape
        return {"out": np.empty((rows, c, h, w), dtype=dtype)}

    def forward(self, A: np.ndarray, buf: dict, n: int, output_bias: bool = True) -> np.ndarray:
        out = buf["out"][:n]
        np.copyto(out, A.transpose(0, 3, 1, 2))
        return out.reshape(n, -1)

    def backward(
        self, D: np.ndarray, A_in: np.ndarray, buf: dict, n: int, need_input: bool
    ) -> np.ndarray | None:
        if not need_input:
            return None
        if "DX" not in buf:
            buf["DX"] = np.empty((buf["out"].shape[0], *self.in_shape), dtype=D.dtype)
        h, w, c = self.in_shape
        DX = buf["DX"][:n]
        np.copyto(DX, D.reshape(n, c, h, w).transpose(0, 2, 3, 1))
        return DX


def build_stack(
    specs: list[LayerSpec],
    image: tuple[int, int, int],
    n_out: int,
    activation: Activation,
    *,
    vector_output: bool,
) -> list[Layer]:
    """The layers of ``specs`` on (H, W, C) images, then a dense output layer of ``n_out``.

    A ``flatten`` is implied before the first dense layer (and before the output layer) when the
    stack is still on images there; a conv or pool that would not fit raises a ConfigError naming
    the layer and the shape it would get.
    """
    layers: list[Layer] = []
    shape: Shape = tuple(image)
    for number, spec in enumerate(specs, start=1):
        where = f"--layers: layer {number} ({spec})"
        if spec.kind in ("conv", "pool") and len(shape) != 3:
            raise ConfigError(f"{where} needs an image, but it comes after a flatten or dense")
        if spec.kind == "conv":
            h, w, _ = shape
            if spec.kernel > min(h, w):
                raise ConfigError(
                    f"{where}: a {spec.kernel}×{spec.kernel} kernel does not fit its "
                    f"{h}x{w} input (it would get {h - spec.kernel + 1}x{w - spec.kernel + 1})"
                )
            layers.append(Conv2D(shape, spec.width, spec.kernel, activation))
        elif spec.kind == "pool":
            h, w, _ = shape
            if min(h, w) < 2:
                raise ConfigError(
                    f"{where}: a 2×2 pool does not fit its {h}x{w} input "
                    f"(it would get {h // 2}x{w // 2})"
                )
            layers.append(MaxPool(shape))
        elif spec.kind == "flatten":
            if len(shape) != 3:
                continue  # already flat
            layers.append(Flatten(shape))
        else:
            if len(shape) == 3:
                layers.append(Flatten(shape))
            layers.append(Dense(layers[-1].out_shape[0], spec.width, activation, False))
        shape = layers[-1].out_shape
    if len(shape) == 3:
        layers.append(Flatten(shape))
        shape = layers[-1].out_shape
    layers.append(Dense(shape[0], n_out, None, vector_output))
    return layers


def check_stack(layers: Any, image: Any, n_features: int) -> None:
    """Raise the ConfigError that building ``layers`` (default: the seed's) on ``image`` (or
    the square image of ``n_features``) would raise, without allocating anything."""
    from losslab.nn.activations import ACTIVATIONS

    specs = parse_layers(layers if layers is not None else SEED_LAYERS)
    build_stack(
        specs, image_shape(image, n_features), 1, ACTIVATIONS.get("relu"), vector_output=True
    )
