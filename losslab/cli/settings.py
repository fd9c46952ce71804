"""Flag values -> the settings of a run (:class:`losslab.train.config.FitConfig` fields), one
function per group: data, model, loss, optimizer, schedule, run.

Each command passes its flags by name, so that `--lr` can be followed from the flag to the call.
A flag some command does not have defaults to :data:`NO_FLAG` and is left out, so that the
setting keeps its own default (or, in lr-find, the sweep's). The flags a registry declares
arrive as one dict each (``hyper``, ``loss_args``, ``schedule_params``: see
:func:`losslab.cli.common.declared_options`), None where not given.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

NO_FLAG: Any = object()  # this command has no such flag: the setting is left out


def _present(**settings: Any) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if v is not NO_FLAG}


def _name(value: Any) -> Any:
    """A choice's name; None (not given) and NO_FLAG as they are."""
    return value.value if isinstance(value, Enum) else value


def _given(declared: dict[str, Any] | None) -> dict[str, Any]:
    """The declared flags given (None is "the owner's default")."""
    return {k: v for k, v in (declared or {}).items() if v is not None}


def _columns(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ["a", "b"]."""
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


def data_settings(
    *,
    sep: str | None,
    target: str | None,
    features: str | None,
    test_size: float,
    standardize: bool,
    scale: str | None,
    missing: Enum,
    categorical: Enum,
    seed: int = NO_FLAG,
    val_size: float | None = NO_FLAG,
    test_data: str | None = NO_FLAG,
    weight_column: str | None = NO_FLAG,
    exclude: str | None = None,
    target_scale: str = NO_FLAG,
) -> dict[str, Any]:
    """The rows and columns read, the split and the preparation; ``--features a, b`` (and
    ``--exclude``) is a list."""
    return _present(
        sep=sep,
        target=target,
        features=_columns(features),
        exclude=_columns(exclude),
        weight_column=weight_column,
        seed=seed,
        test_size=test_size,
        val_size=val_size,
        test_data=test_data,
        standardize=standardize,
        scale=scale,
        target_scale=target_scale,
        missing=_name(missing),
        categorical=_name(categorical),
    )


def model_settings(
    *,
    model: str | None,
    image: str | None,
    activation: str | None,
    init: str | None,
    hidden: str | None = NO_FLAG,
    layers: str | None = NO_FLAG,
    init_from: str | None = NO_FLAG,
    embed_dim: int | None = NO_FLAG,
) -> dict[str, Any]:
    """The model, a network's layers and its initial weights."""
    return _present(
        embed_dim=embed_dim,
        model=model,
        hidden=hidden,
        layers=layers,
        image=image,
        activation=activation,
        init=init,
        init_from=init_from,
    )


def loss_settings(
    *,
    loss_args: dict[str, Any] | None,
    l1: float,
    l2: float | None,
    loss: str | None = NO_FLAG,
    class_weight: str | None = NO_FLAG,
    mining: str | None = NO_FLAG,
    temperature: float | None = NO_FLAG,
    swap: bool = NO_FLAG,
) -> dict[str, Any]:
    """The loss, its declared parameters, the class weights and the penalties; the embedding
    losses' mining, temperature and swap."""
    return _present(
        loss=loss,
        loss_args=_given(loss_args),
        class_weight=class_weight,
        l1=l1,
        l2=l2,
        mining=mining,
        temperature=temperature,
        swap=swap,
    )


def optimizer_settings(
    *,
    hyper: dict[str, Any] | None,
    clip_norm: float | None,
    shuffle: Enum,
    optimizer: str = NO_FLAG,
    lr: float | None = NO_FLAG,
    batch_size: str | None = NO_FLAG,
    dtype: Enum = NO_FLAG,
) -> dict[str, Any]:
    """The optimizer, its lr and declared hyperparameters, the batches and the precision."""
    return _present(
        optimizer=optimizer,
        lr=lr,
        hyper=_given(hyper),
        batch_size=batch_size,
        clip_norm=clip_norm,
        shuffle=_name(shuffle),
        dtype=_name(dtype),
    )


def schedule_settings(
    *,
    schedule: str,
    warmup: int,
    schedule_unit: Enum | None,
    schedule_params: dict[str, Any] | None,
) -> dict[str, Any]:
    """The lr schedule, its warm-up, unit and declared parameters."""
    return {
        "schedule": schedule,
        "warmup": warmup,
        "schedule_unit": _name(schedule_unit),
        "schedule_params": _given(schedule_params),
    }


def run_settings(
    *,
    divergence_factor: float,
    epochs: int = NO_FLAG,
    patience: int | None = NO_FLAG,
    tol: float = NO_FLAG,
) -> dict[str, Any]:
    """How long a run trains and when it stops early."""
    return _present(epochs=epochs, patience=patience, tol=tol, divergence_factor=divergence_factor)
