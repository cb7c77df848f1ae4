"""A map drawn as a PNG image: the colours a Plotly heatmap would paint, computed here, so a 192 x 192
panel travels as about 20-60 kB of PNG instead of 200 kB of numbers, and the browser draws one image.

The colour of a value is the heatmap's: (v - lo) / (hi - lo) clipped to [0, 1], looked up in the
colour scale linearly interpolated in RGB (Plotly's rule), cell by cell. NaN (the causal future)
is transparent, so the plot's grey background shows through as it does under a heatmap. The numbers
themselves stay exact in the figure's CSV/JSON export (export.py reads them from heatmaps.py).
"""

import base64
import functools
import struct
import zlib

import numpy as np
from plotly.colors import get_colorscale


def _rgb(colour):
    """(r, g, b) of '#rrggbb' or 'rgb(r, g, b)'."""
    if colour.startswith("#"):
        return [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return [float(c) for c in colour[colour.index("(") + 1 : -1].split(",")[:3]]


@functools.lru_cache(maxsize=32)
def _stops(scale):
    """(positions [n], colours [n, 3]) of a colour scale's stops (a Plotly name, or a tuple of
    (stop, colour))."""
    stops = get_colorscale(scale) if isinstance(scale, str) else scale
    at = np.array([float(s) for s, _ in stops])
    return at, np.array([_rgb(c) for _, c in stops], dtype=np.float64)


def colours(z, scale, lo, hi):
    """[S, T, 4] uint8 RGBA of map z on `scale` over [lo, hi]; NaN cells transparent. Each cell gets its
    own colour, interpolated between the stops (no table of levels: the power and difference scales put
    stops 10^-4 apart, which a 256-level table would merge)."""
    key = scale if isinstance(scale, str) else tuple((float(a), str(b)) for a, b in scale)
    at, rgb = _stops(key)
    z = np.asarray(z, dtype=np.float64)
    ok = np.isfinite(z)
    u = np.clip((np.where(ok, z, lo) - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    rgba = np.empty(z.shape + (4,), np.uint8)
    for c in range(3):
        rgba[..., c] = np.rint(np.interp(u, at, rgb[:, c]))
    rgba[..., 3] = np.where(ok, 255, 0)
    return rgba


def png(rgba):
    """PNG bytes of an [H, W, 4] uint8 image (zlib and the PNG chunks by hand: no imaging library)."""
    h, w, _ = rgba.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgba.reshape(h, w * 4)], axis=1).tobytes()

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    head = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8 bits, RGBA, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def png_uri(z, scale, lo, hi):
    """The map as a data: URI for go.Image(source=...)."""
    return "data:image/png;base64," + base64.b64encode(png(colours(z, scale, lo, hi))).decode("ascii")
