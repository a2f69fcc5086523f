"""Data-parallel training (torch DDP under torchrun): 2 CPU processes, gloo.

One ``torchrun`` job of 2 processes (tests/_ddp_script.py) runs the fits
of ``_ddp_script.FITS``; this process runs the same fits alone and
compares. Two processes cannot equal one bit for bit: DDP sums the two
processes' gradients (and the epoch loss is summed across them) in
another order than one process sums the rows, so float32 results differ
in the last bits; Adam's steps carry that on. Measured: 6e-8 relative on
the loss curves, 4e-8 on the predictions, after 4 epochs. The tests
assert ``rtol=1e-5`` (and ``atol=1e-6`` on probabilities): two orders of
magnitude above float error, far below any real difference (another seed
moves the loss by 3e-2).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import _ddp_script as script
import joblib
import numpy as np
import pytest
import torch
from torch import distributed as dist

from skfusion import CrossModalClassifier
from skfusion._batching import EpochBatches
from skfusion._distributed import distributed_context, local_device
from skfusion._threads import resolve_threads, thread_budget
from skfusion._training import WeightedNet, make_net

WORLD = 2
SCRIPT = Path(script.__file__)
JOB_ENV = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """The 2-process run: each rank's results and final weights."""
    out = tmp_path_factory.mktemp("ddp")
    env = {k: v for k, v in os.environ.items() if k not in JOB_ENV}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(SCRIPT.parents[1]))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", str(WORLD), str(SCRIPT), str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = [json.loads((out / f"rank{r}.json").read_text()) for r in range(WORLD)]
    weights = [torch.load(out / f"rank{r}.pt") for r in range(WORLD)]
    return results, weights


@pytest.fixture(scope="module")
def alone():
    """The same fits in one process, with the batches each trained on."""
    seen = script.Seen()
    with pytest.MonkeyPatch.context() as patch:
        for key in JOB_ENV:
            patch.delenv(key, raising=False)
        patch.setattr(WeightedNet, "on_batch_begin", script.recorder(seen))
        results, weights = script.run_fits(lambda name: setattr(seen, "fit", name))
    return results, weights, list(seen)


def _flat(batches):
    return [row for rows in batches for row in rows]


def _batches(seen, fit, training=True, net="WeightedNet"):
    """{epoch: [rows of each batch]} of one fit."""
    epochs = {}
    for batch in seen:
        if (batch["fit"], batch["training"], batch["net"]) == (fit, training, net):
            epochs.setdefault(batch["epoch"], []).append(batch["rows"])
    return epochs


@pytest.mark.parametrize("fit", ["uneven", "early_stopping"])
def test_two_processes_train_as_one_with_the_same_global_batch(job, alone, fit):
    (ranks, rank_weights), (reference, weights, _) = job, alone
    assert ranks[0]["world_size"] == WORLD
    for rank in ranks:
        got, want = rank[fit], reference[fit]
        assert len(got["loss_curve"]) == len(want["loss_curve"]) == 4
        np.testing.assert_allclose(got["loss_curve"], want["loss_curve"], rtol=1e-5)
        np.testing.assert_allclose(
            got["validation_loss_curve"], want["validation_loss_curve"], rtol=1e-5
        )
        np.testing.assert_allclose(
            got["prediction"], want["prediction"], rtol=1e-5, atol=1e-6
        )
        # the module is unwrapped after training: every rank predicts
        assert got["plain_module"] == "CrossModalNet"
    assert ranks[0][fit] == ranks[1][fit]  # history and predictions: bitwise
    rows = {"uneven": [15] * 6 + [7], "early_stopping": [19] * 4 + [1]}[fit]
    assert ranks[0][fit]["history_batch_rows"] == rows
    assert reference[fit]["history_batch_rows"] == rows
    for name, value in weights[fit].items():
        assert torch.equal(rank_weights[0][fit][name], rank_weights[1][fit][name])
        np.testing.assert_allclose(rank_weights[0][fit][name], value, atol=1e-6)
    # training moves the loss 100 times more than the tolerance
    curve = reference[fit]["loss_curve"]
    assert (curve[0] - curve[-1]) / curve[0] > 1e-3


def test_ranks_train_on_disjoint_parts_of_the_one_process_batches(job, alone):
    ranks, _ = job
    seen = [_batches(rank["seen"], "uneven") for rank in ranks]
    reference = _batches(alone[2], "uneven")
    assert sorted(seen[0]) == sorted(reference) == [1, 2, 3, 4]
    for epoch, batches in reference.items():
        parts = [seen[0][epoch], seen[1][epoch]]
        assert len(parts[0]) == len(parts[1]) == len(batches) == 7
        for b, rows in enumerate(batches):
            # one permutation: rank 0 has the first part of the global batch
            assert parts[0][b] + parts[1][b] == rows
            assert [len(parts[0][b]), len(parts[1][b])] == (
                [8, 7] if len(rows) == 15 else [4, 3]
            )
        rows0, rows1 = (_flat(p) for p in parts)
        assert not set(rows0) & set(rows1)
        assert sorted(rows0 + rows1) == list(range(script.N_ROWS))
    assert reference[1] != reference[2]  # a new order each epoch


@pytest.mark.parametrize("fit", ["early_stopping", "unseeded"])
def test_every_rank_validates_on_the_same_whole_split(job, fit):
    ranks, _ = job
    valid = [_batches(rank["seen"], fit, training=False) for rank in ranks]
    assert valid[0] == valid[1]  # same split (random_state=None too), unsharded
    valid_rows = set(_flat(valid[0][1]))
    assert len(valid_rows) == 20  # validation_fraction=0.2 of 97
    train = [_batches(rank["seen"], fit) for rank in ranks]
    for epoch in train[0]:
        rows0, rows1 = (_flat(t[epoch]) for t in train)
        assert not set(rows0) & set(rows1)
        assert set(rows0) | set(rows1) == set(range(script.N_ROWS)) - valid_rows
    if fit == "early_stopping":  # 77 = 4 x 19 + 1: rank 1's last part is empty
        assert [len(part) for part in train[1][1]] == [9, 9, 9, 9, 0]


def test_pretraining_and_an_unseeded_fit_agree_across_ranks(job):
    (ranks, weights) = job
    got = [rank["unseeded"] for rank in ranks]
    assert got[0] == got[1]  # curves (pretraining's too) and predictions
    assert len(got[0]["pretrain_loss_curve"]) == 2
    for name, value in weights[0]["unseeded"].items():
        assert torch.equal(value, weights[1]["unseeded"][name])
    pretraining = [
        _batches(rank["seen"], "unseeded", net="PretrainNet") for rank in ranks
    ]
    for epoch in (1, 2):  # every row has both modalities: all rows pretrain
        rows0, rows1 = (_flat(p[epoch]) for p in pretraining)
        assert sorted(rows0 + rows1) == list(range(script.N_ROWS))


def test_a_loss_that_couples_rows_trains_on_each_part(job):
    # Cox: not equal to one process (risk sets within a part), but finite
    # with an empty part, and the same model on every rank
    ranks, weights = job
    curve = ranks[0]["cox"]["loss_curve"]
    assert len(curve) == 2 and np.isfinite(curve).all()
    assert ranks[0]["cox"] == ranks[1]["cox"]
    assert all(
        torch.equal(v, weights[1]["cox"][k]) for k, v in weights[0]["cox"].items()
    )


def test_processes_with_different_rows_are_refused(job):
    ranks, _ = job
    for rank in ranks:
        message = rank["row_mismatch"]
        assert "needs the same rows on every process" in message
        assert "97" in message and "96" in message


def test_epoch_batches_shard_one_permutation(monkeypatch):
    torch.manual_seed(0)
    whole = list(EpochBatches(23, 5, shuffle=True))
    drawn = []

    def broadcast(tensor):  # rank 0 draws; the others receive its draw
        if not drawn:
            drawn.append(tensor.clone())
        return drawn[0].clone()

    monkeypatch.setattr("skfusion._batching.broadcast_from_rank0", broadcast)
    parts = []
    for rank in range(3):
        torch.manual_seed(0)
        sampler = EpochBatches(23, 5, shuffle=True, shard=(rank, 3))
        assert len(sampler) == 5  # global batches, the same on every rank
        parts.append(list(sampler))
    for b, rows in enumerate(whole):
        assert torch.equal(torch.cat([p[b] for p in parts]), rows)
    assert [len(p[-1]) for p in parts] == [1, 1, 1]  # the last batch: 3 rows
    assert [len(p[0]) for p in parts] == [2, 2, 1]
    # in order, sharded without a broadcast; a world of 1 is no shard
    ordered = list(EpochBatches(4, 3, shuffle=False, shard=(1, 2)))
    assert [r.tolist() for r in ordered] == [[2], []]
    assert EpochBatches(4, 3, shuffle=False, shard=(0, 1)).shard is None


def test_differential_privacy_is_refused_in_a_job(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    X, y = script.make_data()
    model = CrossModalClassifier(dp_epsilon=1.0, max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"dp_epsilon is not supported in a distri"):
        model.fit(X, y)
    assert not dist.is_initialized()  # refused before joining any group


def test_without_a_job_nothing_changes(monkeypatch):
    for key in JOB_ENV:
        monkeypatch.delenv(key, raising=False)
    assert distributed_context() is None
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed_context() is None
    X, y = script.make_data()
    model = CrossModalClassifier(**script.COMMON, max_epochs=1).fit(X, y)
    names = [name for name, _ in model.net_.callbacks_]
    assert "distributed" not in names and "data_parallel" not in names
    assert type(model.net_.module_).__name__ == "CrossModalNet"
    assert thread_budget() == torch.get_num_threads()
    assert local_device("cuda") == "cuda"


def test_a_job_gives_each_local_process_its_share(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "3")
    context = distributed_context()
    assert (context.world, context.rank, context.local_rank) == (4, 0, 3)
    share = max(1, joblib.cpu_count() // 2)
    assert thread_budget() == share
    image = [type("Spec", (), {"kind": "image", "shape": (3, 64, 64)})()]
    params = {"latent_dim": 32, "cnn_channels": (16, 32)}
    assert resolve_threads("auto", image, params) == share
    assert resolve_threads(3, image, params) == 3  # an int is used as given
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert local_device("cuda") == "cuda:1"  # LOCAL_RANK 3 of 2 visible GPUs
    assert local_device("cpu") == "cpu"


def test_make_net_adds_the_data_parallel_callbacks_in_a_job(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    params = CrossModalClassifier(early_stopping=True, progress=True).get_params()
    params.update(wide_lr=0.1, estimator_name="test")
    net = make_net(
        torch.nn.Linear(2, 1), torch.nn.MSELoss, params, seed=0, stratify=False
    )
    names = [name for name, _ in net.callbacks]
    # first: the global loss before the bar and early stopping read it;
    # last: unwrap after early stopping restored the best weights
    assert names[0] == "distributed" and names[-1] == "data_parallel"
    assert names.index("early_stopping") < names.index("data_parallel")


def test_buffers_are_broadcast_only_for_running_statistics():
    from skfusion._distributed import _buffer_sync

    batch_norm = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    assert list(_buffer_sync(batch_norm).values()) == [True]
    X, y = script.make_data()
    model = CrossModalClassifier(**script.COMMON, max_epochs=1).fit(X, y)
    assert len(list(model.net_.module_.buffers())) > 0  # the statistics
    assert list(_buffer_sync(model.net_.module_).values()) == [False]
