"""Tests for skfusion.preprocessing.TextEmbedder."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skfusion.preprocessing import TextEmbedder

NOTES = [
    "patient reports chest pain radiating to the left arm",
    "chest pain on exertion, relieved by rest",
    "fever and productive cough for three days",
    "dry cough, fever, night sweats",
    "fractured left wrist after a fall",
    "ankle sprain playing football",
]


def _cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_output_shape_dtype_and_names():
    emb = TextEmbedder(n_components=4, random_state=0)
    out = emb.fit_transform(NOTES)

    assert out.shape == (len(NOTES), 5)
    assert out.dtype == np.float32
    assert emb.get_feature_names_out().tolist() == [
        "text_0",
        "text_1",
        "text_2",
        "text_3",
        "missing",
    ]
    assert_array_equal(out[:, -1], 0.0)
    # L2-normalised rows by default.
    assert_allclose(np.linalg.norm(out[:, :-1], axis=1), 1.0, rtol=1e-5)
    assert emb.components_.shape == (4, len(emb.vectorizer_.vocabulary_))
    assert emb.components_.dtype == np.float32
    assert emb.n_components_ == 4


def test_missing_texts_give_zero_rows_and_flag():
    texts = ["chest pain", None, np.nan, pd.NA, "", "   \n\t", "fever and cough"]
    out = TextEmbedder(n_components=3, random_state=0).fit_transform(texts)

    expected_missing = [0, 1, 1, 1, 1, 1, 0]
    assert_array_equal(out[:, -1], expected_missing)
    missing = np.asarray(expected_missing, dtype=bool)
    assert_array_equal(out[missing], np.eye(1, 4, 3).repeat(missing.sum(), 0))
    assert np.all(np.linalg.norm(out[~missing, :-1], axis=1) > 0.99)


def test_unknown_words_give_zero_vector_but_not_missing():
    emb = TextEmbedder(n_components=2, random_state=0).fit(NOTES)
    out = emb.transform(["zzzz qqqq"])
    assert_array_equal(out, [[0.0, 0.0, 0.0]])


def test_width_is_fixed_when_fewer_documents_than_components():
    emb = TextEmbedder(n_components=32, random_state=0)
    out = emb.fit_transform(["chest pain", "fever", "cough and fever"])

    assert out.shape == (3, 33)
    assert emb.n_components_ <= 3
    assert_array_equal(out[:, emb.n_components_ : 32], 0.0)
    assert_array_equal(emb.components_[emb.n_components_ :], 0.0)
    assert emb.get_feature_names_out()[31] == "text_31"


def test_single_sample_fits():
    emb = TextEmbedder(n_components=8, random_state=0)
    out = emb.fit_transform(pd.Series(["only one note"], name="note"))
    assert out.shape == (1, 9)
    assert emb.n_components_ == 1
    assert_allclose(abs(out[0, 0]), 1.0, rtol=1e-6)


def test_deterministic_for_fixed_random_state():
    first = TextEmbedder(n_components=4, random_state=42).fit_transform(NOTES)
    second = TextEmbedder(n_components=4, random_state=42).fit_transform(NOTES)
    assert_array_equal(first, second)


def test_fit_transform_equals_fit_then_transform():
    emb = TextEmbedder(n_components=4, random_state=0)
    fit_then_transform = emb.fit(NOTES).transform(NOTES)
    assert_allclose(emb.fit_transform(NOTES), fit_then_transform, atol=1e-6)


def test_similar_texts_are_closer_than_dissimilar():
    emb = TextEmbedder(n_components=4, random_state=0).fit(NOTES)
    chest_a, chest_b, wrist = emb.transform(
        ["severe chest pain", "chest pain at rest", "fractured wrist after fall"]
    )[:, :-1]
    assert _cosine(chest_a, chest_b) > _cosine(chest_a, wrist) + 0.5


def test_normalize_and_indicator_parameters():
    raw = TextEmbedder(n_components=3, normalize=False, add_indicator=False)
    out = raw.set_params(random_state=0).fit_transform(NOTES)
    assert out.shape == (len(NOTES), 3)
    assert raw.get_feature_names_out().tolist() == ["text_0", "text_1", "text_2"]
    assert not np.allclose(np.linalg.norm(out, axis=1), 1.0)


def test_several_columns_are_joined_into_one_document():
    df = pd.DataFrame(
        {
            "history": ["chest pain", None, "fever", None],
            "exam": ["tachycardia", "cough", np.nan, "  "],
        }
    )
    emb = TextEmbedder(n_components=3, random_state=0).fit(df)
    out = emb.transform(df)

    assert emb.feature_names_in_.tolist() == ["history", "exam"]
    assert_array_equal(out[:, -1], [0, 0, 0, 1])
    joined = emb.transform(
        pd.DataFrame(
            {
                "history": ["chest pain tachycardia", "cough", "fever"],
                "exam": [None, None, None],
            }
        )
    )
    assert_allclose(out[:3], joined, atol=1e-6)


def test_numeric_cells_are_converted_to_text():
    X = np.array([[1.5], [2.0], [1.5], [np.nan]])
    out = TextEmbedder(n_components=2, random_state=0).fit_transform(X)
    assert_array_equal(out[0], out[2])
    assert_array_equal(out[:, -1], [0, 0, 0, 1])


def test_one_dimensional_numeric_array_is_rejected():
    with pytest.raises(ValueError, match=r"Reshape your data"):
        TextEmbedder().fit(np.array([1.0, 2.0, 3.0]))


def test_pipeline_with_logistic_regression_learns_text_label():
    rng = np.random.default_rng(0)
    filler = ["patient", "seen", "today", "history", "of", "reports", "no", "acute"]
    cardiac = ["chest", "pain", "palpitations", "angina", "tachycardia"]
    ortho = ["fracture", "sprain", "wrist", "ankle", "swelling"]
    y = rng.integers(0, 2, size=240)
    texts = [
        " ".join(
            rng.choice(filler, size=6).tolist()
            + rng.choice(cardiac if label else ortho, size=2).tolist()
        )
        for label in y
    ]
    model = make_pipeline(
        TextEmbedder(n_components=8, random_state=0), LogisticRegression()
    )
    model.fit(texts[:180], y[:180])
    assert model.score(texts[180:], y[180:]) > 0.9


@pytest.mark.parametrize("selection", ["note", ["note"]])
def test_column_transformer_with_pandas_output(selection):
    df = pd.DataFrame(
        {"note": [*NOTES[:4], None], "age": [50, 61, 33, 45, 70]},
        index=["p1", "p2", "p3", "p4", "p5"],
    )
    before = copy.deepcopy(df)
    ct = ColumnTransformer(
        [("note", TextEmbedder(n_components=3, random_state=0), selection)]
    ).set_output(transform="pandas")

    out = ct.fit_transform(df)

    assert out.columns.tolist() == [
        "note__text_0",
        "note__text_1",
        "note__text_2",
        "note__missing",
    ]
    assert out.index.tolist() == df.index.tolist()
    assert out["note__missing"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert ct.named_transformers_["note"].feature_names_in_.tolist() == ["note"]
    assert_frame_equal(df, before)


def test_standalone_pandas_output_keeps_index():
    notes = pd.Series(NOTES, index=[10, 20, 30, 40, 50, 60], name="note")
    emb = TextEmbedder(n_components=2, random_state=0).set_output(transform="pandas")
    out = emb.fit_transform(notes)
    assert out.index.tolist() == [10, 20, 30, 40, 50, 60]
    assert out.columns.tolist() == ["text_0", "text_1", "missing"]


def test_changed_column_name_at_transform_is_an_error():
    emb = TextEmbedder(n_components=2).fit(pd.DataFrame({"note": NOTES}))
    with pytest.raises(ValueError, match="feature names"):
        emb.transform(pd.DataFrame({"report": NOTES}))


def test_all_missing_at_fit_names_the_column():
    with pytest.raises(
        ValueError, match=r"no text to learn from in column\(s\) \['note'\]"
    ):
        TextEmbedder().fit(pd.Series([None, "", np.nan], name="note"))


def test_empty_vocabulary_names_the_column():
    with pytest.raises(
        ValueError, match=r"no usable terms in column\(s\) \['note'\].*min_df"
    ):
        TextEmbedder(min_df=5).fit(pd.DataFrame({"note": ["a b", "c d"]}))


def test_not_fitted_errors():
    with pytest.raises(NotFittedError):
        TextEmbedder().get_feature_names_out()
    with pytest.raises(NotFittedError):
        TextEmbedder().transform(NOTES)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_components": 0}, "n_components"),
        ({"max_features": 0}, "max_features"),
        ({"min_df": -1}, "min_df"),
        ({"ngram_range": (2, 1)}, "ngram_range"),
        ({"ngram_range": [1, 2]}, "ngram_range"),
        ({"normalize": "yes"}, "normalize"),
    ],
)
def test_bad_parameters_name_the_parameter(params, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        TextEmbedder(**params).fit(NOTES)


def test_clone_and_get_params_roundtrip():
    emb = TextEmbedder(n_components=5, ngram_range=(1, 1), min_df=2, random_state=3)
    cloned = clone(emb)
    assert cloned.get_params() == emb.get_params()
    assert TextEmbedder(**emb.get_params()).get_params() == emb.get_params()


def test_refit_forgets_previous_fit_and_pickle_roundtrip():
    emb = TextEmbedder(n_components=3, random_state=0).fit(["alpha beta", "gamma"])
    emb.fit(NOTES)
    assert "alpha" not in emb.vectorizer_.vocabulary_
    restored = pickle.loads(pickle.dumps(emb))
    assert_array_equal(restored.transform(NOTES), emb.transform(NOTES))


TEXT_OR_MISSING = st.one_of(
    st.text(max_size=40),
    st.none(),
    st.just(float("nan")),
    st.text(alphabet=" \t\n", max_size=5),
)


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(TEXT_OR_MISSING, min_size=1, max_size=15))
def test_arbitrary_texts_give_finite_float32_rows(texts):
    texts = [*texts, "anchor words so the vocabulary is never empty"]
    out = TextEmbedder(n_components=6, random_state=0).fit_transform(texts)

    assert out.shape == (len(texts), 7)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    expected = [not isinstance(t, str) or not t.strip() for t in texts]
    assert_array_equal(out[:, -1], expected)
    assert_array_equal(out[np.asarray(expected), :-1], 0.0)
    assert np.all(np.linalg.norm(out[:, :-1], axis=1) <= 1.0 + 1e-5)
