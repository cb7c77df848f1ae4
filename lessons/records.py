"""Readers of recorded results, shaped for the pages: the shipped indexers' held-out evaluation."""

from dsa_core.host.indexers import recorded_evaluation


def recorded_results():
    """The shipped indexers' recorded held-out evaluation, shaped for the app: None when not shipped, else
    {"k": 128 report's mean, "per_layer": {method: [30] recall}, "by_k": rows, "stage2": rows}."""
    evals, stage2 = recorded_evaluation()
    if 128 not in evals:
        return None
    e = evals[128]
    per_layer = {
        name: [l[key] for l in e["layers"]]
        for name, key in (
            ("DSA indexer", "recall_indexer"),
            ("ideal top-k", "recall_oracle"),
            ("window + 4 sinks", "recall_window"),
            ("random", "recall_random"),
        )
    }
    by_k = [
        {
            "k": k,
            "indexer / ideal recall": round(r["mean"]["indexer_over_oracle"], 3),
            "layers above window": f"{r['mean']['layers_indexer_above_window']}/{len(r['layers'])}",
            **{
                f"perplexity, {name}": round(r["perplexity"][m], 2)
                for m, name in (
                    ("dense", "dense"),
                    ("dsa", "DSA"),
                    ("window", "window"),
                    ("oracle", "ideal top-k"),
                )
            },
            "DSA vs dense": f"{100 * r['perplexity']['dsa_vs_dense']:+.1f} %",
        }
        for k, r in evals.items()
    ]
    control = stage2.get("dense control", {}).get("after", {}).get("dense")
    rows = [
        {
            "run": name,
            "DSA before": round(r["before"]["dsa"], 2),
            "DSA after": round(r["after"]["dsa"], 2),
            "dense, same model": round(r["after"]["dense"], 2),
            "dense control": round(control, 2) if control else None,
            "DSA vs control": f"{100 * (r['after']['dsa'] / control - 1):+.1f} %" if control else "",
        }
        for name, r in stage2.items()
        if name.startswith("DSA")
    ]
    return {
        "mean": e["mean"],
        "perplexity": e["perplexity"],
        "tokens": e["tokens"],
        "per_layer": per_layer,
        "by_k": by_k,
        "stage2": rows,
    }
