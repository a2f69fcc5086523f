"""Availability of a whole group of (tabular) columns."""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from .._names import MISSING_NAME
from ._utils import _as_object_columns, _check_not_empty

__all__ = ["AvailabilityIndicator"]


class AvailabilityIndicator(TransformerMixin, BaseEstimator):
    """One ``missing`` column: 1 where a row's group of columns is absent.

    Put it beside a modality's own preprocessing so that the estimator masks
    the whole modality in rows where it was not measured (for example a lab
    panel that was never drawn), instead of feeding imputed values as data::

        ("labs", make_union(make_pipeline(SimpleImputer(), StandardScaler()),
                            AvailabilityIndicator()), lab_columns)

    gives ``labs__pipeline__crp`` ... and ``labs__availabilityindicator__missing``;
    a name that ends in ``__missing`` marks the availability column of its
    modality, so the estimator masks ``labs`` in the rows flagged 1.

    Parameters
    ----------
    how : {"all", "any"}, default="all"
        "all": a row is absent when every one of its values is missing (None,
        NaN, pd.NA); "any": when at least one is.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names seen in fit, when X is a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion.preprocessing import AvailabilityIndicator
    >>> X = np.array([[1.0, np.nan], [np.nan, np.nan], [0.5, 2.0]])
    >>> AvailabilityIndicator().fit_transform(X).ravel().tolist()
    [0.0, 1.0, 0.0]
    >>> AvailabilityIndicator(how="any").fit_transform(X).ravel().tolist()
    [1.0, 1.0, 0.0]
    """

    _parameter_constraints: dict = {"how": [StrOptions({"all", "any"})]}

    def __init__(self, *, how="all"):
        self.how = how

    def _flags(self, X, *, reset):
        checked, values, _ = _as_object_columns(
            X, caller="AvailabilityIndicator", reject_1d_numeric=True
        )
        _check_not_empty(values, "AvailabilityIndicator")
        validate_data(self, checked, reset=reset, skip_check_array=True)
        absent = pd.isna(pd.DataFrame(values)).to_numpy()
        rows = absent.all(axis=1) if self.how == "all" else absent.any(axis=1)
        return rows.astype(np.float32).reshape(-1, 1)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the input columns (nothing is learned).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : AvailabilityIndicator
        """
        self._flags(X, reset=True)
        return self

    def transform(self, X):
        """Flag the rows whose columns are absent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        missing : ndarray of shape (n_samples, 1), float32
            1.0 where the row is absent, else 0.0.
        """
        check_is_fitted(self)
        return self._flags(X, reset=False)

    def get_feature_names_out(self, input_features=None):
        """``["missing"]``: the availability column of a modality.

        Parameters
        ----------
        input_features : array-like of str or None
            Checked against ``feature_names_in_``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        return np.asarray([MISSING_NAME], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags
