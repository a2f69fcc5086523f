"""n_threads: torch's intra-op thread count inside fit and predict."""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from skfusion import CrossModalClassifier
from skfusion._threads import MULTI_THREAD_MACS, estimated_macs, torch_threads

SEEN = []


class SpyAdamW(torch.optim.AdamW):
    """Records torch's thread count at every optimizer step."""

    def step(self, closure=None):
        SEEN.append(torch.get_num_threads())
        return super().step(closure)


class FailingAdamW(torch.optim.AdamW):
    def step(self, closure=None):
        raise RuntimeError("boom")


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    SEEN.clear()
    yield
    torch.set_num_threads(before)


def _data(image=False):
    rng = np.random.default_rng(0)
    if image:
        X = {"img": rng.random((16, 3, 96, 96), dtype=np.float32)}
    else:
        X = {"tab": rng.normal(size=(64, 5))}
    return X, rng.integers(0, 2, len(next(iter(X.values()))))


def _spy_on_forward(clf):
    clf.net_.module_.encoders[0].register_forward_hook(
        lambda *args: SEEN.append(torch.get_num_threads())
    )


def test_small_network_fits_and_predicts_on_one_thread_then_restores(two_threads):
    X, y = _data()
    clf = CrossModalClassifier(max_epochs=2, optimizer=SpyAdamW, random_state=0)
    clf.fit(X, y)
    assert SEEN and set(SEEN) == {1}
    assert torch.get_num_threads() == 2  # the caller's setting is back
    SEEN.clear()
    _spy_on_forward(clf)
    clf.predict_proba(X)
    assert SEEN == [1] and torch.get_num_threads() == 2


def test_explicit_counts_and_none(two_threads):
    X, y = _data()
    CrossModalClassifier(
        max_epochs=1, optimizer=SpyAdamW, n_threads=None, random_state=0
    ).fit(X, y)
    assert set(SEEN) == {2}  # None: torch's setting is left alone
    SEEN.clear()
    clf = CrossModalClassifier(
        max_epochs=1, optimizer=SpyAdamW, n_threads=3, random_state=0
    ).fit(X, y)
    assert set(SEEN) == {3} and torch.get_num_threads() == 2
    SEEN.clear()
    _spy_on_forward(clf)
    clf.predict(X)
    assert SEEN == [3]


def test_setting_is_restored_when_fit_raises(two_threads):
    X, y = _data()
    with pytest.raises(RuntimeError, match="boom"):
        CrossModalClassifier(max_epochs=1, optimizer=FailingAdamW).fit(X, y)
    assert torch.get_num_threads() == 2


def test_large_network_takes_the_callers_budget_and_no_more(two_threads):
    X, y = _data(image=True)
    clf = CrossModalClassifier(
        max_epochs=1, batch_size=8, optimizer=SpyAdamW, random_state=0
    )
    clf.fit(X, y)
    specs = clf.modalities_.values()
    assert estimated_macs(specs, clf.get_params()) > MULTI_THREAD_MACS
    assert set(SEEN) == {2}
    SEEN.clear()
    # Inside a joblib worker or threadpool_limits the budget is lower, and
    # "auto" respects it.
    with threadpool_limits(1):
        clf.fit(X, y)
    assert set(SEEN) == {1}


def test_torch_threads_context():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_small_networks_are_estimated_small():
    X, y = _data()
    clf = CrossModalClassifier(max_epochs=1).fit(X, y)
    assert estimated_macs(clf.modalities_.values(), clf.get_params()) < 1e4


def test_images_and_token_convolutions_count_as_large():
    from skfusion import ModalitySpec

    params = CrossModalClassifier().get_params()
    image = ModalitySpec("xray", "image", (1, 32, 32))
    table = ModalitySpec("tab", "vector", (300,))
    wide = ModalitySpec("wide", "wide", (2, 256), vocab_size=10**5)
    tokens = ModalitySpec("note", "tokens", (128,), vocab_size=5000)
    assert estimated_macs([table, wide], params) < MULTI_THREAD_MACS
    assert estimated_macs([tokens], params) < MULTI_THREAD_MACS  # a bag
    assert estimated_macs([image], params) > MULTI_THREAD_MACS
    conv = {**params, "token_encoder": "conv"}
    assert estimated_macs([tokens], conv) > MULTI_THREAD_MACS
