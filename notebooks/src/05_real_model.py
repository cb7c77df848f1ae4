# Source of notebooks/05_real_model.ipynb; edit here, then run: python scripts/make_notebooks.py
# %% [markdown]
# # 05 · DSA on a real model and real text
#
# *Series: 01 attention → 02 lightning indexer → 03 top-k → 04 sparse attention → **05 a real
# model** → 06 training the indexer → 07 compute and cost → 08 the DSA family → 09 decode.*
#
# Random vectors taught us the mechanics. Now the question that matters: on a real language model
# reading real text, **how much of the attention does the indexer's top-k keep**, compared with what
# the best possible selection would keep and with simple baselines at the same budget? And how much
# does the model's output change when every layer runs DSA?
#
# The model is SmolLM2-135M-Instruct, the instruction-tuned SmolLM2-135M, in the 4-bit `Q4_1` GGUF
# quantisation that ships embedded in the project (the first printout names it): Llama architecture,
# 30 layers, 9 query heads sharing 3 key/value heads, run on this CPU. Its perplexities are those of
# this quantised model, not of the full-precision base model. `dsa_core.host.model` gives each layer
# a lightning indexer.
#
# **Objectives.** After this notebook you can
#
# 1. measure the recall of a selection (the share of the dense, head-mean attention it keeps) at any
#    budget k (exercise 1), and the ceiling no selector of k keys can beat (exercise 3);
# 2. build the same-budget window-with-sinks baseline (exercise 2) and compare the trained indexer
#    with it, with random picks and with the ideal top-k;
# 3. read the six maps of a layer and say where the sparse layer loses attention mass;
# 4. relate recall to what matters downstream: the layer's output change and the perplexity with DSA
#    in every layer.
#
# *Time: about 40–45 min (the first cell loads the model in a few seconds). Teacher's guide:
# [docs/teaching.md](../docs/teaching.md).*

# %%
import pathlib

from IPython.display import HTML

import dsa_core as dsa
from course import setup_notebook
from course.checks import nb05 as ex
from dsa_core import viz
from dsa_core.analysis import effects, maps, numbers, trace
from dsa_core.host.indexers import load_with_indexers

setup_notebook(seed=0)
loaded, note = load_with_indexers()  # the app's loader: shipped trained indexers, else seeded ones
model = loaded.model
print(loaded.name, "·", note)

# %% [markdown]
# If the line above says UNTRAINED, the trained indexer weights are not in this checkout: every
# number below is then what a *random* indexer achieves, which is a useful baseline in itself
# (notebook 06 shows the training that fixes it).
#
# ## Idea: the measures
#
# For query *t*, with $p_{t,:}$ the dense attention averaged over heads (the indexer is trained,
# with a KL loss, to imitate the same head-pooled distribution: notebook 06) and $S_t$ the selected
# set:
#
# - **recall** $= \sum_{s \in S_t} p_{t,s}$: the share of attention mass the sparse layer keeps
#   (1 = nothing lost; the sparse layer renormalises what it keeps);
# - the **ideal top-k** takes the k largest $p_{t,s}$: the ceiling for any selector of k keys;
# - baselines at the same budget: a **sliding window** with 4 "attention sink" tokens at the start,
#   and **random** picks.
#
# ## Code: trace two layers on a contract

# %%
TEXTS = pathlib.Path(dsa.__file__).resolve().parents[1] / "assets" / "texts"
raw = (TEXTS / "contract.txt").read_text()
K = 64
prep, recs = trace.trace_layers(loaded, raw, layers=[4, 12], topk=K, max_tokens=384)
T = len(prep.ids)
print(f"{T} tokens ({'; '.join(prep.notes) or 'whole text'}); budget k = {K}")
print("".join(t.replace("·", " ").replace("↵", "\n") for t in recs[12].tokens[:60]), "…")

# %% [markdown]
# The trace keeps, per layer, the dense attention (per head and head-mean), the index scores, the
# selection and the recall. Recall by hand for the last query, checked against the trace (which uses
# `dsa.attention_recall`):

# %%
rec = recs[12]
t = T - 1
picked = [int(s) for s in rec.topk_indices[t] if s >= 0]
recall_by_hand = float(rec.dense_mean[t, picked].sum())
assert abs(recall_by_hand - float(rec.recall[t])) < 1e-5
print(
    f"layer 12, query {t}: the indexer keeps {len(picked)} of {t + 1} keys, holding "
    f"{recall_by_hand:.1%} of the dense attention"
)

# %% [markdown]
# ## Against the baselines, at the same budget
#
# `numbers.layer_view` re-selects at budget k and scores every method on the same attention (means over
# the queries that see more than k keys, where the selection matters):

# %%
view = {}
for layer, r in recs.items():
    view[layer] = numbers.layer_view(r, K)
    s = numbers.summary(view[layer])
    print(
        f"layer {layer:2d}: "
        + " · ".join(
            f"{name.replace('recall: ', '')} {v:.3f}" for name, v in s.items() if name.startswith("recall")
        )
        + f" · overlap {s['overlap with ideal top-k']:.3f}"
    )
viz.baseline_bars(
    {n.replace("recall: ", ""): v for n, v in numbers.summary(view[12]).items() if n.startswith("recall")},
    k=K,
    title=f"layer 12: attention mass kept at k = {K}",
)

# %% [markdown]
# ## Picture: the six maps of layer 12
#
# Index scores, what the indexer kept, the ideal set, dense attention, sparse attention and their
# difference. At 384 tokens the maps are block-pooled for the screen (max-pooling, so a lone kept key
# stays visible; the caption says so).

# %%
viz.aligned_maps(
    maps.view_maps(view[12]), tokens=rec.tokens, query=t, title=f"layer 12, k = {K} (mean over heads)"
)

# %% [markdown]
# One query in detail: its index scores against the true attention; ◆ marks the ideal top-k, ✖ the
# keys the indexer missed. Then the same query in the text, with the kept tokens highlighted.

# %%
viz.query_strip(
    rec.index_scores[t],
    rec.dense_mean[t],
    rec.topk_indices[t],
    query=t,
    tokens=rec.tokens,
    dense_top=view[12].oracle[t],
)

# %%
HTML(
    viz.token_html(
        rec.tokens,
        t,
        selected=[int(s) for s in rec.topk_indices[t]],
        scores_row=rec.index_scores[t].numpy(),
        dense_top=view[12].oracle[t].tolist(),
    )
)

# %% [markdown]
# ## Explore: k, query, layer and head
#
# The same views with sliders (`course.explorer`, ipywidgets drawn by JupyterLab itself, offline).
# A static view at the starting settings comes first: an exported HTML file keeps it, since sliders
# need a running kernel. A new layer runs the model once (a few seconds); k, query and head are
# instant. Try: k from 16 to 256 (where does the indexer's recall approach the ideal?), an early
# query (fewer than k visible keys), layer 0 against layer 20, and single heads against their mean.

# %%
from course.explorer import explorer

controls = explorer(loaded, raw, max_tokens=384, layer=12, k=K, recs=recs)

# %% [markdown]
# ## Recall against the budget

# %%
ks = [16, 32, 64, 128]
curves = {}
for k_i in ks:
    for name, v in numbers.summary(numbers.layer_view(rec, k_i)).items():
        if name.startswith("recall"):
            curves.setdefault(name.replace("recall: ", ""), []).append(v)
viz.recall_vs_k(ks, curves, k_now=K)

# %% [markdown]
# ## How much does the layer's output change?
#
# Recall is about attention weights; what the next layer sees is the attention *output*. The relative
# change $\lVert o_\text{sparse} - o_\text{dense} \rVert / \lVert o_\text{dense} \rVert$ per query, for
# the indexer and for the window baseline:

# %%
for name, picks in (("indexer", view[12].topk), ("window + 4 sinks", dsa.window_topk(T, K, 4).numpy())):
    change = effects.output_change(model, rec, picks, K, T)  # queries K..T-1: those that see more than k keys
    print(f"layer 12, {name:17s}: mean relative output change {change.mean():.3f} ({len(change)} queries)")

# %% [markdown]
# ## The whole model: DSA in every layer
#
# Finally, run the whole model three times on the first 128 tokens (short, to stay quick on a CPU)
# with a budget of 32: dense, DSA in all 30 layers, and the window baseline in all 30 layers. Compare
# the perplexity of the text and how often the top-1 next-token prediction changes.

# %%
K_model = 32
runs = trace.compare_runs(loaded, prep.ids[:128], K_model, modes=("dense", "dsa", "window"))
for mode, r in runs.items():
    changed = float((r.top1 != runs["dense"].top1)[K_model:].float().mean())
    print(
        f"{mode:7s}: perplexity {r.perplexity:8.2f} · top-1 prediction differs from dense at "
        f"{changed:.1%} of positions ≥ k"
    )

# %% [markdown]
# For the full per-layer table on longer held-out texts: `python -m dsa_core.train.evaluate FILE --k 128`.
#
# ## Exercises
#
# **Exercise 1.** The trace selected with k = 64. For **layer 4** (`recs[4]`) and **query 300**,
# what recall would the indexer reach with a budget of only **k = 16**? (One number; `topk_indices`
# is best first, and `dense_mean` holds the head-mean dense attention.)

# %% [answer]
answer_1 = None

# %% [solution]
r4 = recs[4]
top16 = [int(s) for s in r4.topk_indices[300][:16]]  # best first: the first 16 slots ARE the top-16
answer_1 = float(r4.dense_mean[300, top16].sum())

# %% [check]
ex.check_recall(answer_1, recs[4], t=300, k=16)

# %% [markdown]
# **Exercise 2.** Write `my_window(t, k, n_sinks)`: the positions the window baseline keeps for
# query *t* with budget *k*: the first `n_sinks` tokens (attention sinks) and the most recent ones
# up to *t* itself, *k* in all, or every visible position when *t* + 1 ≤ *k*. Return a list of ints
# (any order). The check runs it on its own cases; do not call `dsa.window_topk`.

# %% [answer]
my_window = None


# %% [solution]
def my_window(t, k, n_sinks):  # noqa: F811 (the student copy holds None here)
    if t + 1 <= k:
        return list(range(t + 1))  # a short prefix: everything is visible
    return list(range(n_sinks)) + list(range(t - (k - n_sinks) + 1, t + 1))


# %% [check]
ex.check_window_function(my_window)

# %% [markdown]
# **Exercise 3.** For **layer 12** and **query 200**, what is the **highest** recall any selection
# of **k = 32** keys could reach? (One number; do not call `dsa.oracle_topk`.)

# %% [answer]
answer_3 = None

# %% [solution]
answer_3 = float(recs[12].dense_mean[200].sort(descending=True).values[:32].sum())

# %% [check]
ex.check_ceiling(answer_3, recs[12], t=200, k=32)

# %% [markdown]
# ## Takeaways
#
# - Recall = the share of the dense (head-mean) attention that falls on the selected keys; the
#   ideal top-k is its ceiling at the same budget.
# - Measure a selector against same-budget baselines (window with sinks, random), not against 1.0.
# - A trained indexer's recall close to the ideal top-k shows up downstream as a small output change
#   and a small perplexity increase with DSA in every layer (read the numbers your run printed).
#
# **Next:** 06 · training the indexer: where these trained weights come from.
