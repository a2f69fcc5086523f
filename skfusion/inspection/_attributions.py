"""Attributions inside each modality: integrated gradients, saliency, occlusion.

:func:`attributions` explains one scalar output ``f`` of a fitted skfusion
network (see ``target``) in the network's input space, then maps the
attributions back to what the user gave (:mod:`._attribution_maps`): table
columns and the raw columns they came from, the words of a note, the pixels
of an image or a spectrogram.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.utils import Bunch

from .._discovery import is_lazy
from .._names import PRESENT_KEY
from ._attribution_maps import describe_modalities, sentence_occlusion
from ._attribution_target import f_of, output_function, targets
from ._importance import _index, _unwrap

__all__ = ["attributions"]

_METHODS = ("integrated_gradients", "saliency", "occlusion")
_BASELINES = ("absent", "zeros")


def _captum():
    """captum's ``attr`` module, or None when captum is not installed."""
    try:
        from captum import attr
    except ImportError:  # pragma: no cover - captum is in the explain extra
        return None
    return attr


# -- the network as a function of continuous inputs ---------------------------
class _Explained:
    """``f(*continuous, *ids, present, index)``: the explained scalar per row.

    The continuous inputs are, per modality in ``names``: the array itself
    (vector, image, wide), or the output of a token encoder's embedding
    layer ``(n, L, e)``, which a forward hook puts in place of the lookup.
    """

    def __init__(self, final, g):
        self.module = final.net_.module_
        self.specs = final.modalities_
        self.names = list(self.specs)
        self.tokens = [n for n in self.names if self.specs[n].kind == "tokens"]
        self.g = g
        self._override = {}
        self._hooks = []

    def __enter__(self):
        encoders = dict(
            zip(self.module.modality_names, self.module.encoders, strict=True)
        )
        for name in self.tokens:
            hook = encoders[name].embedding.register_forward_hook(
                lambda mod, args, out, name=name: self._override.get(name, out)
            )
            self._hooks.append(hook)
        self.module.eval()
        return self

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()
        self._hooks, self._override = [], {}

    def embed(self, name, ids):
        encoder = dict(
            zip(self.module.modality_names, self.module.encoders, strict=True)
        )[name]
        with torch.no_grad():
            return encoder.embedding(ids.long()).detach()

    def __call__(self, *args):
        m = len(self.names)
        continuous, ids = args[:m], args[m : m + len(self.tokens)]
        present, index = args[m + len(self.tokens) :]
        inputs = dict(zip(self.names, continuous, strict=True))
        for name, value in zip(self.tokens, ids, strict=True):
            self._override[name] = inputs[name]
            inputs[name] = value
        if present.numel():
            inputs[PRESENT_KEY] = present
        try:
            out = self.module(**inputs)
        finally:
            self._override.clear()
        return self.g(out.float(), index)


def _tensors(final, explained, inputs, baseline):
    """``(x, x0, extra)``: continuous inputs, their baselines, the rest."""
    x, x0, ids = [], [], []
    for name, spec in final.modalities_.items():
        value = torch.as_tensor(np.asarray(inputs[name]), dtype=torch.float32)
        if spec.kind == "tokens":
            ids.append(value)
            value = explained.embed(name, value)
            base = torch.zeros_like(value)
        elif spec.kind == "wide":
            base = value.clone()
            base[:, 1] = 0.0  # the ids stay, the weights go to 0
        elif baseline == "zeros":
            base = torch.zeros_like(value)
        else:
            base = _encoder_shift(explained, name).expand_as(value).clone()
        x.append(value)
        x0.append(base)
    present = inputs.get(PRESENT_KEY)
    present = torch.empty(0) if present is None else torch.as_tensor(present)
    return x, x0, [*ids, present.float()]


def _encoder_shift(explained, name):
    encoders = dict(
        zip(explained.module.modality_names, explained.module.encoders, strict=True)
    )
    return encoders[name].standardize.shift.detach().float().cpu()[None]


def _rows(extra, rows):
    return [e[rows] if e.numel() else e for e in extra]


# -- the three methods --------------------------------------------------------
def _own_integrated_gradients(f, x, x0, extra, n_steps):
    """Integrated gradients, Riemann trapezoid rule over ``n_steps`` points."""
    alphas = np.linspace(0.0, 1.0, max(n_steps, 2))
    weights = np.full(len(alphas), 1.0 / (len(alphas) - 1))
    weights[[0, -1]] /= 2
    total = [torch.zeros_like(v) for v in x]
    for alpha, weight in zip(alphas, weights, strict=True):
        point = [
            (b + alpha * (v - b)).requires_grad_(True)
            for v, b in zip(x, x0, strict=True)
        ]
        grads = torch.autograd.grad(f(*point, *extra).sum(), point, allow_unused=True)
        for t, grad in zip(total, grads, strict=True):
            if grad is not None:
                t += weight * grad
    return [t * (v - b) for t, v, b in zip(total, x, x0, strict=True)]


def _own_saliency(f, x, extra):
    point = [v.clone().requires_grad_(True) for v in x]
    grads = torch.autograd.grad(f(*point, *extra).sum(), point, allow_unused=True)
    return [
        torch.zeros_like(v) if g is None else g.abs()
        for v, g in zip(x, grads, strict=True)
    ]


def _gradient_method(method, f, x, x0, extra, n_steps):
    captum = _captum()
    if captum is None:
        if method == "saliency":
            return _own_saliency(f, x, extra)
        return _own_integrated_gradients(f, x, x0, extra, n_steps)
    if method == "saliency":
        point = tuple(v.clone().requires_grad_(True) for v in x)
        out = captum.Saliency(f).attribute(
            point, abs=True, additional_forward_args=tuple(extra)
        )
    else:
        out = captum.IntegratedGradients(f).attribute(
            tuple(x),
            baselines=tuple(x0),
            additional_forward_args=tuple(extra),
            n_steps=n_steps,
        )
    return list(out)


def _units(spec, value, window):
    """Occlusion units of one modality: lists of index tuples into a row."""
    if spec.kind == "image":
        _, height, width = value.shape[1:]
        return [
            (slice(None), slice(y, y + window), slice(x, x + window))
            for y in range(0, height, window)
            for x in range(0, width, window)
        ]
    if spec.kind == "tokens":
        return [(i,) for i in range(value.shape[1])]
    if spec.kind == "wide":
        return [(1, i) for i in range(value.shape[2])]
    return [(j,) for j in range(value.shape[1])]


def _occlusion(f, x, x0, extra, specs, window):
    """f(x) - f(x with one unit set to its baseline), spread over the unit."""
    with torch.no_grad():
        full = f(*x, *extra)
        out = []
        for m, spec in enumerate(specs):
            attr = torch.zeros_like(x[m])
            for unit in _units(spec, x[m], window):
                where = (slice(None), *unit)
                changed = x[m].clone()
                changed[where] = x0[m][where]
                drop = full - f(*x[:m], changed, *x[m + 1 :], *extra)
                size = max(1, changed[0][unit].numel())
                if spec.kind == "tokens":
                    size = 1  # summed over the embedding again below
                    attr[where] = 0.0
                    attr[(slice(None), *unit, 0)] = drop
                else:
                    shape = (-1,) + (1,) * (attr[where].dim() - 1)
                    attr[where] = (drop / size).reshape(shape)
            out.append(attr)
    return out


def _compute(method, f, x, x0, extra, specs, n_steps, window, batch_size):
    """Attributions in the network's input space, ``batch_size`` rows at a time."""
    n = len(x[0])
    parts = []
    for start in range(0, n, batch_size):
        rows = slice(start, start + batch_size)
        xs, bs, es = [v[rows] for v in x], [b[rows] for b in x0], _rows(extra, rows)
        if method == "occlusion":
            parts.append(_occlusion(f, xs, bs, es, specs, window))
        else:
            parts.append(_gradient_method(method, f, xs, bs, es, n_steps))
    return [
        torch.cat(p).detach().cpu().double().numpy() for p in zip(*parts, strict=True)
    ]


def _flat_total(found):
    return sum(a.reshape(len(a), -1).sum(axis=1) for a in found)


def _tolerance(change, rtol):
    """Per row: ``rtol`` of ``|f(x) - f(baseline)|``, floored at ``rtol`` of
    its mean over the rows (a row whose output barely moves would otherwise
    ask for an error near 0)."""
    change = np.abs(change)
    return rtol * np.maximum(change, change.mean())


def _integrate(f, x, x0, extra, specs, n_steps, batch_size, rtol, max_steps):
    """Integrated gradients, refined where completeness fails.

    Rows whose error exceeds :func:`_tolerance` are integrated again with
    four times as many points, up to ``max_steps``. Returns the
    attributions, ``f(x)``, ``f(baseline)`` and the points used per row.
    """
    found = _compute(
        "integrated_gradients", f, x, x0, extra, specs, n_steps, 1, batch_size
    )
    prediction = _values(f, x, extra, batch_size)
    at_baseline = _values(f, x0, extra, batch_size)
    tol = _tolerance(prediction - at_baseline, rtol)
    steps = np.full(len(prediction), n_steps)
    current = n_steps
    while current < max_steps:
        delta = _flat_total(found) - (prediction - at_baseline)
        rows = np.flatnonzero(np.abs(delta) > tol)
        if not len(rows):
            break
        current = min(4 * current, max_steps)
        pick = torch.as_tensor(rows)
        again = _compute(
            "integrated_gradients",
            f,
            [v[pick] for v in x],
            [b[pick] for b in x0],
            _rows(extra, pick),
            specs,
            current,
            1,
            batch_size,
        )
        for whole, part in zip(found, again, strict=True):
            whole[rows] = part
        steps[rows] = current
    return found, prediction, at_baseline, steps


def _values(f, x, extra, batch_size):
    with torch.no_grad():
        return np.concatenate(
            [
                f(*[v[s] for v in x], *_rows(extra, s)).double().numpy()
                for s in (
                    slice(i, i + batch_size) for i in range(0, len(x[0]), batch_size)
                )
            ]
        )


def _check(method, baseline, n_steps, X):
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}.")
    if baseline not in _BASELINES:
        raise ValueError(f"baseline must be one of {_BASELINES}; got {baseline!r}.")
    if not (isinstance(n_steps, int | np.integer) and n_steps >= 2):
        raise ValueError(f"n_steps must be an int >= 2; got {n_steps!r}.")


def _network_inputs(final, Xt):
    inputs = final._predict_inputs(Xt)
    return {k: np.asarray(v) if is_lazy(v) else v for k, v in inputs.items()}


def attributions(
    estimator,
    X,
    *,
    method="integrated_gradients",
    target=None,
    n_steps=32,
    baseline="absent",
    window=None,
    batch_size=64,
    vocabularies=None,
    rtol=0.01,
    max_steps=None,
):
    """Attribute a prediction to the features inside each modality.

    For every row of X: how much each table column, each word of a note,
    each pixel of an image (or mel bin x frame of a spectrogram) moved the
    explained output ``f`` (see ``target``) away from its value at the
    baseline. The attributions are computed in the network's input space and
    mapped back to what the user gave.

    Parameters
    ----------
    estimator : fitted estimator
        A CrossModalClassifier, CrossModalRegressor or CrossModalSurvival, or
        a fitted Pipeline whose last step is one. With a Pipeline, the
        earlier steps (usually a ``make_modality_transformer``) are read to
        map the attributions back to the raw columns, words and sentences.
    X : DataFrame, array-like or dict
        Rows to explain, as the estimator (or the Pipeline) takes them.
        Never modified.
    method : {"integrated_gradients", "saliency", "occlusion"}, \
default="integrated_gradients"
        - "integrated_gradients" (Sundararajan et al., 2017): the path
          integral of the gradient from the baseline to the row. Complete:
          per row, the attributions summed over every modality and feature
          equal ``f(x) - f(baseline)`` up to the integration error, reported
          in ``delta``. With captum installed (the ``explain`` extra,
          ``pip install "skfusion[explain]"``), captum's
          ``IntegratedGradients`` (Gauss-Legendre points) computes it;
          without it, skfusion's own trapezoid rule over ``n_steps`` points.
        - "saliency": the absolute gradient of ``f`` at the row (captum's
          ``Saliency`` when installed, else the same computed here). Not
          complete; ``delta`` is None.
        - "occlusion": ``f(x) - f(x with one unit set to the baseline)``,
          one unit at a time: a table column, a token position, a square of
          ``window`` x ``window`` pixels (its drop is spread evenly over
          its pixels) and, for a dense text embedding in a Pipeline, one
          sentence of the note (see ``sentences`` below). Always computed
          here (captum's ``Occlusion`` has no notion of words or
          sentences). Not complete; ``delta`` is None.
    target : None, int or class label, default=None
        Which output ``f`` explains. CrossModalClassifier: for two classes,
        the log-odds ``log(p_c / p_other)`` of class ``c`` = ``target``
        (None: the positive class, ``classes_[1]``); for more, the log
        probability of class ``target`` (None: each row's predicted class);
        for a multilabel y, the logit of label ``target`` (an int; None
        only with one label). CrossModalRegressor: the prediction in the
        units of y of output ``target`` (None with one output).
        CrossModalSurvival: the risk that ``predict`` returns (``loss="cox"``:
        the log hazard); ``target`` is ignored.
    n_steps : int, default=32
        Points of the integral (integrated gradients). A ReLU network's
        gradient jumps along the path, so a row may need more: each row
        whose completeness error exceeds ``rtol`` (below) is integrated
        again with four times as many points, up to ``max_steps``.
    baseline : {"absent", "zeros"}, default="absent"
        The reference input, in the network's input space (after the
        Pipeline's steps, before the encoders' standardisation):

        - "absent": each vector modality at the mean of its training rows
          (the encoder's ``shift``, which standardises to 0) and each image
          at its training per-channel mean; each word's embedding at zero
          (the embedding of padding: a ``mean`` token encoder then gives
          exactly what it gives an empty note). The presence matrix is
          *not* changed: every fusion uses it as a switch (a ``where`` or a
          ``-inf`` mask), so there is no continuous path to a modality
          marked absent. The path therefore ends at the uninformative,
          present input; how the model's fallback for a truly absent
          modality differs from it is what
          :func:`modality_importance` with ``strategy="mask"`` measures.
        - "zeros": zeros of the network's input (pixel and column values of
          0, which standardise to ``-shift / scale``, not to 0); word
          embeddings at zero as above.

        A wide modality's term weights go to 0 in both (its ids stay).
    window : int or None, default=None
        Side of the occluded squares of an image (occlusion); None: an
        eighth of the image's smaller side (at least 1 pixel).
    batch_size : int, default=64
        Rows explained at a time (integrated gradients evaluates
        ``batch_size * n_steps`` inputs at once).
    rtol : float, default=0.01
        Completeness asked of integrated gradients, per row: ``|delta| <=
        rtol * max(|f(x) - f(baseline)|, m)``, where ``m`` is the mean of
        ``|f(x) - f(baseline)|`` over the rows of X (the floor keeps a row
        whose output barely moves from asking for an error near 0).
    max_steps : int or None, default=None
        Most points per row when refining; None: ``16 * n_steps``. A row
        still above the tolerance then keeps its error, shown in ``delta``.
    vocabularies : dict or None, default=None
        For a bare estimator with a token modality: ``{modality: fitted
        TextTokenizer or its vocabulary_ dict}``, to name the words. A
        Pipeline's own TextTokenizer is found by itself.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        method, baseline : str
        engine : {"captum", "skfusion"}
            Which implementation computed the gradients.
        modalities : list of str
        target : ndarray of shape (n_samples,)
            The class (label), output or label index explained in each row
            (None for CrossModalSurvival).
        prediction, baseline_prediction : ndarray of shape (n_samples,)
            ``f(x)`` and ``f(baseline)``.
        delta : ndarray of shape (n_samples,) or None
            Integrated gradients: the completeness error, the sum of all the
            row's attributions minus ``f(x) - f(baseline)``. None otherwise.
        n_steps : ndarray of shape (n_samples,) or None
            Integrated gradients: the points each row's integral used.
        inputs : dict of str to ndarray
            Each modality's attributions in the network's input space:
            ``(n, d)`` for a vector, ``(n, C, H, W)`` for an image or a
            spectrogram (mel x frame), ``(n, L)`` per token position
            (summed over the embedding), ``(n, k)`` per wide term slot.
        columns : dict of str to DataFrame
            Per vector modality, one column per column of the estimator's
            input (e.g. ``tab__cat__smoker_never``). A dense text embedding
            (TextEmbedder, SentenceEmbedder) is explained per dimension
            only: a dimension is not a word.
        raw_columns : dict of str to DataFrame
            Per vector modality whose columns trace back through the
            Pipeline's fitted transformers (``get_feature_names_out``; a
            OneHotEncoder's group, an imputer's indicator, a text
            embedding's dimensions): the attributions summed per raw input
            column. Columns that cannot be traced are left out of it (and
            kept in ``columns``); a bare estimator has none.
        words : dict of str to list
            Per token modality, per row, the ``(word, attribution)`` pairs in
            text order. With a Pipeline the words are read from the note
            (words after the tokenizer's ``max_length`` get 0.0: the model
            never saw them); otherwise from the ids and ``vocabularies``
            (an unknown word reads ``"<unk>"``).
        sentences : dict of str to list
            ``method="occlusion"`` with a Pipeline whose step for a text
            modality is a TextEmbedder or SentenceEmbedder (it must
            re-transform raw text, so X must be the raw DataFrame): per row,
            the ``(sentence, drop)`` pairs, where ``drop`` is ``f(x)`` minus
            ``f`` of the note without that sentence, re-embedded.
        images : dict of str to ndarray
            The image modalities' inputs, ``(n, C, H, W)``, for display.
        totals : DataFrame of shape (n_samples, n_modalities)
            Each modality's attributions summed.

    Notes
    -----
    The network runs in eval mode: dropout is off and no modality is dropped,
    so ``f`` is deterministic and the path integral well defined for every
    fusion. A ReLU network's gradient jumps along the path, which is why
    rows are refined (``rtol``). One case converges slowly: a CNN stage of
    8 channels or fewer (one channel per GroupNorm group) normalises the
    constant baseline image by a variance near 0, so the integrand is steep
    near the baseline; ``delta`` shows what remains.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import CrossModalRegressor
    >>> from skfusion.inspection import attributions
    >>> rng = np.random.RandomState(0)
    >>> X = {"a": rng.randn(100, 3), "b": rng.randn(100, 2)}
    >>> y = 2 * X["a"][:, 0] + X["b"][:, 1]
    >>> reg = CrossModalRegressor(max_epochs=5, random_state=0).fit(X, y)
    >>> result = attributions(reg, X)
    >>> list(result.totals.columns)
    ['a', 'b']
    >>> total = result.totals.sum(axis=1).to_numpy()
    >>> change = result.prediction - result.baseline_prediction
    >>> bool(np.allclose(total, change, atol=0.01 * np.abs(change).max()))
    True
    """
    _check(method, baseline, n_steps, X)
    transform, final = _unwrap(estimator, "attributions")
    Xt = transform(X)
    inputs = _network_inputs(final, Xt)
    g, index = output_function(final, target, final._forward(Xt))
    specs = list(final.modalities_.values())
    max_steps = 16 * n_steps if max_steps is None else max(max_steps, n_steps)
    with _Explained(final, g) as f:
        x, x0, extra = _tensors(final, f, inputs, baseline)
        extra.append(torch.as_tensor(index))
        steps = None
        if method == "integrated_gradients":
            found, prediction, at_baseline, steps = _integrate(
                f, x, x0, extra, specs, n_steps, batch_size, rtol, max_steps
            )
        else:
            window = _window(specs) if window is None else window
            found = _compute(
                method, f, x, x0, extra, specs, n_steps, window, batch_size
            )
            prediction = _values(f, x, extra, batch_size)
            at_baseline = _values(f, x0, extra, batch_size)
    per_input = {
        spec.name: _per_input(spec, a) for spec, a in zip(specs, found, strict=True)
    }
    result = Bunch(
        method=method,
        baseline=baseline,
        engine="skfusion" if method == "occlusion" or _captum() is None else "captum",
        modalities=list(final.modalities_),
        target=targets(final, index),
        prediction=prediction,
        baseline_prediction=at_baseline,
        delta=None,
        n_steps=steps,
        inputs=per_input,
        images={s.name: np.asarray(inputs[s.name]) for s in specs if s.kind == "image"},
        sentences={},
    )
    if method == "integrated_gradients":
        result.delta = _flat_total(per_input.values()) - (prediction - at_baseline)
    result.update(
        describe_modalities(estimator, final, X, Xt, inputs, per_input, vocabularies)
    )
    if method == "occlusion":
        result.sentences = sentence_occlusion(
            estimator, final, X, f_of(final, g, index)
        )
    result.totals = pd.DataFrame(
        {n: a.reshape(len(a), -1).sum(axis=1) for n, a in per_input.items()},
        index=_index(X),
    )
    return result


def _window(specs):
    """An eighth of the smallest image side, at least 1 pixel."""
    sides = [min(s.shape[1:]) for s in specs if s.kind == "image"]
    return max(1, min(sides, default=8) // 8)


def _per_input(spec, found):
    """Token attributions summed over the embedding; a wide modality's over
    its term weights (its ids are fixed)."""
    if spec.kind == "tokens":
        return found.sum(axis=2)
    if spec.kind == "wide":
        return found[:, 1]
    return found
