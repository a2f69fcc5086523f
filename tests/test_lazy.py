"""Lazy image input (LazyImages): decoded per batch, identical to in-memory."""

import pickle
import re
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_array_equal
from PIL import Image
from sklearn.base import clone

import skfusion._conversion as conversion
import skfusion._training as training
from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion._batching import BatchDataset, batch_loader
from skfusion._training import _statistics
from skfusion.exceptions import ModalityError, SkfusionDataWarning
from skfusion.nn.network import PRESENT_KEY
from skfusion.preprocessing import ImageLoader, LazyImages

N = 96
SIZE = 8
FIT = dict(
    max_epochs=3,
    batch_size=16,
    latent_dim=8,
    head_dims=(8,),
    cnn_channels=(4, 4),
    modality_dropout=0.2,  # dropout 0.3 (default) too: both draw random numbers
    random_state=0,
)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """N grayscale PNGs (10x12, resized to 8x8) whose brightness follows y."""
    folder = tmp_path_factory.mktemp("lazy")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, N)
    paths = []
    for i in range(N):
        pixels = rng.integers(0, 120, (10, 12)) + 100 * y[i]
        path = folder / f"img{i}.png"
        Image.fromarray(pixels.astype(np.uint8)).save(path)
        paths.append(str(path))
    tab = rng.normal(size=(N, 3)).astype(np.float32)
    return np.array(paths, dtype=object), tab, y, folder


def _decoded(paths, **loader_params):
    """In-memory pixels and missing flags from the same loader."""
    out = ImageLoader(size=SIZE, **loader_params).fit_transform(paths)
    return out[:, :-1].reshape(-1, 1, SIZE, SIZE), out[:, -1]


@pytest.fixture
def transform_calls(monkeypatch):
    """The number of paths of every ImageLoader.transform call (this process)."""
    calls = []
    original = ImageLoader.transform

    def spy(self, X):
        calls.append(len(X))
        return original(self, X)

    monkeypatch.setattr(ImageLoader, "transform", spy)
    return calls


# -- LazyImages as an array-like ------------------------------------------


def test_indexing_decodes_what_the_loader_gives(images):
    paths, *_ = images
    lazy = LazyImages(list(paths), ImageLoader(size=SIZE))
    pixels, _ = _decoded(paths)
    assert lazy.shape == (N, 1, SIZE, SIZE) and len(lazy) == N
    assert lazy.ndim == 4 and lazy.dtype == np.float32
    assert_array_equal(lazy[3], pixels[3])
    assert_array_equal(lazy[-1], pixels[-1])
    assert_array_equal(lazy[2:9:3], pixels[2:9:3])
    assert_array_equal(lazy[[5, 0, 5]], pixels[[5, 0, 5]])
    assert_array_equal(lazy[np.array([7, 1])], pixels[[7, 1]])
    assert_array_equal(lazy[torch.tensor([4, 2])], pixels[[4, 2]])
    mask = np.arange(N) % 7 == 0
    assert_array_equal(lazy[mask], pixels[mask])
    assert lazy[[]].shape == (0, 1, SIZE, SIZE)
    batch = lazy[:10]
    assert batch.dtype == np.float32 and batch.flags.c_contiguous
    with pytest.raises(IndexError):
        lazy[N]
    with pytest.raises(IndexError):
        lazy[np.array([0.5])]


def test_paths_are_copied_from_lists_series_and_arrays(images):
    paths, *_ = images
    for given in (list(paths), pd.Series(paths, index=np.arange(N) + 100), paths):
        lazy = LazyImages(given, ImageLoader(size=SIZE))
        assert lazy.paths.dtype == object and lazy.paths.shape == (N,)
        assert lazy.paths is not given
    source = paths.copy()
    lazy = LazyImages(source, ImageLoader(size=SIZE))
    source[0] = None
    assert lazy.paths[0] == paths[0]
    with pytest.raises(ValueError, match="1-D"):
        LazyImages(paths.reshape(-1, 2))
    with pytest.raises(TypeError, match="sequence of image paths"):
        LazyImages("a.png")
    with pytest.raises(TypeError, match="ImageLoader"):
        LazyImages(paths, loader="size=8")


def test_pickle_and_take_keep_decoding(images):
    paths, *_ = images
    lazy = LazyImages(paths, ImageLoader(size=SIZE))
    copy = pickle.loads(pickle.dumps(lazy))
    assert_array_equal(copy[:5], lazy[:5])
    again = LazyImages(lazy)  # its paths and loader
    assert again.shape == lazy.shape and again.paths is not lazy.paths
    subset = lazy.take([4, 1])
    assert subset.shape == (2, 1, SIZE, SIZE)
    assert_array_equal(subset[:], lazy[[4, 1]])
    assert (
        repr(lazy) == f"LazyImages(n={N}, shape=(1, 8, 8), loader=ImageLoader(size=8))"
    )


def test_callers_loader_is_not_modified(images):
    paths, *_ = images
    loader = ImageLoader(size=SIZE, add_indicator=False)
    lazy = LazyImages(paths, loader)
    assert loader.get_params()["add_indicator"] is False
    assert not hasattr(loader, "image_shape_")  # not fitted either
    assert lazy.loader is not loader and lazy.loader.add_indicator
    fitted = ImageLoader(size=SIZE).fit(pd.DataFrame({"path": paths}))
    LazyImages(paths, fitted)
    assert list(fitted.feature_names_in_) == ["path"]
    assert LazyImages(paths).shape == (N, 1, 64, 64)  # ImageLoader()


def test_array_conversion_is_refused_with_a_clear_message(images):
    paths, _, y, _ = images
    lazy = LazyImages(paths, ImageLoader(size=SIZE))
    message = "LazyImages (96 images) is decoded batch by batch"
    with pytest.raises(TypeError, match=re.escape(message)):
        np.asarray(lazy)
    with pytest.raises(TypeError, match="dict input"):
        CrossModalClassifier(**FIT).fit(lazy, y)


def test_missing_paths_and_decoded_flags(images, transform_calls):
    paths, *_ = images
    paths = paths.copy()
    paths[[1, 4]] = [None, "  "]
    paths[2] = np.nan
    lazy = LazyImages(paths, ImageLoader(size=SIZE))
    expected = np.isin(np.arange(N), [1, 2, 4])
    assert_array_equal(lazy.missing_paths(), expected)
    assert transform_calls == []  # known without decoding
    pixels, missing = lazy.decode(np.arange(6))
    assert_array_equal(missing, expected[:6])
    assert not pixels[[1, 2, 4]].any()


# -- estimators: identical predictions -------------------------------------


@pytest.mark.parametrize("n_jobs", [None, 2])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_lazy_and_in_memory_fits_give_identical_predictions(
    images, n_jobs, early_stopping
):
    paths, tab, y, _ = images
    pixels, _ = _decoded(paths)
    params = dict(FIT, n_jobs=n_jobs, early_stopping=early_stopping)
    if early_stopping:
        params.update(validation_fraction=0.25, n_iter_no_change=2)
    lazy_X = {"tab": tab, "xray": LazyImages(paths, ImageLoader(size=SIZE))}
    memory_X = {"tab": tab, "xray": pixels}
    lazy = CrossModalClassifier(**params).fit(lazy_X, y)
    memory = CrossModalClassifier(**params).fit(memory_X, y)
    assert lazy.modalities_ == memory.modalities_
    assert lazy.loss_curve_ == memory.loss_curve_
    proba = memory.predict_proba(memory_X)
    assert_array_equal(lazy.predict_proba(lazy_X), proba)
    # the two inputs are interchangeable once fitted
    assert_array_equal(lazy.predict_proba(memory_X), proba)
    assert_array_equal(memory.predict_proba(lazy_X), proba)
    assert_array_equal(lazy.transform(lazy_X), memory.transform(memory_X))
    if early_stopping:
        assert lazy.validation_loss_curve_ == memory.validation_loss_curve_


def test_regressor_with_only_a_lazy_modality_matches_in_memory(images):
    paths, _, y, _ = images
    pixels, _ = _decoded(paths)
    target = y + 0.1 * np.arange(N) / N
    lazy_X = {"xray": LazyImages(paths, ImageLoader(size=SIZE))}
    lazy = CrossModalRegressor(**FIT).fit(lazy_X, target)
    memory = CrossModalRegressor(**FIT).fit({"xray": pixels}, target)
    assert_array_equal(lazy.predict(lazy_X), memory.predict({"xray": pixels}))


def test_statistics_stream_bitwise_equal_for_arrays_and_lazy_images(images):
    paths, *_ = images
    pixels, _ = _decoded(paths)
    lazy = LazyImages(paths, ImageLoader(size=SIZE))
    present = np.arange(N) % 5 != 0
    for block in (7, 16, 1024):
        shift, scale = _statistics(pixels, (0, 2, 3), present, block)
        lazy_shift, lazy_scale = _statistics(lazy, (0, 2, 3), present, block)
        assert_array_equal(shift, lazy_shift)
        assert_array_equal(scale, lazy_scale)
        assert shift.shape == (1, 1, 1) and shift.dtype == np.float32
        chosen = pixels[present].astype(np.float64)
        np.testing.assert_allclose(shift.ravel(), chosen.mean(), rtol=1e-6)
        np.testing.assert_allclose(scale.ravel(), chosen.std(), rtol=1e-6)
    vectors = np.random.default_rng(0).normal(5, 3, size=(50, 4)).astype(np.float32)
    shift, scale = _statistics(vectors, (0,), None, 8)
    np.testing.assert_allclose(shift, vectors.astype(float).mean(0), rtol=1e-6)
    np.testing.assert_allclose(scale, vectors.astype(float).std(0), rtol=1e-6)
    shift, scale = _statistics(vectors, (0,), np.zeros(50, bool), 8)
    assert_array_equal(shift, 0) and assert_array_equal(scale, 1)


# -- absent rows -------------------------------------------------------------


def test_missing_paths_are_absent_and_match_in_memory_flags(images):
    paths, tab, y, _ = images
    paths = paths.copy()
    paths[::9] = None
    pixels, flags = _decoded(paths)
    lazy_X = {"tab": tab, "xray": LazyImages(paths, ImageLoader(size=SIZE))}
    memory_X = {"tab": tab, "xray": pixels, "xray__missing": flags}
    lazy = CrossModalClassifier(**FIT).fit(lazy_X, y)
    assert lazy.modalities_["xray"].has_missing
    inputs = lazy._predict_inputs(lazy_X)
    assert_array_equal(inputs[PRESENT_KEY][:, 1], 1 - flags)
    assert_array_equal(inputs[PRESENT_KEY][:, 0], 1)
    memory = CrossModalClassifier(**FIT).fit(memory_X, y)
    assert_array_equal(lazy.predict_proba(lazy_X), memory.predict_proba(memory_X))


def test_unreadable_images_are_marked_absent_per_batch(images):
    paths, tab, y, folder = images
    paths = paths.copy()
    broken = folder / "broken.png"
    broken.write_bytes(b"not an image")
    paths[[3, 50]] = [str(broken), str(folder / "nowhere.png")]
    loader = ImageLoader(size=SIZE, on_error="missing")
    lazy_X = {"tab": tab, "xray": LazyImages(paths, loader)}
    clf = CrossModalClassifier(**FIT)
    with pytest.warns(SkfusionDataWarning, match=r"2 image\(s\).*rows 3, 50"):
        clf.fit(lazy_X, y)
    inputs = clf._predict_inputs(lazy_X)
    assert inputs[PRESENT_KEY][[3, 50], 1].tolist() == [1, 1]  # paths are given
    batches = batch_loader(BatchDataset(inputs, y), batch_size=32, shuffle=False)
    present = torch.cat([X_batch[PRESENT_KEY] for X_batch, _ in batches])
    assert present[:, 1].nonzero().ravel().tolist() == [
        i for i in range(N) if i not in (3, 50)
    ]
    assert_array_equal(inputs[PRESENT_KEY][[3, 50], 1], 1)  # X is left as it is
    with pytest.warns(SkfusionDataWarning):
        pixels, flags = _decoded(paths, on_error="missing")
    memory_X = {"tab": tab, "xray": pixels, "xray__missing": flags}
    memory = CrossModalClassifier(**FIT).fit(memory_X, y)
    with pytest.warns(SkfusionDataWarning, match=r"2 image\(s\).*rows 3, 50\."):
        proba = clf.predict_proba(lazy_X)  # one warning, rows of X
    assert_array_equal(proba, memory.predict_proba(memory_X))


def test_unreadable_image_raises_by_default(images):
    paths, tab, y, folder = images
    paths = paths.copy()
    paths[5] = str(folder / "nowhere.png")
    X = {"tab": tab, "xray": LazyImages(paths, ImageLoader(size=SIZE))}
    assert not CrossModalClassifier()._validate_fit(X, y)[0].get(PRESENT_KEY)
    with pytest.raises(ValueError, match=re.escape("nowhere.png")):
        CrossModalClassifier(**FIT).fit(X, y)


def test_explicit_flag_is_combined_with_missing_paths(images):
    paths, tab, y, _ = images
    paths = paths.copy()
    paths[[0, 1]] = None
    flag = np.zeros(N)
    flag[[1, 2]] = 1
    X = {"tab": tab, "xray": LazyImages(paths, ImageLoader(size=SIZE))}
    inputs, _ = CrossModalClassifier()._validate_fit({**X, "xray__missing": flag}, y)
    assert np.flatnonzero(inputs[PRESENT_KEY][:, 1] == 0).tolist() == [0, 1, 2]
    with pytest.raises(ModalityError, match="must hold 0"):
        CrossModalClassifier()._validate_fit({**X, "xray__missing": flag * 2}, y)
    with pytest.raises(ModalityError, match="flags"):
        CrossModalClassifier()._validate_fit({"tab": tab, "tab__missing": X["xray"]}, y)


def test_prediction_input_must_match_the_fitted_modality(images):
    paths, tab, y, _ = images
    clf = CrossModalClassifier(**dict(FIT, max_epochs=1))
    clf.fit({"tab": tab, "xray": LazyImages(paths, ImageLoader(size=SIZE))}, y)
    assert not clf.modalities_["xray"].has_missing
    gaps = paths.copy()
    gaps[0] = None  # absent at predict time only: masked all the same
    X = {"tab": tab, "xray": LazyImages(gaps, ImageLoader(size=SIZE))}
    inputs = clf._predict_inputs(X)
    assert inputs[PRESENT_KEY][:2, 1].tolist() == [0, 1]
    assert clf.predict_proba(X).shape == (N, 2)
    other = LazyImages(paths, ImageLoader(size=SIZE + 1))
    with pytest.raises(ModalityError, match=r"\(1, 9, 9\) images"):
        clf.predict({"tab": tab, "xray": other})
    with pytest.raises(ModalityError, match="was a vector"):
        clf.predict({"tab": other, "xray": other})


# -- bounded decoding ----------------------------------------------------------


def test_decoding_never_holds_more_than_a_batch(images, transform_calls, monkeypatch):
    paths, tab, y, _ = images
    lazy_X = {"tab": tab, "xray": LazyImages(paths, ImageLoader(size=SIZE))}
    clf = CrossModalClassifier(**dict(FIT, max_epochs=2)).fit(lazy_X, y)
    # statistics (one pass) and two epochs, never more than batch_size images
    assert max(transform_calls) <= 16
    assert sum(transform_calls) == 3 * N
    transform_calls.clear()
    clf.net_.iterator_valid__batch_size = 40  # the net's prediction batch
    clf.predict_proba(lazy_X)
    assert transform_calls == [40, 40, 16]
    # with early stopping, validation batches hold up to the prediction batch
    monkeypatch.setattr(training, "CONV_PREDICT_BATCH", (20, 20))
    transform_calls.clear()
    params = dict(FIT, max_epochs=2, early_stopping=True, validation_fraction=0.5)
    CrossModalClassifier(**params).fit(lazy_X, y)
    assert max(transform_calls) <= 20
    assert sum(transform_calls) == N + 2 * N  # statistics, 2 x (train + valid)


def test_worker_processes_fetch_batches_without_touching_the_global_rng(images):
    paths, tab, y, _ = images
    X = {"tab": tab, "xray": LazyImages(paths, ImageLoader(size=SIZE))}
    X[PRESENT_KEY] = np.ones((N, 2), np.float32)
    iterator = batch_loader(BatchDataset(X, y), 40, shuffle=True, num_workers=2)
    torch.manual_seed(0)
    batches = list(iterator)
    after = torch.rand(1)
    torch.manual_seed(0)
    order = torch.randperm(N)
    assert_array_equal(torch.rand(1), after)  # only the randperm was drawn
    assert [len(b) for _, b in batches] == [40, 40, 16]
    rows = order.numpy()
    assert_array_equal(torch.cat([b for _, b in batches]).numpy(), y[rows])
    pixels, _ = _decoded(paths)
    assert_array_equal(batches[1][0]["xray"].numpy(), pixels[rows[40:80]])
    assert_array_equal(batches[2][0]["tab"].numpy(), tab[rows[80:]])


def test_a_dataset_already_on_the_gpu_is_indexed_in_the_main_process(images):
    """Forked workers cannot touch CUDA (seen on an H200: "Cannot re-initialize
    CUDA in forked subprocess"), so rows moved to the GPU get no workers."""
    _, tab, y, _ = images
    dataset = BatchDataset({"tab": tab}, y)
    assert batch_loader(dataset, 16, shuffle=False, num_workers=2).num_workers == 2
    dataset.on_device = True  # as BatchDataset(..., device="cuda") sets it
    loader = batch_loader(dataset, 16, shuffle=False, num_workers=2, pin_memory=True)
    assert loader.num_workers == 0
    assert not loader.pin_memory


# -- DataFrame input: one float32 copy --------------------------------------


def _mixed_frame(n=400):
    rng = np.random.default_rng(0)
    parts = [
        pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"tab__f{i}" for i in range(5)]),
        pd.DataFrame(
            rng.random((n, 64), dtype=np.float32),
            columns=[f"img__pixel_0_{i // 8}_{i % 8}" for i in range(64)],
        ),
        pd.DataFrame({"img__missing": np.zeros(n, bool), "tab__count": np.arange(n)}),
    ]
    return pd.concat(parts, axis=1)


def test_dataframe_is_split_per_modality_as_before(monkeypatch):
    frame = _mixed_frame()
    y = np.arange(len(frame)) % 2
    monkeypatch.setattr(conversion, "CHUNK_BYTES", 4096)  # many column chunks
    inputs, _ = CrossModalClassifier()._validate_fit(frame, y)
    values = frame.to_numpy(dtype=np.float32)
    tab = values[:, [0, 1, 2, 3, 4, 70]]
    assert_array_equal(inputs["tab"], tab)
    assert_array_equal(inputs["img"], values[:, 5:69].reshape(-1, 1, 8, 8))
    assert_array_equal(inputs[PRESENT_KEY], 1)
    for array in (inputs["tab"], inputs["img"]):
        assert array.dtype == np.float32 and array.flags.c_contiguous
    frame.iloc[7, 2] = np.nan
    frame.index = frame.index + 100
    message = "contains NaN or inf in column 'tab__f2', row 7 (index 107)"
    with pytest.raises(ValueError, match=re.escape(message)):
        CrossModalClassifier()._validate_fit(frame, y)


def test_dataframe_input_is_converted_without_a_whole_copy(monkeypatch):
    frame = _mixed_frame(n=4000)  # float64, float32, bool and int64 blocks
    nbytes = frame.shape[0] * frame.shape[1] * 4
    monkeypatch.setattr(conversion, "CHUNK_BYTES", 64 * 1024)
    y = np.arange(len(frame)) % 2
    clf = CrossModalClassifier()
    clf._validate_fit(frame, y)  # warm up
    tracemalloc.start()
    inputs, _ = clf._validate_fit(frame, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = sum(v.nbytes for v in inputs.values())
    assert held == nbytes - 4 * len(frame) + inputs[PRESENT_KEY].nbytes
    assert peak < held + 4 * 64 * 1024 + 200_000  # the result and a few chunks


def test_lazy_fit_is_repeatable_and_pickles_without_the_images(images):
    paths, tab, y, _ = images
    X = {"tab": tab, "xray": LazyImages(paths, ImageLoader(size=SIZE))}
    clf = CrossModalClassifier(**dict(FIT, max_epochs=1)).fit(X, y)
    again = clone(clf).fit(X, y)
    assert_array_equal(clf.predict_proba(X), again.predict_proba(X))
    restored = pickle.loads(pickle.dumps(clf))  # no reference to the images
    assert_array_equal(restored.predict_proba(X), again.predict_proba(X))
    assert b"img0.png" not in pickle.dumps(clf)


def test_more_workers_than_cpus_warn_once_and_are_clamped(images):
    import joblib

    from skfusion.exceptions import SkfusionResourceWarning

    paths, tab, y, _ = images
    X = {"tab": tab, "xray": LazyImages(paths, ImageLoader(size=SIZE))}
    n_jobs = joblib.cpu_count() + 2
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf = CrossModalClassifier(**dict(FIT, max_epochs=1, n_jobs=n_jobs)).fit(X, y)
        clf.predict(X)
    ours = [w for w in record if issubclass(w.category, SkfusionResourceWarning)]
    assert len(ours) == 1
    assert f"n_jobs={n_jobs} asks for more" in str(ours[0].message)
    # torch's DataLoader warns about "worker processes" beyond the CPUs
    assert not [w for w in record if "worker" in str(w.message) and w not in ours]
    assert clf.net_.num_workers == (joblib.cpu_count() if joblib.cpu_count() > 1 else 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("n_jobs", [None, 2])
def test_lazy_images_train_on_cuda_through_pinned_batches(images, n_jobs):
    """Lazy decoding in worker processes, pinned host memory, GPU training:
    the same fit as in-memory arrays on the GPU (cuDNN may reorder sums)."""
    paths, tab, y, _ = images
    pixels, _ = _decoded(paths)
    params = dict(FIT, n_jobs=n_jobs, device="cuda")
    lazy_X = {"tab": tab, "xray": LazyImages(paths, ImageLoader(size=SIZE))}
    lazy = CrossModalClassifier(**params).fit(lazy_X, y)
    memory = CrossModalClassifier(**params).fit({"tab": tab, "xray": pixels}, y)
    assert next(lazy.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(lazy.loss_curve_, memory.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(
        lazy.predict_proba(lazy_X), memory.predict_proba(lazy_X), atol=1e-4
    )
    loader = lazy.net_.get_iterator(lazy.net_.get_dataset(lazy_X), training=False)
    assert loader.pin_memory
