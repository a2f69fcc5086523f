"""Data-parallel training across processes (torch DistributedDataParallel).

An estimator's fit trains data-parallel, unchanged, when it runs in every
process of a job started by ``torchrun`` (or ``accelerate launch``, or any
launcher that sets the same environment): ``WORLD_SIZE`` > 1, ``RANK``,
``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE``. Every process loads the same data
and calls the same ``fit``; nothing else changes:

- :func:`distributed_context` detects the job (None outside one, and then
  nothing below is used).
- :class:`DistributedTraining`, the first of the net's callbacks: joins
  the process group when the script has not (``init_method="env://"``;
  backend "nccl" on CUDA, "gloo" on the CPU), checks that every process
  has the same number of rows, gives every process rank 0's seed for
  skorch's ``ValidSplit`` (the same validation rows everywhere, even with
  ``random_state=None``) and, at each epoch's end, replaces the process's
  own train loss in the history by the loss of the whole batches
  (:func:`global_epoch_loss`), so the history and ``loss_curve_`` are the
  same on every process.
- :class:`DistributedModule`, the last callback: wraps the net's module
  (whatever it is: the network, or the pretraining wrapper) in
  ``DistributedDataParallel`` when training begins, and unwraps it when
  training ends (after ``EarlyStopping`` has restored the best weights),
  so ``net.module_`` is the plain module again: every process predicts,
  transforms and pickles it, and all hold the same weights.
- :class:`skfusion._batching.EpochBatches` shards each batch: the global
  batch is ``batch_size`` rows, cut from one permutation that rank 0
  draws (:func:`broadcast_from_rank0`), and rank ``r`` takes the ``r``-th
  contiguous part (``torch.tensor_split``). Validation batches are not
  sharded: every process scores the whole validation split, so the
  validation loss, and early stopping, are the same everywhere.
- :meth:`skfusion._training.WeightedNet.get_loss` scales each process's
  row-summed loss by ``world / rows of the global batch``
  (:func:`global_count`): DDP's gradient average is then the gradient of
  the mean over the global batch, as in one process.
"""

from __future__ import annotations

import dataclasses
import inspect
import os

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.dataset import get_len
from torch import distributed as dist

#: Why a differentially private fit is refused in a job.
NO_PRIVACY = (
    "dp_epsilon is not supported in a distributed fit yet: Poisson sampling "
    "of the rows across processes is not implemented. Fit a differentially "
    "private model in one process (without torchrun)."
)

__all__ = [
    "NO_PRIVACY",
    "DistributedContext",
    "DistributedModule",
    "DistributedTraining",
    "all_reduce",
    "batch_mean",
    "broadcast_from_rank0",
    "distributed_context",
    "global_count",
    "global_epoch_loss",
    "in_job",
    "init_process_group",
    "local_device",
    "local_world_size",
    "plain_module",
]


@dataclasses.dataclass(frozen=True)
class DistributedContext:
    """This process's place in the job."""

    world: int
    rank: int
    local_rank: int
    local_world: int


def _env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return int(default)


def distributed_context():
    """The :class:`DistributedContext` of a job of several processes, from
    an initialised process group or from the launcher's environment
    (``WORLD_SIZE`` > 1); None otherwise (a plain fit)."""
    if not dist.is_available():
        return None
    if dist.is_initialized():
        world, rank = dist.get_world_size(), dist.get_rank()
    else:
        world, rank = _env_int("WORLD_SIZE", 1), _env_int("RANK", 0)
    if world <= 1:
        return None
    return DistributedContext(
        world=world,
        rank=rank,
        local_rank=_env_int("LOCAL_RANK", 0),
        local_world=max(1, _env_int("LOCAL_WORLD_SIZE", world)),
    )


def in_job(refuse_privacy=False):
    """Whether this fit runs in a data-parallel job; raises when it does
    and ``refuse_privacy`` (a differentially private fit)."""
    job = distributed_context() is not None
    if job and refuse_privacy:
        raise ValueError(NO_PRIVACY)
    return job


def local_world_size():
    """Processes of the job on this machine (1 outside a job)."""
    context = distributed_context()
    return 1 if context is None else context.local_world


def init_process_group(device):
    """Join the launcher's process group unless the script already has:
    "nccl" for a CUDA device (made the process's current device), "gloo"
    on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, init_method="env://")


def _collective(tensor):
    """``tensor`` on the device the process group communicates on (the
    current GPU for "nccl", else where it is)."""
    if dist.get_backend() == "nccl":
        return tensor.to(torch.device("cuda", torch.cuda.current_device()))
    return tensor


def broadcast_from_rank0(tensor):
    """Rank 0's ``tensor`` on every process (same shape and dtype on all)."""
    shared = _collective(tensor)
    dist.broadcast(shared, src=0)
    return shared.to(tensor.device)


def all_reduce(tensor, op=None):
    """``tensor`` reduced over the processes (a sum, or the
    ``dist.ReduceOp`` ``op``), on ``tensor``'s device."""
    shared = _collective(tensor)
    dist.all_reduce(shared, op=dist.ReduceOp.SUM if op is None else op)
    return shared.to(tensor.device)


def global_count(n, device):
    """The sum over the processes of the local count ``n`` (an int)."""
    return int(all_reduce(torch.tensor([n], dtype=torch.int64, device=device)))


def batch_mean(loss, training=True):
    """The mean of the per-row (or per-row and output) losses ``loss``.

    In a data-parallel fit (training batches only), this process's sum
    times ``world / entries of the global batch`` (counted by one
    all-reduce): DDP's average of the processes' gradients is then the
    gradient of the mean over the global batch, as in one process, also
    when the processes' parts differ in size; an empty part adds 0, never
    NaN.
    """
    context = distributed_context() if training else None
    if context is None:
        return loss.mean()
    return loss.sum() * (context.world / global_count(loss.numel(), loss.device))


def local_device(device):
    """This process's GPU, ``cuda:<LOCAL_RANK>``, for ``device="cuda"`` in
    a job (modulo the GPUs it sees, for launchers that give each process
    one GPU); ``device`` otherwise."""
    context = distributed_context()
    if device != "cuda" or context is None:
        return device
    return f"cuda:{context.local_rank % torch.cuda.device_count()}"


def plain_module(module):
    """The module that a ``DistributedDataParallel`` wraps; ``module``
    itself otherwise."""
    if isinstance(module, torch.nn.parallel.DistributedDataParallel):
        return module.module
    return module


def global_epoch_loss(losses, sizes, world):
    """The epoch's train loss over the whole batches, from this process's
    batch losses and row counts (one per global batch, in order).

    A process's batch loss is its part of the global batch's loss times
    ``world``, so the global batch's loss (the one whose gradient DDP
    averages) is the mean of the processes' losses; the epoch's loss is
    the rows-weighted mean of the global batches' losses, as skorch
    computes it in one process. Returns the global batch losses, their
    rows and the epoch's loss.
    """
    local = torch.tensor(np.stack([sizes, losses], axis=1), dtype=torch.float64)
    total = all_reduce(local)
    rows, batch_loss = total[:, 0], total[:, 1] / world
    epoch = float((rows * batch_loss).sum() / rows.sum()) if rows.sum() > 0 else 0.0
    return batch_loss.tolist(), rows.to(torch.int64).tolist(), epoch


class DistributedTraining(Callback):
    """Joins the process group, shares rank 0's seed with skorch's
    ``ValidSplit`` and makes each epoch's train loss global.

    It is the net's first callback, so the progress bar and the printed
    log show the global loss.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        init_process_group(net.device)
        context = distributed_context()
        self.world_ = context.world
        n = get_len(X)
        rows = torch.tensor([n, -n], dtype=torch.int64)
        most, fewest = all_reduce(rows, dist.ReduceOp.MAX).tolist()
        if most != -fewest:
            raise ValueError(
                f"A distributed fit needs the same rows on every process: "
                f"process {context.rank} has {n} rows, another has "
                f"{most if most != n else -fewest}. Load the whole data set "
                "in every process; each trains on its own part of every "
                "batch."
            )
        split = net.train_split
        if getattr(split, "random_state", None) is not None:
            # the same validation rows on every process, even when each
            # drew its own seed (random_state=None)
            seed = torch.tensor([int(split.random_state)], dtype=torch.int64)
            split.random_state = int(broadcast_from_rank0(seed))

    def on_epoch_end(self, net, **kwargs):
        batches = [b for b in net.history[-1, "batches"] if "train_loss" in b]
        if not batches:
            return
        losses, rows, epoch = global_epoch_loss(
            [b["train_loss"] for b in batches],
            [b["train_batch_size"] for b in batches],
            self.world_,
        )
        for batch, loss, n in zip(batches, losses, rows, strict=True):
            batch["train_loss"], batch["train_batch_size"] = loss, n
        net.history.record("train_loss", epoch)


def _buffer_sync(module):
    """DDP's keyword for syncing the buffers at every forward: only for a
    module with running statistics (batch norm). skfusion's buffers are
    the standardisation statistics, computed from the same rows on every
    process and fixed in training: a broadcast per step would only cost
    time. torch 2.13 renamed ``broadcast_buffers`` to
    ``forward_sync_buffers``."""
    sync = any(getattr(m, "track_running_stats", False) for m in module.modules())
    accepted = inspect.signature(torch.nn.parallel.DistributedDataParallel).parameters
    if "forward_sync_buffers" in accepted:
        return {"forward_sync_buffers": sync}
    return {"broadcast_buffers": sync}


class DistributedModule(Callback):
    """Wraps the net's module in ``DistributedDataParallel`` for training
    and unwraps it afterwards.

    skorch has built the module and the optimizer when training begins;
    the wrapper trains the same parameters, first set to rank 0's values.
    ``find_unused_parameters=True``: a parameter may get no gradient in a
    step (the learnt embedding of an absent modality when every row of a
    batch has it; the head during pretraining); DDP's reducer then warns
    once, harmlessly, about a model where every parameter was used. It is
    the net's last callback, so ``EarlyStopping`` restores its best
    weights (saved from the wrapper) before the module is unwrapped.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        module = plain_module(net.module_)
        device = torch.device(net.device)
        net.module_ = torch.nn.parallel.DistributedDataParallel(
            module,
            device_ids=[device] if device.type == "cuda" else None,
            find_unused_parameters=True,
            **_buffer_sync(module),
        )

    def on_train_end(self, net, X=None, y=None, **kwargs):
        net.module_ = plain_module(net.module_)
