"""Data-parallel training: one fit across several processes (torch DDP).

The estimator is unchanged: started by ``torchrun``, every process runs
this same script, loads the same data and calls the same ``fit``; the
estimator finds the job in the environment (``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``) and trains one model with DistributedDataParallel. Each
global batch of ``batch_size`` rows is split between the processes, the
gradients are averaged, and every process ends with the same weights.
Only rank 0 prints and saves.

The data: make_clinical_multimodal's synthetic clinical table (numbers
and categories with NaN, a free-text note, a PNG scan per row), turned
into tabular, text and image modalities by ModalityVectorizer, then a
CrossModalClassifier. Each process writes its own copy of the PNGs to a
temporary folder (the processes may be on different machines).

Run:
  torchrun --standalone --nproc_per_node 2 examples/distributed_training.py --cpu
  torchrun --standalone --nproc_per_node 4 examples/distributed_training.py
      (4 GPUs: each process trains on cuda:<LOCAL_RANK>)
  python examples/distributed_training.py --cpu      (one process)

About 15 s with 2 CPU processes on 2 idle cores (1,000 rows, 10 epochs; the
fit itself 4 to 6 s).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import joblib
import torch.distributed as dist
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skfusion import CrossModalClassifier
from skfusion.datasets import make_clinical_multimodal
from skfusion.preprocessing import ModalityVectorizer

SEED = 0
MODEL = Path(__file__).resolve().parent / "_data" / "distributed_model.joblib"


def make_model(device, args):
    """The one-line default: ModalityVectorizer finds the tabular, text and
    image columns and turns each into a modality; then the classifier."""
    classifier = CrossModalClassifier(
        max_epochs=args.epochs,
        batch_size=args.batch_size,  # the global batch, whatever the processes
        lr_schedule="constant",
        device=device,
        random_state=SEED,
    )
    return make_pipeline(ModalityVectorizer(), classifier)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="train on the CPU")
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=MODEL, help="model file")
    args = parser.parse_args(argv)
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))

    def log(message):
        if rank == 0:
            print(message, flush=True)

    device = "cpu" if args.cpu else "auto"
    with tempfile.TemporaryDirectory() as images:
        X, y = make_clinical_multimodal(
            args.n_samples,
            image_dir=images,
            missing_note=0.1,
            missing_image=0.1,
            random_state=SEED,
        )
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=SEED
        )
        model = make_model(device, args)
        t0 = time.perf_counter()
        model.fit(X_train, y_train)  # every process, the same call
        seconds = time.perf_counter() - t0
        proba = model.predict_proba(X_test)[:, 1]
    classifier = model[-1]
    log(
        f"world size {world}, device {classifier.net_.device}, "
        f"{len(y_train)} training rows, global batch {args.batch_size}"
    )
    log(f"fit: {seconds:.1f}s for {classifier.n_iter_} epochs")
    log("loss curve: " + " ".join(f"{v:.4f}" for v in classifier.loss_curve_))
    log(f"held-out ROC AUC: {roc_auc_score(y_test, proba):.3f} ({len(y_test)} rows)")
    if rank == 0:  # every process holds the same model: one writes it
        args.out.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, args.out)
        log(f"saved {args.out}")
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
