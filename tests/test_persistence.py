"""Persistence: skops.io with an exact list of trusted types, pickle, joblib.

A fitted CrossModal estimator is saved as plain data (NumPy arrays, lists,
dicts), so skops.io needs no torch or skorch type, and a pickle holds no
torch object. See skfusion/_persistence.py and the README's "Persistence".
"""

import copy
import io
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from _clinical import tabular_transformer
from numpy.testing import assert_array_equal
from scipy.io import wavfile
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.exceptions import DeviceWarning

import skfusion
from skfusion import CrossModalClassifier, CrossModalRegressor, ModalitySpec
from skfusion.datasets import make_clinical_multimodal
from skfusion.preprocessing import (
    AudioLoader,
    AvailabilityIndicator,
    ImageEmbedder,
    ImageLoader,
    SentenceEmbedder,
    TextEmbedder,
    TextTokenizer,
)

sio = pytest.importorskip("skops.io")
from skops.io.exceptions import UntrustedTypesFoundException  # noqa: E402

#: The types to trust when loading the quickstart's fitted pipeline
#: (examples/quickstart.py); the README's "Persistence" section names the
#: extra one (make_column_selector) beside the README pipeline's list, which
#: tests/test_readme.py checks.
#: numpy.dtype is SimpleImputer's fitted dtype, make_column_selector the
#: tabular ColumnTransformer's column selector: neither comes from skfusion.
QUICKSTART_TRUSTED = [
    "numpy.dtype",
    "skfusion.estimators.CrossModalClassifier",
    "skfusion.preprocessing._image.ImageLoader",
    "skfusion.preprocessing._text.TextEmbedder",
    "sklearn.compose._column_transformer.make_column_selector",
]

PARAMS = dict(
    max_epochs=3,
    batch_size=64,
    lr=3e-3,
    latent_dim=8,
    head_dims=(16,),
    cnn_channels=(4, 8),
    random_state=0,
)


def _quickstart_model(tabular, **params):
    """The quickstart's Pipeline (examples/quickstart.py), smaller."""
    tab = tabular_transformer()
    preprocess = ColumnTransformer(
        [
            ("tab", tab, tabular),
            ("note", TextEmbedder(n_components=8, random_state=0), "note"),
            ("xray", ImageLoader(size=16), "xray_path"),
        ]
    )
    preprocess.set_output(transform="pandas")
    return make_pipeline(preprocess, CrossModalClassifier(**{**PARAMS, **params}))


@pytest.fixture(scope="module")
def clinical(tmp_path_factory):
    image_dir = tmp_path_factory.mktemp("scans")
    X, y = make_clinical_multimodal(200, image_dir=image_dir, random_state=0)
    tabular = [c for c in X.columns if c not in ("note", "xray_path")]
    return X, y, tabular


@pytest.fixture(scope="module")
def pipe(clinical):
    X, y, tabular = clinical
    return _quickstart_model(tabular, fusion="gated").fit(X, y)


@pytest.fixture(scope="module")
def dumped(pipe):
    return sio.dumps(pipe)


def _outputs(pipe, X):
    """Every output of the pipeline, to compare exactly."""
    Z = pipe[:-1].transform(X)
    return {
        "predict_proba": pipe.predict_proba(X),
        "predict": pipe.predict(X),
        "transform": pipe.transform(X),
        "modality_weights": pipe[-1].modality_weights(Z),
    }


def _assert_same_outputs(loaded, original, X):
    expected = _outputs(original, X)
    got = _outputs(loaded, X)
    for name, value in expected.items():
        assert np.array_equal(got[name], value), name
        assert got[name].dtype == value.dtype, name


# -- skops.io ---------------------------------------------------------------


def test_quickstart_pipeline_needs_exactly_the_documented_types(dumped):
    assert sio.get_untrusted_types(data=dumped) == QUICKSTART_TRUSTED


def test_readme_lists_the_same_types():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in QUICKSTART_TRUSTED:
        assert f'"{name}"' in readme, name


def test_skops_round_trip_gives_identical_outputs(pipe, dumped, clinical):
    X, _, _ = clinical
    loaded = sio.loads(dumped, trusted=QUICKSTART_TRUSTED)
    _assert_same_outputs(loaded, pipe, X)
    est, again = pipe[-1], loaded[-1]
    assert again.modalities_ == est.modalities_
    assert all(isinstance(s, ModalitySpec) for s in again.modalities_.values())
    assert again.n_iter_ == est.n_iter_ == 3
    assert again.loss_curve_ == est.loss_curve_
    assert list(again.net_.history) == list(est.net_.history)
    assert again.net_.history[:, "train_loss"] == est.loss_curve_
    assert not again.net_.module_.training
    assert str(again.net_.device) == "cpu"
    assert_array_equal(again.classes_, est.classes_)
    assert_array_equal(again.feature_names_in_, est.feature_names_in_)
    assert_array_equal(again.get_feature_names_out(), est.get_feature_names_out())
    for name, value in est.net_.module_.state_dict().items():
        loaded_value = again.net_.module_.state_dict()[name]
        assert loaded_value.dtype == value.dtype
        assert torch.equal(loaded_value, value), name


def test_skops_refuses_untrusted_or_missing_types(dumped):
    with pytest.raises(UntrustedTypesFoundException):
        sio.loads(dumped)
    for name in QUICKSTART_TRUSTED:
        fewer = [t for t in QUICKSTART_TRUSTED if t != name]
        with pytest.raises(UntrustedTypesFoundException, match=name):
            sio.loads(dumped, trusted=fewer)


class Shift(TransformerMixin, BaseEstimator):
    """A custom class that skops must refuse until the user trusts it."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X) + 1.0


def test_skops_refuses_an_unknown_class():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(80, 3)), rng.integers(0, 2, 80)
    model = make_pipeline(Shift(), CrossModalClassifier(**PARAMS)).fit(X, y)
    data = sio.dumps(model)
    shift = f"{Shift.__module__}.Shift"
    estimator = "skfusion.estimators.CrossModalClassifier"
    assert sio.get_untrusted_types(data=data) == sorted([shift, estimator])
    with pytest.raises(UntrustedTypesFoundException, match="Shift"):
        sio.loads(data, trusted=[estimator, *QUICKSTART_TRUSTED])
    loaded = sio.loads(data, trusted=[estimator, shift])
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_loading_leaves_torch_global_random_state_alone(dumped):
    before = torch.get_rng_state()
    sio.loads(dumped, trusted=QUICKSTART_TRUSTED)
    assert torch.equal(torch.get_rng_state(), before)


# -- pickle, joblib, deepcopy -------------------------------------------------


def test_pickle_and_joblib_round_trips_hold_no_torch(pipe, clinical, tmp_path):
    X, _, _ = clinical
    est = pipe[-1]
    blob = pickle.dumps(pipe)
    assert b"torch" not in blob and b"skorch" not in blob
    assert b"torch" not in pickle.dumps(est)
    _assert_same_outputs(pickle.loads(blob), pipe, X)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    _assert_same_outputs(joblib.load(tmp_path / "pipe.joblib"), pipe, X)
    # joblib memory-maps the arrays read-only: still loads, with no warning
    joblib.dump(est, tmp_path / "est.joblib")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mapped = joblib.load(tmp_path / "est.joblib", mmap_mode="r")
    Z = pipe[:-1].transform(X)
    assert_array_equal(mapped.predict_proba(Z), est.predict_proba(Z))


def test_state_is_plain_data(pipe):
    est = pipe[-1]
    state = est.__getstate__()
    assert "net_" in est.__dict__ and not isinstance(est.net_, dict)  # unchanged
    net = state["net_"]
    assert set(net) == {
        "format",
        "module",
        "history",
        "criterion",
        "n_outputs",
        "device",
        "seed",
    }
    assert net["criterion"] == "CrossEntropyLoss" and net["n_outputs"] == 2
    params = est.net_.module_.state_dict()
    assert list(net["module"]) == list(params)
    for name, array in net["module"].items():
        assert type(array) is np.ndarray
        assert array.dtype == params[name].cpu().numpy().dtype

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return all(plain(v) for v in value)
        return value is None or type(value) in (bool, int, float, str)

    assert plain(net["history"])
    assert all(type(spec) is dict for spec in state["modalities_"].values())
    assert plain(state["modalities_"])
    assert state["_skfusion_version"] == skfusion.__version__


def test_unfitted_estimator_pickles_its_parameters_only():
    est = CrossModalClassifier(fusion="late", lr=0.01)
    state = est.__getstate__()
    assert state == {**vars(est), "_skfusion_version": skfusion.__version__}
    again = pickle.loads(pickle.dumps(est))
    assert again.get_params() == est.get_params() and not hasattr(again, "net_")
    assert sio.get_untrusted_types(data=sio.dumps(est)) == [
        "skfusion.estimators.CrossModalClassifier"
    ]


def test_deepcopy_is_independent_and_identical(pipe, clinical):
    X, _, _ = clinical
    est = pipe[-1]
    twin = copy.deepcopy(est)
    assert twin.net_ is not est.net_
    assert twin.net_.module_ is not est.net_.module_
    Z = pipe[:-1].transform(X)
    assert_array_equal(twin.predict_proba(Z), est.predict_proba(Z))


def test_a_state_from_another_skfusion_version_warns(pipe):
    state = pipe[-1].__getstate__()
    state["_skfusion_version"] = "0.0.1"
    est = CrossModalClassifier.__new__(CrossModalClassifier)
    with pytest.warns(InconsistentVersionWarning, match="skfusion 0.0.1"):
        est.__setstate__(state)
    assert hasattr(est, "net_")


def test_a_bad_saved_net_is_refused(pipe):
    for key, value, match in [
        ("format", 99, "network format 99"),
        ("criterion", "os.system", "Unknown criterion"),
        ("criterion", "Module", "Unknown criterion"),
    ]:
        state = pipe[-1].__getstate__()
        state["net_"] = {**state["net_"], key: value}
        est = CrossModalClassifier.__new__(CrossModalClassifier)
        with pytest.raises(ValueError, match=match):
            est.__setstate__(state)


def test_gpu_fitted_net_loads_on_the_cpu_with_a_warning(pipe, clinical, monkeypatch):
    X, _, _ = clinical
    state = pipe[-1].__getstate__()
    state["net_"] = {**state["net_"], "device": "cuda"}  # as fitted on a GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    est = CrossModalClassifier.__new__(CrossModalClassifier)
    with pytest.warns(DeviceWarning, match="no CUDA devices"):
        est.__setstate__(state)
    assert str(est.net_.device) == "cpu"
    Z = pipe[:-1].transform(X)
    assert_array_equal(est.predict_proba(Z), pipe[-1].predict_proba(Z))


# -- refit, clone -----------------------------------------------------------


def test_loaded_estimator_refits_and_clones(pipe, dumped, clinical):
    X, y, _ = clinical
    loaded = sio.loads(dumped, trusted=QUICKSTART_TRUSTED)
    twin = clone(loaded)
    assert twin.get_params(deep=False).keys() == pipe.get_params(deep=False).keys()
    assert not hasattr(twin[-1], "net_")
    assert twin[-1].get_params() == pipe[-1].get_params()
    # same data and seed: the refit reproduces the saved model
    loaded.fit(X, y)
    assert loaded[-1].net_ is not None
    assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


# -- other inputs, the regressor --------------------------------------------


def test_dict_input_regressor_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    X = {
        "tab": rng.normal(size=(n, 3)).astype(np.float32),
        "img": rng.random((n, 1, 8, 8)).astype(np.float32),
        "img__missing": rng.random(n) < 0.2,
    }
    y = np.c_[X["tab"][:, 0], X["img"].mean(axis=(1, 2, 3))]
    reg = CrossModalRegressor(
        **PARAMS, fusion="attention", early_stopping=True, alignment="mse"
    ).fit(X, y)
    data = sio.dumps(reg)
    assert sio.get_untrusted_types(data=data) == [
        "skfusion.estimators.CrossModalRegressor"
    ]
    expected = reg.predict(X)
    for loaded in (
        sio.loads(data, trusted=["skfusion.estimators.CrossModalRegressor"]),
        pickle.loads(pickle.dumps(reg)),
    ):
        assert_array_equal(loaded.predict(X), expected)
        assert_array_equal(loaded.modality_weights(X), reg.modality_weights(X))
        emb = loaded.modality_embeddings(X)
        for name, value in reg.modality_embeddings(X).items():
            assert_array_equal(emb[name], value)
        assert loaded.n_outputs_ == 2
        assert loaded.validation_loss_curve_ == reg.validation_loss_curve_
        assert list(loaded.net_.history) == list(reg.net_.history)
    assert reg.__getstate__()["net_"]["criterion"] == "MSELoss"


def test_numpy_input_with_modalities_round_trips():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 5))
    y = np.where(X[:, 0] + X[:, 3] > 0, "sick", "well")
    clf = CrossModalClassifier(
        **PARAMS, fusion="late", modalities={"a": [0, 1, 2], "b": [3, 4]}
    ).fit(X, y)
    data = sio.dumps(clf)
    assert sio.get_untrusted_types(data=data) == [
        "skfusion.estimators.CrossModalClassifier"
    ]
    loaded = sio.loads(data, trusted=["skfusion.estimators.CrossModalClassifier"])
    assert_array_equal(loaded.predict(X), clf.predict(X))
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(loaded.modality_weights(X), clf.modality_weights(X))
    assert loaded.modalities_ == clf.modalities_
    assert loaded.modalities == clf.modalities


def test_tokens_and_availability_pipeline_round_trips(clinical):
    X, _, tabular = clinical
    numeric = [c for c in tabular if pd.api.types.is_numeric_dtype(X[c])]
    # A nested ColumnTransformer, not make_union: with pandas output a
    # FeatureUnion holds pandas Index objects, which skops cannot persist.
    labs = ColumnTransformer(
        [
            ("values", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ("availabilityindicator", AvailabilityIndicator(), numeric),
        ]
    )
    preprocess = ColumnTransformer(
        [
            ("labs", labs, numeric),
            ("words", TextTokenizer(max_length=12), "note"),
        ]
    ).set_output(transform="pandas")
    target = X[numeric[0]].fillna(0).to_numpy()
    model = make_pipeline(
        preprocess, CrossModalRegressor(**PARAMS, token_encoder="conv")
    ).fit(X, target)
    assert model[-1].modalities_["words"].kind == "tokens"
    assert model[-1].modalities_["labs"].has_missing
    data = sio.dumps(model)
    trusted = sio.get_untrusted_types(data=data)
    assert trusted == [
        "numpy.dtype",
        "skfusion.estimators.CrossModalRegressor",
        "skfusion.preprocessing._tabular.AvailabilityIndicator",
        "skfusion.preprocessing._tokens.TextTokenizer",
    ]
    loaded = sio.loads(data, trusted=trusted)
    assert_array_equal(loaded.predict(X), model.predict(X))
    assert_array_equal(loaded.transform(X), model.transform(X))


# -- the preprocessing transformers -----------------------------------------


def _wavs(directory, n=4):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = directory / f"a{i}.wav"
        wavfile.write(path, 16000, rng.normal(size=4000).astype(np.float32))
        paths.append(str(path))
    return pd.DataFrame({"sound": paths})


@pytest.mark.parametrize(
    "make, column",
    [
        (lambda: TextEmbedder(n_components=4, random_state=0), "note"),
        (lambda: TextTokenizer(max_length=8), "note"),
        (lambda: ImageLoader(size=8), "xray_path"),
        (lambda: AvailabilityIndicator(how="any"), None),
        (lambda: AudioLoader(n_mels=8, n_frames=8), "sound"),
        (lambda: ImageEmbedder(), None),  # unfitted: no torch state yet
    ],
    ids=["text", "tokens", "image", "availability", "audio", "embedder-unfitted"],
)
def test_transformers_round_trip_with_skops(make, column, clinical, tmp_path):
    X, _, tabular = clinical
    est = make()
    name = f"{type(est).__module__}.{type(est).__name__}"
    if isinstance(est, ImageEmbedder):
        assert sio.get_untrusted_types(data=sio.dumps(est)) == [name]
        return
    data = _wavs(tmp_path) if column == "sound" else X.head(40)
    data = data[[column]] if column else data[tabular]
    est.fit(data)
    dumped = sio.dumps(est)
    assert sio.get_untrusted_types(data=dumped) == [name]
    loaded = sio.loads(dumped, trusted=[name])
    assert_array_equal(
        np.asarray(loaded.transform(data)), np.asarray(est.transform(data))
    )
    assert_array_equal(loaded.get_feature_names_out(), est.get_feature_names_out())


@pytest.mark.parametrize(
    "est, held",
    [
        (ImageEmbedder(encoder=torch.nn.Flatten()), "encoder"),
        (SentenceEmbedder(model=torch.nn.Identity()), "model"),
    ],
    ids=["image-embedder", "sentence-embedder"],
)
def test_skops_dump_of_a_torch_model_raises_a_clear_error(est, held):
    name = type(est).__name__
    with pytest.raises(TypeError, match=rf"{name} cannot be saved with skops\.io"):
        sio.dumps(est)
    with pytest.raises(TypeError, match=f"holds torch objects \\({held}\\)"):
        sio.dumps(make_pipeline(est))
    with pytest.raises(TypeError, match="pickle or joblib"):
        sio.dump(est, io.BytesIO())
    # pickle and copy are unaffected
    assert pickle.loads(pickle.dumps(est)).get_params().keys() == (
        est.get_params().keys()
    )
    assert type(copy.deepcopy(est)) is type(est)


def test_fitted_image_embedder_refuses_skops_but_pickles(clinical):
    X, _, _ = clinical
    paths = X[["xray_path"]].head(8)
    emb = ImageEmbedder(loader=ImageLoader(size=16), batch_size=4).fit(paths)
    with pytest.raises(TypeError, match="encoder_"):
        sio.dumps(emb)
    assert_array_equal(
        pickle.loads(pickle.dumps(emb)).transform(paths), emb.transform(paths)
    )
