"""Quality of every fusion of CrossModalClassifier across data regimes.

For each regime (one ``make_clinical_multimodal`` call) every model is a
Pipeline from the raw DataFrame, scored by stratified K-fold ROC AUC:

- each fusion ("concat", "late", "gated", "attention", "low_rank", "film",
  "cross_attention") plain,
  with ``alignment="contrastive"`` and with ``modality_dropout=0.3``
  (``--full-grid``: the full cross of alignment x modality dropout);
- each single modality (tab, note, xray; fusion="concat" on one modality);
- HistGradientBoostingClassifier on the tabular columns.

The images are decoded once per regime: ImageLoader learns nothing in fit,
so its output for all rows is fold-safe and is passed through under the
"xray" name. TextEmbedder and the tabular preprocessing are fitted inside
each fold. A model whose parameters the installed CrossModalClassifier does
not accept gets "n/a"; a model that fails otherwise gets "error".

Run:  python benchmarks/fusion.py [--n-samples 600] [--folds 5]
          [--regimes all interaction ...] [--full-grid] [--quick]
          [--fusions concat film ...] [--plain] [--device cpu] [--threads 1]
--fusions limits the fusions; --plain keeps only the plain fusions and the
HistGradientBoosting baseline (no alignment/dropout variants, no single
modality).
--quick is a smoke test: regimes "all" and "interaction", 2 folds.
"""

import argparse
import datetime
import itertools
import os
import platform
import sys
import tempfile
import time
import traceback

import pandas as pd
import sklearn
import torch
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skfusion import CrossModalClassifier
from skfusion.datasets import make_clinical_multimodal
from skfusion.preprocessing import ImageLoader, TextEmbedder

SEED = 0
IMAGE_SIZE = 32
FUSIONS = (
    "concat",
    "late",
    "gated",
    "attention",
    "low_rank",
    "film",
    "cross_attention",
)
REGIMES = {  # key: (column title, make_clinical_multimodal arguments)
    "all": ("all modalities", {}),
    "interaction": ("interaction", {"signal": "interaction"}),
    "noise": ("noise modality", {"modality_weights": (1, 1, 0)}),
    "no-image": ("30% no image", {"missing_image": 0.3}),
    "no-note": ("30% no note", {"missing_note": 0.3}),
    "both-missing": ("both missing", {"missing_image": 0.3, "missing_note": 0.3}),
}
QUICK_REGIMES = ["all", "interaction"]
START = time.perf_counter()
NUMERIC = make_column_selector(dtype_include="number")
CATEGORICAL = make_column_selector(dtype_exclude="number")


def log(message):
    print(f"[{time.perf_counter() - START:7.1f}s] {message}", flush=True)


def load(n_samples, regime, image_dir):
    """Raw frame + pre-decoded pixel columns (pixel_0_y_x, missing), y, columns."""
    X, y = make_clinical_multimodal(
        n_samples,
        image_dir=image_dir,
        image_size=IMAGE_SIZE,
        random_state=SEED,
        **REGIMES[regime][1],
    )
    loader = ImageLoader(size=IMAGE_SIZE).fit(X[["xray_path"]])
    pixels = pd.DataFrame(
        loader.transform(X[["xray_path"]]),
        columns=loader.get_feature_names_out(),
        index=X.index,
    )
    tabular = [c for c in X.columns if c not in ("note", "xray_path")]
    cols = {"tabular": tabular, "pixels": list(pixels.columns)}
    return pd.concat([X, pixels], axis=1), y, cols


def crossmodal(cols, modalities=("tab", "note", "xray"), **params):
    """ColumnTransformer (one entry per modality) + CrossModalClassifier."""
    numeric = make_pipeline(SimpleImputer(add_indicator=True), StandardScaler())
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    tab = ColumnTransformer([("num", numeric, NUMERIC), ("cat", onehot, CATEGORICAL)])
    parts = {
        "tab": ("tab", tab, cols["tabular"]),
        "note": ("note", TextEmbedder(n_components=32, random_state=SEED), "note"),
        # pre-decoded pixels -> xray__pixel_0_y_x ..., xray__missing
        "xray": ("xray", "passthrough", cols["pixels"]),
    }
    preprocess = ColumnTransformer([parts[m] for m in modalities])
    preprocess.set_output(transform="pandas")
    clf = CrossModalClassifier(
        max_epochs=20, random_state=SEED, device=cols["device"], **params
    )
    return make_pipeline(preprocess, clf)


def hgb(cols):
    """Gradient boosting on the tabular columns (ordinal categories, native NaN)."""
    encode = ColumnTransformer(
        [("cat", OrdinalEncoder(), CATEGORICAL), ("num", "passthrough", NUMERIC)]
    )
    select = ColumnTransformer([("tab", encode, cols["tabular"])])
    return make_pipeline(select, HistGradientBoostingClassifier(random_state=SEED))


def models(full_grid, fusions=FUSIONS, plain=False):
    """Row label -> (factory(cols) -> Pipeline, expected modalities or None)."""
    if plain:
        variants = [(None, 0.0)]
    elif full_grid:
        variants = list(itertools.product([None, "contrastive"], [0.0, 0.3]))
    else:
        variants = [(None, 0.0), ("contrastive", 0.0), (None, 0.3)]
    out = {}
    for fusion, (alignment, mdrop) in itertools.product(fusions, variants):
        label, params = fusion, {"fusion": fusion}  # only non-default params
        if alignment:
            label, params["alignment"] = f"{label} +{alignment}", alignment
        if mdrop:
            label, params["modality_dropout"] = f"{label} +mdrop {mdrop:g}", mdrop
        out[label] = (lambda c, p=params: crossmodal(c, **p), ("tab", "note", "xray"))
    for m in () if plain else ("tab", "note", "xray"):
        out[f"{m} only"] = (lambda c, m=m: crossmodal(c, modalities=(m,)), (m,))
    out["HistGradientBoosting (tab)"] = (hgb, None)
    return out


def check_modalities(estimator, expected):
    """The classifier found the expected modalities, xray as a 1xHxW image."""
    found = estimator[-1].modalities_
    assert list(found) == list(expected), f"modalities {list(found)} != {expected}"
    if "xray" in found:
        xray = found["xray"]
        assert xray.kind == "image" and xray.has_missing, xray
        assert xray.shape == (1, IMAGE_SIZE, IMAGE_SIZE), xray


def evaluate(factory, cols, expected, X, y, cv):
    """Cell text "mean±sd" (or "n/a"/"error"), seconds taken and a note.

    "n/a": the installed CrossModalClassifier lacks a parameter (TypeError
    at construction) or rejects its value (InvalidParameterError in fit).
    """
    t0 = time.perf_counter()
    try:
        model = factory(cols)
    except TypeError as exc:
        return "n/a", 0.0, str(exc)
    try:
        kwargs = dict(scoring="roc_auc", return_estimator=True, error_score="raise")
        result = cross_validate(model, X, y, cv=cv, **kwargs)
    except InvalidParameterError as exc:
        return "n/a", time.perf_counter() - t0, str(exc).splitlines()[0]
    except Exception:  # keep the run going; report the failure
        return "error", time.perf_counter() - t0, traceback.format_exc(limit=3)
    if expected is not None:
        check_modalities(result["estimator"][0], expected)
    scores = result["test_score"]
    return f"{scores.mean():.3f}±{scores.std():.3f}", time.perf_counter() - t0, ""


def print_tables(cells, seconds, titles):
    labels = list(cells)
    width = max(len(label) for label in labels)
    head = [f"{'model':<{width}}", *(f"{t:>15}" for t in titles), f"{'seconds':>8}"]
    print("\n" + "  ".join(head) + "\n" + "-" * len("  ".join(head)))
    for label in labels:
        row = [f"{label:<{width}}", *(f"{c:>15}" for c in cells[label])]
        print("  ".join([*row, f"{seconds[label]:>8.0f}"]))
    print("\nMarkdown:\n")
    print("| model | " + " | ".join(titles) + " | seconds |")
    print("| --- | " + " | ".join("---" for _ in titles) + " | --- |")
    for label in labels:
        print(f"| {label} | " + " | ".join(cells[label]) + f" | {seconds[label]:.0f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--n-samples", type=int, default=600)
    add("--folds", type=int, default=5)
    add("--regimes", nargs="+", choices=list(REGIMES), default=list(REGIMES))
    add("--full-grid", action="store_true", help="alignment x dropout, all 4")
    add("--quick", action="store_true", help="smoke test: 2 regimes, 2 folds")
    add("--fusions", nargs="+", choices=FUSIONS, default=list(FUSIONS))
    add("--plain", action="store_true", help="plain fusions and HGB only")
    add("--device", default="cpu", help="CrossModalClassifier device")
    add("--threads", type=int, default=1, help="CPU threads (torch, OpenMP)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)  # small nets: more threads rarely help
    if args.quick:
        args.regimes, args.folds = QUICK_REGIMES, 2

    print(
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.platform()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"scikit-learn {sklearn.__version__}, device {args.device}, "
        f"{args.threads} thread(s)"
    )
    print(
        f"make_clinical_multimodal(n_samples={args.n_samples}, image_size="
        f"{IMAGE_SIZE}, random_state={SEED}); {args.folds}-fold stratified CV ROC AUC"
    )
    cv = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=SEED)
    grid = models(args.full_grid, args.fusions, args.plain)
    cells = {label: [] for label in grid}
    seconds = dict.fromkeys(grid, 0.0)
    failed = False
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(args.threads):
        for regime in args.regimes:
            X, y, cols = load(args.n_samples, regime, os.path.join(tmp, regime))
            cols["device"] = args.device
            log(f"regime {regime!r}: {X.shape[0]} rows, {y.mean():.0%} positive")
            for label, (factory, expected) in grid.items():
                cell, sec, note = evaluate(factory, cols, expected, X, y, cv)
                cells[label].append(cell)
                seconds[label] += sec
                failed |= cell == "error"
                log(
                    f"  {regime:<12} {label:<30} {cell:>13} {sec:6.1f}s {note}".rstrip()
                )
    print_tables(cells, seconds, [REGIMES[r][0] for r in args.regimes])
    log(f"total {time.perf_counter() - START:.0f}s wall time")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
