"""Reading C of Figure 3: digitise cost.jpg (deepseek-ai/DeepSeek-V3.2-Exp @ 3b99a53) pixel by pixel.

Usage: python assets/paper/digitise_cost_jpg.py path/to/cost.jpg   (needs Pillow; not part of the app)
Axes were calibrated by hand on this image: spines at x = 76/424 (prefill) and 543/892 (decode) for
0K/128K, baseline y = 282 for $0, grid lines every 38.2 px per $0.1 (prefill) and 44.5 px per $0.4 (decode).
Each curve is the centroid of its colour's pixel run in one column; columns where the blue and orange
runs touch are left out (None). Prints {phase: (position_k, dense, dsa)} as JSON.
"""

import json
import sys

import numpy as np
from PIL import Image

a = np.asarray(Image.open(sys.argv[1] if len(sys.argv) > 1 else "cost.jpg").convert("RGB")).astype(int)
R, G, B = a[..., 0], a[..., 1], a[..., 2]
orange = (R - B > 60) & (R > 150)
blue = (B - R > 40) & (B > 120) & (R < 180)
panels = {
    "prefill": dict(x0=76, x1=424, y0=282, ypu=381.7, legend=(310, 70)),
    "decode": dict(x0=543, x1=892, y0=282, ypu=111.25, legend=(780, 70)),
}


def centroid(mask, other, col, p):
    rows = np.nonzero(mask[: p["y0"], col])[0]
    if col < p["legend"][0]:
        rows = rows[rows > p["legend"][1]]
    if rows.size == 0:
        return None
    runs = np.split(rows, np.nonzero(np.diff(rows) > 1)[0] + 1)
    run = max(runs, key=len)
    if len(run) > 6:
        return None
    orow = np.nonzero(other[: p["y0"], col])[0]
    if orow.size and np.min(np.abs(orow[:, None] - run[None, :])) <= 1:
        return None  # lines touch: unreliable
    return run.mean()


res = {}
for name, p in panels.items():
    span = p["x1"] - p["x0"]
    cols = list(range(p["x0"] + 2, p["x0"] + 46, 3)) + [
        p["x0"] + round(span * k / 128) for k in range(24, 129, 8)
    ]
    cols = [min(c, p["x1"] - 2) for c in cols]
    pos = []
    d = []
    s = []
    for col in cols:
        cb = centroid(blue, orange, col, p)
        co = centroid(orange, blue, col, p)
        pos.append(round((col - p["x0"]) / span * 128, 2))
        d.append(None if cb is None else round((p["y0"] - cb) / p["ypu"], 4))
        s.append(None if co is None else round((p["y0"] - co) / p["ypu"], 4))
    res[name] = (pos, d, s)
json.dump(res, sys.stdout)
