"""Persistence of the estimators as plain data: pickle, joblib and skops.io.

A fitted :class:`~skfusion.CrossModalClassifier` or
:class:`~skfusion.CrossModalRegressor` owns a skorch net (``net_``), which
holds torch modules, tensors and an optimizer. :class:`PersistenceMixin`
makes the estimator's state plain data instead:

- ``net_`` becomes a dict: the module's ``state_dict()`` as CPU NumPy arrays
  (dtypes kept), the training history as lists and dicts of Python scalars,
  the criterion's name, the number of outputs and the device it was fitted
  on;
- ``modalities_`` becomes a dict of plain dicts (one per ``ModalitySpec``).

Loading rebuilds the network from the estimator's parameters and specs
(:func:`~skfusion._training.build_network` with ``inputs=None``), loads the
weights and statistics exactly, wraps it in a fresh, initialised skorch net
in eval mode and restores the history. Optimizer state and the fp16
gradient scaler are training state and are not kept: a loaded estimator
predicts and transforms exactly as the saved one, and ``fit`` starts afresh,
as it always does.

pickle, joblib and ``copy.deepcopy`` go through the same ``__getstate__``,
so a pickled fitted estimator holds no torch object, and
``skops.io.dump`` needs no type beyond the estimator class itself.

:class:`SkopsRefusalMixin` is for the transformers that hold a torch model
(ImageEmbedder, SentenceEmbedder): ``skops.io.dump`` of a fitted one raises
a clear TypeError, while pickle and joblib work as before.
"""

from __future__ import annotations

import copyreg
import dataclasses

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.exceptions import InconsistentVersionWarning
from torch import nn

from ._spec import ModalitySpec
from ._training import build_network, make_net
from ._warnings import warn

__all__ = ["PersistenceMixin", "SkopsRefusalMixin"]

#: Version of the plain-data layout of ``net_``; bumped when it changes.
NET_FORMAT = 1


class PersistenceMixin:
    """Pickle, joblib, deepcopy and skops.io state of a CrossModal estimator.

    Relies on the estimator's ``net_``, ``modalities_`` and parameters.
    """

    def __getstate__(self):
        from . import __version__

        state = dict(super().__getstate__())  # never the live __dict__
        state["_skfusion_version"] = __version__
        net = state.get("net_")
        if net is not None and not isinstance(net, dict):
            state["net_"] = _net_state(self, net)
        specs = state.get("modalities_")
        if specs is not None:
            state["modalities_"] = {
                name: _spec_state(spec) for name, spec in specs.items()
            }
        return state

    def __setstate__(self, state):
        from . import __version__

        state = dict(state)
        saved_version = state.pop("_skfusion_version", None)
        if saved_version is not None and saved_version != __version__:
            warning = InconsistentVersionWarning(
                estimator_name=type(self).__name__,
                current_sklearn_version=f"skfusion {__version__}",
                original_sklearn_version=f"skfusion {saved_version}",
            )
            warn(warning, InconsistentVersionWarning)
        net = state.pop("net_", None)
        specs = state.get("modalities_")
        if specs is not None:
            state["modalities_"] = {
                name: _spec_from_state(spec) for name, spec in specs.items()
            }
        super().__setstate__(state)
        if net is not None:
            self.net_ = _rebuild_net(self, net)


# ----------------------------------------------------------------- saving
def _net_state(estimator, net):
    """The skorch net as plain data (see the module docstring)."""
    module = net.module_
    weights = {
        name: tensor.detach().cpu().numpy()
        for name, tensor in module.state_dict().items()
    }
    criterion = net.criterion
    name = getattr(criterion, "__name__", None)
    if _criterion_class(name) is not criterion:
        raise TypeError(
            f"{type(estimator).__name__} cannot save a net whose criterion is "
            f"{criterion!r}: only torch.nn losses are persisted."
        )
    if hasattr(estimator, "n_outputs_"):
        n_outputs = int(estimator.n_outputs_)
    else:
        n_outputs = len(estimator.classes_)
    split = getattr(net, "train_split", None)
    return {
        "format": NET_FORMAT,
        "module": weights,
        "history": _plain(list(net.history), "net_.history"),
        "criterion": name,
        "n_outputs": n_outputs,
        "device": str(net.device),
        "seed": int(getattr(split, "random_state", None) or 0),
    }


def _spec_state(spec):
    return {
        field.name: _plain(getattr(spec, field.name), "modalities_")
        for field in dataclasses.fields(spec)
    }


def _plain(value, where):
    """``value`` with NumPy and torch scalars made Python scalars.

    Dicts (string keys) and lists are converted recursively; tuples stay
    tuples. Anything else raises a TypeError naming ``where``.
    """
    if isinstance(value, (np.generic, np.ndarray)) and value.ndim == 0:
        return value.item()  # before float: np.float64 is a float
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, dict):
        return {str(key): _plain(item, where) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(item, where) for item in value)
    if isinstance(value, (list, np.ndarray)):
        return [_plain(item, where) for item in value]
    raise TypeError(
        f"Cannot persist a value of type {type(value).__name__} in {where}: "
        "only numbers, strings, None, lists and dicts are saved."
    )


# ---------------------------------------------------------------- loading
def _spec_from_state(spec):
    spec = dict(spec)
    for key in ("shape", "columns"):
        if spec.get(key) is not None:
            spec[key] = tuple(int(v) for v in spec[key])
    return ModalitySpec(**spec)


def _criterion_class(name):
    """The torch.nn loss class, or skfusion survival loss, called ``name``;
    None for any other name."""
    from .nn.losses import CoxPHLoss, DiscreteTimeLoss

    if not isinstance(name, str):
        return None
    ours = {cls.__name__: cls for cls in (CoxPHLoss, DiscreteTimeLoss)}
    if name in ours:
        return ours[name]
    cls = getattr(nn, name, None)
    if isinstance(cls, type) and issubclass(cls, nn.modules.loss._Loss):
        return cls
    return None


def _load_device(device):
    """The saved device if this machine has it, else the CPU (warning)."""
    device = str(device)
    if not device.startswith("cuda"):
        return device
    index = torch.device(device).index
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n_gpus and (index is None or index < n_gpus):
        return device
    from skorch.exceptions import DeviceWarning

    if n_gpus:
        fallback, why = "cuda", f"only {n_gpus} CUDA device(s) are available"
    else:
        fallback, why = "cpu", "no CUDA devices are available"
    warn(
        f"The network was fitted on {device!r} but {why}; loading it on {fallback!r}.",
        DeviceWarning,
    )
    return fallback


def _rebuild_net(estimator, saved):
    """A fitted skorch net from the plain data of :func:`_net_state`."""
    from skorch.history import History

    if saved.get("format") != NET_FORMAT:
        raise ValueError(
            f"This {type(estimator).__name__} was saved in the network format "
            f"{saved.get('format')!r}; this version of skfusion reads format "
            f"{NET_FORMAT}. Load it with the skfusion version that saved it."
        )
    criterion = _criterion_class(saved["criterion"])
    if criterion is None:
        raise ValueError(
            f"Unknown criterion {saved['criterion']!r} in the saved "
            f"{type(estimator).__name__}: expected a torch.nn loss name."
        )
    params = estimator._training_params()
    params["device"] = _load_device(saved["device"])
    weights = {
        name: torch.from_numpy(np.array(array))
        for name, array in saved["module"].items()
    }
    specs = list(estimator.modalities_.values())
    # Building the modules draws initial weights: keep torch's global random
    # state untouched, as fit does.
    with torch.random.fork_rng(devices=[]):
        module = build_network(specs, None, int(saved["n_outputs"]), params)
        module.load_state_dict(weights, strict=True)
        net = make_net(
            module,
            criterion,
            params,
            seed=int(saved.get("seed", 0)),
            stratify=is_classifier(estimator),
        )
        net.initialize()
    net.module_.eval()
    net.history = History(saved["history"])
    return net


# ------------------------------------------------- transformers with torch
class SkopsRefusalMixin:
    """Refuse ``skops.io.dump`` when the estimator holds torch state.

    skops.io persists an object through ``obj.__reduce__()`` (called with
    no protocol) and then its ``__getstate__``; it cannot persist torch
    modules or tensors, and would fail deep inside. pickle, joblib,
    cloudpickle and ``copy`` call ``__reduce_ex__(protocol)`` instead, which
    this mixin keeps exactly as ``object`` implements it. So ``__reduce__``
    raises a TypeError that says what to do when the state holds a torch
    object or the estimator is fitted (its fitted model, or the archive of
    one, is what skops cannot persist safely).
    """

    def __reduce_ex__(self, protocol):
        # What object.__reduce_ex__ returns for a class without __reduce__.
        if protocol < 2:
            return copyreg._reduce_ex(self, protocol)
        return copyreg.__newobj__, (type(self),), self.__getstate__(), None, None

    def __reduce__(self):
        state = self.__getstate__()
        held = sorted(key for key, value in state.items() if _is_torch(value))
        fitted = sorted(
            key for key in state if key.endswith("_") and not key.startswith("__")
        )
        if held or fitted:
            name = type(self).__name__
            what = f"torch objects ({', '.join(held)})" if held else "a torch model"
            raise TypeError(
                f"{name} cannot be saved with skops.io: it holds {what}, which "
                "skops.io cannot persist. Save the pipeline with pickle or "
                "joblib instead (and load only files you trust), or leave the "
                f"{name} out of what you save."
            )
        return self.__reduce_ex__(2)


def _is_torch(value):
    if isinstance(value, (nn.Module, torch.Tensor, torch.device, torch.dtype)):
        return True
    return type(value).__module__.partition(".")[0] == "torch"
