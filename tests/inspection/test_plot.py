"""TrainingCurveDisplay and ModalityImportanceDisplay: the artists they draw."""

import sys
import types

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch

from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion.inspection import ModalityImportanceDisplay, TrainingCurveDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TINY = dict(
    max_epochs=4,
    batch_size=16,
    latent_dim=4,
    head_dims=(8,),
    lr=1e-2,
    random_state=0,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _data(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = {"lab": rng.normal(size=(n, 3)), "vitals": rng.normal(size=(n, 2))}
    y = (X["lab"][:, 0] + 0.2 * rng.normal(size=n) > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def early_stopped():
    X, y = _data()
    clf = CrossModalClassifier(early_stopping=True, validation_fraction=0.2, **TINY)
    return clf.fit(X, y)


@pytest.fixture(scope="module")
def no_validation():
    X, y = _data()
    return CrossModalRegressor(**TINY).fit(X, y.astype(float))


def _legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def _labels_top_down(display):
    """Y tick labels from the top of the plot to the bottom."""
    ticks = sorted(
        zip(display.ax_.get_yticks(), display.ax_.get_yticklabels(), strict=True),
        key=lambda pair: -pair[0],
    )
    return [label.get_text() for _, label in ticks]


# ------------------------------------------------------------- training curve
def test_training_curve_lines_follow_history(early_stopped):
    history = early_stopped.net_.history
    display = TrainingCurveDisplay.from_estimator(early_stopped)

    assert set(display.lines_) == {"train", "valid"}
    epochs = np.arange(1, len(history) + 1)
    train, valid = display.lines_["train"], display.lines_["valid"]
    np.testing.assert_array_equal(train.get_xdata(), epochs)
    np.testing.assert_array_equal(valid.get_xdata(), epochs)
    np.testing.assert_allclose(train.get_ydata(), history[:, "train_loss"])
    np.testing.assert_allclose(valid.get_ydata(), history[:, "valid_loss"])
    np.testing.assert_allclose(train.get_ydata(), early_stopped.loss_curve_)
    np.testing.assert_allclose(valid.get_ydata(), early_stopped.validation_loss_curve_)

    ax = display.ax_
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "loss"
    assert ax.get_title() == "CrossModalClassifier"
    assert ax.get_yscale() == "linear"
    assert display.figure_ is ax.figure
    assert train.get_label() == "train loss"
    assert valid.get_label() == "validation loss"

    # The marker sits at the epoch whose weights early stopping restored.
    stopper = dict(early_stopped.net_.callbacks_)["early_stopping"]
    best = stopper.best_epoch_
    assert display.best_epoch_ == best
    assert list(display.best_line_.get_xdata()) == [best, best]
    assert display.best_line_.get_linestyle() == ":"
    assert _legend_texts(ax) == [
        "train loss",
        "validation loss",
        f"best epoch ({best})",
    ]


def test_training_curve_without_validation(no_validation):
    display = TrainingCurveDisplay.from_estimator(no_validation, log_scale=True)
    assert list(display.lines_) == ["train"]
    np.testing.assert_allclose(
        display.lines_["train"].get_ydata(), no_validation.loss_curve_
    )
    assert display.best_line_ is None
    assert display.best_epoch_ is None
    assert _legend_texts(display.ax_) == ["train loss"]
    assert display.ax_.get_yscale() == "log"
    assert display.ax_.get_title() == "CrossModalRegressor"
    assert len(display.ax_.get_lines()) == 1


def test_training_curve_draws_into_given_ax(early_stopped):
    fig, (left, right) = plt.subplots(1, 2)
    display = TrainingCurveDisplay.from_estimator(
        early_stopped, ax=right, name="fused", train_kw={"color": "red"}
    )
    assert display.ax_ is right
    assert display.figure_ is fig
    assert len(left.get_lines()) == 0
    assert len(right.get_lines()) == 3  # train, valid, best-epoch line
    assert right.get_title() == "fused"
    assert display.lines_["train"].get_color() == "red"


def test_training_curve_from_pipeline():
    X, y = _data()
    frame = pd.DataFrame(
        np.hstack([X["lab"], X["vitals"]]),
        columns=["lab__a", "lab__b", "lab__c", "vitals__hr", "vitals__bp"],
    )
    pipe = make_pipeline(
        StandardScaler().set_output(transform="pandas"),
        CrossModalClassifier(**{**TINY, "max_epochs": 2}),
    ).fit(frame, y)
    display = TrainingCurveDisplay.from_estimator(pipe)
    np.testing.assert_allclose(
        display.lines_["train"].get_ydata(), pipe[-1].loss_curve_
    )
    assert display.ax_.get_title() == "CrossModalClassifier"


def test_training_curve_direct_marks_lowest_validation_loss():
    display = TrainingCurveDisplay(
        [0.9, 0.7, 0.6, 0.5, 0.45], [0.8, 0.6, 0.55, 0.58, 0.6]
    ).plot()
    assert display.best_epoch_ == 3
    assert list(display.best_line_.get_xdata()) == [3, 3]
    assert display.ax_.get_title() == ""
    display = TrainingCurveDisplay(
        [0.9, 0.7, 0.6], [0.8, 0.6, 0.7], best_epoch=1
    ).plot()
    assert list(display.best_line_.get_xdata()) == [1, 1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(train_loss=[1.0, 0.5], valid_loss=[1.0]), "valid_loss has 1 epochs"),
        (dict(train_loss=[], valid_loss=None), "empty"),
        (dict(train_loss=[[1.0]], valid_loss=None), "must be 1-D"),
        (dict(train_loss=[1.0], valid_loss=[1.0], best_epoch=0), r"\[1, 1\]"),
    ],
)
def test_training_curve_invalid_data(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainingCurveDisplay(**kwargs).plot()


def test_training_curve_unfitted_estimator():
    with pytest.raises(NotFittedError, match="CrossModalClassifier"):
        TrainingCurveDisplay.from_estimator(CrossModalClassifier())
    pipe = make_pipeline(StandardScaler(), CrossModalRegressor())
    with pytest.raises(NotFittedError, match="CrossModalRegressor"):
        TrainingCurveDisplay.from_estimator(pipe)


def test_training_curve_rejects_other_estimators():
    X, y = _data()
    logreg = LogisticRegression().fit(X["lab"], y)
    with pytest.raises(TypeError, match="got LogisticRegression"):
        TrainingCurveDisplay.from_estimator(logreg)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X["lab"], y)
    with pytest.raises(TypeError, match="got Pipeline ending in LogisticRegression"):
        TrainingCurveDisplay.from_estimator(pipe)


# ---------------------------------------------------------- modality importance
@pytest.fixture
def result():
    return Bunch(
        importances_mean=np.array([0.05, 0.20, -0.01]),
        importances_std=np.array([0.01, 0.03, 0.02]),
        importances=np.array([[0.04, 0.06], [0.17, 0.23], [-0.03, 0.01]]),
        modalities=["tab", "note", "xray"],
        baseline_score=0.875,
        scoring="roc_auc",
        strategy="permute",
    )


def test_importance_bars_sorted_with_error_bars(result):
    display = ModalityImportanceDisplay.from_importances(result)

    order = [1, 0, 2]  # note, tab, xray: largest first, drawn at the top
    bars = display.bars_.patches
    assert len(bars) == 3
    np.testing.assert_allclose(
        [bar.get_width() for bar in bars], result.importances_mean[order]
    )
    centres = [bar.get_y() + bar.get_height() / 2 for bar in bars]
    assert centres == sorted(centres, reverse=True)  # first bar on top
    np.testing.assert_array_equal(display.order_, order)
    assert _labels_top_down(display) == ["note", "tab", "xray"]
    # Each tick sits on its modality's bar.
    tick_of = dict(
        zip(
            [t.get_text() for t in display.ax_.get_yticklabels()],
            display.ax_.get_yticks(),
            strict=True,
        )
    )
    for i, centre in zip(order, centres, strict=True):
        assert tick_of[result.modalities[i]] == pytest.approx(centre)

    # Error bars: centred on the means, half-width = std.
    (barlines,) = display.errorbar_.lines[2]
    segments = np.asarray(barlines.get_segments())
    np.testing.assert_allclose(
        segments[:, :, 0].mean(axis=1), result.importances_mean[order]
    )
    np.testing.assert_allclose(
        (segments[:, 1, 0] - segments[:, 0, 0]) / 2, result.importances_std[order]
    )
    np.testing.assert_allclose(segments[:, 0, 1], centres)

    ax = display.ax_
    assert ax.get_xlabel() == "decrease in roc_auc"
    assert list(display.zero_line_.get_xdata()) == [0, 0]
    assert "0.875" in ax.get_title()
    assert display.boxplot_ is None
    assert display.figure_ is ax.figure


def test_importance_unsorted_keeps_given_order_top_down(result):
    display = ModalityImportanceDisplay.from_importances(result, sort=False)
    np.testing.assert_allclose(
        [bar.get_width() for bar in display.bars_], result.importances_mean
    )
    assert _labels_top_down(display) == ["tab", "note", "xray"]


def test_importance_default_scoring_label():
    display = ModalityImportanceDisplay([0.1, 0.2], [0.0, 0.0], ["a", "b"]).plot()
    assert display.ax_.get_xlabel() == "decrease in score"
    assert display.ax_.get_title() == "Modality importance"
    display = ModalityImportanceDisplay(
        [0.1], [0.0], ["a"], scoring=lambda est, X, y: 0.0
    ).plot()
    assert display.ax_.get_xlabel() == "decrease in score"


def test_importance_box_kind(result):
    display = ModalityImportanceDisplay.from_importances(result, kind="box")
    assert display.bars_ is None and display.errorbar_ is None
    medians = [np.mean(line.get_xdata()) for line in display.boxplot_["medians"]]
    np.testing.assert_allclose(medians, np.median(result.importances[[1, 0, 2]], 1))
    assert _labels_top_down(display) == ["note", "tab", "xray"]


def test_importance_draws_into_given_ax(result):
    fig, (left, right) = plt.subplots(1, 2)
    display = ModalityImportanceDisplay.from_importances(
        result, ax=left, bar_kw={"color": "green"}
    )
    assert display.ax_ is left
    assert display.figure_ is fig
    assert len(left.patches) == 3
    assert len(right.patches) == 0
    assert matplotlib.colors.same_color(display.bars_[0].get_facecolor(), "green")


def test_importance_invalid_inputs(result):
    with pytest.raises(ValueError, match="kind must be one of"):
        ModalityImportanceDisplay.from_importances(result, kind="pie")
    with pytest.raises(ValueError, match="needs importances"):
        ModalityImportanceDisplay([0.1], [0.0], ["a"]).plot(kind="box")
    with pytest.raises(ValueError, match="same length"):
        ModalityImportanceDisplay([0.1, 0.2], [0.0], ["a", "b"]).plot()
    with pytest.raises(ValueError, match=r"result lacks \['importances_std'\]"):
        ModalityImportanceDisplay.from_importances(
            {k: v for k, v in result.items() if k != "importances_std"}
        )
    with pytest.raises(ValueError, match=r"pass one, e\.g\. result\['roc_auc'\]"):
        ModalityImportanceDisplay.from_importances({"roc_auc": result})
    with pytest.raises(TypeError, match="Bunch returned by modality_importance"):
        ModalityImportanceDisplay.from_importances([0.1, 0.2])


def test_importance_from_estimator_calls_modality_importance(monkeypatch, result):
    calls = []

    def fake(estimator, X, y, **kwargs):
        calls.append((estimator, X, y, kwargs))
        return result

    fake_module = types.ModuleType("skfusion.inspection._importance")
    fake_module.modality_importance = fake
    monkeypatch.setitem(sys.modules, "skfusion.inspection._importance", fake_module)
    display = ModalityImportanceDisplay.from_estimator(
        "est",
        "X",
        "y",
        scoring="roc_auc",
        n_repeats=2,
        strategy="mask",
        random_state=3,
        sort=False,
    )
    assert calls == [
        (
            "est",
            "X",
            "y",
            dict(scoring="roc_auc", n_repeats=2, strategy="mask", random_state=3),
        )
    ]
    assert _labels_top_down(display) == ["tab", "note", "xray"]


def test_importance_from_estimator_end_to_end(early_stopped):
    importance = pytest.importorskip("skfusion.inspection._importance")
    X, y = _data(seed=1)
    display = ModalityImportanceDisplay.from_estimator(
        early_stopped, X, y, n_repeats=3, random_state=0
    )
    result = importance.modality_importance(
        early_stopped, X, y, n_repeats=3, random_state=0
    )
    order = np.argsort(-result.importances_mean, kind="stable")
    np.testing.assert_allclose(
        [bar.get_width() for bar in display.bars_], result.importances_mean[order]
    )
    assert _labels_top_down(display) == [result.modalities[i] for i in order]
    assert _labels_top_down(display)[0] == "lab"  # y depends on lab only
    assert display.ax_.get_xlabel() == "decrease in score"


# ------------------------------------------------------- matplotlib not there
def test_missing_matplotlib_names_the_extra(monkeypatch, result, early_stopped):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    match = r'pip install "skfusion\[plot\]"'
    with pytest.raises(ImportError) as excinfo:
        TrainingCurveDisplay([1.0, 0.5]).plot()
    assert str(excinfo.value).startswith("TrainingCurveDisplay.plot requires")
    assert 'pip install "skfusion[plot]"' in str(excinfo.value)
    with pytest.raises(ImportError, match=match):
        TrainingCurveDisplay.from_estimator(early_stopped)
    with pytest.raises(ImportError, match=match):
        ModalityImportanceDisplay.from_importances(result)
    # Checked before any importance is computed.
    with pytest.raises(ImportError, match=match):
        ModalityImportanceDisplay.from_estimator(None, None, None)
