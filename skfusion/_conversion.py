"""How an estimator turns X into its network's input, given the modalities.

The modalities (:class:`~skfusion._discovery.ModalitySpec`) are found once,
in ``fit`` (:mod:`skfusion._discovery`); here every X, in fit and predict, is
cut into the network's input dict ``{name: float32 array of shape
(n, *spec.shape)}``, plus the presence matrix (1 where a modality is present
in a row) under :data:`~skfusion._names.PRESENT_KEY` when some modality can
be absent. A 2-D array, a plain numeric DataFrame (converted column chunk by
column chunk, never copied whole) and a dict of arrays are understood.
"""

from __future__ import annotations

import numpy as np

from ._discovery import dict_parts, is_lazy
from ._names import PRESENT_KEY, missing_key
from .exceptions import ModalityError

__all__ = [
    "CHUNK_BYTES",
    "all_finite",
    "check_ids",
    "frame_all_finite",
    "plain_numeric_frame",
    "split_dict",
    "split_frame",
    "split_table",
]

#: Bytes converted (or checked for NaN) at a time: bounds the temporaries.
CHUNK_BYTES = 32 * 2**20


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


# -- 2-D arrays ---------------------------------------------------------------
def split_table(X, specs):
    """Cut a validated 2-D float32 array into the network's input dict.

    Returns ``{name: array of shape (n, *spec.shape)}`` plus the presence
    matrix under :data:`~skfusion._names.PRESENT_KEY` when any modality can
    be absent.
    """
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


# -- DataFrames ---------------------------------------------------------------
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


# -- token and wide ids -------------------------------------------------------
def _invalid_ids(ids, vocab_size):
    """Where ``ids`` are not integers in 0..vocab_size - 1 (NaN included)."""
    return ~((ids >= 0) & (ids < vocab_size) & (ids == np.floor(ids)))


def _check_token_ids(ids, spec):
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


def check_ids(inputs, specs):
    """Check that token and wide modalities hold integer ids below their
    vocabulary size (and wide weights are finite)."""
    for spec in specs:
        if spec.kind == "wide":
            _check_wide(inputs[spec.name], spec)
        elif spec.kind == "tokens":
            _check_token_ids(inputs[spec.name], spec)


# -- dicts --------------------------------------------------------------------
def _check_lazy(name, images, spec):
    if spec.kind != "image" or tuple(images.shape[1:]) != tuple(spec.shape):
        raise ModalityError(
            f"X[{name!r}] is a LazyImages of {images.shape[1:]} images, but "
            f"modality {name!r} was a {spec.kind} of shape {spec.shape} in "
            "fit. Decode with an ImageLoader of the same size and color."
        )


def _check_keys(data, specs):
    expected = {s.name for s in specs}
    if set(data) != expected:
        absent, unseen = sorted(expected - set(data)), sorted(set(data) - expected)
        raise ModalityError(
            f"X has modalities {sorted(data)}, but the estimator was fitted on "
            f"{sorted(expected)} (absent: {absent}, not seen in fit: {unseen}). "
            "Pass one array per modality of fit, under the same keys."
        )


def _n_rows(X):
    """The number of rows shared by every value of the dict X."""
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
    return n


def _modality_array(value, spec, n):
    """``X[spec.name]`` as the network takes it (a LazyImages stays as it is)."""
    if is_lazy(value):
        _check_lazy(spec.name, value, spec)
        return value
    arr = np.asarray(value, dtype=np.float32)
    if arr.shape[1:] != spec.shape and arr.shape[1:] != spec.shape[1:]:
        raise ModalityError(
            f"X[{spec.name!r}] has row shape {arr.shape[1:]}, expected "
            f"{spec.shape} as in fit."
        )
    return np.ascontiguousarray(arr.reshape(n, *spec.shape))


def _dict_presence(inputs, flags, specs, n):
    """The presence matrix of a dict input, or None when every row has
    every modality."""
    lazy = {name for name, value in inputs.items() if is_lazy(value)}
    if not any(s.has_missing for s in specs) and not any(
        inputs[name]._may_be_missing() for name in lazy
    ):
        return None
    present = np.ones((n, len(specs)), dtype=np.float32)
    for j, spec in enumerate(specs):
        flag = flags.get(spec.name)
        if spec.name in lazy:
            present[:, j] = ~inputs[spec.name].missing_paths()
        elif flag is None and spec.has_missing:
            raise ModalityError(
                f"X lacks {missing_key(spec.name)!r}, which it had in fit."
            )
        if flag is not None and (spec.name in lazy or spec.has_missing):
            present[:, j] *= _presence(np.asarray(flag).reshape(n), spec.name)
    return present


def split_dict(X, specs):
    """Check a dict of arrays against the specs of fit; return the network's
    input dict.

    A :class:`~skfusion.preprocessing.LazyImages` value stays as it is (no
    image is decoded): it is an image modality whose presence starts from
    its non-missing paths (and its ``"<name>__missing"`` flag, if given);
    the batches mark unreadable images absent when they decode them. The
    presence matrix is there whenever a modality can be absent.
    """
    data, flags = dict_parts(X)
    _check_keys(data, specs)
    n = _n_rows(X)
    inputs = {spec.name: _modality_array(data[spec.name], spec, n) for spec in specs}
    present = _dict_presence(inputs, flags, specs, n)
    if present is not None:
        inputs[PRESENT_KEY] = present
    return inputs
