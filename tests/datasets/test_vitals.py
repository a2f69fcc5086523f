"""make_clinical_multimodal(vitals=True): the vital-sign series."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from skfusion.datasets import make_clinical_multimodal


def _make(tmp_path, **kw):
    return make_clinical_multimodal(
        300, image_dir=tmp_path, image_size=8, random_state=0, return_latent=True, **kw
    )


def test_vitals_leave_every_other_output_unchanged(tmp_path):
    X0, y0, latent0 = _make(tmp_path / "a")
    X1, y1, latent1 = _make(tmp_path / "b", vitals=True)
    pd.testing.assert_frame_equal(
        X1.drop(columns=["vitals", "xray_path"]), X0.drop(columns="xray_path")
    )
    pd.testing.assert_frame_equal(latent1[["tabular", "text", "image"]], latent0)
    # the label adds s_vitals to the same score and noise
    assert list(latent1.columns) == ["tabular", "text", "image", "vitals"]
    assert 0.6 < (y0 == y1).mean() < 0.95
    assert roc_auc_score(y1, latent1["vitals"]) > roc_auc_score(y0, latent1["vitals"])


def test_series_shape_gaps_and_trend(tmp_path):
    X, _, latent = _make(tmp_path, vitals=True)
    series = X["vitals"].tolist()
    hours = np.array([s.shape[0] for s in series])
    assert all(s.ndim == 2 and s.shape[1] == 3 for s in series)
    assert hours.min() >= 24 and hours.max() <= 48
    nan_share = np.mean([np.isnan(s).mean() for s in series])
    assert 0.1 < nan_share < 0.2
    # heart-rate slope per stay follows s_vitals (+8 bpm over the stay)
    slopes = []
    for s in series:
        ok = ~np.isnan(s[:, 0])
        t = np.flatnonzero(ok) / (len(s) - 1)
        slopes.append(np.polyfit(t, s[ok, 0], 1)[0])
    fitted = np.polyfit(latent["vitals"], slopes, 1)[0]
    assert 6.5 < fitted < 9.5
    baseline = [s[~np.isnan(s[:, 0]), 0][0] for s in series]  # first measured
    assert abs(np.corrcoef(baseline, latent["vitals"])[0, 1]) < 0.25


def test_vitals_refuse_interaction_and_multilabel(tmp_path):
    with pytest.raises(ValueError, match=r"vitals=True .* signal='additive'"):
        make_clinical_multimodal(
            10, image_dir=tmp_path, vitals=True, signal="interaction"
        )
    with pytest.raises(ValueError, match="target='multilabel'"):
        make_clinical_multimodal(
            10, image_dir=tmp_path, vitals=True, target="multilabel"
        )
