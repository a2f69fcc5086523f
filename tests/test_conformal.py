"""skfusion.conformal, and MAPIE / crepes around a skfusion Pipeline.

The clinical table has 30% of its scans missing: two availability patterns,
"tab + note + xray" and "tab + note". Each fitted model is shared through a
module-scoped fixture (small networks, 5 epochs, one thread).
"""

import itertools
import pickle
import warnings

import numpy as np
import pytest
from _clinical import tabular_transformer
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion.conformal import ConformalClassifier, ConformalRegressor, _aps_scores
from skfusion.datasets import make_clinical_multimodal
from skfusion.exceptions import SkfusionDataWarning
from skfusion.inspection import modality_availability
from skfusion.preprocessing import ImageLoader, TextEmbedder

FULL, NO_SCAN = "tab + note + xray", "tab + note"
LEVEL = 0.9
FLOOR = LEVEL - 0.03  # the coverage every test asks for
NET = dict(
    max_epochs=5,
    latent_dim=16,
    head_dims=(32,),
    cnn_channels=(8,),
    n_threads=1,
    random_state=0,
)


def make_model(tabular, estimator=CrossModalClassifier):
    """The quickstart's Pipeline, small: raw DataFrame -> skfusion estimator."""
    preprocess = ColumnTransformer(
        [
            ("tab", tabular_transformer(), tabular),
            ("note", TextEmbedder(n_components=16, random_state=0), "note"),
            ("xray", ImageLoader(size=8), "xray_path"),
        ]
    )
    preprocess.set_output(transform="pandas")
    return make_pipeline(preprocess, estimator(**NET))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """5000 rows: [0, 2000) train a prefit model, [2000, 3500) calibrate it,
    [3500, 5000) test; [0, 3500) is what ConformalClassifier.fit gets."""
    X, y, latent = make_clinical_multimodal(
        5000,
        image_dir=tmp_path_factory.mktemp("conformal"),
        image_size=8,
        missing_image=0.3,
        return_latent=True,
        random_state=0,
    )
    tabular = [c for c in X.columns if c not in ("note", "xray_path")]
    noise = np.random.RandomState(1).standard_normal(len(y))
    y_reg = latent.to_numpy().sum(axis=1) + 0.5 * noise
    return X, y, y_reg, tabular


@pytest.fixture(scope="module")
def prefit(data):
    X, y, _, tabular = data
    return make_model(tabular).fit(X[:2000], y[:2000])


@pytest.fixture(scope="module")
def prefit_regressor(data):
    X, _, y_reg, tabular = data
    return make_model(tabular, CrossModalRegressor).fit(X[:1500], y_reg[:1500])


@pytest.fixture(scope="module")
def split_mondrian(data):
    X, y, _, tabular = data
    X_before = X.copy()
    conf = ConformalClassifier(make_model(tabular), random_state=0)
    conf.fit(X[:3500], y[:3500])
    assert X.equals(X_before)  # fit takes rows, never modifies them
    return conf


def _coverage(sets, classes, y):
    return sets[np.arange(len(y)), np.searchsorted(classes, y)]


def _has_scan(model, X):
    return modality_availability(model, X)["xray"].to_numpy()


def _check_per_pattern(covered, scan):
    """Overall and per-pattern coverage >= FLOOR; both patterns >= 100 rows."""
    assert covered.mean() >= FLOOR
    for rows in (scan, ~scan):
        assert rows.sum() >= 100
        assert covered[rows].mean() >= FLOOR, covered[rows].mean()


def test_split_mondrian_coverage_per_pattern(data, split_mondrian):
    X, y, _, _ = data
    conf = split_mondrian
    assert set(conf.thresholds_) == {FULL, NO_SCAN}
    assert sum(conf.group_sizes_.values()) == 875  # 25% of 3500
    assert 200 < conf.group_sizes_[NO_SCAN] < 330  # about 30% of them
    assert conf.thresholds_[FULL] != conf.thresholds_[NO_SCAN]
    sets = conf.predict_set(X[3500:])
    covered = _coverage(sets, conf.classes_, y[3500:])
    _check_per_pattern(covered, _has_scan(conf.estimators_[0], X[3500:]))
    assert covered.mean() <= LEVEL + 0.04  # calibrated, not trivially all sets
    assert 1.0 < sets.sum(axis=1).mean() < 1.8


def test_predict_set_shape_dtype_and_predict(data, split_mondrian):
    X = data[0][3500:3600]
    conf = split_mondrian
    sets = conf.predict_set(X)
    assert sets.shape == (100, 2) and sets.dtype == bool
    assert conf.classes_.tolist() == [0, 1]
    np.testing.assert_array_equal(conf.predict(X), conf.estimators_[0].predict(X))
    np.testing.assert_allclose(
        conf.predict_proba(X), conf.estimators_[0].predict_proba(X)
    )
    # LAC: a class is in the set iff 1 - p <= the threshold of the row's pattern
    scan = _has_scan(conf.estimators_[0], X)
    limit = np.where(scan, conf.thresholds_[FULL], conf.thresholds_[NO_SCAN])
    expected = 1 - conf.predict_proba(X) <= limit[:, None]
    np.testing.assert_array_equal(sets, expected)


def test_cross_conformal_coverage_per_pattern(data):
    X, y, _, tabular = data
    conf = ConformalClassifier(make_model(tabular), cv=3, random_state=0)
    conf.fit(X[:1800], y[:1800])
    assert len(conf.estimators_) == 3
    assert sorted(np.bincount(conf.calibration_folds_)) == [600, 600, 600]
    assert sum(conf.group_sizes_.values()) == 1800
    sets = conf.predict_set(X[3500:])
    covered = _coverage(sets, conf.classes_, y[3500:])
    _check_per_pattern(covered, _has_scan(conf.estimators_[0], X[3500:]))
    proba = conf.predict_proba(X[3500:3510])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert conf.predict(X[3500:3510]).tolist() == np.argmax(proba, axis=1).tolist()


def test_pooled_undercovers_a_harder_pattern_mondrian_does_not(tmp_path):
    """Rows without a scan are harder after deployment than in training: the
    model learnt them from clean labels (the table and the note carry most of
    the signal), but 40% of their labels are flipped in the calibration and
    test rows. The pooled threshold, set mostly by rows with a scan,
    under-covers them; the Mondrian one does not."""
    X, y = make_clinical_multimodal(
        4000,
        image_dir=tmp_path,
        image_size=8,
        missing_image=0.3,
        modality_weights=(1.5, 1.5, 0.5),
        noise=0.3,
        random_state=0,
    )
    tabular = [c for c in X.columns if c not in ("note", "xray_path")]
    model = make_model(tabular).set_params(
        crossmodalclassifier__lr=3e-3, crossmodalclassifier__max_epochs=10
    )
    model.fit(X[:1500], y[:1500])
    X_new, y_new = X[1500:], y[1500:].copy()
    scan = _has_scan(model, X_new)
    flip = ~scan & (np.random.RandomState(0).rand(len(y_new)) < 0.4)
    y_new[flip] = 1 - y_new[flip]
    cal, test = slice(0, 1250), slice(1250, None)
    assert (~scan[test]).sum() >= 300
    coverage = {}
    for groups in (None, "availability"):
        conf = ConformalClassifier(FrozenEstimator(model), groups=groups, cv="prefit")
        conf.fit(X_new[cal], y_new[cal])
        covered = _coverage(conf.predict_set(X_new[test]), conf.classes_, y_new[test])
        coverage[groups] = (covered[scan[test]].mean(), covered[~scan[test]].mean())
    pooled, mondrian = coverage[None], coverage["availability"]
    assert pooled[1] < FLOOR - 0.03, pooled  # measured 0.80
    assert mondrian[1] >= FLOOR, mondrian  # measured 0.925
    assert min(pooled[0], mondrian[0]) >= FLOOR  # rows with a scan: 0.97, 0.91


def test_set_size_shrinks_as_confidence_falls(data, prefit):
    X, y, _, _ = data
    sizes, coverages = [], []
    for level in (0.95, 0.85, 0.7):
        conf = ConformalClassifier(prefit, confidence_level=level, cv="prefit")
        conf.fit(X[2000:3500], y[2000:3500])
        sets = conf.predict_set(X[3500:])
        sizes.append(sets.sum(axis=1).mean())
        coverages.append(_coverage(sets, conf.classes_, y[3500:]).mean())
        assert coverages[-1] >= level - 0.03
    assert all(a > b for a, b in itertools.pairwise(sizes)), sizes
    assert sizes[0] - sizes[-1] > 0.4, sizes


def test_aps_scores_and_coverage(data, prefit):
    proba = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(
        _aps_scores(proba), [[0.5, 0.8, 1.0], [0.8, 0.8, 1.0], [1.0, 1.0, 0.8]]
    )
    X, y, _, _ = data
    conf = ConformalClassifier(prefit, cv="prefit", method="aps")
    conf.fit(X[2000:3500], y[2000:3500])
    covered = _coverage(conf.predict_set(X[3500:]), conf.classes_, y[3500:])
    _check_per_pattern(covered, _has_scan(prefit, X[3500:]))


def test_small_group_falls_back_to_pooled_with_one_warning(data, prefit):
    X, y, _, _ = data
    conf = ConformalClassifier(prefit, cv="prefit", min_group_size=500)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        conf.fit(X[2000:3500], y[2000:3500])
    ours = [w for w in record if issubclass(w.category, SkfusionDataWarning)]
    assert len(ours) == 1
    n_small = conf.group_sizes_[NO_SCAN]
    assert n_small < 500 <= conf.group_sizes_[FULL]
    assert str(ours[0].message) == (
        "ConformalClassifier: 1 group(s) have fewer than min_group_size=500 "
        "calibration rows and use the pooled threshold instead of their own: "
        f"'tab + note' ({n_small} rows)."
    )
    assert ours[0].filename == __file__  # points at the caller
    assert conf.thresholds_[NO_SCAN] == conf.pooled_threshold_
    assert conf.thresholds_[FULL] != conf.pooled_threshold_


def test_unseen_group_uses_pooled_threshold():
    X, y = make_classification(
        600, n_features=4, n_classes=3, n_informative=3, n_redundant=0, random_state=0
    )
    X_new = X[:50].copy()
    X_new[:, 3] = 100.0  # a group label never seen in calibration
    groups = lambda X: np.where(X[:, 3] > 50, "new", np.where(X[:, 0] > 0, "a", "b"))  # noqa: E731
    conf = ConformalClassifier(LogisticRegression(), groups=groups, random_state=0)
    conf.fit(X, y)
    assert set(conf.group_sizes_) == {"a", "b"}
    expected = 1 - conf.predict_proba(X_new) <= conf.pooled_threshold_
    np.testing.assert_array_equal(conf.predict_set(X_new), expected)


def test_regressor_interval_coverage_and_width(data):
    X, _, y_reg, tabular = data
    model = make_model(tabular, CrossModalRegressor)
    conf = ConformalRegressor(model, calibration_size=0.4, random_state=0)
    conf.fit(X[:3500], y_reg[:3500])
    bounds = conf.predict_interval(X[3500:])
    assert bounds.shape == (1500, 2)
    np.testing.assert_allclose(bounds.mean(axis=1), conf.predict(X[3500:]), rtol=1e-6)
    y_test = y_reg[3500:]
    covered = (bounds[:, 0] <= y_test) & (y_test <= bounds[:, 1])
    scan = _has_scan(conf.estimators_[0], X[3500:])
    _check_per_pattern(covered, scan)
    width = bounds[:, 1] - bounds[:, 0]
    # each pattern's width is twice its own threshold (the small networks
    # barely read the 8-pixel scans here: the two are within a few percent)
    np.testing.assert_allclose(width[~scan], 2 * conf.thresholds_[NO_SCAN])
    np.testing.assert_allclose(width[scan], 2 * conf.thresholds_[FULL])
    assert width.mean() < 2 * 1.645 * y_test.std()  # narrower than y's spread


def test_regressor_cv_plus_coverage():
    rng = np.random.RandomState(0)
    X = rng.randn(3000, 3)
    y = X[:, 0] + np.where(X[:, 1] > 0, 2.0, 0.5) * rng.randn(3000)
    groups = lambda X: np.where(X[:, 1] > 0, "noisy", "quiet")  # noqa: E731
    conf = ConformalRegressor(LinearRegression(), groups=groups, cv=5, random_state=0)
    conf.fit(X[:2000], y[:2000])
    bounds = conf.predict_interval(X[2000:])
    covered = (bounds[:, 0] <= y[2000:]) & (y[2000:] <= bounds[:, 1])
    noisy = X[2000:, 1] > 0
    _check_per_pattern(covered, noisy)
    width = bounds[:, 1] - bounds[:, 0]
    assert width[noisy].mean() > 3 * width[~noisy].mean()


def test_clone_get_params_and_pickle(data, split_mondrian):
    params = split_mondrian.get_params(deep=False)
    assert params["confidence_level"] == LEVEL and params["groups"] == "availability"
    copy = clone(split_mondrian)
    assert not hasattr(copy, "thresholds_")
    copy.set_params(confidence_level=0.8, estimator__crossmodalclassifier__max_epochs=2)
    assert copy.get_params()["estimator__crossmodalclassifier__max_epochs"] == 2
    assert (
        split_mondrian.get_params()["estimator__crossmodalclassifier__max_epochs"] == 5
    )
    X = data[0][3500:3700]
    loaded = pickle.loads(pickle.dumps(split_mondrian))
    assert loaded.thresholds_ == split_mondrian.thresholds_
    np.testing.assert_array_equal(loaded.predict_set(X), split_mondrian.predict_set(X))


def test_clear_errors(data, prefit):
    X, y = make_classification(200, random_state=0)
    with pytest.raises(ValueError, match="'confidence_level' parameter"):
        ConformalClassifier(LogisticRegression(), confidence_level=1.0).fit(X, y)
    with pytest.raises(ValueError, match="implementing 'fit' and 'predict_proba'"):
        ConformalClassifier(LinearSVC(), groups=None).fit(X, y)
    with pytest.raises(NotFittedError):
        ConformalClassifier(LogisticRegression(), groups=None, cv="prefit").fit(X, y)
    with pytest.raises(NotFittedError):
        ConformalClassifier(LogisticRegression(), groups=None).predict_set(X)
    with pytest.raises(TypeError, match=r"groups='availability'.*LogisticRegression"):
        ConformalClassifier(LogisticRegression()).fit(X, y)
    fitted = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"classes \[2\] that the prefit estimator"):
        ConformalClassifier(fitted, groups=None, cv="prefit").fit(X, np.where(y, 2, 0))
    with pytest.raises(ValueError, match="binary or multiclass"):
        ConformalClassifier(LogisticRegression(), groups=None).fit(X, X[:, 0])
    rare = np.r_[np.zeros(197), [1, 1, 2]].astype(int)  # class 2 in one fold only
    with pytest.raises(ValueError, match=r"never saw the classes \[2\]"):
        ConformalClassifier(LogisticRegression(), groups=None, cv=3).fit(X, rare)
    with pytest.raises(ValueError, match="returned 3 labels for 50 rows"):
        ConformalClassifier(LogisticRegression(), groups=lambda X: [1, 2, 3]).fit(X, y)
    with pytest.raises(ValueError, match="finite y"):
        ConformalRegressor(LinearRegression(), groups=None).fit(X, np.r_[np.nan, y[1:]])


def test_matches_mapie_split_conformal():
    mapie = pytest.importorskip("mapie")
    from mapie.classification import SplitConformalClassifier
    from mapie.regression import SplitConformalRegressor

    assert int(mapie.__version__.split(".")[0]) >= 1
    X, y = make_classification(
        1500, n_features=5, n_informative=3, n_classes=3, random_state=0
    )
    model = LogisticRegression().fit(X[:500], y[:500])
    ours = ConformalClassifier(model, groups=None, cv="prefit").fit(
        X[500:1000], y[500:1000]
    )
    theirs = SplitConformalClassifier(model, confidence_level=LEVEL, prefit=True)
    theirs.conformalize(X[500:1000], y[500:1000])
    np.testing.assert_array_equal(
        ours.predict_set(X[1000:]), theirs.predict_set(X[1000:])[1][:, :, 0]
    )
    reg = LinearRegression().fit(X[:500], X[:500, 0] + y[:500])
    y_reg = X[:, 0] + y
    ours = ConformalRegressor(reg, groups=None, cv="prefit").fit(
        X[500:1000], y_reg[500:1000]
    )
    theirs = SplitConformalRegressor(reg, confidence_level=LEVEL, prefit=True)
    theirs.conformalize(X[500:1000], y_reg[500:1000])
    np.testing.assert_allclose(
        ours.predict_interval(X[1000:]), theirs.predict_interval(X[1000:])[1][:, :, 0]
    )


def test_mapie_around_a_skfusion_pipeline(data, prefit):
    pytest.importorskip("mapie")
    from mapie.classification import CrossConformalClassifier, SplitConformalClassifier

    X, y, _, tabular = data
    split = SplitConformalClassifier(prefit, confidence_level=LEVEL, prefit=True)
    split.conformalize(X[2000:3500], y[2000:3500])
    labels, sets = split.predict_set(X[3500:])
    assert labels.shape == (1500,) and sets.shape == (1500, 2, 1)
    covered = _coverage(sets[:, :, 0], prefit.classes_, y[3500:])
    assert FLOOR <= covered.mean() <= LEVEL + 0.04
    cross = CrossConformalClassifier(
        make_model(tabular), confidence_level=LEVEL, cv=3, random_state=0
    )
    cross.fit_conformalize(X[:1500], y[:1500])
    labels, sets = cross.predict_set(X[3500:])
    assert sets.shape == (1500, 2, 1)
    assert _coverage(sets[:, :, 0], np.array([0, 1]), y[3500:]).mean() >= FLOOR


def test_mapie_regressors_around_a_skfusion_pipeline(data, prefit_regressor):
    pytest.importorskip("mapie")
    from mapie.regression import CrossConformalRegressor, SplitConformalRegressor

    X, _, y_reg, tabular = data
    split = SplitConformalRegressor(
        prefit_regressor, confidence_level=LEVEL, prefit=True
    )
    split.conformalize(X[1500:2500], y_reg[1500:2500])
    points, bounds = split.predict_interval(X[3500:])
    assert points.shape == (1500,) and bounds.shape == (1500, 2, 1)
    y_test = y_reg[3500:]
    covered = (bounds[:, 0, 0] <= y_test) & (y_test <= bounds[:, 1, 0])
    assert covered.mean() >= FLOOR
    cross = CrossConformalRegressor(
        make_model(tabular, CrossModalRegressor),
        confidence_level=LEVEL,
        cv=3,
        random_state=0,
    )
    cross.fit_conformalize(X[:1200], y_reg[:1200])
    _, bounds = cross.predict_interval(X[3500:])
    covered = (bounds[:, 0, 0] <= y_test) & (y_test <= bounds[:, 1, 0])
    assert covered.mean() >= FLOOR


def test_crepes_around_a_skfusion_pipeline(data, prefit, prefit_regressor):
    crepes = pytest.importorskip("crepes")
    X, y, y_reg, tabular = data

    def pattern(X):  # Mondrian categories: has a scan or not
        return _has_scan(prefit, X).astype(int)

    wrapped = crepes.WrapClassifier(make_model(tabular))
    wrapped.fit(X[:1500], y[:1500])
    wrapped.calibrate(X[2000:3500], y[2000:3500], mc=pattern)
    sets = wrapped.predict_set(
        X[3500:], labels=False, confidence=LEVEL, smoothing=False
    )
    assert sets.shape == (1500, 2)
    covered = _coverage(sets.astype(bool), np.array([0, 1]), y[3500:])
    _check_per_pattern(covered, pattern(X[3500:]).astype(bool))
    wrapped = crepes.WrapRegressor(prefit_regressor)  # fitted: calibrate only
    wrapped.calibrate(X[2000:3500], y_reg[2000:3500])
    bounds = wrapped.predict_int(X[3500:], confidence=LEVEL)
    assert bounds.shape == (1500, 2)
    covered = (bounds[:, 0] <= y_reg[3500:]) & (y_reg[3500:] <= bounds[:, 1])
    assert covered.mean() >= FLOOR
