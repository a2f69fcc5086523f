"""How the estimators check X (and y) and turn X into the network's input.

``fit`` calls :meth:`InputMixin._validate_fit`: it forgets an earlier fit,
checks X and y, finds the modalities (:mod:`skfusion._discovery`) and
converts X (:mod:`skfusion._conversion`). ``predict``, ``transform`` and
the inspection functions call :meth:`InputMixin._predict_inputs`, which
checks X against what fit saw and converts it with the modalities of fit.
The errors name the column, row or key at fault and the fix
(:mod:`skfusion._validation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import (
    _check_y,
    check_array,
    check_consistent_length,
    validate_data,
)

from ._conversion import (
    all_finite,
    check_ids,
    frame_all_finite,
    plain_numeric_frame,
    split_dict,
    split_frame,
    split_table,
)
from ._discovery import dict_specs, infer_vocab_sizes, is_lazy, resolve_modalities
from ._structure import warn_lost_structure
from ._validation import (
    check_columns,
    check_numeric_frame,
    check_target_present,
    first_bad_cell,
    first_bad_entry,
)
from .exceptions import ModalityError

__all__ = ["InputMixin"]


def _is_dict(X):
    return isinstance(X, Mapping) and not sp.issparse(X)


def _check_dict_finite(inputs):
    for name, arr in inputs.items():
        # LazyImages are decoded (and so checked) batch by batch.
        if not is_lazy(arr) and not all_finite(arr):
            raise ValueError(first_bad_entry(name, arr))


def _start_table(X):
    """Check a DataFrame's dtypes; return ``(index, frame)``, ``frame`` True
    for a plain numeric DataFrame.

    Such a DataFrame is converted per modality straight into the network's
    float32 arrays (:func:`~skfusion._conversion.split_frame`): one copy of
    the data, with no float32 (or float64, for mixed dtypes) copy of the
    whole table first. Anything else goes through ``check_array``.
    """
    index = None
    if isinstance(X, pd.DataFrame):
        index = X.index
        check_numeric_frame(X)
    return index, plain_numeric_frame(X)


def _array_options(frame):
    """``validate_data``'s options for X (``frame``: see :func:`_start_table`)."""
    if frame:
        return {"skip_check_array": True}
    return {"dtype": np.float32, "ensure_all_finite": False}


@dataclass
class _Table:
    """A 2-D X after ``validate_data``: its values (a float32 array, or the
    plain numeric DataFrame itself), its column names and index (for the
    messages)."""

    values: object
    frame: bool
    names: object
    index: object

    def bad_cell(self):
        """The message naming the first NaN or infinite cell."""
        values = self.values
        if self.frame:
            values = check_array(values, dtype=np.float32, ensure_all_finite=False)
        return first_bad_cell(values, self.names, self.index)

    def check_finite(self):
        """Refuse an array with a NaN or infinite cell (a plain numeric
        DataFrame is checked while it is converted)."""
        if not self.frame and not all_finite(self.values):
            raise ValueError(self.bad_cell())

    def inputs(self, specs):
        """The network's input dict."""
        if not self.frame:
            return split_table(self.values, specs)
        inputs, finite = split_frame(self.values, specs)
        if not finite:
            raise ValueError(self.bad_cell())
        return inputs


class InputMixin:
    """``_validate_fit`` and ``_predict_inputs`` for the estimators.

    Relies on the ``modalities`` parameter, ``_check_y`` (the subclass's
    target check) and ``_y_validation`` (its ``validate_data`` options).
    """

    # ---------------------------------------------------------------- fit
    def _validate_fit(self, X, y):
        """Check X and y for ``fit``; return ``(inputs, y)``.

        Forgets an earlier fit (:meth:`_forget_fit`), finds the modalities
        (``modalities_``) and converts X into the network's input dict.
        ``y=None`` raises scikit-learn's "requires y" error.
        """
        self._forget_fit()
        if y is not None:
            check_target_present(y)
        if _is_dict(X):
            return self._fit_dict(X, y)
        return self._fit_table(X, y)

    def _forget_fit(self):
        """Delete the fitted attributes (``name_``) of an earlier fit."""
        for attr in [a for a in vars(self) if a.endswith("_")]:
            delattr(self, attr)

    def _set_specs(self, specs):
        self.modalities_ = {spec.name: spec for spec in specs}

    def _fit_dict(self, X, y):
        if self.modalities is not None:
            raise ModalityError(
                "modalities= applies to 2-D input; a dict X already names its "
                "modalities."
            )
        specs = dict_specs(X)
        inputs = split_dict(X, specs)
        self._set_specs(specs)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target "
                "y is None."
            )
        y = self._check_y(y)
        n = len(next(iter(inputs.values())))
        if len(y) != n:
            raise ValueError(f"X has {n} rows but y has {len(y)}.")
        _check_dict_finite(inputs)
        return inputs, y

    def _fit_table(self, X, y):
        index, frame = _start_table(X)
        options = {**_array_options(frame), **self._y_validation}
        X, y = validate_data(self, X, y, reset=True, **options)
        if frame:  # what check_X_y does to y
            y = _check_y(y, **self._y_validation, estimator=self)
            check_consistent_length(X, y)
        y = self._check_y(y)
        table = _Table(X, frame, getattr(self, "feature_names_in_", None), index)
        table.check_finite()
        if table.names is None and self.modalities is None:
            warn_lost_structure(X)
        specs = self._table_specs(table)
        inputs = table.inputs(specs)
        specs = infer_vocab_sizes(specs, inputs)
        check_ids(inputs, specs)
        self._set_specs(specs)
        return inputs, y

    def _table_specs(self, table):
        """The modalities of a 2-D X (its names, or ``modalities=``)."""
        n_features = table.values.shape[1]
        try:
            return resolve_modalities(table.names, n_features, self.modalities)
        except ModalityError:
            # A NaN where an id or a flag was expected: name the cell instead.
            if table.frame and not frame_all_finite(table.values):
                raise ValueError(table.bad_cell()) from None
            raise

    # ------------------------------------------------------------ predict
    def _predict_inputs(self, X):
        """Check X against fit and convert it with the modalities of fit;
        return the network's input dict."""
        specs = list(self.modalities_.values())
        if _is_dict(X):
            inputs = split_dict(X, specs)
            _check_dict_finite(inputs)
            return inputs
        index, frame = _start_table(X)
        check_columns(self, X)
        X = validate_data(self, X, reset=False, **_array_options(frame))
        table = _Table(X, frame, getattr(self, "feature_names_in_", None), index)
        table.check_finite()
        inputs = table.inputs(specs)
        check_ids(inputs, specs)
        return inputs
