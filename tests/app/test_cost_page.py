"""The Cost page: predicted curves follow the controls, the calculator answers, the benchmark button
measures with a progress bar."""

import numpy as np
from apphelp import decode, figure_with, figures, make_app, no_errors

PAGE = "lessons/cost.py"


def flops(at):
    f = figure_with(at, title_part="k = ")
    return {t["name"]: decode(t["y"]) for t in f["data"]}


def test_predicted_curves_follow_k_and_phase():
    at = make_app(page=PAGE)
    no_errors(at)
    before = flops(at)
    at.select_slider(key="cost_k").set_value(256).run()
    no_errors(at)
    after = flops(at)
    assert np.allclose(before["dense"], after["dense"])  # dense does not depend on k
    assert after["DSA: sparse attention"][-1] < before["DSA: sparse attention"][-1]  # 2048 -> 256
    at.radio(key="cost_phase").set_value("decode").run()
    no_errors(at)
    assert flops(at)["dense"][-1] < after["dense"][-1]  # one token vs a whole prefill


def test_calculator_and_paper_tabs():
    at = make_app(page=PAGE)
    m0 = {m.label: m.value for m in at.metric}
    at.selectbox(key="api_workload").set_value("30-turn chat").run()
    no_errors(at)
    m1 = {m.label: m.value for m in at.metric}
    assert m0["V3.2-Exp prices"] != m1["V3.2-Exp prices"]
    assert figure_with(at, title_part="Prefill") and figure_with(at, title_part="Decode")


def test_measure_button_runs_a_tiny_sweep():
    at = make_app(page=PAGE)
    at.multiselect(key="bench_lengths").set_value([256, 512]).run()
    at.button(key="bench_go").click().run()
    no_errors(at)
    assert "bench_result" in at.session_state
    assert any(("this machine" in str(f["layout"].get("title"))) for f in figures(at))


def test_measure_waits_its_turn_in_the_class_queue():
    """The timing run goes through the one queue: while another job holds the lane, it waits (the page's
    note loop), and it runs once that job leaves. No timing: the releasing thread watches the queue."""
    import threading

    from lessons import cache

    at = make_app(page=PAGE)
    at.multiselect(key="bench_lengths").set_value([256]).run()
    queue = cache.shared()[1]  # the server's one queue (st.cache_resource: one per process)
    held = queue.join(0)  # another student's short job holds the short lane
    saw_waiting = threading.Event()

    def release_when_the_page_queues():
        for _ in range(2000):
            if len(queue.lanes["short"]) >= 2:  # the page's ticket waits behind ours
                saw_waiting.set()
                break
            threading.Event().wait(0.01)
        queue.leave(held)

    th = threading.Thread(target=release_when_the_page_queues)
    th.start()
    at.button(key="bench_go").click().run()
    th.join(30)
    no_errors(at)
    assert saw_waiting.is_set() and "bench_result" in at.session_state
    assert not queue.lanes["short"]  # the page's ticket left the queue when its run ended
