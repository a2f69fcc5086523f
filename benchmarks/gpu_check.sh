#!/usr/bin/env bash
# One call on a lent GPU machine: CUDA tests, GPU throughput against the
# hand loop, the distributed (DDP) run, then the whole suite with
# CUDA visible. Every figure goes to ONE file. Under 8 minutes on an H100/H200.
#
# That machine reaches no package registry and has its own python3 with a
# CUDA torch. Bring what it lacks as wheels in ./.whl (see
# benchmarks/README.md, "GPU check"): skorch and pydicom today.
#
#   bash benchmarks/gpu_check.sh [OUTFILE]   (default: $OUT/gpu_check.txt,
#                                             else ./gpu_check.txt)
#
# Without CUDA (a dry run on a CPU machine) the CUDA parts say "skipped" and
# the script still exits 0 when what ran passed.
set -uo pipefail
cd "$(dirname "$0")/.."

out="${1:-${OUT:-.}/gpu_check.txt}"
py="${PYTHON:-python3}"
: >"$out"
status=0

log() { echo "$*" | tee -a "$out"; }

# step NAME SECONDS CMD...: runs CMD under a time limit, output to the file
step() {
    local name="$1" limit="$2"
    shift 2
    log ""
    log "## $name (limit ${limit}s)"
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$out"
    local rc=${PIPESTATUS[0]}
    log "-> $name: exit $rc in $((SECONDS - t0))s"
    if [ "$rc" -ne 0 ]; then status=1; fi
}

if compgen -G ".whl/*.whl" >/dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target /tmp/skfusion-site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/skfusion-site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
export PYTHONUNBUFFERED=1

log "# skfusion GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
command -v nvidia-smi >/dev/null && nvidia-smi -L | tee -a "$out"
"$py" - <<'PY' 2>&1 | tee -a "$out"
import os, platform
import numpy, pandas, sklearn, skorch, torch
import skfusion
print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; torch "
      f"{torch.__version__}, numpy {numpy.__version__}, pandas "
      f"{pandas.__version__}, scikit-learn {sklearn.__version__}, skorch "
      f"{skorch.__version__}, skfusion {skfusion.__version__}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"CUDA {torch.version.cuda}: {torch.cuda.device_count()} x {p.name}, "
          f"{p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs, "
          f"bf16 {torch.cuda.is_bf16_supported()}")
else:
    print("CUDA: not available (dry run: the CUDA parts are skipped)")
PY
n_gpu=$("$py" -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)

# 1. the CUDA tests (on a CPU machine they report as skipped)
step "CUDA tests" 240 "$py" -m pytest -q -p no:cacheprovider -rs \
    tests/test_device.py tests/test_lazy.py tests/preprocessing/test_embed.py \
    tests/preprocessing/test_sentence.py -k "cuda or amp or gpu"

# 2. throughput on the GPU, bf16, against the hand loop (same process)
if [ "$n_gpu" -gt 0 ]; then
    for bs in 256 4096; do
        step "throughput cuda bf16 batch $bs" 150 "$py" benchmarks/throughput.py \
            --device cuda --amp bf16 --batch-size "$bs" --repeats 3
    done
else
    log ""; log "## throughput on cuda: skipped (no GPU)"
fi

# 3. data-parallel training (torch DDP): torchrun, one process per GPU
# (nccl); without a GPU, 2 CPU processes (gloo) as a dry run.
# "$py -m torch.distributed.run" is torchrun for this python.
if [ "$n_gpu" -gt 0 ]; then
    step "DDP, $n_gpu GPU process(es)" 150 "$py" -m torch.distributed.run \
        --standalone --nproc_per_node "$n_gpu" examples/distributed_training.py \
        --out "${TMPDIR:-/tmp}/skfusion-ddp-model.joblib"
else
    step "DDP dry run, 2 CPU processes (gloo)" 120 env OMP_NUM_THREADS=1 \
        "$py" -m torch.distributed.run --standalone --nproc_per_node 2 \
        examples/distributed_training.py --cpu \
        --out "${TMPDIR:-/tmp}/skfusion-ddp-model.joblib"
fi

# 4. the whole suite with CUDA visible (device="auto" picks the GPU): last,
# as it is the longest and its figures are pass/fail only
if [ "$n_gpu" -gt 0 ]; then
    step "whole suite, CUDA visible" 170 env OMP_NUM_THREADS=2 "$py" -m pytest -q \
        -p no:cacheprovider --maxfail 25 --timeout 90 -n 8 -m "not slow" tests
fi

log ""
log "# gpu_check: $([ $status -eq 0 ] && echo 'all steps passed' || echo 'some step FAILED')"
exit $status
