"""FiLM fusion: vector modalities modulate the image and token encoders.

Feature-wise linear modulation (FiLM, Perez et al. 2018; for clinical
tables and images, DAFT, Wolf et al. 2022): a conditioning (vector)
modality's embedding ``z_s`` gives, for each stage of a conditioned
encoder, a per-channel scale and shift ``(gamma, beta)``, and the stage's
normalised map ``h`` becomes ``gamma * h + beta`` before its ReLU (a CNN),
or every position of the hidden sequence does (a
:class:`~skfusion.nn.encoders.TokenEncoder`). The modulated embeddings are
then concatenated as in :class:`~skfusion.nn.fusion.ConcatFusion`.

``gamma = 1 + sum_s p_s * dgamma_s(z_s)`` and ``beta = sum_s p_s *
beta_s(z_s)``, with ``p_s`` the presence of the conditioning modality
``s`` in the row: an absent conditioner leaves the identity modulation
(``gamma = 1``, ``beta = 0``), exactly. Each generator (an MLP with one
hidden layer) has a zero last layer, so the network starts as concat
fusion, exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from .encoders import CNNEncoder, TokenEncoder, mlp
from .fusion import _fill_absent

__all__ = ["FiLMFusion", "encoding_fusion", "make_film", "resolve_conditioning"]

#: Kinds of modality that may condition another one.
CONDITIONING_KINDS = ("vector",)


def resolve_conditioning(conditioning, encoders, kinds):
    """``{conditioned index: [conditioning indices]}`` from the estimator's
    ``conditioning`` (None: every vector modality conditions every
    modality whose encoder FiLM can modulate), with errors that name the
    parameter and the fix."""
    names = list(encoders)
    modulable = [n for n in names if hasattr(encoders[n], "film_channels")]
    if conditioning is None:
        sources = [n for n in names if kinds[n] in CONDITIONING_KINDS]
        pairs = {n: sources for n in modulable} if sources else {}
        return {names.index(c): [names.index(s) for s in v] for c, v in pairs.items()}
    resolved = {}
    for target, sources in conditioning.items():
        _check_name(target, names, "a key")
        if target not in modulable:
            raise ValueError(
                f"conditioning: modality {target!r} ({kinds[target]}) cannot be "
                "conditioned; FiLM modulates image and token modalities only: "
                f"{modulable}. Remove the key {target!r}."
            )
        if isinstance(sources, str) or not hasattr(sources, "__iter__"):
            raise TypeError(
                f"conditioning[{target!r}] must be a list of modality names; "
                f"got {sources!r}. Write {{{target!r}: [{sources!r}]}}."
            )
        indices = []
        for source in sources:
            _check_name(source, names, f"a value of conditioning[{target!r}]")
            if source == target:
                raise ValueError(
                    f"conditioning: modality {target!r} conditions itself; "
                    f"remove {target!r} from conditioning[{target!r}]."
                )
            if kinds[source] not in CONDITIONING_KINDS:
                raise ValueError(
                    f"conditioning: modality {source!r} is of kind "
                    f"{kinds[source]!r}; only vector (tabular) modalities can "
                    f"condition another one. Remove {source!r} from "
                    f"conditioning[{target!r}]."
                )
            if names.index(source) not in indices:
                indices.append(names.index(source))
        if indices:
            resolved[names.index(target)] = indices
    return resolved


def _check_name(name, names, where):
    if name not in names:
        raise ValueError(
            f"conditioning: {name!r}, {where}, is not a modality of this fit "
            f"(the deep modalities are {names}). Use one of those names."
        )


class FiLMFusion(nn.Module):
    """Concat fusion of embeddings computed with FiLM-modulated encoders.

    Parameters
    ----------
    n_modalities, dim : int
    conditioning : dict of int to list of int
        Conditioned modality index -> conditioning (vector) modality indices.
    channels : dict of int to list of int
        Conditioned modality index -> channels of each modulated stage.
    """

    def __init__(self, n_modalities, dim, conditioning, channels):
        super().__init__()
        self.absent = nn.Parameter(torch.zeros(n_modalities, dim))
        self.conditioning = {int(c): list(s) for c, s in conditioning.items()}
        self.channels = {int(c): list(channels[c]) for c in self.conditioning}
        self.generators = nn.ModuleDict()
        for c, sources in self.conditioning.items():
            width = 2 * sum(self.channels[c])
            for s in sources:
                generator = mlp(dim, (dim,), width)
                nn.init.zeros_(generator[-1].weight)  # identity at initialisation
                nn.init.zeros_(generator[-1].bias)
                self.generators[f"{c}_{s}"] = generator
        self.output_dim = self.represent_dim = n_modalities * dim

    def modulation(self, embeddings, present, c):
        """``[(gamma, beta)]`` per stage of modality ``c``, each ``(n, C)``."""
        total = None
        for s in self.conditioning[c]:
            delta = self.generators[f"{c}_{s}"](embeddings[s])
            if present is not None:
                delta = delta * present[:, s : s + 1]
            total = delta if total is None else total + delta
        stages, offset = [], 0
        for width in self.channels[c]:
            gamma = 1.0 + total[:, offset : offset + width]
            beta = total[:, offset + width : offset + 2 * width]
            stages.append((gamma, beta))
            offset += 2 * width
        return stages

    def encode(self, encoders, xs, present):
        """The modality embeddings: conditioning ones first, then the
        conditioned encoders modulated by them."""
        embeddings = [
            None if i in self.conditioning else encoder(x)
            for i, (encoder, x) in enumerate(zip(encoders, xs, strict=True))
        ]
        for c in self.conditioning:
            modulation = self.modulation(embeddings, present, c)
            embeddings[c] = _modulated(encoders[c], xs[c], modulation)
        return embeddings

    def represent(self, embeddings, present=None):
        return torch.cat(_fill_absent(embeddings, present, self.absent), dim=1)

    forward = represent


def _modulated(encoder, x, modulation):
    if isinstance(encoder, CNNEncoder):
        return encoder.embed_map(encoder.feature_map(x, modulation))
    if isinstance(encoder, TokenEncoder):
        return encoder.pool(*encoder.hidden(x, modulation))
    raise TypeError(f"FiLM cannot modulate a {type(encoder).__name__}.")


def make_film(encoders, kinds, params):
    """The FiLM fusion for ``encoders`` (name -> module, in the network's
    order) of ``kinds`` (name -> modality kind), from the estimator's
    ``params`` (``latent_dim``, ``conditioning``)."""
    modules = list(encoders.values())
    conditioning = resolve_conditioning(params.get("conditioning"), encoders, kinds)
    channels = {c: modules[c].film_channels for c in conditioning}
    return FiLMFusion(len(modules), params["latent_dim"], conditioning, channels)


def encoding_fusion(kind, encoders, specs, params):
    """The "film" or "cross_attention" fusion of a network's ``encoders``
    (name -> module, in its order), for the modality ``specs``."""
    from .cross_attention import make_cross_attention

    specs = {spec.name: spec for spec in specs}
    if kind == "film":
        return make_film(encoders, {n: specs[n].kind for n in encoders}, params)
    return make_cross_attention(encoders, {n: specs[n].shape for n in encoders}, params)
