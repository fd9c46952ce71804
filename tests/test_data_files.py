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

from losslab.data.read import Dataset, dataset_shape, read_table

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
    from losslab.data.read import sniff_separator

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
    monkeypatch.setattr("losslab.data.read.PIPE_WAIT", 0.2)
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


# --------------------------------------------------------------------------- line numbers


def test_line_numbers_count_file_lines_not_records(cli, write_csv):
    text = 'y,pred,note\n1,2,"two\nlines"\n\n3,abc,x\n'
    err = cli.error("eval", write_csv(text), "--target", "y", "--pred", "pred", "--loss", "mse")
    assert "line 5" in err and "'pred'" in err and "abc" in err


def test_ragged_row_after_a_quoted_newline(cli, write_csv):
    err = cli.error("eval", write_csv('y,pred\n1,"2\n"\n3,4,5\n'))
    assert "line 4" in err and "ragged row with 3 fields" in err


def test_short_row_after_a_quoted_newline(cli, write_csv):
    err = cli.error("eval", write_csv('y,pred\n"1\n",2\n3\n'), "--loss", "mse")
    assert "line 4" in err and "ragged row with 1 fields" in err


def test_crlf_line_numbers(cli, write_csv):
    err = cli.error("eval", write_csv("y,pred\r\n1,2\r\n\r\n3,abc\r\n"), "--loss", "mse")
    assert "line 4" in err and "abc" in err


# --------------------------------------------------------------------------- column names


@pytest.mark.parametrize("header", ["x.1,x,y", "a,a.1,y", "a.1,a.2,y"])
def test_dotted_names_are_not_duplicates(write_csv, header):
    table = read_table(write_csv(f"{header}\n1,2,3\n"))
    assert table.columns == header.split(",")


@pytest.mark.parametrize(("header", "name"), [("a,a,y", "'a'"), ("y,a.1,b,a.1", "'a.1'")])
def test_real_duplicates_are_one_error(cli, write_csv, header, name):
    row = ",".join("1" for _ in header.split(","))
    err = cli.error("fit", write_csv(f"{header}\n{row}\n"), "--no-save")
    assert f"duplicate column name {name}" in err and "data.csv" in err


def test_duplicates_in_a_semicolon_header(cli, write_csv):
    assert "duplicate column name 'a'" in cli.error("eval", write_csv("a;b;a\n1;2;3\n"))


def test_empty_column_name(cli, write_csv):
    err = cli.error("eval", write_csv("y,,pred\n1,2,3\n"))
    assert "empty column name (column 2)" in err


def test_header_longer_than_the_first_read(write_csv):
    names = [f"feature_number_{i:05d}" for i in range(1000)]  # ~22 KB of header
    table = read_table(write_csv(",".join(names) + "\n" + ",".join("1" * 1000) + "\n"))
    assert table.columns == names


# --------------------------------------------------------------------------- warnings


def test_mixed_types_warn_nothing_and_name_the_line(cli, write_csv):
    rows = 300_000  # beyond one of pandas' low-memory chunks, where DtypeWarning starts
    path = write_csv("y,pred\n" + "1,2\n" * rows + "1,abc\n")
    result = cli("eval", path, "--loss", "mse", code=1)
    assert result.stderr.count("\n") == 1 and "Warning" not in result.stderr
    assert f"line {rows + 2}" in result.stderr and "non-numeric value 'abc'" in result.stderr


# --------------------------------------------------------------------------- odd files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\n\n  \n", "empty file"),
        (b"\xef\xbb\xbf", "empty file"),
        (b"\xef\xbb\xbf\r\n", "empty file"),
        (b"y,pred\n", "no data rows"),
        (b"y,pred\n\n\n", "no data rows"),
        (b"\xef\xbb\xbfy;pred\r\n", "no data rows"),
        (b"y,pred\n1,caf\xe9\n", "line 2: not UTF-8 text (byte 0xe9"),
        (b"temp\xe9rature,y\n1,2\n", "line 1: not UTF-8 text"),
        ("y,pred\n1,2\n".encode("utf-16"), "UTF-16"),
        (b"y,pred\n1,2,\n3,4,5\n", "line 3: ragged row with 3 fields"),
        (b"y,pred\n1,2,,\n", "line 2: ragged row with 4 fields"),
        (b",,\n1,2,3\n", "empty column name (column 1)"),
    ],
)
def test_odd_files_are_one_line(cli, tmp_path, content, message):
    path = tmp_path / "odd.csv"
    path.write_bytes(content)
    err = cli.error("eval", path, "--loss", "mse")
    assert "odd.csv" in err and message in err


@pytest.mark.parametrize(
    "text",
    [
        "y,pred\r\n1,1.5\r\n2,2.5\r\n",  # CRLF
        "y,pred,\n1,1.5,\n2,2.5,\n",  # a trailing delimiter on every line
        "y,pred\n1,1.5,\n2,2.5,\n",  # … on the data lines only
        "y,pred,\n1,1.5\n2,2.5\n",  # … on the header only
        "\ufeffy,pred\n1,1.5\n2,2.5\n",  # a BOM
        "\n\ny,pred\n\n1,1.5\n2,2.5\n\n",  # blank lines
        "y,pred\r1,1.5\r2,2.5\r",  # old Mac line ends
    ],
)
def test_odd_but_valid_files(cli, write_csv, text):
    out = cli.json("eval", write_csv(text), "--loss", "mse")
    assert out["rows"] == 2 and out["target"] == ["y"] and out["pred"] == ["pred"]
    assert out["losses"]["mse"] == pytest.approx(0.25)


def test_fit_survives_a_trailing_delimiter_and_crlf(cli, write_csv):
    text = ROWS.replace("\n", ",\r\n")
    out = cli.json("fit", write_csv(text), "--target", "y", "--epochs", "2", "--no-save")
    assert out["status"] == "completed" and out["data"]["rows"] == 6


def test_unclosed_quote_names_its_line(cli, write_csv):
    err = cli.error("eval", write_csv('y,pred\n1,2\n\n3,"4\n5,6\n'))
    assert "line 4" in err and "never closed" in err


def test_huge_bad_value_is_shortened(cli, write_csv):
    err = cli.error("eval", write_csv('y,pred\n1,"' + "x" * 200_000 + '"\n2,3\n'), "--loss", "mse")
    assert "line 2" in err and "non-numeric value" in err and len(err) < 300


def test_dataset_shape_of_a_semicolon_file_with_a_bom(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xef\xbb\xbf\n" + SEPARATED[";"].encode())
    assert dataset_shape(Dataset("d", str(path), "y", "binary classification", "test")) == (6, 3)


@pytest.mark.parametrize(
    "text",
    ["y,a,b\n1,2,3\n4,5,6\n", "\r\n\ny,a,b\r\n1,2,3\r\n\r\n4,5,6", "y|a|b\n1|2|3\n  \n4|5|6\n"],
)
def test_dataset_shape_counts_non_blank_lines(tmp_path, text):
    path = tmp_path / "d.csv"
    path.write_text(text, encoding="utf-8")
    assert dataset_shape(Dataset("d", str(path), "y", "regression", "test")) == (2, 3)


# --------------------------------------------------------------------------- pathological files


def test_a_column_name_of_two_million_characters(cli, tmp_path):
    """The csv module's field limit (131,072) no longer stops a name pandas reads."""
    path = tmp_path / "long.csv"
    name = "x" * 2_000_000
    path.write_text(f"{name},y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    table = read_table(path)
    assert table.columns == [name, "y"]
    out = cli.json("fit", path, "--no-save", "--epochs", "1", "--target", "y")
    assert out["status"] == "completed"


def test_nul_bytes_without_a_line_end_are_a_binary_file(cli, tmp_path):
    path = tmp_path / "zeros.csv"
    path.write_bytes(b"a" * 100 + b"\0" * (8 << 20))
    assert cli.error("fit", path, "--no-save") == f"error: {path}: binary file, not CSV text"


def test_a_long_header_is_read_in_doubling_chunks(tmp_path, monkeypatch):
    """Finding the end of a header line with no line end reads a logarithmic number of chunks
    (it re-scanned the whole head after every 8 KB: quadratic time on 64 MB)."""
    import builtins

    from losslab.data import read

    path = tmp_path / "one-line.csv"
    path.write_bytes(b"a" * (8 << 20))  # 8 MB, no line end
    reads = []
    real_open = builtins.open

    def counting_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        if str(file) == str(path) and "b" in mode:
            real_read = fh.read

            class Counted:
                def __enter__(self):
                    return self

                def __exit__(self, *exc):
                    fh.close()

                def read(self, n=-1):
                    reads.append(n)
                    return real_read(n)

            return Counted()
        return fh

    monkeypatch.setattr(builtins, "open", counting_open)
    _, _, head = read._load(path, "one-line.csv")
    assert len(head) == 8 << 20
    assert len(reads) <= 12  # 8 KB, then doubling to 8 MB: 11 reads and the empty one
