"""Shared look of every figure: a colour-blind-safe palette, fixed colour scales, labels, export config.

Okabe & Ito's eight colours stay distinguishable under the common colour-vision deficiencies. Every mark
that carries meaning also carries a shape, a pattern or a text label, never colour alone. Backgrounds are
transparent so Streamlit's light and dark themes (and Jupyter's) both read well; fonts are sized for a
1280x720 projector.
"""

import unicodedata

import numpy as np
import plotly.graph_objects as go

# Okabe-Ito palette (https://jfly.uni-koeln.de/color/), named by role.
ORANGE, SKY, GREEN, YELLOW = "#E69F00", "#56B4E9", "#009E73", "#F0E442"
BLUE, VERMILLION, PURPLE, GREY = "#0072B2", "#D55E00", "#CC79A7", "#8C8C8C"
PALETTE = [BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, YELLOW, GREY]

ROLE = {  # one colour per concept, the same in every figure, page and notebook
    "indexer": BLUE,
    "dsa": BLUE,
    "dense": ORANGE,
    "oracle": GREEN,
    "ideal": GREEN,
    "window": PURPLE,
    "random": GREY,
    "query": VERMILLION,
    "missed": VERMILLION,
}
FUTURE = "#8C8C8C"  # the causal upper triangle: drawn as this background, labelled in every map
FONT = 15  # readable from the back of a lecture room at 1280x720


CIVIDIS = [  # cividis (colour-blind-safe), dark to light: the attention scales here and in scales.py
    "#00224e",
    "#123570",
    "#3b496c",
    "#575d6d",
    "#707173",
    "#8a8678",
    "#a59c74",
    "#c3b369",
    "#e1cc55",
    "#fee838",
]


def _cividis_sqrt():
    """Cividis with stops at squared spacing: small attention weights stay visible, while the scale
    itself still runs over the fixed range [0, 1]."""
    return [[float(v), c] for v, c in zip(np.linspace(0, 1, len(CIVIDIS)) ** 2, CIVIDIS)]


ATTENTION_SCALE = _cividis_sqrt()  # probabilities, always zmin=0, zmax=1
SCORE_SCALE = "Plasma"  # unnormalised index scores, auto range
MASK_SCALE = [[0.0, "#dfe7ef"], [0.5, "#dfe7ef"], [0.5, BLUE], [1.0, BLUE]]

LABEL = {
    "scores": "index score (unnormalised: Σ_j w·ReLU(q·k), not a probability)",
    "mask": "kept by top-k selection (1 = kept, 0 = dropped)",
    "dense": "dense attention probability (fixed scale 0 to 1)",
    "sparse": "sparse (DSA) attention probability (fixed scale 0 to 1)",
    "diff": "sparse − dense attention (−1 to 1; orange = lost, blue = gained)",
}


_JOINERS = {"\u200c", "\u200d"}  # zero-width (non-)joiners: part of emoji and Arabic/Indic spelling


def _visible(ch):
    """A character as it should read in a label: itself, or a visible stand-in (never a bare '�')."""
    if ch.isprintable() or ch in _JOINERS or unicodedata.category(ch) == "Zs":
        return ch  # letters, emoji, no-break and wide spaces
    if unicodedata.category(ch) in ("Zl", "Zp"):
        return "↵"
    return f"<U+{ord(ch):04X}>"  # controls and bidi overrides: named, so they cannot reorder the label


def display_token(tok):
    """Printable form of one token: visible whitespace and control characters, trimmed to 24 chars.
    Tokens come readable from dsa_core.host.tokenizer.readable (a character split over tokens is shown
    once, '◌' marks a token that continues it)."""
    tok = str(tok).replace("\n", "↵").replace("\t", "⇥").replace("\r", "␍")
    tok = "".join(map(_visible, tok))
    if tok and all(c in _JOINERS for c in tok):
        tok = "".join(f"<U+{ord(c):04X}>" for c in tok)  # a joiner alone would be an empty label
    return tok if len(tok) <= 24 else tok[:23] + "…"


def token_labels(tokens, start=0):
    """Unique labels 'index:token'. Plotly merges duplicate category labels, so never plot bare tokens."""
    return [f"{start + i}:{display_token(t).strip() or '␣'}" for i, t in enumerate(tokens)]


def f32(x):
    """Any array-like (numpy, CPU torch tensor, list) as a float32 numpy array: small, fast JSON."""
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))


def series_colour(name, i):
    """The role colour a series' name asks for ('dense', 'window', ...), else the i-th palette colour."""
    low = name.lower()
    for key in ("dense", "oracle", "ideal", "window", "random", "indexer", "dsa"):
        if key in low:
            return ROLE[key]
    return PALETTE[i % len(PALETTE)]


SPARE = [PURPLE, GREEN, VERMILLION, GREY, BLUE, ORANGE]  # >= 3:1 on white and on a dark theme (not ORANGE)


def line_colours(names, taken=()):
    """One colour per line: its role colour (series_colour) unless an earlier line (or `taken`) already
    has it, then the first unused SPARE colour. So no two lines of a chart differ by dash pattern alone,
    and dashed or dotted lines get colours that stay visible on a dark theme too."""
    out, used = [], list(taken)
    for i, name in enumerate(names):
        colour = series_colour(name, i)
        if colour in used:
            colour = next((c for c in SPARE if c not in used), colour)
        out.append(colour)
        used.append(colour)
    return out


def log_axis(values):
    """A log axis whose every tick label reads whole at full size: 0.2, 0.5, 1, 2 (or 2k, 5k, 10k,
    1M, 1G above 10,000) instead of Plotly's small '2' and '5' between the decades, which read the same
    for 0.2 and 2 on a projector; as few ticks as keep it readable (1-2-5, or decades over > 3)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return {"type": "log"}
    decades = np.log10(values.max() / values.min())
    dtick = 1 if decades > 3 else "D2" if decades > 0.7 else "D1"  # decades only; 1-2-5; every digit
    return {"type": "log", "tickformat": "~s" if values.max() >= 1e4 else "~g", "dtick": dtick}


def layout(title=None, height=420, **extra):
    """The shared layout as a dict: transparent background, projector-sized fonts, compact margins."""
    base = {
        "title": {"text": title, "font": {"size": FONT + 3}} if title else None,
        "height": height,
        "font": {"size": FONT},
        "margin": {"l": 60, "r": 30, "t": 70 if title else 30, "b": 60},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "hoverlabel": {"font": {"size": FONT}},
        # below the plot, at the bottom of the figure (Plotly grows the bottom margin to fit it): a
        # legend above the plot collides with the title or subplot titles once it wraps
        "legend": {
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 0,
            "yanchor": "bottom",
            "yref": "container",
        },
    }
    base.update(extra)
    return base


def figure(data, title=None, height=420, **extra):
    """Build a go.Figure in one construction (much faster than many update_* calls, which matters
    for the app's 0.3 s budget per interaction)."""
    return go.Figure(data=data, layout=layout(title, height, **extra))


def base_layout(fig, title=None, height=420):
    """Apply the shared layout to an existing figure."""
    fig.update_layout(**layout(title, height))
    return fig


def grid(rows, cols, hgap=0.09, vgap=0.14, titles=(), share="xy", bottom=0.0, title_gap=4):
    """Layout entries for a rows x cols grid of subplots (axes x, x2, ...; row 1 on top), with linked
    zoom on the axes named in `share` ("xy", "x", "y" or ""), plus subplot-title annotations that sit
    `title_gap` pixels above their panel. Returns (layout dict, [(xdomain, ydomain)]).
    Share "y" only between panels of the same quantity: a matched axis takes the other's range."""
    share = {True: "xy", False: "", None: ""}.get(share, share)
    lay, doms, notes = {}, [], []
    w, h = (1 - hgap * (cols - 1)) / cols, (1 - bottom - vgap * (rows - 1)) / rows
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        n = "" if i == 0 else str(i + 1)
        xd = [round(c * (w + hgap), 6), min(1.0, round(c * (w + hgap) + w, 6))]
        yd = [max(0.0, round(1 - r * (h + vgap) - h, 6)), round(1 - r * (h + vgap), 6)]
        lay[f"xaxis{n}"] = {
            "domain": xd,
            "anchor": f"y{n}",
            **({"matches": "x"} if "x" in share and n else {}),
        }
        lay[f"yaxis{n}"] = {
            "domain": yd,
            "anchor": f"x{n}",
            **({"matches": "y"} if "y" in share and n else {}),
        }
        doms.append((xd, yd))
        if i < len(titles):
            notes.append(
                {
                    "text": titles[i],
                    "x": (xd[0] + xd[1]) / 2,
                    "y": yd[1],
                    "xref": "paper",
                    "yref": "paper",
                    "xanchor": "center",
                    "yanchor": "bottom",
                    "yshift": title_gap,
                    "showarrow": False,
                    "font": {"size": FONT},
                }
            )
    lay["annotations"] = notes
    return lay, doms


def export_config(filename="dsa-figure", fmt="png", scale=2):
    """Plotly `config` for st.plotly_chart / fig.show(config=...): the modebar camera button downloads
    the figure as PNG or SVG, drawn by the bundled plotly.js in the browser, so it works offline."""
    if fmt not in ("png", "svg", "jpeg", "webp"):
        raise ValueError(f"fmt must be png, svg, jpeg or webp, got {fmt!r}")
    return {
        "displaylogo": False,
        "responsive": True,
        "toImageButtonOptions": {"format": fmt, "filename": filename, "scale": scale},
        "modeBarButtonsToRemove": ["lasso2d"],
    }
