"""Which modality drove a prediction: importance, fusion weights, plots.

The Display classes need matplotlib (``pip install "skfusion[plot]"``),
imported only when a plot is drawn.
"""

from ._importance import modality_availability, modality_importance, modality_weights
from ._plot import ModalityImportanceDisplay, TrainingCurveDisplay

__all__ = [
    "ModalityImportanceDisplay",
    "TrainingCurveDisplay",
    "modality_availability",
    "modality_importance",
    "modality_weights",
]
