"""Tests for skfusion.datasets.make_clinical_multimodal."""

import doctest
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter
from scipy.stats import spearmanr
from sklearn.compose import make_column_transformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfusion.datasets import _synthetic, make_clinical_multimodal

NUMERIC = [
    "age",
    "systolic_bp",
    "creatinine",
    "crp",
    "hemoglobin",
    "heart_rate",
    "bmi",
    "glucose",
    "sodium",
    "albumin",
]
CATEGORICAL = ["sex", "smoker"]
COLUMNS = [*NUMERIC, *CATEGORICAL, "note", "xray_path"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    image_dir = tmp_path_factory.mktemp("xray")
    X, y, latent = make_clinical_multimodal(
        600, image_dir=image_dir, random_state=0, return_latent=True
    )
    return X, y, latent, image_dir


def _make(tmp_path, name="img", **params):
    params = {"n_samples": 300, "random_state": 0, **params}
    return make_clinical_multimodal(image_dir=tmp_path / name, **params)


def test_columns_and_dtypes(data):
    X, y, _, _ = data
    assert list(X.columns) == COLUMNS
    assert X.shape == (600, 14)
    assert isinstance(X.index, pd.RangeIndex)
    assert (X[NUMERIC].dtypes == np.float64).all()
    for col in [*CATEGORICAL, "note", "xray_path"]:
        assert pd.api.types.is_string_dtype(X[col]), col
    assert set(X["sex"]) == {"female", "male"}
    assert set(X["smoker"]) == {"never", "former", "current"}
    assert isinstance(y, np.ndarray)
    assert y.shape == (600,)
    assert np.issubdtype(y.dtype, np.integer)
    assert set(np.unique(y)) == {0, 1}


def test_numeric_values_are_plausible(data):
    X = data[0]
    observed = X[NUMERIC].agg(["min", "median", "max"])
    assert 18 <= observed.at["min", "age"] and observed.at["max", "age"] <= 95
    assert 110 <= observed.at["median", "systolic_bp"] <= 150
    assert 0.7 <= observed.at["median", "creatinine"] <= 1.4
    assert 130 <= observed.at["median", "sodium"] <= 145
    assert (X[NUMERIC].dropna() > 0).all().all()


def test_notes_are_varied_clinical_text(data):
    notes = data[0]["note"]
    assert notes.nunique() == len(notes)
    assert notes.str.count(r"\.").min() >= 4
    vocabulary = {word for note in notes for word in re.findall(r"[a-z]+", note)}
    assert len(vocabulary) > 150
    assert notes.str.contains("troponin").any()


def test_missing_tabular_rate(data):
    X, y, _, _ = data
    rate = X[NUMERIC].isna().to_numpy().mean()
    assert 0.035 < rate < 0.065
    assert X[NUMERIC].isna().any().all()
    assert not X[[*CATEGORICAL, "note", "xray_path"]].isna().any().any()
    assert not np.isnan(y).any()


@pytest.mark.parametrize("rate", [0.0, 0.3])
def test_missing_tabular_parameter(tmp_path, rate):
    X, _ = _make(tmp_path, missing_tabular=rate)
    assert X[NUMERIC].isna().to_numpy().mean() == pytest.approx(rate, abs=0.03)


def test_images_are_grayscale_png_files(data):
    X, _, _, image_dir = data
    for i, path in enumerate(X["xray_path"]):
        path = Path(path)
        assert path.is_absolute()
        assert path == image_dir.resolve() / f"img_{i:05d}.png"
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.mode == "L"
            assert image.size == (32, 32)


def test_image_size_and_nested_dir_are_created(tmp_path):
    X, _ = _make(tmp_path, name="a/b/c", n_samples=5, image_size=20)
    assert (tmp_path / "a" / "b" / "c").is_dir()
    with Image.open(X.loc[4, "xray_path"]) as image:
        assert image.size == (20, 20)


def test_same_seed_gives_identical_data_and_bytes(tmp_path):
    X1, y1 = _make(tmp_path, name="one", n_samples=50)
    X2, y2 = _make(tmp_path, name="two", n_samples=50)
    pd.testing.assert_frame_equal(
        X1.drop(columns="xray_path"), X2.drop(columns="xray_path")
    )
    np.testing.assert_array_equal(y1, y2)
    for p1, p2 in zip(X1["xray_path"], X2["xray_path"], strict=True):
        assert p1 != p2
        assert Path(p1).read_bytes() == Path(p2).read_bytes()


def test_different_seed_gives_different_data(tmp_path):
    X1, y1 = _make(tmp_path, name="one", n_samples=50)
    X2, y2 = _make(tmp_path, name="two", n_samples=50, random_state=1)
    assert not X1[NUMERIC].equals(X2[NUMERIC])
    assert not X1["note"].equals(X2["note"])
    assert not np.array_equal(y1, y2)
    assert (
        Path(X1.loc[0, "xray_path"]).read_bytes()
        != Path(X2.loc[0, "xray_path"]).read_bytes()
    )


def test_missing_note_and_image(tmp_path):
    X, y = _make(tmp_path, n_samples=400, missing_note=0.3, missing_image=0.25)
    no_note, no_image = X["note"].isna(), X["xray_path"].isna()
    assert no_note.mean() == pytest.approx(0.3, abs=0.07)
    assert no_image.mean() == pytest.approx(0.25, abs=0.07)
    written = sorted(p.name for p in (tmp_path / "img").iterdir())
    assert written == [Path(p).name for p in X.loc[~no_image, "xray_path"]]
    assert len(written) == (~no_image).sum()
    # missingness has its own random stream: the other values do not move
    X0, y0 = _make(tmp_path, name="full", n_samples=400)
    np.testing.assert_array_equal(y, y0)
    pd.testing.assert_frame_equal(X[NUMERIC], X0[NUMERIC])
    assert (X.loc[~no_note, "note"] == X0.loc[~no_note, "note"]).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_label_is_balanced(tmp_path, seed):
    _, y = _make(tmp_path, random_state=seed, missing_tabular=0.0)
    assert 0.35 < y.mean() < 0.65


def test_latents_are_independent_and_each_drives_the_label(data):
    _, y, latent, _ = data
    assert list(latent.columns) == ["tabular", "text", "image"]
    assert latent.shape == (600, 3)
    corr = latent.corr().to_numpy()
    assert np.abs(corr[np.triu_indices(3, k=1)]).max() < 0.1
    for col in latent:
        assert 0.3 < np.corrcoef(latent[col], y)[0, 1] < 0.7, col


def _out_of_fold_scores(X, y):
    """Cross-validated scores of tabular-only, text-only and tabular+text."""
    tabular = [
        (make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
        (OneHotEncoder(), CATEGORICAL),
    ]
    text = [(TfidfVectorizer(), "note")]
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return [
        cross_val_predict(
            make_pipeline(
                make_column_transformer(*parts), LogisticRegression(max_iter=1000)
            ),
            X,
            y,
            cv=cv,
            method="decision_function",
        )
        for parts in (tabular, text, tabular + text)
    ]


def test_tabular_and_text_are_informative_and_complementary(data):
    X, y, latent, _ = data
    tab, text, both = _out_of_fold_scores(X, y)
    auc_tab, auc_text, auc_both = (roc_auc_score(y, s) for s in (tab, text, both))
    assert auc_tab > 0.62
    assert auc_text > 0.62
    assert auc_both > max(auc_tab, auc_text) + 0.04
    # each modality expresses its own latent only
    assert np.corrcoef(tab, latent["tabular"])[0, 1] > 0.6
    assert np.corrcoef(text, latent["text"])[0, 1] > 0.6
    for score in (tab, text):
        assert abs(np.corrcoef(score, latent["image"])[0, 1]) < 0.15
    assert abs(np.corrcoef(tab, latent["text"])[0, 1]) < 0.15
    assert abs(np.corrcoef(text, latent["tabular"])[0, 1]) < 0.15


def test_image_lesion_tracks_image_latent(data):
    X, _, latent, _ = data
    images = np.stack([np.asarray(Image.open(p), dtype=float) for p in X["xray_path"]])
    blurred = gaussian_filter(images, sigma=(0, 1, 1))
    above = blurred - np.median(blurred, axis=(1, 2), keepdims=True)
    lesion_area = (above > 25).sum(axis=(1, 2))
    assert spearmanr(lesion_area, latent["image"]).statistic > 0.5
    assert abs(spearmanr(lesion_area, latent["tabular"]).statistic) < 0.15
    # background brightness does not carry the label
    assert (
        abs(spearmanr(np.median(images, axis=(1, 2)), latent["image"]).statistic) < 0.15
    )


def test_n_informative_tabular(tmp_path):
    for k in (0, 10):
        X, _, latent = _make(
            tmp_path, n_samples=500, n_informative_tabular=k, return_latent=True
        )
        corr = X[NUMERIC].corrwith(latent["tabular"], method="spearman").abs()
        if k == 0:
            assert (corr < 0.15).all()
        else:
            assert (corr > 0.3).all()


def test_zero_modality_weight_removes_its_signal(tmp_path):
    _, y, latent = _make(
        tmp_path, n_samples=500, modality_weights=(1, 1, 0), return_latent=True
    )
    assert abs(np.corrcoef(latent["image"], y)[0, 1]) < 0.1
    assert np.corrcoef(latent["tabular"], y)[0, 1] > 0.4


def _assert_same_data(first, second):
    """Same frame (paths aside), same PNG bytes; returns nothing."""
    X1, X2 = first[0], second[0]
    pd.testing.assert_frame_equal(
        X1.drop(columns="xray_path"), X2.drop(columns="xray_path")
    )
    assert (X1["xray_path"].isna() == X2["xray_path"].isna()).all()
    for p1, p2 in zip(X1["xray_path"].dropna(), X2["xray_path"].dropna(), strict=True):
        assert Path(p1).read_bytes() == Path(p2).read_bytes()


def test_default_signal_is_additive_and_unchanged(tmp_path):
    params = dict(n_samples=40, missing_note=0.2, missing_image=0.2)
    default = _make(tmp_path, name="default", **params)
    additive = _make(tmp_path, name="additive", signal="additive", **params)
    _assert_same_data(default, additive)
    np.testing.assert_array_equal(default[1], additive[1])
    # values pinned from the generator before `signal` existed (seed 0)
    X, y = _make(tmp_path, name="pinned", n_samples=40)
    assert "".join(map(str, y)) == "1110011110011110010110011101000110110001"
    assert X.loc[0, NUMERIC].tolist() == [
        56.0, 147.0, 1.19, 4.2, 12.1, 55.0, 29.9, 130.0, 138.0, 4.0
    ]  # fmt: skip
    assert X.loc[0, CATEGORICAL].tolist() == ["female", "never"]
    assert X.loc[0, "note"].startswith(
        "Referred by the primary care physician for review. On examination, "
        "oxygen saturation normal on room air."
    )


@pytest.fixture(scope="module")
def interaction(tmp_path_factory):
    X, y, latent = make_clinical_multimodal(
        2000,
        image_dir=tmp_path_factory.mktemp("interaction"),
        signal="interaction",
        random_state=0,
        return_latent=True,
    )
    return X, y, latent


def test_interaction_changes_only_the_label(tmp_path):
    params = dict(n_samples=60, missing_image=0.1, return_latent=True)
    add = _make(tmp_path, name="add", **params)
    inter = _make(tmp_path, name="inter", signal="interaction", **params)
    _assert_same_data(add, inter)
    pd.testing.assert_frame_equal(add[2], inter[2])
    assert not np.array_equal(add[1], inter[1])


def test_interaction_label_needs_tabular_and_image_jointly(interaction):
    _, y, latent = interaction
    assert 0.45 < y.mean() < 0.55
    product = latent["tabular"] * latent["image"]
    assert (y == (product > 0)).mean() > 0.74
    assert np.corrcoef(product, y)[0, 1] > 0.5
    for col in ("tabular", "text", "image"):
        assert abs(np.corrcoef(latent[col], y)[0, 1]) < 0.1, col


def test_interaction_without_noise_is_the_sign_of_the_product(tmp_path):
    _, y, latent = _make(
        tmp_path, n_samples=200, signal="interaction", noise=0, return_latent=True
    )
    np.testing.assert_array_equal(y, latent["tabular"] * latent["image"] > 0)


def test_interaction_tabular_alone_is_uninformative(interaction):
    X, y, latent = interaction
    tabular = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
            (OneHotEncoder(), CATEGORICAL),
        ),
        LogisticRegression(max_iter=1000),
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    # out of fold: a linear score of the table, which recovers s_tab ...
    s_tab = cross_val_predict(
        tabular, X, latent["tabular"] > 0, cv=cv, method="decision_function"
    )
    assert np.corrcoef(s_tab, latent["tabular"])[0, 1] > 0.6
    # ... but predicts y no better than chance, unless combined with s_img
    score = cross_val_predict(tabular, X, y, cv=cv, method="decision_function")
    assert roc_auc_score(y, score) < 0.58
    assert roc_auc_score(y, s_tab * latent["image"]) > 0.7


def test_interaction_requires_default_modality_weights(tmp_path):
    for weights in ([1, 1, 1], np.ones(3)):
        _make(tmp_path, n_samples=5, signal="interaction", modality_weights=weights)
    with pytest.raises(ValueError, match=r"'modality_weights' parameter.*interaction"):
        _make(
            tmp_path,
            name="out",
            n_samples=5,
            signal="interaction",
            modality_weights=(1, 0, 1),
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("n_samples", 0),
        ("image_dir", None),
        ("image_size", 4),
        ("n_informative_tabular", 11),
        ("noise", -0.1),
        ("modality_weights", (0, 0, 0)),
        ("modality_weights", (1, 1)),
        ("modality_weights", (1, -1, 1)),
        ("modality_weights", "abc"),
        ("missing_tabular", 1.0),
        ("missing_note", -0.1),
        ("missing_image", 1.5),
        ("signal", "product"),
        ("signal", None),
        ("return_latent", "yes"),
        ("random_state", "seed"),
    ],
)
def test_invalid_parameters_name_the_parameter(tmp_path, param, value):
    params = {"n_samples": 5, "image_dir": tmp_path / "out", param: value}
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        make_clinical_multimodal(**params)
    assert not (tmp_path / "out").exists()


def test_docstring_example_runs():
    result = doctest.testmod(_synthetic, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
