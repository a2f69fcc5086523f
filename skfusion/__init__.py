"""skfusion: scikit-learn compatible cross-modal learning on clinical data."""

from ._spec import ModalitySpec
from .estimators import CrossModalClassifier, CrossModalRegressor
from .preprocessing import make_modality_transformer
from .survival import CrossModalSurvival

__version__ = "0.1.0.dev0"

__all__ = [
    "CrossModalClassifier",
    "CrossModalRegressor",
    "CrossModalSurvival",
    "ModalitySpec",
    "__version__",
    "make_modality_transformer",
]
