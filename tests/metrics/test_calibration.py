"""expected_calibration_error against calibration_curve's bins."""

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from skfusion.metrics import expected_calibration_error


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_matches_calibration_curve(strategy):
    rng = np.random.RandomState(0)
    p = rng.rand(2000)
    y = (rng.rand(2000) < p**2).astype(int)  # over-confident probabilities
    frac, mean = calibration_curve(y, p, n_bins=10, strategy=strategy)
    edges = (
        np.linspace(0, 1, 11)
        if strategy == "uniform"
        else np.quantile(p, np.linspace(0, 1, 11))
    )
    counts = np.bincount(np.searchsorted(edges[1:-1], p, side="right"), minlength=10)
    expected = np.sum(counts[counts > 0] * np.abs(frac - mean)) / len(p)
    ece = expected_calibration_error(y, p, n_bins=10, strategy=strategy)
    assert ece == pytest.approx(expected)
    assert 0.1 < ece < 0.25  # E|p - p^2| = 1/6


def test_calibrated_probabilities_score_near_zero():
    rng = np.random.RandomState(0)
    p = rng.rand(20000)
    y = (rng.rand(20000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.02
    two_columns = np.column_stack([1 - p, p])
    assert expected_calibration_error(y, two_columns) == expected_calibration_error(
        y, p
    )
    # pos_label: the probability of the other class flips the gaps
    assert expected_calibration_error(1 - y, 1 - p, pos_label=1) == pytest.approx(
        expected_calibration_error(y, p)
    )
    labels = np.where(y == 1, "sick", "well")
    assert expected_calibration_error(labels, 1 - p, pos_label="well") < 0.02


def test_multiclass_top_label():
    y = np.array([0, 1, 2, 2])
    proba = np.array(
        [[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.6, 0.2, 0.2], [0.1, 0.1, 0.8]]
    )
    # confidences 0.8, 0.7, 0.6, 0.8 in bins 8, 7, 6, 8; hits 1, 1, 0, 1
    expected = (abs(1.6 - 2) + abs(0.7 - 1) + abs(0.6 - 0)) / 4
    assert expected_calibration_error(y, proba) == pytest.approx(expected)


def test_errors():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        expected_calibration_error([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="n_bins must be an int >= 1"):
        expected_calibration_error([0, 1], [0.5, 0.5], n_bins=0)
    with pytest.raises(ValueError, match="strategy must be"):
        expected_calibration_error([0, 1], [0.5, 0.5], strategy="kmeans")
    with pytest.raises(ValueError, match="3 classes; pass predict_proba"):
        expected_calibration_error([0, 1, 2], [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="3 columns but y_true has 2 classes"):
        expected_calibration_error([0, 1], np.full((2, 3), 1 / 3))
