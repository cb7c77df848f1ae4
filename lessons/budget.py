"""One app server for a class: cached results budgeted in bytes, and heavy work queued fairly.

`Budget` holds every large cached result of every session: at most SERVER_BYTES in all, and at most
SESSION_BYTES created by one session (its own least recently used entries go first). A janitor thread
drops what only closed browser tabs were using and gives the memory back to the system (gc, then
glibc's malloc_trim), then again once Streamlit discards a closed tab's session (its own state), so
the server returns to its baseline after a class leaves.

`Queue` runs heavy jobs (a model run, a full ranking) in two lanes, short and long, one job at a time in
each, first come first served within a lane: a long 8K run never holds up the short ones. The others
wait with a visible note of what is ahead ("2 short runs ahead; 1 long run beside"). Waiting and
progress updates are Streamlit calls, so a changed setting, a page switch or a closed tab interrupts
the job there.
No tensor math here: sizes are read from .nbytes.
"""

import collections
import ctypes
import dataclasses
import gc
import logging
import os
import threading
import weakref

GB = 2**30
SERVER_BYTES = int(float(os.environ.get("DSA_APP_CACHE_GB", "2.0")) * GB)  # all sessions together
SESSION_BYTES = int(float(os.environ.get("DSA_APP_SESSION_GB", "1.2")) * GB)  # created by one session
JANITOR_S = 5.0  # how often closed sessions' entries are dropped
log = logging.getLogger("dsa_app")


def nbytes(value, seen=None):
    """Bytes held by a cached value: tensors and arrays inside dataclasses, dicts, lists and tuples.
    A buffer reached twice counts once; arrays that view another buffer count at their own size."""
    seen = set() if seen is None else seen
    if hasattr(value, "untyped_storage"):  # a tensor: its storage, once
        ptr = value.untyped_storage().data_ptr()
        if ptr in seen:
            return 0
        seen.add(ptr)
        return value.untyped_storage().nbytes()
    if hasattr(value, "__array_interface__") and hasattr(value, "nbytes"):  # numpy array
        ptr = value.__array_interface__["data"][0]
        if ptr in seen:
            return 0
        seen.add(ptr)
        return int(value.nbytes)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v, seen) for v in value)
    return 0


@dataclasses.dataclass
class _Entry:
    value: object
    size: int
    creator: str
    users: set


class Budget:
    """A least-recently-used cache bounded in bytes, server-wide and per creating session."""

    def __init__(self, server_bytes=SERVER_BYTES, session_bytes=SESSION_BYTES):
        self.server_bytes, self.session_bytes = server_bytes, session_bytes
        self.lock = threading.Lock()
        self.entries = collections.OrderedDict()  # key -> _Entry, least recently used first

    def get(self, key, session):
        with self.lock:
            e = self.entries.get(key)
            if e is None:
                return None
            self.entries.move_to_end(key)
            e.users.add(session)
            return e

    def put(self, key, value, session, size=None):
        size = nbytes(value) if size is None else int(size)
        with self.lock:
            self.entries[key] = _Entry(value, size, session, {session})
            self.entries.move_to_end(key)
            self._evict(key, session)
        return value

    def _evict(self, keep, session):
        mine = sum(e.size for e in self.entries.values() if e.creator == session)
        for key in list(self.entries):  # oldest first
            if key == keep:
                continue
            e = self.entries[key]
            if mine > self.session_bytes and e.creator == session:
                del self.entries[key]
                mine -= e.size
            elif self.total() > self.server_bytes:
                del self.entries[key]
                mine -= e.size if e.creator == session else 0

    def total(self):
        return sum(e.size for e in self.entries.values())

    def drop_sessions(self, active):
        """Forget sessions that are gone; drop entries no active session uses. -> bytes dropped."""
        dropped = 0
        with self.lock:
            for key in list(self.entries):
                e = self.entries[key]
                e.users &= active
                if not e.users:
                    dropped += e.size
                    del self.entries[key]
        return dropped

    def forget(self, session, match):
        """This session stops using the entries whose key `match`es; those no one else uses are dropped
        (a student's "Forget this text"). -> bytes dropped."""
        dropped = 0
        with self.lock:
            for key in [key for key in self.entries if match(key)]:
                e = self.entries[key]
                e.users.discard(session)
                if not e.users:
                    dropped += e.size
                    del self.entries[key]
        return dropped

    def clear(self):
        with self.lock:
            self.entries.clear()


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, Windows): the allocator's defaults stay
        return None


def fix_mmap_threshold(size=1 << 20):
    """Serve every allocation above `size` from its own mmap, returned to the system when freed. glibc
    otherwise raises this threshold after the first large free (up to 32 MB), and the medium blocks
    of later runs (one layer's activations, a block of rows) stay in its heaps after use."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(-3, int(size))  # M_MMAP_THRESHOLD


def give_back_memory():
    """Return freed memory to the system: Python's cycles, then glibc's free lists (Linux only)."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


LONG_WORK = 4096 * 4096 * 30  # tokens² × layers: one whole-model pass at 4,096 tokens and more is "long"


class Queue:
    """Two lanes, one job running in each: short jobs and long ones (work >= long_work, estimated as
    tokens² × layers). Within a lane, first come first served. A long run (an 8K text) so never holds
    up the short ones (a k change at 2K): they run beside it, one at a time, in their own lane."""

    LANES = ("short", "long")

    def __init__(self, long_work=LONG_WORK):
        self.long_work = long_work
        self.cond = threading.Condition()
        self.lanes = {lane: [] for lane in self.LANES}  # tickets in arrival order; the first one runs
        self.count = 0

    def join(self, work=0):
        """A ticket (lane, number) for a job of this much work."""
        with self.cond:
            self.count += 1
            ticket = ("long" if work >= self.long_work else "short", self.count)
            self.lanes[ticket[0]].append(ticket)
            return ticket

    def ahead(self, ticket):
        """How many jobs of this ticket's lane run or wait before it (0: its turn)."""
        with self.cond:
            return self.lanes[ticket[0]].index(ticket)

    def beside(self, ticket):
        """How many jobs the other lane holds (running or waiting): they do not hold this one up."""
        with self.cond:
            return sum(len(q) for lane, q in self.lanes.items() if lane != ticket[0])

    def note(self, ticket, label):
        """The waiting note: what is ahead in this ticket's lane, and what runs beside it."""
        n, lane = self.ahead(ticket), ticket[0]
        ahead = f"{n} {'long' if lane == 'long' else 'short'} run{'s' if n > 1 else ''} ahead"
        if lane == "long":
            return f"Waiting for {ahead} before {label.lower()} (short requests go beside long runs)…"
        m = self.beside(ticket)
        side = f"; {m} long run{'s' if m > 1 else ''} beside, not in your way" if m else ""
        return f"Waiting for {ahead} before {label.lower()}{side}…"

    def wait(self, ticket, timeout):
        with self.cond:
            if self.lanes[ticket[0]].index(ticket) > 0:
                self.cond.wait(timeout)

    def leave(self, ticket):
        with self.cond:
            if ticket in self.lanes[ticket[0]]:
                self.lanes[ticket[0]].remove(ticket)
            self.cond.notify_all()


def server_sessions():
    """(ids of the sessions with an open browser tab, ids of every session the server still holds: closed
    tabs too, until Streamlit discards them), or None outside a running server (AppTest)."""
    try:
        from streamlit import runtime

        if not runtime.exists():
            return None
        mgr = runtime.get_instance()._session_mgr
        _expire_closed(mgr)
        held = mgr.list_sessions()
        for info in held:
            _SEEN.setdefault(info.session.id, weakref.ref(info.session))
        active = {info.session.id for info in mgr.list_active_sessions()}
        return active, active | {info.session.id for info in held}
    except Exception:  # noqa: BLE001 - a private API: without it closed tabs are only dropped by LRU
        log.debug("cannot list the sessions", exc_info=True)
        return None


def _expire_closed(mgr):
    """Make Streamlit discard the closed tabs whose time is up. It keeps a closed tab's session for
    server.disconnectedSessionTTL (120 s) in a cachetools TTLCache, which hides an expired entry from
    listings but deletes it only on its next write: until another tab opened or closed, the expired
    session (its st.session_state, and its fragments' page globals holding the last analysis: 0.6 GB
    after three 2,048-token texts) stayed alive."""
    storage = getattr(getattr(mgr, "_session_storage", None), "_cache", None)
    if hasattr(storage, "expire"):
        storage.expire()


_SEEN = {}  # session id -> weak reference to its AppSession, for release()


def release(session_ids):
    """Empty the state of sessions Streamlit has discarded, in case something still holds them: its
    runtime's main loop keeps the last session it served in a local variable until it serves another,
    and that session's fragments hold the page's globals (the last analysis of the page: 0.2 GB for one
    2,048-token text, measured with the tensors gc could reach after every tab had closed)."""
    for sid in session_ids:
        session = _SEEN.pop(sid, lambda: None)()
        if session is None:
            continue
        try:
            session._fragment_storage.clear()
            session._session_state.clear()
        except Exception:  # noqa: BLE001 - private attributes: without them the next session frees it
            log.debug("cannot empty a discarded session", exc_info=True)


def active_sessions():
    """Ids of the sessions with an open browser tab, or None outside a running server (AppTest)."""
    now = server_sessions()
    return None if now is None else now[0]


def sweep(budget, now, before):
    """One janitor pass. now, before: server_sessions() of this pass and the last one (None: unknown).
    Drops the entries only closed tabs used; gives memory back to the system when it dropped any, or
    when a session closed or was discarded (its st.session_state, a trained indexer or a timing run,
    is freed then, often long after its entries). -> bytes dropped."""
    if now is None:
        return 0
    dropped = budget.drop_sessions(now[0])
    if before is not None:
        release(before[1] - now[1])
    gone = before is not None and bool((before[0] - now[0]) | (before[1] - now[1]))
    if dropped or gone:
        give_back_memory()
    if dropped:
        log.warning("closed tabs: dropped %.0f MB of cached results", dropped / 2**20)
    return dropped


def janitor(budget, period=JANITOR_S, sessions=server_sessions, stop=None):
    """Start a daemon thread that sweeps every `period` seconds (until `stop`, an Event, is set)."""
    stop = stop or threading.Event()

    def loop():
        before = None
        while not stop.wait(period):
            now = sessions()
            sweep(budget, now, before)
            before = now if now is not None else before

    thread = threading.Thread(target=loop, name="dsa-budget-janitor", daemon=True)
    thread.start()
    return thread
