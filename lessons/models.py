"""Which model the app runs on: the embedded SmolLM2-135M, or a local Hugging Face folder typed in the
sidebar. Loading shows a real progress bar (the first start converts the embedded model once, ~10 s);
a folder that cannot be loaded gives a clear message with the fix, and the app carries on with the
embedded model. `per_model` caches a dsa_core call by the session's model as well as its arguments.

Shared state: one process-wide registry of loaded models (st.cache_resource holds it, a lock guards
it). It is filled once per model and never modified afterwards except to drop an older folder model,
so browser tabs can't interfere; which model a tab uses lives in its own st.session_state.
"""

import functools
import threading

import streamlit as st

from dsa_core.host.text import DSAUserError

EMBEDDED = "the embedded SmolLM2-135M"
KEEP_FOLDER_MODELS = 1  # folder models kept in memory next to the embedded one


@st.cache_resource
def _registry():
    """{"models": {source: (LoadedModel, note)}, "errors": {source: DSAUserError}, "lock"}, one per process.
    (Not a cached loader: st.cache_resource would replay the progress bar on every rerun.)"""
    return {"models": {}, "errors": {}, "lock": threading.Lock()}


def _load(source):
    """(LoadedModel with an indexer per layer, note) for source (None = embedded), loaded once per process
    with a progress bar. Raises DSAUserError (remembered, so a bad folder is not re-read every rerun)."""
    reg = _registry()
    with reg["lock"]:
        if source in reg["errors"]:
            raise reg["errors"][source]
        if source not in reg["models"]:
            from dsa_core.host.indexers import load_with_indexers

            what = EMBEDDED if source is None else f"the model in {source}"
            bar = st.progress(
                0.0,
                text=f"Loading {what} (the first start on a machine converts the "
                "embedded model once, about 10 s)…",
            )
            try:
                reg["models"][source] = load_with_indexers(
                    source,
                    progress=lambda f, msg: bar.progress(
                        min(1.0, max(0.0, f)), text=f"Loading {what}: {msg}"
                    ),
                )
            except DSAUserError as e:
                reg["errors"][source] = e
                raise
            finally:
                bar.empty()
            folders = [s for s in reg["models"] if s is not None and s != source]
            for old in folders[: max(0, len(folders) - KEEP_FOLDER_MODELS + 1)]:
                del reg["models"][old]  # tabs still using it load it again (cached values stay valid)
        return reg["models"][source]


def _forget_error():
    path = (st.session_state.get("model_path") or "").strip()
    with _registry()["lock"]:
        _registry()["errors"].pop(path or None, None)


def choose():
    """Load the model named in the sidebar (or the embedded one); remember which in session_state.
    Returns (LoadedModel, note, error message or None)."""
    path = (st.session_state.get("model_path") or "").strip() or None
    error = None
    if path is not None:
        try:
            loaded, note = _load(path)
        except DSAUserError as e:
            error = f"**{e.problem}** {e.fix} Carrying on with {EMBEDDED}."
            path = None
        except Exception as e:  # noqa: BLE001 - e.g. out of memory: a message, never a traceback
            error = f"**Could not load {path}** ({type(e).__name__}: {e}). Carrying on with {EMBEDDED}."
            path = None
    if path is None:
        loaded, note = _load(None)
    st.session_state["model_source"] = path
    return loaded, note, error


def model_source():
    """The model this session's analysis runs on (None = embedded), as chosen by the sidebar."""
    return st.session_state.get("model_source")


def load():
    """(LoadedModel, note) of this session's model."""
    return _load(model_source())


def sidebar_input(container, error):
    """The sidebar's model chooser: a folder path, and the loading error if any."""
    with container.expander("Model", expanded=error is not None):
        st.text_input(
            "Local Hugging Face folder (empty: the embedded SmolLM2-135M)",
            key="model_path",
            on_change=_forget_error,
            placeholder="/path/to/a/llama-family/model",
            help="A folder with config.json, *.safetensors and tokenizer.json (as `hf download` "
            "leaves it): Llama, SmolLM, Mistral or Qwen2. Press Enter to load it. Trained "
            "indexers exist only for SmolLM2-135M; other models get untrained ones.",
        )
        if error:
            st.error(error)


def per_model(max_entries):
    """Like st.cache_resource(max_entries), but keyed by this session's model too: pages call
    f(text, layer, ...) and the cache sees f(model_source, text, layer, ...)."""

    def wrap(fn):
        def keyed(source, *args):
            return fn(*args)

        keyed.__module__, keyed.__name__, keyed.__qualname__ = fn.__module__, fn.__name__, fn.__qualname__
        cached = st.cache_resource(max_entries=max_entries, show_spinner=False)(keyed)

        @functools.wraps(fn)
        def call(*args):
            return cached(model_source(), *args)

        call.clear = cached.clear
        return call

    return wrap
