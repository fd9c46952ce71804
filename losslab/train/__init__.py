"""One run: from settings and a table to a trained model and its history.

``config`` (the settings of a run, validated together), ``prepare`` (target and features, the
model and loss, the split and the scaling: the problem), ``kernels`` (fused objectives and the
minibatch order: the hot paths), ``loop`` (the training loop and :class:`FitResult`) and its
parts: ``epoch`` (the steps of an epoch, on minibatches or the full batch, and the lr's
stepping), ``evaluation`` (each epoch's history row, the final metrics) and ``stopping``
(divergence, early stopping, Ctrl-C); ``reference`` (the exact optimum of a linear model's
objective) and ``stream*`` (the same run on a file read in chunks). May import ``data``, ``nn``,
``losses``, ``optim`` and the declarations; never studies, records or views.

``plugins``: a user's losses, optimizers and schedules, loaded from a file or an entry point and
checked before any run may use them.
"""
