# Source of notebooks/01_attention.ipynb; edit here, then run: python scripts/make_notebooks.py
# %% [markdown]
# # 01 · Attention, and why it is quadratic
#
# *Series: **01 attention** → 02 lightning indexer → 03 top-k → 04 sparse attention → 05 a real
# model → 06 training the indexer → 07 compute and cost → 08 the DSA family → 09 decode.*
#
# DeepSeek Sparse Attention (DSA) changes one thing in a transformer: **which earlier tokens each
# token looks at**. Before we can see what that saves, we need the thing it saves on: dense causal
# attention.
#
# **Objectives.** After this notebook you can
#
# 1. compute one head of causal attention by hand (scale, mask, softmax, weighted sum) and check it
#    against `dsa_core.dense_attention` (exercise 2 runs your function on inputs you have not seen);
# 2. explain why a token attends to itself but never to the future, and test that a layer is causal;
# 3. count the scores, T(T+1)/2 per head, and the bytes, 4·H·T² for fp32 probabilities, and predict
#    how both grow with the text length (exercises 1 and 3).
#
# *Time: about 30–35 min. Teacher's guide (plans, what to project, common mistakes):
# [docs/teaching.md](../docs/teaching.md).*
#
# Every notebook follows the same rhythm: *Idea → Math → Code → Picture → Check → Exercises*.
# The math lives in the `dsa_core` package; notebooks import it and never re-implement it. When we
# derive something by hand, the next line asserts that it equals the library function.

# %%
import time

import torch

import dsa_core as dsa
from course import setup_notebook
from course.checks import nb01 as ex
from dsa_core import viz

setup_notebook(seed=0)  # seeds torch; makes the figures render offline (JupyterLab, VS Code, HTML)
cfg = dsa.TEACHING  # a tiny configuration with DeepSeek-V3.2's field names
cfg

# %% [markdown]
# ## Idea
#
# Each token *t* asks a question (its **query** $q_t$). Every token *s* offers a label (its **key**
# $k_s$) and a content (its **value** $v_s$). Token *t* compares its query with the keys of all
# tokens it may see, turns the match scores into weights that sum to 1, and takes the weighted mean
# of their values. In a language model a token may only see itself and the past: *s ≤ t*
# (**causal** attention), because when generating, the future does not exist yet.

# %% [markdown]
# ## Math
#
# For one head with head dimension $D$:
#
# $$\ell_{t,s} = \frac{q_t \cdot k_s}{\sqrt{D}}, \qquad
#   p_{t,s} = \frac{e^{\ell_{t,s}}}{\sum_{s' \le t} e^{\ell_{t,s'}}} \ (s \le t), \quad p_{t,s} = 0 \ (s > t),
#   \qquad o_t = \sum_{s \le t} p_{t,s}\, v_s .$$
#
# The mask is applied by setting $\ell_{t,s} = -\infty$ for $s > t$ before the softmax.
# Shapes follow DeepSeek's letters: `q [B, T, H, D]`, `k, v [B, T, H_kv, D]`. With `H_kv < H`,
# several query heads share one key/value head (GQA; `H_kv = 1` is MQA).

# %% [markdown]
# ## Code: one head by hand, then the library

# %%
B, T = 1, 12
H, H_kv, D = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
q, k, v = dsa.toy_qkv(B, T, H, D, H_kv=H_kv, seed=0)  # q [B,T,H,D], k and v [B,T,H_kv,D]
print(f"{H} query heads share {H_kv} key/value head(s); head dim D = {D}")

# %%
h = 0  # query head 0 reads key/value head 0
logits = q[0, :, h] @ k[0, :, 0].T * D**-0.5  # [T, T]: every query against every key
future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True where s > t
p_by_hand = logits.masked_fill(future, float("-inf")).softmax(dim=-1)  # [T, T], rows sum to 1
out_by_hand = p_by_hand @ v[0, :, 0]  # [T, D]

# the same thing, from the library
assert torch.equal(~future, dsa.causal_mask(T, T))
assert torch.allclose(p_by_hand, dsa.attention_probs(q, k)[0, h], atol=1e-6)
assert torch.allclose(out_by_hand, dsa.dense_attention(q, k, v)[0, :, h], atol=1e-5)
print("hand-built head 0 == dsa.attention_probs / dsa.dense_attention")

# %% [markdown]
# Read the library's version: it is the same few lines, batched over heads (`??dsa.dense_attention`
# in Jupyter shows the source).

# %%
import inspect

print(inspect.getsource(dsa.dense.attention_probs))

# %% [markdown]
# ## Picture
#
# Rows are queries, columns are keys. The upper triangle is the future (grey): never attended.
# The colour scale is fixed to [0, 1] so maps are comparable. With random vectors the pattern has no
# meaning yet; notebook 05 shows a real model on real text.

# %%
T_pic = 48
q_pic, k_pic, _ = dsa.toy_qkv(1, T_pic, H, D, H_kv=H_kv, seed=1)
probs = dsa.attention_probs(q_pic, k_pic)  # [B, H, T, T]
viz.heatmap(probs[0].mean(0).numpy(), kind="dense", title="dense causal attention, mean over heads")

# %% [markdown]
# ## Check: the future really is invisible
#
# Changing the *last* tokens must not change the outputs of the earlier ones.

# %%
out = dsa.dense_attention(q, k, v)
k2, v2 = k.clone(), v.clone()
k2[:, 8:] += 5.0 * torch.randn_like(k2[:, 8:])  # scramble keys and values of tokens 8..11
v2[:, 8:] += 5.0 * torch.randn_like(v2[:, 8:])
out2 = dsa.dense_attention(q, k2, v2)
assert torch.allclose(out[:, :8], out2[:, :8], atol=1e-6)  # tokens 0..7 did not notice
assert not torch.allclose(out[:, 8:], out2[:, 8:])  # tokens 8..11 did
print("outputs of tokens 0..7 unchanged: attention is causal")

# %% [markdown]
# ## Why it is quadratic
#
# Query *t* scores *t + 1* keys, so one head computes $1 + 2 + \dots + T = T(T+1)/2$ scores, and the
# probability tensor `[B, H, T, T]` holds $H T^2$ numbers. Double the text, quadruple the work.
# First the memory, checked against the tensor the library really allocates:

# %%
for T_m in (256, 512, 1024):
    p_m = dsa.attention_probs(torch.randn(1, T_m, H, D), torch.randn(1, T_m, H_kv, D))
    bytes_by_hand = 4 * 1 * H * T_m * T_m  # fp32 = 4 bytes, B = 1
    assert p_m.numel() * p_m.element_size() == bytes_by_hand
    print(f"T = {T_m:5d}: probabilities [1, {H}, {T_m}, {T_m}] = {bytes_by_hand / 2**20:6.1f} MiB")

# %% [markdown]
# And the time, measured on this machine (small sizes so it stays quick; the ratio is what matters):


# %%
def seconds(fn, repeat=3):
    """Best of a few runs after a warm-up: the least disturbed by other programs."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


lengths, ms = [256, 512, 1024, 2048], []
for T_m in lengths:
    qm, km, vm = dsa.toy_qkv(1, T_m, H, D, H_kv=H_kv, seed=2)
    ms.append(1000 * seconds(lambda: dsa.dense_attention(qm, km, vm)))
    ratio = f"  ×{ms[-1] / ms[-2]:.1f} for 2× the tokens" if len(ms) > 1 else ""
    print(f"T = {T_m:5d}: {ms[-1]:7.1f} ms{ratio}")

quadratic = [ms[-1] * (T_m / lengths[-1]) ** 2 for T_m in lengths]  # a T² curve through the last point
viz.line_chart(
    lengths,
    {"∝ T² (reference)": quadratic},
    "tokens T",
    "milliseconds",
    title="dense attention time on this machine",
    log_x=True,
    log_y=True,
    markers={"measured dense_attention": (lengths, ms)},
)

# %%
growth = [ms[i + 1] / ms[i] for i in range(len(ms) - 1)]
print("time ratio per doubling of T, on this run:", ", ".join(f"×{g:.1f}" for g in growth))

# %% [markdown]
# Read your own run's ratios. A purely T² algorithm costs ×4 per doubling, but a measurement is not
# that clean: at small T fixed overheads dominate (ratios below 4), when the T×T tensors outgrow the
# CPU caches a doubling can cost more than ×4, and other programs on a shared machine add noise.
# The memory count above is exact and does not depend on the machine. DeepSeek-V3.2 serves
# 128K-token contexts: at that length the T×T part is everything. DSA keeps the per-query work
# bounded by a fixed budget *k* of keys; the next notebooks build it piece by piece.
#
# ## Exercises
#
# Replace each `None` with your answer and run the check cell below it. The check says what is
# wrong, if anything.
#
# **Exercise 1.** How many (query, key) scores does **one** causal head compute for T = 1000 tokens?
# (Count only the keys each query can see.)

# %% [answer]
answer_1 = None

# %% [solution]
T_ex = 1000
answer_1 = T_ex * (T_ex + 1) // 2  # query t sees t + 1 keys: 1 + 2 + ... + T

# %% [check]
ex.check_causal_pairs(answer_1)

# %% [markdown]
# **Exercise 2.** Write `my_attention_probs(q, k)` for **one head**: `q` and `k` are `[T, D]`
# (any T ≥ 1, any D); return the `[T, T]` causal attention probabilities (row t = query t, zeros
# for the future). The check runs it on its own inputs, including a single token and large scores.
# Do not call `dsa_core` or `F.scaled_dot_product_attention`: write the steps.

# %% [answer]
my_attention_probs = None


# %% [solution]
def my_attention_probs(q, k):  # noqa: F811 (the student copy holds None here)
    T, D = q.shape
    logits = q @ k.T * D**-0.5  # [T, T]: every query against every key
    future = torch.ones(T, T, dtype=torch.bool).triu(1)  # True where s > t
    return logits.masked_fill(future, float("-inf")).softmax(dim=-1)  # rows sum to 1


# %% [check]
ex.check_attention_function(my_attention_probs)

# %% [markdown]
# **Exercise 3.** DeepSeek-V3.2 (`dsa.V32_671B`) has `n_heads = 128` query heads. How many **GiB**
# (2³⁰ bytes) would one layer's fp32 attention-probability tensor `[1, H, T, T]` take at
# T = 131072 (128K) tokens?

# %% [answer]
answer_3 = None

# %% [solution]
answer_3 = 4 * dsa.V32_671B.n_heads * 131072**2 / 2**30

# %% [check]
ex.check_probs_memory_gib(answer_3)

# %% [markdown]
# ## Takeaways
#
# - Attention is: scores q·k/√D, the causal mask (−∞ for s > t, the diagonal stays), a softmax
#   over each query's row, a weighted sum of values.
# - One head computes T(T+1)/2 scores: doubling the text quadruples the work, and the `[H, T, T]`
#   probabilities grow the same way (terabytes per layer for the 671B model at 128K, in fp32).
# - Everything after this notebook is about one idea: give each query a fixed budget of k keys.
#
# **Next:** 02 · the lightning indexer, a cheap scorer that decides which keys are worth it.
