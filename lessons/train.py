"""Train: run DeepSeek's stage-1 'dense warm-up' live for one layer on CPU. The model stays frozen; only
this layer's lightning indexer learns to imitate the layer's dense attention (KL loss). Then compare the
selection before and after on the current text."""

import streamlit as st

from dsa_core import viz
from dsa_core.train import losses
from lessons import cache, keys, show, state


def curves(hist):
    """The training curves of a run's logged steps (live while it trains, and after)."""
    return viz.training_curves(
        [h["step"] for h in hist],
        [h["loss"] for h in hist],
        {
            "recall (indexer top-k)": [h["recall"] for h in hist],
            "recall (ideal top-k)": [h["recall_oracle"] for h in hist],
            "overlap with ideal": [h["overlap"] for h in hist],
        },
    )


st.title("Train: teach a lightning indexer to imitate attention")
st.markdown(
    "DeepSeek trained its indexers in two stages. **Stage 1 (dense warm-up)**: freeze the model, run "
    "dense attention, and train only the indexer so that softmax(index scores) matches the layer's "
    "attention (summed over heads, normalised): a KL loss. Here it runs live on your CPU, for the "
    "layer and k chosen in the sidebar."
)
st.latex(
    r"\mathcal{L}_I=\frac{1}{|Q|}\sum_{t\in Q}\mathrm{KL}\big(p_{t,:}\,\|\,\mathrm{softmax}(I_{t,:})\big)"
)

source = st.radio(
    "Train on",
    ["the current text", "the bundled corpus (all four samples)"],
    horizontal=True,
    key="train_source",
)
fresh = st.radio(
    "Start from",
    [
        "a fresh, untrained indexer (watch it learn)",
        "the shipped trained indexer (fine-tune it on this text)",
    ],
    horizontal=True,
    key="train_start",
).startswith("a fresh")
c = st.columns(3)
steps = c[0].slider("Steps", 10, 400, step=10, key="train_steps")  # defaults: lessons/keys.py
lr = c[1].select_slider("Learning rate", [3e-4, 1e-3, 3e-3, 1e-2], key="train_lr")
n_queries = c[2].select_slider("Queries per step", [32, 64, 128, 256], key="train_nq")
settings = state.current()
if source.startswith("the bundled"):
    settings = {**settings, "text": state.corpus_text()}
a = state.analyse(settings)
state.show_notes(a)
T, k, layer, q = a["T"], a["k"], a["layer"], a["T"] - 1
if T <= k:
    st.warning(
        f"The text has {state.count(T, 'token')} and k = {k}: every query already keeps everything, so "
        "there is nothing to learn. Lower k or use a longer text."
    )
    st.stop()
st.caption(
    f"Layer {layer}, k = {k}, {state.count(T, 'token')}. Starting point: "
    + ("random weights of the same size as the shipped indexer" if fresh else a["indexer"])
)

mine = st.session_state.get("trained")
if st.session_state.pop("train_cancelled", False):
    st.info(
        "Cancelled: the training run was stopped and nothing of it was kept. Press the button to start over."
    )
if st.button(f"Train layer {layer}'s indexer for {steps} steps", type="primary", key="train_go"):
    # the class's one queue (a long run in the long lane), progress at every logged step, and Cancel: a
    # click, a changed setting or a closed tab stops the run at its next logged step
    stop = st.empty()
    stop.button("Cancel", key="train_cancel", on_click=lambda: st.session_state.update(train_cancelled=True))
    label = f"Training layer {layer}'s indexer for {steps} steps"
    with cache.queued(label, cache.training_work(T, steps, n_queries)) as report:
        try:
            start, mine, gen = cache.start_training(
                a["text"], layer, a["max_tokens"], k, steps, lr, n_queries, fresh
            )
        except ImportError:
            st.info("The training code (dsa_core.train.stage1) is not available yet in this installation.")
            st.stop()
        chart, hist = st.empty(), []
        for log in gen:
            hist.append(log)
            report(
                log["step"] / log["steps"],
                f"step {log['step']} / {log['steps']}: loss {log['loss']:.3f}, recall {log['recall']:.3f} "
                f"({log['seconds']:.1f} s)",
            )
            chart.plotly_chart(curves(hist), key=f"train_live_{log['step']}")
    chart.empty()
    stop.empty()
    mine = {
        "indexer": mine,
        "start": start,
        "fresh": fresh,
        "layer": layer,
        "k": k,
        "text": state.text_key(a["text"]),
        "hist": hist,
    }
    st.session_state.trained = mine

if not mine or mine["layer"] != layer or mine["text"] != state.text_key(a["text"]):
    st.info(
        "Press the button to train. Training for 60 steps on 512 tokens takes a few seconds to a minute "
        "on 2 CPU cores."
    )
    show.show_source(losses.dense_warmup_loss)
    st.stop()

# before / after on the current text, same k
hist = mine["hist"]
show.show_figure(
    curves(hist),
    "training-curves",
    key="train_curves",
)
before = (
    cache.view_with(a["text"], layer, a["max_tokens"], k, None, mine["start"])
    if mine["fresh"]
    else cache.view(a["text"], layer, a["max_tokens"], k, None)
)
after = cache.view_with(a["text"], layer, a["max_tokens"], k, None, mine["indexer"])
mb, ma = [sum(v.recall["DSA indexer"][k:]) / max(1, T - k) for v in (before, after)]
st.subheader("Selection before and after")
show.show_figure(
    viz.baseline_bars(
        {
            "DSA indexer, before": mb,
            "DSA indexer, after training": ma,
            "ideal top-k": sum(after.recall["ideal top-k"][k:]) / max(1, T - k),
            "window + 4 sinks": sum(after.recall["window + 4 sinks"][k:]) / max(1, T - k),
        },
        title=f"Attention-mass recall at k = {k}, mean over queries",
    ),
    "train-before-after",
    key="train_ba",
)
st.session_state.train_query = min(keys.ensure("train_query", T), T - 1)
q = st.slider("Query token", 0, T - 1, key="train_query")
for title, v in (("Before", before), ("After training", after)):
    kept = v.topk[q][v.topk[q] >= 0]
    st.markdown(
        f"**{title}**: the picks hold {v.recall['DSA indexer'][q]:.0%} of query {q}'s dense attention."
    )
    st.markdown(viz.token_html(v.tokens, q, kept, v.scores[q], v.oracle[q]), unsafe_allow_html=True)
st.markdown(viz.LEGEND, unsafe_allow_html=True)
st.caption("The trained indexer lives only in this browser session; the shared model is not changed.")
show.show_source(losses.dense_warmup_loss)
