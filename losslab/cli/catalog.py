"""The listings: `losslab losses`, `optimizers`, `schedules` and `datasets`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from losslab.cli.common import Commands, Format, FormatOpt

commands = Commands()

# --------------------------------------------------------------------------- listings


@commands.command("losses")
def losses_cmd(fmt: FormatOpt = Format.table) -> None:
    """List every loss: name, task, inputs, formula and parameters."""
    from losslab.losses import LOSSES, show_param
    from losslab.views import render

    rows = []
    for name, loss in LOSSES.items():
        params = ", ".join(f"{k}={show_param(v)}" for k, v in loss.params.items())
        aliases = ", ".join(LOSSES.aliases_of(name))
        logit = " (or logits)" if loss.supports_logits else ""
        if loss.link is not None:
            logit += f"; fit: {loss.link.formula}"
        if loss.numeric_grad:
            logit += "; numeric gradient"
        rows.append((name, aliases, loss.task, loss.inputs + logit, loss.formula, params))
    header = ["name", "aliases", "task", "inputs", "formula", "parameters"]
    obj = [dict(zip(header, row, strict=True)) for row in rows]
    render.emit(
        fmt.value,
        obj=obj,
        csv_header=header,
        csv_rows=rows,
        render=lambda: [
            render.table("Losses (value per row, then the mean)", header, rows, names=("aliases",))
        ],
    )


@commands.command("optimizers")
def optimizers_cmd(
    name: Annotated[
        str | None,
        typer.Argument(help="Show one optimizer's hyperparameters: default, range, meaning."),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List every optimizer: default lr and batch size, update rule, the reference it equals."""
    from losslab.nn.models import MODELS
    from losslab.optim.optimizers import OPTIMIZERS
    from losslab.views import render

    linear = dict(MODELS.get("linear").default_lrs)
    if name is not None:
        spec = OPTIMIZERS.get(name)
        info = spec.to_dict()
        info["lr_linear"] = linear.get(spec.name, spec.default_lr)
        info["hyperparameters"] = [h.to_dict() for h in spec.hypers]
        info["tune"] = {name: space.text() for name, space in spec.spaces.items()}
        header = ["hyperparameter", "flag", "default", "range", "--tune searches", "meaning"]
        from losslab.hyper import shown as show_default

        tuned = info["tune"]
        rows = [
            (
                h.name,
                h.flag,
                show_default(h.default),
                h.range_text(),
                tuned.get(h.name, "—"),
                h.help,
            )
            for h in spec.hypers
        ]
        title = (
            f"{spec.name}: {spec.description}\nreference: {spec.reference}; default lr "
            f"{spec.default_lr:g} (linear regression {info['lr_linear']:g}), batch "
            f"{spec.default_batch_size or 'full'}; --tune searches lr {tuned['lr']}"
        )
        render.emit(
            fmt.value,
            obj=info,
            csv_header=header,
            csv_rows=rows,
            render=lambda: [render.table(title, header, rows, digits=6)],
        )
        return
    rows, obj = [], []
    for key, spec in OPTIMIZERS.items():
        info = spec.to_dict()
        info["lr_linear"] = linear.get(key, spec.default_lr)
        obj.append(info)
        lr = f"{spec.default_lr:g}"
        if info["lr_linear"] != spec.default_lr:
            lr += f" ({info['lr_linear']:g})"
        rows.append((key, lr, spec.default_batch_size or "full", spec.description, spec.reference))
    header = ["name", "lr (linear regression)", "batch", "update", "reference"]
    render.emit(
        fmt.value,
        obj=obj,
        csv_header=header,
        csv_rows=rows,
        render=lambda: [
            render.table(
                "Optimizers (defaults); `losslab optimizers NAME` lists one's hyperparameters",
                header,
                rows,
                digits=4,
            )
        ],
    )


@commands.command("schedules")
def schedules_cmd(fmt: FormatOpt = Format.table) -> None:
    """List every lr schedule: default unit, parameters with their defaults, formula, reference.

    e counts units (epochs, or optimizer steps with --schedule-unit step) after any --warmup.
    """
    from losslab.optim.schedules import SCHEDULES
    from losslab.views import render

    rows, obj = [], []
    for name, entry in SCHEDULES.items():
        obj.append(entry.to_dict())
        params = ", ".join(
            f"{h.name}={'unset' if h.default is None else h.default}" for h in entry.params
        )
        rows.append((name, entry.unit, params, entry.description, entry.reference))
    header = ["name", "unit", "parameters", "lr at unit e", "equals"]
    render.emit(
        fmt.value,
        obj=obj,
        csv_header=header,
        csv_rows=rows,
        render=lambda: [
            render.table(
                "Learning-rate schedules (defaults)", header, rows, names=("parameters", "equals")
            )
        ],
    )


@commands.command("datasets")
def datasets_cmd(fmt: FormatOpt = Format.table) -> None:
    """List the bundled datasets: name, rows, features, target, task."""
    from losslab.data.read import DATASETS, dataset_shape
    from losslab.views import render

    rows = []
    for name, ds in DATASETS.items():
        n_rows, n_cols = dataset_shape(ds)
        features = None if ds.example else n_cols - 1
        rows.append((name, n_rows, features, ds.target, ds.task, ds.description))
    header = ["name", "rows", "features", "target", "task", "description"]
    obj = [dict(zip(header, row, strict=True)) for row in rows]
    render.emit(
        fmt.value,
        obj=obj,
        csv_header=header,
        csv_rows=rows,
        render=lambda: [
            render.table("Bundled datasets (use the name wherever DATA is asked)", header, rows)
        ],
    )


@commands.command("plugins")
def plugins_cmd(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="FILE.py",
            help="Plugin files to load and check (as --plugin does).",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List the plugins loaded (--plugin, LOSSLAB_PLUGINS, entry points) and their checks.

    A plugin is a Python file (or an installed package's module) that registers losses,
    optimizers or schedules with `losslab.register_loss`, `register_optimizer` and
    `register_schedule`. Each entry is checked when it is loaded: declared settings, a loss's
    gradient against central differences, an optimizer on a small quadratic, a schedule's lrs.
    """
    from losslab.train import plugins
    from losslab.views import render

    for path in files or []:
        plugins.load_plugin(path)
    loaded = plugins.loaded()
    header = ["plugin", "sha256", "kind", "name", "check", "result", "detail"]
    rows = [
        (
            Path(p.path).name,
            p.sha256[:12],
            c.kind,
            c.name,
            c.what,
            "ok" if c.ok else "FAILED",
            c.detail,
        )
        for p in loaded
        for c in p.checks
    ]
    render.emit(
        fmt.value,
        obj=[p.to_dict() for p in loaded],
        csv_header=header,
        csv_rows=rows,
        render=lambda: [
            render.table(
                f"Plugins loaded: {len(loaded)} (each entry checked on load)", header, rows
            )
        ],
    )
