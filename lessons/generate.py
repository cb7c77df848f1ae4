"""Generate: the model continues the text one token at a time, twice, dense and with DSA in every layer.
For each new token: which k earlier tokens its query read, their index scores, how much of dense
attention they hold, the cache bytes each mode reads and the time each takes on this machine."""

import streamlit as st

from dsa_core import viz
from dsa_core.host import generate as gen
from dsa_core.host.text import DSAUserError
from dsa_core.viz import decode as vd
from lessons import budget, cache, keys, show, state
from lessons import generate_cache as gc

FORMATS = {
    "fp8": "FP8 (DeepSeek's layout)",
    "bf16": "bf16",
    "fp32": "fp32 (what this app holds)",
}
MB = 1e6

st.title("Generate: watch DSA write, one token at a time")
st.caption(
    "Generation runs the prompt once (the **prefill**), then the model on one new token per step (the "
    "**decode**). Each step, every layer keeps the new token's key and value in its **KV cache**. Dense "
    "attention then reads the whole cache; DSA's lightning indexer reads its own, smaller **index-key "
    "cache**, keeps the k best tokens, and reads only their keys and values. Decode is memory-bound: a "
    "step's time follows the bytes it reads."
)

# 1. the prompt and the settings (the sidebar's text, token limit, k and layer)
settings = state.current()
text = state.precut(settings["text"] or "", settings["max_tokens"])
if not text.strip():
    st.info("The text box is empty. Pick a sample in the sidebar or paste some text to continue.")
    st.stop()
if settings.get("k_note"):
    st.warning(settings["k_note"])
s = st.session_state  # gen_* defaults: lessons/keys.py
c = st.columns([1, 1, 1, 1.3])
n = int(
    c[0].number_input(
        "New tokens",
        1,
        gc.MAX_NEW,
        step=8,
        key="gen_n",
        help=f"How many tokens each mode writes (1–{gc.MAX_NEW}).",
    )
)
sampling = c[1].radio(
    "Next token",
    ["greedy", "sample"],
    key="gen_sampling",
    horizontal=True,
    help="Greedy: the most likely token. Sample: a seeded draw from softmax(logits / temperature); the "
    "same seed draws the same tokens. (Top-k *selection* of keys, not top-k sampling of words.)",
)
if sampling == "sample":
    temperature = c[2].select_slider("Temperature", [0.5, 0.8, 1.0, 1.2], key="gen_temp")
    seed = int(c[2].number_input("Seed", 0, 2**31 - 1, key="gen_seed"))
else:
    temperature, seed = 0.0, 0
fmt = c[3].radio(
    "Cache format for the byte counts",
    list(FORMATS),
    format_func=FORMATS.get,
    key="gen_fmt",
    help="Bytes a step reads if the caches were stored in this format. FP8 is DeepSeek-V3.2's: values in "
    "float8 e4m3 plus one fp32 scale per 128 (docs/sources.md §3).",
)
try:
    prep, cut_note = gc.prompt(text, settings["max_tokens"], n)
except DSAUserError as e:
    st.error(f"**{e.problem}** {e.fix}")
    st.stop()
P = len(prep.ids)
k = min(max(1, settings["k"]), P + n)
info = cache.model_info()
layer = min(settings["layer"], info["n_layers"] - 1)
for note in [x for x in prep.notes if not x.startswith("cut ")] + ([cut_note] if cut_note else []):
    st.warning(note)
if prep.n_cut and not cut_note:
    more = (
        "Raise the token limit in the sidebar to continue from further in."
        if settings["max_tokens"] < max(state.TOKEN_LIMITS)
        else f"{max(state.TOKEN_LIMITS):,} tokens is the app's longest limit."
    )
    st.warning(
        f"The text is longer than the token limit: the prompt is its first {state.count(P, 'token')}. {more}"
    )
if k >= P + n - 1:
    st.info(
        f"k = {k} covers every token the last query sees ({P + n - 1:,}), so DSA reads what dense reads and "
        "both continuations are the same. Lower k in the sidebar to see a difference."
    )

# 2. what the caches hold while it runs, against the app's byte budget
size = gc.cache_sizes(P, n)
both = 2 * (size["kv"] + size["index"])
st.caption(
    f"While it runs, each mode keeps a KV cache of {size['kv'] / MB:,.0f} MB and DSA also an index-key cache "
    f"of {size['index'] / MB:,.0f} MB for {P + n:,} tokens (fp32, {info['n_layers']} layers): "
    f"{both / MB:,.0f} MB for both modes (the dense run needs no index keys: "
    f"{(both - size['index']) / MB:,.0f} MB in fact), within the {budget.SESSION_BYTES / 2**30:.1f} GB a "
    "session may hold. They are dropped when the run ends; the page keeps the tokens and what each one read."
)
if both > budget.SESSION_BYTES:
    st.error(
        f"The caches would need {both / 2**30:.2f} GB, more than a session's "
        f"{budget.SESSION_BYTES / 2**30:.1f} GB. Lower the token limit or the number of new tokens."
    )
    st.stop()

# 3. generate (queued, with progress and Cancel), or show what was generated before
args = (text, settings["max_tokens"], k, n, temperature, seed)
if s.pop("gen_cancelled", False):
    st.info("Cancelled: nothing was kept. Press the button again to start over.")
have = gc.continuations.cached(*args)
if not have and not st.button(
    f"Generate {state.count(n, 'token')} after the {P:,}-token prompt, dense and DSA (k = {k})", key="gen_go"
):
    st.info("Press the button: both modes write the continuation token by token, side by side.")
    st.stop()
stop = st.empty()
if not have:
    stop.button("Cancel", key="gen_cancel", on_click=lambda: s.update(gen_cancelled=True))
r = gc.continuations(*args)
stop.empty()

tokens = {m: r["tokens"][m].tolist() for m in gc.MODES}
n_out = min(len(tokens["dense"]), len(tokens["dsa"]))
diff = gen.first_difference(tokens["dense"], tokens["dsa"])
prompt_ids = r["prompt"].tolist()
tail = gc.labels(prompt_ids[-gc.LIVE_TAIL :])
dsa_labels = gc.labels(prompt_ids + tokens["dsa"])
s.gen_step = min(max(1, int(keys.ensure("gen_step", n_out))), n_out)

# 4. the two continuations and their speed
st.subheader("The two continuations")
cols = st.columns(2)
for col, mode in zip(cols, gc.MODES):
    col.markdown(
        vd.continuation_html(
            tail,
            gc.labels(prompt_ids[-1:] + tokens[mode])[1:],
            diff,
            s.gen_step - 1,
            "Dense" if mode == "dense" else f"DSA, k = {k}",
        ),
        unsafe_allow_html=True,
    )
m = st.columns(4)
tps = {mode: gc.decode_tokens_per_second(r["seconds"][mode]) for mode in gc.MODES}
m[0].metric("Dense: tokens per second", f"{tps['dense']:.2f}", help="Decode steps only, on this machine now.")
m[1].metric("DSA: tokens per second", f"{tps['dsa']:.2f}", help="Decode steps only, on this machine now.")
m[2].metric(
    "Prompt read (prefill)",
    f"{r['seconds']['dense'][0]:.1f} s / {r['seconds']['dsa'][0]:.1f} s",
    help="Dense / DSA: the prefill that made the first token.",
)
m[3].metric(
    "First different token",
    "none" if diff is None else f"#{diff + 1}",
    help="The first generated token where DSA's continuation leaves dense's (✱ above).",
)
st.caption(
    "Times are wall-clock seconds of this server, which other students share: the two modes take turns "
    "token by token, so load falls on both alike. benchmarks/decode_bench.py measures them alone "
    "(docs/decode.md)."
)

# 5. one step: what the new token's query read
st.subheader("One step: what DSA read to write a token")
if n_out > 1:
    st.slider("Generated token", 1, n_out, key="gen_step")
i = s.gen_step - 1  # 0-based generated token
query, T = P + i - 1, P + i  # the query that wrote token i+1, and the keys it saw
picks, scores = r["picks"][i, layer], r["scores"][i, layer]
kept = picks[picks >= 0]
mass = r["mass"][i]
st.markdown(
    f"DSA's token **#{i + 1}** `{viz.display_token(dsa_labels[P + i])}` was written by the query at position "
    f"{query:,} (`{viz.display_token(dsa_labels[query])}`), which saw {state.count(T, 'token')}. In layer "
    f"{layer} its indexer kept **{len(kept)}**; they hold **{mass[layer]:.0%}** of the attention that query "
    f"gives them under dense attention (mean over the {len(mass)} layers: {mass.mean():.0%})."
)
st.markdown(viz.LEGEND, unsafe_allow_html=True)
st.markdown(
    viz.token_html(dsa_labels[:T], query, kept, gc.scores_row(T, picks, scores), r["dense_top"][i, layer]),
    unsafe_allow_html=True,
)
c1, c2 = st.columns(2)
with c1:
    show.show_figure(
        vd.pick_ranking(dsa_labels[:T], picks, scores, title=f"Layer {layer}: the keys it read, best first"),
        f"generate-picks-{i + 1}",
        key="gen_picks",
    )
with c2:
    show.show_figure(
        viz.per_layer(
            mass,
            "Share of dense attention the picks hold, per layer",
            "attention mass kept",
            highlight=layer,
            y_range=[0, 1],
        ),
        f"generate-mass-{i + 1}",
        key="gen_mass",
    )

# 6. bytes and time, this step and all steps
st.subheader("Bytes and time")
here = gen.step_bytes(T, k, fmt)
ref = gc.reference_bytes(T)
(kv_tok, idx_tok), (ref_kv, ref_idx) = gc.per_token_cache(fmt)
b = st.columns(3)
b[0].metric(f"Dense reads ({FORMATS[fmt]})", f"{here['dense'] / MB:,.2f} MB", help="K and V of all T tokens.")
b[1].metric(
    f"DSA reads ({FORMATS[fmt]})",
    f"{here['dsa'] / MB:,.2f} MB",
    help=f"Index keys of all T tokens ({here['dsa index'] / MB:,.2f} MB) + K and V of k picks "
    f"({here['dsa kv'] / MB:,.2f} MB).",
)
b[2].metric("DSA / dense", f"{here['dsa'] / here['dense']:.2f}")
st.caption(
    f"Per token and layer this model caches {kv_tok} B of keys and values and {idx_tok} B of index key in "
    f"{FORMATS[fmt]}. The reference is DeepSeek-V3.2 in its FP8 layout: {ref_kv} B of MLA cache (512 FP8 "
    "values, 4 fp32 scales, 64 bf16 RoPE values; deepseek-ai/FlashMLA `README.md`, “FP8 with scale”) and "
    f"{ref_idx} B of indexer key (128 FP8 values and one fp32 scale; deepseek-ai/DeepSeek-V3.2-Exp "
    "`inference/model.py`, `Indexer.k_cache` and `k_scale_cache`). At this context its decode step would "
    f"read {ref['dense'] / MB:,.1f} MB dense and {ref['dsa'] / MB:,.1f} MB with DSA (61 layers, k = 2,048): "
    "below about 2,000 tokens DSA reads every token anyway, so it saves nothing there."
)
if n_out > 1:
    show.show_figure(
        vd.decode_curves(
            gc.step_bytes(P, n_out, k, fmt),
            {"dense": r["seconds"]["dense"][1:n_out], "DSA": r["seconds"]["dsa"][1:n_out]},
            current=s.gen_step if s.gen_step > 1 else None,
            bytes_label=f"cache bytes read, {fmt}",
        ),
        "generate-curves",
        key="gen_curves",
    )
    st.caption(
        "Decode steps only (tokens 2 on; token 1 comes from the prefill). Bytes: the cost model "
        "(dsa_core.host.generate.step_bytes); time: measured here. On this CPU both modes also read all "
        "the model's weights every step (about 540 MB in fp32), the same for both, which narrows the gap."
    )

# 7. the code that ran
show.show_source(gen.generate)
show.show_source(gen.step_select)
