"""What the estimators learn about each modality: :class:`ModalitySpec`, and
:func:`describe`, the summary that ``fit`` prints at ``verbose >= 1``."""

from __future__ import annotations

from dataclasses import dataclass

from ._names import (
    PIXEL_PATTERN,
    SEP,
    SERIES_PATTERN,
    TOKEN_PATTERN,
    WIDE_PATTERN,
    has_prefix,
    missing_key,
)

__all__ = ["KINDS", "ModalitySpec", "column_label", "describe"]

#: The kinds of modality, by the encoder they get.
KINDS = ("vector", "image", "tokens", "wide", "sequence")


@dataclass(frozen=True, repr=False)
class ModalitySpec:
    """What the estimator learned about one modality in ``fit``.

    The estimators keep one per modality in ``modalities_``, in the order
    the network takes them; read it to see how X was understood.

    Attributes
    ----------
    name : str
        Modality name (the ``ColumnTransformer`` prefix or the dict key).
    kind : {"vector", "image", "tokens", "wide", "sequence"}
        Which encoder the modality gets: an MLP, a CNN, a token embedding,
        none ("wide": a sparse linear term added to the output), or a
        masked GRU or transformer ("sequence", a TimeSeriesLoader's output).
    shape : tuple of int
        Shape of one row of the modality: ``(d,)``, ``(C, H, W)``,
        ``(length,)`` for tokens, ``(2, k)`` for wide (k ids, k weights),
        ``(2, n_steps, n_channels)`` for a sequence (values, then the
        observation mask).
    columns : tuple of int or None
        Positions of the data columns in the 2-D input, in the order that
        reshapes to ``shape``; ``None`` for dict input.
    missing_column : int or None
        Position of the availability column in the 2-D input, if any.
    has_missing : bool
        Whether rows can mark this modality absent.
    vocab_size : int or None
        For tokens and wide: the number of distinct ids (every id is below it).

    See Also
    --------
    CrossModalClassifier, CrossModalRegressor : The estimators that find the
        modalities in ``fit`` (attribute ``modalities_``).

    Notes
    -----
    The repr is a summary, short enough to print ``estimator.modalities_``
    (an image's ``columns`` hold one position per pixel)::

        ModalitySpec(name='xray', kind='image', shape=(1, 64, 64),
                     n_columns=4097, missing='xray__missing')

    ``n_columns`` counts the columns of the 2-D input that the modality
    takes: its data columns, plus its availability column when it has one;
    it is left out for dict input, which has no columns. ``missing`` is the
    name of the availability column (``'<name>__missing'``, the dict key of
    a dict input) when rows can mark the modality absent, else None.
    ``vocab_size`` is shown for the tokens and wide kinds only. Equality
    and pickling are those of the dataclass: every field counts.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import CrossModalRegressor
    >>> X = {"tab": np.random.rand(20, 3), "img": np.random.rand(20, 1, 4, 4)}
    >>> reg = CrossModalRegressor(max_epochs=1).fit(X, np.random.rand(20))
    >>> reg.modalities_["img"]
    ModalitySpec(name='img', kind='image', shape=(1, 4, 4), missing=None)
    """

    name: str
    kind: str
    shape: tuple
    columns: tuple | None = None
    missing_column: int | None = None
    has_missing: bool = False
    vocab_size: int | None = None

    def __repr__(self):
        parts = [f"name={self.name!r}", f"kind={self.kind!r}", f"shape={self.shape!r}"]
        if self.columns is not None:
            n_columns = len(self.columns) + (self.missing_column is not None)
            parts.append(f"n_columns={n_columns}")
        missing = missing_key(self.name) if self.has_missing else None
        parts.append(f"missing={missing!r}")
        if self.kind in ("tokens", "wide"):
            parts.append(f"vocab_size={self.vocab_size!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def column_label(pos, feature_names):
    """A column for a message: its name quoted, or its position."""
    return repr(str(feature_names[pos])) if feature_names is not None else str(pos)


# -- what was found, and why --------------------------------------------------
_KIND_NAMES = {
    "image": f"{PIXEL_PATTERN} names",
    "tokens": f"{TOKEN_PATTERN} names",
    "wide": f"{WIDE_PATTERN} names",
    "sequence": f"{SERIES_PATTERN} names",
}


def _grouping(spec, feature_names):
    """Why these columns form one modality, when X's names grouped them."""
    first = str(feature_names[spec.columns[0]])
    if not has_prefix(first):
        return f"columns without a '<step>{SEP}' prefix"
    prefix = f"'{spec.name}{SEP}'"
    if spec.kind == "vector" and len(spec.columns) == 1:
        return (
            f"prefix {prefix}, read as a ColumnTransformer step name; rename "
            f"the column if {prefix} is not a step"
        )
    return f"prefix {prefix}"


def _reason(spec, feature_names, declared):
    """Why ``spec`` was found: its grouping, its kind, its availability column."""
    if declared:
        parts = ["declared in modalities="]
    elif feature_names is None:
        parts = ["X has no column names, so its columns form one vector modality"]
    else:
        parts = [_grouping(spec, feature_names)]
        if spec.kind in _KIND_NAMES:
            parts.append(_KIND_NAMES[spec.kind])
    if spec.missing_column is not None:
        flag = column_label(spec.missing_column, feature_names)
        parts.append(f"availability column {flag}")
    return ", ".join(parts)


def describe(specs, feature_names=None, declared=False):
    """What was found: ``"lab (vector 3), scan (image 1x6x6)"``; for a 2-D
    input (specs with columns), one more line per modality saying why.

    Parameters
    ----------
    specs : iterable of ModalitySpec
    feature_names : ndarray of str or None
        The column names of X in fit, if any.
    declared : bool
        Whether the modalities were declared with ``modalities=``.
    """
    specs = list(specs)
    summary = ", ".join(
        f"{s.name} ({s.kind} {'x'.join(map(str, s.shape))})" for s in specs
    )
    reasons = [
        f"  {s.name}: {_reason(s, feature_names, declared)}"
        for s in specs
        if s.columns is not None
    ]
    return "\n".join([summary, *reasons])
