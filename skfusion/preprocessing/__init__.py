"""Modality transformers: text, images (and later tabular, audio)."""

from ._image import ImageLoader
from ._text import TextEmbedder

__all__ = ["ImageLoader", "TextEmbedder"]
