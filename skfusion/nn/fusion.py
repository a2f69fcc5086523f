"""Fusion of modality embeddings ``{Z_i} -> Z``.

A fusion takes the list of per-modality embeddings ``(n, d)`` (in the
network's modality order) and an optional presence matrix ``(n, M)`` with 1
where the modality is present in that row, and exposes ``output_dim``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConcatFusion"]


class ConcatFusion(nn.Module):
    """Concatenate the modality embeddings.

    Where a modality is absent in a row, its embedding is replaced by a
    learned "absent" vector for that modality, so no zeros pretend to be
    data and the head can learn what absence means.

    Parameters
    ----------
    n_modalities : int
    dim : int
        Size of each embedding.
    """

    def __init__(self, n_modalities, dim):
        super().__init__()
        self.absent = nn.Parameter(torch.zeros(n_modalities, dim))
        self.output_dim = n_modalities * dim

    def forward(self, embeddings, present=None):
        if present is not None:
            embeddings = [
                torch.where(present[:, i : i + 1] > 0, z, self.absent[i])
                for i, z in enumerate(embeddings)
            ]
        return torch.cat(embeddings, dim=1)
