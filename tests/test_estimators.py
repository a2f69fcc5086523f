"""Behaviour of CrossModalClassifier / CrossModalRegressor on small data."""

import pickle
import re
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import recall_score, roc_auc_score

from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion._training import row_weights
from skfusion.exceptions import ModalityError

FAST = dict(
    max_epochs=15,
    batch_size=32,
    latent_dim=8,
    hidden_dims=(16,),
    head_dims=(16,),
    cnn_channels=(4, 8),
    lr=1e-2,
    random_state=0,
)


def _pixel_names(prefix, c, h, w):
    return [
        f"{prefix}__pixel_{i}_{y}_{x}"
        for i in range(c)
        for y in range(h)
        for x in range(w)
    ]


@pytest.fixture
def two_modality_frame():
    """'lab' vectors and a 1x6x6 'scan' image whose mean carries half the label."""
    rng = np.random.default_rng(0)
    n = 240
    lab = rng.normal(size=(n, 3))
    bright = rng.normal(size=n)
    scan = np.clip(0.5 + 0.15 * bright[:, None] + 0.05 * rng.normal(size=(n, 36)), 0, 1)
    y = (lab[:, 0] + bright > 0).astype(int)
    X = pd.DataFrame(
        np.hstack([lab, scan, np.zeros((n, 1))]),
        columns=[
            "lab__a",
            "lab__b",
            "lab__c",
            *_pixel_names("scan", 1, 6, 6),
            "scan__missing",
        ],
    )
    return X, y


# ------------------------------------------------------------ modality discovery
def test_prefix_grouping_finds_kinds_and_shapes(two_modality_frame):
    X, y = two_modality_frame
    clf = CrossModalClassifier(**FAST).fit(X, y)
    lab, scan = clf.modalities_["lab"], clf.modalities_["scan"]
    assert list(clf.modalities_) == ["lab", "scan"]
    assert (lab.kind, lab.shape, lab.columns) == ("vector", (3,), (0, 1, 2))
    assert (scan.kind, scan.shape, scan.missing_column) == ("image", (1, 6, 6), 39)
    assert scan.columns == tuple(range(3, 39))
    module = clf.net_.module_
    encoders = dict(zip(module.modality_names, module.encoders, strict=True))
    assert type(encoders["lab"]).__name__ == "MLPEncoder"
    assert type(encoders["scan"]).__name__ == "CNNEncoder"


def test_modality_spec_repr_is_a_short_summary():
    rng = np.random.default_rng(0)
    n = 16
    X = pd.DataFrame(
        np.hstack([rng.random((n, 64)), np.zeros((n, 1)), rng.normal(size=(n, 2))]),
        columns=[*_pixel_names("xray", 1, 8, 8), "xray__missing", "tab__a", "tab__b"],
    )
    clf = CrossModalClassifier(**{**FAST, "max_epochs": 1}).fit(X, np.arange(n) % 2)
    assert repr(clf.modalities_["xray"]) == (
        "ModalitySpec(name='xray', kind='image', shape=(1, 8, 8), n_columns=65, "
        "missing='xray__missing')"
    )
    assert repr(clf.modalities_["tab"]) == (
        "ModalitySpec(name='tab', kind='vector', shape=(2,), n_columns=2, missing=None)"
    )
    assert len(repr(clf.modalities_)) < 400
    # The repr summarises; equality and pickling still see every field.
    spec = clf.modalities_["xray"]
    assert spec.columns == tuple(range(64)) and spec.missing_column == 64
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_pixel_columns_in_any_order_are_reordered():
    rng = np.random.default_rng(1)
    names = _pixel_names("img", 2, 2, 3)
    X = pd.DataFrame(rng.random((20, 12)), columns=names)
    shuffled = X[list(reversed(names))]
    clf = CrossModalClassifier(**FAST).fit(shuffled, np.arange(20) % 2)
    spec = clf.modalities_["img"]
    assert spec.shape == (2, 2, 3)
    assert [shuffled.columns[p] for p in spec.columns] == names


def test_no_prefix_is_one_modality_and_numpy_too():
    X = np.random.default_rng(0).normal(size=(30, 4))
    y = np.arange(30) % 2
    assert list(CrossModalClassifier(**FAST).fit(X, y).modalities_) == ["features"]
    frame = pd.DataFrame(X, columns=["age", "bp", "hr", "crp"])
    assert list(CrossModalClassifier(**FAST).fit(frame, y).modalities_) == ["features"]


def test_modalities_parameter_by_position_and_name():
    rng = np.random.default_rng(0)
    X = rng.random((30, 1 + 16 + 1))
    y = np.arange(30) % 2
    mods = {
        "tab": [0],
        "img": {
            "columns": list(range(1, 17)),
            "kind": "image",
            "shape": (4, 4),
            "missing": 17,
        },
    }
    X[:, 17] = 0
    clf = CrossModalClassifier(modalities=mods, **FAST).fit(X, y)
    assert clf.modalities_["img"].shape == (1, 4, 4)
    assert clf.modalities_["img"].missing_column == 17
    frame = pd.DataFrame(X[:, :3], columns=["age", "bp", "hr"])
    clf = CrossModalClassifier(modalities={"a": ["age"], "b": ["bp", "hr"]}, **FAST)
    assert clf.fit(frame, y).modalities_["b"].columns == (1, 2)


@pytest.mark.parametrize(
    "mods, message",
    [
        ({"a": [0, 1]}, r"1 column\(s\) of X belong to no modality, e\.g\. \['2'\]"),
        ({"a": [0, 1], "b": [1, 2]}, "Column 1 is in both modality 'a' and 'b'"),
        ({"a": [0, 1, 2, 7]}, "column 7 is neither a column name nor a position"),
        ({"a": ["age", 1, 2]}, "names column 'age', but X has no column names"),
        (
            {"a": {"columns": [0, 1, 2], "kind": "image"}},
            "image but its shape is unknown",
        ),
        (
            {"a": {"columns": [0, 1, 2], "kind": "image", "shape": (2, 2)}},
            r"image shape \(1, 2, 2\) does not match its 3 columns",
        ),
        ({"a": {"columns": [0, 1, 2], "kind": "audio"}}, r"\['kind'\] must be one of"),
        ({"a__b": [0, 1, 2]}, "without '__'"),
    ],
)
def test_modalities_parameter_errors(mods, message):
    X = np.zeros((10, 3))
    with pytest.raises(ModalityError, match=message):
        CrossModalClassifier(modalities=mods, **FAST).fit(X, np.arange(10) % 2)


def test_mixed_pixel_and_vector_names_in_one_group_is_an_error():
    X = pd.DataFrame(np.zeros((4, 5)), columns=[*_pixel_names("x", 1, 2, 2), "x__age"])
    with pytest.raises(ModalityError, match="'x' mixes pixel columns with other"):
        CrossModalClassifier(**FAST).fit(X, [0, 1, 0, 1])


def test_dict_input_vectors_and_images_with_missing_flags():
    rng = np.random.default_rng(0)
    n = 60
    X = {
        "tab": rng.normal(size=(n, 3)),
        "img": rng.random((n, 5, 5)),
        "img__missing": np.zeros(n, dtype=bool),
    }
    y = (X["tab"][:, 0] > 0).astype(int)
    clf = CrossModalClassifier(**FAST).fit(X, y)
    assert clf.modalities_["img"].shape == (1, 5, 5)
    assert clf.modalities_["img"].has_missing
    assert not hasattr(clf, "n_features_in_")
    assert clf.predict_proba(X).shape == (n, 2)
    with pytest.raises(ModalityError, match=r"fitted on \['img', 'tab'\]"):
        clf.predict({"tab": X["tab"]})
    with pytest.raises(ModalityError, match="row shape"):
        clf.predict({**X, "img": rng.random((n, 4, 4))})
    with pytest.raises(ModalityError, match="X lacks 'img__missing'"):
        clf.predict({"tab": X["tab"], "img": X["img"]})


# ------------------------------------------------- missing modalities per row
def test_pixels_of_a_row_marked_missing_do_not_change_its_prediction(
    two_modality_frame,
):
    X, y = two_modality_frame
    X = X.copy()
    X.loc[::4, "scan__missing"] = 1.0
    clf = CrossModalClassifier(**FAST).fit(X, y)
    pixels = [c for c in X.columns if "pixel" in c]
    noisy = X.copy()
    rows = X.index[X["scan__missing"] == 1]
    noisy.loc[rows, pixels] = np.random.default_rng(5).random((len(rows), len(pixels)))
    np.testing.assert_array_equal(
        clf.predict_proba(X.loc[rows]), clf.predict_proba(noisy.loc[rows])
    )
    present = X.index[X["scan__missing"] == 0][:10]
    noisy.loc[present, pixels] = 1.0
    assert not np.allclose(
        clf.predict_proba(X.loc[present]), clf.predict_proba(noisy.loc[present])
    )


def test_availability_column_must_be_binary(two_modality_frame):
    X, y = two_modality_frame
    X = X.copy()
    X.loc[3, "scan__missing"] = 0.5
    with pytest.raises(ModalityError, match=r"row 3 holds 0\.5"):
        CrossModalClassifier(**FAST).fit(X, y)


# ------------------------------------------------------- classifier behaviour
def test_string_labels_multiclass_and_probabilities():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = np.array(["low", "mid", "high"])[np.digitize(X[:, 0] + X[:, 1], [-0.7, 0.7])]
    clf = CrossModalClassifier(**FAST).fit(X, y)
    assert clf.classes_.tolist() == ["high", "low", "mid"]
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= {"low", "mid", "high"}
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-6)
    assert clf.score(X, y) > 0.85


@pytest.mark.parametrize(
    "labels",
    [["a"] * 5, np.array(["a"] * 5, dtype=object), pd.Series(["a"] * 5)],
    ids=["list", "object-array", "series"],
)
def test_one_class_is_a_clear_error(labels):
    with pytest.raises(
        ValueError, match="at least 2 classes in y; got only one class: 'a'"
    ):
        CrossModalClassifier(**FAST).fit(np.zeros((5, 2)), labels)


def test_same_seed_same_predictions_other_seed_differs(two_modality_frame):
    X, y = two_modality_frame
    p1 = CrossModalClassifier(**FAST).fit(X, y).predict_proba(X)
    p2 = CrossModalClassifier(**FAST).fit(X, y).predict_proba(X)
    p3 = CrossModalClassifier(**{**FAST, "random_state": 1}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    assert not np.allclose(p1, p3)


def test_fit_leaves_torch_global_rng_untouched(two_modality_frame):
    X, y = two_modality_frame
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CrossModalClassifier(**FAST).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_clone_get_set_params_and_refit_forgets(two_modality_frame):
    X, y = two_modality_frame
    clf = CrossModalClassifier(**FAST).set_params(latent_dim=4, dropout=0.0)
    assert clf.get_params()["latent_dim"] == 4
    fitted = clone(clf).fit(X, y)
    twin = clone(fitted)
    assert not hasattr(twin, "net_") and twin.get_params() == clf.get_params()
    # refitting on other data (one modality) forgets the first fit
    fitted.fit(X[["lab__a", "lab__b"]], y)
    assert list(fitted.modalities_) == ["lab"]
    assert fitted.n_features_in_ == 2


def test_pickle_and_joblib_round_trips_predict_identically(
    two_modality_frame, tmp_path
):
    X, y = two_modality_frame
    clf = CrossModalClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(clf)).predict_proba(X), expected
    )
    joblib.dump(clf, tmp_path / "clf.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "clf.joblib").predict_proba(X), expected
    )


def test_caller_frame_is_not_modified(two_modality_frame):
    X, y = two_modality_frame
    before = X.copy(deep=True)
    clf = CrossModalClassifier(**FAST).fit(X, y)
    clf.predict(X)
    pd.testing.assert_frame_equal(X, before)


def test_nan_error_names_column_and_row(two_modality_frame):
    X, y = two_modality_frame
    X = X.set_axis(np.arange(100, 100 + len(X)))
    X.loc[105, "lab__b"] = np.nan
    with pytest.raises(
        ValueError,
        match=re.escape("contains NaN or inf in column 'lab__b', row 5 (index 105)"),
    ) as info:
        CrossModalClassifier(**FAST).fit(X, y)
    assert "SimpleImputer" in str(info.value)


def test_raw_text_column_error_names_column_and_fix():
    X = pd.DataFrame({"age": [50.0, 60.0], "note": ["cough", "fever"]})
    with pytest.raises(ModalityError, match="Column 'note' of X has dtype") as info:
        CrossModalClassifier(**FAST).fit(X, [0, 1])
    assert "TextEmbedder" in str(info.value)


def test_predict_with_renamed_column_is_an_error(two_modality_frame):
    X, y = two_modality_frame
    clf = CrossModalClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X.rename(columns={"lab__a": "lab__age"}))


def test_bad_parameter_names_parameter():
    with pytest.raises(ValueError, match=r"'fusion' parameter .* must be a str among"):
        CrossModalClassifier(fusion="sum").fit(np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="'latent_dim' parameter"):
        CrossModalRegressor(latent_dim=0).fit(np.zeros((4, 2)), [0, 1, 0, 1])


# -------------------------------------------------------------- weighting
def test_row_weights_are_rescaled_to_mean_one():
    w = row_weights(np.array([1.0, 3.0]), 2, extra=[2.0, 1.0])
    np.testing.assert_allclose(w, [2 / 2.5, 3 / 2.5])
    assert row_weights(None, 3) is None
    with pytest.raises(ValueError, match="one weight per row"):
        row_weights(np.ones(2), 3)
    with pytest.raises(ValueError, match="non-negative"):
        row_weights(np.array([1.0, -1.0]), 2)


def test_scaling_all_weights_changes_nothing(two_modality_frame):
    X, y = two_modality_frame
    w = np.random.default_rng(0).random(len(y))
    p1 = CrossModalClassifier(**FAST).fit(X, y, sample_weight=w).predict_proba(X)
    p2 = CrossModalClassifier(**FAST).fit(X, y, sample_weight=10 * w).predict_proba(X)
    np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-6)


def test_weighted_loss_is_mean_of_weight_times_row_loss(two_modality_frame):
    X, y = two_modality_frame
    clf = CrossModalClassifier(**FAST).fit(X, y)
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    target = torch.tensor([0, 0])
    rows = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    weights = np.array([0.5, 1.5], dtype=np.float32)
    loss = clf.net_.get_loss(logits, target, X={"__sample_weight__": weights})
    torch.testing.assert_close(loss, (rows * torch.from_numpy(weights)).mean())
    torch.testing.assert_close(clf.net_.get_loss(logits, target, X={}), rows.mean())


def test_class_weight_balanced_raises_minority_recall():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2))
    y = (X[:, 0] + 0.8 * rng.normal(size=600) > 1.3).astype(int)  # ~15% positives
    plain = CrossModalClassifier(**FAST).fit(X, y)
    balanced = CrossModalClassifier(class_weight="balanced", **FAST).fit(X, y)
    r_plain = recall_score(y, plain.predict(X))
    r_bal = recall_score(y, balanced.predict(X))
    assert r_bal > r_plain + 0.2, (r_plain, r_bal)


def test_sample_weight_moves_the_fit_towards_weighted_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] > 0).astype(int)
    corrupt = X[:, 1] > 0.3  # a region whose labels are systematically wrong
    y_noisy = np.where(corrupt, 1 - y, y)
    unweighted = CrossModalClassifier(**FAST).fit(X, y_noisy)
    weighted = CrossModalClassifier(**FAST).fit(
        X, y_noisy, sample_weight=np.where(corrupt, 0.0, 1.0)
    )
    # with the corrupt rows weighted out, the clean rule holds everywhere
    assert weighted.score(X, y) > 0.9
    assert weighted.score(X, y) > unweighted.score(X, y) + 0.2


# ----------------------------------------------------------- training control
def test_early_stopping_stops_and_records_curves(two_modality_frame):
    X, y = two_modality_frame
    params = {
        **FAST,
        "max_epochs": 200,
        "lr": 5e-2,
        "early_stopping": True,
        "n_iter_no_change": 3,
    }
    clf = CrossModalClassifier(**params).fit(X, y)
    assert clf.n_iter_ < 200
    assert len(clf.loss_curve_) == len(clf.validation_loss_curve_) == clf.n_iter_
    best = int(np.argmin(clf.validation_loss_curve_))
    assert clf.n_iter_ - 1 - best >= 3


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA fallback")
def test_cuda_without_cuda_falls_back_to_cpu_with_warning(two_modality_frame):
    X, y = two_modality_frame
    with pytest.warns(UserWarning, match="CUDA is not available; training on the CPU"):
        clf = CrossModalClassifier(device="cuda", **FAST).fit(X, y)
    assert clf.net_.device == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CrossModalClassifier(device="auto", **FAST).fit(X, y)


# -------------------------------------------------------------- regressor
def test_regressor_single_and_multi_output():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        rng.normal(size=(300, 4)), columns=["a__x", "a__y", "b__z", "b__w"]
    )
    y1 = 100 + 20 * (X["a__x"] - X["b__z"]).to_numpy()
    reg = CrossModalRegressor(**FAST).fit(X, y1)
    assert reg.predict(X).shape == (300,)
    assert reg.n_outputs_ == 1
    assert reg.score(X, y1) > 0.9
    Y = np.column_stack([y1, -y1 / 100])
    reg = CrossModalRegressor(**FAST).fit(X, Y)
    assert reg.predict(X).shape == (300, 2)
    assert reg.score(X, Y) > 0.9


def test_regressor_learns_each_output_from_its_own_modality():
    """Output 0 depends on "tab" only, output 1 on "lab" only (on another
    scale), output 2 is constant: each is standardised on its own."""
    rng = np.random.default_rng(0)
    n = 300
    X = {"tab": rng.normal(size=(n, 3)), "lab": rng.normal(size=(n, 3))}
    Y = np.column_stack(
        [
            50 + 10 * X["tab"][:, 0],
            -0.03 * X["lab"][:, 0] + 0.003 * rng.normal(size=n),
            np.full(n, 7.0),
        ]
    )
    kept = Y.copy()
    train, test = slice(0, 200), slice(200, None)
    reg = CrossModalRegressor(**{**FAST, "max_epochs": 20}).fit(
        {k: v[train] for k, v in X.items()}, Y[train]
    )
    np.testing.assert_array_equal(Y, kept)  # the caller's y is untouched
    X_test = {k: v[test] for k, v in X.items()}
    pred = reg.predict(X_test)
    assert pred.shape == (100, 3) and reg.n_outputs_ == 3
    for j, source in ((0, "tab"), (1, "lab")):
        other = "lab" if source == "tab" else "tab"
        r_own = np.corrcoef(pred[:, j], X_test[source][:, 0])[0, 1]
        r_other = np.corrcoef(pred[:, j], X_test[other][:, 0])[0, 1]
        assert abs(r_own) > 0.95 and abs(r_other) < 0.2, (j, r_own, r_other)
        residual = pred[:, j] - Y[test, j]
        assert 1 - residual.var() / Y[test, j].var() > 0.85
    # the constant output: no division by a zero scale, predicted near 7
    assert np.isfinite(pred).all()
    assert np.abs(pred[:, 2] - 7.0).max() < 0.3
    # a column-vector y gives column-vector predictions; 1-D stays 1-D
    column = CrossModalRegressor(**{**FAST, "max_epochs": 2}).fit(X, Y[:, :1])
    assert column.predict(X).shape == (n, 1) and column.n_outputs_ == 1
    flat = CrossModalRegressor(**{**FAST, "max_epochs": 2}).fit(X, Y[:, 0])
    assert flat.predict(X).shape == (n,)


def test_fusion_uses_both_modalities(two_modality_frame):
    X, y = two_modality_frame
    params = {**FAST, "max_epochs": 30}
    Xtr, Xte, ytr, yte = X.iloc[:160], X.iloc[160:], y[:160], y[160:]
    fused = CrossModalClassifier(**params).fit(Xtr, ytr)
    lab_cols = ["lab__a", "lab__b", "lab__c"]
    lab = CrossModalClassifier(**params).fit(Xtr[lab_cols], ytr)
    auc_fused = roc_auc_score(yte, fused.predict_proba(Xte)[:, 1])
    auc_lab = roc_auc_score(yte, lab.predict_proba(Xte[lab_cols])[:, 1])
    assert auc_fused > auc_lab + 0.05, (auc_fused, auc_lab)


def test_refit_without_early_stopping_drops_stale_curves(two_modality_frame):
    X, y = two_modality_frame
    clf = CrossModalClassifier(**{**FAST, "early_stopping": True}).fit(X, y)
    assert hasattr(clf, "validation_loss_curve_")
    clf.set_params(early_stopping=False).fit(X, y)
    assert not hasattr(clf, "validation_loss_curve_")
    clf.fit({"lab": X[["lab__a", "lab__b"]].to_numpy()}, y)
    assert not hasattr(clf, "n_features_in_")
    assert not hasattr(clf, "feature_names_in_")


def test_dict_availability_flags_must_be_binary():
    rng = np.random.default_rng(0)
    X = {"tab": rng.normal(size=(8, 2)), "tab__missing": np.array([0, 1, 2] + [0] * 5)}
    with pytest.raises(ModalityError, match=r"'tab' must hold 0 .* row 2 holds 2\.0"):
        CrossModalClassifier(**FAST).fit(X, np.arange(8) % 2)


def test_verbose_prints_modalities_and_epoch_table(two_modality_frame, capsys):
    X, y = two_modality_frame
    CrossModalClassifier(**{**FAST, "max_epochs": 2, "verbose": 1}).fit(X, y)
    out = capsys.readouterr().out
    assert "modalities: lab (vector 3), scan (image 1x6x6)" in out
    assert "train_loss" in out and out.count("\n") >= 4
    CrossModalClassifier(**{**FAST, "max_epochs": 2}).fit(X, y)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("optimizer", ["sgd", "adam", torch.optim.RMSprop])
def test_optimizer_by_name_or_class(two_modality_frame, optimizer):
    X, y = two_modality_frame
    clf = CrossModalClassifier(**{**FAST, "optimizer": optimizer}).fit(X, y)
    expected = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}.get(
        optimizer, optimizer
    )
    assert type(clf.net_.optimizer_) is expected
    assert clf.net_.optimizer_.defaults["weight_decay"] == FAST.get(
        "weight_decay", 1e-4
    )
    assert clf.score(X, y) > 0.75


def test_predictions_do_not_depend_on_the_batch(two_modality_frame):
    """Row by row, in a subset or in the whole batch: the same outputs to
    float32 rounding (torch's kernels may block batches of different sizes
    differently, so exact equality is not promised)."""
    X, y = two_modality_frame
    clf = CrossModalClassifier(max_epochs=3, random_state=0).fit(X, y)
    whole = clf.predict_proba(X)
    one_by_one = np.vstack([clf.predict_proba(X.iloc[[i]]) for i in range(10)])
    np.testing.assert_allclose(one_by_one, whole[:10], atol=1e-6, rtol=0)
    np.testing.assert_allclose(
        clf.transform(X.iloc[5:15]), clf.transform(X)[5:15], atol=1e-6
    )
