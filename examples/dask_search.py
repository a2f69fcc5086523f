"""Hyperparameter search on a Dask cluster, on the raw clinical DataFrame.

GridSearchCV sends its fits to joblib; under ``joblib.parallel_backend("dask")``
joblib hands them to the Dask workers. Each worker gets the pickled pipeline
(ColumnTransformer + CrossModalClassifier) and the data, fits it and sends
back the scores. The script runs the same search locally with ``n_jobs=1`` and
prints both, with their wall times.

Run:  python examples/dask_search.py   (about a minute on 2 CPU cores)

The speed-up needs cores that really run in parallel: on a shared 2-vCPU
virtual machine two busy processes may each run at half speed or less, and
the Dask search is then no faster than the local one (the scores are the
same either way).

By default it starts a LocalCluster of 2 worker processes on this machine,
one thread each. Against a real cluster:

    # on one machine (listens on port 8786; the dashboard needs bokeh)
    dask scheduler
    # on each worker machine: one single-threaded process per core suits
    # small networks better than one process with many threads
    dask worker tcp://SCHEDULER_HOST:8786 --nworkers 4 --nthreads 1
    # here
    python examples/dask_search.py --scheduler tcp://SCHEDULER_HOST:8786 \\
        --image-dir /shared/scans

* Workers unpickle the pipeline, so they need skfusion installed, with the
  same versions of Python, skfusion, torch, scikit-learn, skorch, dask and
  distributed as this machine (``pip install "skfusion[distributed]"`` in the
  same environment); the script compares them before it starts.
* The DataFrame holds image *paths*, and ImageLoader opens them on the
  workers: ``--image-dir`` must be on a filesystem that every worker mounts
  at the same path (NFS, a cluster filesystem); the script checks that the
  workers can read it.
"""

import argparse
import importlib
import os
import platform
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import joblib
import numpy as np
import torch
from distributed import Client, LocalCluster
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skfusion import CrossModalClassifier
from skfusion.datasets import make_clinical_multimodal
from skfusion.preprocessing import ImageLoader, TextEmbedder

SEED = 0
IMAGE_SIZE = 32
GRID = {"model__latent_dim": [16, 32], "model__lr": [1e-3, 3e-3]}
# modules whose versions must be the same here and on every worker
MODULES = [
    "skfusion",
    "torch",
    "sklearn",
    "skorch",
    "numpy",
    "pandas",
    "PIL",
    "cloudpickle",
    "dask",
    "distributed",
]
DEFAULT_IMAGE_DIR = Path(__file__).resolve().parent / "_data" / "dask_images"


def make_model(X):
    """The raw-DataFrame pipeline: one ColumnTransformer entry per modality."""
    numeric = list(X.select_dtypes("number").columns)
    preprocess = ColumnTransformer(
        [
            (
                "tab",
                make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()),
                numeric,
            ),
            ("note", TextEmbedder(n_components=32, random_state=SEED), "note"),
            ("xray", ImageLoader(size=IMAGE_SIZE), "xray_path"),
        ]
    ).set_output(transform="pandas")
    model = CrossModalClassifier(max_epochs=10, random_state=SEED)
    return Pipeline([("preprocess", preprocess), ("model", model)])


def make_search(X, n_jobs):
    return GridSearchCV(
        make_model(X),
        GRID,
        cv=StratifiedKFold(3, shuffle=True, random_state=SEED),
        scoring="roc_auc",
        n_jobs=n_jobs,
        verbose=1,  # one line when the search starts: folds x candidates
    )


def environment():
    """Python and package versions; run on a worker, it also imports them."""
    versions = {"python": platform.python_version()}
    for name in MODULES:
        versions[name] = importlib.import_module(name).__version__
    return versions


def check_workers(client, image_path):
    """Fail early if a worker has other versions or cannot read the images."""
    here, problems = environment(), []
    for address, there in client.run(environment).items():
        problems += [
            f"{address}: {name} {there[name]} (here {here[name]})"
            for name in here
            if there[name] != here[name]
        ]
    for address, readable in client.run(os.path.isfile, str(image_path)).items():
        if not readable:
            problems.append(
                f"{address}: cannot read {image_path}; put --image-dir on a "
                "filesystem that every worker mounts at the same path"
            )
    if problems:
        sys.exit("Workers not ready:\n  " + "\n  ".join(problems))


@contextmanager
def limit_threads(n_threads):
    """Torch and BLAS on ``n_threads`` threads in this process (0: unchanged)."""
    if not n_threads:
        yield
        return
    before = torch.get_num_threads()
    with threadpool_limits(n_threads):
        torch.set_num_threads(n_threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scheduler",
        help="address of a running Dask scheduler, e.g. tcp://host:8786 "
        "(default: start a LocalCluster here)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="LocalCluster worker processes"
    )
    parser.add_argument("--n-samples", type=int, default=400)
    parser.add_argument(
        "--image-dir",
        type=Path,
        default=DEFAULT_IMAGE_DIR,
        help="where the synthetic scans are written (shared with the workers)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads in this process, for the local n_jobs=1 "
        "search and the refits (default 1, as in each worker; 0: torch's "
        "default)",
    )
    args = parser.parse_args(argv)

    X, y = make_clinical_multimodal(
        args.n_samples,
        image_dir=args.image_dir.resolve(),
        image_size=IMAGE_SIZE,
        random_state=SEED,
    )
    n_fits = 3 * np.prod([len(v) for v in GRID.values()])
    print(f"data: {X.shape[0]} patients, images in {args.image_dir.resolve()}")
    print(f"grid: {GRID}, 3-fold: {n_fits} fits (+1 refit)")

    with ExitStack() as stack:
        stack.enter_context(limit_threads(args.threads))
        if args.scheduler:
            client = stack.enter_context(Client(args.scheduler))
        else:
            cluster = LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            stack.enter_context(cluster)
            client = stack.enter_context(Client(cluster))
        client.wait_for_workers(1, timeout=120)
        check_workers(client, X["xray_path"].dropna().iloc[0])
        nthreads = client.nthreads()
        print(
            f"cluster: {client.scheduler_info()['address']}, {len(nthreads)} "
            f"workers, {sum(nthreads.values())} threads"
        )

        t0 = time.perf_counter()
        # scatter sends X and y to every worker once, not with each fit
        with joblib.parallel_backend("dask", scatter=[X, y]):
            on_dask = make_search(X, n_jobs=-1).fit(X, y)
        dask_seconds = time.perf_counter() - t0

        t0 = time.perf_counter()
        local = make_search(X, n_jobs=1).fit(X, y)
        local_seconds = time.perf_counter() - t0

    print()
    print(f"{'':<24} {'best params':<42} {'ROC AUC':>8} {'seconds':>8}")
    for label, search, seconds in [
        ("Dask", on_dask, dask_seconds),
        ("local, n_jobs=1", local, local_seconds),
    ]:
        params = ", ".join(
            f"{k.removeprefix('model__')}={v}" for k, v in search.best_params_.items()
        )
        print(f"{label:<24} {params:<42} {search.best_score_:>8.4f} {seconds:>8.1f}")
    gap = np.abs(
        on_dask.cv_results_["mean_test_score"] - local.cv_results_["mean_test_score"]
    ).max()
    threads = args.threads or f"{torch.get_num_threads()} (default)"
    print(
        f"\nspeed-up {local_seconds / dask_seconds:.1f}x (local: {threads} torch "
        "thread(s); both times include the refit here)"
    )
    print(f"largest gap between the two searches' mean test scores: {gap:.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
