"""How many torch intra-op threads a fit or a prediction uses.

Tiny networks lose to torch's intra-op threading: each layer is a few
microseconds of work, and waking a second thread costs more than it saves.
On a loaded machine the loss is large (a 1,000-row fit measured 8x slower
with 2 threads than with 1 on a busy 2-core machine). So the estimators
choose the thread count for their own fit and predict, and restore the
caller's setting afterwards (:func:`torch_threads`).

The caller's CPU budget is ``torch.get_num_threads()`` at the time of the
call. That already follows the budget that scikit-learn and joblib give a
worker: joblib's process workers start with ``OMP_NUM_THREADS`` set to
their share of the CPUs, and ``threadpoolctl.threadpool_limits`` lowers
torch's OpenMP pool, which ``torch.get_num_threads`` reports. ``"auto"``
never goes above that budget.

In a data-parallel job (``torchrun``, :mod:`skfusion._distributed`), the
budget of each process is its share of the machine's CPUs instead:
``cpus // LOCAL_WORLD_SIZE``, at least 1, so the processes of one machine
never oversubscribe it (torchrun sets ``OMP_NUM_THREADS=1`` for every
process when the caller has not set it, which says nothing about the
CPUs there are).
"""

from __future__ import annotations

import contextlib
import itertools

import joblib
import torch

from ._distributed import local_world_size

__all__ = ["estimated_macs", "resolve_threads", "thread_budget", "torch_threads"]

#: Multiply-adds per row above which "auto" uses the caller's whole budget.
#: Vector (MLP) encoders over a few hundred features, token bags and the
#: wide path stay far below (about 1e4); a 32x32 one-channel image through
#: the default CNN is about 1.3e6 and a convolution over 128 tokens about
#: 1.5e6; a 32-step series through the GRU or transformer of width 32
#: about 2e5 to 3e5, so it counts as heavy as the token convolutions.
#: Measured on 2 idle cores: a 1,000-row text + tabular fit runs as
#: fast on 1 thread as on 2, a 32x32-image fit 1.7x faster on 2; on a busy
#: machine 1 thread was 2.5x to 6x faster for the small one
#: (benchmarks/threads.py).
MULTI_THREAD_MACS = 1e5


def estimated_macs(specs, params):
    """Rough multiply-adds of one row through the network's encoders.

    Enough to tell a tiny network (tabular, text vectors, token bags, small
    images) from one that keeps several cores busy (large images).
    """
    latent = int(params["latent_dim"])
    total = 0.0
    for spec in specs:
        if spec.kind == "image":
            c, h, w = spec.shape
            for out in params["cnn_channels"]:
                total += h * w * c * out * 9
                c = out
                if min(h, w) >= 2:
                    h, w = h // 2, w // 2
        elif spec.kind == "tokens":
            length, dim = spec.shape[0], int(params["token_embedding_dim"])
            per_token = {"conv": 3 * dim * dim, "transformer": 8 * dim * dim}
            total += length * per_token.get(params["token_encoder"], dim)
        elif spec.kind == "sequence":
            # a GRU: 3 gates of (input + hidden) x hidden per step; a
            # transformer layer about 8 x hidden^2 per step (attention, FFN)
            _, steps, channels = spec.shape
            per_step = {"gru": 3 * (latent + latent) * latent}
            embed = 2 * channels * latent
            kind = params.get("sequence_encoder", "gru")
            total += steps * (embed + per_step.get(kind, 8 * latent * latent))
        elif spec.kind == "wide":
            total += spec.shape[-1]
        else:
            widths = [spec.shape[0], *params["hidden_dims"], latent]
            total += sum(a * b for a, b in itertools.pairwise(widths))
    return total


def resolve_threads(n_threads, specs, params):
    """The intra-op thread count for ``n_threads`` ("auto", None or an int).

    None keeps the caller's setting; an int is used as given; "auto" gives
    1 thread to a network whose rows cost less than
    :data:`MULTI_THREAD_MACS` multiply-adds (no image or convolution), and
    the caller's budget (:func:`thread_budget`) otherwise.
    """
    if n_threads is None:
        return torch.get_num_threads()
    if n_threads == "auto":
        if estimated_macs(specs, params) < MULTI_THREAD_MACS:
            return 1
        return thread_budget()
    return int(n_threads)


def thread_budget():
    """The threads "auto" may use: ``torch.get_num_threads()``, or in a
    data-parallel job, this process's share of the CPUs it may use
    (``cpus // LOCAL_WORLD_SIZE``, at least 1)."""
    local = local_world_size()
    if local > 1:
        return max(1, joblib.cpu_count() // local)
    return torch.get_num_threads()


@contextlib.contextmanager
def torch_threads(n):
    """Run the block with ``n`` torch intra-op threads, then restore the
    caller's count (also when the block raises)."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
