"""WideFeatures: sparse terms as ids and weights, never densified."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from sklearn.feature_extraction.text import TfidfVectorizer

from skfusion.preprocessing import WideFeatures
from skfusion.preprocessing._wide import top_terms


def _rebuild(out, k, vocab):
    """The dense matrix that the ids and weights stand for."""
    dense = np.zeros((len(out), vocab), dtype=np.float32)
    for i, row in enumerate(out):
        ids, weights = row[:k].astype(int), row[k:]
        np.add.at(dense[i], ids[ids > 0], weights[ids > 0])
    return dense


def test_ids_and_weights_are_the_sparse_matrix_when_nothing_is_truncated():
    X = pd.DataFrame(
        {
            "note": ["chest pain at rest", "no chest pain", None, "fever", "  "],
            "ward": ["icu", "er", "icu", None, "ward 3"],
        }
    )
    wide = WideFeatures(categorical=["ward"], min_df=1)
    out = wide.fit_transform(X)
    k = wide.max_terms_
    assert out.shape == (5, 2 * k) and out.dtype == np.float32
    assert wide.truncated_fraction_ == 0.0
    sparse = wide.transform_sparse(X).toarray()
    assert sparse.shape == (5, wide.vocab_size_) and not sparse[:, 0].any()
    assert_allclose(_rebuild(out, k, wide.vocab_size_), sparse, rtol=1e-6)
    assert_array_equal(out, wide.transform(X))
    terms = wide.terms_
    # A missing or blank note and a missing ward are terms of their own.
    assert {terms[int(i)] for i in out[2, :k] if i} == {
        "note=<missing>",
        "ward=icu",
    }
    assert {terms[int(i)] for i in out[3, :k] if i} >= {"ward=<missing>"}
    assert {terms[int(i)] for i in out[4, :k] if i} == {
        "note=<missing>",
        "ward=ward 3",
    }
    # Word n-grams are TF-IDF weighted and L2-normalised per column.
    words = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
    ).fit(["chest pain at rest", "no chest pain", "fever"])
    note_ids = [i for i, t in enumerate(terms) if t.startswith("note:")]
    expected = words.transform(["chest pain at rest"]).toarray()[0]
    order = np.argsort(words.get_feature_names_out())
    got = sparse[0, note_ids]
    assert_allclose(np.sort(got), np.sort(expected[order]), rtol=1e-6)
    assert_allclose(np.linalg.norm(got), 1.0, rtol=1e-6)


def test_largest_weights_are_kept_and_rows_padded():
    matrix = np.array([[0.0, 0.5, 0.1, 0.9], [0.0, 0.0, 0.0, 0.0], [0.3, 0, 0, 0]])
    out = top_terms(matrix, 2)
    # ids are column + 1; 0 is padding with weight 0
    assert_array_equal(out[:, :2], [[4, 2], [0, 0], [1, 0]])
    assert_allclose(out[:, 2:], [[0.9, 0.5], [0, 0], [0.3, 0]])


def test_max_terms_truncates_and_reports_it():
    X = pd.DataFrame({"note": ["a b c d e f", "a b", "c d e"]})
    wide = WideFeatures(min_df=1, ngram_range=(1, 1), max_terms=3).fit(X)
    assert wide.max_terms_ == 3
    assert wide.truncated_fraction_ == pytest.approx(1 / 3)
    out = wide.transform(X)
    assert (out[0, :3] > 0).all()
    # never more than max_terms, even for a longer new text
    wide_all = WideFeatures(min_df=1, ngram_range=(1, 1)).fit(X)
    assert wide_all.max_terms_ == 6  # the longest training row


def test_unseen_categories_and_new_words_give_no_terms():
    train = pd.DataFrame({"note": ["red cat", "red dog"], "ward": ["a", "b"]})
    wide = WideFeatures(categorical=[1], min_df=1).fit(train)
    out = wide.transform(pd.DataFrame({"note": ["blue bird"], "ward": ["zzz"]}))
    assert (out == 0).all()  # no known term: all padding
    out = wide.transform(pd.DataFrame({"note": ["red bird"], "ward": ["a"]}))
    assert {wide.terms_[int(i)] for i in out[0] if i and i == int(i)} >= {
        "note:red",
        "ward=a",
    }


def test_char_ngrams_add_terms_and_min_df_prunes_them():
    X = pd.DataFrame({"note": ["pneumonia", "pneumonitis", "fracture"]})
    words = WideFeatures(min_df=1).fit(X)
    chars = WideFeatures(min_df=2, char_ngram_range=(3, 4)).fit(X)
    assert not any(":c:" in t for t in words.terms_)
    char_terms = [t for t in chars.terms_ if ":c:" in t]
    assert "note:c:pne" in char_terms and "note:c:neum" in char_terms
    assert not any("fra" in t for t in char_terms)  # seen in one row only


def test_input_is_not_modified_and_errors_name_the_column():
    X = pd.DataFrame({"note": ["x y", None], "ward": ["a", "b"]})
    before = X.copy()
    WideFeatures(categorical=["ward"], min_df=1).fit_transform(X)
    assert_frame_equal(X, before)
    with pytest.raises(ValueError, match="categorical names column 'bed'"):
        WideFeatures(categorical=["bed"]).fit(X)
    with pytest.raises(ValueError, match=r"position in 0\.\.1"):
        WideFeatures(categorical=[5]).fit(X)


def test_transform_memory_is_rows_times_max_terms_not_the_vocabulary():
    """A 100k-term vocabulary: peak memory of transform stays a small multiple
    of rows x max_terms (a dense rows x vocabulary matrix would be >1000x)."""
    rng = np.random.default_rng(0)
    rows, words_per_row, max_terms = 4000, 25, 64
    words = np.array([f"w{i}" for i in range(60_000)])
    docs = [" ".join(rng.choice(words, words_per_row)) for _ in range(rows)]
    X = pd.DataFrame({"note": docs})
    wide = WideFeatures(min_df=1, max_terms=max_terms).fit(X)
    assert wide.vocab_size_ > 100_000
    assert wide.max_terms_ <= max_terms
    tracemalloc.start()
    out = wide.transform(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    budget = rows * max_terms * 8  # one float32 id + weight per kept term
    dense = rows * wide.vocab_size_ * 4
    assert out.nbytes <= budget
    assert peak < 10 * budget, (peak, budget)
    assert peak < dense / 100


def test_numeric_columns_are_standardised_terms_with_a_missing_term():
    X = pd.DataFrame({"age": [40.0, 60.0, None, 80.0], "ward": ["a", "b", "a", "a"]})
    wide = WideFeatures(numeric=["age"], categorical=["ward"], min_df=1)
    sparse = wide.fit(X).transform_sparse(X).toarray()
    terms = list(wide.terms_)
    z = sparse[:, terms.index("age")]
    mean, scale = 60.0, np.std([40.0, 60.0, 80.0])
    assert_allclose(z, [(40 - mean) / scale, 0.0, 0.0, (80 - mean) / scale])
    assert sparse[:, terms.index("age=<missing>")].tolist() == [0, 0, 1, 0]
    with pytest.raises(ValueError, match=r"'age', row 1 \(index 1\), holds 'old'"):
        wide.transform(pd.DataFrame({"age": [1.0, "old"], "ward": ["a", "a"]}))
    with pytest.raises(ValueError, match="in both categorical and numeric"):
        WideFeatures(numeric=["age"], categorical=["age"]).fit(X)


def test_terms_are_kept_by_magnitude_so_negative_numbers_survive():
    out = top_terms(np.array([[0.2, -3.0, 0.5]]), 2)
    assert_array_equal(out[0, :2], [2, 3])
    assert_allclose(out[0, 2:], [-3.0, 0.5])


def test_a_vocabulary_beyond_float32_ids_is_refused(monkeypatch):
    import skfusion.preprocessing._wide as wide_module

    monkeypatch.setattr(wide_module, "_MAX_ID", 5)
    X = pd.DataFrame({"note": ["a b c d e f g"]})
    with pytest.raises(ValueError, match="float32 column holds exactly"):
        WideFeatures(min_df=1).fit(X)
