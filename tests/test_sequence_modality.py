"""The "sequence" kind: discovery from TimeSeriesLoader names, the masked
GRU / transformer encoders, learning a trend, missing series, persistence."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from skfusion import CrossModalClassifier, ModalitySpec
from skfusion._threads import estimated_macs
from skfusion.exceptions import ModalityError
from skfusion.nn.sequence import SequenceEncoder, sequence_statistics
from skfusion.preprocessing import TimeSeriesLoader, make_modality_transformer

FAST = dict(latent_dim=16, head_dims=(16,), max_epochs=15, lr=5e-3, dropout=0.0)


def _trend_task(n, seed, missing=0.0):
    """Two channels whose baseline is noise and whose slope is the label's
    only signal; 10% of the cells unmeasured, series of 20 to 39 steps."""
    rng = np.random.default_rng(seed)
    slope = rng.standard_normal(n)
    cells = []
    for i in range(n):
        steps = rng.integers(20, 40)
        t = np.arange(steps) / steps
        v = rng.normal(0, 1, 2) + 2 * slope[i] * np.stack([t, -t], 1)
        v = v + rng.normal(0, 0.3, v.shape)
        v[rng.random(v.shape) < 0.1] = np.nan
        cells.append(None if rng.random() < missing else v)
    frame = pd.DataFrame({"vitals": pd.Series(cells, dtype=object)})
    return frame, (slope > 0).astype(int)


@pytest.fixture(scope="module")
def trend():
    X, y = _trend_task(600, 0)
    X_test, y_test = _trend_task(300, 1)
    ct = make_modality_transformer(("vitals", TimeSeriesLoader(n_steps=16), "vitals"))
    return ct.fit_transform(X), y, ct.transform(X_test), y_test


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_trend_is_learnt_by_both_encoders(trend, kind):
    Z, y, Z_test, y_test = trend
    clf = CrossModalClassifier(sequence_encoder=kind, random_state=0, **FAST)
    clf.fit(Z, y)
    spec = clf.modalities_["vitals"]
    assert (spec.kind, spec.shape, spec.has_missing) == ("sequence", (2, 16, 2), True)
    encoder = clf.net_.module_.encoders[0]
    assert isinstance(encoder, SequenceEncoder) and encoder.kind == kind
    auc = roc_auc_score(y_test, clf.predict_proba(Z_test)[:, 1])
    assert auc > 0.85, auc


def test_statistics_count_observed_entries_only():
    values = np.array([[[1.0], [3.0], [100.0]], [[5.0], [-50.0], [7.0]]])
    mask = np.array([[[1.0], [1.0], [0.0]], [[1.0], [0.0], [1.0]]])
    data = np.stack([values, mask], axis=1)  # (2, 2, 3, 1)
    shift, scale = sequence_statistics(data, block=1)
    observed = np.array([1.0, 3.0, 5.0, 7.0])
    np.testing.assert_allclose(shift, [observed.mean()], rtol=1e-6)
    np.testing.assert_allclose(scale, [observed.std()], rtol=1e-6)
    # rows left out (a missing series) do not count either
    shift, _ = sequence_statistics(data, rows=np.array([True, False]))
    np.testing.assert_allclose(shift, [2.0])


def test_unobserved_values_do_not_change_the_encoding():
    torch.manual_seed(0)
    x = torch.randn(3, 2, 8, 2)
    x[:, 1] = (torch.rand(3, 8, 2) > 0.3).float()
    x[2, 1] = 0.0  # a row with nothing observed (a missing series)
    for kind in ("gru", "transformer"):
        encoder = SequenceEncoder(2, 4, 8, kind=kind).eval()
        changed = x.clone()
        changed[2, 0] = 1e3  # the unobserved row's values
        with torch.no_grad():
            a, b = encoder(x), encoder(changed)
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b)


def test_missing_series_is_masked_in_the_network():
    X, y = _trend_task(120, 2, missing=0.3)
    loader = TimeSeriesLoader(n_steps=8).set_output(transform="pandas")
    Z = loader.fit_transform(X)
    assert Z["missing"].sum() > 0
    Z.columns = ["vitals__" + c for c in Z.columns]
    Z["tab__x"] = np.random.default_rng(0).standard_normal(len(Z))
    clf = CrossModalClassifier(
        max_epochs=2,
        random_state=0,
        **{k: v for k, v in FAST.items() if k != "max_epochs"},
    ).fit(Z, y)
    gone = Z["vitals__missing"].to_numpy() == 1
    # a missing row's garbage values do not reach the prediction
    noisy = Z.copy()
    noisy.loc[gone, [c for c in Z if c.startswith("vitals__series")]] = 1e4
    np.testing.assert_allclose(
        clf.predict_proba(noisy), clf.predict_proba(Z), rtol=1e-5
    )


def test_mixed_or_incomplete_names_are_refused():
    X, y = _trend_task(20, 3)
    Z = TimeSeriesLoader(n_steps=4).set_output(transform="pandas").fit_transform(X)
    with pytest.raises(ModalityError, match="mixes time-series columns"):
        CrossModalClassifier(max_epochs=1).fit(Z.assign(age=1.0), y)
    with pytest.raises(ModalityError, match="do not form complete"):
        CrossModalClassifier(max_epochs=1).fit(Z.drop(columns="series_0_0"), y)


def test_a_default_sequence_counts_as_a_heavy_network():
    # 32 steps x (input projection 2*3*32 + GRU 3*(32+32)*32), or
    # 32 x (2*3*32 + 8*32*32) for the transformer: above the 1e5 cut of "auto"
    spec = ModalitySpec("vitals", "sequence", (2, 32, 3))
    params = CrossModalClassifier().get_params()
    assert estimated_macs([spec], params) == 32 * (192 + 6144) > 1e5
    params["sequence_encoder"] = "transformer"
    assert estimated_macs([spec], params) == 32 * (192 + 8192)


def test_pickle_and_skops_round_trip(trend, tmp_path):
    skops_io = pytest.importorskip("skops.io")
    Z, y, Z_test, _ = trend
    clf = CrossModalClassifier(
        sequence_encoder="transformer",
        max_epochs=2,
        random_state=0,
        **{k: v for k, v in FAST.items() if k != "max_epochs"},
    ).fit(Z, y)
    expected = clf.predict_proba(Z_test)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(again.predict_proba(Z_test), expected, rtol=1e-6)
    path = tmp_path / "model.skops"
    skops_io.dump(clf, path)
    loaded = skops_io.load(path, trusted=skops_io.get_untrusted_types(file=path))
    np.testing.assert_allclose(loaded.predict_proba(Z_test), expected, rtol=1e-6)
