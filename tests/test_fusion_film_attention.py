"""FiLM and cross-attention fusions (skfusion.nn.conditioning, .cross_attention)."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from skfusion import CrossModalClassifier, CrossModalRegressor, CrossModalSurvival

SMALL = {
    "latent_dim": 8,
    "cnn_channels": (4, 8),
    "head_dims": (16,),
    "token_embedding_dim": 8,
    "dropout": 0.0,
    "random_state": 0,
}


def _image_task(n, signal, seed=0):
    """tab (n, 3) and an 8x8 image whose left-half brightness s_img carries
    the signal: y = 1[s_tab + s_img > 0] (additive) or 1[s_tab * s_img > 0]
    (interaction: the image's meaning depends on the tabular value)."""
    rng = np.random.default_rng(seed)
    tab = rng.normal(size=(n, 3)).astype(np.float32)
    s_img = rng.normal(size=n).astype(np.float32)
    img = rng.normal(scale=0.5, size=(n, 1, 8, 8)).astype(np.float32)
    img[:, 0, :, :4] += s_img[:, None, None]
    score = tab[:, 0] + s_img if signal == "additive" else tab[:, 0] * s_img
    return {"tab": tab, "img": img}, (score > 0).astype(int)


def _three_modalities(n=200, seed=0):
    X, y = _image_task(n, "additive", seed)
    rng = np.random.default_rng(seed + 1)
    ids = rng.integers(1, 20, size=(n, 6)).astype(np.float32)
    ids[:, 3:] = 0  # padding
    ids[::3, 1:] = 0  # shorter texts
    return {**X, "ids": ids}, y


def _frame(X):
    """The DataFrame that make_modality_transformer would give for the dict
    X (so that "ids" is a token modality): <name>__<feature> columns and
    <name>__missing availability columns."""
    n = len(X["tab"])
    parts = [pd.DataFrame(X["tab"], columns=[f"tab__x{j}" for j in range(3)])]
    parts.append(
        pd.DataFrame(
            X["img"].reshape(n, -1),
            columns=[f"img__pixel_0_{r}_{c}" for r in range(8) for c in range(8)],
        )
    )
    parts.append(
        pd.DataFrame(X["ids"], columns=[f"ids__token_{i}_vocab_20" for i in range(6)])
    )
    frame = pd.concat(parts, axis=1)
    for name in ("tab", "img", "ids"):
        frame[f"{name}__missing"] = X.get(f"{name}__missing", np.zeros(n, np.float32))
    return frame


def _fit_auc(fusion, signal, n=600, epochs=20):
    X, y = _image_task(n, signal)
    Xt, yt = _image_task(400, signal, seed=1)
    clf = CrossModalClassifier(
        fusion=fusion, max_epochs=epochs, lr=3e-3, batch_size=32, **SMALL
    )
    clf.fit(X, y)
    return roc_auc_score(yt, clf.predict_proba(Xt)[:, 1])


# -- FiLM --------------------------------------------------------------------


def test_film_absent_conditioner_is_the_identity_modulation():
    X, y = _image_task(200, "interaction")
    X["tab__missing"] = (np.arange(200) % 10 == 0).astype(np.float32)
    clf = CrossModalClassifier(fusion="film", max_epochs=4, lr=3e-3, **SMALL)
    clf.fit(X, y)
    fusion = clf.net_.module_.fusion
    assert fusion.conditioning == {1: [0]}  # tab conditions img (the default)
    off = copy.deepcopy(clf)
    off.net_.module_.fusion.conditioning = {}  # same weights, no conditioning
    absent = {**X, "tab__missing": np.ones(200, np.float32)}
    np.testing.assert_array_equal(clf.predict_proba(absent), off.predict_proba(absent))
    np.testing.assert_array_equal(clf.transform(absent), off.transform(absent))
    # present, the (trained) modulation changes the prediction
    assert np.abs(clf.predict_proba(X) - off.predict_proba(X)).max() > 1e-4


def test_film_starts_as_identity_and_modulates_tokens():
    X, y = _three_modalities()
    clf = CrossModalClassifier(fusion="film", max_epochs=1, lr=1e-9, **SMALL)
    clf.fit(_frame(X), y)
    fusion = clf.net_.module_.fusion
    assert fusion.conditioning == {1: [0], 2: [0]}  # img and ids
    assert fusion.channels == {1: [4, 8], 2: [8]}
    net = clf.net_.module_.eval()
    inputs = {k: torch.as_tensor(v[:20]) for k, v in X.items()}
    gammas = fusion.modulation(net.encode(**inputs)[0], None, 2)
    assert torch.allclose(gammas[0][0], torch.ones(20, 8), atol=1e-6)
    assert torch.allclose(gammas[0][1], torch.zeros(20, 8), atol=1e-6)


def test_film_conditioning_parameter_selects_the_pairs():
    X, y = _three_modalities()
    clf = CrossModalClassifier(
        fusion="film", conditioning={"ids": ["tab"]}, max_epochs=1, **SMALL
    ).fit(_frame(X), y)
    assert clf.net_.module_.fusion.conditioning == {2: [0]}
    assert list(clf.net_.module_.fusion.generators) == ["2_0"]


@pytest.mark.parametrize(
    "conditioning, match",
    [
        ({"xray": ["tab"]}, "'xray', a key, is not a modality"),
        ({"img": ["age"]}, "'age', a value of conditioning"),
        ({"img": ["img"]}, "conditions itself"),
        ({"img": ["ids"]}, "only vector .tabular. modalities can condition"),
        ({"tab": ["img"]}, "'tab' .vector. cannot be conditioned"),
        ({"img": "tab"}, "must be a list of modality names"),
    ],
)
def test_film_bad_conditioning_is_refused_in_fit(conditioning, match):
    X, y = _three_modalities(60)
    clf = CrossModalClassifier(
        fusion="film", conditioning=conditioning, max_epochs=1, **SMALL
    )
    with pytest.raises((ValueError, TypeError), match=match):
        clf.fit(_frame(X), y)


# -- cross-attention ---------------------------------------------------------


@pytest.fixture(scope="module")
def attention_fit():
    X, y = _three_modalities(240)
    rng = np.random.default_rng(3)
    X["img__missing"] = (rng.random(240) < 0.3).astype(np.float32)
    X["tab__missing"] = (np.arange(240) % 10 == 0).astype(np.float32)
    X["ids__missing"] = (np.arange(240) % 10 == 5).astype(np.float32)
    clf = CrossModalClassifier(
        fusion="cross_attention", max_epochs=3, lr=3e-3, **SMALL
    ).fit(_frame(X), y)
    return clf, X


def test_cross_attention_ignores_the_pixels_of_an_absent_image(attention_fit):
    clf, X = attention_fit
    rng = np.random.default_rng(0)
    absent = X["img__missing"] > 0
    img = X["img"].copy()
    flat = img[absent].reshape(absent.sum(), -1)
    img[absent] = rng.permuted(flat, axis=1).reshape(-1, 1, 8, 8) * 3.0 + 1.0
    moved = {**X, "img": img}
    np.testing.assert_array_equal(
        clf.predict_proba(_frame(X)), clf.predict_proba(_frame(moved))
    )
    np.testing.assert_array_equal(
        clf.transform(_frame(X)), clf.transform(_frame(moved))
    )
    assert not np.array_equal(
        clf.predict_proba(_frame(X))[~absent],
        clf.predict_proba(_frame({**X, "img": img * 2}))[~absent],
    )


def test_cross_attention_gives_padding_tokens_exactly_zero_attention(attention_fit):
    clf, X = attention_fit
    net = clf.net_.module_.eval()
    inputs = {k: torch.as_tensor(v) for k, v in X.items() if "missing" not in k}
    with torch.no_grad():
        embeddings, present = net.encode(**inputs)
        _, weights = net.fusion.attention(embeddings, present)
    padding = embeddings.padding  # (n, T): the token modality's id-0 positions
    assert len(weights) == 2 and padding.any()
    # image 4 patch tokens (8x8 -> 2x2), tab 4 tokens, ids 6 positions
    assert net.fusion.counts == [4, 4, 6]
    np.testing.assert_array_equal(padding[:, 8:].numpy(), X["ids"] == 0)
    for w in weights:
        keys = w[:, :, 1:]
        assert torch.all(keys.masked_select(padding[:, None, :]) == 0)
        assert torch.allclose(w.sum(-1), torch.ones(()), atol=1e-5)


def test_cross_attention_modality_weights_and_no_modality_rows(attention_fit):
    clf, X = attention_fit
    weights = clf.modality_weights(_frame(X))
    assert weights.shape == (240, 3)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(weights[X["img__missing"] > 0, 1] == 0)
    nothing = {
        **X,
        "tab__missing": np.ones(240, np.float32),
        "img__missing": np.ones(240, np.float32),
        "ids__missing": np.ones(240, np.float32),
    }
    proba = clf.predict_proba(_frame(nothing))
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba, proba[:1].repeat(240, 0), atol=1e-6)
    assert np.all(clf.modality_weights(_frame(nothing)) == 0)


# -- both --------------------------------------------------------------------


@pytest.mark.parametrize("fusion", ["film", "cross_attention"])
def test_both_fusions_learn_the_additive_task(fusion):
    assert _fit_auc(fusion, "additive") > 0.85


@pytest.mark.parametrize("fusion", ["film", "cross_attention"])
def test_both_fusions_learn_the_interaction_task(fusion):
    # The image's meaning flips with the sign of tab[:, 0]. Measured on
    # these seeds (600 rows, 20 epochs): concat 0.90, film 0.96,
    # cross_attention 0.95 (ROC AUC on 400 new rows).
    assert _fit_auc(fusion, "interaction") > 0.85


def test_concat_also_learns_this_interaction_task():
    assert _fit_auc("film", "interaction") > 0.85
    assert _fit_auc("concat", "interaction") > 0.85


@pytest.mark.parametrize("fusion", ["film", "cross_attention"])
def test_persistence_round_trip_is_identical(fusion):
    X, y = _three_modalities(120)
    X["img__missing"] = (np.arange(120) % 4 == 0).astype(np.float32)
    clf = CrossModalClassifier(
        fusion=fusion,
        conditioning={"img": ["tab"]} if fusion == "film" else None,
        max_epochs=2,
        **SMALL,
    ).fit(_frame(X), y)
    expected = clf.predict_proba(_frame(X))
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(_frame(X)), expected)
    np.testing.assert_array_equal(loaded.transform(_frame(X)), clf.transform(_frame(X)))
    sio = pytest.importorskip("skops.io")
    dumped = sio.dumps(clf)
    loaded = sio.loads(dumped, trusted=sio.get_untrusted_types(data=dumped))
    np.testing.assert_array_equal(loaded.predict_proba(_frame(X)), expected)


@pytest.mark.parametrize("fusion", ["film", "cross_attention"])
def test_every_feature_works_with_both_fusions(fusion):
    X, y = _three_modalities(120)
    X["tab__missing"] = (np.arange(120) % 5 == 0).astype(np.float32)
    clf = CrossModalClassifier(
        fusion=fusion,
        modality_dropout=0.3,
        alignment="contrastive",
        max_epochs=2,
        **SMALL,
    ).fit(_frame(X), y)
    z = clf.transform(_frame(X))
    width = 3 * 8 if fusion == "film" else 8  # concat of 3 embeddings / summary
    assert z.shape == (120, width) and np.isfinite(z).all()
    assert {k: v.shape for k, v in clf.modality_embeddings(_frame(X)).items()} == {
        "tab": (120, 8),
        "img": (120, 8),
        "ids": (120, 8),
    }
    target = X["tab"][:, 0] + X["img"].mean(axis=(1, 2, 3))
    reg = CrossModalRegressor(fusion=fusion, max_epochs=2, **SMALL).fit(
        _frame(X), target
    )
    assert np.isfinite(reg.predict(_frame(X))).all()
    time = 1.0 + np.arange(120) % 7
    event = np.arange(120) % 3 > 0
    surv = CrossModalSurvival(fusion=fusion, max_epochs=2, **SMALL)
    from skfusion.metrics import survival_array

    surv.fit(_frame(X), survival_array(event, time))
    assert np.isfinite(surv.predict(_frame(X))).all()


def test_film_conditioner_dropped_by_the_caller_modulates_nothing():
    # kept (the presence after modality dropout, as _privacy draws it) is
    # what FiLM reads: a dropped conditioner gives the identity modulation
    X, y = _image_task(64, "interaction")
    clf = CrossModalClassifier(fusion="film", max_epochs=2, **SMALL).fit(X, y)
    net = clf.net_.module_.eval()
    with torch.no_grad():
        net.fusion.generators["1_0"][-1].bias.fill_(0.5)  # a visible modulation
    inputs = {k: torch.as_tensor(v) for k, v in X.items()}
    off = copy.deepcopy(net)
    off.fusion.conditioning = {}
    with torch.no_grad():
        dropped = torch.tensor([[0.0, 1.0]]).repeat(64, 1)
        np.testing.assert_array_equal(
            net.output(inputs, dropped).numpy(), off.output(inputs, dropped).numpy()
        )
        kept = torch.ones(64, 2)
        assert not torch.allclose(net.output(inputs, kept), off.output(inputs, kept))


@pytest.mark.parametrize("fusion", ["film", "cross_attention"])
def test_both_fusions_train_privately(fusion):
    pytest.importorskip("opacus")
    X, y = _three_modalities(120)
    clf = CrossModalClassifier(
        fusion=fusion, max_epochs=2, batch_size=32, dp_epsilon=3.0, **SMALL
    ).fit(_frame(X), y)
    assert 2.9 < clf.epsilon_ <= 3.0
    assert np.isfinite(clf.predict_proba(_frame(X))).all()
