"""scikit-learn's estimator checks on CrossModalSurvival, as far as they
apply to a survival target, and the same properties checked by hand with one.

sklearn's checks fit on a 1-D y of class labels or numbers, which is not a
survival target (event and time): fit refuses it with its survival error,
after checking X. So every check that fits on valid X fails for that reason
alone and is listed below, as imbalanced-learn lists its reasoned
exceptions; the checks of X's errors (NaN, sparse, empty, complex data), of
the parameters and of the tags pass. What those fitting checks verify is
tested here by hand with a survival y.
"""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfusion import CrossModalSurvival
from skfusion.metrics import survival_array

FAST = dict(max_epochs=5, batch_size=32, latent_dim=8, head_dims=(8,), random_state=0)

Y_REASON = (
    "fits on sklearn's 1-D y, which is not a survival target (event and "
    "time): fit raises its survival-target error; the property is tested "
    "with a survival y in tests/test_survival_common.py"
)
FITTING_CHECKS = [
    "check_all_zero_sample_weights_error",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weights_list",
    "check_sample_weights_not_an_array",
    "check_sample_weights_not_overwritten",
    "check_sample_weights_pandas_series",
    "check_sample_weights_shape",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
]


@parametrize_with_checks(
    [CrossModalSurvival(**FAST)],
    expected_failed_checks=lambda est: dict.fromkeys(FITTING_CHECKS, Y_REASON),
)
def test_sklearn_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5)).astype(np.float32)
    time = rng.exponential(1 / np.exp(X[:, 0]))
    y = survival_array(rng.random(120) < 0.7, time)
    return X, y


def test_fit_is_idempotent_returns_self_and_keeps_inputs(data):
    X, y = data
    X_before, y_before = X.copy(), y.copy()
    model = CrossModalSurvival(**FAST)
    assert model.fit(X, y) is model
    first = model.predict(X)
    assert_array_equal(model.fit(X, y).predict(X), first)
    assert_array_equal(X, X_before)
    assert_array_equal(y, y_before)
    assert model.n_features_in_ == 5


def test_predictions_do_not_depend_on_row_order_or_subsets(data):
    X, y = data
    model = CrossModalSurvival(**FAST).fit(X, y)
    order = np.random.default_rng(1).permutation(len(X))
    for method in ("predict", "predict_survival_function", "transform"):
        kwargs = {"return_array": True} if method.startswith("predict_s") else {}
        full = getattr(model, method)(X, **kwargs)
        assert_allclose(
            getattr(model, method)(X[order], **kwargs), full[order], atol=1e-6
        )
        assert_allclose(getattr(model, method)(X[:7], **kwargs), full[:7], atol=1e-6)


def test_read_only_inputs_pickle_and_pipeline_clone(data):
    X, y = data
    X_ro, y_ro = X.copy(), y.copy()
    X_ro.setflags(write=False)
    y_ro.setflags(write=False)
    model = CrossModalSurvival(**FAST).fit(X_ro, y_ro)
    assert_array_equal(
        model.predict(X), CrossModalSurvival(**FAST).fit(X, y).predict(X)
    )
    again = pickle.loads(pickle.dumps(model))
    assert_array_equal(again.predict(X), model.predict(X))
    assert_array_equal(clone(model).fit(X, y).predict(X), model.predict(X))


def test_sample_weights_as_lists_series_and_their_errors(data):
    import pandas as pd

    X, y = data
    ones = CrossModalSurvival(**FAST).fit(X, y, sample_weight=[1.0] * len(y))
    series = CrossModalSurvival(**FAST).fit(
        X, y, sample_weight=pd.Series(np.ones(len(y)))
    )
    assert_allclose(ones.predict(X), series.predict(X))
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        CrossModalSurvival(**FAST).fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match=r"sample_weight has shape \(3,\)"):
        CrossModalSurvival(**FAST).fit(X, y, sample_weight=np.ones(3))
