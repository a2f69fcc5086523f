"""Image paths that the estimators decode batch by batch (lazy image input)."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ..exceptions import SkfusionDataWarning
from ._image import ImageLoader
from ._utils import _is_missing

__all__ = ["LazyImages"]


class LazyImages:
    """An image modality kept as paths and decoded on demand, batch by batch.

    Give it as one value of the dict input of
    :class:`~skfusion.CrossModalClassifier` or
    :class:`~skfusion.CrossModalRegressor`, e.g. ``clf.fit({"tab": tab,
    "xray": LazyImages(paths, ImageLoader(size=128))}, y)``: the estimator
    then never holds every image's pixels. Training decodes each batch when
    it is drawn (in ``n_jobs`` worker processes when ``n_jobs > 1``),
    prediction decodes 1024 rows at a time, and the per-channel
    standardisation statistics are streamed over the training images. The
    predictions are identical to those of the same estimator fitted on the
    decoded pixels (``{"xray": pixels}`` with the same loader and seed).

    A *missing* path (None, NaN, ``pd.NA``, blank string) marks the modality
    absent in that row; so does, with ``ImageLoader(on_error="missing")``,
    an image that cannot be read, found when its batch is decoded. An
    explicit ``"<name>__missing"`` entry of the dict is combined with the
    paths: the image is present where the flag is 0 *and* the path is not
    missing (and the image readable).

    Indexing decodes: ``images[3]`` is one ``(C, H, W)`` image, and
    ``images[key]`` for a slice, a list or an array of positions (or a
    boolean mask) an array ``(k, C, H, W)``, float32 in [0, 1], exactly what
    ``loader.transform(paths[key])`` gives (a missing or unreadable image is
    all zeros). ``np.asarray(images)`` raises a TypeError instead of
    decoding every image; ``images[:]`` decodes them all on purpose.

    Parameters
    ----------
    paths : array-like of shape (n_samples,)
        Image paths (str or path-like; missing values allowed): a list, a
        pandas Series or a 1-D array. A copy is kept.
    loader : ImageLoader or None, default=None
        How to decode one path (size, color, root, on_error, DICOM options).
        None means ``ImageLoader()``. It is not modified: the object keeps a
        clone with ``add_indicator=True``, fitted on ``paths`` (which reads
        no image).

    Attributes
    ----------
    paths : ndarray of shape (n_samples,), dtype object
        The paths.
    loader : ImageLoader
        The fitted clone that decodes them.
    shape : tuple of int
        ``(n_samples, C, H, W)``.
    ndim : int
        4.
    dtype : numpy.dtype
        float32, the dtype of the decoded pixels.

    See Also
    --------
    skfusion.preprocessing.ImageLoader : Decodes paths to pixels in memory.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skfusion.preprocessing import ImageLoader, LazyImages
    >>> folder = tempfile.mkdtemp()
    >>> Image.new("L", (10, 6), color=255).save(os.path.join(folder, "a.png"))
    >>> images = LazyImages(["a.png", None, "a.png"],
    ...                     ImageLoader(size=(2, 3), root=folder))
    >>> images.shape, len(images)
    ((3, 1, 2, 3), 3)
    >>> images.missing_paths().tolist()
    [False, True, False]
    >>> images[0].tolist()
    [[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]
    >>> pixels, missing = images.decode([1, 2])
    >>> pixels.shape, pixels.dtype, missing.tolist()
    ((2, 1, 2, 3), dtype('float32'), [True, False])
    """

    #: Marks lazily decoded inputs for the estimators' batching code.
    _skfusion_lazy = True

    def __init__(self, paths, loader=None):
        if isinstance(paths, LazyImages):  # its paths (and loader, by default)
            loader = paths.loader if loader is None else loader
            paths = paths.paths
        if isinstance(paths, pd.DataFrame):
            if paths.shape[1] != 1:
                raise ValueError(
                    "LazyImages takes one column of image paths; got a "
                    f"DataFrame with {paths.shape[1]} columns."
                )
            paths = paths.iloc[:, 0]
        if isinstance(paths, pd.Series):
            paths = paths.to_numpy(dtype=object)
        elif isinstance(paths, (str, bytes)) or not hasattr(paths, "__len__"):
            raise TypeError(
                "LazyImages takes a sequence of image paths (a list, a pandas "
                f"Series or a 1-D array); got {type(paths).__name__}."
            )
        if isinstance(paths, np.ndarray) and paths.ndim != 1:
            raise ValueError(
                f"LazyImages takes a 1-D array of paths; got shape {paths.shape}."
            )
        values = np.empty(len(paths), dtype=object)
        values[:] = paths if isinstance(paths, np.ndarray) else list(paths)
        self.paths = values
        if loader is None:
            loader = ImageLoader()
        if not isinstance(loader, ImageLoader):
            raise TypeError(
                "loader must be a skfusion.preprocessing.ImageLoader (or None); "
                f"got {type(loader).__name__}."
            )
        # The indicator column tells decoded images from unreadable ones;
        # fitting reads no image, so refitting a clone on the paths is cheap
        # and leaves the caller's loader untouched.
        self.loader = clone(loader).set_params(add_indicator=True)
        self.loader.fit(self.paths)
        self._missing = None

    # -- array-like ------------------------------------------------------

    @property
    def shape(self):
        return (len(self.paths), *self.loader.image_shape_)

    ndim = 4
    dtype = np.dtype(np.float32)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, key):
        if isinstance(key, Integral):
            n = len(self.paths)
            if not -n <= key < n:
                raise IndexError(
                    f"index {key} is out of bounds for LazyImages of {n} images"
                )
            return self.decode([key])[0][0]
        return self.decode(key)[0]

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"LazyImages ({len(self)} images) is decoded batch by batch and is "
            "not converted to an array, which would decode every image at "
            "once. Give it as one value of the estimator's dict input, e.g. "
            "clf.fit({'xray': images, 'tab': tab}, y); index it (images[:100]) "
            "to decode images on purpose."
        )

    def __repr__(self):
        params = self.loader.get_params()
        params.pop("add_indicator")
        shown = ", ".join(
            f"{k}={v!r}"
            for k, v in params.items()
            if v != ImageLoader().get_params()[k]
        )
        return (
            f"LazyImages(n={len(self)}, shape={self.shape[1:]}, "
            f"loader=ImageLoader({shown}))"
        )

    # -- decoding --------------------------------------------------------

    def _keys(self, key):
        if hasattr(key, "numpy") and not isinstance(key, np.ndarray):
            key = key.cpu().numpy()  # a torch tensor of positions
        if isinstance(key, slice):
            return key
        key = np.asarray(key)
        if key.size == 0:
            return key.astype(np.intp)
        if key.dtype == bool:
            if key.shape != self.paths.shape:
                raise IndexError(
                    f"boolean index of shape {key.shape} does not match "
                    f"LazyImages of {len(self)} images"
                )
            return key
        if key.dtype.kind not in "iu":
            raise IndexError(
                "LazyImages is indexed by an int, a slice, positions or a "
                f"boolean mask; got {key.dtype} values."
            )
        return key

    def decode(self, key, *, warn=True):
        """Decode the images at ``key``; return ``(pixels, missing)``.

        Parameters
        ----------
        key : slice, array-like of int or bool, or torch tensor of int
            Which rows.
        warn : bool, default=True
            Let the loader warn about unreadable images (``on_error=
            "missing"``); the estimators decode with ``warn=False`` in
            training and report unreadable images once.

        Returns
        -------
        pixels : ndarray of shape (k, C, H, W), float32
            C-contiguous; zeros for a missing or unreadable image.
        missing : ndarray of shape (k,), bool
            True where the path is missing or (``on_error="missing"``) the
            image could not be read.
        """
        check_is_fitted(self.loader)
        paths = self.paths[self._keys(key)]
        if paths.ndim != 1:
            raise IndexError("LazyImages is indexed along its rows only.")
        if not len(paths):
            return np.zeros((0, *self.shape[1:]), np.float32), np.zeros(0, bool)
        with warnings.catch_warnings():
            if not warn:
                warnings.simplefilter("ignore", SkfusionDataWarning)
            out = self.loader.transform(paths)
        # One copy of one batch, C-contiguous without the indicator column.
        pixels = np.ascontiguousarray(out[:, :-1]).reshape(-1, *self.shape[1:])
        return pixels, out[:, -1] > 0

    def missing_paths(self):
        """Where the path itself is missing (None, NaN, blank), no decoding.

        Returns
        -------
        missing : ndarray of shape (n_samples,), bool
        """
        if self._missing is None:
            self._missing = np.fromiter(
                (_is_missing(p) for p in self.paths), dtype=bool, count=len(self)
            )
        return self._missing.copy()

    def take(self, indices):
        """A LazyImages of the rows at ``indices`` (no image is decoded).

        Parameters
        ----------
        indices : array-like of int or bool, or slice

        Returns
        -------
        LazyImages
        """
        subset = object.__new__(type(self))
        subset.paths = self.paths[self._keys(indices)].copy()
        subset.loader = self.loader
        subset._missing = None
        return subset

    def _may_be_missing(self):
        """Whether some row can be absent (missing path, or unreadable)."""
        return bool(self.missing_paths().any()) or self.loader.on_error == "missing"
