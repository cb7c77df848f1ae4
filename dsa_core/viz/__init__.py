"""Every Plotly figure of the project, shared by the Streamlit app and the notebooks.

Pure functions: they take arrays (numpy or CPU torch tensors, any float dtype; converted to float32
numpy, never Python lists) and return a `plotly.graph_objects.Figure` (or an HTML string for the text
view). Nothing here imports streamlit or computes attention: the numbers come from `dsa_core`.

In a notebook: `fig = viz.query_strip(...); fig` (or `fig.show(config=viz.export_config("name"))`).
In the app: `st.plotly_chart(fig, config=viz.export_config("name"))`.
"""

from dsa_core.viz.bars import bars, per_layer
from dsa_core.viz.curves import cost_curves, line_chart, recall_vs_k, timing_chart, training_curves
from dsa_core.viz.export import figure_csv, figure_data, figure_json
from dsa_core.viz.heatmaps import aligned_maps, heatmap
from dsa_core.viz.panels import GRID_SIDE, prepare_map
from dsa_core.viz.picks import baseline_bars, head_votes, key_popularity, pick_distances
from dsa_core.viz.pipeline import pipeline_diagram
from dsa_core.viz.pool import MAX_SIDE, block_edges, future_to_nan, pool_matrix, window
from dsa_core.viz.strips import query_strip, token_grid
from dsa_core.viz.style import (
    ATTENTION_SCALE,
    LABEL,
    PALETTE,
    ROLE,
    display_token,
    export_config,
    f32,
    token_labels,
)
from dsa_core.viz.tokens import LEGEND, token_html

__all__ = [
    "aligned_maps",
    "heatmap",
    "pipeline_diagram",
    "prepare_map",
    "query_strip",
    "token_grid",
    "token_html",
    "LEGEND",
    "pick_distances",
    "key_popularity",
    "baseline_bars",
    "head_votes",
    "bars",
    "timing_chart",
    "cost_curves",
    "recall_vs_k",
    "training_curves",
    "per_layer",
    "line_chart",
    "pool_matrix",
    "block_edges",
    "window",
    "future_to_nan",
    "MAX_SIDE",
    "GRID_SIDE",
    "export_config",
    "figure_data",
    "figure_csv",
    "figure_json",
    "token_labels",
    "display_token",
    "f32",
    "PALETTE",
    "ROLE",
    "ATTENTION_SCALE",
    "LABEL",
]
