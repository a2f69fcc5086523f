"""AvailabilityIndicator: masking a whole tabular modality."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import StandardScaler

from skfusion import CrossModalClassifier
from skfusion.exceptions import ModalityError
from skfusion.preprocessing import AvailabilityIndicator


def test_flags_rows_all_or_any_missing_including_strings():
    X = pd.DataFrame({"crp": [1.0, np.nan, np.nan], "sex": ["f", None, "m"]})
    before = X.copy()
    assert AvailabilityIndicator().fit_transform(X).ravel().tolist() == [0, 1, 0]
    out = AvailabilityIndicator(how="any").fit(X).transform(X)
    assert out.ravel().tolist() == [0, 1, 1] and out.dtype == np.float32
    assert AvailabilityIndicator().fit(X).get_feature_names_out().tolist() == [
        "missing"
    ]
    pd.testing.assert_frame_equal(X, before)


def test_column_change_at_transform_is_an_error():
    ind = AvailabilityIndicator().fit(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    with pytest.raises(ValueError, match="feature names"):
        ind.transform(pd.DataFrame({"a": [1.0], "c": [2.0]}))


def _labs_frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "crp": rng.normal(size=n),
            "wbc": rng.normal(size=n),
            "age": rng.normal(size=n),
        }
    )
    y = (X["crp"] + X["age"] > 0).astype(int).to_numpy()
    X.loc[::5, ["crp", "wbc"]] = np.nan  # a lab panel never drawn
    return X, y


def _pipeline():
    labs = make_union(
        make_pipeline(SimpleImputer(), StandardScaler()), AvailabilityIndicator()
    )
    pre = ColumnTransformer(
        [("labs", labs, ["crp", "wbc"]), ("demo", StandardScaler(), ["age"])]
    )
    pre.set_output(transform="pandas")
    clf = CrossModalClassifier(max_epochs=10, latent_dim=8, lr=1e-2, random_state=0)
    return make_pipeline(pre, clf)


def test_whole_tabular_modality_masked_in_a_column_transformer():
    X, y = _labs_frame()
    model = _pipeline().fit(X, y)
    spec = model[-1].modalities_["labs"]
    assert spec.has_missing and spec.shape == (2,)
    names = model[0].get_feature_names_out()
    assert names[spec.missing_column] == "labs__availabilityindicator__missing"
    # where the panel is absent, the (imputed) lab values cannot matter
    absent = X["crp"].isna().to_numpy()
    Z = model[0].transform(X)
    Z_other = Z.copy()
    Z_other.loc[absent, ["labs__pipeline__crp", "labs__pipeline__wbc"]] = 5.0
    np.testing.assert_array_equal(
        model[-1].predict_proba(Z)[absent], model[-1].predict_proba(Z_other)[absent]
    )


def test_two_availability_columns_in_one_modality_is_an_error():
    X = pd.DataFrame(np.zeros((4, 3)), columns=["a__x", "a__missing", "a__u__missing"])
    with pytest.raises(ModalityError, match="'a' has 2 availability columns"):
        CrossModalClassifier(max_epochs=1).fit(X, [0, 1, 0, 1])
