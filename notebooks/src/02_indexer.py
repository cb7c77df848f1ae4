# Source of notebooks/02_indexer.ipynb; edit here, then run: python scripts/make_notebooks.py
# %% [markdown]
# # 02 · The lightning indexer
#
# *Series: 01 attention → **02 lightning indexer** → 03 top-k → 04 sparse attention → 05 a real
# model → 06 training the indexer → 07 compute and cost → 08 the DSA family → 09 decode.*
#
# Dense attention scores every (query, key) pair with the full model's heads. DSA first asks a much
# cheaper question — *which earlier tokens are worth attending to?* — with a small scorer, the
# **lightning indexer**, and then attends only to the best *k* of them.
#
# **Objectives.** After this notebook you can
#
# 1. compute an index score $I_{t,s}$ by hand, with ReLU on each head's q·k *before* its weight
#    (exercise 1), and the whole causal score map without loops (exercise 2, run on new inputs);
# 2. say what a negative head weight does, and why the score needs no softmax (it only ranks);
# 3. count the indexer's parameters for any configuration (exercise 3) and compare its cost per
#    (query, key) pair with the main attention's (exercise 4);
# 4. explain why the official scalings, RoPE on part of the vector, FP8 and the Hadamard rotation
#    do not change which keys win (much).
#
# *Time: about 50–55 min. Teacher's guide: [docs/teaching.md](../docs/teaching.md).*

# %%
import torch

import dsa_core as dsa
from course import setup_notebook
from course.checks import nb02 as ex
from dsa_core import fp8, viz

setup_notebook(seed=0)
cfg = dsa.TEACHING
print(
    f"teaching indexer: h = {cfg.index_n_heads} heads of d = {cfg.index_head_dim} dims; "
    f"671B: h = {dsa.V32_671B.index_n_heads}, d = {dsa.V32_671B.index_head_dim}"
)

# %% [markdown]
# The definition, as the library's module docstring states it:

# %%
print(dsa.indexer.__doc__)

# %% [markdown]
# ## Idea
#
# The indexer is a tiny attention-like scorer. Each query token *t* has *h* small query heads;
# each earlier token *s* has **one** small key, shared by all heads (MQA). Each head votes with
# ReLU(q·k) — only positive matches count — and a learned, per-query weight $w_{t,j}$ says how much
# to trust head *j* for this query (the weight may be negative: a head can vote *against*). The score
# is only used to **rank** keys, so it needs no softmax.
#
# ## Math
#
# > $I_{t,s} = \sum_{j=1}^{H^I} w^I_{t,j} \cdot \mathrm{ReLU}\left(q^I_{t,j} \cdot k^I_s\right)$
# > — DeepSeek-V3.2-Exp report, Eq. (1)
#
# Shapes: `q [B, T, h, d]`, `k [B, T, d]` (one key per token), `w [B, T, h]`, and the result
# `I [B, T, T]`, with $-\infty$ for the future ($s > t$) so that nothing can ever select it.

# %% [markdown]
# ## Code: the score by hand, then the library

# %%
T, h, d = 12, cfg.index_n_heads, cfg.index_head_dim
q, k, w = dsa.toy_indexer_inputs(B=1, T=T, h=h, d=d, seed=0)  # q [1,T,h,d], k [1,T,d], w [1,T,h]

I_by_hand = torch.full((T, T), float("-inf"))
for t in range(T):
    for s in range(t + 1):  # only the past and the present
        I_by_hand[t, s] = sum(w[0, t, j] * torch.relu(q[0, t, j] @ k[0, s]) for j in range(h))

I = dsa.index_scores(q, k, w)  # [1, T, T] fp32
assert torch.allclose(I_by_hand, I[0], atol=1e-5)  # equal infinities count as equal
print("triple loop == dsa.index_scores")

# %% [markdown]
# ### Where ReLU sits matters
#
# ReLU is applied to each head's dot product *before* the weight. Putting it on the weighted sum
# instead is a different scorer, and it ranks keys differently (compare the top-4 of each row):

# %%
dots = torch.einsum("thd,sd->ths", q[0], k[0])  # [T, h, T], every head's q·k
wrong_order = (w[0, :, :, None] * dots).sum(1).relu()  # ReLU after the head sum: NOT DSA
wrong_order = wrong_order.masked_fill(~dsa.causal_mask(T, T), float("-inf"))
right_top = dsa.select_topk(I, 4)
wrong_top = dsa.select_topk(wrong_order[None], 4)
print("share of the top-4 the two orders agree on, per query:")
print(dsa.topk_overlap(right_top, wrong_top)[0].numpy().round(2))

# %% [markdown]
# ### Each head's vote, for one query
#
# Head *j* contributes $w_{t,j} \cdot \mathrm{ReLU}(q_{t,j} \cdot k_s)$ to every key *s*. A head
# with a negative weight pushes the keys it matches *down* the ranking. We pick the last query whose
# weights have both signs, so both kinds of vote show:

# %%
t = max(i for i in range(T) if (w[0, i] < 0).any() and (w[0, i] > 0).any())
votes = w[0, t, :, None] * dots[t, :, : t + 1].relu()  # [h, t+1]: head j's vote for each visible key
assert torch.allclose(votes.sum(0), I[0, t, : t + 1], atol=1e-5)  # the votes add up to the score row
viz.line_chart(
    torch.arange(t + 1),
    {f"head {j} (w = {float(w[0, t, j]):+.3f})": votes[j] for j in range(h)}
    | {"I[t, s] (sum)": I[0, t, : t + 1]},
    "key position s",
    f"contribution to I[{t}, s]",
    title=f"the {h} heads' votes for query {t}",
)

# %% [markdown]
# ## The module: projections and the official scalings
#
# `LightningIndexer` holds the learned weights (`wq_b`, `wk`, `k_norm`, `weights_proj`) and computes
# `q, k, w` from the hidden state; `index_scores` does the rest. In DeepSeek the queries come from the
# query latent `qr` that MLA already computes, the key and the weights from the hidden state `x`.
# The official code scales the weights twice:
#
# ```python
# weights = self.weights_proj(x) * self.n_heads ** -0.5
# weights = weights.unsqueeze(-1) * q_scale * self.softmax_scale   # softmax_scale = head_dim ** -0.5
# ```

# %%
indexer = dsa.LightningIndexer(cfg)
x, qr = dsa.toy_hidden(cfg, B=1, T=T, seed=0)  # x [1,T,dim], qr [1,T,q_lora_rank]
with torch.no_grad():
    q_m, k_m, w_m = indexer.project(x, qr)  # q [1,T,h,d], k [1,T,d], w [1,T,h]
    w_by_hand = indexer.weights_proj(x) * cfg.index_n_heads**-0.5 * cfg.index_head_dim**-0.5
    assert torch.allclose(w_m, w_by_hand, atol=1e-6)
    assert torch.allclose(indexer(x, qr), dsa.index_scores(q_m, k_m, w_m), atol=1e-6, equal_nan=True)
print("q", tuple(q_m.shape), "k", tuple(k_m.shape), "w", tuple(w_m.shape))

# %% [markdown]
# A positive constant cannot change a ranking, so why scale? Because the scores are *trained* through
# a softmax (notebook 06) and the FP8 path folds the query's quantisation scale into the same
# weights; the scalings keep the numbers in a good range. For selection alone they are invisible:

# %%
with torch.no_grad():
    I_m = indexer(x, qr)
assert torch.equal(dsa.select_topk(I_m, 5), dsa.select_topk(I_m * 1000.0, 5))
print("scaling the scores by 1000 leaves the top-5 unchanged")

# %% [markdown]
# The indexer also applies RoPE (rotate-half) to the **first** `index_rope_dim` dims of each query
# head and of the key, so positions matter; the rest of the vector is left alone:

# %%
r = cfg.index_rope_dim
cos, sin = dsa.rope_cos_sin(torch.arange(T), r, cfg.rope_theta)
k_raw = torch.randn(1, T, d)  # any keys [1, T, d]
rotated = dsa.apply_rope_half(k_raw, cos, sin)
assert torch.equal(rotated[..., r:], k_raw[..., r:])  # the last d - r dims: untouched
assert torch.allclose(rotated.norm(dim=-1), k_raw.norm(dim=-1), atol=1e-5)  # a rotation keeps lengths
print(f"RoPE rotates dims 0..{r - 1} of {d}; lengths preserved")

# %% [markdown]
# ## Picture
#
# Index scores of a longer toy sequence. They are **unnormalised** (not probabilities): only their
# order within a row matters. Grey is the future.

# %%
q48, k48, w48 = dsa.toy_indexer_inputs(B=1, T=48, h=h, d=d, seed=1)
viz.heatmap(dsa.index_scores(q48, k48, w48)[0].numpy(), kind="scores", title="index scores I[t, s]")

# %% [markdown]
# ## FP8 and the Hadamard rotation (production fidelity)
#
# In production the indexer runs in FP8 (e4m3, one scale per 128-dim block). Before quantising, q and
# k are multiplied by a Hadamard matrix $H_d/\sqrt{d}$: an orthonormal rotation, so q·k does not
# change in exact arithmetic; the intent is to spread outlier dimensions before quantising.
# `dsa_core.fp8` simulates both (it is optional; the math files never import it).

# %%
Hd = fp8.hadamard_matrix(d) * d**-0.5
assert torch.allclose(Hd @ Hd.T, torch.eye(d), atol=1e-6)  # orthonormal
assert torch.allclose(dsa.index_scores(fp8.hadamard(q), fp8.hadamard(k), w), I, atol=1e-4)
print("Hadamard-rotated q and k give the same scores in fp32")

# %% [markdown]
# The official kernel multiplies the FP8 values (8-bit *floating-point* numbers, e4m3: 4 exponent and
# 3 mantissa bits) and applies the scales *outside* the ReLU (the q scale
# folded into `w`, the k scale after the head sum). That is allowed because ReLU is positively
# homogeneous, $\mathrm{ReLU}(c\,x) = c\,\mathrm{ReLU}(x)$ for $c > 0$, so it equals dequantising
# first. And the FP8 ranking stays close to the fp32 one. Compare the two overlaps printed below:
# random toy vectors have no outlier dimensions, so the rotation has little to fix here; its purpose
# is robustness to the outlier dimensions of real activations.

# %%
qL, kL, wL = dsa.toy_indexer_inputs(B=1, T=256, h=h, d=d, seed=2)
folded = fp8.fp8_index_scores(qL, kL, wL)  # the kernel's form
assert torch.allclose(folded, fp8.fp8_index_scores_dequant(qL, kL, wL), atol=1e-4, rtol=1e-4)
overlap = dsa.topk_overlap(dsa.select_topk(folded, 32), dsa.select_topk(dsa.index_scores(qL, kL, wL), 32))
print(f"top-32 overlap, FP8 vs fp32, mean over 256 queries: {float(overlap.mean()):.3f}")
assert overlap.mean() > 0.9
no_rotation = fp8.fp8_index_scores(qL, kL, wL, rotate=False)
overlap_nr = dsa.topk_overlap(
    dsa.select_topk(no_rotation, 32), dsa.select_topk(dsa.index_scores(qL, kL, wL), 32)
)
print(f"the same without the Hadamard rotation:            {float(overlap_nr.mean()):.3f}")

# %% [markdown]
# ## Explore on the real model
#
# The first panel is this notebook's score map, now from a trained indexer on real text: look for the
# columns (keys every query likes) and the diagonal band (recent tokens). With sliders for k, query,
# layer and head over SmolLM2 and a real text (`course.explorer`, ipywidgets drawn by JupyterLab
# itself, offline; a static view at the starting settings comes first, for exported HTML). Loading the
# model and tracing one layer takes a few seconds.

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
# **Exercise 1 (by hand).** One query *t* of an indexer with 3 heads of 3 dims, and one key *s*:
#
# | head *j* | $q_{t,j}$ | $w_{t,j}$ |
# |---|---|---|
# | 0 | (1, 2, 0) | 0.5 |
# | 1 | (−1, 1, 1) | 2.0 |
# | 2 | (1, 0, 1) | −1.5 |
#
# and $k_s = (2, 1, -1)$. What is $I_{t,s}$? (One number; pencil and paper is enough.)

# %% [answer]
answer_1 = None

# %% [solution]
# head 0: q·k = 4 → 0.5·4 = 2; head 1: q·k = −2 → ReLU gives 0; head 2: q·k = 1 → −1.5·1 = −1.5
answer_1 = 2.0 + 0.0 - 1.5

# %% [check]
ex.check_index_score(answer_1)

# %% [markdown]
# **Exercise 2.** Write `my_index_scores(q, k, w)`: `q [B, T, h, d]`, `k [B, T, d]`, `w [B, T, h]`
# → the causal score map `[B, T, T]` (−inf where s > t), **without Python loops** (hint:
# `torch.einsum`, `.relu()`, `.sum`, `torch.triu`). The check runs it on its own inputs (batches, a
# single token, one head, negative weights). Do not call `dsa_core`.

# %% [answer]
my_index_scores = None


# %% [solution]
def my_index_scores(q, k, w):  # noqa: F811 (the student copy holds None here)
    T = k.shape[1]
    per_head = torch.einsum("bthd,bsd->bths", q, k).relu()  # [B, T, h, S]: ReLU per head
    scores = (w[..., None] * per_head).sum(2)  # weight each head, then sum the heads: [B, T, S]
    future = torch.ones(T, T, dtype=torch.bool).triu(1)  # s > t
    return scores.masked_fill(future, float("-inf"))


# %% [check]
ex.check_index_function(my_index_scores)

# %% [markdown]
# **Exercise 3.** Write `my_indexer_params(cfg)`: the number of parameters of **one layer's**
# lightning indexer for a `DSAConfig` (fields `q_lora_rank`, `dim`, `index_n_heads`,
# `index_head_dim`). Count `wq_b` (from the query latent `qr`, or from `x` when `q_lora_rank == 0`,
# as in the SmolLM2 host), `wk`, `weights_proj` and `k_norm` (no biases in the linear layers). The
# check runs it on four configurations; do not build a `LightningIndexer` to count.

# %% [answer]
my_indexer_params = None


# %% [solution]
def my_indexer_params(cfg):  # noqa: F811
    q_in = cfg.q_lora_rank or cfg.dim  # wq_b reads qr, or x in hosts without a query latent
    h, d = cfg.index_n_heads, cfg.index_head_dim
    return (
        q_in * h * d  # wq_b: h query heads
        + cfg.dim * d  # wk: ONE key, shared by all heads
        + cfg.dim * h  # weights_proj: one weight per head
        + 2 * d  # k_norm: LayerNorm weight and bias
    )


# %% [check]
ex.check_params_function(my_indexer_params)

# %% [markdown]
# **Exercise 4.** Dense **prefill** (DeepSeek-V3.1-Terminus, and V3.2's path for short texts) runs
# MLA in "MHA mode": 128 heads, each with a 192-dim query·key product and a 128-dim value sum per
# (query, key) pair. The indexer does `index_n_heads × index_head_dim` multiply-adds per pair. How many
# times more multiply-adds per pair does this dense attention need than the indexer? (One number,
# e.g. `12.5`.) DSA's own sparse attention runs in MLA's cheaper-per-head "MQA mode" instead (the
# report: "we implement DSA based on the MQA mode of MLA"); the check tells you that ratio too.

# %% [answer]
answer_4 = None

# %% [solution]
answer_4 = (128 * (192 + 128)) / (dsa.V32_671B.index_n_heads * dsa.V32_671B.index_head_dim)

# %% [check]
ex.check_prefill_ratio(answer_4)

# %% [markdown]
# ## Takeaways
#
# - $I_{t,s} = \sum_j w_{t,j}\,\mathrm{ReLU}(q_{t,j}\cdot k_s)$: ReLU per head *before* the
#   weight; weights can be negative; no softmax, because the score only ranks keys.
# - One small key per token, shared by all indexer heads (MQA): cheap to cache (132 B per token and
#   layer in FP8 for 671B).
# - The indexer still scores **every** earlier key: O(T²), with a constant several times smaller
#   than the main attention's (exercise 4 and notebook 07), and in FP8.
# - Positive scalings, the Hadamard rotation and FP8 barely change the ranking, which is all that
#   top-k reads.
#
# **Next:** 03 · top-k selection, and the causal trap hidden in it.
