"""Bad input, for every transformer and estimator, alone and in a Pipeline.

The project's rule: bad input gets a clear error that names the column, the
row and the fix, or a documented masking policy (``missing`` = 1, neutral
values, a warning naming the rows); never a bare traceback from PIL, torch,
pandas or NumPy; and the caller's data is never modified. Each test checks
the error type and message (or the masking), and that the input equals a
copy taken before the call.
"""

import contextlib
import importlib.util
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _clinical import tabular_transformer
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image
from scipy.io import wavfile
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion.exceptions import (
    AudioReadError,
    ImageReadError,
    ModalityError,
    SkfusionDataWarning,
)
from skfusion.preprocessing import (
    AudioLoader,
    AvailabilityIndicator,
    ImageEmbedder,
    ImageLoader,
    SentenceEmbedder,
    TextEmbedder,
    TextTokenizer,
)

FAST = dict(
    max_epochs=1,
    batch_size=8,
    latent_dim=4,
    head_dims=(8,),
    cnn_channels=(4, 4),
    random_state=0,
)
HYPOTHESIS = settings(max_examples=25, deadline=None)
INDEX = ["p0", "p1", "p2"]
GRAY = 200  # value of the good image


# -- helpers ---------------------------------------------------------------------------


def _copy(data):
    if isinstance(data, pd.DataFrame | pd.Series):
        return data.copy(deep=True)
    return np.array(data, copy=True)


def _assert_same(data, before):
    if isinstance(data, pd.DataFrame):
        pd.testing.assert_frame_equal(data, before)
    elif isinstance(data, pd.Series):
        pd.testing.assert_series_equal(data, before)
    else:
        assert_array_equal(data, before)  # NaN equals NaN here


@contextlib.contextmanager
def unchanged(*datas):
    """Assert that every input equals its copy taken before the block."""
    befores = [_copy(data) for data in datas]
    yield
    for data, before in zip(datas, befores, strict=True):
        _assert_same(data, before)


@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _png_header(width, height):
    """A PNG that declares width x height pixels but holds almost no data."""

    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def _dicom_without_pixels(path):
    """A DICOM structured report: a valid file with no PixelData."""
    pytest.importorskip("pydicom")
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "SR"
    ds.save_as(path, enforce_file_format=True)
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Good and bad image and audio files, built once (about 1 s)."""
    root = tmp_path_factory.mktemp("bad_inputs")
    rng = np.random.default_rng(0)
    paths = {}

    def path(name):
        paths[name] = str(root / name)
        return paths[name]

    Image.new("L", (12, 10), GRAY).save(path("ok.png"))
    Image.new("RGB", (12, 10), (GRAY,) * 3).save(path("ok.jpg"), quality=95)
    noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for suffix in ("png", "jpg"):
        full = root / f"noise.{suffix}"
        Image.fromarray(noise).save(full)
        data = full.read_bytes()
        Path(path(f"truncated.{suffix}")).write_bytes(data[: len(data) // 2])
    Path(path("header_only.png")).write_bytes((root / "noise.png").read_bytes()[:24])
    Path(path("notes.png")).write_text("Patient seen in clinic; no image here.")
    Path(path("folder.png")).mkdir()
    try:
        paths["report.dcm"] = _dicom_without_pixels(root / "report.dcm")
    except pytest.skip.Exception:  # no pydicom: only the DICOM cases skip
        pass
    # 10,000 x 10,000 = 1e8 pixels, above Pillow's 89.5M warning threshold:
    # left half white, right half black.
    half = np.zeros((10_000, 10_000), dtype=np.uint8)
    half[:, :5_000] = 255
    Image.fromarray(half).save(path("huge.png"), compress_level=1)
    Image.fromarray(half).save(path("huge.jpg"), quality=90)
    del half
    Path(path("bomb.png")).write_bytes(_png_header(20_000, 20_000))  # 4e8 pixels
    paths["nowhere.png"] = str(root / "nowhere.png")

    t = np.arange(1600) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    wavfile.write(path("ok.wav"), 16000, tone)
    data = Path(paths["ok.wav"]).read_bytes()
    Path(path("header_cut.wav")).write_bytes(data[:30])
    Path(path("truncated.wav")).write_bytes(data[:200])
    Path(path("notes.wav")).write_text("not a recording")
    Path(path("folder.wav")).mkdir()
    paths["nowhere.wav"] = str(root / "nowhere.wav")
    return paths


# -- image paths -----------------------------------------------------------------------

# bad value -> what the error (or the warning) says about it
BAD_IMAGES = {
    "nowhere.png": "does not exist",
    "truncated.png": r"not a readable image \(OSError: .*truncated",
    "truncated.jpg": r"not a readable image \(OSError",
    "header_only.png": "not a readable image",
    "notes.png": r"not a readable image \(UnidentifiedImageError",
    "folder.png": "is a directory, not an image file",
    "report.dcm": "has no pixel data",
    "bomb.png": r"too large to decode \(Pillow: Image size \(400000000 pixels\)",
    12345: r"12345 \(type int\) is not a path",
}
IMAGE_FIX = {"bomb.png": r"Downsample the file.*MAX_IMAGE_PIXELS .*removes the limit\)"}


def _bad_image(files, key):
    if key == "report.dcm" and key not in files:
        pytest.skip("pydicom is not installed")
    return files.get(key, key)


def _image_column(files, bad):
    """[good, missing, bad], named and indexed like a DataFrame column."""
    values = [files["ok.png"], None, bad]
    return pd.Series(values, index=INDEX, name="xray_path", dtype=object)


def _image_error_pattern(key, bad, row="row 2 (index 'p2')"):
    fix = IMAGE_FIX.get(key, r"Fix the path \(or set root=\)")
    shown = re.escape(repr(bad)) if isinstance(bad, str) else ""
    return (
        rf"column 'xray_path', {re.escape(row)}: {shown}.*{BAD_IMAGES[key]}.*"
        rf"{fix}, or pass on_error='missing'"
    )


@pytest.mark.parametrize("key", BAD_IMAGES)
def test_image_loader_raises_naming_column_row_path_and_fix(files, key):
    bad = _bad_image(files, key)
    column = _image_column(files, bad)
    loader = ImageLoader(size=4).fit(column)
    with unchanged(column), pytest.raises(ImageReadError) as info:
        loader.transform(column)
    assert re.search(_image_error_pattern(key, bad), str(info.value), re.S)
    # The file's own error is kept as the cause; the message is ours.
    assert str(info.value).startswith("ImageLoader could not read the image")


@pytest.mark.parametrize("key", BAD_IMAGES)
def test_image_loader_on_error_missing_masks_with_a_warning(files, key):
    bad = _bad_image(files, key)
    column = _image_column(files, bad)
    loader = ImageLoader(size=4, on_error="missing").fit(column)
    with (
        unchanged(column),
        pytest.warns(SkfusionDataWarning) as record,
    ):
        out = loader.transform(column)
    message = str(record[0].message)
    assert "1 unreadable image(s) in column 'xray_path'" in message
    assert "row 2 (index 'p2')" in message
    assert re.search(BAD_IMAGES[key], message)
    assert_array_equal(out[:, -1], [0, 1, 1])
    assert_array_equal(out[1:, :-1], 0.0)  # neutral: the image of a missing row
    assert_allclose(out[0, :-1], GRAY / 255)


@pytest.mark.parametrize("key", ["nowhere.png", "truncated.jpg", "report.dcm"])
def test_image_embedder_raises_with_the_row_of_the_whole_input(files, key):
    bad = _bad_image(files, key)
    # batch_size=2: the bad image is row 0 of the second batch, reported as 2.
    column = _image_column(files, bad)
    embedder = ImageEmbedder(loader=ImageLoader(size=8), batch_size=2).fit(column)
    with unchanged(column), pytest.raises(ImageReadError) as info:
        embedder.transform(column)
    assert re.search(_image_error_pattern(key, bad), str(info.value), re.S)


@pytest.mark.parametrize("key", ["folder.png", "notes.png", "bomb.png", 12345])
def test_image_embedder_on_error_missing_gives_a_zero_row(files, key):
    bad = _bad_image(files, key)
    column = _image_column(files, bad)
    loader = ImageLoader(size=8, on_error="missing")
    embedder = ImageEmbedder(loader=loader, batch_size=2).fit(column)
    with (
        unchanged(column),
        pytest.warns(SkfusionDataWarning, match=r"ImageEmbedder treated 1") as rec,
    ):
        out = embedder.transform(column)
    assert "row 2 (index 'p2')" in str(rec[0].message)
    assert_array_equal(out[:, -1], [0, 1, 1])
    assert_array_equal(out[1:, :-1], 0.0)
    alone = embedder.transform(column.iloc[:1])
    assert_allclose(out[0], alone[0])


@pytest.mark.parametrize("transformer", ["loader", "embedder"])
def test_nan_and_blank_paths_are_absent_without_a_warning(files, transformer):
    column = pd.Series(
        [files["ok.png"], np.nan, None, pd.NA, "", "  "], name="xray_path"
    )
    if transformer == "loader":
        step = ImageLoader(size=4)
    else:
        step = ImageEmbedder(loader=ImageLoader(size=8))
    with unchanged(column), no_warnings():
        out = step.fit_transform(column)
    assert_array_equal(out[:, -1], [0, 1, 1, 1, 1, 1])
    assert_array_equal(out[1:, :-1], 0.0)


@pytest.mark.parametrize("key", ["huge.png", "huge.jpg"])
@pytest.mark.parametrize("color", ["grayscale", "rgb"])
def test_huge_image_is_downsampled_without_pillow_warnings(files, key, color):
    """1e8 pixels: loads, no DecompressionBombWarning, left half white."""
    column = pd.Series([files[key]], name="xray_path")
    with unchanged(column), no_warnings():
        out = ImageLoader(size=8, color=color).fit_transform(column)
    channels = 3 if color == "rgb" else 1
    image = out[0, :-1].reshape(channels, 8, 8)
    assert out[0, -1] == 0.0
    assert_allclose(image[:, :, :3], 1.0, atol=0.02)
    assert_allclose(image[:, :, 5:], 0.0, atol=0.02)
    assert np.all(np.diff(image, axis=2) <= 1e-6)  # white to black, left to right


def test_huge_png_is_never_converted_or_resized_at_full_size(files, monkeypatch):
    """Memory: only the decoded image is full size; it is box-reduced first."""
    sizes = []
    for method in ("convert", "resize"):
        original = getattr(Image.Image, method)

        def spy(self, *args, _original=original, **kwargs):
            sizes.append(self.size)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Image.Image, method, spy)
    out = ImageLoader(size=8, color="rgb").fit_transform([files["huge.png"]])
    assert sizes and max(max(size) for size in sizes) < 10_000 // 2
    assert out[0, -1] == 0.0


def test_huge_image_in_an_image_embedder_loads_without_warnings(files):
    with no_warnings():
        out = ImageEmbedder(loader=ImageLoader(size=8)).fit_transform(
            [files["huge.jpg"], files["ok.png"]]
        )
    assert_array_equal(out[:, -1], [0, 0])
    assert np.isfinite(out).all()


# -- audio paths -----------------------------------------------------------------------

BAD_AUDIO = {
    "nowhere.wav": "does not exist",
    "header_cut.wav": r"not a readable WAV file",
    "truncated.wav": r"is a truncated WAV file",
    "notes.wav": r"not a readable WAV file \(ValueError: File format",
    "folder.wav": "is a directory, not a WAV file",
    3.5: r"3\.5 \(type float\) is not a path",
}


def _audio_column(files, bad):
    values = [files["ok.wav"], None, files.get(bad, bad)]
    return pd.Series(values, index=INDEX, name="voice_path", dtype=object)


@pytest.mark.parametrize("key", BAD_AUDIO)
def test_audio_loader_raises_naming_column_row_path_and_fix(files, key):
    column = _audio_column(files, key)
    loader = AudioLoader(n_mels=8, n_frames=4).fit(column)
    with unchanged(column), pytest.raises(AudioReadError) as info:
        loader.transform(column)
    message = str(info.value)
    assert "column 'voice_path', row 2 (index 'p2')" in message
    assert re.search(BAD_AUDIO[key], message)
    if isinstance(key, str):
        assert repr(files[key]) in message
    assert "Fix the path (or set root=), or pass on_error='missing'" in message


@pytest.mark.parametrize("key", BAD_AUDIO)
def test_audio_loader_on_error_missing_masks_with_a_warning(files, key):
    column = _audio_column(files, key)
    loader = AudioLoader(n_mels=8, n_frames=4, on_error="missing").fit(column)
    with unchanged(column), pytest.warns(SkfusionDataWarning) as record:
        out = loader.transform(column)
    message = str(record[0].message)
    assert "1 unreadable audio file(s) in column 'voice_path'" in message
    assert "row 2 (index 'p2')" in message
    assert_array_equal(out[:, -1], [0, 1, 1])
    assert_array_equal(out[1:, :-1], 0.0)
    assert out[0, :-1].max() == 1.0  # the good recording, scaled to its peak


def test_nan_audio_path_is_absent_without_a_warning(files):
    column = pd.Series([files["ok.wav"], np.nan, ""], name="voice_path")
    with unchanged(column), no_warnings():
        out = AudioLoader(n_mels=8, n_frames=4).fit_transform(column)
    assert_array_equal(out[:, -1], [0, 1, 1])


# -- the Pipeline ----------------------------------------------------------------------

NOTES = ["chest pain at rest", "fever and dry cough", "no complaint", None]


def _frame(files, n=16):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.normal(60, 10, n).round(1),
            "sex": ["f", "m"] * (n // 2),
            "note": (NOTES * n)[:n],
            "xray_path": ([files["ok.png"], None, files["ok.jpg"], np.nan] * n)[:n],
            "voice_path": ([files["ok.wav"], np.nan] * n)[:n],
        },
        index=[f"p{i}" for i in range(n)],
    )


def _pipeline(on_error="raise", handle_unknown="ignore", estimator=None):
    tab = tabular_transformer(["age"], ["sex"], handle_unknown=handle_unknown)
    preprocess = ColumnTransformer(
        [
            ("tab", tab, ["age", "sex"]),
            ("note", TextEmbedder(n_components=4, random_state=0), "note"),
            ("xray", ImageLoader(size=8, on_error=on_error), "xray_path"),
            (
                "voice",
                AudioLoader(n_mels=8, n_frames=4, on_error=on_error),
                "voice_path",
            ),
        ]
    ).set_output(transform="pandas")
    return make_pipeline(preprocess, estimator or CrossModalClassifier(**FAST))


@pytest.fixture(scope="module")
def frame(files):
    return _frame(files)


@pytest.fixture(scope="module")
def y():
    return np.array([0, 1] * 8)


@pytest.fixture(scope="module")
def fitted(frame, y):
    """The same pipeline fitted with on_error="raise" and "missing"."""
    with unchanged(frame):
        return {
            on_error: _pipeline(on_error).fit(frame, y)
            for on_error in ("raise", "missing")
        }


@pytest.mark.parametrize(
    "key", ["nowhere.png", "truncated.png", "notes.png", "folder.png", "bomb.png"]
)
def test_pipeline_bad_image_raises_or_masks_like_a_missing_image(
    files, frame, fitted, key
):
    X = frame.iloc[:3].copy()
    X.loc["p2", "xray_path"] = files[key]
    with unchanged(X), pytest.raises(ImageReadError) as info:
        fitted["raise"].predict(X)
    assert re.search(_image_error_pattern(key, files[key]), str(info.value), re.S)

    absent = X.assign(xray_path=[X["xray_path"].iloc[0], None, None])
    with unchanged(X), pytest.warns(SkfusionDataWarning, match=r"row 2 \(index"):
        proba = fitted["missing"].predict_proba(X)
    assert_allclose(proba, fitted["missing"].predict_proba(absent))


@pytest.mark.parametrize("key", ["nowhere.wav", "truncated.wav", "folder.wav"])
def test_pipeline_bad_audio_raises_or_masks_like_a_missing_recording(
    files, frame, fitted, key
):
    X = frame.iloc[:3].copy()
    X.loc["p2", "voice_path"] = files[key]
    with unchanged(X), pytest.raises(AudioReadError, match=r"'voice_path', row 2"):
        fitted["raise"].predict(X)
    absent = X.assign(voice_path=[X["voice_path"].iloc[0], None, None])
    with unchanged(X), pytest.warns(SkfusionDataWarning, match=r"row 2 \(index"):
        proba = fitted["missing"].predict_proba(X)
    assert_allclose(proba, fitted["missing"].predict_proba(absent))


def test_pipeline_predicts_a_huge_image_without_warnings(files, frame, fitted):
    X = frame.iloc[:2].assign(xray_path=[files["huge.jpg"], files["huge.png"]])
    with unchanged(X), no_warnings():
        proba = fitted["raise"].predict_proba(X)
    assert proba.shape == (2, 2) and np.isfinite(proba).all()


def test_pipeline_nan_in_numeric_column_without_imputer_names_it(frame, y):
    X = frame.copy()
    X.loc["p5", "age"] = np.nan
    model = _pipeline()
    model.steps[0][1].transformers[0] = ("tab", StandardScaler(), ["age"])
    with unchanged(X), pytest.raises(ValueError) as info:
        model.fit(X, y)
    message = str(info.value)
    assert "column 'tab__age', row 5 (index 'p5')" in message
    assert "SimpleImputer" in message


@pytest.mark.parametrize("row", [[0], [1], [3]])
def test_pipeline_predicts_one_row(frame, fitted, row):
    """Row 3 has no note and no image: every text is absent in that call."""
    X = frame.iloc[row]
    with unchanged(X):
        proba = fitted["raise"].predict_proba(X)
        label = fitted["raise"].predict(X)
    assert proba.shape == (1, 2) and label.shape == (1,)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert_allclose(proba, fitted["raise"].predict_proba(frame)[row], rtol=1e-5)


def test_pipeline_unseen_category_is_ignored_by_the_encoder(frame, fitted):
    X = frame.iloc[:4].assign(sex="unknown")
    with unchanged(X):
        features = fitted["raise"][0].transform(X)
        proba = fitted["raise"].predict_proba(X)
    one_hot = [c for c in features.columns if c.startswith("tab__cat__")]
    assert one_hot and (features[one_hot] == 0).all().all()
    assert np.isfinite(proba).all()


def test_pipeline_unseen_category_with_handle_unknown_error(frame, y):
    """scikit-learn's OneHotEncoder names the category; ours is not involved."""
    model = _pipeline(handle_unknown="error").fit(frame, y)
    X = frame.iloc[:4].assign(sex="unknown")
    with unchanged(X), pytest.raises(ValueError, match=r"unknown categories"):
        model.predict(X)


@pytest.mark.parametrize("change", ["drop", "rename"])
def test_pipeline_missing_or_renamed_column_is_named(frame, fitted, change):
    """scikit-learn's ColumnTransformer names the missing input column."""
    if change == "drop":
        X = frame.drop(columns="note")
    else:
        X = frame.rename(columns={"note": "notes"})
    with (
        unchanged(X),
        pytest.raises(ValueError, match=r"columns are missing: \{'note'\}"),
    ):
        fitted["raise"].predict(X)


def test_pipeline_one_class_is_refused(frame):
    with unchanged(frame), pytest.raises(ValueError, match=r"at least 2 classes"):
        _pipeline().fit(frame, np.zeros(len(frame)))


# -- numeric input to the estimators ---------------------------------------------------


def _numeric(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.normal(size=(n, 4)),
        columns=["lab__a", "lab__b", "vital__c", "vital__d"],
        index=[f"p{i}" for i in range(n)],
    )


Y = np.array([0, 1] * 6)
ESTIMATORS = [CrossModalClassifier, CrossModalRegressor]


@pytest.fixture(scope="module")
def fitted_estimators():
    X = _numeric()
    return {cls: cls(**FAST).fit(X, Y) for cls in ESTIMATORS}


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("container", ["frame", "numpy"])
@pytest.mark.parametrize("method", ["fit", "predict"])
def test_non_finite_cell_is_named_with_column_row_and_fix(
    fitted_estimators, cls, value, container, method
):
    X = _numeric()
    X.iloc[3, 2] = value  # column 'vital__c', row 3
    X.iloc[7, 0] = value
    where = "column 'vital__c', row 3 (index 'p3')"
    if container == "numpy":
        X = X.to_numpy()
        where = "column 2, row 3"
    if method == "fit":
        call = lambda: cls(**FAST).fit(X, Y)  # noqa: E731
    else:
        estimator = fitted_estimators[cls]
        if container == "numpy":  # fitted on a DataFrame: no name warning
            estimator = cls(**FAST).fit(_numeric().to_numpy(), Y)
        call = lambda: estimator.predict(X)  # noqa: E731
    with unchanged(X), pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert f"contains NaN or inf in {where} (2 row(s) in all)" in message
    assert "impute them first, e.g. SimpleImputer" in message


@pytest.mark.parametrize("dtype", ["Int64", "Float64"])
def test_pandas_na_in_nullable_column_is_named(dtype):
    X = _numeric().assign(lab__a=pd.array(np.arange(12), dtype=dtype))
    X.loc["p4", "lab__a"] = pd.NA
    with unchanged(X), pytest.raises(ValueError) as info:
        CrossModalRegressor(**FAST).fit(X, Y.astype(float))
    assert "column 'lab__a', row 4 (index 'p4')" in str(info.value)


@pytest.mark.parametrize(
    "value, fix",
    [
        (None, "impute missing values"),
        ("high", "Encode raw columns first"),
        ("7.5", "pd.to_numeric"),
    ],
)
def test_non_numeric_cell_in_object_column_is_named(value, fix):
    X = _numeric().astype({"lab__b": object})
    X.loc["p6", "lab__b"] = value
    with unchanged(X), pytest.raises(ModalityError) as info:
        CrossModalClassifier(**FAST).fit(X, Y)
    message = str(info.value)
    assert message.startswith("Column 'lab__b' of X has dtype object: ")
    assert f"row 6 (index 'p6') holds {value!r}, not a number" in message
    assert fix in message


def test_numbers_stored_as_objects_say_how_to_convert():
    X = _numeric().astype({"lab__b": object})
    with unchanged(X), pytest.raises(ModalityError) as info:
        CrossModalClassifier(**FAST).fit(X, Y)
    assert "holds only numbers" in str(info.value)
    assert "X.astype({'lab__b': float})" in str(info.value)


def test_non_finite_value_in_a_dict_input_is_located():
    tab = np.ones((12, 3))
    img = np.zeros((12, 1, 4, 4))
    img[5, 0, 2, 1] = np.nan
    X = {"tab": tab, "img": img}
    before = {k: v.copy() for k, v in X.items()}
    with pytest.raises(ValueError) as info:
        CrossModalClassifier(**FAST).fit(X, Y)
    message = str(info.value)
    assert "X['img'] contains NaN or inf in row 5, at position (0, 2, 1)" in message
    assert "impute them" in message
    for key, value in before.items():
        assert_array_equal(X[key], value)


# -- columns and categories at predict (bare estimator) --------------------------------


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda X: X.drop(columns="vital__d"),
            [r"seen at fit time, yet now missing:\n- vital__d"],
        ),
        (
            lambda X: X.rename(columns={"vital__d": "vital__dose"}),
            [r"unseen at fit time:\n- vital__dose", r"now missing:\n- vital__d"],
        ),
        (
            lambda X: X.rename(columns=lambda c: c.replace("vital__", "vitals__")),
            [
                r"Modalities of fit absent from X: \['vital'\]",
                r"column prefixes unseen in fit: \['vitals'\] \(renaming a "
                r"ColumnTransformer step",
            ],
        ),
        (lambda X: X[X.columns[::-1]], [r"must be in the same order"]),
        (
            lambda X: pd.get_dummies(X.assign(lab__b=["x", "y"] * 6), dtype=float),
            [r"unseen at fit time:\n- lab__b_x\n- lab__b_y"],
        ),
    ],
    ids=["missing", "renamed", "renamed_prefix", "reordered", "new_dummy_columns"],
)
def test_wrong_columns_at_predict_are_named_with_the_fix(
    fitted_estimators, change, expected
):
    X = change(_numeric())
    with unchanged(X), pytest.raises(ValueError) as info:
        fitted_estimators[CrossModalClassifier].predict(X)
    message = str(info.value)
    assert message.startswith("The feature names should match those that were")
    for pattern in expected:
        assert re.search(pattern, message), message
    assert "Fix: pass X with the 4 columns seen in fit" in message


def test_wrong_number_of_numpy_columns_says_the_fix():
    clf = CrossModalClassifier(**FAST).fit(_numeric().to_numpy(), Y)
    with pytest.raises(ValueError) as info:
        clf.predict(_numeric().to_numpy()[:, :3])
    assert "X has 3 features, but CrossModalClassifier is expecting 4" in str(
        info.value
    )
    assert "Fix: pass X with the 4 columns seen in fit" in str(info.value)


def test_new_category_value_in_a_bare_estimator_names_column_and_row(
    fitted_estimators,
):
    """One-hot columns given a raw category instead of 0/1 at predict."""
    X = _numeric()
    X["lab__b"] = X["lab__b"].astype(object)
    X.loc["p2", "lab__b"] = "green"
    with unchanged(X), pytest.raises(ModalityError) as info:
        fitted_estimators[CrossModalClassifier].predict(X)
    assert "Column 'lab__b'" in str(info.value)
    assert "row 2 (index 'p2') holds 'green'" in str(info.value)
    assert "OneHotEncoder" in str(info.value)


def test_dict_with_a_missing_or_renamed_modality_says_the_fix():
    X = {"tab": np.ones((12, 3)), "img": np.zeros((12, 1, 4, 4))}
    clf = CrossModalClassifier(**FAST).fit(X, Y)
    with pytest.raises(ModalityError) as info:
        clf.predict({"tab": X["tab"], "image": X["img"]})
    message = str(info.value)
    assert "absent: ['img'], not seen in fit: ['image']" in message
    assert "Pass one array per modality of fit, under the same keys" in message


# -- y --------------------------------------------------------------------------------


def test_one_class_is_a_clear_error():
    with pytest.raises(ValueError, match=r"needs at least 2 classes in y; got only"):
        CrossModalClassifier(**FAST).fit(_numeric(), np.zeros(12))


def test_one_row_fit():
    """Classifier: one row is one class (refused); regressor: fits."""
    X = _numeric().iloc[:1]
    with unchanged(X), pytest.raises(ValueError, match=r"at least 2 classes"):
        CrossModalClassifier(**FAST).fit(X, [1])
    with unchanged(X):
        reg = CrossModalRegressor(**FAST).fit(X, [2.5])
        pred = reg.predict(_numeric())
    assert pred.shape == (12,) and np.isfinite(pred).all()
    with pytest.raises(ValueError, match=r"train set will be empty"):
        CrossModalRegressor(early_stopping=True, **FAST).fit(X, [2.5])


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_one_row_predict(fitted_estimators, cls):
    X = _numeric()
    pred = fitted_estimators[cls].predict(X.iloc[[4]])
    assert pred.shape == (1,)
    assert_allclose(pred, fitted_estimators[cls].predict(X)[[4]], rtol=1e-5)


@pytest.mark.parametrize(
    "cls, y",
    [
        (CrossModalClassifier, pd.Series(["a", "b"] * 5 + [None, "a"])),
        (CrossModalClassifier, pd.Series(["a", "b"] * 5 + [np.nan, "a"])),
        (CrossModalRegressor, pd.Series([1.0, 2.0] * 5 + [np.nan, 1.0])),
    ],
)
def test_missing_target_names_the_row_and_the_fix(cls, y):
    y = y.set_axis(_numeric().index)
    with unchanged(y), pytest.raises(ValueError) as info:
        cls(**FAST).fit(_numeric(), y)
    message = str(info.value)
    assert "Input y contains NaN or None in row 10 (index 'p10')" in message
    assert "drop them first" in message


def test_labels_mixing_strings_and_numbers_are_refused():
    y = np.array(["sick", 0] * 6, dtype=object)
    with pytest.raises(ValueError, match=r"mixes string and non-string class labels"):
        CrossModalClassifier(**FAST).fit(_numeric(), y)


# -- plain values in messages (no NumPy 2 scalar reprs) -------------------------------

INT_INDEX = pd.Index(np.arange(80, 92), dtype="int64")  # index[5] is np.int64(85)


@pytest.mark.parametrize(
    "value, expected",
    [
        (np.nan, "contains NaN or inf in column 'lab__b', row 5 (index 85) "),
        ("high", "Column 'lab__b' of X has dtype object: row 5 (index 85) holds"),
    ],
    ids=["nan", "text"],
)
def test_an_int64_index_label_is_shown_as_a_plain_number(value, expected):
    X = _numeric().set_axis(INT_INDEX)
    assert type(X.index[5]) is np.int64
    if isinstance(value, str):
        X = X.astype({"lab__b": object})
    X.loc[85, "lab__b"] = value
    with unchanged(X), pytest.raises(ValueError) as info:
        CrossModalClassifier(**FAST).fit(X, Y)
    message = str(info.value)
    assert "(index 85)" in message
    assert expected in message
    assert "np.int64" not in message


def test_an_int64_index_label_is_plain_in_the_image_loader_warning(files):
    column = pd.Series(
        [files["ok.png"], None, files["nowhere.png"]],
        index=pd.Index([83, 84, 85], dtype="int64"),
        name="xray_path",
        dtype=object,
    )
    loader = ImageLoader(size=4, on_error="missing").fit(column)
    with pytest.warns(SkfusionDataWarning) as record:
        loader.transform(column)
    message = str(record[0].message)
    assert "row 2 (index 85)" in message
    assert "np.int64" not in message


def test_numpy_scalars_in_an_object_column_of_x_are_shown_plain():
    """A text column built from a NumPy array holds np.str_ cells."""
    X = _numeric().astype({"lab__b": object})
    X.loc["p6", "lab__b"] = np.str_("high")
    X.loc["p7", "lab__b"] = np.float64(0.5)  # a number: accepted
    with unchanged(X), pytest.raises(ModalityError) as info:
        CrossModalClassifier(**FAST).fit(X, Y)
    message = str(info.value)
    assert "row 6 (index 'p6') holds 'high', not a number" in message
    assert "np.str_" not in message


def test_numpy_scalars_in_mixed_labels_are_shown_plain():
    y = np.array(["sick", np.float64(0.0)] * 6, dtype=object)
    assert type(y[1]) is np.float64
    with pytest.raises(ValueError) as info:
        CrossModalClassifier(**FAST).fit(_numeric(), y)
    message = str(info.value)
    assert "row 0 holds 'sick' but row 1 holds 0.0." in message
    assert "np.float64" not in message


def test_a_numpy_float_in_a_path_column_is_shown_plain(files):
    column = _image_column(files, np.float64(3.5))
    loader = ImageLoader(size=4).fit(column)
    with unchanged(column), pytest.raises(ImageReadError) as info:
        loader.transform(column)
    message = str(info.value)
    assert "row 2 (index 'p2'): 3.5 (type float64) is not a path" in message
    assert "np.float64" not in message


# -- texts -----------------------------------------------------------------------------

LONG = "fever " * 170_000  # about 1 MB
TEXTS = pd.Series(
    [
        "chest pain at rest",
        None,
        np.nan,
        pd.NA,
        "",
        "  \t\n",
        LONG,
        250,
        b"dry cough",
        3.5,
        True,
    ],
    index=[f"n{i}" for i in range(11)],
    name="note",
    dtype=object,
)
TEXTS_MISSING = [0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
COERCED = {7: "250", 8: "dry cough", 9: "3.5", 10: "True"}


TEXT_KINDS = ["TextEmbedder", "TextTokenizer", "SentenceEmbedder"]


@pytest.fixture(scope="module")
def sentence_model_dir():
    """The tiny sentence model of tests/preprocessing/test_sentence.py."""
    path = Path(__file__).parent / "preprocessing" / "test_sentence.py"
    spec = importlib.util.spec_from_file_location("_skfusion_tiny_st", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # skips when sentence-transformers is absent
    return module._tiny_model_dir()


def _text_step(kind, request):
    if kind == "TextEmbedder":
        return TextEmbedder(n_components=4, random_state=0)
    if kind == "TextTokenizer":
        return TextTokenizer(max_length=6)
    return SentenceEmbedder(model=request.getfixturevalue("sentence_model_dir"))


@pytest.mark.parametrize("kind", TEXT_KINDS)
def test_absent_long_and_non_string_texts(kind, request):
    step = _text_step(kind, request)
    with unchanged(TEXTS), no_warnings():
        out = step.fit_transform(TEXTS)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert_array_equal(out[:, -1], TEXTS_MISSING)
    absent = np.flatnonzero(TEXTS_MISSING)
    neutral = 0.0  # zero embedding, or padding id 0 for the tokenizer
    assert_array_equal(out[absent, :-1], neutral)
    # Non-strings are coerced: the same output as their text.
    for i, text in COERCED.items():
        alone = step.transform(pd.Series([text], name="note"))
        assert_allclose(out[i], alone[0], atol=1e-6)
    # The 1 MB text is used whole (TF-IDF), or truncated to the first
    # max_length words (tokenizer) or to the model's window (sentence model).
    long_row = out[6, :-1]
    if kind == "TextTokenizer":
        assert_array_equal(long_row, step.vocabulary_["fever"])
    elif kind == "SentenceEmbedder":
        assert np.linalg.norm(long_row) == pytest.approx(1.0, rel=1e-5)
        expected = step.transform(pd.Series(["fever " * 200], name="note"))[0, :-1]
        assert_allclose(long_row, expected, atol=1e-5)
    else:
        assert np.linalg.norm(long_row) <= 1.0 + 1e-5


@pytest.mark.parametrize("kind", TEXT_KINDS)
def test_every_text_absent_at_transform(kind, request):
    """One row without a note at predict time (all texts of the call absent)."""
    step = _text_step(kind, request).fit(pd.Series(NOTES, name="note"))
    X = pd.Series([None, "  "], name="note", dtype=object)
    with unchanged(X):
        out = step.transform(X)
    assert_array_equal(out[:, -1], [1, 1])
    assert_array_equal(out[:, :-1], 0.0)


@pytest.mark.parametrize("kind", TEXT_KINDS[:2])
def test_fit_without_any_text_names_the_column(kind):
    X = pd.Series([None, "", np.nan], name="note", dtype=object)
    with unchanged(X), pytest.raises(ValueError) as info:
        _text_step(kind, None).fit(X)
    assert f"{kind} found no text to learn from in column(s) ['note']" in str(
        info.value
    )
    assert "Fit on rows that contain text" in str(info.value)


CORPUS = pd.Series(
    [
        "chest pain at rest",
        "fever and dry cough",
        "shortness of breath on exertion",
        "no complaint today",
    ],
    name="note",
)
maybe_text = st.one_of(
    st.none(),
    st.just(np.nan),
    st.text(max_size=40),
    st.sampled_from(["", " ", "\t\n", "\u3000", "chest pain", "FEVER!", "cough 3x"]),
)


def _expected_missing(values):
    return np.array(
        [
            v is None
            or (isinstance(v, float) and np.isnan(v))
            or (isinstance(v, str) and not v.strip())
            for v in values
        ],
        dtype=np.float32,
    )


@HYPOTHESIS
@given(values=st.lists(maybe_text, min_size=1, max_size=12))
def test_text_embedder_property(values):
    X = pd.Series(values, name="note", dtype=object)
    emb = TextEmbedder(n_components=3, random_state=0).fit(CORPUS)
    with unchanged(X):
        out = emb.transform(X)
        fitted_out = TextEmbedder(n_components=3, random_state=0).fit_transform(
            pd.concat([CORPUS, X], ignore_index=True)
        )
    missing = _expected_missing(values)
    for result in (out, fitted_out[len(CORPUS) :]):
        assert result.shape == (len(values), 4) and result.dtype == np.float32
        assert np.isfinite(result).all()
        assert_array_equal(result[:, -1], missing)
        assert_array_equal(result[missing == 1, :-1], 0.0)
        # Unit vectors, or (nearly) zero for words unseen in fit.
        norms = np.linalg.norm(result[:, :-1], axis=1)
        assert np.all((np.abs(norms - 1) < 1e-4) | (norms < 1e-5))


@HYPOTHESIS
@given(values=st.lists(maybe_text, min_size=1, max_size=12))
def test_text_tokenizer_property(values):
    X = pd.Series(values, name="note", dtype=object)
    tok = TextTokenizer(max_length=5).fit(CORPUS)
    with unchanged(X):
        out = tok.transform(X)
    missing = _expected_missing(values)
    assert out.shape == (len(values), 6) and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert_array_equal(out[:, -1], missing)
    ids = out[:, :-1]
    assert_array_equal(ids[missing == 1], TextTokenizer.PAD_ID)
    assert np.all((ids >= 0) & (ids < tok.vocab_size_) & (ids == np.round(ids)))


# -- the tabular path, with hypothesis -------------------------------------------------

cells = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def frames_with_holes(draw, min_holes=0, max_holes=None):
    n = draw(st.integers(2, 8))
    d = draw(st.integers(1, 4))
    values = draw(arrays(np.float64, (n, d), elements=cells))
    holes = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, d - 1)),
            min_size=min_holes,
            max_size=n * d if max_holes is None else max_holes,
        )
    )
    for row, col in holes:
        values[row, col] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    columns = [f"lab__x{j}" for j in range(d)]
    return pd.DataFrame(values, columns=columns, index=[f"r{i}" for i in range(n)])


@HYPOTHESIS
@given(X=frames_with_holes(), how=st.sampled_from(["all", "any"]))
def test_availability_indicator_property(X, how):
    X = X.mask(np.isinf(X))  # the indicator's "absent" is NaN
    with unchanged(X), no_warnings():
        out = AvailabilityIndicator(how=how).fit_transform(X)
    absent = X.isna().all(axis=1) if how == "all" else X.isna().any(axis=1)
    assert out.shape == (len(X), 1) and out.dtype == np.float32
    assert_array_equal(out[:, 0], absent.to_numpy(dtype=np.float32))


@HYPOTHESIS
@given(X=frames_with_holes(min_holes=1))
def test_estimator_names_the_first_non_finite_cell(X):
    bad = ~np.isfinite(X.to_numpy())
    row = int(np.flatnonzero(bad.any(axis=1))[0])
    col = X.columns[int(np.flatnonzero(bad[row])[0])]
    y = np.arange(len(X), dtype=float)
    with unchanged(X), pytest.raises(ValueError) as info:
        CrossModalRegressor(**FAST).fit(X, y)
    message = str(info.value)
    assert f"column '{col}', row {row} (index 'r{row}')" in message
    assert f"({int(bad.any(axis=1).sum())} row(s) in all)" in message
    assert "SimpleImputer" in message


@settings(max_examples=8, deadline=None)
@given(X=frames_with_holes(max_holes=0))
def test_estimator_on_finite_frames_fits_and_predicts(X):
    y = np.arange(len(X)) % 2
    y[:2] = [0, 1]
    with unchanged(X):
        clf = CrossModalClassifier(**FAST).fit(X, y)
        proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
