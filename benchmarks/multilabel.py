"""Multi-label quality: CrossModalClassifier against two scikit-learn baselines.

Data: ``make_clinical_multimodal(n, target="multilabel", n_labels=3)``: the
synthetic clinical table (numbers and categories with NaN, a free-text note,
a PNG scan per row) with three binary findings; label 0 depends on the
tabular and text latents, label 1 on text and image, label 2 on tabular and
image, so each needs two modalities.

Every model is a Pipeline from the raw DataFrame, and all three see the
same features, made inside each fold by the standard skfusion preprocessing
(``make_modality_transformer``): the tabular step (imputed numbers with
missing-value indicators, standardised; one-hot categories), the note as
``TextEmbedder(n_components=32)`` (TF-IDF + LSA) and the scan as
``ImageLoader(size=32)`` pixels.

- ``skfusion``: ``CrossModalClassifier`` on those modalities (an MLP
  encoder for the table and the note, a CNN for the scan, one sigmoid per
  label), 20 epochs at a constant learning rate as in
  examples/quickstart.py, ``n_threads=1``;
- ``MultiOutputClassifier(HistGradientBoostingClassifier())``: one gradient
  boosting per label on the same features flattened into one matrix;
- ``MLPClassifier``: scikit-learn's network (one hidden layer of 100,
  multilabel output) on the same matrix, ``max_iter=200``.

Protocol: shuffled K-fold (5; a multilabel y cannot be stratified), the same
folds for every model, folds one after another; per fold the ROC AUC of each
label and the micro and macro averages from ``predict_proba``, reported as
mean ± sd over the folds, and the mean seconds of ``fit`` per fold. torch
and every BLAS/OpenMP pool are held to ``--threads`` (default 1).

Run:  python benchmarks/multilabel.py [--n-samples 1000] [--folds 5]
          [--epochs 20] [--threads 1] [--quick]
--quick is a smoke test: 300 rows, 2 folds, 3 epochs.
"""

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
import warnings

import numpy as np
import sklearn
import torch
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold
from sklearn.multioutput import MultiOutputClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from skfusion import CrossModalClassifier, make_modality_transformer
from skfusion.datasets import make_clinical_multimodal
from skfusion.preprocessing import ImageLoader, TextEmbedder

SEED = 0
IMAGE_SIZE = 32
N_LABELS = 3
LABELS = ("tab + text", "text + image", "tab + image")  # what each label uses
START = time.perf_counter()


def log(message):
    print(f"[{time.perf_counter() - START:7.1f}s] {message}", flush=True)


def features(tabular):
    """The standard skfusion preprocessing: one step (modality) per kind."""
    numeric = make_pipeline(SimpleImputer(add_indicator=True), StandardScaler())
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    tab = ColumnTransformer(
        [
            ("num", numeric, make_column_selector(dtype_include="number")),
            ("cat", onehot, make_column_selector(dtype_exclude="number")),
        ]
    )
    return make_modality_transformer(
        ("tab", tab, tabular),
        ("note", TextEmbedder(n_components=32, random_state=SEED), "note"),
        ("xray", ImageLoader(size=IMAGE_SIZE), "xray_path"),
    )


def models(tabular, epochs):
    """Row label -> factory of a fresh Pipeline."""
    return {
        "skfusion CrossModalClassifier": lambda: make_pipeline(
            features(tabular),
            CrossModalClassifier(
                max_epochs=epochs,
                lr_schedule="constant",
                n_threads=1,
                random_state=SEED,
            ),
        ),
        "MultiOutputClassifier(HGB)": lambda: make_pipeline(
            features(tabular),
            MultiOutputClassifier(HistGradientBoostingClassifier(random_state=SEED)),
        ),
        "MLPClassifier": lambda: make_pipeline(
            features(tabular), MLPClassifier(max_iter=200, random_state=SEED)
        ),
    }


def label_proba(model, X):
    """P(label = 1) as an (n, n_labels) array, whatever the model returns
    (MultiOutputClassifier: one (n, 2) array per label)."""
    proba = model.predict_proba(X)
    if isinstance(proba, list):
        return np.column_stack([p[:, 1] for p in proba])
    return proba


def evaluate(factory, X, Y, cv):
    """Per fold: ROC AUC of each label, micro, macro; and the fit seconds."""
    scores, seconds = [], []
    for train, test in cv.split(X):
        model = factory()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X.iloc[train], Y[train])
        seconds.append(time.perf_counter() - t0)
        proba = label_proba(model, X.iloc[test])
        per_label = roc_auc_score(Y[test], proba, average=None)
        scores.append(
            [
                *per_label,
                roc_auc_score(Y[test], proba, average="micro"),
                roc_auc_score(Y[test], proba, average="macro"),
            ]
        )
    return np.array(scores), float(np.mean(seconds))


def print_table(results):
    columns = [f"label {j} ({LABELS[j]})" for j in range(N_LABELS)]
    columns += ["micro ROC AUC", "macro ROC AUC"]
    best = np.max([scores.mean(axis=0) for scores, _ in results.values()], axis=0)
    print("\n| model | " + " | ".join(columns) + " | fit s/fold |")
    print("| --- | " + " | ".join("---:" for _ in columns) + " | ---: |")
    for label, (scores, seconds) in results.items():
        cells = []
        for j, (mean, sd) in enumerate(zip(scores.mean(0), scores.std(0), strict=True)):
            text = f"{mean:.3f} ± {sd:.3f}"
            cells.append(f"**{text}**" if mean == best[j] else text)
        print(f"| {label} | " + " | ".join(cells) + f" | {seconds:.1f} |")
    print("\n(bold: the best mean in the column)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--n-samples", type=int, default=1000)
    add("--folds", type=int, default=5)
    add("--epochs", type=int, default=20, help="CrossModalClassifier max_epochs")
    add("--threads", type=int, default=1, help="CPU threads (torch, OpenMP, BLAS)")
    add("--quick", action="store_true", help="smoke test: 300 rows, 2 folds")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.folds, args.epochs = 300, 2, 3
    torch.set_num_threads(args.threads)
    print(
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.platform()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"scikit-learn {sklearn.__version__}; torch threads "
        f"{torch.get_num_threads()}, BLAS/OpenMP threads {args.threads}"
    )
    print(
        f"make_clinical_multimodal({args.n_samples}, target='multilabel', "
        f"n_labels={N_LABELS}, image_size={IMAGE_SIZE}, random_state={SEED}); "
        f"{args.folds}-fold shuffled KFold; CrossModalClassifier "
        f"max_epochs={args.epochs}"
    )
    cv = KFold(n_splits=args.folds, shuffle=True, random_state=SEED)
    results = {}
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(args.threads):
        X, Y = make_clinical_multimodal(
            args.n_samples,
            image_dir=tmp,
            image_size=IMAGE_SIZE,
            target="multilabel",
            n_labels=N_LABELS,
            random_state=SEED,
        )
        tabular = [c for c in X.columns if c not in ("note", "xray_path")]
        log(f"{len(X)} rows; label prevalence {np.round(Y.mean(axis=0), 2).tolist()}")
        for label, factory in models(tabular, args.epochs).items():
            scores, seconds = evaluate(factory, X, Y, cv)
            results[label] = (scores, seconds)
            means = " ".join(f"{v:.3f}" for v in scores.mean(axis=0))
            log(f"{label:<30} {means}  fit {seconds:.1f} s/fold")
    print_table(results)
    log(f"total {time.perf_counter() - START:.0f}s wall time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
