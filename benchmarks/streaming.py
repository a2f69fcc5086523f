"""Peak memory of fitting from image paths: lazy (streamed) vs in memory.

Cases, each in a fresh Python process (so that no case inherits another's
allocations), on synthetic 128x128 grayscale PNG images generated once into
a temporary folder, with 3 tabular features beside them:

- ``lazy``: ``CrossModalClassifier.fit({"tab": tab, "xray":
  LazyImages(paths, ImageLoader(size=128))}, y)``: decoded batch by batch
  (in the main process: ``n_jobs=None``, so the main process's memory is all
  of it); once more at the largest size with ``n_jobs=2`` worker processes
  (the RSS columns are then the main process's only);
- ``in memory``: ``pixels = ImageLoader(size=128, add_indicator=False)
  .fit_transform(paths)``, then ``fit({"tab": tab, "xray": pixels.reshape(
  -1, 1, 128, 128)}, y)``; the decoding is inside the measured region, so a
  fit that holds the pixels once grows by about 1x their float32 bytes.

Every fit is one epoch of ``CrossModalClassifier(batch_size=64,
cnn_channels=(4, 8), latent_dim=16, max_epochs=1, random_state=0)``.
Peak RSS is the kernel's high-water mark (VmHWM in /proc/self/status),
reset (``/proc/self/clear_refs``) after imports and data creation; the table
reports its growth over the RSS at that point.

A second table measures ``_validate_X`` of a 20,000 x (30 + 384 + 1024)
float32 DataFrame named as a ColumnTransformer with pandas output names it
(``tab__f0``, ``emb__e0``, ``img__pixel_0_y_x``; three pandas blocks, as
``pd.concat`` leaves them), and of the same frame with float64 ``tab``
columns: peak traced memory (tracemalloc) over the float32 size of the
data, for the column-block conversion (``split_frame``) and for the
``check_array`` path that every DataFrame took before (whole-table float32
copy, float64 first for mixed dtypes, then per-modality copies).

Run:  python benchmarks/streaming.py [--quick] [--sizes 2000 20000]
          [--memory-sizes 2000 20000] [--workers 2] [--folder DIR]
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

import numpy as np

SIDE = 128
SEED = 0
FIT = dict(
    batch_size=64,
    cnn_channels=(4, 8),
    latent_dim=16,
    max_epochs=1,
    random_state=SEED,
)


def status():
    """VmRSS and VmHWM of this process, in bytes."""
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {k: int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM")}


def labels(n):
    return np.random.default_rng(SEED).integers(0, 2, n)


def make_images(folder, n):
    """n PNGs: smooth blobs whose brightness carries the label (idempotent)."""
    os.makedirs(folder, exist_ok=True)
    from PIL import Image

    y = labels(n)
    rng = np.random.default_rng(SEED + 1)
    grid = np.linspace(-1, 1, SIDE, dtype=np.float32)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    paths = []
    for i in range(n):
        path = os.path.join(folder, f"img{i:05d}.png")
        paths.append(path)
        if os.path.exists(path):
            continue
        cy, cx = rng.uniform(-0.5, 0.5, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.1)
        pixels = 40 + (120 + 60 * y[i]) * blob + rng.normal(0, 8, (SIDE, SIDE))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return paths


def run_fit_case(case):
    """In a fresh process: one fit, its peak RSS growth and seconds."""
    from skfusion import CrossModalClassifier
    from skfusion.preprocessing import ImageLoader, LazyImages

    n, folder = case["n"], case["folder"]
    paths = [os.path.join(folder, f"img{i:05d}.png") for i in range(n)]
    y = labels(n)
    tab = np.random.default_rng(SEED + 2).normal(size=(n, 3)).astype(np.float32)
    if case["mode"] == "lazy":
        X = {"tab": tab, "xray": LazyImages(paths, ImageLoader(size=SIDE))}
    open("/proc/self/clear_refs", "w").write("5")  # reset VmHWM
    base = status()["VmRSS"]
    start = time.perf_counter()
    if case["mode"] == "memory":
        loader = ImageLoader(size=SIDE, add_indicator=False)
        pixels = loader.fit_transform(paths).reshape(n, 1, SIDE, SIDE)
        X = {"tab": tab, "xray": pixels}
    clf = CrossModalClassifier(**FIT, n_jobs=case.get("n_jobs")).fit(X, y)
    seconds = time.perf_counter() - start
    peak = status()["VmHWM"]
    assert clf.n_iter_ == 1
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"growth": peak - base, "peak": peak, "seconds": seconds, "worker": worker}


def validate_case(mixed, lean):
    """tracemalloc peak of _validate_fit over the float32 bytes of the data."""
    import tracemalloc

    import pandas as pd

    import skfusion._input as estimator_input
    from skfusion import CrossModalClassifier

    n, rng = 20_000, np.random.default_rng(SEED)
    groups = [
        ("tab", [f"f{i}" for i in range(30)]),
        ("emb", [f"e{i}" for i in range(384)]),
        ("img", [f"pixel_0_{i // 32}_{i % 32}" for i in range(1024)]),
    ]
    parts = [
        pd.DataFrame(
            rng.random((n, len(names)), dtype=np.float32),
            columns=[f"{prefix}__{name}" for name in names],
        )
        for prefix, names in groups
    ]
    if mixed:
        parts[0] = parts[0].astype(np.float64)
    frame = pd.concat(parts, axis=1)
    y = labels(n)
    if not lean:  # the check_array path every DataFrame took before
        estimator_input.plain_numeric_frame = lambda X: False
    clf = CrossModalClassifier()
    tracemalloc.start()
    start = time.perf_counter()
    inputs, _ = clf._validate_fit(frame, y)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    data = n * frame.shape[1] * 4
    return {
        "peak": peak / data,
        "held": sum(v.nbytes for v in inputs.values()) / data,
        "seconds": seconds,
    }


def in_subprocess(kind, **case):
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps({"kind": kind, **case})],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def mib(nbytes):
    return f"{nbytes / 2**20:,.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="also fit the largest lazy case with n_jobs=WORKERS (0: skip)",
    )
    parser.add_argument("--folder", default=None)
    parser.add_argument("--quick", action="store_true", help="200 vs 2,000 images")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case = json.loads(args.child)
        kind = case.pop("kind")
        result = run_fit_case(case) if kind == "fit" else validate_case(**case)
        print(json.dumps(result))
        return
    if args.quick:
        args.sizes, args.memory_sizes = [200, 2000], [200, 2000]
    t0 = time.perf_counter()
    folder = args.folder or os.path.join(tempfile.gettempdir(), "skfusion-streaming")
    started = time.perf_counter()
    make_images(folder, max(args.sizes + args.memory_sizes))
    made = time.perf_counter() - started

    import torch

    import skfusion

    print(
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.platform()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, torch "
        f"{torch.__version__}, skfusion {skfusion.__version__}. Images: "
        f"{max(args.sizes + args.memory_sizes):,} PNGs {SIDE}x{SIDE} grayscale "
        f"in {folder} ({made:.0f} s to make or find). Fit: {FIT}.\n"
    )
    rows, lazy = [], {}
    for n in args.sizes:
        result = in_subprocess("fit", mode="lazy", n=n, folder=folder)
        lazy[n] = result["growth"]
        rows.append(("lazy (LazyImages)", n, result))
    if args.workers:
        n = max(args.sizes)
        result = in_subprocess(
            "fit", mode="lazy", n=n, folder=folder, n_jobs=args.workers
        )
        rows.append((f"lazy, n_jobs={args.workers} (main process)", n, result))
        worker = result["worker"]
    for n in args.memory_sizes:
        result = in_subprocess("fit", mode="memory", n=n, folder=folder)
        rows.append(("in memory (decoded first)", n, result))
    print(
        "| input | images | float32 pixels MiB | peak RSS MiB | peak RSS growth "
        "MiB | growth / pixel bytes | (growth - lazy growth) / pixel bytes "
        "| seconds |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, n, result in rows:
        pixel_bytes = n * SIDE * SIDE * 4
        excess = ""
        if label.startswith("in memory") and n in lazy:
            excess = f"{(result['growth'] - lazy[n]) / pixel_bytes:.2f}"
        print(
            f"| {label} | {n:,} | {mib(pixel_bytes)} | {mib(result['peak'])} "
            f"| {mib(result['growth'])} | {result['growth'] / pixel_bytes:.2f} "
            f"| {excess} | {result['seconds']:.1f} |"
        )
    small, large = min(args.sizes), max(args.sizes)
    peaks = {n: r["peak"] for label, n, r in rows if label == "lazy (LazyImages)"}
    print(
        f"\nLazy fit, peak RSS growth at {large:,} images / at {small:,}: "
        f"{lazy[large] / lazy[small]:.2f} (required < 1.2); whole peak RSS: "
        f"{peaks[large] / peaks[small]:.2f}."
    )
    if args.workers:
        print(
            f"With n_jobs={args.workers}, the largest worker process peaked at "
            f"{mib(worker)} MiB RSS (pages shared with the main process, which "
            "forked it, included)."
        )
    print()

    print(
        "| DataFrame 20,000 x 1,438 | conversion | peak / float32 data "
        "| held / float32 data | seconds |"
    )
    print("| --- | --- | --- | --- | --- |")
    for mixed in (False, True):
        for lean in (False, True):
            r = in_subprocess("validate", mixed=mixed, lean=lean)
            dtypes = "float64 tab + float32" if mixed else "float32"
            how = "split_frame (column blocks)" if lean else "check_array (before)"
            print(
                f"| {dtypes} | {how} | {r['peak']:.2f} | {r['held']:.2f} "
                f"| {r['seconds']:.2f} |"
            )
    print(f"\nTotal wall time {time.perf_counter() - t0:,.0f} s.")


if __name__ == "__main__":
    main()
