"""scikit-learn's estimator checks over every public estimator.

Every expected failure is listed with its reason, as imbalanced-learn does.
ImageLoader, ImageEmbedder, AudioLoader and TimeSeriesLoader take a
column of file paths (or per-row series), which sklearn's checks cannot
generate (they feed numeric matrices; their
tags say so and sklearn skips them), so they get the data-free API checks
here and path-based behaviour checks in tests/preprocessing/. The
SentenceEmbedder needs a model, which tests/preprocessing/test_sentence.py
builds; the full parametrize_with_checks runs there.
"""

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    parametrize_with_checks,
)

from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion.preprocessing import (
    AudioLoader,
    AvailabilityIndicator,
    ImageEmbedder,
    ImageLoader,
    ModalityVectorizer,
    TextEmbedder,
    TextTokenizer,
    TimeSeriesLoader,
    WideFeatures,
)

FAST = dict(
    max_epochs=20,
    batch_size=32,
    latent_dim=16,
    hidden_dims=(32,),
    head_dims=(32,),
    lr=1e-2,
    random_state=0,
)

MINIBATCH_REASON = (
    "stochastic minibatch training: repeating a row instead of weighting it "
    "changes the composition of the shuffled batches and the number of "
    "optimizer steps per epoch, so the fits differ beyond the check's "
    "tolerance (as for sklearn's SGD estimators). Weighting itself is tested "
    "in tests/test_estimators.py."
)


ULP_REASON = (
    "torch's float32 CPU kernels block a one-row batch differently from a "
    "many-row batch, so an output can differ by about one float32 ulp "
    "(measured 1.5e-7) where the check allows 1e-7; whether a fit hits it "
    "depends on its weights in the last bits. Batch invariance to 1e-6 is "
    "tested in tests/test_estimators.py."
)


def expected_failed_checks(estimator):
    if isinstance(estimator, (CrossModalClassifier, CrossModalRegressor)):
        return {
            "check_sample_weight_equivalence_on_dense_data": MINIBATCH_REASON,
            "check_methods_subset_invariance": ULP_REASON,
        }
    return {}


ESTIMATORS = [
    CrossModalClassifier(**FAST),
    CrossModalRegressor(**FAST),
    TextEmbedder(n_components=4, random_state=0),
    TextTokenizer(max_length=4),
    AvailabilityIndicator(),
    WideFeatures(min_df=1, max_terms=8),
    ModalityVectorizer(random_state=0),
]


# The lost-structure warning must never fire on sklearn's check data.
@pytest.mark.filterwarnings("error::skfusion.exceptions.ModalityStructureWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "check",
    [
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_get_params_invariance,
        check_set_params,
    ],
)
@pytest.mark.parametrize(
    "estimator",
    [ImageLoader(), ImageEmbedder(), AudioLoader(), TimeSeriesLoader()],
    ids=type,
)
def test_path_transformer_api_checks(estimator, check):
    check(type(estimator).__name__, estimator)


def test_image_loader_fit_is_idempotent_and_clone_is_unfitted(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        Image.fromarray(np.full((5, 7), 40 * i, dtype=np.uint8)).save(path)
        paths.append(str(path))
    X = pd.DataFrame({"xray": [*paths, None]})
    loader = ImageLoader(size=4)
    first = loader.fit(X).transform(X)
    second = loader.fit(X).transform(X)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first[:3, :-1].mean(axis=1), [0, 40 / 255, 80 / 255])
    assert first[:, -1].tolist() == [0, 0, 0, 1]
    assert not hasattr(clone(loader), "image_shape_")
