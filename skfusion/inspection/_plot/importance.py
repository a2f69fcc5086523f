"""ModalityImportanceDisplay: score drop per modality, with error bars."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._utils import _as_1d, _check_matplotlib_support, _get_ax

__all__ = ["ModalityImportanceDisplay"]

_IMPORTANCE_FIELDS = ("importances_mean", "importances_std", "modalities")
_KINDS = ("bar", "box")


class ModalityImportanceDisplay:
    """Score drop per modality, as horizontal bars with error bars.

    It is recommended to use :meth:`ModalityImportanceDisplay.from_estimator`
    or :meth:`ModalityImportanceDisplay.from_importances` (with the result of
    :func:`~skfusion.inspection.modality_importance`) to create a display.
    All parameters are stored as attributes.

    Parameters
    ----------
    importances_mean : array-like of shape (n_modalities,)
        Mean decrease of the score when the modality is permuted or masked.
    importances_std : array-like of shape (n_modalities,)
        Standard deviation of the decrease over the repeats.
    modalities : list of str of length n_modalities
        Modality names, in the order of the importances.
    importances : array-like of shape (n_modalities, n_repeats), default=None
        The decrease of each repeat; needed by ``plot(kind="box")``.
    scoring : str, default=None
        The score's name, for the axis label; None (the estimator's
        ``score``) or a callable label it "score".
    baseline_score : float, default=None
        Score on the unperturbed data, shown in the title.

    Attributes
    ----------
    bars_ : matplotlib BarContainer or None
        The bars (``kind="bar"``), in plotting order: the first is the top
        one. None for ``kind="box"``.
    errorbar_ : matplotlib ErrorbarContainer or None
        The error bars (plus or minus one standard deviation) of
        ``kind="bar"``; None for ``kind="box"``.
    boxplot_ : dict or None
        The artists returned by ``ax.boxplot`` (``kind="box"``); None for
        ``kind="bar"``.
    zero_line_ : matplotlib Line2D
        The vertical line at a zero decrease.
    order_ : ndarray of shape (n_modalities,)
        Indices of the modalities from the top of the plot to the bottom.
    ax_ : matplotlib Axes
        Axes with the plot.
    figure_ : matplotlib Figure
        Figure containing the plot.

    See Also
    --------
    skfusion.inspection.modality_importance : Compute the importances.
    TrainingCurveDisplay : Loss per epoch.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skfusion.inspection import ModalityImportanceDisplay
    >>> display = ModalityImportanceDisplay(
    ...     [0.02, 0.15, 0.06], [0.01, 0.02, 0.01], ["tab", "note", "xray"],
    ...     scoring="roc_auc", baseline_score=0.86,
    ... ).plot()
    >>> [label.get_text() for label in display.ax_.get_yticklabels()]
    ['tab', 'xray', 'note']
    >>> display.ax_.get_xlabel()
    'decrease in roc_auc'
    >>> plt.close(display.figure_)
    """

    def __init__(
        self,
        importances_mean,
        importances_std,
        modalities,
        *,
        importances=None,
        scoring=None,
        baseline_score=None,
    ):
        self.importances_mean = importances_mean
        self.importances_std = importances_std
        self.modalities = modalities
        self.importances = importances
        self.scoring = scoring
        self.baseline_score = baseline_score

    def _validated(self, kind):
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}; got {kind!r}.")
        names = [str(name) for name in self.modalities]
        mean = _as_1d(self.importances_mean, "importances_mean")
        std = _as_1d(self.importances_std, "importances_std")
        if not (len(mean) == len(std) == len(names)):
            raise ValueError(
                f"importances_mean ({len(mean)}), importances_std ({len(std)}) "
                f"and modalities ({len(names)}) must have the same length."
            )
        if not names:
            raise ValueError("There is no modality to plot.")
        repeats = None
        if kind == "box":
            if self.importances is None:
                raise ValueError(
                    'kind="box" draws the importance of every repeat and needs '
                    "importances (n_modalities, n_repeats); this display has "
                    'none. Use kind="bar", or pass importances.'
                )
            repeats = np.asarray(self.importances, dtype=float)
            if repeats.ndim != 2 or repeats.shape[0] != len(names):
                raise ValueError(
                    f"importances must have shape ({len(names)}, n_repeats); "
                    f"got {repeats.shape}."
                )
        return names, mean, std, repeats

    def plot(
        self,
        ax=None,
        *,
        sort=True,
        kind="bar",
        bar_kw=None,
        errorbar_kw=None,
        boxplot_kw=None,
    ):
        """Plot the decrease of the score per modality.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure and axes.
        sort : bool, default=True
            Order the modalities by mean importance, the largest at the top.
            False keeps the given order, the first at the top.
        kind : {"bar", "box"}, default="bar"
            "bar": the mean decrease as a horizontal bar with an error bar of
            one standard deviation. "box": a horizontal box plot of the
            decrease over the repeats (needs ``importances``).
        bar_kw : dict, default=None
            Keyword arguments of ``ax.barh``.
        errorbar_kw : dict, default=None
            Keyword arguments of ``ax.errorbar``.
        boxplot_kw : dict, default=None
            Keyword arguments of ``ax.boxplot``.

        Returns
        -------
        display : ModalityImportanceDisplay
            The display, with the artists stored as attributes.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        names, mean, std, repeats = self._validated(kind)
        ax = _get_ax(ax)
        n = len(names)
        # Stable descending sort: ties keep the given order, top to bottom.
        order = np.argsort(-mean, kind="stable") if sort else np.arange(n)
        y = np.arange(n)[::-1].astype(float)  # the first of `order` on top

        self.bars_ = self.errorbar_ = self.boxplot_ = None
        if kind == "bar":
            self.bars_ = ax.barh(
                y, mean[order], **{"height": 0.6, "color": "C0", **(bar_kw or {})}
            )
            self.errorbar_ = ax.errorbar(
                mean[order],
                y,
                xerr=std[order],
                **{
                    "fmt": "none",
                    "ecolor": "black",
                    "capsize": 3,
                    **(errorbar_kw or {}),
                },
            )
        else:
            self.boxplot_ = ax.boxplot(
                [repeats[i] for i in order],
                positions=y,
                widths=0.6,
                **{**_horizontal_boxplot(), **(boxplot_kw or {})},
            )
        self.zero_line_ = ax.axvline(0.0, color="black", linewidth=0.8)

        # Ticks bottom to top, so that get_yticklabels() reads upwards.
        ax.set_yticks(y[::-1], labels=[names[i] for i in order[::-1]])
        ax.set_ylim(-0.5, n - 0.5)
        scoring = self.scoring if isinstance(self.scoring, str) else "score"
        ax.set_xlabel(f"decrease in {scoring}")
        title = "Modality importance"
        if self.baseline_score is not None:
            title += f" (baseline {scoring} = {self.baseline_score:.3f})"
        ax.set_title(title)

        self.order_ = order
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_importances(
        cls,
        result,
        *,
        ax=None,
        sort=True,
        kind="bar",
        bar_kw=None,
        errorbar_kw=None,
        boxplot_kw=None,
    ):
        """Plot the result of :func:`~skfusion.inspection.modality_importance`.

        Parameters
        ----------
        result : Bunch
            As returned by ``modality_importance`` with one metric: fields
            ``importances_mean``, ``importances_std``, ``modalities`` and
            optionally ``importances``, ``scoring``, ``baseline_score``.
            With several metrics it returns a dict of Bunch: pass one of
            them (``result["roc_auc"]``).
        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure and axes.
        sort, kind, bar_kw, errorbar_kw, boxplot_kw
            Passed to :meth:`plot`.

        Returns
        -------
        display : ModalityImportanceDisplay

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from sklearn.utils import Bunch
        >>> from skfusion.inspection import ModalityImportanceDisplay
        >>> result = Bunch(
        ...     importances_mean=np.array([0.02, 0.15]),
        ...     importances_std=np.array([0.01, 0.02]),
        ...     importances=np.array([[0.01, 0.03], [0.13, 0.17]]),
        ...     modalities=["tab", "note"], baseline_score=0.9,
        ...     scoring=None, strategy="permute",
        ... )
        >>> display = ModalityImportanceDisplay.from_importances(result)
        >>> [round(float(bar.get_width()), 2) for bar in display.bars_]
        [0.15, 0.02]
        >>> plt.close(display.figure_)
        """
        _check_matplotlib_support(f"{cls.__name__}.from_importances")
        if not isinstance(result, Mapping):
            raise TypeError(
                "result must be the Bunch returned by modality_importance; "
                f"got {type(result).__name__}."
            )
        missing = [key for key in _IMPORTANCE_FIELDS if key not in result]
        if missing:
            hint = ""
            if all(isinstance(value, Mapping) for value in result.values()):
                hint = (
                    " It looks like the result of several metrics: pass one, "
                    f"e.g. result[{next(iter(result), 'metric')!r}]."
                )
            raise ValueError(
                f"result lacks {missing}; expected the Bunch returned by "
                f"modality_importance.{hint}"
            )
        display = cls(
            result["importances_mean"],
            result["importances_std"],
            list(result["modalities"]),
            importances=result.get("importances"),
            scoring=result.get("scoring"),
            baseline_score=result.get("baseline_score"),
        )
        return display.plot(
            ax=ax,
            sort=sort,
            kind=kind,
            bar_kw=bar_kw,
            errorbar_kw=errorbar_kw,
            boxplot_kw=boxplot_kw,
        )

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        scoring=None,
        n_repeats=5,
        strategy="permute",
        random_state=None,
        ax=None,
        sort=True,
        kind="bar",
        bar_kw=None,
        errorbar_kw=None,
        boxplot_kw=None,
    ):
        """Compute :func:`~skfusion.inspection.modality_importance` and plot it.

        Parameters
        ----------
        estimator : CrossModalClassifier, CrossModalRegressor or Pipeline
            A fitted skfusion estimator, or a fitted Pipeline whose last step
            is one.
        X : DataFrame, array-like or dict
            Data the estimator accepts; usually held-out rows.
        y : array-like of shape (n_samples,)
            Targets.
        scoring : str or callable, default=None
            One metric, as in scikit-learn; None uses the estimator's
            ``score``.
        n_repeats : int, default=5
            Permutations per modality (``strategy="permute"``).
        strategy : {"permute", "mask"}, default="permute"
            Shuffle each modality across rows, or mark it absent.
        random_state : int, RandomState instance or None, default=None
            Seeds the permutations.
        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure and axes.
        sort, kind, bar_kw, errorbar_kw, boxplot_kw
            Passed to :meth:`plot`.

        Returns
        -------
        display : ModalityImportanceDisplay

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from skfusion import CrossModalClassifier
        >>> from skfusion.inspection import ModalityImportanceDisplay
        >>> rng = np.random.RandomState(0)
        >>> X = {"a": rng.randn(100, 3), "b": rng.randn(100, 3)}
        >>> y = (X["a"][:, 0] > 0).astype(int)
        >>> clf = CrossModalClassifier(max_epochs=10, random_state=0).fit(X, y)
        >>> display = ModalityImportanceDisplay.from_estimator(
        ...     clf, X, y, n_repeats=3, random_state=0
        ... )
        >>> [label.get_text() for label in display.ax_.get_yticklabels()]
        ['b', 'a']
        >>> plt.close(display.figure_)
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        from .._importance import modality_importance

        result = modality_importance(
            estimator,
            X,
            y,
            scoring=scoring,
            n_repeats=n_repeats,
            strategy=strategy,
            random_state=random_state,
        )
        if not all(key in result for key in _IMPORTANCE_FIELDS):
            raise ValueError(
                f"{cls.__name__}.from_estimator plots one metric; got "
                f"scoring={scoring!r}. Pass one, or call modality_importance "
                "and plot one metric of its result with from_importances."
            )
        return cls.from_importances(
            result,
            ax=ax,
            sort=sort,
            kind=kind,
            bar_kw=bar_kw,
            errorbar_kw=errorbar_kw,
            boxplot_kw=boxplot_kw,
        )


def _horizontal_boxplot():
    """``ax.boxplot`` keyword for horizontal boxes (``orientation`` since
    matplotlib 3.10, where ``vert`` is deprecated)."""
    import matplotlib
    from sklearn.utils.fixes import parse_version

    if parse_version(matplotlib.__version__) >= parse_version("3.10"):
        return {"orientation": "horizontal"}
    return {"vert": False}
