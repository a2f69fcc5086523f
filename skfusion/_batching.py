"""Whole minibatches by index, for the skorch net's training and validation.

skorch's default iterator is a torch ``DataLoader`` over a ``Dataset`` that
fetches one row at a time and collates the rows into a batch: for a dict of
arrays that is ``batch_size`` Python calls and a ``torch.stack`` per input
key per batch. :class:`BatchIterator` instead holds each input once as a
tensor (a zero-copy view of the float32 NumPy array) and cuts every batch
with one ``index_select`` per key, the way a hand-written loop does.

When an input is decoded lazily (a :class:`~skfusion.preprocessing.LazyImages`
of image paths), :class:`StreamingBatchIterator` draws the same row order
and decodes each batch when it is needed, in ``num_workers`` worker
processes (a torch ``DataLoader`` over whole batches) or in the main
process. :func:`iter_batches` is the fetching loop shared with prediction,
and :func:`present_blocks` streams the rows that the standardisation
statistics are computed on.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from skorch.dataset import Dataset

from ._modalities import is_lazy
from .nn.network import PRESENT_KEY

__all__ = [
    "BatchIterator",
    "StreamingBatchIterator",
    "batch_iterator",
    "iter_batches",
    "present_blocks",
    "unreadable_rows",
    "warn_unreadable",
]


class _Rows:
    """Rows and row order of an epoch, shared by the two iterators so that
    both draw exactly the same order from the global torch generator."""

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
            return order.to(self._order_device())
        return self.indices

    def _order_device(self):
        return torch.device("cpu")


class BatchIterator(_Rows):
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

    def _order_device(self):
        return next(iter(self.X.values())).device

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


class StreamingBatchIterator(_Rows):
    """Iterate ``(X_batch, y_batch)`` over a dict with lazily decoded inputs.

    The row order is drawn as :class:`BatchIterator` draws it (one
    ``torch.randperm`` per epoch on the global generator), so the batches
    are the same rows as in memory; each batch is fetched whole by
    :func:`iter_batches`: arrays by ``index_select``, a LazyImages decoded
    for exactly those rows, with unreadable images marked absent in the
    batch's presence matrix.

    Parameters
    ----------
    X : dict of str to ndarray, Tensor or LazyImages
    y, batch_size, shuffle, indices, device
        As in :class:`BatchIterator`.
    num_workers : int, default=0
        Worker processes that fetch (decode) the batches; 0 fetches them in
        the main process.
    """

    def __init__(
        self, X, y, batch_size, shuffle, indices=None, device="cpu", num_workers=0
    ):
        self.X = {k: v if is_lazy(v) else torch.as_tensor(v) for k, v in X.items()}
        self.y = None if y is None else torch.as_tensor(np.asarray(y))
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.indices = None if indices is None else torch.as_tensor(indices).long()
        self.device = torch.device(device)
        self.num_workers = int(num_workers)

    def __iter__(self):
        order = self._order()
        n, size = self._n_rows(), self.batch_size
        batches = [
            slice(start, start + size) if order is None else order[start : start + size]
            for start in range(0, n, size)
        ]
        yield from iter_batches(
            self.X, self.y, batches, num_workers=self.num_workers, device=self.device
        )


def _presence_columns(X):
    """Column of the presence matrix of each modality key of X.

    The modality keys of the network's input dict come in the network's
    modality order; the reserved keys (presence, sample weights) start with
    ``"__"``, which no modality name contains.
    """
    names = [key for key in X if not str(key).startswith("__")]
    return {key: j for j, key in enumerate(names)}


def _select(tensor, rows):
    if isinstance(rows, slice):
        return tensor[rows]
    return tensor.index_select(0, rows)


class _BatchDataset(torch.utils.data.Dataset):
    """``dataset[rows]`` is the whole batch ``(X_batch, y_batch)`` of those
    rows (a slice or a tensor of positions), lazy inputs decoded."""

    def __init__(self, X, y=None):
        self.X = {k: v if is_lazy(v) else torch.as_tensor(v) for k, v in X.items()}
        self.y = None if y is None else torch.as_tensor(y)
        self.columns = _presence_columns(X)

    def __len__(self):
        return len(next(iter(self.X.values())))

    def __getitem__(self, rows):
        if not isinstance(rows, slice):
            rows = torch.as_tensor(rows, dtype=torch.long)
        batch, absent = {}, []
        for key, value in self.X.items():
            if is_lazy(value):
                pixels, missing = value.decode(rows, warn=False)
                batch[key] = torch.from_numpy(pixels)
                if missing.any():
                    absent.append((self.columns[key], torch.from_numpy(missing)))
            else:
                batch[key] = _select(value, rows)
        if absent:
            if PRESENT_KEY not in batch:
                raise RuntimeError(
                    "A lazily decoded modality has absent rows but the input "
                    "has no presence matrix."
                )
            present = batch[PRESENT_KEY].clone()  # never write into X
            for column, missing in absent:
                present[missing, column] = 0.0
            batch[PRESENT_KEY] = present
        return batch, None if self.y is None else _select(self.y, rows)


def iter_batches(X, y, batches, *, num_workers=0, device="cpu"):
    """Yield ``(X_batch, y_batch)`` for each element of ``batches``.

    Parameters
    ----------
    X : dict of str to ndarray, Tensor or LazyImages
        The network's inputs; LazyImages are decoded batch by batch.
    y : ndarray, Tensor or None
    batches : list of slice or Tensor of int
        The rows of each batch, in order.
    num_workers : int, default=0
        With ``num_workers > 0``, the batches are fetched by that many
        worker processes (a torch ``DataLoader`` over whole batches, which
        keeps at most two batches per worker in flight). The DataLoader gets
        its own generator, so that it draws nothing from the global torch
        generator: results do not depend on the number of workers.
    device : str or torch.device, default="cpu"
        On CUDA, the batches are pinned and copied asynchronously.
    """
    device = torch.device(device)
    pin = device.type == "cuda"
    dataset = _BatchDataset(X, y)
    if num_workers > 0:
        source = torch.utils.data.DataLoader(
            dataset,
            batch_size=None,
            sampler=batches,
            num_workers=num_workers,
            pin_memory=pin,
            generator=torch.Generator(),
        )
    else:
        source = (dataset[rows] for rows in batches)
    for X_batch, y_batch in source:
        if pin:
            X_batch = {k: _to_device(t, device) for k, t in X_batch.items()}
            y_batch = None if y_batch is None else _to_device(y_batch, device)
        yield X_batch, y_batch


def _to_device(tensor, device):
    if not tensor.is_pinned():
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


class _DecodeDataset(torch.utils.data.Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, rows):
        return self.images.decode(rows, warn=False)


def present_blocks(data, present=None, block=1024, num_workers=0, unreadable=None):
    """Yield the present rows of ``data``, a block at a time, as float32 arrays.

    The blocks are the row ranges ``[0, block)``, ``[block, 2 * block)``,
    ...; each gives its rows where ``present`` is true, in order (empty
    blocks are skipped). An array gives copies of those rows. A LazyImages
    decodes them (in ``num_workers`` processes when > 0) and leaves out the
    images that it could not read, whose positions are appended to the list
    ``unreadable``. So an array and a LazyImages of the same pixels (absent
    where the images are unreadable) give the same arrays.

    Parameters
    ----------
    data : ndarray or LazyImages
    present : ndarray of bool of shape (n,) or None
    block : int
    num_workers : int
    unreadable : list or None
    """
    n = len(data)
    blocks = []
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        if present is not None:
            rows = rows[np.asarray(present[start : start + block], dtype=bool)]
        if len(rows):
            blocks.append(rows)
    if not is_lazy(data):
        for rows in blocks:
            yield np.take(data, rows, axis=0)
        return
    if num_workers > 0:
        source = (
            (pixels.numpy(), missing.numpy())
            for pixels, missing in torch.utils.data.DataLoader(
                _DecodeDataset(data),
                batch_size=None,
                sampler=blocks,
                num_workers=num_workers,
                generator=torch.Generator(),
            )
        )
    else:
        source = (data.decode(rows, warn=False) for rows in blocks)
    for rows, (pixels, missing) in zip(blocks, source, strict=True):
        if missing.any():
            if unreadable is not None:
                unreadable.extend(rows[missing].tolist())
            pixels = pixels[~missing]
        if len(pixels):
            yield pixels


def unreadable_rows(X, rows, X_batch):
    """Rows of a fetched batch that decoding found unreadable.

    Returns ``{key: positions in X}`` for each LazyImages key whose image
    was present in ``X`` (its presence matrix) but absent in ``X_batch``.
    """
    present = X.get(PRESENT_KEY)
    if present is None:
        return {}
    before = np.asarray(present[rows])
    after = np.asarray(X_batch[PRESENT_KEY].cpu())
    positions = np.arange(len(present))[rows]
    found = {}
    for key, column in _presence_columns(X).items():
        if is_lazy(X[key]):
            lost = (before[:, column] > 0) & (after[:, column] == 0)
            if lost.any():
                found[key] = positions[lost]
    return found


def warn_unreadable(name, rows, stacklevel):
    """One warning for the images of modality ``name`` that could not be read."""
    import warnings

    from .exceptions import SkfusionDataWarning

    rows = [int(row) for row in rows]
    shown = ", ".join(str(row) for row in rows[:10])
    if len(rows) > 10:
        shown += f" and {len(rows) - 10} more"
    warnings.warn(
        f"X[{name!r}]: {len(rows)} image(s) could not be read and are treated "
        f"as absent (on_error='missing'): rows {shown}.",
        SkfusionDataWarning,
        stacklevel=stacklevel + 1,
    )


def batch_iterator(dataset, batch_size, shuffle, device, num_workers=0):
    """The batch iterator for a skorch ``Dataset`` of a dict (or a ``Subset``
    of one, as skorch's ``ValidSplit`` makes); None otherwise.

    A :class:`StreamingBatchIterator` (with ``num_workers`` worker processes)
    when an input is decoded lazily, else a :class:`BatchIterator`.
    """
    indices = None
    if isinstance(dataset, torch.utils.data.Subset):
        indices = np.asarray(dataset.indices)
        dataset = dataset.dataset
    if type(dataset) is not Dataset or not isinstance(dataset.X, Mapping):
        return None
    if any(is_lazy(value) for value in dataset.X.values()):
        return StreamingBatchIterator(
            dataset.X,
            dataset.y,
            batch_size,
            shuffle,
            indices=indices,
            device=device,
            num_workers=num_workers,
        )
    return BatchIterator(
        dataset.X, dataset.y, batch_size, shuffle, indices=indices, device=device
    )
