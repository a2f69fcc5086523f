"""CrossModalSurvival: losses, targets, predictions, scikit-learn and
scikit-survival integration."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfusion import CrossModalSurvival
from skfusion.inspection import modality_importance
from skfusion.metrics import check_survival_y, concordance_index, survival_array
from skfusion.nn.losses import CoxPHLoss, DiscreteTimeLoss
from skfusion.survival import StepFunction, _breslow

FAST = dict(latent_dim=8, head_dims=(16,), random_state=0)


def _hazard_data(n=600, seed=0, censoring=0.3):
    """tab: 4 features, 2 with a linear log hazard; img: an 8x8 image whose
    brightness adds to it."""
    rng = np.random.default_rng(seed)
    tab = rng.normal(size=(n, 4)).astype(np.float32)
    img = rng.random((n, 1, 8, 8), dtype=np.float32)
    # image term: sd about 0.9, the table's about 1.4
    log_hazard = 1.2 * tab[:, 0] - 0.8 * tab[:, 1] + 25 * (img.mean((1, 2, 3)) - 0.5)
    event_time = rng.exponential(1 / np.exp(log_hazard))
    censor_time = rng.exponential(np.quantile(event_time, 0.9), size=n)
    if censoring == 0:
        censor_time = np.full(n, np.inf)
    y = survival_array(event_time <= censor_time, np.minimum(event_time, censor_time))
    return {"tab": tab, "img": img}, y, log_hazard


@pytest.fixture(scope="module")
def data():
    return _hazard_data()


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _ = data
    return {
        loss: CrossModalSurvival(loss=loss, **FAST).fit(X, y)
        for loss in ("cox", "discrete")
    }


# -- losses ---------------------------------------------------------------------


def test_cox_loss_is_the_breslow_partial_likelihood_by_hand():
    # times 2, 3, 2, 5, 1 with events at rows 0, 2 (tied at t=2) and 3
    eta = torch.tensor([0.5, -0.2, 1.0, 0.3, -1.0])
    target = torch.tensor([[2.0, 1], [3, 0], [2, 1], [5, 1], [1, 0]])
    e = eta.numpy().astype(np.float64)
    at_2 = np.log(np.exp(e[[0, 1, 2, 3]]).sum())  # every row with t >= 2
    expected = -((e[0] - at_2) + (e[2] - at_2) + (e[3] - e[3])) / 3
    assert CoxPHLoss()(eta, target).item() == pytest.approx(expected, rel=1e-6)
    # weights: in the risk sets and on the event terms
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    at_2 = np.log((w[[0, 1, 2, 3]] * np.exp(e[[0, 1, 2, 3]])).sum())
    weighted = -(w[0] * (e[0] - at_2) + w[2] * (e[2] - at_2) + 0) / (w[0] + w[2] + 1)
    got = CoxPHLoss()(eta, target, torch.tensor(w, dtype=torch.float32))
    assert got.item() == pytest.approx(weighted, rel=1e-6)


def test_a_row_of_weight_two_is_a_duplicated_row_for_cox():
    rng = np.random.default_rng(0)
    eta = torch.tensor(rng.normal(size=6), dtype=torch.float32)
    target = torch.tensor(
        np.column_stack([rng.integers(1, 4, 6), [1, 0, 1, 1, 0, 1]]),
        dtype=torch.float32,
    )
    weight = torch.tensor([1, 2, 1, 1, 1, 2], dtype=torch.float32)
    rows = torch.tensor([0, 1, 1, 2, 3, 4, 5, 5])
    duplicated = CoxPHLoss()(eta[rows], target[rows])
    assert CoxPHLoss()(eta, target, weight).item() == pytest.approx(
        duplicated.item(), rel=1e-6
    )


def test_censored_rows_count_only_through_the_risk_sets():
    # events at t=2 and t=4; censored rows at t=1 (in no risk set), t=3 (in
    # the risk set of t=2) and t=9 (in both)
    eta = torch.tensor([0.3, 0.1, -0.4, 0.8, 0.2], requires_grad=True)
    target = torch.tensor([[2.0, 1], [4, 1], [1, 0], [3, 0], [9, 0]])
    CoxPHLoss()(eta, target).backward()
    grad = eta.grad.numpy()
    assert grad[2] == 0.0  # censored before every event: no term at all
    e = eta.detach().numpy().astype(np.float64)
    risk_2 = np.exp(e[[0, 1, 3, 4]]).sum()
    risk_4 = np.exp(e[[1, 4]]).sum()
    # d/d eta_c of sum_i log(risk set_i), over the events whose set holds c
    assert grad[3] == pytest.approx(np.exp(e[3]) / risk_2 / 2, rel=1e-5)
    assert grad[4] == pytest.approx(
        (np.exp(e[4]) / risk_2 + np.exp(e[4]) / risk_4) / 2, rel=1e-5
    )


def test_cox_loss_of_a_batch_without_events_is_zero_with_zero_gradient():
    eta = torch.tensor([0.3, -0.2], requires_grad=True)
    loss = CoxPHLoss()(eta, torch.tensor([[1.0, 0], [2, 0]]))
    loss.backward()
    assert loss.item() == 0.0
    assert eta.grad.abs().sum().item() == 0.0


def test_discrete_loss_is_the_censored_likelihood_by_hand():
    logits = torch.tensor([[0.2, -1.0, 0.5], [1.0, 0.3, -0.2]])
    target = torch.tensor([[1.0, 1], [2, 0]])  # event in 1; censored in 2
    h = torch.sigmoid(logits).numpy().astype(np.float64)
    event_row = -(np.log(1 - h[0, 0]) + np.log(h[0, 1]))
    censored_row = -np.log(1 - h[1]).sum()
    got = DiscreteTimeLoss()(logits, target).numpy()
    assert_allclose(got, [event_row, censored_row], rtol=1e-6)
    offset = DiscreteTimeLoss(offset=[0.5, 0.5, 0.5])(logits - 0.5, target)
    assert_allclose(offset.numpy(), got, rtol=1e-6)


# -- targets --------------------------------------------------------------------


def test_the_target_forms_are_equivalent(data):
    X, y, _ = data
    X = {k: v[:200] for k, v in X.items()}
    y = y[:200]
    reference = CrossModalSurvival(max_epochs=2, **FAST).fit(X, y).predict(X)
    sksurv_named = np.array(
        list(zip(y["event"], y["time"], strict=True)),
        dtype=[("fstat", "?"), ("lenfol", "<f8")],
    )
    two_columns = np.column_stack([y["time"], y["event"]])
    frame = pd.DataFrame({"time": y["time"], "event": y["event"].astype(int)})
    for target in (sksurv_named, two_columns, frame):
        got = CrossModalSurvival(max_epochs=2, **FAST).fit(X, target).predict(X)
        assert_array_equal(got, reference)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda y: np.column_stack([y["event"], y["time"]]),
            r"looks like \(event, time\)",
        ),
        (
            lambda y: pd.DataFrame({"event": y["event"], "time": y["time"]}),
            r"looks like \(event, time\): its first column is named 'event'",
        ),
        (lambda y: y["time"], r"needs a survival y \(event and time\)"),
        (lambda y: np.column_stack([y["time"], y["time"], y["time"]]), "3 columns"),
        (
            lambda y: np.column_stack([y["time"], np.full(len(y), 2.0)]),
            r"must be bool or 0/1; row 0 holds",
        ),
    ],
)
def test_malformed_targets_get_clear_errors(data, make, message):
    _, y, _ = data
    with pytest.raises(ValueError, match=message):
        check_survival_y(make(y))


def test_bad_times_events_and_sizes_name_the_row():
    index = [f"p{i}" for i in range(5)]
    frame = pd.DataFrame(
        {"time": [3.0, 2.0, -1.0, 4.0, np.nan], "event": [1, 0, 1, 1, 0]},
        index=index,
    )
    with pytest.raises(ValueError, match=r"-1\.0 in row 2 \(index 'p2'\) \(2 row"):
        check_survival_y(frame)
    with pytest.raises(ValueError, match="y has no event: all 3 rows are censored"):
        check_survival_y(survival_array([False] * 3, [1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="at least 2 rows; y has 1"):
        check_survival_y(survival_array([True], [1.0]))
    nan_event = np.array([[1.0, 1.0], [2.0, np.nan]])
    with pytest.raises(ValueError, match="event indicator of y is NaN in row 1"):
        check_survival_y(nan_event)


def test_fit_checks_the_target_before_anything_and_never_writes_it(data):
    X, y, _ = data
    before = y.copy()
    CrossModalSurvival(max_epochs=1, **FAST).fit(X, y)
    assert_array_equal(y, before)
    with pytest.raises(ValueError, match="CrossModalSurvival needs a survival y"):
        CrossModalSurvival().fit(X, y["time"])


# -- what is learnt ----------------------------------------------------------------


@pytest.mark.parametrize("loss", ["cox", "discrete"])
def test_the_learned_risk_ranks_like_the_true_hazard(fitted, loss):
    X, y, truth = _hazard_data(n=400, seed=1)
    model = fitted[loss]
    oracle = concordance_index(y, truth)
    c_index = model.score(X, y)
    assert c_index > 0.77  # the true log hazard: 0.82
    assert c_index > oracle - 0.03, (c_index, oracle)


@pytest.mark.parametrize("loss", ["cox", "discrete"])
def test_survival_functions_are_monotone_probabilities_from_one(fitted, data, loss):
    X, _, _ = data
    model = fitted[loss]
    rows = {k: v[:50] for k, v in X.items()}
    survival = model.predict_survival_function(rows, return_array=True)
    assert survival.shape == (50, len(model.unique_times_))
    assert ((survival >= 0) & (survival <= 1)).all()
    assert (np.diff(survival, axis=1) <= 1e-12).all()
    functions = model.predict_survival_function(rows)
    assert isinstance(functions[0], StepFunction)
    assert all(fn(0.0) == 1.0 for fn in functions)
    assert_allclose([fn(model.unique_times_) for fn in functions], survival)
    hazard = model.predict_cumulative_hazard_function(rows, return_array=True)
    assert_allclose(hazard, -np.log(survival), rtol=1e-6, atol=1e-12)
    assert model.predict_cumulative_hazard_function(rows)[0](0.0) == 0.0
    # a higher risk score means a lower survival curve (at the median time)
    middle = survival[:, survival.shape[1] // 2]
    assert (
        concordance_index(
            survival_array(np.ones(50, bool), middle), model.predict(rows)
        )
        > 0.9
    )


def test_breslow_baseline_matches_scikit_survival():
    sksurv = pytest.importorskip("sksurv.linear_model.coxph")
    rng = np.random.default_rng(3)
    time = rng.integers(1, 30, 80).astype(float)
    event = rng.random(80) < 0.7
    eta = rng.normal(size=80)
    times, cumulative = _breslow(time, event, eta, np.ones(80))
    theirs = sksurv.BreslowEstimator().fit(eta, event, time)
    assert_allclose(times, theirs.unique_times_)
    assert_allclose(cumulative, theirs.cum_baseline_hazard_.y, rtol=1e-10)


def test_step_function_holds_its_values_between_and_after_the_steps():
    fn = StepFunction([2.0, 5.0], [0.8, 0.3], initial=1.0)
    assert_allclose(fn([0.0, 1.9, 2.0, 4.0, 5.0, 100.0]), [1, 1, 0.8, 0.8, 0.3, 0.3])
    assert fn.domain == (0.0, 5.0)
    with pytest.raises(ValueError, match="finite and >= 0"):
        fn(-1.0)


def test_discrete_intervals_come_from_the_event_time_quantiles(fitted, data):
    _, y, _ = data
    model = fitted["discrete"]
    assert len(model.time_bins_) <= 20
    assert model.n_outputs_ == len(model.time_bins_) == len(model.hazard_offset_)
    assert model.time_bins_[-1] == y["time"][y["event"]].max()
    assert np.isin(model.time_bins_, y["time"][y["event"]]).all()


# -- scikit-learn and scikit-survival ----------------------------------------------


def test_persistence_round_trips_give_identical_predictions(fitted, data, tmp_path):
    X, _, _ = data
    for model in fitted.values():
        expected = model.predict_survival_function(X, return_array=True)
        again = pickle.loads(pickle.dumps(model))
        assert_array_equal(
            again.predict_survival_function(X, return_array=True), expected
        )
        assert_array_equal(again.predict(X), model.predict(X))
    sio = pytest.importorskip("skops.io")
    for model in fitted.values():
        path = tmp_path / f"{model.loss}.skops"
        sio.dump(model, path)
        loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        assert_array_equal(loaded.predict(X), model.predict(X))
        assert_array_equal(
            loaded.predict_cumulative_hazard_function(X, return_array=True),
            model.predict_cumulative_hazard_function(X, return_array=True),
        )


def _frame(data, n=300):
    """The table alone, with follow-up ending at the 70th percentile of the
    times (administrative censoring: every fold reaches the same end)."""
    X, y, _ = data
    columns = {f"lab__x{j}": X["tab"][:n, j] for j in range(4)}
    end = np.quantile(y["time"][:n], 0.7)
    y = survival_array(
        y["event"][:n] & (y["time"][:n] <= end), np.minimum(y["time"][:n], end)
    )
    return pd.DataFrame(columns), y


def test_cross_val_score_uses_the_concordance_index(data):
    X, y = _frame(data)
    model = make_pipeline(StandardScaler(), CrossModalSurvival(max_epochs=20, **FAST))
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(model, X, y, cv=cv)
    by_hand = [
        concordance_index(
            y[test], clone(model).fit(X.iloc[train], y[train]).predict(X.iloc[test])
        )
        for train, test in cv.split(X)
    ]
    assert_allclose(scores, by_hand)
    assert (scores > 0.6).all()  # the table holds 2 of the 3 hazard terms


def test_grid_search_with_scikit_survival_scorers(data):
    metrics = pytest.importorskip("sksurv.metrics")
    X, y = _frame(data)
    tau = np.quantile(y["time"], 0.8)
    ipcw = GridSearchCV(
        metrics.as_concordance_index_ipcw_scorer(
            CrossModalSurvival(max_epochs=8, **FAST), tau=tau
        ),
        {"estimator__lr": [1e-3, 1e-2]},
        cv=KFold(2, shuffle=True, random_state=0),
    ).fit(X, y)
    assert ipcw.best_score_ > 0.6
    times = np.quantile(y["time"], [0.2, 0.4, 0.6])  # inside every follow-up
    brier = GridSearchCV(
        metrics.as_integrated_brier_score_scorer(
            CrossModalSurvival(max_epochs=8, **FAST), times=times
        ),
        {"estimator__loss": ["cox", "discrete"]},
        cv=KFold(2, shuffle=True, random_state=0),
    ).fit(X, y)
    # the negated integrated Brier score: between -0.25 (an uninformed 0.5)
    # and 0
    assert -0.25 < brier.best_score_ < 0


def test_modality_importance_with_the_concordance_index(fitted, data):
    X, y, _ = data
    result = modality_importance(fitted["cox"], X, y, n_repeats=3, random_state=0)
    drops = dict(zip(result.modalities, result.importances_mean, strict=True))
    assert result.baseline_score == pytest.approx(fitted["cox"].score(X, y))
    assert drops["tab"] > 0.1
    assert drops["img"] > 0.03
    assert drops["tab"] > drops["img"]


def test_sample_weight_zero_is_leaving_rows_out(data):
    X, y, _ = data
    keep = np.arange(len(y)) % 3 != 0
    weights = keep.astype(float)
    params = dict(max_epochs=3, batch_size=len(y), **FAST)  # one full batch
    weighted = CrossModalSurvival(**params).fit(X, y, sample_weight=weights)
    assert np.isfinite(weighted.baseline_cumulative_hazard_).all()
    with pytest.raises(ValueError, match="takes no sample_weight"):
        weighted.score(X, y, sample_weight=weights)


def test_clone_keeps_the_survival_parameters():
    model = CrossModalSurvival(loss="discrete", n_time_bins=7, batch_size=32)
    again = clone(model)
    assert again.get_params()["n_time_bins"] == 7
    assert again.loss == "discrete"


def test_availability_report_gives_the_concordance_per_pattern(data):
    from skfusion.metrics import availability_report

    X, y, _ = data
    rng = np.random.default_rng(0)
    no_scan = rng.random(len(y)) < 0.3
    masked = {"tab": X["tab"], "img": X["img"], "img__missing": no_scan}
    model = CrossModalSurvival(**FAST).fit(masked, y)
    risk = model.predict(masked)
    availability = pd.DataFrame({"tab": True, "img": ~no_scan})
    report = availability_report(y, risk, availability)
    assert list(report.index) == ["all rows", "tab + img", "tab"]
    assert report.loc["all rows", "c_index"] == pytest.approx(
        concordance_index(y, risk)
    )
    assert report.loc["tab", "c_index"] == pytest.approx(
        concordance_index(y[no_scan], risk[no_scan])
    )
    # without the scan, the rows lose the image's part of the hazard
    assert report.loc["tab", "c_index"] < report.loc["tab + img", "c_index"] - 0.03
    assert report.loc["all rows", "events"] == pytest.approx(y["event"].mean())
    with pytest.raises(ValueError, match="risk score of each row"):
        availability_report(y, np.column_stack([risk, risk]), availability)


@pytest.mark.parametrize(
    "params",
    [
        {"fusion": "late"},
        {"fusion": "gated"},
        {"fusion": "attention"},
        {"fusion": "low_rank"},
        {"alignment": "contrastive", "modality_dropout": 0.2},
    ],
    ids=["late", "gated", "attention", "low_rank", "alignment+dropout"],
)
def test_every_fusion_learns_the_hazard(data, params):
    X, y, _ = data
    model = CrossModalSurvival(**FAST, **params).fit(X, y)
    X_test, y_test, truth = _hazard_data(n=300, seed=2)
    assert model.score(X_test, y_test) > concordance_index(y_test, truth) - 0.08


def test_lazy_images_give_the_same_fit_as_arrays(data, tmp_path):
    from PIL import Image

    from skfusion.preprocessing import ImageLoader, LazyImages

    X, y, _ = data
    n = 120
    pixels = (X["img"][:n, 0] * 255).round().astype(np.uint8)
    paths = []
    for i, image in enumerate(pixels):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image).save(paths[-1])
    loader = ImageLoader(size=8)
    decoded = loader.fit_transform(np.array(paths))[:, :-1].reshape(n, 1, 8, 8)
    lazy = {"tab": X["tab"][:n], "img": LazyImages(paths, ImageLoader(size=8))}
    memory = {"tab": X["tab"][:n], "img": decoded}
    params = dict(FAST, max_epochs=3)
    from_lazy = CrossModalSurvival(**params).fit(lazy, y[:n])
    from_memory = CrossModalSurvival(**params).fit(memory, y[:n])
    assert_array_equal(from_lazy.predict(lazy), from_memory.predict(memory))
    assert_array_equal(
        from_lazy.baseline_cumulative_hazard_, from_memory.baseline_cumulative_hazard_
    )
