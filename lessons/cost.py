"""Cost: how compute, memory and money grow with context, predicted (dsa_core.cost.flops), checked against
the paper's Figure 3 (dsa_core.cost.paper), priced (dsa_core.cost.prices) and measured on this machine
(dsa_core.cost.timing), beside recorded GPU timings (H100, H200) from assets/bench/."""

import dataclasses
import json
import pathlib

import streamlit as st

from dsa_core import viz
from dsa_core.cost import flops as cost
from lessons import cache, keys, show, state

st.title("Cost: what DSA saves, predicted and measured")
tab_pred, tab_paper, tab_api, tab_meas = st.tabs(
    ["Predicted growth", "The paper's curve", "API calculator", "Measured on this machine"]
)

# 1. predicted compute and memory (pure arithmetic)
with tab_pred:
    # the controls beside the chart, not above it: at 1280 x 720 the whole chart fits without scrolling
    controls, chart = st.columns([1, 3])
    name = controls.selectbox("Model", list(cost.SHAPES), key="cost_shape")
    phase = controls.radio("Phase", ["prefill", "decode"], horizontal=True, key="cost_phase")
    shape = cost.SHAPES[name]
    keys.ensure("cost_k", shape.index_topk)  # the model's own k until changed
    kk = controls.select_slider("k (tokens kept)", [64, 128, 256, 512, 1024, 2048, 4096], key="cost_k")
    s = dataclasses.replace(shape, index_topk=kk)
    Ls = [2**i for i in range(10, 18)]
    cur = cost.curves(s, s, Ls, phase)
    cross = cost.crossover_numeric(s, s, phase) if phase == "decode" else cost.crossover_sequence(s, s)
    series = {
        "dense": cur["dense/total_flops"],
        "DSA total": cur["dsa/total_flops"],
        "DSA: indexer": [2 * x for x in cur["dsa/indexer/qk_macs"]],
        "DSA: sparse attention": [2 * x for x in cur["dsa/attention/core_macs"]],
    }
    with chart:
        show.show_figure(
            viz.cost_curves(
                Ls,
                series,
                y_title=f"FLOPs per layer ({phase})",
                crossover=cross,
                title=f"{name}, k = {kk}",
                height=400,
            ),
            "cost-flops",
            key="cost_flops",
        )
    controls.caption(
        f"DSA becomes cheaper beyond about {cross:,.0f} tokens; at 128K dense costs "
        f"{cur['ratio'][-1]:.1f}× DSA. The indexer stays O(L²) (small constant); attention becomes O(L·k)."
    )
    mem = [cost.cache_bytes(s, L) for L in Ls]
    show.show_figure(
        viz.cost_curves(
            Ls,
            {
                "KV cache": [m["kv_cache/bytes"] / 2**20 for m in mem],
                "indexer key cache": [m["index_cache/bytes"] / 2**20 for m in mem],
            },
            y_title="MiB, whole model",
            title="Cache memory",
        ),
        "cost-memory",
        key="cost_mem",
    )
    show.show_source(cost.dsa_cost)

    # the DSA family at the same budget (docs/family.md): only the indexer's O(L²) part changes
    from dsa_core.family import on_text as fam

    st.subheader("The DSA family: what each member saves as the context grows")
    show.show_figure(
        viz.cost_curves(
            Ls, fam.growth(s, Ls), y_title="FLOPs per token, one layer (prefill)", title=f"{name}, k = {kk}"
        ),
        "cost-family",
        key="cost_family",
    )
    st.dataframe(
        fam.indexer_shares(s, [8192, 65536, 200_000]),
        column_config={
            f"L = {L:,}": st.column_config.NumberColumn(format="percent") for L in (8192, 65536, 200_000)
        },
        hide_index=True,
    )
    st.caption(
        "The indexer's share of the attention FLOPs (indexer + core attention; projections and MLPs left "
        "out) in a prefill. Measured, not modelled: IndexCache found the indexer at 81 % of the whole "
        "prefill time at 200K tokens on its 30B DSA model (THUDM/IndexCache, arXiv 2603.12201), and "
        "kept 1 indexer in 4 for a 1.82× faster prefill. Same trend, different quantity."
    )
    from dsa_core.family import cost as cost_family

    show.show_source(cost_family.member_cost)

# 2. the paper's Figure 3 points over the fitted model
with tab_paper:
    from dsa_core.cost import paper as cost_paper

    st.markdown(
        "Points read off DeepSeek's Figure 3 (cost per million tokens against position, H800 at $2/GPU-hour; "
        "read off a plot, not published numbers), and the fitted model *cost = a + b · attention FLOPs*."
    )
    pos = [1024 * x for x in range(1, 129, 4)]
    for ph in ("prefill", "decode"):
        pts = {
            f"read-off {m}": (
                cost_paper.points(f"{ph}/{m}")["position"],
                cost_paper.points(f"{ph}/{m}")["cost"],
            )
            for m in ("dense", "dsa")
        }
        show.show_figure(
            viz.line_chart(
                pos,
                {f"fitted {m}": cost_paper.modelled_cost(f"{ph}/{m}", pos) for m in ("dense", "dsa")},
                "token position",
                "$ per million tokens",
                f"{ph.capitalize()}",
                markers=pts,
            ),
            f"paper-{ph}",
            key=f"paper_{ph}",
        )
    for line in cost_paper.explain():
        st.markdown(f"- {line}")

# 3. API calculator
with tab_api:
    from dsa_core.cost import prices as cost_api

    w = st.selectbox("Workload", list(cost_api.WORKLOADS), key="api_workload")
    natural = cost_api.natural_hit_share(cost_api.WORKLOADS[w]())
    keys.ensure("api_share", round(natural, 2))  # the workload's own share until changed
    share = st.slider(
        "Share of input served from the context cache",
        0.0,
        1.0,
        step=0.01,
        key="api_share",
        help=f"The workload's repeated prefix is {natural:.0%} of its input.",
    )
    r = cost_api.compare(cost_api.WORKLOADS[w](), cache_hit_share=share)
    c = st.columns(3)
    c[0].metric("V3.1-Terminus prices", f"${r['old']['usd/total']:.4f}")
    c[1].metric(
        "V3.2-Exp prices", f"${r['new']['usd/total']:.4f}", f"−{r['saving_share']:.0%}", delta_color="inverse"
    )
    c[2].metric("If prices tracked compute only", f"${r['usd/if_prices_tracked_compute']:.4f}")
    show.show_figure(
        viz.bars(
            {
                "saving from sparse attention": r["usd/saving_from_sparse_attention"],
                "saving from pricing policy": r["usd/saving_from_pricing_policy"],
            },
            "US dollars",
            "Where the saving comes from",
            fmt="${:.4f}",
        ),
        "api-split",
        key="api_split",
    )
    st.caption(r["price_source"] + ". Not a quote: check current prices.")
    show.show_source(cost_api.compare)

# 4. measured timings on this machine, beside recorded GPU results (assets/bench/)
with tab_meas:
    from dsa_core.cost import report as cost_bench
    from dsa_core.cost import timing as bench

    lengths = st.multiselect(
        "Context lengths", [256, 512, 1024, 2048, 4096, 8192, 16384, 32768], key="bench_lengths"
    )
    if st.session_state.pop("bench_cancelled", False):
        st.info("Cancelled: the timing run was stopped. Press the button again to start it over.")
    if st.button("Measure on this machine", key="bench_go", disabled=not lengths):
        # the class's one queue (long sweeps in the long lane), a progress bar, and Cancel: a click, a
        # changed setting or a closed tab stops the sweep at its next timing
        stop = st.empty()
        stop.button(
            "Cancel", key="bench_cancel", on_click=lambda: st.session_state.update(bench_cancelled=True)
        )
        size = sum(cache.work(T, 6) for T in lengths)  # six timed variants per length
        with cache.queued("Timing attention on this machine", size) as report:
            for ev in bench.bench_iter(device="cpu", lengths=sorted(lengths), call_limit_s=20.0):
                if ev["event"] == "progress":
                    report(ev["done"] / ev["total"], f"T = {ev['T']:,}: {ev['variant']}")
                else:
                    st.session_state.bench_result = ev["result"]
        stop.empty()
    results = {}
    if "bench_result" in st.session_state:
        results["this machine"] = st.session_state.bench_result
    for f in sorted((state.ROOT / "assets" / "bench").glob("*.json")):
        try:
            results[f.stem] = cost_bench.load_json(f)
        except (ValueError, KeyError, json.JSONDecodeError):
            continue
    if not results:
        st.info(
            "Press the button to time dense attention, the masked-dense rung and DSA's parts here. "
            "Recorded GPU results will appear beside yours once assets/bench/ ships them."
        )
    for label, res in results.items():
        try:
            present = {r["variant"] for r in res["rows"]}
            ser = {
                v: cost_bench.series(res, v)
                for v in (
                    "dense/sdpa_causal",
                    "dsa/masked_sparse_attention",
                    "dsa/indexer",
                    "dsa/sparse_attention",
                    "dsa/total",
                )
                if v in present
            }
            show.show_figure(
                viz.timing_chart(
                    ser, f"{label}: {res.get('device_name', '')}, {res.get('shape', {}).get('name', '')}"
                ),
                f"bench-{pathlib.Path(label).stem}",
                key=f"bench_{label}",
            )
            try:
                st.code(cost_bench.table(res), language=None)
            except (KeyError, TypeError, ValueError):  # recorded files may carry fewer columns
                st.dataframe([{k: r.get(k) for k in ("T", "variant", "ms")} for r in res["rows"]], height=240)
            st.download_button(
                "Result JSON", json.dumps(res, indent=1), f"dsa-bench-{label}.json", key=f"bj_{label}"
            )
        except Exception as e:  # noqa: BLE001 - a malformed result file must not break the page
            st.warning(f"Could not show the timings in {label}: {type(e).__name__}: {e}")

# 5. decode, one generated token at a time (the Generate page's numbers): recorded on a CPU by
#    benchmarks/decode_bench.py, beside the cache bytes a step reads; and the recorded GPU decode rows
with tab_meas:
    from dsa_core.host import generate as gen
    from dsa_core.viz import decode as vdec
    from lessons import generate_cache as gcache

    st.subheader("Decode: one generated token at a time")
    rec = gcache.recorded_decode()
    if rec is None:
        st.info(
            "No recorded decode run in assets/bench/: `python benchmarks/decode_bench.py --json "
            "assets/bench/decode_cpu.json` writes one."
        )
    else:
        ctx, k_rec, load_avg = [r["context"] for r in rec["steps"]], rec["k"], rec["load_before"][0]
        show.show_figure(
            vdec.step_cost_curves(
                ctx,
                {
                    "dense": [r["dense_s"] for r in rec["steps"]],
                    f"DSA, k = {k_rec}": [r["dsa_s"] for r in rec["steps"]],
                },
                {
                    "dense: every K and V": [gen.step_bytes(T, k_rec, "fp32")["dense"] for T in ctx],
                    "DSA: every index key + k rows": [gen.step_bytes(T, k_rec, "fp32")["dsa"] for T in ctx],
                },
                title=f"SmolLM2-135M, {rec['cpu']}, {rec['threads']} threads, load {load_avg:.1f}",
            ),
            "cost-decode-cpu",
            key="cost_decode_cpu",
        )
        st.caption(
            f"Measured: `{rec['command']}` ({rec['created']}; input checks "
            f"{'on' if rec['input_checks'] else 'off'}), the median of single decode steps, the two modes "
            f"in turn. Modelled: the fp32 cache bytes a step reads (dsa_core.host.generate.step_bytes). Both "
            f"modes also read all {rec['weights_bytes'] / 1e6:,.0f} MB of weights every step. docs/decode.md "
            "explains the run; the Generate page runs it on your text."
        )
    for name, (device, rows) in gcache.gpu_decode_rows().items():
        step, dense, floor = (
            rows.get(v, {}).get("ms")
            for v in ("decode/dsa_step", "decode/dense_torch_bmm", "decode/dense_floor")
        )
        if step and dense:
            st.markdown(
                f"- **{device}** (assets/bench/{name}, rows `decode/*`; the 671B shape at 128K, batch 32, "
                f"one layer): a DSA decode step {step:.3f} ms, dense {dense:.2f} ms in torch"
                + (f", dense's floor (its cache read once at the copy rate) {floor:.2f} ms" if floor else "")
                + ". docs/gpu.md."
            )
