"""Expected calibration error: do the probabilities mean what they say?"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_consistent_length, column_or_1d

__all__ = ["expected_calibration_error"]


def expected_calibration_error(
    y_true, y_prob, *, n_bins=10, strategy="uniform", pos_label=None
):
    """Weighted mean gap between predicted probability and observed frequency.

    The rows are binned by predicted probability; in each bin the gap is
    ``|mean predicted probability - fraction of positives|``, and the ECE
    is the mean gap weighted by the share of rows in the bin (the bins of
    :func:`sklearn.calibration.calibration_curve`). 0 is perfect
    calibration; a model that says 0.9 for rows of which 60 % are positive
    contributes 0.3 for those rows.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        Binary task: the probability of ``pos_label`` (1-D), or
        ``predict_proba`` with two columns (the second is used). More
        classes: ``predict_proba``, columns in sorted label order (a
        classifier's ``classes_``); the top-label ECE is returned (the
        confidence of the predicted class against its accuracy).
    n_bins : int, default=10
        Number of bins.
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins on [0, 1], or bins holding equal numbers of rows.
    pos_label : int, float, bool or str, default=None
        The positive class of a binary task; None: the greater label.

    Returns
    -------
    ece : float

    Examples
    --------
    >>> from skfusion.metrics import expected_calibration_error
    >>> y = [0, 0, 1, 1]
    >>> expected_calibration_error(y, [0.1, 0.1, 0.9, 0.9], n_bins=2)
    0.1
    >>> expected_calibration_error(y, [0.4, 0.4, 0.6, 0.6], n_bins=2)
    0.4
    """
    y_true = column_or_1d(y_true)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    check_consistent_length(y_true, y_prob)
    if not (isinstance(n_bins, int | np.integer) and n_bins >= 1):
        raise ValueError(f"n_bins must be an int >= 1; got {n_bins!r}.")
    if strategy not in ("uniform", "quantile"):
        raise ValueError(f"strategy must be 'uniform' or 'quantile'; got {strategy!r}.")
    if np.any((y_prob < 0) | (y_prob > 1)) or not np.isfinite(y_prob).all():
        raise ValueError("y_prob must hold probabilities in [0, 1].")
    labels = np.unique(y_true)
    if y_prob.ndim == 2 and y_prob.shape[1] > 2:
        if y_prob.shape[1] != len(labels):
            raise ValueError(
                f"y_prob has {y_prob.shape[1]} columns but y_true has "
                f"{len(labels)} classes; the top-label ECE needs rows of "
                "every class and one column per class."
            )
        confidence = y_prob.max(axis=1)
        hit = (y_true == labels[y_prob.argmax(axis=1)]).astype(float)
    else:
        if y_prob.ndim == 2:
            if y_prob.shape[1] != 2:
                raise ValueError(
                    f"y_prob has shape {y_prob.shape}; expected (n,), (n, 2) "
                    "or predict_proba's (n, n_classes)."
                )
            y_prob = y_prob[:, 1]
        if len(labels) > 2:
            raise ValueError(
                f"y_true has {len(labels)} classes; pass predict_proba's "
                "(n, n_classes) output for a multiclass ECE."
            )
        if pos_label is None:
            pos_label = labels.max()
        confidence, hit = y_prob, (y_true == pos_label).astype(float)
    if strategy == "quantile":
        edges = np.quantile(confidence, np.linspace(0, 1, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    # as calibration_curve: bins are [e_i, e_{i+1}), the last one closed
    bins = np.searchsorted(edges[1:-1], confidence, side="right")
    total = np.bincount(bins, minlength=n_bins)
    prob_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    hit_sum = np.bincount(bins, weights=hit, minlength=n_bins)
    used = total > 0
    gaps = np.abs(prob_sum[used] - hit_sum[used])  # = count * |mean p - freq|
    return float(round(gaps.sum() / len(confidence), 12))
