"""Clinical evaluation around a CrossModalClassifier Pipeline: weights routed
through sklearn's metadata routing, calibration, threshold tuning."""

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import recall_score
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    TunedThresholdClassifierCV,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from skfusion import CrossModalClassifier
from skfusion.metrics import expected_calibration_error
from skfusion.preprocessing import TextEmbedder

FAST = dict(
    max_epochs=10,
    batch_size=32,
    latent_dim=8,
    head_dims=(16,),
    lr=1e-2,
    random_state=0,
)
FINDINGS = ["cough", "fever", "rash", "pain", "fatigue", "nausea"]


@pytest.fixture(scope="module")
def clinic():
    """Raw table: two labs and a note; ~20% positives, signal in both."""
    rng = np.random.RandomState(0)
    n = 400
    lab = rng.randn(n, 2)
    word = rng.randint(0, len(FINDINGS), n)
    risk = lab[:, 0] + (word < 2) * 1.5 + 0.7 * rng.randn(n)
    y = (risk > 1.2).astype(int)
    rare = (risk > 2.0).astype(int)  # ~14% positives
    X = pd.DataFrame(
        {
            "crp": lab[:, 0],
            "wbc": lab[:, 1],
            "note": [f"patient reports {FINDINGS[w]}" for w in word],
        }
    )
    return X, y, rare


def _pipe(routed=False, **params):
    """The Pipeline; ``routed``: the classifier requests sample_weight in fit
    and score (the scaler, whose fit also takes one, declines it)."""
    scaler = StandardScaler()
    clf = CrossModalClassifier(**{**FAST, **params})
    if routed:
        scaler.set_fit_request(sample_weight=False)
        clf.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
    preprocess = ColumnTransformer(
        [
            ("lab", scaler, ["crp", "wbc"]),
            ("note", TextEmbedder(n_components=4, random_state=0), "note"),
        ]
    ).set_output(transform="pandas")
    return make_pipeline(preprocess, clf)


def _proba(model, X):
    return model.predict_proba(X)[:, 1]


# ------------------------------------------------------------ sample weights
def test_routed_sample_weight_equals_a_direct_weighted_fit(clinic):
    X, y, _ = clinic
    w = np.random.RandomState(1).rand(len(y)) * 3
    direct = _pipe()
    Xt = direct[:-1].fit_transform(X)
    direct[-1].fit(Xt, y, sample_weight=w)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = _pipe(routed=True).fit(X, y, sample_weight=w)
        np.testing.assert_array_equal(_proba(pipe, X), _proba(direct, X))
        unweighted = _pipe().fit(X, y)
        assert not np.allclose(_proba(unweighted, X), _proba(pipe, X))
        # a weight nobody asked for is an error, not silently dropped
        # (sklearn's UnsetMetadataPassedError, or its TypeError when no step
        # declared anything about sample_weight)
        plain = _pipe()
        with pytest.raises((TypeError, ValueError), match=r"sample_weight"):
            plain.fit(X, y, sample_weight=w)
    # without routing, the step-name syntax reaches the same fit
    legacy = _pipe().fit(X, y, crossmodalclassifier__sample_weight=w)
    np.testing.assert_array_equal(_proba(legacy, X), _proba(direct, X))


def test_cross_validation_routes_each_fold_its_own_weights(clinic):
    X, y, _ = clinic
    w = np.random.RandomState(2).rand(len(y)) * 3
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = _pipe(routed=True)
        result = cross_validate(
            pipe, X, y, cv=cv, params={"sample_weight": w}, return_estimator=True
        )
        folds = zip(
            cv.split(X, y), result["estimator"], result["test_score"], strict=True
        )
        for (train, test), fitted, score in folds:
            alone = pipe.__sklearn_clone__().fit(
                X.iloc[train], y[train], sample_weight=w[train]
            )
            np.testing.assert_array_equal(_proba(fitted, X), _proba(alone, X))
            # the test fold's weights reach the score: weighted accuracy
            hits = fitted.predict(X.iloc[test]) == y[test]
            assert score == pytest.approx(np.average(hits, weights=w[test]))


def test_grid_search_routes_weights_to_fit_and_scorer(clinic):
    X, y, _ = clinic
    w = np.where(y == 1, 4.0, 1.0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = _pipe(routed=True)
        search = GridSearchCV(
            pipe, {"crossmodalclassifier__latent_dim": [4, 8]}, cv=2, refit=True
        ).fit(X, y, sample_weight=w)
        latent_dim = search.best_params_["crossmodalclassifier__latent_dim"]
        best = _pipe(routed=True, latent_dim=latent_dim).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(_proba(search, X), _proba(best, X))


# ------------------------------------------------------------- class weights
def test_class_weight_is_the_documented_row_weight(clinic):
    """class_weight multiplies each row's loss by its class's weight: a fit
    with class_weight equals a fit with those weights as sample_weight, and
    the two combine by product."""
    X, y, _ = clinic
    Xt = _pipe()[:-1].fit_transform(X)
    balanced = CrossModalClassifier(class_weight="balanced", **FAST).fit(Xt, y)
    by_rows = CrossModalClassifier(**FAST).fit(
        Xt, y, sample_weight=compute_sample_weight("balanced", y)
    )
    np.testing.assert_allclose(
        balanced.predict_proba(Xt), by_rows.predict_proba(Xt), rtol=1e-5, atol=1e-6
    )
    w = np.random.RandomState(3).rand(len(y))
    both = CrossModalClassifier(class_weight={0: 1.0, 1: 3.0}, **FAST).fit(
        Xt, y, sample_weight=w
    )
    product = CrossModalClassifier(**FAST).fit(
        Xt, y, sample_weight=w * np.where(y == 1, 3.0, 1.0)
    )
    np.testing.assert_allclose(
        both.predict_proba(Xt), product.predict_proba(Xt), rtol=1e-5, atol=1e-6
    )
    plain = CrossModalClassifier(**FAST).fit(Xt, y)
    assert recall_score(y, balanced.predict(Xt)) > recall_score(y, plain.predict(Xt))


def test_grid_search_over_class_weight_in_a_pipeline(clinic):
    X, y, _ = clinic
    search = GridSearchCV(
        _pipe(),
        {"crossmodalclassifier__class_weight": [None, "balanced"]},
        scoring="recall",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    scores = dict(
        zip(
            [
                str(p["crossmodalclassifier__class_weight"])
                for p in search.cv_results_["params"]
            ],
            search.cv_results_["mean_test_score"],
            strict=True,
        )
    )
    assert scores["balanced"] > scores["None"]
    assert search.best_params_ == {"crossmodalclassifier__class_weight": "balanced"}


# ---------------------------------------------------------------- calibration
@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibrated_pipeline_is_better_calibrated(clinic, method):
    """An over-trained network is over-confident; calibration on held-out
    rows brings its expected calibration error down."""
    X, y, _ = clinic
    train, calib, test = np.split(np.arange(len(y)), [200, 300])
    overfit = dict(max_epochs=150, dropout=0.0, weight_decay=0.0, head_dims=(64,))
    raw = _pipe(**overfit).fit(X.iloc[train], y[train])
    calibrated = CalibratedClassifierCV(FrozenEstimator(raw), method=method)
    calibrated.fit(X.iloc[calib], y[calib])
    np.testing.assert_array_equal(calibrated.classes_, raw.classes_)
    p_raw, p_cal = _proba(raw, X.iloc[test]), _proba(calibrated, X.iloc[test])
    ece_raw = expected_calibration_error(y[test], p_raw)
    ece_cal = expected_calibration_error(y[test], p_cal)
    assert ece_cal < ece_raw - 0.03, (ece_raw, ece_cal)


def test_calibrated_cv_clones_and_fits_the_pipeline(clinic):
    X, y, _ = clinic
    calibrated = CalibratedClassifierCV(_pipe(max_epochs=3), cv=3).fit(X, y)
    assert len(calibrated.calibrated_classifiers_) == 3
    fitted = calibrated.calibrated_classifiers_[0].estimator
    assert fitted[-1].n_iter_ == 3
    proba = calibrated.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_tuned_threshold_raises_balanced_accuracy(clinic):
    """On a rare outcome the default 0.5 cut misses positives; tuning the
    cut for balanced accuracy by cross-validation lowers it and scores
    better than 0.5 on the same folds."""
    X, _, y = clinic
    tuned = TunedThresholdClassifierCV(
        _pipe(),
        scoring="balanced_accuracy",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        thresholds=np.linspace(0.05, 0.95, 19),
        store_cv_results=True,
    ).fit(X, y)
    thresholds, scores = tuned.cv_results_["thresholds"], tuned.cv_results_["scores"]
    at_half = scores[np.argmin(np.abs(thresholds - 0.5))]
    assert tuned.best_threshold_ < 0.5
    assert tuned.best_score_ > at_half + 0.03, (at_half, tuned.best_score_)
    proba = tuned.estimator_.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(
        tuned.predict(X), (proba >= tuned.best_threshold_).astype(int)
    )
    assert recall_score(y, tuned.predict(X)) > recall_score(
        y, tuned.estimator_.predict(X)
    )
