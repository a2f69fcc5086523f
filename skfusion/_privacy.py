"""Differentially private training (DP-SGD) through Opacus: ``dp_epsilon``.

With ``dp_epsilon`` set, an estimator trains its network with DP-SGD (Abadi
et al., 2016): each step samples the rows by Poisson sampling (each row
independently with probability ``q = batch_size / n_samples``), computes
each row's gradient, clips it to the norm ``dp_max_grad_norm``, sums the
clipped gradients, adds Gaussian noise of standard deviation
``noise_multiplier * dp_max_grad_norm`` and divides by the expected batch
size ``q * n_samples``; the optimizer (AdamW, Adam or SGD) then steps on this
noisy gradient. An RDP accountant counts the privacy spent.

How the pieces are split, and why:

- **Per-sample gradients** are computed here, for the whole network at
  once, with ``torch.func``: ``vmap(grad(one row's loss))`` over the rows of
  the batch (the recipe of PyTorch's per-sample-gradients tutorial, and what
  Opacus's ``grad_sample_mode="functorch"`` does layer by layer). Opacus's
  hook-based ``GradSampleModule`` sees one module at a time and its first
  positional input only, so it cannot handle the fusions (a list of
  embeddings plus a presence matrix, learned parameters such as the
  "absent" embeddings held next to sub-modules). Computing each row's
  gradient from a function of that row alone also means that no layer can
  mix rows: no ``ModuleValidator`` pass is needed (the networks have no
  BatchNorm; the CNN uses GroupNorm, the transformers LayerNorm).
- **Clipping, noise and the step** are Opacus's ``DPOptimizer``, fed through
  its documented input, ``p.grad_sample`` (one gradient per row).
- **Accounting**: Opacus's ``RDPAccountant``, stepped by the optimizer's
  step hook (``attach_step_hook``, as Opacus's ``PrivacyEngine`` does), and
  ``get_noise_multiplier`` for the noise that reaches ``dp_epsilon`` after
  ``max_epochs`` epochs of ``round(1 / q)`` steps.
- **Poisson sampling** is :class:`skfusion._batching.PoissonBatches`.

All of it plugs into skorch through public hooks, in :class:`PrivateNet`:
``initialize_optimizer`` (wrap the optimizer), ``get_iterator`` (Poisson
batches in training), ``train_step_single`` (per-sample gradients),
``on_epoch_end`` (``epsilon`` in the history) and ``on_train_end``.

What is refused, because one row's influence would not be bounded by the
clipping: the Cox partial likelihood (``CrossModalSurvival(loss="cox")``,
risk sets couple the rows of a batch), the contrastive alignment (InfoNCE
across the batch), early stopping (the validation rows select the model
without noise) and mixed precision (``amp``).
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import torch
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn

from ._batching import batch_loader
from ._training import WeightedNet
from .nn.losses import row_alignment_mse

__all__ = ["PrivateNet", "default_delta", "privacy_plan"]

INSTALL = 'pip install "skfusion[privacy]"'

#: The accountant of :func:`privacy_plan` and :class:`PrivateNet`.
ACCOUNTANT = "rdp"
#: Rényi orders of the accountant. Opacus's default grid has 99
#: fractional orders (1.1 to 10.9), each a slow series when the noise is
#: small; this grid keeps three and has larger orders, which short
#: trainings with a high sample rate need. ε is the minimum over the grid,
#: so any grid gives a valid bound; this one gives noise multipliers within
#: 2% of the default grid's (benchmarks/privacy.py's settings), 3 to 6
#: times faster.
ALPHAS = [
    1.25,
    1.5,
    1.75,
    *range(2, 13),
    *range(14, 33, 2),
    *(40, 48, 56, 64, 80, 96, 128, 192, 256, 512),
]


def import_opacus():
    """The ``opacus`` package, or an ImportError that says how to install it."""
    try:
        import opacus
    except ImportError as error:
        raise ImportError(
            f"dp_epsilon needs Opacus, which is not installed: {INSTALL} (or "
            "pip install opacus), or leave dp_epsilon=None."
        ) from error
    return opacus


def default_delta(n_samples):
    """The default ``dp_delta``: ``1 / n**1.1``, below ``1 / n`` (a δ of
    ``1 / n`` or more allows a mechanism that publishes a row outright)."""
    return 1.0 / float(n_samples) ** 1.1


def check_private(estimator, criterion):
    """Refuse what DP-SGD cannot make private, naming the parameter and the
    fix (``dp_epsilon`` is set)."""
    name = type(estimator).__name__
    off = "or leave dp_epsilon=None (no privacy)"
    if getattr(criterion, "weighs_rows", False):
        raise ValueError(
            f"{name}(loss={getattr(estimator, 'loss', None)!r}) cannot be "
            "trained with dp_epsilon: the Cox partial likelihood couples the "
            "rows of a batch (each event is compared with its risk set), so "
            "clipping one row's gradient does not bound that patient's "
            "influence. Use loss='discrete' (one loss per row), "
            f"{off}."
        )
    if estimator.alignment == "contrastive":
        raise ValueError(
            "alignment='contrastive' cannot be used with dp_epsilon: InfoNCE "
            "scores each row against the other rows of its batch, so one "
            "row's influence is not bounded by per-row clipping. Use "
            f"alignment='mse' (per row) or alignment=None, {off}."
        )
    if getattr(estimator, "pretrain_epochs", 0):
        raise ValueError(
            f"pretrain_epochs={estimator.pretrain_epochs} cannot be used with "
            "dp_epsilon: pretraining fits the encoders on the rows with the "
            "contrastive loss (each row scored against its batch), without "
            f"noise. Set pretrain_epochs=0, {off}."
        )
    if estimator.early_stopping:
        raise ValueError(
            "early_stopping=True cannot be used with dp_epsilon: the "
            "validation rows would choose the epoch and the weights without "
            "any noise, outside the privacy guarantee. Set "
            f"early_stopping=False and choose max_epochs beforehand, {off}."
        )
    if estimator.amp is not None:
        raise ValueError(
            f"amp={estimator.amp!r} cannot be used with dp_epsilon: the "
            "per-sample gradients of DP-SGD are computed in float32. Set "
            f"amp=None, {off}."
        )


def privacy_plan(estimator, criterion, n_samples):
    """The keyword arguments of :class:`PrivateNet` for this fit: the noise
    that reaches ``dp_epsilon`` at ``dp_delta`` after ``max_epochs`` epochs.

    Checks what cannot be made private (:func:`check_private`) and the
    budget; needs Opacus.
    """
    import_opacus()
    check_private(estimator, criterion)
    epsilon = float(estimator.dp_epsilon)
    delta = (
        default_delta(n_samples)
        if estimator.dp_delta is None
        else float(estimator.dp_delta)
    )
    if delta >= 1.0 / n_samples:
        raise ValueError(
            f"dp_delta={delta:g} is not below 1 / n_samples = "
            f"{1.0 / n_samples:g}: a δ that large allows a mechanism that "
            "publishes a whole row. Pass a smaller dp_delta, or None for the "
            f"default 1 / n_samples**1.1 = {default_delta(n_samples):.3g}."
        )
    rate = min(1.0, estimator.batch_size / n_samples)
    steps = max(1, round(1.0 / rate))
    try:
        sigma = noise_multiplier(epsilon, delta, rate, steps * estimator.max_epochs)
    except ValueError as error:  # "The privacy budget is too low."
        raise ValueError(
            f"dp_epsilon={epsilon:g} cannot be reached at dp_delta={delta:.3g} "
            f"with {estimator.max_epochs} epochs of {steps} steps (the noise "
            "would be unbounded). Raise dp_epsilon, or lower max_epochs or "
            "batch_size."
        ) from error
    return {
        "dp_noise_multiplier": float(sigma),
        "dp_max_grad_norm": float(estimator.dp_max_grad_norm),
        "dp_sample_rate": rate,
        "dp_steps": steps,
        "dp_delta": delta,
        # q * n: what DPOptimizer divides the noisy sum by
        "dp_expected_batch_size": rate * n_samples,
    }


@functools.lru_cache(maxsize=256)
def noise_multiplier(epsilon, delta, rate, steps):
    """Opacus's ``get_noise_multiplier`` for the RDP accountant on
    :data:`ALPHAS` (cached: a grid search asks for the same ones again)."""
    from opacus.accountants.utils import get_noise_multiplier

    with _quiet_accountant():
        return get_noise_multiplier(
            target_epsilon=epsilon,
            target_delta=delta,
            sample_rate=rate,
            steps=steps,
            accountant=ACCOUNTANT,
            # a relative precision: the bisection ends for a large ε too
            epsilon_tolerance=0.01 * min(1.0, epsilon),
            alphas=ALPHAS,
        )


@contextlib.contextmanager
def _quiet_accountant():
    """Silence Opacus's hint that the best Rényi order is at an end of the
    grid: ε is still a valid (if looser) bound, and the hint would come at
    every epoch of a fit with a very large or very small dp_epsilon."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Optimal order is the")
        yield


def spent_epsilon(history, delta):
    """ε at ``delta`` of an RDP accountant's ``history`` (its ``(noise
    multiplier, sample rate, steps)`` entries): what ``RDPAccountant.
    get_epsilon(delta, alphas=ALPHAS)`` computes, with the Rényi divergence
    of one step cached (it is linear in the steps), so recording ε at every
    epoch costs nothing."""
    from opacus.accountants.analysis.rdp import get_privacy_spent

    if not history:
        return 0.0
    rdp = sum(steps * _rdp_of_one_step(sigma, rate) for sigma, rate, steps in history)
    with _quiet_accountant():
        epsilon, _ = get_privacy_spent(orders=ALPHAS, rdp=rdp, delta=delta)
    return float(epsilon)


@functools.lru_cache(maxsize=256)
def _rdp_of_one_step(sigma, rate):
    from opacus.accountants.analysis.rdp import compute_rdp

    return compute_rdp(q=rate, noise_multiplier=sigma, steps=1, orders=ALPHAS)


class _RowLoss(nn.Module):
    """One batch's per-row training loss as a module, so that
    ``torch.func.functional_call`` swaps the network's parameters for the
    whole computation (the wide path's penalty included)."""

    def __init__(self, net):
        super().__init__()
        self.network = net.module_
        self.__dict__["net"] = net  # not a sub-module

    def forward(self, inputs, y, kept):
        out = self.network.output(inputs, kept)
        return self.net.row_loss(out, y, inputs), out


def per_sample_gradients(net, inputs, y, kept=None):
    """Each row's gradient of its own training loss, for every trainable
    parameter of ``net.module_``.

    Returns ``(grads, losses, outputs)``: ``{name: (n, *shape)}``, the rows'
    losses ``(n,)`` and the network's outputs. Each row's loss is computed
    from that row alone (a batch of one inside ``vmap``), with its own
    dropout draws (``randomness="different"``); ``kept`` is the presence
    after modality dropout, drawn for the batch beforehand.
    """
    from torch.func import functional_call, grad, vmap

    wrapper = _RowLoss(net)
    params = {
        name: p.detach() for name, p in wrapper.named_parameters() if p.requires_grad
    }

    def one_row(params, row, target, kept_row):
        row = {key: value.unsqueeze(0) for key, value in row.items()}
        kept_row = None if kept_row is None else kept_row.unsqueeze(0)
        loss, out = functional_call(
            wrapper, params, (row, target.unsqueeze(0), kept_row)
        )
        out = out[0] if isinstance(out, tuple) else out
        return loss, (loss.detach(), out.detach()[0])

    with warnings.catch_warnings():
        # the wide path's EmbeddingBag has no batching rule: torch loops over
        # the rows (correct, slower) and says so at every step
        warnings.filterwarnings("ignore", "There is a performance drop because")
        grads, (losses, outputs) = vmap(
            grad(one_row, has_aux=True),
            in_dims=(None, 0, 0, None if kept is None else 0),
            randomness="different",
        )(params, inputs, y, kept)
    prefix = "network."
    grads = {name[len(prefix) :]: g for name, g in grads.items()}
    return grads, losses, outputs


class PrivateNet(WeightedNet):
    """:class:`~skfusion._training.WeightedNet` trained with DP-SGD.

    Public skorch hooks only:

    - ``initialize_optimizer``: the optimizer is wrapped in Opacus's
      ``DPOptimizer`` (clipping, noise, division by the expected batch
      size), whose step hook steps an ``RDPAccountant`` (``accountant_``);
    - ``get_iterator``: training batches by Poisson sampling
      (:class:`~skfusion._batching.PoissonBatches`);
    - ``train_step_single``: per-sample gradients
      (:func:`per_sample_gradients`) into ``p.grad_sample``;
    - ``on_epoch_end``: ε spent so far, in the history as ``"epsilon"``;
    - ``on_train_end``: the per-sample gradients are dropped.

    Parameters
    ----------
    dp_noise_multiplier, dp_max_grad_norm, dp_sample_rate : float
    dp_steps : int
        Steps per epoch.
    dp_delta : float
    dp_expected_batch_size : float
        ``q * n``: DPOptimizer divides the noisy sum of gradients by it.
    *args, **kwargs
        :class:`~skfusion._training.WeightedNet`'s.
    """

    def __init__(
        self,
        *args,
        dp_noise_multiplier=1.0,
        dp_max_grad_norm=1.0,
        dp_sample_rate=0.01,
        dp_steps=100,
        dp_delta=1e-5,
        dp_expected_batch_size=64.0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.dp_noise_multiplier = dp_noise_multiplier
        self.dp_max_grad_norm = dp_max_grad_norm
        self.dp_sample_rate = dp_sample_rate
        self.dp_steps = dp_steps
        self.dp_delta = dp_delta
        self.dp_expected_batch_size = dp_expected_batch_size

    def initialize_optimizer(self, *args, **kwargs):
        from opacus.accountants import create_accountant
        from opacus.optimizers import DPOptimizer

        super().initialize_optimizer(*args, **kwargs)
        self.optimizer_ = DPOptimizer(
            self.optimizer_,
            noise_multiplier=self.dp_noise_multiplier,
            max_grad_norm=self.dp_max_grad_norm,
            expected_batch_size=self.dp_expected_batch_size,
            loss_reduction="mean",
        )
        self.accountant_ = create_accountant(mechanism=ACCOUNTANT)
        self.optimizer_.attach_step_hook(
            self.accountant_.get_optimizer_hook_fn(sample_rate=self.dp_sample_rate)
        )
        return self

    def get_iterator(self, dataset, training=False):
        if not training:
            return super().get_iterator(dataset, training)
        loader = batch_loader(
            dataset,
            self.batch_size,
            shuffle=True,
            num_workers=self.num_workers,
            pin_memory=torch.device(self.device).type == "cuda",
            poisson=(self.dp_sample_rate, self.dp_steps),
        )
        if loader is None:
            raise TypeError("dp_epsilon needs the estimators' dict input.")
        return loader

    def train_step_single(self, batch, **fit_params):
        if not self.module_.training:  # what skorch does, once per epoch
            self.module_.train()
            self.criterion_.train()
        Xi, yi = unpack_data(batch)
        Xi = to_tensor(Xi, device=self.device)
        yi = to_tensor(yi, device=self.device)
        params = [p for p in self.module_.parameters() if p.requires_grad]
        if len(yi) == 0:  # an empty Poisson batch: a step of noise only
            for p in params:
                p.grad_sample = p.new_zeros((0, *p.shape))
            return {"loss": torch.zeros(()), "y_pred": None}
        kept = self.module_.draw_kept(Xi)
        grads, losses, outputs = per_sample_gradients(self, Xi, yi, kept)
        named = dict(self.module_.named_parameters())
        for name, g in grads.items():
            # DPOptimizer's input: one gradient per row (Opacus's attribute)
            named[name].grad_sample = g
        return {"loss": losses.mean(), "y_pred": outputs}

    def row_loss(self, y_pred, y_true, X):
        """The training loss of one row (a batch of one): task loss x row
        weight, the wide path's penalty and, for ``alignment="mse"``,
        ``alignment_weight`` times the mean squared distance over the pairs
        of modalities present in the row."""
        extra = 0.0
        if isinstance(y_pred, tuple):
            y_pred, embeddings, present = y_pred
            if self.alignment is not None:
                aligned = row_alignment_mse(embeddings, present).mean()
                extra = self.alignment_weight * aligned
        return self.get_loss(y_pred, y_true, X=X, training=True) + extra

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        self.history.record("epsilon", self.epsilon())

    def epsilon(self):
        """The ε spent so far at ``dp_delta``: the accountant's (0 before
        the first step)."""
        return spent_epsilon(tuple(self.accountant_.history), self.dp_delta)

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        self.optimizer_.zero_grad(set_to_none=True)  # drops p.grad_sample
