"""Vital-sign time series: skfusion with a sequence modality against two
baselines.

Data: ``make_clinical_multimodal(n, vitals=True, image_size=8)``: the
synthetic clinical table plus a ``vitals`` column (heart rate, systolic BP
and SpO2 hourly over 24-48 hours, about 10% of the values and some 3-6 hour
blocks unmeasured) whose *trend* depends on the latent ``s_vitals``; the
label is ``1[s_tab + s_text + s_img + s_vitals + 0.5 eps > 0]``. The note
and the scan are left out of every model (to keep the run short), so no
model can reach the label's ceiling; the comparison is about reading the
table and the series.

- ``skfusion tab + vitals (gru)`` / ``(transformer)``: ``CrossModalClassifier``
  on the table (imputed, standardised numbers with missing indicators,
  one-hot categories) and ``TimeSeriesLoader(n_steps=24)`` (values + mask),
  ``sequence_encoder="gru"`` or ``"transformer"``;
- ``skfusion tab only``: the same classifier on the table alone;
- ``HGB table + summaries``: ``HistGradientBoostingClassifier`` on the
  table plus hand-made features of each channel of the series: mean, min,
  max and least-squares slope over the measured hours.

Protocol: stratified 5-fold CV, the same folds for every model; ROC AUC
mean ± sd over the folds and the mean seconds of ``fit`` per fold
(preprocessing included). torch and every BLAS/OpenMP pool are held to
1 thread.

Run:  python benchmarks/timeseries.py [--n-samples 1000] [--folds 5]
          [--epochs 30] [--quick]
"""

import argparse
import datetime
import platform
import tempfile
import time

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from skfusion import CrossModalClassifier
from skfusion.datasets import make_clinical_multimodal
from skfusion.preprocessing import TimeSeriesLoader, make_modality_transformer

NUMERIC = make_column_selector(dtype_include="number")
CATEGORIES = ["sex", "smoker"]


def table_step():
    numbers = make_pipeline(
        SimpleImputer(add_indicator=True, keep_empty_features=True), StandardScaler()
    )
    return ColumnTransformer(
        [
            ("num", numbers, NUMERIC),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                CATEGORIES,
            ),
        ],
        sparse_threshold=0,
    )


class SeriesSummaries(TransformerMixin, BaseEstimator):
    """Mean, min, max and slope (per hour) of each channel, NaN-aware."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        rows = []
        for s in pd.Series(np.asarray(X, dtype=object).ravel()):
            feats = []
            for c in range(s.shape[1]):
                ok = ~np.isnan(s[:, c])
                t, v = np.flatnonzero(ok), s[ok, c]
                slope = np.polyfit(t, v, 1)[0] if ok.sum() >= 2 else np.nan
                feats += [v.mean(), v.min(), v.max(), slope]
            rows.append(feats)
        return np.asarray(rows)


def models(epochs):
    net = dict(max_epochs=epochs, lr=3e-3, latent_dim=32, n_threads=1, random_state=0)
    table_cols = [*CATEGORIES, *NUMERIC_NAMES]
    fused = {
        f"skfusion tab + vitals ({kind})": make_pipeline(
            make_modality_transformer(
                ("tab", table_step(), table_cols),
                ("vitals", TimeSeriesLoader(n_steps=24), "vitals"),
            ),
            CrossModalClassifier(sequence_encoder=kind, **net),
        )
        for kind in ("gru", "transformer")
    }
    tab_only = make_pipeline(
        make_modality_transformer(("tab", table_step(), table_cols)),
        CrossModalClassifier(**net),
    )
    hgb = make_pipeline(
        ColumnTransformer(
            [
                ("tab", table_step(), table_cols),
                ("vitals", SeriesSummaries(), ["vitals"]),
            ]
        ),
        HistGradientBoostingClassifier(random_state=0),
    )
    return {
        **fused,
        "skfusion tab only": tab_only,
        "HGB table + summaries": hgb,
    }


NUMERIC_NAMES = [
    "age", "systolic_bp", "creatinine", "crp", "hemoglobin",
    "heart_rate", "bmi", "glucose", "sodium", "albumin",
]  # fmt: skip


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n_samples, args.folds, args.epochs = 300, 2, 3
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        X, y = make_clinical_multimodal(
            args.n_samples, image_dir=tmp, image_size=8, vitals=True, random_state=0
        )
        X = X.drop(columns=["note", "xray_path"])
        folds = list(
            StratifiedKFold(args.folds, shuffle=True, random_state=0).split(X, y)
        )
        print(
            f"{datetime.date.today()} {platform.machine()} "
            f"torch {torch.__version__}, 1 thread, n={args.n_samples}, "
            f"{args.folds} folds, {args.epochs} epochs"
        )
        print("| model | ROC AUC | fit s / fold |\n| --- | --- | --- |")
        for name, model in models(args.epochs).items():
            aucs, secs = [], []
            for train, test in folds:
                start = time.perf_counter()
                model.fit(X.iloc[train], y[train])
                secs.append(time.perf_counter() - start)
                proba = model.predict_proba(X.iloc[test])[:, 1]
                aucs.append(roc_auc_score(y[test], proba))
            print(
                f"| {name} | {np.mean(aucs):.3f} ± {np.std(aucs):.3f} "
                f"| {np.mean(secs):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
