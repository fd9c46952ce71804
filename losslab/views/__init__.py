"""Ways to look at results, losses and optimizers.

``render`` (tables for people; only here and in the CLI is rich imported), ``numbers`` (how a
table's numbers read), ``describe`` (a run's settings in words), ``plot`` (figures of a
study or run, from the tidy records), ``landscape``, ``functions2d`` and ``landscape_plot``
(optimizer paths on test functions and on a fit's objective), ``shapes`` (every loss on one
axis; ``robust_shapes``: the robust family's ρ and ψ), ``reliability`` (a classifier's
reliability diagram), ``explain`` (what an entry is, measured on its code), ``gradcheck``
(analytic gradients against finite differences), ``report`` (one self-contained HTML page) and
``notebook`` (a result's table and figure as a notebook shows them), ``interactive``,
``interactive_landscape`` and ``interactive_shapes`` (offline pages with plotly.js inlined: the
study explorer, the animated landscape, the loss shapes with sliders). May import every layer
below; matplotlib and plotly only inside the functions that draw.
"""
