"""How an estimator finds the modalities in its input (``fit`` only).

Three input forms are understood:

1. A 2-D table whose column names follow scikit-learn's ``ColumnTransformer``
   convention ``"<modality>__<feature>"``: columns are grouped by prefix, in
   order of first appearance. Columns without a prefix form one modality
   named ``"features"``; so a plain matrix is a single modality.
2. A 2-D table (names or not) plus an explicit ``modalities=`` mapping from a
   modality name to its columns (names or positions), optionally with its
   kind and shape.
3. A dict of arrays ``{"tab": (n, d), "xray": (n, C, H, W)}``; a 3-D array
   ``(n, H, W)`` is a one-channel image. A boolean key ``"<name>__missing"``
   of shape ``(n,)`` marks rows where that modality is absent. An image
   modality may also be a :class:`~skfusion.preprocessing.LazyImages` of
   paths, decoded batch by batch (missing paths mark the rows absent).

Within a group, the names (prefix removed) say what the group is, in the
grammar of :mod:`skfusion._names` that every skfusion transformer honours in
``get_feature_names_out``:

- ``pixel_<c>_<y>_<x>``: a group made only of such columns is an image of
  shape C x H x W, recovered in C order;
- ``token_<i>_vocab_<V>``: a group made only of such columns is a token
  sequence (a TextTokenizer's ids), learnt through an embedding;
- ``term_<i>_vocab_<V>`` and ``weight_<i>``: a group made only of such
  pairs is a wide modality (WideFeatures), which feeds the linear wide path
  and no encoder;
- ``series_<t>_<c>`` and ``observed_<t>_<c>``: a group made only of such
  columns (a TimeSeriesLoader's output) is a sequence of shape
  ``(2, n_steps, n_channels)``: the values, then the observation mask.
  A dict input has no sequence kind (a 3-D or 4-D array is an image);
  give a sequence as the loader's columns of a DataFrame;
- ``missing`` (or ``<step>__missing``): the availability column, 1 where the
  modality is absent in that row, 0 where present. It is not fed to the
  encoder: each fusion masks the absent modality in that row;
- anything else: a vector feature.

The result is one :class:`ModalitySpec` per modality; turning X into the
network's arrays with them is :mod:`skfusion._conversion`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from ._names import (
    DEFAULT_MODALITY,
    PIXEL_PATTERN,
    SEP,
    SERIES_PATTERN,
    WIDE_PATTERN,
    check_modality_name,
    is_availability,
    missing_key,
    modality_of_missing_key,
    parse_pixel,
    parse_series,
    parse_term,
    parse_token,
    parse_weight,
    split_prefix,
)
from ._spec import KINDS, ModalitySpec, column_label
from .exceptions import ModalityError

__all__ = [
    "dict_parts",
    "dict_specs",
    "infer_vocab_sizes",
    "is_lazy",
    "resolve_modalities",
]

_OPTIONS = ("columns", "kind", "shape", "missing", "vocab_size")


# -- kinds read from the column names -----------------------------------------
def _first_unparsed(local_names, parsed):
    return next(n for n, p in zip(local_names, parsed, strict=True) if p is None)


def _image_order(local_names, modality):
    """Return (shape, order) if every name is a pixel name, else None."""
    parsed = [parse_pixel(n) for n in local_names]
    n_pixel = sum(p is not None for p in parsed)
    if n_pixel == 0:
        return None
    if n_pixel != len(local_names):
        raise ModalityError(
            f"Modality {modality!r} mixes pixel columns with other columns "
            f"(for example {_first_unparsed(local_names, parsed)!r}). Give each "
            "image its own transformer in the ColumnTransformer (keep "
            "verbose_feature_names_out=True), or pass modalities= to group the "
            "columns explicitly."
        )
    idx = np.array(parsed)
    c, h, w = (idx.max(axis=0) + 1).tolist()
    flat = (idx[:, 0] * h + idx[:, 1]) * w + idx[:, 2]
    if c * h * w != len(local_names) or len(np.unique(flat)) != len(flat):
        raise ModalityError(
            f"Modality {modality!r}: pixel columns do not form a complete "
            f"C x H x W = {c} x {h} x {w} image ({len(local_names)} columns). "
            "Pass the image transformer's whole output."
        )
    return (c, h, w), np.argsort(flat, kind="stable")


def _token_order(local_names, modality):
    """Return (vocab_size, order) if every name is a token name, else None."""
    parsed = [parse_token(n) for n in local_names]
    n_token = sum(p is not None for p in parsed)
    if n_token == 0:
        return None
    if n_token != len(local_names):
        raise ModalityError(
            f"Modality {modality!r} mixes token columns with other columns "
            f"(for example {_first_unparsed(local_names, parsed)!r}). Give the "
            "TextTokenizer its own step in the ColumnTransformer, or pass "
            "modalities= to group the columns."
        )
    positions = np.array([p[0] for p in parsed])
    vocab = {p[1] for p in parsed}
    if len(vocab) != 1 or sorted(positions) != list(range(len(positions))):
        raise ModalityError(
            f"Modality {modality!r}: token columns must come from one "
            "TextTokenizer (one vocabulary size, positions 0..n-1); got "
            f"vocabulary sizes {sorted(vocab)}. Pass the tokenizer's whole output."
        )
    return vocab.pop(), np.argsort(positions, kind="stable")


def _wide_order(local_names, modality):
    """Return (vocab_size, order) if the names are term/weight pairs, else
    None; ``order`` puts the ids by slot, then the weights by slot."""
    terms = [parse_term(n) for n in local_names]
    if all(t is None for t in terms):
        return None
    weights = [parse_weight(n) for n in local_names]
    either = [t if w is None else w for t, w in zip(terms, weights, strict=True)]
    if any(p is None for p in either):
        raise ModalityError(
            f"Modality {modality!r} mixes wide term columns with other columns "
            f"(for example {_first_unparsed(local_names, either)!r}). Give "
            "WideFeatures its own step in the ColumnTransformer, or pass "
            "modalities= to group the columns."
        )
    key = [
        (1, w) if t is None else (0, t[0]) for t, w in zip(terms, weights, strict=True)
    ]
    vocab = {t[1] for t in terms if t is not None}
    k = len(key) // 2
    expected = sorted((part, i) for i in range(k) for part in (0, 1))
    if len(vocab) != 1 or sorted(key) != expected:
        raise ModalityError(
            f"Modality {modality!r}: wide columns must come from one "
            "WideFeatures (term_i_vocab_V and weight_i for i in 0..k-1, one "
            f"vocabulary size); got vocabulary sizes {sorted(vocab)}. Pass "
            "the transformer's whole output."
        )
    order = sorted(range(len(key)), key=key.__getitem__)
    return vocab.pop(), np.asarray(order)


def _sequence_order(local_names, modality):
    """Return (shape, order) if every name is a series name, else None;
    ``order`` puts the values by (step, channel), then the mask."""
    parsed = [parse_series(n) for n in local_names]
    n_series = sum(p is not None for p in parsed)
    if n_series == 0:
        return None
    if n_series != len(local_names):
        raise ModalityError(
            f"Modality {modality!r} mixes time-series columns with other "
            f"columns (for example {_first_unparsed(local_names, parsed)!r}). "
            "Give the TimeSeriesLoader its own step in the ColumnTransformer, "
            "or pass modalities= to group the columns."
        )
    idx = np.array(parsed)
    _, steps, channels = (idx.max(axis=0) + 1).tolist()
    flat = (idx[:, 0] * steps + idx[:, 1]) * channels + idx[:, 2]
    if 2 * steps * channels != len(parsed) or len(np.unique(flat)) != len(flat):
        raise ModalityError(
            f"Modality {modality!r}: time-series columns do not form complete "
            f"{SERIES_PATTERN} blocks of {steps} steps x {channels} channels "
            f"({len(parsed)} columns). Pass the TimeSeriesLoader's whole output."
        )
    return (2, steps, channels), np.argsort(flat, kind="stable")


def _kind_from_names(name, local_names, kind, shape, vocab_size):
    """Read the kind from the names: ``(kind, shape, vocab_size, order)``,
    ``order`` None when the names say nothing (a vector, or a declaration)."""
    if kind in (None, "auto", "image") and shape is None:
        found = _image_order(local_names, name)
        if found is not None:
            image_shape, order = found
            return "image", image_shape, vocab_size, order
    if kind in (None, "auto", "wide"):
        found = _wide_order(local_names, name)
        if found is not None:
            vocab, order = found
            return "wide", (2, len(order) // 2), vocab, order
        if kind == "wide":
            raise ModalityError(
                f"Modality {name!r} is declared 'wide' but its columns are not "
                f"named {WIDE_PATTERN}: give it the whole output of a "
                "WideFeatures."
            )
    if kind in (None, "auto", "tokens"):
        found = _token_order(local_names, name)
        if found is not None:
            named_vocab, order = found
            if vocab_size is not None and vocab_size != named_vocab:
                raise ModalityError(
                    f"Modality {name!r}: vocab_size={vocab_size} contradicts "
                    f"the column names (vocabulary size {named_vocab})."
                )
            return "tokens", shape, named_vocab, order
    if kind in (None, "auto", "sequence"):
        found = _sequence_order(local_names, name)
        if found is not None:
            series_shape, order = found
            return "sequence", series_shape, vocab_size, order
    return kind, shape, vocab_size, None


# -- one modality from its columns --------------------------------------------
def _split_availability(name, positions, local_names, missing):
    """Take the availability column out of the data columns:
    ``(positions, local_names, missing)``."""
    if local_names is not None and missing is None:
        flags = [i for i, n in enumerate(local_names) if is_availability(n)]
        if len(flags) > 1:
            raise ModalityError(
                f"Modality {name!r} has {len(flags)} availability columns "
                f"({[local_names[i] for i in flags]}); it can have one."
            )
        if flags:
            missing = positions.pop(flags[0])
            del local_names[flags[0]]
    elif missing is not None and missing in positions:
        at = positions.index(missing)
        del positions[at]
        if local_names is not None:
            del local_names[at]
    if not positions:
        raise ModalityError(
            f"Modality {name!r} has no data columns (only an availability "
            "column). Drop it or give it feature columns."
        )
    return positions, local_names, missing


def _image_shape(name, shape, n_columns):
    if shape is None:
        raise ModalityError(
            f"Modality {name!r} is an image but its shape is unknown: name "
            f"its columns {PIXEL_PATTERN} (as ImageLoader does) or give "
            "'shape': (C, H, W) in modalities=."
        )
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or int(np.prod(shape)) != n_columns:
        raise ModalityError(
            f"Modality {name!r}: image shape {shape} does not match its "
            f"{n_columns} columns; expected C x H x W columns."
        )
    return shape


def _checked_shape(name, kind, shape, n_columns, named):
    """The row shape of a modality of ``n_columns`` data columns."""
    if kind == "wide":
        if not named:
            raise ModalityError(
                f"Modality {name!r} is declared 'wide' but X has no column "
                "names: pass a DataFrame with WideFeatures' output names."
            )
        return shape
    if kind == "image":
        return _image_shape(name, shape, n_columns)
    if kind == "sequence":
        if not named or shape is None or int(np.prod(shape)) != n_columns:
            raise ModalityError(
                f"Modality {name!r} is declared 'sequence' but its columns are "
                f"not named {SERIES_PATTERN}: give it the whole output of a "
                "TimeSeriesLoader in a DataFrame."
            )
        return shape
    if shape is not None and tuple(shape) != (n_columns,):
        what = "token" if kind == "tokens" else "vector"
        raise ModalityError(
            f"Modality {name!r}: shape {tuple(shape)} does not match its "
            f"{n_columns} {what} columns."
        )
    return (n_columns,)


def _spec_from_columns(
    name, positions, local_names, kind=None, shape=None, missing=None, vocab_size=None
):
    """Build a spec from column positions and their (prefix-free) names."""
    positions = list(positions)
    local_names = None if local_names is None else list(local_names)
    positions, local_names, missing = _split_availability(
        name, positions, local_names, missing
    )
    order = None
    if local_names is not None:
        kind, shape, vocab_size, order = _kind_from_names(
            name, local_names, kind, shape, vocab_size
        )
    if kind in (None, "auto"):
        kind = "vector"
    shape = _checked_shape(name, kind, shape, len(positions), order is not None)
    if order is not None:
        positions = [positions[i] for i in order]
    return ModalitySpec(
        name=name,
        kind=kind,
        shape=tuple(shape),
        columns=tuple(int(p) for p in positions),
        missing_column=None if missing is None else int(missing),
        has_missing=missing is not None,
        vocab_size=None if vocab_size is None else int(vocab_size),
    )


# -- 2-D input ----------------------------------------------------------------
def _check_name(name):
    if not check_modality_name(name):
        raise ModalityError(
            f"Modality names must be non-empty strings without '{SEP}'; got {name!r}."
        )


def _position(col, feature_names, n_features, modality):
    """One column name or position as a position."""
    if isinstance(col, str):
        if feature_names is None:
            raise ModalityError(
                f"Modality {modality!r} names column {col!r}, but X has no "
                "column names. Use positions, or pass a DataFrame."
            )
        hits = np.flatnonzero(np.asarray(feature_names) == col)
        if not len(hits):
            raise ModalityError(
                f"Modality {modality!r}: column {col!r} is not in X. Known "
                f"columns start with {list(feature_names[:5])}."
            )
        return int(hits[0])
    if isinstance(col, (int, np.integer)) and -n_features <= col < n_features:
        return int(col) % n_features
    raise ModalityError(
        f"Modality {modality!r}: column {col!r} is neither a column "
        f"name nor a position in 0..{n_features - 1}."
    )


def _positions(cols, feature_names, n_features, modality):
    """Turn column names or positions into positions."""
    if isinstance(cols, slice):
        return list(range(n_features))[cols]
    if isinstance(cols, (str, int, np.integer)):
        cols = [cols]
    return [_position(col, feature_names, n_features, modality) for col in cols]


def _prefix_groups(feature_names, n_features):
    """``modalities=None``: group the columns by their ``<name>__`` prefix."""
    if feature_names is None:
        return [_spec_from_columns(DEFAULT_MODALITY, range(n_features), None)]
    groups = {}
    for pos, full in enumerate(feature_names):
        prefix, local = split_prefix(str(full))
        positions, names = groups.setdefault(prefix, ([], []))
        positions.append(pos)
        names.append(local)
    return [
        _spec_from_columns(name, pos, local) for name, (pos, local) in groups.items()
    ]


def _options(name, value):
    """The checked entry ``modalities[name]`` as a dict of options."""
    _check_name(name)
    options = dict(value) if isinstance(value, Mapping) else {"columns": value}
    if set(options) - set(_OPTIONS) or "columns" not in options:
        raise ModalityError(
            f"modalities[{name!r}] must be a list of columns or a dict with "
            "'columns' and optional 'kind', 'shape', 'missing', "
            f"'vocab_size'; got keys {sorted(options)}."
        )
    kind = options.setdefault("kind", "auto")
    if kind not in (*KINDS, "auto"):
        raise ModalityError(
            f"modalities[{name!r}]['kind'] must be one of {KINDS} or "
            f"'auto'; got {kind!r}."
        )
    vocab_size = options.get("vocab_size")
    if vocab_size is None:
        return options
    if (
        kind not in ("tokens", "auto")
        or not isinstance(vocab_size, int | np.integer)
        or vocab_size < 2
    ):
        raise ModalityError(
            f"modalities[{name!r}]['vocab_size'] must be an int >= 2 for a "
            f"'tokens' modality; got {vocab_size!r} (kind {kind!r})."
        )
    options["kind"] = "tokens"
    return options


def _declared_spec(name, value, feature_names, n_features):
    """The spec of the entry ``modalities[name] = value``."""
    options = _options(name, value)
    pos = _positions(options["columns"], feature_names, n_features, name)
    missing = options.get("missing")
    if missing is not None:
        missing = _positions(missing, feature_names, n_features, name)[0]
    local = None
    if feature_names is not None:
        local = [split_prefix(str(feature_names[p]))[1] for p in pos]
    return _spec_from_columns(
        name,
        pos,
        local,
        kind=options["kind"],
        shape=options.get("shape"),
        missing=missing,
        vocab_size=options.get("vocab_size"),
    )


def _claim(spec, used, feature_names):
    """Record the columns of ``spec`` in ``used``; refuse a column taken twice."""
    for p in (*spec.columns, spec.missing_column):
        if p is not None and used.setdefault(p, spec.name) != spec.name:
            raise ModalityError(
                f"Column {column_label(p, feature_names)} is in both modality "
                f"{used[p]!r} and {spec.name!r}."
            )


def resolve_modalities(feature_names, n_features, modalities=None):
    """Group the columns of a 2-D input into modality specs.

    Parameters
    ----------
    feature_names : ndarray of str or None
        Column names of X, if it had any.
    n_features : int
        Number of columns.
    modalities : dict or None
        The estimator's ``modalities`` parameter: ``{name: columns}`` or
        ``{name: {"columns": ..., "kind": ..., "shape": ..., "missing": ...}}``.

    Returns
    -------
    list of ModalitySpec
    """
    if modalities is None:
        return _prefix_groups(feature_names, n_features)
    specs, used = [], {}
    for name, value in modalities.items():
        spec = _declared_spec(name, value, feature_names, n_features)
        _claim(spec, used, feature_names)
        specs.append(spec)
    unused = [p for p in range(n_features) if p not in used]
    if unused:
        shown = [column_label(p, feature_names) for p in unused[:5]]
        raise ModalityError(
            f"{len(unused)} column(s) of X belong to no modality, e.g. {shown}. "
            "Add them to modalities= or drop them before the estimator."
        )
    return specs


def infer_vocab_sizes(specs, inputs):
    """Give a token modality declared without a vocabulary size
    (``modalities={"note": {"columns": ..., "kind": "tokens"}}``) the largest
    id seen in fit plus one. Returns the completed specs."""
    out = []
    for spec in specs:
        if spec.kind == "tokens" and spec.vocab_size is None:
            ids = inputs[spec.name]
            top = int(ids.max(initial=0)) if np.isfinite(ids).all() else 0
            spec = replace(spec, vocab_size=max(top + 1, 2))
        out.append(spec)
    return out


# -- dict input ---------------------------------------------------------------
def is_lazy(value):
    """Whether ``value`` is decoded batch by batch (a LazyImages)."""
    return getattr(type(value), "_skfusion_lazy", False)


def dict_parts(X):
    """Split a dict X into ``(data, flags)``: the modality arrays, and the
    ``"<name>__missing"`` availability flags keyed by modality name."""
    if not X:
        raise ModalityError("X is an empty dict; give one array per modality.")
    data, flags = {}, {}
    for key, value in X.items():
        flagged = modality_of_missing_key(key)
        if flagged is None:
            data[key] = value
        else:
            flags[flagged] = value
    for name, flag in flags.items():
        if name not in data:
            raise ModalityError(f"X has {missing_key(name)!r} but no {name!r} array.")
        if is_lazy(flag):
            raise ModalityError(
                f"X[{missing_key(name)!r}] is a LazyImages; it must be an array "
                "of 0/1 flags."
            )
    return data, flags


def _array_spec(name, value, flagged):
    """The spec of the array (or LazyImages) ``X[name]`` of a dict X."""
    _check_name(name)
    if is_lazy(value):
        shape = tuple(int(s) for s in value.shape[1:])
        return ModalitySpec(
            name, "image", shape, has_missing=flagged or value._may_be_missing()
        )
    arr = np.asarray(value)
    if arr.ndim not in (2, 3, 4):
        raise ModalityError(
            f"X[{name!r}] must be 2-D (n, d) vectors, 3-D (n, H, W) or "
            f"4-D (n, C, H, W) images; got shape {arr.shape}."
        )
    kind = "vector" if arr.ndim == 2 else "image"
    shape = arr.shape[1:] if arr.ndim != 3 else (1, *arr.shape[1:])
    return ModalitySpec(name, kind, tuple(shape), has_missing=flagged)


def dict_specs(X):
    """The modality specs of a dict X: one per array, by its number of
    dimensions (a LazyImages is an image)."""
    data, flags = dict_parts(X)
    return [_array_spec(name, value, name in flags) for name, value in data.items()]
