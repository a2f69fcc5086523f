"""Displays of :func:`~skfusion.inspection.attributions`: a note with its words
shaded, an image with a heatmap over it.

As the other Display classes: the constructor stores the data, ``plot`` draws
it and keeps the artists as attributes, ``from_result`` and
``from_estimator`` build one. matplotlib (the ``plot`` extra) is imported
only when drawing; the HTML of a note needs nothing.
"""

from __future__ import annotations

import html

import numpy as np

from ._plot._utils import _check_matplotlib_support, _get_ax

__all__ = ["ImageAttributionDisplay", "TextAttributionDisplay"]

#: Colours of a positive and a negative attribution (red, blue), as RGB.
_POSITIVE = (214, 39, 40)
_NEGATIVE = (31, 119, 180)


def _shade(value, scale):
    """``(rgb, alpha)`` of an attribution: red up, blue down, alpha by size."""
    alpha = 0.0 if scale <= 0 else min(1.0, abs(value) / scale)
    return (_POSITIVE if value >= 0 else _NEGATIVE), alpha


class _FromEstimator:
    """``from_estimator`` of the attribution displays: compute, then plot."""

    @classmethod
    def from_estimator(cls, estimator, X, modality, row=0, *, ax=None, **kwargs):
        """Compute the attributions of ``X`` and plot ``modality`` in ``row``.

        Parameters
        ----------
        estimator : fitted estimator or Pipeline
        X : DataFrame, array-like or dict
        modality : str
        row : int, default=0
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :func:`~skfusion.inspection.attributions`.

        Returns
        -------
        display : the display, plotted
        """
        from ._attributions import attributions

        result = attributions(estimator, X, **kwargs)
        return cls.from_result(result, modality, row).plot(ax=ax)


class TextAttributionDisplay(_FromEstimator):
    """A note with each word shaded by its attribution.

    Red pushes the explained output up, blue down; the stronger the colour,
    the larger the attribution, relative to the largest absolute one of the
    note. Shown as HTML in a notebook (``_repr_html_``) or drawn with
    matplotlib (:meth:`plot`).

    Use :meth:`from_result` with the result of
    :func:`~skfusion.inspection.attributions`, or :meth:`from_estimator`.

    Parameters
    ----------
    words : list of (str, float)
        The words of the note in text order, with their attributions.
    modality : str or None, default=None
        The note's modality, for the title.

    Attributes
    ----------
    scale_ : float
        The largest absolute attribution (full colour).
    texts_ : list of matplotlib Text
        One per word, in text order (after :meth:`plot`).
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from skfusion.inspection import TextAttributionDisplay
    >>> display = TextAttributionDisplay([("no", -0.1), ("hemoptysis", 0.8)])
    >>> print(display.to_html())  # doctest: +NORMALIZE_WHITESPACE
    <div class="skfusion-attribution"><span style="background-color: \
rgba(31, 119, 180, 0.12)" title="-0.1">no</span> <span \
style="background-color: rgba(214, 39, 40, 1.00)" \
title="0.8">hemoptysis</span></div>
    """

    def __init__(self, words, modality=None):
        self.words = [(str(w), float(a)) for w, a in words]
        self.modality = modality
        values = [abs(a) for _, a in self.words]
        self.scale_ = max(values, default=0.0)

    @classmethod
    def from_result(cls, result, modality, row):
        """The note of ``row`` (a position) in ``result.words[modality]``.

        Parameters
        ----------
        result : Bunch
            The result of :func:`~skfusion.inspection.attributions`.
        modality : str
            A token modality (``result.words`` has it).
        row : int
            Position of the row in the X that was explained.

        Returns
        -------
        display : TextAttributionDisplay
        """
        if modality not in result.words:
            raise ValueError(
                f"result.words has no modality {modality!r}; the token "
                f"modalities are {sorted(result.words)}."
            )
        return cls(result.words[modality][row], modality=modality)

    def to_html(self):
        """The note as HTML: one ``<span>`` per word, its background shaded
        and its attribution in ``title`` (shown on hover)."""
        spans = []
        for word, value in self.words:
            (r, g, b), alpha = _shade(value, self.scale_)
            spans.append(
                f'<span style="background-color: rgba({r}, {g}, {b}, {alpha:.2f})" '
                f'title="{value:.3g}">{html.escape(word)}</span>'
            )
        return '<div class="skfusion-attribution">' + " ".join(spans) + "</div>"

    def _repr_html_(self):
        return self.to_html()

    def plot(self, ax=None, *, width=60):
        """Draw the note, wrapped at ``width`` characters, words shaded.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        width : int, default=60
            Characters per line.

        Returns
        -------
        display : TextAttributionDisplay
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        ax = _get_ax(ax)
        lines = _wrap([w for w, _ in self.words], width)
        n_lines = max(len(lines), 1)
        self.texts_ = []
        for line_number, line in enumerate(lines):
            y = 1.0 - (line_number + 0.5) / n_lines
            for start, index in line:
                word, value = self.words[index]
                rgb, alpha = _shade(value, self.scale_)
                color = (*(c / 255 for c in rgb), alpha)
                text = ax.text(
                    start / width,
                    y,
                    word,
                    family="monospace",
                    va="center",
                    bbox={"facecolor": color, "edgecolor": "none", "pad": 1.0},
                )
                self.texts_.append(text)
        ax.set_axis_off()
        if self.modality is not None:
            ax.set_title(self.modality)
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _wrap(words, width):
    """Lines of ``(column, word index)``: words placed left to right."""
    lines, line, column = [], [], 0
    for index, word in enumerate(words):
        if line and column + len(word) > width:
            lines.append(line)
            line, column = [], 0
        line.append((column, index))
        column += len(word) + 1
    if line:
        lines.append(line)
    return lines


class ImageAttributionDisplay(_FromEstimator):
    """An image (or spectrogram) with its attribution map over it.

    The image is drawn in grey (channels averaged), the attribution map
    (summed over the channels) over it in a diverging colour map centred on
    0: red raised the explained output, blue lowered it.

    Use :meth:`from_result` with the result of
    :func:`~skfusion.inspection.attributions`, or :meth:`from_estimator`.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (C, H, W)
        The input, as the network took it.
    attribution : ndarray of shape (H, W) or (C, H, W)
        Its attributions.
    modality : str or None, default=None
        For the title.

    Attributes
    ----------
    image_ : matplotlib AxesImage
        The image.
    heatmap_ : matplotlib AxesImage
        The attribution map.
    colorbar_ : matplotlib Colorbar
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, image, attribution, modality=None):
        self.image = _as_map(image, "image")
        self.attribution = _as_map(attribution, "attribution")
        if self.image.shape != self.attribution.shape:
            raise ValueError(
                f"image {self.image.shape} and attribution "
                f"{self.attribution.shape} must have the same height and width."
            )
        self.modality = modality

    @classmethod
    def from_result(cls, result, modality, row):
        """The image of ``row`` (a position) in ``result``.

        Parameters
        ----------
        result : Bunch
            The result of :func:`~skfusion.inspection.attributions`.
        modality : str
            An image (or spectrogram) modality.
        row : int

        Returns
        -------
        display : ImageAttributionDisplay
        """
        if modality not in result.images:
            raise ValueError(
                f"result has no image modality {modality!r}; the image "
                f"modalities are {sorted(result.images)}."
            )
        return cls(
            result.images[modality][row],
            result.inputs[modality][row],
            modality=modality,
        )

    def plot(self, ax=None, *, cmap="RdBu_r", alpha=0.6):
        """Draw the image and the attribution map over it.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        cmap : str, default="RdBu_r"
            Colour map of the attributions (centred on 0).
        alpha : float, default=0.6
            Opacity of the attribution map.

        Returns
        -------
        display : ImageAttributionDisplay
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        ax = _get_ax(ax)
        self.image_ = ax.imshow(self.image, cmap="gray")
        limit = float(np.abs(self.attribution).max()) or 1.0
        self.heatmap_ = ax.imshow(
            self.attribution, cmap=cmap, alpha=alpha, vmin=-limit, vmax=limit
        )
        self.colorbar_ = ax.figure.colorbar(self.heatmap_, ax=ax)
        ax.set_xticks([])
        ax.set_yticks([])
        if self.modality is not None:
            ax.set_title(self.modality)
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _as_map(values, name):
    values = np.asarray(values, dtype=float)
    if values.ndim == 3:
        return values.mean(axis=0) if name == "image" else values.sum(axis=0)
    if values.ndim != 2:
        raise ValueError(f"{name} must be (H, W) or (C, H, W); got {values.shape}.")
    return values
