"""CrossModalSurvival against scikit-survival's models on public clinical data.

Datasets: scikit-survival's bundled tables (whas500, gbsg2, veterans'
lung cancer, flchain, aids) with one "clinical" modality, breast_cancer
with two real modalities ("clinical": age, er, grade, size; "genes": 76
gene-expression features), and skfusion's generator with a survival target
(tabular, note, image). Every model sees the same features: the output of
one ``make_modality_transformer`` (numbers imputed and scaled, categories
one-hot; the generator's note as TF-IDF + SVD, its image as pixels), fitted
inside each fold.

Models: CrossModalSurvival with its defaults (``loss="cox"``) and with
``loss="discrete"``; CoxPHSurvivalAnalysis (ridge alpha=0.01),
CoxnetSurvivalAnalysis (elastic net, l1_ratio=0.5, its smallest alpha),
RandomSurvivalForest (100 trees, min_samples_leaf=10) and
GradientBoostingSurvivalAnalysis (100 trees, depth 3).

Metrics: 5-fold (stratified on the event) Harrell's C on the held-out rows,
the integrated Brier score on 15 times between the 10th and 80th
percentiles of the held-out times (inside both follow-ups; held-out rows
past the training follow-up are left out of it), and fit
seconds. torch uses 1 thread (n_threads="auto" picks 1 for these small
networks) and every scikit-survival model runs single-threaded. On
breast_cancer and the generator, modality_importance (C-index drop when a
modality is permuted, 5 repeats) on each held-out fold.

Run:  python benchmarks/survival.py [--datasets whas500,gbsg2,...] [--quick]
"""

import argparse
import datetime
import os
import platform
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sksurv import datasets as sd
from sksurv.ensemble import GradientBoostingSurvivalAnalysis, RandomSurvivalForest
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_censored, integrated_brier_score

from skfusion import CrossModalSurvival, make_modality_transformer
from skfusion.datasets import make_clinical_multimodal
from skfusion.inspection import modality_importance
from skfusion.preprocessing import ImageLoader, TextEmbedder

SEED = 0
BREAST_CLINICAL = ["age", "er", "grade", "size"]


def tabular():
    """Numbers: median imputation + scaling; categories: one-hot."""
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                make_column_selector(dtype_include="number"),
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                make_column_selector(dtype_exclude="number"),
            ),
        ]
    )


def load(name, n_generated):
    """(X, y, preprocess, modalities) for one dataset."""
    if name == "generator":
        folder = tempfile.mkdtemp(prefix="skfusion-survival-")
        X, y = make_clinical_multimodal(
            n_generated, image_dir=folder, image_size=16, target="survival",
            missing_note=0.1, missing_image=0.1, random_state=SEED,
        )
        tab = [c for c in X.columns if c not in ("note", "xray_path")]
        preprocess = make_modality_transformer(
            ("tab", tabular(), tab),
            ("note", TextEmbedder(n_components=32, random_state=SEED), "note"),
            ("xray", ImageLoader(size=16), "xray_path"),
        )
        return X, y, preprocess, ["tab", "note", "xray"]
    loader = {
        "whas500": sd.load_whas500,
        "gbsg2": sd.load_gbsg2,
        "veterans": sd.load_veterans_lung_cancer,
        "flchain": sd.load_flchain,
        "aids": sd.load_aids,
        "breast_cancer": sd.load_breast_cancer,
    }[name]
    X, y = loader()
    event, duration = y.dtype.names
    y = np.array(
        list(zip(y[event], y[duration], strict=True)),
        dtype=[("event", "?"), ("time", "<f8")],
    )
    X = X.astype({c: object for c in X.select_dtypes("category").columns})
    if name == "breast_cancer":
        genes = [c for c in X.columns if c not in BREAST_CLINICAL]
        preprocess = make_modality_transformer(
            ("clinical", tabular(), BREAST_CLINICAL),
            ("genes", StandardScaler(), genes),
        )
        return X, y, preprocess, ["clinical", "genes"]
    preprocess = make_modality_transformer(("clinical", tabular(), list(X.columns)))
    return X, y, preprocess, ["clinical"]


def models():
    return {
        "skfusion cox (default)": CrossModalSurvival(random_state=SEED),
        "skfusion discrete": CrossModalSurvival(loss="discrete", random_state=SEED),
        "CoxPH (ridge 0.01)": CoxPHSurvivalAnalysis(alpha=0.01, ties="breslow"),
        "Coxnet (l1_ratio 0.5)": CoxnetSurvivalAnalysis(
            l1_ratio=0.5, alpha_min_ratio=0.01, fit_baseline_model=True
        ),
        "RSF": RandomSurvivalForest(
            n_estimators=100, min_samples_leaf=10, random_state=SEED, n_jobs=1
        ),
        "GBSA": GradientBoostingSurvivalAnalysis(
            n_estimators=100, max_depth=3, random_state=SEED
        ),
    }


def brier_times(y_train, y_test):
    """15 times inside both follow-ups, 10th to 80th percentile of the test."""
    low = max(y_train["time"].min(), y_test["time"].min())
    high = min(y_train["time"].max(), y_test["time"].max())
    times = np.percentile(y_test["time"], np.linspace(10, 80, 15))
    times = np.unique(times[(times > low) & (times < high)])
    return times


def evaluate(name, X, y, preprocess, modalities, folds, importance):
    rows, drops = [], {m: [] for m in modalities}
    splitter = StratifiedKFold(folds, shuffle=True, random_state=SEED)
    for label, model in models().items():
        c_index, ibs, seconds = [], [], []
        for train, test in splitter.split(X, y["event"]):
            pipe = make_pipeline(clone(preprocess), clone(model))
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipe.fit(X.iloc[train], y[train])
            seconds.append(time.perf_counter() - start)
            X_test, y_test = X.iloc[test], y[test]
            risk = pipe.predict(X_test)
            finite = np.isfinite(risk).all()  # CoxPH diverges on 80 columns
            c_index.append(
                concordance_index_censored(y_test["event"], y_test["time"], risk)[0]
                if finite
                else np.nan
            )
            # the censoring distribution is estimated on the training rows:
            # held-out rows beyond their follow-up are left out of the IBS
            inside = y_test["time"] < y[train]["time"].max()
            times = brier_times(y[train], y_test[inside])
            surv = pipe.predict_survival_function(X_test[inside])
            estimate = np.vstack([fn(times) for fn in surv])
            ibs.append(
                integrated_brier_score(y[train], y_test[inside], estimate, times)
                if np.isfinite(estimate).all()
                else np.nan
            )
            if importance and label.startswith("skfusion cox"):
                result = modality_importance(
                    pipe, X_test, y_test, n_repeats=5, random_state=SEED
                )
                for m, value in zip(
                    result.modalities, result.importances_mean, strict=True
                ):
                    drops[m].append(value)
        rows.append(
            {
                "dataset": name,
                "model": label,
                "C-index": f"{np.mean(c_index):.3f} ± {np.std(c_index):.3f}",
                "c_mean": np.mean(c_index),
                "IBS": f"{np.mean(ibs):.3f}",
                "fit s": f"{np.mean(seconds):.2f}",
            }
        )
        print(f"  {name} {label}: C {np.mean(c_index):.3f} IBS {np.mean(ibs):.3f} "
              f"fit {np.mean(seconds):.2f}s", flush=True)
    return rows, {m: (np.mean(v), np.std(v)) for m, v in drops.items() if v}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        default="whas500,gbsg2,veterans,aids,flchain,breast_cancer,generator",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--generated-rows", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="2 folds, 400 rows")
    args = parser.parse_args()
    if args.quick:
        args.folds, args.generated_rows = 2, 400
    torch.set_num_threads(1)
    all_rows, importances = [], {}
    for name in args.datasets.split(","):
        X, y, preprocess, modalities = load(name, args.generated_rows)
        print(f"{name}: {len(X)} rows, {y['event'].mean():.0%} events", flush=True)
        rows, drops = evaluate(
            name, X, y, preprocess, modalities, args.folds, len(modalities) > 1
        )
        all_rows += rows
        if drops:
            importances[name] = drops
    print(
        f"\n# survival, {datetime.date.today()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, 1 torch thread; "
        f"{args.folds}-fold stratified CV\n"
    )
    frame = pd.DataFrame(all_rows)
    best = frame[~frame.model.str.startswith("skfusion")].groupby("dataset").c_mean
    print(frame.drop(columns="c_mean").to_markdown(index=False))
    print("\n| dataset | skfusion cox C | best baseline C | difference |")
    print("| --- | --- | --- | --- |")
    for name, group in frame.groupby("dataset", sort=False):
        ours = group[group.model == "skfusion cox (default)"].c_mean.iloc[0]
        print(f"| {name} | {ours:.3f} | {best.max()[name]:.3f} "
              f"({group.loc[best.idxmax()[name], 'model']}) | "
              f"{ours - best.max()[name]:+.3f} |")
    for name, drops in importances.items():
        print(f"\n{name}: C-index drop when a modality is permuted (skfusion cox)")
        for m, (mean, spread) in drops.items():
            print(f"  {m:<10} {mean:.3f} ± {spread:.3f}")


if __name__ == "__main__":
    main()
