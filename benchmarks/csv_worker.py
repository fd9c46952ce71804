"""One CSV load in a fresh process: ``python csv_worker.py {losslab,pandas,pandas-matrix} PATH``.

Prints one JSON line: the load's wall time (imports excluded, they happen first) and the peak
resident memory of the process before and after the load, in bytes: ``VmHWM`` of
/proc/self/status, which starts afresh with the process's own memory (``ru_maxrss`` would carry the
parent's peak across fork + exec), else ``getrusage``.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _peak() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def main() -> None:
    how, path = sys.argv[1], sys.argv[2]
    import numpy as np
    import pandas as pd

    import losslab.data.read

    before = _peak()
    start = time.perf_counter()
    if how == "losslab":
        table = losslab.data.read.read_table(path)
        X = table.matrix(table.columns[:-1])
    elif how == "pandas":
        X = pd.read_csv(path)
    elif how == "pandas-matrix":
        frame = pd.read_csv(path)
        X = frame[frame.columns[:-1]].to_numpy(dtype=np.float64)
    else:
        raise SystemExit(f"unknown loader {how!r}")
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rss_before": before, "rss_peak": _peak()}))
    del X


if __name__ == "__main__":
    main()
