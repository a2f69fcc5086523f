"""attributions: planted words and squares found, completeness, mapping back,
and the two displays."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfusion import (
    CrossModalClassifier,
    CrossModalRegressor,
    CrossModalSurvival,
    make_modality_transformer,
)
from skfusion.inspection import (
    ImageAttributionDisplay,
    TextAttributionDisplay,
    attributions,
)
from skfusion.inspection import _attributions as engine
from skfusion.preprocessing import TextEmbedder, TextTokenizer

TINY = dict(latent_dim=8, head_dims=(16,), lr=1e-2, batch_size=32, random_state=0)
FUSIONS = ("concat", "late", "gated", "attention", "low_rank")
FILLER = (
    "patient reports cough fever fatigue mild chest pain since monday "
    "denies nausea stable vitals review next week follow up clinic"
).split()
PLANTED = "hemoptysis"


def _within(result, rtol=0.01):
    """Completeness: |delta| <= rtol * max(|f(x) - f(x0)|, its mean)."""
    change = np.abs(result.prediction - result.baseline_prediction)
    tolerance = rtol * np.maximum(change, change.mean())
    return np.abs(result.delta), tolerance


# -- a note task: one planted word decides the label --------------------------
def _notes(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    notes = []
    for label in y:
        words = list(rng.choice(FILLER, size=rng.integers(5, 9)))
        if label:
            words.insert(int(rng.integers(0, len(words) + 1)), PLANTED)
        notes.append(" ".join(words).capitalize() + ".")
    frame = pd.DataFrame(
        {
            "note": notes,
            "age": rng.normal(60, 10, n),
            "smoker": rng.choice(["never", "former", "current"], n),
        }
    )
    return frame, y


@pytest.fixture(scope="module")
def note_task():
    X, y = _notes()
    tab = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age"]),
            ("cat", OneHotEncoder(sparse_output=False), ["smoker"]),
        ]
    )
    model = make_pipeline(
        make_modality_transformer(
            ("tab", tab, ["age", "smoker"]),
            note=(TextTokenizer(max_length=12), "note"),
        ),
        CrossModalClassifier(max_epochs=20, token_embedding_dim=16, **TINY),
    )
    return model.fit(X, y), X, y


@pytest.fixture(scope="module")
def note_result(note_task):
    model, X, _ = note_task
    return attributions(model, X)


def test_the_planted_word_has_the_top_attribution(note_task, note_result):
    _, X, y = note_task
    positives = np.flatnonzero(y == 1)
    top = [
        max(note_result.words["note"][i], key=lambda pair: pair[1])[0]
        for i in positives
    ]
    hit_rate = np.mean([word.lower() == PLANTED for word in top])
    assert hit_rate >= 0.9, hit_rate
    # the words are the note's, in text order, capitalised as written
    first = note_result.words["note"][0]
    assert [w for w, _ in first] == X["note"][0].rstrip(".").split()


def test_completeness_and_f_of_a_pipeline(note_task, note_result):
    model, X, _ = note_task
    error, tolerance = _within(note_result)
    assert (error <= tolerance).all(), (error / tolerance).max()
    # f is the log-odds of the positive class
    proba = model.predict_proba(X)
    np.testing.assert_allclose(
        note_result.prediction, np.log(proba[:, 1] / proba[:, 0]), atol=1e-4
    )
    total = note_result.totals.sum(axis=1).to_numpy()
    change = note_result.prediction - note_result.baseline_prediction
    np.testing.assert_allclose(total - change, note_result.delta, atol=1e-9)
    assert note_result.totals.index.equals(X.index)


def test_one_hot_columns_sum_back_to_the_raw_column(note_result):
    columns, raw = note_result.columns["tab"], note_result.raw_columns["tab"]
    one_hot = [c for c in columns if c.startswith("tab__cat__smoker_")]
    assert sorted(one_hot) == [
        "tab__cat__smoker_current",
        "tab__cat__smoker_former",
        "tab__cat__smoker_never",
    ]
    assert list(raw.columns) == ["age", "smoker"]
    np.testing.assert_allclose(raw["smoker"], columns[one_hot].sum(axis=1))
    np.testing.assert_allclose(raw["age"], columns["tab__num__age"])
    np.testing.assert_allclose(
        raw.sum(axis=1), note_result.inputs["tab"].sum(axis=1), atol=1e-12
    )


def test_x_is_never_modified(note_task):
    model, X, _ = note_task
    before = X.copy()
    attributions(model, X.iloc[:10], method="occlusion")
    pd.testing.assert_frame_equal(X, before)


def test_token_occlusion_also_finds_the_word(note_task):
    model, X, y = note_task
    rows = np.flatnonzero(y == 1)[:40]
    result = attributions(model, X.iloc[rows], method="occlusion")
    assert result.delta is None and result.engine == "skfusion"
    top = [max(words, key=lambda p: p[1])[0] for words in result.words["note"]]
    assert np.mean([w.lower() == PLANTED for w in top]) >= 0.9
    # saliency: one non-negative value per word (the gradient's size)
    saliency = attributions(model, X.iloc[rows], method="saliency")
    values = [a for words in saliency.words["note"] for _, a in words]
    assert len(values) == sum(len(w) for w in result.words["note"])
    assert min(values) >= 0.0 and max(values) > 0.0


def test_words_from_ids_need_the_vocabulary(note_task):
    model, X, _ = note_task
    ids = model[0].transform(X.iloc[:3])
    tokenizer = model[0].named_transformers_["note"]
    result = attributions(model[-1], ids, vocabularies={"note": tokenizer})
    expected = X["note"][0].lower().rstrip(".").split()
    assert [w for w, _ in result.words["note"][0]] == expected
    bare = attributions(model[-1], ids)
    assert bare.words["note"][0][0][0].startswith("<id ")
    assert bare.raw_columns == {}  # no Pipeline: nothing to trace


# -- sentences of a dense text embedding, by occlusion ------------------------
def test_sentence_occlusion_finds_the_planted_sentence():
    rng = np.random.default_rng(1)
    n = 200
    y = rng.integers(0, 2, n)
    notes = []
    for label in y:
        sentences = [" ".join(rng.choice(FILLER, 4)) + "." for _ in range(2)]
        if label:
            sentences.insert(1, f"New {PLANTED} today.")
        notes.append(" ".join(sentences))
    X = pd.DataFrame({"note": notes, "age": rng.normal(size=n)})
    model = make_pipeline(
        make_modality_transformer(
            ("tab", StandardScaler(), ["age"]),
            note=(TextEmbedder(n_components=8), "note"),
        ),
        CrossModalClassifier(max_epochs=20, **TINY),
    ).fit(X, y)
    rows = np.flatnonzero(y == 1)[:20]
    result = attributions(model, X.iloc[rows], method="occlusion")
    tops = [max(pairs, key=lambda p: p[1])[0] for pairs in result.sentences["note"]]
    assert np.mean([PLANTED in s for s in tops]) >= 0.9
    assert len(result.sentences["note"][0]) == 3
    # a dense embedding is explained per dimension, traced to the note column
    assert list(result.raw_columns["note"].columns) == ["note"]
    assert result.columns["note"].shape == (len(rows), 8)


# -- an image task: a bright square decides the label --------------------------
@pytest.fixture(scope="module")
def image_task():
    rng = np.random.default_rng(0)
    n, side = 300, 8
    images = rng.uniform(0.0, 0.3, size=(n, 1, side, side)).astype(np.float32)
    y = rng.integers(0, 2, n)
    corners = rng.integers(0, side - 2, size=(n, 2))
    for i in np.flatnonzero(y):
        r, c = corners[i]
        images[i, 0, r : r + 2, c : c + 2] = 1.0
    X = {"img": images, "tab": rng.normal(size=(n, 2))}
    clf = CrossModalClassifier(max_epochs=10, cnn_channels=(16, 16), **TINY)
    return clf.fit(X, y), X, y, corners


def test_attribution_mass_sits_on_the_square(image_task):
    clf, X, y, corners = image_task
    rows = np.flatnonzero(y == 1)[:60]
    result = attributions(clf, {k: v[rows] for k, v in X.items()})
    maps = np.abs(result.inputs["img"][:, 0])
    assert maps.shape == (len(rows), 8, 8)
    inside = np.array(
        [
            maps[k, r : r + 2, c : c + 2].sum() / maps[k].sum()
            for k, (r, c) in enumerate(corners[rows])
        ]
    )
    area_share = 4 / 64
    assert inside.mean() > 5 * area_share, inside.mean()
    error, tolerance = _within(result)
    assert (error <= tolerance).all()


def test_image_occlusion_spreads_each_drop_over_its_square(image_task):
    clf, X, _, _ = image_task
    rows = slice(0, 5)
    result = attributions(
        clf, {k: v[rows] for k, v in X.items()}, method="occlusion", window=2
    )
    maps = result.inputs["img"][:, 0]
    # one value per 2 x 2 square
    np.testing.assert_allclose(maps[:, 0, 0], maps[:, 1, 1])
    assert result.engine == "skfusion"


# -- completeness for every fusion, and for a regressor and a survival model ---
def _mixed(n=100, seed=0):
    rng = np.random.default_rng(seed)
    X = {
        "a": rng.normal(size=(n, 4)),
        "img": rng.uniform(size=(n, 1, 6, 6)).astype(np.float32),
        "b": rng.normal(size=(n, 3)),
        "b__missing": np.arange(n) % 5 == 0,
    }
    signal = X["a"][:, 0] + X["img"][:, 0, :3, :3].mean(axis=(1, 2)) + X["b"][:, 1]
    return X, signal


@pytest.mark.parametrize("fusion", FUSIONS)
def test_integrated_gradients_are_complete_for_every_fusion(fusion):
    X, signal = _mixed()
    y = (signal > np.median(signal)).astype(int)
    clf = CrossModalClassifier(
        fusion=fusion, max_epochs=10, cnn_channels=(16, 16), **TINY
    ).fit(X, y)
    result = attributions(clf, X)
    error, tolerance = _within(result)
    assert (error <= tolerance).all(), (fusion, (error / tolerance).max())
    assert result.engine == "captum"
    # an absent modality gets no attribution
    absent = X["b__missing"]
    assert np.abs(result.inputs["b"][absent]).max() < 1e-6
    np.testing.assert_array_equal(result.target, np.ones(len(y), dtype=int))


def test_regressor_explains_its_prediction_completely():
    X, signal = _mixed(seed=1)
    reg = CrossModalRegressor(max_epochs=10, **TINY).fit(X, 5 * signal + 3)
    result = attributions(reg, X, baseline="zeros")
    np.testing.assert_allclose(result.prediction, reg.predict(X), rtol=1e-4, atol=1e-4)
    error, tolerance = _within(result)
    assert (error <= tolerance).all()
    # "zeros" is the raw zero input: f(x0) is the model's output at zeros
    zeros = {k: np.zeros_like(v) if k != "b__missing" else v for k, v in X.items()}
    np.testing.assert_allclose(
        result.baseline_prediction, reg.predict(zeros), rtol=1e-4, atol=1e-4
    )


def test_survival_risk_is_explained_completely():
    X, signal = _mixed(seed=2)
    rng = np.random.default_rng(2)
    time = rng.exponential(np.exp(-signal))
    event = rng.uniform(size=len(time)) < 0.7
    y = np.array(list(zip(event, time, strict=True)), dtype=[("e", "?"), ("t", "<f8")])
    surv = CrossModalSurvival(max_epochs=10, **TINY).fit(X, y)
    result = attributions(surv, X)
    np.testing.assert_allclose(result.prediction, surv.predict(X), atol=1e-4)
    error, tolerance = _within(result)
    assert (error <= tolerance).all()
    assert result.target is None


def test_own_integration_without_captum_agrees(monkeypatch):
    rng = np.random.default_rng(3)
    X = {"a": rng.normal(size=(60, 4)), "b": rng.normal(size=(60, 3))}
    y = (X["a"][:, 0] + X["b"][:, 1] > 0).astype(int)
    clf = CrossModalClassifier(max_epochs=5, **TINY).fit(X, y)
    with_captum = attributions(clf, X)
    monkeypatch.setattr(engine, "_captum", lambda: None)
    own = attributions(clf, X)
    assert (with_captum.engine, own.engine) == ("captum", "skfusion")
    error, tolerance = _within(own)
    assert (error <= tolerance).all()
    scale = np.abs(with_captum.inputs["a"]).max()
    np.testing.assert_allclose(
        own.inputs["a"], with_captum.inputs["a"], atol=0.02 * scale
    )
    saliency = attributions(clf, X, method="saliency")
    assert saliency.engine == "skfusion" and saliency.delta is None
    assert (saliency.inputs["a"] >= 0).all() and saliency.inputs["a"].max() > 0


def test_target_and_parameter_errors(image_task):
    clf, X, _, _ = image_task
    small = {k: v[:4] for k, v in X.items()}
    with pytest.raises(ValueError, match=r"target='yes' is not one of the classes"):
        attributions(clf, small, target="yes")
    with pytest.raises(ValueError, match="method must be one of"):
        attributions(clf, small, method="lime")
    with pytest.raises(ValueError, match="baseline must be one of"):
        attributions(clf, small, baseline="mean")
    negative = attributions(clf, small, target=0)
    positive = attributions(clf, small)
    np.testing.assert_allclose(negative.prediction, -positive.prediction, atol=1e-6)


# -- displays -----------------------------------------------------------------
def test_text_display_html_shades_every_word(note_result):
    display = TextAttributionDisplay.from_result(note_result, "note", 1)
    words = note_result.words["note"][1]
    html = display._repr_html_()
    assert html.count("<span style=") == len(words)
    for word, value in words:
        assert f'title="{value:.3g}">{word}</span>' in html
    top = max(words, key=lambda p: abs(p[1]))
    assert display.scale_ == pytest.approx(abs(top[1]))
    with pytest.raises(ValueError, match="no modality 'tab'"):
        TextAttributionDisplay.from_result(note_result, "tab", 0)


def test_text_display_plot_draws_one_shaded_text_per_word(note_result):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    display = TextAttributionDisplay.from_result(note_result, "note", 1).plot()
    words = note_result.words["note"][1]
    assert [t.get_text() for t in display.texts_] == [w for w, _ in words]
    alphas = [t.get_bbox_patch().get_facecolor()[3] for t in display.texts_]
    expected = [min(1.0, abs(a) / display.scale_) for _, a in words]
    np.testing.assert_allclose(alphas, expected, atol=1e-6)
    assert display.ax_.get_title() == "note"
    plt.close("all")


def test_image_display_overlays_the_map(image_task):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clf, X, _, _ = image_task
    small = {k: v[:3] for k, v in X.items()}
    result = attributions(clf, small)
    display = ImageAttributionDisplay.from_result(result, "img", 2).plot()
    assert len(display.ax_.images) == 2
    np.testing.assert_allclose(display.heatmap_.get_array(), result.inputs["img"][2, 0])
    np.testing.assert_allclose(display.image_.get_array(), small["img"][2, 0])
    limit = np.abs(result.inputs["img"][2]).max()
    assert display.heatmap_.get_clim() == pytest.approx((-limit, limit))
    assert display.colorbar_ is not None
    with pytest.raises(ValueError, match="no image modality 'tab'"):
        ImageAttributionDisplay.from_result(result, "tab", 0)
    plt.close("all")


def test_from_estimator_computes_then_plots_the_same_as_from_result(image_task):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clf, X, _, _ = image_task
    small = {k: v[:3] for k, v in X.items()}
    result = attributions(clf, small)
    display = ImageAttributionDisplay.from_estimator(clf, small, "img", row=1)
    np.testing.assert_allclose(display.heatmap_.get_array(), result.inputs["img"][1, 0])
    assert isinstance(display, ImageAttributionDisplay)
    plt.close("all")
