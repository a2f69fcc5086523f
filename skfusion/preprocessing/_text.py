"""Free-text columns to dense vectors: TF-IDF followed by truncated SVD (LSA)."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    RealNotInt,
)
from sklearn.utils.extmath import randomized_svd, svd_flip
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from .._names import output_names
from ._utils import (
    _check_not_empty,
    _column_names,
    _is_missing,
    _TextColumnMixin,
)

__all__ = ["TextEmbedder"]

# Keeps one-character tokens, so short codes and numbers ("3", "x") still count.
_TOKEN_PATTERN = r"(?u)\b\w+\b"


# -- the transformer ----------------------------------------------------------


class TextEmbedder(_TextColumnMixin, TransformerMixin, BaseEstimator):
    """Embed free text as dense vectors with TF-IDF and truncated SVD (LSA).

    Nothing is downloaded: the vocabulary and the projection are learnt from
    the texts seen in ``fit``. Each document is turned into a TF-IDF vector
    (:class:`~sklearn.feature_extraction.text.TfidfVectorizer`), projected on
    the ``n_components`` leading right singular vectors of the training
    TF-IDF matrix (latent semantic analysis) and, by default, L2-normalised.

    A text is *missing* when it is None, NaN, ``pd.NA``, empty or only
    whitespace: its output row is all zeros, with ``missing=1`` in the
    indicator column. A text made only of words unseen in ``fit`` is not
    missing; its vector is zero.

    Parameters
    ----------
    n_components : int, default=32
        Width of the output vectors. The width is always ``n_components``
        even when fewer components can be learnt (fewer documents or terms
        than ``n_components``): the missing components are zero.
    max_features : int or None, default=20000
        Keep only the ``max_features`` most frequent terms (None: all).
    ngram_range : tuple (min_n, max_n), default=(1, 2)
        Word n-grams used as terms.
    min_df : int or float, default=1
        Ignore terms found in fewer documents than this count (int) or this
        proportion of the documents (float in [0, 1]).
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)`` instead of raw term counts.
    lowercase : bool, default=True
        Lowercase texts before tokenising.
    normalize : bool, default=True
        L2-normalise each output vector (usual in LSA: cosine geometry).
    add_indicator : bool, default=True
        Append the ``missing`` column (1.0 for a missing text, else 0.0).
    random_state : int, RandomState instance or None, default=None
        Seed of the randomized SVD. Pass an int for reproducible output.

    Attributes
    ----------
    vectorizer_ : TfidfVectorizer
        The fitted TF-IDF vectorizer.
    components_ : ndarray of shape (n_components, n_terms), dtype float32
        Projection rows; rows past ``n_components_`` are zero padding.
    singular_values_ : ndarray of shape (n_components,), dtype float32
        Singular values of the training TF-IDF matrix (zero for padding).
    n_components_ : int
        Number of learnt, non-zero components (at most ``n_components``).
    n_features_in_ : int
        Number of input columns; several columns are joined per row with a
        space into one document.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input column names, when X has string column names.

    See Also
    --------
    skfusion.preprocessing.ImageLoader : Image paths to pixel arrays.

    Notes
    -----
    Input is one column of texts (a pandas Series, a list, an object or
    string array) or a 2-D table; with several columns, the non-missing
    cells of a row are joined with a space. Non-string cells are converted
    to text, never rejected: bytes are decoded as UTF-8 (invalid bytes
    replaced), anything else (numbers, booleans, ...) goes through ``str``,
    so a code stored as the int ``250`` reads ``"250"``. A text of any
    length is used whole. A 1-D *numeric* ndarray is rejected as ambiguous
    (one sample or one column, as in scikit-learn); reshape it to
    ``(-1, 1)``.

    Examples
    --------
    >>> from skfusion.preprocessing import TextEmbedder
    >>> notes = ["chest pain at rest", "no chest pain", None, "fever and cough"]
    >>> emb = TextEmbedder(n_components=2, random_state=0)
    >>> X = emb.fit_transform(notes)
    >>> X.shape, X.dtype
    ((4, 3), dtype('float32'))
    >>> emb.get_feature_names_out().tolist()
    ['text_0', 'text_1', 'missing']
    >>> X[:, -1].tolist()
    [0.0, 0.0, 1.0, 0.0]
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "ngram_range": [tuple],
        "min_df": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="both"),
        ],
        "sublinear_tf": ["boolean"],
        "lowercase": ["boolean"],
        "normalize": ["boolean"],
        "add_indicator": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_components=32,
        max_features=20000,
        ngram_range=(1, 2),
        min_df=1,
        sublinear_tf=True,
        lowercase=True,
        normalize=True,
        add_indicator=True,
        random_state=None,
    ):
        self.n_components = n_components
        self.max_features = max_features
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.lowercase = lowercase
        self.normalize = normalize
        self.add_indicator = add_indicator
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary, IDF weights and SVD projection.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_columns)
            Texts; several columns are joined per row.
        y : None
            Ignored.

        Returns
        -------
        self : TextEmbedder
            The fitted transformer.
        """
        self._fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit to X and return its embedding (vectorises the texts once).

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_columns)
            Texts; several columns are joined per row.
        y : None
            Ignored.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_components + add_indicator)
            Embeddings, float32.
        """
        tfidf, missing = self._fit(X)
        return self._embed(tfidf, missing)

    def transform(self, X):
        """Embed texts.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_features_in_)
            Texts, with the same columns as in ``fit``.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_components + add_indicator)
            Embeddings (float32); missing texts give zero rows with
            ``missing=1``.
        """
        check_is_fitted(self)
        X_checked, values, _ = self._as_columns(X)
        validate_data(self, X_checked, reset=False, skip_check_array=True)
        docs, missing = _documents(values)
        tfidf = None
        if not missing.all():  # TF-IDF refuses 0 documents (one row, no note)
            tfidf = self.vectorizer_.transform(docs[~missing])
        return self._embed(tfidf, missing)

    def get_feature_names_out(self, input_features=None):
        """Output feature names.

        The first ``n_components`` columns are the embedding, named
        ``text_0`` ... ``text_{n_components - 1}`` (a vector output: the
        names carry no shape). With ``add_indicator=True`` the last column
        is ``missing``: 1.0 where the row's text is absent, else 0.0. Inside
        a ColumnTransformer step named ``"note"`` they read ``note__text_0``
        ... ``note__missing``.

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
        check_is_fitted(self, "n_features_in_")
        _check_feature_names_in(self, input_features)
        names = [f"text_{i}" for i in range(self.n_components)]
        return output_names(names, self.add_indicator)

    # -- internals -------------------------------------------------------

    def _fit(self, X):
        """Fit and return the TF-IDF matrix of the present rows and the mask."""
        min_n, max_n = _check_ngram_range(self.ngram_range)
        X_checked, values, _ = self._as_columns(X)
        _check_not_empty(values, type(self).__name__)
        validate_data(self, X_checked, reset=True, skip_check_array=True)
        docs, missing = _documents(values)
        where = f"column(s) {_column_names(X_checked)}"
        if missing.all():
            raise ValueError(
                f"TextEmbedder found no text to learn from in {where}: all "
                f"{len(missing)} values are missing (None, NaN or blank). Fit "
                "on rows that contain text, or leave this column out."
            )
        self.vectorizer_ = TfidfVectorizer(
            lowercase=self.lowercase,
            token_pattern=_TOKEN_PATTERN,
            ngram_range=(min_n, max_n),
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            dtype=np.float32,
        )
        try:
            tfidf = self.vectorizer_.fit_transform(docs[~missing])
        except ValueError as exc:  # empty vocabulary, or pruned to nothing
            raise ValueError(
                f"TextEmbedder found no usable terms in {where} ({exc}). Fit "
                "on texts that contain words, or lower min_df."
            ) from exc
        self._fit_svd(tfidf)
        return tfidf, missing

    def _fit_svd(self, tfidf):
        """Randomized SVD on the rank bound, zero-padded to n_components."""
        rng = check_random_state(self.random_state)
        k = min(self.n_components, *tfidf.shape)
        _, s, vt = randomized_svd(tfidf, k, random_state=rng)
        # Sign convention of TruncatedSVD: depends on the components only.
        _, vt = svd_flip(None, vt, u_based_decision=False)
        # Directions with a negligible singular value are arbitrary: drop them.
        keep = s > s.max(initial=0.0) * max(tfidf.shape) * np.finfo(s.dtype).eps
        self.n_components_ = int(keep.sum())
        self.components_ = np.zeros(
            (self.n_components, tfidf.shape[1]), dtype=np.float32
        )
        self.components_[: self.n_components_] = vt[keep]
        self.singular_values_ = np.zeros(self.n_components, dtype=np.float32)
        self.singular_values_[: self.n_components_] = s[keep]

    def _embed(self, tfidf, missing):
        """Project present rows and scatter them into a zero-filled output."""
        out = np.zeros(
            (missing.shape[0], self.n_components + self.add_indicator),
            dtype=np.float32,
        )
        if tfidf is not None and tfidf.shape[0]:
            emb = np.asarray(tfidf @ self.components_.T, dtype=np.float32)
            if self.normalize:
                emb = l2_normalize(emb, copy=False)
            out[~missing, : self.n_components] = emb
        if self.add_indicator:
            out[:, -1] = missing
        return out


def _check_ngram_range(ngram_range):
    valid = (
        len(ngram_range) == 2
        and all(
            isinstance(n, Integral) and not isinstance(n, bool) for n in ngram_range
        )
        and 1 <= ngram_range[0] <= ngram_range[1]
    )
    if not valid:
        raise InvalidParameterError(
            "The 'ngram_range' parameter of TextEmbedder must be a tuple "
            f"(min_n, max_n) of ints with 1 <= min_n <= max_n. Got {ngram_range!r}."
        )
    return int(ngram_range[0]), int(ngram_range[1])


def _documents(values):
    """One document per row (cells joined by a space) and a missing mask."""
    docs = np.empty(len(values), dtype=object)
    missing = np.zeros(len(values), dtype=bool)
    for i, row in enumerate(values):
        text = " ".join(_to_text(v) for v in row if not _is_missing(v))
        missing[i] = not text.strip()
        docs[i] = text
    return docs, missing


def _to_text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
