"""DICOM decoding for ImageLoader; pydicom (the ``dicom`` extra) is imported lazily.

The pipeline follows the DICOM grayscale pipeline (PS3.4 N.2.1): stored
values -> Modality LUT (Rescale Slope/Intercept or a Modality LUT Sequence)
-> optional reduction over frames -> VOI (a window or a VOI LUT) mapped to
[0, 1] -> MONOCHROME1 inversion. Colour images (RGB, YBR converted to RGB by
pydicom, PALETTE COLOR through its palette) are scaled by their bit depth.
Everything is float32. The encoded pixel data is read once, but only the
frames needed are decoded, one at a time: with ``frame="mean"``/``"max"``
the memory is one decoded frame plus one float32 accumulator.
"""

import importlib
import os
import re

import numpy as np
from PIL import Image

__all__ = ["DicomReadError", "fit_into", "read_dicom", "sniff_dicom"]

_SUFFIXES = (".dcm", ".dicom")
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, as PIL "L"
_MAX_DETAIL = 300


class DicomReadError(Exception):
    """Why one DICOM file could not be read (the message follows the path)."""


def sniff_dicom(path):
    """How ``path`` is recognised as DICOM, from its first 132 bytes and name.

    ``"header"``: the 128-byte preamble and ``DICM`` magic; ``"suffix"``: a
    .dcm/.dicom name without that header (read with ``force=True``); None:
    not DICOM, left to Pillow.
    """
    with open(path, "rb") as f:
        head = f.read(132)
    if len(head) == 132 and head[128:] == b"DICM":
        return "header"
    if os.path.splitext(path)[1].lower() in _SUFFIXES:
        return "suffix"
    return None


def read_dicom(path, *, from_header, frame, window):
    """Decode ``path`` to float32 ``(H, W)`` or ``(H, W, 3)`` in [0, 1].

    Raises DicomReadError for any unreadable file (never a bare pydicom or
    NumPy error), ImportError when pydicom is not installed.
    """
    pydicom = _import_pydicom(path)
    try:
        # Large values (the pixel data) are read from the file only when used.
        ds = pydicom.dcmread(path, force=not from_header, defer_size="64 KB")
    except MemoryError:
        raise
    except Exception as e:
        raise DicomReadError(f"is not a readable DICOM file ({_detail(e)})") from e
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        raise DicomReadError(_no_pixels_message(ds, from_header))
    try:
        n_frames = max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError) as e:
        raise DicomReadError(f"has an invalid NumberOfFrames ({_detail(e)})") from e
    indices, reduce = _frame_plan(frame, n_frames)
    try:
        return _pipeline(ds, indices, reduce, window)
    except MemoryError:
        raise
    except Exception as e:
        raise DicomReadError(_decode_failure_message(ds, e)) from e


def fit_into(image, view):
    """Write a float image ((H, W) or (H, W, 3), in [0, 1]) into ``view``.

    ``view`` is a (C, H', W') float32 array: RGB becomes luma for C=1, one
    channel is repeated for C=3; each plane is resized bilinearly as a PIL
    "F" image and the result clipped to [0, 1].
    """
    channels, height, width = view.shape
    if image.ndim == 3 and channels == 1:
        image = image @ _LUMA
    planes = [image] if image.ndim == 2 else [image[..., c] for c in range(3)]
    for c, plane in enumerate(planes):
        if plane.shape != (height, width):
            plane = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32))
            plane = np.asarray(plane.resize((width, height), Image.Resampling.BILINEAR))
        if len(planes) == 1:
            view[:] = plane  # broadcast: one channel repeated for RGB
        else:
            view[c] = plane
    np.clip(view, 0.0, 1.0, out=view)
    np.nan_to_num(view, copy=False, nan=0.0)


# -- internals -----------------------------------------------------------


def _import_pydicom(path):
    try:
        pydicom = importlib.import_module("pydicom")
    except ImportError as e:
        raise ImportError(
            f"ImageLoader met the DICOM file {path!r}, but reading DICOM needs "
            "the optional dependency pydicom, which is not installed. Install "
            'it with: pip install "skfusion[dicom]"'
        ) from e
    return pydicom


def _frame_plan(frame, n_frames):
    """(indices to decode, reduction or None); ``frame`` only for multi-frame."""
    if n_frames == 1:
        return [0], None
    if frame == "middle":
        return [n_frames // 2], None
    if frame in ("mean", "max"):
        return None, frame  # all frames, one at a time
    if not -n_frames <= frame < n_frames:
        raise DicomReadError(
            f"has {n_frames} frames, so frame={frame} is out of range (use an "
            f"int from {-n_frames} to {n_frames - 1}, or 'middle', 'mean', 'max')"
        )
    return [frame % n_frames], None


def _pipeline(ds, indices, reduce, window):
    meta = getattr(ds, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta:
        _set_transfer_syntax(ds)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples > 1:  # RGB; pydicom has converted YBR to RGB
        kind, to_float = "rgb", _rgb_to_float
    elif photometric == "PALETTE COLOR":
        kind, to_float = "palette", _palette_to_float
    else:  # MONOCHROME1/2 (anything else with one sample is read as such)
        kind, to_float = "mono", _modality
    acc = None
    n_seen = 0
    for raw in _iter_frames(ds, indices):
        values = to_float(raw, ds)  # a new float32 array
        n_seen += 1
        if acc is None:
            acc = values
        elif reduce == "max":
            np.maximum(acc, values, out=acc)
        else:
            acc += values
    if acc is None:
        raise ValueError("no frame was decoded")
    if reduce == "mean":
        acc /= np.float32(n_seen)
    if kind != "mono":
        return acc
    acc = _voi(acc, ds, window)
    if photometric == "MONOCHROME1":
        np.subtract(np.float32(1.0), acc, out=acc)
    return acc


def _iter_frames(ds, indices):
    """Yield decoded frames one at a time (2-D, or (H, W, 3) in RGB)."""
    try:
        from pydicom.pixels import iter_pixels  # pydicom >= 3
    except ImportError:  # pydicom 2.x: decode everything, then pick
        arr = ds.pixel_array
        photometric = str(ds.get("PhotometricInterpretation", ""))
        compressed = ds.file_meta.TransferSyntaxUID.is_compressed
        if photometric.startswith("YBR_FULL") and not compressed:
            from pydicom.pixel_data_handlers.util import convert_color_space

            arr = convert_color_space(arr, photometric, "RGB")
        if int(ds.get("NumberOfFrames") or 1) <= 1:
            arr = arr[None]
        yield from (arr[i] for i in (indices or range(len(arr))))
        return
    # Only the requested frames are decoded, one at a time; YBR becomes RGB.
    # (Decoding from the path would read less, but pydicom 3.0 fails there on
    # deflated and some encapsulated files that decode fine from a dataset.)
    yield from iter_pixels(ds, indices=indices)


def _set_transfer_syntax(ds):
    """Files without file meta: infer the transfer syntax from how they parsed."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import (
        ExplicitVRBigEndian,
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
    )

    encoding = getattr(ds, "original_encoding", None)
    if encoding is None:  # pydicom 2.x
        encoding = (ds.is_implicit_VR, ds.is_little_endian)
    implicit, little = encoding
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian
        if implicit
        else ExplicitVRLittleEndian
        if little
        else ExplicitVRBigEndian
    )


def _number(ds, keyword, default):
    value = ds.get(keyword)
    if value is None or value == "":
        return default
    if not isinstance(value, int | float | str | bytes) and len(value):
        value = value[0]  # multi-valued: the first
    return float(value)


def _little_endian(ds):
    return getattr(ds.file_meta.TransferSyntaxUID, "is_little_endian", True)


def _modality(raw, ds):
    """Stored values -> modality values (e.g. Hounsfield units), float32."""
    sequence = ds.get("ModalityLUTSequence")
    if sequence:
        return _apply_lut(raw, sequence[0], ds)
    values = raw.astype(np.float32)
    slope = _number(ds, "RescaleSlope", 1.0)
    intercept = _number(ds, "RescaleIntercept", 0.0)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


def _rgb_to_float(raw, ds):
    bits = int(ds.get("BitsStored") or raw.dtype.itemsize * 8)
    return np.divide(raw, np.float32(2**bits - 1), dtype=np.float32)


def _palette_to_float(raw, ds):
    try:
        from pydicom.pixels import apply_color_lut
    except ImportError:  # pydicom 2.x
        from pydicom.pixel_data_handlers.util import apply_color_lut
    bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
    return np.divide(
        apply_color_lut(raw, ds), np.float32(2**bits - 1), dtype=np.float32
    )


def _apply_lut(values, item, ds):
    """Look ``values`` up in a LUT item (LUT Descriptor + LUT Data), float32."""
    n_entries, first, _ = (int(v) for v in item.LUTDescriptor)
    n_entries = n_entries or 2**16
    if first >= 2**15 and int(ds.get("PixelRepresentation", 0) or 0) == 1:
        first -= 2**16  # a signed first value stored as US
    data = item.LUTData
    if isinstance(data, bytes):  # OW: raw 16-bit words
        table = np.frombuffer(data, dtype="<u2" if _little_endian(ds) else ">u2")
    else:
        table = np.atleast_1d(np.asarray(data))
    table = table[:n_entries].astype(np.float32)
    if table.size == 0:
        raise ValueError("empty LUT Data")
    position = np.subtract(values, np.float32(first), dtype=np.float32)
    np.rint(position, out=position)
    np.clip(position, 0, table.size - 1, out=position)
    return table[position.astype(np.intp)]


def _voi(values, ds, window):
    """Modality values -> [0, 1] (VOI LUT Module, PS3.3 C.11.2); float32."""
    if window is not None:
        return _linear_window(values, float(window[0]), float(window[1]))
    sequence = ds.get("VOILUTSequence")
    if sequence:
        bits = int(sequence[0].LUTDescriptor[2])
        out = _apply_lut(values, sequence[0], ds)
        out /= np.float32(2**bits - 1)  # LUT output range is 0 .. 2**bits - 1
        return np.clip(out, 0.0, 1.0, out=out)
    center = _number(ds, "WindowCenter", None)
    width = _number(ds, "WindowWidth", None)
    if center is None or width is None or not width > 0:
        return _min_max(values)
    function = str(ds.get("VOILUTFunction") or "LINEAR").strip().upper()
    if function == "SIGMOID":  # C.11.2.1.3.1
        values -= np.float32(center)
        values *= np.float32(-4.0 / width)
        with np.errstate(over="ignore"):
            np.exp(values, out=values)
        values += np.float32(1.0)
        return np.reciprocal(values, out=values)
    if function == "LINEAR_EXACT":  # C.11.2.1.3.2
        return _scale(values, center - width / 2, width)
    return _linear_window(values, center, width)


def _linear_window(values, center, width):
    """The LINEAR function of PS3.3 C.11.2.1.2.1 with output range [0, 1].

    Values <= c - 0.5 - (w - 1) / 2 map to 0, values > c - 0.5 + (w - 1) / 2
    to 1, linearly in between; a width <= 1 is a threshold at c - w / 2.
    """
    low = center - 0.5 - (width - 1.0) / 2.0
    if width > 1.0:
        return _scale(values, low, width - 1.0)
    return np.greater(values, np.float32(low)).astype(np.float32)


def _min_max(values):
    """No window in the file: the image's own range maps to [0, 1]."""
    low, high = values.min(), values.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        finite = values[np.isfinite(values)]
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    if not high > low:
        return np.zeros_like(values)
    return _scale(values, float(low), float(high) - float(low))


def _scale(values, low, span):
    values -= np.float32(low)
    values /= np.float32(span)
    return np.clip(values, 0.0, 1.0, out=values)


def _detail(exc):
    text = re.sub(r"\s+", " ", str(exc)).strip()
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _no_pixels_message(ds, from_header):
    if from_header and len(ds) == 0:
        return (
            "has a DICOM header but no data elements after it; the DICOM file "
            "looks truncated or empty"
        )
    if "Rows" in ds or "Columns" in ds:
        return (
            "has image attributes (Rows, Columns) but no pixel data; the DICOM "
            "file looks truncated or corrupted"
        )
    if not from_header:
        return (
            "has neither a DICOM header ('DICM' at byte 128) nor pixel data; it "
            "is not a readable DICOM image"
        )
    return (
        "has no pixel data (a DICOM without PixelData, e.g. a structured report "
        "or a presentation state)"
    )


def _decode_failure_message(ds, exc):
    message = f"is a DICOM file whose pixel data could not be decoded ({_detail(exc)})"
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is not None and getattr(syntax, "is_compressed", False):
        return (
            f"{message}; its transfer syntax {syntax.name!r} may need an optional "
            "decoder plugin (e.g. pylibjpeg with pylibjpeg-libjpeg / "
            "pylibjpeg-openjpeg, or python-gdcm), see the pydicom documentation"
        )
    return f"{message}; the file may be truncated or corrupted"
