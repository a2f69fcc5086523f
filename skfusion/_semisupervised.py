"""Unlabeled rows (``unlabeled_label``), scikit-learn's semi-supervised
convention: ``y == -1`` marks a row without a target in
``SelfTrainingClassifier`` and ``LabelSpreading``; a regressor marks it with
NaN (``unlabeled_label=np.nan``).

The estimators opt in: with ``unlabeled_label=None`` (the default) every
row of y is a target, and ``-1`` is a class like any other (a {-1, 1}
binary y keeps working). With a label set:

- fit (:func:`split_unlabeled`): the unlabeled rows serve the pretraining
  (``pretrain_epochs``) and the alignment loss (``alignment``) only; their
  row weight in the supervised loss is 0 and their target a placeholder.
  With neither, they are dropped before anything is learnt: the fit is the
  fit on the labeled rows.
- ``score`` and :func:`labeled_scorer` leave them out, so that
  ``GridSearchCV`` and ``cross_val_score`` score the labeled rows of each
  test fold only.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.metrics import check_scoring
from sklearn.utils import _safe_indexing

from ._discovery import is_lazy

__all__ = ["LabeledScoreMixin", "labeled_scorer", "split_unlabeled", "zero_unlabeled"]


def _is_nan(label):
    return isinstance(label, Real) and np.isnan(label)


def unlabeled_mask(y, label):
    """Boolean mask of the rows of a 1-D ``y`` equal to ``label`` (NaN or
    None for ``label=np.nan``); None when ``label`` is None."""
    if label is None:
        return None
    values = y.to_numpy() if isinstance(y, pd.Series | pd.DataFrame) else np.asarray(y)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(
            f"unlabeled_label={label!r} marks unlabeled rows of a 1-D y; got y "
            f"of shape {values.shape}. Pass unlabeled_label=None with a 2-D y."
        )
    if _is_nan(label):
        return np.asarray(pd.isna(values), dtype=bool)
    return pd.Series(values, copy=False).eq(label).to_numpy(dtype=bool)


def take_raw(X, rows):
    """Rows of X as a caller passed it: a dict of arrays (and LazyImages),
    a DataFrame, an array, a sparse matrix or a list."""
    if isinstance(X, Mapping):
        return {
            key: value.take(rows) if is_lazy(value) else _safe_indexing(value, rows)
            for key, value in X.items()
        }
    return _safe_indexing(X, rows)


def _take_optional(value, rows, n):
    """``value`` at ``rows`` when it has one entry per row, else as is."""
    if value is None or np.ndim(value) == 0 or len(value) != n:
        return value
    return _safe_indexing(value, rows)


def split_unlabeled(estimator, X, y, sample_weight):
    """``(X, y, sample_weight, labeled)`` for fit.

    ``labeled`` is None when every row has a target, or when the unlabeled
    rows are of no use (no ``pretrain_epochs``, no ``alignment``): they are
    dropped from X, y and sample_weight here. Otherwise it is the boolean
    mask of the labeled rows, and y is a copy whose unlabeled rows hold the
    first labeled row's target (a placeholder that weighs nothing). The
    caller's y is never written.
    """
    label = getattr(estimator, "unlabeled_label", None)
    mask = unlabeled_mask(y, label)
    if mask is None or not mask.any():
        return X, y, sample_weight, None
    if mask.all():
        raise ValueError(
            f"Every row of y is unlabeled (unlabeled_label={label!r}): fit "
            "needs at least one labeled row per class."
        )
    labeled = ~mask
    n = len(mask)
    if not (estimator.pretrain_epochs or estimator.alignment is not None):
        rows = np.flatnonzero(labeled)
        weight = _take_optional(sample_weight, rows, n)
        return take_raw(X, rows), _safe_indexing(y, rows), weight, None
    first = int(np.flatnonzero(labeled)[0])
    if isinstance(y, pd.DataFrame):
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        filled = y.mask(pd.Series(mask, index=y.index), y.iloc[first])
    else:
        filled = np.array(y, copy=True).reshape(n)
        filled[mask] = filled[first]
    return X, filled, sample_weight, labeled


def zero_unlabeled(extra, labeled):
    """Per-row weights ``extra`` (None: 1) set to 0 on the unlabeled rows;
    ``extra`` as is when every row is labeled (``labeled`` None)."""
    if labeled is None:
        return extra
    base = np.ones(len(labeled)) if extra is None else np.asarray(extra, float)
    return base * labeled.reshape((-1,) + (1,) * (base.ndim - 1))


def drop_unlabeled(X, y, label, **kwargs):
    """``(X, y, kwargs)`` without the rows of y equal to ``label`` (NaN for
    ``np.nan``); per-row entries of ``kwargs`` (``sample_weight``) follow."""
    mask = unlabeled_mask(y, label)
    if mask is None or not mask.any():
        return X, y, kwargs
    rows = np.flatnonzero(~mask)
    if not len(rows):
        raise ValueError(
            f"Every row of y is unlabeled (unlabeled_label={label!r}): there "
            "is nothing to score."
        )
    kwargs = {key: _take_optional(v, rows, len(mask)) for key, v in kwargs.items()}
    return take_raw(X, rows), _safe_indexing(y, rows), kwargs


class LabeledScoreMixin:
    """``score`` on the labeled rows only when ``unlabeled_label`` is set."""

    def score(self, X, y, sample_weight=None):
        """The score of the classifier (accuracy) or regressor (R²), as in
        scikit-learn, on the rows of y that are labeled: rows equal to
        ``unlabeled_label`` are left out.

        Parameters
        ----------
        X : DataFrame, array-like or dict
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        X, y, kwargs = drop_unlabeled(
            X, y, self.unlabeled_label, sample_weight=sample_weight
        )
        return super().score(X, y, **kwargs)


class _LabeledScorer:
    """A scorer that leaves out the unlabeled rows (see
    :func:`labeled_scorer`)."""

    def __init__(self, scoring, unlabeled_label):
        self.scoring = scoring
        self.unlabeled_label = unlabeled_label

    def __call__(self, estimator, X, y, **kwargs):
        X, y, kwargs = drop_unlabeled(X, y, self.unlabeled_label, **kwargs)
        return check_scoring(estimator, scoring=self.scoring)(estimator, X, y, **kwargs)

    def __repr__(self):
        return (
            f"labeled_scorer({self.scoring!r}, "
            f"unlabeled_label={self.unlabeled_label!r})"
        )


def labeled_scorer(scoring=None, unlabeled_label=-1):
    """A scorer that scores the labeled rows of y only.

    Pass it as ``scoring=`` to ``GridSearchCV``, ``cross_val_score`` or
    ``cross_validate`` when y marks unlabeled rows (``-1``, scikit-learn's
    semi-supervised convention, or NaN for a regressor): the test folds then
    hold unlabeled rows too, which a plain scorer would count as errors
    (accuracy) or refuse (ROC AUC). The estimator is fitted on every row
    of its training folds (``unlabeled_label=-1``), and scored on the rows
    of the test fold with a target.

    Parameters
    ----------
    scoring : str, callable or None, default=None
        What scikit-learn's ``scoring=`` takes: a scorer name
        (``"roc_auc"``), a scorer callable ``(estimator, X, y)``, or None
        for the estimator's own ``score``.
    unlabeled_label : object, default=-1
        The value of y that marks an unlabeled row; ``np.nan`` for NaN.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, **kwargs)``; a ``sample_weight`` keyword is
        restricted to the same rows.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from skfusion.metrics import labeled_scorer
    >>> scorer = labeled_scorer("roc_auc")
    >>> scorer
    labeled_scorer('roc_auc', unlabeled_label=-1)
    """
    return _LabeledScorer(scoring, unlabeled_label)
