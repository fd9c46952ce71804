"""`fit`/`compare` with an embedding loss: the full-batch objective is the batch loss of the
final embeddings, random mining follows --seed, and each bad input is one line, exit 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from losslab.losses.embedding import batch_loss, knn_accuracy

BLOBS = "\n".join(
    ["a,b,c,label"]
    + [
        f"{x:.4f},{y:.4f},{z:.4f},{k}"
        for k, (x, y, z) in zip(
            np.repeat(np.arange(3), 12),
            np.random.default_rng(0).normal(size=(36, 3)) + np.repeat(np.eye(3) * 3, 12, axis=0),
            strict=True,
        )
    ]
)


@pytest.fixture
def blobs(write_csv) -> Path:
    return write_csv(BLOBS + "\n")


def _embeddings(model: dict, X: np.ndarray) -> np.ndarray:
    mean, scale = (np.asarray(model["scaler"][k]) for k in ("mean", "scale"))
    A = (X - mean) / scale
    layers = model["layers"]
    for i, layer in enumerate(layers):
        A = A @ np.asarray(layer["W"]) + np.asarray(layer["b"])
        if i < len(layers) - 1:
            A = np.tanh(A)
    return A


@pytest.mark.parametrize("loss", ["contrastive", "triplet", "supcon"])
def test_full_batch_loss_is_the_batch_loss_of_the_final_embeddings(cli, blobs, loss) -> None:
    out = cli.json(
        "fit", blobs, "--model", "mlp", "--hidden", "6", "--activation", "tanh", "--loss", loss,
        "--optimizer", "sgd", "--lr", "0.05", "--batch-size", "full", "--epochs", "3",
        "--test-size", "0", "--embed-dim", "3", "--no-save",
    )  # fmt: skip
    data = np.loadtxt(BLOBS.splitlines()[1:], delimiter=",")
    E = _embeddings(out["model"], data[:, :3])
    y = data[:, 3].astype(int)
    expected = batch_loss(loss, E, y, params={"margin": 1.0, "temperature": 0.1}, want_grad=False)
    train = out["metrics"]["train"]
    assert train["loss"] == pytest.approx(expected.value, rel=1e-10)
    knn = knn_accuracy(E, y, E, y, leave_one_out=True)
    assert train["knn1"] == knn[1] and train["knn5"] == knn[5]
    assert out["config"]["embed_dim"] == 3 and len(out["model"]["layers"][-1]["b"]) == 3


def test_random_mining_is_reproducible_from_the_seed(cli, blobs) -> None:
    args = ("fit", blobs, "--loss", "triplet", "--model", "mlp", "--hidden", "8",
            "--mining", "random", "--batch-size", "12", "--epochs", "3", "--no-save")  # fmt: skip
    first, again = cli.json(*args), cli.json(*args)
    other = cli.json(*args, "--seed", "1")
    assert first["history"] == again["history"]
    assert first["history"] != other["history"]
    assert first["config"]["mining"] == "random"


def test_compare_ranks_the_three_losses(cli, blobs) -> None:
    out = cli.json(
        "compare", blobs, "--model", "mlp", "--hidden", "8", "--loss", "contrastive,triplet,supcon",
        "--optimizer", "adam", "--batch-size", "12", "--epochs", "2", "--seeds", "1", "--no-save",
    )  # fmt: skip
    rows = out["summary"] if "summary" in out else out["rows"]
    assert sorted({r["loss"] for r in rows}) == ["contrastive", "supcon", "triplet"]


def test_batches_without_a_positive_pair_are_counted(cli, blobs) -> None:
    result = cli("fit", blobs, "--loss", "supcon", "--model", "mlp", "--hidden", "4",
                 "--batch-size", "2", "--epochs", "1", "--no-save", "--format", "json")  # fmt: skip
    assert "had no positive pair" in result.stderr and "were skipped" in result.stderr


def test_the_plot_of_an_embedding_run(cli, blobs, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "runs"
    cli("fit", blobs, "--loss", "triplet", "--model", "mlp", "--hidden", "8", "--epochs", "2",
        "--embed-dim", "4", "--out", out, "--plot", tmp_path / "a.png")  # fmt: skip
    run = next(out.iterdir())
    cli("plot", run, "--out", tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


@pytest.mark.parametrize(
    ("csv", "args", "message"),
    [
        ("x,y\n1,a\n2,a\n3,a\n4,a\n", ("--loss", "triplet"), "single class"),
        ("x,y\n1,0.5\n2,1.7\n3,2.2\n4,3.1\n5,0.25\n", ("--loss", "contrastive"), "regression"),
        ("x,y\n1,a\n2,b\n3,c\n4,d\n5,e\n", ("--loss", "supcon", "--test-size", "0"), "no two"),
        (None, ("--loss", "triplet", "--embed-dim", "0"), "--embed-dim must be >= 1"),
        (None, ("--loss", "supcon", "--mining", "hard"), "supcon has none to mine"),
        (None, ("--loss", "triplet", "--mining", "nope"), "--mining must be one of"),
        (None, ("--loss", "supcon", "--temperature", "0"), "--temperature must be > 0"),
        (None, ("--loss", "triplet", "--temperature", "0.5"), "not used by the triplet"),
        (None, ("--loss", "contrastive", "--swap"), "--swap is not used"),
        (
            None,
            (
                "--mining",
                "hard",
            ),
            "--mining applies to",
        ),
        (
            None,
            (
                "--embed-dim",
                "3",
            ),
            "--embed-dim applies to",
        ),
    ],
)
def test_bad_input_is_one_line(cli, write_csv, blobs, csv, args, message) -> None:
    data = blobs if csv is None else write_csv(csv, "bad.csv")
    error = cli.error("fit", data, "--model", "mlp", "--no-save", *args)
    assert message in error


@pytest.mark.parametrize("swap", [False, True])
def test_eval_triplet_on_columns_equals_torch(cli, write_csv, swap) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    M = rng.normal(size=(20, 6))
    header = "a1,a2,p1,p2,n1,n2"
    path = write_csv(
        header + "\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in M) + "\n"
    )
    args = ["eval", path, "--loss", "triplet", "--anchor", "a1,a2", "--positive", "p1,p2",
            "--negative", "n1,n2", "--margin", "0.7"] + (["--swap"] if swap else [])  # fmt: skip
    out = cli.json(*args)
    t = torch.tensor(M)
    ref = torch.nn.TripletMarginLoss(margin=0.7, swap=swap)(t[:, :2], t[:, 2:4], t[:, 4:])
    assert out["value"] == pytest.approx(ref.item(), rel=1e-12)


def test_eval_triplet_bad_columns_are_one_line(cli, write_csv) -> None:
    path = write_csv("a,p,n,q\n1,2,3,4\n")
    assert "as many columns" in cli.error(
        "eval", path, "--loss", "triplet", "--anchor", "a", "--positive", "p", "--negative", "n,q"
    )
    assert "go together" in cli.error("eval", path, "--loss", "triplet", "--anchor", "a")
