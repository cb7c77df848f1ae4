"""Write assets/indexers/MODEL_CARD.md from the measured files beside it (never typed by hand).

    python scripts/model_card.py [--check]

Inputs: eval_8192_k{64,128,256,512}.json and eval_8192_k128_trained_2048.json (the held-out long
texts, on the H200), eval_k{64,128,256}.json (2,048 tokens, `python -m dsa_core.train.evaluate ...
--json` on the CPU), runs/h200_run3_8192.{json,log} (the shipped stage 1 and stage 2 at 8,192
tokens), runs/h200_run4_study.json (the equal-steps study),
runs/h200_run1_stage1.json (the indexer-size study at 2,048 tokens), data_check_*.json (training data
and its overlap with the evaluation texts), cpu_times.json (CPU evaluation timings),
runs/h200_run6_family_{8192,2048}.json (the DSA family with these indexers, the compressed member also
with smollm2_compressed_c4.safetensors) and runs/h200_run5_compressed_train.json (how that file was trained).
--check exits 1 when the card on disk differs from what the files give.
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
HERE = ROOT / "assets" / "indexers"
sys.path.insert(0, str(ROOT / "scripts"))
from gpu_table import RUN, STAGE2_JSON, read, table  # noqa: E402

EVAL_CMD = (
    "python -m dsa_core.train.evaluate assets/texts/eval/handbook_foreword.txt "
    "assets/texts/eval/handbook_internals.txt --k {k} --tokens 2048 --json"
)
LONG_CMD = (
    "python -m dsa_core.train.evaluate assets/texts/eval/long_gpl3.txt "
    "assets/texts/eval/long_handbook_virtualization.txt assets/texts/eval/long_python_ftplib.txt "
    "--k {k} --tokens 8192 --json [--device cuda]"
)
FAMILY_CMD = (
    "python -m dsa_core.evaluate {files} --k 128 --tokens {tokens} "
    "--variant token,block,compressed,compressed-trained,shared,shared-overlap --device cuda --json"
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


def study_table(stage1):
    buckets = list(next(iter(stage1.values()))["val"]["mean"]["by_position"])
    rows = [
        "| run | size | RoPE dims | prefixes | start | steps | indexer / oracle | "
        + " | ".join(f"at {b}" for b in buckets)
        + " | layers above window |",
        "|---" * (8 + len(buckets)) + "|",
    ]
    for spec, s in stage1.items():
        m = s["val"]["mean"]
        share = s.get("short_share", 0.0)
        lengths = {0.0: "≤ 8,192", 1.0: "≤ 2,048 only"}.get(share, f"{share:.0%} ≤ 2,048, rest ≤ 8,192")
        start = "2,048-token release" if s["warm_start"] else "fresh"
        size = spec.split("r")[0].replace("x", " × ")
        rows.append(
            f"| {spec} | {size} | {s['rope_dims']} | {lengths} | {start} | {s['steps']} "
            f"| {m['indexer_over_oracle']:.4f} | "
            + " | ".join(f"{m['by_position'][b]['indexer_over_oracle']:.4f}" for b in buckets)
            + f" | {m['layers_indexer_above_window']}/30 |"
        )
    return "\n".join(rows)


def position_table(reports):
    buckets = list(next(iter(reports.values()))["mean"]["by_position"])
    rows = [
        "| indexers | " + " | ".join(f"{b}: ratio, layers > window" for b in buckets) + " |",
        "|---" * (1 + len(buckets)) + "|",
    ]
    for name, r in reports.items():
        bp = r["mean"]["by_position"]
        cells = [
            f"{bp[b]['indexer_over_oracle']:.3f}, {bp[b]['layers_indexer_above_window']}/30" for b in buckets
        ]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def family_table(rep):
    """One row per member of a `python -m dsa_core.evaluate --variant ... --json` report, with its weights."""
    ideal = sum(rep["ideal_recall"]) / len(rep["ideal_recall"])
    rows = [
        "| member | indexers | mean recall | ÷ ideal top-k | perplexity | vs dense | indexer MFLOP / token |",
        "|---|---|---|---|---|---|---|",
        f"| ideal top-k (reference) | — | {ideal:.3f} | 1.000 | — | — | — |",
        f"| dense | — | — | — | {rep['dense_perplexity']:.3f} | — | 0 |",
    ]
    for v in rep["variants"].values():
        rows.append(
            f"| {v['label']} | `{v['weights'] or rep['indexers']['file']}` | {v['mean_recall']:.3f} "
            f"| {v['mean_recall'] / ideal:.3f} | {v['perplexity']:.3f} | {pct(v['vs_dense'])} "
            f"| {v['indexer_flops_per_token'] / 1e6:.2f} |"
        )
    return "\n".join(rows)


def files_arg(rep):
    return " ".join("assets/texts/eval/" + pathlib.Path(f["file"]).name for f in rep["files"])


def recipe():
    from safetensors import safe_open

    with safe_open(str(HERE / "smollm2_stage1.safetensors"), framework="pt") as f:
        meta = f.metadata()
    return meta["recipe"], json.loads(meta["config"])


def load(name):
    return json.loads((HERE / name).read_text())


def card():
    short = {k: load(f"eval_k{k}.json") for k in (64, 128, 256)}
    long = {k: load(f"eval_8192_k{k}.json") for k in (64, 128, 256, 512)}
    before = load("eval_8192_k128_trained_2048.json")
    old_short = load("runs/h200_run3_eval.json")["smollm2_stage1.safetensors k=128 T=2048"]
    run = load("runs/h200_run3_8192.json")
    study = load("runs/h200_run4_study.json")

    def cpu_time(key):  # measured on the shared 2-core machine, with its load at the time
        t = cpu.get(key)
        return f"{t['seconds']:.0f} s ({t['load']})" if t else "not measured in this release"

    def q(spec, bucket=None):  # a study run's held-out recall ratio, overall or in one bucket
        m = study["stage1"][spec]["val"]["mean"]
        return f"{(m['by_position'][bucket] if bucket else m)['indexer_over_oracle']:.4f}"

    size = load("runs/h200_run1_stage1.json")["stage1"]
    data = load("data_check_train.json")
    cpu = load("cpu_times.json") if (HERE / "cpu_times.json").exists() else {}
    cli = load("eval_cli_cuda.json")
    e, e2 = long[128], short[128]
    m, p, m2, p2 = e["mean"], e["perplexity"], e2["mean"], e2["perplexity"]
    p512 = long[512]["perplexity"]
    pb = before["perplexity"]
    shipped = run["stage1"][run["stage2_from"]]
    rec, shape = recipe()
    runs = read([RUN])
    after, control = runs["DSA k=128"]["after"], runs["dense control"]["after"]
    ok = lambda cond: "**met**" if cond else "**missed**"
    shared = max(c["shared"] for c in data["eval_overlap"].values())
    n_long = sum(v for key, v in data["windows"].items() if key.endswith("/long"))
    n_win = sum(data["windows"].values())
    s2 = {r["run"]: r for r in run["stage2"]}
    fam = {T: load(f"runs/h200_run6_family_{T}.json") for T in (8192, 2048)}
    ctrain = load("runs/h200_run5_compressed_train.json")
    fv = {T: fam[T]["variants"] for T in fam}
    cv = {T: fam[T]["variants"]["compressed-trained"] for T in fam}
    vmean = lambda key: sum(ctrain[key]) / len(ctrain[key])  # noqa: E731
    return f"""# Model card: stage-1 lightning indexers for SmolLM2-135M-Instruct (Q4_1), 8,192-token context

*Written by `python scripts/model_card.py` from the measured files in this folder; do not edit by hand.*

`smollm2_stage1.safetensors`: one lightning indexer per layer (30), {shape["index_n_heads"]} heads ×
{shape["index_head_dim"]} dims (256 multiply-adds per query-key pair, 2/9 of the main attention's 1,152),
queries from the hidden state, keys LayerNorm'd, RoPE on the first {shape["index_rope_head_dim"]} dims
(recorded in the file), as in `dsa_core.indexer.LightningIndexer`. Trained at the model's full
8,192-token context. Loaded by default with the embedded model
(`dsa_core.host.indexers.load_default_indexers`). `smollm2_stage1_2048.safetensors` is the previous
release, trained on 2,048-token windows only: kept for the by-position comparison below
(`dsa_core.viz.positions.recall_by_position`, Learn page and notebook 06).

## Recipe: DeepSeek-V3.2-Exp stage 1 "dense warm-up", scaled down (docs/training.md)
- Model frozen, dense attention. Each layer's indexer learns KL(p ‖ softmax(I)), p the head-summed,
  L1-normalised dense attention of the same layer over the causal prefix
  (`dsa_core.train.losses.dense_warmup_loss`), teacher and inputs detached. Each step scores the last
  512 queries of a prefix of random length up to 8,192 tokens, so every query position is trained.
- Data: {n_win} windows of 8,192 tokens ({n_win * 8192 / 1e6:.2f}M tokens), {n_long} of them cut from
  single documents of 8,192 tokens or more (linux-doc-6.1, GPL-2; python3.11-doc, PSF; perl-doc,
  GPL-1+/Artistic), the rest neighbouring pages packed together (`scripts/data_long.py`,
  `scripts/gpu_pack.py --tokens 8192 --train 192 --val 4`). Counts: `data_check_train.json`.
- Disjoint from every evaluation text: any training document sharing more than 10 eight-word
  sequences with an evaluation file was left out (pages quoting GPL notices, the ftplib manual page);
  in the windows used, the largest count of an evaluation file's eight-word sequences also found in
  training text is {shared} (`data_check_train.json`; validation windows: `data_check_val.json`).
- Training on one H200 (`scripts/gpu_train.py`, log `runs/h200_run3_8192.log`): continued from the
  2,048-token release for {shipped["steps"]} steps × 4 windows × 512 queries at 8,192 tokens, AdamW lr 1e-3
  with warm-up and cosine decay, {shipped["seconds_per_step"]:.2f} s per step. Recipe string in the file:
  "{rec}".

## What was studied (held-out validation windows of 8,192 tokens, k = 128, one seed each)
Equal budgets: every run 250 steps × 4 windows × 512 queries on the same data, except the continued
one (`runs/h200_run4_study.json`, log beside it):

{study_table(study["stage1"])}

The release run (time budgets: 2 minutes per fresh run, 1.5 for the continued one, which is shipped;
`runs/h200_run3_8192.json`):

{study_table(run["stage1"])}

Reading, with one seed per run (differences under about 0.003 are within noise):
- **Window length** matters most. Trained on prefixes of at most 2,048 tokens, the same indexer
  reaches {q("4x64r64s", "2-4K")} of the ideal recall at 2-4K and {q("4x64r64s", "4-8K")} at 4-8K, above the window in
  {study["stage1"]["4x64r64s"]["val"]["mean"]["layers_indexer_above_window"]}/30 layers; trained on prefixes up to 8,192: {q("4x64r64", "4-8K")} at 4-8K and 30/30.
- **Mix of lengths**: half the steps on short prefixes ({q("4x64r64m")}) is as good as all long
  ({q("4x64r64")}) at the same steps, and costs less compute. The shipped file is a curriculum (833
  steps at 2,048 tokens, then {shipped["steps"]} at 8,192): the continued runs are the best of all.
- **RoPE width**: 64 dims (the official rule, DeepSeek's `rope_head_dim = qk_rope_head_dim`, here the
  whole indexer head) vs 32 (half, the 671B proportion): {q("4x64r64")} vs {q("4x64r32")} at equal steps, within noise.
  The shipped file keeps 32 because it continues the 32-dim 2,048-token release; `DSAConfig` follows
  the official rule for fresh indexers, and every file records its width.
- **Indexer size**: 1 × 64 (64 multiply-adds per pair, 1/18 of the main attention, DeepSeek's
  proportion) reaches {q("1x64r64")} and {study["stage1"]["1x64r64"]["val"]["mean"]["layers_indexer_above_window"]}/30 layers against {q("4x64r64")} and 30/30 for 4 × 64. Larger sizes were
  not run at 8,192 tokens.
- **Steps**: continuing for 700 instead of {shipped["steps"]} steps gives {q("4x64r32w")} against {shipped["val"]["mean"]["indexer_over_oracle"]:.4f}:
  little is left to gain at this budget, so the {shipped["steps"]}-step file (evaluated below, with stage 2 on
  top) stays shipped. The first release's size study at 2,048 tokens (`runs/h200_run1_stage1.json`):

{size_table(size)}

## Evaluation at 8,192 tokens: held-out long texts, not trained on
GNU GPL v3 (7,666 tokens), the Debian Administrator's Handbook's Virtualization section (8,048,
CC-BY-SA-3.0) and CPython 3.11's `ftplib.py` (8,192, PSF). Command: `{LONG_CMD.format(k=128)}`.
On the H200 the command took {cli["seconds"]:.0f} s (model load included; `eval_cli_cuda.json`); on the
2-core CPU: {cpu_time("cpu_8192_k128")}. Full JSON: `eval_8192_k128.json` (and k = 64, 256, 512),
recorded on the H200 (evaluation phase of `gpu_train.py`, {e["seconds"]:.0f} s without the model load).

{layer_table(e)}

### By query position (k = 128): short-trained vs full-length
Recall ratio (indexer ÷ ideal top-k) and layers where the indexer beats the window, per bucket of
query positions (`evaluate.py`'s "by_position"):

{position_table({"2,048-token release": before, "shipped (8,192)": e})}

### Every budget
{k_table(long)}

The 2,048-token release at k = 128 on the same texts: ratio {before["mean"]["indexer_over_oracle"]:.3f}, above the window in
{before["mean"]["layers_indexer_above_window"]}/30 layers, perplexity {pb["dsa"]:.2f} ({pct(pb["dsa_vs_dense"])} over dense).

## Evaluation at 2,048 tokens (two Debian Handbook chapters, as in the first release)
Command: `{EVAL_CMD.format(k=128)}`; recorded on {e2["device"].split(" (")[0]} ({e2["seconds"]:.0f} s),
on the 2-core CPU: {cpu_time("cpu_2048_k128")}. Full JSON: `eval_k128.json` (and k = 64, 256).

{k_table(short)}

The 2,048-token release on the same texts (H200): ratio {old_short["mean"]["indexer_over_oracle"]:.3f},
{old_short["mean"]["layers_indexer_above_window"]}/30 layers, perplexity {pct(old_short["perplexity"]["dsa_vs_dense"])} over dense.

## Against the targets
- 8,192 tokens, k = 128: recall ratio {m["indexer_over_oracle"]:.3f} (≥ 0.95): {ok(m["indexer_over_oracle"] >= 0.95)}; above the window in
  {m["layers_indexer_above_window"]}/30 layers (all): {ok(m["layers_indexer_above_window"] == 30)}; perplexity with DSA {p["dsa"]:.3f} = {p["dsa"] / p["oracle"]:.4f} × the
  ideal top-k's {p["oracle"]:.3f} (≤ 1.02): {ok(p["dsa"] / p["oracle"] <= 1.02)}.
- 8,192 tokens, k = 512: perplexity {pct(p512["dsa_vs_dense"])} over dense (≤ +3 %): {ok(p512["dsa_vs_dense"] <= 0.03)}.
- 2,048 tokens, k = 128: ratio {m2["indexer_over_oracle"]:.3f} (≥ 0.985): {ok(m2["indexer_over_oracle"] >= 0.985)}; {m2["layers_indexer_above_window"]}/30 layers above the window:
  {ok(m2["layers_indexer_above_window"] == 30)}; perplexity {pct(p2["dsa_vs_dense"])} over dense (≤ +3 %): {ok(p2["dsa_vs_dense"] <= 0.03)}.

## The DSA family with these indexers (k = 128, one H200)
The members of `docs/family.md` (token top-k; block top-16 of b = 8 tokens, max-pooled; compressed keys,
c = 4; shared indices, every 4th layer or 8 layers chosen by overlap on `assets/texts/contract.txt`), each
in all 30 layers, on the same held-out texts as above. `smollm2_compressed_c4.safetensors` holds indexers
trained for the compressed member (keys mean-pooled over c = 4 tokens; same shape and format as this
file; `dsa_core.host.indexers.COMPRESSED_PATH`): stage 1 with the pooled target
(`dsa_core/family/train.py`) on {ctrain["windows"]} training windows of {ctrain["tokens"]:,} tokens from the long training data
(disjoint from every evaluation text, `data_check_*.json`), {ctrain["steps"]} steps ×
4 windows × 512 queries, AdamW lr 1e-3 cosine, continued from this file ({ctrain["steps"] * ctrain["seconds_per_step"] / 60:.0f} minutes, one seed;
`runs/h200_run5_compressed_train.json`, log `runs/h200_run5_family.log`). On 2 held-out validation
windows (last 256 queries) the compressed member's recall went from {vmean("val_recall_before"):.3f} to {vmean("val_recall_after"):.3f}
(token top-k {vmean("val_recall_token"):.3f}). `python -m dsa_core.evaluate ... --variant compressed-trained` runs that member
with that file while the others keep this one.

8,192 tokens, the three long texts. Command ({fam[8192]["seconds"]:.0f} s on the H200, model load included):
`{FAMILY_CMD.format(files=files_arg(fam[8192]), tokens=8192)}` →
`runs/h200_run6_family_8192.json`. `scripts/gpu_family.py` had measured the same numbers, bit for bit, with
`--variant token,block,compressed,shared,shared-overlap` and with `--variant compressed --indexers
assets/indexers/smollm2_compressed_c4.safetensors` (`runs/h200_run5_family_*.json`,
`runs/h200_run5_compressed_*.json`).

{family_table(fam[8192])}

2,048 tokens, the two Handbook chapters (the same command with `--tokens 2048`, {fam[2048]["seconds"]:.0f} s:
`runs/h200_run6_family_2048.json`; every recall and perplexity within 0.001 of the CPU run in
`docs/family.md`):

{family_table(fam[2048])}

What falls short: every member loses more at 8,192 tokens than at 2,048 (token top-k
{pct(fv[8192]["token"]["vs_dense"])} against {pct(fv[2048]["token"]["vs_dense"])}); block top-n ({pct(fv[8192]["block"]["vs_dense"])}) and sharing every 4th layer
({pct(fv[8192]["shared"]["vs_dense"])}) lose a lot at 8,192; the pooled-key weights bring the compressed member from
{pct(fv[8192]["compressed"]["vs_dense"])} to {pct(cv[8192]["vs_dense"])} at 8,192 (recall {fv[8192]["compressed"]["mean_recall"]:.3f} → {cv[8192]["mean_recall"]:.3f}) and to {pct(cv[2048]["vs_dense"])} at 2,048, still
behind token top-k at 8,192, after {ctrain["steps"] * ctrain["seconds_per_step"] / 60:.0f} minutes of training with one seed.

## Stage 2 at 8,192 tokens: sparse training (measured, model weights not shipped)
`dsa_core.train.stage2.train_sparse` on one H200: DSA in every layer at k = 128, the model trained
with the LM loss (lr 2e-5), each indexer with the KL on its selected set (lr 1e-4, input detached),
{s2["DSA k=128"]["history"][-1]["step"]} steps × 2 windows × 8,192 tokens ({s2["DSA k=128"]["seconds"]:.0f} s), starting from this file's indexers.
The dense control trains the same way with dense attention ({s2["dense control"]["seconds"]:.0f} s). Held-out perplexity on
the three long texts (`python scripts/gpu_table.py`):

{table(runs)}

Reading: Debian text fine-tuning lowers every perplexity on these texts (the dense control:
{pct(control["dense"] / runs["dense control"]["before"]["dense"] - 1)}). The dense control with this file's indexers plugged in (no sparse
training) gives {control["dsa"]:.2f} ({pct(control["dsa"] / control["dense"] - 1)} over its dense); after sparse training DSA is at
{pct(after["dsa"] / control["dense"] - 1)} of the dense control: sparse training closes part of the gap in {s2["DSA k=128"]["history"][-1]["step"]} steps (1M tokens),
against DeepSeek's 15,000 steps of 480 × 128K tokens. The first release's stage 2 at 2,048 tokens
(150 steps, k = 64/128/256) is in `runs/h200_run1_*.log`, `runs/h200_run2_*.log`.
"""  # noqa: E501 - the card's Markdown lines


def main():
    text = card()
    path = HERE / "MODEL_CARD.md"
    if "--check" in sys.argv:
        if path.read_text() != text:
            print("MODEL_CARD.md is out of date: run python scripts/model_card.py")
            return 1
        if json.loads(STAGE2_JSON.read_text()) != read([RUN]):
            print("stage2.json differs from the run logs: run python scripts/gpu_table.py --write")
            return 1
        return 0
    path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
