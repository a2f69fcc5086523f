"""ModalityVectorizer: a raw clinical DataFrame to skfusion's modality columns."""

import os
import re
from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from ._audio import AudioLoader
from ._dicom import sniff_dicom
from ._image import ImageLoader
from ._text import TextEmbedder
from ._utils import _is_missing
from ._wide import WideFeatures

__all__ = ["ModalityVectorizer"]

#: What a column can be routed as.
KINDS = ("numeric", "categorical", "text", "image", "audio", "drop")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom")
AUDIO_SUFFIXES = (".wav",)
#: Non-missing cells looked at to decide whether a column holds file paths.
_SNIFF = 50
#: A low-cardinality string column whose values have more words than this
#: (median) is text, not a category.
_CATEGORY_WORDS = 4
#: Modality names of the tabular block and of the wide path.
TABULAR, WIDE = "tabular", "wide"


class ModalityVectorizer(TransformerMixin, BaseEstimator):
    """Turn a raw clinical table into skfusion's modality columns, by content.

    Each column is routed by what it holds, as skrub's ``TableVectorizer``
    does for tables, and the output columns carry the ``"<modality>__"``
    prefixes that :class:`~skfusion.CrossModalClassifier` groups into
    modalities. So one line is a complete model from a raw DataFrame::

        make_pipeline(ModalityVectorizer(), CrossModalClassifier())

    How a column is routed (``kinds_`` records the decision, ``verbose=1``
    prints it):

    - **numeric** (bool, int, float dtypes): median imputation with a
      missing-value indicator, then standardisation; into the ``tabular``
      modality, and as one standardised term into the ``wide`` path.
    - **categorical** (strings or categories with at most
      ``cardinality_threshold`` distinct values, of at most 4 words for
      the median value): one-hot, into the
      ``tabular`` modality (unseen categories give all zeros) and, as one
      term per category, into the ``wide`` path.
    - **text** (other strings: many distinct values, or sentences): a
      dense text embedding (``text``, by default a
      :class:`TextEmbedder`) as a modality of its own, named after the
      column, with a ``missing`` flag for empty notes; and its TF-IDF n-grams
      into the ``wide`` path.
    - **image** (paths ending in .png, .jpg, .jpeg, .tif, .tiff, .bmp, .dcm,
      .dicom, or files with a DICOM header): ``image`` (an
      :class:`ImageLoader`), a modality of its own.
    - **audio** (paths ending in .wav): ``audio`` (an :class:`AudioLoader`).
    - **drop**: only when asked for in ``kinds``.

    The ``wide`` modality (a :class:`WideFeatures` over every text,
    categorical and numeric column) feeds the estimators' wide path: a
    linear model over the sparse n-grams, the categories and the
    standardised numbers, added to the network's output (Wide & Deep). It
    is never densified.

    Parameters
    ----------
    kinds : dict of str to str, or None, default=None
        Overrides, column name -> one of "numeric", "categorical", "text",
        "image", "audio", "drop". Other columns are detected.
    cardinality_threshold : int, default=30
        A string column with at most this many distinct values (in fit) is
        categorical; with more, it is text.
    text : transformer or None, default=None
        Dense embedding of each text column (cloned per column). None: a
        ``TextEmbedder(n_components=32, random_state=random_state)``.
    wide : WideFeatures, "off" or None, default=None
        The wide path's transformer over the text, categorical and numeric
        columns (cloned; its ``categorical`` and ``numeric`` are set).
        None: ``WideFeatures()`` with its defaults; "off": no wide path.
    image : transformer or None, default=None
        Transformer of each image column (cloned). None:
        ``ImageLoader(size=32)``.
    audio : transformer or None, default=None
        Transformer of each audio column (cloned). None: ``AudioLoader()``.
    random_state : int, RandomState instance or None, default=None
        Passed to the default text embedder (its randomized SVD).
    verbose : int, default=0
        Print how each column was routed, in fit.

    Attributes
    ----------
    kinds_ : dict of str to str
        The kind of each input column.
    modalities_ : dict of str to list of str
        Output modality name -> the input columns that feed it.
    column_transformer_ : ColumnTransformer
        The fitted transformer that does the work (pandas output).
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    WideFeatures : The wide path's transformer.
    TextEmbedder, ImageLoader, AudioLoader : The per-modality transformers.

    Notes
    -----
    ``transform`` always returns a pandas DataFrame: the column names are
    what tells the estimator the modalities, so they are never dropped. A
    modality is named after its column, lowercased, with every run of other
    characters than letters and digits replaced by one ``_`` (``"Review
    Text"`` -> ``review_text``).

    Examples
    --------
    >>> import pandas as pd
    >>> from skfusion.preprocessing import ModalityVectorizer
    >>> X = pd.DataFrame({"age": [61, 45, None, 70],
    ...                   "ward": ["icu", "er", "icu", "er"],
    ...                   "note": ["chest pain at rest", "no chest pain",
    ...                            None, "fever and cough"]})
    >>> vec = ModalityVectorizer(cardinality_threshold=2, random_state=0)
    >>> out = vec.fit_transform(X)
    >>> vec.kinds_
    {'age': 'numeric', 'ward': 'categorical', 'note': 'text'}
    >>> list(vec.modalities_)
    ['tabular', 'note', 'wide']
    >>> out.columns[:4].tolist()
    ['tabular__age', 'tabular__missingindicator_age', 'tabular__ward_er', \
'tabular__ward_icu']
    """

    _parameter_constraints: dict = {
        "kinds": [dict, None],
        "cardinality_threshold": [Interval(Integral, 1, None, closed="left")],
        "text": [HasMethods(["fit", "transform"]), None],
        "wide": [HasMethods(["fit", "transform"]), StrOptions({"off"}), None],
        "image": [HasMethods(["fit", "transform"]), None],
        "audio": [HasMethods(["fit", "transform"]), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        kinds=None,
        cardinality_threshold=30,
        text=None,
        wide=None,
        image=None,
        audio=None,
        random_state=None,
        verbose=0,
    ):
        self.kinds = kinds
        self.cardinality_threshold = cardinality_threshold
        self.text = text
        self.wide = wide
        self.image = image
        self.audio = audio
        self.random_state = random_state
        self.verbose = verbose

    # -- fit -------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Route each column and fit its transformer.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The raw table.
        y : None
            Ignored.

        Returns
        -------
        self : ModalityVectorizer
        """
        self.fit_transform(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Route each column, fit, and return the modality columns.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        X_out : DataFrame
            Columns named ``"<modality>__<feature>"``.
        """
        frame = self._frame(X, reset=True)
        if frame.shape[0] == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={frame.shape}) while a "
                "minimum of 1 is required by ModalityVectorizer."
            )
        self.kinds_ = self._route(frame)
        steps, self.modalities_ = self._steps()
        if not steps:
            raise ValueError(
                "ModalityVectorizer has no column to transform: every column "
                f"was dropped ({self.kinds_}). Keep at least one column."
            )
        if self.verbose:
            print(self.describe())
        self.column_transformer_ = ColumnTransformer(
            steps, remainder="drop", sparse_threshold=0.0
        ).set_output(transform="pandas")
        return self.column_transformer_.fit_transform(frame)

    def transform(self, X):
        """The modality columns of X.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features_in_)
            With the columns seen in fit.

        Returns
        -------
        X_out : DataFrame
            Columns named ``"<modality>__<feature>"``, the index of X.
        """
        check_is_fitted(self)
        frame = self._frame(X, reset=False)
        return self.column_transformer_.transform(frame)

    def get_feature_names_out(self, input_features=None):
        """The output column names, ``"<modality>__<feature>"``.

        Parameters
        ----------
        input_features : array-like of str or None
            Checked against ``feature_names_in_``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        return self.column_transformer_.get_feature_names_out()

    def describe(self):
        """A readable summary of the routing: one line per modality."""
        check_is_fitted(self, "kinds_")
        lines = ["ModalityVectorizer routing:"]
        for name, columns in self.modalities_.items():
            shown = ", ".join(f"{c} ({self.kinds_[c]})" for c in columns)
            lines.append(f"  {name}: {shown}")
        dropped = [c for c, k in self.kinds_.items() if k == "drop"]
        if dropped:
            lines.append(f"  dropped: {', '.join(map(str, dropped))}")
        return "\n".join(lines)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    # -- internals -------------------------------------------------------
    def _frame(self, X, *, reset):
        """X as a DataFrame with string column names (never the caller's)."""
        if sp.issparse(X):
            raise TypeError(
                "ModalityVectorizer does not accept sparse input: pass the raw "
                "table as a DataFrame (or a dense array)."
            )
        if isinstance(X, pd.Series):
            X = X.to_frame()
        if not isinstance(X, pd.DataFrame):
            X = np.asarray(X, dtype=None if hasattr(X, "dtype") else object)
        if X.ndim == 2:
            validate_data(self, X, reset=reset, skip_check_array=True)
        if not isinstance(X, pd.DataFrame):
            arr = np.asarray(X, dtype=None if hasattr(X, "dtype") else object)
            if arr.ndim == 1:
                raise ValueError(
                    "ModalityVectorizer expects a 2-D table; got a 1-D array. "
                    "Reshape your data with X.reshape(-1, 1) for a single "
                    "column, or pass a DataFrame."
                )
            if arr.ndim != 2:
                raise ValueError(
                    f"ModalityVectorizer expects a 2-D table; got {arr.ndim} "
                    "dimensions."
                )
            if arr.dtype.kind == "c":
                raise ValueError("Complex data not supported by ModalityVectorizer.")
            X = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
            if arr.dtype.kind == "O":
                X = X.infer_objects()
        if X.shape[1] == 0:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={X.shape}) while a "
                "minimum of 1 is required by ModalityVectorizer."
            )
        frame = X.copy(deep=False)
        frame.columns = [str(c) for c in X.columns]
        for col in frame.columns:
            frame[col] = _plain(frame[col])
        return frame

    def _route(self, frame):
        overrides = dict(self.kinds or {})
        unknown = sorted(set(overrides) - set(frame.columns))
        if unknown:
            raise ValueError(
                f"kinds names columns {unknown} that are not in X; its columns "
                f"are {list(frame.columns)[:10]}."
            )
        bad = {c: k for c, k in overrides.items() if k not in KINDS}
        if bad:
            raise ValueError(
                f"kinds maps columns to unknown kinds {bad}; each kind must be "
                f"one of {KINDS}."
            )
        return {
            col: overrides.get(col) or self._detect(frame[col]) for col in frame.columns
        }

    def _detect(self, column):
        dtype = column.dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            return "numeric"
        values = [v for v in column if not _is_missing(v)]
        if not values:
            return "categorical"  # only its missingness can be learned
        if all(isinstance(v, str | os.PathLike) for v in values[:_SNIFF]):
            found = _file_kind(values[:_SNIFF])
            if found is not None:
                return found
        strings = list(map(str, values))
        if len(set(strings)) > self.cardinality_threshold:
            return "text"
        # Few distinct values, but sentences (a templated note): still text.
        words = np.median([len(v.split()) for v in strings])
        return "text" if words > _CATEGORY_WORDS else "categorical"

    def _steps(self):
        by_kind = {k: [c for c, v in self.kinds_.items() if v == k] for k in KINDS}
        steps, modalities = [], {}
        tabular = by_kind["numeric"] + by_kind["categorical"]
        if tabular:
            steps.append((TABULAR, _tabular(by_kind), tabular))
            modalities[TABULAR] = tabular
        taken = {TABULAR, WIDE}
        for kind in ("text", "image", "audio"):
            for col in by_kind[kind]:
                name = _modality_name(col, taken)
                steps.append((name, self._transformer(kind), [col]))
                modalities[name] = [col]
        wide_cols = by_kind["text"] + by_kind["categorical"] + by_kind["numeric"]
        if wide_cols and not (isinstance(self.wide, str) and self.wide == "off"):
            wide = WideFeatures() if self.wide is None else clone(self.wide)
            # The kinds are given by position in wide_cols.
            n_text, n_cat = len(by_kind["text"]), len(by_kind["categorical"])
            categorical = list(range(n_text, n_text + n_cat)) or None
            numeric = list(range(n_text + n_cat, len(wide_cols))) or None
            wide.set_params(categorical=categorical, numeric=numeric)
            steps.append((WIDE, wide, wide_cols))
            modalities[WIDE] = wide_cols
        return steps, modalities

    def _transformer(self, kind):
        if kind == "text":
            if self.text is None:
                return TextEmbedder(n_components=32, random_state=self.random_state)
            return clone(self.text)
        if kind == "image":
            return ImageLoader(size=32) if self.image is None else clone(self.image)
        return AudioLoader() if self.audio is None else clone(self.audio)


def _plain(column):
    """A pandas extension column (nullable ints, floats and booleans; the
    "string" dtype) as float64 or object with NaN for pd.NA, which
    scikit-learn's imputers and encoders cannot compare."""
    dtype = column.dtype
    if not isinstance(dtype, pd.api.extensions.ExtensionDtype) or isinstance(
        dtype, pd.CategoricalDtype | pd.DatetimeTZDtype
    ):
        return column
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return column.astype("float64")
    if pd.api.types.is_string_dtype(dtype) and column.hasnans:
        values = column.astype(object)
        return values.where(column.notna(), np.nan)
    return column


def _tabular(by_kind):
    parts = []
    if by_kind["numeric"]:
        numeric = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
        )
        parts.append(("numeric", numeric, by_kind["numeric"]))
    if by_kind["categorical"]:
        onehot = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="<missing>"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        parts.append(("categorical", onehot, by_kind["categorical"]))
    return ColumnTransformer(
        parts, verbose_feature_names_out=False, sparse_threshold=0.0
    ).set_output(transform="pandas")


def _modality_name(column, taken):
    """A valid, unused modality name for ``column``."""
    base = re.sub(r"[^0-9a-zA-Z]+", "_", str(column)).strip("_").lower() or "column"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _file_kind(values):
    """ "image" or "audio" when the strings look like such files, else None."""
    suffixes = {os.path.splitext(os.fspath(v))[1].lower() for v in values}
    if suffixes and suffixes <= set(IMAGE_SUFFIXES):
        return "image"
    if suffixes and suffixes <= set(AUDIO_SUFFIXES):
        return "audio"
    paths = [os.fspath(v) for v in values]
    if all(os.path.isfile(p) for p in paths):
        if all(sniff_dicom(p) == "header" for p in paths):
            return "image"
    return None
