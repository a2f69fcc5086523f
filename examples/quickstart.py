"""Quickstart: fuse tabular, free-text and image columns with skfusion.

Generates a synthetic clinical table (numeric and categorical variables with
NaN, a free-text note, a path to a PNG scan; 10% of the notes and of the
scans are missing), then, on the raw DataFrame:

1. scores the one-line default, ModalityVectorizer + CrossModalClassifier,
   and an explicit ColumnTransformer + CrossModalClassifier Pipeline with
   5-fold cross_val_score (ROC AUC);
2. scores each single modality and gradient boosting the same way;
3. runs a small GridSearchCV over a ``crossmodalclassifier__`` parameter;
4. prints a table: the fused model vs each single-modality model vs
   HistGradientBoostingClassifier on the tabular columns;
5. on held-out rows: the expected calibration error before and after
   CalibratedClassifierCV, how much each modality counts
   (modality_importance) and the metrics by which modalities rows have
   (availability_report).

Run:  python examples/quickstart.py   (about 3.5 minutes on 2 idle CPU cores)
"""

import sys
import time
from pathlib import Path

import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from skfusion import CrossModalClassifier
from skfusion.datasets import make_clinical_multimodal
from skfusion.inspection import modality_availability, modality_importance
from skfusion.metrics import availability_report, expected_calibration_error
from skfusion.preprocessing import ImageLoader, ModalityVectorizer, TextEmbedder

N_SAMPLES = 1000
MISSING = 0.1  # share of rows without a note, and without a scan
SEED = 0
DATA_DIR = Path(__file__).resolve().parent / "_data" / "quickstart_images"

NUMERIC = make_column_selector(dtype_include="number")
CATEGORICAL = make_column_selector(dtype_exclude="number")


def tabular_transformer():
    """Impute (with indicators) and scale numbers; one-hot the categories."""
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()),
                NUMERIC,
            ),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                CATEGORICAL,
            ),
        ]
    )


def make_model(tabular_columns, modalities=("tab", "note", "xray"), **params):
    """A Pipeline from the raw DataFrame to a CrossModalClassifier.

    Each modality is one ColumnTransformer entry; its name becomes the
    ``name__`` prefix by which the classifier groups columns into modalities.
    """
    parts = {
        "tab": ("tab", tabular_transformer(), tabular_columns),
        "note": ("note", TextEmbedder(n_components=32, random_state=SEED), "note"),
        "xray": ("xray", ImageLoader(size=32), "xray_path"),
    }
    preprocess = ColumnTransformer([parts[m] for m in modalities])
    preprocess.set_output(transform="pandas")
    # Images learn more slowly than text and numbers: 20 epochs at a constant
    # learning rate instead of the default 10 with a cosine decay, which the
    # real-data benchmarks chose for text tables (benchmarks/README.md).
    # progress=True: a bar per fit on stderr, so a long run shows life.
    defaults = dict(
        max_epochs=20, lr_schedule="constant", random_state=SEED, progress=True
    )
    return make_pipeline(preprocess, CrossModalClassifier(**{**defaults, **params}))


def hgb_baseline(tabular_columns):
    """Gradient boosting on the tabular columns (native NaN handling)."""
    encode = ColumnTransformer(
        [
            ("cat", OrdinalEncoder(), CATEGORICAL),
            ("num", "passthrough", NUMERIC),
        ]
    )
    select = ColumnTransformer([("tab", encode, tabular_columns)])
    return make_pipeline(select, HistGradientBoostingClassifier(random_state=SEED))


def log(message):
    print(f"[{time.perf_counter() - START:6.1f}s] {message}", flush=True)


def main():
    X, y = make_clinical_multimodal(
        N_SAMPLES,
        image_dir=DATA_DIR,
        missing_note=MISSING,
        missing_image=MISSING,
        random_state=SEED,
    )
    tabular = [c for c in X.columns if c not in ("note", "xray_path")]
    log(
        f"data: {X.shape[0]} patients, {len(tabular)} tabular columns, a note "
        f"and a {DATA_DIR.name}/ PNG per row ({MISSING:.0%} of each missing); "
        f"{y.mean():.0%} positive"
    )
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)

    rows = []

    def evaluate(label, model):
        t0 = time.perf_counter()
        scores = cross_val_score(model, X, y, cv=cv, scoring="roc_auc")
        rows.append((label, scores.mean(), scores.std(), time.perf_counter() - t0))
        log(f"{label:<34} ROC AUC {scores.mean():.3f} +- {scores.std():.3f}")

    evaluate("fused (tab + note + xray)", make_model(tabular))
    for modality in ("tab", "note", "xray"):
        evaluate(f"{modality} only", make_model(tabular, modalities=(modality,)))
    evaluate("HistGradientBoosting (tab only)", hgb_baseline(tabular))
    evaluate(
        "one line (ModalityVectorizer)",
        make_pipeline(
            ModalityVectorizer(random_state=SEED),
            CrossModalClassifier(random_state=SEED, progress=True),
        ),
    )

    log("GridSearchCV over crossmodalclassifier__latent_dim and __lr (3-fold)")
    search = GridSearchCV(
        make_model(tabular),
        {
            "crossmodalclassifier__latent_dim": [16, 32],
            "crossmodalclassifier__lr": [1e-3, 3e-3],
        },
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=SEED),
        scoring="roc_auc",
    ).fit(X, y)
    log(f"best {search.best_params_} ROC AUC {search.best_score_:.3f}")

    print()
    print(f"{'model':<34} {'ROC AUC (5-fold)':>18} {'seconds':>8}")
    print("-" * 62)
    for label, mean, sd, seconds in rows:
        print(f"{label:<34} {mean:>10.3f} +- {sd:.3f} {seconds:>8.1f}")
    print("-" * 62)
    best_single = max(mean for label, mean, _, _ in rows[1:4])
    print(f"fused minus best single-modality model: {rows[0][1] - best_single:+.3f}")
    print()
    held_out(X, y, tabular)
    log("done")
    return 0


def held_out(X, y, tabular):
    """Calibration, modality importance and availability on held-out rows."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=SEED
    )
    model = make_model(tabular).fit(X_train, y_train)
    calibrated = CalibratedClassifierCV(make_model(tabular), cv=5, method="sigmoid")
    calibrated.fit(X_train, y_train)
    proba = model.predict_proba(X_test)[:, 1]
    proba_cal = calibrated.predict_proba(X_test)[:, 1]
    log(f"held-out rows: {len(y_test)}; ROC AUC {roc_auc_score(y_test, proba):.3f}")
    print()
    print(f"{'held-out':<34} {'ROC AUC':>8} {'ECE':>8}")
    print("-" * 52)
    for label, p in (("fused", proba), ("fused + CalibratedClassifierCV", proba_cal)):
        auc, ece = roc_auc_score(y_test, p), expected_calibration_error(y_test, p)
        print(f"{label:<34} {auc:>8.3f} {ece:>8.3f}")

    importance = {
        strategy: modality_importance(
            model,
            X_test,
            y_test,
            scoring="roc_auc",
            n_repeats=10,
            strategy=strategy,
            random_state=SEED,
            verbose=1,
        )
        for strategy in ("permute", "mask")
    }
    print()
    print("ROC AUC drop per modality (held-out; permute: 10 shuffles, mask: absent)")
    print(f"{'modality':<10} {'permute':>16} {'mask':>8}")
    print("-" * 36)
    permute, mask = importance["permute"], importance["mask"]
    for i, name in enumerate(permute.modalities):
        mean, sd = permute.importances_mean[i], permute.importances_std[i]
        print(f"{name:<10} {mean:>8.3f} +- {sd:.3f} {mask.importances_mean[i]:>8.3f}")

    report = availability_report(
        y_test,
        model.predict_proba(X_test),
        modality_availability(model, X_test),
        labels=model.classes_,
    )
    print()
    print("held-out metrics by available modalities")
    with pd.option_context(
        "display.width", 120, "display.max_columns", None, "display.precision", 3
    ):
        print(report)


if __name__ == "__main__":
    START = time.perf_counter()
    sys.exit(main())
