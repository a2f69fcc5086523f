"""Fit time with n_threads="auto" against torch's default thread count.

Tiny networks lose to torch's intra-op threading, most of all on a loaded
machine. This script times, on the public clothing-reviews table (1,000
rows, see realdata.py) with the one-line default pipeline
``make_pipeline(ModalityVectorizer(), CrossModalClassifier())``:

1. one fit with ``n_threads="auto"`` against ``n_threads=None`` (torch's
   default: one thread per core), on an idle machine and with ``--load``
   CPU-bound busy processes running at the same time;
2. a GridSearchCV (4 candidates x 3 folds) with ``n_jobs=1`` against
   ``n_jobs=-1``, both with the default ``n_threads="auto"``, and
   ``n_jobs=-1`` with torch's default threads in each worker.

Each timing is the median of ``--repeats`` runs, the two settings
alternated so that they see the same load. Ratios > 1 mean "auto" (or
n_jobs=-1) is faster.

Run:  python benchmarks/threads.py [--rows 1000] [--repeats 3] [--load 2]
"""

import argparse
import datetime
import multiprocessing
import os
import platform
import statistics
import sys
import time

import sklearn
import torch
from joblib import Parallel, delayed
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from realdata import load_clothing, subsample

from skfusion import CrossModalClassifier
from skfusion.preprocessing import ModalityVectorizer

GRID = {
    "crossmodalclassifier__latent_dim": [16, 32],
    "crossmodalclassifier__dropout": [0.1, 0.3],
}


def _spin(stop):
    x = 0
    while not stop.is_set():
        x = (x * 1103515245 + 12345) % 2**31


def _model(n_threads):
    return make_pipeline(
        ModalityVectorizer(random_state=0),
        CrossModalClassifier(n_threads=n_threads, random_state=0),
    )


def _time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _paired(fns, repeats):
    """Median seconds of each function, run alternately ``repeats`` times."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_time(fn, 1))
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--load", type=int, default=os.cpu_count())
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    kwargs = {} if args.data_dir is None else {"data_dir": args.data_dir}
    X, y, task = load_clothing("recommended", **kwargs)
    X, y = subsample(X, y, task, args.rows)
    workers = Parallel(n_jobs=-1)(
        delayed(torch.get_num_threads)() for _ in range(os.cpu_count())
    )
    print(
        f"# threads, {datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.platform()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__} (default "
        f"{torch.get_num_threads()} threads), scikit-learn {sklearn.__version__}; "
        f"clothing-recommended, {len(X)} rows; median of {args.repeats}; torch "
        f"threads in joblib's workers (n_jobs=-1): {sorted(set(workers))}"
    )
    rows = []
    for load in (0, args.load):
        stop = multiprocessing.Event()
        busy = [
            multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(load)
        ]
        for p in busy:
            p.start()
        try:
            fit = _paired(
                {
                    "auto": lambda: _model("auto").fit(X, y),
                    "torch default": lambda: _model(None).fit(X, y),
                },
                args.repeats,
            )
            rows.append(
                (f"one fit, {load} busy processes", "torch default", "auto", fit)
            )

            def search(n_jobs, n_threads):
                return lambda: GridSearchCV(
                    _model(n_threads), GRID, cv=3, scoring="roc_auc", n_jobs=n_jobs
                ).fit(X, y)

            # Start joblib's worker processes (and their imports) before
            # timing, so that no arm pays for it.
            GridSearchCV(
                _model("auto"),
                {"crossmodalclassifier__max_epochs": [1]},
                cv=2,
                n_jobs=-1,
            ).fit(X, y)
            found = _paired(
                {
                    "n_jobs=1": search(1, "auto"),
                    "n_jobs=-1": search(-1, "auto"),
                    "n_jobs=-1, torch default": search(-1, None),
                },
                args.repeats,
            )
            rows.append(
                (f"GridSearchCV, {load} busy processes", "n_jobs=1", "n_jobs=-1", found)
            )
        finally:
            stop.set()
            for p in busy:
                p.join()
    print()
    print("| setting | baseline | s | compared | s | ratio | other |")
    print("| --- | --- | ---: | --- | ---: | ---: | --- |")
    for title, base, other, times in rows:
        extra = ", ".join(
            f"{k}: {v:.1f} s" for k, v in times.items() if k not in (base, other)
        )
        print(
            f"| {title} | {base} | {times[base]:.1f} | {other} | "
            f"{times[other]:.1f} | {times[base] / times[other]:.2f}x | {extra} |"
        )


if __name__ == "__main__":
    main()
