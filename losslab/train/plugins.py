"""Plugins: a user's losses, optimizers and schedules, loaded from a file or an installed package
and checked before any command may use them.

A plugin is a Python file (``--plugin FILE.py``, :envvar:`LOSSLAB_PLUGINS`) or a module named by
an entry point of the groups ``losslab.losses``, ``losslab.optimizers`` and
``losslab.schedules``; it registers its entries with the public decorators
(``losslab.register_loss``, ``register_optimizer``, ``register_schedule``). Loading one is a
transaction: the registries are snapshot, the module runs, every new entry is checked, and on
any failure the registries are put back as they were, so that nothing is left registered
half-way. The checks:

- a declared :class:`~losslab.hyper.Hyper`: a valid range (low < high), a default inside it, a
  name that no run setting or command option already has;
- a loss: per-row values and gradients of the right shape and finite at points of its task's
  domain, and the gradient equal to central differences of the values (relative error at most
  :data:`GRAD_TOL`; a loss given without a gradient gets central differences, marked
  ``numeric gradient``);
- an optimizer, on a small quadratic from a fixed start: finite parameters after every step,
  parameters updated in place, a state that shares no memory with them, and the same result
  bit for bit when run twice;
- a schedule: a finite, non-negative lr for every unit of a short run.

A plugin is only ever run because the user named it or installed it: a record names its
plugins (:func:`recorded`: path and sha256) but nothing is loaded from a record.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import traceback
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from losslab.errors import ConfigError
from losslab.hyper import Hyper
from losslab.losses import DECLARED as LOSS_DECLARED
from losslab.losses import LOSSES
from losslab.losses.base import numeric_row_grad
from losslab.losses.sampling import relative_error, sample_inputs
from losslab.nn.models import MODELS
from losslab.optim import optimizers as optim
from losslab.optim import schedules as sched
from losslab.registry import NameTaken, Registry
from losslab.train.config import FitConfig

ENV = "LOSSLAB_PLUGINS"
GROUPS = {
    "losslab.losses": "loss",
    "losslab.optimizers": "optimizer",
    "losslab.schedules": "schedule",
}
GRAD_TOL = 1e-5
QUADRATIC_STEPS = 5
# Names a declared setting may not take: the options of the commands that are not run settings.
RESERVED = frozenset(
    {"plugin", "format", "jobs", "seeds", "save", "out", "executor", "scheduler", "progress",
     "resume", "tune", "logits", "help", "version", "name"}
)  # fmt: skip
REGISTRIES: dict[str, Registry[Any]] = {
    "loss": LOSSES,
    "optimizer": optim.OPTIMIZERS,
    "schedule": sched.SCHEDULES,
}
# The models a plugin's loss trains, by its task: a regression loss reads the score as the
# prediction; a classification loss must read the scores as logits (supports_logits=True).
MODELS_OF_TASK = {
    "regression": ("linear", "mlp", "cnn"),
    "binary": ("logistic", "mlp", "cnn"),
    "multiclass": ("softmax", "mlp", "cnn"),
}


class PluginError(ConfigError):
    """A plugin that cannot be loaded or fails a check: one line naming the file."""


@dataclass(frozen=True)
class Check:
    """One check of one entry: what was checked, whether it held, and the figure or reason."""

    kind: str
    name: str
    what: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Plugin:
    """A loaded plugin: where it came from, its digest, what it registered, how its checks went."""

    path: str
    sha256: str
    origin: str  # --plugin, LOSSLAB_PLUGINS, entry point GROUP, a worker
    entries: list[tuple[str, str]] = field(default_factory=list)  # (kind, name)
    checks: list[Check] = field(default_factory=list)
    text: str | None = None  # the source, for workers that cannot read the file

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "origin": self.origin,
            "entries": [{"kind": k, "name": n} for k, n in self.entries],
            "checks": [c.to_dict() for c in self.checks],
        }


LOADED: dict[str, Plugin] = {}  # by path (a file's resolved path, an entry point's value)


def loaded() -> list[Plugin]:
    return list(LOADED.values())


def owner(kind: str, name: str) -> Plugin | None:
    """The plugin that registered ``name`` (None: a built-in entry)."""
    return next((p for p in LOADED.values() if (kind, name) in p.entries), None)


def recorded() -> list[dict[str, str]]:
    """The plugins a record names: path and sha256 of each (loaded only when named again)."""
    return [{"path": p.path, "sha256": p.sha256} for p in LOADED.values()]


# --------------------------------------------------------------------------- loading


def load_plugin(path: str | os.PathLike[str], origin: str = "--plugin") -> Plugin:
    """Load, check and register the plugin file ``path`` (again: nothing new); PluginError naming
    the file (and the line, for an error while it runs) otherwise, with nothing registered."""
    where = Path(path).expanduser()
    if where.suffix != ".py":
        raise PluginError(f"plugin {path}: expected a Python file (.py)")
    try:
        data = where.read_bytes()
        resolved = str(where.resolve())
    except OSError as exc:
        raise PluginError(f"plugin {path}: cannot read it ({exc.strerror or exc})") from None
    return load_source(resolved, data.decode("utf-8", errors="replace"), origin, shown=str(path))


def load_source(path: str, text: str, origin: str, *, shown: str | None = None) -> Plugin:
    """Load the plugin whose source is ``text`` as if read from ``path`` (a worker that cannot
    read the file gets its text); the same path and digest twice loads it once."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    shown = shown or path
    have = LOADED.get(path)
    if have is not None:
        if have.sha256 != digest:
            raise PluginError(f"plugin {shown}: changed since it was loaded (sha256 differs)")
        return have
    name = f"losslab_plugin_{Path(path).stem}_{digest[:12]}"

    def run() -> None:
        spec = importlib.util.spec_from_loader(name, loader=None, origin=path)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        module.__file__ = path
        sys.modules[name] = module
        try:
            exec(compile(text, path, "exec"), module.__dict__)  # the plugin the user named
        except BaseException:
            sys.modules.pop(name, None)
            raise

    plugin = Plugin(path, digest, origin, text=text)
    _transaction(plugin, run, shown, path)
    return plugin


def load_entry_points() -> list[Plugin]:
    """The installed plugins of the groups in :data:`GROUPS` not loaded yet, loaded and checked."""
    from importlib.metadata import entry_points

    out = []
    for group in GROUPS:
        for ep in entry_points(group=group):
            key = f"{ep.value}"
            if key in LOADED:
                continue
            plugin = Plugin(key, _module_digest(ep.module), f"entry point {group}: {ep.name}")
            _transaction(plugin, ep.load, f"{ep.value} (entry point {ep.name})", None)
            out.append(plugin)
    return out


def from_env(environ: dict[str, str] | None = None) -> list[str]:
    """The files :envvar:`LOSSLAB_PLUGINS` names (separated by ``os.pathsep``)."""
    value = (os.environ if environ is None else environ).get(ENV, "")
    return [p for p in value.split(os.pathsep) if p.strip()]


def load_all(files: Iterable[str] = (), *, entry_points: bool = True) -> list[Plugin]:
    """The plugins of :envvar:`LOSSLAB_PLUGINS`, ``files`` (``--plugin``) and the installed
    entry points, each loaded once, in that order."""
    out = [load_plugin(p, ENV) for p in from_env()]
    out += [load_plugin(p) for p in files]
    if entry_points:
        out += load_entry_points()
    return out


def shipped() -> tuple[tuple[str, str, str | None], ...]:
    """(path, sha256, source) of every plugin loaded: what workers load (:func:`ensure`); an
    installed plugin's source is None (the workers load their own entry points)."""
    return tuple((p.path, p.sha256, p.text) for p in LOADED.values())


def ensure(sources: Iterable[tuple[str, str, str | None]]) -> None:
    """In a worker: load the plugins :func:`shipped` names that this process lacks."""
    for path, digest, text in sources:
        have = LOADED.get(path)
        if have is not None and have.sha256 == digest:
            continue
        if text is None:
            load_entry_points()
            if path not in LOADED:
                raise PluginError(f"plugin {path}: an entry point this worker has not installed")
        else:
            load_source(path, text, "worker")


def _module_digest(module: str) -> str:
    spec = importlib.util.find_spec(module.split(":")[0])
    origin = getattr(spec, "origin", None)
    try:
        return hashlib.sha256(Path(origin).read_bytes()).hexdigest() if origin else ""
    except OSError:
        return ""


# --------------------------------------------------------------------------- the transaction


def snapshot() -> Any:
    """Every registry, declaration table and loaded plugin as they are, for :func:`restore`."""
    tables = (LOSS_DECLARED, optim.DECLARED, sched.DECLARED)
    return (
        [(r, r.snapshot()) for r in (*REGISTRIES.values(), MODELS)],
        [(t, {k: list(v) for k, v in t.items()}) for t in tables],
        list(optim.HYPERPARAMETERS),
        dict(LOADED),
    )


def restore(saved: Any) -> None:
    """Put back what :func:`snapshot` saw: every plugin loaded since is gone."""
    registries, tables, names, plugins = saved
    for registry, snap in registries:
        registry.restore(snap)
    for table, copy in tables:
        table.clear()
        table.update(copy)
    optim.HYPERPARAMETERS[:] = names
    LOADED.clear()
    LOADED.update(plugins)


@contextmanager
def _rollback() -> Iterator[None]:
    """Put every registry and declaration table back as it was if the body raises."""
    saved = snapshot()
    try:
        yield
    except BaseException:
        restore(saved)
        raise


def _transaction(plugin: Plugin, run: Any, shown: str, path: str | None) -> None:
    before = {kind: set(r.names()) for kind, r in REGISTRIES.items()}
    with _rollback():
        try:
            run()
        except NameTaken as exc:
            had = owner(exc.kind, exc.key)
            by = f"plugin {had.path}" if had else "a built-in"
            raise PluginError(
                f"plugin {shown}:{_line(exc, path)} {exc.kind} {exc.key!r} is taken by {by} "
                f"{exc.kind}; choose another name"
            ) from None
        except Exception as exc:
            said = exc.msg if isinstance(exc, SyntaxError) else exc
            raise PluginError(
                f"plugin {shown}:{_line(exc, path)} {type(exc).__name__}: {said}"
            ) from None
        for kind, registry in REGISTRIES.items():
            plugin.entries += [(kind, n) for n in registry.names() if n not in before[kind]]
        for kind, name in plugin.entries:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a failing check says what went wrong
                plugin.checks += check_entry(kind, name)
            if kind == "loss":
                _attach(LOSSES.get(name))
        failed = next((c for c in plugin.checks if not c.ok), None)
        if failed is not None:
            raise PluginError(
                f"plugin {shown}: {failed.kind} {failed.name!r} fails the {failed.what} check: "
                f"{failed.detail}"
            )
    LOADED[plugin.path] = plugin


def _attach(loss: Any) -> None:
    """Make ``loss`` a compatible loss of the models its task trains (:data:`MODELS_OF_TASK`)."""
    if loss.task != "regression" and not loss.supports_logits:
        return  # eval, shapes, explain and gradcheck take it; no model feeds it
    for kind in MODELS_OF_TASK.get(loss.task, ()):
        model = MODELS.get(kind)
        MODELS.replace(kind, replace(model, losses=(*model.losses, loss.name)))


def _line(exc: BaseException, path: str | None) -> str:
    """`` line N:`` of the plugin file where ``exc`` was raised (or its syntax error is)."""
    if isinstance(exc, SyntaxError) and exc.filename == path and exc.lineno:
        return f" line {exc.lineno}:"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return f" line {frames[-1].lineno}:" if frames else ""


# --------------------------------------------------------------------------- the checks


def check_entry(kind: str, name: str) -> list[Check]:
    """The checks of one registered entry, its declared settings first."""
    entry = REGISTRIES[kind].get(name)
    hypers = {"loss": "hypers", "optimizer": "hypers", "schedule": "params"}[kind]
    out = [check_hyper(kind, name, h) for h in getattr(entry, hypers)]
    if all(c.ok for c in out):
        out += {"loss": check_loss, "optimizer": check_optimizer, "schedule": check_schedule}[kind](
            entry
        )
    return out


def check_hyper(kind: str, owner_name: str, h: Hyper) -> Check:
    """A declared setting: its range, its default, its name."""
    what = f"--{h.name.replace('_', '-')}"

    def result(problem: str | None) -> Check:
        return Check(kind, owner_name, what, problem is None, problem or h.range_text())

    if not isinstance(h, Hyper):
        return result(f"{h!r} is not a losslab Hyper")
    if h.name in RESERVED or h.name in {f.name for f in fields(FitConfig)}:
        return result(f"{h.name!r} is already a setting of every run; choose another name")
    if h.kind not in (float, int, bool, str, tuple):
        return result(f"kind must be float, int, bool, str or tuple, got {h.kind!r}")
    if h.low is not None and h.high is not None and not h.low < h.high:
        return result(f"low {h.low:g} must be below high {h.high:g}")
    try:
        h.check(h.default)
    except ConfigError:
        return result(f"default {h.default!r} is outside its range {h.range_text()}")
    return result(None)


def check_loss(loss: Any) -> list[Check]:
    """Values and gradient at points of the loss's domain (probabilities, and logits for a loss
    that takes them); the gradient against central differences (relative error ≤
    :data:`GRAD_TOL`)."""
    out: list[Check] = []
    for logits in (False, True) if loss.supports_logits else (False,):
        out += _check_loss_at(loss, logits)
        if not all(c.ok for c in out):
            break
    return out


def _check_loss_at(loss: Any, logits: bool) -> list[Check]:
    kw = dict(loss.params)
    mode = " (logits)" if logits else ""

    def result(what: str, problem: str | None, detail: str = "ok") -> Check:
        return Check("loss", loss.name, what + mode, problem is None, problem or detail)

    try:
        y, out = sample_inputs(loss, logits)
        rows = np.asarray(loss.per_row(y, out, logits=logits, **kw), dtype=np.float64)
    except Exception as exc:
        return [result("value", f"raises {type(exc).__name__}: {exc}")]
    problem = _array_problem(rows, (out.shape[0],), "value")
    checks = [result("value", problem)]
    if problem is not None:
        return checks
    if loss.numeric_grad:
        return [*checks, result("gradient", None, "numeric gradient")]
    try:
        g = np.asarray(loss.row_grad(y, out, logits=logits, **kw), dtype=np.float64)
    except Exception as exc:
        return [*checks, result("gradient", f"raises {type(exc).__name__}: {exc}")]
    problem = _array_problem(g, out.shape, "gradient")
    if problem is None:
        fd = numeric_row_grad(loss.per_row)(y, out, logits=logits, **kw)
        error = relative_error(g, fd, float(np.max(np.abs(rows))))
        if not error <= GRAD_TOL:
            problem = (
                f"worst relative error {error:.3g} against central differences (> {GRAD_TOL:g})"
            )
        return [*checks, result("gradient", problem, f"relative error {error:.2g}")]
    return [*checks, result("gradient", problem)]


def _array_problem(a: np.ndarray, shape: tuple[int, ...], what: str) -> str | None:
    if a.shape != shape:
        return f"returns shape {a.shape}, expected {shape} (one {what} per row)"
    bad = np.flatnonzero(~np.isfinite(a).reshape(a.shape[0], -1).all(axis=1))
    if bad.size:
        return f"returns {a.reshape(a.shape[0], -1)[bad[0]].tolist()} (not finite) at row {bad[0]}"
    return None


def _quadratic() -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """f(θ) = Σ ½·a·θ² − c·θ over a (3, 2) weight and a (2,) bias: curvatures a and the start."""
    a = [np.array([[1.0, 2.0], [0.5, 4.0], [3.0, 1.5]]), np.array([2.0, 0.25])]
    c = [np.array([[1.0, -1.0], [0.5, 2.0], [-0.5, 1.0]]), np.array([0.5, -1.0])]
    start = [np.array([[0.3, -0.2], [1.0, 0.5], [-0.7, 0.1]]), np.array([0.4, -0.6])]
    return a, c, start


def _states(obj: Any, depth: int = 0) -> Iterator[np.ndarray]:
    """Every array an optimizer's state holds (in dicts, sequences, attributes)."""
    if depth > 6:
        return
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _states(v, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _states(v, depth + 1)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        yield from _states(vars(obj), depth + 1)


def _run_quadratic(spec: Any) -> list[np.ndarray]:
    """``QUADRATIC_STEPS`` steps of the optimizer at its defaults; PluginError-free: a problem is
    raised as AssertionError with its reason."""
    a, c, start = _quadratic()
    params = [s.copy() for s in start]
    opt = spec()
    state = opt.init(params)
    for k in range(1, QUADRATIC_STEPS + 1):
        grads = [ai * p - ci for ai, p, ci in zip(a, params, c, strict=True)]
        opt.step(params, grads, state, spec.default_lr)
        for i, p in enumerate(params):
            if not np.isfinite(p).all():
                raise AssertionError(f"parameter {i} is not finite after step {k}")
        for arr in _states(state):
            if any(np.shares_memory(arr, p) for p in params):
                raise AssertionError("its state shares memory with the parameters (copy them)")
    if all(np.array_equal(s, p) for s, p in zip(start, params, strict=True)):
        raise AssertionError(
            f"the parameters are unchanged after {QUADRATIC_STEPS} steps (update them in place: "
            "p -= …)"
        )
    return params


def check_optimizer(spec: Any) -> list[Check]:
    """A few steps on a small quadratic, twice from the same start."""

    def result(what: str, problem: str | None, detail: str = "ok") -> Check:
        return Check("optimizer", spec.name, what, problem is None, problem or detail)

    try:
        first = _run_quadratic(spec)
        second = _run_quadratic(spec)
    except AssertionError as exc:
        return [result("quadratic", str(exc))]
    except Exception as exc:
        return [result("quadratic", f"raises {type(exc).__name__}: {exc}")]
    same = all(np.array_equal(x, y) for x, y in zip(first, second, strict=True))
    return [
        result("quadratic", None, f"{QUADRATIC_STEPS} steps: finite, in place"),
        result("determinism", None if same else "two runs from the same start differ"),
    ]


def check_schedule(schedule: Any) -> list[Check]:
    """A finite, non-negative lr for each unit of a 20-unit run from lr 0.1."""
    units = 20
    try:
        params = schedule.resolve({})
        rate = schedule.build(0.1, units, params)
        lrs = [rate(e) for e in range(units)]
    except Exception as exc:
        problem: str | None = f"raises {type(exc).__name__}: {exc}"
    else:
        bad = [e for e, v in enumerate(lrs) if not (np.isfinite(v) and v >= 0)]
        problem = f"lr {lrs[bad[0]]!r} at unit {bad[0]} (must be finite and >= 0)" if bad else None
    return [Check("schedule", schedule.name, "lrs", problem is None, problem or f"{units} units")]
