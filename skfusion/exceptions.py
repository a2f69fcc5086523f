"""Errors and warnings raised by skfusion.

Each subclasses the scikit-learn (or builtin) class that callers already
catch, so ``except ValueError`` keeps working.
"""

from sklearn.exceptions import DataConversionWarning

__all__ = [
    "AudioReadError",
    "ImageReadError",
    "ModalityError",
    "ModalityStructureWarning",
    "SkfusionDataWarning",
    "SkfusionResourceWarning",
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


class ModalityStructureWarning(SkfusionDataWarning):
    """X reached the estimator without the names that carry its modalities.

    Raised by ``fit`` when X has no column names, ``modalities=None``, and
    its columns show the layout of several skfusion transformer blocks (see
    :func:`skfusion._structure.lost_structure`): all the columns would form
    one vector modality, so an image is not treated as an image and the
    ``missing`` flags are not used. Filter it with
    ``warnings.filterwarnings("ignore", category=ModalityStructureWarning)``,
    or silence it by declaring the modalities (``modalities=``).
    """


class SkfusionResourceWarning(UserWarning):
    """A resource setting was lowered to what the machine has (for instance
    more decoding workers than CPUs)."""
