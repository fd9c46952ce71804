"""Many runs and what is kept of them.

``grid``, ``problems``, ``runner``, ``summary`` and ``compare`` (a study: the grid, its runs on
worker processes (``workers``) or a dask cluster (``cluster``), aggregated over seeds with the
exact optimum), ``lrfind`` (Smith's range test), ``evaluate`` and ``predict`` (losses of
prediction columns; a saved model on new data), ``records`` and ``schema`` (run and study records
under results/, written atomically and checked on load). May import ``train`` and everything
below it; never views or the CLI.
"""
