"""`losslab explain NAME`: what a loss, an optimizer or a schedule is, from its registry entry.

Everything shown is read from the code that runs: the formula and the reference from the entry
and the docstrings of its functions, the defaults from its declarations, and the properties
*measured* on the registered functions — convexity from second differences of the loss along
the residual or margin, robustness from the size of its gradient far from the target — or read
from the rule's own traits (the buffers it keeps, the batch it needs). Only the one-line advice
("when to use it") is written by hand, in :data:`ADVICE`, and a test checks that every
registered name has one.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losslab.errors import UnknownNameError

# When to reach for each entry: one line each, by registry kind and name.
ADVICE: dict[str, dict[str, str]] = {
    "loss": {
        "mse": "regression with Gaussian-like noise; the default, and the one with a closed form",
        "mae": "regression where outliers should not dominate; predicts the conditional median",
        "rmse": "reporting in the target's units; trains like mse",
        "huber": "regression with some outliers: quadratic near the target, linear beyond δ",
        "log-cosh": "a smooth Huber: quadratic near 0, linear far away, twice differentiable",
        "quantile": "predicting a quantile τ (an interval's edge) instead of the mean",
        "epsilon-insensitive": "support-vector regression: errors below ε are free",
        "squared-epsilon-insensitive": "SVR with a smooth, quadratic penalty beyond ε",
        "mape": "errors relative to the target's size; avoid targets near 0",
        "poisson": "counts (non-negative integers), with a log link",
        "tweedie": "non-negative targets with many exact zeros (claims, rainfall): 1 < p < 2",
        "gamma-deviance": "positive, right-skewed targets whose spread grows with their mean",
        "msle": "positive targets spanning orders of magnitude: errors on log(1 + y)",
        "bce": "binary classification with calibrated probabilities; the default",
        "focal": "binary classification with rare positives: easy examples count less (γ)",
        "hinge": "a linear SVM: a margin of 1, sparse support vectors, no probabilities",
        "squared-hinge": "an SVM with a smooth, quadratic penalty inside the margin",
        "modified-huber": "SVM-like margins with some robustness and rough probabilities",
        "perceptron": "the classic perceptron: only mistakes count, no margin",
        "soft-margin": "logistic loss on ±1 labels (torch's SoftMarginLoss)",
        "cross-entropy": "multiclass classification with probabilities; the default",
        "multiclass-hinge": "a multiclass SVM (Crammer–Singer): only the best wrong class counts",
        "multi-margin": "a multiclass SVM (Weston–Watkins): every wrong class within the margin",
        "kl-div": "matching a target distribution (soft labels, distillation)",
        "contrastive": "learning distances: pull similar pairs together, push others past m",
        "cauchy": "regression with heavy-tailed noise: ψ decays like c²/d, never quite to 0",
        "geman-mcclure": "regression with gross outliers: ρ levels off at 2, ψ redescends",
        "welsch": "regression with gross outliers: ρ levels off at 1, ψ falls like exp(−d²/2)",
        "tukey": "the biweight M-estimator: rows beyond c get exactly zero pull",
        "barron": "one loss for the family: tune α (2 square … −∞ welsch) and c for the data",
    },
    "optimizer": {
        "gd": "small problems and teaching: the exact gradient, one step per epoch",
        "sgd": "the baseline; with a decaying schedule it generalises well",
        "momentum": "SGD on ravines: momentum speeds up along consistent directions",
        "nesterov": "momentum with a look-ahead gradient; often a little more stable",
        "adagrad": "sparse or badly scaled features: per-coordinate steps that only shrink",
        "rmsprop": "non-stationary problems and RNNs: Adagrad with a forgetting average",
        "adam": "the default for networks: momentum plus per-coordinate scaling",
        "adamw": "Adam with weight decay that does not interact with the scaling",
        "nadam": "Adam with Nesterov momentum; sometimes faster early on",
        "radam": "Adam without a warm-up: the variance of early steps is rectified",
        "adamax": "Adam with an infinity norm: robust to rare huge gradients",
        "adadelta": "no learning rate to tune (lr 1): steps in the units of the parameters",
        "rprop": "full-batch training on small data: only the gradient's sign matters",
        "asgd": "convex problems with noisy gradients: averaging the iterates",
        "adafactor": "large matrices with little memory: factored second moments",
        "muon": "hidden weight matrices of networks: orthogonalised momentum updates",
        "lbfgs": "small smooth full-batch problems: quasi-Newton steps, few epochs",
        "polyak": "when the optimum's value f* is known: a step size with no tuning",
        "signsgd": "distributed training and robustness: the sign of each coordinate",
        "signum": "signSGD with momentum: the sign of the running average",
        "lion": "memory-light Adam alternative: sign of an interpolated momentum",
        "yogi": "Adam with additive second-moment updates: steadier with noisy gradients",
        "adabelief": "Adam scaled by the gradient's deviation from its average",
        "lamb": "large batches: Adam with a per-layer trust ratio",
        "schedule-free-sgd": "no schedule to design: iterate averaging in place of decay",
        "schedule-free-adamw": "AdamW without a schedule: evaluation at the averaged point",
        "prodigy": "no learning rate to tune: the distance to the solution is estimated",
    },
    "schedule": {
        "constant": "a baseline, or optimizers that adapt their own steps",
        "step": "the classic staircase: divide the lr every step_size units",
        "multistep": "drops at chosen milestones (the ResNet recipe)",
        "exponential": "a smooth geometric decay every unit",
        "cosine": "a smooth decay to min_lr at the end of the run; a strong default",
        "cosine-warm-restarts": "SGDR: cosine cycles that restart, for anytime results",
        "cyclic": "lr range cycling (Smith 2017): explores between two bounds",
        "one-cycle": "fast training (Smith & Topin 2019): up, then far down, per step",
        "polynomial": "decay to zero with a chosen curvature (BERT uses power 1)",
        "linear": "a straight ramp between two factors (decay, or warm-up by hand)",
        "inverse-scaling": "scikit-learn's SGD default: lr/(t+1)^power_t",
        "reduce-on-plateau": "when you do not know the schedule: decay when progress stalls",
    },
}

KINDS = ("loss", "optimizer", "schedule")

# The losses that train an embedding (losslab.losses.embedding): what their gradient does to the
# embeddings, and, for the batch losses kept out of LOSSES, when to use them.
EMBEDDING: dict[str, dict[str, str]] = {
    "contrastive": {
        "gradient": "a similar pair pulls e_i and e_j together with force 2d along e_i − e_j; "
        "a dissimilar pair closer than m pushes them apart with force 2(m − d); a dissimilar "
        "pair beyond m, and a pair at d = 0, gives nothing",
    },
    "triplet": {
        "gradient": "only triplets with d(a, p) − d(a, n) + m > 0 count; each pulls the anchor "
        "toward the positive and pushes it from the negative along unit vectors (the positive "
        "and the negative get the opposite pulls), so easy triplets stop contributing",
        "when to use": "learning distances from relative judgements: an anchor nearer its "
        "positive than its negative by m (FaceNet); mining decides which triplets teach",
    },
    "supcon": {
        "gradient": "on z_i = e_i/‖e_i‖: (Σ_a softmax_a·z_a − mean of the positives' z_p)/τ "
        "(and the same as a positive or a negative of other anchors), projected orthogonally to "
        "z_i and divided by ‖e_i‖; hard negatives (large z_i·z_a) get the largest weight",
        "when to use": "supervised representation learning with several positives per anchor: "
        "a softmax over the batch, no margin, no mining (Khosla et al. 2020)",
    },
}


@dataclass
class Explanation:
    """One entry, ready to print: sections of (label, text) and a table of its parameters."""

    kind: str
    name: str
    summary: str
    sections: list[tuple[str, str]] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sections = [(label, plain(text)) for label, text in self.sections]
        for row in self.parameters:
            if isinstance(row.get("help"), str):
                row["help"] = plain(row["help"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "summary": self.summary,
            **{label: text for label, text in self.sections},
            "parameters": self.parameters,
            "properties": self.properties,
        }


# reST in docstrings, for a reader of the code: a cross-reference in parentheses ("(see
# :func:`weight_decay`)", "(:func:`orthogonalise`)") or an attribute of the code's own objects in
# parentheses ("(``ctx.loss``)") says nothing to a user and goes; any other role or literal
# keeps its name, without markup and without a private name's leading underscore.
_CROSS_REFERENCE = re.compile(r" ?\((?:see )?:[a-z]+:`[^`]+`\)")
_INTERNAL = re.compile(r" ?\(``[a-z_]+\.[a-z_.]+``\)")
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_PRIVATE = re.compile(r"(?<![\w.)}\]])_+(?=[A-Za-z])")
_EMPHASIS = re.compile(r"(?<![\w*])\*([A-Za-z][^*\n]*?[\w.])\*(?![\w*])")


def plain(text: str) -> str:
    """``text`` with its reST turned into plain words: cross-references and the code's own
    attributes in parentheses dropped, roles and double backticks unwrapped, no leading
    underscores (``_ScheduleFree`` → ScheduleFree)."""
    text = _INTERNAL.sub("", _CROSS_REFERENCE.sub("", text))
    text = _EMPHASIS.sub(r"\1", _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text)))
    return _PRIVATE.sub("", text)


def _doc(obj: Any, paragraphs: int = 1) -> str:
    """The first ``paragraphs`` of a docstring, on one line, as plain text (:func:`plain`)."""
    text = inspect.getdoc(obj) or ""
    return plain(" ".join(" ".join(text.split("\n\n")[:paragraphs]).split()))


class _Losses:
    """The per-row losses (LOSSES) and the batch losses of an embedding, as one registry."""

    def __init__(self) -> None:
        from losslab.losses import LOSSES
        from losslab.losses.embedding import BATCH_LOSSES

        self.parts = (LOSSES, BATCH_LOSSES)

    def __contains__(self, name: str) -> bool:
        return any(name in reg for reg in self.parts)

    def resolve(self, name: str) -> str:
        from losslab.losses.embedding import find_loss

        return find_loss(name).name

    def names(self) -> list[str]:
        return [n for reg in self.parts for n in reg.names()]


def _registries() -> dict[str, Any]:
    from losslab.optim.optimizers import OPTIMIZERS
    from losslab.optim.schedules import SCHEDULES

    return {"loss": _Losses(), "optimizer": OPTIMIZERS, "schedule": SCHEDULES}


def find(name: str) -> list[tuple[str, str]]:
    """(kind, canonical name) of every registry that knows ``name``; UnknownNameError with the
    closest names of all registries when none does."""
    import difflib

    found = [(kind, reg.resolve(name)) for kind, reg in _registries().items() if name in reg]
    if found:
        return found
    everything = [n for reg in _registries().values() for n in reg.names()]
    close = difflib.get_close_matches(name.strip().lower(), everything, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownNameError(
        f"{name!r} is no loss, optimizer or schedule (see `losslab losses`, `losslab optimizers`, "
        f"`losslab schedules`).{hint}"
    )


def explain(name: str, kind: str | None = None) -> list[Explanation]:
    """Explanations of every entry called ``name`` (a loss and a schedule may share a name)."""
    matches = find(name) if kind is None else [(kind, _registries()[kind].resolve(name))]
    build = {"loss": _loss, "optimizer": _optimizer, "schedule": _schedule}
    return [build[k](n) for k, n in matches]


def _parameter_rows(hypers: Any) -> list[dict[str, Any]]:
    return [h.to_dict() | {"flag": h.flag} for h in hypers]


# --------------------------------------------------------------------------- losses


def loss_properties(name: str) -> dict[str, Any]:
    """Measured on the registered functions along the residual (regression) or margin
    (classification) axis of :mod:`losslab.views.shapes`: convex where every second difference of
    the per-row value is ≥ 0 (up to rounding); gradient bounded where |∂ℓ| stays below 10 at 10⁴
    from the target (an outlier's pull is bounded), else growing."""
    from losslab.losses.embedding import find_loss
    from losslab.views.shapes import loss_shapes

    loss = find_loss(name)
    props: dict[str, Any] = {
        "task": loss.task,
        "inputs": loss.inputs + (" (or logits with --logits)" if loss.supports_logits else ""),
        "margin-based": loss.task == "margin",
    }
    kind = loss.task if loss.task in ("regression", "positive") else "classification"
    if loss.task not in ("regression", "positive", "binary", "margin", "multiclass"):
        props["convex"] = props["bounded gradient"] = None
        return props
    window = (0.05, 8.0) if kind == "positive" else (-4.0, 4.0)
    chart = loss_shapes(kind, losses=[name], lo=window[0], hi=window[1], points=801)
    values = chart.values[name]
    ok = np.isfinite(values)
    v = values[ok]
    second = v[2:] - 2 * v[1:-1] + v[:-2]
    scale = max(1.0, float(np.max(np.abs(v)))) if v.size else 1.0
    props["convex"] = bool(np.all(second >= -1e-9 * scale)) if v.size > 2 else None
    far_window = (1e-3, 1e4) if kind == "positive" else (-1e4, 1e4)
    far = loss_shapes(kind, losses=[name], lo=far_window[0], hi=far_window[1], points=3)
    g = far.gradients[name][[0, -1]]
    g = g[np.isfinite(g)]
    props["bounded gradient"] = bool(np.all(np.abs(g) <= 10.0)) if g.size else None
    if kind == "regression" and props["bounded gradient"]:
        # redescending: the pull ψ of an outlier at 10⁴ is under 1 % of the largest within ±4
        peak = float(np.max(np.abs(chart.gradients[name][ok])))
        props["redescending"] = bool(g.size and np.all(np.abs(g) <= 0.01 * peak))
    props["axis"] = chart.xlabel + (f" ({chart.notes[name]})" if name in chart.notes else "")
    return props


def _loss(name: str) -> Explanation:
    from losslab.losses.embedding import BATCH_LOSSES

    if name in BATCH_LOSSES:
        return _batch_loss(name)
    from losslab.losses import LOSSES

    loss = LOSSES.get(name)
    props = loss_properties(name)
    words = []
    axis = {"regression": "the residual", "positive": "ŷ"}.get(loss.task, "the margin")
    if loss.score_input:
        axis = "the log rate"
    if props.get("convex") is not None:
        words.append(f"{'convex' if props['convex'] else 'not convex'} in {axis}")
    if props.get("bounded gradient") is not None:
        words.append(
            "robust to outliers (bounded gradient)"
            if props["bounded gradient"]
            else "outliers dominate (the gradient grows with the error)"
        )
    if props.get("redescending"):
        words.append("redescending (ψ = ρ′ → 0: far outliers lose their pull)")
    if props["margin-based"]:
        words.append("margin-based (a function of t·s)")
    sections = [
        ("formula", loss.formula),
        ("definition", _doc(loss.per_row)),
        ("gradient", _doc(loss.row_grad)),
        ("inputs", props["inputs"]),
        ("properties", "; ".join(words) or "—"),
        ("when to use", ADVICE["loss"].get(name, "")),
    ]
    if name in EMBEDDING:
        sections[-1:-1] = _embedding_sections(name)
    return Explanation("loss", name, f"{name} ({loss.task} loss)", sections,
                       _parameter_rows(loss.hypers), props)  # fmt: skip


def _embedding_sections(name: str) -> list[tuple[str, str]]:
    """Training an embedding with ``name``: the batch loss's definition (its function's
    docstring), what its gradient does, and how the pairs or triplets are mined (the module's
    own paragraph; supcon takes every anchor with a positive)."""
    from losslab.losses import embedding as emb

    batch = {"contrastive": emb.contrastive_batch, "triplet": emb.triplet_batch}
    if name == "supcon":
        mining = (
            "none: every anchor with at least one positive, against every other row of the "
            "batch (--mining is refused)"
        )
    else:
        mining = (
            "--mining picks triplets (a, p, n) from each minibatch: all (default) every one "
            "with a ≠ p, label(p) = label(a), label(n) ≠ label(a), O(B³) per batch in chunks of "
            "anchors; semi-hard per anchor–positive pair the nearest negative farther than the "
            "positive (FaceNet); hard per anchor its farthest positive and nearest negative "
            "(batch-hard); random one positive and one negative per anchor, from --seed"
        )
        if name == "contrastive":
            mining += "; contrastive takes every pair i < j with all, else the mined (a, p), (a, n)"
    mining += "; a batch without a positive pair is skipped and counted"
    training = (
        f"fit DATA --loss {name} trains an embedding network: the model (linear, mlp or cnn) "
        "ends in --embed-dim outputs (default 2) with no head; the labels only say which rows "
        "of each minibatch are similar. Metrics: k-NN accuracy knn1, knn5"
    )
    return [
        ("training", training),
        ("batch loss", _doc(batch.get(name, emb.supcon_batch))),
        ("embedding gradient", EMBEDDING[name]["gradient"]),
        ("mining", mining),
    ]


def _batch_loss(name: str) -> Explanation:
    """A batch loss of an embedding: its formula, how it trains, its gradient and mining."""
    from losslab.losses.embedding import PAIR_LOSSES, find_loss

    loss = find_loss(name)
    props: dict[str, Any] = {
        "task": loss.task,
        "inputs": loss.inputs,
        "margin-based": False,
        "batch loss": True,
        "mining": name in PAIR_LOSSES,
        "convex": None,
        "bounded gradient": None,
    }
    sections = [
        ("formula", loss.formula),
        *_embedding_sections(name),
        ("inputs", loss.inputs),
        ("when to use", EMBEDDING[name]["when to use"]),
    ]
    return Explanation("loss", name, f"{name} ({loss.task} batch loss)", sections,
                       _parameter_rows(loss.hypers), props)  # fmt: skip


# --------------------------------------------------------------------------- optimizers


def optimizer_properties(name: str) -> dict[str, Any]:
    """Read from the rule: the buffers it keeps (momentum, second moments), the batch it needs,
    what it steps on, where it evaluates."""
    from losslab.optim.optimizers import OPTIMIZERS

    spec = OPTIMIZERS.get(name)
    rule = spec.rule(**spec.hyper_defaults)
    buffers = rule.buffer_names()
    # measured: the numbers its state holds right after init, on a 40×30 weight and 30 biases
    # (in torch's layout where the rule steps on tensors), per parameter
    params = [np.ones((30, 40)), np.ones(30)]
    state = rule.init(params)
    held = sum(a.size for buf in state.buffers for a in buf.values())
    ratio = held / sum(p.size for p in params)
    memory = "none beyond θ" if held == 0 else f"{ratio:.2g} × the parameters"
    if "history_size" in spec.hyper_defaults:  # L-BFGS's curvature pairs arrive with the steps
        memory = f"2·history_size vectors the size of θ (the last {rule.history_size} pairs)"
    return {
        "buffers per parameter": list(buffers),
        "memory": memory,
        "full batch only": rule.full_batch,
        "needs the optimum f*": rule.needs_optimum,
        "steps on": "each layer's tensors" if rule.layout == "tensors" else "θ as one vector",
        "evaluated at": "the averaged point x" if rule.evaluates_elsewhere else "θ",
    }


def _optimizer(name: str) -> Explanation:
    from losslab.nn.models import MODELS
    from losslab.optim.optimizers import OPTIMIZERS

    spec = OPTIMIZERS.get(name)
    props = optimizer_properties(name)
    linear = dict(MODELS.get("linear").default_lrs).get(name)
    lr = f"{spec.default_lr:g}" + (f" (linear regression {linear:g})" if linear else "")
    facts = [f"keeps {props['memory']}"]
    if props["full batch only"]:
        facts.append("full batch only")
    if props["needs the optimum f*"]:
        facts.append("needs the exact optimum f*")
    if props["steps on"] != "θ as one vector":
        facts.append(f"steps on {props['steps on']}")
    if props["evaluated at"] != "θ":
        facts.append(f"evaluated at {props['evaluated at']}")
    sections = [
        ("update", spec.description),
        ("rule", _doc(spec.rule, paragraphs=2)),
        ("reference", spec.reference),
        ("defaults", f"lr {lr}, batch {spec.default_batch_size or 'full'}"),
        ("properties", "; ".join(facts)),
        ("when to use", ADVICE["optimizer"].get(name, "")),
    ]
    return Explanation("optimizer", name, f"{name} (optimizer)", sections,
                       _parameter_rows(spec.hypers), props)  # fmt: skip


# --------------------------------------------------------------------------- schedules


def _schedule(name: str) -> Explanation:
    from losslab.optim.schedules import SCHEDULES

    entry = SCHEDULES.get(name)
    props = {"default unit": entry.unit, "stateful": entry.build is None}
    sections = [
        ("lr at unit e", entry.description),
        ("reference", entry.reference),
        (
            "properties",
            f"per {entry.unit} by default (--schedule-unit); "
            + ("reacts to the monitored loss" if props["stateful"] else "a closed form in e"),
        ),
        ("when to use", ADVICE["schedule"].get(name, "")),
    ]
    return Explanation("schedule", name, f"{name} (lr schedule)", sections,
                       _parameter_rows(entry.params), props)  # fmt: skip
