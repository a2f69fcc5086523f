"""Metrics per availability pattern (which modalities each row has).

:func:`availability_report` scores each group of rows with the same
modalities with a dict of metrics ``name -> metric(y_true, y_score)``; the
default dict comes from :func:`_default_metrics`, the one place that picks
the metrics for a kind of target (binary or multiclass labels, a multilabel
indicator matrix, a survival target).
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    balanced_accuracy_score,
    f1_score,
    recall_score,
    roc_auc_score,
)
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ._survival import check_survival_y, concordance_index

__all__ = ["availability_report"]

ALL_ROWS = "all rows"
NO_MODALITY = "(none)"


def availability_report(
    y_true, y_score, availability, *, y_pred=None, labels=None, metrics=None
):
    """ROC AUC, balanced accuracy, recall and F1 by modality availability.

    A model fused over notes, images and labs is used on patients who lack
    some of them. This report scores it on each group of rows with the same
    available modalities (e.g. "tab + note", no image), next to all rows,
    so that a weak fallback for a missing modality is seen before
    deployment.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_labels)
        True labels, or a multilabel indicator matrix (0/1, one column per
        label), or a survival target as a structured array (a bool event
        field and a float time field, :func:`skfusion.metrics.survival_array`).
    y_score : array-like of shape (n_samples, n_classes) or (n_samples,)
        ``predict_proba`` output (columns in the order of ``labels``), or for
        a binary task the probability of the positive class (``labels[1]``).
        For a multilabel ``y_true``: ``predict_proba``'s probability of
        each label, shape (n_samples, n_labels). For a survival ``y_true``:
        the risk scores of ``CrossModalSurvival.predict``, shape
        (n_samples,); the default metrics are then the share of rows with
        an event and Harrell's concordance index (NaN in a group without a
        comparable pair).
    availability : DataFrame of bool, shape (n_samples, n_modalities)
        True where a row has the modality, e.g.
        :func:`skfusion.inspection.modality_availability`. A 2-D array is
        accepted too (modalities named ``m0``, ``m1``, ...).
    y_pred : array-like of shape (n_samples,), default=None
        Predicted labels, for the default metrics of a binary or multiclass
        task. None: the most probable class of ``y_score`` (for a 1-D
        ``y_score``: ``labels[1]`` where it is at least 0.5).
    labels : array-like of shape (n_classes,), default=None
        The classes, in the column order of ``y_score`` (a classifier's
        ``classes_``). None: the sorted labels of ``y_true`` and ``y_pred``.
        Binary and multiclass tasks only.
    metrics : dict of str to callable, default=None
        The report's metrics, ``{name: metric}``, each called as
        ``metric(y_true_group, y_score_group)`` on a group's rows and
        returning a float (for a binary task, ``y_score_group`` is the
        positive-class probability). None: chosen from the kind of
        ``y_true`` (see Returns).

    Returns
    -------
    report : DataFrame
        One row for all rows, then one per availability pattern (the
        modalities present, joined by " + ", or "(none)"), most frequent
        first. Columns: ``n_rows``, ``share`` (of all rows), then one per
        metric. By default, for binary and multiclass labels:
        ``prevalence`` (binary: share of ``labels[1]``; multiclass:
        omitted), ``roc_auc``, ``balanced_accuracy``, ``recall`` and ``f1``
        (of ``labels[1]`` for a binary task, macro averages otherwise); for
        a multilabel ``y_true``: ``prevalence`` (the share of 1s over rows
        and labels), ``roc_auc_micro`` and ``roc_auc_macro`` (averaged over
        the labels). A metric that a group cannot define (ROC AUC or recall
        with one class in the group, or, for ``roc_auc_macro``, in one of
        its labels) is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skfusion.metrics import availability_report
    >>> y = np.array([0, 1, 0, 1, 0, 1])
    >>> proba = np.array([0.2, 0.9, 0.4, 0.7, 0.6, 0.3])
    >>> present = pd.DataFrame({"tab": [True] * 6,
    ...                         "xray": [True, True, True, True, False, False]})
    >>> report = availability_report(y, proba, present)
    >>> report[["n_rows", "roc_auc", "recall"]].round(3)
                n_rows  roc_auc  recall
    all rows         6    0.778   0.667
    tab + xray       4    1.000   1.000
    tab              2    0.000   0.000
    """
    given_pred = y_pred is not None
    y_true, y_score = _check_targets(y_true, y_score)
    present = _availability(availability)
    check_consistent_length(y_true, y_score, present)
    kind = _target_kind(y_true)
    if kind == "multilabel":
        _check_multilabel(y_true, y_score, y_pred, labels)
    elif kind == "survival":
        _check_survival(y_score, y_pred, labels)
    else:
        y_score, y_pred, labels = _check_classification(y_true, y_score, y_pred, labels)
    if metrics is None:
        metrics = _default_metrics(y_true, labels=labels)
    elif given_pred:
        raise ValueError(
            "y_pred is used by the default metrics only; a metric passed in "
            "metrics= gets (y_true, y_score): derive predictions from y_score "
            "inside it."
        )

    names = np.array(
        [" + ".join(present.columns[row]) or NO_MODALITY for row in present.to_numpy()],
        dtype=object,
    )
    groups = [(ALL_ROWS, np.ones(len(y_true), dtype=bool))]
    patterns = pd.Series(names).value_counts(sort=True)
    groups += [(name, names == name) for name in patterns.index]
    rows = {}
    for name, rows_in in groups:
        rows[name] = {
            "n_rows": int(rows_in.sum()),
            "share": rows_in.mean(),
            **_score_group(
                metrics,
                y_true[rows_in],
                y_score[rows_in],
                None if y_pred is None else y_pred[rows_in],
            ),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# ------------------------------------------------------------ the targets
def _target_kind(y_true):
    """The kind of target: "survival" (a structured array of event and
    time), "multilabel" (a 2-D indicator matrix) or "classification"
    (binary or multiclass labels)."""
    if y_true.dtype.names is not None:
        return "survival"
    return "multilabel" if y_true.ndim == 2 else "classification"


def _check_targets(y_true, y_score):
    """``y_true`` as an array (1-D, or 2-D for a multilabel indicator
    matrix) and ``y_score`` as a 1-D or 2-D float array."""
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_score.ndim not in (1, 2):
        raise ValueError(
            f"y_score must be 1-D or 2-D (predict_proba); got shape {y_score.shape}."
        )
    if isinstance(y_true, np.ndarray) and y_true.dtype.names is not None:
        check_survival_y(y_true, estimator_name="availability_report")
        return y_true.reshape(-1), y_score
    if np.ndim(y_true) == 2 and np.shape(y_true)[1] > 1:
        y_true = check_array(y_true, dtype=None, input_name="y_true")
        kind = type_of_target(y_true, input_name="y_true")
        if kind != "multilabel-indicator" or not np.isin(y_true, (0, 1)).all():
            raise ValueError(
                "A 2-D y_true must be a multilabel indicator matrix (0/1, one "
                f"column per label); got {kind!r} targets with values "
                f"{np.unique(y_true).tolist()[:5]}."
            )
        return y_true.astype(np.int64), y_score
    return column_or_1d(y_true), y_score


def _check_multilabel(y_true, y_score, y_pred, labels):
    if y_score.shape != y_true.shape:
        raise ValueError(
            f"y_score has shape {y_score.shape} but the multilabel y_true has "
            f"shape {y_true.shape}: pass predict_proba's output, one "
            "probability per label."
        )
    if y_pred is not None or labels is not None:
        raise ValueError(
            "y_pred and labels are for binary and multiclass y; a multilabel "
            "y_true is scored from y_score (ROC AUC). Pass metrics= for "
            "other metrics."
        )


def _check_survival(y_score, y_pred, labels):
    if y_score.ndim != 1:
        raise ValueError(
            f"For a survival y_true, y_score is the risk score of each row "
            f"(CrossModalSurvival.predict), 1-D; got shape {y_score.shape}."
        )
    if y_pred is not None or labels is not None:
        raise ValueError(
            "y_pred and labels are for binary and multiclass y; a survival "
            "y_true is scored from the risk scores (concordance index)."
        )


def _check_classification(y_true, y_score, y_pred, labels):
    """``(y_score, y_pred, labels)`` of a binary or multiclass task: the
    labels in the columns' order, the predictions (the most probable class
    when not given) and, for a binary task, the positive-class score."""
    if labels is None:
        found = y_true if y_pred is None else np.concatenate([y_true, y_pred])
        labels = np.unique(found)
    labels = np.asarray(labels)
    if y_score.ndim == 2 and y_score.shape[1] != len(labels):
        raise ValueError(
            f"y_score has {y_score.shape[1]} columns but there are {len(labels)} "
            f"labels {labels.tolist()}; pass labels= in the column order of "
            "y_score (the classifier's classes_)."
        )
    binary = len(labels) == 2
    if y_score.ndim == 1 and not binary:
        raise ValueError(
            "A 1-D y_score is the positive-class probability of a binary task; "
            f"there are {len(labels)} labels. Pass predict_proba's 2-D output."
        )
    if y_pred is None:
        if y_score.ndim == 1:
            y_pred = np.where(y_score >= 0.5, labels[1], labels[0])
        else:
            y_pred = labels[np.argmax(y_score, axis=1)]
    y_pred = column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)
    if binary and y_score.ndim == 2:
        y_score = y_score[:, 1]
    return y_score, y_pred, labels


# ------------------------------------------------------------ the metrics
def _default_metrics(y_true, *, labels=None):
    """The report's metrics for this kind of target, ``{name: metric}``.

    Each metric is called as ``metric(y_true_group, y_score_group)`` (a
    :class:`_OnPredictions` one gets the group's predicted labels too).
    This is where a kind of target gets its metrics.
    """
    kind = _target_kind(y_true)
    if kind == "survival":
        return {"events": _event_share, "c_index": _group_concordance}
    if kind == "multilabel":
        return {
            "prevalence": _prevalence,
            "roc_auc_micro": partial(_label_roc_auc, average="micro"),
            "roc_auc_macro": partial(_label_roc_auc, average="macro"),
        }
    return _classification_metrics(labels)


def _event_share(y_true, y_score):
    return float(y_true["event"].mean()) if len(y_true) else np.nan


def _group_concordance(y_true, y_score):
    """Harrell's C on a group; NaN where it is undefined (no event, or no
    comparable pair)."""
    if len(y_true) < 2 or not y_true["event"].any():
        return np.nan
    try:
        return concordance_index(y_true, y_score)
    except ValueError:  # no comparable pair
        return np.nan


class _OnPredictions:
    """A metric of the predicted labels, ``metric(y_true, y_pred)``; the
    report calls it with ``(y_true, y_score, y_pred)``."""

    def __init__(self, metric):
        self.metric = metric

    def __call__(self, y_true, y_score, y_pred):
        with warnings.catch_warnings():
            # balanced accuracy warns when y_pred has a class the group lacks
            warnings.simplefilter("ignore", UserWarning)
            return self.metric(y_true, y_pred) if len(y_true) else np.nan


def _score_group(metrics, y_true, y_score, y_pred):
    """``{name: value}`` of every metric on one group's rows."""
    out = {}
    for name, metric in metrics.items():
        if isinstance(metric, _OnPredictions):
            out[name] = metric(y_true, y_score, y_pred)
        else:
            out[name] = metric(y_true, y_score)
    return out


def _classification_metrics(labels):
    binary = len(labels) == 2
    average = (
        dict(pos_label=labels[1], average="binary")
        if binary
        else dict(average="macro", labels=labels)
    )
    metrics = {}
    if binary:
        metrics["prevalence"] = partial(_share_of, labels[1])
    metrics["roc_auc"] = partial(_class_roc_auc, labels=labels)
    metrics["balanced_accuracy"] = _OnPredictions(balanced_accuracy_score)
    for name, score in (("recall", recall_score), ("f1", f1_score)):
        metrics[name] = _OnPredictions(partial(score, zero_division=np.nan, **average))
    return metrics


def _share_of(label, y_true, y_score):
    return float(np.mean(y_true == label)) if len(y_true) else np.nan


def _class_roc_auc(y_true, y_score, labels):
    if len(np.unique(y_true)) < 2:
        return np.nan
    if len(labels) == 2:
        return roc_auc_score(y_true == labels[1], y_score)
    try:
        return roc_auc_score(y_true, y_score, multi_class="ovr", labels=labels)
    except ValueError:  # a class absent from the group
        return np.nan


def _prevalence(y_true, y_score):
    """Share of 1s of a multilabel indicator matrix (over rows and labels)."""
    return float(np.mean(y_true)) if y_true.size else np.nan


def _label_roc_auc(y_true, y_score, average):
    """ROC AUC of a multilabel indicator matrix, ``average`` over labels;
    NaN where a label (macro) or the group (micro) has one class."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        try:
            return float(roc_auc_score(y_true, y_score, average=average))
        except ValueError:
            return np.nan


def _availability(availability):
    if isinstance(availability, pd.DataFrame):
        frame = availability
    else:
        array = np.asarray(availability)
        if array.ndim != 2:
            raise ValueError(
                "availability must be 2-D (rows x modalities), e.g. "
                "skfusion.inspection.modality_availability(estimator, X); got "
                f"shape {array.shape}."
            )
        frame = pd.DataFrame(array, columns=[f"m{j}" for j in range(array.shape[1])])
    values = frame.to_numpy()
    if values.dtype != bool:
        numeric = pd.api.types.is_numeric_dtype(values.dtype)
        if not numeric or not np.isin(values, (0, 1)).all():
            raise ValueError(
                "availability must hold True/False (or 1/0) per row and "
                "modality: True where the row has the modality."
            )
    return pd.DataFrame(values.astype(bool), columns=[str(c) for c in frame.columns])
