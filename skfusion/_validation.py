"""Input checks of the estimators whose errors name the column, the row and
the fix (X's cells and columns, y's targets and labels)."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd

from ._names import missing_key, split_prefix
from .exceptions import ModalityError

__all__ = [
    "check_columns",
    "check_label_types",
    "check_numeric_frame",
    "check_target_present",
    "column_mismatch",
    "describe_row",
    "first_bad_cell",
    "first_bad_entry",
    "plain",
]


def plain(value):
    """``value`` made plain for ``{value!r}`` in a message.

    NumPy 2 shows its scalars as ``np.int64(85)``; a message should show
    ``85``. NumPy scalars become Python ones (``.item()``), NumPy datetimes
    and timedeltas pandas ones (readable, where ``.item()`` may give a bare
    integer of nanoseconds), and tuples (a MultiIndex label) are made plain
    item by item. Anything else, a pandas Timestamp included, is returned
    unchanged.
    """
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, np.datetime64 | np.timedelta64):
        convert = pd.Timestamp if isinstance(value, np.datetime64) else pd.Timedelta
        try:
            return convert(value)
        except (ValueError, OverflowError):  # out of pandas' range
            return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def describe_row(position, index=None):
    """A row for a message: "row 3", or "row 3 (index 'p7')" when the input
    has a pandas index (``index``, any sequence of labels); the label is
    shown as a plain Python value (:func:`plain`), "row 85 (index 85)"."""
    if index is None:
        return f"row {position}"
    return f"row {position} (index {plain(index[position])!r})"


def first_bad_cell(X, feature_names, index):
    """Describe the first non-finite cell of a 2-D float array."""
    bad_rows = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if not len(bad_rows):
        return None
    row = int(bad_rows[0])
    col = int(np.flatnonzero(~np.isfinite(X[row]))[0])
    name = repr(str(feature_names[col])) if feature_names is not None else col
    return (
        f"Input X contains NaN or inf in column {name}, {describe_row(row, index)} "
        f"({int((~np.isfinite(X)).any(axis=1).sum())} row(s) in all). The "
        "network cannot use missing values: impute them first, e.g. "
        "SimpleImputer(add_indicator=True) in the ColumnTransformer."
    )


def first_bad_entry(name, arr):
    """Describe the first non-finite value of the array ``X[name]`` of a dict X."""
    bad = ~np.isfinite(np.asarray(arr).reshape(len(arr), -1))
    bad_rows = bad.any(axis=1)
    row = int(np.flatnonzero(bad_rows)[0])
    at = np.unravel_index(int(np.flatnonzero(bad[row])[0]), np.shape(arr)[1:])
    return (
        f"Input X[{name!r}] contains NaN or inf in row {row}, at position "
        f"{tuple(int(i) for i in at)} ({int(bad_rows.sum())} row(s) in all). The "
        "network cannot use missing values: impute them (a row marked absent "
        f"with X[{missing_key(name)!r}] = 1 may hold any finite value, e.g. 0)."
    )


def _is_number(value):
    return isinstance(value, Real | np.bool_) and not pd.isna(value)


def check_numeric_frame(X):
    """Name the first non-numeric column of a DataFrame, its row and the fix."""
    for j, col in enumerate(X.columns):
        column = X.iloc[:, j]
        dtype = column.dtype
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            continue
        row = next((i for i, v in enumerate(column) if not _is_number(v)), None)
        if row is None:
            raise ModalityError(
                f"Column {col!r} of X has dtype {dtype} but holds only numbers; "
                f"the estimator takes numeric columns: convert it, e.g. "
                f"X.astype({{{col!r}: float}})."
            )
        where, value = describe_row(row, X.index), plain(column.iloc[row])
        raise ModalityError(
            f"Column {col!r} of X has dtype {dtype}: {where} holds "
            f"{value!r}, not a number. The estimator takes numeric "
            "features. Encode raw columns first, e.g. ColumnTransformer([('note', "
            "TextEmbedder(), 'note'), ('xray', ImageLoader(), 'xray_path'), "
            "('tab', OneHotEncoder(), [...])]).set_output(transform='pandas'); "
            "convert numbers stored as text with pd.to_numeric and impute "
            "missing values (SimpleImputer)."
        )


def check_target_present(y):
    """Name the first row of y without a target (None or NaN), with the fix."""
    index = y.index if isinstance(y, pd.Series | pd.DataFrame) else None
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError):  # ragged: left to scikit-learn's checks
        return
    if arr.ndim == 0 or arr.dtype.kind not in "fO" or not len(arr):
        return
    missing = np.asarray(pd.isna(arr)).reshape(len(arr), -1).any(axis=1)
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise ValueError(
            f"Input y contains NaN or None in {describe_row(row, index)} "
            f"({int(missing.sum())} row(s) in all). Rows without a target "
            "cannot be used in fit: drop them first, e.g. keep = y.notna(); "
            "model.fit(X[keep], y[keep])."
        )


def check_label_types(y):
    """Refuse class labels mixing strings and other types (they do not sort)."""
    if y.dtype != object or not len(y):
        return
    is_str = np.fromiter((isinstance(v, str) for v in y), dtype=bool, count=len(y))
    if is_str.all() or not is_str.any():
        return
    row = int(np.flatnonzero(is_str != is_str[0])[0])
    raise ValueError(
        f"y mixes string and non-string class labels: row 0 holds {plain(y[0])!r} but "
        f"row {row} holds {plain(y[row])!r}. Give every label one type, e.g. "
        "y.astype(str)."
    )


def _column_names(X):
    """X's column names when they are all strings (what scikit-learn
    records as ``feature_names_in_``), else None."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = np.asarray(columns, dtype=object)
    return names if all(isinstance(name, str) for name in names) else None


def _n_columns(X):
    """The number of columns of a 2-D table, or None for anything else."""
    shape = getattr(X, "shape", None)
    if shape is not None:
        return shape[1] if len(shape) == 2 else None
    try:
        first = X[0]
        return None if isinstance(first, str) else len(first)
    except (TypeError, IndexError, KeyError):
        return None


def _names_mismatch(fitted, X):
    """scikit-learn's message when X's column names differ from ``fitted``
    (the names of fit), else None."""
    given = _column_names(X)
    if fitted is None or given is None:
        return None  # scikit-learn warns about a lost or new set of names
    if len(fitted) == len(given) and not np.any(fitted != given):
        return None
    unexpected = sorted(set(given) - set(fitted))
    missing = sorted(set(fitted) - set(given))

    def listed(names):
        shown = [f"- {name}\n" for name in names[:5]]
        return "".join(shown) + ("- ...\n" if len(names) > 5 else "")

    message = "The feature names should match those that were passed during fit.\n"
    if unexpected:
        message += "Feature names unseen at fit time:\n" + listed(unexpected)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n"
        message += listed(missing)
    if not unexpected and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    return message


def _count_mismatch(estimator, X):
    """scikit-learn's message when X has not ``n_features_in_`` columns."""
    expected = getattr(estimator, "n_features_in_", None)
    n_features = _n_columns(X)
    if n_features is None:  # not a 2-D table (1-D, empty, ragged): check_array says so
        return None
    if expected is None or n_features == expected:
        return None
    return (
        f"X has {n_features} features, but {type(estimator).__name__} "
        f"is expecting {expected} features as input."
    )


def check_columns(estimator, X):
    """At predict, refuse a 2-D X whose columns are not those of fit.

    Checks what ``validate_data(reset=False)`` checks, names then count, in
    scikit-learn's words, and adds the modalities lost and the fix
    (:func:`column_mismatch`).
    """
    fitted = getattr(estimator, "feature_names_in_", None)
    message = _names_mismatch(fitted, X) or _count_mismatch(estimator, X)
    if message is not None:
        raise column_mismatch(message, estimator, X)


def column_mismatch(message, estimator, X):
    """The error about X's columns at predict (``message``, in scikit-learn's
    words), with the modalities lost and the fix."""
    message = str(message).rstrip()
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and isinstance(X, pd.DataFrame):

        def prefixes(columns):
            return list(dict.fromkeys(split_prefix(str(c))[0] for c in columns))

        fitted, given = prefixes(names), prefixes(X.columns)
        gone = [m for m in fitted if m not in given]
        new = [m for m in given if m not in fitted]
        if gone:
            message += f"\nModalities of fit absent from X: {gone}"
            if new:
                message += (
                    f"; X has column prefixes unseen in fit: {new} (renaming a "
                    "ColumnTransformer step renames the prefix of its columns)"
                )
            message += "."
    return ValueError(
        f"{message}\nFix: pass X with the {estimator.n_features_in_} columns "
        "seen in fit (feature_names_in_ for a DataFrame), in the same order, "
        "e.g. by predicting through the fitted Pipeline so that X gets the same "
        "preprocessing."
    )
