"""Encoder of a time-series modality (kind "sequence"): a masked GRU or
transformer over values and observation mask, and its statistics.

A sequence modality reaches the network as ``(n, 2, n_steps, n_channels)``:
the values (TimeSeriesLoader's ``series_<t>_<c>``) and the mask
(``observed_<t>_<c>``, 1 where a step holds a measurement).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .encoders import transformer_layer

__all__ = [
    "SEQUENCE_ENCODERS",
    "SequenceEncoder",
    "make_sequence_encoder",
    "sequence_statistics",
]

#: Sequence models of :class:`SequenceEncoder`.
SEQUENCE_ENCODERS = ("gru", "transformer")


class SequenceEncoder(nn.Module):
    """Encoder for a time series with an observation mask.

    The values are standardised per channel with statistics taken over the
    observed entries only; a channel never observed in a row is zeroed. The
    step's input is the standardised values and the mask (so a gap is
    visible to the model), projected to ``hidden_dim``:

    - ``"gru"``: one GRU layer; the last hidden state and the mean of the
      hidden states over the observed steps are concatenated;
    - ``"transformer"``: learnt position embeddings and one pre-norm
      transformer encoder layer whose attention skips the steps without any
      observation, then the mean over the observed steps (twice, to keep
      the projection's width).

    The pooled vector is projected to ``output_dim``.

    Parameters
    ----------
    n_channels : int
        Channels of the series.
    output_dim : int
        Size of the shared space Z.
    n_steps : int
        Steps of the series (positions of the transformer).
    kind : {"gru", "transformer"}, default="gru"
        Sequence model.
    hidden_dim : int, default=32
        Width of the sequence model.
    dropout : float, default=0.0
        Dropout on the pooled vector (and inside the transformer layer).
    shift, scale : array-like of shape (n_channels,), optional
        Per-channel statistics of the observed values.
    """

    def __init__(
        self,
        n_channels,
        output_dim,
        n_steps,
        kind="gru",
        hidden_dim=32,
        dropout=0.0,
        shift=None,
        scale=None,
    ):
        super().__init__()
        if kind not in SEQUENCE_ENCODERS:
            raise ValueError(f"kind must be one of {SEQUENCE_ENCODERS}; got {kind!r}.")
        self.kind = kind
        shift = torch.zeros(n_channels) if shift is None else shift
        scale = torch.ones(n_channels) if scale is None else scale
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.embed = nn.Linear(2 * n_channels, hidden_dim)
        if kind == "gru":
            self.gru = nn.GRU(hidden_dim, hidden_dim, batch_first=True)
        else:
            self.position = nn.Parameter(torch.randn(n_steps, hidden_dim) * 0.02)
            self.layer = transformer_layer(hidden_dim, dropout)
        self.project = nn.Sequential(
            nn.Dropout(dropout) if dropout else nn.Identity(),
            nn.Linear(2 * hidden_dim, output_dim),
        )
        self.output_dim = output_dim

    def forward(self, x):
        values, mask = x[:, 0], x[:, 1]  # (n, T, C) each
        seen = mask.amax(dim=1, keepdim=True)  # channel measured in the row
        values = (values - self.shift) / self.scale * seen
        h = torch.relu(self.embed(torch.cat([values, mask], dim=-1)))
        steps = mask.amax(dim=-1) > 0  # (n, T): a step with some measurement
        if self.kind == "gru":
            out, last = self.gru(h)
            pooled = torch.cat([last[0], _masked_mean(out, steps)], dim=1)
        else:
            h = h + self.position[: h.shape[1]]
            # a row without observed step (a missing series) would attend to
            # nothing and give NaN: let it attend to its last step
            padding = ~steps
            padding[:, -1] &= steps.any(dim=1)
            out = self.layer(h, src_key_padding_mask=padding)
            pooled = _masked_mean(out, steps)
            pooled = torch.cat([pooled, out[:, -1]], dim=1)
        return self.project(pooled)


def _masked_mean(x, mask):
    weights = mask.to(x.dtype)[..., None]
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def sequence_statistics(data, rows=None, block=1024):
    """Per-channel mean and standard deviation of the observed values of
    ``data`` (n, 2, T, C) over the rows where ``rows`` holds, streamed
    ``block`` rows at a time in float64. An unobserved entry (mask 0) never
    counts; a channel with no observation, or a constant one, gets shift 0
    or its value and scale 1."""
    n_channels = data.shape[-1]
    count = np.zeros(n_channels)
    total = np.zeros(n_channels)
    squares = np.zeros(n_channels)
    where = np.arange(len(data)) if rows is None else np.flatnonzero(rows)
    for start in range(0, len(where), block):
        chunk = np.asarray(data[where[start : start + block]], dtype=np.float64)
        values, mask = chunk[:, 0], chunk[:, 1] > 0
        count += mask.sum(axis=(0, 1))
        total += np.where(mask, values, 0.0).sum(axis=(0, 1))
        squares += np.where(mask, values**2, 0.0).sum(axis=(0, 1))
    mean = total / np.maximum(count, 1)
    var = np.maximum(squares / np.maximum(count, 1) - mean**2, 0.0)
    scale = np.sqrt(var)
    constant = scale <= 1e-7 * np.maximum(np.abs(mean), 1.0)
    scale[constant] = 1.0
    return mean.astype(np.float32), scale.astype(np.float32)


def make_sequence_encoder(spec, data, rows, params):
    """The :class:`SequenceEncoder` of a sequence ``spec`` as the estimator's
    ``params`` say (``sequence_encoder``, width ``latent_dim``), with
    statistics from ``data`` on ``rows`` (placeholders when ``data`` is
    None)."""
    _, n_steps, n_channels = spec.shape
    if data is None:
        shift, scale = np.zeros(n_channels, np.float32), np.ones(n_channels, np.float32)
    else:
        shift, scale = sequence_statistics(data, rows, int(params["batch_size"]))
    return SequenceEncoder(
        n_channels,
        params["latent_dim"],
        n_steps,
        kind=params.get("sequence_encoder", "gru"),
        hidden_dim=params["latent_dim"],
        dropout=params["dropout"],
        shift=shift,
        scale=scale,
    )
