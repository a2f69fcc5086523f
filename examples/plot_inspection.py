"""Inspect a fused model: its training curve and how much each modality counts.

Fits the quickstart pipeline (ColumnTransformer + CrossModalClassifier on the
synthetic clinical table: tabular columns, a free-text note, a PNG scan) with
``fusion="gated"`` and early stopping, then

1. draws the training and validation loss per epoch, with the epoch whose
   weights early stopping kept (TrainingCurveDisplay);
2. measures, on held-out rows, how much the ROC AUC drops when each modality
   is shuffled across patients, and draws it (ModalityImportanceDisplay);
3. prints the importance table.

Needs the ``plot`` extra:  pip install "skfusion[plot]"

Run:  python examples/plot_inspection.py [--out DIR]   (under a minute on 2
CPU cores); writes training_curve.png and modality_importance.png to DIR
(default examples/_output/).
"""

import argparse
import sys
import time
from pathlib import Path

import matplotlib
from quickstart import make_model
from sklearn.model_selection import train_test_split

from skfusion.datasets import make_clinical_multimodal
from skfusion.inspection import ModalityImportanceDisplay, TrainingCurveDisplay

N_SAMPLES = 600
SEED = 0
HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "_data" / "inspection_images"


def log(message):
    print(f"[{time.perf_counter() - START:6.1f}s] {message}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "_output",
        help="directory for the PNG files (default: examples/_output/)",
    )
    args = parser.parse_args(argv)
    matplotlib.use("Agg")  # only files are written: no window, no display needed
    args.out.mkdir(parents=True, exist_ok=True)

    X, y = make_clinical_multimodal(N_SAMPLES, image_dir=DATA_DIR, random_state=SEED)
    tabular = [c for c in X.columns if c not in ("note", "xray_path")]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=SEED
    )
    log(f"data: {len(X_train)} training and {len(X_test)} held-out patients")

    # examples/quickstart.py's Pipeline (this folder is on sys.path)
    model = make_model(tabular, fusion="gated", early_stopping=True, max_epochs=40)
    model.fit(X_train, y_train)
    clf = model[-1]
    log(f"fitted: {clf.n_iter_} epochs (early stopping)")

    curve = TrainingCurveDisplay.from_estimator(model, name="gated fusion")
    path = args.out / "training_curve.png"
    curve.figure_.savefig(path, dpi=120, bbox_inches="tight")
    log(f"best validation epoch {curve.best_epoch_}; wrote {path}")

    importance = ModalityImportanceDisplay.from_estimator(
        model, X_test, y_test, scoring="roc_auc", n_repeats=10, random_state=SEED
    )
    path = args.out / "modality_importance.png"
    importance.figure_.savefig(path, dpi=120, bbox_inches="tight")
    log(f"wrote {path}")

    print()
    print(f"held-out ROC AUC: {importance.baseline_score:.3f}")
    print(f"{'modality':<10} {'AUC decrease':>14} {'std':>8}")
    print("-" * 34)
    for i in importance.order_:
        print(
            f"{importance.modalities[i]:<10} "
            f"{importance.importances_mean[i]:>14.3f} "
            f"{importance.importances_std[i]:>8.3f}"
        )
    log("done")
    return 0


if __name__ == "__main__":
    START = time.perf_counter()
    sys.exit(main())
