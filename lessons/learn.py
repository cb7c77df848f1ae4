"""Learn: a guided walkthrough of DSA, one step at a time, each on the current text: a short text, the
formula, a live figure, and the source of the dsa_core function that computed it.

Each step is a function of the analysed text `a` (lessons/state.analyse), its LayerView `v` at the
sidebar's k, and the query `q`; STEPS lists them in order (the step number is learn_step in
lessons/keys.py, and `?step=N` in a link)."""

import streamlit as st

from dsa_core import dense, fp8, indexer, sparse, topk, viz
from dsa_core.analysis import numbers, rank, trace
from dsa_core.cost import flops as cost
from dsa_core.train import losses
from dsa_core.train.positions import position_series, recorded_by_position
from dsa_core.viz.positions import recall_by_position
from lessons import cache, keys, records, show, state


def dense_attention(a, v, q):
    """Step 1: Dense attention and its cost."""
    T, tokens = a["T"], a["rec"].tokens
    st.markdown(
        "Every query token t compares itself with **every** earlier token s: a score, a softmax, a "
        "weighted sum of values. That is T(T+1)/2 query-key pairs per head and layer: the cost grows "
        "with the square of the text length."
    )
    st.latex(
        r"p_{t,s}=\mathrm{softmax}_{s\le t}\Big(\tfrac{q_t\cdot k_s}{\sqrt{D}}\Big),\qquad "
        r"o_t=\sum_{s\le t} p_{t,s}\,v_s"
    )
    H = a["model"]["n_heads"]
    st.metric(f"Query-key pairs in this layer (all {H} heads)", f"{H * T * (T + 1) // 2:,}")
    show.show_figure(
        viz.heatmap(
            v.dense,
            "dense",
            tokens,
            query=q,
            title="Dense attention on your text",
            pick_rows=True,
            cells="auto",
        ),
        "learn-dense",
        key="l_dense",
        on_select=show.query_from_click("l_dense"),
        selection_mode="points",
    )
    show.show_source(dense.attention_probs)


def lightning_indexer(a, v, q):
    """Step 2: The lightning indexer."""
    tokens, layer = a["rec"].tokens, a["layer"]
    ix = cache.indexer(layer)
    st.markdown(
        f"The **lightning indexer** is a tiny extra attention: a few heads (here {ix.n_heads} × "
        f"{ix.head_dim} dims, DeepSeek: 64 × 128 in FP8) give each earlier token a score. ReLU "
        "instead of softmax, and a learned weight per head and query. The scores are "
        "**unnormalised**: not probabilities."
    )
    st.latex(r"I_{t,s}=\sum_{j=1}^{H_I} w_{t,j}\,\mathrm{ReLU}\big(q^{I}_{t,j}\cdot k^{I}_{s}\big)")
    if "UNTRAINED" in a["indexer"]:
        st.info(a["indexer"])
    show.show_figure(
        viz.head_votes(cache.head_votes(a["text"], layer, a["max_tokens"], q), q, tokens),
        "learn-head-votes",
        key="l_votes",
    )
    show.show_figure(
        viz.heatmap(
            v.scores,
            "scores",
            tokens,
            query=q,
            title="Index scores, all queries",
            pick_rows=True,
            cells="auto",
        ),
        "learn-scores",
        key="l_scores",
        on_select=show.query_from_click("l_scores"),
        selection_mode="points",
    )
    show.show_source(indexer.index_scores, ran=trace.INDEX_SCORES)


def top_k_selection(a, v, q):
    """Step 3: Top-k selection and the causal trap."""
    T, k, tokens = a["T"], a["k"], a["rec"].tokens
    st.markdown(
        f"Each query keeps the **k = {k}** keys with the highest index score. The trap: a query near "
        f"the start sees fewer than k keys. A plain `topk` then still returns k positions, and the "
        f"extra ones are **future** tokens (score −∞), leaking the answer. `select_topk` marks them −1."
    )
    st.latex(r"S_t=\{\,s\le t:\ I_{t,s}\in\mathrm{Top}\text{-}k(I_{t,:})\,\}")
    t0 = min(max(0, k // 2), T - 1)
    row = v.topk[t0]
    st.markdown(
        f"Query {t0} sees {state.count(t0 + 1, 'token')}, fewer than k = {k}: its selection has "
        f"**{int((row >= 0).sum())} real positions and {int((row < 0).sum())} empty slots (−1)**, "
        f"not {k} positions."
        if t0 + 1 < k
        else f"Query {t0} sees {state.count(t0 + 1, 'token')}, at least k = {k}, so its selection has no "
        f"empty slot. The trap needs a query that sees fewer tokens than k: raise k above {t0 + 1} "
        "(sidebar) to see it."
    )
    real, empty = row[row >= 0].tolist(), int((row < 0).sum())
    shown = real[:10] + (["…"] if len(real) > 10 else []) + ([-1, "…", -1] if empty > 2 else [-1] * empty)
    st.code(  # wrapped: the line must not run off the right edge at 1280 x 720
        f"select_topk(scores, k={k})[0, {t0}] = [{', '.join(map(str, shown))}]   "
        f"# {len(real)} positions, then {empty} × -1",
        wrap_lines=True,
    )
    show.show_figure(
        viz.query_strip(v.scores[q], v.dense[q], v.topk[q], q, tokens, dense_top=v.oracle[q]),
        "learn-strip",
        key="l_strip",
    )
    show.show_source(topk.select_topk, ran=rank.topk_fn(cache.depth_for(k, T)))
    st.caption(
        "The page ranks each row once per text (`dsa_core.analysis.rank.rank_index`); the picks at any k are "
        "the first k of each row, which equals `select_topk(scores, k)` (tests/analysis/test_ranked.py::"
        "test_a_full_ranking_sliced_at_k_is_select_topk_at_k)."
    )


def sparse_attention_step(a, v, q):
    """Step 4: Sparse attention."""
    k, tokens, layer = a["k"], a["rec"].tokens, a["layer"]
    st.markdown(
        "Attention now runs over the selected keys only: the softmax is renormalised over S_t, so "
        "the weights of dropped keys move to the kept ones. Query t sees t + 1 keys (0 to t), so with "
        "k ≥ t + 1 it keeps them all and is exactly dense attention."
    )
    st.latex(r"o_t=\sum_{s\in S_t}\mathrm{softmax}_{s\in S_t}\Big(\tfrac{q_t\cdot k_s}{\sqrt{D}}\Big)\,v_s")
    m = cache.maps(a["text"], layer, a["max_tokens"], k, a["head"], st.session_state.pool, None)
    show.show_figure(
        viz.aligned_maps(
            {x: m[x] for x in ("dense", "sparse", "diff")}, tokens, query=q, height=460, cells="auto"
        ),
        "learn-sparse",
        key="l_sparse",
    )
    show.show_source(sparse.sparse_attention)
    show.show_source(
        sparse.sparse_attention_probs,
        "Source: the probabilities drawn in the sparse map",
        ran=numbers.sparse_fn(k, a["T"]),
    )


def masked_dense(a, v, q):
    """Step 5: Why 'dense, then mask' saves nothing."""
    T, k = a["T"], a["k"]
    st.markdown(
        "Many 'from scratch' versions compute the full T × T score matrix and then set the dropped "
        "entries to −∞. The result is right, but **every pair is still computed**: no saving. The "
        "saving comes only from gathering the k selected keys and computing k scores per query."
    )
    st.latex(
        r"\text{dense: } \tfrac{T^2}{2}\,H(D+D_v)\qquad"
        r"\text{masked dense + indexer: } \tfrac{T^2}{2}\,H(D+D_v)+\tfrac{T^2}{2}\,H_I d_I\qquad"
        r"\text{DSA: } \tfrac{T^2}{2}\,H_I d_I+T\,k\,H(D+D_v)"
    )
    c = numbers.cost_on_text(T, k)
    show.show_figure(
        viz.bars(
            c, "multiply-adds, one layer, prefill of your text", f"Cost on your text (T = {T}, k = {k})"
        ),
        "learn-masked",
        key="l_masked",
    )
    st.caption(
        "On short texts the indexer's T² term can cost more than it saves: DSA pays off at long "
        "context (step 8)."
    )
    show.show_source(sparse.masked_sparse_attention, "Source: the masked-dense version (no saving)")
    show.show_source(sparse.sparse_attention, "Source: the gathered version (the saving)")


def fp8_cache(a, v, q):
    """Step 6: FP8 and the indexer cache."""
    T, k, layer = a["T"], a["k"], a["layer"]
    st.markdown(
        "DeepSeek runs the indexer in **FP8** (8-bit floats with one scale per block of 128, after a "
        "Hadamard rotation) and caches one 128-dim indexer key per token: 132 bytes per token per "
        "layer next to the 656-byte MLA cache. Does FP8 change which keys are picked? On your text:"
    )
    st.latex(
        r"x_{\mathrm{fp8}}=\mathrm{e4m3}\!\big(x/\sigma\big)\cdot\sigma,\quad "
        r"\sigma=2^{\lceil \log_2(\max|x_{\text{block}}|/448)\rceil}"
    )
    st.caption(
        "e4m3 values are 8-bit floating-point numbers (4 exponent bits, 3 mantissa bits), not integers. "
        'The 671B config sets `scale_fmt = "ue8m0"`: each block\'s scale max|x|/448 is rounded up to a '
        "power of two (`fp8.act_quant`, as `act_quant` in the official `inference/kernel.py`)."
    )
    if T > 1024:
        st.info("The FP8 comparison runs on up to 1,024 tokens; lower the token limit to see it.")
    else:
        f = cache.fp8_agreement(a["text"], layer, a["max_tokens"], k)
        st.metric(
            "Top-k overlap, FP8 vs fp32 (mean over queries)", f"{f['overlap'][k:].mean() if T > k else 1:.3f}"
        )
        show.show_figure(
            viz.line_chart(
                range(T),
                {"overlap FP8 vs fp32": f["overlap"]},
                "query position",
                "share of the fp32 top-k kept",
                y_range=[0, 1.02],
            ),
            "learn-fp8",
            key="l_fp8",
        )
    b = cost.cache_bytes_per_token(cost.V32_MQA)
    st.caption("Cache per token and layer, V3.2 671B: " + ", ".join(f"{n}: {x:,.0f} B" for n, x in b.items()))
    show.show_source(fp8.fp8_index_scores)


def training(a, v, q):
    """Step 7: Training the indexer."""
    T, layer = a["T"], a["layer"]
    st.markdown(
        "Stage 1, **dense warm-up**: the model stays frozen; the indexer learns to imitate the "
        "model's own attention (summed over heads, normalised) with a KL loss. Stage 2 then trains "
        "the model sparse. Try it live on the **Train** page."
    )
    st.latex(
        r"\mathcal{L}_I=\sum_t \mathrm{KL}\Big(p_{t,:}\,\Big\|\,\mathrm{softmax}(I_{t,:})\Big),\quad "
        r"p_{t,:}=\frac{\sum_h P^{h}_{t,:}}{\|\sum_h P^{h}_{t,:}\|_1}"
    )
    d = cache.indexer_vs_target(a["text"], layer, a["max_tokens"], q)
    st.metric(f"KL at query {q}", f"{d['kl']:.3f} nats")
    show.show_figure(
        viz.line_chart(
            range(q + 1),
            {"target p (dense, head-mean)": d["target"], "indexer softmax(I)": d["indexer"]},
            "key position",
            "probability",
            f"Query {q}: target vs indexer",
        ),
        "learn-kl",
        key="l_kl",
    )
    show.show_figure(
        viz.line_chart(
            range(T),
            {"KL per query": cache.kl_per_query(a["text"], layer, a["max_tokens"])},
            "query position",
            "KL (nats)",
            "Stage-1 loss on your text",
        ),
        "learn-kl-all",
        key="l_klall",
    )
    st.page_link("lessons/train.py", label="Train an indexer live")
    show.show_source(losses.dense_warmup_loss)
    show.show_source(losses.kl_to_scores)
    rec = records.recorded_results()
    if rec:
        st.subheader("How the shipped indexers did (recorded, held-out text)")
        m, ppl = rec["mean"], rec["perplexity"]
        c = st.columns(3)
        c[0].metric("Recall, indexer ÷ ideal top-128", f"{m['indexer_over_oracle']:.3f}")
        c[1].metric("Layers where the indexer beats the window", f"{m['layers_indexer_above_window']}/30")
        c[2].metric(
            "Perplexity, DSA in all layers vs dense",
            f"{ppl['dsa']:.2f} vs {ppl['dense']:.2f}",
            f"{100 * ppl['dsa_vs_dense']:+.1f} %",
            delta_color="inverse",
        )
        show.show_figure(
            viz.line_chart(
                range(30),
                rec["per_layer"],
                "layer",
                "attention mass kept (0 to 1)",
                f"Recall per layer at k = 128, {rec['tokens']:,} tokens of held-out text",
                y_range=[0, 1.02],
            ),
            "learn-recorded-recall",
            key="l_rec",
        )
        st.caption(
            "Recorded by `python -m dsa_core.train.evaluate` on three long texts the indexers never saw "
            "(a licence, a handbook section, a Python module; the eval_8192_k JSON files in "
            "assets/indexers/); "
            "stage 1 at 8,192 tokens on one GPU, see MODEL_CARD.md."
        )
        compare = recorded_by_position()
        if compare:
            st.markdown(
                "**Training length, measured on this model.** DeepSeek trained its indexer on 128K-token "
                "sequences, with data aligned with its long-context extension data (the V3.2 report); "
                "the report gives no other reason for the length. This project measured what length does "
                "to its own indexers: the same texts, split by where the query sits. An indexer trained "
                "only on 2,048-token windows never saw a query past 2,048, and it falls behind the "
                "window baseline in many layers there; trained at 8,192 tokens, it holds."
            )
            buckets, ratio, above = position_series(compare)
            show.show_figure(
                recall_by_position(
                    buckets, ratio, above, unseen_from="2-4K", title="Recall by query position, k = 128"
                ),
                "learn-recall-by-position",
                key="l_bypos",
            )
        st.dataframe(rec["by_k"], hide_index=True)
        if rec["stage2"]:
            st.markdown(
                "**Stage 2** (sparse training of the whole model, a short run on one GPU at 8,192 tokens, "
                "see MODEL_CARD.md): perplexity "
                "with DSA before and after, against the same model run densely and against a dense "
                "control trained the same way."
            )
            st.dataframe(rec["stage2"], hide_index=True)


def cost_at_scale(a, v, q):
    """Step 8: Cost at scale."""
    st.markdown(
        "At DeepSeek-V3.2's size (k = 2,048) the indexer is small next to attention: 64 heads × 128 "
        "dims in FP8, against 128 attention heads. The two sides run MLA in different modes. Dense "
        "prefill uses its **MHA mode** (192 + 128 dims per head). DSA's sparse attention uses its "
        "**MQA mode** (576 + 512: every head reads the shared latent entry), as the V3.2 report states "
        '("we implement DSA based on the MQA mode of MLA") and as FlashMLA\'s sparse kernels run '
        "(deepseek-ai/FlashMLA, README.md). A selected pair therefore costs 3.4× a dense pair. "
        "Attention becomes O(L·k); the indexer stays O(L²) with a small constant, so DSA wins beyond a "
        "crossover length, by a growing factor."
    )
    st.latex(
        r"C_{\mathrm{dense}}(L)\approx\tfrac{L^2}{2}A_{\mathrm{MHA}},\qquad "
        r"C_{\mathrm{DSA}}(L)\approx\tfrac{L^2}{2}I+L\,k\,A_{\mathrm{MQA}},"
        r"\qquad A=2H(D+D_v),\ I=2H_Id_I"
    )
    Ls = [2**i for i in range(10, 18)]
    dense_shape, dsa_shape = cost.V32_MHA, cost.V32_MQA  # the modes each side runs in (docs/cost.md)
    cur = cost.curves(dense_shape, dsa_shape, Ls)
    cross = cost.crossover_sequence(dense_shape, dsa_shape)
    show.show_figure(
        viz.cost_curves(
            Ls,
            {
                "dense (MHA mode)": cur["dense/total_flops"],
                "DSA (sparse attention in MQA mode)": cur["dsa/total_flops"],
            },
            y_title="FLOPs per layer (prefill)",
            crossover=cross,
            title="V3.2 671B, one layer: dense in MHA mode, DSA in MQA mode",
        ),
        "learn-cost",
        key="l_cost",
    )
    st.caption(
        f"A whole prefill is cheaper with DSA beyond about {cross:,.0f} tokens. Short prefills switch to a "
        "masked MHA mode instead (the report), which the Cost page's fit of the paper's Figure 3 models."
    )
    st.page_link("lessons/cost.py", label="Open the cost lab")
    show.show_source(cost.dsa_cost)


STEPS = [  # (title, step function), in teaching order
    ("Dense attention and its cost", dense_attention),
    ("The lightning indexer", lightning_indexer),
    ("Top-k selection and the causal trap", top_k_selection),
    ("Sparse attention", sparse_attention_step),
    ("Why 'dense, then mask' saves nothing", masked_dense),
    ("FP8 and the indexer cache", fp8_cache),
    ("Training the indexer", training),
    ("Cost at scale", cost_at_scale),
]
assert len(STEPS) == keys.LEARN_STEPS


def _title(n):
    return f"{n}. {STEPS[n - 1][0]}"


def _move(d):
    st.session_state.learn_step = min(max(1, st.session_state.learn_step + d), len(STEPS))


st.title("Learn: DeepSeek Sparse Attention, step by step")
st.selectbox("Step", range(1, len(STEPS) + 1), format_func=_title, key="learn_step")
a = state.analyse(state.current())
state.show_notes(a)
T, tokens = a["T"], a["rec"].tokens
q = min(int(keys.ensure("query", T)), T - 1)
v = cache.view(a["text"], a["layer"], a["max_tokens"], a["k"], a["head"])
st.caption(
    f"On your text: {state.count(T, 'token')}, layer {a['layer']}, k = {a['k']}, "
    f"query {q} `{viz.display_token(tokens[q])}` "
    "(change them in the sidebar or on the Explore page)."
)
step = st.session_state.learn_step
STEPS[step - 1][1](a, v, q)

c1, c2, _ = st.columns([1, 1, 4])
c1.button("◀ Back", on_click=_move, args=(-1,), disabled=step == 1, key="learn_back")
c2.button("Next ▶", on_click=_move, args=(1,), disabled=step == len(STEPS), key="learn_next")
