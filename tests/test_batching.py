"""The training iterator: whole batches by index, shuffled, no copies."""

import numpy as np
import torch
from numpy.testing import assert_array_equal
from skorch.dataset import Dataset

from skfusion import CrossModalClassifier
from skfusion._batching import BatchDataset, EpochBatches, batch_loader


def _data(n=10):
    X = {"a": np.arange(n, dtype=np.float32)[:, None] * [1, 10]}
    X["a"] = X["a"].astype(np.float32)
    return X, np.arange(n)


def test_each_epoch_visits_every_row_once_in_a_new_order():
    X, y = _data(10)
    it = batch_loader(BatchDataset(X, y), batch_size=4, shuffle=True)
    assert len(it) == 3
    torch.manual_seed(0)
    epochs = []
    for _ in range(3):
        batches = list(it)
        assert [len(yb) for _, yb in batches] == [4, 4, 2]
        rows = torch.cat([yb for _, yb in batches]).numpy()
        assert sorted(rows) == list(range(10))
        for Xb, yb in batches:  # X and y rows stay paired
            assert_array_equal(Xb["a"][:, 1].numpy(), 10 * yb.numpy())
        epochs.append(rows)
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])


def test_unshuffled_iteration_slices_views_of_the_callers_array():
    X, y = _data(10)
    batches = list(batch_loader(BatchDataset(X, y), batch_size=4, shuffle=False))
    assert_array_equal(torch.cat([yb for _, yb in batches]).numpy(), y)
    first = batches[0][0]["a"]
    assert first.data_ptr() == X["a"].__array_interface__["data"][0]


def test_subset_of_a_skorch_dataset_iterates_its_rows_only():
    X, y = _data(10)
    subset = torch.utils.data.Subset(BatchDataset(X, y), [7, 2, 5])
    it = batch_loader(subset, batch_size=2, shuffle=False)
    assert_array_equal(torch.cat([yb for _, yb in it]).numpy(), [7, 2, 5])
    torch.manual_seed(1)
    shuffled = batch_loader(subset, batch_size=8, shuffle=True)
    assert sorted(next(iter(shuffled))[1].tolist()) == [2, 5, 7]


def test_other_datasets_fall_back_to_skorch():
    assert batch_loader(Dataset(np.zeros((3, 2))), 2, False) is None


def test_estimator_trains_through_the_batch_iterator(monkeypatch):
    seen = []
    original = EpochBatches.__iter__

    def spy(self):
        for rows in original(self):
            size = len(range(self.n_rows)[rows]) if type(rows) is slice else len(rows)
            seen.append((self.shuffle, size))
            yield rows

    monkeypatch.setattr(EpochBatches, "__iter__", spy)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(100, 3)).astype(np.float32), rng.integers(0, 2, 100)
    clf = CrossModalClassifier(
        batch_size=32, max_epochs=2, early_stopping=True, validation_fraction=0.2
    )
    clf.fit(X, y)
    train = [size for shuffled, size in seen if shuffled]
    valid = [size for shuffled, size in seen if not shuffled]
    assert train == [32, 32, 16] * 2  # 80 training rows, shuffled
    assert valid == [20, 20]  # one validation batch per epoch
