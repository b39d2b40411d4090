#!/usr/bin/env bash
# Issue 5's GPU checks in one go, for a CUDA machine without e3lab installed (the device tool's image: python3
# with a CUDA torch, Triton and e3nn; cuEquivariance optional on PYTHONPATH). From the repository root:
#     bash scripts/gpu_check.sh [out_dir]     (default experiments/benchmarks)
# 1. the side-by-side GPU benchmark (Triton autotuning printed), 2. the CUDA tests (Triton kernels compiled,
# one candidate configuration each: E3LAB_TRITON_AUTOTUNE=0; native radius graph).
set -uo pipefail
out=${1:-experiments/benchmarks}
export PYTHONPATH="$PWD/src:$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
python3 -c "import torch, triton, e3nn; print('torch', torch.__version__, 'triton', triton.__version__, 'e3nn', e3nn.__version__)"
python3 -c "import cuequivariance_torch as c, cuequivariance_ops_torch; print('cuequivariance_torch', c.__version__)" \
    || echo "cuEquivariance not importable: its rows are skipped"
TRITON_PRINT_AUTOTUNING=1 timeout "${BENCH_TIMEOUT:-300}" python3 scripts/bench.py --device cuda --no-compile \
    --repeats "${REPEATS:-3}" --cases "${CASES:-tp_uvu,tp_seed,conv_uvu_graph,conv_seed_graph,sh_l2,sh_l6}" \
    --tag "${TAG:-bench_gpu_round5}" --out-dir "$out"
E3LAB_TRITON_AUTOTUNE=0 timeout "${TEST_TIMEOUT:-240}" python3 -m pytest -q -p no:cacheprovider -m cuda \
    --durations=8 tests/o3/test_tensor_product_triton.py tests/graph
