"""How an estimator finds the modalities in its input.

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

Within a group, the names (prefix removed) say what the group is. This is
the contract every skfusion transformer honours in ``get_feature_names_out``:

- ``pixel_<c>_<y>_<x>``: one pixel of an image of shape C x H x W; a group
  made only of such columns is an image, recovered in C order;
- ``token_<i>_vocab_<V>``: the token id at position ``i`` of a text, every
  id below ``V`` and 0 the padding (skfusion's TextTokenizer); a group made
  only of such columns is a token sequence, learnt through an embedding;
- ``term_<i>_vocab_<V>`` and ``weight_<i>``: slot ``i`` of a wide input
  (skfusion's WideFeatures): the id of one of the row's sparse terms (0 is
  padding) and its weight; a group made only of such pairs is a wide
  modality, which feeds the linear wide path and no encoder;
- ``missing`` (or ``<step>__missing``, as a FeatureUnion names the output
  of skfusion's AvailabilityIndicator): the availability column, 1 where
  the modality is absent in that row, 0 where present. It is not fed to
  the encoder: each fusion masks the absent modality in that row;
- anything else: a vector feature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from .exceptions import ModalityError

__all__ = [
    "ModalitySpec",
    "all_finite",
    "check_tokens",
    "is_lazy",
    "resolve_modalities",
    "split_dict",
    "split_frame",
    "split_table",
]

DEFAULT_MODALITY = "features"
MISSING_NAME = "missing"
_PIXEL = re.compile(r"^pixel_(\d+)_(\d+)_(\d+)$")
_TOKEN = re.compile(r"^token_(\d+)_vocab_(\d+)$")
_TERM = re.compile(r"^term_(\d+)_vocab_(\d+)$")
_WEIGHT = re.compile(r"^weight_(\d+)$")
KINDS = ("vector", "image", "tokens", "wide")


def wide_feature_names(n_terms, vocab_size):
    """Names of a wide input: ``term_<i>_vocab_<V>`` ids, then ``weight_<i>``."""
    ids = [f"term_{i}_vocab_{vocab_size}" for i in range(n_terms)]
    weights = [f"weight_{i}" for i in range(n_terms)]
    return np.asarray(ids + weights, dtype=object)


@dataclass(frozen=True, repr=False)
class ModalitySpec:
    """What the estimator learned about one modality in ``fit``.

    Attributes
    ----------
    name : str
        Modality name (the ``ColumnTransformer`` prefix or the dict key).
    kind : {"vector", "image", "tokens", "wide"}
        Which encoder the modality gets: an MLP, a CNN, a token embedding,
        or none ("wide": a sparse linear term added to the output).
    shape : tuple of int
        Shape of one row of the modality: ``(d,)``, ``(C, H, W)``,
        ``(length,)`` for tokens, ``(2, k)`` for wide (k ids, k weights).
    columns : tuple of int or None
        Positions of the data columns in the 2-D input, in the order that
        reshapes to ``shape``; ``None`` for dict input.
    missing_column : int or None
        Position of the availability column in the 2-D input, if any.
    has_missing : bool
        Whether rows can mark this modality absent.
    vocab_size : int or None
        For tokens and wide: the number of distinct ids (every id is below it).

    Notes
    -----
    The repr is a summary, short enough to print ``estimator.modalities_``
    (an image's ``columns`` hold one position per pixel)::

        ModalitySpec(name='xray', kind='image', shape=(1, 64, 64),
                     n_columns=4097, missing='xray__missing')

    ``n_columns`` counts the columns of the 2-D input that the modality
    takes: its data columns, plus its availability column when it has one;
    it is left out for dict input, which has no columns. ``missing`` is the
    name of the availability column (``'<name>__missing'``, the dict key of
    a dict input) when rows can mark the modality absent, else None.
    ``vocab_size`` is shown for the tokens and wide kinds only. Equality
    and pickling are those of the dataclass: every field counts.
    """

    name: str
    kind: str
    shape: tuple
    columns: tuple | None = None
    missing_column: int | None = None
    has_missing: bool = False
    vocab_size: int | None = None

    def __repr__(self):
        parts = [f"name={self.name!r}", f"kind={self.kind!r}", f"shape={self.shape!r}"]
        if self.columns is not None:
            n_columns = len(self.columns) + (self.missing_column is not None)
            parts.append(f"n_columns={n_columns}")
        missing = f"{self.name}__{MISSING_NAME}" if self.has_missing else None
        parts.append(f"missing={missing!r}")
        if self.kind in ("tokens", "wide"):
            parts.append(f"vocab_size={self.vocab_size!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _strip(name):
    prefix, sep, rest = name.partition("__")
    return (prefix, rest) if sep else (DEFAULT_MODALITY, name)


def _image_order(local_names, modality):
    """Return (shape, order) if every name is a pixel name, else None."""
    matches = [_PIXEL.match(n) for n in local_names]
    n_pixel = sum(m is not None for m in matches)
    if n_pixel == 0:
        return None
    if n_pixel != len(local_names):
        odd = next(n for n, m in zip(local_names, matches, strict=True) if m is None)
        raise ModalityError(
            f"Modality {modality!r} mixes pixel columns with other columns "
            f"(for example {odd!r}). Give each image its own transformer in "
            "the ColumnTransformer (keep verbose_feature_names_out=True), or "
            "pass modalities= to group the columns explicitly."
        )
    idx = np.array([[int(g) for g in m.groups()] for m in matches])
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
    matches = [_TOKEN.match(n) for n in local_names]
    n_token = sum(m is not None for m in matches)
    if n_token == 0:
        return None
    if n_token != len(local_names):
        odd = next(n for n, m in zip(local_names, matches, strict=True) if m is None)
        raise ModalityError(
            f"Modality {modality!r} mixes token columns with other columns "
            f"(for example {odd!r}). Give the TextTokenizer its own step in "
            "the ColumnTransformer, or pass modalities= to group the columns."
        )
    positions = np.array([int(m.group(1)) for m in matches])
    vocab = {int(m.group(2)) for m in matches}
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
    terms = [_TERM.match(n) for n in local_names]
    weights = [_WEIGHT.match(n) for n in local_names]
    pairs = zip(terms, weights, strict=True)
    n_wide = sum(t is not None or w is not None for t, w in pairs)
    if not any(terms):
        return None
    if n_wide != len(local_names):
        odd = next(
            n
            for n, t, w in zip(local_names, terms, weights, strict=True)
            if t is None and w is None
        )
        raise ModalityError(
            f"Modality {modality!r} mixes wide term columns with other columns "
            f"(for example {odd!r}). Give WideFeatures its own step in the "
            "ColumnTransformer, or pass modalities= to group the columns."
        )
    slots = [(int(t.group(1)), 0) for t in terms if t is not None]
    slots += [(int(w.group(1)), 1) for w in weights if w is not None]
    vocab = {int(t.group(2)) for t in terms if t is not None}
    k = len(slots) // 2
    expected = sorted((i, part) for i in range(k) for part in (0, 1))
    if len(vocab) != 1 or sorted(slots) != expected:
        raise ModalityError(
            f"Modality {modality!r}: wide columns must come from one "
            "WideFeatures (term_i_vocab_V and weight_i for i in 0..k-1, one "
            f"vocabulary size); got vocabulary sizes {sorted(vocab)}. Pass "
            "the transformer's whole output."
        )
    key = [
        (1, int(w.group(1))) if t is None else (0, int(t.group(1)))
        for t, w in zip(terms, weights, strict=True)
    ]
    order = sorted(range(len(key)), key=key.__getitem__)
    return vocab.pop(), np.asarray(order)


def _is_availability(local_name):
    """``missing``, or ``<step>__missing`` from a FeatureUnion/nested step."""
    return local_name == MISSING_NAME or local_name.endswith("__" + MISSING_NAME)


def _spec_from_columns(
    name, positions, local_names, kind=None, shape=None, missing=None, vocab_size=None
):
    """Build a spec from column positions and their (prefix-free) names."""
    positions = list(positions)
    local_names = None if local_names is None else list(local_names)
    if local_names is not None and missing is None:
        flags = [i for i, n in enumerate(local_names) if _is_availability(n)]
        if len(flags) > 1:
            raise ModalityError(
                f"Modality {name!r} has {len(flags)} availability columns "
                f"({[local_names[i] for i in flags]}); it can have one."
            )
        if flags:
            missing = positions.pop(flags[0])
            del local_names[flags[0]]
    elif missing is not None and missing in positions:
        positions.remove(missing)
    if not positions:
        raise ModalityError(
            f"Modality {name!r} has no data columns (only an availability "
            "column). Drop it or give it feature columns."
        )
    order = None
    if kind in (None, "auto", "image") and local_names is not None and shape is None:
        found = _image_order(local_names, name)
        if found is not None:
            shape, order = found
            kind = "image"
    if kind in (None, "auto", "wide") and local_names is not None and order is None:
        found = _wide_order(local_names, name)
        if found is not None:
            vocab_size, order = found
            kind, shape = "wide", (2, len(positions) // 2)
        elif kind == "wide":
            raise ModalityError(
                f"Modality {name!r} is declared 'wide' but its columns are not "
                "named term_<i>_vocab_<V> / weight_<i>: give it the whole "
                "output of a WideFeatures."
            )
    if kind in (None, "auto", "tokens") and local_names is not None and order is None:
        found = _token_order(local_names, name)
        if found is not None:
            named_vocab, order = found
            if vocab_size is not None and vocab_size != named_vocab:
                raise ModalityError(
                    f"Modality {name!r}: vocab_size={vocab_size} contradicts "
                    f"the column names (vocabulary size {named_vocab})."
                )
            vocab_size, kind = named_vocab, "tokens"
    if kind in (None, "auto"):
        kind = "vector"
    if kind == "tokens":
        if shape is not None and tuple(shape) != (len(positions),):
            raise ModalityError(
                f"Modality {name!r}: shape {tuple(shape)} does not match its "
                f"{len(positions)} token columns."
            )
        shape = (len(positions),)
    elif kind == "wide":
        if order is None:
            raise ModalityError(
                f"Modality {name!r} is declared 'wide' but X has no column "
                "names: pass a DataFrame with WideFeatures' output names."
            )
    elif kind == "vector":
        if shape is not None and tuple(shape) != (len(positions),):
            raise ModalityError(
                f"Modality {name!r}: shape {tuple(shape)} does not match its "
                f"{len(positions)} vector columns."
            )
        shape = (len(positions),)
    else:
        if shape is None:
            raise ModalityError(
                f"Modality {name!r} is an image but its shape is unknown: name "
                "its columns pixel_<c>_<y>_<x> (as ImageLoader does) or give "
                "'shape': (C, H, W) in modalities=."
            )
        shape = tuple(int(s) for s in shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or int(np.prod(shape)) != len(positions):
            raise ModalityError(
                f"Modality {name!r}: image shape {shape} does not match its "
                f"{len(positions)} columns; expected C x H x W columns."
            )
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


def _check_name(name):
    if not isinstance(name, str) or not name or "__" in name:
        raise ModalityError(
            f"Modality names must be non-empty strings without '__'; got {name!r}."
        )


def _positions(cols, feature_names, n_features, modality):
    """Turn column names or positions into positions."""
    if isinstance(cols, slice):
        return list(range(n_features))[cols]
    if isinstance(cols, (str, int, np.integer)):
        cols = [cols]
    out = []
    for col in cols:
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
            out.append(int(hits[0]))
        elif isinstance(col, (int, np.integer)) and -n_features <= col < n_features:
            out.append(int(col) % n_features)
        else:
            raise ModalityError(
                f"Modality {modality!r}: column {col!r} is neither a column "
                f"name nor a position in 0..{n_features - 1}."
            )
    return out


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
        if feature_names is None:
            return [_spec_from_columns(DEFAULT_MODALITY, range(n_features), None)]
        groups = {}
        for pos, full in enumerate(feature_names):
            prefix, local = _strip(str(full))
            groups.setdefault(prefix, ([], []))
            groups[prefix][0].append(pos)
            groups[prefix][1].append(local)
        return [
            _spec_from_columns(name, pos, local)
            for name, (pos, local) in groups.items()
        ]

    specs, used = [], {}
    for name, value in modalities.items():
        _check_name(name)
        options = dict(value) if isinstance(value, Mapping) else {"columns": value}
        unknown = set(options) - {"columns", "kind", "shape", "missing", "vocab_size"}
        if unknown or "columns" not in options:
            raise ModalityError(
                f"modalities[{name!r}] must be a list of columns or a dict with "
                "'columns' and optional 'kind', 'shape', 'missing', "
                f"'vocab_size'; got keys {sorted(options)}."
            )
        kind = options.get("kind", "auto")
        if kind not in (*KINDS, "auto"):
            raise ModalityError(
                f"modalities[{name!r}]['kind'] must be one of {KINDS} or "
                f"'auto'; got {kind!r}."
            )
        vocab_size = options.get("vocab_size")
        if vocab_size is not None and (
            kind not in ("tokens", "auto")
            or not isinstance(vocab_size, int | np.integer)
            or vocab_size < 2
        ):
            raise ModalityError(
                f"modalities[{name!r}]['vocab_size'] must be an int >= 2 for a "
                f"'tokens' modality; got {vocab_size!r} (kind {kind!r})."
            )
        if vocab_size is not None:
            kind = "tokens"
        pos = _positions(options["columns"], feature_names, n_features, name)
        missing = options.get("missing")
        if missing is not None:
            missing = _positions(missing, feature_names, n_features, name)[0]
        local = None
        if feature_names is not None:
            local = [_strip(str(feature_names[p]))[1] for p in pos]
        spec = _spec_from_columns(
            name,
            pos,
            local,
            kind=kind,
            shape=options.get("shape"),
            missing=missing,
            vocab_size=vocab_size,
        )
        for p in (*spec.columns, spec.missing_column):
            if p is not None and used.setdefault(p, name) != name:
                raise ModalityError(
                    f"Column {_label(p, feature_names)} is in both modality "
                    f"{used[p]!r} and {name!r}."
                )
        specs.append(spec)
    unused = [p for p in range(n_features) if p not in used]
    if unused:
        shown = [_label(p, feature_names) for p in unused[:5]]
        raise ModalityError(
            f"{len(unused)} column(s) of X belong to no modality, e.g. {shown}. "
            "Add them to modalities= or drop them before the estimator."
        )
    return specs


def _label(pos, feature_names):
    return repr(str(feature_names[pos])) if feature_names is not None else str(pos)


def _presence(flag, modality):
    """1 - availability flag, after checking it holds only 0 and 1."""
    flag = np.asarray(flag, dtype=np.float32)
    bad = ~np.isin(flag, (0.0, 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ModalityError(
            f"The availability column of modality {modality!r} must hold 0 "
            f"(present) or 1 (missing); row {row} holds {flag[row].item()!r}."
        )
    return 1.0 - flag


def split_table(X, specs):
    """Cut a validated 2-D float32 array into the network's input dict.

    Returns ``{name: array of shape (n, *spec.shape)}`` plus the presence
    matrix under :data:`skfusion.nn.network.PRESENT_KEY` when any modality
    can be absent.
    """
    from .nn.network import PRESENT_KEY

    inputs = {}
    for spec in specs:
        cols = np.asarray(spec.columns)
        contiguous = np.array_equal(cols, np.arange(cols[0], cols[0] + len(cols)))
        block = X[:, cols[0] : cols[0] + len(cols)] if contiguous else X[:, cols]
        inputs[spec.name] = np.ascontiguousarray(block).reshape(-1, *spec.shape)
    if any(s.has_missing for s in specs):
        present = np.ones((X.shape[0], len(specs)), dtype=np.float32)
        for j, spec in enumerate(specs):
            if spec.has_missing:
                present[:, j] = _presence(X[:, spec.missing_column], spec.name)
        inputs[PRESENT_KEY] = present
    return inputs


#: Bytes converted (or checked for NaN) at a time: bounds the temporaries.
CHUNK_BYTES = 32 * 2**20


def all_finite(arr):
    """``np.isfinite(arr).all()`` a chunk of rows at a time."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return True
    if arr.ndim < 2:
        return bool(np.isfinite(arr).all())
    rows = max(1, CHUNK_BYTES // max(1, arr[0].nbytes))
    return all(
        np.isfinite(arr[start : start + rows]).all()
        for start in range(0, len(arr), rows)
    )


def plain_numeric_frame(X):
    """Whether X is a non-empty DataFrame of NumPy bool/int/float columns,
    which :func:`split_frame` converts without copying it whole."""
    import pandas as pd

    if not isinstance(X, pd.DataFrame) or 0 in X.shape:
        return False
    return all(
        isinstance(dtype, np.dtype) and dtype.kind in "biuf" for dtype in X.dtypes
    )


def _frame_columns(frame, positions):
    """Columns at ``positions`` of a DataFrame as a float32 (n, k) array
    (a view where pandas can give one)."""
    first = positions[0]
    if positions == list(range(first, first + len(positions))):
        part = frame.iloc[:, first : first + len(positions)]  # no copy
    else:
        part = frame.iloc[:, positions]
    return part.to_numpy(dtype=np.float32)


def _column_steps(frame, positions):
    """Cut ``positions`` in pieces of at most CHUNK_BYTES of float32."""
    step = max(1, CHUNK_BYTES // (4 * max(len(frame), 1)))
    for start in range(0, len(positions), step):
        yield start, list(positions[start : start + step])


def frame_all_finite(frame):
    """Whether every cell of a plain numeric DataFrame is finite (chunked)."""
    return all(
        all_finite(_frame_columns(frame, part))
        for _, part in _column_steps(frame, range(frame.shape[1]))
    )


def split_frame(frame, specs):
    """:func:`split_table` straight from a plain numeric DataFrame.

    Each modality's columns are converted to float32 into one C-contiguous
    array, a chunk of columns at a time, so the whole table is never copied
    (nor converted to float64 when its dtypes are mixed): the result is the
    only full copy. Returns ``(inputs, finite)``; ``finite`` is False when
    some cell is NaN or infinite (the caller reports the first one).
    """
    from .nn.network import PRESENT_KEY

    n = len(frame)
    inputs, finite = {}, True
    for spec in specs:
        out = np.empty((n, len(spec.columns)), dtype=np.float32)
        for start, part in _column_steps(frame, spec.columns):
            out[:, start : start + len(part)] = _frame_columns(frame, part)
        finite = finite and all_finite(out)
        inputs[spec.name] = out.reshape(n, *spec.shape)
    flags = {
        j: _frame_columns(frame, [spec.missing_column])[:, 0]
        for j, spec in enumerate(specs)
        if spec.has_missing
    }
    finite = finite and all(all_finite(flag) for flag in flags.values())
    if finite and flags:
        present = np.ones((n, len(specs)), dtype=np.float32)
        for j, flag in flags.items():
            present[:, j] = _presence(flag, specs[j].name)
        inputs[PRESENT_KEY] = present
    return inputs, finite


def check_tokens(inputs, specs, *, reset):
    """Check token modalities hold integer ids below their vocabulary size.

    With ``reset`` (fit), a token modality declared without a vocabulary
    size (``modalities={"note": {"columns": ..., "kind": "tokens"}}``) gets
    the largest id seen plus one. Returns the (possibly completed) specs.
    """
    out = []
    for spec in specs:
        if spec.kind == "wide":
            _check_wide(inputs[spec.name], spec)
        if spec.kind == "tokens":
            ids = inputs[spec.name]
            if reset and spec.vocab_size is None:
                top = int(ids.max(initial=0)) if np.isfinite(ids).all() else 0
                spec = replace(spec, vocab_size=max(top + 1, 2))
            bad = _invalid_ids(ids, spec.vocab_size)
            if bad.any():
                row, pos = (int(i) for i in np.argwhere(bad)[0])
                raise ModalityError(
                    f"Token modality {spec.name!r}, row {row}, position {pos} "
                    f"holds {ids[row, pos].item()!r}, which is not an integer "
                    f"id in 0..{spec.vocab_size - 1} (vocabulary size "
                    f"{spec.vocab_size} from fit). Produce the ids with the "
                    "same fitted TextTokenizer in fit and predict (a refitted "
                    "vocabulary changes the ids), or declare a larger "
                    "'vocab_size' in modalities=."
                )
        out.append(spec)
    return out


def _invalid_ids(ids, vocab_size):
    """Where ``ids`` are not integers in 0..vocab_size - 1 (NaN included)."""
    return ~((ids >= 0) & (ids < vocab_size) & (ids == np.floor(ids)))


def _check_wide(values, spec):
    ids, weights = values[:, 0], values[:, 1]
    bad = _invalid_ids(ids, spec.vocab_size) | ~np.isfinite(weights)
    if bad.any():
        row, slot = (int(i) for i in np.argwhere(bad)[0])
        raise ModalityError(
            f"Wide modality {spec.name!r}, row {row}, slot {slot} holds id "
            f"{ids[row, slot].item()!r} and weight {weights[row, slot].item()!r}"
            f"; ids must be integers in 0..{spec.vocab_size - 1} (vocabulary "
            f"size {spec.vocab_size} from fit) and weights finite. Produce them "
            "with the same fitted WideFeatures in fit and predict."
        )


def is_lazy(value):
    """Whether ``value`` is decoded batch by batch (a LazyImages)."""
    return getattr(type(value), "_skfusion_lazy", False)


def _lazy_spec(name, images, flagged):
    shape = tuple(int(s) for s in images.shape[1:])
    has_missing = flagged or images._may_be_missing()
    return ModalitySpec(name, "image", shape, has_missing=has_missing)


def _check_lazy(name, images, spec):
    if spec.kind != "image" or tuple(images.shape[1:]) != tuple(spec.shape):
        raise ModalityError(
            f"X[{name!r}] is a LazyImages of {images.shape[1:]} images, but "
            f"modality {name!r} was a {spec.kind} of shape {spec.shape} in "
            "fit. Decode with an ImageLoader of the same size and color."
        )


def split_dict(X, specs=None):
    """Validate a dict of arrays; infer the specs when ``specs`` is None.

    Returns ``(inputs, specs)`` where ``inputs`` is the network's input dict.
    A :class:`~skfusion.preprocessing.LazyImages` value stays as it is (no
    image is decoded): it is an image modality whose presence starts from
    its non-missing paths (and its ``"<name>__missing"`` flag, if given);
    the batches mark unreadable images absent when they decode them. The
    presence matrix is there whenever a modality can be absent.
    """
    from .nn.network import PRESENT_KEY

    if not X:
        raise ModalityError("X is an empty dict; give one array per modality.")
    data = {k: v for k, v in X.items() if not str(k).endswith("__" + MISSING_NAME)}
    flags = {str(k)[: -len(MISSING_NAME) - 2]: v for k, v in X.items() if k not in data}
    for name in flags:
        if name not in data:
            raise ModalityError(
                f"X has {name + '__' + MISSING_NAME!r} but no {name!r} array."
            )
        if is_lazy(flags[name]):
            raise ModalityError(
                f"X[{name + '__' + MISSING_NAME!r}] is a LazyImages; it must be "
                "an array of 0/1 flags."
            )
    if specs is None:
        specs = []
        for name, arr in data.items():
            _check_name(name)
            if is_lazy(arr):
                specs.append(_lazy_spec(name, arr, name in flags))
                continue
            arr = np.asarray(arr)
            if arr.ndim not in (2, 3, 4):
                raise ModalityError(
                    f"X[{name!r}] must be 2-D (n, d) vectors, 3-D (n, H, W) or "
                    f"4-D (n, C, H, W) images; got shape {arr.shape}."
                )
            kind = "vector" if arr.ndim == 2 else "image"
            shape = arr.shape[1:] if arr.ndim != 3 else (1, *arr.shape[1:])
            specs.append(
                ModalitySpec(name, kind, tuple(shape), has_missing=name in flags)
            )
    expected = {s.name for s in specs}
    if set(data) != expected:
        absent, unseen = sorted(expected - set(data)), sorted(set(data) - expected)
        raise ModalityError(
            f"X has modalities {sorted(data)}, but the estimator was fitted on "
            f"{sorted(expected)} (absent: {absent}, not seen in fit: {unseen}). "
            "Pass one array per modality of fit, under the same keys."
        )
    n_rows = {name: len(arr) for name, arr in X.items()}
    if len(set(n_rows.values())) != 1:
        raise ModalityError(
            f"The arrays in X have different numbers of rows: {n_rows}."
        )
    n = next(iter(n_rows.values()))
    if n == 0:
        raise ValueError(
            "Found array with 0 sample(s) while a minimum of 1 is required."
        )
    inputs = {}
    for spec in specs:
        value = data[spec.name]
        if is_lazy(value):
            _check_lazy(spec.name, value, spec)
            inputs[spec.name] = value
            continue
        arr = np.asarray(value, dtype=np.float32)
        if arr.shape[1:] != spec.shape and arr.shape[1:] != spec.shape[1:]:
            raise ModalityError(
                f"X[{spec.name!r}] has row shape {arr.shape[1:]}, expected "
                f"{spec.shape} as in fit."
            )
        inputs[spec.name] = np.ascontiguousarray(arr.reshape(n, *spec.shape))
    lazy = {name for name, value in inputs.items() if is_lazy(value)}
    if any(s.has_missing for s in specs) or any(
        inputs[name]._may_be_missing() for name in lazy
    ):
        present = np.ones((n, len(specs)), dtype=np.float32)
        for j, spec in enumerate(specs):
            flag = flags.get(spec.name)
            if spec.name in lazy:
                present[:, j] = ~inputs[spec.name].missing_paths()
                if flag is not None:
                    present[:, j] *= _presence(np.asarray(flag).reshape(n), spec.name)
            elif spec.has_missing:
                if flag is None:
                    raise ModalityError(
                        f"X lacks {spec.name + '__' + MISSING_NAME!r}, which it "
                        "had in fit."
                    )
                present[:, j] = _presence(np.asarray(flag).reshape(n), spec.name)
        inputs[PRESENT_KEY] = present
    return inputs, specs


def describe(specs):
    """Short human summary, e.g. for verbose output."""
    return ", ".join(
        f"{s.name} ({s.kind} {'x'.join(map(str, s.shape))})" for s in specs
    )
