"""Colour scales that show the structure of attention maps on a projector.

Attention weights of a real model are mostly tiny (a row of 500 keys averages 0.002): on a linear
colour scale the map is black. These scales keep the data and the hover values true and move the
colour stops instead: attention on a power scale, colour ∝ p^¼; the difference sparse − dense with one
colour step per decade of |Δp|, orange where the sparse layer lost mass and blue where renormalisation
moved it. heatmaps.py names the scale in each map's caption.
"""

import numpy as np

from dsa_core.viz import style

POWER = 0.25  # colour ∝ value**POWER on the attention and difference maps


def _power_attention_scale():
    """Cividis with its stops at u**(1/POWER): the colour of p is that of p**POWER on a linear bar."""
    return [
        [float(u ** (1 / POWER)), c] for u, c in zip(np.linspace(0, 1, len(style.CIVIDIS)), style.CIVIDIS)
    ]


DIFF_STEPS = [0, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 1]  # |Δp| at each colour stop: a log-like scale


def _log_diff_scale():
    """Orange to dark brown (mass lost, Δ < 0) – white – blue (gained) over [−1, 1], one colour step per
    decade of |Δp| (DIFF_STEPS), so a loss of 0.001 is already a clear orange."""
    lost = ["#f2f2f2", "#f7c8a6", "#ee9a5e", "#e2792f", style.VERMILLION, "#a34700", "#6b2e00"]
    gained = ["#f2f2f2", "#bfdcf0", "#86bde3", "#4a98cf", style.BLUE, "#005a8c", "#003a5c"]
    neg = [[(1 - d) / 2, c] for d, c in zip(DIFF_STEPS[::-1], lost[::-1])]
    return [[float(x), c] for x, c in neg] + [
        [float((1 + d) / 2), c] for d, c in zip(DIFF_STEPS[1:], gained[1:])
    ]


ATTENTION_POWER_SCALE = _power_attention_scale()
DIFF_LOG_SCALE = _log_diff_scale()
ATTENTION_NOTE = "attention colours on a power scale (p^¼)"  # the captions that name the scales
DIFF_NOTE = "difference colours step at |Δp| = 10⁻⁴, 10⁻³, 10⁻², 0.05, 0.2"
