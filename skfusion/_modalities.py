"""Former home of modality discovery and conversion, kept for its importers.

- :mod:`skfusion._names`: the column-name grammar (``<modality>__``,
  ``pixel_<c>_<y>_<x>``, ``token_<i>_vocab_<V>``, ``missing``, ...);
- :mod:`skfusion._spec`: :class:`ModalitySpec`, what fit learns about one
  modality, and :func:`describe`, the summary printed at ``verbose >= 1``;
- :mod:`skfusion._discovery`: feature names and ``modalities=`` (or a dict's
  keys) to one ModalitySpec per modality, in fit;
- :mod:`skfusion._conversion`: X to the network's float32 input dict, with
  the specs of fit.

New code imports from those modules.
"""

from ._conversion import (
    all_finite,
    check_ids,
    plain_numeric_frame,
    split_dict,
    split_frame,
    split_table,
)
from ._discovery import is_lazy, resolve_modalities
from ._names import DEFAULT_MODALITY, MISSING_NAME, wide_feature_names
from ._spec import KINDS, ModalitySpec, describe

__all__ = [
    "DEFAULT_MODALITY",
    "KINDS",
    "MISSING_NAME",
    "ModalitySpec",
    "all_finite",
    "check_ids",
    "describe",
    "is_lazy",
    "plain_numeric_frame",
    "resolve_modalities",
    "split_dict",
    "split_frame",
    "split_table",
    "wide_feature_names",
]
