"""Free-text columns to padded token ids, for embeddings learnt end to end."""

import re
from collections import Counter
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from .._names import output_names, token_names
from ._text import _TOKEN_PATTERN, _documents
from ._utils import (
    _check_not_empty,
    _column_names,
    _TextColumnMixin,
)

__all__ = ["TextTokenizer"]

# float32 holds every integer up to 2**24 exactly; ids are emitted as float32.
_MAX_VOCABULARY = 2**24 - 2


class TextTokenizer(_TextColumnMixin, TransformerMixin, BaseEstimator):
    """Turn free text into fixed-length rows of token ids.

    The vocabulary is learnt in ``fit``: words (runs of letters and digits,
    as :class:`TextEmbedder` tokenises) seen in at least ``min_frequency``
    training texts, at most ``max_vocabulary`` of them, ranked by document
    frequency (ties in alphabetical order, so the ids are deterministic).
    ``transform`` maps each text to the ids of its first ``max_length``
    words and pads the rest of the row.

    Two ids are reserved: :attr:`PAD_ID` (0) fills the row after the last
    word, :attr:`OOV_ID` (1) stands for a word outside the vocabulary. The
    vocabulary's words get ids 2, 3, ... in rank order. A *missing* text
    (None, NaN, ``pd.NA``, empty or only whitespace) is a row of padding
    with ``missing=1``; a text made only of unknown words is present, a row
    of ``OOV_ID``.

    The output is meant for :class:`~skfusion.CrossModalClassifier` and
    :class:`~skfusion.CrossModalRegressor`, which recognise token columns by
    their names (see :meth:`get_feature_names_out`) and learn a token
    embedding for them end to end (``token_encoder=`` "mean", "conv" or
    "transformer"), as one modality among others.

    Parameters
    ----------
    max_length : int, default=64
        Ids per row. Longer texts keep their first ``max_length`` words.
    min_frequency : int, default=1
        Keep words found in at least this many training texts.
    max_vocabulary : int or None, default=20000
        Keep at most this many words (the most frequent); None keeps all
        (up to 2**24 - 2, so that every id is exact in float32).
    lowercase : bool, default=True
        Lowercase texts before splitting them into words.
    add_indicator : bool, default=True
        Append the ``missing`` column (1.0 for a missing text, else 0.0).

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Word to id (ids from 2).
    vocab_size_ : int
        Number of distinct ids, padding and out-of-vocabulary included:
        ``len(vocabulary_) + 2``. Every id is below it.
    n_features_in_ : int
        Number of input columns; several columns are joined per row.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input column names, when X has string column names.

    See Also
    --------
    skfusion.preprocessing.TextEmbedder : Texts to dense TF-IDF + LSA vectors.

    Notes
    -----
    Ids are emitted as float32 (exact for every id allowed) so that a
    ColumnTransformer can stack them with other float32 features.

    Input is as for :class:`TextEmbedder`: one column of texts or a table
    whose non-missing cells are joined per row; non-string cells are
    converted to text (bytes decoded as UTF-8, anything else through
    ``str``). A text of any length is accepted; only its first
    ``max_length`` words are read.

    Examples
    --------
    >>> from skfusion.preprocessing import TextTokenizer
    >>> notes = ["chest pain at rest", "no chest pain", None]
    >>> tok = TextTokenizer(max_length=4).fit(notes)
    >>> tok.vocabulary_
    {'chest': 2, 'pain': 3, 'at': 4, 'no': 5, 'rest': 6}
    >>> tok.transform(["Chest pain, fever", "", "pain " * 9]).astype(int).tolist()
    [[2, 3, 1, 0, 0], [0, 0, 0, 0, 1], [3, 3, 3, 3, 0]]
    >>> tok.get_feature_names_out().tolist()
    ['token_0_vocab_7', 'token_1_vocab_7', 'token_2_vocab_7', \
'token_3_vocab_7', 'missing']
    """

    #: Id of the padding after a text's last word (and of a missing text).
    PAD_ID = 0
    #: Id of a word outside the vocabulary.
    OOV_ID = 1

    _parameter_constraints: dict = {
        "max_length": [Interval(Integral, 1, None, closed="left")],
        "min_frequency": [Interval(Integral, 1, None, closed="left")],
        "max_vocabulary": [
            Interval(Integral, 1, _MAX_VOCABULARY, closed="both"),
            None,
        ],
        "lowercase": ["boolean"],
        "add_indicator": ["boolean"],
    }

    def __init__(
        self,
        *,
        max_length=64,
        min_frequency=1,
        max_vocabulary=20000,
        lowercase=True,
        add_indicator=True,
    ):
        self.max_length = max_length
        self.min_frequency = min_frequency
        self.max_vocabulary = max_vocabulary
        self.lowercase = lowercase
        self.add_indicator = add_indicator

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_columns)
            Texts; several columns are joined per row with a space.
        y : None
            Ignored.

        Returns
        -------
        self : TextTokenizer
            The fitted transformer.
        """
        X_checked, values, _ = self._as_columns(X)
        _check_not_empty(values, type(self).__name__)
        validate_data(self, X_checked, reset=True, skip_check_array=True)
        docs, missing = _documents(values)
        where = f"column(s) {_column_names(X_checked)}"
        if missing.all():
            raise ValueError(
                f"TextTokenizer found no text to learn from in {where}: all "
                f"{len(missing)} values are missing (None, NaN or blank). Fit "
                "on rows that contain text, or leave this column out."
            )
        counts = Counter()
        for doc in docs[~missing]:
            counts.update(set(self._words(doc)))
        ranked = sorted(
            (item for item in counts.items() if item[1] >= self.min_frequency),
            key=lambda item: (-item[1], item[0]),
        )
        limit = _MAX_VOCABULARY if self.max_vocabulary is None else self.max_vocabulary
        if not ranked:
            raise ValueError(
                f"TextTokenizer kept no word from {where}: none is found in "
                f"min_frequency={self.min_frequency} texts. Lower min_frequency."
            )
        first = self.OOV_ID + 1
        self.vocabulary_ = {w: first + i for i, (w, _) in enumerate(ranked[:limit])}
        self.vocab_size_ = len(self.vocabulary_) + first
        return self

    def transform(self, X):
        """Map texts to rows of token ids.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_features_in_)
            Texts, with the same columns as in ``fit``.

        Returns
        -------
        X_out : ndarray of shape (n_samples, max_length + add_indicator)
            Token ids (float32, exact integers); the last column is
            ``missing`` when ``add_indicator=True``.
        """
        check_is_fitted(self)
        X_checked, values, _ = self._as_columns(X)
        validate_data(self, X_checked, reset=False, skip_check_array=True)
        docs, missing = _documents(values)
        out = np.full(
            (len(docs), self.max_length + self.add_indicator),
            self.PAD_ID,
            dtype=np.float32,
        )
        lookup, oov = self.vocabulary_.get, self.OOV_ID
        for i in np.flatnonzero(~missing):
            ids = [lookup(w, oov) for w in self._words(docs[i], self.max_length)]
            out[i, : len(ids)] = ids
        if self.add_indicator:
            out[:, -1] = missing
        return out

    def get_feature_names_out(self, input_features=None):
        """Output feature names.

        A token output: column ``i`` is named ``token_{i}_vocab_{V}``, the id
        at position ``i`` of the text, where ``V`` is :attr:`vocab_size_`
        (every id is below ``V``; id 0 is padding). The estimators read
        ``V`` from the names to size their embedding table. With
        ``add_indicator=True`` the last column is ``missing``. Inside a
        ColumnTransformer step named ``"note"`` they read
        ``note__token_0_vocab_5002`` ... ``note__missing``.

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
        check_is_fitted(self, "vocab_size_")
        _check_feature_names_in(self, input_features)
        names = token_names(self.max_length, self.vocab_size_)
        return output_names(names, self.add_indicator)

    # -- internals -------------------------------------------------------

    def _words(self, doc, limit=None):
        text = doc.lower() if self.lowercase else doc
        words = _WORD.finditer(text)
        if limit is None:
            return [m.group() for m in words]
        return [m.group() for _, m in zip(range(limit), words, strict=False)]


_WORD = re.compile(_TOKEN_PATTERN)
