"""Conformal coverage and set size per availability pattern: pooled vs Mondrian.

Data: make_clinical_multimodal, 6000 rows (seed 0), 16-pixel scans, 30% of
the scans and 10% of the notes missing (four availability patterns). One
Pipeline (ColumnTransformer + CrossModalClassifier, 10 epochs, one torch
thread) is fitted on rows [0, 2000). The other 4000 rows are split at random
into 2000 calibration and 2000 test rows, 5 times (seeds 0-4); each split
calibrates ConformalClassifier(cv="prefit", confidence_level=0.9) with
groups=None (pooled) and groups="availability" (Mondrian), for the LAC and
APS scores. The table reports, per availability pattern, the test rows, the
coverage and the mean set size, averaged over the 5 splits.

Two scenarios: "as generated" (calibration and test rows drawn like the
training rows) and "shifted": after training, 40% of the labels of the rows
without a scan are flipped in the calibration and test rows (rows without a
scan harder in deployment than in training).

Run:  python benchmarks/conformal.py   (about 2 minutes on 2 CPU cores)
"""

import tempfile
import time

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfusion import CrossModalClassifier
from skfusion.conformal import ConformalClassifier
from skfusion.datasets import make_clinical_multimodal
from skfusion.inspection import modality_availability
from skfusion.preprocessing import ImageLoader, TextEmbedder

N_ROWS, N_TRAIN, N_CAL, N_SPLITS = 6000, 2000, 2000, 5
LEVEL = 0.9
FLIP = 0.4


def make_model(tabular):
    numeric = make_column_selector(dtype_include="number")
    categorical = make_column_selector(dtype_exclude="number")
    tab = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()),
                numeric,
            ),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                categorical,
            ),
        ]
    )
    preprocess = ColumnTransformer(
        [
            ("tab", tab, tabular),
            ("note", TextEmbedder(n_components=32, random_state=0), "note"),
            ("xray", ImageLoader(size=16), "xray_path"),
        ]
    )
    preprocess.set_output(transform="pandas")
    net = CrossModalClassifier(
        max_epochs=10, lr=3e-3, lr_schedule="constant", n_threads=1, random_state=0
    )
    return make_pipeline(preprocess, net)


def pattern_names(present):
    cols = np.asarray(present.columns)
    return np.array([" + ".join(cols[row]) for row in present.to_numpy()], dtype=object)


def evaluate(model, X, y, patterns, method, groups, seed):
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(y))
    cal, test = order[:N_CAL], order[N_CAL:]
    conf = ConformalClassifier(
        model, confidence_level=LEVEL, groups=groups, cv="prefit", method=method
    )
    conf.fit(X.iloc[cal], y[cal])
    sets = conf.predict_set(X.iloc[test])
    covered = sets[np.arange(len(test)), np.searchsorted(conf.classes_, y[test])]
    rows = []
    for name in ["all rows", *sorted(set(patterns), key=lambda p: -len(p))]:
        mask = (
            np.ones(len(test), bool) if name == "all rows" else patterns[test] == name
        )
        rows.append(
            dict(
                pattern=name,
                n_test=int(mask.sum()),
                coverage=covered[mask].mean(),
                size=sets[mask].sum(axis=1).mean(),
            )
        )
    return rows


def table(model, X, y, patterns):
    results = []
    for method in ("lac", "aps"):
        for label, groups in (("pooled", None), ("Mondrian", "availability")):
            for seed in range(N_SPLITS):
                for row in evaluate(model, X, y, patterns, method, groups, seed):
                    results.append(dict(method=method, groups=label, **row))
    frame = pd.DataFrame(results)
    mean = frame.groupby(["method", "pattern", "groups"], sort=False).mean()
    wide = mean.unstack("groups")
    lines = [
        "| score | pattern | test rows | pooled coverage | Mondrian coverage "
        "| pooled set size | Mondrian set size |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (method, pattern), row in wide.iterrows():
        cov, size = row["coverage"], row["size"]
        lines.append(
            f"| {method.upper()} | {pattern} | {row[('n_test', 'pooled')]:.0f} "
            f"| {cov['pooled']:.3f} | {cov['Mondrian']:.3f} "
            f"| {size['pooled']:.2f} | {size['Mondrian']:.2f} |"
        )
    return "\n".join(lines)


def main():
    torch.set_num_threads(1)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        X, y = make_clinical_multimodal(
            N_ROWS,
            image_dir=tmp,
            image_size=16,
            missing_image=0.3,
            missing_note=0.1,
            random_state=0,
        )
        tabular = [c for c in X.columns if c not in ("note", "xray_path")]
        model = make_model(tabular).fit(X.iloc[:N_TRAIN], y[:N_TRAIN])
        model = FrozenEstimator(model)
        X_new, y_new = X.iloc[N_TRAIN:], y[N_TRAIN:]
        patterns = pattern_names(modality_availability(model.estimator, X_new))
        print(
            f"{N_ROWS} rows, trained on {N_TRAIN}, {N_SPLITS} random splits of the "
            f"other {len(y_new)} into {N_CAL} calibration / {len(y_new) - N_CAL} test; "
            f"confidence {LEVEL}; torch threads {torch.get_num_threads()}\n"
        )
        print("### As generated\n")
        print(table(model, X_new, y_new, patterns))
        shifted = y_new.copy()
        flip = (patterns == "tab + note") | (patterns == "tab")
        flip &= np.random.RandomState(0).rand(len(y_new)) < FLIP
        shifted[flip] = 1 - shifted[flip]
        print(
            f"\n### Shifted: {FLIP:.0%} of the labels of rows without a scan flipped\n"
        )
        print(table(model, X_new, shifted, patterns))
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
