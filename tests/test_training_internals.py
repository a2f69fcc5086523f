"""Standardisation statistics and the prediction batch size of the net."""

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from skfusion import CrossModalClassifier
from skfusion._training import CONV_PREDICT_BATCH, PREDICT_BATCH, _statistics


def test_a_tiny_spread_is_kept_as_standard_scaler_keeps_it():
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [
            rng.normal(size=500),
            1.0 + 2e-7 * rng.normal(size=500),  # std 2e-7: not constant
            np.full(500, 3.0),  # constant: scale 1
        ]
    ).astype(np.float32)
    shift, scale = _statistics(X, (0,), block=128)
    reference = StandardScaler().fit(X)
    np.testing.assert_allclose(shift, reference.mean_, rtol=1e-6)
    np.testing.assert_allclose(scale, reference.scale_, rtol=1e-5)
    assert 1e-7 < scale[1] < 3e-7 and scale[2] == 1.0


def test_image_statistics_are_per_channel():
    rng = np.random.default_rng(0)
    X = rng.random((40, 3, 5, 4), dtype=np.float32) * [[[1]], [[10]], [[100]]]
    shift, scale = _statistics(X.astype(np.float32), (0, 2, 3), block=16)
    assert shift.shape == scale.shape == (3, 1, 1)
    per_channel = X.transpose(0, 2, 3, 1).reshape(-1, 3)
    np.testing.assert_allclose(shift.ravel(), per_channel.mean(0), rtol=1e-5)
    np.testing.assert_allclose(scale.ravel(), per_channel.std(0), rtol=1e-5)


@pytest.mark.parametrize(
    "inputs, batch_size, expected",
    [
        ({"tab": (8,)}, 64, PREDICT_BATCH),
        ({"tab": (8,)}, 4096, 4096),
        ({"img": (1, 8, 8)}, 64, 64),
        ({"img": (1, 8, 8)}, 16, CONV_PREDICT_BATCH[0]),
        ({"img": (1, 8, 8)}, 1024, CONV_PREDICT_BATCH[1]),
    ],
)
def test_prediction_batches_fit_the_network(inputs, batch_size, expected):
    rng = np.random.default_rng(0)
    X = {k: rng.random((40, *shape), dtype=np.float32) for k, shape in inputs.items()}
    y = np.arange(40) % 2
    clf = CrossModalClassifier(max_epochs=1, batch_size=batch_size, random_state=0)
    clf.fit(X, y)
    assert clf.net_.iterator_valid__batch_size == expected
