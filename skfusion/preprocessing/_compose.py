"""make_modality_transformer: a ColumnTransformer whose steps are modalities."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer

from .._names import DEFAULT_MODALITY, SEP, check_modality_name

__all__ = ["make_modality_transformer"]


def make_modality_transformer(
    *transformers,
    remainder="drop",
    n_jobs=None,
    verbose=False,
    **named,
):
    """A ``ColumnTransformer`` with pandas output: one step per modality.

    The estimators find the modalities in the ``"<step>__"`` prefixes of
    their input's column names, which a ``ColumnTransformer`` gives only
    with ``.set_output(transform="pandas")``. Without it, the estimator sees
    a bare array, all its columns form one modality, and an image is not
    treated as an image. This function builds the step with that output
    already set, so the mistake cannot happen.

    Parameters
    ----------
    *transformers : tuples ``(name, transformer, columns)``
        As in ``ColumnTransformer``: each name becomes a modality.
    remainder : {"drop", "passthrough"} or estimator, default="drop"
        What happens to the columns no step names (``ColumnTransformer``'s
        parameter). Passed-through columns keep the prefix ``remainder__``
        and so form one modality named "remainder".
    n_jobs, verbose
        Passed to ``ColumnTransformer``.
    **named : tuples ``(transformer, columns)``
        The same, with the modality's name as the keyword, after the
        positional steps: ``make_modality_transformer(note=(TextEmbedder(),
        "note"))``.

    Returns
    -------
    ColumnTransformer
        Unfitted, with ``verbose_feature_names_out=True``, dense output and
        ``set_output(transform="pandas")``.

    Examples
    --------
    >>> from skfusion import make_modality_transformer
    >>> from skfusion.preprocessing import TextEmbedder
    >>> from sklearn.preprocessing import StandardScaler
    >>> step = make_modality_transformer(
    ...     ("tab", StandardScaler(), ["age", "crp"]),
    ...     note=(TextEmbedder(n_components=8), "note"),
    ... )
    >>> [name for name, _, _ in step.transformers]
    ['tab', 'note']
    """
    steps = []
    for step in transformers:
        if not isinstance(step, tuple) or len(step) != 3:
            raise TypeError(
                "make_modality_transformer takes (name, transformer, columns) "
                f"tuples as positional arguments; got {step!r}. Give the name "
                "first, or pass it as a keyword: name=(transformer, columns)."
            )
        steps.append(step)
    for name, step in named.items():
        if not isinstance(step, tuple) or len(step) != 2:
            raise TypeError(
                f"make_modality_transformer({name}=...) takes a (transformer, "
                f"columns) tuple; got {step!r}."
            )
        steps.append((name, *step))
    if not steps:
        raise ValueError("make_modality_transformer needs at least one step.")
    seen = set()
    for name, _, _ in steps:
        if not check_modality_name(name):
            raise ValueError(
                f"Step name {name!r} cannot be a modality name: use a "
                f"non-empty string without '{SEP}'."
            )
        if name in seen or name == "remainder":
            raise ValueError(
                f"Step name {name!r} is used twice (or is 'remainder', which "
                "ColumnTransformer reserves): each modality needs its own name."
            )
        if name == DEFAULT_MODALITY:
            raise ValueError(
                f"Step name {name!r} is the name of the modality of unprefixed "
                "columns; choose another name."
            )
        seen.add(name)
    return ColumnTransformer(
        steps,
        remainder=remainder,
        sparse_threshold=0.0,
        n_jobs=n_jobs,
        verbose=verbose,
        verbose_feature_names_out=True,
    ).set_output(transform="pandas")
