"""Where a rerun's time goes, per browser session: set DSA_APP_PROFILE=path and the server appends one
JSON line per script run (a whole-page run or a fragment run) to that file:

    {"t": end time (epoch s), "session": first 8 characters of the session id, "kind": "page" | "fragment",
     "end": how the run ended, "script_s": seconds from the run's start to its end (queue waits included),
     "figure_s": seconds spent in st.plotly_chart (the figure's JSON and the message's hash),
     "figures": plotly charts drawn, "bytes": bytes of the messages queued for the browser,
     "figure_bytes": bytes of the plotly messages among them, "refs": messages sent as a short reference
     because this browser already holds an identical one (Streamlit's message cache)}

benchmarks/class_bench.py reads it. Unset (the default), nothing is patched and nothing is written.
"""

import json
import os
import threading
import time

_lock = threading.Lock()
_runs = {}  # session id -> counters of its current run


def _counters(sid):
    return _runs.setdefault(
        sid,
        {"start": time.time(), "kind": "page", "figure_s": 0.0, "figures": 0, "bytes": 0} | _zero(),
    )


def _zero():
    return {"figure_bytes": 0, "refs": 0}


def figure_drawn(seconds):
    """Called by show.show_figure after each st.plotly_chart: its server-side seconds."""
    if not os.environ.get("DSA_APP_PROFILE"):
        return
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return
    with _lock:
        c = _counters(ctx.session_id)
        c["figure_s"] += seconds
        c["figures"] += 1


def _sent(sid, msg):
    size = msg.ByteSize()
    with _lock:
        c = _counters(sid)
        c["bytes"] += size
        if msg.WhichOneof("type") == "ref_hash":
            c["refs"] += 1
        elif (
            msg.WhichOneof("type") == "delta"
            and msg.delta.WhichOneof("type") == "new_element"
            and msg.delta.new_element.WhichOneof("type") == "plotly_chart"
        ):
            c["figure_bytes"] += size


def _event(sid, event, fragment_ids):
    from streamlit.runtime.scriptrunner import ScriptRunnerEvent as E

    now = time.time()
    with _lock:
        if event == E.SCRIPT_STARTED:
            c = _counters(sid)
            c["start"], c["kind"] = now, "fragment" if fragment_ids else "page"
            return
        if event not in (
            E.SCRIPT_STOPPED_WITH_SUCCESS,
            E.FRAGMENT_STOPPED_WITH_SUCCESS,
            E.SCRIPT_STOPPED_FOR_RERUN,
            E.SCRIPT_STOPPED_WITH_COMPILE_ERROR,
        ):
            return
        c = _runs.pop(sid, None)
    if c is None:
        return
    line = {
        "t": round(now, 3),
        "session": sid[:8],
        "kind": c["kind"],
        "end": event.name.lower(),
        "script_s": round(now - c["start"], 4),
        "figure_s": round(c["figure_s"], 4),
        "figures": c["figures"],
        "bytes": c["bytes"],
        "figure_bytes": c["figure_bytes"],
        "refs": c["refs"],
    }
    with _lock, open(os.environ["DSA_APP_PROFILE"], "a") as f:
        f.write(json.dumps(line) + "\n")


def install():
    """Patch Streamlit's AppSession to count each run (once per process; only with DSA_APP_PROFILE)."""
    if not os.environ.get("DSA_APP_PROFILE"):
        return
    from streamlit.runtime.app_session import AppSession

    if getattr(AppSession._enqueue_forward_msg, "profiled", False):
        return
    enqueue, on_event = AppSession._enqueue_forward_msg, AppSession._on_scriptrunner_event

    def _enqueue_forward_msg(self, msg):
        _sent(self.id, msg)
        return enqueue(self, msg)

    def _on_scriptrunner_event(self, sender, event, *args, **kwargs):
        _event(self.id, event, kwargs.get("fragment_ids_this_run"))
        return on_event(self, sender, event, *args, **kwargs)

    _enqueue_forward_msg.profiled = True
    AppSession._enqueue_forward_msg = _enqueue_forward_msg
    AppSession._on_scriptrunner_event = _on_scriptrunner_event
