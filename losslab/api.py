"""The library forms of the commands: ``losslab.fit``, ``evaluate``, ``compare``, ``lr_find``.

Each takes the command's options by the same names and values and returns the same result the
command renders (``to_dict()``, ``to_frame()``). This module sits above every layer: it is the
one place, besides the CLI, that joins training with records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from losslab.study.evaluate import EvalResult
    from losslab.study.summary import Study
    from losslab.train.loop import FitResult


def fit(
    data: Any = None,
    *,
    save: bool = False,
    out: str | None = None,
    stream: bool = False,
    chunk_rows: int | None = None,
    **settings: Any,
) -> FitResult:
    """Train a model as `losslab fit` does: ``data`` is a path, a bundled name or a DataFrame;
    ``settings`` are the options (``optimizer="nesterov"``, ``epochs=50`` …); ``save=True``
    writes the run record under ``out`` (default results/); ``stream=True`` reads ``data`` in
    chunks as ``fit --stream``. Returns a :class:`~losslab.train.loop.FitResult`."""
    if stream:
        from losslab.train.stream import fit as run_stream

        result = run_stream(data, chunk_rows=chunk_rows, **settings)
    else:
        from losslab.train.loop import fit as run

        if chunk_rows is not None:
            from losslab.errors import ConfigError

            raise ConfigError(f"chunk_rows={chunk_rows} needs stream=True")
        result = run(data, **settings)
    if save:
        from losslab.study.records import save_fit

        result.record = str(save_fit(result, out))
    return result


def evaluate(data: Any, losses: Any = ("all",), **options: Any) -> EvalResult:
    """Losses of prediction columns against target columns, as `losslab eval` computes them:
    ``data`` is a path, a bundled name or a DataFrame; ``losses`` one name or a list."""
    from losslab.study.evaluate import evaluate as run
    from losslab.train.prepare import table_of

    return run(table_of(data), [losses] if isinstance(losses, str) else list(losses), **options)


def compare(data: Any = None, **options: Any) -> Study:
    """A study as `losslab compare` runs it, with the CLI's options as keyword arguments
    (``optimizer=["adam", "sgd"], lr=[0.01, 0.1], seeds=3``). Returns a
    :class:`~losslab.study.compare.Study` (``to_dict()``, ``to_frame()``)."""
    from losslab.study.compare import study

    return study(data, **options)
