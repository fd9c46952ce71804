"""Studies that survive: each finished run of a study written at once, by its run key, to its own
file under the study's directory and to a run cache shared between studies.

A **run key** is the sha256 of the data's fingerprint (the sha256 of the file's bytes), the run's
full resolved settings (seed included; the bytes of any other file a setting names, such as
``--test-data`` or ``--init-from``) and :data:`NUMERICS_VERSION`. Every file is written to a hidden
temporary name beside its place and renamed into place in one step (``os.replace``), so a killed
writer leaves either the old file, the new one, or a hidden temporary that is never read; every
run file is checked (schema, key, version) when it is read, and a bad one is run again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from losslab.errors import ConfigError, DataError, LossLabError

NUMERICS_VERSION = 1  # bump with any change that alters a run's numbers: old run files then miss
SCHEMA = 1  # the layout of a run file
RUNS = "runs"  # a study's run files: runs/<key>.json
STUDY_TOML = "study.toml"  # the study's settings, as `compare --config` reads them
STUDY_META = "study.json"  # what --resume checks: the data's fingerprint, study.toml's hash
DEFAULT_CACHE = ".cache"  # under the results directory
_RECORD_FIELDS = {"status": str, "epochs_run": int, "config": dict, "curve": list}
TEST_STALL = "LOSSLAB_TEST_STALL"  # tests only: "stage:k:file" stalls inside the k-th write


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_fingerprint(table: Any) -> str:
    """The sha256 of the data file's bytes, or of a DataFrame's columns and values."""
    if table.raw is not None or table.path is not None:
        return str(table.sha256)
    import pandas as pd

    digest = hashlib.sha256(json.dumps([str(c) for c in table.frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(table.frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def run_key(data_sha: str, settings: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    """sha256 of (data fingerprint, resolved settings, numerics version, ``extra``).

    A file is known by its bytes, not by how its path is spelled (``data/x.csv`` typed here,
    ``../../data/x.csv`` in a study.toml): the data by ``data_sha``, any other file a setting
    names (``--test-data``, ``--init-from``) by its own sha256."""
    known = {}
    for name, value in settings.items():
        if name == "data":
            continue
        if isinstance(value, str) and value and os.path.isfile(value):
            value = f"sha256:{file_sha256(value)}"
        known[name] = value
    text = json.dumps(
        {
            "data": data_sha,
            "settings": known,
            "numerics": NUMERICS_VERSION,
            **(extra or {}),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- files


_writes: dict[str, int] = {}
_writes_lock = threading.Lock()


def _stall_here(stage: str) -> bool:
    """Tests only: whether this write is the one ``LOSSLAB_TEST_STALL=stage:k:file`` names."""
    spec = os.environ.get(TEST_STALL)
    if not spec:
        return False
    want, k, _ = spec.split(":", 2)
    if want != stage:
        return False
    with _writes_lock:
        _writes[stage] = _writes.get(stage, 0) + 1
        return _writes[stage] == int(k)


def _stall(fh: Any, path: Path) -> None:
    if fh is not None:
        fh.flush()
    Path(os.environ[TEST_STALL].split(":", 2)[2]).write_text(str(path))
    threading.Event().wait()


def write_atomic(path: Path, text: str, *, stage: str = "file", durable: bool = True) -> None:
    """Write ``text`` to ``path`` through a hidden temporary beside it and one rename.

    The rename alone makes the write whole against a killed process; ``durable`` adds an fsync
    against a power loss. Run files skip it (an fsync costs about 10 ms here, a quarter of a
    small run): a run file torn by a power loss fails its check when read and is run again."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            if _stall_here(stage):  # half the file written, then wait to be killed
                fh.write(text[: len(text) // 2])
                _stall(fh, path)
            fh.write(text)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if _stall_here(stage + "+"):  # the file in place, then wait to be killed
            _stall(None, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def encode_run(key: str, record: dict[str, Any]) -> str:
    """A run file's text: NaN and infinities kept (a diverged run's losses), floats exact."""
    body = {"schema": SCHEMA, "numerics": NUMERICS_VERSION, "key": key, "record": record}
    return json.dumps(body, allow_nan=True, default=_plain) + "\n"


def _plain(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")


def read_run(path: Path, key: str) -> dict[str, Any]:
    """The record in run file ``path``, checked; a DataError says what is wrong with it."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: unreadable run file ({type(exc).__name__}: {exc})") from None
    if not isinstance(body, dict) or body.get("schema") != SCHEMA:
        raise DataError(f"{path}: not a losslab run file of schema {SCHEMA}")
    if body.get("key") != key or body.get("numerics") != NUMERICS_VERSION:
        raise DataError(f"{path}: its key or numerics version does not match its name")
    record = body.get("record")
    if not isinstance(record, dict):
        raise DataError(f"{path}: no record")
    for name, kind in _RECORD_FIELDS.items():
        if not isinstance(record.get(name), kind):
            raise DataError(f"{path}: field {name!r} missing or not a {kind.__name__}")
    if any(not isinstance(pt, list) or len(pt) != 6 for pt in record["curve"]):
        raise DataError(f"{path}: field 'curve' is not a list of 6-slot epochs")
    return record


# --------------------------------------------------------------------------- the store


class StudyStore:
    """Where a study's runs are kept: ``directory/runs/<key>.json`` and the run cache.

    ``directory`` is created by :meth:`begin` under ``root`` (a new study) or given (``resume``).
    A study directory or cache that cannot be written is warned about once (``warn``) and the
    study runs without it: nothing but the saving is lost.
    """

    def __init__(
        self,
        *,
        root: str | Path | None = None,
        directory: str | Path | None = None,
        cache: str | Path | None = None,
        toml: str | None = None,
        allow_changed_data: bool = False,
        warn: Callable[[str], None] | None = None,
        keep: bool = True,
    ) -> None:
        self.root = Path(root) if root is not None else Path("results")
        self.directory = Path(directory) if directory is not None else None
        self.resuming = directory is not None
        self.cache = Path(cache) if cache is not None else None
        self.toml = toml
        self.allow_changed_data = allow_changed_data
        self.warnings: list[str] = []
        self._warn = warn
        self.keys: list[str] = []
        self.ran = 0
        self.reused = 0
        self._study_ok = keep or self.resuming  # keep=False: the cache only (--no-save)
        self._cache_ok = self.cache is not None

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self._warn is not None:
            self._warn(message)

    # ---------------------------------------------------------------- starting

    def begin(
        self, name: str, data_sha: str, keys: list[str], *, source: str
    ) -> dict[int, dict[str, Any]]:
        """Open (or create) the study's directory; the records already there or in the cache,
        by their position in ``keys``. A study that runs in phases (``--tune``'s trials, then
        the chosen settings) begins once per phase: the later keys follow the earlier ones."""
        first = not self.keys
        self.keys = [*self.keys, *keys]
        if first and self.resuming:
            self._check_resumed(data_sha, source)
        elif first and self._study_ok:
            self._create(name, data_sha, source)
        found: dict[int, dict[str, Any]] = {}
        damaged = 0
        for i, key in enumerate(keys):
            record = None
            if self.directory is not None and self._study_ok:
                record = self._read(self.directory / RUNS / f"{key}.json", key)
                if record is False:
                    damaged += 1
                    record = None
            if record is None and self._cache_ok:
                record = self._read(self.cache / f"{key}.json", key, cache=True)  # type: ignore[operator]
                if isinstance(record, dict):
                    self._keep_in_study(key, record)
            if isinstance(record, dict):
                found[i] = {**record, "index": i}
        if damaged:
            self.warn(
                f"{self.directory / RUNS}: {damaged} run file(s) damaged or of another version: "
                "run again"
            )
        self.reused += len(found)
        return found

    def _read(self, path: Path, key: str, *, cache: bool = False) -> dict[str, Any] | bool | None:
        if not path.is_file():
            return None
        try:
            return read_run(path, key)
        except DataError as exc:
            if cache:
                self.warn(f"cache entry ignored and run again: {exc}")
                return None
            return False

    def _meta(self, data_sha: str, source: str) -> str:
        meta = {
            "data_sha256": data_sha,
            "data": source,
            "numerics": NUMERICS_VERSION,
            "study_toml_sha256": hashlib.sha256((self.toml or "").encode()).hexdigest(),
        }
        return json.dumps(meta, indent=1) + "\n"

    def _create(self, name: str, data_sha: str, source: str) -> None:
        """A new study directory with its study.toml and study.json; one that cannot be made
        leaves nothing behind and the study runs without it (its final save says why)."""
        import shutil

        from losslab.study.records import _slug

        made = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for attempt in range(1, 1000):
                final = self.root / f"{stamp}-{_slug(name)}{'' if attempt == 1 else f'-{attempt}'}"
                try:
                    final.mkdir()
                    break
                except FileExistsError:
                    continue
            else:
                raise OSError(f"no free study name under {self.root}")
            made = final
            (final / RUNS).mkdir()
            write_atomic(final / STUDY_TOML, self.toml or "")
            write_atomic(final / STUDY_META, self._meta(data_sha, source))
            self.directory = final
        except OSError as exc:
            self._study_ok = False
            self.warnings.append(f"cannot keep the study's runs under {self.root}: {exc}")
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)
        except BaseException:
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)
            raise

    def abandon(self) -> None:
        """Remove a new study's directory that holds no run (stopped before any finished)."""
        import shutil

        if self.directory is None or self.resuming:
            return
        if not any((self.directory / RUNS).glob("*.json")):
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def _check_resumed(self, data_sha: str, source: str) -> None:
        assert self.directory is not None
        meta = read_meta(self.directory)
        if meta["data_sha256"] != data_sha:
            if not self.allow_changed_data:
                raise DataError(
                    f"{self.directory}: the data ({source}) has changed since the study started "
                    f"(sha256 {meta['data_sha256'][:12]}… then, {data_sha[:12]}… now); "
                    "--allow-changed-data starts the study over"
                )
            for stale in (self.directory / RUNS).glob("*.json"):
                stale.unlink(missing_ok=True)
            write_atomic(self.directory / STUDY_META, self._meta(data_sha, meta.get("data", "")))
        (self.directory / RUNS).mkdir(exist_ok=True)
        for left in (self.directory / RUNS).glob(".*.tmp"):  # by a killed writer: never read
            left.unlink(missing_ok=True)

    # ---------------------------------------------------------------- finished runs

    def put(self, index: int, record: dict[str, Any]) -> dict[str, Any]:
        """Keep a finished run (in the study and the cache); the record as a reader sees it
        (through JSON), so that a resumed study and an uninterrupted one hold the same values."""
        key = self.keys[index]
        text = encode_run(key, {**record, "index": index})
        kept = json.loads(text)["record"]
        if record.get("status") == "interrupted":  # not finished: a resume runs it again
            return kept
        self.ran += 1
        if self.directory is not None and self._study_ok:
            try:
                write_atomic(
                    self.directory / RUNS / f"{key}.json", text, stage="run", durable=False
                )
            except OSError as exc:
                self._study_ok = False
                self.warn(f"cannot write run files under {self.directory} ({exc}): not kept")
        self._to_cache(key, text)
        return kept

    def _keep_in_study(self, key: str, record: dict[str, Any]) -> None:
        if self.directory is not None and self._study_ok:
            try:
                write_atomic(
                    self.directory / RUNS / f"{key}.json", encode_run(key, record), durable=False
                )
            except OSError:
                self._study_ok = False

    def _to_cache(self, key: str, text: str) -> None:
        if not self._cache_ok:
            return
        assert self.cache is not None
        try:
            self.cache.mkdir(parents=True, exist_ok=True)
            write_atomic(self.cache / f"{key}.json", text, stage="cache", durable=False)
        except OSError as exc:
            self._cache_ok = False
            self.warn(
                f"cannot write the run cache {self.cache} ({exc.strerror or exc}): "
                "running without it (nothing is lost)"
            )


def read_meta(directory: Path) -> dict[str, Any]:
    """A study directory's study.json, checked: what --resume compares."""
    if not directory.is_dir():
        raise DataError(f"{directory}: not a study directory")
    toml, meta_file = directory / STUDY_TOML, directory / STUDY_META
    if not meta_file.is_file():
        raise DataError(
            f"{directory}: not a resumable study (no {STUDY_META}; only studies saved "
            "with their run files can be resumed)"
        )
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{meta_file}: unreadable ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("data_sha256"), str):
        raise DataError(f"{meta_file}: not the record of a losslab study")
    if not toml.is_file():
        raise DataError(f"{toml}: missing (the study's settings); cannot resume")
    text = toml.read_text(encoding="utf-8")
    if hashlib.sha256(text.encode()).hexdigest() != meta.get("study_toml_sha256"):
        raise DataError(
            f"{toml}: changed since the study started; to run changed settings, "
            f"use --config {toml} (a new study; its finished runs come from the cache)"
        )
    return meta


# --------------------------------------------------------------------------- the cache


_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """Seconds in ``30d``, ``12h``, ``90m``, ``45s``, ``2w``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise ConfigError(
            f"--older-than must be a number and a unit (s, m, h, d, w), e.g. 30d, got {text!r}"
        )
    return float(match[1]) * _DURATION[match[2]]


def _entries(cache: Path) -> Iterable[Path]:
    if not cache.is_dir():
        return []
    return [p for p in cache.iterdir() if p.is_file() and p.suffix in (".json", ".tmp")]


def cache_info(cache: str | Path) -> dict[str, Any]:
    """The cache's runs and bytes (and its oldest entry's age in days)."""
    cache = Path(cache)
    if cache.exists() and not cache.is_dir():
        raise LossLabError(f"{cache}: not a directory")
    runs = [p for p in _entries(cache) if p.suffix == ".json"]
    stats = [p.stat() for p in runs]
    oldest = min((s.st_mtime for s in stats), default=None)
    return {
        "cache": str(cache),
        "runs": len(runs),
        "bytes": sum(s.st_size for s in stats),
        "oldest_days": None if oldest is None else round((time.time() - oldest) / 86400, 2),
    }


def clear_cache(cache: str | Path, older_than: float | None = None) -> dict[str, Any]:
    """Remove the cache's run files (only those last written more than ``older_than`` seconds
    ago, if given) and any temporary left by a killed writer."""
    cache = Path(cache)
    if cache.exists() and not cache.is_dir():
        raise LossLabError(f"{cache}: not a directory")
    now, removed, freed = time.time(), 0, 0
    for entry in _entries(cache):
        stat = entry.stat()
        if older_than is not None and now - stat.st_mtime <= older_than:
            continue
        try:
            entry.unlink()
        except OSError as exc:
            raise LossLabError(f"cannot remove {entry}: {exc.strerror or exc}") from None
        removed += entry.suffix == ".json"
        freed += stat.st_size
    return {"cache": str(cache), "removed": removed, "bytes": freed}
