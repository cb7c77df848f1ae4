"""The notebooks' sliders (course.explorer) over the real model: four controls with the right ranges,
a static view first (what exported HTML keeps), and every control change redraws without a model run
except a new layer."""

import pytest

from course import explorer as ex


@pytest.fixture(scope="module")
def loaded():
    from dsa_core.host.indexers import load_with_indexers

    return load_with_indexers()[0]


def test_sliders_cover_k_query_layer_and_head(loaded, monkeypatch):
    shown, traced = [], []
    monkeypatch.setattr("IPython.display.display", lambda obj, *a, **kw: shown.append(obj))
    real = ex.trace.trace_layers
    monkeypatch.setattr(
        ex.trace, "trace_layers", lambda *a, **kw: traced.append(kw["layers"]) or real(*a, **kw)
    )
    text = "The cat sat on the mat. The dog sat on the log. " * 8
    controls = ex.explorer(loaded, text, max_tokens=64, layer=3, k=8)
    assert set(controls) == {"k", "query", "layer", "head"}
    T = controls["query"].max + 1
    assert controls["query"].value == T - 1 and controls["layer"].max == len(loaded.model.layers) - 1
    assert (
        controls["head"].options[0] == "mean" and len(controls["head"].options) == 1 + 9
    )  # SmolLM2: 9 heads
    for name in ("k", "query", "layer"):  # wide enough to drag, one per line (not squeezed in a row)
        layout = controls[name].layout
        assert layout.width == "90%" and int(layout.min_width.removesuffix("px")) >= 400, (name, layout)
    box = next(o for o in shown if type(o).__name__ == "VBox")
    assert not any(type(c).__name__ == "HBox" for c in box.children)
    figures = [o for o in shown if type(o).__name__ == "Figure"]
    assert len(figures) == 3  # the static view; the live view waits for the first slider move
    before = len(shown)
    controls["k"].value, controls["head"].value, controls["query"].value = 4, 2, 10
    assert traced == [[3]]  # k, head and query need no model run
    controls["layer"].value = 5
    assert traced == [[3], [5]]
    assert len(shown) >= before + 4 * 3  # every change redrew the three figures
