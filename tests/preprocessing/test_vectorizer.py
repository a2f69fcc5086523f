"""ModalityVectorizer: each raw column routed by its content."""

import os

import numpy as np
import pandas as pd
import pydicom
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from PIL import Image
from scipy.io import wavfile
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skfusion import CrossModalClassifier
from skfusion.preprocessing import ModalityVectorizer, TextEmbedder, WideFeatures

CT_SMALL = os.path.join(
    os.path.dirname(pydicom.data.__file__), "test_files", "CT_small.dcm"
)


@pytest.fixture
def table(tmp_path):
    """Every kind of column, each with a missing cell."""
    rng = np.random.default_rng(0)
    n = 12
    pngs = []
    for i in range(n):
        path = tmp_path / f"scan{i}.png"
        Image.fromarray(np.full((6, 6), 20 * i, dtype=np.uint8)).save(path)
        pngs.append(str(path))
    pngs[3] = None
    wav = str(tmp_path / "beat.wav")
    wavfile.write(wav, 16000, (0.1 * rng.standard_normal(1600)).astype(np.float32))
    notes = [f"patient {i} reports chest pain and fever day {i}" for i in range(n)]
    notes[2] = None
    frame = pd.DataFrame(
        {
            "Age": rng.integers(20, 90, n).astype(float),
            "ward": ["icu", "er", "ward"] * 4,
            "Clinical Note": notes,
            "xray": pngs,
            "ct": [CT_SMALL] * (n - 1) + [None],
            "sound": [wav] * n,
            "flag": [True, False] * 6,
        }
    )
    frame.loc[5, "Age"] = np.nan
    frame.loc[7, "ward"] = None
    return frame


def test_each_kind_of_column_is_routed_and_named(table):
    before = table.copy()
    vec = ModalityVectorizer(cardinality_threshold=3, random_state=0)
    out = vec.fit_transform(table)
    assert_frame_equal(table, before)  # the caller's frame is untouched
    assert vec.kinds_ == {
        "Age": "numeric",
        "ward": "categorical",
        "Clinical Note": "text",
        "xray": "image",
        "ct": "image",
        "sound": "audio",
        "flag": "numeric",
    }
    assert vec.modalities_ == {
        "tabular": ["Age", "flag", "ward"],
        "clinical_note": ["Clinical Note"],
        "xray": ["xray"],
        "ct": ["ct"],
        "sound": ["sound"],
        "wide": ["Clinical Note", "ward", "Age", "flag"],
    }
    assert isinstance(out, pd.DataFrame) and out.index.equals(table.index)
    assert out.columns.tolist() == vec.get_feature_names_out().tolist()
    prefixes = {c.split("__")[0] for c in out.columns}
    assert prefixes == set(vec.modalities_)
    # numeric: median imputation with an indicator, standardised
    flag = out["tabular__missingindicator_Age"]
    assert flag[5] > 0 and (flag.drop(5) == flag[0]).all() and flag[0] < 0
    assert_allclose(out["tabular__Age"].mean(), 0.0, atol=1e-9)
    # categories: one-hot with the missing cell as its own category
    assert out.loc[7, "tabular__ward_<missing>"] == 1.0
    # text, image, DICOM: a missing cell is flagged for the network to mask
    assert out["clinical_note__missing"].tolist() == [0.0] * 2 + [1.0] + [0.0] * 9
    assert out.loc[3, "xray__missing"] == 1.0 and out["xray__missing"].sum() == 1
    assert out.loc[11, "ct__missing"] == 1.0
    assert out.filter(like="ct__pixel_").iloc[0].std() > 0  # the CT was read
    assert any(c.startswith("sound__pixel_0_") for c in out.columns)
    assert any(c.startswith("wide__term_0_vocab_") for c in out.columns)


def test_pipeline_from_the_raw_table_finds_every_modality_kind(table):
    y = np.array([0, 1] * 6)
    model = make_pipeline(
        ModalityVectorizer(cardinality_threshold=3, random_state=0),
        CrossModalClassifier(max_epochs=2, random_state=0),
    ).fit(table, y)
    kinds = {n: s.kind for n, s in model[-1].modalities_.items()}
    assert kinds == {
        "tabular": "vector",
        "clinical_note": "vector",
        "xray": "image",
        "ct": "image",
        "sound": "image",
        "wide": "wide",
    }
    assert model[-1].modalities_["xray"].has_missing
    assert model.predict_proba(table).shape == (12, 2)


def test_unseen_categories_and_new_text_at_predict_time(table):
    vec = ModalityVectorizer(kinds={"xray": "drop", "ct": "drop", "sound": "drop"})
    vec.fit(table)
    new = table.iloc[:2].copy()
    new["ward"] = ["never seen", "icu"]
    new["Clinical Note"] = ["entirely novel words here", ""]
    out = vec.transform(new)
    onehot = out.filter(like="tabular__ward_")
    assert onehot.iloc[0].sum() == 0.0 and onehot.iloc[1].sum() == 1.0
    assert out["clinical_note__missing"].tolist() == [0.0, 1.0]
    ids = out.filter(like="wide__term_").to_numpy()
    terms = vec.column_transformer_.named_transformers_["wide"].terms_
    row0 = {terms[int(i)] for i in ids[0] if i}
    assert row0 <= {"Age", "flag"}  # no known word, unseen ward: no such term
    row1 = {terms[int(i)] for i in ids[1] if i}
    assert row1 >= {"Clinical Note=<missing>", "ward=icu"}
    assert row1 - {"Clinical Note=<missing>", "ward=icu"} <= {"Age", "flag"}


def test_overrides_settings_and_verbose_routing(table, capsys):
    vec = ModalityVectorizer(
        kinds={"ward": "text", "xray": "drop", "ct": "drop", "sound": "drop"},
        text=TextEmbedder(n_components=3, random_state=0),
        wide=WideFeatures(min_df=1, char_ngram_range=(3, 3)),
        verbose=1,
    ).fit(table)
    printed = capsys.readouterr().out
    assert "ModalityVectorizer routing:" in printed
    assert "  ward: ward (text)" in printed and "dropped: xray, ct, sound" in printed
    assert vec.kinds_["ward"] == "text"
    names = vec.get_feature_names_out()
    assert [n for n in names if n.startswith("ward__")] == [
        "ward__text_0",
        "ward__text_1",
        "ward__text_2",
        "ward__missing",
    ]
    wide = vec.column_transformer_.named_transformers_["wide"]
    assert any(":c:" in t for t in wide.terms_)
    off = ModalityVectorizer(wide="off", kinds={"xray": "drop"}).fit(table)
    assert "wide" not in off.modalities_


def test_bad_overrides_and_inputs_get_clear_errors(table):
    with pytest.raises(ValueError, match=r"kinds names columns \['nope'\]"):
        ModalityVectorizer(kinds={"nope": "text"}).fit(table)
    with pytest.raises(ValueError, match=r"unknown kinds \{'Age': 'vector'\}"):
        ModalityVectorizer(kinds={"Age": "vector"}).fit(table)
    with pytest.raises(ValueError, match="every column was dropped"):
        ModalityVectorizer(kinds={c: "drop" for c in table.columns}).fit(table)
    fitted = ModalityVectorizer(kinds={"xray": "drop"}).fit(table)
    with pytest.raises(ValueError, match="Clinical Note"):
        fitted.transform(table.drop(columns="Clinical Note"))


def test_numpy_input_is_numeric_and_columns_are_numbered():
    X = np.arange(12.0).reshape(4, 3)
    vec = ModalityVectorizer().fit(X)
    assert vec.kinds_ == {"x0": "numeric", "x1": "numeric", "x2": "numeric"}
    assert_array_equal(
        vec.transform(X).columns[:3], ["tabular__x0", "tabular__x1", "tabular__x2"]
    )


def test_grid_search_over_a_raw_table_with_missing_text():
    rng = np.random.default_rng(1)
    n = 120
    sick = rng.integers(0, 2, n)
    notes = np.where(sick, "fever cough crackles", "routine check well")
    notes = np.array([f"{t} visit {i}" for i, t in enumerate(notes)], dtype=object)
    notes[rng.random(n) < 0.2] = None
    X = pd.DataFrame({"note": notes, "age": rng.normal(60, 10, n)})
    model = make_pipeline(
        ModalityVectorizer(random_state=0),
        CrossModalClassifier(max_epochs=10, random_state=0),
    )
    search = GridSearchCV(
        model,
        {"crossmodalclassifier__wide_alpha": [1e-4, 1e-2]},
        cv=3,
        scoring="roc_auc",
    ).fit(X, sick)
    assert search.best_score_ > 0.8


def test_pandas_extension_dtypes_with_na_are_routed_and_not_modified():
    X = pd.DataFrame(
        {
            "ward": pd.Categorical(["a", None, "b", "a"]),
            "count": pd.array([1, None, 3, 4], dtype="Int64"),
            "code": pd.array(["x", None, "y", "x"], dtype="string"),
            "flag": pd.array([True, None, False, True], dtype="boolean"),
        }
    )
    before = X.copy()
    vec = ModalityVectorizer()
    out = vec.fit_transform(X)
    assert_frame_equal(X, before)
    assert vec.kinds_ == {
        "ward": "categorical",
        "count": "numeric",
        "code": "categorical",
        "flag": "numeric",
    }
    row = out.iloc[1]
    assert row["tabular__ward_<missing>"] == 1.0
    assert row["tabular__code_<missing>"] == 1.0
    assert row["tabular__missingindicator_count"] > 0
    assert np.isfinite(out.to_numpy()).all()
