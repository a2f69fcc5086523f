"""Modality transformers: text, images, and tabular availability."""

from ._image import ImageLoader
from ._tabular import AvailabilityIndicator
from ._text import TextEmbedder
from ._tokens import TextTokenizer

__all__ = ["AvailabilityIndicator", "ImageLoader", "TextEmbedder", "TextTokenizer"]
