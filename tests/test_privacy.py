"""Differentially private training (dp_epsilon): DP-SGD through Opacus."""

import pickle
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV

from skfusion import CrossModalClassifier, CrossModalRegressor, CrossModalSurvival
from skfusion._privacy import (
    ALPHAS,
    PrivateNet,
    default_delta,
    per_sample_gradients,
)
from skfusion._training import WeightedNet
from skfusion.metrics import survival_array

pytest.importorskip("opacus")

SMALL = dict(latent_dim=8, head_dims=(8,), n_threads=1, random_state=0)


def _easy(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = {
        "lab": rng.normal(size=(n, 4)).astype(np.float32),
        "vital": rng.normal(size=(n, 3)).astype(np.float32),
    }
    y = X["lab"][:, 0] + X["vital"][:, 0] + 0.5 * rng.normal(size=n) > 0
    return X, y.astype(int)


def _rows(X, rows):
    return {key: value[rows] for key, value in X.items()}


def test_per_sample_gradients_are_each_rows_own_gradient():
    X, y = _easy(60)
    clf = CrossModalClassifier(
        dp_epsilon=5.0, max_epochs=1, dropout=0.0, alignment="mse", **SMALL
    ).fit(X, y)
    net = clf.net_
    assert isinstance(net, PrivateNet)
    net.module_.train()
    batch = {k: torch.as_tensor(v[:6]) for k, v in X.items()}
    target = torch.as_tensor(y[:6])
    grads, losses, _ = per_sample_gradients(net, batch, target)
    for i in range(6):
        net.module_.zero_grad()
        row = {k: v[i : i + 1] for k, v in batch.items()}
        loss = net.row_loss(net.module_(**row), target[i : i + 1], row)
        loss.backward()
        assert losses[i].item() == pytest.approx(loss.item(), rel=1e-5)
        for name, p in net.module_.named_parameters():
            expected = torch.zeros_like(p) if p.grad is None else p.grad  # unused
            np.testing.assert_allclose(grads[name][i], expected, rtol=1e-4, atol=1e-6)


def test_each_rows_gradient_is_clipped_before_the_step():
    # One full-batch step (batch_size >= n: every row, every step) of plain
    # SGD, with almost no noise (ε = 1e4): the update is lr * C * the mean of
    # the rows' unit gradients, which only per-row clipping gives.
    X, y = _easy(80)
    params = dict(
        optimizer=torch.optim.SGD,
        weight_decay=0.0,
        lr_schedule="constant",
        batch_size=100,
        max_epochs=1,
        dropout=0.0,
        dp_max_grad_norm=1e-3,
        dp_epsilon=1e4,
        **SMALL,
    )
    start = CrossModalClassifier(**{**params, "lr": 1e-30}).fit(X, y)
    moved = CrossModalClassifier(**{**params, "lr": 1.0}).fit(X, y)
    assert moved.noise_multiplier_ < 0.01
    before = dict(start.net_.module_.named_parameters())
    after = dict(moved.net_.module_.named_parameters())
    step = torch.cat([(after[k] - before[k]).detach().flatten() for k in before])
    start.net_.module_.train()
    batch = {k: torch.as_tensor(v) for k, v in X.items()}
    grads, _, _ = per_sample_gradients(start.net_, batch, torch.as_tensor(y))
    flat = torch.cat([g.flatten(1) for g in grads.values()], dim=1)
    assert flat.norm(dim=1).min() > 100 * 1e-3  # every row is clipped
    unit_mean = (flat / flat.norm(dim=1, keepdim=True)).mean(dim=0)
    expected = 1.0 * 1e-3 * unit_mean.norm().item()
    assert step.norm().item() == pytest.approx(expected, rel=0.05)
    assert step.norm().item() <= 1e-3 * 1.05  # lr * max_grad_norm
    # without privacy the same step is 100 times longer
    plain = CrossModalClassifier(**{**params, "lr": 1.0, "dp_epsilon": None}).fit(X, y)
    free = dict(plain.net_.module_.named_parameters())
    plain_step = torch.cat([(free[k] - before[k]).detach().flatten() for k in before])
    assert plain_step.norm().item() > 100 * step.norm().item()


def test_epsilon_spent_is_within_the_target_and_grows_every_epoch():
    X, y = _easy(300)
    clf = CrossModalClassifier(dp_epsilon=1.0, max_epochs=3, **SMALL).fit(X, y)
    assert 0.95 < clf.epsilon_ <= 1.0 + 1e-9
    assert clf.delta_ == pytest.approx(1 / 300**1.1) == default_delta(300)
    assert clf.delta_ < 1 / 300
    history = list(clf.net_.history[:, "epsilon"])
    assert len(history) == 3 and np.all(np.diff(history) > 0)
    assert history[-1] == clf.epsilon_
    # the accountant's own answer, on the same orders
    accountant = clf.net_.accountant_.get_epsilon(delta=clf.delta_, alphas=ALPHAS)
    assert clf.epsilon_ == pytest.approx(accountant, rel=1e-9)
    # Poisson sampling: round(n / batch_size) batches of random sizes per epoch
    sizes = clf.net_.history[-1, "batches", :, "train_batch_size"]
    assert len(sizes) == round(300 / 64) and len(set(sizes)) > 1


def test_smaller_epsilon_means_lower_auc_and_none_is_the_plain_fit():
    aucs = {0.2: [], 20.0: []}
    for seed in range(3):
        X, y = _easy(500, seed)
        train, test = _rows(X, slice(0, 350)), _rows(X, slice(350, None))
        for epsilon in aucs:
            clf = CrossModalClassifier(
                dp_epsilon=epsilon, max_epochs=5, lr=1e-2, **SMALL
            ).fit(train, y[:350])
            aucs[epsilon].append(roc_auc_score(y[350:], clf.predict_proba(test)[:, 1]))
    assert np.mean(aucs[20.0]) > 0.85
    assert np.mean(aucs[20.0]) - np.mean(aucs[0.2]) > 0.1
    X, y = _easy(200)
    plain = CrossModalClassifier(max_epochs=2, **SMALL).fit(X, y)
    off = CrossModalClassifier(
        max_epochs=2, dp_epsilon=None, dp_delta=1e-9, dp_max_grad_norm=5.0, **SMALL
    ).fit(X, y)
    assert type(off.net_) is WeightedNet and not hasattr(off, "epsilon_")
    np.testing.assert_array_equal(off.predict_proba(X), plain.predict_proba(X))


def _image_tokens_tab(n=120):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, size=(n, 6)).astype(float)
    tab = rng.normal(size=(n, 3))
    y = (tab[:, 0] + (ids == 3).any(axis=1) > 0.5).astype(int)
    return ids, tab, y


@pytest.mark.parametrize(
    "params",
    [
        {"fusion": "concat", "hidden_dims": (8,)},
        {"fusion": "late"},
        {"fusion": "gated", "modality_dropout": 0.3},
        {"fusion": "attention", "alignment": "mse"},
        {"fusion": "low_rank"},
        {"token_encoder": "conv"},
        {"token_encoder": "transformer", "fusion": "attention"},
    ],
)
def test_every_encoder_and_fusion_trains_privately(params):
    ids, tab, y = _image_tokens_tab()
    X = np.hstack([ids, tab])
    modalities = {
        "note": {"columns": list(range(6)), "kind": "tokens"},
        "tab": [6, 7, 8],
    }
    clf = CrossModalClassifier(
        modalities=modalities,
        token_embedding_dim=8,
        max_epochs=2,
        batch_size=32,
        dp_epsilon=3.0,
        **{**SMALL, **params},
    ).fit(X, y)
    assert 2.9 < clf.epsilon_ <= 3.0
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2) and np.isfinite(proba).all()


def test_images_wide_path_regression_and_discrete_survival_train_privately():
    rng = np.random.default_rng(0)
    n = 120
    X = {"tab": rng.normal(size=(n, 3)), "img": rng.random((n, 1, 8, 8))}
    target = X["tab"][:, 0] + X["img"].mean(axis=(1, 2, 3))
    reg = CrossModalRegressor(
        dp_epsilon=2.0, max_epochs=2, cnn_channels=(4,), **SMALL
    ).fit(X, target)
    assert reg.epsilon_ <= 2.0 and np.isfinite(reg.predict(X)).all()
    y = survival_array(rng.random(n) < 0.7, rng.exponential(1 / np.exp(X["tab"][:, 0])))
    surv = CrossModalSurvival(
        loss="discrete", n_time_bins=5, dp_epsilon=2.0, max_epochs=2, **SMALL
    ).fit({"tab": X["tab"]}, y, sample_weight=rng.uniform(0.5, 2, n))
    assert surv.epsilon_ <= 2.0 and 0 <= surv.score({"tab": X["tab"]}, y) <= 1
    # the wide path (an EmbeddingBag) and class weights
    import pandas as pd
    from sklearn.compose import ColumnTransformer

    from skfusion.preprocessing import WideFeatures

    words = np.array(["good", "bad", "fine", "poor", "nice", "ok"])
    docs = pd.DataFrame({"note": [" ".join(rng.choice(words, 4)) for _ in range(n)]})
    wide = ColumnTransformer([("wide", WideFeatures(), ["note"])])
    Xw = wide.set_output(transform="pandas").fit_transform(docs)
    Xw["tab__a"] = X["tab"][:, 0]
    labels = docs["note"].str.contains("good").to_numpy().astype(int)
    clf = CrossModalClassifier(
        dp_epsilon=2.0, max_epochs=2, class_weight="balanced", **SMALL
    ).fit(Xw, labels)
    assert clf.modalities_["wide"].kind == "wide" and clf.epsilon_ <= 2.0


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        (
            CrossModalSurvival(loss="cox", dp_epsilon=1.0),
            r"loss='cox'\) cannot be trained with dp_epsilon.*Use loss='discrete'",
        ),
        (
            CrossModalClassifier(alignment="contrastive", dp_epsilon=1.0),
            r"alignment='contrastive' cannot be used with dp_epsilon.*alignment='mse'",
        ),
        (
            CrossModalClassifier(early_stopping=True, dp_epsilon=1.0),
            r"early_stopping=True cannot be used with dp_epsilon.*early_stopping=False",
        ),
        (
            CrossModalClassifier(amp="bf16", dp_epsilon=1.0),
            r"amp='bf16' cannot be used with dp_epsilon.*amp=None",
        ),
        (
            CrossModalClassifier(dp_delta=0.01, dp_epsilon=1.0),
            r"dp_delta=0.01 is not below 1 / n_samples = 0.00833333.*None",
        ),
    ],
)
def test_what_cannot_be_private_is_refused_naming_the_fix(estimator, message):
    X, y = _easy(120)
    if isinstance(estimator, CrossModalSurvival):
        y = survival_array(y > 0, np.arange(1.0, 121.0))
    with pytest.raises(ValueError, match=message):
        estimator.set_params(n_threads=1).fit(X, y)


def test_without_opacus_dp_epsilon_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "opacus", None)  # import opacus fails
    X, y = _easy(60)
    with pytest.raises(ImportError, match=r'pip install "skfusion\[privacy\]"'):
        CrossModalClassifier(dp_epsilon=1.0, **SMALL).fit(X, y)
    CrossModalClassifier(max_epochs=1, **SMALL).fit(X, y)  # no privacy: fine


def test_grid_search_over_epsilon():
    import pandas as pd

    data, y = _easy(240)
    X = pd.DataFrame(
        {
            f"{name}__{j}": column
            for name, v in data.items()
            for j, column in enumerate(v.T)
        }
    )
    search = GridSearchCV(
        CrossModalClassifier(max_epochs=3, lr=1e-2, **SMALL),
        {"dp_epsilon": [0.1, 20.0]},
        cv=2,
        scoring="roc_auc",
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_ == {"dp_epsilon": 20.0} and scores[1] > scores[0]
    assert search.best_estimator_.epsilon_ <= 20.0


def test_a_private_fit_pickles_and_predicts_the_same_without_opacus():
    X, y = _easy(120)
    clf = CrossModalClassifier(dp_epsilon=2.0, max_epochs=2, **SMALL).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    assert type(loaded.net_) is WeightedNet  # no DP wrapper to predict
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert (loaded.epsilon_, loaded.delta_) == (clf.epsilon_, clf.delta_)
    assert list(loaded.net_.history[:, "epsilon"]) == list(
        clf.net_.history[:, "epsilon"]
    )
    sio = pytest.importorskip("skops.io")
    again = sio.loads(
        sio.dumps(clf), trusted=["skfusion.estimators.CrossModalClassifier"]
    )
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_dp_statistics_none_learns_no_statistics_from_the_rows():
    X, y = _easy(120)
    X["lab"] = X["lab"] * 10 + 3
    clf = CrossModalClassifier(
        dp_statistics="none", dp_epsilon=2.0, max_epochs=1, **SMALL
    ).fit(X, y)
    for encoder in clf.net_.module_.encoders:
        assert not encoder.standardize.shift.any()
        assert (encoder.standardize.scale == 1).all()
    reg = CrossModalRegressor(dp_statistics="none", max_epochs=1, **SMALL)
    reg.fit(X, X["lab"][:, 0])
    assert (reg._y_mean, reg._y_scale) == (0.0, 1.0)
    data = CrossModalClassifier(max_epochs=1, **SMALL).fit(X, y)
    assert data.net_.module_.encoders[0].standardize.shift[0] == pytest.approx(
        X["lab"][:, 0].mean(), abs=1e-4
    )
