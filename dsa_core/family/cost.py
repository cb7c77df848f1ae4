"""The DSA family in the cost model (docs/family.md): each member at the same token budget k.

Every member attends to min(t, k) keys, so core attention and the KV cache are dsa_cost's. What changes
is the indexer's O(L²) part: block top-n scores every key (with its own indexer's width) but ranks L/b
block scores; compressed keys score L/c pooled keys (and cache 1/c of the index keys); shared indices
run the indexer in a share of the layers only; two-level scores L/b pooled block keys, then only the
tokens of its m + 1 candidate blocks. Counting as in flops.py (2 FLOPs per multiply-add, only the q·k of
the indexer).
"""

from dsa_core.cost import flops


def candidate_pairs(L, b, m):
    """(query, key) pairs a prefill scores inside m + 1 candidate blocks of b: Σ_t min(t + 1, (m + 1)·b)."""
    M = (m + 1) * b
    return L * (L + 1) / 2 if L <= M else M * (M + 1) / 2 + (L - M) * M


def member_cost(shape, L, member="token", c=4, b=1, share=None, m=0, heads=None, phase="prefill"):
    """A DSA family member at the same token budget k (docs/family.md), one layer on average.

    token: dsa_cost. block: its indexer (heads: its h·d over the shape's, None = the same) scores every
    key, top-n over L/b block scores (selection ÷ b). compressed: scores L/c pooled keys (indexer work,
    selection and index cache ÷ c). shared: only a share of the layers run the indexer (indexer, selection
    and index cache × share, None = 1). two-level: L/b pooled block keys plus the keys of m + 1 candidate
    blocks (HISA, share None); with a share (V4.1's sources) the computing layers score every key and the
    others only the keys of their candidate blocks.
    Core attention (min(t, k) keys) and the KV cache are the same for every member.
    """
    out = flops.dsa_cost(shape, L, phase)
    pairs = L * (L + 1) / 2 if phase == "prefill" else L
    fine = candidate_pairs(L, b, m) if phase == "prefill" else min(L, (m + 1) * b)
    two = (fine + (0 if share is not None else pairs / b)) / pairs  # HISA: + the pooled block keys
    two = two if share is None else share + (1 - share) * two  # V4.1: the sources score everything
    idx, sel = {
        "token": (1, 1),
        "block": (heads or 1, 1 / b),
        "compressed": (1 / c, 1 / c),
        "shared": (1.0 if share is None else share,) * 2,
        "two-level": (two, two),
    }[member]
    out["indexer/qk_macs"] *= idx
    out["selection/compares"] *= sel
    out["selection/logit_bytes"] *= sel
    ib = flops.cache_bytes_per_token(shape)["index_cache/bytes_per_token"]  # DeepSeek's FP8 layout
    cached = {"compressed": 1 / c, "shared": idx, "block": heads or 1}.get(member, 1)
    out["index_cache/bytes_per_token"] = ib * cached
    if phase == "decode":  # a decode step reads every (pooled / computed) index key once
        out["decode/read_bytes"] -= (1 - idx) * ib * L
    out["total_macs"] = out["indexer/qk_macs"] + out["attention/core_macs"]
    out["total_flops"] = 2 * out["total_macs"]
    return out


def indexer_share(shape, L, member="token", **kw):
    """Indexer part of a prefill's attention FLOPs (indexer + core), one layer: in [0, 1]."""
    return (c := member_cost(shape, L, member, phase="prefill", **kw))["indexer/qk_macs"] / c["total_macs"]
