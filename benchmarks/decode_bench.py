"""CPU decode: seconds per generated token against context length, dense vs DSA, on the real SmolLM2.

Each mode prefills the bundled texts (repeated to the longest context) once; a step at context L rolls
its cache back to L - 1 tokens and runs one token (dsa_core.host.generate.step_seconds). The two modes
take turns step by step, so load from other processes falls on both alike; we report the median of
--repeats steps. Then one generation of --generate tokens in each mode whose last step sees the
longest context (the prompt is that context minus the new tokens), timed end to end, prefill included.
Beside each time: the cache bytes the step reads (the fp32 caches of this host, host.generate.step_bytes)
and the weights every step reads whatever the mode (all parameters, fp32). Decode is memory-bound:
a step multiplies each weight once and each cached value once, so bytes, not FLOPs, set its time.

    python benchmarks/decode_bench.py                        # contexts 1K-8K, k = 128, 2 threads
    python benchmarks/decode_bench.py --json assets/bench/decode_cpu.json   # the recorded run
    python benchmarks/decode_bench.py --threads 1 --no-input-checks --generate 0   # diagnostic, below

--no-input-checks turns off dsa_core._checks.check_finite, which the reference functions run on every
argument: in a decode step that is one pass over the whole KV cache and index-key cache per layer,
the very reads DSA avoids. The flag shows what the step costs without them; it changes no result
(docs/decode.md has both). --app-malloc sets glibc's mmap threshold to 1 MB as the app server does
(lessons/budget.py): every larger temporary is then a fresh mapping, page faults included.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def corpus_ids(tokenizer, n):
    """The bundled sample texts, one after the other, repeated to n token ids."""
    text = "\n\n".join(
        p.read_text(encoding="utf-8") for p in sorted((ROOT / "assets" / "texts").glob("*.txt"))
    )
    ids = tokenizer.encode(text).ids
    return (ids * (n // len(ids) + 1))[:n]


def cpu_name():
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contexts", default="1024,2048,4096,8192")
    ap.add_argument("--k", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--generate", type=int, default=64, help="tokens per generation (0: skip)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    ap.add_argument("--no-input-checks", action="store_true", help="diagnostic: skip isfinite checks")
    ap.add_argument(
        "--app-malloc",
        action="store_true",
        help="serve allocations above 1 MB by mmap, as the app server does",
    )
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.no_input_checks:
        import dsa_core._checks as checks

        checks.check_finite = lambda name, x: None
    if args.app_malloc:  # lessons/budget.py, fix_mmap_threshold: glibc's M_MMAP_THRESHOLD = 1 MB
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)

    from dsa_core.host import generate as gen
    from dsa_core.host.indexers import load_with_indexers

    contexts = [int(c) for c in args.contexts.split(",")]
    loaded, note = load_with_indexers()
    model = loaded.model
    top = max(contexts)
    ids = corpus_ids(loaded.tokenizer, top)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    load0 = os.getloadavg()
    print(
        f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    print(
        f"{loaded.name}; {note.split(';')[0]}; k = {args.k}; "
        f"input checks {'OFF' if args.no_input_checks else 'on'}; "
        f"allocations above 1 MB {'by mmap (as the app)' if args.app_malloc else 'by glibc defaults'}"
    )
    print(f"weights read by every step: {weights / 1e6:.0f} MB (fp32)")

    t0 = time.perf_counter()
    selects = {"dense": None, "dsa": gen.step_select(args.k)}
    secs = gen.step_seconds(model, ids, contexts, selects, repeats=args.repeats)
    print(f"\nstep time, median of {args.repeats} (prefills and steps took {time.perf_counter() - t0:.0f} s)")
    print(
        f"{'context':>8} {'dense ms':>9} {'DSA ms':>8} {'DSA/dense':>10} "
        f"{'dense KV MB':>12} {'DSA idx+KV MB':>14}"
    )
    rows = []
    for i, L in enumerate(contexts):
        b = gen.step_bytes(L, args.k, "fp32")
        d, s = secs["dense"][i], secs["dsa"][i]
        rows.append(
            {
                "context": L,
                "dense_s": d,
                "dsa_s": s,
                "ratio": s / d,
                **{f"{n} bytes": v for n, v in b.items()},
            }
        )
        print(
            f"{L:>8,} {1e3 * d:>9.1f} {1e3 * s:>8.1f} {s / d:>10.2f} "
            f"{b['dense'] / 1e6:>12.1f} {b['dsa'] / 1e6:>14.1f}"
        )

    runs = {}
    if args.generate:
        prompt = ids[: top - args.generate]
        print(
            f"\ngeneration of {args.generate} tokens after a {len(prompt):,}-token prompt "
            f"(last step sees {top:,})"
        )
        for name, make in (("dense", lambda: None), ("dsa", lambda: gen.step_select(args.k))):
            t0 = time.perf_counter()
            steps = list(gen.generate(model, prompt, args.generate, make(), read=False))
            total = time.perf_counter() - t0
            decode = [s.seconds for s in steps[1:]]
            runs[name] = {
                "prefill_s": steps[0].seconds,
                "decode_mean_s": sum(decode) / len(decode),
                "decode_max_s": max(decode),
                "total_s": total,
                "tokens": [s.token for s in steps],
            }
            r = runs[name]
            print(
                f"  {name:>5}: prefill {r['prefill_s']:.1f} s, "
                f"then {1e3 * r['decode_mean_s']:.0f} ms a token "
                f"(max {1e3 * r['decode_max_s']:.0f} ms, {1 / r['decode_mean_s']:.1f} tokens/s); "
                f"total {total:.1f} s"
            )
        print(f"  both modes: {sum(r['total_s'] for r in runs.values()):.1f} s")
        same = gen.first_difference(runs["dense"]["tokens"], runs["dsa"]["tokens"])
        print("  identical" if same is None else f"  the two continuations first differ at token #{same + 1}")
        caches = gen.cache_bytes(model, top)
        print(
            f"  caches for {top:,} tokens: KV {caches['kv'] / 2**20:.0f} MiB + index keys "
            f"{caches['index'] / 2**20:.0f} MiB (fp32), per mode"
        )
    load1 = os.getloadavg()
    print(f"\nload average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    if args.json:
        out = {
            "schema": "decode_cpu/1",
            "created": time.strftime("%Y-%m-%d %H:%M"),
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "model": loaded.name,
            "k": args.k,
            "input_checks": not args.no_input_checks,
            "app_malloc": args.app_malloc,
            "weights_bytes": weights,
            "load_before": load0,
            "load_after": load1,
            "steps": rows,
            "generation": {n: {k: v for k, v in r.items() if k != "tokens"} for n, r in runs.items()},
            "command": " ".join(
                ["python benchmarks/decode_bench.py"]
                + [a for a in sys.argv[1:] if not a.startswith("--json") and not a.endswith(".json")]
            ),
        }
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
