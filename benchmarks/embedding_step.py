"""Cost of one training step with an embedding loss, relative to a cross-entropy step.

    python benchmarks/embedding_step.py                 # batch 64 and 256, 200 steps each
    python benchmarks/embedding_step.py --steps 50 --batches 64

A step is what the training loop does per minibatch: the forward pass of the network
(digits' 64 features → 128 → 64 → outputs, relu), the loss's gradient at the outputs (mining
included) and the backward pass. Cross-entropy runs the same network with 10 outputs through its
fused objective; the embedding losses end in --embed-dim 2 outputs (the DrLIM setting). The
ratio is the median step time over the cross-entropy one, the runs interleaved so that a busy
machine slows both. ``all`` triplets are O(B³) per batch; ``semi-hard``, ``hard`` and
``random`` mining and contrastive/supcon are O(B²).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from losslab.losses.embedding import batch_loss
from losslab.nn.network import Network
from losslab.train.kernels import CrossEntropy

CASES = (
    ("cross-entropy", None),
    ("contrastive", "all"),
    ("contrastive", "semi-hard"),
    ("triplet", "all"),
    ("triplet", "semi-hard"),
    ("triplet", "hard"),
    ("triplet", "random"),
    ("supcon", None),
)


def steps(name: str, mining: str | None, batch: int, n_steps: int) -> float:
    """The median time of one step over ``n_steps`` steps on random digits-like batches."""
    rng = np.random.default_rng(0)
    out = 10 if name == "cross-entropy" else 2
    net = Network([64, 128, 64, out], "relu")
    net.init("torch", rng)
    X = rng.normal(size=(batch, 64))
    y = rng.integers(0, 10, batch).astype(np.float64)
    G = np.empty((batch, out))
    ce = CrossEntropy.__new__(CrossEntropy)
    ce._buffers = {}
    times = []
    for _ in range(n_steps):
        start = time.perf_counter()
        S = net.forward(X, "batch")
        if name == "cross-entropy":
            ce.grad(S, y, G)
        else:
            G[...] = batch_loss(name, S, y.astype(np.intp), params={}, mining=mining or "all",
                                rng=rng).grad  # fmt: skip
        net.backward(G, "batch")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batches", type=lambda s: [int(v) for v in s.split(",")],
                        default=[64, 256])  # fmt: skip
    args = parser.parse_args()
    print(
        f"{'loss':<13} {'mining':<10} " + " ".join(f"{'batch ' + str(b):>22}" for b in args.batches)
    )
    base = {}
    rows: dict[tuple[str, str | None], list[str]] = {}
    for batch in args.batches:
        for _ in range(2):  # interleaved rounds; the median of the two
            for name, mining in CASES:
                t = steps(name, mining, batch, args.steps // 2)
                rows.setdefault((name, mining, batch), []).append(t)  # type: ignore[arg-type]
        base[batch] = statistics.median(rows[("cross-entropy", None, batch)])  # type: ignore[index]
    for name, mining in CASES:
        cells = []
        for batch in args.batches:
            t = statistics.median(rows[(name, mining, batch)])  # type: ignore[index]
            cells.append(f"{t * 1e3:8.3f} ms {t / base[batch]:6.2f}x")
        print(f"{name:<13} {mining or '—':<10} " + " ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
