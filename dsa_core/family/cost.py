"""The DSA family in the cost model (docs/family.md): each member at the same token budget k.

Every member attends to min(t, k) keys, so core attention and the KV cache are dsa_cost's. What changes
is the indexer's O(L²) part: block top-n scores every key but ranks L/b block scores; compressed keys
score L/c pooled keys (and cache 1/c of the index keys); shared indices run the indexer in a share of
the layers only. Counting as in flops.py (2 FLOPs per multiply-add, only the q·k of the indexer).
"""

from dsa_core.cost import flops


def member_cost(shape, L, member="token", c=4, b=1, share=1.0, phase="prefill"):
    """A DSA family member at the same token budget k (docs/family.md), one layer on average.

    token: dsa_cost. block: same indexer score work, top-n over L/b block scores (selection ÷ b).
    compressed: scores L/c pooled keys (indexer work, selection and index cache ÷ c).
    shared: only a share of the layers run the indexer (indexer, selection and index cache × share).
    Core attention (min(t, k) keys) and the KV cache are the same for every member.
    """
    out = flops.dsa_cost(shape, L, phase)
    idx, sel = {"token": (1, 1), "block": (1, 1 / b), "compressed": (1 / c, 1 / c), "shared": (share, share)}[
        member
    ]
    out["indexer/qk_macs"] *= idx
    out["selection/compares"] *= sel
    out["selection/logit_bytes"] *= sel
    ib = flops.cache_bytes_per_token(shape)["index_cache/bytes_per_token"]  # DeepSeek's FP8 layout
    out["index_cache/bytes_per_token"] = ib * idx
    if phase == "decode":  # a decode step reads every (pooled / computed) index key once
        out["decode/read_bytes"] -= (1 - idx) * ib * L
    out["total_macs"] = out["indexer/qk_macs"] + out["attention/core_macs"]
    out["total_flops"] = 2 * out["total_macs"]
    return out


def indexer_share(shape, L, member="token", **kw):
    """Indexer part of a prefill's attention FLOPs (indexer + core), one layer: in [0, 1]."""
    return (c := member_cost(shape, L, member, phase="prefill", **kw))["indexer/qk_macs"] / c["total_macs"]
