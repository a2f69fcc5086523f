"""Warnings that point at the caller's line, not into skfusion or sklearn."""

from __future__ import annotations

import os
import sys
import warnings

import joblib
import sklearn

__all__ = ["warn"]

# Frames in these directories are skipped: skfusion itself, scikit-learn
# (its fit-context and set_output wrappers, Pipeline, cross-validation) and
# joblib (through which ColumnTransformer and the searches call their steps).
_INTERNAL = tuple(
    os.path.dirname(os.path.abspath(module.__file__)) + os.sep
    for module in (sys.modules[__package__], sklearn, joblib)
)


def warn(message, category):
    """``warnings.warn`` with the stacklevel of the first frame outside
    skfusion and scikit-learn (the user's script, notebook cell or test)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        _INTERNAL
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1)
