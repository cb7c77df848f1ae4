"""lessons/budget.py: the byte budget holds under any sequence of puts, closed sessions' entries go,
and heavy work runs one job at a time in arrival order."""

import threading
import time

import numpy as np
import torch

from lessons import budget

MB = 2**20


def test_nbytes_counts_tensors_and_arrays_inside_containers_once():
    t = torch.zeros(1000, dtype=torch.float32)
    a = np.zeros(250, np.float64)
    assert budget.nbytes({"x": t, "y": [a, (t, 3)], "z": "text"}) == 4000 + 2000
    assert budget.nbytes(t[:10]) == 4000  # a view keeps its whole storage alive


def test_the_server_and_session_budgets_hold_under_any_sequence_of_puts():
    b = budget.Budget(server_bytes=10 * MB, session_bytes=6 * MB)
    rng = np.random.default_rng(0)
    for i in range(200):
        session = f"s{rng.integers(3)}"
        b.put(("k", i), None, session, size=int(rng.integers(1, 4)) * MB)
        assert b.total() <= 10 * MB
        mine = sum(e.size for e in b.entries.values() if e.creator == session)
        assert mine <= 6 * MB
    last = ("k", 199)
    assert b.get(last, "s0") is not None  # the newest entry is always kept


def test_entries_of_closed_sessions_are_dropped_unless_an_open_one_uses_them():
    b = budget.Budget()
    b.put("a", 1, "closed", size=MB)
    b.put("b", 2, "closed", size=MB)
    b.get("b", "open")  # another tab uses the same result
    b.put("c", 3, "open", size=MB)
    assert b.drop_sessions({"open"}) == MB
    assert set(b.entries) == {"b", "c"}
    assert b.drop_sessions(set()) == 2 * MB and not b.entries


def test_a_result_that_is_too_big_for_the_budget_alone_is_still_returned():
    b = budget.Budget(server_bytes=MB, session_bytes=MB)
    assert b.put("big", "value", "s", size=5 * MB) == "value"


def test_heavy_work_runs_one_at_a_time_in_arrival_order():
    q = budget.Queue()
    order, running, overlap = [], [0], []

    def job(name, ticket):
        while q.ahead(ticket) > 0:
            q.wait(ticket, 0.05)
        running[0] += 1
        overlap.append(running[0])
        order.append(name)
        time.sleep(0.05)
        running[0] -= 1
        q.leave(ticket)

    tickets = [q.join() for _ in range(4)]
    assert [q.ahead(t) for t in tickets] == [0, 1, 2, 3]  # "waiting for N other students"
    threads = [threading.Thread(target=job, args=(i, t)) for i, t in reversed(list(enumerate(tickets)))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(5)
    assert order == [0, 1, 2, 3] and max(overlap) == 1


def test_a_ticket_that_leaves_while_waiting_lets_the_others_move_up():
    q = budget.Queue()
    first, second, third = q.join(), q.join(), q.join()
    q.leave(second)  # a student closed the tab while waiting
    assert q.ahead(third) == 1
    q.leave(first)
    assert q.ahead(third) == 0


def _run_when_its_turn(q, ticket, name, done, started=None, hold=None):
    """A job: wait for the turn, say it started, wait for `hold` (if any), finish, leave."""
    while q.ahead(ticket) > 0:
        q.wait(ticket, 0.05)
    if started is not None:
        started.set()
    if hold is not None:
        assert hold.wait(10), "the test never released this job"
    done.append(name)
    q.leave(ticket)


def test_short_jobs_run_beside_a_long_one_and_long_ones_wait_in_their_own_lane():
    """One student's 8K run must not stall nine others' small ones: short jobs have their own lane."""
    q = budget.Queue(long_work=1000)
    long1, long2 = q.join(work=5000), q.join(work=1000)
    shorts = [q.join(work=w) for w in (0, 10, 999)]
    assert (q.ahead(long1), q.ahead(long2)) == (0, 1) and [q.ahead(t) for t in shorts] == [0, 1, 2]
    assert "1 long run ahead" in q.note(long2, "Analysing")
    assert "1 short run ahead" in q.note(shorts[1], "Ranking") and "2 long runs beside" in q.note(
        shorts[1], "Ranking"
    )
    done, release, long1_started = [], threading.Event(), threading.Event()
    runs = [
        threading.Thread(target=_run_when_its_turn, args=(q, long1, "long1", done, long1_started, release))
    ]
    runs.append(threading.Thread(target=_run_when_its_turn, args=(q, long2, "long2", done)))
    runs += [
        threading.Thread(target=_run_when_its_turn, args=(q, t, f"short{i}", done))
        for i, t in enumerate(shorts)
    ]
    for th in runs:
        th.start()
    assert long1_started.wait(10)
    for th in runs[2:]:  # every short job finishes while the long one still runs
        th.join(10)
    assert done == ["short0", "short1", "short2"] and runs[1].is_alive()  # long2 waits behind long1
    release.set()
    for th in runs[:2]:
        th.join(10)
    assert done[3:] == ["long1", "long2"]


def test_a_job_that_leaves_its_lane_does_not_move_the_other_lane():
    q = budget.Queue(long_work=100)
    long1, short1, long2, short2 = q.join(500), q.join(1), q.join(500), q.join(1)
    q.leave(long1)  # a long run ends (or its tab closes)
    assert (q.ahead(long2), q.ahead(short2)) == (0, 1)
    q.leave(short1)
    assert q.ahead(short2) == 0 and q.beside(short2) == 1  # long2 still holds the long lane


def test_one_decorator_caches_by_arguments_and_reports_progress_of_heavy_work():
    """lessons/cache.budgeted: computed once per arguments, kept in the shared budget, .cached() says so;
    heavy work gets a progress callback."""
    from lessons import cache

    calls = []

    @cache.budgeted()
    def light(a, b):
        calls.append((a, b))
        return np.zeros(a, np.float32)

    @cache.budgeted(heavy=lambda n: f"Counting to {n}")
    def heavy(n, report=None):
        report(1.0, "done")
        return n

    assert not light.cached(4, "x")
    assert light(4, "x").shape == (4,) and light(4, "x").shape == (4,) and calls == [(4, "x")]
    assert light.cached(4, "x") and not light.cached(5, "x")
    assert heavy(3) == 3 and heavy.cached(3)


def test_pages_reach_the_cache_through_its_decorator_only():
    """No page or cache module reaches into lessons/cache.py's private parts (one caching mechanism)."""
    import pathlib
    import re

    lessons = pathlib.Path(__file__).resolve().parents[2] / "lessons"
    for path in lessons.glob("*.py"):
        if path.name != "cache.py":
            text = path.read_text()
            assert not re.search(r"cache\._\w", text), path.name
            assert "st.cache_data" not in text and "per_model" not in text, path.name


def test_the_janitor_gives_memory_back_when_tabs_close_and_when_their_sessions_are_discarded(monkeypatch):
    """Closed tabs' entries go at once; the memory of their session state comes back when Streamlit
    discards the session later, even when no entry is dropped then (the class probe's 150 s plateau)."""
    trims, calls = [], threading.Event()
    monkeypatch.setattr(budget, "give_back_memory", lambda: trims.append(1))
    b = budget.Budget()
    b.put("a", 1, "s1", size=MB)
    b.put("b", 2, "s2", size=MB)
    script = [
        ({"s1", "s2"}, {"s1", "s2"}),  # both tabs open
        ({"s2"}, {"s1", "s2"}),  # s1 closed: its entry dropped, memory given back
        ({"s2"}, {"s1", "s2"}),  # nothing changed: no trim
        ({"s2"}, {"s2"}),  # Streamlit discards s1's session: nothing to drop, memory given back again
        (set(), {"s2"}),  # the last tab closes: everything dropped
    ]
    seen = []

    def sessions():
        seen.append(len(seen))
        if len(seen) > len(script):
            calls.set()
            return script[-1]
        return script[len(seen) - 1]

    stop = threading.Event()
    thread = budget.janitor(b, period=0.001, sessions=sessions, stop=stop)
    assert calls.wait(10)
    stop.set()
    thread.join(10)
    assert not b.entries and len(trims) == 3


def test_sweep_drops_nothing_outside_a_running_server():
    b = budget.Budget()
    b.put("a", 1, "s", size=MB)
    assert budget.sweep(b, None, None) == 0 and "a" in b.entries


def test_expired_closed_sessions_are_deleted_and_a_discarded_session_still_held_is_emptied():
    """Streamlit keeps a closed tab's session in a TTL cache that deletes an expired entry only on its
    next write: _expire_closed deletes it when its time is up. A discarded session that something else
    still holds (Streamlit's main loop keeps the last one it served) has its fragments and state emptied."""
    import gc
    import types
    import weakref

    from streamlit.runtime.fragment import MemoryFragmentStorage
    from streamlit.runtime.memory_session_storage import MemorySessionStorage
    from streamlit.runtime.state.session_state import SessionState

    class Session:  # the two attributes of Streamlit's AppSession that release() empties
        def __init__(self, sid):
            self.id, self._fragment_storage, self._session_state = (
                sid,
                MemoryFragmentStorage(),
                SessionState(),
            )

    storage = MemorySessionStorage(ttl_seconds=0.05)
    mgr = types.SimpleNamespace(_session_storage=storage)
    closed = Session("s1")
    storage.save(types.SimpleNamespace(session=closed))
    alive = weakref.ref(closed)
    del closed
    time.sleep(0.1)
    assert storage.list() == []  # hidden from listings ...
    gc.collect()
    assert alive() is not None  # ... but still held by the cache
    budget._expire_closed(mgr)
    gc.collect()
    assert alive() is None

    held = Session("s2")  # discarded by Streamlit, still referenced elsewhere
    held._fragment_storage.register(lambda: None, "f1")
    held._session_state["analysis"] = torch.zeros(4)
    budget._SEEN["s2"] = weakref.ref(held)
    budget.release({"s2", "never-seen"})
    assert not held._fragment_storage.contains("f1") and "analysis" not in held._session_state
    assert "s2" not in budget._SEEN
