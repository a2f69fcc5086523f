"""Catch a ColumnTransformer's output that lost its column names.

A ``ColumnTransformer`` without ``.set_output(transform="pandas")`` hands the
estimator a bare NumPy array. With no names and ``modalities=None``, every
column is one vector modality: an image is flattened into the MLP, and the
``missing`` flags become ordinary features. The fit still runs, and scores
worse (0.767 against 0.847 ROC AUC on the quickstart's table), so ``fit``
warns when the array shows the layout of skfusion's transformers.

The evidence is the layout every skfusion modality transformer emits
(ImageLoader, TextEmbedder, TextTokenizer, SentenceEmbedder, ImageEmbedder,
AudioLoader): a block of features followed by its ``missing`` column, which
is 1 exactly where the block is all zeros (an absent row) and 0 elsewhere,
or 0 everywhere when no row lacks the modality. A column is such a *flag*
when

- it holds only 0 and 1,
- the two columns before it are not 0/1 columns (a block of values, not
  one-hot categories or imputation indicators), and
- in every row where it is 1, those two columns are exactly 0, while they
  are not all 0 in the other rows; or it is 0 in every row.

Continuous features are almost never exactly 0 by chance, so a flag is
rarely found in data that is legitimately one modality: an embedding, a
standardised tabular matrix, one-hot categories. ``fit`` warns when X has a
flag and at least :data:`MIN_COLUMNS` columns: fewer columns than that is
not a multi-block transformer output (the narrowest skfusion block with its
flag, a TextEmbedder with ``n_components=8`` beside one tabular column,
already has 10), and scikit-learn's estimator checks use narrow arrays of
small integers, where zeros and ones are common.
"""

from __future__ import annotations

import numpy as np

from ._names import MISSING_NAME
from ._warnings import warn
from .exceptions import ModalityStructureWarning

__all__ = ["MIN_COLUMNS", "lost_structure", "warn_lost_structure"]

MIN_COLUMNS = 16
_ROWS_INSPECTED = 2000  # enough rows to see the absent ones; bounds the cost


def lost_structure(X):
    """Positions of the columns of a 2-D array that look like availability
    flags of skfusion transformer blocks (see the module docstring)."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] < MIN_COLUMNS or not len(X):
        return []
    sample = X[:_ROWS_INSPECTED]
    binary = ((sample == 0) | (sample == 1)).all(axis=0)
    flags = []
    for j in np.flatnonzero(binary):
        if j < 2 or binary[j - 1] or binary[j - 2]:
            continue
        ones = sample[:, j] == 1
        before = sample[:, j - 2 : j]
        if not ones.any() or (
            (before[ones] == 0).all() and (before[~ones] != 0).any()
        ):
            flags.append(int(j))
    return flags


def warn_lost_structure(X):
    """Warn (``ModalityStructureWarning``) if X looks like a ColumnTransformer's
    output whose column names were lost; see the module docstring."""
    flags = lost_structure(X)
    if not flags:
        return
    shown = ", ".join(map(str, flags[:5])) + (" ..." if len(flags) > 5 else "")
    warn(
        f"X has no column names, so all its {X.shape[1]} columns form one "
        "vector modality ('features'). Yet column(s) "
        f"{shown} look like the {MISSING_NAME!r} flag that skfusion's transformers "
        "put after their block of features: X probably comes from a "
        "ColumnTransformer without pandas output, and the structure of its "
        "blocks (images, texts, which rows lack a modality) is lost. Keep it "
        "with ColumnTransformer(...).set_output(transform='pandas'), or build "
        "the step with skfusion.make_modality_transformer or "
        "skfusion.preprocessing.ModalityVectorizer, or declare the groups "
        "with modalities=. If the columns really are one modality, pass "
        "modalities={'features': slice(None)}.",
        ModalityStructureWarning,
    )
