"""Input helpers shared by the modality transformers (one column of values)."""

import os

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import validate_data

from .._validation import plain


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


class _TextColumnMixin:
    """Free-text input (one or more columns of texts): tags and conversion."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        # one_d_array stays False although 1-D text input is accepted:
        # scikit-learn's checks read that tag as "1-D input only".
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _as_columns(self, X):
        return _as_object_columns(X, caller=type(self).__name__, reject_1d_numeric=True)


class _ReadError(Exception):
    """Internal: why one path could not be read (message without the row).

    ``fix``, when given, replaces the loader's usual advice ("Fix the path
    (or set root=)") in the error it raises.
    """

    def __init__(self, message, fix=None):
        super().__init__(message)
        self.fix = fix


class _PathColumnMixin:
    """One column of file paths: input checks, path resolution and tags.

    Used by the transformers that read files (images, audio). A subclass
    sets ``_file_kind`` ("image", "audio"), ``_a_file`` (how an error names
    a readable file) and ``_example_step`` (a ColumnTransformer step for the
    one-column error), and has a ``root`` parameter.
    """

    _file_kind = "file"
    _a_file = "a file"
    _example_step = '("col", Transformer(), "col_path")'

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _validate_column(self, X, *, reset):
        name = type(self).__name__
        X_checked, values, index = _as_object_columns(X, caller=name)
        if values.shape[1] != 1:
            raise ValueError(
                f"{name} takes one column of {self._file_kind} paths, got "
                f"{values.shape[1]} columns {_column_names(X_checked)}. Use one "
                f"{name} per {self._file_kind} column in a ColumnTransformer, "
                f"e.g. {self._example_step}."
            )
        validate_data(self, X_checked, reset=reset, skip_check_array=True)
        return X_checked, values, index

    def _resolve(self, value):
        """The file's path (``root`` prepended to a relative one), or
        :class:`_ReadError` saying why ``value`` names no readable file."""
        if not isinstance(value, str | os.PathLike):
            raise _ReadError(
                f"{plain(value)!r} (type {type(value).__name__}) is not a path; "
                "expected a str or path-like value"
            )
        path = os.fspath(value)
        if self.root is not None and not os.path.isabs(path):
            path = os.path.join(os.fspath(self.root), path)
        if not os.path.exists(path):
            raise _ReadError(f"{path!r} does not exist")
        if os.path.isdir(path):
            raise _ReadError(f"{path!r} is a directory, not {self._a_file}")
        return path
