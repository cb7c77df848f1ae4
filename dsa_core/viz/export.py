"""The numbers behind any figure, as CSV (long form) or JSON, for download next to the PNG/SVG.

Works on every figure of this package (and most Plotly figures): it reads each trace's x, y, z back,
decoding the compact typed arrays Plotly uses for numpy data.
"""

import base64
import csv
import io
import json

import numpy as np


def _arr(v):
    """A trace field as a plain numpy array (handles plotly's {'dtype','bdata','shape'} encoding)."""
    if v is None:
        return None
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        shape = v.get("shape")
        return a.reshape([int(s) for s in str(shape).split(",")]) if shape else a
    return np.asarray(v)


def figure_data(fig):
    """{trace name (made unique): {"type", "x", "y", "z"}} with numpy arrays, from a go.Figure."""
    out, cells = {}, getattr(fig, "_cells", {})  # numbers of traces drawn otherwise (images, stems)
    for i, tr in enumerate(fig.to_plotly_json()["data"]):
        meta = tr.get("meta") if isinstance(tr.get("meta"), dict) else {}
        if meta.get("ui"):
            continue  # click targets (e.g. the maps' row pickers) and colour-bar carriers, not data
        name = str(tr.get("name") or tr.get("type", "trace"))
        key = name if name not in out else f"{name} ({i})"
        if meta.get("numbers") in cells:  # a map drawn as an image, a strip's stems: the exact values
            out[key] = dict(cells[meta["numbers"]])
            continue
        out[key] = {"type": tr.get("type", "scatter")}
        for f in ("x", "y", "z"):
            a = _arr(tr.get(f))
            if a is not None:
                out[key][f] = a
    return out


def figure_json(fig):
    """The figure's numbers as a JSON string (NaN written as null)."""

    def clean(a):
        if a.dtype.kind in "fc":
            return (
                [clean(r) for r in a] if a.ndim > 1 else [None if not np.isfinite(x) else float(x) for x in a]
            )
        return a.tolist()

    data = {
        k: {f: (clean(v) if isinstance(v, np.ndarray) else v) for f, v in d.items()}
        for k, d in figure_data(fig).items()
    }
    return json.dumps(data, ensure_ascii=False)


def figure_csv(fig):
    """Long-form CSV: trace,x,y,value. Heatmaps give one row per cell (x = key, y = query)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["trace", "x", "y", "value"])
    for name, d in figure_data(fig).items():
        if "z" in d:
            z = np.atleast_2d(d["z"])
            xs = d.get("x", np.arange(z.shape[1]))
            ys = d.get("y", np.arange(z.shape[0]))
            for r, y in enumerate(ys):
                for c, x in enumerate(xs):
                    w.writerow([name, x, y, "" if not np.isfinite(z[r, c]) else f"{z[r, c]:.6g}"])
        else:
            xs, ys = d.get("x"), d.get("y")
            for x, y in zip(xs if xs is not None else range(len(ys)), ys if ys is not None else []):
                w.writerow([name, x, y, ""])
    return buf.getvalue()
