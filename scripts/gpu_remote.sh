#!/usr/bin/env bash
# Steps run on the GPU machine (no network, 64 MiB per call, 10 min per call, warm 30 s between calls):
#   bash scripts/gpu_remote.sh part0        # call 1 (carry .gpu/part0 .gpu/tokens.npz .gpu/site): keep part0, smoke test
#                                           #   (with gpu_pack.py --parts 3: carry part0, then part1 alone, same step)
#                                           #   (or carry .gpu/part0 .gpu/stage1: keep both, --stage1-from /tmp/dsa/stage1/FILE later)
#   bash scripts/gpu_remote.sh start ARGS   # call 2 (carry .gpu/part1 .gpu/tokens.npz .gpu/site): join, run in background
#   bash scripts/gpu_remote.sh family ARGS  # instead of start: scripts/gpu_family.py (the DSA family at 8,192
#                                           #   tokens and a compressed-key indexer), run in background
#   bash scripts/gpu_remote.sh wait         # call 3, 4, ...: wait for the run, copy what it wrote to $OUT;
#                                           #   once it is over, time the evaluate CLI with --device cuda
# The run itself is scripts/gpu_train.py; it outlives a call (setsid) so stage 1 + stage 2 may take
# longer than one call's 10 minutes while the machine stays held by the next call.
set -u
W=/tmp/dsa
export PYTHONPATH="$PWD/.gpu/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$W"

collect() {   # copy results (at most 8 files come back: the JSONs, the log, the stage-1 files) and the log tail
  cp "$W"/out/*.json "$W"/out/stage1_*.safetensors "$W"/out/smollm2_*.safetensors "$OUT"/ 2>/dev/null
  cp "$W"/log "$OUT"/gpu_train.log 2>/dev/null
  tail -n 30 "$W"/log
}

cli_eval() {  # once the run is over: time `python -m dsa_core.train.evaluate --device cuda` itself
  local best
  best=$(python3 -c "import json; print(json.load(open('$W/out/gpu_train.json'))['stage2_from'])") || return
  (cd "$W"/repo && DSA_CACHE_DIR="$W"/cache python3 -m dsa_core.train.evaluate assets/texts/eval/long_*.txt \
     --k 128 --tokens 8192 --device cuda --model "$W"/model.gguf --indexers "$W/out/stage1_$best.safetensors" \
     --json > "$OUT"/eval_cli_cuda.json) && python3 -c "import json; d=json.load(open('$OUT/eval_cli_cuda.json')); \
     print('CLI evaluate --device cuda:', d['device'], d['seconds'], 's', d['mean']['indexer_over_oracle'])"
}

wait_run() {  # until the run ends or $1 seconds pass
  local limit=$1
  while [ "$SECONDS" -lt "$limit" ] && kill -0 "$(cat $W/pid)" 2>/dev/null; do sleep 5; done
  if kill -0 "$(cat $W/pid)" 2>/dev/null; then echo "STILL RUNNING after $SECONDS s"; else echo "FINISHED"; fi
  collect
}

case "$1" in
  part0)
    for p in .gpu/part[0-9]; do [ -f "$p" ] && cp "$p" "$W"/; done; mkdir -p "$W"/stage1 && cp .gpu/stage1/* "$W"/stage1/ 2>/dev/null; ls -la "$W" "$W"/stage1
    [ -f .gpu/tokens.npz ] || exit 0       # a call that carries part0 and a stage-1 file has no room for the tokens
    nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
    python3 -c "import torch, numpy, tokenizers, safetensors, yaml, gguf; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
    python3 scripts/gpu_train.py --smoke --out "$OUT"/smoke --steps 3 --probe-steps 2 --stage2-steps 2 \
      --configs 4x64r32,4x64r64,4x64r32w --ks 128 --val-windows 1 --batch 2 --stage2-batch 2 \
      --eval-ks 128 --short-ks 128 2>&1 | tail -n 25; rm -f "$OUT"/smoke/*.safetensors
    ;;
  start|family)
    job=$1; shift
    [ -f "$W"/part0 ] || { echo "part0 missing: this is a fresh machine, run 'part0' first"; exit 3; }
    for p in .gpu/part[0-9]; do [ -f "$p" ] && cp "$p" "$W"/; done
    cat "$W"/part[0-9] > "$W"/model.gguf
    (cd "$W" && sha256sum -c "$OLDPWD"/.gpu/gguf.sha256) || exit 4
    mkdir -p "$W"/out
    cp -r . "$W"/repo 2>/dev/null   # the run reads code from a copy that the next call's sync cannot touch
    script=scripts/gpu_train.py; [ "$job" = family ] && script=scripts/gpu_family.py
    (cd "$W"/repo && DSA_CACHE_DIR="$W"/cache setsid bash -c 'echo $$ > "$0"; exec "$@"' "$W"/pid python3 "$script" \
       --gguf "$W"/model.gguf --data .gpu/tokens.npz --out "$W"/out "$@" > "$W"/log 2>&1 < /dev/null &)
    sleep 2
    wait_run 560
    ;;
  wait)
    [ -f "$W"/pid ] || { echo "no run on this machine (fresh machine?)"; exit 3; }
    wait_run 570
    [ -f "$W"/out/gpu_train.json ] || exit 0   # a family run has no CLI step
    kill -0 "$(cat $W/pid)" 2>/dev/null || [ "$SECONDS" -gt 540 ] || cli_eval
    ;;
esac
