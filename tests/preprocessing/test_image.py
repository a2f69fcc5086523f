"""Tests for skfusion.preprocessing.ImageLoader."""

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from PIL import Image
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skfusion.exceptions import ImageReadError, SkfusionDataWarning
from skfusion.preprocessing import ImageLoader


def _save(path, array, mode=None, **kwargs):
    Image.fromarray(array, mode=mode).save(path, **kwargs)
    return str(path)


def _uniform(tmp_path, name, value, shape=(9, 13), dtype=np.uint8, **kwargs):
    return _save(tmp_path / name, np.full(shape, value, dtype=dtype), **kwargs)


@pytest.mark.parametrize("source_shape", [(9, 13), (120, 31), (2, 2)])
@pytest.mark.parametrize("color, channels", [("grayscale", 1), ("rgb", 3)])
def test_uniform_gray_png_gives_exact_values(tmp_path, source_shape, color, channels):
    path = _uniform(tmp_path, "gray.png", 128, shape=source_shape)
    loader = ImageLoader(size=(5, 7), color=color)
    out = loader.fit_transform([path])

    assert out.shape == (1, channels * 5 * 7 + 1)
    assert out.dtype == np.float32
    assert loader.image_shape_ == (channels, 5, 7)
    assert_allclose(out[0, :-1], 128 / 255, rtol=1e-6)
    assert out[0, -1] == 0.0


def test_rgb_png_keeps_channels_and_converts_to_luma(tmp_path):
    rgb = np.zeros((6, 4, 3), dtype=np.uint8)
    rgb[...] = (10, 128, 250)
    path = _save(tmp_path / "rgb.png", rgb)

    out_rgb = ImageLoader(size=3, color="rgb").fit_transform([path])
    channels = out_rgb[0, :-1].reshape(3, 3, 3)
    for c, value in enumerate((10, 128, 250)):
        assert_allclose(channels[c], value / 255, rtol=1e-6)

    luma = Image.new("RGB", (1, 1), (10, 128, 250)).convert("L").getpixel((0, 0))
    out_gray = ImageLoader(size=3).fit_transform([path])
    assert_allclose(out_gray[0, :-1], luma / 255, rtol=1e-6)


def test_jpeg_is_read_close_to_its_value(tmp_path):
    path = _uniform(tmp_path, "photo.jpg", 200, shape=(64, 48), quality=95)
    out = ImageLoader(size=16).fit_transform([path])
    assert_allclose(out[0, :-1], 200 / 255, atol=2 / 255)


@pytest.mark.parametrize("value", [65535, 32768, 0])
def test_16_bit_png_is_scaled_by_65535(tmp_path, value):
    path = _uniform(tmp_path, "deep.png", value, dtype=np.uint16)
    with Image.open(path) as image:
        assert image.mode == "I;16"
    out = ImageLoader(size=4, color="rgb").fit_transform([path])
    assert_allclose(out[0, :-1], value / 65535, rtol=1e-6)


def test_float_tiff_is_clipped_to_unit_range(tmp_path):
    array = np.full((5, 5), 0.25, dtype=np.float32)
    array[:, 3:] = 2.0
    path = _save(tmp_path / "float.tiff", array)
    image = ImageLoader(size=5).fit_transform([path])[0, :-1].reshape(5, 5)
    assert_allclose(image[:, :3], 0.25)
    assert_allclose(image[:, 3:], 1.0)


@pytest.mark.parametrize(
    "mode, suffix",
    [("RGBA", "png"), ("P", "png"), ("1", "png"), ("LA", "png"), ("RGB", "bmp")],
)
def test_other_modes_and_formats_load_in_unit_range(tmp_path, mode, suffix):
    path = str(tmp_path / f"image.{suffix}")
    Image.new("RGB", (17, 11), (255, 255, 255)).convert(mode).save(path)
    out = ImageLoader(size=(4, 6), color="rgb").fit_transform([path])
    assert out.shape == (1, 3 * 4 * 6 + 1)
    assert_allclose(out[0, :-1], 1.0, rtol=1e-6)


def test_names_follow_c_order_and_rows_reshape_to_images(tmp_path):
    height, width = 8, 12
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[:4, 6:, 0] = 255  # bright red top-right quadrant
    path = _save(tmp_path / "quadrant.png", rgb)
    loader = ImageLoader(size=(height, width), color="rgb")
    out = loader.fit_transform([path])
    names = loader.get_feature_names_out()

    assert len(names) == 3 * height * width + 1
    assert names[-1] == "missing"
    assert names[1 * height * width + 2 * width + 5] == "pixel_1_2_5"
    assert names[-2] == f"pixel_2_{height - 1}_{width - 1}"
    image = out[0, :-1].reshape(3, height, width)
    assert_array_equal(image[0, :4, 6:], 1.0)
    assert_array_equal(image[0, 4:, :], 0.0)
    assert_array_equal(image[0, :, :6], 0.0)
    assert_array_equal(image[1:], 0.0)


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((2, 4), dtype=np.uint8)
    array[:, :2] = 255  # left half bright
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    path = _save(tmp_path / "rotated.png", array, exif=exif)
    image = ImageLoader(size=(4, 2)).fit_transform([path])[0, :-1].reshape(4, 2)
    assert_array_equal(image[:2], 1.0)
    assert_array_equal(image[2:], 0.0)


def test_missing_paths_give_zero_images_and_flag(tmp_path):
    path = _uniform(tmp_path, "white.png", 255)
    paths = pd.Series([path, None, np.nan, pd.NA, ""], dtype=object, name="xray")
    out = ImageLoader(size=3).fit_transform(paths)

    assert_array_equal(out[:, -1], [0, 1, 1, 1, 1])
    assert_allclose(out[0, :-1], 1.0)
    assert_array_equal(out[1:, :-1], 0.0)


@pytest.mark.parametrize("kind", ["nonexistent", "directory", "not_an_image"])
def test_unreadable_paths_raise_with_row_and_path(tmp_path, kind):
    good = _uniform(tmp_path, "ok.png", 10)
    bad = {
        "nonexistent": tmp_path / "nope.png",
        "directory": tmp_path,
        "not_an_image": tmp_path / "notes.png",
    }[kind]
    (tmp_path / "notes.png").write_text("this is not a PNG")
    paths = pd.Series([good, str(bad)], index=["a", "b"], name="xray_path")
    loader = ImageLoader(size=3).fit(paths)

    with pytest.raises(ImageReadError) as info:
        loader.transform(paths)
    message = str(info.value)
    assert "row 1 (index 'b')" in message
    assert str(bad) in message
    assert "'xray_path'" in message
    assert "on_error='missing'" in message


def test_on_error_missing_masks_the_row_and_warns(tmp_path):
    good = _uniform(tmp_path, "ok.png", 255)
    paths = [good, str(tmp_path / "gone.png"), None, str(tmp_path / "gone2.jpg")]
    loader = ImageLoader(size=2, on_error="missing").fit(paths)

    with pytest.warns(SkfusionDataWarning, match=r"2 unreadable.*row 1, row 3"):
        out = loader.transform(paths)
    assert_array_equal(out[:, -1], [0, 1, 1, 1])
    assert_allclose(out[0, :-1], 1.0)
    assert_array_equal(out[1:, :-1], 0.0)


def test_root_is_prepended_to_relative_paths_only(tmp_path):
    (tmp_path / "scans").mkdir()
    _uniform(tmp_path / "scans", "a.png", 255)
    absolute = _uniform(tmp_path, "b.png", 0)
    loader = ImageLoader(size=2, root=tmp_path / "scans")
    out = loader.fit_transform(["a.png", absolute, Path("a.png")])
    assert_allclose(out[:, :-1].mean(axis=1), [1.0, 0.0, 1.0])


def test_fit_does_not_read_images():
    loader = ImageLoader(size=(3, 5), color="rgb").fit(["does/not/exist.png"])
    assert loader.image_shape_ == (3, 3, 5)
    assert loader.n_features_in_ == 1


def test_two_columns_are_rejected():
    df = pd.DataFrame({"xray": ["a.png"], "ct": ["b.png"]})
    with pytest.raises(
        ValueError, match=r"one column of image paths.*ColumnTransformer"
    ):
        ImageLoader().fit(df)


def test_column_transformer_with_pandas_output(tmp_path):
    paths = [_uniform(tmp_path, f"{i}.png", 50 * i) for i in range(3)]
    df = pd.DataFrame(
        {"xray_path": [*paths, None], "age": [1, 2, 3, 4]}, index=list("wxyz")
    )
    before = copy.deepcopy(df)
    ct = ColumnTransformer(
        [("xray", ImageLoader(size=(2, 3)), "xray_path")]
    ).set_output(transform="pandas")

    out = ct.fit_transform(df)

    assert out.columns[0] == "xray__pixel_0_0_0"
    assert out.columns[5] == "xray__pixel_0_1_2"
    assert out.columns[-1] == "xray__missing"
    assert out.shape == (4, 7)
    assert out.index.tolist() == list("wxyz")
    assert out["xray__missing"].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert_allclose(out["xray__pixel_0_1_1"], [0, 50 / 255, 100 / 255, 0], rtol=1e-6)
    assert_frame_equal(df, before)


def test_add_indicator_false_drops_the_column(tmp_path):
    path = _uniform(tmp_path, "a.png", 255)
    loader = ImageLoader(size=2, add_indicator=False)
    out = loader.fit_transform(np.array([[path]], dtype=object))
    assert out.shape == (1, 4)
    assert loader.get_feature_names_out()[-1] == "pixel_0_1_1"


@pytest.mark.parametrize(
    "params, name",
    [
        ({"size": 0}, "size"),
        ({"size": (3, 0)}, "size"),
        ({"size": (3, 4, 5)}, "size"),
        ({"color": "cmyk"}, "color"),
        ({"on_error": "ignore"}, "on_error"),
        ({"root": 3}, "root"),
    ],
)
def test_bad_parameters_name_the_parameter(params, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        ImageLoader(**params).fit(["a.png"])


def test_not_fitted_errors():
    with pytest.raises(NotFittedError):
        ImageLoader().transform(["a.png"])
    with pytest.raises(NotFittedError):
        ImageLoader().get_feature_names_out()


def test_clone_keeps_parameters():
    loader = ImageLoader(size=(32, 48), color="rgb", on_error="missing")
    assert clone(loader).get_params() == loader.get_params()
