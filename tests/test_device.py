"""Devices and mixed precision: CPU everywhere, CUDA where present."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import roc_auc_score
from skorch.exceptions import DeviceWarning

from skfusion import CrossModalClassifier, CrossModalRegressor

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = {
        "tab": rng.normal(size=(400, 5)).astype(np.float32),
        "img": rng.random((400, 1, 8, 8), dtype=np.float32),
    }
    y = (X["tab"][:, 0] + 4 * (X["img"].mean(axis=(1, 2, 3)) - 0.5) > 0).astype(int)
    return X, y


def _dtypes_seen(clf, X, y):
    """Fit and record the output dtypes of the Linear layers in training."""
    seen = set()

    def hook(module, inputs, output):
        if isinstance(module, torch.nn.Linear) and module.training:
            seen.add(output.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        clf.fit(X, y)
    finally:
        handle.remove()
    return seen


@pytest.mark.parametrize(
    "amp, dtype",
    [(None, torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)],
)
def test_amp_trains_linear_layers_in_reduced_precision(data, amp, dtype):
    X, y = data
    clf = CrossModalClassifier(amp=amp, max_epochs=2, random_state=0)
    assert _dtypes_seen(clf, X, y) == {dtype}
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float64
    assert np.isfinite(proba).all()
    assert clf.transform(X).dtype == np.float32
    scaler = clf.net_.grad_scaler_
    assert (scaler is not None) == (amp == "fp16")


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_learns_as_well_as_float32(data, amp):
    X, y = data
    full = CrossModalClassifier(max_epochs=15, random_state=0).fit(X, y)
    mixed = CrossModalClassifier(amp=amp, max_epochs=15, random_state=0).fit(X, y)
    auc_full = roc_auc_score(y, full.predict_proba(X)[:, 1])
    auc_mixed = roc_auc_score(y, mixed.predict_proba(X)[:, 1])
    assert auc_full > 0.95
    assert abs(auc_mixed - auc_full) < 0.02
    # the losses follow the same path (same seed, same batches)
    assert_allclose(mixed.loss_curve_, full.loss_curve_, rtol=0.1)


def test_fp16_scaler_is_not_pickled(data):
    X, y = data
    clf = CrossModalClassifier(amp="fp16", max_epochs=1, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    assert not hasattr(again.net_, "grad_scaler_")
    assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_gpu_fitted_model_predicts_on_a_cpu_only_machine(data, monkeypatch):
    """A net whose device is CUDA unpickles on a machine without CUDA.

    Without a GPU the CUDA state is simulated: the net's device says "cuda"
    and skorch's unpickler maps its tensors with map_location="cpu".
    """
    X, y = data
    clf = CrossModalRegressor(max_epochs=2, random_state=0).fit(X, y.astype(float))
    expected = clf.predict(X)
    clf.net_.device = "cuda"  # as after a fit with device="cuda"
    blob = pickle.dumps(clf)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="no CUDA devices"):
        loaded = pickle.loads(blob)
    assert str(loaded.net_.device) == "cpu"
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    assert_allclose(loaded.predict(X), expected, rtol=1e-6)


def test_cuda_request_without_cuda_falls_back_with_a_warning(data, monkeypatch):
    X, y = data
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        clf = CrossModalClassifier(device="cuda", max_epochs=1).fit(X, y)
    assert str(clf.net_.device) == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto = CrossModalClassifier(device="auto", max_epochs=1).fit(X, y)
    assert str(auto.net_.device) == "cpu"


@needs_cuda
@pytest.mark.parametrize("amp", [None, "bf16", "fp16"])
def test_cuda_fit_matches_cpu_and_moves_to_cpu(data, amp, monkeypatch):
    X, y = data
    gpu = CrossModalClassifier(device="cuda", amp=amp, max_epochs=15, random_state=0)
    gpu.fit(X, y)
    cpu = CrossModalClassifier(max_epochs=15, random_state=0).fit(X, y)
    assert next(gpu.net_.module_.parameters()).is_cuda
    auc_gpu = roc_auc_score(y, gpu.predict_proba(X)[:, 1])
    auc_cpu = roc_auc_score(y, cpu.predict_proba(X)[:, 1])
    assert abs(auc_gpu - auc_cpu) < 0.02
    expected = gpu.predict_proba(X)  # on the GPU, before CUDA is hidden
    blob = pickle.dumps(gpu)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning):
        loaded = pickle.loads(blob)
    assert str(loaded.net_.device) == "cpu"
    assert_allclose(loaded.predict_proba(X), expected, atol=1e-2 if amp else 1e-5)
