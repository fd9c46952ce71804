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
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from losslab import __version__
from losslab.data.write import new_dir, to_csv, to_json
from losslab.errors import DataError, LossLabError
from losslab.train import blas

if TYPE_CHECKING:  # pragma: no cover
    from losslab.train.loop import FitResult

DEFAULT_ROOT = "results"


def versions() -> dict[str, str]:
    import numpy as np

    return {"losslab": __version__, "numpy": np.__version__, "python": platform.python_version()}


def plugins_used() -> dict[str, Any]:
    """``{"plugins": [{path, sha256}, …]}`` when plugins are loaded, else nothing: a record
    names them, so that a reader knows which to pass again (nothing is loaded from a record)."""
    from losslab.train.plugins import recorded

    named = recorded()
    return {"plugins": named} if named else {}


def plugins_needed(record: str | Path) -> list[dict[str, str]]:
    """The plugins the record at ``record`` (a directory, or a file in it) names that this
    process has not loaded (by sha256): to be said, never loaded from the record."""
    import json

    from losslab.train.plugins import recorded

    directory = Path(record) if Path(record).is_dir() else Path(record).parent
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # the command itself says what is wrong with the record
    named = config.get("plugins") if isinstance(config, dict) else None
    if not isinstance(named, list):
        return []
    have = {p["sha256"] for p in recorded()}
    return [p for p in named if isinstance(p, dict) and p.get("sha256") not in have]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(text).stem if "/" in text else text).strip("-")


PARTIAL = ".partial-"  # an unfinished record: ``.partial-<pid>-<host>-<random>``


def _host() -> str:
    """8 hex digits naming this machine: a PID means something only on the host that issued it
    (a results directory may be shared over the network or between containers)."""
    import hashlib
    import socket

    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def partial_prefix(pid: int | None = None) -> str:
    """The name prefix of an unfinished record written by process ``pid`` (default: this one)."""
    return f"{PARTIAL}{os.getpid() if pid is None else pid}-{_host()}-"


def is_partial(path: str | Path) -> bool:
    """Whether ``path`` lies in an unfinished record directory (never to be read as a record)."""
    return any(part.startswith(PARTIAL) for part in Path(path).parts)


def check_finished(path: str | Path) -> None:
    """Refuse to read an unfinished record as a record."""
    if is_partial(path):
        part = next(p for p in Path(path).parts if p.startswith(PARTIAL))
        raise DataError(
            f"{path}: an unfinished record ({part}, left by an interrupted write), not a result"
        )


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (when in doubt, yes: a live writer's files are kept)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale(base: Path) -> list[Path]:
    """Remove the unfinished records under ``base`` whose writer process is gone.

    A writer killed mid-write (``kill -9``, power loss) cannot clean up after itself; a concurrent
    writer's directory carries a live PID and is left alone, and so is any directory this host
    cannot judge (another host's, or one without a PID).
    """
    removed: list[Path] = []
    host = _host()
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = re.fullmatch(re.escape(PARTIAL) + r"(\d+)-([0-9a-f]{8})-.+", entry.name)
        if not match or match[2] != host or not entry.is_dir() or entry.is_symlink():
            continue
        if not _alive(int(match[1])):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _cannot(base: Path, exc: OSError) -> LossLabError:
    return LossLabError(f"cannot save the record to {base}: {exc.strerror or exc}")


def write_record(root: str | Path | None, name: str, files: Mapping[str, str]) -> Path:
    """Write ``files`` (name -> text) into a new directory ``root/<timestamp>-<name>``.

    Any failure (no space, no permission, ``root`` not a directory) is one LossLabError naming the
    place; nothing of the new record is left behind.
    """
    base = Path(root if root is not None else DEFAULT_ROOT)
    if base.exists() and not base.is_dir():
        raise LossLabError(f"cannot save the record to {base}: not a directory")
    try:
        base.mkdir(parents=True, exist_ok=True)
        remove_stale(base)
        tmp = new_dir(base, partial_prefix())
    except OSError as exc:
        raise _cannot(base, exc) from None
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
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _cannot(base, exc) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def history_csv(history: list[dict[str, Any]]) -> str:
    header: list[str] = [] if history else ["epoch", "train_loss"]  # diverged in epoch 1
    for row in history:
        header.extend(k for k in row if k not in header)
    return to_csv(header, ([row.get(k) for k in header] for row in history))


def save_fit(
    result: FitResult, out: str | Path | None = None, *, blas_used: dict[str, Any] | None = None
) -> Path:
    """The run record of `losslab fit`: config.json, history.csv, metrics.json, model.json;
    ``blas_used``: the BLAS the run used (default: :func:`losslab.train.blas.record` now)."""
    config = {
        **result.config,
        "data_file": result.data,
        "versions": versions(),
        **plugins_used(),
        "blas": blas_used or blas.record(),
        "command": "fit",
    }
    metrics = {
        "status": result.status,
        "epochs_run": result.epochs_run,
        "seconds": result.seconds,
        "diverged_at": result.diverged_at,
        "initial_objective": result.initial_objective,
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


def record_kind(record: str | Path) -> str:
    """``"study"`` (a directory with summary.json) or ``"run"`` (with history.csv); anything
    else, or an unfinished record, is a DataError."""
    directory = Path(record)
    check_finished(directory)
    if not directory.is_dir():
        raise DataError(f"{record}: not a results directory")
    config_file = directory / "config.json"
    summary_file, history_file = directory / "summary.json", directory / "history.csv"
    if summary_file.is_file() or history_file.is_file():
        if not config_file.is_file():
            raise DataError(f"{config_file}: missing (every record has one)")
    if summary_file.is_file():
        return "study"
    if history_file.is_file():
        return "run"
    if (directory / "study.json").is_file():  # losslab.study.store.STUDY_META
        raise DataError(
            f"{record}: a study that did not finish (stopped or killed); "
            f"losslab compare --resume {record} finishes it"
        )
    raise DataError(f"{record}: holds neither summary.json (a study) nor history.csv (a run)")


def load_run(record: str | Path) -> FitResult:
    """A saved run as the :class:`~losslab.train.loop.FitResult` that was saved (settings,
    history, metrics, model and the data's provenance; not the per-epoch times), each file
    validated on load."""
    from losslab.study import schema
    from losslab.train.loop import FitResult

    directory = Path(record)
    if record_kind(directory) != "run":
        raise DataError(f"{record}: a study, not a run")
    config = schema.run_config(directory / "config.json")
    _, history = schema.run_history(directory / "history.csv")
    metrics = schema.read_json(directory / "metrics.json")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("train"), dict):
        raise DataError(f"{directory / 'metrics.json'}: not the metrics of a losslab run")
    model_file = directory / "model.json"
    schema.model(model_file)  # validated; kept as the JSON it is, as FitResult.model holds it
    return FitResult(
        status=metrics.get("status", "completed"),
        epochs_run=metrics.get("epochs_run", len(history)),
        seconds=metrics.get("seconds"),
        config={
            k: v
            for k, v in config.items()
            if k not in ("data_file", "versions", "blas", "command", "plugins")
        },
        history=history,
        metrics={k: metrics[k] for k in ("train", "val", "test", "reliability") if k in metrics},
        model=schema.read_json(model_file),
        record=str(directory),
        diverged_at=metrics.get("diverged_at"),
        data=config.get("data_file") or {},
        initial_objective=metrics.get("initial_objective"),  # None in records before it
    )
