"""Which modality drove a prediction: importance, fusion weights, plots;
and, inside each modality, which columns, words and pixels (attributions).

The Display classes need matplotlib (``pip install "skfusion[plot]"``),
imported only when a plot is drawn.
"""

from ._attribution_display import ImageAttributionDisplay, TextAttributionDisplay
from ._attributions import attributions
from ._importance import modality_availability, modality_importance, modality_weights
from ._plot import ModalityImportanceDisplay, TrainingCurveDisplay

__all__ = [
    "ImageAttributionDisplay",
    "ModalityImportanceDisplay",
    "TextAttributionDisplay",
    "TrainingCurveDisplay",
    "attributions",
    "modality_availability",
    "modality_importance",
    "modality_weights",
]
