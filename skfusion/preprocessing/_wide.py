"""Text n-grams and categories for the wide (linear) path, kept sparse."""

from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils._param_validation import Interval, RealNotInt
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from .._names import wide_feature_names
from .._validation import describe_row, plain
from ._text import _TOKEN_PATTERN, _check_ngram_range, _to_text
from ._utils import _check_not_empty, _column_names, _is_missing, _TextColumnMixin

__all__ = ["WideFeatures"]

#: Ids travel in float32 columns, which hold every integer up to 2**24.
_MAX_ID = 2**24
#: Term of a category column whose cell is missing (a category of its own).
MISSING_CATEGORY = "<missing>"


class WideFeatures(_TextColumnMixin, TransformerMixin, BaseEstimator):
    """Sparse TF-IDF n-grams and one-hot categories for the wide path.

    The wide path of :class:`~skfusion.CrossModalClassifier` is a linear
    model over high-dimensional sparse features whose output is added to
    the network's logits (Wide & Deep, Cheng et al. 2016). This transformer
    gives it its input without ever building a dense rows x vocabulary
    matrix: each row becomes the ids of its ``max_terms`` largest terms and
    their weights, as two blocks of dense columns. Memory is
    O(rows x ``max_terms``), whatever the vocabulary size.

    - A text column gets TF-IDF word n-grams (``ngram_range``) and, with
      ``char_ngram_range``, TF-IDF character n-grams inside word boundaries;
      each vectorizer's rows are L2-normalised, as
      :class:`~sklearn.feature_extraction.text.TfidfVectorizer` does.
    - A ``categorical`` column gets one term per category seen in fit, of
      weight 1 (a one-hot encoding); a missing cell is a category of its
      own. A category unseen in fit gives no term (as ``OneHotEncoder(
      handle_unknown="ignore")``).
    - A ``numeric`` column is one term whose weight is the standardised
      value (mean and standard deviation of fit); a missing value gives
      weight 0 and a ``<column>=<missing>`` term instead. So the wide path
      can be the whole of a linear model: TF-IDF, one-hot and numbers.

    Every column has its own vocabulary; the ids are offsets in one shared
    range. Id 0 is padding (weight 0), so a row with fewer terms, a missing
    text or new words only, is padded. A linear model on these ids and
    weights is exactly a linear model on the sparse matrix of
    :meth:`transform_sparse`.

    Parameters
    ----------
    categorical : list of str or int, or None, default=None
        Columns (names or positions) that hold categories.
    numeric : list of str or int, or None, default=None
        Columns (names or positions) that hold numbers. The columns in
        neither list hold free text.
    ngram_range : tuple (min_n, max_n), default=(1, 2)
        Word n-grams of the text columns.
    char_ngram_range : tuple (min_n, max_n) or None, default=None
        Character n-grams (``analyzer="char_wb"``) of the text columns, in
        addition to the words; None: words only.
    min_df : int or float, default=2
        Ignore terms (and categories) found in fewer rows than this count
        (int) or proportion (float).
    max_features : int or None, default=None
        Keep only the most frequent terms of each vectorizer.
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)`` instead of raw counts.
    lowercase : bool, default=True
        Lowercase texts before tokenising.
    max_terms : int, default=256
        Terms kept per row: the ones of largest weight. The output has
        ``max_terms_`` id columns and as many weight columns, where
        ``max_terms_`` is the smaller of ``max_terms`` and the most terms a
        training row had.

    Attributes
    ----------
    vectorizers_ : list of (str, str, object)
        Per input column: its name, its kind ("text", "categorical",
        "numeric") and what fit learnt: the fitted TF-IDF vectorizers (a
        list), the categories (an array), or the mean and scale.
    terms_ : ndarray of str, shape (vocab_size_,)
        What each id stands for, ``"<column>:<term>"`` (words),
        ``"<column>:c:<n-gram>"`` (characters), ``"<column>=<category>"``
        or ``"<column>"`` (a number); ``terms_[0]`` is padding.
    vocab_size_ : int
        Number of ids, padding included.
    max_terms_ : int
        Terms per output row.
    truncated_fraction_ : float
        Share of the training rows that had more than ``max_terms`` terms
        (their smallest-weight terms were dropped).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X has string column names.

    See Also
    --------
    skfusion.preprocessing.TextEmbedder : Dense text vectors for the deep path.

    Examples
    --------
    >>> import pandas as pd
    >>> from skfusion.preprocessing import WideFeatures
    >>> X = pd.DataFrame({"note": ["chest pain", "no chest pain", None],
    ...                   "ward": ["icu", "er", "icu"]})
    >>> wide = WideFeatures(categorical=["ward"], min_df=1, max_terms=4)
    >>> out = wide.fit_transform(X)
    >>> wide.get_feature_names_out()[[0, 4]].tolist()
    ['term_0_vocab_9', 'weight_0']
    >>> [wide.terms_[int(i)] for i in out[2, :4] if i]
    ['note=<missing>', 'ward=icu']
    """

    _parameter_constraints: dict = {
        "categorical": [list, tuple, None],
        "numeric": [list, tuple, None],
        "ngram_range": [tuple],
        "char_ngram_range": [tuple, None],
        "min_df": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="both"),
        ],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "sublinear_tf": ["boolean"],
        "lowercase": ["boolean"],
        "max_terms": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        categorical=None,
        numeric=None,
        ngram_range=(1, 2),
        char_ngram_range=None,
        min_df=2,
        max_features=None,
        sublinear_tf=True,
        lowercase=True,
        max_terms=256,
    ):
        self.categorical = categorical
        self.numeric = numeric
        self.ngram_range = ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.lowercase = lowercase
        self.max_terms = max_terms

    # -- fit -------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn each column's vocabulary (and IDF weights) or categories.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_columns)
            Texts and categories.
        y : None
            Ignored.

        Returns
        -------
        self : WideFeatures
        """
        self._fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then return the ids and weights of X (vectorised once)."""
        return self._dense(self._fit(X))

    def _fit(self, X):
        words = _check_ngram_range(self.ngram_range)
        chars = (
            None
            if self.char_ngram_range is None
            else _check_ngram_range(self.char_ngram_range)
        )
        X_checked, values, index = self._as_columns(X)
        _check_not_empty(values, type(self).__name__)
        validate_data(self, X_checked, reset=True, skip_check_array=True)
        names = _column_names(X_checked)
        categorical = self._positions(self.categorical, names, "categorical")
        numeric = self._positions(self.numeric, names, "numeric")
        both = sorted(categorical & numeric)
        if both:
            raise ValueError(
                f"Columns {[names[j] for j in both]} are in both categorical "
                "and numeric; give each column one kind."
            )
        self.vectorizers_, blocks, terms = [], [], ["<pad>"]
        for j, name in enumerate(names):
            column = values[:, j]
            if j in categorical:
                cats = _categories(column, self.min_df)
                self.vectorizers_.append((name, "categorical", cats))
                terms += [f"{name}={c}" for c in cats]
                blocks.append(_one_hot(column, cats))
                continue
            if j in numeric:
                numbers = _numbers(column, name, index)
                present = numbers[~np.isnan(numbers)]
                mean = float(present.mean()) if len(present) else 0.0
                scale = float(present.std()) if len(present) else 1.0
                stats = (mean, scale if scale > 0 else 1.0)
                self.vectorizers_.append((name, "numeric", stats))
                terms += [name, f"{name}={MISSING_CATEGORY}"]
                blocks.append(_number_block(numbers, stats))
                continue
            docs, missing = _column_documents(column)
            fitted = []
            for analyzer, ngrams in (("word", words), ("char_wb", chars)):
                if ngrams is None:
                    continue
                vec = self._vectorizer(analyzer, ngrams)
                try:
                    vec.fit(docs[~missing])
                except ValueError:  # no usable term in this column
                    continue
                fitted.append(vec)
                mark = ":" if analyzer == "word" else ":c:"
                terms += [f"{name}{mark}{t}" for t in vec.get_feature_names_out()]
            self.vectorizers_.append((name, "text", fitted))
            terms.append(f"{name}={MISSING_CATEGORY}")
            blocks.append(_text_block(fitted, docs, missing))
        if len(terms) > _MAX_ID:
            raise ValueError(
                f"WideFeatures learnt {len(terms):,} terms, more than "
                f"{_MAX_ID:,}, the largest id that a float32 column holds "
                "exactly. Raise min_df or set max_features."
            )
        self.terms_ = np.asarray(terms, dtype=object)
        self.vocab_size_ = len(terms)
        matrix = sp.hstack(blocks, format="csr", dtype=np.float32)
        per_row = np.diff(matrix.indptr)
        self.truncated_fraction_ = float(np.mean(per_row > self.max_terms))
        self.max_terms_ = int(max(1, min(self.max_terms, per_row.max(initial=0))))
        return matrix

    def _positions(self, columns, names, param):
        if columns is None:
            return set()
        out = set()
        for col in columns:
            if isinstance(col, str):
                if col not in names:
                    raise ValueError(
                        f"{param} names column {col!r}, which is not in X "
                        f"(columns {names}). Name columns of X, or give positions."
                    )
                out.add(names.index(col))
            elif isinstance(col, Integral) and -len(names) <= col < len(names):
                out.add(int(col) % len(names))
            else:
                raise ValueError(
                    f"{param} holds {col!r}, which is neither a column "
                    f"name nor a position in 0..{len(names) - 1}."
                )
        return out

    def _vectorizer(self, analyzer, ngrams):
        return TfidfVectorizer(
            analyzer=analyzer,
            lowercase=self.lowercase,
            token_pattern=_TOKEN_PATTERN if analyzer == "word" else None,
            ngram_range=ngrams,
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            dtype=np.float32,
        )

    # -- transform -------------------------------------------------------
    def transform_sparse(self, X):
        """The sparse matrix (n_samples, vocab_size_) behind :meth:`transform`.

        Column ``i`` is id ``i`` (column 0, padding, is empty). Use it to
        fit any scikit-learn linear model on exactly the wide features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        matrix : scipy.sparse.csr_matrix of float32
        """
        matrix = self._matrix(X)
        padding = sp.csr_matrix((matrix.shape[0], 1), dtype=np.float32)
        return sp.hstack([padding, matrix], format="csr")

    def _matrix(self, X):
        """The terms of X: column ``i`` is id ``i + 1``."""
        check_is_fitted(self)
        X_checked, values, index = self._as_columns(X)
        validate_data(self, X_checked, reset=False, skip_check_array=True)
        blocks = []
        for j, (name, kind, state) in enumerate(self.vectorizers_):
            column = values[:, j]
            if kind == "categorical":
                blocks.append(_one_hot(column, state))
            elif kind == "numeric":
                blocks.append(_number_block(_numbers(column, name, index), state))
            else:
                blocks.append(_text_block(state, *_column_documents(column)))
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def transform(self, X):
        """Ids and weights of each row's largest terms.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        X_out : ndarray of shape (n_samples, 2 * max_terms_), float32
            ``max_terms_`` ids (0 = padding), then their weights.
        """
        return self._dense(self._matrix(X))

    def _dense(self, matrix):
        return top_terms(matrix, self.max_terms_)

    def get_feature_names_out(self, input_features=None):
        """``term_<i>_vocab_<V>`` for the ids, then ``weight_<i>``.

        The names say that the columns are a wide (sparse linear) input of
        ``V`` ids: the estimators give such a modality to their wide path,
        not to an encoder.

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
        return wide_feature_names(self.max_terms_, self.vocab_size_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        return tags


def top_terms(matrix, k):
    """``(n, 2k)`` float32: each row's ``k`` entries of largest magnitude in
    a CSR matrix, as ids (column + 1, 0 = padding) then values; never
    densifies."""
    matrix = sp.csr_matrix(matrix)
    n = matrix.shape[0]
    counts = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(n), counts)
    # Order each row's entries by decreasing |value| (ties: by column).
    order = np.lexsort((matrix.indices, -np.abs(matrix.data), rows))
    rank = np.arange(len(order)) - np.repeat(matrix.indptr[:-1], counts)
    keep = rank < k
    order, rank, rows = order[keep], rank[keep], rows[keep]
    out = np.zeros((n, 2 * k), dtype=np.float32)
    out[rows, rank] = matrix.indices[order] + 1
    out[rows, k + rank] = matrix.data[order]
    return out


def _column_documents(column):
    docs = np.empty(len(column), dtype=object)
    missing = np.zeros(len(column), dtype=bool)
    for i, value in enumerate(column):
        missing[i] = _is_missing(value)
        docs[i] = "" if missing[i] else _to_text(value)
    return docs, missing


def _text_block(fitted, docs, missing):
    """TF-IDF blocks of each vectorizer, then the column's missing term.

    A missing text is the empty document, which every vectorizer maps to
    an empty row."""
    parts = [vec.transform(docs) for vec in fitted]
    parts.append(sp.csr_matrix(missing.astype(np.float32)[:, None]))
    return sp.hstack(parts, format="csr")


def _numbers(column, name, index):
    """The column as float64 with NaN for missing cells; a cell that is not
    a number raises an error naming the column and the row."""
    out = np.full(len(column), np.nan)
    for i, value in enumerate(column):
        if _is_missing(value):
            continue
        try:
            out[i] = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"WideFeatures: numeric column {name!r}, {describe_row(i, index)}, "
                f"holds {plain(value)!r}, which is not a number. Clean the "
                "column, or list it in categorical."
            ) from None
    if not np.isfinite(out[~np.isnan(out)]).all():
        row = int(np.flatnonzero(np.isinf(out))[0])
        raise ValueError(
            f"WideFeatures: numeric column {name!r}, {describe_row(row, index)}, "
            "is infinite."
        )
    return out


def _number_block(numbers, stats):
    """Standardised value, then the missing term (NaN -> 0 and missing 1)."""
    mean, scale = stats
    missing = np.isnan(numbers)
    z = np.where(missing, 0.0, (numbers - mean) / scale).astype(np.float32)
    dense = np.column_stack([z, missing.astype(np.float32)])
    return sp.csr_matrix(dense)


def _category_key(value):
    return MISSING_CATEGORY if _is_missing(value) else _to_text(value)


def _categories(column, min_df):
    counts = pd.Series([_category_key(v) for v in column]).value_counts()
    threshold = min_df if isinstance(min_df, Integral) else min_df * len(column)
    return np.asarray(sorted(counts.index[counts >= threshold]), dtype=object)


def _one_hot(column, cats):
    lookup = {c: i for i, c in enumerate(cats)}
    ids = np.array([lookup.get(_category_key(v), -1) for v in column])
    rows = np.flatnonzero(ids >= 0)
    return sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, ids[rows])),
        shape=(len(column), len(cats)),
    )
