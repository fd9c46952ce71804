"""Run and study records under ``results/``: JSON and CSV only, written atomically.

A record is assembled in a hidden temporary directory next to its final place and renamed into
place in one step, so an interrupted or failed write never leaves a half-written record and never
touches an earlier one.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from losslab import __version__
from losslab.errors import LossLabError
from losslab.render import to_csv, to_json

if TYPE_CHECKING:  # pragma: no cover
    from losslab.training import FitResult

DEFAULT_ROOT = "results"


def versions() -> dict[str, str]:
    import numpy as np

    return {"losslab": __version__, "numpy": np.__version__, "python": platform.python_version()}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(text).stem if "/" in text else text).strip("-")


def write_record(root: str | Path | None, name: str, files: Mapping[str, str]) -> Path:
    """Write ``files`` (name -> text) into a new directory ``root/<timestamp>-<name>``."""
    base = Path(root if root is not None else DEFAULT_ROOT)
    try:
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=base))
    except OSError as exc:
        raise LossLabError(f"cannot write results to {base}: {exc.strerror}") from None
    try:
        for filename, text in files.items():
            with open(tmp / filename, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for attempt in range(1, 1000):
            suffix = "" if attempt == 1 else f"-{attempt}"
            final = base / f"{stamp}-{_slug(name)}{suffix}"
            try:
                os.rename(tmp, final)  # atomic; fails if ``final`` exists and is not empty
                return final
            except OSError:
                if not final.exists():
                    raise
        raise LossLabError(f"cannot find a free record name under {base}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def history_csv(history: list[dict[str, Any]]) -> str:
    header: list[str] = []
    for row in history:
        header.extend(k for k in row if k not in header)
    return to_csv(header, ([row.get(k) for k in header] for row in history))


def save_fit(result: FitResult, out: str | Path | None = None) -> Path:
    """The run record of `losslab fit`: config.json, history.csv, metrics.json, model.json."""
    config = {
        **result.config,
        "data_file": result.data,
        "versions": versions(),
        "command": "fit",
    }
    metrics = {
        "status": result.status,
        "epochs_run": result.epochs_run,
        "seconds": result.seconds,
        "diverged_at": result.diverged_at,
        **result.metrics,
    }
    cfg = result.config
    name = f"fit-{cfg['data']}-{cfg['model']}-{cfg['loss']}-{cfg['optimizer']}-lr{cfg['lr']:g}"
    files = {
        "config.json": to_json(config) + "\n",
        "history.csv": history_csv(result.history),
        "metrics.json": to_json(metrics) + "\n",
        "model.json": to_json(result.model) + "\n",
    }
    return write_record(out, name, files)
