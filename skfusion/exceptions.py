"""Errors and warnings raised by skfusion.

Each subclasses the scikit-learn (or builtin) class that callers already
catch, so ``except ValueError`` keeps working.
"""

from sklearn.exceptions import DataConversionWarning

__all__ = [
    "AudioReadError",
    "ImageReadError",
    "ModalityError",
    "SkfusionDataWarning",
]


class ModalityError(ValueError):
    """The input does not describe modalities the estimator can use.

    Raised when columns cannot be grouped into modalities, when a modality's
    layout (for instance an image shape) is inconsistent, or when the
    modalities seen at predict time differ from those seen in fit.
    """


class ImageReadError(ValueError):
    """An image path could not be read; the message names the row and path."""


class AudioReadError(ValueError):
    """An audio path could not be read; the message names the row and path."""


class SkfusionDataWarning(DataConversionWarning):
    """Input data was converted or a documented policy was applied to it."""
