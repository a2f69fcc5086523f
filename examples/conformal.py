"""Conformal prediction sets and intervals around a skfusion Pipeline.

On a synthetic clinical table (a third of the scans missing), a Pipeline
from the raw DataFrame to a CrossModalClassifier / CrossModalRegressor is
wrapped, unchanged, by:

1. skfusion.conformal: ConformalClassifier (prediction sets) and
   ConformalRegressor (intervals), pooled and per availability pattern
   (Mondrian: rows without a scan get their own threshold);
2. MAPIE >= 1: SplitConformalClassifier / CrossConformalClassifier and
   SplitConformalRegressor / CrossConformalRegressor;
3. crepes: WrapClassifier (with the availability pattern as Mondrian
   category) and WrapRegressor.

Each prints the coverage on held-out rows (share of rows whose set or
interval holds the truth; the target is 0.9) and the mean set size or
interval width, overall and per availability pattern.

Needs the extra "conformal" for MAPIE and crepes:
``pip install "skfusion[conformal]"`` (the skfusion.conformal part runs
without it).

Run:  python examples/conformal.py   (about 1 minute on 2 CPU cores)
"""

import tempfile

import numpy as np
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfusion import CrossModalClassifier, CrossModalRegressor
from skfusion.conformal import ConformalClassifier, ConformalRegressor
from skfusion.datasets import make_clinical_multimodal
from skfusion.inspection import modality_availability
from skfusion.preprocessing import ImageLoader, TextEmbedder

LEVEL = 0.9
SEED = 0


def make_model(tabular, estimator=CrossModalClassifier):
    """The quickstart's Pipeline: one ColumnTransformer entry per modality."""
    tab = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()),
                make_column_selector(dtype_include="number"),
            ),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                make_column_selector(dtype_exclude="number"),
            ),
        ]
    )
    preprocess = ColumnTransformer(
        [
            ("tab", tab, tabular),
            ("note", TextEmbedder(n_components=32, random_state=SEED), "note"),
            ("xray", ImageLoader(size=16), "xray_path"),
        ]
    )
    preprocess.set_output(transform="pandas")
    net = estimator(max_epochs=10, lr=3e-3, n_threads=1, random_state=SEED)
    return make_pipeline(preprocess, net)


def report(label, covered, size, has_scan):
    """One line: coverage and mean size, all rows / with a scan / without."""
    parts = [f"{label:<44}"]
    for name, rows in (
        ("all", slice(None)),
        ("scan", has_scan),
        ("no scan", ~has_scan),
    ):
        parts.append(f"{name}: {covered[rows].mean():.3f} ({size[rows].mean():.2f})")
    print("  ".join(parts))


def covered_by(sets, classes, y):
    return sets[np.arange(len(y)), np.searchsorted(classes, y)]


def in_interval(bounds, y):
    return (bounds[:, 0] <= y) & (y <= bounds[:, 1])


def main():
    with tempfile.TemporaryDirectory() as tmp:
        X, y, latent = make_clinical_multimodal(
            4000,
            image_dir=tmp,
            image_size=16,
            missing_image=0.3,
            return_latent=True,
            random_state=SEED,
        )
        # a continuous target for the regressors: the three latent risks
        noise = np.random.RandomState(SEED).standard_normal(len(y))
        y_reg = latent.sum(axis=1).to_numpy() + 0.5 * noise
        tabular = [c for c in X.columns if c not in ("note", "xray_path")]
        train, cal, test = slice(0, 1500), slice(1500, 2500), slice(2500, None)
        model = make_model(tabular).fit(X[train], y[train])
        has_scan = modality_availability(model, X[test])["xray"].to_numpy()
        print(f"coverage (mean set size / interval width), target {LEVEL}\n")
        print("classification sets")

        # 1. skfusion.conformal: pooled, then one threshold per pattern
        for groups in (None, "availability"):
            conf = ConformalClassifier(
                FrozenEstimator(model), LEVEL, groups=groups, cv="prefit"
            )
            conf.fit(X[cal], y[cal])
            sets = conf.predict_set(X[test])
            covered = covered_by(sets, conf.classes_, y[test])
            report(
                f"ConformalClassifier groups={groups!r}", covered, sets.sum(1), has_scan
            )
        conf = ConformalClassifier(make_model(tabular), LEVEL, cv=3, random_state=SEED)
        conf.fit(X[:2500], y[:2500])  # cross-conformal: 3 models, every row calibrates
        sets = conf.predict_set(X[test])
        covered = covered_by(sets, conf.classes_, y[test])
        report(
            "ConformalClassifier cv=3 (cross-conformal)", covered, sets.sum(1), has_scan
        )

        mapie_classification(model, tabular, X, y, (train, cal, test), has_scan)
        crepes_classification(model, X, y, (cal, test), has_scan)

        print("\nregression intervals")
        regressor = make_model(tabular, CrossModalRegressor).fit(X[train], y_reg[train])
        conf = ConformalRegressor(FrozenEstimator(regressor), LEVEL, cv="prefit")
        bounds = conf.fit(X[cal], y_reg[cal]).predict_interval(X[test])
        width = bounds[:, 1] - bounds[:, 0]
        report(
            "ConformalRegressor (Mondrian)",
            in_interval(bounds, y_reg[test]),
            width,
            has_scan,
        )
        mapie_regression(regressor, tabular, X, y_reg, (cal, test), has_scan)
        crepes_regression(regressor, X, y_reg, (cal, test), has_scan)


def mapie_classification(model, tabular, X, y, parts, has_scan):
    try:
        from mapie.classification import (
            CrossConformalClassifier,
            SplitConformalClassifier,
        )
    except ImportError:
        print("MAPIE is not installed: pip install 'skfusion[conformal]'")
        return
    _, cal, test = parts
    split = SplitConformalClassifier(model, confidence_level=LEVEL, prefit=True)
    _, sets = split.conformalize(X[cal], y[cal]).predict_set(X[test])
    sets = sets[:, :, 0]
    covered = covered_by(sets, model.classes_, y[test])
    report("MAPIE SplitConformalClassifier (LAC)", covered, sets.sum(1), has_scan)
    cross = CrossConformalClassifier(
        make_model(tabular), confidence_level=LEVEL, cv=3, random_state=SEED
    )
    _, sets = cross.fit_conformalize(X[:2500], y[:2500]).predict_set(X[test])
    sets = sets[:, :, 0]
    covered = covered_by(sets, model.classes_, y[test])
    report("MAPIE CrossConformalClassifier cv=3", covered, sets.sum(1), has_scan)


def crepes_classification(model, X, y, parts, has_scan):
    try:
        from crepes import WrapClassifier
    except ImportError:
        print("crepes is not installed: pip install 'skfusion[conformal]'")
        return
    cal, test = parts

    def pattern(X):  # Mondrian category: the row has a scan or not
        return modality_availability(model, X)["xray"].to_numpy().astype(int)

    wrapped = WrapClassifier(model)  # already fitted: calibrate only
    wrapped.calibrate(X[cal], y[cal], mc=pattern)
    sets = wrapped.predict_set(X[test], labels=False, confidence=LEVEL, smoothing=False)
    covered = covered_by(sets.astype(bool), model.classes_, y[test])
    report("crepes WrapClassifier, Mondrian by scan", covered, sets.sum(1), has_scan)


def mapie_regression(regressor, tabular, X, y, parts, has_scan):
    try:
        from mapie.regression import CrossConformalRegressor, SplitConformalRegressor
    except ImportError:
        return
    cal, test = parts
    split = SplitConformalRegressor(regressor, confidence_level=LEVEL, prefit=True)
    _, bounds = split.conformalize(X[cal], y[cal]).predict_interval(X[test])
    bounds = bounds[:, :, 0]
    report(
        "MAPIE SplitConformalRegressor",
        in_interval(bounds, y[test]),
        bounds[:, 1] - bounds[:, 0],
        has_scan,
    )
    cross = CrossConformalRegressor(
        make_model(tabular, CrossModalRegressor),
        confidence_level=LEVEL,
        cv=3,
        random_state=SEED,
    )
    _, bounds = cross.fit_conformalize(X[:2500], y[:2500]).predict_interval(X[test])
    bounds = bounds[:, :, 0]
    report(
        "MAPIE CrossConformalRegressor (CV+)",
        in_interval(bounds, y[test]),
        bounds[:, 1] - bounds[:, 0],
        has_scan,
    )


def crepes_regression(regressor, X, y, parts, has_scan):
    try:
        from crepes import WrapRegressor
    except ImportError:
        return
    cal, test = parts
    wrapped = WrapRegressor(regressor)
    wrapped.calibrate(X[cal], y[cal])
    bounds = wrapped.predict_int(X[test], confidence=LEVEL)
    report(
        "crepes WrapRegressor",
        in_interval(bounds, y[test]),
        bounds[:, 1] - bounds[:, 0],
        has_scan,
    )


if __name__ == "__main__":
    main()
