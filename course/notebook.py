"""The first cell of every notebook: a seed, and Plotly figures that render offline everywhere.

Why: attention visualisers that load plotly.js or widgets from a CDN show blank cells offline, in
JupyterLab, in VS Code and in exported HTML (docs/notebooks.md). Here every figure carries two
representations:

- `application/vnd.plotly.v1+json`: JupyterLab (the `jupyterlab-plotly` extension that ships inside
  the plotly wheel) and VS Code draw it natively with their own bundled plotly.js, no network;
- `text/html`: a fallback for nbconvert's HTML export and classic viewers. plotly.js (about 4.8 MB) is
  embedded inline once per notebook, before the first figure (plotly's "notebook" renderer with
  `connected=False`), and each figure's HTML calls `Plotly.newPlot` without any `<script src=...>`.
  Plotly's own notebook renderer also adds a MathJax `<script src="https://cdnjs...">` to every
  figure; the renderer below drops it (our figures use no LaTeX).

`export_html` writes an executed notebook as one self-contained HTML file with no http(s) scripts
(nbconvert's template otherwise loads require.js, MathJax and mermaid from cdnjs/jsdelivr, and the
widget renderer from unpkg for a notebook with widgets). Instead of
MathJax, the markdown math ($...$ and $$...$$) is converted to MathML in Python (latex2mathml, pinned),
which browsers draw natively, offline (Chromium since version 109, Firefox, Safari).
"""

import copy
import random
import re

import torch

RENDERER = "dsa_offline"


def _register_renderer():
    import plotly.io as pio
    from plotly.io.base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):
        """plotly's notebook renderer (plotly.js inline, once) minus the per-figure MathJax CDN tag."""

        def to_mimebundle(self, fig_dict):
            html = pio.to_html(
                fig_dict,
                config=self.config,
                include_plotlyjs=False,
                include_mathjax=False,
                full_html=False,
                default_width="100%",
                default_height=525,
                validate=False,
            )
            return {"text/html": html}

    if RENDERER not in pio.renderers:
        pio.renderers[RENDERER] = OfflineNotebookRenderer(connected=False)
    return pio


def setup_notebook(seed=0, threads=None):
    """Seed torch and random, and make Plotly figures render offline (mimetype + inline-HTML fallback).

    Returns the renderer string now in `plotly.io.renderers.default`."""
    torch.manual_seed(seed)
    random.seed(seed)
    if threads:
        torch.set_num_threads(threads)
    pio = _register_renderer()
    pio.renderers.default = f"plotly_mimetype+{RENDERER}"
    return pio.renderers.default


_OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock -%}
{%- block html_head_js_mathjax -%}{%- endblock -%}
{%- block html_head_js_mermaidjs -%}{%- endblock -%}
{%- block jupyter_widgets -%}{%- endblock -%}
"""
# The last block is the widget renderer: for a notebook that carries widget state (the explorer's
# sliders) the lab template adds a script that loads @jupyter-widgets/html-manager from unpkg. Without
# it the sliders are simply not drawn (they need a running kernel anyway); the explorer's static view,
# drawn before them, is what the exported file shows.


_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\w$])")
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)


def math_to_mathml(markdown):
    """Markdown text with $$display$$ and $inline$ TeX -> the same text with MathML in their place.

    Code spans and fenced code are left alone; a formula latex2mathml cannot read stays as TeX."""
    from latex2mathml.converter import convert

    def display(m):
        try:
            return "\n\n" + convert(m.group(1).strip(), display="block") + "\n\n"
        except Exception:  # noqa: BLE001 (an unreadable formula stays as its TeX source)
            return m.group(0)

    def inline(m):
        try:
            return convert(m.group(1))
        except Exception:  # noqa: BLE001
            return m.group(0)

    parts = _CODE.split(markdown)
    for i in range(0, len(parts), 2):  # even parts: outside code
        parts[i] = _INLINE.sub(inline, _DISPLAY.sub(display, parts[i]))
    return "".join(parts)


def export_html(notebook, html_path):
    """Write an (executed) notebook, a path or a NotebookNode, to one offline HTML file.

    Uses nbconvert's JupyterLab template without its CDN scripts (require.js, MathJax, mermaid);
    markdown math is converted to MathML first (math_to_mathml)."""
    import pathlib

    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    if not isinstance(notebook, nbformat.NotebookNode):
        notebook = nbformat.read(str(notebook), as_version=4)
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source)
    exporter = HTMLExporter(
        template_name="lab",
        template_file="dsa_offline.html.j2",
        extra_loaders=[jinja2.DictLoader({"dsa_offline.html.j2": _OFFLINE_TEMPLATE})],
    )
    body, _ = exporter.from_notebook_node(notebook)
    pathlib.Path(html_path).write_text(body, encoding="utf-8")
    return html_path
