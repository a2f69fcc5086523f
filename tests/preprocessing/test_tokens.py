"""Tests for skfusion.preprocessing.TextTokenizer."""

import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from pandas.testing import assert_frame_equal
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skfusion.preprocessing import TextTokenizer

NOTES = [
    "Chest pain at rest",
    "no chest pain",
    "fever and cough",
    "cough, cough and more cough",
]


def test_vocabulary_ranks_by_document_frequency_then_alphabet():
    tok = TextTokenizer().fit(NOTES)
    # document frequencies: and 2, chest 2, cough 2, pain 2, the rest 1;
    # "cough" three times in one note still counts one document.
    assert tok.vocabulary_ == {
        "and": 2,
        "chest": 3,
        "cough": 4,
        "pain": 5,
        "at": 6,
        "fever": 7,
        "more": 8,
        "no": 9,
        "rest": 10,
    }
    assert tok.vocab_size_ == 11
    assert (tok.PAD_ID, tok.OOV_ID) == (0, 1)


def test_transform_maps_pads_truncates_and_marks_missing():
    tok = TextTokenizer(max_length=4).fit(NOTES)
    out = tok.transform(
        ["COUGH and sepsis", None, "  ", "chest pain and fever at rest"]
    )
    assert out.dtype == np.float32
    assert out.shape == (4, 5)
    assert_array_equal(
        out,
        [
            [4, 2, 1, 0, 0],  # unknown "sepsis" -> OOV id 1, then padding
            [0, 0, 0, 0, 1],  # None: padding, missing=1
            [0, 0, 0, 0, 1],  # blank: missing
            [3, 5, 2, 7, 0],  # truncated to the first 4 words
        ],
    )


def test_text_of_unknown_words_only_is_present_not_missing():
    tok = TextTokenizer(max_length=3).fit(NOTES)
    assert_array_equal(tok.transform(["zzz yyy"]), [[1, 1, 0, 0]])


def test_min_frequency_and_max_vocabulary_prune_the_rarest_words():
    tok = TextTokenizer(min_frequency=2).fit(NOTES)
    assert list(tok.vocabulary_) == ["and", "chest", "cough", "pain"]
    assert tok.transform(["fever"])[0, 0] == TextTokenizer.OOV_ID
    tok = TextTokenizer(max_vocabulary=2).fit(NOTES)
    assert tok.vocabulary_ == {"and": 2, "chest": 3}
    assert tok.vocab_size_ == 4


def test_lowercase_false_keeps_case_distinct():
    tok = TextTokenizer(lowercase=False).fit(["Fever", "fever"])
    assert tok.vocabulary_ == {"Fever": 2, "fever": 3}
    assert_array_equal(tok.transform(["FEVER fever"])[0, :2], [1, 3])


def test_several_columns_are_joined_per_row():
    frame = pd.DataFrame({"a": ["chest", None], "b": ["pain", "fever"]})
    tok = TextTokenizer(max_length=3, add_indicator=False).fit(frame)
    assert tok.vocabulary_ == {"chest": 2, "fever": 3, "pain": 4}
    assert_array_equal(tok.transform(frame), [[2, 4, 0], [3, 0, 0]])
    assert tok.n_features_in_ == 2


def test_feature_names_carry_positions_and_vocabulary_size():
    tok = TextTokenizer(max_length=3).fit(NOTES)
    assert tok.get_feature_names_out().tolist() == [
        "token_0_vocab_11",
        "token_1_vocab_11",
        "token_2_vocab_11",
        "missing",
    ]
    tok.set_params(add_indicator=False).fit(NOTES)
    assert tok.get_feature_names_out()[-1] == "token_2_vocab_11"


def test_column_transformer_pandas_output_and_caller_frame_unchanged():
    frame = pd.DataFrame(
        {"note": [NOTES[0], None, NOTES[2]], "age": [1.0, 2.0, 3.0]},
        index=["p1", "p2", "p3"],
    )
    before = frame.copy()
    ct = ColumnTransformer([("note", TextTokenizer(max_length=2), "note")])
    out = ct.set_output(transform="pandas").fit_transform(frame)
    assert out.columns.tolist() == [
        "note__token_0_vocab_9",
        "note__token_1_vocab_9",
        "note__missing",
    ]
    assert out.index.tolist() == ["p1", "p2", "p3"]
    assert out["note__missing"].tolist() == [0.0, 1.0, 0.0]
    assert_frame_equal(frame, before)


def test_pickle_and_clone():
    tok = TextTokenizer(max_length=5).fit(NOTES)
    again = pickle.loads(pickle.dumps(tok))
    assert_array_equal(again.transform(NOTES), tok.transform(NOTES))
    fresh = clone(tok)
    with pytest.raises(NotFittedError):
        fresh.transform(NOTES)
    assert fresh.get_params() == tok.get_params()


def test_refit_forgets_the_previous_vocabulary():
    tok = TextTokenizer().fit(NOTES)
    tok.fit(["only words here"])
    assert tok.vocabulary_ == {"here": 2, "only": 3, "words": 4}


@pytest.mark.parametrize(
    "texts, match",
    [
        ([None, "", np.nan], "found no text to learn from"),
        (["a b", "c d"], "kept no word"),
    ],
)
def test_fit_errors_name_the_column_and_the_fix(texts, match):
    tokenizer = TextTokenizer(min_frequency=2)
    with pytest.raises(ValueError, match=match) as info:
        tokenizer.fit(pd.Series(texts, name="note"))
    assert "'note'" in str(info.value)


def test_one_d_numeric_array_is_rejected_as_ambiguous():
    with pytest.raises(ValueError, match="Reshape your data"):
        TextTokenizer().fit(np.arange(3.0))


@pytest.mark.parametrize(
    "params, name",
    [
        ({"max_length": 0}, "max_length"),
        ({"min_frequency": 0}, "min_frequency"),
        ({"max_vocabulary": 2**24}, "max_vocabulary"),
    ],
)
def test_parameter_errors_name_the_parameter(params, name):
    with pytest.raises(InvalidParameterError, match=name):
        TextTokenizer(**params).fit(NOTES)


def test_transform_checks_the_columns_seen_in_fit():
    tok = TextTokenizer().fit(pd.DataFrame({"note": NOTES}))
    with pytest.raises(ValueError, match="feature names"):
        tok.transform(pd.DataFrame({"text": NOTES}))
