"""Losses: alignment in Z, and the survival losses of CrossModalSurvival.

- :func:`alignment_loss` pulls a patient's modality embeddings together.
- :class:`CoxPHLoss`: the negative Cox partial log-likelihood (Breslow ties)
  over a batch.
- :class:`DiscreteTimeLoss`: the negative log-likelihood of discrete-time
  hazards (logistic hazard) with censoring.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ALIGNMENTS",
    "CoxPHLoss",
    "DiscreteTimeLoss",
    "alignment_loss",
    "row_alignment_mse",
]

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


def row_alignment_mse(embeddings, present=None):
    """The "mse" alignment of each row on its own, shape (n,).

    A row's loss is the mean, over the pairs of modalities present in that
    row, of the squared distance between the L2-normalised embeddings; 0
    for a row with fewer than two present modalities. No row depends on
    another (no mean over the rows of a batch, no boolean indexing), so it
    is the alignment of differentially private training, where each row's
    gradient is computed on its own (:mod:`skfusion._privacy`).

    Parameters
    ----------
    embeddings : tensor of shape (n, M, d)
    present : tensor of shape (n, M) or None
    """
    unit = F.normalize(embeddings, dim=-1)
    m = embeddings.shape[1]
    total = unit.new_zeros(unit.shape[0])
    pairs = unit.new_zeros(unit.shape[0])
    for i in range(m):
        for j in range(i + 1, m):
            both = unit.new_ones(unit.shape[0])
            if present is not None:
                both = ((present[:, i] > 0) & (present[:, j] > 0)).to(unit.dtype)
            distance = ((unit[:, i] - unit[:, j]) ** 2).sum(dim=1)
            total = total + distance * both
            pairs = pairs + both
    return total / pairs.clamp(min=1.0)


class CoxPHLoss(nn.Module):
    """Negative Cox partial log-likelihood over a batch, Breslow's ties.

    For the rows of a batch with log hazards ``eta``, times ``t``, event
    indicators ``d`` and row weights ``w`` (1 without weights)::

        loss = -sum_i w_i d_i (eta_i - log sum_{j: t_j >= t_i} w_j exp(eta_j))
               / sum_i w_i d_i

    Every row whose time is at least ``t_i`` is in the risk set of ``i``,
    tied events included (Breslow). A censored row adds no term of its own;
    it counts only in the risk sets of the events before it. The risk sets
    are the batch's rows, not the whole training set: the partial
    likelihood of a batch is an unbiased-in-spirit but noisy estimate, so
    small batches weaken it (see ``CrossModalSurvival``'s ``batch_size``).
    A batch without an event gives 0 (with a gradient of 0).

    ``weighs_rows = True`` tells :class:`skfusion._training.WeightedNet`
    that this loss takes the row weights itself, since they enter the risk
    sets, and returns the batch's loss rather than one loss per row.

    Parameters
    ----------
    reduction : str, default="none"
        Accepted for skorch's ``criterion__reduction``; the loss is always
        the batch's mean over events.
    """

    weighs_rows = True

    def __init__(self, reduction="none"):
        super().__init__()
        self.reduction = reduction

    def forward(self, log_hazard, target, weight=None):
        """``log_hazard`` (n,) or (n, 1); ``target`` (n, 2): time, event."""
        eta = log_hazard.reshape(-1).float()
        time, event = target[:, 0].float(), target[:, 1].float()
        w = torch.ones_like(eta) if weight is None else weight.reshape(-1).float()
        time, order = torch.sort(time, descending=True, stable=True)
        eta, event, w = eta[order], event[order], w[order]
        # log of sum_{j up to here} w_j exp(eta_j), in descending time order;
        # a row's risk set ends at the last row of its group of tied times
        cumulative = torch.logcumsumexp(eta + torch.log(w), dim=0)
        _, counts = torch.unique_consecutive(time, return_counts=True)
        last = torch.cumsum(counts, dim=0) - 1
        log_risk_set = cumulative[last].repeat_interleave(counts)
        weighted_events = event * w
        total = weighted_events.sum()
        terms = (eta - log_risk_set) * weighted_events
        if total <= 0:
            return (eta * 0.0).sum()
        return -terms.sum() / total


class DiscreteTimeLoss(nn.Module):
    """Negative log-likelihood of discrete-time hazards (logistic hazard).

    The time axis is cut into K intervals; ``logits[:, k]`` is the logit of
    the hazard ``h_k``, the probability of the event in interval k given
    survival to its start. A row whose time falls in interval ``k`` with
    event indicator ``d`` has the likelihood
    ``prod_{j<k} (1 - h_j) * h_k**d * (1 - h_k)**(1 - d)``: a censored row
    survived the intervals before its own and its own (censoring is taken
    at the end of the interval, as in Gensheimer and Narasimhan's
    nnet-survival and pycox's LogisticHazard). Returns one loss per row.

    Parameters
    ----------
    reduction : str, default="none"
        Accepted for skorch's ``criterion__reduction``; one loss per row is
        returned.
    offset : array-like of shape (K,) or None, default=None
        Added to the logits: the logits of the training set's hazards, so
        that an untrained network (outputs near 0) starts from the
        population's hazards instead of ``h = 1/2`` in every interval. The
        estimator adds the same offset when it predicts.
    """

    weighs_rows = False

    def __init__(self, reduction="none", offset=None):
        super().__init__()
        self.reduction = reduction
        offset = torch.zeros(0) if offset is None else torch.as_tensor(offset)
        self.register_buffer("offset", offset.float().reshape(-1))

    def forward(self, logits, target):
        """``logits`` (n, K); ``target`` (n, 2): interval index, event."""
        interval = target[:, 0].long()
        event = target[:, 1].float()
        logits = logits.float()
        if self.offset.numel():
            logits = logits + self.offset
        steps = torch.arange(logits.shape[1], device=logits.device)
        at = (steps[None, :] == interval[:, None]).float()
        seen = (steps[None, :] <= interval[:, None]).float()
        bce = F.binary_cross_entropy_with_logits(
            logits, at * event[:, None], reduction="none"
        )
        return (bce * seen).sum(dim=1)
