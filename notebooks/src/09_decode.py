# Source of notebooks/09_decode.ipynb; edit here, then run: python scripts/make_notebooks.py
# %% [markdown]
# # 09 · Decode: writing one token at a time
#
# *Series: 01 attention → 02 lightning indexer → 03 top-k → 04 sparse attention → 05 a real model →
# 06 training the indexer → 07 compute and cost → 08 the DSA family → **09 decode**.*
#
# So far every notebook ran a whole text at once (a **prefill**). A chat model spends most of its
# time elsewhere: it writes its answer one token at a time (**decode**), and each new token's query
# looks back at every earlier token. This is where DSA saves the most (the report's Figure 3: about
# 8.6× cheaper than dense at 128K in decode, against 3.5× in prefill), and where its cost is least
# about FLOPs and most about **bytes read from memory**.
#
# **Objectives.** After this notebook you can
#
# 1. say what the KV cache holds, why decoding with it gives the same logits as a prefill, and write
#    one decode step from it (exercise 1);
# 2. say what DSA adds: the indexer's own key cache, and a step that scores every cached index key
#    but reads only k cached keys and values; write that selection against a preallocated cache as
#    DeepSeek's code does (exercise 2);
# 3. explain why a decode step is memory-bound, and count the bytes a step reads, dense and DSA, as
#    the context grows (exercise 3);
# 4. read a measured decode curve with its machine and its load.
#
# *Time: about 30–35 min (the first cell loads the model in a few seconds; the measured curve takes
# about 15 s). Teacher's guide: [docs/teaching.md](../docs/teaching.md).*

# %%
import json
import os
import pathlib

import torch
from IPython.display import HTML, Markdown, display

import dsa_core as dsa
from course import setup_notebook
from course.checks import nb09 as ex
from dsa_core import viz
from dsa_core.cost import flops as cost
from dsa_core.host import generate as gen
from dsa_core.host.indexers import load_with_indexers
from dsa_core.host.tokenizer import display_tokens
from dsa_core.viz import decode as vd

setup_notebook(seed=0)
loaded, note = load_with_indexers()  # the app's loader: shipped trained indexers, else seeded ones
model, tokenizer = loaded.model, loaded.tokenizer
cfg = model.cfg
print(loaded.name, "·", note.split(";")[0])
ROOT = pathlib.Path(dsa.__file__).resolve().parents[1]
prompt = tokenizer.encode((ROOT / "assets" / "texts" / "article.txt").read_text()).ids[:80]
print(f"{len(prompt)} prompt tokens:", tokenizer.decode(prompt)[:160], "…")

# %% [markdown]
# ## Idea: the KV cache
#
# A token's key and value depend only on that token and the ones before it (causal attention), so
# once computed they never change. A decoder keeps them, per layer, in the **KV cache**: after the
# prefill it holds the prompt's keys and values (after RoPE); each step runs the model on **one** new
# token, appends that token's key and value, and attends from its query over everything cached.
#
# $$o_t = \sum_{s \le t} \operatorname{softmax}_s\!\Big(\frac{q_t \cdot k_s}{\sqrt{D}}\Big)\, v_s,
# \qquad k_s, v_s \text{ read from the cache for } s < t.$$
#
# `host/model.py` keeps it as a small dataclass (`LayerCache`: buffers of a fixed capacity written in
# place, so no step copies the past). Decoding token by token must give the prefill's logits at every
# position; the check below compares one step with a prefill of the same text.

# %%
ids = torch.tensor([prompt])  # [1, P]
P = ids.shape[1]
cache = model.new_cache(P + 8)  # room for the prompt and 8 new tokens
with torch.no_grad():
    logits = model(ids, cache=cache)  # the prefill fills every layer's cache [1, P, V]
    new = int(logits[0, -1].argmax())  # greedy: the most likely next token
    step = model(torch.tensor([[new]]), cache=cache)[0, -1]  # ONE token in, its logits out [V]
    whole = model(torch.tensor([prompt + [new]]))[0, -1]  # the same position by a prefill [V]
layer0 = cache.layers[0]
print(f"cached tokens after the step: {cache.length} (the prompt's {P} + 1)")
print(f"one layer's key buffer: {tuple(layer0.k.shape)} = [batch, capacity, H_kv, D]")
print(f"step vs prefill, largest logit difference: {(step - whole).abs().max():.1e}")
print(
    f"the step wrote {tokenizer.decode([new])!r}; next after it: {tokenizer.decode([int(step.argmax())])!r}"
)

# %% [markdown]
# The two runs do the same arithmetic in another order (one row against a matrix product), so they
# agree to float32 rounding, not bit for bit. Per token and layer this model caches
# 2 · H_kv · D = 2 · 3 · 64 = 384 numbers: 1,536 bytes in float32.
#
# ## DSA adds a second cache: the indexer's keys
#
# In DSA every layer's lightning indexer scores the new query against the **index key** of every
# earlier token (one shared key per token, d = 64 here, 128 in DeepSeek-V3.2), so a decoder keeps
# those too, in the **index-key cache** (the official `Indexer.k_cache`). A step then:
#
# 1. appends the new token's key and value to the KV cache, and its index key to the index-key cache;
# 2. scores all T cached index keys: $I_{t,s} = \sum_j w_{t,j}\, \mathrm{ReLU}(q^I_{t,j} \cdot k^I_s)$;
# 3. keeps the k best, $S_t$, and **gathers only those k** keys and values for attention.
#
# `gen.step_select(k)` is that selection for the model's plug-in point: the same selection pipeline
# as the prefill (`pipeline.select` with the cached index keys), the same `sparse_attention`.

# %%
K = 16
select = gen.step_select(K)
cache = model.new_cache(P + 8)
with torch.no_grad():
    model(ids, select, cache=cache)  # prefill: KV cache and index-key cache
    before = cache.layers[10].index_k.shape
    model(torch.tensor([[new]]), select, cache=cache)  # one DSA step
read = select.read[10]  # what the new query read in layer 10
print(f"layer 10's index-key cache: {tuple(before)} -> {tuple(cache.layers[10].index_k.shape)}")
print(f"the new query (position {P}) read {int((read['picks'] >= 0).sum())} of {P + 1} cached tokens:")
print("  positions, best first:", read["picks"].tolist())
kv_bytes, idx_bytes = 4 * 2 * cfg.n_kv_heads * cfg.head_dim, 4 * cache.layers[10].index_k.shape[-1]
print(f"per token and layer: {kv_bytes} B of keys and values, {idx_bytes} B of index key (float32)")

# %% [markdown]
# ## Watch it write: dense and DSA side by side
#
# `gen.generate` runs the prefill, then yields one `Step` per new token, with what the query that
# wrote it read in every layer (picks, their index scores, and the share of that query's dense
# attention they hold). `gen.in_turn` runs dense and DSA a token at a time, in turn. (The app's
# Generate page does the same on your own text, up to 8,192 tokens.)

# %%
runs = {"dense": [], "dsa": []}
for mode, s in gen.in_turn(model, prompt, 10, {"dense": None, "dsa": gen.step_select(K)}):
    runs[mode].append(s)
tokens = {m: [s.token for s in steps] for m, steps in runs.items()}
for m in runs:
    print(f"{m:>5}:", repr(tokenizer.decode(tokens[m])))
diff = gen.first_difference(tokens["dense"], tokens["dsa"])
print("first different token:", "none" if diff is None else f"#{diff + 1}")
last = runs["dsa"][-1]
layer = 10
print(
    f"DSA's last token: its query read {K} tokens in layer {layer}, holding "
    f"{last.mass[layer]:.0%} of its dense attention (mean over layers {last.mass.mean():.0%})"
)

# %%
text_ids = prompt + tokens["dsa"]
labels = display_tokens(tokenizer, text_ids)  # readable token strings
T_last = len(text_ids) - 1  # the query that wrote the last token sits at position T_last - 1
row = torch.full((T_last,), float("nan"))  # its index scores, for the shading (only the picks have one)
keep = last.picks[layer] >= 0
row[last.picks[layer][keep]] = last.scores[layer][keep]
display(Markdown(viz.LEGEND))
HTML(viz.token_html(labels[:T_last], T_last - 1, last.picks[layer], row, last.dense_top[layer]))

# %%
vd.pick_ranking(
    labels[:T_last], last.picks[layer], last.scores[layer], title=f"layer {layer}: read, best first"
)

# %% [markdown]
# Shaded tokens (▲) are what DSA read, deeper for a higher index score; ◆ marks dense attention's own
# top-k for the same query, ✖ the ones DSA did not read. Tokens the model generated itself are read
# like any other: the cache does not care where a token came from.
#
# ## Why decode is memory-bound
#
# A prefill multiplies each weight by thousands of tokens at once; a decode step by **one**. Each
# float32 weight (4 bytes) then takes part in one multiply-add (2 FLOPs): 0.5 FLOP per byte fetched.
# The cache is the same: every cached number is read once and used in one multiply-add per query head
# that shares it (H / H_kv = 3 here). A CPU core can do several multiply-adds in the time one byte
# arrives from memory, a GPU's tensor cores hundreds; so the step waits for memory, and its time
# follows the **bytes it reads**: all weights (the same in both modes) plus the caches (where DSA
# differs), as long as nothing else (many small operations, say) costs more.

# %%
weights = sum(p.numel() * p.element_size() for p in model.parameters())
for T in (1024, 8192):
    b = gen.step_bytes(T, 128, "fp32")  # this host's caches, float32, all 30 layers
    flops_step = 2 * sum(p.numel() for p in model.parameters())  # every weight in one multiply-add
    print(
        f"T = {T:5,}: weights {weights / 1e6:.0f} MB + KV cache {b['dense'] / 1e6:5.1f} MB (dense) or "
        f"index keys {b['dsa index'] / 1e6:4.1f} MB + 128 picks {b['dsa kv'] / 1e6:.1f} MB "
        f"(DSA, k = 128); weights alone: {flops_step / weights:.1f} FLOP per byte"
    )

# %% [markdown]
# ## Bytes per token as the context grows
#
# `gen.step_bytes` counts the cache bytes one decode step reads, whole model, from the cost model of
# notebook 07: dense reads every cached key and value; DSA reads every index key and the keys and
# values of k tokens. Two models: this host in float32 (k = 128), and DeepSeek-V3.2 in its FP8 cache
# layout (61 layers, k = 2,048; 656 B of MLA cache and 132 B of index key per token and layer, from
# deepseek-ai/FlashMLA `README.md` and DeepSeek-V3.2-Exp `inference/model.py`).

# %%
contexts = [2**p for p in range(10, 18)]  # 1K … 128K
host = [gen.step_bytes(T, 128, "fp32") for T in contexts]
big = [gen.step_bytes(T, 2048, "fp8", cost.V32_MQA) for T in contexts]
viz.line_chart(
    contexts,
    {
        "dense, this host (fp32)": [b["dense"] / 1e6 for b in host],
        "DSA, this host (fp32, k = 128)": [b["dsa"] / 1e6 for b in host],
        "dense, V3.2 671B (FP8)": [b["dense"] / 1e6 for b in big],
        "DSA, V3.2 671B (FP8, k = 2,048)": [b["dsa"] / 1e6 for b in big],
    },
    "context (tokens)",
    "cache MB read per generated token",
    title="What one decode step reads from the caches",
    log_x=True,
    log_y=True,
)

# %%
for T, h, b in zip(contexts, host, big):
    print(
        f"T = {T:7,}: dense / DSA = {h['dense'] / h['dsa']:4.1f}× (host), {b['dense'] / b['dsa']:4.1f}× (671B); "
        f"index keys are {b['dsa index'] / b['dsa']:.0%} of DSA's bytes (671B)"
    )

# %% [markdown]
# At long context the ratio tends to (KV bytes) / (index bytes) per token: 1,536 / 256 = 6 for this
# host, 656 / 132 ≈ 5 for the 671B. The indexer still reads every token; DSA removes the other
# factor. (Below k tokens there is nothing to skip, and DSA reads the index keys on top.)
#
# ## Measured on this machine
#
# `gen.step_seconds` prefills a long text once per mode, then times single decode steps at several
# context lengths (rolling the cache back between them), the two modes in turn so that load from other
# programs falls on both. Short contexts keep it to about 15 s; `python benchmarks/decode_bench.py`
# measures up to 8,192 tokens.

# %%
corpus = tokenizer.encode(
    "\n\n".join(p.read_text() for p in sorted((ROOT / "assets" / "texts").glob("*.txt")))
).ids
measure_at = [256, 512, 1024]
secs = gen.step_seconds(model, corpus, measure_at, {"dense": None, "DSA": gen.step_select(64)}, repeats=3)
load = os.getloadavg()[0]
print(f"{torch.get_num_threads()} threads, 1-minute load average {load:.1f} (the machine is shared)")
vd.step_cost_curves(
    measure_at,
    secs,
    {
        "dense KV": [gen.step_bytes(T, 64, "fp32")["dense"] for T in measure_at],
        "DSA index + KV": [gen.step_bytes(T, 64, "fp32")["dsa"] for T in measure_at],
    },
    title="Decode steps on this machine, k = 64",
)

# %%
recorded = ROOT / "assets" / "bench" / "decode_cpu.json"
if recorded.exists():
    rec = json.loads(recorded.read_text())
    print(
        f"recorded: {rec['cpu']}, {rec['threads']} threads, load {rec['load_before'][0]:.1f}, k = {rec['k']}"
    )
    for r in rec["steps"]:
        print(
            f"  context {r['context']:6,}: dense {1e3 * r['dense_s']:6.0f} ms, DSA {1e3 * r['dsa_s']:6.0f} ms"
        )
else:
    print("no recorded run in this checkout (python benchmarks/decode_bench.py --json writes one)")

# %% [markdown]
# Read the measured lines, not a claim written here. Both modes pay for the weights (about 540 MB in
# float32) every step, so even a perfect DSA step cannot be faster than that part; at short context
# the caches are small beside the weights and the two modes take about the same time. What DSA
# removes grows with the context: at 8,192 tokens dense reads 377 MB of KV cache per step, DSA 63 MB
# of index keys and 6 MB of picked rows.
#
# ## Exercises
#
# **Exercise 1.** Write one decode step of dense attention for a single head:
# `my_decode_step(q, k_new, v_new, k_cache, v_cache)` gets the new token's query, key and value
# (`[D]` each) and the cache of the T − 1 earlier tokens (`[T-1, D]` each). Return
# `(out, k_cache, v_cache)`: the attention output `[D]` over **all** T tokens, and the caches grown
# by the new token. (The checker runs your function on its own inputs.)

# %% [answer]
my_decode_step = None


# %% [solution]
def my_decode_step(q, k_new, v_new, k_cache, v_cache):  # noqa: F811 (the student copy holds None here)
    k_cache = torch.cat([k_cache, k_new[None]])  # the cache grows by one row [T, D]
    v_cache = torch.cat([v_cache, v_new[None]])  # [T, D]
    weights = torch.softmax(k_cache @ q / q.shape[-1] ** 0.5, dim=-1)  # over every token, itself too [T]
    return weights @ v_cache, k_cache, v_cache  # [D]


# %% [check]
ex.check_decode_step(my_decode_step)

# %% [markdown]
# **Exercise 2.** DeepSeek's code keeps the index-key cache as a buffer of fixed capacity and writes
# each new key at its position (`self.k_cache[:bsz, start_pos:end_pos] = k`). Write DSA's selection for
# one new token: `my_index_step(q, w, k_new, index_cache, P, step, k)` gets the indexer query `[h, d]`,
# head weights `[h]` and key `[d]` of the token generated at `step` (0 for the first) after a
# `P`-token prompt, and the buffer `index_cache` `[capacity, d]` whose first `P + step` rows hold the
# earlier tokens' keys (later rows hold no token yet). Store the new key, score every key up to the
# new token's (`dsa.index_scores`), and return `(picks, index_cache)`: the positions of the k best
# (`dsa.select_topk`, best first) in the **whole text**, and the buffer.

# %% [answer]
my_index_step = None


# %% [solution]
def my_index_step(q, w, k_new, index_cache, P, step, k):  # noqa: F811 (the student copy holds None)
    t = P + step  # the new token's position in the whole text
    index_cache[t] = k_new  # the cache grows by one row, written in place
    scores = dsa.index_scores(q[None, None], index_cache[None, : t + 1], w[None, None])  # [1, 1, t+1]
    return dsa.select_topk(scores, k)[0, 0], index_cache  # [k], best first


# %% [check]
ex.check_index_step(my_index_step)

# %% [markdown]
# **Exercise 3.** DeepSeek-V3.2 caches, per token and layer, 656 bytes of MLA cache and 132 bytes of
# index key (FP8 layout). At a context of **T = 65,536** tokens, with k = 2,048 and 61 layers, how many
# MB (10⁶ bytes) does one decode step read from its caches, whole model: dense, and with DSA? Give the
# pair `(dense_MB, dsa_MB)`.

# %% [answer]
answer_3 = None

# %% [solution]
T3, layers3, k3 = 65536, 61, 2048
answer_3 = (T3 * 656 * layers3 / 1e6, (T3 * 132 + k3 * 656) * layers3 / 1e6)

# %% [check]
ex.check_step_bytes(answer_3)

# %% [markdown]
# ## Takeaways
#
# - Decode runs one token per step against caches: per layer the KV cache (keys after RoPE, values)
#   and, with DSA, the indexer's own key cache. Token by token it gives the prefill's logits.
# - A DSA step scores every cached index key, keeps k, and reads only those k keys and values: the
#   same selection pipeline and sparse attention as the prefill, growing the index-key cache (`grow=`).
# - Decode is memory-bound: its time follows the bytes read. The weights are read by both modes; DSA
#   cuts the cache bytes towards (KV bytes) / (index bytes) per token, 5–6× at long context.
# - Measured times belong with their machine and load.
#
# **Next:** the app's Generate page shows all of this on your own text, up to 8,192 tokens.
