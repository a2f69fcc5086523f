"""modality_importance against permuting the raw columns through the Pipeline.

The quickstart Pipeline (ColumnTransformer: tabular, TextEmbedder on the
note, ImageLoader on PNG paths -> CrossModalClassifier) is fitted once on
the synthetic clinical table; then, on N held-out rows, the ROC AUC drop of
each modality over R shuffles is measured two ways:

- baseline "raw": what one writes with scikit-learn alone: shuffle the raw
  DataFrame columns of a modality (the numeric and categorical columns, the
  note, the image path) and score the whole Pipeline, which re-embeds the
  notes and re-decodes every image for every shuffle;
- skfusion.inspection.modality_importance: the preprocessing runs once and
  the modality's block of columns is shuffled at the estimator's input.

Both use the same permutations, so their drops must agree (the preprocessing
is row-wise); the table prints the largest difference and the speed-up.

Run:  python benchmarks/inspection.py [--rows 600] [--repeats 5] [--threads N]
"""

import argparse
import datetime
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from quickstart import make_model

from skfusion.datasets import make_clinical_multimodal
from skfusion.inspection import modality_importance


def raw_importance(pipe, X, y, groups, n_repeats, seed):
    """Per-modality drops by shuffling raw columns and re-running the Pipeline
    (the permutations modality_importance draws: one RandomState, modalities
    in order, n_repeats each)."""
    rng = np.random.RandomState(seed)
    base = roc_auc_score(y, pipe.predict_proba(X)[:, 1])
    drops = np.zeros((len(groups), n_repeats))
    for i, columns in enumerate(groups):
        for r in range(n_repeats):
            perm = rng.permutation(len(X))
            shuffled = X.copy()
            shuffled[columns] = X[columns].iloc[perm].to_numpy()
            drops[i, r] = base - roc_auc_score(y, pipe.predict_proba(shuffled)[:, 1])
    return drops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600, help="held-out rows")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        X, y = make_clinical_multimodal(
            2 * args.rows, image_dir=Path(tmp), image_size=64, random_state=0
        )
        tabular = [c for c in X.columns if c not in ("note", "xray_path")]
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=args.rows, stratify=y, random_state=0
        )
        pipe = make_model(tabular, max_epochs=5).fit(X_train, y_train)
        groups = [tabular, ["note"], ["xray_path"]]

        t0 = time.perf_counter()
        raw = raw_importance(pipe, X_test, y_test, groups, args.repeats, seed=0)
        t_raw = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = modality_importance(
            pipe,
            X_test,
            y_test,
            scoring="roc_auc",
            n_repeats=args.repeats,
            random_state=0,
        )
        t_fast = time.perf_counter() - t0
    print()
    print(
        f"{datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"torch threads {torch.get_num_threads()}, {args.rows} held-out rows, "
        f"{args.repeats} shuffles x 3 modalities, 64x64 PNGs read at 32x32"
    )
    print(f"{'method':<34} {'seconds':>8} {'ratio':>7}")
    print("-" * 51)
    print(f"{'raw columns through the Pipeline':<34} {t_raw:>8.2f} {1.0:>7.2f}")
    print(f"{'modality_importance':<34} {t_fast:>8.2f} {t_raw / t_fast:>7.2f}")
    print()
    print(f"{'modality':<10} {'raw drop':>16} {'modality_importance':>22}")
    for i, name in enumerate(result.modalities):
        print(
            f"{name:<10} {raw[i].mean():>8.3f} +- {raw[i].std():.3f} "
            f"{result.importances_mean[i]:>13.3f} +- {result.importances_std[i]:.3f}"
        )
    diff = np.abs(raw - result.importances).max()
    print(f"largest difference between the two, per shuffle: {diff:.2e}")


if __name__ == "__main__":
    main()
