"""Progress of a model run, layer by layer, for the page that started it (and a way to stop it).

`layer_progress(model, callback)` calls callback(layer) after each layer of the model runs made on this
thread inside the block. The app's callback updates a progress bar, and Streamlit raises there when the
student changes a setting or closes the tab: the run stops within one layer.
"""

import threading
from contextlib import contextmanager

_local = threading.local()  # the progress callback of the model run on this thread (None: no report)


def _report_layer(block, args, output):
    callback = getattr(_local, "callback", None)
    if callback is not None:
        callback(block.self_attn.layer_id)


@contextmanager
def layer_progress(model, callback):
    """Call callback(layer) after each layer of model runs made on this thread inside the block.

    A forward hook on every layer, registered once per model, reads a thread-local callback: runs on
    other threads (other browser sessions) are not reported. The callback may raise to stop the run."""
    if not getattr(model, "_progress_hooks", False):
        for block in model.layers:
            block.register_forward_hook(_report_layer)
        model._progress_hooks = True
    before, _local.callback = getattr(_local, "callback", None), callback
    try:
        yield
    finally:
        _local.callback = before
