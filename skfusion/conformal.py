"""Conformal prediction sets and intervals, calibrated per availability pattern.

:class:`ConformalClassifier` and :class:`ConformalRegressor` wrap any
estimator; with ``groups="availability"`` they calibrate one threshold per
availability pattern (the modalities a row has): Mondrian conformal
prediction (Vovk, Gammerman and Shafer, "Algorithmic Learning in a Random
World", 2005), so rows without a scan are covered as often as the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    clone,
)
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._base import _BaseCrossModal
from ._warnings import warn
from .exceptions import SkfusionDataWarning
from .inspection import modality_availability
from .metrics._availability import ALL_ROWS, NO_MODALITY

__all__ = ["ConformalClassifier", "ConformalRegressor"]

_CHUNK = 256  # test rows per block in the CV+ quantiles

_GUARANTEE_NOTES = """
    Guarantees: with ``cv="split"`` or ``"prefit"``, a new row exchangeable
    with the calibration rows is covered with probability at least
    ``confidence_level``, over all rows (``groups=None``) or within each
    calibrated group. Cross-conformal (``cv=int``) fits and calibrates on
    every row; its worst case is only ``1 - 2 * alpha - sqrt(2 / n)`` (Barber
    et al. 2021, Theorem 4; Vovk et al. 2018), in practice it covers close to
    ``1 - alpha``. A group of ``n`` calibration rows thresholds at its
    ``ceil((n + 1) * (1 - alpha))``-th smallest score (past ``n``: infinite)."""


def _quantile_rank(n, alpha):
    """The finite-sample rank ``ceil((n + 1)(1 - alpha))`` (1-based)."""
    return int(np.ceil((n + 1) * (1 - alpha) - 1e-9))


def conformal_quantile(scores, alpha):
    """The ``ceil((n + 1)(1 - alpha)) / n`` empirical quantile; inf past n."""
    k = _quantile_rank(len(scores), alpha)
    if k > len(scores):
        return np.inf
    return float(np.partition(scores, k - 1)[k - 1])


def _aps_scores(proba):
    """Non-randomised APS score of every class: the probability mass of the
    classes at least as probable as it (ties all counted)."""
    order = np.argsort(-proba, axis=1, kind="stable")
    ranked = np.take_along_axis(proba, order, axis=1)
    mass = np.cumsum(ranked, axis=1)
    is_end = np.ones_like(ranked, dtype=bool)
    is_end[:, :-1] = ranked[:, :-1] != ranked[:, 1:]
    ends = np.where(is_end, np.arange(proba.shape[1]), proba.shape[1])
    last = np.minimum.accumulate(ends[:, ::-1], axis=1)[:, ::-1]
    scores = np.empty_like(proba, dtype=float)
    np.put_along_axis(scores, order, np.take_along_axis(mass, last, axis=1), axis=1)
    return scores


def _take(X, rows):
    """Rows of X (DataFrame, array-like or a dict of arrays), as a copy."""
    if isinstance(X, Mapping):
        return {key: _safe_indexing(value, rows) for key, value in X.items()}
    return _safe_indexing(X, rows)


def _inner(model):
    """The estimator inside a FrozenEstimator, for modality_availability."""
    return model.estimator if isinstance(model, FrozenEstimator) else model


def _is_skfusion(estimator):
    estimator = _inner(estimator)
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    return isinstance(_inner(final), _BaseCrossModal)


class _BaseConformal(BaseEstimator):
    """Fitting, calibration and groups; subclasses define the scores."""

    _parameter_constraints: dict = {
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "groups": [StrOptions({"availability"}), callable, None],
        "cv": [
            StrOptions({"split", "prefit"}),
            Interval(Integral, 2, None, closed="left"),
        ],
        "calibration_size": [Interval(Real, 0, 1, closed="neither")],
        "min_group_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    @property
    def _alpha(self):
        return 1.0 - self.confidence_level

    def _check_estimator(self):
        if self.groups == "availability" and not _is_skfusion(self.estimator):
            raise TypeError(
                f"{type(self).__name__}(groups='availability') needs a skfusion "
                "estimator or a Pipeline ending in one; got "
                f"{type(self.estimator).__name__}. Pass groups=None (one pooled "
                "threshold) or a callable groups(X) returning one label per row."
            )
        if self.cv == "prefit":
            check_is_fitted(self.estimator)

    def _labels(self, model, X, n_rows):
        """One hashable group label per row of X."""
        if self.groups is None:
            return [ALL_ROWS] * n_rows
        if isinstance(self.groups, str):  # "availability"
            present = modality_availability(_inner(model), X)
            names = np.asarray(present.columns, dtype=object)
            return [" + ".join(names[row]) or NO_MODALITY for row in present.to_numpy()]
        labels = list(self.groups(X))
        if len(labels) != n_rows:
            raise ValueError(
                f"groups(X) returned {len(labels)} labels for {n_rows} rows."
            )
        return labels

    def _folds(self, y, n_rows):
        """``(train, calibration)`` row indices: one pair (split, prefit) or K."""
        if self.cv == "prefit":
            return [(None, np.arange(n_rows))]
        stratify = y if isinstance(self, ClassifierMixin) else None
        if self.cv == "split":
            train, cal = train_test_split(
                np.arange(n_rows),
                test_size=self.calibration_size,
                stratify=stratify,
                random_state=self.random_state,
            )
            return [(np.sort(train), np.sort(cal))]
        seed = check_random_state(self.random_state).randint(2**31 - 1)
        splitter = (StratifiedKFold if stratify is not None else KFold)(
            n_splits=self.cv, shuffle=True, random_state=seed
        )
        return list(splitter.split(np.zeros(n_rows), y))

    def _fit_calibrate(self, X, y, y_fit):
        """Fit, then score the calibration rows (``y``: class indices or values)."""
        self.estimators_, scores, labels, folds = [], [], [], []
        for fold, (train, cal) in enumerate(self._folds(y_fit, len(y))):
            if train is None:
                model = self.estimator
            else:
                model = clone(self.estimator).fit(_take(X, train), y_fit[train])
            self._check_model(model)
            X_cal = _take(X, cal)
            scores.append(self._true_scores(model, X_cal, y[cal]))
            labels += self._labels(model, X_cal, len(cal))
            folds.append(np.full(len(cal), fold))
            self.estimators_.append(model)
        self.calibration_scores_ = np.concatenate(scores)
        self.calibration_folds_ = np.concatenate(folds)
        self._set_groups(labels)
        return self

    def _check_model(self, model):  # the classifier checks its classes
        pass

    def _set_groups(self, labels):
        """Group sizes, which groups get their own threshold, the thresholds."""
        codes, uniques = pd.factorize(pd.Series(labels, dtype=object), sort=False)
        counts = np.bincount(codes, minlength=len(uniques))
        self._codes = codes
        self._code_of = {label: i for i, label in enumerate(uniques)}
        self.group_sizes_ = {label: int(counts[i]) for i, label in enumerate(uniques)}
        small = {
            label: count
            for label, count in self.group_sizes_.items()
            if count < self.min_group_size and self.groups is not None
        }
        self._own = np.array([label not in small for label in uniques], dtype=bool)
        scores, alpha = self.calibration_scores_, self._alpha
        self.pooled_threshold_ = conformal_quantile(scores, alpha)
        self.thresholds_ = {
            label: conformal_quantile(scores[codes == i], alpha)
            if self._own[i]
            else self.pooled_threshold_
            for i, label in enumerate(uniques)
        }
        if small:
            listed = ", ".join(f"{label!r} ({n} rows)" for label, n in small.items())
            warn(
                f"{type(self).__name__}: {len(small)} group(s) have fewer than "
                f"min_group_size={self.min_group_size} calibration rows and use "
                f"the pooled threshold instead of their own: {listed}.",
                SkfusionDataWarning,
            )

    def _row_codes(self, X, n_rows):
        """The calibration group each row uses: its own, or -1 (pooled) when
        its group was too small or never seen in calibration."""
        labels = self._labels(self.estimators_[0], X, n_rows)
        codes = np.array([self._code_of.get(label, -1) for label in labels])
        own = np.append(self._own, False)[codes]  # -1 reads the appended False
        return np.where(own, codes, -1)

    def _calibration_rows(self, code):
        if code < 0:
            return np.ones(len(self._codes), dtype=bool)
        return self._codes == code


_BASE_PARAMS = """
    confidence_level : float in (0, 1), default=0.9
        Target coverage ``1 - alpha``.
    groups : "availability", callable or None, default="availability"
        Mondrian groups, each calibrated on its own rows. "availability":
        the modalities a row has, joined by " + " (as in
        :func:`skfusion.metrics.availability_report`), from
        :func:`skfusion.inspection.modality_availability` on a skfusion
        estimator or Pipeline. None: one pooled threshold. A callable:
        ``groups(X)`` returns one hashable label per row.
    cv : "split", "prefit" or int, default="split"
        "split": fit ``clone(estimator)`` on ``1 - calibration_size`` of the
        rows, calibrate on the rest. "prefit": ``estimator`` is fitted (a
        FrozenEstimator stays so under ``clone``); all rows calibrate. int
        K >= 2: cross-conformal, K models each scoring its held-out fold.
    calibration_size : float in (0, 1), default=0.25
        Share of the rows held out for calibration with ``cv="split"``.
    min_group_size : int, default=50
        A group with fewer calibration rows uses the pooled threshold (one
        :class:`~skfusion.exceptions.SkfusionDataWarning` names them), as
        does a group never seen in calibration, at predict time.
    random_state : int, RandomState instance or None, default=None
        Seeds the calibration split or the folds (not the estimator)."""

_BASE_ATTRIBUTES = """
    estimators_ : list of estimators
        The fitted model (one with "split" or "prefit", K with cv=int).
    thresholds_ : dict
        Group label -> the score threshold its rows use (the pooled one under
        ``min_group_size``; with ``groups=None`` one key, "all rows"). With
        cv=int, quantiles of the out-of-fold scores, for inspection only.
    pooled_threshold_ : float
        Threshold over all calibration rows.
    group_sizes_ : dict
        Group label -> number of calibration rows.
    calibration_scores_, calibration_folds_ : ndarray of shape (n_calibration,)
        Each calibration row's conformity score and the fold that scored it."""


def _doc(cls):
    cls.__doc__ = (
        cls.__doc__.replace("%(params)s", _BASE_PARAMS.strip())
        .replace("%(attributes)s", _BASE_ATTRIBUTES.strip())
        .replace("%(guarantees)s", _GUARANTEE_NOTES.strip())
    )
    return cls


@_doc
class ConformalClassifier(ClassifierMixin, _BaseConformal):
    """Conformal prediction sets, calibrated per availability pattern.

    A set of classes per row that holds the true class with probability
    ``confidence_level``, within each availability pattern by default.

    Parameters
    ----------
    estimator : classifier with predict_proba
        For instance a Pipeline from the raw DataFrame to a
        :class:`skfusion.CrossModalClassifier`. Cloned and fitted in ``fit``
        unless ``cv="prefit"``.
    %(params)s
    method : {"lac", "aps"}, default="lac"
        "lac" (Sadinle et al. 2019): ``1 - p(true class)``, smallest sets.
        "aps" (adaptive sets, Romano et al. 2020), *non-randomised*: the mass
        of the classes at least as probable as the true one (ties together).
        The least probable class scores 1: when it is the true class of more
        than ``alpha`` of the calibration rows (binary: accuracy below
        ``confidence_level``), every set holds every class; LAC does not.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    %(attributes)s

    Notes
    -----
    A class is in a row's set when its score is at most the threshold of
    the row's group (split, prefit); a LAC set can be empty. Cross-conformal
    (cv=int) uses Vovk's p-values (Vovk, "Cross-conformal predictors", Ann.
    Math. Artif. Intell., 2015): a class is kept when ``(1 + sum over folds
    k of #{group rows i of fold k with score_i >= the class's score under
    model k}) / (n + 1) > alpha``; ``predict_proba`` averages the K models.
    %(guarantees)s

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skfusion.conformal import ConformalClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(400, 3)
    >>> y = (X[:, 0] + rng.randn(400) > 0).astype(int)
    >>> conf = ConformalClassifier(LogisticRegression(), groups=None,
    ...                            random_state=0).fit(X, y)
    >>> sets = conf.predict_set(X[:5])
    >>> sets.shape, sets.dtype
    ((5, 2), dtype('bool'))
    >>> list(conf.group_sizes_.items())
    [('all rows', 100)]
    """

    _parameter_constraints: dict = {
        **_BaseConformal._parameter_constraints,
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "method": [StrOptions({"lac", "aps"})],
    }

    def __init__(
        self,
        estimator,
        confidence_level=0.9,
        groups="availability",
        cv="split",
        method="lac",
        calibration_size=0.25,
        min_group_size=50,
        random_state=None,
    ):
        self.estimator = estimator
        self.confidence_level = confidence_level
        self.groups = groups
        self.cv = cv
        self.method = method
        self.calibration_size = calibration_size
        self.min_group_size = min_group_size
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the model(s) and calibrate the thresholds.

        Parameters
        ----------
        X : DataFrame, array-like or dict
            What the estimator accepts (rows are taken, never modified).
        y : array-like of shape (n_samples,)
            Class labels (binary or multiclass).

        Returns
        -------
        self : ConformalClassifier
        """
        self._check_estimator()
        y = column_or_1d(y, warn=True)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                "ConformalClassifier needs binary or multiclass labels in y; got "
                f"{kind!r} targets."
            )
        if self.cv == "prefit":
            self.classes_ = np.asarray(self.estimator.classes_)
            unseen = np.setdiff1d(np.unique(y), self.classes_)
            if unseen.size:
                raise ValueError(
                    f"y has classes {unseen.tolist()} that the prefit estimator "
                    f"never saw in fit (its classes_ are {self.classes_.tolist()})."
                )
        else:
            self.classes_ = np.unique(y)
        y_index = np.searchsorted(self.classes_, y)
        return self._fit_calibrate(X, y_index, y)

    def _check_model(self, model):
        classes = np.asarray(model.classes_)
        if not np.array_equal(classes, self.classes_):
            missing = np.setdiff1d(self.classes_, classes).tolist()
            raise ValueError(
                f"A model fitted for cv={self.cv!r} never saw the classes {missing} "
                "of y: each class needs rows in every training part. Use fewer "
                "folds or more rows of the rare classes."
            )

    def _class_scores(self, proba):
        proba = np.asarray(proba, dtype=float)
        return 1.0 - proba if self.method == "lac" else _aps_scores(proba)

    def _true_scores(self, model, X, y_index):
        scores = self._class_scores(model.predict_proba(X))
        return scores[np.arange(len(y_index)), y_index]

    def predict_proba(self, X):
        """The model's probabilities (cv=int: the K models' mean)."""
        check_is_fitted(self)
        return np.mean([model.predict_proba(X) for model in self.estimators_], axis=0)

    def predict(self, X):
        """The model's class (cv=int: that of the mean probability)."""
        check_is_fitted(self)
        if len(self.estimators_) == 1:
            return self.estimators_[0].predict(X)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_set(self, X):
        """Conformal prediction sets.

        Parameters
        ----------
        X : DataFrame, array-like or dict

        Returns
        -------
        sets : ndarray of bool, shape (n_samples, n_classes)
            True where the class (column order of ``classes_``) is in the
            row's set.
        """
        check_is_fitted(self)
        scores = [self._class_scores(m.predict_proba(X)) for m in self.estimators_]
        n_rows = scores[0].shape[0]
        codes = self._row_codes(X, n_rows)
        counts = np.zeros(scores[0].shape, dtype=int)
        needed = np.zeros(n_rows, dtype=int)
        calibration, folds = self.calibration_scores_, self.calibration_folds_
        for code in np.unique(codes):
            rows = codes == code
            cal = self._calibration_rows(code)
            n = int(cal.sum())
            # score <= the rank-k score  <=>  at least n + 1 - k scores >= it
            needed[rows] = n + 1 - _quantile_rank(n, self._alpha)
            for fold, fold_scores in enumerate(scores):
                ref = np.sort(calibration[cal & (folds == fold)])
                counts[rows] += ref.size - np.searchsorted(ref, fold_scores[rows])
        return counts >= needed[:, None]


@_doc
class ConformalRegressor(RegressorMixin, _BaseConformal):
    """Conformal prediction intervals, calibrated per availability pattern.

    An interval per row that holds the true value with probability
    ``confidence_level`` (absolute residuals), within each availability
    pattern by default: rows that lack a modality get wider intervals if
    they need them.

    Parameters
    ----------
    estimator : regressor
        For instance a Pipeline from the raw DataFrame to a
        :class:`skfusion.CrossModalRegressor`. Cloned and fitted in ``fit``
        unless ``cv="prefit"``.
    %(params)s

    Attributes
    ----------
    %(attributes)s

    Notes
    -----
    Split and prefit: ``prediction +- threshold`` of the row's group (score
    ``|y - prediction|``). Cross-conformal (cv=int) is CV+ (Barber, Candes,
    Ramdas and Tibshirani, "Predictive inference with the jackknife+", Ann.
    Statist., 2021): over the group's rows i, the bounds are the
    ``floor(alpha * (n + 1))``-th smallest ``mu_{-k(i)}(x) - R_i`` and the
    ``ceil((1 - alpha) * (n + 1))``-th smallest ``mu_{-k(i)}(x) + R_i``
    (``mu_{-k(i)}``: the model that did not see row i, ``R_i``: its
    residual); ``predict`` averages the K models.
    %(guarantees)s

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from skfusion.conformal import ConformalRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(400, 2)
    >>> y = X[:, 0] + rng.randn(400)
    >>> conf = ConformalRegressor(LinearRegression(), groups=None,
    ...                           random_state=0).fit(X, y)
    >>> conf.predict_interval(X[:3]).shape
    (3, 2)
    """

    _parameter_constraints: dict = {
        **_BaseConformal._parameter_constraints,
        "estimator": [HasMethods(["fit", "predict"])],
    }

    def __init__(
        self,
        estimator,
        confidence_level=0.9,
        groups="availability",
        cv="split",
        calibration_size=0.25,
        min_group_size=50,
        random_state=None,
    ):
        self.estimator = estimator
        self.confidence_level = confidence_level
        self.groups = groups
        self.cv = cv
        self.calibration_size = calibration_size
        self.min_group_size = min_group_size
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the model(s) and calibrate the interval half-widths.

        Parameters
        ----------
        X : DataFrame, array-like or dict
            What the estimator accepts (rows are taken, never modified).
        y : array-like of shape (n_samples,)
            Real-valued target.

        Returns
        -------
        self : ConformalRegressor
        """
        self._check_estimator()
        y = column_or_1d(y, warn=True).astype(float)
        if not np.all(np.isfinite(y)):
            raise ValueError("ConformalRegressor needs a finite y (no NaN or inf).")
        return self._fit_calibrate(X, y, y)

    @staticmethod
    def _point(model, X):
        return np.asarray(model.predict(X), dtype=float).reshape(-1)

    def _true_scores(self, model, X, y):
        return np.abs(y - self._point(model, X))

    def predict(self, X):
        """The point prediction (with cv=int, the mean of the K models)."""
        check_is_fitted(self)
        return np.mean([self._point(model, X) for model in self.estimators_], axis=0)

    def predict_interval(self, X):
        """Conformal prediction intervals.

        Parameters
        ----------
        X : DataFrame, array-like or dict

        Returns
        -------
        intervals : ndarray of shape (n_samples, 2)
            ``[lower, upper]`` per row; infinite where the group has too few
            calibration rows for ``confidence_level``.
        """
        check_is_fitted(self)
        preds = np.column_stack([self._point(m, X) for m in self.estimators_])
        codes = self._row_codes(X, preds.shape[0])
        bounds = np.empty((preds.shape[0], 2))
        for code in np.unique(codes):
            rows = np.flatnonzero(codes == code)
            cal = self._calibration_rows(code)
            if len(self.estimators_) == 1:
                half = conformal_quantile(self.calibration_scores_[cal], self._alpha)
                bounds[rows] = preds[rows] + np.array([-half, half])
            else:
                bounds[rows] = self._cv_plus(preds[rows], cal)
        return bounds

    def _cv_plus(self, preds, cal):
        """CV+ bounds of rows whose fold predictions are ``preds``."""
        residuals = self.calibration_scores_[cal]
        folds = self.calibration_folds_[cal]
        n = len(residuals)
        k = _quantile_rank(n, self._alpha)
        out = np.empty((preds.shape[0], 2))
        if k > n:
            out[:] = [-np.inf, np.inf]
            return out
        for start in range(0, preds.shape[0], _CHUNK):
            mu = preds[start : start + _CHUNK][:, folds]  # (rows, n)
            upper = np.partition(mu + residuals, k - 1, axis=1)[:, k - 1]
            lower = -np.partition(residuals - mu, k - 1, axis=1)[:, k - 1]
            out[start : start + _CHUNK] = np.column_stack([lower, upper])
        return out
