"""Display classes: training curves and modality importance, in sklearn's style.

As scikit-learn's ``*Display`` classes: the constructor stores the data,
``plot`` draws it (on a given Axes or a new figure) and keeps the artists
as attributes (``ax_``, ``figure_``, ``lines_``, ``bars_``...), and the
``from_*`` class methods compute the data and plot it. matplotlib is an
optional dependency (the ``plot`` extra), imported only when drawing.
"""

from .importance import ModalityImportanceDisplay
from .training import TrainingCurveDisplay

__all__ = ["ModalityImportanceDisplay", "TrainingCurveDisplay"]
