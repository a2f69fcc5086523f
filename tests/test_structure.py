"""A ColumnTransformer's output without names: the lost-structure warning,
and make_modality_transformer, which cannot lose it."""

import warnings

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfusion import CrossModalClassifier, make_modality_transformer
from skfusion._structure import MIN_COLUMNS, lost_structure
from skfusion._training import check_workers, n_workers
from skfusion.datasets import make_clinical_multimodal
from skfusion.exceptions import (
    ModalityStructureWarning,
    SkfusionDataWarning,
    SkfusionResourceWarning,
)
from skfusion.preprocessing import ImageLoader, TextEmbedder

NUMERIC = ["age", "systolic_bp", "heart_rate", "creatinine", "crp"]
TINY = dict(max_epochs=1, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return make_clinical_multimodal(
        80,
        image_dir=tmp_path_factory.mktemp("scans"),
        image_size=8,
        missing_note=0.2,
        random_state=0,
    )


def _steps():
    return [
        ("tab", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
        ("note", TextEmbedder(n_components=4, random_state=0), "note"),
        ("xray", ImageLoader(size=8), "xray_path"),
    ]


def _structure_warnings(record):
    return [w for w in record if issubclass(w.category, ModalityStructureWarning)]


def test_numpy_output_of_a_column_transformer_warns(table):
    X, y = table
    # 5 tab + (4 + missing) note + (64 + missing) xray columns, no names
    model = make_pipeline(ColumnTransformer(_steps()), CrossModalClassifier(**TINY))
    with pytest.warns(ModalityStructureWarning) as record:
        model.fit(X, y)
    assert len(_structure_warnings(record)) == 1
    message = str(_structure_warnings(record)[0].message)
    assert message.startswith(
        "X has no column names, so all its 75 columns form one vector modality "
        "('features'). Yet column(s) 9, 74 look like the 'missing' flag"
    )
    for fix in (
        "set_output(transform='pandas')",
        "skfusion.make_modality_transformer",
        "ModalityVectorizer",
        "modalities={'features': slice(None)}",
    ):
        assert fix in message
    # the warning points at this file, not into skfusion or sklearn
    assert _structure_warnings(record)[0].filename == __file__
    assert list(model[-1].modalities_) == ["features"]
    assert issubclass(ModalityStructureWarning, SkfusionDataWarning)


def test_the_flags_are_found_with_no_absent_row(table):
    X, _ = table
    steps = _steps()[::2]  # tab and xray: no image is missing
    values = ColumnTransformer(steps).fit_transform(X)
    assert values[:, -1].max() == 0
    assert lost_structure(values) == [values.shape[1] - 1]


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.normal(size=(100, 5)),  # small single modality
        lambda rng: rng.normal(size=(100, 300)),  # an embedding
        lambda rng: np.hstack(  # numbers and one-hot categories
            [rng.normal(size=(100, 20)), rng.integers(0, 2, (100, 12))]
        ),
        lambda rng: rng.integers(0, 2, (100, 40)).astype(float),  # all 0/1
    ],
    ids=["small", "embedding", "one-hot", "binary"],
)
def test_single_modality_arrays_do_not_warn(make):
    rng = np.random.default_rng(0)
    X = make(rng)
    y = rng.integers(0, 2, len(X))
    assert lost_structure(X) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModalityStructureWarning)
        CrossModalClassifier(**TINY).fit(X, y)


def test_narrow_arrays_are_never_judged():
    X = np.zeros((50, MIN_COLUMNS - 1))
    X[:, :3] = np.random.default_rng(0).normal(size=(50, 3))
    assert lost_structure(X) == []
    X = np.hstack([X, np.random.default_rng(1).normal(size=(50, 1))])
    X[:, 3] = 0.0  # an all-zero column after two value columns
    assert lost_structure(X) == [3]


def test_declared_modalities_or_names_silence_it(table):
    X, y = table
    values = ColumnTransformer(_steps()).fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModalityStructureWarning)
        CrossModalClassifier(modalities={"features": slice(None)}, **TINY).fit(
            values, y
        )
        pandas = ColumnTransformer(_steps()).set_output(transform="pandas")
        make_pipeline(pandas, CrossModalClassifier(**TINY)).fit(X, y)


def test_make_modality_transformer_keeps_the_structure(table):
    X, y = table
    tab, note, xray = _steps()
    step = make_modality_transformer(tab, note, xray=xray[1:])
    assert [name for name, _, _ in step.transformers] == ["tab", "note", "xray"]
    model = make_pipeline(step, CrossModalClassifier(**TINY))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModalityStructureWarning)
        model.fit(X, y)
    specs = model[-1].modalities_
    assert {name: spec.kind for name, spec in specs.items()} == {
        "tab": "vector",
        "note": "vector",
        "xray": "image",
    }
    assert specs["xray"].shape == (1, 8, 8) and specs["note"].has_missing


def test_make_modality_transformer_passthrough_and_errors():
    step = make_modality_transformer(
        ("cat", OneHotEncoder(sparse_output=True), ["sex"]), remainder="passthrough"
    )
    assert step.sparse_threshold == 0.0 and step.remainder == "passthrough"
    with pytest.raises(TypeError, match=r"\(name, transformer, columns\) tuples"):
        make_modality_transformer((StandardScaler(), ["age"]))
    with pytest.raises(TypeError, match=r"make_modality_transformer\(tab=\.\.\.\)"):
        make_modality_transformer(tab=StandardScaler())
    with pytest.raises(ValueError, match="without '__'"):
        make_modality_transformer(("lab__a", StandardScaler(), ["age"]))
    with pytest.raises(ValueError, match="used twice"):
        make_modality_transformer(
            ("tab", StandardScaler(), ["age"]), tab=(StandardScaler(), ["crp"])
        )
    with pytest.raises(ValueError, match="unprefixed"):
        make_modality_transformer(("features", StandardScaler(), ["age"]))
    with pytest.raises(ValueError, match="at least one step"):
        make_modality_transformer()


def test_decoding_workers_are_clamped_to_the_cpus(monkeypatch):
    # a 2-CPU machine, as joblib sees it
    monkeypatch.setattr("joblib.cpu_count", lambda: 2)
    monkeypatch.setattr("joblib.effective_n_jobs", lambda n: n if n > 0 else 3 + n)
    assert [n_workers(n) for n in (None, 1, 2, 8, -1, -2)] == [0, 0, 2, 2, 2, 0]
    with pytest.warns(SkfusionResourceWarning, match="n_jobs=8 asks for more") as rec:
        check_workers(8)
    assert len(rec) == 1 and "skfusion uses 2" in str(rec[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_workers(2)
        check_workers(-1)
