"""`fit --stream` on a generated CSV of several GB: peak memory and read speed.

    python benchmarks/stream_demo.py                  # a 3 GB file under /tmp, deleted after
    python benchmarks/stream_demo.py --gb 5 --epochs 2 --dir /scratch --keep

Writes a CSV of 30 standard-normal features (6 decimals) and a 0/1 target drawn from a logistic
model, then runs, one after the other, each in a fresh process that reports its peak RSS (the
kernel's VmHWM):

- ``losslab fit FILE --stream --model logistic --optimizer sgd --batch-size 256 --epochs E``;
  its JSON gives the time of the passes after pass 0 (E training passes, each also measuring
  the epoch before, plus one measuring pass), hence seconds per pass;
- pandas' own chunked reader over the same file with the same chunk size
  (``for chunk in pd.read_csv(FILE, chunksize=ROWS): pass``), timed inside the process.

Prints the file size, MB/s of a streamed epoch and of pandas' reader, their ratio, and both peak
RSS figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

FEATURES = 30
BLOCK_ROWS = 100_000  # rows of each distinct block of text
BLOCKS = 16  # distinct blocks, written in a shuffled order until the size is reached


def generate(path: Path, gigabytes: float, seed: int = 0) -> int:
    """Write the CSV; returns its rows."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    w = rng.normal(size=FEATURES) / np.sqrt(FEATURES) * 2
    blocks = []
    for _ in range(BLOCKS):
        X = rng.normal(size=(BLOCK_ROWS, FEATURES))
        y = (rng.random(BLOCK_ROWS) < 1 / (1 + np.exp(-(X @ w)))).astype(int)
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(FEATURES)])
        frame["y"] = y
        blocks.append(frame.to_csv(index=False, header=False, float_format="%.6f").encode())
    header = (",".join([*(f"x{j}" for j in range(FEATURES)), "y"]) + "\n").encode()
    target = int(gigabytes * 1e9)
    rows = 0
    with open(path, "wb") as fh:
        fh.write(header)
        written = len(header)
        while written < target:
            for k in rng.permutation(BLOCKS):
                fh.write(blocks[k])
                written += len(blocks[k])
                rows += BLOCK_ROWS
                if written >= target:
                    break
    return rows


# The child reports its own peak RSS (VmHWM, reset by exec): wait4's ru_maxrss would count the
# pages it shared with this (large) process between fork and exec.
HWM = """
def _hwm():
    import sys
    with open("/proc/self/status") as fh:
        sys.stderr.write(next(line for line in fh if line.startswith("VmHWM")))
"""
LOSSLAB = (
    HWM
    + """
import runpy, sys
sys.argv = ["losslab", *sys.argv[1:]]
try:
    runpy.run_module("losslab", run_name="__main__")
finally:
    _hwm()
"""
)
PANDAS = (
    HWM
    + """
import sys, time
import pandas as pd
start = time.perf_counter()
rows = 0
for chunk in pd.read_csv(sys.argv[1], chunksize=int(sys.argv[2])):
    rows += len(chunk)
print(time.perf_counter() - start, rows)
_hwm()
"""
)


def run(code: str, args: list[str]) -> tuple[str, float, int]:
    """(stdout, wall seconds, peak RSS in bytes) of ``python -c code args``."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)}: exit {proc.returncode}\n{proc.stderr}")
    line = next(x for x in proc.stderr.splitlines() if x.startswith("VmHWM"))
    return proc.stdout, time.perf_counter() - start, int(line.split()[1]) * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=3.0, help="file size in GB (default 3)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args(argv)
    path = args.dir / f"losslab-stream-{args.gb:g}gb.csv"
    try:
        start = time.perf_counter()
        if not path.exists():
            rows = generate(path, args.gb)
            print(f"wrote {path} ({rows:,} rows) in {time.perf_counter() - start:.0f} s")
        size = path.stat().st_size
        chunk_rows = (1 << 22) // (FEATURES + 1)  # the default --chunk-rows of this file
        out, wall, rss = run(
            LOSSLAB,
            [
                "fit", str(path), "--stream", "--model", "logistic", "--optimizer", "sgd",
                "--batch-size", "256", "--epochs", str(args.epochs), "--no-save",
                "--format", "json", "--progress", "none",
            ],
        )  # fmt: skip
        result = json.loads(out)
        passes = args.epochs + 1  # the passes the run's own clock covers (after pass 0)
        per_pass = result["seconds"] / passes
        out, _, pandas_rss = run(PANDAS, [str(path), str(chunk_rows)])
        pandas_seconds = float(out.split()[0])
        mb = size / 1e6
        report = {
            "file_mb": round(mb),
            "rows": result["data"]["rows"],
            "chunk_rows": result["data"]["stream"]["chunk_rows"],
            "epochs": args.epochs,
            "wall_seconds": round(wall, 1),
            "pass0_seconds": round(wall - result["seconds"], 1),
            "seconds_per_pass": round(per_pass, 1),
            "stream_mb_per_s": round(mb / per_pass),
            "pandas_mb_per_s": round(mb / pandas_seconds),
            "pass_vs_pandas": round(per_pass / pandas_seconds, 2),
            "peak_rss_mb": round(rss / 1e6),
            "pandas_peak_rss_mb": round(pandas_rss / 1e6),
            "train_loss": result["metrics"]["train"]["loss"],
            "test_accuracy": result["metrics"]["test"]["accuracy"],
        }
        print(json.dumps(report, indent=1))
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
