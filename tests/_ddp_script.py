"""The fits of tests/test_ddp.py, run in each process of a data-parallel job.

``python -m torch.distributed.run --standalone --nproc_per_node 2
tests/_ddp_script.py OUT_DIR`` runs every fit of :data:`FITS` in each
process and writes ``OUT_DIR/rank<r>.json`` (loss curves, predictions, the
rows of every batch the net trained and validated on) and
``OUT_DIR/rank<r>.pt`` (each fit's final weights). The test runs the same
fits in one process with :func:`run_fits` and compares.

The rows are observed in the net's own ``on_batch_begin`` (wrapped here):
column 0 of ``X["tab"]`` is the row's position divided by :data:`N_ROWS`,
so each batch that reaches a training step names its rows.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

N_ROWS = 97
#: Small networks without randomness per batch (dropout=0 draws nothing),
#: so one process and two differ only in the order of float sums.
COMMON = dict(
    latent_dim=8,
    hidden_dims=(16,),
    head_dims=(16,),
    dropout=0.0,
    modality_dropout=0.0,
    n_threads=1,
)
FITS = {
    # 97 = 6 x 15 + 7: every global batch splits unevenly (8 + 7, 4 + 3)
    "uneven": dict(batch_size=15, max_epochs=4, random_state=0),
    # 20 validation rows, 77 = 4 x 19 + 1 training rows: the last batch has
    # one row and the second process's part of it is empty
    "early_stopping": dict(
        batch_size=19,
        max_epochs=4,
        random_state=1,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=10,
    ),
    # each process draws its own seed; contrastive pretraining first (a
    # module that returns embeddings; the head gets no gradient there)
    "unseeded": dict(
        batch_size=16,
        max_epochs=2,
        random_state=None,
        early_stopping=True,
        validation_fraction=0.2,
        pretrain_epochs=2,
    ),
    # the Cox loss couples a batch's rows (risk sets): each process's part
    # has its own loss, averaged; 97 = 4 x 24 + 1, an empty part again
    "cox": dict(batch_size=24, max_epochs=2, random_state=2),
}


def make_data(survival=False):
    """A dict X of two modalities and a binary y (or a survival target);
    column 0 of "tab" is the row's position / N_ROWS."""
    from skfusion.metrics import survival_array

    rng = np.random.default_rng(0)
    tab = rng.normal(size=(N_ROWS, 6)).astype(np.float32)
    tab[:, 0] = np.arange(N_ROWS, dtype=np.float32) / N_ROWS
    img = rng.normal(size=(N_ROWS, 5)).astype(np.float32)
    risk = tab[:, 1] + img[:, 0]
    y = (risk + 0.5 * rng.normal(size=N_ROWS) > 0).astype(int)
    if survival:
        time = rng.exponential(np.exp(-risk))
        y = survival_array(time < np.quantile(time, 0.7), time)
    return {"tab": tab, "img": img}, y


def _estimator(name, params):
    from skfusion import CrossModalClassifier, CrossModalSurvival

    if name == "cox":
        return CrossModalSurvival(**COMMON, **params), make_data(survival=True)
    return CrossModalClassifier(**COMMON, **params), make_data()


def _predict(model, X):
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)[:, 1]
    return np.asarray(model.predict(X), dtype=float)  # Cox: the risk score


def run_fits(before_fit=None):
    """Fit every model of FITS on :func:`make_data` (calling
    ``before_fit(name)`` first); returns ``{name: results}`` and
    ``{name: state_dict}``."""
    results, weights = {}, {}
    for name, params in FITS.items():
        if before_fit is not None:
            before_fit(name)
        model, (X, y) = _estimator(name, params)
        model.fit(X, y)
        results[name] = {
            "loss_curve": [float(v) for v in model.loss_curve_],
            "validation_loss_curve": [
                float(v) for v in getattr(model, "validation_loss_curve_", [])
            ],
            "pretrain_loss_curve": [
                float(v) for v in getattr(model, "pretrain_loss_curve_", [])
            ],
            "prediction": _predict(model, X).tolist(),
            # the last epoch's batches in the history: global row counts
            "history_batch_rows": [
                b["train_batch_size"]
                for b in model.net_.history[-1, "batches"]
                if "train_batch_size" in b
            ],
            "plain_module": type(model.net_.module_).__name__,
        }
        weights[name] = {
            k: v.detach().cpu().clone()
            for k, v in model.net_.module_.state_dict().items()
        }
    return results, weights


def recorder(seen):
    """A WeightedNet.on_batch_begin that appends each batch's fit, net,
    epoch, training flag and rows to ``seen``, then does skorch's work."""
    from skfusion._training import WeightedNet

    original = WeightedNet.on_batch_begin

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        ids = torch.round(batch[0]["tab"][:, 0].double() * N_ROWS).long()
        seen.append(
            {
                "fit": seen.fit,
                "net": type(net).__name__,
                "epoch": len(net.history),
                "training": bool(training),
                "rows": ids.tolist(),
            }
        )
        return original(self, net, batch=batch, training=training, **kwargs)

    return on_batch_begin


class Seen(list):
    """The recorded batches; ``fit`` names the fit that runs."""

    fit = None


def row_mismatch():
    """A fit where the second process has one row fewer: the message of
    the error that every process raises (None if none does)."""
    from skfusion import CrossModalClassifier

    X, y = make_data()
    if int(os.environ["RANK"]) == 1:
        X, y = {k: v[:-1] for k, v in X.items()}, y[:-1]
    try:
        CrossModalClassifier(**COMMON, max_epochs=1).fit(X, y)
    except ValueError as error:
        return str(error)
    return None


def main(out):
    rank = int(os.environ["RANK"])
    from skfusion._training import WeightedNet

    seen = Seen()
    WeightedNet.on_batch_begin = recorder(seen)
    results, weights = run_fits(lambda name: setattr(seen, "fit", name))
    results["row_mismatch"] = row_mismatch()
    results["world_size"] = torch.distributed.get_world_size()
    results["seen"] = list(seen)
    out = Path(out)
    (out / f"rank{rank}.json").write_text(json.dumps(results))
    torch.save(weights, out / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
