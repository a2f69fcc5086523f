"""CrossModalRegressor: re-exported by :mod:`skfusion.estimators`, its
public home (``skfusion.estimators.CrossModalRegressor``, the name that
pickle and skops.io record); kept here so that each module stays short."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils.validation import check_array
from torch import nn

from ._base import _BaseCrossModal
from ._semisupervised import LabeledScoreMixin, split_unlabeled, zero_unlabeled
from ._training import row_weights

__all__ = ["CrossModalRegressor"]


class CrossModalRegressor(LabeledScoreMixin, RegressorMixin, _BaseCrossModal):
    """Regressor that fuses several modalities with a PyTorch network.

    The same network as :class:`CrossModalClassifier` with a linear output per
    target, trained with mean squared error on standardised targets (the
    scaling is undone in ``predict``). 1-D and multi-output y are supported.

    Parameters
    ----------
    modalities, latent_dim, hidden_dims, head_dims, cnn_channels, \
token_encoder, token_embedding_dim, sequence_encoder, dropout, fusion, \
fusion_rank, conditioning, alignment, \
alignment_weight, pretrain, pretrain_epochs, unlabeled_label, wide_alpha, \
wide_lr, modality_dropout, optimizer, lr, \
lr_schedule, weight_decay, batch_size, max_epochs, early_stopping, \
validation_fraction, n_iter_no_change, tol, device, amp, n_jobs, n_threads, \
random_state, verbose, progress, dp_epsilon, dp_delta, dp_max_grad_norm, \
dp_statistics
        As in :class:`CrossModalClassifier`. The loss is the mean squared
        error on standardised targets, so ``wide_alpha = 2 * a /
        n_samples`` is the penalty of ``Ridge(alpha=a)`` on them. Unlabeled
        rows are usually marked ``unlabeled_label=np.nan``.

    Attributes
    ----------
    modalities_ : dict of str to ModalitySpec
    net_ : skorch.NeuralNet
    n_outputs_ : int
        Number of targets.
    n_iter_, loss_curve_, validation_loss_curve_, epsilon_, delta_, \
noise_multiplier_, n_features_in_, feature_names_in_
        As in :class:`CrossModalClassifier`.

    Notes
    -----
    Persistence (pickle, joblib, ``skops.io``) and differential privacy
    (``dp_epsilon``) as in :class:`CrossModalClassifier`; the target's
    mean and scale are learnt from the rows without noise unless
    ``dp_statistics="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import CrossModalRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = {"tab": rng.normal(size=(200, 3)), "img": rng.random((200, 1, 8, 8))}
    >>> y = X["tab"][:, 0] + X["img"].mean(axis=(1, 2, 3))
    >>> reg = CrossModalRegressor(max_epochs=30, random_state=0).fit(X, y)
    >>> {name: spec.kind for name, spec in reg.modalities_.items()}
    {'tab': 'vector', 'img': 'image'}
    >>> reg.predict(X).shape
    (200,)
    """

    _y_validation = {"multi_output": True, "y_numeric": True}

    @staticmethod
    def _auto_wide_lr(n_samples):
        return 0.01 * min(1.0, (1000 / n_samples) ** 0.5)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _check_y(self, y):
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D; got shape {y.shape}.")
        return y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network on X and continuous targets y.

        Parameters
        ----------
        X : DataFrame, array-like of shape (n_samples, n_features) or dict
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : CrossModalRegressor
        """
        X, y, sample_weight, labeled = split_unlabeled(self, X, y, sample_weight)
        inputs, y = self._validate_fit(X, y)
        self._y_ndim = y.ndim
        y2 = y.reshape(len(y), -1)
        self.n_outputs_ = y2.shape[1]
        # dp_statistics="none": the targets are used as given (the caller
        # scales them with public statistics), nothing is learnt from them
        none = self.dp_statistics == "none"
        known = y2 if labeled is None else y2[labeled]
        self._y_mean = np.zeros(y2.shape[1]) if none else known.mean(axis=0)
        scale = np.ones(y2.shape[1]) if none else known.std(axis=0)
        self._y_scale = np.where(scale > 0, scale, 1.0)
        y_scaled = ((y2 - self._y_mean) / self._y_scale).astype(np.float32)
        weights = row_weights(sample_weight, len(y), zero_unlabeled(None, labeled))
        return self._fit_network(
            inputs,
            y_scaled,
            self.n_outputs_,
            nn.MSELoss,
            weights,
            stratify=False,
            labeled=labeled,
        )

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : DataFrame, array-like or dict

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        out = self._forward(X) * self._y_scale + self._y_mean
        return out.ravel() if self._y_ndim == 1 else out
