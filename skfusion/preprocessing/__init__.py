"""Modality transformers: text, images, audio, and tabular availability."""

from ._audio import AudioLoader
from ._embed import ImageEmbedder
from ._image import ImageLoader
from ._lazy import LazyImages
from ._sentence import SentenceEmbedder
from ._tabular import AvailabilityIndicator
from ._text import TextEmbedder
from ._tokens import TextTokenizer

__all__ = [
    "AudioLoader",
    "AvailabilityIndicator",
    "ImageEmbedder",
    "ImageLoader",
    "LazyImages",
    "SentenceEmbedder",
    "TextEmbedder",
    "TextTokenizer",
]
