"""CrossModalNet: one encoder per modality, a fusion, a prediction head."""

from __future__ import annotations

import torch
from torch import nn

# The input keys of the presence matrix and of the per-row loss weights
# belong to the column-name grammar (skfusion._names); re-exported here.
from .._names import PRESENT_KEY, SAMPLE_WEIGHT_KEY

__all__ = [
    "PRESENT_KEY",
    "SAMPLE_WEIGHT_KEY",
    "CrossModalNet",
    "WideLinear",
    "drop_modalities",
]

# The input keys of the presence matrix and of the per-row loss weights are
# part of the column-name grammar (skfusion._names); re-exported here.


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


class WideLinear(nn.Module):
    """A linear model over sparse terms: ``sum_j W[id_j] * weight_j + b``.

    The input of one row is ``(2, k)``: ``k`` term ids (0 is padding) and
    their weights, as :class:`~skfusion.preprocessing.WideFeatures` emits
    them. An ``EmbeddingBag`` in "sum" mode with ``per_sample_weights``
    computes the product with the sparse row without building it, so the
    cost is O(k) per row whatever the vocabulary. Weights start at zero (a
    convex model: no symmetry to break).

    Parameters
    ----------
    vocab_size : int
        Number of ids, padding included.
    n_outputs : int
        Logits (or targets) it adds to.
    """

    def __init__(self, vocab_size, n_outputs):
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab_size, n_outputs, mode="sum", padding_idx=0)
        nn.init.zeros_(self.bag.weight)
        self.bias = nn.Parameter(torch.zeros(n_outputs))
        self.output_dim = n_outputs

    def forward(self, x):
        ids = x[:, 0].long()
        return self.bag(ids, per_sample_weights=x[:, 1].float()) + self.bias

    def penalty(self):
        """``||W||^2 / 2`` (the bias is not penalised), as in an L2 model."""
        return self.bag.weight.square().sum() / 2


class CrossModalNet(nn.Module):
    """``g(fuse(f_1(x_1), ..., f_M(x_M))) + sum_w wide_w(x_w)``.

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
    wide : dict of str to WideLinear or None, default=None
        The wide path (Wide & Deep, Cheng et al. 2016): linear models over
        sparse terms whose outputs are added to the head's. With no
        encoder, the network is the wide path alone (a linear model), and
        ``fusion`` and ``head`` are None.
    order : list of str or None, default=None
        Every modality name, deep and wide, in the column order of the
        presence matrix; None: the encoders' order followed by the wide
        ones. An absent wide modality (presence 0) adds nothing.

    Notes
    -----
    ``forward`` takes the modalities as keyword arguments, as skorch passes a
    dict input: ``net(tab=..., xray=..., __present__=...)``. Modality names
    may be any strings; the encoders are stored under positional keys.
    """

    def __init__(
        self,
        encoders,
        fusion,
        head,
        modality_dropout=0.0,
        return_embeddings=False,
        wide=None,
        order=None,
    ):
        super().__init__()
        wide = wide or {}
        self.modality_names = list(encoders)
        self.encoders = nn.ModuleList(encoders.values())
        self.fusion = fusion
        self.head = head
        self.modality_dropout = modality_dropout
        self.return_embeddings = return_embeddings
        self.wide_names = list(wide)
        if wide:
            self.wide = nn.ModuleList(wide.values())
        order = [*self.modality_names, *self.wide_names] if order is None else order
        self._deep_columns = [order.index(n) for n in self.modality_names]
        self._wide_columns = [order.index(n) for n in self.wide_names]
        self._all_deep = self._deep_columns == list(range(len(order)))

    def _deep_present(self, present):
        if present is None or self._all_deep:
            return present
        return present[:, self._deep_columns]

    def draw_kept(self, inputs):
        """The presence of the deep modalities after modality dropout, drawn
        for the whole batch ``inputs`` (:func:`drop_modalities`); None when
        nothing is dropped (eval mode, ``modality_dropout=0``, no encoder)."""
        if not (self.training and self.modality_dropout > 0 and self.modality_names):
            return None
        present = self._deep_present(inputs.get(PRESENT_KEY))
        if present is None:
            first = inputs[self.modality_names[0]]
            present = torch.ones(
                len(first), len(self.modality_names), device=first.device
            )
        return drop_modalities(present, self.modality_dropout)

    def encode(self, **inputs):
        """Per-modality embeddings (list of ``(n, d)``) and the presence
        matrix of those (deep) modalities."""
        present = self._deep_present(inputs.get(PRESENT_KEY))
        return self._run_encoders(inputs, present), present

    def _run_encoders(self, inputs, present):
        xs = [inputs[name] for name in self.modality_names]
        if hasattr(self.fusion, "encode"):
            # FiLM and cross-attention fusions run the encoders themselves
            # (modulated stages, intermediate tokens): skfusion.nn.conditioning
            return self.fusion.encode(self.encoders, xs, present)
        return [encoder(x) for encoder, x in zip(self.encoders, xs, strict=True)]

    def wide_output(self, **inputs):
        """The wide path's contribution to the output, or None without one."""
        if not self.wide_names:
            return None
        present = inputs.get(PRESENT_KEY)
        total = 0.0
        for name, column, model in zip(
            self.wide_names, self._wide_columns, self.wide, strict=True
        ):
            out = model(inputs[name])
            if present is not None:
                out = out * present[:, column : column + 1]
            total = total + out
        return total

    def wide_penalty(self):
        """Sum of the wide models' ``||W||^2 / 2`` (0.0 without a wide path)."""
        if not self.wide_names:
            return 0.0
        return sum(model.penalty() for model in self.wide)

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
        return self.output(inputs)

    def output(self, inputs, kept=None):
        """``forward`` on the dict ``inputs``; ``kept``, when given, is the
        presence matrix after modality dropout, drawn by the caller (per-sample
        gradients under ``torch.func.vmap`` draw it for the whole batch,
        outside the vmapped function: :mod:`skfusion._privacy`)."""
        wide = self.wide_output(**inputs)
        if not self.modality_names:  # the wide path alone: a linear model
            return wide
        if hasattr(self.fusion, "encode"):
            return self._output_encoded(inputs, kept, wide)
        embeddings, present = self.encode(**inputs)
        fused_present = present if kept is None else kept
        if kept is None and self.training and self.modality_dropout > 0:
            if present is None:
                present = embeddings[0].new_ones(len(embeddings[0]), len(embeddings))
            fused_present = drop_modalities(present, self.modality_dropout)
        out = self.head(self.fusion(embeddings, fused_present))
        if wide is not None:
            out = out + wide
        if self.training and self.return_embeddings:
            return out, torch.stack(embeddings, dim=1), present
        return out

    def _output_encoded(self, inputs, kept, wide):
        """``output`` for a fusion that runs the encoders: modality dropout
        is drawn first, so that the encoders see the presence it leaves
        (a dropped conditioning modality modulates nothing)."""
        present = self._deep_present(inputs.get(PRESENT_KEY))
        fused_present = present if kept is None else kept
        if kept is None and self.training and self.modality_dropout > 0:
            if present is None:
                first = inputs[self.modality_names[0]]
                present = torch.ones(
                    len(first), len(self.modality_names), device=first.device
                )
            fused_present = drop_modalities(present, self.modality_dropout)
        embeddings = self._run_encoders(inputs, fused_present)
        out = self.head(self.fusion(embeddings, fused_present))
        if wide is not None:
            out = out + wide
        if self.training and self.return_embeddings:
            return out, torch.stack(list(embeddings), dim=1), present
        return out
