"""What the Display classes share: the matplotlib check, Axes, estimator.

As scikit-learn's ``*Display`` classes: the constructor stores the data,
``plot`` draws it (on a given Axes or a new figure) and keeps the artists
as attributes (``ax_``, ``figure_``, ``lines_``, ``bars_``...), and the
``from_*`` class methods compute the data and plot it. matplotlib is an
optional dependency (the ``plot`` extra), imported only when drawing.
"""

from __future__ import annotations

import numpy as np


def _check_matplotlib_support(caller_name):
    """Raise an ImportError naming skfusion's ``plot`` extra if matplotlib is
    not installed.

    scikit-learn's ``check_matplotlib_support`` does the same, but it is
    private (``sklearn.utils._optional_dependencies``) since scikit-learn
    1.9 dropped it from ``sklearn.utils``, and its message says
    ``pip install matplotlib``.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires matplotlib, which is not installed. "
            'Install it with skfusion\'s plot extra: pip install "skfusion[plot]"'
        ) from exc


def _get_ax(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


def _as_1d(values, name):
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {values.shape}.")
    return values
