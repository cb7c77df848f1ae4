#!/usr/bin/env bash
# One call on the GPU machine (see docs/gpu.md, "Running it"): what is there, the benchmark, the kernel
# tests; everything lands in $OUT (env.txt, tests.txt, bench.log, <device>.json).
#   bash benchmarks/gpu_session.sh [gpu_bench.py arguments]      e.g. --lengths 16384 --shapes v32-671b
# TEST_S / BENCH_S bound the two steps in seconds (the device allows 10 minutes a call); TEST_K picks
# tests by pytest's -k expression.
set -u
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{
  nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,power.limit,driver_version --format=csv
  python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'
  git rev-parse --short HEAD 2>/dev/null
} 2>&1 | tee "$OUT/env.txt"
dev=$(python3 -c 'import torch; n = torch.cuda.get_device_name(); print("h200" if "H200" in n else "h100")')
timeout "${BENCH_S:-400}" python3 benchmarks/gpu_bench.py --json "$OUT/$dev.json" "$@" 2>&1 | tee "$OUT/bench.log" | tail -n 120
if [ "${TEST_S:-240}" -gt 0 ]; then
  timeout "${TEST_S:-240}" python3 -m pytest -q --maxfail=5 -p no:cacheprovider tests/fast/test_kernels.py \
    -k "${TEST_K:-}" > "$OUT/tests.txt" 2>&1
  echo "tests exit $?" >> "$OUT/tests.txt"
  tail -n 15 "$OUT/tests.txt"
fi
