# Source of notebooks/04_sparse.ipynb; edit here, then run: python scripts/make_notebooks.py
# %% [markdown]
# # 04 · Sparse attention: gather, don't mask
#
# *Series: 01 attention → 02 lightning indexer → 03 top-k → **04 sparse attention** → 05 a real
# model → 06 training the indexer → 07 compute and cost → 08 the DSA family → 09 decode.*
#
# Each query now has its *k* selected keys. Sparse attention is ordinary attention restricted to
# them. There are two ways to write it, and only one of them saves anything:
#
# - **rung 1, masked**: compute every T×T score, set the unselected ones to −inf, softmax. This is
#   what DeepSeek's readable demo does. It is easy to check, and exactly as expensive as dense.
# - **rung 2, gathered**: for each query, fetch only its *k* keys and values and attend over those.
#   Memory and work O(T·k). This is what the production kernels (FlashMLA) do.
#
# Several public "DSA from scratch" versions stop at rung 1 and claim the saving. Here we build rung 2
# by hand, check both rungs agree, and measure the difference.
#
# **Objectives.** After this notebook you can
#
# 1. write gathered sparse attention (rung 2) yourself: gather the K selected keys and values, skip
#    the `-1` slots, renormalise the softmax over $S_t$, and map query heads to kv heads under GQA
#    (exercise 1, run on the checker's inputs);
# 2. compute a sparse output by hand and say what goes wrong when a `-1` slot is clamped, wrapped or
#    scored 0 (exercise 2);
# 3. explain why one index set per token and layer serves every head (exercise 3);
# 4. compare the memory and time of the masked and gathered rungs, and say which one saves (exercise 4).
#
# *Time: about 45–50 min. Teacher's guide: [docs/teaching.md](../docs/teaching.md).*
#
# The whole layer for one query, before any code (the first box is notebook 02, the second 03; this
# notebook builds the last two):

# %%
import time

import torch

import dsa_core as dsa
from course import setup_notebook
from course.checks import nb04 as ex
from dsa_core import viz
from dsa_core.analysis import maps

setup_notebook(seed=0)
cfg = dsa.TEACHING
viz.pipeline_diagram(k=cfg.index_topk)

# %%
print(dsa.sparse.__doc__)

# %% [markdown]
# ## Math
#
# For query *t* with selected set $S_t$ (at most *k* positions, all ≤ t):
#
# $$p_{t,s} = \frac{\exp(q_t\cdot k_s/\sqrt{D})}{\sum_{s' \in S_t} \exp(q_t\cdot k_{s'}/\sqrt{D})}\quad (s \in S_t),
#   \qquad o_t = \sum_{s \in S_t} p_{t,s}\, v_s .$$
#
# The softmax is **renormalised over $S_t$**: the dropped keys get exactly 0. One set $S_t$ per query
# token is **shared by all heads** (the paper's "MQA mode"): the indices have shape `[B, T, K]`, not
# `[B, T, H, K]`.

# %% [markdown]
# ## Code: one query by hand (rung 2), then the library

# %%
T, H, H_kv, D = 12, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
q, k, v = dsa.toy_qkv(1, T, H, D, H_kv=H_kv, seed=1)  # q [1,T,H,D], k and v [1,T,H_kv,D]
iq, ik, iw = dsa.toy_indexer_inputs(1, T, cfg.index_n_heads, cfg.index_head_dim, seed=0)
K = 4
idx = dsa.select_topk(dsa.index_scores(iq, ik, iw), K)  # [1, T, K], shared by every head
print(idx[0])

# %%
t, h = 9, 2
kv = h // (H // H_kv)  # the key/value head this query head reads
sel = idx[0, t]  # [K] positions (no -1 in row 9)
k_sel, v_sel = k[0, sel, kv], v[0, sel, kv]  # [K, D]: gather only K rows
p_sel = (k_sel @ q[0, t, h] * D**-0.5).softmax(-1)  # [K]
o_by_hand = p_sel @ v_sel  # [D]

out = dsa.sparse_attention(q, k, v, idx)  # [1, T, H, D], rung 2
assert torch.allclose(o_by_hand, out[0, t, h], atol=1e-5)
assert torch.allclose(p_sel, dsa.sparse_attention_probs(q, k, idx)[0, t, h], atol=1e-6)
print(f"query {t}, head {h}: gathered {K} keys; equals dsa.sparse_attention")

# %% [markdown]
# ## Rung 1 equals rung 2

# %%
assert torch.allclose(dsa.masked_sparse_attention(q, k, v, idx), out, atol=1e-5)
print("masked (rung 1) == gathered (rung 2)")

# %% [markdown]
# The same selection works for grouped-query attention (here 4 query heads over 2 key/value heads)
# and for any number of heads: selection happens once per token.

# %%
q_g, k_g, v_g = dsa.toy_qkv(1, T, 4, D, H_kv=2, seed=2)
assert torch.allclose(
    dsa.sparse_attention(q_g, k_g, v_g, idx), dsa.masked_sparse_attention(q_g, k_g, v_g, idx), atol=1e-5
)
print("GQA: one index set, 4 query heads, 2 key/value heads: rungs agree")

# %% [markdown]
# ## Picture: what the sparse layer keeps of dense attention
#
# To draw sparse attention on the same T×T grid as dense attention, `maps.scatter_rows` (in
# `dsa_core.analysis.maps`) puts its `[T, K]` probabilities back at their key positions (a change of
# layout, not new math).

# %%
T48 = 48
q48, k48, v48 = dsa.toy_qkv(1, T48, H, D, H_kv=H_kv, seed=3)
iq48, ik48, iw48 = dsa.toy_indexer_inputs(1, T48, cfg.index_n_heads, cfg.index_head_dim, seed=3)
idx48 = dsa.select_topk(dsa.index_scores(iq48, ik48, iw48), 8)  # [1, T, 8]
sparse_probs = dsa.sparse_attention_probs(q48, k48, idx48)[0].mean(1)  # [T, 8], head mean
sparse_map = maps.scatter_rows(sparse_probs.numpy(), idx48[0].numpy(), T48)  # [T, T] numpy
dense_map = dsa.attention_probs(q48, k48)[0].mean(0).numpy()  # [T, T]
assert abs(sparse_map.sum(-1) - 1).max() < 1e-5  # rows still sum to 1
viz.aligned_maps(
    {"dense": dense_map, "sparse": sparse_map},
    cols=3,
    title="dense vs sparse (k = 8) attention, and their difference",
)

# %% [markdown]
# The difference panel: orange where the sparse layer lost attention mass (dropped keys), blue where it
# gained (renormalisation moves the lost mass onto the kept keys). These toy indexer scores are random
# and unrelated to the attention, so much is lost; notebook 05 measures a trained indexer on a real
# model.
#
# ## Check: memory and time of the two rungs
#
# The masked rung allocates a `[B, H, T, T]` score tensor. The gathered rung's largest tensors are the
# `[B, T, H, K]` probabilities and, per block of queries, the gathered keys `[B, block, K, H_kv, D]`.
# The arithmetic, checked against the probabilities the library returns:

# %%
K_big = 64
for T_m in (1024, 4096, 32768):
    masked_bytes = 4 * 1 * H * T_m * T_m
    gathered_bytes = 4 * 1 * T_m * H * K_big
    print(
        f"T = {T_m:6d}: masked scores {masked_bytes / 2**20:9,.0f} MiB | gathered probs "
        f"{gathered_bytes / 2**20:6,.1f} MiB"
    )
probs_1024 = dsa.sparse_attention_probs(
    *dsa.toy_qkv(1, 1024, H, D, H_kv=H_kv)[:2], torch.zeros(1, 1024, K_big, dtype=torch.int64)
)
assert probs_1024.numel() * probs_1024.element_size() == 4 * 1024 * H * K_big

# %% [markdown]
# And the time on this CPU (after one warm-up run; other programs on the machine make these noisy):


# %%
def seconds(fn, repeat=1):
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


lengths, times = [1024, 2048, 4096], {"dense": [], "masked (rung 1)": [], "gathered (rung 2)": []}
for T_m in lengths:
    qm, km, vm = dsa.toy_qkv(1, T_m, H, D, H_kv=H_kv, seed=4)
    iqm, ikm, iwm = dsa.toy_indexer_inputs(1, T_m, cfg.index_n_heads, cfg.index_head_dim, seed=4)
    idxm = dsa.index_topk(iqm, ikm, iwm, K_big)  # selection is not timed here
    times["dense"].append(1000 * seconds(lambda: dsa.dense_attention(qm, km, vm)))
    times["masked (rung 1)"].append(1000 * seconds(lambda: dsa.masked_sparse_attention(qm, km, vm, idxm)))
    times["gathered (rung 2)"].append(1000 * seconds(lambda: dsa.sparse_attention(qm, km, vm, idxm)))
    print(f"T = {T_m}: " + ", ".join(f"{n} {ms[-1]:.0f} ms" for n, ms in times.items()))
viz.line_chart(
    lengths,
    times,
    "tokens T",
    "milliseconds",
    title=f"attention step only, k = {K_big}",
    log_x=True,
    log_y=True,
)

# %% [markdown]
# The masked rung costs what dense costs (it *is* dense plus a mask); the gathered rung grows
# linearly with T. Not shown here: the indexer, which still scores all pairs, but with fewer, smaller
# heads (notebook 07 puts all of it together).

# %% [markdown]
# ## Explore on the real model
#
# The bottom row is this notebook's picture on real text: dense, sparse, and where the sparse layer
# lost attention mass (orange). With sliders for k, query, layer and head over SmolLM2 and a real text
# (`course.explorer`, ipywidgets drawn by JupyterLab itself, offline; a static view at the starting
# settings comes first, for exported HTML). Loading the model and tracing one layer takes a few
# seconds.

# %%
import pathlib

from course.explorer import explorer
from dsa_core.host.indexers import load_with_indexers

loaded, _ = load_with_indexers()  # the shipped trained indexers
texts = pathlib.Path(dsa.__file__).resolve().parents[1] / "assets" / "texts"
controls = explorer(loaded, (texts / "contract.txt").read_text(), max_tokens=256, layer=6, k=32)

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Write `my_sparse_attention(q, k, v, idx)`: `q [B, T, H, D]`, `k [B, T, H_kv, D]`,
# `v [B, T, H_kv, Dv]`, `idx [B, T, K]` (`-1` = empty slot) → `[B, T, H, Dv]`, by gathering (loops
# are fine). Query head *h* reads kv head `h // (H // H_kv)`. The check runs it on its own inputs (MQA,
# GQA, a batch, a single token, K > T); do not call `dsa_core` or `F.scaled_dot_product_attention`.

# %% [answer]
my_sparse_attention = None


# %% [solution]
def my_sparse_attention(q, k, v, idx):  # noqa: F811 (the student copy holds None here)
    B, T, H, D = q.shape
    g = H // k.shape[2]  # query heads per kv head
    out = torch.zeros(B, T, H, v.shape[-1])
    for b in range(B):
        for t in range(T):
            sel = idx[b, t][idx[b, t] >= 0]  # the real slots only: -1 would read the LAST token
            for h in range(H):
                p = (k[b, sel, h // g] @ q[b, t, h] * D**-0.5).softmax(-1)  # renormalised over S_t
                out[b, t, h] = p @ v[b, sel, h // g]
    return out


# %% [check]
ex.check_sparse_function(my_sparse_attention)

# %% [markdown]
# **Exercise 2 (by hand).** One head, query *t* = 2. Its scaled logits $q_2\cdot k_s/\sqrt{D}$ for
# keys *s* = 0, 1, 2, 3 are (1, 0, 2, 3) (key 3 is in the future), the values are the numbers
# $v_s$ = (10, 20, 30, 40), and the selection row is `[2, 0, -1, -1]`. What is the output $o_2$?
# (One number.)

# %% [answer]
answer_2 = None

# %% [solution]
import math

w2, w0 = math.exp(2.0), math.exp(1.0)  # only the selected keys 2 and 0; -1 slots take no part
answer_2 = (w2 * 30 + w0 * 10) / (w2 + w0)  # softmax renormalised over S_2 = {2, 0}

# %% [check]
ex.check_empty_slot(answer_2)

# %% [markdown]
# **Exercise 3.** SmolLM2-135M (the model of notebook 05) has 30 layers, 9 query heads sharing 3
# key/value heads, and we give each layer a 4-head indexer. With DSA in **every** layer, how many
# top-k index sets does the model compute **per token**, in the whole model?

# %% [answer]
answer_3 = None

# %% [solution]
answer_3 = 30  # one set per token per layer, shared by every head of that layer

# %% [check]
ex.check_index_sets(answer_3)

# %% [markdown]
# **Exercise 4.** A model with **H = 16** heads, at **T = 65536** and **K = 256**: give the pair
# `(masked_mib, gathered_mib)`, the MiB of the masked rung's fp32 `[1, H, T, T]` scores and of the
# gathered rung's fp32 `[1, T, H, K]` probabilities.

# %% [answer]
answer_4 = None

# %% [solution]
answer_4 = (4 * 16 * 65536**2 / 2**20, 4 * 65536 * 16 * 256 / 2**20)

# %% [check]
ex.check_rung_memory(answer_4)

# %% [markdown]
# ## Takeaways
#
# - Sparse attention is ordinary attention over $S_t$: gather K keys and values, softmax over those
#   K only (renormalised), weighted sum. Empty `-1` slots take no part.
# - One index set per token and layer, shared by every head: the indices are `[B, T, K]`.
# - "Dense + mask" (rung 1) gives the same numbers and saves nothing; only gathering (rung 2) turns
#   T² into T·K, in memory and in time.
#
# **Next:** 05 · DSA on a real model and real text: how much attention does a trained indexer keep?
