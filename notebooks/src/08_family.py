# Source of notebooks/08_family.ipynb; edit here, then run: python scripts/make_notebooks.py
# %% [markdown]
# # 08 · The DSA family: blocks, compressed keys, shared indices
#
# *Series: 01 attention → 02 lightning indexer → 03 top-k → 04 sparse attention → 05 a real model →
# 06 training the indexer → 07 compute and cost → **08 the DSA family** → 09 decode.*
#
# DeepSeek-V3.2-Exp's recipe, *a small indexer scores every earlier token, top-k keeps the best k*,
# has relatives. Public sources describe three changes to it:
#
# - **Block top-n** (as described for MiniMax-M3's MSA in ggml-org/llama.cpp#24908): the index
#   scores are max-pooled over blocks of keys, whole blocks are kept, and the query's own block is
#   always among them.
# - **Compressed keys** (DeepSeek-V4's CSA, ggml-org/llama.cpp#24162; a Qwen QSA design,
#   sgl-project/sglang-jax#1674): the indexer scores keys pooled over groups of c tokens, so it does
#   c times less work; only complete groups are scored, the query's own partial group is kept.
# - **Shared indices** (GLM-5.2's IndexShare, ikawrakow/ik_llama.cpp#2063; IndexCache, THUDM/IndexCache,
#   arXiv 2603.12201): only some layers compute a top-k, the next layers reuse it.
#
# Here each is **the mechanism scaled to our host** (SmolLM2-135M, 30 layers, the shipped trained
# indexers, budget k tokens), not a reproduction of those models: their budgets, head counts,
# kernels and training differ. Every member returns token positions `[B, S, K]` with −1 for empty
# slots, so `sparse_attention`, the recall metric and the model's plug-in point run unchanged.
#
# **Objectives.** After this notebook you can
#
# 1. run block top-n by hand and say how it differs from token top-k (exercise 1);
# 2. pool keys for the compressed indexer without looking into the future (exercise 2) and predict
#    what it saves (exercise 3);
# 3. read a layer × layer overlap heatmap and choose which layers should compute (exercise 4);
# 4. compare the members on one text: recall, perplexity, and the cost model's savings.
#
# *Time: about 45–50 min, of which about 4 min is the computer running the whole model (sections 4
# and 4b print their progress). Sources and the measured table: [docs/family.md](../docs/family.md).*

# %%
import pathlib

import torch

import dsa_core as dsa
from course import setup_notebook
from course.checks import nb08 as ex
from dsa_core import viz
from dsa_core.analysis.trace import encode, trace_layers
from dsa_core.cost import flops
from dsa_core.family import figures as vf
from dsa_core.family import on_text as fa
from dsa_core.family import selectors
from dsa_core.host.indexers import load_with_indexers
from dsa_core.indexer import index_scores
from dsa_core.metrics import oracle_topk
from dsa_core.toy import toy_indexer_inputs

setup_notebook(seed=0)

# %% [markdown]
# ## 1. Block top-n
#
# With index scores $I_{t,s}$ and blocks of $b$ keys, each block gets one score and whole blocks
# are kept:
#
# $$J_{t,j} = \max_{s \in \text{block } j} I_{t,s}, \qquad
#   S_t = \text{own block} \;\cup\; \text{Top-}(n-1)_j\, J_{t,j}, \qquad n \cdot b = k.$$
#
# `max` keeps a block whose single best key is strong; `mean` would average it away. A kernel
# then reads contiguous keys. With $b = 1$ (and no forced own block) it *is* token top-k:

# %%
q, k, w = toy_indexer_inputs()
scores = index_scores(q, k, w)  # [B, T, T]
print("scores", tuple(scores.shape))
assert torch.equal(selectors.block_topn(scores, 1, 8, local=False), selectors.token_topk(scores, 8))
picks = {
    "token top-8": selectors.token_topk(scores, 8)[0, -1],
    "block top-2 (b = 4)": selectors.block_topn(scores, 4, 2)[0, -1],
    "block top-4 (b = 2)": selectors.block_topn(scores, 2, 4)[0, -1],
}
vf.pick_rows(picks, scores.shape[1] - 1)

# %% [markdown]
# **Exercise 1.** One query at position t = 9 sees keys 0 … 9 with the index scores below
# (keys 10 and 11 are in its future). Blocks of b = 4 keys, n = 2 blocks (k = 8), max pooling, the
# own block always kept. Which token positions does it keep? A list, in any order.

# %%
row = torch.tensor([0.5, 3.0, 0.1, 0.2, 1.0, 1.1, 1.2, 1.3, 0.3, 0.0, float("-inf"), float("-inf")])
row

# %% [answer]
answer_1 = None

# %% [solution]
answer_1 = [8, 9, 0, 1, 2, 3]  # own block 2 (8, 9; 10 and 11 are future) + block 0 (its max 3.0 wins)

# %% [check]
ex.check_block_row(answer_1, row, t=9, b=4, n=2)

# %% [markdown]
# ## 2. Compressed keys
#
# The indexer scores pooled keys $\bar k_g = \frac1c \sum_{s \in g} k_s$ instead of every key:
#
# $$\bar I_{t,g} = \sum_j w_{t,j}\,\mathrm{ReLU}(q_{t,j} \cdot \bar k_g)
#   \quad\text{for complete groups } g < \lfloor (t+1)/c \rfloor .$$
#
# A group is scored once all its c tokens are in the past (a pooled key that mixed in a later
# token would leak the future). The query's own, still-filling group is always kept, then the best
# k/c complete groups, expanded back to tokens.
#
# **Exercise 2.** Write `my_compress_keys(k, c)`: `k [B, T, d]` → `[B, T // c, d]`, the mean of each
# complete group of c consecutive keys. The check runs it on its own inputs (and notices a call to
# `selectors.compress_keys`).

# %% [answer]
my_compress_keys = None


# %% [solution]
def my_compress_keys(k, c):  # noqa: F811 (the student copy holds None here)
    B, T, d = k.shape
    G = T // c  # complete groups only
    return k[:, : G * c].reshape(B, G, c, d).mean(2)


# %% [check]
ex.check_compress_keys(my_compress_keys)

# %% [markdown]
# With c = 1 the pooled keys are the keys, and compressed selection is token top-k again:

# %%
assert torch.equal(selectors.compressed_topk(q, k, w, 1, 8), selectors.token_topk(scores, 8))
selectors.compressed_topk(q, k, w, 4, 8)[0, -1]

# %% [markdown]
# **Exercise 3.** The host's indexer has H = 4 heads of d = 64, so one (query, key) score costs
# I = 2·H·d FLOPs (notebook 07). How many indexer score FLOPs does a causal prefill of L = 8,192
# tokens cost in one layer with compressed keys, c = 4? Count by the rule above: query t scores the
# ⌊(t+1)/c⌋ complete groups before it, and its own partial group is kept without a score. One
# number. (The cost model of section 5 uses the smooth count I·L(L+1)/(2c), 0.04 % more; the check
# accepts it too.)

# %%
shape = flops.SMOLLM2  # the host model with its indexer shape
print(shape)

# %% [answer]
answer_3 = None

# %% [solution]
I, L, c = 2 * 4 * 64, 8192, 4
answer_3 = I * sum((t + 1) // c for t in range(L))  # complete groups only; about I·L(L+1)/(2c)

# %% [check]
ex.check_compressed_saving(answer_3, shape)

# %% [markdown]
# ## 3. Shared indices, and why they work
#
# Now the real model. One dense run gives every layer's attention input, each layer's trained
# indexer ranks its keys, and we measure how alike two layers' top-k sets are (Jaccard overlap
# $|A \cap B| / |A \cup B|$, averaged over the queries that see more than k keys).

# %%
loaded, note = load_with_indexers()
model, n_layers = loaded.model, len(loaded.model.layers)
print(loaded.name, "·", note)
texts = pathlib.Path(dsa.__file__).resolve().parents[1] / "assets" / "texts"
text = (texts / "contract.txt").read_text(encoding="utf-8")
ids = encode(loaded, text, 384).ids
K = 32
ranked = fa.ranked_all_layers(model, ids, K)  # [L, T, K]
token_by_layer = fa.take(ranked, K)
overlap = selectors.layer_overlap(token_by_layer)
vf.overlap_heatmap(overlap, computing=selectors.every_r(n_layers, 4))

# %% [markdown]
# Bright squares along the diagonal are runs of layers that pick nearly the same keys: one top-k
# could serve the whole run. Where the pattern breaks, a layer should compute its own. GLM-5.2 uses
# a fixed rule (every 4th layer, ikawrakow/ik_llama.cpp#2063); IndexCache reports that adjacent
# layers share 70–100 % of their picks and keeps 1/4 of the indexers, choosing them by a greedy
# search on LM loss (THUDM/IndexCache README). Here we score a choice by **coverage**: the mean, over
# layers, of the overlap between a layer's own top-k and the one it reuses.
#
# **Exercise 4.** Read the heatmap and choose 8 computing layers (layer 0 must be one: nothing
# before it has a top-k to lend). The check accepts any choice at least as good as "every 4th
# layer" and prints how it compares with a greedy search.

# %% [answer]
answer_4 = None

# %% [solution]
answer_4 = selectors.by_overlap(overlap.tolist(), 8)  # greedy; reading the heatmap by eye also works

# %% [check]
ex.check_computing_layers(answer_4, overlap, 8)

# %% [markdown]
# ## 4. The members side by side on one layer
#
# Recall is the share of the layer's dense attention (mean of heads) inside each selection, over the
# queries that see more than k keys; the ideal top-k is the ceiling for k keys. Every member here,
# the compressed one included, scores with the shipped indexers, **trained on single tokens, not on
# pooled keys**; section 4b swaps in indexers trained for pooled keys.

# %%
layer = 10
rec = trace_layers(loaded, ids, [layer])[1][layer]
members = fa.members(K, block=K // 16 or 1, compress=4, every=4)
picks = fa.member_picks(model.layers[layer].self_attn.indexer, rec.x, members, K, token_by_layer, layer)
picks = {"ideal top-k": oracle_topk(rec.dense_mean, K), **picks}
recall = fa.recall_table(rec.dense_mean, picks, K)
vf.member_bars({n: r for n, r in recall.items() if n != "ideal top-k"}, ideal=recall["ideal top-k"])


# %%
def say(fraction, message):  # progress: each whole-model run takes about half a minute on a laptop
    print(f"{fraction:4.0%}  {message}", flush=True)


ppl = fa.perplexities(model, ids, K, members, progress=say)
for name, p in ppl.items():
    print(f"{name:>16}: perplexity {p:7.3f}  ({100 * (p / ppl['dense'] - 1):+.2f} % vs dense)")

# %% [markdown]
# ## 4b. Compressed keys with indexers trained for pooled keys
#
# An indexer trained on single tokens ranks pooled keys it never saw. `smollm2_compressed_c4.safetensors`
# (beside the shipped file) holds indexers trained for the compressed member: stage 1 with the
# target pooled over the same complete groups of c = 4 (`dsa_core.family.train`), continued from the
# shipped file for 4 minutes on one H200. They exist for **c = 4 only**. A member names its weights
# file (`Member.weights`); the selector is the same `selectors.compressed_topk`, only the indexer changes.

# %%
from dataclasses import replace

from dsa_core.family.in_model import member_indexer
from dsa_core.host.indexers import COMPRESSED_PATH

trained = replace(members["compressed keys"], weights=str(COMPRESSED_PATH))
print(trained.label(K))
pooled_indexer = member_indexer(trained, layer, model.layers[layer].self_attn.indexer)
pooled_picks = fa.member_picks(pooled_indexer, rec.x, {"c": trained}, K, token_by_layer, layer)["c"]
compare = {
    "ideal top-k": picks["ideal top-k"],
    "token-key weights (shipped)": picks["compressed keys"],
    "pooled-key weights": pooled_picks,
}
recall_c = fa.recall_table(rec.dense_mean, compare, K)
for name, r in recall_c.items():
    print(f"{name:>28}: recall {r:.3f}")
ppl_c = fa.perplexities(model, ids, K, {"pooled-key weights": trained}, progress=say)
print(
    f"perplexity with compressed keys in every layer: token-key weights {ppl['compressed keys']:.3f}, "
    f"pooled-key weights {ppl_c['pooled-key weights']:.3f} (dense {ppl_c['dense']:.3f})"
)

# %% [markdown]
# On the held-out texts at k = 128 (docs/family.md, `python -m dsa_core.evaluate ... --member
# compressed,compressed-trained`, one H200) the pooled-key weights raise the compressed member's recall
# from 0.570 to 0.821 at 8,192 tokens (perplexity +68.0 % → +14.2 % vs dense) and from 0.714 to 0.870
# at 2,048 tokens (+13.8 % → +2.7 %), for a quarter of token top-k's indexer work. One short run, one
# seed: token top-k still loses less at 8,192 tokens (+7.0 %).

# %% [markdown]
# ## 5. The cost lab: what each member saves as the context grows
#
# The same cost model as notebook 07 (`dsa_core.family.cost.member_cost`, called by
# `family.on_text.growth`), whole prefill, one layer
# on average. Attention work is the same for every member (each attends to k tokens); the indexer's
# O(L²) part is what changes.

# %%
host = fa.host_shape(model, 2048)
lengths = [2**p for p in range(11, 19)]  # 2K … 256K
series = fa.growth(host, lengths)  # indexer FLOPs per token per member, and the attention they share
viz.cost_curves(lengths, series, y_title="FLOPs per token, one layer", title="indexer vs attention, k = 2048")

# %% [markdown]
# At long context the indexer dominates. The IndexCache README reports the indexer at **81 % of
# prefill time at 200K tokens** (it names no model or GPU for that figure; its speed-ups are for a
# 30B DSA model on H100); that is a timing of the whole prefill. The cost model below gives the
# indexer's share of the attention FLOPs only (indexer + core attention, projections and MLPs left
# out), for our host shape and for
# DeepSeek-V3.2 671B, so read it as the same trend, not the same number. DSA's sparse attention runs
# in MLA's MQA mode (576 dims for q·k, 512 for the values, per head and selected key: the report's
# "we implement DSA based on the MQA mode of MLA", and FlashMLA's sparse prefill kernel), so the
# 671B rows price it in that mode.

# %%
for label, shape_ in (("SmolLM2 host, k = 2048", host), ("V3.2 671B (MLA MQA mode)", flops.V32_MQA)):
    print(label)
    for shares in fa.indexer_shares(shape_, [8192, 65536, 200_000]):  # one member per row
        print(f"  {shares.pop('member'):<32}", ", ".join(f"{n}: {v:.0%}" for n, v in shares.items()))

# %% [markdown]
# ## 6. The family as its designers build it, at equal cost
#
# Every member above scores with indexers trained for token top-k. The systems they come from train
# their own, each for its rule. `dsa_core.family.presets` lists each system's published configuration
# next to the same mechanism at our scale. A GPU run (`scripts/gpu_family_members.py`) trained three of
# them: MSA's one-head block indexer, V4's compressed keys with a window and sink, and IndexCache's
# shared sources. It then measured every member on the three long held-out texts at 8,192 tokens, with
# k = 128 tokens read by every member. The figure reads that run's file; the numbers and targets are in
# [docs/family.md](../docs/family.md).

# %%
import json

from dsa_core.family import measure, presets

for p in presets.PRESETS:
    print(f"{p.name}\n  theirs: {p.theirs}\n  ours:   {p.ours}\n")
run = json.loads(presets.RUN.read_text(encoding="utf-8"))
vf.pareto(measure.pareto_points(run))

# %% [markdown]
# ## Takeaways
#
# - Every member keeps **k token positions** per query; they differ in how those are found.
# - **Blocks** rank by a pooled score (max keeps a single strong key visible) and hand the kernel
#   contiguous keys; the indexer still scores every key.
# - **Compressed keys** cut the indexer's work and its key cache by c; causality is kept by scoring
#   complete groups only. They need an indexer trained for pooled keys: with one (c = 4, section 4b)
#   most of the loss of the token-trained weights goes away.
# - **Shared indices** cut the indexer's work by the share of layers that compute; the overlap
#   heatmap shows where that is cheap in recall; choosing the computing layers by measured
#   overlap can beat a fixed stride when the layers' patterns are uneven (docs/family.md measures it).
# - The app's **Family** page runs all of this on your own text.
#
# **Next:** 09 · decode.
