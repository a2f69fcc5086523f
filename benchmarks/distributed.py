"""Fit time of data-parallel training (torch DDP, gloo) against one process.

Times one CrossModalClassifier fit, the same global batch and seed, in
three arms, each in fresh processes started by this script:

- ``1 proc x 1 thread``: the baseline (``n_threads=1``);
- ``1 proc x 2 threads``: the same machine's two cores through torch's
  intra-op threads (``n_threads=2``);
- ``2 procs x 1 thread``: ``torchrun --standalone --nproc_per_node 2``,
  DDP over gloo, one thread each; every process holds all rows and trains
  on its half of each global batch.

on two workloads: ``vectors`` (two vector modalities, MLP encoders: little
compute per row, so the per-step cost of DDP shows) and ``images`` (32x32
one-channel images through the default CNN, plus a vector modality: more
compute per row). Each arm's time is the fit alone (after a 1-epoch warm-up
fit in the same process, which also joins the process group), the median
and the best of ``--repeats`` runs, the arms alternated (a 2-core VM's
timings swing by 30% from run to run; the best is the least disturbed).
``job s`` is the whole command (Python start, imports, data, warm-up),
from this script. ``final loss`` shows that the arms train the same model
(dropout=0: nothing random per batch, so the arms differ only by float
summation order).

Run:  python benchmarks/distributed.py [--repeats 5] [--workload vectors images]
(about 5.5 minutes with --repeats 5 on 2 cores)
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WORKLOADS = {
    "vectors": dict(rows=20000, batch_size=256, max_epochs=4, hidden_dims=(64,)),
    "images": dict(rows=3000, batch_size=64, max_epochs=2, hidden_dims=()),
}
ARMS = {
    "1 proc x 1 thread": (1, 1),
    "1 proc x 2 threads": (1, 2),
    "2 procs x 1 thread": (2, 1),
}


def make_data(workload, rows):
    rng = np.random.default_rng(0)
    tab = rng.normal(size=(rows, 64)).astype(np.float32)
    X = {"tab": tab}
    if workload == "images":
        X["img"] = rng.normal(size=(rows, 1, 32, 32)).astype(np.float32)
        signal = tab[:, 0] + X["img"][:, 0, :16, :16].mean(axis=(1, 2)) * 8
    else:
        X["note"] = rng.normal(size=(rows, 64)).astype(np.float32)
        signal = tab[:, 0] + X["note"][:, 0]
    y = (signal + rng.normal(size=rows) > 0).astype(int)
    return X, y


def worker(workload, threads, out):
    """One process of an arm: warm up, time the fit, rank 0 writes JSON."""
    from skfusion import CrossModalClassifier

    settings = dict(WORKLOADS[workload])
    X, y = make_data(workload, settings.pop("rows"))
    params = dict(dropout=0.0, n_threads=threads, random_state=0, **settings)
    warm = {k: v[:512] for k, v in X.items()}
    CrossModalClassifier(**{**params, "max_epochs": 1}).fit(warm, y[:512])
    start = time.perf_counter()
    model = CrossModalClassifier(**params).fit(X, y)
    seconds = time.perf_counter() - start
    if int(os.environ.get("RANK", 0)) == 0:
        result = {"fit": seconds, "loss": model.loss_curve_[-1]}
        Path(out).write_text(json.dumps(result))
    return 0


def run_arm(workload, processes, threads):
    """Start an arm; returns (fit seconds, final loss, job seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable]
        if processes > 1:
            command += ["-m", "torch.distributed.run", "--standalone"]
            command += ["--nproc_per_node", str(processes)]
        command += [__file__, "--worker", workload, str(threads), str(out)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
            env.pop(key, None)
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True)
        job = time.perf_counter() - start
        result = json.loads(out.read_text())
    return result["fit"], result["loss"], job


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workload", nargs="+", default=list(WORKLOADS))
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        workload, threads, out = args.worker
        return worker(workload, int(threads), out)

    import torch

    machine = platform.processor() or platform.machine()
    print(
        f"# {datetime.datetime.now():%Y-%m-%d %H:%M}, {machine}, {os.cpu_count()} "
        f"CPUs, torch {torch.__version__}; medians of {args.repeats}"
    )
    rows = []
    for workload in args.workload:
        runs = {arm: [] for arm in ARMS}
        for _ in range(args.repeats):
            for arm, (processes, threads) in ARMS.items():
                runs[arm].append(run_arm(workload, processes, threads))
        base = statistics.median(r[0] for r in runs["1 proc x 1 thread"])
        # speed-up: the 1-process, 1-thread median over this arm's median
        for arm, results in runs.items():
            fit = statistics.median(r[0] for r in results)
            best = min(r[0] for r in results)
            job = statistics.median(r[2] for r in results)
            rows.append((workload, arm, fit, base / fit, best, results[-1][1], job))
    settings = {w: WORKLOADS[w] for w in args.workload}
    print(f"workloads: {settings}")
    print()
    print("| workload | arm | fit s | speed-up | best s | final loss | job s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for workload, arm, fit, ratio, best, loss, job in rows:
        cells = f"{fit:.2f} | {ratio:.2f}x | {best:.2f} | {loss:.5f} | {job:.1f}"
        print(f"| {workload} | {arm} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
