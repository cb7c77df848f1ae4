"""Write assets/indexers/MODEL_CARD.md from the measured files beside it (never typed by hand).

    python scripts/model_card.py [--check]

Inputs: eval_k{64,128,256}.json (`python -m dsa_core.train.evaluate ... --json`), runs/h200_run1_stage1.json
(stage 1 on the H200, held-out recall of each indexer size) and runs/*.log (stage 2, through
scripts/gpu_table.py). --check exits 1 when the card on disk differs from what the files give.
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
HERE = ROOT / "assets" / "indexers"
sys.path.insert(0, str(ROOT / "scripts"))
from gpu_table import STAGE2_JSON, read, table  # noqa: E402

EVAL_CMD = (
    "python -m dsa_core.train.evaluate assets/texts/eval/handbook_foreword.txt "
    "assets/texts/eval/handbook_internals.txt --k {k} --tokens 2048 --json"
)
KEYS = ("recall_indexer", "recall_oracle", "recall_window", "recall_random", "overlap")


def pct(x):
    return f"{100 * x:+.1f} %"


def layer_table(r):
    rows = ["| layer | " + " | ".join(KEYS) + " |", "|---" * (len(KEYS) + 1) + "|"]
    rows += [f"| {l['layer']} | " + " | ".join(f"{l[k]:.3f}" for k in KEYS) + " |" for l in r["layers"]]
    rows.append("| **mean** | " + " | ".join(f"**{r['mean'][k]:.3f}**" for k in KEYS) + " |")
    return "\n".join(rows)


def k_table(evals):
    rows = [
        "| k | recall_indexer | recall_oracle | indexer / oracle | layers above window | recall_window "
        "| ppl dense | ppl DSA | ppl window | ppl oracle top-k |",
        "|---" * 10 + "|",
    ]
    for k, r in sorted(evals.items()):
        m, p = r["mean"], r["perplexity"]
        rows.append(
            f"| {k} | {m['recall_indexer']:.3f} | {m['recall_oracle']:.3f} | {m['indexer_over_oracle']:.3f} "
            f"| {m['layers_indexer_above_window']}/{len(r['layers'])} | {m['recall_window']:.3f} "
            f"| {p['dense']:.2f} | {p['dsa']:.2f} ({pct(p['dsa_vs_dense'])}) "
            f"| {p['window']:.2f} ({pct(p['window'] / p['dense'] - 1)}) "
            f"| {p['oracle']:.2f} ({pct(p['oracle'] / p['dense'] - 1)}) |"
        )
    return "\n".join(rows)


def size_table(stage1):
    rows = [
        "| size (heads × dim) | MACs per pair (main: 1,152) | steps | recall_indexer | indexer / oracle "
        "| layers above window |",
        "|---|---|---|---|---|---|",
    ]
    for spec, s in stage1.items():
        h, d = (int(v) for v in spec.split("x"))
        m = s["val"]["mean"]
        rows.append(
            f"| {h} × {d} | {h * d} (1/{1152 / (h * d):.1f}) | {s['steps']} | {m['recall_indexer']:.3f} "
            f"| {m['indexer_over_oracle']:.3f} | {m['layers_indexer_above_window']}/30 |"
        )
    return "\n".join(rows)


def recipe():
    from safetensors import safe_open

    with safe_open(str(HERE / "smollm2_stage1.safetensors"), framework="pt") as f:
        return f.metadata()["recipe"]


def card():
    evals = {k: json.loads((HERE / f"eval_k{k}.json").read_text()) for k in (64, 128, 256)}
    stage1 = json.loads((HERE / "runs" / "h200_run1_stage1.json").read_text())["stage1"]
    e = evals[128]
    m, p = e["mean"], e["perplexity"]
    s = stage1["4x64"]
    runs = read(sorted((HERE / "runs").glob("*.log")))
    after = runs["DSA k=128"]["after"]
    control = runs["dense control"]["after"]["dense"]
    ok = lambda cond: "**met**" if cond else "**missed**"
    return f"""# Model card: stage-1 lightning indexers for SmolLM2-135M-Instruct (Q4_1)

*Written by `python scripts/model_card.py` from the measured files in this folder; do not edit by hand.*

`smollm2_stage1.safetensors`: one lightning indexer per layer (30), 4 heads × 64 dims (256
multiply-adds per query-key pair, 2/9 of the main attention's 1,152), queries from the hidden state,
keys LayerNorm'd, RoPE on the first 32 dims, as in `dsa_core.indexer.LightningIndexer`. Loaded by
default with the embedded model (`dsa_core.host.indexers.load_default_indexers`).

## Recipe: DeepSeek-V3.2-Exp stage 1 "dense warm-up", scaled down (docs/training.md)
- Model frozen, dense attention. Each layer's indexer learns KL(p ‖ softmax(I)), p the head-summed,
  L1-normalised dense attention of the same layer over the causal prefix
  (`dsa_core.train.losses.dense_warmup_loss`), teacher and inputs detached.
- Data: Debian documentation text, linux-doc-6.1 (GPL-2), python3.11-doc (PSF), perl-doc
  (GPL-1+/Artistic), fortunes (BSD-style/various), plus a little text the model wrote itself;
  extracted by `scripts/data_debian.py`, cut into 2,048-token windows by `scripts/gpu_pack.py`.
  Stage 1 used 512 windows (1.05M tokens).
- Training on one H200 (`scripts/gpu_train.py`): {s["steps"]} steps × 8 windows × 512 queries,
  AdamW lr 1e-3 with warm-up and cosine decay, seed 0, {s["seconds_per_step"]:.2f} s per step
  (about 3 minutes). Recipe string in the file: "{recipe()}".

## Indexer size (held-out Debian validation windows, k = 128, same run)
{size_table(stage1)}

4 × 64 is shipped: it meets every target below; 1 × 64 is as "lightning" as DeepSeek's (1/18 of the
main attention) and misses by one layer. An earlier CPU ablation (layers 3, 14, 25, 150 steps) is
in `scripts/train_ablation.py`.

## Evaluation: held-out text (two Debian Administrator's Handbook chapters, CC-BY-SA-3.0, not trained on)
Command: `{EVAL_CMD.format(k=128)}` ({e["seconds"]:.0f} s on the 2-core CPU). Full JSON: `eval_k128.json`
(and `eval_k64.json`, `eval_k256.json` with `--k 64` / `--k 256`).

{layer_table(e)}

### Every budget
{k_table(evals)}

Perplexity is over all 2 × 2,047 predictions; "oracle top-k" keeps, in every layer, the k keys of
largest head-mean dense attention (a reference, not an upper bound on perplexity: the indexer
beats it).

## Against the targets (k = 128, 2,048 tokens)
- recall_indexer / recall_oracle = {m["indexer_over_oracle"]:.3f} (target ≥ 0.95): {ok(m["indexer_over_oracle"] >= 0.95)}.
- recall_indexer above recall_window in {m["layers_indexer_above_window"]} of {len(e["layers"])} layers (target: all): {ok(m["layers_indexer_above_window"] == len(e["layers"]))}.
- Perplexity with DSA in every layer {pct(p["dsa_vs_dense"])} over dense (target ≤ +3 %): {ok(p["dsa_vs_dense"] <= 0.03)}.
- Stretch, ≤ +1 % after stage 2: {pct(after["dsa"] / after["dense"] - 1)} against the same fine-tuned
  model run densely ({ok(after["dsa"] / after["dense"] - 1 <= 0.01)}), {pct(after["dsa"] / control - 1)} against the dense control
  ({ok(after["dsa"] / control - 1 <= 0.01)}).

## Stage 2: sparse training (measured, model weights not shipped)
`dsa_core.train.stage2.train_sparse` on one H200: DSA in every layer, the model trained with the LM
loss (lr 2e-5), each indexer with the KL on its selected set (lr 1e-4, input detached), 150 steps ×
8 windows × 2,048 tokens, starting from this file's indexers. The dense control trains the same way
with dense attention. Held-out perplexity (same texts and tokens as above; `python scripts/gpu_table.py`):

{table(runs)}

Reading: stage 1 alone costs {pct(p["dsa_vs_dense"])} at k = 128. Fine-tuning on Debian text lowers
every perplexity on these Debian Handbook chapters by about {-100 * (control / p["dense"] - 1):.0f} % (the dense control), so compare
stage 2 with the references on its right: DSA after stage 2 is within {pct(after["dsa"] / control - 1)} of the dense control
at k = 128, while the dense control with this file's indexers plugged in (no sparse training) gives
{runs["dense control"]["after"]["dsa"]:.2f} ({pct(runs["dense control"]["after"]["dsa"] / control - 1)}): sparse training itself is what closes most of the gap. Only 150 steps (2.5M tokens) were run per budget, against DeepSeek's 15,000 steps of
480 × 128K tokens; the fine-tuned weights (540 MB) were not brought back from the GPU machine.
"""


def main():
    text = card()
    path = HERE / "MODEL_CARD.md"
    if "--check" in sys.argv:
        if path.read_text() != text:
            print("MODEL_CARD.md is out of date: run python scripts/model_card.py")
            return 1
        if json.loads(STAGE2_JSON.read_text()) != read(sorted((HERE / "runs").glob("*.log"))):
            print("stage2.json differs from the run logs: run python scripts/gpu_table.py --write")
            return 1
        return 0
    path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
