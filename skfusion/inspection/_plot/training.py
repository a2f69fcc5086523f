"""TrainingCurveDisplay: loss per epoch from the skorch history."""

from __future__ import annotations

import numpy as np

from .._importance import fitted_cross_modal
from ._utils import _as_1d, _check_matplotlib_support, _get_ax

__all__ = ["TrainingCurveDisplay"]


class TrainingCurveDisplay:
    """Training (and validation) loss per epoch of a skfusion estimator.

    It is recommended to use :meth:`TrainingCurveDisplay.from_estimator` to
    create a display from a fitted CrossModalClassifier / CrossModalRegressor
    (or a Pipeline ending in one). All parameters are stored as attributes.

    Parameters
    ----------
    train_loss : array-like of shape (n_epochs,)
        Training loss of each epoch (``loss_curve_``).
    valid_loss : array-like of shape (n_epochs,), default=None
        Validation loss of each epoch (``validation_loss_curve_``, recorded
        with ``early_stopping=True``). None draws the training curve only.
    best_epoch : int, default=None
        The epoch (1-based) whose weights the estimator kept, marked by a
        vertical dotted line. None with ``valid_loss`` marks the epoch of the
        lowest validation loss; ignored without ``valid_loss``.
    estimator_name : str, default=None
        Name of the estimator, used as the title. None gives no title.

    Attributes
    ----------
    lines_ : dict of matplotlib Line2D
        ``{"train": line, "valid": line}``; ``"valid"`` only when there is a
        validation curve.
    best_line_ : matplotlib Line2D or None
        The vertical line at the best validation epoch; None without a
        validation curve.
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    TrainingCurveDisplay.from_estimator : Plot the curves of a fitted
        estimator.
    ModalityImportanceDisplay : Score drop per modality.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skfusion.inspection import TrainingCurveDisplay
    >>> display = TrainingCurveDisplay(
    ...     [0.69, 0.52, 0.44, 0.40], [0.66, 0.55, 0.50, 0.53],
    ...     estimator_name="CrossModalClassifier",
    ... ).plot()
    >>> display.best_epoch_
    3
    >>> [text.get_text() for text in display.ax_.get_legend().get_texts()]
    ['train loss', 'validation loss', 'best epoch (3)']
    >>> plt.close(display.figure_)
    """

    def __init__(
        self, train_loss, valid_loss=None, *, best_epoch=None, estimator_name=None
    ):
        self.train_loss = train_loss
        self.valid_loss = valid_loss
        self.best_epoch = best_epoch
        self.estimator_name = estimator_name

    def _validated(self):
        train = _as_1d(self.train_loss, "train_loss")
        if not len(train):
            raise ValueError("train_loss is empty: there is no epoch to plot.")
        if self.valid_loss is None:
            return train, None, None
        valid = _as_1d(self.valid_loss, "valid_loss")
        if len(valid) != len(train):
            raise ValueError(
                f"valid_loss has {len(valid)} epochs but train_loss has "
                f"{len(train)}; they must be the same epochs."
            )
        best = self.best_epoch
        if best is None:
            if np.isnan(valid).all():
                return train, valid, None
            best = int(np.nanargmin(valid)) + 1
        elif not 1 <= best <= len(train):
            raise ValueError(
                f"best_epoch must be in [1, {len(train)}] (epochs are "
                f"numbered from 1); got {best!r}."
            )
        return train, valid, int(best)

    def plot(
        self,
        ax=None,
        *,
        name=None,
        log_scale=False,
        train_kw=None,
        valid_kw=None,
        best_kw=None,
    ):
        """Plot the loss against the epoch.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure and axes.
        name : str, default=None
            Title; None uses ``estimator_name``.
        log_scale : bool, default=False
            Draw the loss on a logarithmic axis.
        train_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for the training curve.
        valid_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for the validation curve.
        best_kw : dict, default=None
            Keyword arguments of ``ax.axvline`` for the best-epoch marker.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, with the artists stored as attributes.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        from matplotlib.ticker import MaxNLocator

        train, valid, best = self._validated()
        ax = _get_ax(ax)
        epochs = np.arange(1, len(train) + 1)
        marker = {"marker": "o", "markersize": 3}

        (train_line,) = ax.plot(
            epochs, train, **{"label": "train loss", **marker, **(train_kw or {})}
        )
        self.lines_ = {"train": train_line}
        self.best_line_ = None
        self.best_epoch_ = best
        if valid is not None:
            (self.lines_["valid"],) = ax.plot(
                epochs,
                valid,
                **{"label": "validation loss", **marker, **(valid_kw or {})},
            )
            if best is not None:
                self.best_line_ = ax.axvline(
                    best,
                    **{
                        "color": "gray",
                        "linestyle": ":",
                        "label": f"best epoch ({best})",
                        **(best_kw or {}),
                    },
                )

        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        if log_scale:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="best")
        name = self.estimator_name if name is None else name
        if name is not None:
            ax.set_title(name)

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        ax=None,
        name=None,
        log_scale=False,
        train_kw=None,
        valid_kw=None,
        best_kw=None,
    ):
        """Plot the loss curves recorded while fitting a skfusion estimator.

        Reads the skorch history of ``estimator.net_``: ``train_loss`` of
        every epoch and, when the estimator held out a validation set
        (``early_stopping=True``), ``valid_loss`` and the epoch whose weights
        early stopping restored.

        Parameters
        ----------
        estimator : CrossModalClassifier, CrossModalRegressor or Pipeline
            A fitted skfusion estimator, or a fitted Pipeline whose last step
            is one.
        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure and axes.
        name : str, default=None
            Title; None uses the estimator's class name.
        log_scale : bool, default=False
            Draw the loss on a logarithmic axis.
        train_kw, valid_kw, best_kw : dict, default=None
            Passed to :meth:`plot`.

        Returns
        -------
        display : TrainingCurveDisplay

        Raises
        ------
        TypeError
            If ``estimator`` is not a skfusion estimator (or a Pipeline
            ending in one).
        sklearn.exceptions.NotFittedError
            If it is not fitted.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from skfusion import CrossModalClassifier
        >>> from skfusion.inspection import TrainingCurveDisplay
        >>> rng = np.random.RandomState(0)
        >>> X = {"a": rng.randn(80, 3), "b": rng.randn(80, 2)}
        >>> y = (X["a"][:, 0] > 0).astype(int)
        >>> clf = CrossModalClassifier(
        ...     max_epochs=4, early_stopping=True, random_state=0
        ... ).fit(X, y)
        >>> display = TrainingCurveDisplay.from_estimator(clf)
        >>> sorted(display.lines_)
        ['train', 'valid']
        >>> len(display.lines_["train"].get_xdata()) == clf.n_iter_
        True
        >>> plt.close(display.figure_)
        """
        caller_name = f"{cls.__name__}.from_estimator"
        _check_matplotlib_support(caller_name)
        final = fitted_cross_modal(estimator, caller_name)
        net = final.net_
        history = net.history
        train = history[:, "train_loss"]
        valid, best = None, None
        if len(history) and all("valid_loss" in row for row in history):
            valid = history[:, "valid_loss"]
            stopper = dict(getattr(net, "callbacks_", [])).get("early_stopping")
            best = getattr(stopper, "best_epoch_", None)
            if not (isinstance(best, int | np.integer) and 1 <= best <= len(valid)):
                best = None  # fall back on the lowest validation loss
        display = cls(
            train,
            valid,
            best_epoch=None if best is None else int(best),
            estimator_name=type(final).__name__,
        )
        return display.plot(
            ax=ax,
            name=name,
            log_scale=log_scale,
            train_kw=train_kw,
            valid_kw=valid_kw,
            best_kw=best_kw,
        )
