"""Self-supervised pretraining of the encoders (``pretrain_epochs > 0``).

Before the supervised fit, the encoders learn the shared space Z from the
rows alone: on every row of X with at least two (deep) modalities present,
labeled or not, the contrastive alignment loss
(:func:`skfusion.nn.losses.alignment_loss`, symmetric InfoNCE) pulls a
row's modality embeddings together and pushes the other rows' apart. It
never reads y: the pretraining net is fitted with ``y=None``.

It is a skorch net like the supervised one (:func:`make_net` with
``net_class=PretrainNet``), so it has the same batches, optimizer, learning
rate schedule (over ``pretrain_epochs``), device, mixed precision, threads
and progress bar. Its module, :class:`EmbeddingModule`, wraps the
estimator's :class:`~skfusion.nn.CrossModalNet` and returns its modality
embeddings; the weights it trains are the network's own, which the
supervised net then starts from. The head gets no gradient here, so the
optimizer leaves it as initialised (AdamW skips parameters without one,
weight decay included).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._discovery import is_lazy
from ._names import PRESENT_KEY
from ._training import WeightedNet, make_net
from .nn.losses import alignment_loss

__all__ = ["EmbeddingModule", "PretrainNet", "pretrain", "take_rows"]

PRETRAINING = ("contrastive",)


class EmbeddingModule(nn.Module):
    """``forward`` gives a :class:`~skfusion.nn.CrossModalNet`'s modality
    embeddings ``(n, M, d)`` and their presence ``(n, M)`` (or None).

    A module of its own, not a method call on the network, so that whatever
    wraps the module (skorch, a data-parallel wrapper) sees the forward.
    """

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, **inputs):
        embeddings, present = self.network.encode(**inputs)
        return torch.stack(list(embeddings), dim=1), present


class PretrainNet(WeightedNet):
    """The skorch net of pretraining: its loss is the contrastive alignment
    of the embeddings of :class:`EmbeddingModule`; there is no target."""

    def get_loss(self, y_pred, y_true, X=None, training=False):
        embeddings, present = y_pred
        return alignment_loss(embeddings, present, kind="contrastive")


def take_rows(inputs, rows):
    """The network's input dict restricted to ``rows`` (positions), a lazy
    image modality included (``LazyImages.take``, nothing decoded)."""
    return {
        key: value.take(rows) if is_lazy(value) else np.asarray(value)[rows]
        for key, value in inputs.items()
    }


def pretraining_rows(specs, inputs):
    """Positions of the rows with at least two deep modalities present (all
    rows when X has no presence matrix); raises when X has fewer than two
    deep modalities, or no such row."""
    deep = [j for j, spec in enumerate(specs) if spec.kind != "wide"]
    if len(deep) < 2:
        names = [spec.name for spec in specs if spec.kind != "wide"]
        raise ValueError(
            f"pretrain_epochs > 0 aligns the modalities with each other, but X "
            f"has {len(deep)} encoded modality ({names}). Pretraining needs "
            "at least two; set pretrain_epochs=0."
        )
    present = inputs.get(PRESENT_KEY)
    n = len(next(iter(inputs.values())))
    if present is None:
        return np.arange(n)
    rows = np.flatnonzero((np.asarray(present)[:, deep] > 0).sum(axis=1) >= 2)
    if len(rows) < 2:
        raise ValueError(
            f"pretrain_epochs > 0 needs rows with at least two modalities "
            f"present; X has {len(rows)} of {n}. Set pretrain_epochs=0."
        )
    return rows


def pretrain(network, specs, inputs, params, seed):
    """Train ``network``'s encoders in place on the contrastive alignment of
    the rows of ``inputs`` with two or more modalities; return the loss of
    each epoch. ``params`` are the estimator's training parameters."""
    rows = pretraining_rows(specs, inputs)
    if len(rows) < len(next(iter(inputs.values()))):
        inputs = take_rows(inputs, rows)
    settings = {
        **params,
        "max_epochs": params["pretrain_epochs"],
        "early_stopping": False,
        "alignment": None,
        "estimator_name": f"{params.get('estimator_name')} pretraining",
    }
    net = make_net(
        EmbeddingModule(network),
        nn.MSELoss,  # unused: PretrainNet's loss has no target
        settings,
        seed=seed,
        stratify=False,
        net_class=PretrainNet,
    )
    net.fit(inputs, None)
    network.train(False)
    return [float(v) for v in net.history[:, "train_loss"]]
