"""Measure the real-model budgets (docs/model.md) on this machine and print them.

    python benchmarks/model_bench.py            # load, one-layer traces at 512 / 2048, 8192-token peak RSS
    python benchmarks/model_bench.py --layer 0  # trace the first layer instead of the last (fewer layers run)
    python benchmarks/model_bench.py --threads 1  # one torch thread (better on a machine shared with others)

Budgets (2-core CPU, model cached): load <= 2 s; trace of one layer (dense maps + indexer scores,
top-k, sparse probs, recall) <= 1.5 s at 512 tokens and <= 6 s at 2048; peak RSS <= 6 GB at 8192.
The trace runs every layer up to the traced one, so the last layer is the worst case (the default).
Peak memory is measured in a fresh subprocess (resource.getrusage of the child, like /usr/bin/time).
"""

import argparse
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sample_ids(tokenizer, T):
    """T tokens of real text: this repository's own Python and Markdown files, repeated if needed."""
    text = "\n\n".join(
        p.read_text() for p in sorted(ROOT.glob("dsa_core/*.py")) + sorted(ROOT.glob("docs/*.md"))
    )
    ids = tokenizer.encode(text).ids
    return (ids * (T // len(ids) + 1))[:T]


def setup(layer):
    import torch

    from dsa_core.config import SMOLLM2_HOST
    from dsa_core.host.load import load_model
    from dsa_core.host.model import attach_indexers
    from dsa_core.indexer import LightningIndexer

    lm = load_model()
    torch.manual_seed(0)  # an untrained indexer costs the same as a trained one
    attach_indexers(lm.model, [LightningIndexer(SMOLLM2_HOST) for _ in lm.model.layers])
    return lm, (len(lm.model.layers) - 1 if layer is None else layer)


def time_trace(lm, layer, T, repeats):
    """(min wall s, median wall s, min CPU s) of trace_layers on T tokens; CPU = user + sys of this run."""
    from dsa_core.analysis.trace import trace_layers

    ids = sample_ids(lm.tokenizer, T)
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        trace_layers(lm, ids, [layer])
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), statistics.median(walls), min(cpus)


def child(T, layer):
    """Run in a subprocess: load, one trace of `layer` at T tokens, then a dense log-prob run."""
    from dsa_core.host.logprobs import next_token_logprobs

    lm, layer = setup(layer)
    t0 = time.perf_counter()
    time_trace(lm, layer, T, 1)
    t1 = time.perf_counter()
    next_token_logprobs(lm.model, sample_ids(lm.tokenizer, T))
    print(f"{t1 - t0:.1f} {time.perf_counter() - t1:.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layer", type=int, default=None, help="layer to trace (default: the last)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        return child(args.child, args.layer)
    from dsa_core.host.load import load_model

    load_model()  # converts on the very first run, not timed
    loads = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        load_model()
        loads.append(time.perf_counter() - t0)
    load = os.getloadavg()[0]
    print(
        f"machine: {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, load average {load:.1f}"
        + (
            " (above the CPU count: other processes share the cores and wall times grow; CPU time / threads "
            "is then the better estimate of an idle machine)"
            if load > os.cpu_count()
            else ""
        )
    )
    print(
        f"load (cached):                 min {min(loads):.2f} s, median {statistics.median(loads):.2f} s  "
        f"(budget 2 s)"
    )
    lm, layer = setup(args.layer)
    for T, budget in ((512, 1.5), (2048, 6.0)):
        best, med, cpu = time_trace(lm, layer, T, args.repeats)
        print(
            f"trace layer {layer:2d}, {T:4d} tokens:  min {best:.2f} s, median {med:.2f} s wall, "
            f"{cpu:.2f} s CPU  (budget {budget} s wall)"
        )
    cmd = [sys.executable, __file__, "--child", "8192", "--threads", str(args.threads)]
    cmd += [] if args.layer is None else ["--layer", str(layer)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9  # Linux: KiB
    print(
        f"8192 tokens: trace layer {layer} {out[0]} s, dense log-probs {out[1]} s, "
        f"peak RSS {peak_gb:.2f} GB  (budget 6 GB)"
    )


if __name__ == "__main__":
    main()
