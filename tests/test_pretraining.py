"""Self-supervised pretraining (pretrain_epochs) and unlabeled rows
(unlabeled_label): what they use, what they never read, how they score."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

import skfusion._base
from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion.metrics import labeled_scorer
from skfusion.nn.losses import alignment_loss

N = 240
SMALL = dict(latent_dim=8, head_dims=(8,), batch_size=32, max_epochs=3, random_state=0)


def two_views(n=N, seed=0):
    """Two modalities that both express a shared latent (what contrastive
    pretraining can learn), plus noise; y depends on the shared latent."""
    maps = np.random.default_rng(0)
    to_labs, to_notes = maps.normal(size=(3, 4)), maps.normal(size=(3, 5))
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 3))
    X = {
        "labs": np.c_[shared @ to_labs, rng.normal(size=(n, 2))],
        "notes": np.c_[shared @ to_notes, rng.normal(size=(n, 3))],
    }
    X = {
        k: (v + 0.3 * rng.normal(size=v.shape)).astype(np.float32) for k, v in X.items()
    }
    y = (shared[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


def as_frame(X):
    """The dict of two_views as a DataFrame with ``name__`` columns."""
    return pd.DataFrame(
        np.c_[X["labs"], X["notes"]],
        columns=[f"labs__{i}" for i in range(6)] + [f"notes__{i}" for i in range(8)],
    )


def unlabel(y, fraction=0.8, seed=1):
    rng = np.random.default_rng(seed)
    out = y.copy()
    out[rng.random(len(y)) < fraction] = -1
    return out


def held_out_alignment(clf, X):
    """The contrastive alignment loss of clf's encoders on X (eval mode)."""
    inputs = {k: torch.as_tensor(v) for k, v in clf._predict_inputs(X).items()}
    module = clf.net_.module_
    module.eval()
    with torch.no_grad():
        embeddings, present = module.encode(**inputs)
        return float(alignment_loss(torch.stack(embeddings, 1), present))


def test_pretraining_lowers_the_alignment_loss():
    X, y = two_views()
    X_test, _ = two_views(seed=5)
    params = {**SMALL, "max_epochs": 1}
    pre = CrossModalClassifier(pretrain_epochs=20, **params).fit(X, y)
    plain = CrossModalClassifier(**params).fit(X, y)
    curve = pre.pretrain_loss_curve_
    assert len(curve) == 20 and np.isfinite(curve).all()
    # InfoNCE over batches of 32 starts near log(32) = 3.47 per direction
    assert curve[-1] < 0.6 * curve[0]
    assert not hasattr(plain, "pretrain_loss_curve_")
    # on new rows, the pretrained encoders are aligned, the others not
    assert held_out_alignment(pre, X_test) < 0.7 * held_out_alignment(plain, X_test)


def encoder_weights_after_pretraining(monkeypatch, X, y, **params):
    """The network's weights when the supervised net is made, i.e. right
    after pretraining."""
    seen = []
    make_net = skfusion._base.make_net

    def spy(module, *args, **kwargs):
        seen.append({k: v.clone() for k, v in module.state_dict().items()})
        return make_net(module, *args, **kwargs)

    monkeypatch.setattr(skfusion._base, "make_net", spy)
    CrossModalClassifier(**{"pretrain_epochs": 4, **SMALL, **params}).fit(X, y)
    monkeypatch.undo()
    return seen[-1]


def test_pretraining_never_reads_y(monkeypatch):
    X, y = two_views()
    rng = np.random.default_rng(3)
    runs = [
        encoder_weights_after_pretraining(monkeypatch, X, y),
        encoder_weights_after_pretraining(monkeypatch, X, rng.permutation(y)),
        # the same with 80% of the rows unlabeled, and other rows unlabeled
        encoder_weights_after_pretraining(
            monkeypatch, X, unlabel(y, seed=1), unlabeled_label=-1
        ),
        encoder_weights_after_pretraining(
            monkeypatch, X, unlabel(rng.permutation(y), seed=2), unlabeled_label=-1
        ),
    ]
    first = runs[0]
    for other in runs[1:]:
        assert first.keys() == other.keys()
        for key in first:
            assert torch.equal(first[key], other[key]), key
    # and pretraining did change the encoders: the spy sees trained weights
    seen = encoder_weights_after_pretraining(monkeypatch, X, y, pretrain_epochs=0)
    changed = [k for k in first if k.startswith("encoders") and "weight" in k]
    assert changed and any(not torch.equal(first[k], seen[k]) for k in changed)


def test_unlabeled_rows_never_enter_the_supervised_loss():
    """With alignment on, unlabeled rows stay in the batches (for the
    alignment loss) at weight 0: the fit equals the fit where those rows
    carry any labels at sample_weight 0, and differs when they count."""
    X, y = two_views()
    y_unlabeled = unlabel(y)
    hidden = y_unlabeled == -1
    params = {**SMALL, "alignment": "contrastive", "pretrain_epochs": 2}
    marked = CrossModalClassifier(unlabeled_label=-1, **params).fit(X, y_unlabeled)
    wrong = np.where(hidden, 1 - y, y)  # the hidden rows get the wrong label
    zero = (~hidden).astype(float)
    weighted = CrossModalClassifier(**params).fit(X, wrong, sample_weight=zero)
    counted = CrossModalClassifier(**params).fit(X, wrong)
    proba = marked.predict_proba(X)
    np.testing.assert_array_equal(proba, weighted.predict_proba(X))
    assert np.abs(proba - counted.predict_proba(X)).max() > 1e-3
    # every row is in the batches: the alignment loss uses them all
    rows = [b["train_batch_size"] for b in marked.net_.history[-1, "batches"]]
    assert sum(rows) == N


def test_without_alignment_the_supervised_net_sees_labeled_rows_only():
    X, y = two_views()
    y_unlabeled = unlabel(y)
    clf = CrossModalClassifier(unlabeled_label=-1, pretrain_epochs=2, **SMALL)
    clf.fit(X, y_unlabeled)
    rows = [b["train_batch_size"] for b in clf.net_.history[-1, "batches"]]
    assert sum(rows) == (y_unlabeled != -1).sum()


@pytest.mark.parametrize("frame", [False, True])
def test_unused_unlabeled_rows_are_dropped(frame):
    """Neither pretraining nor alignment: the fit is the fit on the labeled
    rows (sample weights follow them)."""
    X, y = two_views()
    if frame:
        X = as_frame(X)
    y_unlabeled = unlabel(y)
    keep = y_unlabeled != -1
    weight = np.random.default_rng(0).uniform(0.5, 2.0, N)
    clf = CrossModalClassifier(unlabeled_label=-1, **SMALL)
    clf.fit(X, y_unlabeled, sample_weight=weight)
    subset = X.iloc[keep] if frame else {k: v[keep] for k, v in X.items()}
    ref = CrossModalClassifier(**SMALL).fit(subset, y[keep], sample_weight=weight[keep])
    np.testing.assert_array_equal(clf.predict_proba(X), ref.predict_proba(X))


def test_minus_one_is_a_class_unless_marked():
    X, y = two_views()
    signed = np.where(y == 1, 1, -1)
    clf = CrossModalClassifier(**SMALL).fit(X, signed)
    np.testing.assert_array_equal(clf.classes_, [-1, 1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        CrossModalClassifier(unlabeled_label=-1, **SMALL).fit(X, signed)


def test_string_labels_and_a_series_y_are_left_unchanged():
    X, y = two_views()
    labels = pd.Series(np.where(y == 1, "sick", "well"), index=np.arange(N) + 100)
    labels[unlabel(y) == -1] = "unknown"
    before = labels.copy()
    clf = CrossModalClassifier(
        unlabeled_label="unknown", pretrain_epochs=1, **SMALL
    ).fit(X, labels)
    assert clf.classes_.tolist() == ["sick", "well"]
    pd.testing.assert_series_equal(labels, before)


def test_regressor_marks_unlabeled_rows_with_nan():
    X, y = two_views()
    target = X["labs"][:, 0].astype(np.float64) * 3 + 10
    marked = target.copy()
    marked[unlabel(y) == -1] = np.nan
    keep = ~np.isnan(marked)
    reg = CrossModalRegressor(unlabeled_label=np.nan, pretrain_epochs=2, **SMALL)
    reg.fit(X, marked)
    # the target's scaling is learnt on the labeled rows
    np.testing.assert_allclose(reg._y_mean, [target[keep].mean()])
    np.testing.assert_allclose(reg._y_scale, [target[keep].std()])
    # score (R^2) leaves the NaN rows out
    labeled = {k: v[keep] for k, v in X.items()}
    assert reg.score(X, marked) == pytest.approx(reg.score(labeled, target[keep]))
    with pytest.raises(ValueError, match="contains NaN"):
        CrossModalRegressor(**SMALL).fit(X, marked)


def test_score_and_labeled_scorer_leave_unlabeled_rows_out():
    X, y = two_views()
    y_unlabeled = unlabel(y, fraction=0.5)
    keep = y_unlabeled != -1
    labeled = {k: v[keep] for k, v in X.items()}
    clf = CrossModalClassifier(unlabeled_label=-1, pretrain_epochs=1, **SMALL)
    clf.fit(X, y_unlabeled)
    assert clf.score(X, y_unlabeled) == clf.score(labeled, y[keep])
    auc = roc_auc_score(y[keep], clf.predict_proba(labeled)[:, 1])
    assert labeled_scorer("roc_auc")(clf, X, y_unlabeled) == pytest.approx(auc)
    # None: the estimator's own score; sample_weight follows the rows
    weight = np.arange(N, dtype=float)
    assert labeled_scorer(None)(clf, X, y_unlabeled) == clf.score(labeled, y[keep])
    weighted = labeled_scorer("accuracy")(clf, X, y_unlabeled, sample_weight=weight)
    assert weighted == pytest.approx(
        clf.score(labeled, y[keep], sample_weight=weight[keep])
    )


def test_cross_val_score_and_grid_search_with_unlabeled_rows():
    X, y = two_views()
    X = as_frame(X)
    y_unlabeled = unlabel(y, fraction=0.5)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    clf = CrossModalClassifier(unlabeled_label=-1, pretrain_epochs=1, **SMALL)
    scores = cross_val_score(
        clf, X, y_unlabeled, cv=cv, scoring=labeled_scorer("roc_auc")
    )
    by_hand = []
    for train, test in cv.split(np.zeros(N), y_unlabeled):
        fitted = CrossModalClassifier(**clf.get_params()).fit(
            X.iloc[train], y_unlabeled[train]
        )
        test = test[y_unlabeled[test] != -1]
        proba = fitted.predict_proba(X.iloc[test])[:, 1]
        by_hand.append(roc_auc_score(y_unlabeled[test], proba))
    np.testing.assert_allclose(scores, by_hand)
    clf.set_params(max_epochs=20, lr=3e-3)
    search = GridSearchCV(
        clf, {"pretrain_epochs": [0, 2]}, cv=cv, scoring=labeled_scorer("roc_auc")
    ).fit(X, y_unlabeled)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_score_ > 0.7
    assert search.best_estimator_.classes_.tolist() == [0, 1]


@pytest.mark.parametrize("fusion", ["film", "cross_attention", "attention"])
def test_pretraining_with_each_kind_of_fusion(fusion):
    rng = np.random.default_rng(0)
    n = 96
    shared = rng.normal(size=(n, 1, 1, 1))
    X = {
        "tab": np.c_[shared[:, 0, 0], rng.normal(size=(n, 2))].astype(np.float32),
        "img": (shared + 0.5 * rng.normal(size=(n, 1, 8, 8))).astype(np.float32),
    }
    y = (shared.ravel() > 0).astype(int)
    clf = CrossModalClassifier(
        fusion=fusion, pretrain_epochs=3, cnn_channels=(4,), **SMALL
    ).fit(X, y)
    assert len(clf.pretrain_loss_curve_) == 3
    assert np.isfinite(clf.pretrain_loss_curve_).all()
    assert clf.predict_proba(X).shape == (n, 2)


def test_pretrained_estimator_round_trips_through_pickle():
    X, y = two_views()
    clf = CrossModalClassifier(unlabeled_label=-1, pretrain_epochs=2, **SMALL).fit(
        X, unlabel(y)
    )
    back = pickle.loads(pickle.dumps(clf))
    assert back.pretrain_loss_curve_ == clf.pretrain_loss_curve_
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


def test_pretraining_errors_name_the_fix():
    X, y = two_views()
    with pytest.raises(ValueError, match="needs at least two; set pretrain_epochs=0"):
        CrossModalClassifier(pretrain_epochs=1, **SMALL).fit({"labs": X["labs"]}, y)
    everything = np.full(N, -1)
    with pytest.raises(ValueError, match="Every row of y is unlabeled"):
        CrossModalClassifier(unlabeled_label=-1, pretrain_epochs=1, **SMALL).fit(
            X, everything
        )
    with pytest.raises(ValueError, match="marks unlabeled rows of a 1-D y"):
        CrossModalClassifier(unlabeled_label=-1, **SMALL).fit(X, np.c_[y, 1 - y])
    pytest.importorskip("opacus")
    with pytest.raises(
        ValueError, match="pretrain_epochs=1 cannot be used with dp_epsilon"
    ):
        CrossModalClassifier(pretrain_epochs=1, dp_epsilon=1.0, **SMALL).fit(X, y)
