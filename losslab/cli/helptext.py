"""How a command's --help reads: its options in panels (Data, Model, Loss, Optimizer, …) and its
examples.

The help stays click's plain text (the app's ``rich_markup_mode`` is None: no boxes, no markup
read into a flag's help, the same text in a terminal and in a pipe); :class:`HelpCommand` only
groups the options under headings and prints the examples as written. A setting's panel is the
settings group it belongs to (:mod:`losslab.cli.settings`, one function per group of
:data:`losslab.train.config.GROUPS`), so a flag added to a group lands in its panel.
"""

from __future__ import annotations

import inspect
from gettext import gettext as _
from typing import Any

from typer.core import TyperCommand

from losslab.cli import settings

# the panel of each settings group (the functions of losslab.cli.settings)
GROUP_PANELS = (
    (settings.data_settings, "Data"),
    (settings.model_settings, "Model"),
    (settings.loss_settings, "Loss"),
    (settings.optimizer_settings, "Optimizer"),
    (settings.schedule_settings, "Schedule"),
    (settings.run_settings, "Training"),
)
# the flags a registry declares (cli.common.declared_options), by the parameter they gather into
DECLARED_PANELS = {
    "loss_args": "Loss parameters",
    "schedule_params": "Schedule parameters",
    "hyper": "Optimizer hyperparameters",
}
# flags that belong to no settings group
OTHER_PANELS = {
    "stream": "Data",
    "chunk_rows": "Data",
    "seeds": "Training",
    "target_loss": "Training",
    "more_data": "Data",
    "threads": "Training",
    "jobs": "Execution",
    "executor": "Execution",
    "scheduler": "Execution",
    "config": "Study",
    "save_config": "Study",
    "resume": "Study",
    "cache": "Study",
    "no_cache": "Study",
    "allow_changed_data": "Study",
    "fmt": "Output",
    "progress": "Output",
    "out": "Output",
    "no_save": "Output",
    "plot": "Output",
    "dpi": "Output",
    "size": "Output",
    "plugin": "Plugins",
}
# the order of the panels: the command's own options first, the long declared lists last
ORDER = (
    "Options", "Data", "Model", "Loss", "Optimizer", "Schedule", "Training", "Execution",
    "Study", "Output", "Plugins", "Loss parameters", "Schedule parameters",
    "Optimizer hyperparameters",
)  # fmt: skip
# a command with fewer options than this lists them in one panel (its declared ones apart)
GROUPED_FROM = 25


def setting_panels() -> dict[str, str]:
    """The panel of every flag named by a settings group, or by :data:`OTHER_PANELS`."""
    panels = {
        name: panel
        for fn, panel in GROUP_PANELS
        for name in inspect.signature(fn).parameters
        if name not in DECLARED_PANELS
    }
    return {**panels, **OTHER_PANELS}


# Two or three examples per command, each fast as written: tests/test_help.py runs them all as
# a shell would (in this order, in an empty directory, globs expanded, `> FILE` honoured), so a
# later example may read what an earlier one saved.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "eval": (
        "losslab eval diabetes-predictions --loss mse --loss huber",
        "losslab eval iris-probabilities --loss all",
        "losslab eval breast-cancer-probabilities --loss bce --format json",
    ),
    "losses": ("losslab losses", "losslab losses --format csv"),
    "optimizers": ("losslab optimizers", "losslab optimizers --format json"),
    "schedules": ("losslab schedules", "losslab schedules --format csv"),
    "datasets": ("losslab datasets", "losslab datasets --format json"),
    "plugins": ("losslab plugins", "losslab plugins --format json"),
    "fit": (
        "losslab fit iris --epochs 30 --out runs",
        "losslab fit diabetes --optimizer sgd --schedule cosine --epochs 20 --no-save",
        "losslab fit breast-cancer --model mlp --hidden 16 --epochs 5 --no-save",
    ),
    "lr-find": (
        "losslab lr-find iris",
        "losslab lr-find diabetes --optimizer sgd --steps 50",
    ),
    "predict": (
        "losslab predict runs/*-fit-iris-* iris",
        "losslab predict runs/*-fit-iris-*/model.json iris > predictions.csv",
    ),
    "compare": (
        "losslab compare iris --optimizer sgd,adam,lion --epochs 20 --out runs",
        "losslab compare diabetes --optimizer gd,adam --loss mse,huber --epochs 10",
        "losslab compare --resume runs/*-compare-iris-*",
    ),
    "cache": (
        "losslab cache --info --cache runs/.cache",
        "losslab cache --clear --older-than 30d --cache runs/.cache",
    ),
    "plot": (
        "losslab plot runs/*-compare-iris-*",
        "losslab plot runs/*-fit-iris-* --out iris.svg",
    ),
    "shapes": (
        "losslab shapes --kind regression",
        "losslab shapes --loss hinge,bce,modified-huber --gradients",
    ),
    "explain": ("losslab explain huber", "losslab explain adam", "losslab explain one-cycle"),
    "gradcheck": ("losslab gradcheck --loss huber,cross-entropy", "losslab gradcheck --model mlp"),
    "report": (
        "losslab report runs/*-compare-iris-*",
        "losslab report runs/*-fit-iris-* --out iris.html",
    ),
    "landscape": (
        "losslab landscape rosenbrock --optimizer gd,momentum,adam",
        "losslab landscape iris --optimizer sgd,adam --epochs 5",
    ),
}


def epilog(name: str) -> str | None:
    """The examples of command ``name``, one a line."""
    return "\n".join(EXAMPLES[name]) if name in EXAMPLES else None


class HelpCommand(TyperCommand):
    """A command whose plain --help groups its options in panels and prints its examples as
    written (click would rewrap them into one paragraph)."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        params = [p for p in self.get_params(ctx) if p.get_help_record(ctx) is not None]
        options = [p for p in params if p.param_type_name == "option"]
        by_name = setting_panels() if len(options) >= GROUPED_FROM else {}
        panels: dict[str, list[tuple[str, str]]] = {}
        for param in options:
            panel = getattr(param, "rich_help_panel", None) or by_name.get(param.name, "Options")
            if by_name and param.name == "help":
                panel = "Output"  # not alone at the top of a long list
            panels.setdefault(panel, []).append(param.get_help_record(ctx))
        arguments = [p.get_help_record(ctx) for p in params if p.param_type_name == "argument"]
        if arguments:
            with formatter.section(_("Arguments")):
                formatter.write_dl(arguments)
        for panel in sorted(panels, key=lambda p: ORDER.index(p) if p in ORDER else 0):
            with formatter.section(panel):
                formatter.write_dl(panels[panel])

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        if self.epilog:
            with formatter.section(_("Examples")):
                for example in self.epilog.splitlines():
                    formatter.write(f"{'':>{formatter.current_indent}}{example}\n")
