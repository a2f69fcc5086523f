"""CrossModalNet: one encoder per modality, a fusion, a prediction head."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PRESENT_KEY", "SAMPLE_WEIGHT_KEY", "CrossModalNet", "drop_modalities"]

#: Input key of the (n, M) presence matrix (1 = modality present in the row).
PRESENT_KEY = "__present__"
#: Input key of per-row loss weights; the network ignores it, the loss uses it.
SAMPLE_WEIGHT_KEY = "__sample_weight__"


def drop_modalities(present, p):
    """Mark each present modality absent with probability ``p``, per row.

    A row never loses all of its present modalities: if every one was
    dropped, one of them (chosen at random) is kept. Rows with no present
    modality stay as they are.
    """
    keep = (torch.rand_like(present) >= p) & (present > 0)
    emptied = (keep.sum(dim=1) == 0) & (present.sum(dim=1) > 0)
    if emptied.any():
        scores = torch.rand_like(present).masked_fill(present <= 0, -1.0)
        pick = nn.functional.one_hot(scores.argmax(dim=1), present.shape[1]).bool()
        keep |= pick & emptied[:, None]
    return keep.to(present.dtype)


class CrossModalNet(nn.Module):
    """``g(fuse(f_1(x_1), ..., f_M(x_M)))``.

    Parameters
    ----------
    encoders : dict of str to nn.Module
        One encoder per modality, in a fixed order; each has ``output_dim``.
    fusion : nn.Module
        A fusion from :mod:`skfusion.nn.fusion`.
    head : nn.Module
        Maps the fused representation to the outputs (logits or values).
    modality_dropout : float, default=0.0
        In training mode, the probability of marking a present modality
        absent in a row (see :func:`drop_modalities`).
    return_embeddings : bool, default=False
        In training mode, return ``(output, embeddings, present)`` so that a
        loss can align the modality embeddings (``embeddings`` is
        ``(n, M, d)``; ``present`` the presence before modality dropout).

    Notes
    -----
    ``forward`` takes the modalities as keyword arguments, as skorch passes a
    dict input: ``net(tab=..., xray=..., __present__=...)``. Modality names
    may be any strings; the encoders are stored under positional keys.
    """

    def __init__(
        self, encoders, fusion, head, modality_dropout=0.0, return_embeddings=False
    ):
        super().__init__()
        self.modality_names = list(encoders)
        self.encoders = nn.ModuleList(encoders.values())
        self.fusion = fusion
        self.head = head
        self.modality_dropout = modality_dropout
        self.return_embeddings = return_embeddings

    def encode(self, **inputs):
        """Per-modality embeddings (list of ``(n, d)``) and the presence matrix."""
        embeddings = [
            encoder(inputs[name])
            for name, encoder in zip(self.modality_names, self.encoders, strict=True)
        ]
        return embeddings, inputs.get(PRESENT_KEY)

    def modality_embeddings(self, **inputs):
        """The list of per-modality embeddings ``(n, d)``."""
        return self.encode(**inputs)[0]

    def embed(self, **inputs):
        """The fused representation Z, shape ``(n, fusion.output_dim)``."""
        return self.fusion.represent(*self.encode(**inputs))

    def modality_weights(self, **inputs):
        """Per-row modality weights ``(n, M)`` of a fusion that has them."""
        return self.fusion.weights(*self.encode(**inputs))

    def forward(self, **inputs):
        embeddings, present = self.encode(**inputs)
        fused_present = present
        if self.training and self.modality_dropout > 0:
            if present is None:
                present = embeddings[0].new_ones(len(embeddings[0]), len(embeddings))
            fused_present = drop_modalities(present, self.modality_dropout)
        out = self.head(self.fusion(embeddings, fused_present))
        if self.training and self.return_embeddings:
            return out, torch.stack(embeddings, dim=1), present
        return out
