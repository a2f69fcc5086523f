"""CrossModalClassifier on a multilabel indicator y (one sigmoid per label)."""

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import make_scorer, roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import type_of_target

from skfusion import CrossModalClassifier
from skfusion._multilabel import label_weights
from skfusion._training import row_weights

FAST = dict(
    max_epochs=15,
    batch_size=32,
    latent_dim=8,
    head_dims=(16,),
    lr=1e-2,
    random_state=0,
)


def _data(n=400, seed=0):
    """Two vector modalities: label 0 depends on "tab" only, label 1 on
    "lab" only, label 2 on both."""
    rng = np.random.RandomState(seed)
    X = {"tab": rng.randn(n, 3), "lab": rng.randn(n, 3)}
    Y = np.column_stack(
        [
            X["tab"][:, 0] + 0.3 * rng.randn(n) > 0,
            X["lab"][:, 0] + 0.3 * rng.randn(n) > 0,
            X["tab"][:, 1] + X["lab"][:, 1] > 0,
        ]
    ).astype(int)
    return X, Y


def _frame(X):
    """The dict X as a DataFrame with prefixed columns."""
    return pd.DataFrame(
        np.hstack([X["tab"], X["lab"]]),
        columns=["tab__a", "tab__b", "tab__c", "lab__a", "lab__b", "lab__c"],
    )


def _rows(X, rows):
    return {key: value[rows] for key, value in X.items()}


@pytest.fixture(scope="module")
def fitted():
    X, Y = _data()
    train, test = slice(0, 240), slice(240, None)
    clf = CrossModalClassifier(**FAST).fit(_rows(X, train), Y[train])
    return clf, _rows(X, test), Y[test]


def test_each_label_learns_its_own_modality(fitted):
    clf, X_test, Y_test = fitted
    proba = clf.predict_proba(X_test)
    assert proba.shape == (160, 3) and proba.dtype == np.float64
    assert ((proba > 0) & (proba < 1)).all()
    auc = np.array(
        [[roc_auc_score(Y_test[:, m], proba[:, j]) for m in range(3)] for j in range(3)]
    )  # auc[j, m]: label m scored by the probability of label j
    assert (np.diag(auc) > 0.9).all(), auc
    # labels 0 and 1 depend on different modalities: each column ranks its
    # own label well and the other one near chance
    assert abs(auc[0, 1] - 0.5) < 0.15 and abs(auc[1, 0] - 0.5) < 0.15, auc
    assert auc[0, 0] - auc[0, 1] > 0.3 and auc[1, 1] - auc[1, 0] > 0.3


def test_predict_classes_and_log_proba(fitted):
    clf, X_test, Y_test = fitted
    proba = clf.predict_proba(X_test)
    pred = clf.predict(X_test)
    assert pred.shape == (160, 3) and pred.dtype == np.int64
    assert_array_equal(pred, (proba > 0.5).astype(int))
    assert_allclose(clf.predict_log_proba(X_test), np.log(proba), rtol=1e-12)
    assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_outputs_ == 3
    assert clf.net_.criterion.__name__ == "BCEWithLogitsLoss"
    # score is the subset accuracy, as for every scikit-learn classifier
    assert clf.score(X_test, Y_test) == pytest.approx(
        np.mean((pred == Y_test).all(axis=1))
    )
    assert (pred == Y_test).mean() > 0.85
    assert clf.__sklearn_tags__().classifier_tags.multi_label


def test_boolean_frame_list_and_int_y_fit_the_same():
    X, Y = _data(200)
    Xf = _frame(X)
    reference = CrossModalClassifier(**FAST).fit(Xf, Y).predict_proba(Xf)
    names = ["fever", "cough", "rash"]
    for y in (
        pd.DataFrame(Y.astype(bool), columns=names),
        Y.astype(float),
        Y.tolist(),
    ):
        assert type_of_target(y) == "multilabel-indicator"
        proba = CrossModalClassifier(**FAST).fit(Xf, y).predict_proba(Xf)
        assert_allclose(proba, reference, rtol=1e-6)


def test_a_label_without_both_values_is_named():
    X, Y = _data(100)
    Y0 = Y.copy()
    Y0[:, 1] = 0
    kept = Y0.copy()
    with pytest.raises(
        ValueError, match=r"Label column 1 of the multilabel y is 0 in"
    ) as err:
        CrossModalClassifier(**FAST).fit(X, Y0)
    assert "np.delete(y, 1, axis=1)" in str(err.value)
    assert "add rows where it is 1" in str(err.value)
    assert_array_equal(Y0, kept)  # the caller's y is untouched
    frame = pd.DataFrame(Y, columns=["fever", "cough", "rash"])
    frame["rash"] = True
    frame["cough"] = 1
    with pytest.raises(ValueError) as err:
        CrossModalClassifier(**FAST).fit(X, frame)
    message = str(err.value)
    assert "column 1 ('cough')" in message and "is 1 in every row" in message
    assert "(2 such labels in all)" in message
    assert "y.drop(columns=['cough'])" in message


def test_a_2d_y_that_is_not_multilabel_is_refused():
    X, Y = _data(60)
    with pytest.raises(ValueError, match="'multiclass-multioutput' targets"):
        CrossModalClassifier(**FAST).fit(X, Y * np.array([1, 2, 3]))
    # scikit-learn calls {-1, 1} a multilabel indicator too: 0/1 is asked for
    signs = 2 * Y - 1
    row, column = np.argwhere(signs == -1)[0]  # the first -1, row by row
    with pytest.raises(ValueError) as err:
        CrossModalClassifier(**FAST).fit(X, signs)
    assert str(err.value) == (
        "A multilabel y must hold 0 and 1 (or False and True); label column "
        f"{column} holds -1 in row {row}. Convert it, e.g. y = (y > 0).astype(int)."
    )
    # a column vector is still one binary label (with sklearn's warning)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf = CrossModalClassifier(**{**FAST, "max_epochs": 1}).fit(X, Y[:, :1])
    assert clf.predict(X).shape == (60,) and not hasattr(clf, "n_outputs_")


def test_balanced_class_weight_is_the_formula_per_label():
    Y = np.array([[1, 0], [0, 0], [0, 1], [0, 1], [1, 1], [0, 1]])
    weights = label_weights("balanced", Y)
    n = len(Y)
    expected = np.empty(Y.shape)
    for label in range(2):
        n_pos = Y[:, label].sum()
        expected[:, label] = np.where(
            Y[:, label] == 1, n / (2 * n_pos), n / (2 * (n - n_pos))
        )
    assert_allclose(weights, expected)
    assert_allclose(weights[:, 0], [1.5, 0.75, 0.75, 0.75, 1.5, 0.75])
    for label in range(2):  # what compute_class_weight gives per column
        per_class = compute_class_weight(
            "balanced", classes=np.array([0, 1]), y=Y[:, label]
        )
        assert_allclose(weights[:, label], per_class[Y[:, label]])
    # a list of dicts gives each label its own weights (a class left out: 1)
    listed = label_weights([{1: 4.0}, {0: 2.0, 1: 0.5}], Y)
    assert_allclose(listed[:, 0], np.where(Y[:, 0] == 1, 4.0, 1.0))
    assert_allclose(listed[:, 1], np.where(Y[:, 1] == 1, 0.5, 2.0))


def test_row_weights_multiply_each_row_and_have_mean_one():
    Y = np.array([[1, 0], [0, 0], [0, 1], [0, 1], [1, 1], [0, 1]])
    extra = label_weights("balanced", Y)
    sample_weight = np.array([1.0, 2.0, 0.0, 1.0, 1.0, 3.0])
    weights = row_weights(sample_weight, 6, extra)
    assert weights.shape == (6, 2)
    assert weights.mean() == pytest.approx(1.0)
    raw = extra * sample_weight[:, None]
    assert_allclose(weights, raw * (raw.size / raw.sum()))
    assert (weights[2] == 0).all()
    # 1-D class weights are unchanged: mean 1 over the rows
    assert_allclose(row_weights(sample_weight, 6), sample_weight * 6 / 8)


def test_balanced_weights_raise_a_rare_label():
    rng = np.random.RandomState(1)
    X = {"tab": rng.randn(300, 3), "lab": rng.randn(300, 3)}
    rare = X["tab"][:, 0] + 0.8 * rng.randn(300) > 1.6  # about 10% positive
    Y = np.column_stack([rare, X["lab"][:, 0] > 0]).astype(int)
    assert 0.05 < Y[:, 0].mean() < 0.15
    plain = CrossModalClassifier(**FAST).fit(X, Y).predict_proba(X)
    balanced = (
        CrossModalClassifier(class_weight="balanced", **FAST).fit(X, Y).predict_proba(X)
    )
    # the rare label's positives count as half of its loss: its
    # probabilities move up towards 1/2 on average
    assert balanced[:, 0].mean() > max(2 * plain[:, 0].mean(), 0.2)
    assert plain[:, 0].mean() < 0.15
    # the balanced label keeps its probabilities (its weights are about 1)
    assert abs(balanced[:, 1].mean() - plain[:, 1].mean()) < 0.1


def test_class_weight_errors():
    X, Y = _data(60)
    with pytest.raises(ValueError, match=r"as one dict is for binary .* list of 3"):
        CrossModalClassifier(class_weight={0: 1, 1: 2}, **FAST).fit(X, Y)
    with pytest.raises(ValueError, match="list of 2 dicts but y has 3 labels"):
        CrossModalClassifier(class_weight=[{1: 2}, {1: 2}], **FAST).fit(X, Y)
    frame = pd.DataFrame(Y, columns=["fever", "cough", "rash"])
    with pytest.raises(
        ValueError, match=r"class_weight\[2\] \(label column 2 \('rash'\)"
    ):
        CrossModalClassifier(class_weight=[{1: 2}, {1: 2}, {2: 1}], **FAST).fit(
            X, frame
        )
    with pytest.raises(ValueError, match=r"list .* is for a multilabel y"):
        CrossModalClassifier(class_weight=[{1: 2}], **FAST).fit(X, Y[:, 0])


def test_early_stopping_uses_a_random_split():
    X, Y = _data(200)
    clf = CrossModalClassifier(
        early_stopping=True, n_iter_no_change=2, validation_fraction=0.2, **FAST
    ).fit(X, Y)
    assert len(clf.validation_loss_curve_) == clf.n_iter_ <= FAST["max_epochs"]
    assert clf.validation_loss_curve_[-1] < np.log(2)  # better than a coin
    assert clf.predict_proba(X).shape == (200, 3)


def test_refit_on_binary_forgets_the_multilabel_fit():
    X, Y = _data(100)
    clf = CrossModalClassifier(**{**FAST, "max_epochs": 2}).fit(X, Y)
    clf.fit(X, np.where(Y[:, 0] == 1, "yes", "no"))
    assert not hasattr(clf, "n_outputs_")
    assert clf.predict_proba(X).shape == (100, 2)
    assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= {"yes", "no"}


def test_pickle_deepcopy_and_skops_round_trips(fitted):
    sio = pytest.importorskip("skops.io")
    clf, X_test, _ = fitted
    proba = clf.predict_proba(X_test)
    data = sio.dumps(clf)
    assert sio.get_untrusted_types(data=data) == [
        "skfusion.estimators.CrossModalClassifier"
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = [
            pickle.loads(pickle.dumps(clf)),
            copy.deepcopy(clf),
            sio.loads(data, trusted=["skfusion.estimators.CrossModalClassifier"]),
        ]
    for other in loaded:
        assert_array_equal(other.predict_proba(X_test), proba)
        assert_array_equal(other.predict(X_test), clf.predict(X_test))
        assert_array_equal(other.classes_, [0, 1, 2])
        assert other.n_outputs_ == 3


def test_cross_val_score_and_grid_search_with_multilabel_scorers():
    X, Y = _data(240)
    Xf = _frame(X)
    small = {**FAST, "max_epochs": 10}
    scores = cross_val_score(
        CrossModalClassifier(**small), Xf, Y, cv=KFold(3), scoring="roc_auc"
    )
    assert scores.shape == (3,) and (scores > 0.85).all(), scores
    micro = make_scorer(roc_auc_score, response_method="predict_proba", average="micro")
    search = GridSearchCV(
        CrossModalClassifier(**small),
        {"lr": [1e-4, 1e-2]},
        cv=KFold(2),
        scoring={"micro": micro, "macro": "roc_auc"},
        refit="micro",
    ).fit(Xf, Y)
    results = search.cv_results_
    assert search.best_params_ == {"lr": 1e-2}
    assert results["mean_test_micro"][1] > 0.8
    assert results["mean_test_micro"][1] - results["mean_test_micro"][0] > 0.1
    assert search.predict(Xf).shape == (240, 3)
