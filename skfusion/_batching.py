"""Whole minibatches by index, for the skorch net's training and validation.

skorch's default iterator is a torch ``DataLoader`` over a ``Dataset`` that
fetches one row at a time and collates the rows into a batch: for a dict of
arrays that is ``batch_size`` Python calls and a ``torch.stack`` per input
key per batch. :class:`BatchIterator` instead holds each input once as a
tensor (a zero-copy view of the float32 NumPy array) and cuts every batch
with one ``index_select`` per key, the way a hand-written loop does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from skorch.dataset import Dataset

__all__ = ["BatchIterator", "batch_iterator"]


class BatchIterator:
    """Iterate ``(X_batch, y_batch)`` over the rows of a dict of arrays.

    Parameters
    ----------
    X : dict of str to ndarray or Tensor
        Inputs with rows along the first axis (no copy is made).
    y : ndarray, Tensor or None
        Targets.
    batch_size : int
        Rows per batch (the last batch may be smaller).
    shuffle : bool
        Draw a new random order every epoch (``torch.randperm`` on the
        global torch generator, which the estimators seed).
    indices : array-like of int or None
        Iterate over these rows only (a validation split), in this order
        unless shuffled.
    device : str or torch.device, default="cpu"
        Where the batches go. On CUDA, the inputs are copied to the device
        once when they take less than a quarter of its free memory;
        otherwise each batch is gathered into pinned memory and copied
        asynchronously.
    """

    def __init__(self, X, y, batch_size, shuffle, indices=None, device="cpu"):
        self.X = {k: torch.as_tensor(v) for k, v in X.items()}
        self.y = None if y is None else torch.as_tensor(np.asarray(y))
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.indices = None if indices is None else torch.as_tensor(indices).long()
        self.device = torch.device(device)
        self._pin = False
        if self.device.type == "cuda":
            tensors = [*self.X.values()] + ([self.y] if self.y is not None else [])
            size = sum(t.numel() * t.element_size() for t in tensors)
            free, _ = torch.cuda.mem_get_info(self.device)
            if size < free // 4:
                self.X = {k: t.to(self.device) for k, t in self.X.items()}
                self.y = None if self.y is None else self.y.to(self.device)
                if self.indices is not None:
                    self.indices = self.indices.to(self.device)
            else:
                self._pin = True

    def __len__(self):
        return -(-self._n_rows() // self.batch_size)

    def _n_rows(self):
        if self.indices is not None:
            return len(self.indices)
        return len(next(iter(self.X.values())))

    def _order(self):
        """Row order of this epoch, or None for plain slices 0..n."""
        n = self._n_rows()
        if self.shuffle:
            order = torch.randperm(n)
            if self.indices is not None:
                return self.indices[order.to(self.indices.device)]
            return order.to(next(iter(self.X.values())).device)
        return self.indices

    def _take(self, tensor, rows):
        if isinstance(rows, slice):
            part = tensor[rows]
        else:
            part = tensor.index_select(0, rows.to(tensor.device))
        if self._pin:
            return part.pin_memory().to(self.device, non_blocking=True)
        return part

    def __iter__(self):
        order = self._order()
        for start in range(0, self._n_rows(), self.batch_size):
            stop = start + self.batch_size
            rows = slice(start, stop) if order is None else order[start:stop]
            X_batch = {k: self._take(t, rows) for k, t in self.X.items()}
            y_batch = None if self.y is None else self._take(self.y, rows)
            yield X_batch, y_batch


def batch_iterator(dataset, batch_size, shuffle, device, num_workers=0):
    """A :class:`BatchIterator` for a skorch ``Dataset`` of a dict (or a
    ``Subset`` of one, as skorch's ``ValidSplit`` makes); None otherwise."""
    indices = None
    if isinstance(dataset, torch.utils.data.Subset):
        indices = np.asarray(dataset.indices)
        dataset = dataset.dataset
    if type(dataset) is not Dataset or not isinstance(dataset.X, Mapping):
        return None
    return BatchIterator(
        dataset.X, dataset.y, batch_size, shuffle, indices=indices, device=device
    )
