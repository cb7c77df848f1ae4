# Source of notebooks/03_topk.ipynb; edit here, then run: python scripts/make_notebooks.py
# %% [markdown]
# # 03 · Top-k selection, and the causal trap inside it
#
# *Series: 01 attention → 02 lightning indexer → **03 top-k** → 04 sparse attention → 05 a real
# model → 06 training the indexer → 07 compute and cost → 08 the DSA family → 09 decode.*
#
# The indexer gave every (query, key) pair a score. Now each query keeps its **k best keys** and
# drops the rest. It sounds like one call to `torch.topk`, and that is exactly where several public
# re-implementations go wrong.
#
# **Objectives.** After this notebook you can
#
# 1. select a row's top-k by hand with the three rules: best first, ties to the lower position,
#    `-1` for slots with no visible key (exercise 1);
# 2. show how a plain `topk` over −∞ scores leaks future tokens, and write a selection that cannot
#    (exercise 2, run on the checker's own score maps);
# 3. count the (query, key) pairs sparse attention uses, Σ min(t + 1, k) (exercise 3), and explain
#    why k ≥ T gives back dense attention exactly.
#
# *Time: about 35–40 min. Teacher's guide: [docs/teaching.md](../docs/teaching.md).*

# %%
import torch

import dsa_core as dsa
from course import setup_notebook
from course.checks import nb03 as ex
from dsa_core import viz

setup_notebook(seed=0)
cfg = dsa.TEACHING
print(dsa.topk.__doc__)

# %% [markdown]
# ## Idea and math
#
# > $u_t = \mathrm{Attn}\left(h_t, \{c_s \mid I_{t,s} \in \mathrm{Top\text{-}k}(I_{t,:})\}\right)$
# > — DeepSeek-V3.2-Exp report, Eq. (2)
#
# For query *t* the selected set is $S_t = \{ s \le t : I_{t,s} \text{ is among the } k \text{ largest of row } t\}$.
# DeepSeek uses $k = 2048$ (`index_topk`). A query that sees fewer than *k* keys (*t + 1 < k*)
# simply keeps all of them. Our `select_topk` returns `[B, T, k]` positions, **best first**, **ties to
# the lower position**, and **-1** in slots that have no visible key.

# %% [markdown]
# ## Code: one row by hand, then the library

# %%
T, h, d = 12, cfg.index_n_heads, cfg.index_head_dim
q, k, w = dsa.toy_indexer_inputs(B=1, T=T, h=h, d=d, seed=0)
I = dsa.index_scores(q, k, w)  # [1, T, T], -inf in the future
topk = 4

t = 9
row = I[0, t]
by_hand = sorted(range(t + 1), key=lambda s: (-float(row[s]), s))[:topk]  # best first, ties: lower s
idx = dsa.select_topk(I, topk)  # [1, T, topk] int64
assert idx[0, t].tolist() == by_hand
print(f"row {t}: keeps {by_hand} of keys 0..{t}")
print(idx[0])

# %% [markdown]
# Look at the first rows: query 0 sees one key, query 1 two, query 2 three. They keep everything
# they can see, and the remaining slots are **-1** (empty). That is the part a plain `topk` gets wrong.
#
# ## The trap: `topk` over −inf returns the future
#
# The official demo adds the causal mask (−inf for *s > t*) to the scores and calls
# `topk(min(k, T))`. For a row that sees fewer than *k* keys, `topk` must still return *k* positions,
# so it returns some **−inf ones, which are future tokens**:

# %%
naive = I.topk(topk, dim=-1).indices  # [1, T, topk]: what a plain topk gives
for t in range(3):
    leaked = [s for s in naive[0, t].tolist() if s > t]
    print(f"row {t}: naive topk keeps {naive[0, t].tolist()}; future positions among them: {leaked}")

# %% [markdown]
# If those positions reach the attention, query 0 reads tokens that do not exist yet when generating.
# Here is the demo's index mask (0 on selected keys, −inf elsewhere) built from the naive indices
# **without** re-adding the causal mask, applied to the attention scores of one head:

# %%
q_att, k_att, v_att = dsa.toy_qkv(1, T, cfg.n_heads, cfg.head_dim, H_kv=cfg.n_kv_heads, seed=1)
logits = dsa.dense.attention_logits(q_att, k_att)  # [1, H, T, T], no mask yet
index_mask = torch.full((1, T, T), float("-inf")).scatter(-1, naive, 0.0)  # [1, T, T]
leaky = (logits + index_mask[:, None]).softmax(-1)  # forgot `index_mask += mask`
print(f"query 0 puts {float(leaky[0, 0, 0, 1:].sum()):.2f} of its attention on future tokens")

# %% [markdown]
# The demo avoids this by adding the causal mask again after scattering (`index_mask += mask`);
# vLLM, FlashMLA and Megatron mark such slots −1 instead, which is what `dsa.select_topk` does. Its
# mask never contains the future:

# %%
mask = dsa.topk_mask(dsa.select_topk(I, topk), T)  # [1, T, T] bool
assert not (mask & ~dsa.causal_mask(T, T)).any()
assert (mask.sum(-1)[0] == torch.clamp(torch.arange(T) + 1, max=topk)).all()  # min(t + 1, k) per row
print("selected per row:", mask.sum(-1)[0].tolist())

# %% [markdown]
# ## Ties
#
# `torch.topk` does not specify which of two equal scores comes first, and different devices or
# ranks may disagree. The official demo broadcasts rank 0's indices and then *asserts* that every
# rank computed the same ones (`Indexer.forward`): that detects a disagreement, it does not resolve
# it. We break ties by the **lower position**, so the result is defined. The extreme case: an
# indexer whose scores are all equal keeps the first *k* tokens of the text.

# %%
flat = torch.zeros(1, T, T).masked_fill(~dsa.causal_mask(T, T), float("-inf"))
print(dsa.select_topk(flat, topk)[0, -3:])  # the last three rows: keys 0, 1, 2, 3

# %% [markdown]
# ## Picture
#
# Index scores and the kept keys for a longer toy sequence (k = 8). Every row keeps at most 8 keys;
# the first 8 rows keep all of theirs.

# %%
T48 = 48
q48, k48, w48 = dsa.toy_indexer_inputs(B=1, T=T48, h=h, d=d, seed=1)
I48 = dsa.index_scores(q48, k48, w48)
sel48 = dsa.select_topk(I48, 8)
viz.aligned_maps(
    {"scores": I48[0].numpy(), "mask": dsa.topk_mask(sel48, T48)[0].float().numpy()},
    cols=2,
    title="index scores and what top-8 keeps",
)

# %% [markdown]
# ## Check: k ≥ T is dense attention, exactly
#
# When every query may keep every key it sees, sparse attention must equal dense attention. This is
# the first test any DSA implementation should pass (DeepSeek-V3.2 is dense for texts ≤ 2048 tokens).

# %%
all_keys = dsa.select_topk(I, T)  # k = T: everything visible
sparse = dsa.sparse_attention(q_att, k_att, v_att, all_keys)
dense = dsa.dense_attention(q_att, k_att, v_att)
assert torch.allclose(sparse, dense, atol=1e-5)
print("k = T: sparse_attention == dense_attention")

# %% [markdown]
# And at long context the scores are never held as one T×T matrix: `index_topk` scores a
# block of queries at a time and gives the same selection.

# %%
qc, kc, wc = dsa.toy_indexer_inputs(B=1, T=300, h=h, d=d, seed=4)
assert torch.equal(dsa.index_topk(qc, kc, wc, 16, rows=64), dsa.select_topk(dsa.index_scores(qc, kc, wc), 16))
print("chunked selection == selection over the full score map")

# %% [markdown]
# ## Explore on the real model
#
# The second panel is what top-k keeps; move the query to an early token to see a row with fewer than
# k visible keys, and change k. With sliders for k, query, layer and head over SmolLM2 and a real text
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
# **Exercise 1 (by hand).** A small score map; row *t* lists $I_{t,0}, \dots, I_{t,t}$ (the
# future is −∞ and not shown):
#
# | t | scores |
# |---|---|
# | 0 | 1.0 |
# | 1 | 0.5, 2.0 |
# | 2 | 3.0, 1.0, 3.0 |
# | 3 | 0.0, 2.0, 2.0, 1.0 |
# | 4 | 1.5, 0.0, 2.5, 2.5, 0.5 |
# | 5 | 0.0, 4.0, 1.0, 1.0, 1.0, 3.0 |
# | 6 | 2.0, 2.0, 2.0, 0.0, 5.0, 1.0, 0.5 |
# | 7 | 1.0, 0.0, 0.0, 3.0, 3.0, 2.0, 1.0, 0.0 |
#
# With **k = 8**, write down (a list of 8 ints) what `select_topk` keeps for **row 6**: best
# first, ties to the lower position, -1 for empty slots.

# %% [answer]
answer_1 = None

# %% [solution]
answer_1 = [4, 0, 1, 2, 5, 6, 3, -1]  # 5; the tie at 2 (0, 1, 2 in order); 1; 0.5; 0; 7 keys only

# %% [check]
ex.check_select_row(answer_1)

# %% [markdown]
# **Exercise 2.** Write your own `my_select(scores, k)`: `scores [B, T, T]` with −inf in the future
# → int64 `[B, T, k]`, following the same three rules. Do not call `dsa.select_topk` or any
# `topk` (a loop and `sorted` are fine; the check notices). It runs your function on its own
# score maps: random rows, a batch of two, all-tied rows, short rows, a single token and k > T.

# %% [answer]
my_select = None


# %% [solution]
def my_select(scores, k):  # noqa: F811 (the student copy holds None here)
    B, S, T = scores.shape
    out = torch.full((B, S, k), -1, dtype=torch.int64)
    for b in range(B):
        for t in range(S):
            visible = [s for s in range(T) if scores[b, t, s] > float("-inf")]
            best = sorted(visible, key=lambda s: (-float(scores[b, t, s]), s))[:k]
            out[b, t, : len(best)] = torch.tensor(best, dtype=torch.int64)
    return out


# %% [check]
ex.check_select_function(my_select)

# %% [markdown]
# **Exercise 3.** DeepSeek-V3.2 uses k = 2048. In a prefill of T = 8192 tokens, how many
# (query, key) pairs does the *sparse attention* step use in one head, in total?
# (Dense causal attention would use T(T+1)/2 = 33,558,528.)

# %% [answer]
answer_3 = None

# %% [solution]
answer_3 = sum(min(t + 1, 2048) for t in range(8192))

# %% [check]
ex.check_selected_pairs(answer_3)

# %% [markdown]
# ## Takeaways
#
# - $S_t$ holds the k best **visible** keys: a row that sees fewer than k keeps all of them and
#   marks the rest `-1`. A plain `topk` over −∞ scores returns future positions instead.
# - Ties need a rule (here: the lower position), or two devices may select differently.
# - Sparse attention uses Σ min(t + 1, k) pairs: linear in T once T ≫ k, against T(T+1)/2 dense.
# - k ≥ T is dense attention, exactly: the first test for any DSA implementation.
#
# **Next:** 04 · sparse attention: attending to the selected keys, and why "dense + mask" saves nothing.
