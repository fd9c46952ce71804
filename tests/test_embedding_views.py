"""`explain`, `gradcheck` and `landscape` with the embedding losses (contrastive, triplet,
supcon): explanations read from the entries, gradients through the embedding network against
central differences, and the landscape's objective against batch losses written here."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

import losslab
from losslab.losses.embedding import BATCH_LOSSES
from losslab.views import gradcheck as gc

LOSSES3 = ("contrastive", "triplet", "supcon")


@pytest.fixture
def blobs(write_csv) -> Path:
    """Three Gaussian blobs of 10 rows in 3-D, 2 apart (columns a, b, c and label)."""
    y = np.repeat(np.arange(3), 10)
    X = np.random.default_rng(3).normal(size=(30, 3)) + 2.0 * np.eye(3)[y]
    rows = [",".join(f"{v:.4f}" for v in x) + f",{k}" for x, k in zip(X, y, strict=True)]
    return write_csv("\n".join(["a,b,c,label", *rows]) + "\n")


# --------------------------------------------------------------------------- references


def reference_loss(name: str, E: np.ndarray, y: np.ndarray) -> float:
    """The batch loss by loops over the pairs / triplets / anchors, from the definitions of
    issue 25 (margin 1, temperature 0.1; torch's pairwise_distance ε = 1e-6 for triplet)."""
    n = len(y)
    if name == "contrastive":
        terms = []
        for i, j in itertools.combinations(range(n), 2):
            d = np.linalg.norm(E[i] - E[j])
            terms.append(d * d if y[i] == y[j] else max(0.0, 1.0 - d) ** 2)
        return float(np.mean(terms))
    if name == "triplet":
        terms = [
            max(
                0.0,
                np.linalg.norm(E[a] - E[p] + 1e-6) - np.linalg.norm(E[a] - E[q] + 1e-6) + 1.0,
            )
            for a, p, q in itertools.product(range(n), repeat=3)
            if a != p and y[a] == y[p] and y[q] != y[a]
        ]
        return float(np.mean(terms))
    Z = E / np.linalg.norm(E, axis=1, keepdims=True)
    per = []
    for i in range(n):
        positives = [p for p in range(n) if p != i and y[p] == y[i]]
        if not positives:
            continue
        others = np.array([Z[i] @ Z[a] / 0.1 for a in range(n) if a != i])
        log_denominator = np.log(np.sum(np.exp(others)))
        per.append(-np.mean([Z[i] @ Z[p] / 0.1 - log_denominator for p in positives]))
    return float(np.mean(per))


# --------------------------------------------------------------------------- explain


@pytest.mark.parametrize(("name", "flags"), [("triplet", {"--margin", "--swap"}),
                                             ("supcon", {"--temperature"})])  # fmt: skip
def test_explain_a_batch_loss(cli, name, flags) -> None:
    (entry,) = cli.json("explain", name)
    assert entry["kind"] == "loss" and entry["name"] == name
    assert entry["formula"] == BATCH_LOSSES.get(name).formula
    for section in ("training", "batch loss", "embedding gradient", "mining", "when to use"):
        assert entry[section], section
    assert "--embed-dim" in entry["training"]
    assert {p["flag"] for p in entry["parameters"]} == flags
    assert entry["properties"]["batch loss"] is True
    assert entry["properties"]["mining"] is (name == "triplet")
    assert ("semi-hard" in entry["mining"]) is (name == "triplet")
    table = cli("explain", name).stdout
    assert not re.search(r":[a-z]+:`|``|(?<![\w.)}\]])_[A-Za-z]", table)
    assert "softmax_{a≠i}(z_i·z_a/τ)_p" in cli("explain", "supcon").stdout  # the subscript kept


def test_explain_contrastive_says_how_it_trains_an_embedding(cli) -> None:
    (entry,) = cli.json("explain", "contrastive")
    assert entry["formula"] == "y·d² + (1 − y)·max(0, m − d)²"  # the per-row entry, as before
    assert "fit DATA --loss contrastive" in entry["training"] and "semi-hard" in entry["mining"]
    assert "2(m − d)" in entry["embedding gradient"]
    assert cli.json("explain", "supervised-contrastive")[0]["name"] == "supcon"


def test_explain_a_misspelt_batch_loss_is_one_line(cli) -> None:
    assert "Did you mean 'triplet'" in cli.error("explain", "tripplet")
    assert "unknown loss 'adam'" in cli.error("explain", "adam", "--kind", "loss")


# --------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("loss", ["triplet", "supcon"])
def test_gradcheck_of_a_batch_loss_on_embeddings(loss) -> None:
    check = gc.check_batch_loss(loss)
    assert check.ok and check.max_error < 1e-6 and check.entries == 27


@pytest.mark.parametrize(("model", "loss"), list(itertools.product(("linear", "mlp", "cnn"),
                                                                   LOSSES3)))  # fmt: skip
def test_gradcheck_through_the_embedding_network(model, loss) -> None:
    check = gc.check_embedding(model, loss)
    assert check.kind == "model" and check.name == model and loss in check.detail
    assert check.ok and check.max_error < 1e-5


def test_gradcheck_catches_a_wrong_batch_gradient(cli, monkeypatch) -> None:
    """A gradient 1% too large fails through the network, and the command exits 1."""
    from losslab.losses import embedding

    right = embedding.batch_loss

    def wrong(*args, **kwargs):
        out = right(*args, **kwargs)
        return out if out.grad is None else embedding.BatchLoss(out.value, 1.01 * out.grad, 1)

    monkeypatch.setattr(embedding, "batch_loss", wrong)
    assert not gc.check_embedding("mlp", "triplet").ok
    message = cli.error("gradcheck", "--loss", "supcon", "--model", "linear")
    assert "gradcheck: 2 of 2 failed" in message


def test_gradcheck_cli_checks_the_embedding_losses_asked_for(cli) -> None:
    rows = cli.json("gradcheck", "--loss", "contrastive", "--model", "mlp")
    models = [r for r in rows if r["kind"] == "model"]
    # before: the mlp's 22 per-row losses; now the contrastive embedding with every activation
    assert len(models) == 5 and all("contrastive (embeddings, mining all)" in r["detail"]
                                    for r in models)  # fmt: skip
    assert {r["detail"].rsplit(", ", 1)[-1] for r in models} == {
        "relu", "leaky-relu", "tanh", "sigmoid", "gelu"
    }  # fmt: skip
    assert all(r["ok"] for r in rows)
    rows = cli.json("gradcheck", "--loss", "triplet,supcon")
    assert [(r["kind"], r["name"]) for r in rows] == [("loss", "triplet"), ("loss", "supcon")]


def test_gradcheck_refuses_an_embedding_loss_on_another_model(cli) -> None:
    message = cli.error("gradcheck", "--loss", "triplet", "--model", "softmax")
    assert "triplet trains an embedding with a linear, mlp, cnn model; not softmax" in message


# --------------------------------------------------------------------------- landscape


@pytest.mark.parametrize("loss", LOSSES3)
def test_landscape_objective_is_the_full_batch_loss(blobs, loss) -> None:
    """Full batch: the value of each path's final θ is the batch loss of the training rows'
    embeddings, and it equals the train loss `fit` reports for the same run."""
    settings = dict(
        model="mlp", hidden="5", activation="tanh", loss=loss, batch_size="full",
        test_size=0.0, embed_dim=2, lr=0.05,
    )  # fmt: skip
    land = losslab.landscape(str(blobs), optimizer="sgd", epochs=3, grid=5, **settings)
    (path,) = land.paths
    objective = land.plane["objective"]
    net = objective.net.copy()
    net.theta[...] = path.thetas[-1]
    E = net.scores(objective.X)
    assert path.values[-1] == pytest.approx(reference_loss(loss, E, objective.y), rel=1e-10)
    fit = losslab.fit(str(blobs), optimizer="sgd", epochs=3, save=False, **settings)
    assert path.values[-1] == pytest.approx(fit.metrics["train"]["loss"], rel=1e-10)
    assert land.values.shape == (5, 5) and np.isfinite(land.values).all()
    assert land.info["objective"].endswith(
        "in batches of 30" + (" (mining all)" if loss != "supcon" else "") + ", as fit reports it"
    )


def test_landscape_objective_with_minibatches_is_what_fit_reports(blobs, cli) -> None:
    args = (
        "--model", "linear", "--loss", "triplet", "--mining", "semi-hard", "--batch-size", "8",
        "--test-size", "0", "--epochs", "2", "--optimizer", "adam",
    )  # fmt: skip
    land = cli.json("landscape", str(blobs), *args, "--grid", "3")
    fit = cli.json("fit", str(blobs), *args, "--no-save")
    assert land["paths"][0]["values"][-1] == pytest.approx(fit["metrics"]["train"]["loss"],
                                                           rel=1e-12)  # fmt: skip
    assert "batches of 8 (mining semi-hard)" in land["objective"]
    assert land["plane"]["directions"] == "pca" and land["minimum"] is None
    assert "objective: the triplet batch loss" in cli("landscape", str(blobs), *args,
                                                      "--grid", "3").stdout  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--loss", "triplet", "--model", "softmax"), "does not fit a softmax model"),
        (("--loss", "supcon", "--mining", "hard"), "supcon has none to mine"),
        (("--loss", "supcon", "--temperature", "0"), "--temperature must be > 0"),
        (("--loss", "triplet", "--embed-dim", "0"), "--embed-dim must be >= 1"),
        (("--embed-dim", "3"), "--embed-dim applies to"),
    ],
)
def test_landscape_bad_embedding_input_is_one_line(cli, blobs, args, message) -> None:
    assert message in cli.error("landscape", str(blobs), "--epochs", "1", "--grid", "3", *args)


def test_landscape_embedding_flags_on_a_test_function_are_one_line(cli) -> None:
    assert "--mining applies to data" in cli.error("landscape", "rosenbrock", "--mining", "all")


def test_gradcheck_default_keeps_its_checks() -> None:
    """With no loss and no model asked for, contrastive is the per-row loss of a distance: no
    embedding network is checked (the default's rows are those of every per-row loss)."""
    checks = gc.gradcheck(None, None)
    assert not any("embeddings" in c.detail for c in checks)
    assert sum(c.kind == "loss" and c.name == "contrastive" for c in checks) == 1
