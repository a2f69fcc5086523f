"""The base class of CrossModalClassifier and CrossModalRegressor.

:class:`_BaseCrossModal` holds the shared parameters and the training: the
input checks (:class:`~skfusion._input.InputMixin`) give the network's input
dict, :func:`~skfusion._training.build_network` the
:class:`~skfusion.nn.CrossModalNet` with one encoder per modality, and
:func:`~skfusion._training.make_net` the skorch ``NeuralNet`` that trains
it, owned as ``net_`` (composition, not inheritance, so the estimator keeps
an explicit signature and sklearn's rules). Inference is
:class:`~skfusion._representation.RepresentationMixin`'s, persistence
:class:`~skfusion._persistence.PersistenceMixin`'s.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import TransformerTags, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._input import InputMixin
from ._names import SAMPLE_WEIGHT_KEY
from ._persistence import PersistenceMixin
from ._pretraining import PRETRAINING, pretrain, take_rows
from ._privacy import privacy_plan
from ._representation import RepresentationMixin
from ._spec import describe
from ._threads import resolve_threads, torch_threads
from ._training import (
    FUSIONS,
    OPTIMIZERS,
    build_network,
    check_workers,
    make_net,
    resolve_device,
)
from .nn.encoders import TOKEN_ENCODERS
from .nn.losses import ALIGNMENTS
from .nn.sequence import SEQUENCE_ENCODERS

__all__ = ["_BaseCrossModal"]


class _BaseCrossModal(InputMixin, PersistenceMixin, RepresentationMixin, BaseEstimator):
    """Shared parameters, fitting and inference; subclasses own the target."""

    _parameter_constraints: dict = {
        "modalities": [dict, None],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_dims": [tuple, list],
        "head_dims": [tuple, list],
        "cnn_channels": [tuple, list],
        "token_encoder": [StrOptions(set(TOKEN_ENCODERS))],
        "token_embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "sequence_encoder": [StrOptions(set(SEQUENCE_ENCODERS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "fusion": [StrOptions(set(FUSIONS))],
        "fusion_rank": [Interval(Integral, 1, None, closed="left")],
        "conditioning": [dict, None],
        "alignment": [StrOptions(set(ALIGNMENTS)), None],
        "alignment_weight": [Interval(Real, 0, None, closed="left")],
        "pretrain": [StrOptions(set(PRETRAINING))],
        "pretrain_epochs": [Interval(Integral, 0, None, closed="left")],
        "unlabeled_label": "no_validation",
        "wide_alpha": [Interval(Real, 0, None, closed="left")],
        "wide_lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "modality_dropout": [Interval(Real, 0, 1, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), callable],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"constant", "cosine"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [StrOptions({"cpu", "cuda", "auto"}), str],
        "amp": [StrOptions({"bf16", "fp16"}), None],
        "n_jobs": [Integral, None],
        "n_threads": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "progress": ["boolean"],
        "dp_epsilon": [Interval(Real, 0, None, closed="neither"), None],
        "dp_delta": [Interval(Real, 0, 1, closed="neither"), None],
        "dp_max_grad_norm": [Interval(Real, 0, None, closed="neither")],
        "dp_statistics": [StrOptions({"data", "none"})],
    }

    def __init__(
        self,
        *,
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
        unlabeled_label=None,
        wide_alpha=1e-6,
        wide_lr="auto",
        modality_dropout=0.0,
        optimizer="adamw",
        lr=1e-3,
        lr_schedule="cosine",
        weight_decay=1e-4,
        batch_size=64,
        max_epochs=10,
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
        self.modalities = modalities
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.head_dims = head_dims
        self.cnn_channels = cnn_channels
        self.token_encoder = token_encoder
        self.token_embedding_dim = token_embedding_dim
        self.sequence_encoder = sequence_encoder
        self.dropout = dropout
        self.fusion = fusion
        self.fusion_rank = fusion_rank
        self.conditioning = conditioning
        self.alignment = alignment
        self.alignment_weight = alignment_weight
        self.pretrain = pretrain
        self.pretrain_epochs = pretrain_epochs
        self.unlabeled_label = unlabeled_label
        self.wide_alpha = wide_alpha
        self.wide_lr = wide_lr
        self.modality_dropout = modality_dropout
        self.optimizer = optimizer
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.amp = amp
        self.n_jobs = n_jobs
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose
        self.progress = progress
        self.dp_epsilon = dp_epsilon
        self.dp_delta = dp_delta
        self.dp_max_grad_norm = dp_max_grad_norm
        self.dp_statistics = dp_statistics

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.dict = True
        # transform returns float32 whatever the input dtype
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        return tags

    def _training_params(self):
        """``get_params()`` with ``wide_lr`` resolved (``wide_lr_``): what
        the network and the skorch net are built from, in fit and when a
        saved estimator is loaded."""
        params = self.get_params()
        params["wide_lr"] = self.wide_lr_
        return params

    def _fit_network(
        self,
        inputs,
        y,
        n_outputs,
        criterion,
        row_weight,
        stratify,
        labeled=None,
        **criterion_params,
    ):
        """Build the network on ``inputs``, pretrain it (``pretrain_epochs``)
        and train it on ``y``. ``labeled`` (a boolean mask, or None: every
        row) marks the rows with a target; the others have row weight 0 and
        serve the pretraining and the alignment loss only: without
        ``alignment`` the supervised net never sees them."""
        if row_weight is not None:
            inputs = {**inputs, SAMPLE_WEIGHT_KEY: row_weight.astype(np.float32)}
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        supervised = None
        if labeled is not None and self.alignment is None:
            supervised = np.flatnonzero(labeled)
        n = len(y) if supervised is None else len(supervised)
        for name in ("epsilon_", "delta_", "noise_multiplier_"):
            self.__dict__.pop(name, None)  # from an earlier private fit
        # DP-SGD (dp_epsilon): refuses what cannot be private, before any work
        privacy = None if self.dp_epsilon is None else privacy_plan(self, criterion, n)
        self.wide_lr_ = (
            self._auto_wide_lr(n) if self.wide_lr == "auto" else float(self.wide_lr)
        )
        params = self._training_params()
        params["estimator_name"] = type(self).__name__  # the progress bar's label
        params["device"] = device = resolve_device(self.device)
        check_workers(self.n_jobs)
        cuda = [torch.device(device).index or 0] if device.startswith("cuda") else []
        threads = resolve_threads(self.n_threads, self.modalities_.values(), params)
        with torch.random.fork_rng(devices=cuda), torch_threads(threads):
            torch.manual_seed(seed)
            specs = list(self.modalities_.values())
            module = build_network(specs, inputs, n_outputs, params)
            if self.pretrain_epochs:
                curve = pretrain(module, specs, inputs, params, seed)
                self.pretrain_loss_curve_ = curve
            if supervised is not None:
                inputs, y = _labeled_rows(inputs, y, supervised)
            net = make_net(
                module,
                criterion,
                params,
                seed=seed,
                stratify=stratify,
                criterion_params=criterion_params,
                privacy=privacy,
            )
            if self.verbose:
                self._print_modalities()
            net.fit(inputs, y)
        self.net_ = net
        history = net.history
        self.n_iter_ = len(history)
        self.loss_curve_ = list(history[:, "train_loss"])
        if self.early_stopping:
            self.validation_loss_curve_ = list(history[:, "valid_loss"])
        if privacy is not None:
            self.epsilon_ = net.epsilon()
            self.delta_ = privacy["dp_delta"]
            self.noise_multiplier_ = privacy["dp_noise_multiplier"]
        return self

    def _print_modalities(self):
        """The modalities found in fit and why (``verbose >= 1``)."""
        found = describe(
            self.modalities_.values(),
            getattr(self, "feature_names_in_", None),
            declared=self.modalities is not None,
        )
        print(f"[{type(self).__name__}] modalities: {found}")

    def _forward(self, X):
        """Network outputs for X as a float64 array (eval mode, no grad)."""
        return self._run_module(X, "forward").astype(np.float64)


def _labeled_rows(inputs, y, rows):
    """The inputs and targets of the labeled ``rows``, their row weights
    rescaled to mean 1 again (what :func:`~skfusion._training.row_weights`
    gives over the rows that are trained on)."""
    inputs = take_rows(inputs, rows)
    weight = inputs.get(SAMPLE_WEIGHT_KEY)
    if weight is not None:
        inputs[SAMPLE_WEIGHT_KEY] = (weight * (weight.size / weight.sum())).astype(
            np.float32
        )
    return inputs, np.asarray(y)[rows]
