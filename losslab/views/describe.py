"""A run's settings in words, as a reader chose them: what `losslab report` shows of a run.

A record's config.json holds every setting, each schedule's, loss's and optimizer's parameter
among them (``factor 1.0, total_iters 50`` for a constant lr). Here a run is told by the
settings that shape it: the chosen loss's, optimizer's and schedule's own parameters and no
other's, a penalty or an early stop only when there is one, and the data's preparation as a
sentence.
"""

from __future__ import annotations

from typing import Any

from losslab.hyper import shown
from losslab.views.numbers import plural

SCALING = {
    "standard": "standardised by the training rows' mean and standard deviation",
    "minmax": "scaled to [0, 1] by the training rows' minimum and maximum",
    "none": "not scaled",
}


def preparation(config: dict[str, Any], prep: dict[str, Any] | None) -> str:
    """What was done to the rows and features, as one sentence."""
    prep = prep or {}
    scale = config.get("scale") or ("standard" if config.get("standardize", True) else "none")
    parts = [f"features {SCALING.get(scale, scale)}"]
    if prep.get("dropped_rows"):
        parts.append(f"{plural(prep['dropped_rows'], 'row')} with missing values dropped")
    if prep.get("imputed"):
        filled = ", ".join(f"{c} ({k})" for c, k in prep["imputed"].items())
        parts.append(f"missing values filled with the training {prep['missing']}: {filled}")
    elif not prep.get("dropped_rows"):
        parts.append("no missing values to handle")
    if prep.get("zero_weight_rows"):
        parts.append(f"{plural(prep['zero_weight_rows'], 'training row')} of weight 0 left out")
    if isinstance(prep.get("onehot"), dict) and prep["onehot"]:
        columns = ", ".join(f"{c} ({plural(k, 'category', 'categories')})" for c, k in
                            prep["onehot"].items())  # fmt: skip
        parts.append(f"one 0/1 column per category of {columns}")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _values(names: Any, config: dict[str, Any], defaults: dict[str, Any]) -> str:
    return ", ".join(
        f"{n.replace('_', ' ')} {shown(config.get(n, defaults.get(n)))}" for n in names
    )


def run_settings(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, words) of a run's data, model, loss, optimizer, schedule and training, from its
    config.json."""
    from losslab.losses import LOSSES
    from losslab.optim.optimizers import OPTIMIZERS
    from losslab.optim.schedules import SCHEDULES
    from losslab.views.render import architecture

    data = config.get("data_file") or {}
    features = config.get("features") or []
    shown_features = ", ".join(features[:6]) + (
        f", … ({len(features)})" if len(features) > 6 else ""
    )
    rows = [f"{plural(data['train_rows'], 'training row')}"] if "train_rows" in data else []
    if data.get("val_rows"):
        rows.append(plural(data["val_rows"], "validation row"))
    if "test_rows" in data:
        where = f" from {config['test_data']}" if config.get("test_data") else ""
        rows.append(plural(data["test_rows"], "test row") + where)
    described = [
        (
            "data",
            f"{config.get('data')}: target {config.get('target')}; features {shown_features}"
            + (f"; {', '.join(rows)}" if rows else "")
            + (
                f"; rows weighted by {config['weight_column']}"
                if config.get("weight_column")
                else ""
            ),
        ),
        ("preparation", preparation(config, data.get("preparation"))),
    ]
    model = architecture(config)
    if config.get("hidden") or config.get("layers"):
        model += f", {config.get('init') or 'torch'} initial weights"
    if config.get("init_from"):
        model += f", starting from {config['init_from']}"
    described.append(("model", model))

    loss = config.get("loss")
    words = [str(loss)]
    if loss in LOSSES:
        params = LOSSES.get(loss).params
        if params:
            words.append(_values(params, config, params))
    for name, what in (("l1", "L1 penalty"), ("l2", "L2 penalty")):
        if config.get(name):
            words.append(f"{what} {config[name]:g}")
    if config.get("class_weight"):
        words.append(f"class weights {config['class_weight']}")
    described.append(("loss", ", ".join(words)))

    optimizer = config.get("optimizer")
    batch = config.get("batch_size")
    words = [f"{optimizer}, lr {config.get('lr'):g}, batch {batch or 'full (one step per epoch)'}"]
    if optimizer in OPTIMIZERS:
        spec = OPTIMIZERS.get(optimizer)
        if spec.hyper_defaults:
            words.append(_values(spec.hyper_defaults, config, spec.hyper_defaults))
    if config.get("clip_norm") is not None:
        words.append(f"gradient norm clipped at {config['clip_norm']:g}")
    if batch and config.get("shuffle") == "once":
        words.append("rows shuffled once, batch order permuted each epoch")
    if config.get("dtype") == "float32":
        words.append("in float32")
    described.append(("optimizer", "; ".join(words)))

    schedule = config.get("schedule") or "constant"
    unit = config.get("schedule_unit") or "epoch"
    if schedule == "constant" and config.get("factor") in (None, 1, 1.0):
        text = "constant lr"
    else:
        text = f"{schedule}, per {unit}"
        if schedule in SCHEDULES:
            entry = SCHEDULES.get(schedule)
            defaults = {h.name: h.default for h in entry.params}
            if defaults:
                text += ": " + _values(defaults, config, defaults)
    if config.get("warmup"):
        text += f", after {plural(config['warmup'], unit)} of linear warm-up"
    described.append(("schedule", text))

    training = [plural(config.get("epochs") or 0, "epoch"), f"seed {config.get('seed')}"]
    if config.get("patience") is not None:
        monitored = "validation" if data.get("val_rows") else "training"
        training.append(
            f"stops after {plural(config['patience'], 'epoch')} without a {monitored}-loss "
            f"improvement of {config.get('tol'):g}"
        )
    if config.get("divergence_factor") not in (None, 1e4):
        training.append(f"diverged beyond {config['divergence_factor']:g}× the first objective")
    described.append(("training", ", ".join(training)))
    return described
