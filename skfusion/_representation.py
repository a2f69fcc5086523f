"""The fitted estimator as a feature extractor: Z, f_i(x_i), modality weights.

A mixin for the estimators of :mod:`skfusion.estimators`; it relies on their
``_predict_inputs``, ``net_`` and ``modalities_``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted
from skorch.utils import to_tensor

from ._batching import unreadable_rows, warn_unreadable
from ._discovery import is_lazy
from ._names import PRESENT_KEY
from ._threads import resolve_threads, torch_threads

__all__ = ["RepresentationMixin", "deep_modalities", "without_modalities"]

def _mark_absent(inputs, modalities, absent):
    """``inputs`` with the presence of the modalities ``absent`` zeroed in
    every row (a new presence matrix: the caller's arrays are never written)."""
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


def without_modalities(estimator, names):
    """A shallow copy of a fitted estimator that predicts as if the
    modalities ``names`` were absent in every row.

    Every fusion masks an absent modality exactly as it masks a row whose
    ``missing`` indicator is 1, so this is "what would the model say without
    this modality" (used by :func:`skfusion.inspection.modality_importance`
    with ``strategy="mask"``). The copy shares the fitted network; the
    estimator itself is not changed, and no state outside the copy is.
    """
    # object.__new__ + __dict__: a plain shallow copy (copy.copy would go
    # through __getstate__, which turns the network into plain data).
    masked = object.__new__(type(estimator))
    masked.__dict__.update(vars(estimator), _absent_modalities=frozenset(names))
    return masked


_PUBLIC = {
    "embed": "transform",
    "modality_embeddings": "modality_embeddings",
    "modality_weights": "modality_weights",
}


#: The fusions that have per-row modality weights.
WEIGHTED_FUSIONS = ("late", "gated", "attention", "cross_attention")


def deep_modalities(estimator):
    """Names of the modalities that have an encoder (not wide), in order."""
    return [n for n, s in estimator.modalities_.items() if s.kind != "wide"]


class RepresentationMixin:
    """transform / modality_embeddings / modality_weights of a fitted net."""

    def _run_module(self, X, method):
        """Call ``module_.<method>`` over X in eval mode, batched.

        The batches come from the net's own iterator (``get_dataset`` and
        ``get_iterator``, at the net's prediction batch size); "forward" is
        skorch's ``infer``. Outputs come back as float32 NumPy arrays (also
        under ``amp``). A LazyImages input is decoded one batch at a time
        (in the net's ``num_workers`` processes, if any). The modalities in
        the private attribute ``_absent_modalities`` (set on a copy of the
        estimator by ``modality_importance(strategy="mask")``) are absent
        in every row.
        """
        check_is_fitted(self)
        return self._run_inputs(self._predict_inputs(X), method)

    def _run_inputs(self, inputs, method):
        """:meth:`_run_module` on the network's input dict (X converted)."""
        inputs = _mark_absent(inputs, self.modalities_, self._absent())
        net = self.net_
        module = net.module_
        if method != "forward" and not module.modality_names:
            raise ValueError(
                f"{type(self).__name__}.{_PUBLIC[method]} needs an encoder, but "
                "this model has only wide modalities (a linear model over "
                f"{module.wide_names}): it has no shared space Z."
            )
        lazy = any(is_lazy(value) for value in inputs.values())
        threads = resolve_threads(
            self.n_threads, self.modalities_.values(), self.get_params()
        )
        unreadable, outputs, start = {}, [], 0
        module.eval()
        with torch.inference_mode(), net.autocast(), torch_threads(threads):
            for batch, _ in net.get_iterator(net.get_dataset(inputs), training=False):
                rows = slice(start, start + len(next(iter(batch.values()))))
                start = rows.stop
                if lazy:  # images that on_error="missing" turned absent
                    for key, found in unreadable_rows(inputs, rows, batch).items():
                        unreadable.setdefault(key, []).extend(found)
                if method == "forward":
                    out = net.infer(batch)
                else:
                    out = getattr(module, method)(**to_tensor(batch, net.device))
                outputs.append(
                    [_to_cpu(o) for o in out] if isinstance(out, list) else _to_cpu(out)
                )
        for key, found in unreadable.items():
            warn_unreadable(key, found)
        if isinstance(outputs[0], list):
            return [torch.cat(parts).numpy() for parts in zip(*outputs, strict=True)]
        return torch.cat(outputs).numpy()

    def _absent(self):
        return getattr(self, "_absent_modalities", frozenset())

    def transform(self, X):
        """The fused representation Z that the prediction head sees.

        Concat: the concatenated modality embeddings (``n_modalities *
        latent_dim`` columns, absent modalities replaced by their learned
        absent-embedding); late: the same concatenation (what the
        per-modality heads see); film: the same concatenation, of the
        FiLM-modulated embeddings; gated, attention, low_rank: ``latent_dim``
        columns; cross_attention: the summary token's output
        (``latent_dim`` columns). Lets a fitted estimator serve as a feature
        extractor in a Pipeline.

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

    @property
    def _n_features_out(self):
        """Columns of :meth:`transform` (scikit-learn's
        ``ClassNamePrefixFeaturesOutMixin`` names them)."""
        fusion = self.net_.module_.fusion
        if fusion is None:
            raise ValueError(
                f"{type(self).__name__} has only wide modalities (a linear "
                "model): transform has no output, so no feature names."
            )
        return fusion.represent_dim

    def get_feature_names_out(self, input_features=None):
        """Names of the columns of :meth:`transform`: ``"<class>0"``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against ``feature_names_in_`` (when X had column names)
            as scikit-learn's ``ClassNamePrefixFeaturesOutMixin`` does; the
            output names do not depend on it.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return ClassNamePrefixFeaturesOutMixin.get_feature_names_out(
            self, input_features
        )

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

    @available_if(lambda self: self.fusion in WEIGHTED_FUSIONS)
    def modality_weights(self, X):
        """Per-row weight of each modality in the fused prediction.

        Gated fusion: the gates; attention fusion: the summary token's
        attention over the modality tokens (last block, averaged over heads);
        cross_attention: the summary token's attention mass on each
        modality's tokens (last block, averaged over heads); late fusion:
        the learned combination weights. Each row sums to 1 over its
        present modalities (absent ones get 0; a row with no modality
        present gets all zeros). Available for ``fusion`` in {"late",
        "gated", "attention", "cross_attention"}.

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


def _to_cpu(tensor):
    return tensor.float().cpu()
