"""Synthetic generators and offline loaders."""

from ._synthetic import make_clinical_multimodal

__all__ = ["make_clinical_multimodal"]
