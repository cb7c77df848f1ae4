"""Recall by query position: does an indexer hold at positions far past its training windows?

Queries are grouped by position into buckets (0-1K, 1-2K, 2-4K, 4-8K, ...); each bucket's recall is
the mean over its queries that see more than k keys. A query at position 6,000 needs RoPE angles and
a score scale over 6,000 keys that an indexer trained on 2,048-token windows never met: this is where
such an indexer falls behind one trained at the model's full context (DeepSeek-V3.2-Exp report,
section 2.1: the warm-up runs at full length). Used by evaluate.py and the by-position figure.
"""

import torch

BUCKET_KEYS = ("recall_indexer", "recall_oracle", "recall_window")
BUCKETS = ((0, 1024), (1024, 2048), (2048, 4096), (4096, 8192), (8192, 16384), (16384, 32768))


def bucket_name(lo, hi):
    """(1024, 2048) -> "1-2K"."""
    return f"{lo // 1024}-{hi // 1024}K"


def by_position(recall, rows):
    """Per-query recalls {key: [T]} and the counted queries rows [T] (bool) -> {bucket: {key: mean}},
    only the buckets that hold counted queries."""
    pos = torch.arange(rows.shape[0], device=rows.device)  # [T]
    out = {}
    for lo, hi in BUCKETS:
        sel = rows & (pos >= lo) & (pos < hi)  # [T]
        if sel.any():
            out[bucket_name(lo, hi)] = {key: recall[key][sel].mean().item() for key in BUCKET_KEYS}
    return out


def average_buckets(records):
    """Mean of each bucket's recalls over the records (files, windows, layers) that hold the bucket:
    [{"by_position": {...}}] -> {bucket: {key: mean}}, buckets in order of first appearance."""
    names = dict.fromkeys(b for r in records for b in r.get("by_position", {}))
    out = {}
    for b in names:
        have = [r["by_position"][b] for r in records if b in r.get("by_position", {})]
        out[b] = {key: sum(h[key] for h in have) / len(have) for key in BUCKET_KEYS}
    return out


def bucket_summary(layers):
    """Over layers, per bucket: mean recalls, indexer/oracle ratio, layers where the indexer beats
    the window: [{"by_position": {...}}] -> {bucket: dict}."""
    out = average_buckets(layers)
    for b, rec in out.items():
        have = [l["by_position"][b] for l in layers if b in l.get("by_position", {})]
        rec["indexer_over_oracle"] = rec["recall_indexer"] / rec["recall_oracle"]
        rec["layers_indexer_above_window"] = sum(h["recall_indexer"] > h["recall_window"] for h in have)
    return out


def position_series(reports):
    """{name: evaluate.py report} -> (bucket labels, {name: [indexer/ideal per bucket]},
    {name: [layers above the window per bucket]}), over the buckets every report holds."""
    common = [
        b
        for b in next(iter(reports.values()))["mean"]["by_position"]
        if all(b in r["mean"]["by_position"] for r in reports.values())
    ]
    ratio = {
        n: [r["mean"]["by_position"][b]["indexer_over_oracle"] for b in common] for n, r in reports.items()
    }
    above = {
        n: [r["mean"]["by_position"][b]["layers_indexer_above_window"] for b in common]
        for n, r in reports.items()
    }
    return common, ratio, above


def recorded_by_position(k=128):
    """The shipped comparison at 8,192 tokens, from assets/indexers: {"trained on 2,048-token windows":
    report, "trained at 8,192 tokens (shipped)": report}; {} when the files are absent."""
    import json
    from pathlib import Path

    here = Path(__file__).resolve().parents[2] / "assets" / "indexers"
    files = {
        "trained on 2,048-token windows": here / f"eval_8192_k{k}_trained_2048.json",
        "trained at 8,192 tokens (shipped)": here / f"eval_8192_k{k}.json",
    }
    if not all(p.exists() for p in files.values()):
        return {}
    return {name: json.loads(p.read_text()) for name, p in files.items()}
