"""Alignment losses that pull a patient's modality embeddings together in Z."""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["ALIGNMENTS", "alignment_loss"]

ALIGNMENTS = ("contrastive", "mse")


def alignment_loss(embeddings, present=None, kind="contrastive", temperature=0.1):
    """Mean alignment loss over every pair of modalities.

    Parameters
    ----------
    embeddings : tensor of shape (n, M, d)
        The encoders' outputs for a batch.
    present : tensor of shape (n, M) or None
        1 where the modality is present; a pair is scored on the rows where
        both modalities are present (at least 2 rows), others are ignored.
    kind : {"contrastive", "mse"}
        "contrastive": symmetric InfoNCE across the batch (a row's embedding
        of modality i must pick the same row's embedding of modality j among
        the batch), on L2-normalised embeddings with ``temperature``.
        "mse": mean squared distance between the L2-normalised embeddings of
        the same row (normalised so the loss cannot shrink the embeddings to
        zero).
    temperature : float
        InfoNCE temperature.

    Returns
    -------
    loss : scalar tensor (0 when no pair has two rows with both present)
    """
    m = embeddings.shape[1]
    unit = F.normalize(embeddings, dim=-1)
    losses = []
    for i in range(m):
        for j in range(i + 1, m):
            a, b = unit[:, i], unit[:, j]
            if present is not None:
                both = (present[:, i] > 0) & (present[:, j] > 0)
                a, b = a[both], b[both]
            if len(a) < 2:
                continue
            if kind == "mse":
                losses.append(((a - b) ** 2).sum(dim=1).mean())
            else:
                logits = a @ b.T / temperature
                target = torch.arange(len(a), device=a.device)
                losses.append(
                    (
                        F.cross_entropy(logits, target)
                        + F.cross_entropy(logits.T, target)
                    )
                    / 2
                )
    if not losses:
        return embeddings.sum() * 0.0
    return torch.stack(losses).mean()
