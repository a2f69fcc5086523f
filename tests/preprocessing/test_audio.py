"""Tests for skfusion.preprocessing.AudioLoader."""

import copy
import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from scipy.io import wavfile
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skfusion import CrossModalClassifier
from skfusion.exceptions import AudioReadError, SkfusionDataWarning
from skfusion.preprocessing import AudioLoader
from skfusion.preprocessing._audio import _to_mono_float

SR = 16000
N_MELS, N_FRAMES, HOP, N_FFT = 16, 8, 160, 512
NEEDED = (N_FRAMES - 1) * HOP + N_FFT  # samples the kept frames cover


def _sine(freq, n_samples=3200, rate=SR, amplitude=0.5):
    t = np.arange(n_samples) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def _write(path, data, rate=SR):
    wavfile.write(path, rate, data)
    return str(path)


def _loader(**kwargs):
    return AudioLoader(n_mels=N_MELS, n_frames=N_FRAMES, **kwargs)


def _image(row):
    return row[: N_MELS * N_FRAMES].reshape(N_MELS, N_FRAMES)


def _htk_centres(n_mels, fmin, fmax):
    """Band centres written independently of the module (HTK mel scale)."""

    def mel(f):
        return 2595 * math.log10(1 + f / 700)

    def hz(m):
        return 700 * (10 ** (m / 2595) - 1)

    low, high = mel(fmin), mel(fmax)
    step = (high - low) / (n_mels + 1)
    return np.array([hz(low + step * (k + 1)) for k in range(n_mels)])


def _nearest_band(freq, n_mels=N_MELS, fmin=0.0, fmax=SR / 2):
    return int(np.abs(_htk_centres(n_mels, fmin, fmax) - freq).argmin())


# -- values ------------------------------------------------------------------


@pytest.mark.parametrize("freq", [1000, 3000])
def test_sine_peaks_in_the_band_nearest_its_frequency(tmp_path, freq):
    path = _write(tmp_path / "tone.wav", _sine(freq).astype(np.float32))
    loader = _loader().fit([path])
    image = _image(loader.transform([path])[0])

    expected = _nearest_band(freq)
    assert_array_equal(image.argmax(axis=0), expected)  # in every frame
    assert image.max() == 1.0
    assert_allclose(loader.mel_frequencies_, _htk_centres(N_MELS, 0, SR / 2))


def test_higher_sine_peaks_in_a_higher_band(tmp_path):
    low = _write(tmp_path / "low.wav", _sine(1000).astype(np.float32))
    high = _write(tmp_path / "high.wav", _sine(3000).astype(np.float32))
    out = _loader().fit_transform([low, high])
    low_band = _image(out[0]).mean(axis=1).argmax()
    high_band = _image(out[1]).mean(axis=1).argmax()
    assert (low_band, high_band) == (_nearest_band(1000), _nearest_band(3000))
    assert high_band > low_band


def test_fmin_fmax_move_the_bands(tmp_path):
    path = _write(tmp_path / "tone.wav", _sine(1000).astype(np.float32))
    loader = _loader(fmin=300.0, fmax=4000.0).fit([path])
    expected = _htk_centres(N_MELS, 300.0, 4000.0)
    assert_allclose(loader.mel_frequencies_, expected)
    image = _image(loader.transform([path])[0])
    assert_array_equal(image.argmax(axis=0), np.abs(expected - 1000).argmin())


def test_output_shape_dtype_range_and_names(tmp_path):
    paths = [
        _write(tmp_path / "a.wav", _sine(500).astype(np.float32)),
        None,
        _write(tmp_path / "b.wav", (_sine(2000) * 30000).astype(np.int16)),
    ]
    loader = _loader()
    out = loader.fit_transform(paths)
    names = loader.get_feature_names_out()

    assert out.shape == (3, N_MELS * N_FRAMES + 1)
    assert out.dtype == np.float32
    assert out.flags.c_contiguous
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert loader.image_shape_ == (1, N_MELS, N_FRAMES)
    assert names.dtype == object and len(names) == out.shape[1]
    assert names[:2].tolist() == ["pixel_0_0_0", "pixel_0_0_1"]
    assert names[N_FRAMES] == "pixel_0_1_0"
    assert names[-2] == f"pixel_0_{N_MELS - 1}_{N_FRAMES - 1}"
    assert names[-1] == "missing"
    assert out[:, -1].tolist() == [0.0, 1.0, 0.0]
    # C order: column m * n_frames + t is band m, frame t.
    band = _nearest_band(2000)
    assert out[2, band * N_FRAMES + 3] > 0.9
    assert out[2, (band + 4) * N_FRAMES + 3] < 0.5


def test_scaling_is_per_recording_db_over_top_db(tmp_path):
    # A 3 kHz tone 20 dB (amplitude 0.1) or 30 dB (0.0316) below a 1 kHz
    # tone: the 1 kHz band is the row maximum (1.0) and the 3 kHz band moves
    # by 10 dB / top_db between the two, whatever the recording gain.
    for gain in (1.0, 0.001):
        for rel in (0.1, 10 ** (-30 / 20)):
            signal = gain * (_sine(1000) + rel * _sine(3000))
            _write(tmp_path / f"{gain}_{rel:.3f}.wav", signal.astype(np.float32))
    names = ["1.0_0.100.wav", "1.0_0.032.wav", "0.001_0.100.wav", "0.001_0.032.wav"]
    low, high = _nearest_band(1000), _nearest_band(3000)
    for top_db in (80.0, 40.0):
        out = _loader(root=tmp_path, top_db=top_db).fit_transform(names)
        assert_allclose(out[:2], out[2:], atol=1e-5)  # gain does not matter
        loud, quiet = _image(out[0]), _image(out[1])
        assert_array_equal(loud[low, 2:6], 1.0)
        assert_array_equal(quiet[low, 2:6], 1.0)
        assert_allclose((loud[high, 2:6] - quiet[high, 2:6]) * top_db, 10, atol=0.05)
        assert_allclose(loud[high, 2:6], 1 - 20 / top_db, atol=2 / top_db)


def test_resampling_gives_the_same_peak_band(tmp_path):
    paths = [
        _write(tmp_path / f"{rate}.wav", _sine(1000, rate // 5, rate), rate)
        for rate in (16000, 8000, 44100)
    ]
    out = _loader().fit_transform(paths)
    images = [_image(row) for row in out]
    for image in images:
        assert_array_equal(image.argmax(axis=0), _nearest_band(1000))
    # Below the 8 kHz file's Nyquist frequency (4 kHz) the images agree.
    low_bands = _htk_centres(N_MELS, 0, SR / 2) < 3500
    for image in images[1:]:
        assert_allclose(image[low_bands], images[0][low_bands], atol=1e-3)


def test_long_file_is_read_only_as_far_as_needed_when_resampling(tmp_path):
    rate = 44100
    long_signal = _sine(1000, 5 * rate, rate).astype(np.float32)
    short = _write(tmp_path / "short.wav", long_signal[: rate // 5], rate)
    long = _write(tmp_path / "long.wav", long_signal, rate)
    out = _loader().fit_transform([short, long])
    assert_allclose(out[0], out[1], atol=1e-6)


@pytest.mark.parametrize(
    "dtype, scale", [(np.int16, 32767), (np.int32, 2**31 - 1), (np.float64, 1)]
)
def test_integer_and_float_wavs_agree(tmp_path, dtype, scale):
    signal = _sine(1000) + 0.05 * _sine(2500)
    reference = _write(tmp_path / "f32.wav", signal.astype(np.float32))
    scaled = signal * scale if scale == 1 else np.round(signal * scale)
    other = _write(tmp_path / "other.wav", scaled.astype(dtype))
    out = _loader().fit_transform([reference, other])
    assert_allclose(out[0], out[1], atol=1e-3)


def test_uint8_wav_is_centred_at_128(tmp_path):
    silent = _write(tmp_path / "silent.wav", np.full(2000, 128, dtype=np.uint8))
    tone = _write(
        tmp_path / "tone.wav",
        (128 + np.round(100 * _sine(1000, amplitude=1))).astype(np.uint8),
    )
    out = _loader().fit_transform([silent, tone])
    assert_array_equal(out[0], 0.0)
    assert_array_equal(_image(out[1]).argmax(axis=0), _nearest_band(1000))


def test_integer_pcm_is_scaled_to_unit_range():
    assert_array_equal(
        _to_mono_float(np.array([-32768, 0, 16384], dtype=np.int16)), [-1, 0, 0.5]
    )
    assert_array_equal(
        _to_mono_float(np.array([0, 128, 255], dtype=np.uint8)), [-1, 0, 127 / 128]
    )
    assert_array_equal(
        _to_mono_float(np.array([-(2**31), 2**30], dtype=np.int32)), [-1, 0.5]
    )
    stereo = np.array([[0.5, -0.25], [1.0, 0.0]], dtype=np.float32)
    assert_array_equal(_to_mono_float(stereo), [0.125, 0.5])


def test_stereo_is_the_mean_of_its_channels(tmp_path):
    left, right = _sine(1000), 0.3 * _sine(3000)
    stereo = _write(
        tmp_path / "stereo.wav", np.column_stack([left, right]).astype(np.float32)
    )
    mono = _write(tmp_path / "mono.wav", ((left + right) / 2).astype(np.float32))
    out = _loader().fit_transform([stereo, mono])
    assert_allclose(out[0], out[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_silence_is_zero(tmp_path, dtype):
    path = _write(tmp_path / "silence.wav", np.zeros(4000, dtype=dtype))
    out = _loader().fit_transform([path])
    assert_array_equal(out, 0.0)  # spectrogram 0 and missing 0


@pytest.mark.parametrize(
    "n_samples, n_computed", [(100, 1), (5 * HOP, 5), (5 * HOP + 80, 6)]
)
def test_short_file_is_padded_with_silence(tmp_path, n_samples, n_computed):
    path = _write(tmp_path / "short.wav", _sine(1000, n_samples).astype(np.float32))
    image = _image(_loader().fit_transform([path])[0])
    assert (image[:, :n_computed].max(axis=0) > 0.5).all()
    assert_array_equal(image[:, n_computed:], 0.0)


def test_long_file_keeps_the_first_frames(tmp_path):
    # 1 kHz while the kept frames last, then a loud 3 kHz tone.
    signal = np.concatenate([_sine(1000, NEEDED), 2 * _sine(3000, SR)[NEEDED:]]).astype(
        np.float32
    )
    long = _write(tmp_path / "long.wav", signal)
    cropped = _write(tmp_path / "cropped.wav", signal[:NEEDED])
    out = _loader().fit_transform([long, cropped])
    assert_array_equal(out[0], out[1])
    assert_array_equal(_image(out[0]).argmax(axis=0), _nearest_band(1000))


# -- missing and unreadable files -------------------------------------------


def test_missing_paths_give_zeros_and_flag(tmp_path):
    path = _write(tmp_path / "a.wav", _sine(1000).astype(np.float32))
    paths = pd.Series([path, None, np.nan, pd.NA, "", "  "], dtype=object)
    out = _loader().fit_transform(paths)
    assert_array_equal(out[:, -1], [0, 1, 1, 1, 1, 1])
    assert out[0, :-1].max() == 1.0
    assert_array_equal(out[1:, :-1], 0.0)


def _bad_files(tmp_path):
    good = _write(tmp_path / "ok.wav", (_sine(1000) * 1e4).astype(np.int16))
    raw = Path(good).read_bytes()
    (tmp_path / "notes.wav").write_text("this is not a WAV file")
    (tmp_path / "truncated.wav").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "header_only.wav").write_bytes(raw[:30])
    _write(tmp_path / "empty.wav", np.zeros(0, dtype=np.int16))
    _write(tmp_path / "nan.wav", np.full(2000, np.nan, dtype=np.float32))
    return good


BAD = {
    "nonexistent": ("nope.wav", "does not exist"),
    "directory": (".", "is a directory"),
    "not_a_wav": ("notes.wav", "not a readable WAV"),
    "truncated": ("truncated.wav", "truncated"),
    "header_only": ("header_only.wav", "not a readable WAV"),
    "empty": ("empty.wav", "0 samples"),
    "nan": ("nan.wav", "NaN"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_unreadable_paths_raise_with_column_row_and_path(tmp_path, kind):
    good = _bad_files(tmp_path)
    name, reason = BAD[kind]
    bad = str(tmp_path / name) if name != "." else str(tmp_path)
    paths = pd.Series([good, bad], index=["a", "b"], name="voice_path")
    loader = _loader().fit(paths)

    with pytest.raises(AudioReadError) as info:
        loader.transform(paths)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "'voice_path'" in message
    assert "row 1 (index 'b')" in message
    assert bad in message
    assert reason in message
    assert "on_error='missing'" in message


def test_on_error_missing_masks_the_rows_and_warns(tmp_path):
    good = _bad_files(tmp_path)
    paths = [
        good,
        str(tmp_path / "truncated.wav"),
        None,
        str(tmp_path / "gone.wav"),
    ]
    loader = _loader(on_error="missing").fit(paths)
    with pytest.warns(SkfusionDataWarning, match=r"2 unreadable.*row 1, row 3"):
        out = loader.transform(paths)
    assert_array_equal(out[:, -1], [0, 1, 1, 1])
    assert out[0, :-1].max() == 1.0
    assert_array_equal(out[1:, :-1], 0.0)


def test_root_is_prepended_to_relative_paths_only(tmp_path):
    (tmp_path / "notes").mkdir()
    _write(tmp_path / "notes" / "a.wav", _sine(1000).astype(np.float32))
    absolute = _write(tmp_path / "b.wav", np.zeros(1000, dtype=np.float32))
    loader = _loader(root=tmp_path / "notes")
    out = loader.fit_transform(["a.wav", absolute, Path("a.wav")])
    assert_array_equal(out[:, :-1].max(axis=1), [1.0, 0.0, 1.0])


# -- pipelines and the estimator --------------------------------------------


def test_column_transformer_and_classifier(tmp_path):
    freqs = [1000, 3000] * 4
    paths = [
        _write(tmp_path / f"{i}.wav", _sine(f, 1600).astype(np.float32))
        for i, f in enumerate(freqs)
    ]
    df = pd.DataFrame(
        {"voice_path": [*paths, None], "age": range(9)}, index=list("abcdefghi")
    )
    y = np.array([0, 1] * 4 + [0])
    before = copy.deepcopy(df)
    ct = ColumnTransformer(
        [("voice", AudioLoader(n_mels=16, n_frames=20), "voice_path")]
    ).set_output(transform="pandas")

    table = ct.fit_transform(df)

    assert table.shape == (9, 16 * 20 + 1)
    assert table.columns[0] == "voice__pixel_0_0_0"
    assert table.columns[-2] == "voice__pixel_0_15_19"
    assert table.columns[-1] == "voice__missing"
    assert table.index.tolist() == list("abcdefghi")
    assert table["voice__missing"].tolist() == [0.0] * 8 + [1.0]
    assert_frame_equal(df, before)

    clf = CrossModalClassifier(max_epochs=3, random_state=0).fit(table, y)
    spec = clf.modalities_["voice"]
    assert spec.kind == "image"
    assert spec.shape == (1, 16, 20)
    assert spec.has_missing
    assert clf.predict(table).shape == (9,)
    assert clf.predict_proba(table).shape == (9, 2)


def test_fit_does_not_read_files():
    loader = _loader().fit(["does/not/exist.wav"])
    assert loader.image_shape_ == (1, N_MELS, N_FRAMES)
    assert loader.mel_filters_.shape == (N_MELS, N_FFT // 2 + 1)
    assert loader.n_features_in_ == 1


def test_two_columns_are_rejected():
    df = pd.DataFrame({"voice": ["a.wav"], "cough": ["b.wav"]})
    with pytest.raises(ValueError, match=r"one column of audio paths.*ColumnTransf"):
        AudioLoader().fit(df)


def test_add_indicator_false_drops_the_column(tmp_path):
    path = _write(tmp_path / "a.wav", _sine(1000).astype(np.float32))
    loader = _loader(add_indicator=False)
    out = loader.fit_transform(np.array([[path]], dtype=object))
    assert out.shape == (1, N_MELS * N_FRAMES)
    assert loader.get_feature_names_out()[-1] == f"pixel_0_{N_MELS - 1}_{N_FRAMES - 1}"


# -- scikit-learn API (the data-free checks run in tests/test_common.py) ------


def test_clone_and_pickle_round_trip(tmp_path):
    paths = [
        _write(tmp_path / "a.wav", _sine(1000).astype(np.float32)),
        None,
        _write(
            tmp_path / "b.wav", (_sine(3000, rate=8000) * 1e4).astype(np.int16), 8000
        ),
    ]
    loader = _loader(fmax=7000.0, top_db=60.0).fit(paths)
    out = loader.transform(paths)

    cloned = clone(loader)
    assert cloned.get_params() == loader.get_params()
    assert not hasattr(cloned, "image_shape_")
    assert_array_equal(cloned.fit(paths).transform(paths), out)
    restored = pickle.loads(pickle.dumps(loader))
    assert_array_equal(restored.transform(paths), out)
    assert_array_equal(loader.fit(paths).transform(paths), out)  # idempotent


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_mels": 0}, "n_mels"),
        ({"n_frames": 0}, "n_frames"),
        ({"n_fft": 1}, "n_fft"),
        ({"hop_length": 0}, "hop_length"),
        ({"sample_rate": 0}, "sample_rate"),
        ({"sample_rate": 16000.0}, "sample_rate"),
        ({"fmin": -1.0}, "fmin"),
        ({"fmax": 0.0}, "fmax"),
        ({"top_db": 0.0}, "top_db"),
        ({"on_error": "ignore"}, "on_error"),
        ({"root": 3}, "root"),
    ],
)
def test_bad_parameters_name_the_parameter(params, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        AudioLoader(**params).fit(["a.wav"])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"fmax": 9000.0}, r"fmax=9000.0 is above the Nyquist"),
        ({"fmin": 4000.0, "fmax": 4000.0}, r"fmin=4000.0 must be below fmax"),
        ({"n_mels": 128}, r"n_mels=128, n_fft=512.*no FFT bin"),
    ],
)
def test_inconsistent_parameters_are_explained(params, match):
    with pytest.raises(ValueError, match=match):
        AudioLoader(**params).fit(["a.wav"])


def test_not_fitted_errors():
    with pytest.raises(NotFittedError):
        AudioLoader().transform(["a.wav"])
    with pytest.raises(NotFittedError):
        AudioLoader().get_feature_names_out()
