"""Whole minibatches by index: the dataset and the iterator of the skorch net.

skorch's default iterator is a torch ``DataLoader`` over a ``Dataset`` that
fetches one row at a time and collates the rows into a batch: for a dict of
arrays that is ``batch_size`` Python calls and a ``torch.stack`` per input
key per batch. skfusion plugs into skorch's two extension points for data
instead (``get_dataset`` and ``get_iterator``, see
:class:`skfusion._training.WeightedNet`):

- :class:`BatchDataset` holds each input once, as a tensor that shares the
  float32 NumPy array's memory (or a
  :class:`~skfusion.preprocessing.LazyImages` of paths), and
  ``dataset[rows]`` returns the whole batch of those rows: one
  ``index_select`` per key, the way a hand-written loop cuts a batch, and
  lazy images decoded for exactly those rows.
- :class:`EpochBatches` is the batch sampler: the row blocks of one epoch,
  in a new random order each epoch (one ``torch.randperm`` on the global
  generator, which the estimators seed) or in order; in a data-parallel
  fit, this process's part of each block (:mod:`skfusion._distributed`).
- :func:`batch_loader` is a plain torch ``DataLoader`` over the two
  (``batch_size=None``: the sampler's elements are whole batches), with
  ``num_workers`` decoding processes and pinned memory for a GPU. The
  copy to the device is skorch's (``infer`` and ``get_loss`` move each
  batch), so there is one place where batches move.

:func:`present_blocks` streams the rows that the standardisation
statistics are computed on.
"""

from __future__ import annotations

import numpy as np
import torch

from ._discovery import is_lazy
from ._distributed import broadcast_from_rank0
from ._names import PRESENT_KEY, is_reserved_key
from ._warnings import warn
from .exceptions import SkfusionDataWarning

__all__ = [
    "BatchDataset",
    "EpochBatches",
    "PoissonBatches",
    "batch_loader",
    "present_blocks",
    "unreadable_rows",
    "warn_unreadable",
]


def _presence_columns(X):
    """Column of the presence matrix of each modality key of X.

    The modality keys of the network's input dict come in the network's
    modality order; the reserved keys (presence, sample weights) are left out.
    """
    names = [key for key in X if not is_reserved_key(key)]
    return {key: j for j, key in enumerate(names)}


def _select(tensor, rows):
    if isinstance(rows, slice):
        return tensor[rows]
    return tensor.index_select(0, rows.to(tensor.device))


class BatchDataset(torch.utils.data.Dataset):
    """A dict of inputs whose item is a whole batch: ``dataset[rows]`` is
    ``(X_batch, y_batch)`` for a slice or a tensor of row positions.

    Parameters
    ----------
    X : dict of str to ndarray, Tensor or LazyImages
        Inputs with rows along the first axis; arrays are not copied, a
        LazyImages is decoded batch by batch, with its unreadable images
        marked absent in the batch's presence matrix (never in X).
    y : array-like or None
        Targets.
    device : str or torch.device, default="cpu"
        On CUDA, the arrays are moved to the device once when they take
        less than a quarter of its free memory (``on_device``); otherwise
        batches stay on the CPU and the loader pins them.
    """

    def __init__(self, X, y=None, device="cpu"):
        self.X = {k: v if is_lazy(v) else torch.as_tensor(v) for k, v in X.items()}
        self.y = None if y is None else torch.as_tensor(np.asarray(y))
        self.columns = _presence_columns(X)
        self.on_device = False
        device = torch.device(device)
        if device.type == "cuda" and not any(map(is_lazy, self.X.values())):
            tensors = [*self.X.values()] + ([self.y] if self.y is not None else [])
            size = sum(t.numel() * t.element_size() for t in tensors)
            free, _ = torch.cuda.mem_get_info(device)
            if size < free // 4:
                self.X = {k: t.to(device) for k, t in self.X.items()}
                self.y = None if self.y is None else self.y.to(device)
                self.on_device = True

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
            batch[PRESENT_KEY] = _mark_absent(batch.get(PRESENT_KEY), absent)
        return batch, None if self.y is None else _select(self.y, rows)


def _mark_absent(present, absent):
    """A copy of the batch's presence matrix with the unreadable rows of
    each lazy modality set to 0 (X's own matrix is never written)."""
    if present is None:
        raise RuntimeError(
            "A lazily decoded modality has absent rows but the input has no "
            "presence matrix."
        )
    present = present.clone()
    for column, missing in absent:
        present[missing, column] = 0.0
    return present


class EpochBatches(torch.utils.data.Sampler):
    """The batches of one epoch: slices of rows in order, or blocks of one
    ``torch.randperm`` drawn on the global generator at each iteration.

    In a data-parallel fit (``shard``), each batch of ``batch_size`` rows
    is a global batch: every process iterates the same batches, cut from
    the same permutation (drawn on rank 0, from the global generator as in
    one process, and broadcast), and yields its own contiguous part of
    each (``torch.tensor_split(batch, world)[rank]``; a part may be
    empty when a batch has fewer rows than there are processes). So the
    processes see disjoint rows whose union is the epoch, and the batches
    and hyperparameters do not depend on the number of processes.

    Parameters
    ----------
    rows : int or array-like of int
        The number of rows, or the positions to iterate over (a validation
        split), in this order unless shuffled.
    batch_size : int
        Rows per batch (the last batch may be smaller).
    shuffle : bool
        A new random order every epoch.
    shard : (rank, world) or None
        This process's part of each batch; None: the whole batches.
    """

    def __init__(self, rows, batch_size, shuffle, shard=None):
        self.indices = (
            None
            if isinstance(rows, int | np.integer)
            else torch.as_tensor(np.asarray(rows), dtype=torch.long)
        )
        self.n_rows = int(rows) if self.indices is None else len(self.indices)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.shard = None if shard is None or shard[1] <= 1 else tuple(shard)

    def __len__(self):
        return -(-self.n_rows // self.batch_size)

    def _permutation(self):
        """This epoch's order of the rows, the same on every process."""
        if self.shard is None:
            return torch.randperm(self.n_rows)
        rank, _ = self.shard
        drawn = (
            torch.randperm(self.n_rows)
            if rank == 0
            else torch.empty(self.n_rows, dtype=torch.long)
        )
        return broadcast_from_rank0(drawn)

    def __iter__(self):
        order = self.indices
        if self.shuffle:
            permutation = self._permutation()
            order = permutation if order is None else order[permutation]
        if self.shard is not None and order is None:
            order = torch.arange(self.n_rows)
        for start in range(0, self.n_rows, self.batch_size):
            stop = start + self.batch_size
            if self.shard is not None:
                rank, world = self.shard
                yield torch.tensor_split(order[start:stop], world)[rank]
            else:
                yield slice(start, stop) if order is None else order[start:stop]


class PoissonBatches(torch.utils.data.Sampler):
    """The batches of one epoch of differentially private training: each of
    ``steps`` batches takes every row independently with probability
    ``rate`` (Poisson sampling, what the privacy accounting of DP-SGD
    assumes), drawn on the global torch generator. Batch sizes vary (the
    expected size is ``rate * n_rows``); a batch may be empty.

    Parameters
    ----------
    n_rows : int
    rate : float
        Probability that a row is in a batch, in (0, 1].
    steps : int
        Batches per epoch.
    """

    def __init__(self, n_rows, rate, steps):
        self.n_rows = int(n_rows)
        self.rate = float(rate)
        self.steps = int(steps)

    def __len__(self):
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            yield torch.nonzero(torch.rand(self.n_rows) < self.rate).flatten()


def _as_is(batch):
    """The DataLoader's collate function: a fetched batch is already whole."""
    return batch


def batch_loader(
    dataset,
    batch_size,
    shuffle,
    *,
    num_workers=0,
    pin_memory=False,
    poisson=None,
    shard=None,
):
    """A ``DataLoader`` of whole batches over a :class:`BatchDataset` (or a
    ``torch.utils.data.Subset`` of one, as skorch's ``ValidSplit`` makes);
    None for any other dataset.

    With ``num_workers > 0`` the batches are fetched by that many worker
    processes, at most two batches each in flight, except when the dataset
    is already on the GPU (``on_device``): then the main process indexes it.
    The loader gets its own generator, so it draws nothing from the global
    torch generator: results do not depend on the number of workers.
    ``poisson=(rate, steps)`` samples the batches by
    :class:`PoissonBatches` instead (differentially private training; a
    whole dataset only).
    """
    rows = len(dataset)
    if isinstance(dataset, torch.utils.data.Subset):
        rows, dataset = dataset.indices, dataset.dataset
    if not isinstance(dataset, BatchDataset):
        return None
    if dataset.on_device:
        # the rows are already on the GPU: indexing them there is what a
        # worker would do, and a forked worker cannot touch CUDA at all
        num_workers = 0
    sampler = EpochBatches(rows, batch_size, shuffle, shard=shard)
    if poisson is not None:
        sampler = PoissonBatches(len(dataset), *poisson)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=None,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=_as_is,
        pin_memory=pin_memory and not dataset.on_device,
        generator=torch.Generator(),
    )


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


def warn_unreadable(name, rows):
    """One warning for the images of modality ``name`` that could not be
    read, pointing at the caller's line (fit, predict, transform...)."""
    rows = [int(row) for row in rows]
    shown = ", ".join(str(row) for row in rows[:10])
    if len(rows) > 10:
        shown += f" and {len(rows) - 10} more"
    warn(
        f"X[{name!r}]: {len(rows)} image(s) could not be read and are treated "
        f"as absent (on_error='missing'): rows {shown}.",
        SkfusionDataWarning,
    )
