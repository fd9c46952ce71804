"""Real-world and hostile CSV files: compression, separators, pipes, odd paths, odd headers.

Every bad input must give one line naming the file (and line/column/value where that applies),
exit code 1 and no traceback.
"""

from __future__ import annotations

import errno
import gzip
import os
import threading
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


# --------------------------------------------------------------------------- separators

SEPARATED = {",": ROWS, ";": ROWS.replace(",", ";"), "\t": ROWS.replace(",", "\t")}
SEPARATED["|"] = ROWS.replace(",", "|")


@pytest.mark.parametrize("sep", list(SEPARATED))
def test_separator_is_sniffed(write_csv, sep):
    table = read_table(write_csv(SEPARATED[sep]))
    assert table.sep == sep and table.columns == ["y", "x1", "x2"]
    assert table.numeric("x1").tolist() == [1.5, 2.5, 0.5, 4.0, 1.0, 3.5]


@pytest.mark.parametrize(
    ("text", "sep"),
    [
        ("a;b\n1,5;2,5\n3,0;4,5\n", ";"),  # decimal commas
        ('"x,y";z\n1;2\n', ";"),  # a quoted comma in a name
        ("name,note\nx,a|b|c\ny,d|e|f\n", ","),  # pipes inside values
        ("a;b\n1;2\n3;4;5\n", ";"),  # ragged, still semicolon-separated (then an error)
        ("y\n1\n2\n", ","),  # one column
    ],
)
def test_sniffing_tricky_heads(text, sep):
    from losslab.data import sniff_separator

    assert sniff_separator(text) == sep


@pytest.mark.parametrize(("flag", "sep"), [(",", ","), (";", ";"), ("tab", "\t"), ("\\t", "\t")])
def test_forced_separator(write_csv, flag, sep):
    table = read_table(write_csv(SEPARATED[sep]), sep=flag)
    assert table.columns == ["y", "x1", "x2"]


def test_forced_separator_overrides_sniffing(write_csv):
    table = read_table(write_csv("a;b,c\n1;2,3\n"), sep=",")
    assert table.columns == ["a;b", "c"]


def test_bad_separator_is_one_line(cli, write_csv):
    err = cli.error("eval", write_csv(ROWS), "--sep", "::")
    assert "--sep" in err and "'::'" in err


@pytest.mark.parametrize("sep", [";", "\t"])
def test_eval_on_semicolon_and_tab_files(cli, write_csv, sep):
    text = "y;pred\n1;1.5\n2;2.5\n".replace(";", sep)
    out = cli.json("eval", write_csv(text), "--loss", "mse")
    assert out["losses"]["mse"] == pytest.approx(0.25)


def test_sep_option_on_every_data_command(cli, write_csv, tmp_path):
    path = write_csv(SEPARATED["|"])
    fit = cli.json("fit", path, "--sep", "|", "--target", "y", "--epochs", "2", "--out", tmp_path)
    assert fit["status"] == "completed"
    assert cli.json("eval", write_csv("y|pred\n1|1\n", "p.csv"), "--sep", "|")["rows"] == 1
    predicted = cli("predict", fit["record"], path, "--sep", "|").stdout
    assert predicted.splitlines()[0].startswith("prediction") and len(predicted.splitlines()) == 7
    scored = cli.json("eval", path, "--model", fit["record"], "--sep", "|", "--loss", "bce")
    assert scored["rows"] == 6
    study = cli.json(
        "compare",
        path,
        "--sep",
        "|",
        "--optimizer",
        "gd",
        "--seeds",
        "1",
        "--epochs",
        "2",
        "--jobs",
        "1",
        "--no-save",
    )
    assert len(study["runs"]) == 1
    assert "ragged" not in cli.error("fit", path, "--sep", ";", "--no-save")


def test_utf8_bom_is_not_part_of_the_first_name(write_csv, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + SEPARATED[";"].encode())
    table = read_table(path)
    assert table.columns[0] == "y" and table.sep == ";"


# --------------------------------------------------------------------------- pipes

posix_only = pytest.mark.skipif(os.name != "posix", reason="needs FIFOs and /dev/fd")


def _feed(path: Path | int, data: bytes) -> threading.Thread:
    """Write ``data`` to a FIFO path (or a pipe's write end) from a thread, then close it."""

    def write() -> None:
        if isinstance(path, int):
            with os.fdopen(path, "wb") as fh:
                fh.write(data)
        else:
            with open(path, "wb") as fh:
                fh.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo.csv"
    os.mkfifo(path)
    return path


@posix_only
def test_fit_on_a_named_pipe_reads_it_once(cli, fifo, tmp_path):
    import hashlib

    data = ("y,x1,x2\n" + "".join(f"{i % 2},{i},{i * i % 7}\n" for i in range(3000))).encode()
    writer = _feed(fifo, data)  # more than a pipe's buffer
    out = cli.json("fit", fifo, "--epochs", "2", "--target", "y", "--out", tmp_path / "runs")
    writer.join(5)
    assert out["status"] == "completed" and out["data"]["rows"] == 3000
    assert out["data"]["sha256"] == hashlib.sha256(data).hexdigest()


@posix_only
def test_errors_from_a_named_pipe_name_the_line(cli, fifo):
    _feed(fifo, b"y,pred\n1,2\n\n3,abc\n")
    err = cli.error("eval", fifo, "--loss", "mse")
    assert "fifo.csv, line 4" in err and "abc" in err


@posix_only
def test_gzip_through_a_named_pipe(fifo):
    _feed(fifo, gzip.compress(ROWS.replace(",", ";").encode()))
    table = read_table(fifo)
    assert table.columns == ["y", "x1", "x2"] and table.n_rows == 6


@posix_only
def test_process_substitution_path(cli):
    read_end, write_end = os.pipe()
    try:
        _feed(write_end, b"y,pred\n1,1.5\n2,2.5\n")
        out = cli.json("eval", f"/dev/fd/{read_end}", "--loss", "mse")
    finally:
        os.close(read_end)
    assert out["rows"] == 2 and out["losses"]["mse"] == pytest.approx(0.25)


@posix_only
def test_empty_pipe_is_an_empty_file(cli, fifo):
    _feed(fifo, b"")
    assert "empty file" in cli.error("eval", fifo)


@posix_only
def test_a_pipe_nobody_writes_to_is_an_error_not_a_hang(cli, fifo, monkeypatch):
    monkeypatch.setattr("losslab.data.PIPE_WAIT", 0.2)
    err = cli.error("fit", fifo, "--no-save")
    assert "fifo.csv" in err and "nothing was written" in err


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_binary_device_is_refused(cli):
    assert "binary file" in cli.error("eval", "/dev/zero")


# --------------------------------------------------------------------------- hostile paths


def test_file_name_too_long(cli, tmp_path):
    err = cli.error("fit", tmp_path / ("x" * 296 + ".csv"), "--no-save")
    assert "x" * 296 in err and "file name too long" in err


def test_unreadable_directory(cli, tmp_path, monkeypatch):
    # Tests may run as root, for whom chmod denies nothing: the system's answer is simulated.
    locked = tmp_path / "locked"
    locked.mkdir()
    path = write_gzip(locked / "d.csv", ROWS)
    real_stat = os.stat

    def denied(target, *args, **kwargs):
        if str(target).startswith(str(locked) + os.sep):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
        return real_stat(target, *args, **kwargs)

    monkeypatch.setattr(os, "stat", denied)
    err = cli.error("eval", path)
    assert "locked/d.csv" in err and "permission denied" in err


def test_unreadable_file(cli, tmp_path, monkeypatch):
    import builtins

    path = tmp_path / "d.csv"
    path.write_text(ROWS, encoding="utf-8")
    real_open = builtins.open

    def denied(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)
    assert "permission denied" in cli.error("eval", path)


@posix_only
def test_symlink_loop(cli, tmp_path):
    os.symlink(tmp_path / "b.csv", tmp_path / "a.csv")
    os.symlink(tmp_path / "a.csv", tmp_path / "b.csv")
    err = cli.error("fit", tmp_path / "a.csv", "--no-save")
    assert "a.csv" in err and "symlink loop" in err and "no such file" not in err


@posix_only
def test_dangling_symlink(cli, tmp_path):
    os.symlink(tmp_path / "gone.csv", tmp_path / "a.csv")
    assert "symbolic link to a missing file" in cli.error("eval", tmp_path / "a.csv")


def test_path_through_a_file(cli, tmp_path):
    (tmp_path / "f").write_text("y\n1\n", encoding="utf-8")
    assert "not a directory" in cli.error("eval", tmp_path / "f" / "d.csv")
