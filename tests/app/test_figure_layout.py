"""Figure layouts that once misled a class: the query strip's two y-ranges, the difference panel's colour
name, line charts whose series differed by dash pattern alone, and log axes with tiny labels between the
decades. Pure layout checks (no browser); tests/e2e/test_map_screenshots.py checks the drawn pixels."""

import colorsys

import numpy as np

from dsa_core import viz
from dsa_core.viz import scales, style

DARK_BG, LIGHT_BG = "#0e1117", "#ffffff"  # Streamlit's dark theme, and white


def _strip():
    scores = np.concatenate([[-3.0], np.arange(1, 41, dtype=np.float32)])  # one negative score, up to 40
    dense = np.linspace(0, 0.2, 41).astype(np.float32)
    return viz.query_strip(scores, dense, [40, 39, 38, 5], 40, dense_top=[40, 39, 1])


def test_the_strips_score_panel_has_its_own_y_range():
    """The score panel must not share the probability panel's range (that clipped every score bar)."""
    lay = _strip().layout
    assert lay.yaxis.matches is None and lay.yaxis2.matches is None  # two quantities, two ranges
    assert lay.xaxis2.matches == "x"  # the keys still line up (linked zoom along the keys)
    lo, hi = lay.yaxis2.range
    assert lo == 0 and 0.2 <= hi <= 0.25  # probabilities: 0 to a little above the largest
    assert lay.yaxis.range is None and lay.yaxis.autorange in (None, True)  # scores: their own range


def test_every_other_grid_still_links_both_axes():
    z = np.tril(np.ones((8, 8), np.float32)) / 8
    lay = viz.aligned_maps({"dense": z, "sparse": z}).layout
    assert lay.xaxis2.matches == "x" and lay.yaxis2.matches == "y"  # same quantity: zoom one, all follow


def _hue(colour):
    r, g, b = (int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    h, _, s = colorsys.rgb_to_hls(r, g, b)
    return h * 360, s


def test_the_difference_panel_names_the_colour_it_draws():
    """'orange: mass lost' is true of every coloured stop on the lost side of the difference scale."""
    fig = viz.aligned_maps({"dense": np.eye(4, dtype=np.float32), "sparse": np.eye(4, dtype=np.float32)})
    titles = [a.text for a in fig.layout.annotations]
    assert "sparse − dense (orange: mass lost)" in titles
    assert "orange = lost" in style.LABEL["diff"] and "red" not in style.LABEL["diff"]
    lost = [c for x, c in scales.DIFF_LOG_SCALE if x < 0.5]
    for colour in lost:
        hue, sat = _hue(colour)
        assert sat < 0.1 or 18 <= hue <= 40, (colour, hue)  # orange hues (red is below 15°)
    assert sum(_hue(c)[1] >= 0.1 for c in lost) >= 5


def _luminance(colour):
    rgb = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a, b):
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _hook():
    """The Cost page's first chart (the class's hook): dense, DSA and DSA's two parts."""
    L = [1024, 4096, 16384, 65536]
    series = {
        "dense": [1e9, 1.6e10, 2.6e11, 4e12],
        "DSA total": [2e9, 1e10, 6e10, 5e11],
        "DSA: indexer": [1e8, 1.6e9, 2.6e10, 4e11],
        "DSA: sparse attention": [1e9, 8e9, 3e10, 1e11],
    }
    return viz.cost_curves(L, series, y_title="FLOPs", crossover=5000, title="hook")


def test_no_two_lines_differ_by_dash_alone_and_broken_lines_read_on_both_themes():
    steps = np.arange(5)
    figures = [
        _hook(),
        viz.training_curves(
            steps,
            np.linspace(2, 0.2, 5),
            {
                "recall (indexer top-k)": steps / 5,
                "recall (ideal top-k)": steps / 5,
                "overlap with ideal": steps / 5,
            },
        ),
    ]
    for fig in figures:
        lines = [t for t in fig.data if t.mode and "lines" in t.mode]
        colours = [t.line.color for t in lines]
        assert len(set(colours)) == len(colours), colours
        for t in lines:
            if t.line.dash not in (None, "solid"):  # dashed and dotted lines: >= 3:1 on both themes
                for bg in (DARK_BG, LIGHT_BG):
                    assert _contrast(t.line.color, bg) >= 3, (t.name, t.line.color, bg)


def test_log_axes_label_every_tick_in_full():
    """A tick format makes Plotly write 0.2 and 2 (or 2k and 20k) at full size between the decades,
    instead of a small '2' that reads the same in every decade."""
    hook = _hook().layout
    assert hook.xaxis.type == "log" and hook.xaxis.tickformat == "~s"  # 1k, 2k, 5k, 10k, ...
    assert hook.yaxis.type == "log" and hook.yaxis.tickformat == "~s"
    train = viz.training_curves(np.arange(5), np.linspace(2, 0.2, 5), {"recall": np.zeros(5)}).layout
    assert train.yaxis.type == "log" and train.yaxis.tickformat == "~g"  # 0.2, 0.5, 1, 2


def test_the_crossover_label_sits_on_its_line_on_a_log_axis():
    """Plotly places an annotation on a log axis by log10(x) (a shape by x): the label of the crossover
    line was drawn at 10^5000, off the chart."""
    hook = _hook().layout
    (line,), (label,) = hook.shapes, hook.annotations
    assert line.x0 == 5000 and np.isclose(10**label.x, 5000) and label.text == "crossover ≈ 5,000"
    lin = viz.line_chart([1, 2, 3], {"a": [1, 2, 3]}, "x", "y", vline=(2, "here")).layout
    assert lin.annotations[0].x == 2 and lin.shapes[0].x0 == 2
