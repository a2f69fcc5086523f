"""Which modality drove the predictions: importance, weights, availability.

Every function takes a fitted CrossModalClassifier / CrossModalRegressor or a
fitted Pipeline that ends in one. The modalities are the estimator's own
(``modalities_``: the ``"<name>__"`` prefix groups of its input, which a
``ColumnTransformer`` step makes from its transformers' names, or the keys
of a dict input), so a Pipeline needs no extra description.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import check_scoring, make_scorer, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_is_fitted

from .._discovery import is_lazy
from .._names import PRESENT_KEY, missing_key
from .._representation import deep_modalities, without_modalities

__all__ = ["modality_availability", "modality_importance", "modality_weights"]

_STRATEGIES = ("permute", "mask")


class _LabelAveragedAUC:
    """Scorer: ROC AUC of ``predict_proba``, ``average`` over the labels of
    a multilabel y (2-D). scikit-learn's scorers read the task from
    ``classes_``, and a multilabel ``classes_`` of two labels, ``[0, 1]``,
    looks binary to them (a 2-label MLPClassifier fails the same way), so
    a 2-D y is scored here directly; a 1-D y goes to scikit-learn's scorer
    (binary: the ROC AUC; multiclass: one-vs-rest)."""

    def __init__(self, average):
        self.average = average

    def __call__(self, estimator, X, y, sample_weight=None):
        if np.ndim(y) == 2:
            proba = estimator.predict_proba(X)
            return roc_auc_score(
                y, proba, average=self.average, sample_weight=sample_weight
            )
        scorer = make_scorer(
            roc_auc_score,
            response_method="predict_proba",
            average=self.average,
            multi_class="ovr",
        )
        return scorer(estimator, X, y, sample_weight=sample_weight)


#: Scorer names that scikit-learn lacks, for a multilabel y: ROC AUC of
#: ``predict_proba``, micro or macro averaged over the labels.
MULTILABEL_SCORERS = {
    f"roc_auc_{average}": _LabelAveragedAUC(average) for average in ("micro", "macro")
}


def _extra(name):
    """The scorer of a :data:`MULTILABEL_SCORERS` name, or ``name`` itself."""
    if isinstance(name, str):
        return MULTILABEL_SCORERS.get(name, name)
    return name


def check_scorer(estimator, scoring):
    """``check_scoring`` that also knows the :data:`MULTILABEL_SCORERS` names,
    alone or in a list, tuple, set or dict of metrics."""
    if isinstance(scoring, list | tuple | set):
        scoring = {name: _extra(name) for name in scoring}
    elif isinstance(scoring, dict):
        scoring = {key: _extra(value) for key, value in scoring.items()}
    return check_scoring(estimator, scoring=_extra(scoring))


def fitted_cross_modal(estimator, caller_name):
    """The fitted CrossModalClassifier / CrossModalRegressor /
    CrossModalSurvival in ``estimator`` (itself, or the last step of a
    Pipeline); errors name ``caller_name``."""
    from .._base import _BaseCrossModal

    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if not isinstance(final, _BaseCrossModal):
        got = type(estimator).__name__
        if isinstance(estimator, Pipeline):
            got += f" ending in {type(final).__name__}"
        raise TypeError(
            f"{caller_name} expects a fitted CrossModalClassifier, "
            f"CrossModalRegressor or CrossModalSurvival, or a Pipeline whose "
            f"last step is one; got {got}."
        )
    check_is_fitted(final, "net_")
    return final


def _unwrap(estimator, caller_name):
    """``(transform, final)``: a function applying the Pipeline's steps before
    the skfusion estimator (identity for a bare one) and that estimator."""
    final = fitted_cross_modal(estimator, caller_name)
    if final is estimator or len(estimator) == 1:
        return (lambda X: X), final
    return estimator[:-1].transform, final


def _index(X):
    return X.index if isinstance(X, pd.DataFrame) else None


def _modality_keys(Xt, spec):
    """Where modality ``spec`` lives in the estimator's input ``Xt``: a list
    of column positions (2-D input) or of dict keys."""
    if isinstance(Xt, Mapping):
        keys = [spec.name]
        flag = missing_key(spec.name)
        return keys + ([flag] if flag in Xt else [])
    columns = list(spec.columns)
    if spec.missing_column is not None:
        columns.append(spec.missing_column)
    return columns


def _permuted(Xt, keys, perm):
    """A copy of ``Xt`` whose ``keys`` (columns or dict keys) take their values
    from the rows ``perm``; the other modalities are untouched."""
    if isinstance(Xt, Mapping):
        out = dict(Xt)
        for key in keys:
            value = Xt[key]
            out[key] = value.take(perm) if is_lazy(value) else np.asarray(value)[perm]
        return out
    if isinstance(Xt, pd.DataFrame):
        out = Xt.copy()
        out.iloc[:, keys] = Xt.iloc[perm, keys].to_numpy()
        return out
    out = np.array(Xt, copy=True)
    out[:, keys] = np.asarray(Xt)[perm][:, keys]
    return out


def modality_importance(
    estimator,
    X,
    y,
    *,
    scoring=None,
    n_repeats=5,
    strategy="permute",
    random_state=None,
    sample_weight=None,
    verbose=0,
):
    """Score drop when one whole modality is shuffled across rows or removed.

    The per-modality analogue of
    :func:`sklearn.inspection.permutation_importance`: instead of one column,
    all the columns of a modality (and its ``missing`` indicator) are
    permuted together, so the note's 32 embedding columns or an image's
    pixels count as one feature, as a clinician thinks of them.

    Parameters
    ----------
    estimator : fitted estimator
        A CrossModalClassifier / CrossModalRegressor, or a Pipeline whose last
        step is one (e.g. ``ColumnTransformer`` + classifier on a raw
        DataFrame). The modalities are the estimator's ``modalities_``.
    X : DataFrame, array-like or dict
        Data the estimator (or the Pipeline) accepts; usually held-out rows.
        Never modified.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets (a multilabel indicator matrix for a multilabel classifier).
    scoring : str, callable, list, tuple, dict or None, default=None
        As in scikit-learn: None uses the estimator's ``score`` (accuracy,
        subset accuracy for a multilabel y, or R²). Several metrics give a
        dict of results, one per metric. Beside scikit-learn's scorer names
        (``"roc_auc"`` is the macro average over the labels of a multilabel
        y), ``"roc_auc_micro"`` and ``"roc_auc_macro"`` are the ROC AUC of
        ``predict_proba`` micro or macro averaged over the labels.
    n_repeats : int, default=5
        Permutations per modality (``strategy="permute"``); ignored by
        ``"mask"``, which is deterministic.
    strategy : {"permute", "mask"}, default="permute"
        "permute": shuffle the modality's rows (one permutation for all its
        columns), which breaks its link to the target but keeps its
        distribution. "mask": mark the modality absent in every row, as a
        ``missing`` indicator would, so the fusion drops it ("what would the
        model say without the note"). Masking needs no resampling, but it
        measures the model's fallback for an absent modality, which
        ``modality_dropout`` trains.
    random_state : int, RandomState instance or None, default=None
        Seeds the permutations.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights passed to the scorer.
    verbose : int, default=0
        At 1 or more, print one line at the end: the modalities, repeats,
        strategy and scoring, the baseline score, the time taken and the
        modality with the largest mean drop (one per metric).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch` or dict of Bunch
        With, per modality in the order of ``modalities``:

        importances_mean : ndarray of shape (n_modalities,)
            Mean score drop (baseline minus perturbed score; positive means
            the model relies on the modality).
        importances_std : ndarray of shape (n_modalities,)
            Standard deviation of the drop over the repeats.
        importances : ndarray of shape (n_modalities, n_repeats)
            Each repeat's drop (one column for ``"mask"``).
        modalities : list of str
        baseline_score : float
            Score on the unperturbed X.
        scoring : str or None
        strategy : str

    Notes
    -----
    In a Pipeline the modalities are perturbed at the estimator's input
    (after the preprocessing steps, which run once). For the row-wise
    transformers of :mod:`skfusion.preprocessing` and scikit-learn's
    encoders, imputers and scalers this is the same as perturbing the raw
    columns, and much faster (no image is decoded twice).

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import CrossModalClassifier
    >>> from skfusion.inspection import modality_importance
    >>> rng = np.random.RandomState(0)
    >>> X = {"a": rng.randn(200, 3), "b": rng.randn(200, 3)}
    >>> y = (X["a"][:, 0] > 0).astype(int)
    >>> clf = CrossModalClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> result = modality_importance(clf, X, y, n_repeats=3, random_state=0)
    >>> result.modalities
    ['a', 'b']
    >>> bool(result.importances_mean[0] > result.importances_mean[1])
    True
    """
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be one of {_STRATEGIES}; got {strategy!r}.")
    if not (isinstance(n_repeats, int | np.integer) and n_repeats >= 1):
        raise ValueError(f"n_repeats must be an int >= 1; got {n_repeats!r}.")
    started = time.perf_counter()
    transform, final = _unwrap(estimator, "modality_importance")
    Xt = transform(X)
    scorer = check_scorer(final, scoring)
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}

    def score(data, model=final):
        value = scorer(model, data, y, **kwargs)
        return value if isinstance(value, dict) else {None: value}

    baseline = score(Xt)
    names = list(final.modalities_)
    drops = {
        key: np.zeros((len(names), 1 if strategy == "mask" else n_repeats))
        for key in baseline
    }
    rng = check_random_state(random_state)
    n = _n_rows(Xt)
    for i, spec in enumerate(final.modalities_.values()):
        if strategy == "mask":
            scores = [score(Xt, without_modalities(final, [spec.name]))]
        else:
            keys = _modality_keys(Xt, spec)
            scores = [
                score(_permuted(Xt, keys, rng.permutation(n))) for _ in range(n_repeats)
            ]
        for key in baseline:
            drops[key][i] = [baseline[key] - s[key] for s in scores]

    def bunch(key):
        return Bunch(
            importances_mean=drops[key].mean(axis=1),
            importances_std=drops[key].std(axis=1),
            importances=drops[key],
            modalities=names,
            baseline_score=float(baseline[key]),
            scoring=scoring if key is None else key,
            strategy=strategy,
        )

    if verbose:
        seconds = time.perf_counter() - started
        print(_summary(final, scoring, strategy, n_repeats, baseline, drops, seconds))
    if list(baseline) == [None]:
        return bunch(None)
    return {key: bunch(key) for key in baseline}


def _plural(count, word, plural):
    return f"{count} {word if count == 1 else plural}"


def _scoring_name(scoring, final):
    """A readable name for ``scoring`` (a string, None or a callable)."""
    if scoring is None:
        return f"{type(final).__name__}.score"
    if isinstance(scoring, str):
        return repr(scoring)
    func = getattr(scoring, "_score_func", scoring)  # a make_scorer object
    return getattr(func, "__name__", type(func).__name__)


def _summary(final, scoring, strategy, n_repeats, baseline, drops, seconds):
    """The one-line report of modality_importance at ``verbose >= 1``."""
    names = list(final.modalities_)
    head = _plural(len(names), "modality", "modalities")
    if strategy == "permute":
        head += " x " + _plural(n_repeats, "repeat", "repeats")
    if list(baseline) == [None]:
        scored = _scoring_name(scoring, final)
        base = f"{baseline[None]:.3f}"
        top = drops[None].mean(axis=1)
        i = int(np.argmax(top))
        largest = f"{names[i]} {top[i]:.3f}"
    else:  # several metrics: one baseline and one largest drop each
        scored = ", ".join(repr(key) for key in baseline)
        base = ", ".join(f"{key} {baseline[key]:.3f}" for key in baseline)
        parts = []
        for key in baseline:
            top = drops[key].mean(axis=1)
            i = int(np.argmax(top))
            parts.append(f"{names[i]} {top[i]:.3f} ({key})")
        largest = ", ".join(parts)
    return (
        f"[modality_importance] {head} (strategy {strategy!r}, scoring {scored}): "
        f"baseline {base}, in {seconds:.1f} s; largest drop: {largest}"
    )


def _n_rows(Xt):
    if isinstance(Xt, Mapping):
        return len(next(iter(Xt.values())))
    return Xt.shape[0]


def modality_weights(estimator, X):
    """Per-row weight of each modality in the fused prediction.

    The gates of ``fusion="gated"``, the attention of the summary token over
    the modalities for ``"attention"`` (over their tokens for
    ``"cross_attention"``), the learned combination weights for
    ``"late"`` (see :meth:`CrossModalClassifier.modality_weights`). Each row
    sums to 1 over its present modalities; absent modalities get 0.

    Parameters
    ----------
    estimator : fitted estimator
        A CrossModalClassifier / CrossModalRegressor fitted with ``fusion`` in
        {"late", "gated", "attention", "cross_attention"}, or a Pipeline
        ending in one.
    X : DataFrame, array-like or dict

    Returns
    -------
    weights : DataFrame of shape (n_samples, n_modalities)
        Columns named by modality; the index of X when X is a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import CrossModalClassifier
    >>> from skfusion.inspection import modality_weights
    >>> rng = np.random.RandomState(0)
    >>> X = {"a": rng.randn(60, 3), "b": rng.randn(60, 3)}
    >>> y = (X["a"][:, 0] > 0).astype(int)
    >>> clf = CrossModalClassifier(fusion="gated", max_epochs=2, random_state=0)
    >>> weights = modality_weights(clf.fit(X, y), X)
    >>> list(weights.columns), np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    (['a', 'b'], True)
    """
    transform, final = _unwrap(estimator, "modality_weights")
    if not hasattr(final, "modality_weights"):
        raise ValueError(
            "Per-row modality weights need fusion='late', 'gated', "
            f"'attention' or 'cross_attention'; this {type(final).__name__} was "
            f"fitted with fusion={final.fusion!r}. Refit with one of those, or use "
            "modality_importance, which works with every fusion."
        )
    weights = final.modality_weights(transform(X))
    return pd.DataFrame(weights, columns=deep_modalities(final), index=_index(X))


def modality_availability(estimator, X):
    """Which modalities each row has, as the estimator sees them.

    Read from the ``missing`` indicators (an empty note, no image path, an
    unreadable image with ``on_error="missing"``, an AvailabilityIndicator),
    i.e. what the fusion masks. Use it to break metrics down by availability
    (:func:`skfusion.metrics.availability_report`).

    Parameters
    ----------
    estimator : fitted estimator
        A CrossModalClassifier / CrossModalRegressor or a Pipeline ending in
        one.
    X : DataFrame, array-like or dict

    Returns
    -------
    present : DataFrame of bool, shape (n_samples, n_modalities)
        True where the row has the modality; the index of X when X is a
        DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import CrossModalClassifier
    >>> from skfusion.inspection import modality_availability
    >>> rng = np.random.RandomState(0)
    >>> X = {"a": rng.randn(40, 2), "b": rng.randn(40, 2),
    ...      "b__missing": np.arange(40) % 4 == 0}
    >>> clf = CrossModalClassifier(max_epochs=1, random_state=0)
    >>> clf.fit(X, rng.randint(0, 2, 40))  # doctest: +ELLIPSIS
    CrossModalClassifier(...)
    >>> modality_availability(clf, X).head(2)
          a      b
    0  True  False
    1  True   True
    """
    transform, final = _unwrap(estimator, "modality_availability")
    inputs = final._predict_inputs(transform(X))
    names = list(final.modalities_)
    present = inputs.get(PRESENT_KEY)
    n = _n_rows(inputs)
    if present is None:
        present = np.ones((n, len(names)), dtype=bool)
    present = np.asarray(present) > 0
    for j, value in enumerate(inputs[name] for name in names):
        if is_lazy(value):  # unreadable images are found only by decoding
            if value.loader.on_error == "missing":
                present[:, j] &= ~_unreadable(value)
    return pd.DataFrame(present, columns=names, index=_index(X))


def _unreadable(lazy):
    """Rows of a LazyImages whose image cannot be decoded (on_error="missing")."""
    bad = np.zeros(len(lazy), dtype=bool)
    for start in range(0, len(lazy), 256):
        rows = slice(start, start + 256)
        bad[rows] = lazy.decode(rows, warn=False)[1]
    return bad
