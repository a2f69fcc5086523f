"""Torch modules only (no scikit-learn): encoders, fusions, the network.

:class:`CrossModalNet` is what the estimators train (``estimator.net_.module_``);
its parts can be used on their own in a hand-written PyTorch model.
"""

from .encoders import CNNEncoder, MLPEncoder, TokenEncoder
from .fusion import (
    FUSIONS,
    AttentionFusion,
    ConcatFusion,
    GatedFusion,
    LateFusion,
    LowRankFusion,
)
from .losses import alignment_loss
from .network import CrossModalNet, WideLinear, drop_modalities

__all__ = [
    "FUSIONS",
    "AttentionFusion",
    "CNNEncoder",
    "ConcatFusion",
    "CrossModalNet",
    "GatedFusion",
    "LateFusion",
    "LowRankFusion",
    "MLPEncoder",
    "TokenEncoder",
    "WideLinear",
    "alignment_loss",
    "drop_modalities",
]
