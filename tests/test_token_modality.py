"""Token modalities: a TextTokenizer's ids learnt end to end by the estimators."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion.datasets import make_clinical_multimodal
from skfusion.exceptions import ModalityError
from skfusion.nn.encoders import TokenEncoder
from skfusion.preprocessing import TextTokenizer

FILLER = ["patient", "seen", "today", "stable", "reports", "mild", "review", "plan"]


def _negation_task(n, seed):
    """Both classes hold the words "no", "fever" and "cough"; only their
    order tells the class ("no fever ... cough" vs "fever ... no cough"),
    so a bag of words is at chance and a phrase model is not."""
    rng = np.random.default_rng(seed)
    texts, labels = [], rng.integers(0, 2, n)
    for label in labels:
        parts = ["no fever", "cough"] if label else ["fever", "no cough"]
        words = rng.choice(FILLER, 6)
        parts += [" ".join(words[:3]), " ".join(words[3:])]
        rng.shuffle(parts)
        texts.append(" ".join(parts))
    return pd.DataFrame({"note": texts}), labels


def _pipeline(max_length, **params):
    tokens = ColumnTransformer([("note", TextTokenizer(max_length=max_length), "note")])
    # a constant learning rate: these tests are about what each sequence
    # model can learn, not about the default schedule
    params = {
        "max_epochs": 20,
        "lr": 3e-3,
        "lr_schedule": "constant",
        "random_state": 0,
        **params,
    }
    return make_pipeline(
        tokens.set_output(transform="pandas"), CrossModalClassifier(**params)
    )


@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    X, y = make_clinical_multimodal(
        n_samples=600,
        image_dir=tmp_path_factory.mktemp("img"),
        image_size=8,
        missing_note=0.1,
        random_state=0,
    )
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_estimator_reads_token_columns_as_a_token_modality(notes):
    X_train, _, y_train, _ = notes
    pipe = _pipeline(96, max_epochs=1).fit(X_train[["note"]], y_train)
    spec = pipe[-1].modalities_["note"]
    vocab = pipe[0].named_transformers_["note"].vocab_size_
    assert (spec.kind, spec.shape, spec.vocab_size) == ("tokens", (96,), vocab)
    assert spec.has_missing
    encoder = pipe[-1].net_.module_.encoders[0]
    assert isinstance(encoder, TokenEncoder)
    assert encoder.embedding.num_embeddings == vocab


def test_a_model_learns_from_token_ids_alone(notes):
    # The notes' findings carry the text signal of make_clinical_multimodal;
    # measured held-out AUC 0.75 (mean pooling), chance 0.5.
    X_train, X_test, y_train, y_test = notes
    pipe = _pipeline(96).fit(X_train[["note"]], y_train)
    auc = roc_auc_score(y_test, pipe.predict_proba(X_test[["note"]])[:, 1])
    assert auc > 0.68


@pytest.mark.parametrize("kind", ["conv", "transformer"])
def test_phrase_models_see_word_order_that_a_bag_of_words_cannot(kind):
    X_train, y_train = _negation_task(600, seed=0)
    X_test, y_test = _negation_task(300, seed=1)
    bag = _pipeline(16, token_encoder="mean").fit(X_train, y_train)
    phrase = _pipeline(16, token_encoder=kind).fit(X_train, y_train)
    auc_bag = roc_auc_score(y_test, bag.predict_proba(X_test)[:, 1])
    auc_phrase = roc_auc_score(y_test, phrase.predict_proba(X_test)[:, 1])
    # measured: mean 0.47, conv 1.00, transformer 1.00
    assert auc_bag < 0.62
    assert auc_phrase > 0.95


@pytest.mark.parametrize("kind", ["mean", "conv", "transformer"])
def test_padding_only_rows_stay_finite_and_do_not_depend_on_padding(kind):
    torch.manual_seed(0)
    encoder = TokenEncoder(20, 8, max_length=6, embedding_dim=8, kind=kind).eval()
    ids = torch.tensor([[0, 0, 0, 0, 0, 0], [3, 4, 5, 0, 0, 0]], dtype=torch.float32)
    with torch.no_grad():
        out = encoder(ids)
        # a row with its trailing padding cut gives the same embedding
        short = encoder(ids[1:, :3]) if kind != "conv" else None
    assert torch.isfinite(out).all()
    if short is not None:
        assert_allclose(out[1:].numpy(), short.numpy(), atol=1e-5)


@pytest.mark.parametrize("fusion", ["concat", "attention", "gated"])
def test_tokens_fuse_with_other_modalities_and_missing_notes_are_masked(notes, fusion):
    X_train, X_test, y_train, _ = notes
    columns = ["age", "creatinine", "crp"]
    ct = ColumnTransformer(
        [
            ("tab", SimpleImputer(), columns),
            ("note", TextTokenizer(max_length=64), "note"),
        ]
    ).set_output(transform="pandas")
    clf = CrossModalClassifier(
        fusion=fusion, token_encoder="transformer", max_epochs=2, random_state=0
    )
    pipe = make_pipeline(ct, clf).fit(X_train, y_train)
    assert [s.kind for s in clf.modalities_.values()] == ["vector", "tokens"]
    proba = pipe.predict_proba(X_test)
    assert np.isfinite(proba).all()
    # a note marked missing is masked: whatever ids its columns hold, the
    # prediction is the one of a missing note
    gone = ct.transform(X_test.iloc[:5].assign(note=None))
    assert gone["note__missing"].eq(1).all()
    scrambled = ct.transform(X_test.iloc[5:10]).set_index(gone.index)
    scrambled[columns_of(scrambled, "tab__")] = gone[columns_of(gone, "tab__")]
    scrambled["note__missing"] = 1.0
    assert scrambled.filter(like="__token_").to_numpy().any()
    assert_allclose(clf.predict_proba(scrambled), clf.predict_proba(gone), atol=1e-6)


def columns_of(frame, prefix):
    return [c for c in frame.columns if c.startswith(prefix)]


def test_predictions_survive_pickle(notes):
    X_train, X_test, y_train, _ = notes
    pipe = _pipeline(32, token_encoder="conv", max_epochs=2).fit(
        X_train[["note"]], y_train
    )
    again = pickle.loads(pickle.dumps(pipe))
    assert_array_equal(
        again.predict_proba(X_test[["note"]]), pipe.predict_proba(X_test[["note"]])
    )


def test_declared_token_modality_infers_vocabulary_and_checks_ids():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30, size=(80, 5)).astype(float)
    X = np.hstack([ids, rng.normal(size=(80, 2))])
    y = rng.normal(size=80)
    modalities = {"note": {"columns": list(range(5)), "kind": "tokens"}, "tab": [5, 6]}
    reg = CrossModalRegressor(modalities=modalities, max_epochs=1, random_state=0)
    reg.fit(X, y)
    assert reg.modalities_["note"].vocab_size == int(ids.max()) + 1
    too_big = X.copy()
    too_big[3, 2] = 99
    with pytest.raises(ModalityError, match=r"row 3, position 2 holds 99.0"):
        reg.predict(too_big)
    fractional = X.copy()
    fractional[0, 0] = 1.5
    with pytest.raises(ModalityError, match="not an integer id"):
        reg.predict(fractional)
    declared = {**modalities, "note": {"columns": list(range(5)), "vocab_size": 100}}
    reg = CrossModalRegressor(modalities=declared, max_epochs=1).fit(X, y)
    assert reg.modalities_["note"].kind == "tokens"
    assert reg.predict(too_big).shape == (80,)


@pytest.mark.parametrize(
    "names, match",
    [
        (["note__token_0_vocab_9", "note__age"], "mixes token columns"),
        (["note__token_0_vocab_9", "note__token_1_vocab_8"], "one vocabulary size"),
        (["note__token_0_vocab_9", "note__token_2_vocab_9"], "positions 0..n-1"),
    ],
)
def test_malformed_token_columns_are_explained(names, match):
    X = pd.DataFrame(np.ones((10, 2)), columns=names)
    with pytest.raises(ModalityError, match=match):
        CrossModalRegressor(max_epochs=1).fit(X, np.arange(10.0))
