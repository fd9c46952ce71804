"""Real-world and hostile CSV files: compression, separators, pipes, odd paths, odd headers.

Every bad input must give one line naming the file (and line/column/value where that applies),
exit code 1 and no traceback.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from losslab.data import Dataset, dataset_shape, read_table

ROWS = "y,x1,x2\n0,1.5,2\n1,2.5,-1\n0,0.5,3\n1,4.0,0\n0,1.0,1\n1,3.5,2\n"


def write_gzip(path: Path, text: str) -> Path:
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    return path


# --------------------------------------------------------------------------- gzip


def test_gzip_reads_like_the_plain_file(tmp_path):
    plain = tmp_path / "d.csv"
    plain.write_text(ROWS, encoding="utf-8")
    packed = write_gzip(tmp_path / "d.csv.gz", ROWS)
    a, b = read_table(plain), read_table(packed)
    assert b.columns == a.columns == ["y", "x1", "x2"]
    assert np.array_equal(b.matrix(b.columns), a.matrix(a.columns))


def test_gzip_is_recognised_by_its_bytes_not_its_name(tmp_path):
    table = read_table(write_gzip(tmp_path / "data.csv", ROWS))
    assert table.n_rows == 6


def test_gzip_sha256_is_the_hash_of_the_file_bytes(tmp_path):
    import hashlib

    path = write_gzip(tmp_path / "d.csv.gz", ROWS)
    assert read_table(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_gzip_error_names_the_decompressed_line(cli, tmp_path):
    path = write_gzip(tmp_path / "d.csv.gz", "y,pred\n1,2\n\n3,abc\n")
    err = cli.error("eval", path, "--loss", "mse")
    assert "d.csv.gz, line 4" in err and "'pred'" in err and "abc" in err


def test_gzip_ragged_row_names_its_line(cli, tmp_path):
    path = write_gzip(tmp_path / "d.csv.gz", "y,pred\n1,2\n3\n4,5\n")
    err = cli.error("eval", path, "--loss", "mse")
    assert "d.csv.gz, line 3" in err and "ragged" in err


def test_fit_on_gzip(cli, tmp_path):
    out = cli.json("fit", write_gzip(tmp_path / "d.csv.gz", ROWS), "--epochs", "2", "--no-save")
    assert out["status"] == "completed"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (gzip.compress(b"y,x\n1,2\n" * 100)[:-20], "corrupt gzip"),
        (b"\x1f\x8bnot really gzip", "corrupt gzip"),
        (gzip.compress(b""), "empty file"),
        (gzip.compress(b"\x00\x01\x02binary"), "binary file"),
    ],
)
def test_bad_gzip_is_one_line(cli, tmp_path, content, message):
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(content)
    err = cli.error("eval", path)
    assert "bad.csv.gz" in err and message in err


def test_dataset_shape_of_a_gzip_file(tmp_path):
    path = write_gzip(tmp_path / "d.csv.gz", ROWS + "\n")
    ds = Dataset("d", str(path), "y", "binary classification", "test")
    assert dataset_shape(ds) == (6, 3)
