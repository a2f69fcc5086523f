"""availability_report: metrics per group of rows with the same modalities."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    recall_score,
    roc_auc_score,
)

from skfusion.metrics import availability_report


@pytest.fixture
def binary():
    rng = np.random.RandomState(0)
    n = 400
    y = np.where(rng.rand(n) < 0.3, "sick", "well")
    proba_sick = np.clip(0.3 + 0.4 * (y == "sick") + 0.3 * rng.randn(n), 0, 1)
    proba = np.column_stack([proba_sick, 1 - proba_sick])  # classes_ order
    present = pd.DataFrame(
        {
            "tab": np.ones(n, bool),
            "note": rng.rand(n) > 0.2,
            "xray": rng.rand(n) > 0.5,
        }
    )
    return y, proba, present


def test_each_group_scores_as_sklearn_does_on_its_rows(binary):
    y, proba, present = binary
    labels = np.array(["well", "sick"])  # positive class = labels[1]
    proba = proba[:, ::-1]  # columns in the order of labels
    report = availability_report(y, proba, present, labels=labels)
    assert list(report.columns) == [
        "n_rows",
        "share",
        "prevalence",
        "roc_auc",
        "balanced_accuracy",
        "recall",
        "f1",
    ]
    assert report.index[0] == "all rows" and report.loc["all rows", "n_rows"] == 400
    pred = labels[proba.argmax(1)]
    for name in report.index[1:]:
        kept = name.split(" + ")
        rows = (
            present[kept].all(axis=1) & (present.sum(axis=1) == len(kept))
        ).to_numpy()
        row = report.loc[name]
        assert row["n_rows"] == rows.sum()
        assert row["share"] == pytest.approx(rows.mean())
        assert row["prevalence"] == pytest.approx(np.mean(y[rows] == "sick"))
        assert row["roc_auc"] == pytest.approx(
            roc_auc_score(y[rows] == "sick", proba[rows, 1])
        )
        assert row["balanced_accuracy"] == pytest.approx(
            balanced_accuracy_score(y[rows], pred[rows])
        )
        assert row["recall"] == pytest.approx(
            recall_score(y[rows], pred[rows], pos_label="sick")
        )
        assert row["f1"] == pytest.approx(
            f1_score(y[rows], pred[rows], pos_label="sick")
        )
    # groups partition the rows, most frequent first
    assert report["n_rows"].iloc[1:].sum() == 400
    assert report["n_rows"].iloc[1:].is_monotonic_decreasing
    assert set(report.index[1:]) == {
        "tab + note + xray",
        "tab + note",
        "tab + xray",
        "tab",
    }


def test_one_dimensional_score_and_explicit_predictions(binary):
    y, proba, present = binary
    yb = (y == "sick").astype(int)
    score = proba[:, 0]
    report = availability_report(yb, score, present)
    assert report.loc["all rows", "roc_auc"] == pytest.approx(roc_auc_score(yb, score))
    assert report.loc["all rows", "recall"] == pytest.approx(
        recall_score(yb, (score >= 0.5).astype(int))
    )
    y_pred = (score >= 0.2).astype(int)
    lenient = availability_report(yb, score, present, y_pred=y_pred)
    assert lenient.loc["all rows", "recall"] == pytest.approx(recall_score(yb, y_pred))
    assert lenient.loc["all rows", "recall"] > report.loc["all rows", "recall"]


def test_undefined_metrics_are_nan_and_no_modality_is_named():
    y = np.array([0, 1, 0, 1, 0, 0])
    score = np.array([0.1, 0.8, 0.3, 0.6, 0.7, 0.2])
    present = np.array([[1, 1], [1, 1], [1, 1], [1, 1], [0, 0], [0, 0]], dtype=bool)
    report = availability_report(y, score, present)
    assert list(report.index) == ["all rows", "m0 + m1", "(none)"]
    none = report.loc["(none)"]
    assert none["n_rows"] == 2 and none["prevalence"] == 0.0
    assert np.isnan(none["roc_auc"])  # one class
    assert np.isnan(none["recall"])  # no positive row
    assert none["balanced_accuracy"] == pytest.approx(0.5)  # one of two right


def test_multiclass_macro_averages():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 300)
    proba = rng.dirichlet(np.ones(3), 300)
    proba[np.arange(300), y] += 0.5
    proba /= proba.sum(1, keepdims=True)
    present = pd.DataFrame({"a": rng.rand(300) > 0.3, "b": np.ones(300, bool)})
    report = availability_report(y, proba, present)
    assert "prevalence" not in report.columns
    pred = proba.argmax(1)
    assert report.loc["all rows", "roc_auc"] == pytest.approx(
        roc_auc_score(y, proba, multi_class="ovr")
    )
    assert report.loc["all rows", "f1"] == pytest.approx(
        f1_score(y, pred, average="macro")
    )
    rows = (~present["a"]).to_numpy()
    assert report.loc["b", "recall"] == pytest.approx(
        recall_score(y[rows], pred[rows], average="macro")
    )


def test_input_errors(binary):
    y, proba, present = binary
    with pytest.raises(ValueError, match="3 columns but there are 2 labels"):
        availability_report(y, np.column_stack([proba, proba[:, :1]]), present)
    with pytest.raises(ValueError, match=r"1-D y_score .* 3 labels"):
        availability_report(np.arange(400) % 3, proba[:, 0], present)
    with pytest.raises(ValueError, match="True/False"):
        availability_report(y, proba, present.astype(float) * 2)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        availability_report(y[:10], proba, present)
    with pytest.raises(ValueError, match="availability must be 2-D"):
        availability_report(y, proba, np.ones(400))


# ------------------------------------------------------------- multilabel
@pytest.fixture
def multilabel():
    rng = np.random.RandomState(0)
    n = 300
    Y = (rng.rand(n, 3) < [0.2, 0.5, 0.7]).astype(int)
    proba = np.clip(0.3 + 0.4 * Y + 0.3 * rng.randn(n, 3), 0.001, 0.999)
    present = pd.DataFrame({"tab": np.ones(n, bool), "xray": rng.rand(n) > 0.4})
    return Y, proba, present


def test_multilabel_defaults_score_each_group_as_sklearn(multilabel):
    Y, proba, present = multilabel
    frame = pd.DataFrame(Y.astype(bool), columns=["fever", "cough", "rash"])
    report = availability_report(frame, proba, present)
    assert list(report.columns) == [
        "n_rows",
        "share",
        "prevalence",
        "roc_auc_micro",
        "roc_auc_macro",
    ]
    assert list(report.index) == ["all rows", "tab + xray", "tab"]
    for name, rows in [
        ("all rows", np.ones(len(Y), bool)),
        ("tab + xray", present["xray"].to_numpy()),
        ("tab", ~present["xray"].to_numpy()),
    ]:
        row = report.loc[name]
        assert row["n_rows"] == rows.sum()
        assert row["prevalence"] == pytest.approx(Y[rows].mean())
        for average in ("micro", "macro"):
            assert row[f"roc_auc_{average}"] == pytest.approx(
                roc_auc_score(Y[rows], proba[rows], average=average)
            )
    assert 0.8 < report.loc["all rows", "roc_auc_macro"] < 0.95


def test_multilabel_macro_auc_is_nan_where_a_label_has_one_class(multilabel):
    Y, proba, present = multilabel
    Y = Y.copy()
    xray = present["xray"].to_numpy()
    Y[~xray, 0] = 0  # label 0 never occurs in the rows without an x-ray
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UndefinedMetricWarning leaks
        report = availability_report(Y, proba, present)
    assert np.isnan(report.loc["tab", "roc_auc_macro"])
    assert report.loc["tab", "roc_auc_micro"] == pytest.approx(
        roc_auc_score(Y[~xray], proba[~xray], average="micro")
    )
    assert not np.isnan(report.loc["tab + xray", "roc_auc_macro"])


def test_metrics_replace_the_defaults(binary, multilabel):
    y, proba, present = binary
    labels = np.array(["sick", "well"])  # columns of proba; positive: "well"
    report = availability_report(
        y,
        proba,
        present,
        labels=labels,
        metrics={"brier": lambda t, s: brier_score_loss(t == "well", s)},
    )
    assert list(report.columns) == ["n_rows", "share", "brier"]
    rows = (present.all(axis=1)).to_numpy()
    # a binary task's metric gets the probability of labels[1]
    assert report.loc["tab + note + xray", "brier"] == pytest.approx(
        brier_score_loss(y[rows] == "well", proba[rows, 1])
    )
    Y, P, present = multilabel
    first = availability_report(
        Y, P, present, metrics={"auc_0": lambda t, s: roc_auc_score(t[:, 0], s[:, 0])}
    )
    assert first.loc["all rows", "auc_0"] == pytest.approx(
        roc_auc_score(Y[:, 0], P[:, 0])
    )


def test_multilabel_input_errors(binary, multilabel):
    Y, proba, present = multilabel
    with pytest.raises(ValueError, match=r"shape \(300, 2\) but the multilabel"):
        availability_report(Y, proba[:, :2], present)
    with pytest.raises(ValueError, match="y_pred and labels are for binary"):
        availability_report(Y, proba, present, y_pred=Y)
    with pytest.raises(ValueError, match="y_pred and labels are for binary"):
        availability_report(Y, proba, present, labels=[0, 1, 2])
    with pytest.raises(ValueError, match="'multiclass-multioutput' targets"):
        availability_report(Y + Y[:, :1], proba, present)
    with pytest.raises(ValueError, match=r"'multilabel-indicator' .* values \[-1, 1\]"):
        availability_report(2 * Y - 1, proba, present)
    y, proba, present = binary
    with pytest.raises(ValueError, match="y_pred is used by the default metrics"):
        availability_report(
            y, proba, present, y_pred=y, metrics={"n": lambda t, s: len(t)}
        )
