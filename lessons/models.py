"""Which model the app runs on: the embedded SmolLM2-135M, or a local model typed in the sidebar.
Loading shows a real progress bar (the first start converts the embedded model once, ~10 s); a model
that cannot be loaded gives a clear message with the fix, and the app carries on with the embedded one.
Cached results are keyed by the session's model (lessons/cache.py's `budgeted`).

Who may load what (docs/class_mode.md), set by the environment variable DSA_MODEL_FOLDERS:
- unset or "any": any local path (one user on their own machine; the server listens on localhost only);
- "off": no model box at all, only the embedded model (class mode's default);
- a folder: only models inside that folder, typed by their name in it (class mode with --models DIR).
Messages never show a server path the user did not type: the home folder reads "~", and in a named
folder paths are relative to it.

Shared state: one process-wide registry of loaded models (st.cache_resource holds it). A short lock
guards the registry; each model has its own load lock, so loading a folder model never stalls the tabs
that use the embedded one. Which model a tab uses lives in its own st.session_state.
"""

import logging
import os
import pathlib
import threading

import streamlit as st

from dsa_core.host.text import DSAUserError

EMBEDDED = "the embedded SmolLM2-135M"
KEEP_FOLDER_MODELS = 1  # folder models kept in memory next to the embedded one
POLICY_ENV = "DSA_MODEL_FOLDERS"
NAME_BYTES = 255  # the longest file name most file systems take (longer ones raise OSError)


def policy():
    """('any', None), ('off', None) or ('folder', resolved Path) from DSA_MODEL_FOLDERS."""
    raw = os.environ.get(POLICY_ENV, "").strip()
    if raw.lower() in ("", "any"):
        return "any", None
    if raw.lower() == "off":
        return "off", None
    return "folder", pathlib.Path(raw).expanduser().resolve()


def _md(s):
    """Plain text inside Markdown: '*', '_', '`' and the like are shown, not interpreted."""
    return "".join("\\" + c if c in "\\`*_{}[]<>#|~$" else c for c in str(s))


def resolve(typed):
    """The path to load for what the user typed, under the policy; DSAUserError when not allowed."""
    mode, root = policy()
    if mode == "off":
        raise DSAUserError(
            "Loading other models is switched off on this server.",
            "Use the embedded model, or ask your teacher (docs/class_mode.md).",
        )
    too_long = DSAUserError(
        f"'{typed[:40]}…' is too long for a model name.",
        f"Model names and paths have at most {NAME_BYTES} bytes per part: type a shorter one.",
    )
    if any(len(part.encode("utf-8", "surrogatepass")) > NAME_BYTES for part in pathlib.PurePath(typed).parts):
        raise too_long
    if "\x00" in typed:
        raise DSAUserError(f"'{typed[:40]}' holds a NUL character.", "Type the model's name again.")
    try:
        if mode == "any":
            return pathlib.Path(typed).expanduser()
        path = (root / typed).resolve()  # an absolute `typed` replaces root: checked just below
        if not path.is_relative_to(root) or path == root or not path.exists():
            raise DSAUserError(
                f"'{typed}' is not a model in this server's model folder.",
                "Type the name of one of the models your teacher put there, e.g. `my-llama`.",
            )
        if not (path.is_dir() or (path.is_file() and path.suffix == ".gguf")):
            raise DSAUserError(
                f"'{typed}' is neither a model folder nor a .gguf file.", "Type a model's name."
            )
    except (OSError, ValueError) as e:  # a name the file system refuses (too long, a NUL byte, a link loop)
        raise DSAUserError(
            f"'{typed[:40]}' is not a name this server can look up ({type(e).__name__}).",
            "Type the name of one of the models your teacher put there, e.g. `my-llama`.",
        ) from e
    if path.is_dir():  # every file the folder names must be inside the model folder too
        from dsa_core.host.hf import check_inside

        check_inside(path, root)
    return path


def hide_paths(message, typed, path):
    """message with the resolved path spelt as the user typed it, and the home folder as '~'."""
    _, root = policy()
    for long, short in ((path and str(path), typed), (root and str(root), "<model folder>")):
        if long:
            message = message.replace(long, short)
    return message.replace(str(pathlib.Path.home()), "~")


@st.cache_resource
def _registry():
    """{"models": {source: (LoadedModel, note)}, "errors": {source: DSAUserError}, "locks": {source: Lock},
    "lock"}, one per process. (Not a cached loader: st.cache_resource would replay the progress bar.)"""
    return {"models": {}, "errors": {}, "locks": {}, "lock": threading.Lock()}


def _load(source):
    """(LoadedModel with an indexer per layer, note) for source (None = embedded, else a path allowed by
    the policy), loaded once per process with a progress bar. Raises DSAUserError (remembered, so a bad
    folder is not re-read every rerun). Only tabs waiting for the same source wait for its load."""
    reg = _registry()
    with reg["lock"]:
        if source in reg["models"]:
            return reg["models"][source]
        own = reg["locks"].setdefault(source, threading.Lock())
    with own:
        with reg["lock"]:
            if source in reg["errors"]:
                raise reg["errors"][source]
            if source in reg["models"]:
                return reg["models"][source]
        from dsa_core.host.indexers import load_with_indexers

        what = EMBEDDED if source is None else "the model you named"
        bar = st.progress(
            0.0,
            text=f"Loading {what} (the first start on a machine converts the embedded model once, ~10 s)…",
        )
        try:
            loaded = load_with_indexers(
                source,
                progress=lambda f, msg: bar.progress(min(1.0, max(0.0, f)), text=f"Loading {what}: {msg}"),
            )
        except DSAUserError as e:
            with reg["lock"]:
                reg["errors"][source] = e
                if len(reg["errors"]) > 64:  # a class typing many bad paths: keep the newest
                    reg["errors"].pop(next(iter(reg["errors"])))
            raise
        finally:
            bar.empty()
        with reg["lock"]:
            reg["models"][source] = loaded
            folders = [s for s in reg["models"] if s is not None and s != source]
            for old in folders[: max(0, len(folders) - KEEP_FOLDER_MODELS + 1)]:
                del reg["models"][old]  # tabs still using it load it again (cached values stay valid)
        return loaded


def _forget_error():
    typed = (st.session_state.get("model_path") or "").strip()
    try:
        source = str(resolve(typed)) if typed else None
    except DSAUserError:
        return
    with _registry()["lock"]:
        _registry()["errors"].pop(source, None)


def choose():
    """Load the model named in the sidebar (or the embedded one); remember which in session_state.
    Returns (LoadedModel, note, error message or None)."""
    typed = (st.session_state.get("model_path") or "").strip()
    source, error = None, None
    if typed:
        try:
            source = str(resolve(typed))
            loaded, note = _load(source)
        except DSAUserError as e:
            problem, fix = (_md(hide_paths(x, typed, source)) for x in (e.problem, e.fix))
            error, source = f"**{problem}** {fix} Carrying on with {EMBEDDED}.", None
        except Exception as e:  # noqa: BLE001 - e.g. out of memory: a message, never a traceback
            logging.getLogger("dsa_app").exception("loading a model failed")
            error = f"**Could not load '{_md(typed)}'** ({type(e).__name__}). Carrying on with {EMBEDDED}."
            source = None
    if source is None:
        loaded, note = _load(None)
    st.session_state["model_source"] = source
    return loaded, note, error


def model_source():
    """The model this session's analysis runs on (None = embedded), as chosen by the sidebar."""
    return st.session_state.get("model_source")


def load():
    """(LoadedModel, note) of this session's model."""
    return _load(model_source())


def sidebar_input(container, error):
    """The sidebar's model chooser (a path, or a name in the teacher's folder), and the loading error."""
    mode, _ = policy()
    if mode == "off":
        return
    with container.expander("Model", expanded=error is not None):
        label, hint = (
            ("Local model folder or .gguf file (empty: the embedded SmolLM2-135M)", "/path/to/a/model")
            if mode == "any"
            else ("A model from this server's model folder (empty: the embedded SmolLM2-135M)", "my-llama")
        )
        st.text_input(
            label,
            key="model_path",
            on_change=_forget_error,
            placeholder=hint,
            help="A folder with config.json, *.safetensors and tokenizer.json (as `hf download` "
            "leaves it), or a .gguf file: Llama, SmolLM, Mistral or Qwen2. Press Enter to load it. "
            "Trained indexers exist only for SmolLM2-135M; other models get untrained ones.",
        )
        if error:
            st.error(error)
