"""Vital-sign time series to fixed-length values plus an observation mask."""

import os
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from .._names import output_names, series_names
from .._validation import describe_row
from ._utils import _is_missing, _PathColumnMixin, _ReadError

__all__ = ["TimeSeriesLoader", "series_from_long"]

#: The column of a CSV file or a DataFrame cell that holds the times.
TIME_COLUMN = "time"


def _column(X):
    """``(X_checked, cells, index)``: one column of cells as a 1-D object
    array (a list of equal 2-D arrays stays a list of cells)."""
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                "TimeSeriesLoader takes one column of series, got "
                f"{X.shape[1]} columns {[str(c) for c in X.columns]}. Use one "
                "TimeSeriesLoader per series column in a ColumnTransformer, "
                'e.g. ("vitals", TimeSeriesLoader(), "vitals").'
            )
        return X, X.iloc[:, 0].to_numpy(dtype=object), X.index
    if isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 3:
        cells = list(X)  # (n, T, C): n evenly spaced series
    elif isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 1:
        cells = list(X[:, 0])
    elif (isinstance(X, np.ndarray) and X.ndim == 1) or isinstance(X, list | tuple):
        cells = list(X)
    else:
        raise ValueError(
            "TimeSeriesLoader takes one column of series: a pandas Series or "
            "one-column DataFrame, a list, or a 3-D array (n, time, channels); "
            f"got {type(X).__name__} of shape {np.shape(X)}."
        )
    column = np.empty((len(cells), 1), dtype=object)
    column[:, 0] = cells
    return column, column[:, 0], None


def _as_float(values, what):
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise _ReadError(f"{what} holds non-numeric values ({e})") from None
    if np.isinf(arr).any():
        raise _ReadError(f"{what} holds an infinite value")
    return arr


_FIX = (
    "Give a 2-D numeric array (time x channels), a DataFrame, or the path "
    "of a readable .npy or .csv file"
)


class TimeSeriesLoader(_PathColumnMixin, TransformerMixin, BaseEstimator):
    """Turn a column of time series into ``n_steps`` steps plus a mask.

    Each cell of the column is one patient's series, in one of these forms:

    - a 2-D array (time x channels), evenly spaced: sample ``i`` is at
      time ``i``; a 1-D array is one channel. NaN marks a channel not
      measured at that time;
    - a path to a ``.npy`` file holding such an array, or to a ``.csv``
      file with a header row: a ``time`` column if present (else the rows
      are evenly spaced), every other column a channel;
    - a DataFrame with an optional ``time`` column and one column per
      channel, as :func:`series_from_long` returns for a long-format table
      of irregular measurements;
    - None, NaN or an empty string: a missing series.

    **Resampling.** The samples are sorted by time; with ``max_steps``, only
    the last ``max_steps`` samples are kept. The window is
    ``[t_last - horizon, t_last]`` (``horizon`` given; earlier samples are
    dropped) or the series' own span ``[t_first, t_last]``, cut into
    ``n_steps`` equal bins: a sample at time ``t`` goes to bin
    ``min(floor((t - start) / (t_last - start) * n_steps), n_steps - 1)``
    (all to the last bin when the window has length 0). Per channel, bin
    ``b`` is *observed* (mask 1) when it holds at least one measurement.
    Its value is, for ``resample``:

    - ``"linear"``: the channel's measurements linearly interpolated at the
      bin's centre ``start + (b + 0.5) * width`` (the first / last
      measurement before / after them);
    - ``"mean"``: the mean of the bin's measurements;
    - ``"last"``: the bin's latest measurement.

    With ``"mean"`` and ``"last"`` an unobserved bin repeats the previous
    observed bin's value (the first observed value before it). A channel
    never measured in a row is 0 with mask 0. A series with no measured
    value at all (no sample, or only NaN) is treated as missing.

    The output is meant for :class:`~skfusion.CrossModalClassifier`,
    :class:`~skfusion.CrossModalRegressor` and
    :class:`~skfusion.CrossModalSurvival`, which recognise the columns by
    their names (kind ``"sequence"``) and encode them with a masked GRU or
    transformer (``sequence_encoder=``).

    Parameters
    ----------
    n_steps : int, default=32
        Steps of the output.
    max_steps : int or None, default=None
        Keep only the last ``max_steps`` samples of a longer series.
    horizon : float or None, default=None
        Length of the window before each series' last time; None uses the
        series' own span.
    resample : {"linear", "mean", "last"}, default="linear"
        How a bin's value is made (above).
    root : str, path-like or None, default=None
        Directory prepended to relative file paths.
    add_indicator : bool, default=True
        Append the ``missing`` column (1.0 for a missing series, else 0.0).

    Attributes
    ----------
    channels_ : ndarray of str
        Channel names: the columns of the first named series (a DataFrame or
        CSV file), else ``"0"``, ``"1"``, ... Named series are matched to
        them by name; arrays must have as many channels.
    n_channels_ : int
        Number of channels.
    n_features_in_ : int
        1.
    feature_names_in_ : ndarray of shape (1,)
        Input column name, when X is a DataFrame with a string column name.

    See Also
    --------
    series_from_long : One series per patient from a long-format table.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion.preprocessing import TimeSeriesLoader
    >>> series = [np.array([[1.0], [2.0], [np.nan], [4.0]]), None]
    >>> loader = TimeSeriesLoader(n_steps=4, resample="mean").fit(series)
    >>> loader.transform(series).tolist()
    [[1.0, 2.0, 2.0, 4.0, 1.0, 1.0, 0.0, 1.0, 0.0], \
[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]]
    >>> loader.get_feature_names_out()[[0, 4, 8]].tolist()
    ['series_0_0', 'observed_0_0', 'missing']
    """

    _file_kind, _a_file = "series", "a .npy or .csv file"
    _example_step = '("vitals", TimeSeriesLoader(), "vitals")'

    _parameter_constraints: dict = {
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "max_steps": [Interval(Integral, 1, None, closed="left"), None],
        "horizon": [Interval(Real, 0, None, closed="neither"), None],
        "resample": [StrOptions({"linear", "mean", "last"})],
        "root": [str, os.PathLike, None],
        "add_indicator": ["boolean"],
    }

    def __init__(
        self,
        *,
        n_steps=32,
        max_steps=None,
        horizon=None,
        resample="linear",
        root=None,
        add_indicator=True,
    ):
        self.n_steps = n_steps
        self.max_steps = max_steps
        self.horizon = horizon
        self.resample = resample
        self.root = root
        self.add_indicator = add_indicator

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the channels from the series (every series is read).

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            One series per row (forms above); missing values allowed.
        y : None
            Ignored.

        Returns
        -------
        self : TimeSeriesLoader
            The fitted transformer.
        """
        X_checked, cells, index = _column(X)
        validate_data(self, X_checked, reset=True, skip_check_array=True)
        self.channels_ = None
        for i, cell in enumerate(cells):
            series = self._read(cell, i, index)
            if series is None:
                continue
            _, values, names = series
            if self.channels_ is None:
                if names is None:
                    names = [str(c) for c in range(values.shape[1])]
                self.channels_ = np.asarray(names, dtype=object)
            self._align(values, names, i, index)
        if self.channels_ is None:
            raise ValueError(
                f"TimeSeriesLoader found no series to learn from: all "
                f"{len(cells)} rows are missing (None, NaN, an empty path or "
                "a series without a measured value). Fit on rows with series."
            )
        self.n_channels_ = len(self.channels_)
        return self

    def transform(self, X):
        """Resample every series to ``n_steps`` steps.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            One series per row, with the channels of ``fit``.

        Returns
        -------
        X_out : ndarray of shape (n_samples, 2 * n_steps * n_channels_ + add_indicator)
            The values (float32, step-major), then the mask (1.0 where a
            step of a channel holds a measurement), then ``missing`` when
            ``add_indicator=True``.
        """
        check_is_fitted(self, "channels_")
        X_checked, cells, index = _column(X)
        validate_data(self, X_checked, reset=False, skip_check_array=True)
        size = self.n_steps * self.n_channels_
        out = np.zeros((len(cells), 2 * size + self.add_indicator), np.float32)
        for i, cell in enumerate(cells):
            series = self._read(cell, i, index)
            if series is None:
                if self.add_indicator:
                    out[i, -1] = 1.0
                continue
            times, values, names = series
            values = self._align(values, names, i, index)
            step_values, observed = resample_series(
                times, values, self.n_steps, self.max_steps, self.horizon, self.resample
            )
            out[i, :size] = step_values.ravel()
            out[i, size : 2 * size] = observed.ravel()
        return out

    def get_feature_names_out(self, input_features=None):
        """Output feature names.

        ``series_{t}_{c}`` for every step ``t`` and channel ``c`` (step
        slowest), then ``observed_{t}_{c}`` in the same order, then
        ``missing`` with ``add_indicator=True``. The estimators read the
        kind "sequence" and the shape (2, n_steps, n_channels) from them.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against ``feature_names_in_``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The output names.
        """
        check_is_fitted(self, "channels_")
        _check_feature_names_in(self, input_features)
        names = series_names(self.n_steps, self.n_channels_)
        return output_names(names, self.add_indicator)

    # -- internals -------------------------------------------------------

    def _read(self, cell, i, index):
        """``(times, values, names)`` of one cell, None for a missing one."""
        try:
            series = self._parse(cell)
        except _ReadError as exc:
            raise ValueError(
                f"TimeSeriesLoader could not read the series of "
                f"{describe_row(i, index)}: {exc}. "
                f"{exc.fix or _FIX}."
            ) from exc.__cause__
        if series is None:
            return None
        times, values, names = series
        if values.shape[0] == 0 or np.isnan(values).all():
            return None  # no measured value: a missing series
        return times, values, names

    def _parse(self, cell):
        if isinstance(cell, pd.DataFrame):
            return _frame_series(cell, "the DataFrame")
        if isinstance(cell, str | os.PathLike):
            if isinstance(cell, str) and not cell.strip():
                return None
            return self._read_file(self._resolve(cell))
        if cell is None or (np.ndim(cell) == 0 and _is_missing(cell)):
            return None
        values = _as_float(cell, "the array")
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise _ReadError(
                f"the array has {values.ndim} dimensions; expected 2 (time x channels)"
            )
        return None, values, None

    def _read_file(self, path):
        what = repr(path)
        try:
            if path.lower().endswith(".npy"):
                values = _as_float(np.load(path, allow_pickle=False), what)
                if values.ndim == 1:
                    values = values[:, None]
                if values.ndim != 2:
                    raise _ReadError(f"{what} holds a {values.ndim}-D array")
                return None, values, None
            if path.lower().endswith(".csv"):
                return _frame_series(pd.read_csv(path), what)
        except (OSError, ValueError, pd.errors.ParserError) as e:
            raise _ReadError(f"{what} is not readable ({type(e).__name__}: {e})") from e
        raise _ReadError(f"{what} is neither a .npy nor a .csv file")

    def _align(self, values, names, i, index):
        """The channels of one series in the order of ``channels_``."""
        fitted = list(self.channels_)
        if names is None:
            if values.shape[1] != len(fitted):
                raise ValueError(
                    f"TimeSeriesLoader: the series of {describe_row(i, index)} "
                    f"has {values.shape[1]} channels, but the series of fit "
                    f"have {len(fitted)} ({fitted}). Give every row the same "
                    "channels (NaN where one was not measured)."
                )
            return values
        if sorted(names) != sorted(fitted):
            raise ValueError(
                f"TimeSeriesLoader: the series of {describe_row(i, index)} has "
                f"channels {names}, but fit learnt {fitted}. Give every row the "
                "same channels (NaN where one was not measured)."
            )
        return values[:, [names.index(c) for c in fitted]]


def _frame_series(frame, what):
    """``(times or None, values, names)`` of a DataFrame (or CSV) series."""
    names = [str(c) for c in frame.columns]
    times = None
    if TIME_COLUMN in names:
        at = names.index(TIME_COLUMN)
        times = _as_float(frame.iloc[:, at], f"the {TIME_COLUMN!r} column of {what}")
        if np.isnan(times).any():
            raise _ReadError(f"the {TIME_COLUMN!r} column of {what} holds NaN")
        keep = [j for j in range(len(names)) if j != at]
        frame, names = frame.iloc[:, keep], [names[j] for j in keep]
    if not names:
        raise _ReadError(f"{what} has no channel column")
    return times, _as_float(frame, what), names


def _bins(times, n_steps, horizon):
    """``(kept, bins, centres)``: which samples fall in the window, their
    bin, and the bins' centres."""
    last = times[-1]
    start = times[0] if horizon is None else last - horizon
    kept = times >= start
    span = last - start
    if span <= 0:
        return kept, np.full(int(kept.sum()), n_steps - 1), np.full(n_steps, last)
    scaled = (times[kept] - start) / span * n_steps
    bins = np.minimum(np.floor(scaled).astype(int), n_steps - 1)
    centres = start + (np.arange(n_steps) + 0.5) * span / n_steps
    return kept, bins, centres


def _fill_forward(values, observed):
    """Repeat the previous observed value into unobserved steps (the first
    observed value before it)."""
    steps = np.where(observed, np.arange(len(values)), 0)
    steps = np.maximum.accumulate(steps)
    first = int(np.argmax(observed))
    steps[:first] = first
    return values[steps]


def resample_series(times, values, n_steps, max_steps=None, horizon=None, how="linear"):
    """One series (``values`` (k, C) at ``times`` (k,) or evenly spaced
    when None; NaN unmeasured) as ``(values, observed)``, both
    ``(n_steps, C)``: the rule of :class:`TimeSeriesLoader`."""
    if times is None:
        times = np.arange(len(values), dtype=np.float64)
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    if max_steps is not None:
        times, values = times[-max_steps:], values[-max_steps:]
    kept, bins, centres = _bins(times, n_steps, horizon)
    times, values = times[kept], values[kept]
    n_channels = values.shape[1]
    out = np.zeros((n_steps, n_channels))
    observed = np.zeros((n_steps, n_channels), dtype=bool)
    for c in range(n_channels):
        measured = ~np.isnan(values[:, c])
        if not measured.any():
            continue
        b, v = bins[measured], values[measured, c]
        observed[b, c] = True
        if how == "linear":
            out[:, c] = np.interp(centres, times[measured], v)
            continue
        if how == "mean":
            counts = np.bincount(b, minlength=n_steps)
            step = np.bincount(b, v, minlength=n_steps) / np.maximum(counts, 1)
        else:  # last: the latest sample of each bin (samples are sorted)
            step = np.zeros(n_steps)
            _, from_end = np.unique(b[::-1], return_index=True)
            latest = len(b) - 1 - from_end
            step[b[latest]] = v[latest]
        out[:, c] = _fill_forward(step, observed[:, c])
    return out, observed.astype(np.float64)


def series_from_long(
    table,
    *,
    id_col,
    time_col,
    variable_col,
    value_col,
    ids=None,
    variables=None,
):
    """One series per patient from a long-format table, for TimeSeriesLoader.

    Parameters
    ----------
    table : pandas.DataFrame
        One measurement per row: patient id, time, variable, value. It is
        not modified.
    id_col, time_col, variable_col, value_col : str
        Its columns.
    ids : array-like or None, default=None
        The patients, in the order of the output (a patient without rows
        gets None, a missing series); None: the table's ids, sorted.
    variables : list of str or None, default=None
        The channels, in order; None: the table's variables, sorted.
        Variables not listed are left out.

    Returns
    -------
    series : pandas.Series of DataFrame or None, indexed by ``ids``
        For each patient, a DataFrame with a ``time`` column (sorted) and
        one column per variable: the value measured at that time, NaN where
        that variable was not measured (several values of one variable at
        one time are averaged). Put ``series.to_numpy()`` in the column
        that a :class:`TimeSeriesLoader` reads.

    Examples
    --------
    >>> import pandas as pd
    >>> long = pd.DataFrame({"id": [1, 1, 1, 2], "t": [0.0, 0.5, 0.5, 3.0],
    ...                      "var": ["hr", "hr", "spo2", "hr"],
    ...                      "value": [80.0, 90.0, 97.0, 70.0]})
    >>> s = series_from_long(long, id_col="id", time_col="t",
    ...                      variable_col="var", value_col="value", ids=[1, 2, 3])
    >>> s[1].to_numpy().tolist()
    [[0.0, 80.0, nan], [0.5, 90.0, 97.0]]
    >>> s[3] is None
    True
    """
    for col in (id_col, time_col, variable_col, value_col):
        if col not in table.columns:
            raise ValueError(
                f"series_from_long: the table has no column {col!r}; its "
                f"columns are {[str(c) for c in table.columns]}."
            )
    part = table[[id_col, time_col, variable_col, value_col]]
    for col in (time_col, value_col):
        numbers = pd.to_numeric(part[col], errors="coerce")
        bad = numbers.isna() & part[col].notna()
        if col == time_col:
            bad |= part[col].isna()
        if bad.any():
            at = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"series_from_long: column {col!r} of the table, row {at} "
                f"(index {part.index[at]!r}), holds {part[col].iloc[at]!r}, "
                "which is not a number. Convert or drop that row."
            )
        part = part.assign(**{col: numbers})
    if variables is None:
        variables = sorted(part[variable_col].dropna().astype(str).unique())
    part = part[part[variable_col].astype(str).isin(variables)]
    wide = part.pivot_table(
        index=[id_col, time_col],
        columns=variable_col,
        values=value_col,
        aggfunc="mean",
    )
    wide = wide.reindex(columns=list(variables))
    groups = {key: g for key, g in wide.groupby(level=0, sort=False)}
    ids = sorted(groups) if ids is None else list(ids)
    cells = []
    for key in ids:
        g = groups.get(key)
        if g is None:
            cells.append(None)
            continue
        frame = g.droplevel(0).sort_index()
        frame = frame.rename_axis(TIME_COLUMN).reset_index()
        frame.columns = [TIME_COLUMN, *[str(v) for v in variables]]
        cells.append(frame)
    return pd.Series(cells, index=ids, dtype=object, name="series")
