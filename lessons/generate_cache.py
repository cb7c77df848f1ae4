"""Cached dsa_core calls of the Generate page, in lessons/cache.py's byte budget and work queue, keyed by
text + settings (and the session's model): moving the step slider or the byte format never generates
again. No algorithm lives here: the generation is dsa_core.host.generate (in_turn, step_select), the
bytes dsa_core.host.generate.step_bytes (the cost model), the figures dsa_core.viz.decode.

The heavy call generates twice, dense and DSA in turn, one token each, and draws both continuations
while they grow (the streaming view); its result keeps only the tokens, the seconds and, for DSA, what
each new token's query read in every layer (int16 positions, float32 scores: about 30 KB a token).
The KV caches live only while it runs: one per mode, their size shown by the page (cache_bytes).
"""

import json
import pathlib

import numpy as np
import streamlit as st

from dsa_core.viz import decode as vd
from lessons import cache

MAX_NEW = 256
MODES = ("dense", "dsa")
LIVE_TAIL = 12  # prompt tokens shown before the continuations while they stream


def prompt(text, max_tokens, n_new):
    """(PreparedText, note or None): the text as token ids, cut to the token limit and so that prompt +
    n_new new tokens fit the model's context."""
    from dsa_core.analysis.trace import encode

    loaded = cache.load()[0]
    room = loaded.model.cfg.max_seq_len - n_new
    prep = encode(loaded, text, min(max_tokens, room))
    note = None
    if max_tokens > room and len(encode(loaded, text, max_tokens).ids) > room:
        note = (
            f"The prompt is cut to {room:,} tokens so that it and the {n_new} new ones fit the model's "
            f"{loaded.model.cfg.max_seq_len:,}-token context."
        )
    return prep, note


def labels(ids):
    """Display strings of token ids (characters split over tokens shown once)."""
    from dsa_core.host.tokenizer import display_tokens

    return display_tokens(cache.load()[0].tokenizer, ids)


def _stream():
    """Two placeholders side by side that show the continuations while they grow."""
    cols = st.columns(2)
    return {mode: col.empty() for mode, col in zip(MODES, cols)}


def work(text, max_tokens, k, n, temperature, seed):
    """The queue's size of a generation (cache.work: tokens² × layers): the prompt, as cut to fit, and
    its n new tokens through every layer, twice (dense, then DSA). An 8K prompt so waits in the long
    lane and does not hold up the class's short requests."""
    P = len(prompt(text, max_tokens, n)[0].ids)
    return cache.work(P + n, 2 * cache.model_info()["n_layers"])


@cache.budgeted(
    heavy=lambda text, max_tokens, k, n, temperature, seed: (
        f"Generating {n} tokens twice (dense, and DSA with k = {k}), one token at a time"
    ),
    cost=work,
)
def continuations(text, max_tokens, k, n, temperature, seed, report=None):
    """Both continuations and, for DSA, what each new token's query read. A dict of numpy arrays:
    tokens {mode: [n']}, seconds {mode: [n']} (token 1: the prefill), prompt ids, and for DSA picks,
    scores, dense_top [n', L, K] and mass [n', L] (host.generate.Step's fields, stacked)."""
    from dsa_core.analysis.trace import layer_progress
    from dsa_core.host import generate as gen

    model = cache.load()[0].model
    prep, _ = prompt(text, max_tokens, n)
    P, L, tail = len(prep.ids), len(model.layers), labels(prep.ids[-LIVE_TAIL:])
    steps, layers_run = {mode: [] for mode in MODES}, [0]
    say = report or (lambda fraction, message: None)

    def prefill_progress(layer):  # the two prefills (dense, then DSA) report layer by layer
        layers_run[0] += 1
        if layers_run[0] <= 2 * L:
            mode = MODES[(layers_run[0] - 1) // L]
            say(0.5 * layers_run[0] / (2 * L), f"reading the {P:,}-token prompt ({mode}), layer {layer}")

    live = _stream()
    selects = {"dense": None, "dsa": gen.step_select(k)}
    try:
        with layer_progress(model, prefill_progress):
            for mode, step in gen.in_turn(model, prep.ids, n, selects, temperature, seed, read=True):
                steps[mode].append(step)
                done = sum(len(s) for s in steps.values())
                say(0.5 + 0.5 * done / (2 * n), f"token {len(steps[mode])} of {n} ({mode})")
                ids = [s.token for s in steps[mode]]
                live[mode].markdown(
                    vd.continuation_html(tail, labels(prep.ids[-1:] + ids)[1:], label=mode.upper()),
                    unsafe_allow_html=True,
                )
    finally:
        for box in live.values():
            box.empty()
    dsa = steps["dsa"]
    pos = np.int16 if P + n < 2**15 else np.int32
    return {
        "prompt": np.asarray(prep.ids, dtype=np.int32),
        "tokens": {m: np.asarray([s.token for s in steps[m]], dtype=np.int32) for m in MODES},
        "seconds": {m: np.asarray([s.seconds for s in steps[m]], dtype=np.float64) for m in MODES},
        "picks": _stack([s.picks.numpy() for s in dsa], -1, pos),  # [n', L, K]
        "scores": _stack([s.scores.numpy() for s in dsa], np.nan, np.float32),  # [n', L, K]
        "mass": np.stack([s.mass.numpy() for s in dsa]).astype(np.float32),  # [n', L]
        "dense_top": _stack([s.dense_top.numpy() for s in dsa], -1, pos),  # [n', L, K]
    }


def _stack(rows, fill, dtype):
    """[L, K_i] arrays of the steps -> [n, L, max K_i]: early steps see fewer than k tokens, so they
    read fewer (the rest is `fill`: -1 for positions, NaN for scores)."""
    K = max(r.shape[-1] for r in rows)
    out = np.full((len(rows), rows[0].shape[0], K), fill, dtype=dtype)
    for i, r in enumerate(rows):
        out[i, :, : r.shape[-1]] = r
    return out


def step_bytes(P, n, k, fmt):
    """Cache bytes each decode step reads, {"dense": [n-1], "DSA": [n-1]}, whole model: token i + 1
    (i >= 1) comes from the query at position P + i - 1, which sees P + i keys."""
    from dsa_core.host import generate as gen

    rows = [gen.step_bytes(P + i, k, fmt) for i in range(1, n)]
    return {"dense": [r["dense"] for r in rows], "DSA": [r["dsa"] for r in rows]}


def reference_bytes(T):
    """One DeepSeek-V3.2 decode step at context T (61 layers, k = 2,048, FP8 caches: 656 B of MLA cache
    and 132 B of indexer key per token and layer), whole model: step_bytes with the 671B's shape."""
    from dsa_core.cost import flops
    from dsa_core.host import generate as gen

    return gen.step_bytes(T, flops.V32_MQA.index_topk, "fp8", flops.V32_MQA)


def per_token_cache(fmt):
    """(KV bytes, index-key bytes) per token per layer of this host in a format, and of the 671B (FP8)."""
    from dsa_core.cost import flops

    def both(shape, f):
        if f == "fp32":  # this app's caches: twice bf16
            b = flops.cache_bytes_per_token(shape, "bf16")
            return 2 * b["kv_cache/bytes_per_token"], 2 * b["index_cache/bytes_per_token"]
        b = flops.cache_bytes_per_token(shape, f)
        return b["kv_cache/bytes_per_token"], b["index_cache/bytes_per_token"]

    return both(flops.SMOLLM2, fmt), both(flops.V32_MQA, "fp8")


def cache_sizes(P, n):
    """Bytes the caches hold while generating P + n tokens: {"kv", "index"} of one mode (fp32)."""
    from dsa_core.host import generate as gen

    return gen.cache_bytes(cache.load()[0].model, P + n)


def scores_row(T, picks, scores):
    """[T] index scores of one query for viz.token_html's shading: its picks' scores, NaN elsewhere."""
    row = np.full(T, np.nan, dtype=np.float32)
    keep = (picks >= 0) & (picks < T)
    row[picks[keep]] = scores[keep]
    return row


def decode_tokens_per_second(seconds):
    """Generated tokens a second after the first (the first token comes from the prefill)."""
    return (len(seconds) - 1) / float(np.sum(seconds[1:])) if len(seconds) > 1 else float("nan")


BENCH = pathlib.Path(__file__).resolve().parents[1] / "assets" / "bench"


def recorded_decode():
    """benchmarks/decode_bench.py's recorded run (assets/bench/decode_cpu.json), or None if not shipped."""
    path = BENCH / "decode_cpu.json"
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return rec if rec.get("schema") == "decode_cpu/1" and rec.get("steps") else None


def gpu_decode_rows():
    """{file name: (device, {variant: row})} of the decode rows of the recorded GPU runs in assets/bench/
    (benchmarks/gpu_bench.py: the 671B shape at 128K, batch 32), newest first."""
    out = {}
    for name in ("h100.json", "h200.json"):
        try:
            d = json.loads((BENCH / name).read_text())
        except (OSError, ValueError):
            continue
        rows = {r["variant"]: r for r in d.get("decode", []) if r.get("ms") is not None}
        if rows:
            out[name] = (d.get("device_name", name), rows)
    return out
