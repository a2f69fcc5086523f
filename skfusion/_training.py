"""The training machinery behind the estimators: network, skorch net, weights.

Kept apart from :mod:`skfusion.estimators`, which owns the scikit-learn API
(parameters, input validation, targets); the functions here take the
estimator's parameters as a dict (``estimator.get_params()``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping

import joblib
import numpy as np
import torch
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from skorch.dataset import ValidSplit, unpack_data
from skorch.utils import to_tensor
from torch import nn

from . import _distributed as ddp
from ._batching import BatchDataset, batch_loader
from ._names import PRESENT_KEY, SAMPLE_WEIGHT_KEY
from ._warnings import warn
from .exceptions import SkfusionResourceWarning
from .nn.conditioning import encoding_fusion
from .nn.encoders import CNNEncoder, MLPEncoder, TokenEncoder, attention_heads, mlp
from .nn.fusion import FUSIONS, AttentionFusion, GatedFusion, LateFusion, LowRankFusion
from .nn.losses import alignment_loss
from .nn.network import CrossModalNet, WideLinear
from .nn.sequence import make_sequence_encoder

__all__ = ["FUSIONS", "OPTIMIZERS", "build_network", "make_net", "row_weights"]

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}
#: Prediction (and validation) batches of a network of vector encoders,
#: token bags and wide paths, or on a GPU, hold at least this many rows: the
#: cost per batch dominates.
PREDICT_BATCH = 1024
#: On the CPU, convolutions and attention run fastest per row in batches of
#: 64 to 256 rows (a 32x32 CNN: 1.4x slower per row at 1024; see
#: benchmarks/README.md), so such networks predict at their training batch
#: size clipped to this range.
CONV_PREDICT_BATCH = (64, 256)


class WeightedNet(NeuralNet):
    """skorch net: weighted task loss plus an optional alignment loss.

    It extends skorch through its public hooks only:

    - ``get_dataset`` / ``get_iterator``: a dict of arrays becomes a
      :class:`~skfusion._batching.BatchDataset`, iterated by a torch
      ``DataLoader`` over whole batches (:func:`~skfusion._batching.batch_loader`);
      any other input takes skorch's own path.
    - ``train_step_single``: forward and loss under ``autocast`` (``amp``),
      backward outside it (scaled for fp16). skorch's ``train_step`` zeroes
      the gradients and steps the optimizer with it as the closure.
    - ``train_step``, for fp16 only: ``GradScaler.step`` takes no closure,
      so the step is zero-grad, ``train_step_single``, scaler step and update.
    - ``evaluation_step``: under ``autocast``.
    - ``get_loss``: the criterion is built with ``reduction="none"``; the
      row weights travel with the batch under ``SAMPLE_WEIGHT_KEY``
      (skorch's documented way to use sample weights) and were rescaled to
      mean 1 over the training rows, so the task loss is the mean of
      per-row loss x row weight (weights of shape (n, k) weigh each output
      of a row). A criterion with ``weighs_rows = True`` (the Cox partial
      likelihood, whose risk sets are weighted) takes the weights itself.
      In training, a module built with ``return_embeddings=True`` also
      returns the modality embeddings, and
      ``alignment_weight * alignment_loss(...)`` is added (unweighted by
      rows), and so is the wide path's penalty. Validation losses are task
      losses only.
    - ``on_train_begin`` (the net's own callback): the fp16 gradient scaler
      is made when training starts, so a net rebuilt for prediction
      (:mod:`skfusion._persistence`) has none.

    Parameters
    ----------
    alignment : {"contrastive", "mse"} or None
    alignment_weight : float
    wide_alpha : float
    amp : {"bf16", "fp16"} or None
    num_workers : int
        Worker processes that fetch (decode) the batches.
    **kwargs
        skorch ``NeuralNet`` arguments.
    """

    def __init__(
        self,
        *args,
        alignment=None,
        alignment_weight=0.0,
        wide_alpha=0.0,
        amp=None,
        num_workers=0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.alignment = alignment
        self.alignment_weight = alignment_weight
        self.wide_alpha = wide_alpha
        self.amp = amp
        self.num_workers = num_workers

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        # float16 gradients underflow without loss scaling; bfloat16 has
        # float32's exponent range and needs none.
        self.grad_scaler_ = (
            torch.amp.GradScaler(torch.device(self.device).type)
            if self.amp == "fp16"
            else None
        )

    def autocast(self):
        """The mixed-precision context of this net (a no-op when amp=None)."""
        return autocast(self.amp, self.device)

    def train_step_single(self, batch, **fit_params):
        """Forward and loss under ``autocast``, then backward (scaled for
        fp16, outside autocast as torch recommends)."""
        if not self.module_.training:  # what skorch does, once per epoch
            self.module_.train()
            self.criterion_.train()
        Xi, yi = unpack_data(batch)
        with self.autocast():
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler = getattr(self, "grad_scaler_", None)
        (loss if scaler is None else scaler.scale(loss)).backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        """skorch's step, except for fp16: ``GradScaler.step`` takes no
        closure, so zero-grad, :meth:`train_step_single`, then the scaler's
        step (which unscales and skips inf/NaN steps) and update."""
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None:
            return super().train_step(batch, **fit_params)
        self.optimizer_.zero_grad()
        step = self.train_step_single(batch, **fit_params)
        self.notify(
            "on_grad_computed",
            named_parameters=list(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        scaler.step(self.optimizer_)
        scaler.update()
        return step

    def evaluation_step(self, batch, training=False):
        with self.autocast():
            return super().evaluation_step(batch, training)

    def get_dataset(self, X, y=None):
        """A :class:`~skfusion._batching.BatchDataset` for a dict of inputs;
        skorch's dataset for anything else."""
        if isinstance(X, Mapping):
            return BatchDataset(X, y, device=self.device)
        return super().get_dataset(X, y)

    def get_iterator(self, dataset, training=False):
        """Whole batches by index over a BatchDataset (or a ``Subset`` of
        one, from skorch's ``ValidSplit``; in a data-parallel fit, this
        process's part of each training batch); skorch's DataLoader else."""
        params = self.get_params_for("iterator_train" if training else "iterator_valid")
        batch_size = params.get("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        context = ddp.distributed_context() if training else None
        loader = batch_loader(
            dataset,
            batch_size,
            training and params.get("shuffle", False),
            num_workers=self.num_workers,
            pin_memory=torch.device(self.device).type == "cuda",
            shard=None if context is None else (context.rank, context.world),
        )
        return super().get_iterator(dataset, training) if loader is None else loader

    def get_loss(self, y_pred, y_true, X=None, training=False):
        extra = 0.0
        if isinstance(y_pred, tuple):
            y_pred, embeddings, present = y_pred
            if self.alignment is not None:
                aligned = alignment_loss(embeddings, present, kind=self.alignment)
                extra = self.alignment_weight * aligned
        y_true = to_tensor(y_true, device=self.device)
        weight = None
        if isinstance(X, Mapping) and SAMPLE_WEIGHT_KEY in X:
            weight = to_tensor(X[SAMPLE_WEIGHT_KEY], device=self.device)
        if getattr(self.criterion_, "weighs_rows", False):
            # a loss that is not a sum over rows (Cox: the risk sets) takes
            # the row weights itself and returns the batch's loss (0 for an
            # empty part of a data-parallel batch)
            loss = y_pred.sum() * 0.0
            if len(y_pred):
                loss = self.criterion_(y_pred, y_true, weight)
        else:
            loss = self.criterion_(y_pred, y_true)
            if weight is not None:
                # row weights (n,) or weights per row and output (n, k)
                loss = loss * weight.reshape(
                    weight.shape + (1,) * (loss.ndim - weight.ndim)
                )
            loss = ddp.batch_mean(loss, training)  # of the global batch
        if training and self.wide_alpha:
            penalty = ddp.plain_module(self.module_).wide_penalty()
            extra = extra + self.wide_alpha * penalty
        return loss + extra


def resolve_device(device):
    """Map "auto"/"cuda"/"cpu" to a usable torch device string; in a
    data-parallel job, "cuda" is this process's GPU, ``cuda:<LOCAL_RANK>``."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        warn(
            f"device={device!r} was requested but CUDA is not available; "
            "training on the CPU instead.",
            UserWarning,
        )
        return "cpu"
    return ddp.local_device(device)


def _statistics(data, axes, present=None, block=1024, num_workers=0, name=None):
    """Mean and standard deviation over ``axes``, as broadcastable float32
    arrays; a constant feature gets scale 1.

    scikit-learn's ``StandardScaler.partial_fit`` computes them, streamed
    over the rows where ``present`` is true, ``block`` rows at a time
    (:func:`skfusion._batching.present_blocks`), with its float64
    accumulators and its test of a constant feature (a variance within the
    float error bounds of its mean, not a fixed cut: a feature with
    standard deviation 2e-7 keeps it). An image's statistics are per
    channel (axes 0, 2, 3). ``data`` is an array or a LazyImages, which is
    decoded one block at a time (in ``num_workers`` processes when > 0) and
    never held whole; both give bitwise the same statistics for the same
    pixels, and an array is never copied whole. Images of a LazyImages
    that cannot be read (``on_error="missing"``) are left out, with one
    warning naming the modality ``name``.
    """
    from ._batching import present_blocks, warn_unreadable

    shape = [1 if a in axes else n for a, n in enumerate(data.shape)][1:]
    scaler = StandardScaler()
    unreadable = []
    for chunk in present_blocks(data, present, block, num_workers, unreadable):
        kept = [a for a in range(chunk.ndim) if a not in axes]
        # rows x features: the reduced axes become rows
        features = np.moveaxis(chunk, kept, list(range(-len(kept), 0)))
        scaler.partial_fit(features.reshape(-1, int(np.prod(shape))))
    if unreadable:
        warn_unreadable(name, unreadable)
    if not hasattr(scaler, "mean_"):
        return np.zeros(shape, np.float32), np.ones(shape, np.float32)
    return (
        scaler.mean_.reshape(shape).astype(np.float32),
        scaler.scale_.reshape(shape).astype(np.float32),
    )


#: A vector modality (never lazy) streams its statistics in blocks of at
#: most this many bytes: fewer, larger partial_fit calls.
_VECTOR_BLOCK_BYTES = 64 * 2**20


def _vector_block(batch_size, spec):
    """Rows per statistics block of a vector modality: a training batch, or
    more, up to :data:`_VECTOR_BLOCK_BYTES` of float32 rows."""
    return max(batch_size, _VECTOR_BLOCK_BYTES // (4 * int(np.prod(spec.shape))))


def _placeholder_statistics(shape):
    """Shift 0 and scale 1 of ``shape``: statistics to be overwritten."""
    return np.zeros(shape, np.float32), np.ones(shape, np.float32)


def build_network(specs, inputs, n_outputs, params):
    """A CrossModalNet for these modalities, standardised on the training rows.

    Each encoder's input statistics come from the rows where its modality is
    present. ``params`` is the estimator's ``get_params()``. ``inputs=None``
    builds the same network without data, with placeholder statistics
    (shift 0, scale 1) of the right shapes: for a network whose weights and
    statistics are then loaded with ``load_state_dict``
    (:mod:`skfusion._persistence`). ``dp_statistics="none"`` gives those
    placeholder statistics too (no standardisation learnt from the rows).
    """
    if params.get("dp_statistics") == "none":
        inputs = None  # no statistics from the training rows
    present = None if inputs is None else inputs.get(PRESENT_KEY)
    # Statistics stream over the rows in blocks of one training batch: no
    # copy of the present rows, and a LazyImages never decodes more at once.
    block, workers = int(params["batch_size"]), n_workers(params.get("n_jobs"))
    encoders, wide = {}, {}
    for j, spec in enumerate(specs):
        data = None if inputs is None else inputs[spec.name]
        rows = None if present is None else present[:, j] > 0
        if spec.kind == "wide":
            wide[spec.name] = WideLinear(spec.vocab_size, n_outputs)
        elif spec.kind == "sequence":
            encoders[spec.name] = make_sequence_encoder(spec, data, rows, params)
        elif spec.kind == "tokens":
            encoders[spec.name] = TokenEncoder(
                spec.vocab_size,
                params["latent_dim"],
                spec.shape[0],
                params["token_embedding_dim"],
                params["token_encoder"],
                params["dropout"],
            )
        elif spec.kind == "image":
            shift, scale = (
                _placeholder_statistics((spec.shape[0], 1, 1))
                if data is None
                else _statistics(
                    data, (0, 2, 3), rows, block, num_workers=workers, name=spec.name
                )
            )
            encoders[spec.name] = CNNEncoder(
                spec.shape[0],
                params["latent_dim"],
                tuple(params["cnn_channels"]),
                params["dropout"],
                shift=shift,
                scale=scale,
            )
        else:
            shift, scale = (
                _placeholder_statistics(spec.shape)
                if data is None
                else _statistics(data, (0,), rows, _vector_block(block, spec))
            )
            encoders[spec.name] = MLPEncoder(
                spec.shape[0],
                params["latent_dim"],
                tuple(params["hidden_dims"]),
                params["dropout"],
                shift=shift,
                scale=scale,
            )
    fusion, head = None, None
    if encoders:
        fusion, head = _fusion_and_head(
            len(encoders), n_outputs, params, encoders, specs
        )
    return CrossModalNet(
        encoders,
        fusion,
        head,
        modality_dropout=params["modality_dropout"],
        return_embeddings=params["alignment"] is not None and bool(encoders),
        wide=wide,
        order=[spec.name for spec in specs],
    )


def _fusion_and_head(n_modalities, n_outputs, params, encoders=None, specs=()):
    dim, dropout, head_dims = (
        params["latent_dim"],
        params["dropout"],
        params["head_dims"],
    )
    kind = params["fusion"]
    if kind == "late":
        fusion = LateFusion(n_modalities, dim, n_outputs, head_dims, dropout)
        return fusion, nn.Identity()
    if kind == "attention":
        fusion = AttentionFusion(
            n_modalities, dim, n_heads=attention_heads(dim), dropout=dropout
        )
    elif kind == "low_rank":
        fusion = LowRankFusion(n_modalities, dim, rank=params["fusion_rank"])
    elif kind == "gated":
        fusion = GatedFusion(n_modalities, dim)
    elif kind in ("film", "cross_attention"):  # they run the encoders
        fusion = encoding_fusion(kind, encoders, specs, params)
    else:
        fusion = FUSIONS[kind](n_modalities, dim)
    return fusion, mlp(fusion.output_dim, head_dims, n_outputs, dropout)


class EpochProgress(Callback):
    """A tqdm bar over the epochs of one fit, on stderr, with the loss.

    ``tqdm.auto`` draws a widget in Jupyter and a text bar elsewhere. The
    bar is closed at the end of training, where it shows the epochs run:
    ``max_epochs``, or fewer when early stopping ended the fit. It is placed
    before early stopping among the callbacks, so the epoch that stops
    training is counted.
    """

    def __init__(self, desc):
        self.desc = desc

    def on_train_begin(self, net, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(
            total=net.max_epochs, desc=self.desc, unit="epoch", file=sys.stderr
        )

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        losses = {k: row[k] for k in ("train_loss", "valid_loss") if k in row}
        self.bar_.set_postfix({k: f"{v:.4f}" for k, v in losses.items()}, refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        bar = self.__dict__.pop("bar_", None)
        if bar is not None:
            bar.close()


def make_net(
    module,
    criterion,
    params,
    *,
    seed,
    stratify,
    criterion_params=None,
    privacy=None,
    net_class=None,
):
    """The skorch net that trains ``module`` as the estimator's params say;
    ``criterion_params`` are passed to the criterion (``criterion__<key>``).
    ``privacy``, the plan of :func:`skfusion._privacy.privacy_plan`, makes it
    a :class:`skfusion._privacy.PrivateNet` (DP-SGD); ``net_class`` is a
    subclass of :class:`WeightedNet` to build instead (pretraining). Under
    ``torchrun`` it trains data-parallel (:mod:`skfusion._distributed`)."""
    net_class, privacy = net_class or WeightedNet, dict(privacy or {})
    distributed = ddp.in_job(refuse_privacy=bool(privacy))
    if privacy:
        from ._privacy import PrivateNet

        net_class = PrivateNet
    optimizer = params["optimizer"]
    extra = {f"criterion__{k}": v for k, v in (criterion_params or {}).items()}
    if optimizer == "sgd":
        extra["optimizer__momentum"] = 0.9  # as sklearn's MLP "sgd" solver
    if isinstance(optimizer, str):
        optimizer = OPTIMIZERS[optimizer]
    callbacks, train_split = [], None
    if distributed:  # first: the progress bar and early stopping see its loss
        callbacks.append(("distributed", ddp.DistributedTraining()))
    if params.get("progress"):
        callbacks.append(("progress", EpochProgress(params.get("estimator_name"))))
    if params["early_stopping"]:
        train_split = ValidSplit(
            params["validation_fraction"], stratified=stratify, random_state=seed
        )
        stopper = EarlyStopping(
            monitor="valid_loss",
            patience=params["n_iter_no_change"],
            threshold=params["tol"],
            threshold_mode="rel",
            load_best=True,
            sink=print if params["verbose"] else (lambda *a, **k: None),
        )
        callbacks.append(("early_stopping", stopper))
    if getattr(module, "wide_names", None):
        # The wide path has its own step size, and its L2 penalty is in the
        # loss (wide_alpha), not a decoupled weight decay.
        extra["optimizer__param_groups"] = [
            ("wide.*", {"lr": params["wide_lr"], "weight_decay": 0.0})
        ]
    if params["lr_schedule"] == "cosine":
        # Cosine decay from lr to 0 over max_epochs, stepped once per epoch
        # (every parameter group, the wide path's included).
        schedule = LRScheduler(
            policy=torch.optim.lr_scheduler.CosineAnnealingLR,
            T_max=params["max_epochs"],
        )
        callbacks.append(("lr_schedule", schedule))
    if distributed:  # last: unwraps after early stopping restored the best
        callbacks.append(("data_parallel", ddp.DistributedModule()))
    return net_class(
        module=module,
        criterion=criterion,
        criterion__reduction="none",
        optimizer=optimizer,
        optimizer__weight_decay=params["weight_decay"],
        lr=params["lr"],
        max_epochs=params["max_epochs"],
        batch_size=params["batch_size"],
        iterator_train__shuffle=True,
        iterator_valid__batch_size=predict_batch_size(
            module, params["batch_size"], params["device"]
        ),
        train_split=train_split,
        callbacks=callbacks,
        predict_nonlinearity=None,
        device=resolve_device(params["device"]),
        verbose=params["verbose"],
        alignment=params["alignment"],
        alignment_weight=params["alignment_weight"],
        wide_alpha=params["wide_alpha"],
        amp=params["amp"],
        num_workers=n_workers(params["n_jobs"]),
        **privacy,
        **extra,
    )


def predict_batch_size(module, batch_size, device):
    """Rows per prediction (and validation) batch for ``module`` on ``device``:
    the training batch size clipped to :data:`CONV_PREDICT_BATCH` for a
    network with a CNN or a token convolution or transformer on the CPU,
    else at least :data:`PREDICT_BATCH`."""
    encoders = getattr(module, "encoders", ())
    convolutional = any(
        isinstance(e, CNNEncoder)
        or (isinstance(e, TokenEncoder) and e.kind in ("conv", "transformer"))
        for e in encoders
    )
    if convolutional and torch.device(resolve_device(device)).type == "cpu":
        low, high = CONV_PREDICT_BATCH
        return min(max(int(batch_size), low), high)
    return max(int(batch_size), PREDICT_BATCH)


def autocast(amp, device):
    """``torch.autocast`` for ``amp`` ("bf16", "fp16") on ``device``, or a
    no-op context for ``amp=None``."""
    if amp is None:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(torch.device(device).type, dtype=dtype)


def n_workers(n_jobs):
    """Decoding worker processes for ``n_jobs``: 0 (decode in this process)
    for None or 1; a negative value counts back from the CPUs, as in joblib;
    never more than the CPUs this process may use (torch's DataLoader warns
    beyond that, and more workers than CPUs only adds start-up time)."""
    if n_jobs is None:
        return 0
    workers = min(joblib.effective_n_jobs(n_jobs), joblib.cpu_count())
    return workers if workers > 1 else 0


def check_workers(n_jobs):
    """Warn once, in fit, when ``n_jobs`` asks for more decoding workers than
    there are CPUs: :func:`n_workers` lowers it silently everywhere else."""
    cpus = joblib.cpu_count()
    if n_jobs is not None and n_jobs > cpus:
        warn(
            f"n_jobs={n_jobs} asks for more image-decoding worker processes "
            f"than the {cpus} CPU(s) this process may use; skfusion uses "
            f"{n_workers(n_jobs)} (0 means: decode in this process). Pass "
            "n_jobs=-1 for one worker per CPU.",
            SkfusionResourceWarning,
        )


def row_weights(sample_weight, n, extra=None):
    """Combine sample_weight and class weights, rescaled to mean 1.

    ``extra`` holds the class weights per row, shape (n,), or per row and
    output, shape (n, k) (a multilabel y: each label's class weight); a
    row's sample weight multiplies all of its outputs. The result has the
    shape of ``extra`` ((n,) without it) and mean 1 over all its entries,
    which is what :meth:`WeightedNet.get_loss` averages over. Returns None
    when neither is given (an unweighted loss).
    """
    if sample_weight is None and extra is None:
        return None
    w = np.ones(n) if extra is None else np.asarray(extra, dtype=np.float64)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.ndim == 0:
            sw = np.full(n, float(sw))
        if sw.shape != (n,):
            raise ValueError(
                f"sample_weight has shape {sw.shape}; expected ({n},), one "
                "weight per row of X."
            )
        if not np.isfinite(sw).all() or (sw < 0).any():
            raise ValueError("sample_weight must be finite and non-negative.")
        w = w * sw.reshape((n,) + (1,) * (w.ndim - 1))
    if w.sum() <= 0:
        raise ValueError("sample_weight sums to zero; at least one row needs weight.")
    return w * (w.size / w.sum())
