"""Modality transformers: text, images, and tabular availability."""

from ._image import ImageLoader
from ._tabular import AvailabilityIndicator
from ._text import TextEmbedder

__all__ = ["AvailabilityIndicator", "ImageLoader", "TextEmbedder"]
