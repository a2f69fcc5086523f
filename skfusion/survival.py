"""Time to event with censoring: :class:`CrossModalSurvival`.

The same modalities, encoders, fusions and training as
:class:`~skfusion.CrossModalClassifier`, with a survival head and the
prediction API of scikit-survival (``predict`` a risk score,
``predict_survival_function``, ``predict_cumulative_hazard_function``,
``score`` Harrell's concordance index). scikit-survival itself is not
needed; its scorers and metrics work on this estimator
(``pip install skfusion[survival]``).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from scipy.special import expit
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import _BaseCrossModal
from ._training import row_weights
from .metrics._survival import check_survival_y, concordance_index
from .nn.losses import CoxPHLoss, DiscreteTimeLoss

__all__ = ["CrossModalSurvival", "StepFunction"]

SURVIVAL_LOSSES = {"cox": CoxPHLoss, "discrete": DiscreteTimeLoss}


class StepFunction:
    """A right-continuous step function of time, as scikit-survival returns.

    ``f(t) = y[i]`` for ``x[i] <= t < x[i + 1]``, ``initial`` before
    ``x[0]`` (1 for a survival function, 0 for a cumulative hazard) and
    ``y[-1]`` after the last time. Called with an array of times, it returns
    an array.

    Attributes
    ----------
    x : ndarray of shape (n_times,)
        The times where the function steps, increasing.
    y : ndarray of shape (n_times,)
        Its values from each of those times on.
    initial : float
        Its value before ``x[0]`` (at time 0 when ``x[0] > 0``).
    domain : tuple of float
        ``(0, x[-1])``: where the function is estimated; beyond, it stays at
        its last value.
    """

    def __init__(self, x, y, initial):
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.initial = float(initial)

    @property
    def domain(self):
        return (0.0, float(self.x[-1]))

    def __call__(self, t):
        t = np.asarray(t, dtype=np.float64)
        if np.any(t < 0) or not np.all(np.isfinite(t)):
            raise ValueError("Times must be finite and >= 0.")
        position = np.searchsorted(self.x, t, side="right") - 1
        values = np.where(position >= 0, self.y[np.maximum(position, 0)], self.initial)
        return values if values.ndim else float(values)

    def __repr__(self):
        return (
            f"StepFunction(x=<{len(self.x)} times from {self.x[0]:g} to "
            f"{self.x[-1]:g}>, initial={self.initial:g})"
        )


def _time_bins(time, event, n_time_bins):
    """Upper edges of the discrete-time intervals: quantiles of the event
    times (observed times, unique), the last one the latest event."""
    quantiles = np.linspace(0, 1, n_time_bins + 1)[1:]
    return np.unique(np.quantile(time[event], quantiles, method="inverted_cdf"))


def _numeric_view(y):
    """y with a structured array as float columns, for the checks of X."""
    if isinstance(y, np.ndarray) and y.dtype.names is not None:
        return np.column_stack([y[name].astype(np.float64) for name in y.dtype.names])
    return y


def _hazard_logits(interval, event, n_intervals, weight):
    """Logits of the training set's hazard per interval (events in it over
    rows at risk at its start, as the loss counts them), clipped to
    [1e-4, 1 - 1e-4]."""
    weight = np.ones(len(interval)) if weight is None else weight
    events = np.bincount(interval, weights=event * weight, minlength=n_intervals)
    leaving = np.bincount(interval, weights=weight, minlength=n_intervals)
    at_risk = np.cumsum(leaving[::-1])[::-1]
    hazard = np.clip(events / np.maximum(at_risk, 1e-12), 1e-4, 1 - 1e-4)
    return np.log(hazard / (1 - hazard)).astype(np.float32)


def _breslow(time, event, log_hazard, weight):
    """Breslow's baseline cumulative hazard at the unique times.

    ``H0(t) = sum over event times s <= t of d(s) / sum_{j: t_j >= s}
    w_j exp(eta_j)``, with ``d(s)`` the (weighted) events at s. ``eta`` is
    used as given (the caller centres it).
    """
    unique, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event * weight, minlength=len(unique))
    at_time = np.bincount(
        inverse, weights=weight * np.exp(log_hazard), minlength=len(unique)
    )
    at_risk = np.cumsum(at_time[::-1])[::-1]
    return unique, np.cumsum(deaths / at_risk)


class CrossModalSurvival(_BaseCrossModal):
    """Survival model (time to event, censored) that fuses several modalities.

    The network of :class:`~skfusion.CrossModalClassifier` (an encoder per
    modality into a shared space Z, a fusion, a head) with a survival
    output, trained on right-censored times:

    - ``loss="cox"``: one output, the log hazard ``eta(x)`` of a
      proportional-hazards model, trained with the negative Cox partial
      log-likelihood (Breslow's ties) over each batch
      (:class:`skfusion.nn.losses.CoxPHLoss`); the baseline cumulative
      hazard is Breslow's estimate on the training rows after the fit.
    - ``loss="discrete"``: ``n_time_bins`` outputs, the hazards of
      intervals cut at quantiles of the event times (logistic hazard, a
      DeepHit-like discrete-time model without the proportional-hazards
      assumption), trained with their censored negative log-likelihood
      (:class:`skfusion.nn.losses.DiscreteTimeLoss`).

    Parameters
    ----------
    loss : {"cox", "discrete"}, default="cox"
        The survival model and its loss (above).
    n_time_bins : int, default=20
        Intervals of ``loss="discrete"`` (fewer when event times tie).
    batch_size : int, default=64
        Training batch size. The Cox partial likelihood compares each event
        with the rows at risk *in its batch*, so the batch is a sample of
        the risk sets: a batch of all the rows (``batch_size >= n_samples``)
        is the exact partial likelihood (full-batch gradient descent), and
        small batches make noisier risk sets (64 rows at 30% events: about
        19 events per batch). Measured on five of scikit-survival's tables
        (5-fold C-index, benchmarks/README.md), 64 rows and 60 epochs did
        as well as 256 rows (mean C 0.717 against 0.712): more steps
        outweighed the noisier risk sets. With rare events (a few percent),
        use larger batches.
    max_epochs : int, default=60
        Passes over the training data. Survival tables are small (hundreds
        to a few thousand rows), so more passes than the classifier's 10.
    modalities, latent_dim, hidden_dims, head_dims, cnn_channels, \
token_encoder, token_embedding_dim, sequence_encoder, dropout, fusion, \
fusion_rank, conditioning, alignment, \
alignment_weight, pretrain, pretrain_epochs, wide_alpha, wide_lr, \
modality_dropout, optimizer, lr, lr_schedule, weight_decay, early_stopping, \
validation_fraction, n_iter_no_change, tol, device, amp, n_jobs, n_threads, \
random_state, verbose, progress, dp_epsilon, dp_delta, dp_max_grad_norm, dp_statistics
        As in :class:`~skfusion.CrossModalClassifier`. The early-stopping
        split is not stratified; its validation loss is the survival loss
        of the held-out rows. ``dp_epsilon`` (differentially private
        training) needs ``loss="discrete"``: the Cox partial likelihood
        couples the rows of a batch (risk sets), so clipping one row's
        gradient does not bound its influence, and ``loss="cox"`` is
        refused. The discrete model's interval edges (quantiles of the
        event times), its hazard offsets (unless ``dp_statistics="none"``)
        and ``event_ratio_`` are learnt from the rows without noise: not
        covered by the guarantee.

    Attributes
    ----------
    unique_times_ : ndarray of shape (n_times,)
        The times at which the survival functions step: the unique training
        times (``"cox"``, as scikit-survival's ``CoxPHSurvivalAnalysis``) or
        the interval edges (``"discrete"``). ``return_array=True`` gives the
        functions at these times.
    baseline_cumulative_hazard_ : ndarray of shape (n_times,)
        ``"cox"`` only: Breslow's ``H0`` at ``unique_times_``, for the log
        hazard minus ``log_hazard_offset_``.
    log_hazard_offset_ : float
        ``"cox"`` only: the mean training log hazard, subtracted before
        exponentiating (numerical range).
    time_bins_ : ndarray
        ``"discrete"`` only: the upper edges of the intervals.
    hazard_offset_ : ndarray of shape (n_intervals,)
        ``"discrete"`` only: the logits of the training set's hazard per
        interval, added to the network's outputs (in the loss and in
        prediction), so that training starts from the population's hazards.
    event_ratio_ : float
        Share of training rows with an event.
    n_outputs_ : int
        Outputs of the network: 1 (``"cox"``) or the number of intervals.
    modalities_, net_, n_iter_, wide_lr_, loss_curve_, \
validation_loss_curve_, epsilon_, delta_, noise_multiplier_, n_features_in_, \
feature_names_in_
        As in :class:`~skfusion.CrossModalClassifier`.

    See Also
    --------
    skfusion.metrics.concordance_index : Harrell's C, what ``score`` returns.
    skfusion.metrics.survival_array : Build the target from event and time.

    Notes
    -----
    **The target** is scikit-survival's: a structured array with a bool
    event field and a float time field (``Surv.from_arrays(event, time)``
    or :func:`skfusion.metrics.survival_array`), or a 2-column array or
    DataFrame ``(time, event)``. Negative or missing times, no event at
    all, or a single row raise an error naming the row.

    **scikit-survival's scorers** (``as_concordance_index_ipcw_scorer``,
    ``as_integrated_brier_score_scorer``, ``as_cumulative_dynamic_auc_scorer``)
    wrap this estimator, or a Pipeline ending in it (importing sksurv adds
    ``predict_survival_function`` to sklearn's Pipeline), for
    ``GridSearchCV`` and ``cross_val_score``. Its metrics take
    ``predict(X)`` as the risk estimate and ``predict_survival_function(X,
    return_array=True)`` or ``StepFunction`` calls as survival estimates.

    ``sample_weight`` weighs each row's loss (and, for Cox, its place in
    the risk sets and in Breslow's estimate).

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import CrossModalSurvival
    >>> from skfusion.metrics import survival_array
    >>> rng = np.random.default_rng(0)
    >>> X = {"lab": rng.normal(size=(300, 3)), "img": rng.random((300, 1, 8, 8))}
    >>> hazard = np.exp(X["lab"][:, 0])
    >>> y = survival_array(rng.random(300) < 0.8, rng.exponential(1 / hazard))
    >>> model = CrossModalSurvival(max_epochs=20, random_state=0).fit(X, y)
    >>> model.score(X, y) > 0.65
    True
    >>> model.predict_survival_function(X, return_array=True).shape[0]
    300
    """

    _parameter_constraints: dict = {
        **_BaseCrossModal._parameter_constraints,
        "loss": [StrOptions(set(SURVIVAL_LOSSES))],
        "n_time_bins": [Interval(Integral, 2, None, closed="left")],
    }
    _y_validation = {"multi_output": True, "y_numeric": True}

    @staticmethod
    def _auto_wide_lr(n_samples):
        return 0.01

    def __init__(
        self,
        *,
        loss="cox",
        n_time_bins=20,
        modalities=None,
        latent_dim=32,
        hidden_dims=(),
        head_dims=(64,),
        cnn_channels=(16, 32),
        token_encoder="mean",
        token_embedding_dim=64,
        sequence_encoder="gru",
        dropout=0.3,
        fusion="concat",
        fusion_rank=4,
        conditioning=None,
        alignment=None,
        alignment_weight=0.1,
        pretrain="contrastive",
        pretrain_epochs=0,
        wide_alpha=1e-6,
        wide_lr="auto",
        modality_dropout=0.0,
        optimizer="adamw",
        lr=1e-3,
        lr_schedule="cosine",
        weight_decay=1e-4,
        batch_size=64,
        max_epochs=60,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        device="cpu",
        amp=None,
        n_jobs=None,
        n_threads="auto",
        random_state=None,
        verbose=0,
        progress=False,
        dp_epsilon=None,
        dp_delta=None,
        dp_max_grad_norm=1.0,
        dp_statistics="data",
    ):
        super().__init__(
            modalities=modalities,
            latent_dim=latent_dim,
            hidden_dims=hidden_dims,
            head_dims=head_dims,
            cnn_channels=cnn_channels,
            token_encoder=token_encoder,
            token_embedding_dim=token_embedding_dim,
            sequence_encoder=sequence_encoder,
            dropout=dropout,
            fusion=fusion,
            fusion_rank=fusion_rank,
            conditioning=conditioning,
            alignment=alignment,
            alignment_weight=alignment_weight,
            pretrain=pretrain,
            pretrain_epochs=pretrain_epochs,
            wide_alpha=wide_alpha,
            wide_lr=wide_lr,
            modality_dropout=modality_dropout,
            optimizer=optimizer,
            lr=lr,
            lr_schedule=lr_schedule,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            device=device,
            amp=amp,
            n_jobs=n_jobs,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
            progress=progress,
            dp_epsilon=dp_epsilon,
            dp_delta=dp_delta,
            dp_max_grad_norm=dp_max_grad_norm,
            dp_statistics=dp_statistics,
        )
        self.loss = loss
        self.n_time_bins = n_time_bins

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _check_y(self, y):
        return np.asarray(y, dtype=np.float64)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network on X and censored times y.

        Parameters
        ----------
        X : DataFrame, array-like of shape (n_samples, n_features) or dict
            Numeric features grouped into modalities (see
            :class:`~skfusion.CrossModalClassifier`).
        y : structured array of shape (n_samples,), or array-like or
            DataFrame of shape (n_samples, 2)
            A bool event field and a float time field
            (``sksurv.util.Surv.from_arrays(event, time)``), or the columns
            (time, event).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the loss.

        Returns
        -------
        self : CrossModalSurvival
        """
        # X is checked first, with y as plain numbers (scikit-learn's errors
        # for X come before the survival target's)
        inputs, _ = self._validate_fit(X, _numeric_view(y))
        event, time = check_survival_y(y, estimator_name=type(self).__name__)
        weights = row_weights(sample_weight, len(time))
        if self.loss == "cox":
            # the rank of the time: exact ties and order, whatever the scale
            rank = np.unique(time, return_inverse=True)[1]
            target = np.column_stack([rank, event]).astype(np.float32)
            n_outputs = 1
            extra = {}
        else:
            bins = _time_bins(time, event, self.n_time_bins)
            interval = np.minimum(np.searchsorted(bins, time), len(bins) - 1)
            target = np.column_stack([interval, event]).astype(np.float32)
            n_outputs = len(bins)
            self.hazard_offset_ = (
                np.zeros(len(bins), np.float32)
                if self.dp_statistics == "none"
                else _hazard_logits(interval, event, len(bins), weights)
            )
            extra = {"offset": self.hazard_offset_}
        self.n_outputs_ = n_outputs
        self._fit_network(
            inputs,
            target,
            n_outputs,
            SURVIVAL_LOSSES[self.loss],
            weights,
            False,
            **extra,
        )
        self.event_ratio_ = float(event.mean())
        if self.loss == "cox":
            eta = self._run_inputs(inputs, "forward").astype(np.float64).ravel()
            self.log_hazard_offset_ = float(eta.mean())
            self.unique_times_, self.baseline_cumulative_hazard_ = _breslow(
                time,
                event,
                eta - self.log_hazard_offset_,
                np.ones(len(time)) if weights is None else weights,
            )
        else:
            self.time_bins_ = self.unique_times_ = bins
        return self

    def _outputs(self, X):
        """The network's outputs; for "discrete", with the training set's
        hazard logits added (as in the loss)."""
        out = self._forward(X)
        return out + self.hazard_offset_ if self.loss == "discrete" else out

    def _survival_at_times(self, X):
        """Survival probabilities at ``unique_times_``, (n, n_times)."""
        out = self._outputs(X)
        if self.loss == "cox":
            risk = np.exp(out[:, 0] - self.log_hazard_offset_)
            return np.exp(-np.outer(risk, self.baseline_cumulative_hazard_))
        return np.cumprod(1.0 - expit(out), axis=1)

    def predict(self, X):
        """Risk scores: higher means an earlier event.

        ``"cox"``: the log hazard ``eta(x)``. ``"discrete"``: minus the
        expected time to the event restricted to the last interval edge
        (the area under the survival function up to it).

        Parameters
        ----------
        X : DataFrame, array-like or dict

        Returns
        -------
        risk : ndarray of shape (n_samples,)
        """
        if self.loss == "cox":
            return self._outputs(X)[:, 0]
        survival = self._survival_at_times(X)
        before = np.hstack([np.ones((len(survival), 1)), survival[:, :-1]])
        widths = np.diff(self.time_bins_, prepend=0.0)
        return -(before * widths).sum(axis=1)

    def predict_survival_function(self, X, return_array=False):
        """Survival functions ``S(t | x)``, as scikit-survival gives them.

        Parameters
        ----------
        X : DataFrame, array-like or dict
        return_array : bool, default=False
            True: an array of ``S`` at ``unique_times_``. False: one
            :class:`StepFunction` per row (1 at time 0, non-increasing).

        Returns
        -------
        ndarray of shape (n_samples, n_times), or of StepFunction objects
        """
        survival = self._survival_at_times(X)
        if return_array:
            return survival
        return self._step_functions(survival, initial=1.0)

    def predict_cumulative_hazard_function(self, X, return_array=False):
        """Cumulative hazard functions ``H(t | x) = -log S(t | x)``.

        Parameters
        ----------
        X : DataFrame, array-like or dict
        return_array : bool, default=False
            As in :meth:`predict_survival_function`.

        Returns
        -------
        ndarray of shape (n_samples, n_times), or of StepFunction objects
        """
        if self.loss == "cox":
            risk = np.exp(self._outputs(X)[:, 0] - self.log_hazard_offset_)
            hazard = np.outer(risk, self.baseline_cumulative_hazard_)
        else:
            hazard = np.cumsum(-np.log1p(-expit(self._outputs(X))), axis=1)
        if return_array:
            return hazard
        return self._step_functions(hazard, initial=0.0)

    def _step_functions(self, values, initial):
        functions = np.empty(len(values), dtype=object)
        for i, row in enumerate(values):
            functions[i] = StepFunction(self.unique_times_, row, initial)
        return functions

    def score(self, X, y, sample_weight=None):
        """Harrell's concordance index of ``predict(X)`` on y.

        Parameters
        ----------
        X : DataFrame, array-like or dict
        y : survival target (as in :meth:`fit`)
        sample_weight : None
            Not supported (Harrell's C is unweighted); must be None.

        Returns
        -------
        float
        """
        if sample_weight is not None:
            raise ValueError(
                "CrossModalSurvival.score computes Harrell's concordance index, "
                "which takes no sample_weight."
            )
        return concordance_index(y, self.predict(X))
