"""modality_importance, modality_weights, modality_availability."""

import re

import numpy as np
import pandas as pd
import pytest
from _clinical import tabular_transformer
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import make_scorer, r2_score, roc_auc_score
from sklearn.pipeline import make_pipeline

from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion._representation import without_modalities
from skfusion.datasets import make_clinical_multimodal
from skfusion.inspection import (
    modality_availability,
    modality_importance,
    modality_weights,
)
from skfusion.metrics import availability_report
from skfusion.preprocessing import ImageLoader, TextEmbedder

SMALL = dict(max_epochs=8, latent_dim=8, head_dims=(16,), lr=3e-3, random_state=0)


def _pipeline(tabular, **params):
    tab = tabular_transformer()
    preprocess = ColumnTransformer(
        [
            ("tab", tab, tabular),
            ("note", TextEmbedder(n_components=8, random_state=0), "note"),
            ("xray", ImageLoader(size=16), "xray_path"),
        ]
    ).set_output(transform="pandas")
    clf = CrossModalClassifier(**{**SMALL, "cnn_channels": (4, 8), **params})
    return make_pipeline(preprocess, clf)


@pytest.fixture(scope="module")
def clinical(tmp_path_factory):
    X, y = make_clinical_multimodal(
        360,
        image_dir=tmp_path_factory.mktemp("scans"),
        image_size=16,
        missing_note=0.2,
        missing_image=0.2,
        random_state=0,
    )
    tabular = [c for c in X.columns if c not in ("note", "xray_path")]
    pipe = _pipeline(tabular, fusion="gated").fit(X.iloc[:240], y[:240])
    return X.iloc[240:], y[240:], pipe, tabular


@pytest.fixture(scope="module")
def one_signal():
    """y depends on modality "a" only; "b" is noise and absent in 1 row in 4."""
    rng = np.random.RandomState(0)
    X = {
        "a": rng.randn(300, 4),
        "b": rng.randn(300, 4),
        "b__missing": (np.arange(300) % 4 == 0).astype(float),
    }
    y = (X["a"][:, 0] + 0.5 * X["a"][:, 1] > 0).astype(int)
    clf = CrossModalClassifier(max_epochs=30, lr=3e-3, random_state=0).fit(X, y)
    return X, y, clf


def test_importance_finds_the_informative_modality(one_signal):
    X, y, clf = one_signal
    for strategy in ("permute", "mask"):
        result = modality_importance(
            clf, X, y, scoring="roc_auc", strategy=strategy, random_state=0
        )
        assert result.modalities == ["a", "b"]
        assert result.strategy == strategy and result.scoring == "roc_auc"
        a, b = result.importances_mean
        assert a > 0.3, (strategy, a)
        assert abs(b) < 0.03, (strategy, b)


def test_bunch_shapes_and_statistics(one_signal):
    X, y, clf = one_signal
    result = modality_importance(clf, X, y, n_repeats=4, random_state=0)
    assert result.importances.shape == (2, 4)
    np.testing.assert_allclose(result.importances_mean, result.importances.mean(1))
    np.testing.assert_allclose(result.importances_std, result.importances.std(1))
    # scoring=None is the estimator's score (accuracy)
    assert result.baseline_score == pytest.approx(clf.score(X, y))
    assert result.scoring is None
    masked = modality_importance(clf, X, y, n_repeats=4, strategy="mask")
    assert masked.importances.shape == (2, 1)
    np.testing.assert_array_equal(masked.importances_std, 0.0)


def test_mask_equals_marking_the_modality_missing(one_signal):
    X, y, clf = one_signal
    result = modality_importance(clf, X, y, scoring="roc_auc", strategy="mask")
    flagged = {**X, "b__missing": np.ones(len(y))}
    score = roc_auc_score(y, clf.predict_proba(flagged)[:, 1])
    assert result.importances[1, 0] == pytest.approx(result.baseline_score - score)
    # the masked copy that masking uses leaves the estimator as it was
    before = clf.predict_proba(X)
    inside = without_modalities(clf, ["a"]).predict_proba(X)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert not np.allclose(inside, before)


def test_pipeline_modalities_are_the_column_transformer_prefixes(clinical):
    X, y, pipe, _ = clinical
    untouched = X.copy()
    result = modality_importance(
        pipe, X, y, scoring="roc_auc", n_repeats=3, random_state=0
    )
    pd.testing.assert_frame_equal(X, untouched)
    assert result.modalities == ["tab", "note", "xray"]
    assert result.importances.shape == (3, 3)
    assert result.baseline_score == pytest.approx(
        roc_auc_score(y, pipe.predict_proba(X)[:, 1])
    )
    again = modality_importance(
        pipe, X, y, scoring="roc_auc", n_repeats=3, random_state=0
    )
    np.testing.assert_array_equal(result.importances, again.importances)


def test_permuting_at_the_estimator_equals_permuting_the_raw_columns(clinical):
    """The first permutation of the first modality ("tab") is
    RandomState(0).permutation(n); shuffling the raw tabular columns of the
    DataFrame by it and scoring the whole Pipeline gives the same drop."""
    X, y, pipe, tabular = clinical
    result = modality_importance(
        pipe, X, y, scoring="roc_auc", n_repeats=1, random_state=0
    )
    perm = np.random.RandomState(0).permutation(len(X))
    shuffled = X.copy()
    shuffled[tabular] = X[tabular].iloc[perm].to_numpy()
    score = roc_auc_score(y, pipe.predict_proba(shuffled)[:, 1])
    assert result.importances[0, 0] == pytest.approx(
        result.baseline_score - score, abs=1e-6
    )


def test_several_metrics_give_one_bunch_each(one_signal):
    X, y, clf = one_signal
    results = modality_importance(
        clf, X, y, scoring=["roc_auc", "accuracy"], n_repeats=2, random_state=0
    )
    assert set(results) == {"roc_auc", "accuracy"}
    assert results["accuracy"].baseline_score == pytest.approx(clf.score(X, y))
    assert results["roc_auc"].scoring == "roc_auc"


def test_numpy_input_and_regressor():
    rng = np.random.RandomState(1)
    X = rng.randn(200, 6)
    y = 2.0 * X[:, 3] + 0.1 * rng.randn(200)
    reg = CrossModalRegressor(
        modalities={"left": [0, 1, 2], "right": [3, 4, 5]},
        max_epochs=40,
        lr=1e-2,
        random_state=0,
    ).fit(X, y)
    result = modality_importance(reg, X, y, n_repeats=3, random_state=0)
    assert result.baseline_score == pytest.approx(r2_score(y, reg.predict(X)))
    left, right = result.importances_mean
    assert right > 0.5 and abs(left) < 0.1


def test_sample_weight_reaches_the_scorer(one_signal):
    X, y, clf = one_signal
    weights = np.where(np.arange(len(y)) < 150, 1.0, 0.0)
    result = modality_importance(clf, X, y, sample_weight=weights, n_repeats=1)
    first_half = {k: v[:150] for k, v in X.items()}
    assert result.baseline_score == pytest.approx(clf.score(first_half, y[:150]))


def _printed_line(capsys):
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_verbose_prints_one_summary_line(one_signal, capsys):
    X, y, clf = one_signal
    result = modality_importance(
        clf, X, y, scoring="roc_auc", n_repeats=2, random_state=0, verbose=1
    )
    line = _printed_line(capsys)
    match = re.fullmatch(
        r"\[modality_importance\] 2 modalities x 2 repeats \(strategy 'permute', "
        r"scoring 'roc_auc'\): baseline (\d\.\d{3}), in \d+\.\d s; "
        r"largest drop: a (-?\d\.\d{3})",
        line,
    )
    assert match, line
    assert match[1] == f"{result.baseline_score:.3f}"
    assert match[2] == f"{result.importances_mean.max():.3f}"

    again = modality_importance(
        clf, X, y, scoring="roc_auc", n_repeats=2, random_state=0
    )
    assert capsys.readouterr().out == ""  # verbose=0: silent
    np.testing.assert_array_equal(again.importances, result.importances)


def test_verbose_names_mask_default_callable_and_several_scorings(one_signal, capsys):
    X, y, clf = one_signal
    masked = modality_importance(clf, X, y, strategy="mask", verbose=1)
    line = _printed_line(capsys)
    assert line.startswith(
        "[modality_importance] 2 modalities (strategy 'mask', scoring "
        f"CrossModalClassifier.score): baseline {masked.baseline_score:.3f}, in "
    ), line

    scorer = make_scorer(roc_auc_score, response_method="predict_proba")
    modality_importance(clf, X, y, scoring=scorer, n_repeats=1, verbose=1)
    assert "(strategy 'permute', scoring roc_auc_score): " in _printed_line(capsys)

    results = modality_importance(
        clf, X, y, scoring=["roc_auc", "accuracy"], n_repeats=1, verbose=1
    )
    line = _printed_line(capsys)
    auc, acc = results["roc_auc"], results["accuracy"]
    assert "x 1 repeat (strategy 'permute', scoring 'roc_auc', 'accuracy'): " in line
    assert (
        f"baseline roc_auc {auc.baseline_score:.3f}, "
        f"accuracy {acc.baseline_score:.3f}, in "
    ) in line
    assert line.endswith(
        f"largest drop: a {auc.importances_mean[0]:.3f} (roc_auc), "
        f"a {acc.importances_mean[0]:.3f} (accuracy)"
    ), line


def test_errors(one_signal):
    X, y, clf = one_signal
    with pytest.raises(ValueError, match="strategy must be one of"):
        modality_importance(clf, X, y, strategy="drop")
    with pytest.raises(ValueError, match="n_repeats must be an int >= 1"):
        modality_importance(clf, X, y, n_repeats=0)
    with pytest.raises(TypeError, match="got LogisticRegression"):
        modality_importance(LogisticRegression().fit(X["a"], y), X["a"], y)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        modality_importance(CrossModalClassifier(), X, y)


def test_modality_weights_of_a_pipeline(clinical):
    X, _, pipe, _ = clinical
    weights = modality_weights(pipe, X)
    assert list(weights.columns) == ["tab", "note", "xray"]
    pd.testing.assert_index_equal(weights.index, X.index)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    direct = pipe[-1].modality_weights(pipe[:-1].transform(X))
    np.testing.assert_array_equal(weights.to_numpy(), direct)
    # an absent note gets weight 0
    absent = X["note"].isna().to_numpy()
    assert absent.any()
    np.testing.assert_array_equal(weights["note"].to_numpy()[absent], 0.0)


def test_modality_weights_needs_a_weighting_fusion(one_signal):
    X, y, _ = one_signal
    clf = CrossModalClassifier(max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"fusion=.concat.*modality_importance"):
        modality_weights(clf, X)


def test_modality_availability_reads_the_missing_indicators(clinical):
    X, _, pipe, _ = clinical
    present = modality_availability(pipe, X)
    assert list(present.columns) == ["tab", "note", "xray"]
    assert present.dtypes.eq(bool).all()
    pd.testing.assert_index_equal(present.index, X.index)
    np.testing.assert_array_equal(present["note"], X["note"].notna())
    np.testing.assert_array_equal(present["xray"], X["xray_path"].notna())
    assert present["tab"].all()


def test_availability_report_of_a_pipeline(clinical):
    X, y, pipe, _ = clinical
    present = modality_availability(pipe, X)
    proba = pipe.predict_proba(X)
    report = availability_report(y, proba, present, labels=pipe.classes_)
    both = (X["note"].notna() & X["xray_path"].notna()).to_numpy()
    assert report.loc["tab + note + xray", "n_rows"] == both.sum()
    assert report.loc["tab + note + xray", "roc_auc"] == pytest.approx(
        roc_auc_score(y[both], proba[both, 1])
    )
    assert report.loc["all rows", "roc_auc"] == pytest.approx(
        roc_auc_score(y, proba[:, 1])
    )


# ------------------------------------------------------------- multilabel
@pytest.fixture(scope="module")
def three_labels():
    """Label 0 depends on modality "a", 1 on "b", 2 on "c"; "d" is noise."""
    rng = np.random.RandomState(0)
    X = {name: rng.randn(300, 3) for name in ("a", "b", "c", "d")}
    Y = (np.column_stack([X[name][:, 0] for name in "abc"]) > 0).astype(int)
    clf = CrossModalClassifier(**{**SMALL, "max_epochs": 20, "lr": 1e-2})
    return X, Y, clf.fit(X, Y)


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_multilabel_roc_auc_scorers(three_labels, average):
    X, Y, clf = three_labels
    result = modality_importance(
        clf, X, Y, scoring=f"roc_auc_{average}", n_repeats=3, random_state=0
    )
    proba = clf.predict_proba(X)
    assert result.scoring == f"roc_auc_{average}"
    assert result.baseline_score == pytest.approx(
        roc_auc_score(Y, proba, average=average)
    )
    assert result.baseline_score > 0.95
    drops = result.importances_mean
    # shuffling "a" leaves labels 1 and 2 intact: about a third of the AUC
    # above 0.5 goes
    assert ((drops[:3] > 0.08) & (drops[:3] < 0.3)).all(), drops
    assert abs(drops[3]) < 0.02


def test_multilabel_scorers_in_a_list_and_beside_sklearn_names(
    three_labels, one_signal
):
    X, Y, clf = three_labels
    results = modality_importance(
        clf,
        X,
        Y,
        scoring=["roc_auc_micro", "roc_auc_macro", "roc_auc"],
        n_repeats=2,
        random_state=0,
    )
    assert list(results) == ["roc_auc_micro", "roc_auc_macro", "roc_auc"]
    # sklearn's "roc_auc" is the macro average over the labels
    np.testing.assert_allclose(
        results["roc_auc"].importances, results["roc_auc_macro"].importances
    )
    assert results["roc_auc_micro"].baseline_score != pytest.approx(
        results["roc_auc_macro"].baseline_score, abs=1e-6
    )
    # the default scoring is the subset accuracy of a multilabel classifier
    default = modality_importance(clf, X, Y, n_repeats=1, random_state=0)
    assert default.baseline_score == pytest.approx(
        np.mean((clf.predict(X) == Y).all(axis=1))
    )
    # for a binary y, both names are the ROC AUC
    Xb, yb, binary = one_signal
    as_dict = modality_importance(
        binary, Xb, yb, scoring={"m": "roc_auc_micro"}, n_repeats=1, random_state=0
    )
    reference = modality_importance(
        binary, Xb, yb, scoring="roc_auc", n_repeats=1, random_state=0
    )
    assert as_dict["m"].baseline_score == pytest.approx(reference.baseline_score)
    np.testing.assert_allclose(as_dict["m"].importances, reference.importances)


def test_multilabel_scorers_with_two_labels(three_labels):
    # classes_ [0, 1] of two labels looks binary to scikit-learn's scorers
    # (its "roc_auc" fails there, for MLPClassifier too): these names work
    X, Y, _ = three_labels
    Y = Y[:, :2]
    clf = CrossModalClassifier(**{**SMALL, "max_epochs": 20, "lr": 1e-2}).fit(X, Y)
    result = modality_importance(
        clf, X, Y, scoring="roc_auc_micro", n_repeats=2, random_state=0
    )
    assert result.baseline_score == pytest.approx(
        roc_auc_score(Y, clf.predict_proba(X), average="micro")
    )
    a, b, c, d = result.importances_mean
    assert a > 0.15 and b > 0.15, (a, b)
    assert abs(c) < 0.02 and abs(d) < 0.02, (c, d)
