"""What keeping each run costs (issue 23): the time of StudyStore.put per run (a run file and a
cache entry, each by atomic rename) in the bare study, and the size of a run file.

    OPENBLAS_NUM_THREADS=1 python benchmarks/survive.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import losslab
from losslab.study import store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: list[float] = []
    put = store.StudyStore.put

    def timed(self, index, record):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        kept = put(self, index, record)
        times.append(time.perf_counter() - start)
        return kept

    store.StudyStore.put = timed  # type: ignore[method-assign]
    for _ in range(args.repeats):
        out = Path(tempfile.mkdtemp())
        study = losslab.compare(jobs=1, save=True, out=out, cache=out / ".cache")
        sizes = [p.stat().st_size for p in Path(study.record, "runs").glob("*.json")]
        print(
            f"{len(times)} runs: put median {1e3 * statistics.median(times):.2f} ms, "
            f"max {1e3 * max(times):.2f} ms; study {study.seconds:.2f} s; "
            f"run file median {statistics.median(sizes) / 1e3:.1f} kB"
        )
        times.clear()


if __name__ == "__main__":
    main()
