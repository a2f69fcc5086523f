"""Tests for skfusion.preprocessing.ImageEmbedder."""

import copy
import os
import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from PIL import Image
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn

from skfusion.exceptions import ImageReadError, SkfusionDataWarning
from skfusion.preprocessing import ImageEmbedder, ImageLoader

SIZE = 12


class TinyEncoder(nn.Module):
    """conv -> ReLU -> global average pool; returns (n, dim, 1, 1)."""

    def __init__(self, channels=1, dim=5, seed=0):
        super().__init__()
        self.conv = nn.Conv2d(channels, dim, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator))

    def forward(self, x):
        return self.pool(torch.relu(self.conv(x)))


class Counter:
    """Records the batches an encoder sees, through a forward hook.

    ``fit`` (and ``clone``) deep-copy the encoder; deepcopy copies the hook
    dict but keeps the same function object, whose closure is this counter.
    """

    def __init__(self):
        self.batches, self.probes = [], 0

    def attach(self, module):
        def hook(mod, inputs, output):
            x = inputs[0]
            if x.shape[0] == 1 and not x.any():  # fit's zero-batch probe
                self.probes += 1
            else:
                self.batches.append(x.shape[0])

        module.register_forward_hook(hook)
        return module

    @property
    def rows(self):
        return sum(self.batches)


def _images(folder, n, *, seed=0, labels=None, prefix="img"):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(n):
        base = 60 + 120 * labels[i] if labels is not None else rng.integers(0, 200)
        pixels = np.clip(rng.normal(base, 40, (SIZE + 3, SIZE)), 1, 255)
        path = os.path.join(folder, f"{prefix}{i}.png")
        Image.fromarray(pixels.astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def _embedder(**kwargs):
    kwargs.setdefault("loader", ImageLoader(size=SIZE))
    return ImageEmbedder(**kwargs)


def _direct(encoder, paths, size=SIZE):
    pixels = ImageLoader(size=size).fit_transform(paths)[:, :-1]
    with torch.no_grad():
        out = encoder(torch.from_numpy(pixels).reshape(len(paths), 1, size, size))
    return out.reshape(len(paths), -1).numpy()


def _cache_files(folder):
    return sorted(
        os.path.join(root, f)
        for root, _, files in os.walk(folder)
        for f in files
        if f.endswith(".npy")
    )


@pytest.fixture
def paths(tmp_path):
    return _images(tmp_path / "images", 7)


# -- output ------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_output_is_the_encoder_on_the_loaded_pixels(paths, batch_size):
    counter = Counter()
    encoder = counter.attach(TinyEncoder())
    X = [paths[0], None, *paths[1:4], float("nan"), *paths[4:]]
    embedder = _embedder(encoder=encoder, batch_size=batch_size)
    out = embedder.fit_transform(X)

    present = np.array([v is not None and v == v for v in X])
    assert out.shape == (9, 6) and out.dtype == np.float32
    assert_allclose(out[present, :5], _direct(TinyEncoder(), paths), rtol=1e-5)
    assert (out[present, :5] != 0).any(axis=1).all()
    assert_array_equal(out[~present], [[0, 0, 0, 0, 0, 1]] * 2)
    assert_array_equal(out[:, -1], ~present)
    assert counter.rows == 7 and counter.probes == 1  # missing rows not encoded
    assert max(counter.batches) <= batch_size
    assert embedder.get_feature_names_out().tolist() == [
        *(f"embedding_{i}" for i in range(5)),
        "missing",
    ]
    assert embedder.embedding_dim_ == 5 and embedder.n_features_out_ == 6


def test_batch_size_does_not_change_the_default_encoder_output(paths):
    outs = [
        ImageEmbedder(batch_size=b).fit_transform([*paths, None]) for b in (1, 3, 64)
    ]
    assert outs[0].shape == (8, 65)
    assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    assert_allclose(outs[0], outs[2], rtol=1e-5, atol=1e-6)
    assert np.abs(outs[0][:7, :64]).sum(axis=1).min() > 0


def test_builtin_encoder_is_deterministic_and_leaves_the_global_rng(paths):
    state = torch.random.get_rng_state()
    a = ImageEmbedder().fit(paths)
    assert torch.equal(state, torch.random.get_rng_state())
    b = ImageEmbedder().fit(paths)
    assert a.fingerprint_ == b.fingerprint_
    assert_array_equal(a.transform(paths), b.transform(paths))
    rgb = ImageEmbedder(loader=ImageLoader(size=16, color="rgb")).fit(paths)
    assert rgb.transform(paths[:2]).shape == (2, 65)
    assert not any(p.requires_grad for p in a.encoder_.parameters())
    assert not a.encoder_.training


def test_callers_encoder_loader_and_frame_are_not_changed(tmp_path, paths):
    encoder, loader = TinyEncoder(), ImageLoader(size=SIZE, add_indicator=False)
    frame = pd.DataFrame({"xray": [paths[0], None, paths[1]]}, index=["a", "b", "c"])
    before = frame.copy(deep=True)
    embedder = ImageEmbedder(encoder=encoder, loader=loader)
    out = embedder.fit_transform(frame["xray"])
    assert_frame_equal(frame, before)
    assert encoder.training and all(p.requires_grad for p in encoder.parameters())
    assert embedder.encoder_ is not encoder and loader.add_indicator is False
    assert embedder.loader_.add_indicator is True and loader is embedder.loader
    assert out[:, -1].tolist() == [0, 1, 0]


def test_pandas_output_and_nested_params(paths):
    frame = pd.DataFrame({"path": paths})
    embedder = _embedder(encoder=TinyEncoder()).set_output(transform="pandas")
    embedder.set_params(loader__size=8)
    out = embedder.fit_transform(frame)
    assert list(out.columns) == [*(f"embedding_{i}" for i in range(5)), "missing"]
    assert embedder.loader_.image_shape_ == (1, 8, 8)
    assert_allclose(out.iloc[:, :5], _direct(TinyEncoder(), paths, 8), rtol=1e-5)
    assert not hasattr(clone(embedder), "encoder_")


def test_streaming_holds_at_most_one_batch(tmp_path, monkeypatch):
    paths = _images(tmp_path, 50)
    seen_by_loader = []
    transform = ImageLoader.transform

    def spy(self, X):
        seen_by_loader.append(len(X))
        return transform(self, X)

    monkeypatch.setattr(ImageLoader, "transform", spy)
    counter = Counter()
    embedder = _embedder(encoder=counter.attach(TinyEncoder()), batch_size=8)
    out = embedder.fit(paths).transform(paths)
    assert seen_by_loader == [8] * 6 + [2]  # fit reads no image
    assert counter.batches == [8] * 6 + [2]
    assert_allclose(out[:, :5], _direct(TinyEncoder(), paths), rtol=1e-5)


def test_progress_bar_goes_to_stderr(paths, capsys):
    _embedder(progress=True, batch_size=2).fit_transform(paths)
    captured = capsys.readouterr()
    assert "ImageEmbedder" in captured.err and "7/7" in captured.err
    assert captured.out == ""
    _embedder().fit_transform(paths)
    assert capsys.readouterr().err == ""


def _verbose_line(captured):
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert len(lines) == 1, captured.out
    return lines[0]


def test_verbose_prints_one_summary_line_per_transform(tmp_path, paths, capsys):
    bad = tmp_path / "broken.png"
    bad.write_text("not a png")
    X = [*paths, None, str(bad)]
    cache = tmp_path / "cache"
    loader = ImageLoader(size=SIZE, on_error="missing")
    embedder = ImageEmbedder(
        encoder=TinyEncoder(), loader=loader, batch_size=4, cache_dir=cache, verbose=1
    )
    embedder.fit(X)
    assert capsys.readouterr().out == ""  # fit reads no image: nothing to say
    with pytest.warns(SkfusionDataWarning, match="1 unreadable"):
        embedder.transform(X)
    folder = os.path.join(cache, embedder.fingerprint_[:16])
    line = _verbose_line(capsys.readouterr())
    assert re.fullmatch(
        r"\[ImageEmbedder\] 9 image\(s\) in \d+\.\d s: 7 encoded, 0 from the "
        r"cache, 2 missing or unreadable \(cache '(.*)'\)",
        line,
    ), line
    assert line.endswith(f"(cache {folder!r})")

    embedder.transform([*paths[:3], None])
    line = _verbose_line(capsys.readouterr())
    assert ": 0 encoded, 3 from the cache, 1 missing or unreadable (" in line
    assert line.startswith("[ImageEmbedder] 4 image(s) in ")


def test_verbose_without_cache_and_verbose_zero(paths, capsys):
    embedder = _embedder(encoder=TinyEncoder(), verbose=1).fit([*paths, None])
    embedder.transform([*paths, None])
    line = _verbose_line(capsys.readouterr())
    assert re.fullmatch(
        r"\[ImageEmbedder\] 8 image\(s\) in \d+\.\d s: 7 encoded, "
        r"1 missing or unreadable",
        line,
    ), line
    embedder.set_params(verbose=0).transform(paths)
    assert capsys.readouterr().out == ""
    with pytest.raises(InvalidParameterError, match="verbose"):
        _embedder(verbose="yes").fit(paths)


# -- cache -------------------------------------------------------------------


def test_cache_encodes_each_image_once(tmp_path, paths):
    cache = tmp_path / "cache"
    counter = Counter()
    encoder = counter.attach(TinyEncoder())
    X = [*paths, None]
    embedder = _embedder(encoder=encoder, cache_dir=cache, batch_size=3)
    assert embedder.fit(X).cache_info() == (0, 0, 0, 0, 0)
    first = embedder.transform(X)
    assert counter.rows == 7
    assert embedder.cache_info() == (0, 7, 7, 7, 0)
    files = _cache_files(cache)
    assert len(files) == 7  # the missing row is not cached
    prefix = embedder.fingerprint_[:16]
    for f in files:
        key = os.path.basename(f)[:-4]
        assert f == os.path.join(cache, prefix, key[:2], key + ".npy")

    second = embedder.transform(X)
    fresh = _embedder(encoder=encoder, cache_dir=cache).fit(X)
    third = fresh.transform(X)
    assert counter.rows == 7  # nothing encoded again, by either instance
    assert embedder.cache_info() == fresh.cache_info() == (7, 0, 0, 0, 0)
    assert_array_equal(first, second)
    assert_array_equal(first, third)
    assert_allclose(first[:7, :5], _direct(TinyEncoder(), paths), rtol=1e-5)


def test_changed_file_is_a_miss(tmp_path, paths):
    cache, counter = tmp_path / "cache", Counter()
    embedder = _embedder(encoder=counter.attach(TinyEncoder()), cache_dir=cache)
    first = embedder.fit_transform(paths)
    Image.fromarray(np.full((5, 5), 255, np.uint8)).save(paths[2])
    second = embedder.transform(paths)
    assert embedder.cache_info() == (6, 1, 1, 1, 0) and counter.rows == 8
    assert_array_equal(np.delete(first, 2, 0), np.delete(second, 2, 0))
    assert_allclose(second[2, :5], _direct(TinyEncoder(), paths[2:3])[0], rtol=1e-5)
    assert not np.allclose(first[2], second[2])


@pytest.mark.parametrize("cache_key, expected_misses", [("stat", 1), ("content", 0)])
def test_touched_file_misses_only_with_stat_keys(
    tmp_path, paths, cache_key, expected_misses
):
    embedder = _embedder(
        encoder=TinyEncoder(), cache_dir=tmp_path / "cache", cache_key=cache_key
    )
    first = embedder.fit_transform(paths)
    mtime = os.stat(paths[4]).st_mtime_ns
    os.utime(paths[4], ns=(mtime + 5 * 10**9, mtime + 5 * 10**9))  # same bytes
    second = embedder.transform(paths)
    assert embedder.cache_info().misses == expected_misses
    assert embedder.cache_info().hits == 7 - expected_misses
    assert_allclose(first, second, rtol=1e-6)


def test_changed_encoder_weight_or_loader_misses_everything(tmp_path, paths):
    cache = tmp_path / "cache"
    encoder = TinyEncoder()
    base = _embedder(encoder=encoder, cache_dir=cache).fit(paths)
    base.transform(paths)
    assert base.cache_info().misses == 7

    changed = copy.deepcopy(encoder)
    with torch.no_grad():
        changed.conv.bias[0] += 1.0
    other = _embedder(encoder=changed, cache_dir=cache).fit(paths)
    out = other.transform(paths)
    assert other.fingerprint_ != base.fingerprint_
    assert other.cache_info() == (0, 7, 7, 7, 0)
    assert_allclose(out[:, :5], _direct(changed, paths), rtol=1e-5)

    resized = _embedder(encoder=encoder, cache_dir=cache)
    resized.set_params(loader__size=SIZE + 1).fit(paths).transform(paths)
    assert resized.cache_info() == (0, 7, 7, 7, 0)
    assert len({base.fingerprint_, other.fingerprint_, resized.fingerprint_}) == 3
    assert len(_cache_files(cache)) == 21


def test_corrupt_cache_entry_is_a_miss_and_is_rewritten(tmp_path, paths):
    cache = tmp_path / "cache"
    embedder = _embedder(encoder=TinyEncoder(), cache_dir=cache)
    first = embedder.fit_transform(paths)
    files = _cache_files(cache)
    with open(files[0], "wb") as f:
        f.write(b"\x93NUMPY truncated")
    np.save(files[1], np.zeros(3, np.float32))  # wrong width
    second = embedder.transform(paths)
    assert embedder.cache_info() == (5, 2, 2, 2, 2)
    assert_array_equal(first, second)
    embedder.transform(paths)
    assert embedder.cache_info() == (7, 0, 0, 0, 0)
    assert not [f for f in os.listdir(os.path.dirname(files[0])) if "tmp" in f]


def test_unwritable_cache_warns_and_still_embeds(tmp_path, paths):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    embedder = _embedder(encoder=TinyEncoder(), cache_dir=blocker)
    with pytest.warns(RuntimeWarning, match="could not write to the cache"):
        out = embedder.fit_transform(paths)
    assert_allclose(out[:, :5], _direct(TinyEncoder(), paths), rtol=1e-5)


def _search(paths, y, cache_dir, encoder, n_jobs=None, grid=None):
    embedder = ImageEmbedder(
        encoder=encoder,
        loader=ImageLoader(size=SIZE),
        cache_dir=cache_dir,
        batch_size=16,
    )
    preprocess = ColumnTransformer([("img", embedder, "path")])
    model = Pipeline(
        [
            ("pre", preprocess.set_output(transform="pandas")),
            ("clf", LogisticRegression()),
        ]
    )
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = grid or {"clf__C": [0.01, 1.0, 100.0]}
    search = GridSearchCV(model, grid, cv=cv, n_jobs=n_jobs)
    return search.fit(pd.DataFrame({"path": paths}), y)


def test_grid_search_with_cache_encodes_each_image_once(tmp_path):
    y = np.tile([0, 1], 30)
    paths = _images(tmp_path / "images", 60, labels=y)
    cached, plain = Counter(), Counter()
    with_cache = _search(paths, y, tmp_path / "cache", cached.attach(TinyEncoder()))
    without = _search(paths, y, None, plain.attach(TinyEncoder()))
    assert cached.rows == 60  # each distinct image once, over 3 x 3 fits + refit
    assert cached.probes == plain.probes == 10
    assert plain.rows == 10 * 60  # each fit embeds its train and test rows
    assert with_cache.best_params_ == without.best_params_
    assert_allclose(with_cache.best_score_, without.best_score_, atol=1e-6)
    assert_allclose(
        with_cache.cv_results_["mean_test_score"],
        without.cv_results_["mean_test_score"],
        atol=1e-6,
    )
    assert with_cache.best_score_ > 0.8


def test_grid_search_over_the_loader_size_encodes_once_per_size(tmp_path):
    y = np.tile([0, 1], 15)
    paths = _images(tmp_path / "images", 30, labels=y)
    counter = Counter()
    grid = {"pre__img__loader__size": [6, 10], "clf__C": [0.1, 10.0]}
    cache = tmp_path / "cache"
    search = _search(paths, y, cache, counter.attach(TinyEncoder()), grid=grid)
    assert counter.rows == 2 * 30  # one encoding per image and size
    assert len(_cache_files(cache)) == 60
    best = search.best_params_["pre__img__loader__size"]
    embedder = search.best_estimator_[0].named_transformers_["img"]
    assert embedder.loader_.image_shape_ == (1, best, best)


def test_parallel_grid_search_shares_the_cache(tmp_path):
    y = np.tile([0, 1], 15)
    paths = _images(tmp_path / "images", 30, labels=y)
    parallel = _search(paths, y, tmp_path / "cache", None, n_jobs=2)
    sequential = _search(paths, y, None, None)
    assert len(_cache_files(tmp_path / "cache")) == 30
    leftovers = [f for _, _, files in os.walk(tmp_path / "cache") for f in files]
    assert all(f.endswith(".npy") and not f.startswith(".tmp") for f in leftovers)
    assert_allclose(
        parallel.cv_results_["mean_test_score"],
        sequential.cv_results_["mean_test_score"],
        atol=1e-6,
    )


# -- errors ------------------------------------------------------------------


def _with_bad_row(tmp_path, paths, at):
    bad = tmp_path / "broken.png"
    bad.write_text("not a png")
    values = [*paths, *paths][:12]
    values[at] = str(bad)
    return values, str(bad)


@pytest.mark.parametrize("as_frame", [True, False])
def test_unreadable_image_names_the_row_of_the_full_input(tmp_path, paths, as_frame):
    values, bad = _with_bad_row(tmp_path, paths, at=9)
    if as_frame:
        X = pd.DataFrame({"xray": values}, index=[f"p{i}" for i in range(12)])
        row, column = r"row 9 \(index 'p9'\)", "'xray'"
    else:
        X, row, column = values, r"row 9:", "'0'"
    embedder = _embedder(encoder=TinyEncoder(), batch_size=4, cache_dir=tmp_path / "c")
    with pytest.raises(ImageReadError, match=row) as info:
        embedder.fit(X).transform(X)
    assert bad in str(info.value) and column in str(info.value)
    assert "row 1" not in str(info.value)


def test_unreadable_image_with_on_error_missing(tmp_path, paths):
    values, _ = _with_bad_row(tmp_path, paths, at=9)
    loader = ImageLoader(size=SIZE, on_error="missing")
    cache = tmp_path / "cache"
    embedder = ImageEmbedder(
        encoder=TinyEncoder(), loader=loader, batch_size=4, cache_dir=cache
    )
    with pytest.warns(SkfusionDataWarning, match=r"1 unreadable.*: row 9\. First"):
        out = embedder.fit_transform(values)
    assert_array_equal(out[9], [0, 0, 0, 0, 0, 1])
    good = np.delete(np.arange(12), 9)
    assert_allclose(out[good, :5], _direct(TinyEncoder(), np.array(values)[good]))
    assert out[good, -1].sum() == 0
    assert len(_cache_files(cache)) == 7  # 7 distinct readable files, bad one not


def test_cuda_without_cuda_warns_and_uses_the_cpu(paths):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    embedder = _embedder(encoder=TinyEncoder(), device="cuda")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        out = embedder.fit_transform(paths)
    assert embedder.device_ == torch.device("cpu")
    assert_allclose(out[:, :5], _direct(TinyEncoder(), paths), rtol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_encoder_matches_cpu_and_pickles_for_a_cpu_machine(tmp_path, paths):
    cpu = _embedder(encoder=TinyEncoder()).fit_transform(paths)
    embedder = _embedder(encoder=TinyEncoder(), device="cuda", cache_dir=tmp_path)
    gpu = embedder.fit_transform(paths)
    assert embedder.device_.type == "cuda"
    assert next(embedder.encoder_.parameters()).is_cuda
    assert gpu.dtype == np.float32
    assert_allclose(gpu, cpu, atol=1e-5)
    # the cache written on the GPU is read back (cache hit, same values)
    again = _embedder(encoder=TinyEncoder(), device="cuda", cache_dir=tmp_path)
    assert_allclose(again.fit_transform(paths), gpu, atol=0)
    restored = pickle.loads(pickle.dumps(embedder))
    assert_allclose(restored.transform(paths), gpu, atol=1e-6)


def test_bad_encoder_files_give_clear_errors(tmp_path, paths):
    text = tmp_path / "model.pt2"
    text.write_text("hello")
    state = tmp_path / "weights.pt"
    torch.save(TinyEncoder().state_dict(), state)
    whole = tmp_path / "module.pt"
    torch.save(TinyEncoder(), whole)
    for path, what in [
        (text, "neither a torch.export nor a TorchScript"),
        (state, "written by torch.save"),
        (whole, "written by torch.save"),
        (tmp_path / "absent.pt2", "could not read"),
    ]:
        with pytest.raises(ValueError, match=what) as info:
            ImageEmbedder(encoder=str(path)).fit(paths)
        assert "torch.export.save" in str(info.value)
        assert "load_state_dict(torch.load(path, weights_only=True))" in str(info.value)


def test_encoder_with_wrong_output_is_refused(paths):
    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    with pytest.raises(ValueError, match="must map a float32 tensor"):
        ImageEmbedder(encoder=Pair()).fit(paths)


# -- saved encoders and pickling --------------------------------------------


def _exported(path, module):
    example = (torch.zeros(2, 1, SIZE, SIZE),)
    dims = ({0: torch.export.Dim("batch")},)
    program = torch.export.export(module.eval(), example, dynamic_shapes=dims)
    torch.export.save(program, path)
    return str(path)


def _scripted(path, module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit
        traced = torch.jit.trace(module.eval(), torch.zeros(2, 1, SIZE, SIZE))
        torch.jit.save(traced, path)
    return str(path)


@pytest.mark.parametrize("save", [_exported, _scripted])
def test_saved_encoder_file_matches_the_module_and_pickles(tmp_path, paths, save):
    X = [*paths, None]
    expected = _embedder(encoder=TinyEncoder()).fit_transform(X)
    path = save(tmp_path / "encoder.bin", TinyEncoder())
    embedder = _embedder(encoder=path, batch_size=3).fit(X)
    out = embedder.transform(X)
    assert_allclose(out, expected, rtol=1e-5, atol=1e-7)
    restored = pickle.loads(pickle.dumps(embedder))
    assert_array_equal(restored.transform(X), out)
    assert restored.fingerprint_ == embedder.fingerprint_
    assert clone(embedder).fit(X).fingerprint_ == embedder.fingerprint_
    assert_array_equal(copy.deepcopy(embedder).transform(X), out)
    assert_array_equal(clone(embedder).fit_transform(X), out)


def test_pickle_round_trip_gives_identical_output(tmp_path, paths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.trace(TinyEncoder(), torch.zeros(1, 1, SIZE, SIZE))
    for encoder in (None, TinyEncoder(), scripted):
        embedder = _embedder(encoder=encoder, cache_dir=tmp_path / "c").fit(paths)
        out = embedder.transform(paths)
        restored = pickle.loads(pickle.dumps(embedder))
        assert_array_equal(restored.transform(paths), out)
        assert restored.cache_info().hits == 7
        assert_array_equal(clone(restored).fit_transform(paths), out)


# -- scikit-learn API (the data-free checks run in tests/test_common.py) ------


def test_deepcopy_keeps_the_counting_hook():
    counter = Counter()
    module = copy.deepcopy(counter.attach(TinyEncoder()))
    module(torch.ones(3, 1, 4, 4))
    assert counter.batches == [3]
