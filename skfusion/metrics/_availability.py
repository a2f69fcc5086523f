"""Metrics per availability pattern (which modalities each row has)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import (
    balanced_accuracy_score,
    f1_score,
    recall_score,
    roc_auc_score,
)
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = ["availability_report"]

ALL_ROWS = "all rows"
NO_MODALITY = "(none)"


def availability_report(y_true, y_score, availability, *, y_pred=None, labels=None):
    """ROC AUC, balanced accuracy, recall and F1 by modality availability.

    A model fused over notes, images and labs is used on patients who lack
    some of them. This report scores it on each group of rows with the same
    available modalities (e.g. "tab + note", no image), next to all rows,
    so that a weak fallback for a missing modality is seen before
    deployment.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_score : array-like of shape (n_samples, n_classes) or (n_samples,)
        ``predict_proba`` output (columns in the order of ``labels``), or for
        a binary task the probability of the positive class (``labels[1]``).
    availability : DataFrame of bool, shape (n_samples, n_modalities)
        True where a row has the modality, e.g.
        :func:`skfusion.inspection.modality_availability`. A 2-D array is
        accepted too (modalities named ``m0``, ``m1``, ...).
    y_pred : array-like of shape (n_samples,), default=None
        Predicted labels. None: the most probable class of ``y_score`` (for
        a 1-D ``y_score``: ``labels[1]`` where it is at least 0.5).
    labels : array-like of shape (n_classes,), default=None
        The classes, in the column order of ``y_score`` (a classifier's
        ``classes_``). None: the sorted labels of ``y_true`` and ``y_pred``.

    Returns
    -------
    report : DataFrame
        One row for all rows, then one per availability pattern (the
        modalities present, joined by " + ", or "(none)"), most frequent
        first. Columns: ``n_rows``, ``share`` (of all rows), ``prevalence``
        (binary: share of ``labels[1]``; multiclass: omitted), ``roc_auc``,
        ``balanced_accuracy``, ``recall`` and ``f1`` (of ``labels[1]`` for
        a binary task, macro averages otherwise). A metric that a group
        cannot define (ROC AUC or recall with one class in the group) is
        NaN.

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
    y_true = column_or_1d(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_score.ndim not in (1, 2):
        raise ValueError(
            f"y_score must be 1-D or 2-D (predict_proba); got shape {y_score.shape}."
        )
    present = _availability(availability)
    check_consistent_length(y_true, y_score, present)
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

    names = np.array(
        [" + ".join(present.columns[row]) or NO_MODALITY for row in present.to_numpy()],
        dtype=object,
    )
    groups = [(ALL_ROWS, np.ones(len(y_true), dtype=bool))]
    patterns = pd.Series(names).value_counts(sort=True)
    groups += [(name, names == name) for name in patterns.index]
    rows = {}
    for name, rows_in in groups:
        rows[name] = _metrics(
            y_true[rows_in], y_score[rows_in], y_pred[rows_in], labels, binary
        )
        rows[name] = {
            "n_rows": int(rows_in.sum()),
            "share": rows_in.mean(),
            **rows[name],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


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


def _metrics(y_true, y_score, y_pred, labels, binary):
    out = {}
    if binary:
        out["prevalence"] = (
            float(np.mean(y_true == labels[1])) if len(y_true) else np.nan
        )
    one_class = len(np.unique(y_true)) < 2
    if one_class:
        out["roc_auc"] = np.nan
    elif binary:
        out["roc_auc"] = roc_auc_score(y_true == labels[1], y_score)
    else:
        try:
            out["roc_auc"] = roc_auc_score(
                y_true, y_score, multi_class="ovr", labels=labels
            )
        except ValueError:  # a class absent from the group
            out["roc_auc"] = np.nan
    average = (
        dict(pos_label=labels[1], average="binary")
        if binary
        else dict(average="macro", labels=labels)
    )
    with warnings.catch_warnings():
        # balanced accuracy warns when y_pred has a class the group lacks
        warnings.simplefilter("ignore", UserWarning)
        out["balanced_accuracy"] = (
            balanced_accuracy_score(y_true, y_pred) if len(y_true) else np.nan
        )
        out["recall"] = recall_score(y_true, y_pred, zero_division=np.nan, **average)
        out["f1"] = f1_score(y_true, y_pred, zero_division=np.nan, **average)
    return out
