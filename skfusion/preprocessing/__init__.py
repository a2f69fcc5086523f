"""Modality transformers: text, images, audio, time series, and tabular
availability."""

from ._audio import AudioLoader
from ._compose import make_modality_transformer
from ._embed import ImageEmbedder
from ._image import ImageLoader
from ._lazy import LazyImages
from ._sentence import SentenceEmbedder
from ._tabular import AvailabilityIndicator
from ._text import TextEmbedder
from ._timeseries import TimeSeriesLoader, series_from_long
from ._tokens import TextTokenizer
from ._vectorizer import ModalityVectorizer
from ._wide import WideFeatures

__all__ = [
    "AudioLoader",
    "AvailabilityIndicator",
    "ImageEmbedder",
    "ImageLoader",
    "LazyImages",
    "ModalityVectorizer",
    "SentenceEmbedder",
    "TextEmbedder",
    "TextTokenizer",
    "TimeSeriesLoader",
    "WideFeatures",
    "make_modality_transformer",
    "series_from_long",
]
