"""CrossModalNet: one encoder per modality, a fusion, a prediction head."""

from __future__ import annotations

from torch import nn

__all__ = ["PRESENT_KEY", "SAMPLE_WEIGHT_KEY", "CrossModalNet"]

#: Input key of the (n, M) presence matrix (1 = modality present in the row).
PRESENT_KEY = "__present__"
#: Input key of per-row loss weights; the network ignores it, the loss uses it.
SAMPLE_WEIGHT_KEY = "__sample_weight__"


class CrossModalNet(nn.Module):
    """``g(fuse(f_1(x_1), ..., f_M(x_M)))``.

    Parameters
    ----------
    encoders : dict of str to nn.Module
        One encoder per modality, in a fixed order; each has ``output_dim``.
    fusion : nn.Module
        Called as ``fusion(list_of_embeddings, present)``.
    head : nn.Module
        Maps the fused representation to the outputs (logits or values).

    Notes
    -----
    ``forward`` takes the modalities as keyword arguments, as skorch passes a
    dict input: ``net(tab=..., xray=..., __present__=...)``. Modality names
    may be any strings; the encoders are stored under positional keys.
    """

    def __init__(self, encoders, fusion, head):
        super().__init__()
        self.modality_names = list(encoders)
        self.encoders = nn.ModuleList(encoders.values())
        self.fusion = fusion
        self.head = head

    def embed(self, **inputs):
        """The fused representation Z, shape ``(n, fusion.output_dim)``."""
        embeddings = [
            encoder(inputs[name])
            for name, encoder in zip(self.modality_names, self.encoders, strict=True)
        ]
        return self.fusion(embeddings, inputs.get(PRESENT_KEY))

    def forward(self, **inputs):
        return self.head(self.embed(**inputs))
