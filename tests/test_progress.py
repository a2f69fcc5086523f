"""What a fit shows while it runs: progress=True (a tqdm bar over epochs on
stderr) and verbose=1 (skorch's table of losses per epoch on stdout)."""

import re

import numpy as np
import pytest

from skfusion import CrossModalClassifier, CrossModalRegressor

FAST = dict(batch_size=32, latent_dim=8, head_dims=(8,), random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = {"tab": rng.normal(size=(120, 3)).astype(np.float32)}
    return X, (X["tab"][:, 0] > 0).astype(int)


def _final_count(err):
    """The bar's last 'n/total' (tqdm redraws it with '\\r')."""
    counts = re.findall(r"(\d+)/(\d+) \[", err)
    assert counts, err
    return tuple(map(int, counts[-1]))


def test_progress_bar_ends_at_max_epochs(data, capsys):
    X, y = data
    CrossModalClassifier(max_epochs=4, progress=True, **FAST).fit(X, y)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.lstrip("\r").startswith("CrossModalClassifier:")
    assert _final_count(err) == (4, 4)
    assert "epoch" in err and "train_loss=" in err


def test_progress_bar_ends_where_early_stopping_stopped(data, capsys):
    X, y = data
    clf = CrossModalRegressor(
        max_epochs=200,
        early_stopping=True,
        n_iter_no_change=1,
        tol=0.5,  # stop as soon as the validation loss improves by < 50%
        progress=True,
        **FAST,
    ).fit(X, y.astype(float))
    err = capsys.readouterr().err
    assert clf.n_iter_ < 200
    assert _final_count(err) == (clf.n_iter_, 200)
    assert "valid_loss=" in err


def test_no_bar_and_no_output_by_default(data, capsys):
    X, y = data
    CrossModalClassifier(max_epochs=2, **FAST).fit(X, y)
    assert capsys.readouterr() == ("", "")


def test_verbose_prints_the_modalities_and_a_row_per_epoch(data, capsys):
    X, y = data
    CrossModalClassifier(max_epochs=3, verbose=1, **FAST).fit(X, y)
    out = re.sub(r"\x1b\[\d+m", "", capsys.readouterr().out)  # skorch's colours
    lines = out.splitlines()
    assert lines[0] == "[CrossModalClassifier] modalities: tab (vector 3)"
    assert re.match(r"\s*epoch\s+train_loss\s.*dur", lines[1])
    rows = [line for line in lines if re.match(r"\s*\d+\s+\d\.\d{4}", line)]
    assert [int(r.split()[0]) for r in rows] == [1, 2, 3]


def test_a_fitted_model_with_progress_pickles_without_the_bar(data):
    import pickle

    X, y = data
    clf = CrossModalClassifier(max_epochs=2, progress=True, **FAST).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
