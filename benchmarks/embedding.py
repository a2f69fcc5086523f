"""ImageEmbedder: streaming throughput and memory, and the fold-safe cache.

Synthetic 64x64 grayscale PNGs (random noise whose mean brightness depends
weakly on a binary label) are written to a temporary folder. Every row of the table is
measured in a fresh Python process, so its peak RSS (VmHWM) is its own:

- stream N: ``ImageEmbedder()`` (the built-in random CNN, batch_size=64,
  no cache) fitted and applied to the first N images. Peak RSS must not
  grow with N: only one batch of pixels is held at a time (the output,
  N x 65 float32, is 2.6 MB at N=10,000). "baseline" is the RSS right after
  the imports.
- grid search: GridSearchCV (candidates x folds, over LogisticRegression's
  C) of Pipeline(ColumnTransformer([("img", ImageEmbedder(...), "path")]),
  StandardScaler, LogisticRegression) on the first M images, without the
  cache, with an empty cache, and again with the cache the previous run
  filled. "encoder rows / image" counts the rows the encoder saw (through
  a forward hook on the encoder; fit's one-row probe excluded) divided by
  the number of distinct images: 1.0 with the cache.

Run:  python benchmarks/embedding.py [--sizes 1000 10000] [--search-images 1000]
          [--candidates 6] [--folds 5] [--batch-size 64] [--threads N]
          [--repeats 1] [--quick]
--quick is a smoke test: sizes 200 and 1000, a 3 x 3 search on 200 images.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

START = time.perf_counter()
SEED = 0
SIZE = 64


def log(message):
    print(f"[{time.perf_counter() - START:7.1f}s] {message}", flush=True)


def rss_mib(field):
    """VmRSS / VmHWM of this process in MiB (ru_maxrss for the peak otherwise)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    if field == "VmHWM":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return float("nan")


def make_images(folder, n):
    """n PNGs named img{i:05d}_{label}.png: noise, brightness ~ 8 x label."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(SEED)
    labels = rng.integers(0, 2, n)
    for i, label in enumerate(labels):
        base = 100 + 8 * label + rng.normal(0, 15)  # a weak signal: AUC ~0.65
        pixels = np.clip(rng.normal(base, 50, (SIZE, SIZE)), 0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(
            os.path.join(folder, f"img{i:05d}_{label}.png")
        )


def first_images(folder, n):
    names = sorted(f for f in os.listdir(folder) if f.endswith(".png"))[:n]
    labels = [int(name[-5]) for name in names]
    return [os.path.join(folder, name) for name in names], labels


# -- workers (one per table row, each in a fresh process) ---------------------


def worker(spec):
    import numpy as np
    import pandas as pd
    import torch
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from skfusion.preprocessing import ImageEmbedder, ImageLoader

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    baseline = rss_mib("VmRSS")
    paths, labels = first_images(spec["folder"], spec["n"])
    rows = []

    def count(module, inputs, output):
        x = inputs[0]
        if not (x.shape[0] == 1 and not x.any()):  # fit's zero-batch probe
            rows.append(x.shape[0])

    loader = ImageLoader(size=SIZE)
    # The built-in random CNN (fit reads no image), with a counting hook;
    # clone/fit deep-copy it and the hook's closure is shared by the copies.
    encoder = ImageEmbedder(loader=loader).fit(["unused.png"]).encoder_
    encoder.register_forward_hook(count)
    embedder = ImageEmbedder(
        encoder=encoder,
        loader=loader,
        batch_size=spec["batch_size"],
        cache_dir=spec.get("cache_dir"),
    )
    result = {"baseline": baseline, "n": len(paths), "best": ""}
    t0 = time.perf_counter()
    if spec["kind"] == "stream":
        out = embedder.fit(paths).transform(paths)
        assert out.shape == (len(paths), 65) and out[:, -1].sum() == 0
    else:
        model = Pipeline(
            [
                ("pre", ColumnTransformer([("img", embedder, "path")])),
                ("scale", StandardScaler()),
                ("clf", LogisticRegression(max_iter=1000)),
            ]
        )
        grid = {"clf__C": list(np.logspace(-3, 2, spec["candidates"]))}
        cv = StratifiedKFold(spec["folds"], shuffle=True, random_state=SEED)
        search = GridSearchCV(model, grid, cv=cv, scoring="roc_auc")
        search.fit(pd.DataFrame({"path": paths}), np.asarray(labels))
        c = search.best_params_["clf__C"]
        result["best"] = f"C={c:.3g}, AUC {search.best_score_:.4f}"
    result["seconds"] = time.perf_counter() - t0
    result["rows_per_image"] = sum(rows) / len(paths)
    result["peak"] = rss_mib("VmHWM")
    print(json.dumps(result))


def run_worker(spec):
    command = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise RuntimeError(f"worker {spec['kind']} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def best_of(runs):
    """The fastest run, with the highest peak RSS of all runs."""
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["peak"] = max(r["peak"] for r in runs)
    return best


# -- main -----------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--sizes", type=int, nargs="+", default=[1000, 10000])
    add("--search-images", type=int, default=1000)
    add("--candidates", type=int, default=6)
    add("--folds", type=int, default=5)
    add("--batch-size", type=int, default=64)
    add("--threads", type=int, default=1, help="torch threads (0: torch default)")
    add("--repeats", type=int, default=1, help="runs per row; the fastest is shown")
    add("--quick", action="store_true", help="smoke test: small sizes and search")
    add("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    if args.quick:
        args.sizes, args.search_images = [200, 1000], 200
        args.candidates, args.folds = 3, 3

    import sklearn
    import torch

    threads = args.threads or torch.get_num_threads()
    print(
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.platform()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, torch {torch.__version__} "
        f"({threads} thread(s)), scikit-learn {sklearn.__version__}"
    )
    n_images = max([*args.sizes, args.search_images])
    common = {"batch_size": args.batch_size, "threads": args.threads}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "images")
        os.makedirs(folder)
        t0 = time.perf_counter()
        make_images(folder, n_images)
        log(f"wrote {n_images} PNGs ({SIZE}x{SIZE}) in {time.perf_counter() - t0:.1f}s")
        for n in args.sizes:
            label = f"stream N={n:,}"
            spec = {"kind": "stream", "folder": folder, "n": n, **common}
            results[label] = best_of([run_worker(spec) for _ in range(args.repeats)])
            log(f"{label}: {results[label]}")
        search = {
            "kind": "search",
            "folder": folder,
            "n": args.search_images,
            "candidates": args.candidates,
            "folds": args.folds,
            **common,
        }
        title = f"{args.candidates}x{args.folds} grid search"
        runs = {
            f"{title}, {kind}": []
            for kind in ("no cache", "cache (cold)", "cache (warm)")
        }
        for repeat in range(args.repeats):
            cache = os.path.join(tmp, f"cache{repeat}")  # empty, then filled
            dirs = [None, cache, cache]
            for (label, found), cache_dir in zip(runs.items(), dirs, strict=True):
                found.append(run_worker({**search, "cache_dir": cache_dir}))
                log(f"{label}: {found[-1]}")
        results.update({label: best_of(found) for label, found in runs.items()})
    print_table(results, args)
    log(f"total {time.perf_counter() - START:.0f}s wall time")
    return 0


def print_table(results, args):
    print(
        f"\nbatch_size={args.batch_size}, {SIZE}x{SIZE} grayscale PNGs, built-in "
        "encoder (64 features); every row in a fresh process; fastest of "
        f"{args.repeats} run(s), highest peak RSS.\n"
    )
    head = (
        "| run | images | seconds | images/s | encoder rows / image "
        "| baseline RSS (MiB) | peak RSS (MiB) | best (ROC AUC) |"
    )
    print(head)
    print("|" + " --- |" * head.count(" | ") + " --- |")
    for label, r in results.items():
        rate = "-" if r["best"] else f"{r['n'] / r['seconds']:,.0f}"
        print(
            f"| {label} | {r['n']:,} | {r['seconds']:.1f} | {rate} | "
            f"{r['rows_per_image']:.2f} | {r['baseline']:.0f} | {r['peak']:.0f} "
            f"| {r['best'] or '-'} |"
        )
    streams = [r for label, r in results.items() if label.startswith("stream")]
    if len(streams) >= 2:
        small, large = streams[0], streams[-1]
        print(
            f"\nPeak RSS, N={large['n']:,} / N={small['n']:,}: "
            f"{large['peak'] / small['peak']:.3f} (above baseline: "
            f"{large['peak'] - large['baseline']:.0f} / "
            f"{small['peak'] - small['baseline']:.0f} MiB)."
        )
    searches = [r for label, r in results.items() if "grid search" in label]
    if len(searches) == 3:
        plain, cold, warm = (r["seconds"] for r in searches)
        print(
            f"Grid search wall time, no cache / cache: {plain / cold:.1f}x "
            f"(cold), {plain / warm:.1f}x (warm)."
        )


if __name__ == "__main__":
    sys.exit(main())
