"""Cross-attention fusion: a transformer over every modality's tokens.

Every modality emits tokens in the shared width ``dim``:

- an image (:class:`~skfusion.nn.encoders.CNNEncoder`): one token per
  position of the last stage's feature map (H' x W' patches), projected
  from its channels;
- token ids (:class:`~skfusion.nn.encoders.TokenEncoder`): the hidden
  sequence, one token per position; padding (id 0) is masked;
- any other modality (vector, ...): ``vector_tokens`` (default 4) tokens,
  a learned linear projection of its pooled embedding.

Each token gets a learned position embedding and its modality's type
embedding; a learned summary (CLS) token is prepended, and ``n_layers``
pre-norm transformer blocks attend over them with a key-padding mask that
hides the padding tokens and every token of an absent modality (attention
weight exactly 0). The summary token's output is Z. A row with no modality
present attends to the summary token alone: one learned prediction.

The encoders still return their pooled embeddings (for the alignment
losses and ``modality_embeddings``).
"""

from __future__ import annotations

import torch
from torch import nn

from .encoders import CNNEncoder, TokenEncoder, attention_heads
from .fusion import _Block

__all__ = ["CrossAttentionFusion", "Encoded", "make_cross_attention"]

#: Tokens of a vector (or other pooled) modality.
VECTOR_TOKENS = 4


class Encoded(list):
    """The pooled embeddings (a list, one ``(n, d)`` per modality) with the
    tokens ``(n, T, d)`` and their padding mask ``(n, T)`` attached."""

    tokens = None
    padding = None


def _grid(shape, n_stages):
    """H' x W' of the last feature map of a CNNEncoder for an image ``shape``."""
    height, width = shape[-2:]
    for _ in range(n_stages):
        if min(height, width) >= 2:
            height, width = height // 2, width // 2
    return height * width


class CrossAttentionFusion(nn.Module):
    """A transformer over the tokens of all modalities plus a summary token.

    Parameters
    ----------
    sources : list of (str, int, int)
        Per modality, in the network's order: ``(form, width, n_tokens)``,
        form "map" (CNN feature map of ``width`` channels), "sequence"
        (token encoder, hidden ``width``) or "vector" (pooled embedding).
    dim : int
    n_heads : int
        Attention heads; must divide ``dim``.
    n_layers : int, default=2
    dropout : float, default=0.0
    """

    def __init__(self, sources, dim, n_heads=4, n_layers=2, dropout=0.0):
        super().__init__()
        self.forms = [form for form, _, _ in sources]
        self.counts = [count for _, _, count in sources]
        self.projections = nn.ModuleList(
            nn.Linear(width, dim * (count if form == "vector" else 1))
            for form, width, count in sources
        )
        self.positions = nn.Parameter(0.02 * torch.randn(sum(self.counts), dim))
        self.types = nn.Parameter(0.02 * torch.randn(len(sources), dim))
        self.summary = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.ModuleList(
            _Block(dim, n_heads, dropout) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.dim = dim
        self.output_dim = self.represent_dim = dim

    def encode(self, encoders, xs, present):
        """Pooled embeddings, with the tokens and padding mask attached."""
        embeddings, tokens, padding = Encoded(), [], []
        for i, (encoder, x) in enumerate(zip(encoders, xs, strict=True)):
            form, project = self.forms[i], self.projections[i]
            if form == "map":
                fmap = encoder.feature_map(x)
                pooled = encoder.embed_map(fmap)
                part = project(fmap.flatten(2).transpose(1, 2))
                pad = torch.zeros(part.shape[:2], dtype=torch.bool, device=x.device)
            elif form == "sequence":
                hidden, mask = encoder.hidden(x)
                pooled = encoder.pool(hidden, mask)
                part, pad = project(hidden), ~mask
            else:
                pooled = encoder(x)
                part = project(pooled).reshape(len(pooled), self.counts[i], self.dim)
                pad = torch.zeros(part.shape[:2], dtype=torch.bool, device=x.device)
            embeddings.append(pooled)
            tokens.append(part + self.types[i])
            padding.append(pad)
        embeddings.tokens = torch.cat(tokens, dim=1) + self.positions
        embeddings.padding = torch.cat(padding, dim=1)
        return embeddings

    def _mask(self, embeddings, present):
        """Key-padding mask ``(n, 1 + T)``: padding and absent modalities."""
        padding = embeddings.padding
        if present is not None:
            absent = torch.cat(
                [
                    (present[:, i : i + 1] <= 0).expand(-1, count)
                    for i, count in enumerate(self.counts)
                ],
                dim=1,
            )
            padding = padding | absent
        keep_summary = torch.zeros_like(padding[:, :1])
        return torch.cat([keep_summary, padding], dim=1)

    def attention(self, embeddings, present=None):
        """Z and each block's attention weights ``(n, 1 + T, 1 + T)``
        (averaged over heads; position 0 is the summary token)."""
        tokens = embeddings.tokens
        x = torch.cat([self.summary.expand(len(tokens), -1, -1), tokens], dim=1)
        mask, weights = self._mask(embeddings, present), []
        for block in self.blocks:
            x, w = block(x, mask)
            weights.append(w)
        return self.norm(x[:, 0]), weights

    def represent(self, embeddings, present=None):
        return self.attention(embeddings, present)[0]

    forward = represent

    def weights(self, embeddings, present=None):
        """The summary token's attention mass on each modality's tokens in
        the last block ``(n, M)``, renormalised over the present ones."""
        attention = self.attention(embeddings, present)[1][-1][:, 0, 1:]
        mass = torch.stack(
            [part.sum(dim=1) for part in attention.split(self.counts, dim=1)], 1
        )
        if present is not None:
            mass = mass * (present > 0)
        total = mass.sum(dim=1, keepdim=True)
        return torch.where(total > 0, mass / total.clamp_min(1e-12), 0.0)


def make_cross_attention(encoders, shapes, params, n_layers=2):
    """The cross-attention fusion for ``encoders`` (name -> module, in the
    network's order) of input ``shapes`` (name -> shape), from the
    estimator's ``params`` (``latent_dim``, ``dropout``)."""
    dim = params["latent_dim"]
    sources = []
    for name, encoder in encoders.items():
        if isinstance(encoder, CNNEncoder):
            count = _grid(shapes[name], len(encoder.stages))
            sources.append(("map", encoder.film_channels[-1], count))
        elif isinstance(encoder, TokenEncoder):
            width = encoder.film_channels[0]
            sources.append(("sequence", width, int(shapes[name][0])))
        else:
            sources.append(("vector", encoder.output_dim, VECTOR_TOKENS))
    return CrossAttentionFusion(
        sources, dim, attention_heads(dim), n_layers, params["dropout"]
    )
