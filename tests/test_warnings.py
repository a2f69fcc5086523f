"""Every skfusion warning points at the caller's line.

A warning is raised from inside skfusion (and often from inside a
scikit-learn wrapper: set_output, fit context, Pipeline, ColumnTransformer),
but what the user needs is the line of their own code that caused it. Each
test below triggers one warning from a public method and asserts that the
reported file is this test file.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from scipy.io import wavfile
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.pipeline import make_pipeline
from skorch.exceptions import DeviceWarning

from skfusion import CrossModalClassifier
from skfusion.exceptions import SkfusionDataWarning, SkfusionResourceWarning
from skfusion.preprocessing import AudioLoader, ImageEmbedder, ImageLoader, LazyImages

FAST = dict(max_epochs=1, batch_size=16, latent_dim=4, head_dims=(4,), random_state=0)
N = 24


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """N PNG paths, rows 3 and 7 unreadable."""
    folder = tmp_path_factory.mktemp("warn")
    rng = np.random.default_rng(0)
    out = []
    for i in range(N):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (6, 6)).astype(np.uint8)).save(path)
        out.append(str(path))
    (folder / "broken.png").write_bytes(b"not an image")
    out[3], out[7] = str(folder / "broken.png"), str(folder / "nowhere.png")
    return np.array(out, dtype=object)


def _only(record, category):
    found = [w for w in record if issubclass(w.category, category)]
    assert len(found) == 1, [str(w.message) for w in record]
    return found[0]


def _record(call, category):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = call()
    return _only(record, category), result


@pytest.mark.parametrize("how", ["transform", "fit_transform", "pipeline"])
def test_image_loader_unreadable_points_at_the_caller(paths, how):
    frame = pd.DataFrame({"xray": paths})
    loader = ImageLoader(size=4, on_error="missing")
    if how == "transform":
        loader.fit(frame)
        warning, _ = _record(lambda: loader.transform(frame), SkfusionDataWarning)
    elif how == "fit_transform":
        warning, _ = _record(lambda: loader.fit_transform(frame), SkfusionDataWarning)
    else:
        step = ColumnTransformer([("xray", loader, "xray")])
        pipe = make_pipeline(step.set_output(transform="pandas"))
        warning, _ = _record(lambda: pipe.fit_transform(frame), SkfusionDataWarning)
    assert "2 unreadable image(s)" in str(warning.message)
    assert warning.filename == __file__


def test_audio_loader_unreadable_points_at_the_caller(tmp_path):
    good = tmp_path / "a.wav"
    wavfile.write(good, 8000, np.zeros(800, np.float32))
    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    column = pd.Series([str(good), str(tmp_path / "bad.wav")], name="voice")
    loader = AudioLoader(n_mels=4, n_frames=4, on_error="missing").fit(column)
    warning, _ = _record(lambda: loader.transform(column), SkfusionDataWarning)
    assert "1 unreadable audio file(s)" in str(warning.message)
    assert warning.filename == __file__


def test_image_embedder_unreadable_points_at_the_caller(paths):
    frame = pd.DataFrame({"xray": paths})
    embedder = ImageEmbedder(loader=ImageLoader(size=4, on_error="missing"))
    embedder.fit(frame)
    warning, _ = _record(lambda: embedder.transform(frame), SkfusionDataWarning)
    assert "ImageEmbedder treated 2 unreadable image(s)" in str(warning.message)
    assert warning.filename == __file__


def test_image_embedder_cache_write_error_points_at_the_caller(paths, tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    frame = pd.DataFrame({"xray": paths[:2]})
    embedder = ImageEmbedder(loader=ImageLoader(size=4), cache_dir=blocker).fit(frame)
    warning, _ = _record(lambda: embedder.transform(frame), RuntimeWarning)
    assert "could not write to the cache" in str(warning.message)
    assert warning.filename == __file__


@pytest.mark.parametrize("method", ["fit", "predict_proba", "transform"])
def test_lazy_unreadable_images_point_at_the_caller(paths, method):
    rng = np.random.default_rng(0)
    X = {
        "tab": rng.normal(size=(N, 2)).astype(np.float32),
        "xray": LazyImages(paths, ImageLoader(size=4, on_error="missing")),
    }
    y = np.arange(N) % 2
    clf = CrossModalClassifier(**FAST)
    if method != "fit":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkfusionDataWarning)
            clf.fit(X, y)
    call = getattr(clf, method)
    warning, _ = _record(
        lambda: call(X, y) if method == "fit" else call(X), SkfusionDataWarning
    )
    assert "X['xray']: 2 image(s) could not be read" in str(warning.message)
    assert warning.filename == __file__


def test_cuda_fallback_points_at_the_caller(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    clf = CrossModalClassifier(device="cuda", **FAST)
    warning, _ = _record(lambda: clf.fit(X, y), UserWarning)
    assert "CUDA is not available" in str(warning.message)
    assert warning.filename == __file__


def test_more_workers_than_cpus_points_at_the_caller(monkeypatch):
    monkeypatch.setattr("joblib.cpu_count", lambda: 1)
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    clf = CrossModalClassifier(n_jobs=4, **FAST)
    warning, _ = _record(lambda: clf.fit(X, y), SkfusionResourceWarning)
    assert warning.filename == __file__


@pytest.fixture(scope="module")
def fitted():
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    return CrossModalClassifier(**FAST).fit(X, y)


def test_a_gpu_fitted_model_loaded_on_cpu_points_at_the_caller(fitted, monkeypatch):
    state = fitted.__getstate__()
    state["net_"] = {**state["net_"], "device": "cuda"}
    blob = pickle.dumps(state)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    est = CrossModalClassifier.__new__(CrossModalClassifier)
    warning, _ = _record(lambda: est.__setstate__(pickle.loads(blob)), DeviceWarning)
    assert warning.filename == __file__


def test_another_skfusion_version_points_at_the_caller(fitted, monkeypatch):
    import skfusion

    monkeypatch.setattr(skfusion, "__version__", "0.0.1")  # saved by 0.0.1
    blob = pickle.dumps(fitted)
    monkeypatch.undo()
    warning, _ = _record(lambda: pickle.loads(blob), InconsistentVersionWarning)
    assert "skfusion 0.0.1" in str(warning.message)
    assert warning.filename == __file__
