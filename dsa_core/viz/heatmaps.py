"""Attention-style maps (query rows x key columns), alone or aligned side by side with linked zoom.

Conventions shared by every map: probabilities on the fixed range [0, 1] with a labelled colour bar;
index scores labelled as unnormalised; the causal future (key after query) drawn in grey and named in
the caption; numeric axes (positions), with 'index:token' tick labels only when they are few enough to
read. Maps larger than the budget are block-pooled first (see pool.py), and the caption says so.

The attention and difference maps use the colour scales of scales.py (power, log-like): the
caption names them; data and hover values stay true.
"""

import numpy as np
import plotly.graph_objects as go

from dsa_core.viz import raster, style
from dsa_core.viz.panels import GRID_SIDE, prepare_map, row_picker, tick_labels
from dsa_core.viz.pool import cell_of, span
from dsa_core.viz.scales import ATTENTION_NOTE, ATTENTION_POWER_SCALE, DIFF_LOG_SCALE, DIFF_NOTE

# Heights in pixels of the text above the maps (fonts: style.FONT for panel titles, style.FONT + 3 for the
# figure title, CAPTION_FONT for the caption), with a little room for descenders.
IMAGE_CELLS = 96 * 96  # cells="auto": larger maps travel as images (a 96 x 96 heatmap is ~50 kB of JSON)
# Image maps: one row-picker marker a row and no hover cut-off (-1), so a click anywhere on a panel finds
# its row's marker (the nearest one; an image's own hover point counts as the farthest). Six markers a row
# found within 60 px did the same with 6x the points, half of Chromium's drawing time for the six maps
# (docs/class_mode.md, "What the profile showed").
PICK_DISTANCE = -1
TITLE_GAP, PANEL_TITLE_PX, CAPTION_FONT, CAPTION_LINE_PX, TITLE_PX = 4, 20, 13, 20, 24

_KIND = {  # colour scale, fixed range, short panel title
    "scores": (style.SCORE_SCALE, None, "index scores (unnormalised)"),
    "mask": (style.MASK_SCALE, (0, 1), "kept by the indexer's top-k"),
    "oracle": (style.MASK_SCALE, (0, 1), "ideal top-k (from dense attention)"),
    "dense": (ATTENTION_POWER_SCALE, (0, 1), "dense attention [0, 1]"),
    "sparse": (ATTENTION_POWER_SCALE, (0, 1), "sparse (DSA) attention [0, 1]"),
    "diff": (DIFF_LOG_SCALE, (-1, 1), "sparse − dense (orange: mass lost)"),
}


def heatmap(
    z,
    kind="dense",
    tokens=None,
    title=None,
    max_side=512,
    how="max",
    zoom=None,
    query=None,
    height=520,
    pick_rows=False,
    cells="heatmap",
):
    """One map [T,T] of `kind` in scores | mask | oracle | dense | sparse | diff.

    `zoom=(lo, size)` shows a full-resolution window; otherwise maps above max_side are pooled.
    `query` draws a horizontal line on that query's row. `pick_rows`: clicking a row selects it.
    `cells`: "heatmap" or "image" (as in aligned_maps).
    """
    return aligned_maps(
        {kind: z},
        tokens=tokens,
        max_side=max_side,
        how=how,
        zoom=zoom,
        query=query,
        cols=1,
        height=height,
        title=title,
        pick_rows=(kind,) if pick_rows else (),
        cells=cells,
    )


def aligned_maps(
    maps,
    tokens=None,
    max_side=GRID_SIDE,
    how="max",
    zoom=None,
    query=None,
    cols=3,
    height=None,
    title=None,
    pick_rows=(),
    cells="heatmap",
):
    """Maps side by side with linked axes (zoom one, all follow).

    maps: dict kind -> [T,T] array or prepare_map(...) result (kinds as in `heatmap`, in the order
    given); if 'dense' and 'sparse' arrays are given and 'diff' is not, 'diff' = sparse − dense is
    added. A colour bar is drawn once per scale. pick_rows: kinds whose rows are clickable (row_picker;
    their hover label then names the query instead of the cell's value).
    cells="image": each map travels as one PNG (raster.py: the same colours, a fraction of the bytes,
    one image for the browser to draw; hover names the query and key, the values stay exact in
    export.figure_csv/figure_json); "heatmap" (the default): Plotly heatmaps, hover shows each value;
    "auto": images for maps above IMAGE_CELLS cells, heatmaps (hover values) for smaller ones.
    """
    if cells not in ("heatmap", "image", "auto"):
        raise ValueError(f"cells must be 'heatmap', 'image' or 'auto', got {cells!r}")
    maps = dict(maps)
    if "dense" in maps and "sparse" in maps and "diff" not in maps and not isinstance(maps["dense"], dict):
        maps["diff"] = style.f32(maps["sparse"]) - style.f32(maps["dense"])
    unknown = set(maps) - set(_KIND)
    if unknown:
        raise ValueError(f"unknown map kinds {sorted(unknown)}; use {sorted(_KIND)}")
    kinds = list(maps)
    cols = min(cols, len(kinds))
    rows = -(-len(kinds) // cols)
    lay, doms = style.grid(
        rows,
        cols,
        hgap=0.09 if cols > 1 else 0.02,
        vgap=0.16,
        titles=[_KIND[k][2] for k in kinds],
        title_gap=TITLE_GAP,
    )
    data, notes, bars, xs, shapes, pickers, numbers = [], set(), set(), None, [], [], {}
    for i, kind in enumerate(kinds):
        n = "" if i == 0 else str(i + 1)
        m = maps[kind] if isinstance(maps[kind], dict) else prepare_map(maps[kind], max_side, how, zoom)
        z, ys, xs, note = m["z"], m["rows"], m["cols"], m["note"]
        notes.add(note)
        scale, rng, _ = _KIND[kind]
        bar = {"dense": "attention", "sparse": "attention", "oracle": "mask"}.get(kind, kind)
        if rng is None:
            lo, hi = (float(np.nanmin(z)), float(np.nanmax(z))) if np.isfinite(z).any() else (0.0, 1.0)
            rng = (lo, hi if hi > lo else lo + 1)
        (x0, x1), (y0, y1) = doms[i]
        label = {"attention": "p (0–1)", "scores": "score", "diff": "Δp"}.get(bar, "")
        colorbar = {
            "x": x1 + 0.005,
            "y": (y0 + y1) / 2,
            "len": y1 - y0,
            "thickness": 10,
            "title": {"text": label, "side": "top", "font": {"size": 12}},
        }
        showscale = bar not in bars and bar != "mask"
        if cells == "auto":  # decided by the first map (they are all the same size)
            cells = "image" if np.size(z) > IMAGE_CELLS else "heatmap"
        if cells == "image" and _uniform(xs) and _uniform(ys):
            numbers[kind] = {"type": "heatmap", "x": xs, "y": ys, "z": z}
            data += _image_panel(z, xs, ys, kind, n, scale, rng, showscale, colorbar)
        else:
            data.append(
                go.Heatmap(
                    z=z,
                    x=xs,
                    y=ys,
                    colorscale=scale,
                    zmin=rng[0],
                    zmax=rng[1],
                    name=kind,
                    xaxis=f"x{n}",
                    yaxis=f"y{n}",
                    showscale=showscale,
                    hoverongaps=False,
                    colorbar=colorbar,
                    hovertemplate=f"{kind}<br>query %{{y}} · key %{{x}}<br>value %{{z:.4f}}<extra></extra>",
                )
            )
        bars.add(bar)
        if kind in pick_rows:  # images: 1 marker a row, found from anywhere on the panel (PICK_DISTANCE)
            pickers.append(row_picker(ys, xs, n, tokens, columns=16 if cells == "heatmap" else 1))
        row = None if query is None else cell_of(query, ys)  # the query's row, or its pooled block
        if query is not None and row is None:
            notes.add(f"query {query} is outside this window")
        elif row is not None:  # the current query's row, in every panel
            shapes.append(
                {
                    "type": "line",
                    "xref": f"x{n} domain",
                    "x0": 0,
                    "x1": 1,
                    "yref": f"y{n}",
                    "y0": row,
                    "y1": row,
                    "line": {"color": style.ROLE["query"], "width": 1.5, "dash": "dot"},
                }
            )
        first_col = i % cols == 0
        y_lo, y_hi = span(ys)
        lay[f"yaxis{n}"].update(
            range=[y_hi, y_lo],  # reversed (query 0 on top), fixed to the cells drawn
            showgrid=False,
            zeroline=False,
            showticklabels=first_col,
            title_text="query position" if first_col else None,
            **({"scaleanchor": False} if cells == "image" else {}),  # an image would force square cells
        )
        lay[f"xaxis{n}"].update(
            showgrid=False, zeroline=False, title_text="key position" if i // cols == rows - 1 else None
        )
        ticks = tick_labels(tokens, xs)
        if ticks:  # slanted token labels: on the bottom row only, so they never reach the next row's titles
            lay[f"xaxis{n}"].update(ticks, tickangle=-60, showticklabels=i // cols == rows - 1)
            lay[f"yaxis{n}"].update(ticks, showticklabels=first_col)
    note = "; ".join(n for n in sorted(notes) if n)
    caption = "grey = causal future (key after query, never attended)" + (f"; {note}" if note else "")
    scales = [ATTENTION_NOTE] * bool({"dense", "sparse"} & set(kinds)) + [DIFF_NOTE] * ("diff" in kinds)
    if scales:
        caption += "<br>" + "; ".join(scales)
    # Stacked in pixels above the top row, so nothing overlaps at any figure size: the panel titles
    # (TITLE_GAP above the maps), the caption above them, the figure title at the top of the figure.
    lines = caption.count("<br>") + 1
    lift = TITLE_GAP + PANEL_TITLE_PX + 8  # the caption's bottom, above the top row's panel titles
    lay["annotations"].append(
        {
            "text": caption,
            "xref": "paper",
            "yref": "paper",
            "x": 0,
            "y": 1,
            "yshift": lift,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
            "align": "left",
            "font": {"size": CAPTION_FONT},
        }
    )
    top = lift + lines * CAPTION_LINE_PX + 12 + (TITLE_PX + 12 if title else 0)
    lay["margin"] = {"l": 60, "r": 40, "t": top, "b": 50}
    meta = {"kinds": kinds, "pooled": bool(note and zoom is None), "note": note}
    fig = style.figure(
        data + pickers,
        None,
        height or (330 * rows + top + 20),
        plot_bgcolor=style.FUTURE,
        shapes=shapes,
        clickmode="event+select" if pickers else "event",
        **({"hoverdistance": PICK_DISTANCE} if cells == "image" and pickers else {}),
        meta=meta,
        **lay,
    )
    if numbers:  # the exact values of the panels drawn as images, for figure_csv / figure_json
        fig._cells = numbers
    if title:  # at the very top (Plotly's default centres it in the top margin, on the caption)
        fig.update_layout(
            title={
                "text": title,
                "font": {"size": style.FONT + 3},
                "y": 1,
                "yref": "container",
                "yanchor": "top",
                "pad": {"t": 10},
            }
        )
    return fig


def _uniform(pos):
    """Positions evenly spaced (a zoom window, or pooled blocks' starts): an image can place them."""
    d = np.diff(np.asarray(pos, dtype=np.float64))
    return d.size == 0 or np.allclose(d, d[0])


def _image_panel(z, xs, ys, kind, n, scale, rng, showscale, colorbar):
    """One map as a PNG image (cells centred on xs, ys like a heatmap's), plus, when its colour bar is
    drawn here, an invisible one-cell heatmap that carries it (an image has no colour bar)."""
    step = lambda p: float(p[1] - p[0]) if len(p) > 1 else 1.0  # noqa: E731
    out = [
        go.Image(
            source=raster.png_uri(z, scale, *rng),
            x0=float(xs[0]),
            dx=step(xs),
            y0=float(ys[0]),
            dy=step(ys),
            name=kind,
            xaxis=f"x{n}",
            yaxis=f"y{n}",
            hovertemplate=f"{kind}<br>query %{{y}} · key %{{x}}<extra></extra>",
            meta={"numbers": kind},  # its exact values: fig._cells[kind] (export.py)
        )
    ]
    if showscale:
        out.append(
            go.Heatmap(
                z=[[rng[0]]],
                x=[float(xs[0])],
                y=[float(ys[0])],
                colorscale=scale,
                zmin=rng[0],
                zmax=rng[1],
                opacity=0,
                hoverinfo="skip",
                showscale=True,
                colorbar=colorbar,
                name=f"{kind} colour bar",
                meta={"ui": "colour bar"},
                xaxis=f"x{n}",
                yaxis=f"y{n}",
            )
        )
    return out
