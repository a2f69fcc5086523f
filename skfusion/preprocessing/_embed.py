"""Image-path columns to embeddings from a frozen torch module, streamed."""

import copy
import hashlib
import os
import stat
import sys
import time
import warnings
from collections import namedtuple
from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
)
from torch import nn
from tqdm import tqdm

from .._names import output_names
from .._persistence import SkopsRefusalMixin
from .._training import resolve_device
from .._validation import describe_row
from .._warnings import warn
from ..exceptions import ImageReadError, SkfusionDataWarning
from ._embed_store import (
    _Archive,
    _entry,
    _fingerprint,
    _freeze,
    _load_archive,
    _read_archive,
    _read_entry,
    _script_archive,
    _store,
)
from ._image import ImageLoader
from ._utils import (
    _column_names,
    _is_missing,
    _PathColumnMixin,
)

__all__ = ["ImageEmbedder"]

_SEED = 0
_MAX_ROWS_LISTED = 10

CacheInfo = namedtuple("CacheInfo", "hits misses encoded written corrupt")
CacheInfo.__doc__ = """Counts of the last ``transform`` of an ImageEmbedder.

hits: rows read from the cache; misses: rows looked up and not found;
encoded: rows sent to the encoder; written: entries written; corrupt:
unreadable entries (treated as misses and rewritten).
"""


class _RandomConvEncoder(nn.Module):
    """The built-in encoder: a frozen CNN with fixed random weights.

    Three stages of 3x3 convolution (the first with stride 2), GroupNorm and
    ReLU, max-pooling between stages, then global average pooling:
    (n, C, H, W) -> (n, widths[-1]).
    The weights are drawn from a fixed seed without touching torch's global
    random state, so every instance is identical.
    """

    def __init__(self, in_channels, widths=(16, 32, 64)):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_SEED)
            layers, width = [], in_channels
            for i, out in enumerate(widths):
                stride = 2 if i == 0 else 1  # a strided stem: 4x cheaper
                conv = nn.Conv2d(width, out, 3, stride, padding=1, bias=False)
                nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                layers += [conv, nn.GroupNorm(4, out), nn.ReLU(inplace=True)]
                if i < len(widths) - 1:
                    layers.append(nn.MaxPool2d(2, ceil_mode=True))
                width = out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        return self.features(x)


class ImageEmbedder(
    SkopsRefusalMixin, _PathColumnMixin, TransformerMixin, BaseEstimator
):
    """Embed a column of image paths with a frozen torch encoder, streamed.

    The images are decoded by an :class:`ImageLoader` and encoded
    ``batch_size`` rows at a time: only one batch of pixels is held in
    memory, so peak memory depends on ``batch_size`` and the image size,
    not on the number of images (the output, ``n x d`` floats, aside). The
    encoder is frozen: ``fit`` learns nothing from the data and reads no
    image, and the encoder runs in eval mode under
    :func:`torch.inference_mode`.

    The default encoder is a small built-in CNN with fixed *random* weights
    (three conv/GroupNorm/ReLU stages and global average pooling to 64
    features): a random-feature extractor, useful as a cheap baseline and
    for tests. For real use pass a pretrained module.

    A *missing* path (None, NaN, empty string) gives a zero row with
    ``missing=1`` and is not sent to the encoder. An unreadable image
    raises :class:`~skfusion.exceptions.ImageReadError` naming the row of
    the full input, or is treated as missing, as the loader's ``on_error``
    says.

    Parameters
    ----------
    encoder : torch.nn.Module, str, path-like or None, default=None
        Maps a float32 batch ``(n, C, H, W)`` with values in [0, 1] to
        ``(n, d)`` (other trailing shapes, e.g. ``(n, d, 1, 1)``, are
        flattened). None: the built-in random CNN. A module is deep-copied
        in ``fit`` (yours is not changed). A path is loaded in ``fit``: a
        file written by :func:`torch.export.save` (export the module in
        eval mode, with a dynamic batch dimension) or by TorchScript's
        ``torch.jit.save`` (deprecated by torch). Files written by
        ``torch.save`` are refused, because unpickling can run arbitrary
        code: with a state dict, build the module, call
        ``module.load_state_dict(torch.load(path, weights_only=True))`` and
        pass the module. A fitted embedder pickles with its encoder (a
        TorchScript module or a file's bytes included); a module returned
        by ``torch.export.load`` does not pickle, so pass its path instead.
    loader : ImageLoader or None, default=None
        Decodes the images (size, color, root, on_error); None means
        ``ImageLoader(size=64)``. It is cloned in ``fit`` and its
        parameters can be searched, e.g. ``embedder__loader__size``.
    batch_size : int, default=64
        Images decoded and encoded at a time.
    device : str or torch.device, default="cpu"
        Where the encoder runs: "cpu", "cuda", "cuda:1", ... or "auto"
        (CUDA when available). CUDA requested but unavailable falls back to
        the CPU with a warning.
    progress : bool, default=False
        Show a tqdm progress bar (images, updated per batch) on stderr.
    cache_dir : str, path-like or None, default=None
        Folder of an on-disk embedding cache; None disables the cache. See
        Notes.
    cache_key : {"content", "stat"}, default="content"
        How a cached image is recognised. "content": the SHA-256 of the
        file's bytes (and extension), so a file changed in place is never
        served stale; reads each file twice on a miss. "stat": the absolute
        path, size and modification time (ns), which is faster but trusts
        the filesystem: a file rewritten with the same size and mtime would
        be served stale.
    add_indicator : bool, default=True
        Append the ``missing`` column (1.0 for a missing image, else 0.0).
    verbose : int, default=0
        At 1 or more, ``transform`` prints one line when it ends: the number
        of images, the time taken, how many were encoded, read from the
        cache and missing or unreadable, and the cache folder.

    Attributes
    ----------
    encoder_ : torch.nn.Module
        The frozen encoder, on ``device_``.
    loader_ : ImageLoader
        The fitted loader (``add_indicator=True``: its ``missing`` column is
        the availability mask).
    device_ : torch.device
        The device the encoder runs on.
    embedding_dim_ : int
        Width ``d`` of the embedding.
    n_features_out_ : int
        Number of output columns: ``embedding_dim_ + add_indicator``.
    fingerprint_ : str
        SHA-256 (hex) of everything that determines the embedding of one
        file: the encoder (class, source, repr, every weight and buffer),
        the loader's class and parameters, torch and skfusion versions, the
        device type and the cache format. It names the cache folder.
    n_features_in_ : int
        Number of input columns (always 1).
    feature_names_in_ : ndarray of shape (1,)
        Input column name, when X has a string column name.

    See Also
    --------
    skfusion.preprocessing.ImageLoader : Image paths to pixel arrays.

    Notes
    -----
    **Cache.** With ``cache_dir`` set, each embedding is stored as one
    float32 ``.npy`` vector at
    ``cache_dir/<fingerprint_[:16]>/<key[:2]>/<key>.npy``, where ``key``
    comes from ``cache_key``. Entries are written to a temporary file and
    renamed, so parallel workers (``GridSearchCV(n_jobs=...)``) never read
    a partial entry; an unreadable entry is a miss and is rewritten. The
    key covers the file (content or stat) and the folder covers the
    encoder weights and the preprocessing, so a changed file, encoder or
    loader is never served a stale vector. Missing and unreadable images
    are not cached. ``cache_info()`` gives the counts of the last
    ``transform``. The cache is *fold-safe*: the embedder is frozen and
    ``fit`` learns nothing from the rows, so an embedding depends only on
    its own file, and sharing the cache between cross-validation folds or
    grid-search candidates leaks nothing; each image is encoded once in a
    whole search. Vectors are cached as first computed; recomputing one
    (another batch size or device type) can differ by float rounding.
    Nothing is ever evicted: delete the folder to reclaim space.

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from skfusion.preprocessing import ImageEmbedder, ImageLoader
    >>> folder = tempfile.mkdtemp()
    >>> for name, value in [("a.png", 0), ("b.png", 255)]:
    ...     Image.new("L", (20, 20), color=value).save(os.path.join(folder, name))
    >>> embedder = ImageEmbedder(
    ...     loader=ImageLoader(size=16, root=folder),
    ...     cache_dir=os.path.join(folder, "cache"),
    ... )
    >>> X = embedder.fit_transform(["a.png", "b.png", None])
    >>> X.shape, X.dtype
    ((3, 65), dtype('float32'))
    >>> embedder.get_feature_names_out()[[0, 63, 64]].tolist()
    ['embedding_0', 'embedding_63', 'missing']
    >>> X[:, -1].tolist(), bool((X[2, :-1] == 0).all())
    ([0.0, 0.0, 1.0], True)
    >>> embedder.cache_info()
    CacheInfo(hits=0, misses=2, encoded=2, written=2, corrupt=0)
    >>> bool((embedder.transform(["b.png"]) == X[1]).all())
    True
    >>> embedder.cache_info()
    CacheInfo(hits=1, misses=0, encoded=0, written=0, corrupt=0)
    """

    _file_kind = "image"
    _example_step = '("xray", ImageEmbedder(), "xray_path")'

    _parameter_constraints: dict = {
        "encoder": [nn.Module, str, os.PathLike, None],
        "loader": [ImageLoader, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "progress": ["boolean"],
        "cache_dir": [str, os.PathLike, None],
        "cache_key": [StrOptions({"content", "stat"})],
        "add_indicator": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        encoder=None,
        loader=None,
        batch_size=64,
        device="cpu",
        progress=False,
        cache_dir=None,
        cache_key="content",
        add_indicator=True,
        verbose=0,
    ):
        self.encoder = encoder
        self.loader = loader
        self.batch_size = batch_size
        self.device = device
        self.progress = progress
        self.cache_dir = cache_dir
        self.cache_key = cache_key
        self.add_indicator = add_indicator
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Load and freeze the encoder and check the column; no image is read.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Image paths (str or path-like); missing values allowed.
        y : None
            Ignored.

        Returns
        -------
        self : ImageEmbedder
            The fitted transformer.
        """
        X_checked = self._validate_column(X, reset=True)[0]
        self.__dict__.pop("_encoder_archive", None)  # from an earlier fit
        loader = ImageLoader(size=64) if self.loader is None else clone(self.loader)
        loader.set_params(add_indicator=True).set_output(transform="default")
        self.loader_ = loader.fit(X_checked)
        self.device_ = torch.device(resolve_device(self.device))
        archive_sha = None
        if isinstance(self.encoder, torch.jit.ScriptModule):
            module = _load_archive(*_script_archive(self.encoder))  # leaf params
        elif isinstance(self.encoder, nn.Module):
            module = copy.deepcopy(self.encoder)
        elif self.encoder is None:
            module = _RandomConvEncoder(self.loader_.image_shape_[0])
        else:
            self._encoder_archive = _read_archive(self.encoder)
            module = _load_archive(*self._encoder_archive)
            archive_sha = hashlib.sha256(self._encoder_archive[1]).hexdigest()
        self.encoder_ = _freeze(module, self.device_)
        probe = np.zeros((1, int(np.prod(self.loader_.image_shape_))), np.float32)
        try:
            self.embedding_dim_ = self._encode(probe, check_dim=False).shape[1]
        except Exception as exc:
            raise ValueError(
                "ImageEmbedder's encoder failed on a zero batch of shape "
                f"{(1, *self.loader_.image_shape_)} ({type(exc).__name__}: "
                f"{exc}). The encoder must map a float32 tensor (n, C, H, W) "
                "with values in [0, 1] to a tensor (n, d); C, H and W come "
                "from the loader's color and size."
            ) from exc
        self.n_features_out_ = self.embedding_dim_ + self.add_indicator
        self.fingerprint_ = _fingerprint(
            self.encoder_, archive_sha, self.loader_, self.device_.type
        )
        return self

    def transform(self, X):
        """Decode and encode the images, batch by batch (or read the cache).

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Image paths (str or path-like); missing values allowed.

        Returns
        -------
        X_out : ndarray of shape (n_samples, embedding_dim_ + add_indicator)
            Embeddings (float32); a missing image gives a zero row, and the
            last column is ``missing`` when ``add_indicator=True``.
        """
        check_is_fitted(self, "fingerprint_")
        started = time.perf_counter()
        X_checked, values, index = self._validate_column(X, reset=False)
        column = _column_names(X_checked)[0]
        n, d = len(values), self.embedding_dim_
        out = np.zeros((n, d + self.add_indicator), np.float32)
        missing = np.zeros(n, dtype=bool)
        cache = None
        if self.cache_dir is not None:
            cache = os.path.join(os.fspath(self.cache_dir), self.fingerprint_[:16])
        counts = dict.fromkeys(CacheInfo._fields, 0)
        failed, first_error, write_error = [], None, None
        bar = tqdm(
            total=n,
            unit="img",
            desc="ImageEmbedder",
            disable=not self.progress,
            file=sys.stderr,
        )
        with bar:
            for start in range(0, n, self.batch_size):
                rows = np.arange(start, min(start + self.batch_size, n))
                todo, keys = self._lookup(values, rows, cache, out, missing, counts)
                todo = np.asarray(todo, dtype=np.intp)
                block, errors = self._decode(values, todo, index)
                ok = block[:, -1] == 0  # the loader's availability mask
                missing[todo[~ok]] = True
                failed += todo[~ok].tolist()
                first_error = first_error or (errors[0] if errors else None)
                if ok.any():
                    emb = self._encode(block[ok, :-1])
                    out[todo[ok], :d] = emb
                    counts["encoded"] += len(emb)
                    if cache is not None and write_error is None:
                        keys = [k for k, good in zip(keys, ok, strict=True) if good]
                        write_error = _store(cache, keys, emb, counts)
                bar.update(len(rows))
        self._cache_info = CacheInfo(**counts)
        if write_error is not None:
            warn(
                f"ImageEmbedder could not write to the cache in {cache!r} "
                f"({write_error}); the remaining embeddings of this call were "
                "not cached.",
                RuntimeWarning,
            )
        if failed:
            _warn_failed(failed, first_error, column, index)
        if self.add_indicator:
            out[:, -1] = missing
        if self.verbose:
            seconds = time.perf_counter() - started
            print(_summary(n, seconds, self._cache_info, int(missing.sum()), cache))
        return out

    def cache_info(self):
        """Cache counts of the last ``transform`` (all zero before any).

        Returns
        -------
        info : CacheInfo
            Named tuple ``(hits, misses, encoded, written, corrupt)``: rows
            served from the cache, rows looked up and not found, rows sent
            to the encoder, entries written, and unreadable entries (counted
            as misses too, and rewritten). Without ``cache_dir``, only
            ``encoded`` counts. Only this process's calls are counted (not
            those of parallel workers).
        """
        return getattr(self, "_cache_info", CacheInfo(0, 0, 0, 0, 0))

    def get_feature_names_out(self, input_features=None):
        """Output feature names.

        ``embedding_0`` ... ``embedding_{d-1}`` (a vector output), then
        ``missing`` with ``add_indicator=True``: 1.0 where the row's image is
        absent (or unreadable with ``on_error="missing"``), else 0.0. Inside
        a ColumnTransformer step named ``"xray"`` they read
        ``xray__embedding_0`` ... ``xray__missing``.

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
        check_is_fitted(self, "embedding_dim_")
        _check_feature_names_in(self, input_features)
        names = [f"embedding_{i}" for i in range(self.embedding_dim_)]
        return output_names(names, self.add_indicator)

    def __getstate__(self):
        state = dict(super().__getstate__())
        if "_encoder_archive" in state:  # reloaded from the file's bytes
            state["encoder_"] = None
        for name in ("encoder", "encoder_"):  # TorchScript does not pickle
            if isinstance(state.get(name), torch.jit.ScriptModule):
                state[name] = _script_archive(state[name])
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        for name in ("encoder", "encoder_"):
            if isinstance(getattr(self, name, None), _Archive):
                setattr(self, name, _load_archive(*getattr(self, name)))
        if "_encoder_archive" in state:
            self.encoder_ = _load_archive(*self._encoder_archive)
        if getattr(self, "encoder_", None) is not None:
            self.encoder_ = _freeze(self.encoder_, self.device_)

    # -- internals -------------------------------------------------------

    def _lookup(self, values, rows, cache, out, missing, counts):
        """Fill the cached rows of ``out``; return the others and their keys."""
        todo, keys, d = [], [], self.embedding_dim_
        for row in rows:
            value = values[row, 0]
            if _is_missing(value):
                missing[row] = True
                continue
            key = None if cache is None else self._key(value)
            if key is not None:
                vec, corrupt = _read_entry(_entry(cache, key), d)
                counts["corrupt"] += corrupt
                if vec is not None:
                    out[row, :d] = vec
                    counts["hits"] += 1
                    continue
                counts["misses"] += 1
            todo.append(row)
            keys.append(key)
        return todo, keys

    def _key(self, value):
        """The cache key of one path, or None when it cannot be read."""
        if not isinstance(value, str | os.PathLike):
            return None
        path = os.fspath(value)
        root = self.loader_.root
        if root is not None and not os.path.isabs(path):
            path = os.path.join(os.fspath(root), path)
        try:
            if self.cache_key == "stat":
                st = os.stat(path)
                if not stat.S_ISREG(st.st_mode):
                    return None
                ident = f"{st.st_size}\0{st.st_mtime_ns}".encode()
                digest = hashlib.sha256(b"stat\0" + os.fsencode(os.path.abspath(path)))
                digest.update(b"\0" + ident)
                return digest.hexdigest()
            extension = os.path.splitext(path)[1].lower()
            digest = hashlib.sha256(b"content\0" + os.fsencode(extension) + b"\0")
            with open(path, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()
        except (OSError, ValueError, TypeError):
            return None

    def _decode(self, values, rows, index):
        """The loader's output for ``rows``, with the full input's row numbers."""
        if not len(rows):
            return np.zeros((0, 1), np.float32), []
        chunk, chunk_index = values[rows], None
        names = getattr(self.loader_, "feature_names_in_", None)
        if names is not None:  # as in fit, so the loader does not warn again
            labels = None if index is None else index[rows]
            chunk = pd.DataFrame(chunk, columns=names, index=labels)
            chunk_index = chunk.index
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                block = self.loader_.transform(chunk)
            except ImageReadError as exc:
                raise _relocate(exc, rows, index, chunk_index) from exc.__cause__
        errors = []
        for w in caught:
            text = str(w.message)
            if issubclass(w.category, SkfusionDataWarning) and "unreadable" in text:
                errors.append(text.partition("First error: ")[2].rstrip(".") or text)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return block, errors

    def _encode(self, pixels, check_dim=True):
        """Run the encoder on flat float32 pixels; (k, d) float32 array."""
        k = len(pixels)
        batch = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
        batch = batch.reshape(k, *self.loader_.image_shape_).to(self.device_)
        with torch.inference_mode():
            emb = self.encoder_(batch)
        if not isinstance(emb, torch.Tensor) or emb.ndim < 1 or emb.shape[0] != k:
            raise TypeError(
                f"The encoder must return a tensor of shape ({k}, d) for {k} "
                f"images; it returned {_describe_output(emb)}."
            )
        emb = emb.reshape(k, -1).to(device="cpu", dtype=torch.float32).numpy()
        if check_dim and emb.shape[1] != self.embedding_dim_:
            raise ValueError(
                f"The encoder returned {emb.shape[1]} features per image, but "
                f"{self.embedding_dim_} in fit."
            )
        return emb


def _relocate(exc, rows, index, chunk_index):
    """The loader's error, its batch row number replaced by the input's."""
    message = str(exc)
    for j, row in enumerate(rows):
        old = f", {describe_row(j, chunk_index)}: "
        if old in message:
            new = f", {describe_row(int(row), index)}: "
            return ImageReadError(message.replace(old, new, 1))
    return ImageReadError(
        f"{message} (ImageEmbedder: the row number above counts within a batch "
        f"made of rows {rows.tolist()} of the input)"
    )


def _summary(n, seconds, info, n_missing, cache):
    """The one-line report of a ``transform`` at ``verbose >= 1``."""
    line = f"[ImageEmbedder] {n} image(s) in {seconds:.1f} s: {info.encoded} encoded"
    if cache is not None:
        line += f", {info.hits} from the cache"
    line += f", {n_missing} missing or unreadable"
    if cache is not None:
        line += f" (cache {cache!r})"
    return line


def _describe_output(value):
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def _warn_failed(failed, first_error, column, index):
    rows = ", ".join(describe_row(i, index) for i in failed[:_MAX_ROWS_LISTED])
    more = len(failed) - _MAX_ROWS_LISTED
    if more > 0:
        rows += f" and {more} more"
    warn(
        f"ImageEmbedder treated {len(failed)} unreadable image(s) in column "
        f"{column!r} as missing (on_error='missing'): {rows}. First error: "
        f"{first_error}.",
        SkfusionDataWarning,
    )
