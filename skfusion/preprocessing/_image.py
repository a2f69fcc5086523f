"""Image-path columns to fixed-size float32 pixel arrays."""

import math
import os
import warnings
from numbers import Integral, Real

import numpy as np
from PIL import Image, ImageOps
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
)

from .._names import output_names, pixel_names
from .._validation import describe_row
from .._warnings import warn
from ..exceptions import ImageReadError, SkfusionDataWarning
from ._dicom import DicomReadError, fit_into, read_dicom, sniff_dicom
from ._utils import (
    _column_names,
    _is_missing,
    _PathColumnMixin,
    _ReadError,
)

__all__ = ["ImageLoader"]

_HIGH_BIT_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N"}
_MAX_REDUCE = 64
_REDUCIBLE_MODES = {"L", "LA", "La", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "I", "F"}
_MAX_ROWS_LISTED = 10


class ImageLoader(_PathColumnMixin, TransformerMixin, BaseEstimator):
    """Load a column of image paths as fixed-size float32 pixels in [0, 1].

    Each path is opened with Pillow (PNG, JPEG, TIFF, BMP, ...; the first
    frame of multi-frame files), turned upright with its EXIF orientation,
    converted to grayscale or RGB, resized to ``size`` with bilinear
    filtering and scaled to [0, 1]: 8-bit images are divided by 255, 16-bit
    and 32-bit integer images (modes ``I;16``, ``I``) by 65535, float images
    (mode ``F``) are clipped. RGBA and palette images lose their alpha
    channel; a single channel is repeated for ``color="rgb"``. DICOM files
    are read with pydicom (see Notes).

    A *missing* path (None, NaN, ``pd.NA``, empty string) gives a zero image
    with ``missing=1``. A path that does not exist, is a directory or is not
    a readable image raises :class:`~skfusion.exceptions.ImageReadError`, or,
    with ``on_error="missing"``, is treated as missing with a
    :class:`~skfusion.exceptions.SkfusionDataWarning` naming the rows.

    **Large images** load and are shrunk as they are decoded, without
    Pillow's ``DecompressionBombWarning``: a JPEG is decoded at a reduced
    scale (Pillow's draft mode), any other image is shrunk by an integer box
    filter right after decoding, before any mode conversion, both keeping
    at least twice ``size`` for the final bilinear resize. So a 10,000 x
    10,000 scan costs the decoded image once (1 byte per pixel for 8-bit
    grayscale, 4 for RGB; a 16-bit image also needs one float32 copy), and
    a JPEG much less. Pillow's hard limit stays: an image of more than
    ``2 * PIL.Image.MAX_IMAGE_PIXELS`` pixels (about 179 million by
    default, e.g. 13,400 x 13,400) is unreadable as above, with an error
    that says how to raise the limit for a trusted file.

    ``fit`` learns nothing from the pixels and does not open the files.

    Parameters
    ----------
    size : int or tuple (height, width), default=64
        Output image size; an int gives a square image.
    color : {"grayscale", "rgb"}, default="grayscale"
        Output channels: 1 (luma, ITU-R 601-2) or 3.
    root : str, path-like or None, default=None
        Directory prepended to relative paths.
    on_error : {"raise", "missing"}, default="raise"
        What to do with an unreadable or nonexistent image.
    add_indicator : bool, default=True
        Append the ``missing`` column (1.0 for a missing image, else 0.0).
    frame : int or {"middle", "mean", "max"}, default=0
        Which frame of a multi-frame DICOM file (NumberOfFrames > 1) to use:
        an index (negative counts from the end; out of range is a read
        error naming the number of frames), the middle frame
        (``n_frames // 2``), or the mean or maximum over all frames, taken
        on modality values (after the Modality LUT, before windowing).
        Single-frame DICOM files and Pillow images ignore it.
    window : tuple (center, width) or None, default=None
        DICOM VOI window in modality units (e.g. Hounsfield units for CT;
        ``(40, 400)`` is a soft-tissue window), overriding the file's own
        window or VOI LUT; ``width > 0``. Mapped to [0, 1] with the DICOM
        LINEAR function: 0 up to ``c - 0.5 - (w - 1) / 2``, 1 above
        ``c - 0.5 + (w - 1) / 2``, linear in between. Applies to monochrome
        DICOM only (RGB and Pillow images ignore it).

    Attributes
    ----------
    image_shape_ : tuple of int
        ``(C, H, W)`` of each output image.
    n_features_in_ : int
        Number of input columns (always 1).
    feature_names_in_ : ndarray of shape (1,)
        Input column name, when X has a string column name.

    See Also
    --------
    skfusion.preprocessing.TextEmbedder : Free text to dense vectors.

    Notes
    -----
    **DICOM.** A file is read as DICOM when it has the 128-byte preamble and
    ``DICM`` magic, or a ``.dcm``/``.dicom`` suffix (files without the
    preamble are parsed with ``force=True``). This needs pydicom
    (``pip install "skfusion[dicom]"``), imported only when a DICOM file is
    met; without it a DICOM path raises ImportError, even with
    ``on_error="missing"``. Monochrome pixels go through, in this order:

    1. stored values (``pixel_array``: signedness, Bits Stored);
    2. Modality LUT: ``value * RescaleSlope + RescaleIntercept`` (or the
       Modality LUT Sequence), e.g. Hounsfield units;
    3. ``frame``: pick a frame or reduce over frames (multi-frame files);
    4. VOI to [0, 1]: the ``window`` parameter if given, else the file's
       first VOI LUT (output scaled by ``2**bits - 1``) or its first Window
       Center/Width (VOI LUT Function LINEAR per DICOM PS3.3 C.11.2.1.2.1,
       LINEAR_EXACT or SIGMOID); a file without any window maps the image's
       own min..max to [0, 1] (a constant image gives 0);
    5. MONOCHROME1 is inverted (``1 - v``).

    RGB files (YBR is converted to RGB by pydicom) are divided by
    ``2**BitsStored - 1``, PALETTE COLOR files go through their palette.
    Then the image is converted to ``color`` (ITU-R 601-2 luma, or one
    channel repeated), resized bilinearly in float32 and clipped to [0, 1].
    A DICOM without pixel data (e.g. a structured report), a truncated one,
    or one whose compression needs a missing decoder plugin is unreadable
    like any other bad image (``on_error``).

    Examples
    --------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> from skfusion.preprocessing import ImageLoader
    >>> folder = tempfile.mkdtemp()
    >>> Image.new("L", (10, 6), color=255).save(os.path.join(folder, "a.png"))
    >>> loader = ImageLoader(size=(2, 3), root=folder)
    >>> X = loader.fit_transform(["a.png", None])
    >>> X.shape, X.dtype
    ((2, 7), dtype('float32'))
    >>> X.tolist()
    [[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]]
    >>> loader.get_feature_names_out()[[0, 5, 6]].tolist()
    ['pixel_0_0_0', 'pixel_0_1_2', 'missing']
    """

    _file_kind, _a_file = "image", "an image file"
    _example_step = '("xray", ImageLoader(), "xray_path")'

    _parameter_constraints: dict = {
        "size": [Interval(Integral, 1, None, closed="left"), tuple],
        "color": [StrOptions({"grayscale", "rgb"})],
        "root": [str, os.PathLike, None],
        "on_error": [StrOptions({"raise", "missing"})],
        "add_indicator": ["boolean"],
        "frame": [
            Interval(Integral, None, None, closed="neither"),
            StrOptions({"middle", "mean", "max"}),
        ],
        "window": [tuple, None],
    }

    def __init__(
        self,
        *,
        size=64,
        color="grayscale",
        root=None,
        on_error="raise",
        add_indicator=True,
        frame=0,
        window=None,
    ):
        self.size = size
        self.color = color
        self.root = root
        self.on_error = on_error
        self.add_indicator = add_indicator
        self.frame = frame
        self.window = window

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and the input column; no image is read.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Image paths (str or path-like); missing values allowed.
        y : None
            Ignored.

        Returns
        -------
        self : ImageLoader
            The fitted transformer.
        """
        height, width = _check_size(self.size)
        _check_frame_and_window(self.frame, self.window)
        self._validate_column(X, reset=True)
        self.image_shape_ = (3 if self.color == "rgb" else 1, height, width)
        return self

    def transform(self, X):
        """Read, resize and flatten the images.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Image paths (str or path-like); missing values allowed.

        Returns
        -------
        X_out : ndarray of shape (n_samples, C * H * W + add_indicator)
            Pixels in [0, 1] (float32), each row in C order ``(C, H, W)``;
            the last column is ``missing`` when ``add_indicator=True``.
        """
        check_is_fitted(self)
        X_checked, values, index = self._validate_column(X, reset=False)
        column = _column_names(X_checked)[0]
        n_pixels = int(np.prod(self.image_shape_))
        out = np.zeros((len(values), n_pixels + self.add_indicator), np.float32)
        missing = np.zeros(len(values), dtype=bool)
        failed = []
        for i, value in enumerate(values[:, 0]):
            if _is_missing(value):
                missing[i] = True
                continue
            try:
                self._load_into(value, out[i, :n_pixels].reshape(self.image_shape_))
            except _ReadError as exc:
                if self.on_error == "raise":
                    raise ImageReadError(
                        "ImageLoader could not read the image in column "
                        f"{column!r}, {describe_row(i, index)}: {exc}. "
                        f"{exc.fix or 'Fix the path (or set root=)'}, or pass "
                        "on_error='missing' to treat unreadable images as "
                        "missing."
                    ) from exc.__cause__
                missing[i] = True
                out[i, :n_pixels] = 0.0
                failed.append((i, str(exc)))
        if failed:
            _warn_failed(failed, column, index)
        if self.add_indicator:
            out[:, -1] = missing
        return out

    def get_feature_names_out(self, input_features=None):
        """Output feature names.

        An image output: one column per pixel named ``pixel_{c}_{y}_{x}`` in
        C order (channel slowest, then row ``y``, then column ``x``), so
        ``X_out[i, :C * H * W].reshape(C, H, W)`` is row ``i``'s image and the
        shape ``(C, H, W)`` can be read back from the last pixel's name. With
        ``add_indicator=True`` the last column is ``missing``: 1.0 where the
        row's image is absent (or unreadable with ``on_error="missing"``),
        else 0.0. Inside a ColumnTransformer step named ``"xray"`` they read
        ``xray__pixel_0_3_5`` ... ``xray__missing``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against ``feature_names_in_``; does not change the
            output names.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The output names.
        """
        check_is_fitted(self, "image_shape_")
        _check_feature_names_in(self, input_features)
        return output_names(pixel_names(self.image_shape_), self.add_indicator)

    # -- internals -------------------------------------------------------

    def _load_into(self, value, view):
        """Decode one image into ``view`` (a (C, H, W) float32 view of a row)."""
        path = self._resolve(value)
        try:
            dicom = sniff_dicom(path)
        except OSError as e:
            raise _ReadError(f"{path!r} could not be opened ({e})") from e
        if dicom is not None:
            try:
                image = read_dicom(
                    path,
                    from_header=dicom == "header",
                    frame=self.frame,
                    window=self.window,
                )
            except DicomReadError as e:
                raise _ReadError(f"{path!r} {e}") from (e.__cause__ or e)
            fit_into(image, view)
            return
        _, height, width = self.image_shape_
        side = 2 * max(height, width)  # every reduction keeps >= 2x the target
        try:
            with warnings.catch_warnings():
                # A large image is expected here (it is shrunk right away);
                # Pillow's hard limit, DecompressionBombError, still applies.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as im:
                    im.draft(None, (side, side))  # JPEG: decode at reduced scale
                    im.load()
                    ImageOps.exif_transpose(im, in_place=True)
                    im = _reduce(im, side)  # before any full-size conversion
                    im, scale, clip = _normalise_mode(im, self.color)
                    im = _reduce(im, side)  # modes that could not be reduced above
                    if im.size != (width, height):
                        im = im.resize((width, height), Image.Resampling.BILINEAR)
                    pixels = np.asarray(im)
        except Image.DecompressionBombError as e:
            raise _ReadError(
                f"{path!r} is too large to decode (Pillow: {str(e).rstrip('.')})",
                fix="Downsample the file, or, if it is trusted, raise Pillow's "
                "limit PIL.Image.MAX_IMAGE_PIXELS (images of more than twice "
                "that many pixels are refused; None removes the limit)",
            ) from e
        except (OSError, ValueError, SyntaxError) as e:
            raise _ReadError(
                f"{path!r} is not a readable image ({type(e).__name__}: {e})"
            ) from e
        pixels = pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)
        # Broadcasting repeats a single channel over RGB; no float64 copies.
        np.divide(pixels, np.float32(scale), out=view, dtype=np.float32)
        if clip:
            np.clip(view, 0.0, 1.0, out=view)


def _reduce(im, side):
    """Shrink ``im`` by integer box factors, keeping both sides >= ``side``.

    A no-op for small images and for modes Pillow cannot reduce (palette,
    1-bit, 16-bit): those are reduced after :func:`_normalise_mode`. Each
    step reduces by at most 64: Pillow's fixed-point box average loses
    precision for factors of about 200 and more (255 becomes 249).
    """
    if im.mode not in _REDUCIBLE_MODES:
        return im
    while (factor := min(min(im.size) // side, _MAX_REDUCE)) >= 2:
        im = im.reduce(factor)
    return im


def _normalise_mode(im, color):
    """Convert to a mode that PIL resizes and NumPy reads; return the scale."""
    if im.mode in _HIGH_BIT_MODES:
        return im.convert("F"), 65535.0, True
    if im.mode == "F":
        return im, 1.0, True
    if im.mode == "P":
        im = im.convert("RGBA")  # applies palette transparency cleanly
    target = "RGB" if color == "rgb" else "L"
    return (im if im.mode == target else im.convert(target)), 255.0, False


def _check_size(size):
    if isinstance(size, Integral):
        return int(size), int(size)
    valid = len(size) == 2 and all(
        isinstance(n, Integral) and not isinstance(n, bool) and n >= 1 for n in size
    )
    if not valid:
        raise InvalidParameterError(
            "The 'size' parameter of ImageLoader must be an int >= 1 or a tuple "
            f"(height, width) of ints >= 1. Got {size!r}."
        )
    return int(size[0]), int(size[1])


def _check_frame_and_window(frame, window):
    if isinstance(frame, bool):
        raise InvalidParameterError(
            "The 'frame' parameter of ImageLoader must be an int or one of "
            f"'middle', 'mean', 'max'. Got {frame!r}."
        )
    if window is None:
        return
    valid = (
        len(window) == 2
        and all(
            isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)
            for v in window
        )
        and window[1] > 0
    )
    if not valid:
        raise InvalidParameterError(
            "The 'window' parameter of ImageLoader must be None or a tuple "
            "(center, width) of finite numbers with width > 0, e.g. (40, 400) "
            f"for a CT soft-tissue window. Got {window!r}."
        )


def _warn_failed(failed, column, index):
    rows = ", ".join(describe_row(i, index) for i, _ in failed[:_MAX_ROWS_LISTED])
    more = len(failed) - _MAX_ROWS_LISTED
    if more > 0:
        rows += f" and {more} more"
    warn(
        f"ImageLoader treated {len(failed)} unreadable image(s) in column "
        f"{column!r} as missing (on_error='missing'): {rows}. First error: "
        f"{failed[0][1]}.",
        SkfusionDataWarning,
    )
