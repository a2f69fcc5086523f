"""The multilabel target of CrossModalClassifier: checks and class weights.

A multilabel y is a 0/1 indicator matrix (scikit-learn's
``type_of_target(y) == "multilabel-indicator"``), one column per label; the
network has one logit per label, trained with binary cross-entropy. The
errors name the label (its column, and its name when y was a DataFrame) and
the fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.class_weight import compute_class_weight

from ._validation import plain

__all__ = ["check_labels", "label_names", "label_weights"]

#: The two classes of every label.
BINARY = np.array([0, 1])


def label_names(y):
    """The column names of a DataFrame y (for messages), else None."""
    return list(y.columns) if isinstance(y, pd.DataFrame) else None


def _describe(j, names):
    """Label ``j`` for a message: "column 2", or "column 2 ('cough')"."""
    if names is None:
        return f"column {j}"
    return f"column {j} ({plain(names[j])!r})"


def check_labels(Y, names=None):
    """Refuse values other than 0 and 1, and a label that is 0 in every row
    or 1 in every row.

    scikit-learn calls any 2-D integer y with two values a multilabel
    indicator ({-1, 1} too); the network's targets are 0 and 1. A constant
    label has nothing to learn (its loss is minimised by a constant) and no
    ROC AUC; the error names the first one and says how to drop it.
    """
    other = ~np.isin(Y, (0, 1))
    if other.any():
        row, j = np.argwhere(other)[0]
        raise ValueError(
            f"A multilabel y must hold 0 and 1 (or False and True); label "
            f"{_describe(j, names)} holds {plain(Y[row, j])!r} in row {row}. "
            "Convert it, e.g. y = (y > 0).astype(int)."
        )
    positives = Y.sum(axis=0)
    constant = np.flatnonzero((positives == 0) | (positives == len(Y)))
    if not len(constant):
        return
    j = int(constant[0])
    value = int(Y[0, j])
    fix = (
        f"y.drop(columns=[{plain(names[j])!r}])"
        if names is not None
        else f"np.delete(y, {j}, axis=1)"
    )
    others = f" ({len(constant)} such labels in all)" if len(constant) > 1 else ""
    raise ValueError(
        f"Label {_describe(j, names)} of the multilabel y is {value} in every "
        f"row{others}: a label needs rows with 0 and rows with 1 to be learnt. "
        f"Drop that column from y, e.g. y = {fix}, or add rows where it is "
        f"{1 - value}."
    )


def label_weights(class_weight, Y, names=None):
    """Class weights per row and label, shape ``(n_samples, n_labels)``.

    ``class_weight`` is "balanced" (for label ``l``, positives weigh
    ``n / (2 * n_pos_l)`` and negatives ``n / (2 * n_neg_l)``: what
    ``compute_class_weight("balanced")`` gives for that column) or, as
    scikit-learn does for several outputs, a list of one dict per label,
    ``{0: w0, 1: w1}`` (a class left out weighs 1).
    """
    n_labels = Y.shape[1]
    if isinstance(class_weight, dict):
        raise ValueError(
            "class_weight as one dict is for binary or multiclass y; for a "
            f"multilabel y with {n_labels} labels pass 'balanced' or a list of "
            f"{n_labels} dicts, one per label (column of y), e.g. "
            "[{0: 1, 1: 5}, ...]."
        )
    per_label = class_weight
    if class_weight == "balanced":
        per_label = [class_weight] * n_labels
    if len(per_label) != n_labels:
        raise ValueError(
            f"class_weight is a list of {len(per_label)} dicts but y has "
            f"{n_labels} labels (columns): pass one dict per label."
        )
    columns = []
    for j, weights in enumerate(per_label):
        if weights != "balanced" and not (
            isinstance(weights, dict) and set(weights) <= {0, 1}
        ):
            raise ValueError(
                f"class_weight[{j}] (label {_describe(j, names)}) is "
                f"{weights!r}; each label's weights must be a dict with keys "
                "0 and/or 1, e.g. {0: 1, 1: 5}."
            )
        per_class = compute_class_weight(weights, classes=BINARY, y=Y[:, j])
        columns.append(per_class[Y[:, j]])
    return np.column_stack(columns)
