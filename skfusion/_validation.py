"""Input checks of the estimators whose errors name the column, the row and
the fix (X's cells and columns, y's targets and labels)."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd

from .exceptions import ModalityError

__all__ = [
    "check_label_types",
    "check_numeric_frame",
    "check_target_present",
    "column_mismatch",
    "describe_row",
    "first_bad_cell",
    "first_bad_entry",
    "is_column_mismatch",
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
        f"with X[{name + '__missing'!r}] = 1 may hold any finite value, e.g. 0)."
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


def is_column_mismatch(exc):
    """Whether ``exc`` is scikit-learn's error about X's columns (names or count)."""
    message = str(exc)
    return message.startswith("The feature names should match") or (
        message.startswith("X has ") and " features, but " in message
    )


def column_mismatch(exc, estimator, X):
    """scikit-learn's error about X's columns at predict, with the fix."""
    message = str(exc).rstrip()
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and isinstance(X, pd.DataFrame):

        def prefixes(columns):
            return list(dict.fromkeys(str(c).partition("__")[0] for c in columns))

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
