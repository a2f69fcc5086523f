"""DICOM reading in skfusion.preprocessing.ImageLoader.

Expected values are computed by hand from the stored values and the DICOM
formulas (rescale, PS3.3 C.11.2.1.2 windows), not with pydicom's LUT helpers.
"""

import copy
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from PIL import Image
from sklearn.compose import ColumnTransformer
from sklearn.utils._param_validation import InvalidParameterError

from skfusion.exceptions import ImageReadError, SkfusionDataWarning
from skfusion.preprocessing import ImageLoader

pydicom = pytest.importorskip("pydicom")
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
TEST_FILES = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files")

# Signed stored values; with slope 2 / intercept -1024 they become the HU below.
CT_STORED = np.array([[-100, 0, 400], [500, 520, 600], [700, 2000, -2000]], np.int16)
CT_HU = 2.0 * CT_STORED - 1024.0  # [[-1224, -1024, -224], [-24, 16, 176], ...]


def _dataset(pixels, photometric="MONOCHROME2", **attrs):
    """An uncompressed little-endian dataset holding ``pixels``.

    (H, W) or (frames, H, W) for monochrome, (H, W, 3) or (frames, H, W, 3)
    for RGB; the dtype gives Bits Allocated and Pixel Representation.
    """
    pixels = np.asarray(pixels)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    rgb = photometric == "RGB"
    shape = pixels.shape[:-1] if rgb else pixels.shape
    if len(shape) == 3:
        ds.NumberOfFrames = shape[0]
    ds.Rows, ds.Columns = shape[-2:]
    ds.SamplesPerPixel = 3 if rgb else 1
    if rgb:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = attrs.pop("BitsStored", ds.BitsAllocated)
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(pixels.dtype.kind == "i")
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    data = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    ds.PixelData = data + b"\0" * (len(data) % 2)
    return ds


def _save(ds, path, *, preamble=True):
    ds.save_as(path, enforce_file_format=preamble)
    return str(path)


def _ct(tmp_path, name="ct.dcm", **attrs):
    attrs = {"RescaleSlope": 2, "RescaleIntercept": -1024, **attrs}
    return _save(_dataset(CT_STORED, **attrs), tmp_path / name)


def _load(path, **params):
    """Native-size (no resize) grayscale image of one path, as (H, W)."""
    shape = params.pop("shape")
    out = ImageLoader(size=shape, **params).fit_transform([path])
    assert out.dtype == np.float32
    assert out[0, -1] == 0.0
    return out[0, :-1].reshape(shape)


def _linear(values, center, width):
    """DICOM PS3.3 C.11.2.1.2.1 LINEAR window to [0, 1], written out."""
    low = center - 0.5 - (width - 1) / 2
    return np.clip((values - low) / (width - 1), 0.0, 1.0)


# -- pixel pipeline --------------------------------------------------------


def test_rescale_on_signed_16_bit_with_explicit_window(tmp_path):
    path = _ct(tmp_path)
    image = _load(path, shape=(3, 3), window=(40, 400))
    # window (40, 400): low = 40 - 0.5 - 199.5 = -160, width - 1 = 399
    expected = np.clip((CT_HU + 160) / 399, 0, 1)
    assert_allclose(image, expected, rtol=1e-6, atol=1e-7)
    assert image[1, 0] == pytest.approx(136 / 399)  # stored 500 -> -24 HU
    assert image[1, 2] == pytest.approx(336 / 399)  # stored 600 -> 176 HU
    assert image[0, 0] == 0.0 and image[2, 1] == 1.0  # clipped at both ends


def test_file_window_is_used_and_parameter_overrides_it(tmp_path):
    path = _ct(tmp_path, WindowCenter=40, WindowWidth=400)
    from_file = _load(path, shape=(3, 3))
    assert_allclose(from_file, np.clip((CT_HU + 160) / 399, 0, 1), atol=1e-6)

    overridden = _load(path, shape=(3, 3), window=(0, 2001))
    # low = 0 - 0.5 - 1000 = -1000.5, width - 1 = 2000
    assert_allclose(overridden, np.clip((CT_HU + 1000.5) / 2000, 0, 1), atol=1e-6)
    assert_allclose(overridden, _linear(CT_HU, 0, 2001), atol=1e-6)


def test_first_of_several_file_windows_is_used(tmp_path):
    path = _ct(tmp_path, WindowCenter=[40, 300], WindowWidth=[400, 1500])
    image = _load(path, shape=(3, 3))
    assert_allclose(image, _linear(CT_HU, 40, 400), atol=1e-6)


def test_no_window_maps_min_max_to_unit_range(tmp_path):
    path = _ct(tmp_path)
    image = _load(path, shape=(3, 3))
    # HU range is -5024 (stored -2000) .. 2976 (stored 2000): span 8000
    assert_allclose(image, (CT_HU + 5024) / 8000, atol=1e-6)
    assert image[2, 2] == 0.0 and image[2, 1] == 1.0


def test_constant_image_without_window_is_zero(tmp_path):
    path = _save(_dataset(np.full((4, 4), 300, np.uint16)), tmp_path / "flat.dcm")
    assert_array_equal(_load(path, shape=(4, 4)), 0.0)


@pytest.mark.parametrize(
    "function, formula",
    [
        ("LINEAR_EXACT", lambda x, c, w: np.clip((x - c) / w + 0.5, 0, 1)),
        ("SIGMOID", lambda x, c, w: 1 / (1 + np.exp(-4 * (x - c) / w))),
    ],
)
def test_voi_lut_function_of_the_file(tmp_path, function, formula):
    path = _ct(tmp_path, WindowCenter=40, WindowWidth=400, VOILUTFunction=function)
    image = _load(path, shape=(3, 3))
    assert_allclose(image, formula(CT_HU, 40.0, 400.0), atol=1e-6)


def test_narrow_window_is_a_threshold(tmp_path):
    path = _ct(tmp_path)
    image = _load(path, shape=(3, 3), window=(16, 0.5))
    # width <= 1: y = 1 where x > c - 0.5 - (w - 1) / 2 = 15.75
    assert_array_equal(image, (CT_HU > 15.75).astype(np.float32))


@pytest.mark.parametrize("vr", ["US", "OW"])
def test_voi_lut_sequence_is_used_and_scaled_by_its_bit_depth(tmp_path, vr):
    item = Dataset()
    # 4 entries, first mapped value 10, 8 bits per entry
    item.add_new("LUTDescriptor", "US", [4, 10, 8])
    table = [0, 100, 200, 255]
    data = table if vr == "US" else np.asarray(table, "<u2").tobytes()
    item.add_new("LUTData", vr, data)
    stored = np.array([[0, 10], [11, 12], [13, 200]], np.uint16)
    path = _save(_dataset(stored, VOILUTSequence=Sequence([item])), tmp_path / "v.dcm")
    image = _load(path, shape=(3, 2))
    expected = np.array([[0, 0], [100, 200], [255, 255]]) / 255
    assert_allclose(image, expected, atol=1e-6)


def test_modality_lut_sequence_before_the_window(tmp_path):
    item = Dataset()
    item.add_new("LUTDescriptor", "US", [3, 0, 16])
    item.add_new("LUTData", "US", [100, 200, 400])
    item.ModalityLUTType = "HU"
    stored = np.array([[0, 1], [2, 5]], np.uint16)
    ds = _dataset(stored, ModalityLUTSequence=Sequence([item]))
    path = _save(ds, tmp_path / "m.dcm")
    # modality values [[100, 200], [400, 400]]; window low 100, width - 1 = 300
    image = _load(path, shape=(2, 2), window=(250.5, 301))
    assert_allclose(image, [[0, 1 / 3], [1, 1]], atol=1e-6)


def test_monochrome1_is_inverted_after_windowing(tmp_path):
    stored = np.array([[0, 50], [100, 200]], np.uint8)
    path = _save(_dataset(stored, "MONOCHROME1"), tmp_path / "m1.dcm")
    assert_allclose(_load(path, shape=(2, 2)), [[1, 0.75], [0.5, 0]], atol=1e-6)
    # window (100.5, 201): low = 100.5 - 0.5 - 100 = 0, width - 1 = 200
    windowed = _load(path, shape=(2, 2), window=(100.5, 201))
    assert_allclose(windowed, [[1, 0.75], [0.5, 0]], atol=1e-6)
    # window (50.5, 101): low 0, width - 1 = 100, clipped at 1 -> inverted 0
    windowed = _load(path, shape=(2, 2), window=(50.5, 101))
    assert_allclose(windowed, [[1, 0.5], [0, 0]], atol=1e-6)


# -- multi-frame -----------------------------------------------------------

FRAMES = np.array(
    [[[0, 10], [20, 30]], [[40, 50], [60, 70]], [[80, 90], [100, 5]]], np.uint16
)
# window (50.5, 101): low = 50.5 - 0.5 - 50 = 0 and width - 1 = 100 -> x / 100


@pytest.mark.parametrize(
    "frame, expected",
    [
        (0, FRAMES[0] / 100),
        (1, FRAMES[1] / 100),
        (-1, FRAMES[2] / 100),
        (-3, FRAMES[0] / 100),
        ("middle", FRAMES[1] / 100),
        ("mean", FRAMES.mean(axis=0) / 100),
        ("max", FRAMES.max(axis=0) / 100),
    ],
)
def test_frame_selection_and_reduction(tmp_path, frame, expected):
    path = _save(_dataset(FRAMES), tmp_path / "cine.dcm")
    image = _load(path, shape=(2, 2), frame=frame, window=(50.5, 101))
    assert_allclose(image, expected, atol=1e-6)


def test_reduction_is_on_modality_values_before_min_max(tmp_path):
    ds = _dataset(FRAMES, RescaleSlope=-1, RescaleIntercept=0)
    path = _save(ds, tmp_path / "cine.dcm")
    # max of the negated frames is -min of the stored frames
    reduced = -FRAMES.min(axis=0).astype(float)  # [[0, -10], [-20, -5]]
    expected = (reduced - reduced.min()) / (reduced.max() - reduced.min())
    assert_allclose(_load(path, shape=(2, 2), frame="max"), expected, atol=1e-6)
    mean = -FRAMES.mean(axis=0)
    expected = (mean - mean.min()) / (mean.max() - mean.min())
    assert_allclose(_load(path, shape=(2, 2), frame="mean"), expected, atol=1e-6)


@pytest.mark.parametrize("frame", [3, -4, 100])
def test_out_of_range_frame_is_a_read_error(tmp_path, frame):
    path = _save(_dataset(FRAMES), tmp_path / "cine.dcm")
    loader = ImageLoader(size=2, frame=frame).fit([path])
    with pytest.raises(ImageReadError, match=rf"has 3 frames, so frame={frame}"):
        loader.transform([path])
    loader.set_params(on_error="missing")
    with pytest.warns(SkfusionDataWarning, match="has 3 frames"):
        out = loader.transform([path])
    assert_array_equal(out, [[0, 0, 0, 0, 1]])


def test_frame_is_ignored_for_single_frame_files(tmp_path):
    path = _ct(tmp_path)
    for frame in (0, 5, -7, "middle", "mean", "max"):
        image = _load(path, shape=(3, 3), frame=frame, window=(40, 400))
        assert_allclose(image, _linear(CT_HU, 40, 400), atol=1e-6)


# -- colour, resizing ------------------------------------------------------

RGB = np.array(
    [[[10, 128, 250], [0, 0, 0]], [[255, 255, 255], [200, 30, 60]]], np.uint8
)


def test_rgb_dicom_is_scaled_by_bit_depth(tmp_path):
    path = _save(_dataset(RGB, "RGB"), tmp_path / "rgb.dcm")
    out = ImageLoader(size=2, color="rgb").fit_transform([path])
    assert_allclose(out[0, :-1].reshape(3, 2, 2), np.moveaxis(RGB, -1, 0) / 255)

    gray = _load(path, shape=(2, 2))
    r, g, b = np.moveaxis(RGB.astype(float), -1, 0)
    luma = (299 * r + 587 * g + 114 * b) / 1000
    assert_allclose(gray, luma / 255, atol=1e-6)


def test_rgb_dicom_with_12_bits_stored(tmp_path):
    rgb12 = np.array([[[4095, 0, 1000]]], np.uint16)
    path = _save(_dataset(rgb12, "RGB", BitsStored=12), tmp_path / "rgb12.dcm")
    out = ImageLoader(size=1, color="rgb", window=(0, 1)).fit_transform([path])
    assert_allclose(out[0, :-1], [1.0, 0.0, 1000 / 4095], atol=1e-6)


def test_monochrome_to_rgb_and_resize_keep_uniform_values(tmp_path):
    stored = np.full((12, 10), 30, np.uint16)
    path = _save(_dataset(stored), tmp_path / "u.dcm")
    out = ImageLoader(size=(4, 5), color="rgb", window=(50.5, 101)).fit_transform(
        [path]
    )
    assert out.shape == (1, 3 * 4 * 5 + 1)
    assert_allclose(out[0, :-1], 0.3, atol=1e-6)


def test_resize_is_bilinear_in_float_and_in_unit_range(tmp_path):
    stored = np.zeros((8, 8), np.uint16)
    stored[:, 4:] = 1000
    path = _save(_dataset(stored), tmp_path / "half.dcm")
    image = _load(path, shape=(4, 4))
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert_allclose(image[:, 0], 0.0)
    assert_allclose(image[:, -1], 1.0)
    assert_allclose(image[0], image[-1])  # same along rows


# -- detection -------------------------------------------------------------


def test_dcm_without_preamble_is_read(tmp_path):
    path = _save(_dataset(CT_STORED), tmp_path / "raw.dcm", preamble=False)
    with open(path, "rb") as f:
        assert f.read(132)[128:] != b"DICM"
    assert_allclose(
        _load(path, shape=(3, 3), window=(0, 2001)),
        _linear(CT_STORED, 0, 2001),
        atol=1e-6,
    )


def test_dcm_without_file_meta_is_read(tmp_path):
    ds = _dataset(CT_STORED)
    del ds.file_meta
    path = str(tmp_path / "old.dicom")
    ds.save_as(path, enforce_file_format=False, implicit_vr=True, little_endian=True)
    image = _load(path, shape=(3, 3), window=(0, 2001))
    assert_allclose(image, _linear(CT_STORED, 0, 2001), atol=1e-6)


def test_dicom_is_detected_by_content_whatever_the_name(tmp_path):
    path = _save(_dataset(CT_STORED), tmp_path / "scan_without_suffix")
    image = _load(path, shape=(3, 3), window=(0, 2001))
    assert_allclose(image, _linear(CT_STORED, 0, 2001), atol=1e-6)


# -- unreadable DICOM ------------------------------------------------------


def _sr(tmp_path):
    """A DICOM without pixel data (a structured report)."""
    ds = _dataset(np.zeros((2, 2), np.uint8))
    for keyword in ("PixelData", "Rows", "Columns", "BitsAllocated", "BitsStored"):
        delattr(ds, keyword)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    ds.Modality = "SR"
    return _save(ds, tmp_path / "report.dcm")


def test_dicom_without_pixel_data_raises_with_column_row_and_path(tmp_path):
    good = _ct(tmp_path)
    report = _sr(tmp_path)
    paths = pd.Series([good, report], index=["a", "b"], name="ct_path")
    loader = ImageLoader(size=3).fit(paths)
    with pytest.raises(ImageReadError) as info:
        loader.transform(paths)
    message = str(info.value)
    assert "'ct_path'" in message
    assert "row 1 (index 'b')" in message
    assert report in message
    assert "has no pixel data" in message
    assert "on_error='missing'" in message


def test_dicom_without_pixel_data_is_masked_with_on_error_missing(tmp_path):
    paths = [_ct(tmp_path), _sr(tmp_path)]
    loader = ImageLoader(size=3, on_error="missing", window=(40, 400)).fit(paths)
    with pytest.warns(SkfusionDataWarning, match=r"1 unreadable.*row 1.*no pixel"):
        out = loader.transform(paths)
    assert_array_equal(out[:, -1], [0, 1])
    assert_array_equal(out[1, :-1], 0.0)
    assert_allclose(out[0, :-1], _linear(CT_HU, 40, 400).ravel(), atol=1e-6)


@pytest.mark.parametrize("keep", [-10, -40, 150, 60])
def test_truncated_dicom_is_a_read_error(tmp_path, keep):
    path = _ct(tmp_path)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:keep])
    loader = ImageLoader(size=3).fit([path])
    with pytest.raises(ImageReadError, match="row 0") as info:
        loader.transform([path])
    assert path in str(info.value)
    if keep != 60:  # 60 bytes: not even the 'DICM' magic is left
        assert "truncated" in str(info.value)
    with pytest.warns(SkfusionDataWarning):
        out = loader.set_params(on_error="missing").transform([path])
    assert_array_equal(out, np.r_[np.zeros(9), 1.0][None])


def test_garbage_with_dcm_suffix_is_a_read_error(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("definitely not DICOM")
    with pytest.raises(ImageReadError, match=r"notes\.dcm"):
        ImageLoader(size=3).fit_transform([str(path)])


def test_missing_decoder_plugin_is_a_read_error():
    path = os.path.join(TEST_FILES, "JPEGLSNearLossless_08.dcm")
    if not os.path.exists(path):
        pytest.skip("pydicom test file not shipped")
    try:
        pydicom.dcmread(path).pixel_array  # noqa: B018
    except Exception:
        pass
    else:
        pytest.skip("a JPEG-LS decoder plugin is installed")
    with pytest.raises(ImageReadError, match="decoder plugin"):
        ImageLoader(size=3).fit_transform([path])


def test_missing_pydicom_names_the_extra(tmp_path, monkeypatch):
    path = _ct(tmp_path)
    png = str(tmp_path / "ok.png")
    Image.new("L", (3, 3), 255).save(png)
    monkeypatch.setitem(sys.modules, "pydicom", None)
    loader = ImageLoader(size=3, on_error="missing").fit([path])
    with pytest.raises(ImportError, match=r'pip install "skfusion\[dicom\]"'):
        loader.transform([png, path])
    assert_allclose(loader.transform([png])[0, :-1], 1.0)  # Pillow still works


def test_pydicom_is_not_imported_until_a_dicom_is_met():
    code = "import sys, skfusion.preprocessing; sys.exit('pydicom' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- parameters ------------------------------------------------------------


@pytest.mark.parametrize(
    "params, name",
    [
        ({"window": (40, 0)}, "window"),
        ({"window": (40, -5)}, "window"),
        ({"window": (40,)}, "window"),
        ({"window": (float("nan"), 400)}, "window"),
        ({"window": ("40", 400)}, "window"),
        ({"window": [40, 400]}, "window"),
        ({"frame": "first"}, "frame"),
        ({"frame": 1.5}, "frame"),
        ({"frame": True}, "frame"),
    ],
)
def test_bad_dicom_parameters_name_the_parameter(params, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        ImageLoader(**params).fit(["a.dcm"])


def test_window_message_says_width_must_be_positive():
    with pytest.raises(InvalidParameterError, match="width > 0"):
        ImageLoader(window=(40, 0)).fit(["a.dcm"])


def test_new_parameters_are_stored_as_given():
    loader = ImageLoader(frame="mean", window=(40, 400))
    assert loader.get_params()["frame"] == "mean"
    assert loader.get_params()["window"] == (40, 400)
    assert ImageLoader().get_params()["frame"] == 0
    assert ImageLoader().get_params()["window"] is None


# -- in a ColumnTransformer ------------------------------------------------


def test_column_transformer_mixing_dicom_png_and_missing(tmp_path):
    stored = np.arange(64, dtype=np.int16).reshape(8, 8) * 10  # 0 .. 630
    dicom = _save(
        _dataset(stored, WindowCenter=316, WindowWidth=631), tmp_path / "a.dcm"
    )
    png = str(tmp_path / "b.png")
    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(png)
    df = pd.DataFrame(
        {"ct_path": [dicom, png, None], "age": [50, 60, 70]}, index=["p1", "p2", "p3"]
    )
    before = copy.deepcopy(df)
    ct = ColumnTransformer([("ct", ImageLoader(size=8), "ct_path")]).set_output(
        transform="pandas"
    )

    out = ct.fit_transform(df)

    assert out.columns[0] == "ct__pixel_0_0_0"
    assert out.columns[-2] == "ct__pixel_0_7_7"
    assert out.columns[-1] == "ct__missing"
    assert out.shape == (3, 65)
    assert out.index.tolist() == ["p1", "p2", "p3"]
    assert out["ct__missing"].tolist() == [0.0, 0.0, 1.0]
    # window (316, 631): low = 316 - 0.5 - 315 = 0.5, width - 1 = 630
    expected = np.clip((stored - 0.5) / 630, 0, 1).ravel()
    assert_allclose(out.iloc[0, :-1], expected, atol=1e-6)
    assert_allclose(out.iloc[1, :-1], 128 / 255, rtol=1e-6)
    assert_array_equal(out.iloc[2, :-1], 0.0)
    assert_frame_equal(df, before)


# -- real files shipped with pydicom ---------------------------------------


def _shipped(name):
    path = os.path.join(TEST_FILES, name)
    if not os.path.exists(path):  # never download (get_testdata_file would)
        pytest.skip(f"{name} is not shipped with this pydicom")
    return path


def test_real_ct_small_equals_hand_computation():
    path = _shipped("CT_small.dcm")
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array.astype(np.float64)
    hu = stored * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    if "WindowCenter" in ds:
        expected = _linear(hu, float(ds.WindowCenter), float(ds.WindowWidth))
    else:  # CT_small.dcm has no window: min-max
        expected = (hu - hu.min()) / (hu.max() - hu.min())
    image = _load(path, shape=(int(ds.Rows), int(ds.Columns)))
    assert image.shape == (128, 128)
    assert_allclose(image, expected, atol=1e-6)


def test_real_mr_small_uses_its_window():
    path = _shipped("MR_small.dcm")
    ds = pydicom.dcmread(path)
    assert float(ds.WindowCenter) == 600 and float(ds.WindowWidth) == 1600
    # low = 600 - 0.5 - 799.5 = -200, width - 1 = 1599; no rescale
    expected = np.clip((ds.pixel_array + 200.0) / 1599, 0, 1)
    image = _load(path, shape=(64, 64))
    assert_allclose(image, expected, atol=1e-6)
    small = ImageLoader(size=16, color="rgb").fit_transform([path])
    assert small.shape == (1, 3 * 16 * 16 + 1)
    assert 0.0 <= small.min() and small.max() <= 1.0


def test_real_multiframe_rgb_rle():
    path = _shipped("SC_rgb_rle_2frame.dcm")
    frames = pydicom.dcmread(path).pixel_array  # (2, 100, 100, 3) uint8
    out = ImageLoader(size=100, color="rgb", frame=-1).fit_transform([path])
    assert_allclose(
        out[0, :-1].reshape(3, 100, 100), np.moveaxis(frames[1], -1, 0) / 255
    )
    out = ImageLoader(size=10, color="rgb", frame="max").fit_transform([path])
    assert out.shape == (1, 301)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_real_multiframe_dose():
    path = _shipped("rtdose.dcm")  # 15 frames of 10 x 10 uint32, no window
    stored = pydicom.dcmread(path).pixel_array.astype(np.float64)
    image = _load(path, shape=(10, 10), frame="middle")
    middle = stored[7]
    assert_allclose(image, (middle - middle.min()) / np.ptp(middle), atol=1e-6)
    for frame in ("mean", "max", 14):
        out = ImageLoader(size=4, frame=frame).fit_transform([path])
        assert out.shape == (1, 17)
        assert 0.0 <= out.min() and out.max() <= 1.0
