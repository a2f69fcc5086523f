"""Fusion methods, the shared space, and rows with missing modalities."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion.nn.fusion import FUSIONS, LowRankFusion
from skfusion.nn.losses import alignment_loss
from skfusion.nn.network import drop_modalities

FAST = dict(
    max_epochs=12,
    batch_size=32,
    latent_dim=8,
    head_dims=(16,),
    cnn_channels=(4, 8),
    lr=1e-2,
    random_state=0,
)
ALL_FUSIONS = sorted(FUSIONS)


def _data(n=200, seed=0, missing=0.3):
    """tab (vector) + img (1x6x6 image, 30% absent); each carries half the label."""
    rng = np.random.default_rng(seed)
    tab = rng.normal(size=(n, 3))
    bright = rng.normal(size=n)
    img = np.clip(
        0.5 + 0.15 * bright[:, None, None, None] + 0.05 * rng.normal(size=(n, 1, 6, 6)),
        0,
        1,
    )
    absent = rng.random(n) < missing
    img[absent] = 0.0
    y = (tab[:, 0] + bright > 0).astype(int)
    return {"tab": tab, "img": img, "img__missing": absent}, y


def _redundant(n=800, seed=3, tab_noise=1.0):
    """Both modalities show one patient latent u (image cleanly); y = 1[u > 0]."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=n)
    tab = np.column_stack([u + tab_noise * rng.normal(size=n), rng.normal(size=(n, 2))])
    img = np.clip(
        0.5 + 0.15 * u[:, None, None, None] + 0.02 * rng.normal(size=(n, 1, 6, 6)), 0, 1
    )
    return {"tab": tab, "img": img, "img__missing": np.zeros(n, bool)}, (u > 0).astype(
        int
    )


# ----------------------------------------------------------- every fusion
@pytest.mark.parametrize("fusion", ALL_FUSIONS)
@pytest.mark.parametrize("Estimator", [CrossModalClassifier, CrossModalRegressor])
def test_each_fusion_fits_and_predicts(fusion, Estimator):
    X, y = _data()
    est = Estimator(fusion=fusion, **FAST).fit(X, y)
    pred = est.predict(X)
    assert pred.shape == (200,)
    if Estimator is CrossModalClassifier:
        assert est.score(X, y) > 0.8
        np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1.0)
    else:
        assert est.score(X, y) > 0.4


@pytest.mark.parametrize("fusion", ALL_FUSIONS)
def test_one_modality_and_many_modalities(fusion):
    rng = np.random.default_rng(0)
    one = {"a": rng.normal(size=(60, 2))}
    y = (one["a"][:, 0] > 0).astype(int)
    assert CrossModalClassifier(fusion=fusion, **FAST).fit(one, y).score(one, y) > 0.8
    many = {f"m{i}": rng.normal(size=(60, 2)) for i in range(5)}
    clf = CrossModalClassifier(fusion=fusion, **FAST).fit(many, y)
    assert clf.predict(many).shape == (60,)


@pytest.mark.parametrize("fusion", ALL_FUSIONS)
def test_pixels_of_absent_rows_do_not_change_predictions(fusion):
    X, y = _data()
    clf = CrossModalClassifier(fusion=fusion, **FAST).fit(X, y)
    absent = X["img__missing"]
    noisy = {**X, "img": X["img"].copy()}
    noisy["img"][absent] = np.random.default_rng(1).random(noisy["img"][absent].shape)
    np.testing.assert_array_equal(
        clf.predict_proba(X)[absent], clf.predict_proba(noisy)[absent]
    )
    np.testing.assert_array_equal(
        clf.transform(X)[absent], clf.transform(noisy)[absent]
    )
    # the same pixels do matter where the image is present
    noisy["img"][~absent] = 1.0
    assert not np.allclose(
        clf.predict_proba(X)[~absent], clf.predict_proba(noisy)[~absent]
    )


@pytest.mark.parametrize("fusion", ALL_FUSIONS)
def test_rows_with_every_modality_absent_share_one_defined_prediction(fusion):
    rng = np.random.default_rng(0)
    n = 120
    X = {
        "a": rng.normal(size=(n, 2)),
        "b": rng.normal(size=(n, 2)),
        "a__missing": rng.random(n) < 0.3,
        "b__missing": rng.random(n) < 0.3,
    }
    y = (X["a"][:, 0] + X["b"][:, 0] > 0).astype(int)
    clf = CrossModalClassifier(fusion=fusion, **FAST).fit(X, y)
    empty = {
        "a": rng.normal(size=(5, 2)),
        "b": rng.normal(size=(5, 2)),
        "a__missing": np.ones(5, bool),
        "b__missing": np.ones(5, bool),
    }
    proba = clf.predict_proba(empty)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba, np.repeat(proba[:1], 5, axis=0), atol=1e-6)


# ------------------------------------------------------ modality weights
@pytest.mark.parametrize("fusion", ["late", "gated", "attention"])
def test_modality_weights_sum_to_one_over_present(fusion):
    X, y = _data()
    clf = CrossModalClassifier(fusion=fusion, **FAST).fit(X, y)
    w = clf.modality_weights(X)
    assert w.shape == (200, 2)
    assert list(clf.modalities_) == ["tab", "img"]
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    absent = X["img__missing"]
    np.testing.assert_array_equal(w[absent, 1], 0.0)
    np.testing.assert_allclose(w[absent, 0], 1.0, rtol=1e-6)
    assert (w[~absent] > 0).all()


@pytest.mark.parametrize("fusion", ["concat", "low_rank"])
def test_modality_weights_only_where_the_fusion_has_them(fusion):
    clf = CrossModalClassifier(fusion=fusion)
    assert not hasattr(clf, "modality_weights")


# ------------------------------------------------------------- transform
@pytest.mark.parametrize(
    "fusion, width",
    [("concat", 16), ("late", 16), ("gated", 8), ("attention", 8), ("low_rank", 8)],
)
def test_transform_returns_the_documented_shape(fusion, width):
    X, y = _data()
    clf = CrossModalClassifier(fusion=fusion, **FAST).fit(X, y)
    Z = clf.transform(X)
    assert Z.shape == (200, width) and Z.dtype == np.float32
    names = clf.get_feature_names_out()
    assert len(names) == width and names[0] == "crossmodalclassifier0"
    embeddings = clf.modality_embeddings(X)
    assert list(embeddings) == ["tab", "img"]
    assert all(e.shape == (200, 8) for e in embeddings.values())


def test_transform_serves_as_feature_extractor():
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    clf = CrossModalClassifier(fusion="gated", **FAST).fit(X, y)
    probe = LogisticRegression(max_iter=1000).fit(clf.transform(X), y)
    assert probe.score(clf.transform(X), y) > 0.85


# -------------------------------------------------------- modality dropout
def test_drop_modalities_never_empties_a_row():
    torch.manual_seed(0)
    present = (torch.rand(5000, 3) > 0.2).float()
    present[:10] = 0.0
    dropped = drop_modalities(present, 0.5)
    had = present.sum(dim=1) > 0
    assert (dropped.sum(dim=1)[had] >= 1).all()
    assert (dropped[:10] == 0).all()
    assert (dropped <= present).all()
    rate = 1 - dropped[had].sum() / present[had].sum()
    assert 0.35 < rate < 0.5  # p=0.5 minus the rows kept from emptying


def test_modality_dropout_softens_the_loss_of_a_modality():
    """AUC drop when the image goes missing at predict time, with vs without.

    Both modalities carry the same latent, the image more cleanly: trained
    without dropout, the network leans on the image and learns the tabular
    pathway poorly; with dropout it must learn both.
    """
    X, y = _redundant()
    train, test = np.arange(600), np.arange(600, 800)

    def subset(idx, drop_img=False):
        out = {k: v[idx] for k, v in X.items()}
        if drop_img:
            out["img__missing"] = np.ones(len(idx), bool)
        return out

    drops = {}
    for p in (0.0, 0.5):
        clf = CrossModalClassifier(modality_dropout=p, **{**FAST, "max_epochs": 20})
        clf.fit(subset(train), y[train])
        full = roc_auc_score(y[test], clf.predict_proba(subset(test))[:, 1])
        tab_only = roc_auc_score(y[test], clf.predict_proba(subset(test, True))[:, 1])
        assert full > 0.97
        drops[p] = full - tab_only
    # measured: 0.280 without, 0.146 with dropout (0.85 is tab's own ceiling)
    assert drops[0.5] < drops[0.0] - 0.08, drops


# ----------------------------------------------------------------- alignment
def test_alignment_loss_values():
    torch.manual_seed(0)
    z = torch.randn(16, 2, 32)
    same = torch.stack([z[:, 0], z[:, 0]], dim=1)
    assert alignment_loss(same, kind="mse").item() == pytest.approx(0.0, abs=1e-6)
    assert alignment_loss(z, kind="mse").item() > 0.5
    matched = alignment_loss(same, kind="contrastive").item()
    shuffled = alignment_loss(z, kind="contrastive").item()
    assert matched < 0.1 < np.log(16) * 0.5 < shuffled
    present = torch.ones(16, 2)
    present[:, 1] = 0
    assert alignment_loss(z, present, kind="mse").item() == 0.0  # no pair present


def test_alignment_pulls_a_patients_modalities_together():
    """Two views of one 4-d patient latent: alignment makes a patient's two
    embeddings much closer than embeddings of different patients."""
    rng = np.random.default_rng(0)
    n = 400
    u = rng.normal(size=(n, 4))
    X = {
        "a": u @ rng.normal(size=(4, 6)) + 0.3 * rng.normal(size=(n, 6)),
        "b": u @ rng.normal(size=(4, 5)) + 0.3 * rng.normal(size=(n, 5)),
    }
    y = (u[:, 0] > 0).astype(int)

    def ratio(clf):
        e = clf.modality_embeddings(X)
        a = e["a"] / np.linalg.norm(e["a"], axis=1, keepdims=True)
        b = e["b"] / np.linalg.norm(e["b"], axis=1, keepdims=True)
        own = np.linalg.norm(a - b, axis=1).mean()
        other = np.linalg.norm(a[:, None] - b[None], axis=2).mean()
        return own / other

    plain = ratio(CrossModalClassifier(**FAST).fit(X, y))
    for kind in ("contrastive", "mse"):  # default alignment_weight=0.1
        clf = CrossModalClassifier(alignment=kind, **FAST).fit(X, y)
        # measured: 1.06 without alignment, 0.32 contrastive, 0.34 mse
        assert ratio(clf) < 0.5 * plain, (kind, ratio(clf), plain)
        assert clf.score(X, y) > 0.95


def test_low_rank_absent_modality_keeps_only_its_constant_term():
    torch.manual_seed(0)
    fusion = LowRankFusion(2, 3, rank=2)
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    present = torch.tensor([[1.0, 0.0]] * 4)
    out = fusion([a, b], present)
    np.testing.assert_allclose(
        out.detach(), fusion([a, torch.zeros(4, 3)], None).detach(), rtol=1e-6
    )
    assert not torch.allclose(out, fusion([a, b], None))


def test_low_rank_starts_close_to_additive():
    """Interaction part f(a,b) - f(a,0) - f(0,b) + f(0,0) is second order."""
    torch.manual_seed(0)
    fusion = LowRankFusion(2, 8, rank=4)
    a, b = 0.1 * torch.randn(64, 8), 0.1 * torch.randn(64, 8)
    zero = torch.zeros(64, 8)
    with torch.no_grad():
        main_a = fusion([a, zero]) - fusion([zero, zero])
        inter = (
            fusion([a, b])
            - fusion([a, zero])
            - fusion([zero, b])
            + fusion([zero, zero])
        )
    assert inter.abs().mean() < 0.1 * main_a.abs().mean()
