"""Survival targets: checking them, and Harrell's concordance index.

A survival target is what scikit-survival uses, a structured array with a
bool ``event`` field and a float ``time`` field
(``sksurv.util.Surv.from_arrays(event, time)``), or a 2-column array or
DataFrame ``(time, event)``. :func:`check_survival_y` reads either, with
errors that name the row and the fix; scikit-survival is not needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import describe_row, plain

__all__ = ["check_survival_y", "concordance_index", "survival_array"]

#: The dtype of a survival target, as ``sksurv.util.Surv.from_arrays`` makes it.
SURVIVAL_DTYPE = np.dtype([("event", "?"), ("time", "<f8")])

_FORMS = (
    "Pass a structured array with a bool event field and a float time field "
    "(sksurv.util.Surv.from_arrays(event, time), or "
    "skfusion.metrics.survival_array(event, time)), or a 2-column array or "
    "DataFrame (time, event)."
)


def survival_array(event, time):
    """A survival target: a structured array with the fields ``event`` (bool)
    and ``time`` (float64), as ``sksurv.util.Surv.from_arrays`` makes it.

    Examples
    --------
    >>> from skfusion.metrics import survival_array
    >>> y = survival_array([True, False], [5.0, 8.0])
    >>> y.dtype.names, y["time"].tolist()
    (('event', 'time'), [5.0, 8.0])
    """
    event, time = np.asarray(event), np.asarray(time, dtype=np.float64)
    if event.shape != time.shape or event.ndim != 1:
        raise ValueError(
            f"event and time must be 1-D and of the same length; got shapes "
            f"{event.shape} and {time.shape}."
        )
    y = np.empty(len(time), dtype=SURVIVAL_DTYPE)
    y["event"] = _as_event(event, None, "event")
    y["time"] = time
    return y


def _is_binary(values):
    values = np.asarray(values)
    if values.dtype == bool:
        return True
    if values.dtype.kind not in "iuf":
        return False
    finite = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    return bool(np.isin(finite, (0, 1)).all())


def _as_event(values, index, what):
    values = np.asarray(values)
    if values.dtype == bool:
        return values
    if values.dtype.kind == "f" and np.isnan(values).any():
        row = int(np.flatnonzero(np.isnan(values))[0])
        raise ValueError(
            f"The event indicator of y is NaN in {describe_row(row, index)}: "
            "every row needs an event (True/1) or censoring (False/0) flag."
        )
    if not _is_binary(values):
        bad = np.flatnonzero(~np.isin(values, (0, 1)))
        row = int(bad[0]) if len(bad) else 0
        raise ValueError(
            f"The {what} of y must be bool or 0/1; {describe_row(row, index)} "
            f"holds {plain(values[row])!r}. {_FORMS}"
        )
    return values.astype(bool)


def _structured(y):
    """(event, time) from a structured array: the bool field is the event."""
    names = y.dtype.names
    if len(names) != 2:
        raise ValueError(
            f"A structured survival y needs exactly 2 fields (event, time); "
            f"got {list(names)}. {_FORMS}"
        )
    kinds = [y.dtype[name].kind for name in names]
    if kinds.count("b") == 1:
        event_name = names[kinds.index("b")]
    else:
        binary = [name for name in names if _is_binary(y[name])]
        if len(binary) != 1:
            raise ValueError(
                f"Cannot tell the event field from the time field of y "
                f"({list(names)}: dtypes {[str(y.dtype[n]) for n in names]}): "
                f"the event field must be bool. {_FORMS}"
            )
        event_name = binary[0]
    time_name = names[1 - names.index(event_name)]
    return np.asarray(y[event_name]), np.asarray(y[time_name]), None


def _two_columns(y):
    """(event, time) from a 2-column array or DataFrame ``(time, event)``."""
    if isinstance(y, pd.DataFrame):
        index, names = y.index, [str(c).lower() for c in y.columns]
        time, event = y.iloc[:, 0].to_numpy(), y.iloc[:, 1].to_numpy()
    else:
        index, names = None, None
        time, event = y[:, 0], y[:, 1]
    for values in (time, event):
        if values.dtype.kind not in "biuf":
            raise ValueError(
                f"A 2-column survival y (time, event) must be numeric or bool; "
                f"got dtype {values.dtype}."
            )
    looks_swapped = (_is_binary(time) and not _is_binary(event)) or (
        names is not None and names[0].startswith(("event", "status", "dead"))
    )
    if looks_swapped:
        raise ValueError(
            "y looks like (event, time): its first column is "
            f"{'named ' + repr(y.columns[0]) if names else 'all 0/1'} and its "
            "second is not. A 2-column y is (time, event): swap the columns, "
            "e.g. y[:, ::-1], or pass sksurv.util.Surv.from_arrays(event, time)."
        )
    return _as_event(event, index, "event column (the second)"), time, index


def check_survival_y(y, *, estimator_name="CrossModalSurvival"):
    """``(event, time)`` of a survival target, checked.

    Parameters
    ----------
    y : structured array, array-like of shape (n, 2) or DataFrame
        A structured array with a bool event field and a float time field,
        or 2 columns (time, event).
    estimator_name : str
        Named in the messages.

    Returns
    -------
    event : ndarray of bool, shape (n,)
    time : ndarray of float64, shape (n,)

    Raises
    ------
    ValueError
        For another shape, a swapped (event, time) pair, a NaN, infinite or
        negative time, a non-0/1 event, a single row, or no event at all;
        the message names the row and the fix.
    """
    if isinstance(y, np.ndarray) and y.dtype.names is not None:
        event, time, index = _structured(y.reshape(-1))
    elif isinstance(y, pd.DataFrame) or np.ndim(y) == 2:
        frame = y if isinstance(y, pd.DataFrame) else np.asarray(y)
        if frame.shape[1] != 2:
            raise ValueError(
                f"{estimator_name} needs a survival y; got {frame.shape[1]} "
                f"columns where 2 (time, event) are expected. {_FORMS}"
            )
        event, time, index = _two_columns(frame)
    else:
        raise ValueError(
            f"{estimator_name} needs a survival y (event and time); got an "
            f"array of shape {np.shape(y)}. {_FORMS}"
        )
    event = _as_event(event, index, "event field")
    if time.dtype.kind not in "iuf":
        raise ValueError(f"The times of y must be numbers; got dtype {time.dtype}.")
    time = time.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(time) | (time < 0))
    if len(bad):
        row = int(bad[0])
        raise ValueError(
            f"The time of y is {float(time[row])!r} in {describe_row(row, index)} "
            f"({len(bad)} row(s) in all): times must be finite and >= 0 (the "
            "follow-up time to the event or to censoring). Drop or correct "
            "those rows."
        )
    if len(time) < 2:
        raise ValueError(
            f"{estimator_name} needs at least 2 rows; y has {len(time)}."
        )
    if not event.any():
        raise ValueError(
            f"y has no event: all {len(time)} rows are censored, so there is "
            "nothing to learn a hazard from. Check the event indicator (True "
            "or 1 means the event happened)."
        )
    return event, time


def concordance_index(y_true, risk_score, *, tied_tol=1e-8):
    """Harrell's concordance index of risk scores for a censored target.

    The share of comparable pairs that the scores order correctly: a pair
    (i, j) is comparable when i has an event and j is known to outlive i
    (``t_j > t_i``, or ``t_j == t_i`` with j censored); it is concordant when
    ``risk_i > risk_j``, and counts 1/2 when the scores tie (within
    ``tied_tol``). The same value as
    ``sksurv.metrics.concordance_index_censored(...)[0]``.

    Parameters
    ----------
    y_true : structured array or array-like of shape (n, 2)
        The survival target (see :func:`check_survival_y`).
    risk_score : array-like of shape (n,)
        Higher means an earlier event (``CrossModalSurvival.predict``).
    tied_tol : float, default=1e-8

    Returns
    -------
    float

    Examples
    --------
    >>> from skfusion.metrics import concordance_index, survival_array
    >>> y = survival_array([True, True, False], [1.0, 3.0, 2.0])
    >>> concordance_index(y, [3.0, 1.0, 2.0])
    1.0
    """
    event, time = check_survival_y(y_true, estimator_name="concordance_index")
    risk = np.asarray(risk_score, dtype=np.float64).reshape(-1)
    if risk.shape != time.shape:
        raise ValueError(
            f"risk_score has {risk.size} values for {time.size} rows of y_true."
        )
    if not np.isfinite(risk).all():
        row = int(np.flatnonzero(~np.isfinite(risk))[0])
        raise ValueError(f"risk_score is {risk[row]} in row {row}; it must be finite.")
    numerator = denominator = 0.0
    events = np.flatnonzero(event)
    block = max(1, 2**22 // len(time))  # about 4M pairs at a time
    for start in range(0, len(events), block):
        i = events[start : start + block]
        t_i = time[i][:, None]
        comparable = (time[None, :] > t_i) | ((time[None, :] == t_i) & ~event[None, :])
        difference = risk[i][:, None] - risk[None, :]
        tied = np.abs(difference) <= tied_tol
        numerator += np.sum(comparable & (difference > 0) & ~tied)
        numerator += 0.5 * np.sum(comparable & tied)
        denominator += np.sum(comparable)
    if denominator == 0:
        raise ValueError(
            "y_true has no comparable pair (an event followed by a longer "
            "follow-up): the concordance index is undefined."
        )
    return float(numerator / denominator)
