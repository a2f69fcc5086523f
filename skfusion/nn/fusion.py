"""Fusion of modality embeddings ``{Z_i} -> Z``.

Every fusion is called as ``fusion(embeddings, present)`` where
``embeddings`` is the list of per-modality embeddings ``(n, d)`` in the
network's modality order and ``present`` an ``(n, M)`` float matrix, 1 where
the modality is present in that row (``None``: all present). It exposes
``output_dim`` (width of ``forward``'s output), ``represent(embeddings,
present)``, the fused representation Z that ``CrossModalClassifier.transform``
returns, and its width ``represent_dim``; for all but late fusion,
``forward`` is ``represent``. Gated and attention fusion
also expose ``weights(embeddings, present)``: per-row modality weights
``(n, M)`` that sum to 1 over the present modalities.

What each fusion does with an absent modality (no zeros pretend to be data):

- concat: a learned "absent" embedding takes the modality's place;
- late: the absent modality's head is dropped and the learned combination
  weights are renormalised over the present heads;
- gated: the gates are a softmax over the present modalities only;
- attention: the modality's token is masked out of the attention (key
  padding mask); the learned summary token is always there;
- low_rank: the modality's factor reduces to its constant term (the
  appended 1 of Liu et al.), i.e. it leaves the multiplicative interaction.

A row in which every modality is absent gets a defined prediction: the
network's output for "nothing observed", one learned value shared by all
such rows (concat: all absent embeddings; late: a learned output; gated: a
learned empty representation; attention: the summary token alone;
low_rank: the constant terms of every factor).
"""

from __future__ import annotations

import torch
from torch import nn

from .encoders import mlp

__all__ = [
    "FUSIONS",
    "AttentionFusion",
    "ConcatFusion",
    "GatedFusion",
    "LateFusion",
    "LowRankFusion",
]


def _fill_absent(embeddings, present, absent):
    """Replace each absent row of modality i by the learned vector absent[i]."""
    if present is None:
        return embeddings
    return [
        torch.where(present[:, i : i + 1] > 0, z, absent[i])
        for i, z in enumerate(embeddings)
    ]


def _masked_softmax(logits, present):
    """Softmax over the present entries of each row; all-absent rows get 0."""
    if present is None:
        return torch.softmax(logits, dim=1)
    logits = logits.masked_fill(present <= 0, float("-inf"))
    weights = torch.softmax(logits, dim=1)
    return torch.nan_to_num(weights, nan=0.0)


class ConcatFusion(nn.Module):
    """Concatenate the modality embeddings.

    Parameters
    ----------
    n_modalities : int
    dim : int
        Size of each embedding.
    """

    def __init__(self, n_modalities, dim):
        super().__init__()
        self.absent = nn.Parameter(torch.zeros(n_modalities, dim))
        self.output_dim = self.represent_dim = n_modalities * dim

    def represent(self, embeddings, present=None):
        return torch.cat(_fill_absent(embeddings, present, self.absent), dim=1)

    forward = represent


class LateFusion(nn.Module):
    """A prediction head per modality; predictions combined with learned weights.

    ``output = sum_i w_i head_i(z_i)`` over the present modalities, with
    ``w = softmax(learned logits)`` renormalised over them; trained jointly.
    ``represent`` returns the concatenated embeddings (absent ones replaced
    by learned vectors), which is what the heads see.

    Parameters
    ----------
    n_modalities, dim : int
    n_outputs : int
        Outputs of each head (classes or targets).
    head_dims : sequence of int
        Hidden sizes of each head.
    dropout : float
    """

    def __init__(self, n_modalities, dim, n_outputs, head_dims=(), dropout=0.0):
        super().__init__()
        self.heads = nn.ModuleList(
            mlp(dim, head_dims, n_outputs, dropout) for _ in range(n_modalities)
        )
        self.logits = nn.Parameter(torch.zeros(n_modalities))
        self.nothing = nn.Parameter(torch.zeros(n_outputs))
        self.absent = nn.Parameter(torch.zeros(n_modalities, dim))
        self.output_dim = n_outputs
        self.represent_dim = n_modalities * dim

    def represent(self, embeddings, present=None):
        return torch.cat(_fill_absent(embeddings, present, self.absent), dim=1)

    def weights(self, embeddings, present=None):
        logits = self.logits.expand(len(embeddings[0]), -1)
        return _masked_softmax(logits, present)

    def forward(self, embeddings, present=None):
        outputs = torch.stack(
            [h(z) for h, z in zip(self.heads, embeddings, strict=True)], 1
        )
        weights = self.weights(embeddings, present)
        combined = (weights.unsqueeze(-1) * outputs).sum(dim=1)
        if present is None:
            return combined
        none = present.sum(dim=1, keepdim=True) <= 0
        return torch.where(none, self.nothing, combined)


class GatedFusion(nn.Module):
    """Gated multimodal unit (Arevalo et al., 2017), for any number of modalities.

    Each modality is transformed, ``h_i = tanh(W_i z_i)``, and a gate network
    reads all embeddings to give per-row weights ``g = softmax(W_g [z_1..z_M])``
    over the present modalities; ``Z = sum_i g_i h_i``. With two modalities
    this is the GMU's ``g h_1 + (1 - g) h_2``.

    Parameters
    ----------
    n_modalities, dim : int
    """

    def __init__(self, n_modalities, dim):
        super().__init__()
        self.transforms = nn.ModuleList(
            nn.Linear(dim, dim) for _ in range(n_modalities)
        )
        self.gate = nn.Linear(n_modalities * dim, n_modalities)
        self.absent = nn.Parameter(torch.zeros(n_modalities, dim))
        self.nothing = nn.Parameter(torch.zeros(dim))
        self.output_dim = self.represent_dim = dim

    def weights(self, embeddings, present=None):
        filled = _fill_absent(embeddings, present, self.absent)
        return _masked_softmax(self.gate(torch.cat(filled, dim=1)), present)

    def represent(self, embeddings, present=None):
        gates = self.weights(embeddings, present)
        hidden = torch.stack(
            [
                torch.tanh(t(z))
                for t, z in zip(self.transforms, embeddings, strict=True)
            ],
            1,
        )
        fused = (gates.unsqueeze(-1) * hidden).sum(dim=1)
        if present is None:
            return fused
        return torch.where(present.sum(dim=1, keepdim=True) > 0, fused, self.nothing)

    forward = represent


class _Block(nn.Module):
    """Pre-norm transformer encoder block that also returns attention weights."""

    def __init__(self, dim, n_heads, dropout):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(
            dim, n_heads, dropout=dropout, batch_first=True
        )
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, 2 * dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(2 * dim, dim),
        )

    def forward(self, x, padding):
        h = self.norm1(x)
        out, weights = self.attn(h, h, h, key_padding_mask=padding, need_weights=True)
        x = x + out
        return x + self.ff(self.norm2(x)), weights


class AttentionFusion(nn.Module):
    """A small transformer over one token per modality plus a summary token.

    Tokens are the modality embeddings plus a learned modality-type embedding;
    a learned summary token is prepended, absent modalities are excluded by a
    key-padding mask, and the summary token's output is Z. ``weights`` are
    the summary token's attention over the modality tokens in the last block
    (averaged over heads), renormalised over the present modalities.

    Parameters
    ----------
    n_modalities, dim : int
    n_heads : int
        Attention heads; must divide ``dim``.
    n_layers : int
    dropout : float
    """

    def __init__(self, n_modalities, dim, n_heads=4, n_layers=1, dropout=0.0):
        super().__init__()
        self.summary = nn.Parameter(torch.zeros(1, 1, dim))
        self.types = nn.Parameter(0.02 * torch.randn(n_modalities, dim))
        self.blocks = nn.ModuleList(
            _Block(dim, n_heads, dropout) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.output_dim = self.represent_dim = dim

    def _run(self, embeddings, present):
        tokens = torch.stack(embeddings, dim=1) + self.types
        n = tokens.shape[0]
        x = torch.cat([self.summary.expand(n, -1, -1), tokens], dim=1)
        padding = None
        if present is not None:
            keep_summary = torch.zeros(n, 1, dtype=torch.bool, device=x.device)
            padding = torch.cat([keep_summary, present <= 0], dim=1)
        weights = None
        for block in self.blocks:
            x, weights = block(x, padding)
        return self.norm(x[:, 0]), weights

    def represent(self, embeddings, present=None):
        return self._run(embeddings, present)[0]

    forward = represent

    def weights(self, embeddings, present=None):
        attention = self._run(embeddings, present)[1][:, 0, 1:]
        if present is not None:
            attention = attention * (present > 0)
        total = attention.sum(dim=1, keepdim=True)
        return torch.where(total > 0, attention / total.clamp_min(1e-12), 0.0)


class LowRankFusion(nn.Module):
    """Low-rank multimodal tensor fusion (Liu et al., 2018).

    Each embedding gets a constant 1 appended, ``zh_i = [z_i, 1]``, and a
    modality-specific factor ``W_i`` of shape ``(rank, d + 1, d_out)``;
    ``Z = sum_r w_r prod_i (zh_i W_i[r]) + b``. This equals a full tensor
    fusion of the ``zh_i`` whose weight tensor has rank ``rank``, so all
    unimodal, bimodal ... M-modal interactions are modelled. An absent
    modality uses ``[0, ..., 0, 1]``: only its constant term remains.

    The constant rows of the factors start at 1, so at initialisation the
    fusion is close to additive (``prod_i (1 + z_i W_i) ~ 1 + sum_i z_i W_i``
    for small embeddings) and learns interactions from there; with random
    constant rows it starts as a pure product and learns additive signal
    poorly (ROC AUC 0.663 vs 0.774 on the quickstart data, 3-fold).

    Parameters
    ----------
    n_modalities, dim : int
    rank : int
    output_dim : int
    """

    def __init__(self, n_modalities, dim, rank=4, output_dim=None):
        super().__init__()
        output_dim = output_dim or dim
        scale = (dim + 1) ** -0.5
        self.factors = nn.Parameter(
            scale * torch.randn(n_modalities, rank, dim + 1, output_dim)
        )
        with torch.no_grad():  # constant terms 1: starts as 1 + sum_i z_i W_i
            self.factors[:, :, -1, :] = 1.0
        self.rank_weights = nn.Parameter(torch.full((rank,), 1.0 / rank))
        self.bias = nn.Parameter(torch.zeros(output_dim))
        self.output_dim = self.represent_dim = output_dim

    def represent(self, embeddings, present=None):
        product = None
        for i, z in enumerate(embeddings):
            if present is not None:
                z = z * present[:, i : i + 1]
            ones = torch.ones(len(z), 1, dtype=z.dtype, device=z.device)
            term = torch.einsum(
                "nd,rdo->nro", torch.cat([z, ones], dim=1), self.factors[i]
            )
            product = term if product is None else product * term
        return torch.einsum("nro,r->no", product, self.rank_weights) + self.bias

    forward = represent


#: Fusion name -> class (the estimator's ``fusion=`` parameter).
FUSIONS = {
    "concat": ConcatFusion,
    "late": LateFusion,
    "gated": GatedFusion,
    "attention": AttentionFusion,
    "low_rank": LowRankFusion,
}

# The fusions that run the encoders themselves (modulated stages, tokens).
from .conditioning import FiLMFusion  # noqa: E402
from .cross_attention import CrossAttentionFusion  # noqa: E402

FUSIONS["film"] = FiLMFusion
FUSIONS["cross_attention"] = CrossAttentionFusion
