"""The fitted estimator as a feature extractor: Z, f_i(x_i), modality weights.

A mixin for the estimators of :mod:`skfusion.estimators`; it relies on their
``_validate_X``, ``net_`` and ``modalities_``.
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np
import torch
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._batching import iter_batches, unreadable_rows, warn_unreadable
from ._modalities import is_lazy
from ._threads import resolve_threads, torch_threads
from ._training import PREDICT_BATCH
from .nn.network import PRESENT_KEY

__all__ = ["RepresentationMixin", "deep_modalities", "modalities_absent"]

#: Modality names that inference treats as absent in every row (see
#: :func:`modalities_absent`); a context variable, so threads do not share it.
_ABSENT = contextvars.ContextVar("skfusion_absent", default=frozenset())


@contextlib.contextmanager
def modalities_absent(names):
    """Within the block, inference treats the modalities ``names`` as absent.

    Every fusion masks an absent modality exactly as it masks a row whose
    ``missing`` indicator is 1, so this is "what would the model say without
    this modality" (used by :func:`skfusion.inspection.modality_importance`
    with ``strategy="mask"``). Training is not affected.
    """
    token = _ABSENT.set(frozenset(names))
    try:
        yield
    finally:
        _ABSENT.reset(token)


def _mark_absent(inputs, modalities):
    """``inputs`` with the presence of the context's absent modalities zeroed
    (a new presence matrix: the caller's arrays are never written)."""
    absent = _ABSENT.get()
    if not absent:
        return inputs
    names = list(modalities)
    n = len(next(iter(inputs.values())))
    present = inputs.get(PRESENT_KEY)
    present = (
        np.ones((n, len(names)), dtype=np.float32)
        if present is None
        else np.array(present, dtype=np.float32)
    )
    for name in absent:
        present[:, names.index(name)] = 0.0
    return {**inputs, PRESENT_KEY: present}


_PUBLIC = {
    "embed": "transform",
    "modality_embeddings": "modality_embeddings",
    "modality_weights": "modality_weights",
}


def deep_modalities(estimator):
    """Names of the modalities that have an encoder (not wide), in order."""
    return [n for n, s in estimator.modalities_.items() if s.kind != "wide"]


class RepresentationMixin:
    """transform / modality_embeddings / modality_weights of a fitted net."""

    def _run_module(self, X, method):
        """Call ``module_.<method>(**batch)`` over X in eval mode, batched.

        Outputs come back as float32 NumPy arrays (also under ``amp``).
        Batches hold PREDICT_BATCH rows; a LazyImages input is decoded one
        batch at a time (in the net's ``num_workers`` processes, if any).
        """
        check_is_fitted(self)
        inputs, _ = self._validate_X(X, reset=False)
        inputs = _mark_absent(inputs, self.modalities_)
        net = self.net_
        module, device = net.module_, torch.device(net.device)
        n = len(next(iter(inputs.values())))
        batches = [
            slice(start, start + PREDICT_BATCH) for start in range(0, n, PREDICT_BATCH)
        ]
        lazy = any(is_lazy(value) for value in inputs.values())
        workers = getattr(net, "num_workers", 0) if lazy else 0
        unreadable = {}
        outputs = []
        module.eval()
        threads = resolve_threads(
            self.n_threads, self.modalities_.values(), self.get_params()
        )
        if method != "forward" and not module.modality_names:
            raise ValueError(
                f"{type(self).__name__}.{_PUBLIC[method]} needs an encoder, but "
                "this model has only wide modalities (a linear model over "
                f"{module.wide_names}): it has no shared space Z."
            )
        with torch.inference_mode(), net.autocast(), torch_threads(threads):
            fetched = iter_batches(inputs, None, batches, num_workers=workers)
            for rows, (batch, _) in zip(batches, fetched, strict=True):
                if lazy:  # images that on_error="missing" turned absent
                    for key, found in unreadable_rows(inputs, rows, batch).items():
                        unreadable.setdefault(key, []).extend(found)
                batch = {key: _to_device(value, device) for key, value in batch.items()}
                out = getattr(module, method)(**batch)
                outputs.append(
                    [_to_cpu(o) for o in out] if isinstance(out, list) else _to_cpu(out)
                )
        for key, found in unreadable.items():
            warn_unreadable(key, found, stacklevel=4)
        if isinstance(outputs[0], list):
            return [torch.cat(parts).numpy() for parts in zip(*outputs, strict=True)]
        return torch.cat(outputs).numpy()

    def transform(self, X):
        """The fused representation Z that the prediction head sees.

        Concat: the concatenated modality embeddings (``n_modalities *
        latent_dim`` columns, absent modalities replaced by their learned
        absent-embedding); late: the same concatenation (what the
        per-modality heads see); gated, attention, low_rank: ``latent_dim``
        columns. Lets a fitted estimator serve as a feature extractor in a
        Pipeline.

        Parameters
        ----------
        X : DataFrame, array-like or dict
            Input with the modalities seen in fit.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features_out), float32
        """
        return self._run_module(X, "embed")

    def fit_transform(self, X, y, sample_weight=None):
        """Fit, then return :meth:`transform` of X (the fused representation).

        Parameters
        ----------
        X : DataFrame, array-like or dict
        y : array-like
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features_out), float32
        """
        return self.fit(X, y, sample_weight=sample_weight).transform(X)

    def get_feature_names_out(self, input_features=None):
        """Names of the columns of :meth:`transform`: ``"<class>0"``, ...

        Parameters
        ----------
        input_features : ignored
            Present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        fusion = self.net_.module_.fusion
        if fusion is None:
            raise ValueError(
                f"{type(self).__name__} has only wide modalities (a linear "
                "model): transform has no output, so no feature names."
            )
        prefix = type(self).__name__.lower()
        width = fusion.represent_dim
        return np.asarray([f"{prefix}{i}" for i in range(width)], dtype=object)

    def modality_embeddings(self, X):
        """Each modality's embedding in the shared space Z (before fusion).

        Parameters
        ----------
        X : DataFrame, array-like or dict

        Returns
        -------
        embeddings : dict of str to ndarray of shape (n_samples, latent_dim)
            Keyed by modality name, in the order of ``modalities_`` (wide
            modalities, which have no encoder, are left out). Rows where a
            modality is absent hold the encoder's output for the neutral
            input (the fusion ignores them).
        """
        parts = self._run_module(X, "modality_embeddings")
        return dict(zip(deep_modalities(self), parts, strict=True))

    @available_if(lambda self: self.fusion in ("late", "gated", "attention"))
    def modality_weights(self, X):
        """Per-row weight of each modality in the fused prediction.

        Gated fusion: the gates; attention fusion: the summary token's
        attention over the modality tokens (last block, averaged over heads);
        late fusion: the learned combination weights. Each row sums to 1
        over its present modalities (absent ones get 0; a row with no
        modality present gets all zeros). Available for ``fusion`` in
        {"late", "gated", "attention"}.

        Parameters
        ----------
        X : DataFrame, array-like or dict

        Returns
        -------
        weights : ndarray of shape (n_samples, n_modalities)
            Columns in the order of ``modalities_``, wide modalities left
            out (they are added to the output, not fused).
        """
        return self._run_module(X, "modality_weights").astype(np.float64)


def _to_device(array, device):
    """A batch as a tensor on ``device`` (pinned, asynchronous copy to CUDA)."""
    tensor = torch.as_tensor(array)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def _to_cpu(tensor):
    return tensor.float().cpu()
