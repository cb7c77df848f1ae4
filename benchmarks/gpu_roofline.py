"""Draw the roofline of a recorded GPU run as a static SVG for docs/gpu.md (no plotting library needed).

x = arithmetic intensity (FLOP per byte of the fewest bytes a part must move), y = achieved TFLOP/s,
both on log scales; the roof is min(matmul ceiling, x × copy ceiling), both measured in the same run
(the file's gpu.ceilings). One point per measured part that has FLOPs and bytes, at the longest
prefill length and for the decode step. The app draws its figures with dsa_core.viz (plotly); this
one is a file in docs/, so it is written here, from the JSON alone.
Usage: python benchmarks/gpu_roofline.py assets/bench/h100.json docs/gpu_roofline.svg
"""

import json
import math
import sys

W, H, L, R, TOP, BOT = 780, 500, 70, 250, 40, 60  # canvas and margins (legend on the right)
X0, X1, Y0, Y1 = -1.0, 5.0, 0.0, 3.0  # log10 ranges: 0.1 … 1e5 FLOP/B, 1 … 1000 TFLOP/s
NAMES = {  # (shape, variant) -> label
    ("v32-671b", "dsa/indexer"): "671B indexer (bf16, scores to HBM)",
    ("v32-671b", "dsa/sparse_attention"): "671B sparse attention",
    ("v32-671b", "dense/sdpa_mha_192_128"): "671B dense MHA (cuDNN)",
    ("smollm2-135m", "dsa/index_topk"): "host fused indexer + top-k",
    ("smollm2-135m", "dsa/indexer"): "host indexer (scores to HBM)",
    ("smollm2-135m", "dsa/sparse_attention"): "host sparse attention",
    ("smollm2-135m", "dense/sdpa_gqa"): "host dense SDPA (cuDNN)",
    ("v32-671b", "decode/dsa_index_topk"): "decode indexer + top-k",
    ("v32-671b", "decode/dsa_sparse_attention"): "decode sparse attention",
}
MARKS = ["circle", "square", "diamond", "triangle", "cross"]


def _xy(ai, tf):
    x = L + (math.log10(ai) - X0) / (X1 - X0) * (W - L - R)
    y = H - BOT - (math.log10(tf) - Y0) / (Y1 - Y0) * (H - TOP - BOT)
    return x, y


def _mark(kind, x, y, colour):
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}" stroke="#222"/>'
    if kind == "square":
        return f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="{colour}" stroke="#222"/>'
    if kind == "diamond":
        pts = f"{x},{y - 7} {x + 7},{y} {x},{y + 7} {x - 7},{y}"
        return f'<polygon points="{pts}" fill="{colour}" stroke="#222"/>'
    if kind == "triangle":
        pts = f"{x},{y - 7} {x + 7},{y + 6} {x - 7},{y + 6}"
        return f'<polygon points="{pts}" fill="{colour}" stroke="#222"/>'
    d = f"M{x - 6},{y - 6}L{x + 6},{y + 6}M{x - 6},{y + 6}L{x + 6},{y - 6}"
    return f'<path d="{d}" stroke="{colour}" stroke-width="3"/>'


def points(d):
    """[(label, FLOP/B, TFLOP/s)] from a dsa-bench/1 file written by gpu_bench.py."""
    rows = d["rows"] + d["other_shapes"]["smollm2-135m"]["rows"] + d.get("decode", [])
    longest = {}
    for r in rows:
        if r.get("flops") and r.get("bytes") and r.get("ms") and (r["shape_name"], r["variant"]) in NAMES:
            key = (r["shape_name"], r["variant"])
            if r["T"] >= longest.get(key, {"T": -1})["T"]:
                longest[key] = r
    out = []
    for key, r in longest.items():
        out.append(
            (f"{NAMES[key]} (T={r['T'] // 1024}K)", r["flops"] / r["bytes"], r["flops"] / r["ms"] / 1e9)
        )
    return sorted(out, key=lambda p: p[1])


def svg(d):
    c = d["gpu"]["ceilings"]
    peak, bw = c["matmul_bf16_tflops"], c["copy_tbps"]
    head = f'xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}"'
    parts = [f'<svg {head} font-family="sans-serif" font-size="12">']
    parts.append(f'<rect width="{W}" height="{H}" fill="white"/>')
    for e in range(int(X0), int(X1) + 1):  # grid and ticks
        x, _ = _xy(10**e, 1)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{H - BOT}" stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{H - BOT + 16}" text-anchor="middle">1e{e}</text>')
    for e in range(int(Y0), int(Y1) + 1):
        _, y = _xy(1, 10**e)
        parts.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{10**e:g}</text>')
    ridge = peak / bw  # FLOP/B where the two ceilings meet (TB/s · FLOP/B = TFLOP/s)
    a, b = _xy(10**X0, max(10**Y0, 10**X0 * bw)), _xy(ridge, peak)
    e = _xy(10**X1, peak)
    parts.append(f'<polyline points="{a[0]:.1f},{a[1]:.1f} {b[0]:.1f},{b[1]:.1f} {e[0]:.1f},{e[1]:.1f}" '
                 'fill="none" stroke="#000" stroke-width="2.5"/>')  # fmt: skip
    parts.append(f'<text x="{b[0] + 8:.1f}" y="{b[1] - 8:.1f}">bf16 matmul {peak:.0f} TFLOP/s</text>')
    parts.append(f'<text x="{a[0] + 40:.1f}" y="{a[1] - 40:.1f}" transform="rotate(-33 {a[0] + 40:.1f} '
                 f'{a[1] - 40:.1f})">copy {bw:.2f} TB/s</text>')  # fmt: skip
    colours = [
        "#0072B2",
        "#D55E00",
        "#009E73",
        "#CC79A7",
        "#E69F00",
        "#56B4E9",
        "#000000",
        "#999999",
        "#F0E442",
    ]
    for i, (label, ai, tf) in enumerate(points(d)):
        x, y = _xy(min(max(ai, 10**X0), 10**X1), min(max(tf, 10**Y0), 10**Y1))
        parts.append(_mark(MARKS[i % len(MARKS)], x, y, colours[i % len(colours)]))
        ly = TOP + 14 + 34 * i
        parts.append(_mark(MARKS[i % len(MARKS)], W - R + 16, ly - 4, colours[i % len(colours)]))
        parts.append(f'<text x="{W - R + 28}" y="{ly}">{label}</text>')
        parts.append(
            f'<text x="{W - R + 28}" y="{ly + 14}" fill="#555">{tf:.0f} TFLOP/s at {ai:.3g} FLOP/B</text>'
        )
    parts.append(f'<text x="{(L + W - R) / 2}" y="{H - 18}" text-anchor="middle">FLOP per byte moved</text>')
    parts.append(f'<text x="18" y="{(TOP + H - BOT) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 18 {(TOP + H - BOT) / 2})">TFLOP/s</text>')  # fmt: skip
    title = (
        f"Roofline, {d['device_name']} (ceilings measured in the same run, commit {d['gpu'].get('commit')})"
    )
    parts.append(f'<text x="{L}" y="22" font-size="14">{title}</text>')
    return "\n".join(parts + ["</svg>"]) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        data = json.load(f)
    with open(sys.argv[2], "w") as f:
        f.write(svg(data))
