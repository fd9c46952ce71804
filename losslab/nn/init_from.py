"""Starting weights from a file (``--init-from``): an ``.npz`` or a saved run.

An ``.npz`` holds arrays ``W1, b1, …, WL, bL``: ``W_l`` of shape (fan_in, fan_out), so that
scores = X @ W + b (torch's ``nn.Linear.weight`` transposed), ``b_l`` of shape (fan_out,). A saved
run (its directory or its ``model.json``) must be of the same model kind and have the same
features; its weights are taken as they are (the scaling of this run is fitted anew on its own
training rows, so continue on the same data with the same ``--scale`` to continue exactly).
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.resources import check_memory


def load_weights(
    source: str | Path, *, kind: str, features: list[str], n_layers: int
) -> list[np.ndarray]:
    """[W1, b1, …] from ``source`` for a model of ``kind`` on ``features`` with ``n_layers``
    dense layers; shapes are checked by the caller (:meth:`Network.load`)."""
    path = Path(source)
    if path.is_dir():
        path = path / "model.json"
        if not path.exists():
            raise ConfigError(
                f"--init-from {source}: a directory without model.json (give an .npz, or a "
                "run directory)"
            )
    if not path.exists():
        raise ConfigError(f"--init-from {source}: no such file (give an .npz, or a run directory)")
    if not path.is_file():
        raise ConfigError(
            f"--init-from {path}: not a regular file (a device, FIFO or socket); give an .npz, "
            "or a run directory"
        )
    if path.suffix.lower() == ".npz":
        return _from_npz(path, n_layers)
    return _from_record(path, kind=kind, features=features)


def _declared_bytes(path: Path) -> int:
    """The bytes the arrays of an ``.npz`` declare in their headers (read before any array)."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                read = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read(fh)
                total += math.prod(shape) * dtype.itemsize
    return total


def _from_npz(path: Path, n_layers: int) -> list[np.ndarray]:
    try:
        check_memory(_declared_bytes(path), f"{path}: the arrays its headers declare")
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path}: not a readable .npz file ({exc})") from None
    want = [f"{p}{i}" for i in range(1, n_layers + 1) for p in "Wb"]
    unexpected = [k for k in arrays if not re.fullmatch(r"[Wb][1-9][0-9]*", k)]
    if unexpected:
        raise ConfigError(
            f"{path}: unexpected array {unexpected[0]!r}; the file must hold "
            f"{', '.join(want)} (W_l of shape (fan_in, fan_out))"
        )
    missing = [k for k in want if k not in arrays]
    extra = [k for k in arrays if k not in want]
    if missing or extra:
        have = ", ".join(sorted(arrays, key=lambda k: (int(k[1:]), k[0] != "W")))
        raise ConfigError(
            f"{path}: holds {have}; this model has {n_layers} layer(s) and needs {', '.join(want)}"
        )
    out = []
    for name in want:
        value = arrays[name]
        if value.dtype.kind not in "fiu":
            raise ConfigError(f"{path}: {name} is not numeric ({value.dtype})")
        out.append(value.astype(np.float64))
    return out


def _from_record(path: Path, *, kind: str, features: list[str]) -> list[np.ndarray]:
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ConfigError(f"{path}: not a losslab model.json") from None
    if not isinstance(raw, dict) or "kind" not in raw:
        raise ConfigError(f"{path}: not a losslab model.json (no 'kind')")
    if raw["kind"] != kind:
        raise ConfigError(
            f"--init-from {path}: the saved model is {raw['kind']!r}; this run trains {kind!r}"
        )
    if raw.get("features") != features:
        raise ConfigError(
            f"--init-from {path}: its features differ from this data's "
            f"({len(raw.get('features') or [])} vs {len(features)} columns, or other names)"
        )
    try:
        if "layers" in raw:
            return [
                np.asarray(layer[key], dtype=np.float64)
                for layer in raw["layers"]
                for key in ("W", "b")
            ]
        coef = np.asarray(raw["coef"], dtype=np.float64)
        intercept = np.atleast_1d(np.asarray(raw["intercept"], dtype=np.float64))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: malformed weights ({exc})") from None
    return [coef, intercept]
