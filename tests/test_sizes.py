"""Settings too large for the machine are refused in one line with the figure, before anything
is allocated (a hostile tester's MemoryError and ValueError tracebacks)."""

from __future__ import annotations

import io
import os
import stat
import zipfile

import numpy as np
import pytest

from losslab import resources

GB = 1e9


@pytest.fixture
def sixteen_gb(monkeypatch):
    """A machine with 16 GB available, whatever this one has."""
    monkeypatch.setattr(resources, "available_memory", lambda: int(16 * GB))


def test_size_text():
    assert resources.size_text(999) == "999 bytes"
    assert resources.size_text(1536) == "1.54 KB"
    assert resources.size_text(3.84e11) == "384 GB"
    assert resources.size_text(8e12) == "8 TB"


def test_check_memory_names_both_figures(sixteen_gb):
    resources.check_memory(15 * GB, "a small thing")  # fits: nothing said
    with pytest.raises(resources.ConfigError) as info:
        resources.check_memory(20 * GB, "a big thing")
    assert str(info.value) == "a big thing would take about 20 GB of memory; 16 GB is available"


def test_available_memory_is_a_positive_number_here():
    available = resources.available_memory()
    assert available is None or available > 0


@pytest.mark.parametrize(
    ("args", "figure"),
    [
        (["--model", "mlp", "--hidden", "1000000000"], "8,000,000,003 parameters"),
        (["--model", "mlp", "--hidden", "100000,100000"], "10,000,900,003 parameters"),
        (["--model", "mlp", "--hidden", "9" * 20], "parameters"),
    ],
)
def test_networks_too_large_for_memory(cli, sixteen_gb, args, figure):
    message = cli.error("fit", "iris", *args, "--no-save", "--epochs", "1")
    assert figure in message and "of memory; 16 GB is available" in message


@pytest.mark.parametrize("layers", ["conv1000000000,flatten", "flatten,dense1000000000"])
def test_cnn_layers_too_large_for_memory(cli, sixteen_gb, layers):
    message = cli.error(
        "fit", "digits", "--model", "cnn", "--layers", layers, "--no-save", "--epochs", "1"
    )
    assert "parameters would take about" in message


def _npz_declaring(path, shape):
    """An .npz whose W1 header declares ``shape`` while holding 3 values."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    small = io.BytesIO()
    np.lib.format.write_array(small, np.zeros(3))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("W1.npy", header.getvalue() + b"\0" * 24)
        archive.writestr("b1.npy", small.getvalue())
    return path


def test_npz_header_declaring_a_huge_array(cli, sixteen_gb, tmp_path):
    path = _npz_declaring(tmp_path / "huge.npz", (10**12,))
    message = cli.error(
        "fit", "iris", "--model", "mlp", "--hidden", "8", "--init-from", path, "--no-save"
    )
    assert message == (
        f"error: {path}: the arrays its headers declare would take about 8 TB of memory; "
        "16 GB is available"
    )


@pytest.mark.parametrize("target", ["rosenbrock", "iris"])
def test_landscape_grid_too_large(cli, sixteen_gb, target):
    message = cli.error("landscape", target, "--grid", "100000")
    assert message == (
        "error: --grid 100000 (a map of 10,000,000,000 points) would take about 320 GB of "
        "memory; 16 GB is available"
    )


def test_one_hot_columns_too_large(cli, monkeypatch, tmp_path):
    monkeypatch.setattr(resources, "available_memory", lambda: 10_000_000)  # 10 MB
    rows = 2000
    path = tmp_path / "ids.csv"
    path.write_text("name,x,y\n" + "".join(f"id{i},{i % 7},{i % 2}\n" for i in range(rows)))
    message = cli.error("fit", path, "--no-save", "--epochs", "1")
    assert "every string column becomes one column per category" in message
    assert "of memory; 10 MB is available" in message


def test_init_from_names_what_the_path_is(cli, tmp_path):
    base = ["fit", "iris", "--model", "mlp", "--hidden", "8", "--no-save", "--init-from"]
    message = cli.error(*base, tmp_path)
    assert message == (
        f"error: --init-from {tmp_path}: a directory without model.json (give an .npz, or a run "
        "directory)"
    )
    assert "no such file" in cli.error(*base, tmp_path / "absent.npz")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert cli.error(*base, fifo) == (
        f"error: --init-from {fifo}: not a regular file (a device, FIFO or socket); give an "
        ".npz, or a run directory"
    )
