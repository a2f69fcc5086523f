"""Input helpers shared by the modality transformers (one column of values)."""

import numpy as np
import pandas as pd
import scipy.sparse as sp


def _as_object_columns(X, *, caller, reject_1d_numeric=False):
    """Turn ``X`` into a 2-D object array without modifying the caller's data.

    Returns ``(X_checked, values, index)``: ``X_checked`` is what is given to
    ``validate_data`` (a DataFrame keeps its column names; a Series becomes
    a one-column frame named after it), ``values`` a 2-D object ndarray (a
    new array, or a read-only view for object input) and ``index`` the pandas
    index or None.
    """
    if sp.issparse(X):
        raise TypeError(
            f"{caller} does not accept sparse input: pass a dense column "
            "(a pandas Series, a DataFrame, a list or an ndarray)."
        )
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        values = X.to_numpy(dtype=object)
        return X, values, X.index
    arr = np.asarray(X, dtype=object if isinstance(X, list | tuple) else None)
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported by {caller}.")
    if arr.ndim == 1:
        if reject_1d_numeric and arr.dtype.kind in "biuf":
            raise ValueError(
                f"{caller} got a 1-D numeric array, which is ambiguous (one "
                "sample or one column?). Reshape your data with "
                "X.reshape(-1, 1) for a single column, or pass a pandas Series, "
                "a list or an object array of texts."
            )
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(
            f"{caller} expects a 1-D or 2-D input, got {arr.ndim} dimensions."
        )
    return arr, arr.astype(object, copy=False), None


def _check_not_empty(values, caller):
    n_samples, n_features = values.shape
    if n_features == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={values.shape}) while a "
            f"minimum of 1 is required by {caller}."
        )
    if n_samples == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={values.shape}) while a "
            f"minimum of 1 is required by {caller}."
        )


def _is_missing(value):
    """None, NaN, pd.NA/NaT and blank strings are missing."""
    if isinstance(value, str):
        return not value.strip()
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def _column_names(X_checked):
    """The column labels of a frame as strings, positions otherwise."""
    if isinstance(X_checked, pd.DataFrame):
        return [str(c) for c in X_checked.columns]
    return [str(i) for i in range(X_checked.shape[1])]


def _describe_row(position, index):
    """'row 3' or "row 3 (index label 'p7')" for error messages."""
    if index is None:
        return f"row {position}"
    return f"row {position} (index label {index[position]!r})"
