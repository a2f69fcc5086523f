"""TimeSeriesLoader and series_from_long: resampling rule, masks, errors."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

from skfusion._names import parse_series
from skfusion.preprocessing import (
    TimeSeriesLoader,
    make_modality_transformer,
    series_from_long,
)

NAN = np.nan


def _run(cells, **params):
    """Values (n, T, C), mask (n, T, C) and missing (n,) of the loader."""
    loader = TimeSeriesLoader(**params).fit(cells)
    out = loader.transform(cells)
    t, c = loader.n_steps, loader.n_channels_
    size = t * c
    values = out[:, :size].reshape(-1, t, c)
    mask = out[:, size : 2 * size].reshape(-1, t, c)
    return values, mask, out[:, -1]


def test_mean_on_evenly_spaced_array_with_a_gap():
    # times 0..3 over span 3 in 4 bins: floor(t / 3 * 4) = 0, 1, 2, 3 (clipped)
    values, mask, missing = _run(
        [np.array([[1.0], [2.0], [NAN], [4.0]])], n_steps=4, resample="mean"
    )
    np.testing.assert_array_equal(values[0, :, 0], [1, 2, 2, 4])  # gap carried
    np.testing.assert_array_equal(mask[0, :, 0], [1, 1, 0, 1])
    assert missing.tolist() == [0]


def test_linear_interpolates_at_bin_centres_of_irregular_times():
    frame = pd.DataFrame({"time": [0.0, 1.0, 4.0], "hr": [0.0, 10.0, 40.0]})
    values, mask, _ = _run([frame], n_steps=4, resample="linear")
    # width 1, centres 0.5, 1.5, 2.5, 3.5 on the line through the samples
    np.testing.assert_allclose(values[0, :, 0], [5, 15, 25, 35])
    # the sample at t=4 falls in the last bin; bin 2 has none
    np.testing.assert_array_equal(mask[0, :, 0], [1, 1, 0, 1])


@pytest.mark.parametrize(("how", "expected"), [("last", [3, 4]), ("mean", [2, 4])])
def test_last_and_mean_aggregate_within_a_bin(how, expected):
    # span 2, 2 bins: t = 0, 0.4, 0.6 -> bin 0; t = 2 -> bin 1; unsorted input
    frame = pd.DataFrame({"v": [2.0, 4.0, 1.0, 3.0], "time": [0.4, 2.0, 0.0, 0.6]})
    values, mask, _ = _run([frame], n_steps=2, resample=how)
    np.testing.assert_allclose(values[0, :, 0], expected)
    np.testing.assert_array_equal(mask[0, :, 0], [1, 1])


def test_max_steps_keeps_the_last_samples_and_horizon_the_last_window():
    series = [np.arange(5.0)[:, None]]
    values, _, _ = _run(series, n_steps=2, max_steps=2, resample="mean")
    np.testing.assert_allclose(values[0, :, 0], [3, 4])  # samples at t=3, 4
    # window [2, 4]: t=2 -> bin 0; t=3, 4 -> bin 1
    values, mask, _ = _run(series, n_steps=2, horizon=2.0, resample="mean")
    np.testing.assert_allclose(values[0, :, 0], [2, 3.5])
    np.testing.assert_array_equal(mask[0, :, 0], [1, 1])


def test_single_time_point_goes_to_the_last_bin():
    values, mask, _ = _run([np.array([[7.0, 8.0]])], n_steps=3, resample="last")
    np.testing.assert_array_equal(mask[0], [[0, 0], [0, 0], [1, 1]])
    np.testing.assert_array_equal(values[0], [[7, 8], [7, 8], [7, 8]])


def test_unmeasured_channel_is_zero_and_masked():
    values, mask, missing = _run([np.array([[1.0, NAN], [2.0, NAN]])], n_steps=2)
    np.testing.assert_array_equal(values[0, :, 1], [0, 0])
    np.testing.assert_array_equal(mask[0, :, 1], [0, 0])
    np.testing.assert_array_equal(mask[0, :, 0], [1, 1])
    assert missing.tolist() == [0]


def test_missing_and_empty_series_are_marked_missing():
    cells = [
        np.ones((3, 2)),
        None,
        NAN,
        "",
        np.full((4, 2), NAN),  # no measured value
        np.empty((0, 2)),  # no sample
    ]
    values, mask, missing = _run(cells, n_steps=3)
    assert missing.tolist() == [0, 1, 1, 1, 1, 1]
    assert not values[1:].any() and not mask[1:].any()
    assert mask[0].all()


def test_files_and_frames_are_matched_by_channel_name(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[1.0, 10.0], [3.0, 30.0]]))
    pd.DataFrame({"time": [0, 2], "spo2": [90.0, 94.0], "hr": [60.0, 80.0]}).to_csv(
        tmp_path / "b.csv", index=False
    )
    fit_frame = pd.DataFrame({"hr": [1.0], "spo2": [2.0]})
    loader = TimeSeriesLoader(n_steps=2, resample="mean", root=tmp_path)
    loader.fit(pd.Series([fit_frame, "a.npy"]))
    assert loader.channels_.tolist() == ["hr", "spo2"]
    out = loader.transform(pd.Series(["b.csv", "a.npy"]))
    # the CSV's columns are reordered to (hr, spo2)
    np.testing.assert_array_equal(out[0, :4].reshape(2, 2), [[60, 90], [80, 94]])
    np.testing.assert_array_equal(out[1, :4].reshape(2, 2), [[1, 10], [3, 30]])


def test_a_3d_array_is_rows_of_series_and_the_input_is_not_modified():
    X = np.arange(12.0).reshape(2, 3, 2)
    X[0, 1, 0] = NAN
    before = X.copy()
    values, mask, _ = _run(X, n_steps=3, resample="last")
    np.testing.assert_array_equal(before, X)
    np.testing.assert_array_equal(values[1], X[1])
    assert mask[0, 1, 0] == 0 and values[0, 1, 0] == X[0, 0, 0]


def test_errors_name_the_row(tmp_path):
    loader = TimeSeriesLoader(n_steps=2).fit([np.ones((3, 2))])
    frame = pd.DataFrame({"v": [np.ones((3, 2)), np.ones((3, 3))]}, index=["a", "b"])
    with pytest.raises(ValueError, match=r"row 1 \(index 'b'\) has 3 channels.*2"):
        clone(loader).fit(frame[:1]).transform(frame)
    with pytest.raises(ValueError, match=r"row 1: .*non-numeric"):
        loader.transform([np.ones((3, 2)), np.array([["a", "b"]])])
    with pytest.raises(ValueError, match=r"row 0: .*infinite"):
        loader.transform([np.array([[np.inf, 1.0]])])
    with pytest.raises(ValueError, match=r"row 0: .*does not exist"):
        loader.transform([str(tmp_path / "nope.npy")])
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match=r"row 0: .*not readable.*\.npy or \.csv"):
        loader.transform([str(tmp_path / "bad.npy")])
    (tmp_path / "x.txt").write_text("1,2")
    with pytest.raises(ValueError, match=r"row 0: .*neither a \.npy nor a \.csv"):
        loader.transform([str(tmp_path / "x.txt")])
    named = TimeSeriesLoader().fit([pd.DataFrame({"hr": [1.0], "sbp": [2.0]})])
    with pytest.raises(ValueError, match=r"row 0 has channels \['hr', 'dbp'\]"):
        named.transform([pd.DataFrame({"hr": [1.0], "dbp": [2.0]})])
    with pytest.raises(ValueError, match="found no series to learn from"):
        TimeSeriesLoader().fit([None, np.full((2, 1), NAN)])
    with pytest.raises(ValueError, match="one column of series, got 2 columns"):
        TimeSeriesLoader().fit(pd.DataFrame({"a": [1], "b": [2]}))


def test_names_set_output_column_transformer_pickle_clone():
    cells = [np.arange(6.0).reshape(3, 2), None]
    loader = TimeSeriesLoader(n_steps=3).set_output(transform="pandas")
    out = loader.fit_transform(pd.DataFrame({"vitals": cells}))
    names = loader.get_feature_names_out().tolist()
    assert names[:3] == ["series_0_0", "series_0_1", "series_1_0"]
    assert names[6] == "observed_0_0" and names[-1] == "missing"
    assert [parse_series(n) for n in names[5:7]] == [(0, 2, 1), (1, 0, 0)]
    assert list(out.columns) == names and out["missing"].tolist() == [0, 1]
    ct = make_modality_transformer(
        ("vitals", TimeSeriesLoader(n_steps=3), "vitals"),
        ("tab", StandardScaler(), ["age"]),
    )
    frame = pd.DataFrame({"vitals": cells, "age": [50.0, 60.0]})
    table = ct.fit_transform(frame)
    assert table.columns[0] == "vitals__series_0_0"
    assert table["vitals__missing"].tolist() == [0, 1]
    again = pickle.loads(pickle.dumps(loader))
    frame = pd.DataFrame({"vitals": cells})
    np.testing.assert_array_equal(again.transform(frame), loader.transform(frame))
    assert not hasattr(clone(loader), "channels_")


def test_series_from_long_pivots_per_patient_without_touching_the_table():
    long = pd.DataFrame(
        {
            "pid": ["p1", "p1", "p1", "p1", "p2"],
            "t": [2.0, 0.0, 2.0, 2.0, 1.0],
            "var": ["hr", "hr", "sbp", "hr", "sbp"],
            "val": [80.0, 70.0, 120.0, 90.0, 110.0],
        }
    )
    before = long.copy()
    series = series_from_long(
        long,
        id_col="pid",
        time_col="t",
        variable_col="var",
        value_col="val",
        ids=["p2", "p1", "p3"],
    )
    pd.testing.assert_frame_equal(long, before)
    assert series.index.tolist() == ["p2", "p1", "p3"]
    p1 = series["p1"]
    assert p1.columns.tolist() == ["time", "hr", "sbp"]
    # two hr values at t=2 are averaged; sbp unmeasured at t=0
    np.testing.assert_array_equal(p1.to_numpy(), [[0, 70, NAN], [2, 85, 120]])
    assert series["p3"] is None
    values, mask, missing = _run(series.to_numpy(), n_steps=2, resample="mean")
    assert missing.tolist() == [0, 0, 1]
    np.testing.assert_array_equal(mask[1], [[1, 0], [1, 1]])
    np.testing.assert_array_equal(values[1], [[70, 120], [85, 120]])


def test_series_from_long_names_a_bad_row():
    long = pd.DataFrame(
        {"id": [1, 1], "t": [0, 1], "v": ["hr", "hr"], "x": [1, "high"]}
    )
    with pytest.raises(ValueError, match=r"column 'x' .*row 1 .*'high'.*not a number"):
        series_from_long(
            long, id_col="id", time_col="t", variable_col="v", value_col="x"
        )
    with pytest.raises(ValueError, match="no column 'value'"):
        series_from_long(
            long, id_col="id", time_col="t", variable_col="v", value_col="value"
        )
