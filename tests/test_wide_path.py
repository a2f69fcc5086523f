"""The wide path: a sparse linear model added to the network's output."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion.exceptions import ModalityError
from skfusion.inspection import modality_importance
from skfusion.preprocessing import WideFeatures


def _reviews(n, seed=0):
    """Short texts whose label rests on a few words among many, plus noise."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(400)])
    good, bad = vocab[:12], vocab[12:24]
    docs, labels = [], []
    for _ in range(n):
        words = list(rng.choice(vocab[24:], rng.integers(5, 15)))
        score = 0
        for _ in range(rng.integers(1, 4)):
            if rng.random() < 0.5:
                words.append(rng.choice(good))
                score += 1
            else:
                words.append(rng.choice(bad))
                score -= 1
        rng.shuffle(words)
        docs.append(" ".join(words) if rng.random() > 0.1 else None)
        labels.append(int(score + rng.normal(0, 1.0) > 0))
    return pd.DataFrame({"note": docs}), np.array(labels)


def _wide_step(**kwargs):
    return ColumnTransformer(
        [("wide", WideFeatures(min_df=2, **kwargs), ["note"])]
    ).set_output(transform="pandas")


def test_wide_only_model_matches_logistic_regression_with_tuned_penalty():
    """With the penalty chosen by GridSearchCV, the wide-only network is
    within 0.01 held-out ROC AUC of LogisticRegression on the same TF-IDF."""
    X, y = _reviews(1200)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.4, stratify=y, random_state=0
    )
    n_fit = len(X_train) * 2 // 3  # rows of each inner training fold
    Cs = [0.3, 3.0, 30.0]
    wide = WideFeatures(min_df=2).fit(X_train)
    logistic = GridSearchCV(LogisticRegression(max_iter=5000), {"C": Cs}, cv=3)
    logistic.fit(wide.transform_sparse(X_train), y_train)
    auc_lr = roc_auc_score(
        y_test, logistic.decision_function(wide.transform_sparse(X_test))
    )
    network = make_pipeline(
        _wide_step(),
        CrossModalClassifier(
            max_epochs=40, wide_lr=0.1, lr_schedule="cosine", random_state=0
        ),
    )
    # Binary LogisticRegression's C is wide_alpha = 2 / (C * n) (see the
    # wide_alpha docstring: two softmax logits, each penalised).
    grid = {"crossmodalclassifier__wide_alpha": [2 / (C * n_fit) for C in Cs]}
    search = GridSearchCV(network, grid, cv=3, scoring="roc_auc").fit(X_train, y_train)
    auc_wide = roc_auc_score(y_test, search.predict_proba(X_test)[:, 1])
    assert auc_lr > 0.75  # the task is learnable
    assert abs(auc_wide - auc_lr) < 0.01, (auc_wide, auc_lr)


def test_wide_only_network_converges_to_the_logistic_solution():
    X, y = _reviews(600, seed=1)
    wide = WideFeatures(min_df=2).fit(X)
    C = 1.0
    logistic = LogisticRegression(C=C, max_iter=5000).fit(wide.transform_sparse(X), y)
    frame = pd.DataFrame(
        wide.transform(X), columns="wide__" + wide.get_feature_names_out()
    )
    clf = CrossModalClassifier(
        wide_alpha=2 / (C * len(X)),
        wide_lr=0.1,
        lr_schedule="cosine",
        max_epochs=60,
        random_state=0,
    ).fit(frame, y)
    assert clf.modalities_["wide"].kind == "wide"
    logits = clf.predict_log_proba(frame)
    ours = logits[:, 1] - logits[:, 0]
    theirs = logistic.decision_function(wide.transform_sparse(X))
    assert np.corrcoef(ours, theirs)[0, 1] > 0.99
    # the same penalised optimum: the same logits, not only the same ranking
    scale = np.abs(theirs).max()
    assert_allclose(ours, theirs, atol=0.1 * scale)
    assert np.abs(ours - theirs).mean() < 0.03 * scale


def test_wide_and_deep_together_with_missing_text_and_inspection():
    X, y = _reviews(400, seed=2)
    X["age"] = np.random.default_rng(0).normal(size=len(X))
    from skfusion.preprocessing import TextEmbedder

    pre = ColumnTransformer(
        [
            ("tab", "passthrough", ["age"]),
            ("note", TextEmbedder(n_components=8, random_state=0), "note"),
            ("wide", WideFeatures(), ["note"]),
        ]
    ).set_output(transform="pandas")
    model = make_pipeline(pre, CrossModalClassifier(max_epochs=10, random_state=0))
    model.fit(X, y)
    clf = model[-1]
    assert {n: s.kind for n, s in clf.modalities_.items()} == {
        "tab": "vector",
        "note": "vector",
        "wide": "wide",
    }
    # The wide modality has no encoder, so no embedding and no fusion weight.
    assert list(clf.modality_embeddings(pre.transform(X))) == ["tab", "note"]
    result = modality_importance(
        model, X, y, strategy="mask", scoring="roc_auc", random_state=0
    )
    drops = dict(zip(result.modalities, result.importances_mean, strict=True))
    assert drops["wide"] > 0.05  # masking the wide path removes its logits
    assert abs(drops["tab"]) < 0.05
    restored = pickle.loads(pickle.dumps(model))
    assert_allclose(restored.predict_proba(X), model.predict_proba(X), rtol=1e-6)


def test_regressor_has_a_wide_path_too():
    X, y = _reviews(300, seed=3)
    y = y * 2.0 + 1.0
    model = make_pipeline(
        _wide_step(), CrossModalRegressor(max_epochs=20, random_state=0)
    )
    pred = model.fit(X, y).predict(X)
    assert np.corrcoef(pred, y)[0, 1] > 0.5


def test_wide_only_model_has_no_shared_space():
    X, y = _reviews(100)
    model = make_pipeline(_wide_step(), CrossModalClassifier(max_epochs=1)).fit(X, y)
    with pytest.raises(ValueError, match="only wide modalities"):
        model.transform(X)
    with pytest.raises(ValueError, match="only wide modalities"):
        model[-1].get_feature_names_out()


def test_wide_ids_out_of_vocabulary_are_refused_naming_row_and_slot():
    X, y = _reviews(100)
    pre = _wide_step().fit(X)
    frame = pre.transform(X)
    clf = CrossModalClassifier(max_epochs=1).fit(frame, y)
    bad = frame.copy()
    bad.iloc[3, 1] = clf.modalities_["wide"].vocab_size + 5
    with pytest.raises(ModalityError, match="row 3, slot 1"):
        clf.predict(bad)
    mixed = frame.rename(columns={frame.columns[0]: "wide__age"})
    with pytest.raises(ModalityError, match="mixes wide term columns"):
        CrossModalClassifier(max_epochs=1).fit(mixed, y)


def test_fit_on_a_100k_vocabulary_never_densifies():
    """Peak memory of a fit with a 100,000-id vocabulary grows by far less
    than one dense rows x vocabulary matrix (here 2 GB)."""
    code = textwrap.dedent(
        """
        import resource
        import numpy as np, pandas as pd, torch
        from skfusion import CrossModalClassifier
        from skfusion._names import wide_feature_names
        rows, k, vocab = 5000, 64, 100_000
        rng = np.random.default_rng(0)
        ids = rng.integers(1, vocab, size=(rows, k)).astype(np.float32)
        weights = rng.random((rows, k), dtype=np.float32)
        names = "wide__" + wide_feature_names(k, vocab)
        X = pd.DataFrame(np.hstack([ids, weights]), columns=names)
        y = rng.integers(0, 2, rows)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        CrossModalClassifier(max_epochs=2, random_state=0).fit(X, y)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) * 1024)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    grown = int(done.stdout.split()[-1])
    dense = 5000 * 100_000 * 4
    assert grown < dense / 20, grown  # < 100 MB, against 2 GB dense


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_wide_path_has_its_own_step_size_and_the_schedule_decays_both(schedule):
    X, y = _reviews(120)
    X["age"] = np.arange(len(X), dtype=float)
    pre = ColumnTransformer(
        [("tab", "passthrough", ["age"]), ("wide", WideFeatures(), ["note"])]
    ).set_output(transform="pandas")
    clf = CrossModalClassifier(
        max_epochs=3, lr=1e-3, wide_lr=0.2, weight_decay=0.05, lr_schedule=schedule
    )
    make_pipeline(pre, clf).fit(X, y)
    wide_weight = clf.net_.module_.wide[0].bag.weight
    groups = clf.net_.optimizer_.param_groups
    (wide,) = [g for g in groups if any(p is wide_weight for p in g["params"])]
    (deep,) = [g for g in groups if g is not wide]
    assert wide["weight_decay"] == 0.0 and deep["weight_decay"] == 0.05
    if schedule == "constant":
        assert (wide["lr"], deep["lr"]) == (0.2, 1e-3)
    else:  # a half cosine over max_epochs ends at 0
        assert wide["lr"] == pytest.approx(0.0, abs=1e-12)
        assert deep["lr"] == pytest.approx(0.0, abs=1e-12)


def test_auto_wide_lr_is_resolved_in_fit_and_used_by_the_optimizer():
    rng = np.random.default_rng(0)
    X = {"tab": rng.normal(size=(4000, 2))}
    y = X["tab"][:, 0]
    reg = CrossModalRegressor(max_epochs=1, random_state=0).fit(X, y)
    assert reg.wide_lr_ == pytest.approx(0.01 * (1000 / 4000) ** 0.5)
    small = CrossModalRegressor(max_epochs=1).fit({"tab": X["tab"][:500]}, y[:500])
    assert small.wide_lr_ == 0.01
    clf = CrossModalClassifier(max_epochs=1).fit(X, y > 0)
    assert clf.wide_lr_ == 0.01
    assert CrossModalClassifier(max_epochs=1, wide_lr=0.2).fit(X, y > 0).wide_lr_ == 0.2
    restored = pickle.loads(pickle.dumps(reg))  # the net is rebuilt from it
    assert_allclose(restored.predict(X), reg.predict(X), rtol=1e-6)
