"""The column-name grammar: how skfusion names, and reads back, its columns.

One module formats and parses every name that carries meaning, so that the
transformers that write the names and the estimators that read them agree:

- ``<modality>__<feature>``: the prefix that a ``ColumnTransformer`` step
  gives its output columns; the estimators group columns by it. A column
  without a prefix belongs to the modality :data:`DEFAULT_MODALITY`.
- ``pixel_<c>_<y>_<x>``: one pixel of a C x H x W image (ImageLoader,
  AudioLoader), in C order.
- ``token_<i>_vocab_<V>``: the token id at position ``i`` of a text, every
  id below ``V``, 0 the padding (TextTokenizer).
- ``term_<i>_vocab_<V>`` and ``weight_<i>``: slot ``i`` of a wide input, the
  id of one of the row's sparse terms and its weight (WideFeatures).
- ``series_<t>_<c>`` and ``observed_<t>_<c>``: step ``t`` of channel ``c``
  of a time series resampled to ``n_steps`` steps, and 1 where that step
  holds an observation (TimeSeriesLoader); the values come first, in
  (t, c) order, then the mask.
- :data:`MISSING_NAME` (``missing``, or ``<step>__missing`` as a FeatureUnion
  names it): the availability column, 1 where the modality is absent. In a
  dict input the key ``<modality>__missing`` holds the same flags.
- :data:`PRESENT_KEY` and :data:`SAMPLE_WEIGHT_KEY`: keys of the network's
  input dict that are not modalities (they start with ``__``, which no
  modality name contains).
"""

from __future__ import annotations

import re

import numpy as np

__all__ = [
    "DEFAULT_MODALITY",
    "MISSING_NAME",
    "PIXEL_PATTERN",
    "PRESENT_KEY",
    "SAMPLE_WEIGHT_KEY",
    "SEP",
    "SERIES_PATTERN",
    "TOKEN_PATTERN",
    "WIDE_PATTERN",
    "check_modality_name",
    "has_prefix",
    "is_availability",
    "is_reserved_key",
    "join_prefix",
    "missing_key",
    "modality_of_missing_key",
    "output_names",
    "parse_pixel",
    "parse_series",
    "parse_term",
    "parse_token",
    "parse_weight",
    "pixel_names",
    "series_names",
    "split_prefix",
    "token_names",
    "wide_feature_names",
]

#: Separator between a modality (a ColumnTransformer step) and a feature.
SEP = "__"
#: The modality of the columns that have no ``<modality>__`` prefix.
DEFAULT_MODALITY = "features"
#: Name of the availability column (1 where the modality is absent).
MISSING_NAME = "missing"
#: Key of the presence matrix (n_samples, n_modalities) in the network's input.
PRESENT_KEY = "__present__"
#: Key of the per-row loss weights in the network's input (fit only).
SAMPLE_WEIGHT_KEY = "__sample_weight__"

#: The patterns as the messages show them.
PIXEL_PATTERN = "pixel_<c>_<y>_<x>"
TOKEN_PATTERN = "token_<i>_vocab_<V>"
WIDE_PATTERN = "term_<i>_vocab_<V> / weight_<i>"
SERIES_PATTERN = "series_<t>_<c> / observed_<t>_<c>"

_PIXEL = re.compile(r"^pixel_(\d+)_(\d+)_(\d+)$")
_TOKEN = re.compile(r"^token_(\d+)_vocab_(\d+)$")
_TERM = re.compile(r"^term_(\d+)_vocab_(\d+)$")
_WEIGHT = re.compile(r"^weight_(\d+)$")
_SERIES = re.compile(r"^(series|observed)_(\d+)_(\d+)$")


# -- modality prefix ----------------------------------------------------------
def split_prefix(name):
    """``"tab__age"`` -> ``("tab", "age")``; ``"age"`` -> ``("features", "age")``.

    Only the first ``__`` separates: ``"xray__ind__missing"`` is the feature
    ``"ind__missing"`` of the modality ``"xray"``.
    """
    prefix, sep, rest = name.partition(SEP)
    return (prefix, rest) if sep else (DEFAULT_MODALITY, name)


def has_prefix(name):
    """Whether ``name`` has a ``<modality>__`` prefix."""
    return SEP in name


def join_prefix(modality, feature):
    """``("tab", "age")`` -> ``"tab__age"``."""
    return f"{modality}{SEP}{feature}"


def check_modality_name(name):
    """Whether ``name`` can be a modality (a non-empty str without ``__``)."""
    return isinstance(name, str) and bool(name) and SEP not in name


def is_reserved_key(key):
    """Whether a key of the network's input dict is not a modality."""
    return str(key).startswith(SEP)


# -- availability -------------------------------------------------------------
def is_availability(feature):
    """``missing``, or ``<step>__missing`` (a FeatureUnion or nested step)."""
    return feature == MISSING_NAME or feature.endswith(SEP + MISSING_NAME)


def missing_key(modality):
    """The availability column (or dict key) of ``modality``: ``<name>__missing``."""
    return join_prefix(modality, MISSING_NAME)


def modality_of_missing_key(key):
    """``"xray__missing"`` -> ``"xray"``; None for any other key."""
    key = str(key)
    suffix = SEP + MISSING_NAME
    return key[: -len(suffix)] if key.endswith(suffix) else None


def output_names(names, add_indicator):
    """A transformer's output names: ``names``, then ``missing`` if indicated."""
    names = list(names)
    if add_indicator:
        names.append(MISSING_NAME)
    return np.asarray(names, dtype=object)


# -- images -------------------------------------------------------------------
def pixel_names(shape):
    """``pixel_<c>_<y>_<x>`` of a (C, H, W) image, in C order."""
    channels, height, width = shape
    return [
        f"pixel_{c}_{y}_{x}"
        for c in range(channels)
        for y in range(height)
        for x in range(width)
    ]


def parse_pixel(name):
    """``"pixel_1_2_3"`` -> ``(1, 2, 3)``; None if not a pixel name."""
    match = _PIXEL.match(name)
    return None if match is None else tuple(int(g) for g in match.groups())


# -- tokens -------------------------------------------------------------------
def token_names(length, vocab_size):
    """``token_<i>_vocab_<V>`` for the positions ``i`` in 0..length-1."""
    return [f"token_{i}_vocab_{vocab_size}" for i in range(length)]


def parse_token(name):
    """``"token_3_vocab_50"`` -> ``(3, 50)``; None if not a token name."""
    match = _TOKEN.match(name)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


# -- wide inputs --------------------------------------------------------------
def wide_feature_names(n_terms, vocab_size):
    """Names of a wide input: ``term_<i>_vocab_<V>`` ids, then ``weight_<i>``."""
    ids = [f"term_{i}_vocab_{vocab_size}" for i in range(n_terms)]
    weights = [f"weight_{i}" for i in range(n_terms)]
    return np.asarray(ids + weights, dtype=object)


def parse_term(name):
    """``"term_2_vocab_90"`` -> ``(2, 90)``; None if not a term name."""
    match = _TERM.match(name)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def parse_weight(name):
    """``"weight_2"`` -> ``2``; None if not a weight name."""
    match = _WEIGHT.match(name)
    return None if match is None else int(match.group(1))


# -- time series --------------------------------------------------------------
def series_names(n_steps, n_channels):
    """``series_<t>_<c>`` for every step and channel (t-major), then
    ``observed_<t>_<c>`` in the same order."""
    cells = [(t, c) for t in range(n_steps) for c in range(n_channels)]
    values = [f"series_{t}_{c}" for t, c in cells]
    return values + [f"observed_{t}_{c}" for t, c in cells]


def parse_series(name):
    """``"series_3_1"`` -> ``(0, 3, 1)``, ``"observed_3_1"`` -> ``(1, 3, 1)``
    (part, step, channel); None if not a series name."""
    match = _SERIES.match(name)
    if match is None:
        return None
    part = 0 if match.group(1) == "series" else 1
    return part, int(match.group(2)), int(match.group(3))
