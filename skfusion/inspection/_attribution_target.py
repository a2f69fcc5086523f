"""The output that :func:`~skfusion.inspection.attributions` explains.

``g(out, index)`` turns the network's outputs ``(n, k)`` into one scalar per
row, differentiable in torch: a log-odds, a log probability, a prediction in
the units of y, a survival risk.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["f_of", "output_function", "targets"]


def _class_index(final, label):
    matches = np.flatnonzero(np.asarray(final.classes_) == label)
    if len(matches) != 1:
        raise ValueError(
            f"target={label!r} is not one of the classes {list(final.classes_)} "
            f"of this {type(final).__name__}."
        )
    return int(matches[0])


def _output_index(final, target, what):
    n = int(final.n_outputs_)
    if target is None and n == 1:
        return 0
    if isinstance(target, int | np.integer) and 0 <= target < n:
        return int(target)
    raise ValueError(
        f"This {type(final).__name__} has {n} {what}s: pass target= an int "
        f"in 0..{n - 1} to say which one to explain; got {target!r}."
    )


def output_function(final, target, logits):
    """``(g, index)``: ``g(out, index)`` turns the network's outputs ``(n, k)``
    into the explained scalar per row; ``index`` is an (n,) int array (the
    class or output of each row). ``logits`` are the outputs at X."""
    from ..estimators import CrossModalClassifier, CrossModalRegressor
    from ..survival import CrossModalSurvival

    n = len(logits)
    if isinstance(final, CrossModalSurvival):
        return _survival_function(final), np.zeros(n, dtype=np.int64)
    if isinstance(final, CrossModalRegressor):
        k = _output_index(final, target, "output")
        scale = float(np.ravel(final._y_scale)[k])
        mean = float(np.ravel(final._y_mean)[k])

        def regression(out, index):
            return out.gather(1, index[:, None])[:, 0] * scale + mean

        return regression, np.full(n, k, dtype=np.int64)
    if not isinstance(final, CrossModalClassifier):  # pragma: no cover
        raise TypeError(f"Cannot explain a {type(final).__name__}.")
    if getattr(final, "_multilabel", False):
        k = _output_index(final, target, "label")
        return _column, np.full(n, k, dtype=np.int64)
    if logits.shape[1] == 2:
        k = 1 if target is None else _class_index(final, target)
        return _log_odds, np.full(n, k, dtype=np.int64)
    index = (
        np.argmax(logits, axis=1)
        if target is None
        else np.full(n, _class_index(final, target))
    )
    return _log_probability, index.astype(np.int64)


def _column(out, index):
    return out.gather(1, index[:, None])[:, 0]


def _log_odds(out, index):
    """log(p_k / p_other) of a two-class softmax."""
    return out.gather(1, index[:, None])[:, 0] - out.gather(1, 1 - index[:, None])[:, 0]


def _log_probability(out, index):
    return torch.log_softmax(out, dim=1).gather(1, index[:, None])[:, 0]


def _survival_function(final):
    if final.loss == "cox":
        return lambda out, index: out[:, 0]
    offset = torch.as_tensor(np.asarray(final.hazard_offset_), dtype=torch.float32)
    widths = np.diff(np.asarray(final.time_bins_, dtype=float), prepend=0.0)
    widths = torch.as_tensor(widths, dtype=torch.float32)

    def risk(out, index):  # minus the restricted mean time, as predict
        survival = torch.cumprod(1.0 - torch.sigmoid(out + offset.to(out)), dim=1)
        before = torch.cat([torch.ones_like(survival[:, :1]), survival[:, :-1]], 1)
        return -(before * widths.to(out)).sum(dim=1)

    return risk


def targets(final, index):
    from ..survival import CrossModalSurvival

    if isinstance(final, CrossModalSurvival):
        return None
    if hasattr(final, "classes_") and not getattr(final, "_multilabel", False):
        return np.asarray(final.classes_)[index]
    return index


def f_of(final, g, index):
    """``f`` of an estimator input ``Xt`` (used to re-embed changed notes):
    the explained output per row, with the rows' classes ``index``."""

    def f(Xt, rows):
        out = torch.as_tensor(final._forward(Xt), dtype=torch.float32)
        return g(out, torch.as_tensor(index[rows])).double().numpy()

    return f
