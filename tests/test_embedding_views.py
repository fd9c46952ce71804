"""`explain`, `gradcheck` and `landscape` with the embedding losses (contrastive, triplet,
supcon): explanations read from the entries, gradients through the embedding network against
central differences, and the landscape's objective against batch losses written here."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from losslab.losses.embedding import BATCH_LOSSES

LOSSES3 = ("contrastive", "triplet", "supcon")

BLOBS = "\n".join(
    ["a,b,c,label"]
    + [
        f"{x:.4f},{y:.4f},{z:.4f},{k}"
        for k, (x, y, z) in zip(
            np.repeat(np.arange(3), 10),
            np.random.default_rng(3).normal(size=(30, 3)) + np.repeat(np.eye(3) * 2, 10, axis=0),
            strict=True,
        )
    ]
)


@pytest.fixture
def blobs(write_csv) -> Path:
    return write_csv(BLOBS + "\n")


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
