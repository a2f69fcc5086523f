"""Training and prediction throughput against a hand-written PyTorch loop.

In ONE process, on the same data, with the same network, batch size and
number of epochs:

(a) ``hand``: a minimal hand-written loop over pre-made float32 tensors
    (``randperm`` shuffling, ``index_select`` batches, AdamW,
    cross-entropy; prediction in ``inference_mode`` at its fastest batch
    size among 256, 1024 and the training batch, chosen by timing each
    before the measured repeats): the practical limit;
(b) ``skfusion (DataFrame)``: CrossModalClassifier fitted on a float32
    DataFrame named as a ColumnTransformer with pandas output names it
    (``tab__*``, ``text__*``, ``img__pixel_0_y_x``), and
    ``skfusion (dict)``: the same on a dict of arrays;
(c) ``pytorch-widedeep`` when installed (never a dependency of skfusion).

The network of (a) is the very module skfusion builds for this data
(``skfusion._training.build_network``), re-initialised from the same seed,
so both sides do the same arithmetic. Times include everything the caller
waits for (input validation, conversions). Repetitions are interleaved
(a, b, b', then b', b, a, ...) and the table reports medians; a ratio is
the candidate's samples/s over the hand loop's within one repeat (paired,
so that the drift of a shared machine cancels), and the table gives the
median ratio and its range. Peak RSS is sampled by a background thread
every 5 ms during each call and reported above the RSS before the call.

Data: 20,000 rows, 30 tabular features, a 384-dim text vector and, for the
image network, a 1x32x32 image; binary target with signal in every
modality. ``--network both`` (the default) runs the image network and the
vector-only one (tab + text), one table each.

Run:  python benchmarks/throughput.py [--rows 20000] [--epochs 3]
          [--batch-size 256] [--repeats 3] [--device cpu] [--amp bf16]
          [--threads N]
          [--network image|vector|both] [--quick]
"""

import argparse
import datetime
import os
import platform
import statistics
import threading
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

from skfusion import CrossModalClassifier
from skfusion._training import build_network

SEED = 0


def make_data(n, seed=SEED, image=True):
    rng = np.random.default_rng(seed)
    tab = rng.normal(size=(n, 30)).astype(np.float32)
    text = rng.normal(size=(n, 384)).astype(np.float32)
    img = rng.random((n, 1, 32, 32), dtype=np.float32)
    logit = (
        tab[:, :3].sum(1)
        + text[:, :5].sum(1)
        + 8 * (img[:, 0, :8, :8].mean((1, 2)) - 0.5)
    )
    y = (logit + rng.normal(size=n) > 0).astype(np.int64)
    if not image:
        return {"tab": tab, "text": text}, y
    return {"tab": tab, "text": text, "img": img}, y


def as_frame(arrays):
    blocks, names = [], []
    for name, arr in arrays.items():
        flat = arr.reshape(len(arr), -1)
        if arr.ndim == 4:
            _, h, w = arr.shape[1:]
            names += [f"{name}__pixel_0_{i // w}_{i % w}" for i in range(h * w)]
        else:
            names += [f"{name}__f{i}" for i in range(flat.shape[1])]
        blocks.append(flat)
    return pd.DataFrame(np.hstack(blocks), columns=names, copy=False)


class PeakRSS:
    """Peak resident set size (bytes) above the starting RSS, while in use."""

    def __init__(self, interval=0.005):
        self.interval = interval

    @staticmethod
    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self):
        self.start = self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())
        self.growth = self.peak - self.start


def skfusion_params(args):
    return dict(
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=1e-3,
        device=args.device,
        amp=args.amp,
        random_state=SEED,
    )


def hand_loop(arrays, y, args):
    """Fit and predict with the same module, the way one writes it by hand."""
    device = torch.device(args.device)
    reference = CrossModalClassifier(**skfusion_params(args))
    reference.set_params(max_epochs=1)
    # the module skfusion would build for this data (same encoders, fusion,
    # head, standardisation), built from the same seed
    from skfusion._conversion import split_dict
    from skfusion._discovery import dict_specs

    specs = dict_specs(arrays)
    inputs = split_dict(arrays, specs)
    torch.manual_seed(SEED)
    model = build_network(specs, inputs, 2, reference.get_params()).to(device)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    tensors = {k: torch.from_numpy(v).to(device) for k, v in inputs.items()}
    target = torch.from_numpy(y).to(device)
    loss_fn = nn.CrossEntropyLoss()
    n = len(y)
    # the same mixed precision as skfusion's amp= (bf16: no loss scaling)
    dtype = torch.bfloat16 if args.amp == "bf16" else None

    def autocast():
        return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)

    def fit():
        # every fit starts from the same initial weights, as a refit does
        model.load_state_dict(initial)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
        model.train()
        for _ in range(args.epochs):
            order = torch.randperm(n, device=device)
            for start in range(0, n, args.batch_size):
                idx = order[start : start + args.batch_size]
                batch = {k: t.index_select(0, idx) for k, t in tensors.items()}
                with autocast():
                    loss = loss_fn(model(**batch), target.index_select(0, idx))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()

    def predict(size):
        model.eval()
        outs = []
        with torch.inference_mode(), autocast():
            for start in range(0, n, size):
                batch = {k: t[start : start + size] for k, t in tensors.items()}
                outs.append(model(**batch).argmax(1).cpu())
        return torch.cat(outs).numpy()

    # the hand loop's fastest prediction batch (best of 2 timings each)
    timings = {}
    for size in sorted({256, 1024, args.batch_size}):
        predict(size)
        timings[size] = min(measure(lambda s=size: predict(s))[0] for _ in range(2))
    best = min(timings, key=timings.get)
    print(
        "  hand loop predict batch: "
        + ", ".join(f"{k}: {v:.3f}s" for k, v in timings.items())
        + f" -> {best}",
        flush=True,
    )
    return fit, (lambda: predict(best))


def skfusion_arm(X, y, args):
    clf = CrossModalClassifier(**skfusion_params(args))
    return (lambda: clf.fit(X, y)), (lambda: clf.predict(X))


def widedeep_arm(arrays, y, args):  # pragma: no cover - optional
    try:
        from pytorch_widedeep import Trainer  # noqa: F401
    except ImportError:
        return None
    return None  # comparable model not wired up: see benchmarks/README.md


def measure(fn):
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        fn()
        seconds = time.perf_counter() - t0
    return seconds, mem.growth


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--amp", choices=["bf16"], default=None, help="bf16 mixed precision"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument(
        "--network", choices=["image", "vector", "both"], default="both"
    )
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats, args.epochs = 2000, 1, 1

    if args.threads:
        torch.set_num_threads(args.threads)
    for network in ("image", "vector") if args.network == "both" else (args.network,):
        run(args, network)


def run(args, network):
    print(f"\n## {network} network", flush=True)
    arrays, y = make_data(args.rows, image=network == "image")
    frame = as_frame(arrays)
    arms = {
        "hand loop (a)": hand_loop(arrays, y, args),
        "skfusion, DataFrame (b)": skfusion_arm(frame, y, args),
        "skfusion, dict (b)": skfusion_arm(arrays, y, args),
    }
    widedeep = widedeep_arm(arrays, y, args)
    if widedeep is not None:
        arms["pytorch-widedeep (c)"] = widedeep
    results = {
        name: {"fit": [], "predict": [], "fit_rss": [], "pred_rss": []} for name in arms
    }
    for fit, predict in arms.values():  # warm-up: allocator, kernels, caches
        fit()
        predict()
    names = list(arms)
    for rep in range(args.repeats):
        # alternate the order so that no arm always runs first or last
        for name in names if rep % 2 == 0 else names[::-1]:
            fit, predict = arms[name]
            t, rss = measure(fit)
            results[name]["fit"].append(t)
            results[name]["fit_rss"].append(rss)
            t, rss = measure(predict)
            results[name]["predict"].append(t)
            results[name]["pred_rss"].append(rss)
            print(
                f"  rep {rep} {name}: fit {results[name]['fit'][-1]:.2f}s "
                f"predict {results[name]['predict'][-1]:.3f}s",
                flush=True,
            )

    n_fit = args.rows * args.epochs
    hand = results["hand loop (a)"]
    print()
    print(
        f"# throughput, {datetime.date.today()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads, device {args.device}"
        f"{' (' + torch.cuda.get_device_name() + ')' if 'cuda' in args.device else ''}"
        f", amp {args.amp}, {network} network"
    )
    print(
        f"# {args.rows} rows, {args.epochs} epochs, batch {args.batch_size}; "
        f"{args.repeats} interleaved repeats: samples/s are medians, ratios are "
        "medians (and ranges) of the ratios paired within each repeat"
    )
    print()
    print(
        "| arm | fit samples/s | fit ratio | predict samples/s | predict ratio "
        "| fit peak RSS (MiB) | predict peak RSS (MiB) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")

    def ratio(arm, key):
        paired = [h / t for h, t in zip(hand[key], arm[key], strict=True)]
        low, high = min(paired), max(paired)
        return f"{statistics.median(paired):.2f} ({low:.2f}-{high:.2f})"

    for name, r in results.items():
        fit_sps = n_fit / statistics.median(r["fit"])
        pred_sps = args.rows / statistics.median(r["predict"])
        print(
            f"| {name} | {fit_sps:,.0f} | {ratio(r, 'fit')} | {pred_sps:,.0f} "
            f"| {ratio(r, 'predict')} | {max(r['fit_rss']) / 2**20:.0f} "
            f"| {max(r['pred_rss']) / 2**20:.0f} |"
        )
    data_mib = sum(a.nbytes for a in arrays.values()) / 2**20
    print(
        f"\n(float32 data: {data_mib:.0f} MiB; pytorch-widedeep "
        f"{'measured' if widedeep else 'not installed'})"
    )


if __name__ == "__main__":
    main()
