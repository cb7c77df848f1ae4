"""The Train page: the stage-1 generator runs live, curves appear, recall improves on the training text."""

from apphelp import SHORT, figures, make_app, no_errors

PAGE = "lessons/train.py"


def test_training_runs_and_shows_before_and_after():
    at = make_app(text=(SHORT + " ") * 6, max_tokens=128, k=8, page=PAGE)
    no_errors(at)
    at.slider(key="train_steps").set_value(30).run()
    at.button(key="train_go").click().run()
    no_errors(at)
    bars = [f for f in figures(at) if "Attention-mass recall" in str(f["layout"].get("title"))]
    assert bars, "no before/after figure"
    x = bars[0]["data"][0]["x"]
    from apphelp import decode

    before, after = decode(x)[:2]
    assert after > before  # training on this text helps on this text
    assert "After training" in " ".join(m.value for m in at.markdown)


def test_nothing_to_learn_when_k_covers_the_text():
    at = make_app(k=4096, page=PAGE)
    no_errors(at)
    assert any("nothing" in w.value for w in at.warning)


def test_fine_tuning_the_shipped_indexer_also_runs():
    at = make_app(text=(SHORT + " ") * 6, max_tokens=128, k=8, page=PAGE)
    at.radio(key="train_start").set_value("the shipped trained indexer (fine-tune it on this text)").run()
    at.slider(key="train_steps").set_value(10).run()
    at.button(key="train_go").click().run()
    no_errors(at)
    assert "After training" in " ".join(m.value for m in at.markdown)


def test_training_waits_its_turn_in_the_class_queue_and_leaves_it():
    """The run goes through the one queue with its size (cache.training_work): while another job holds
    its lane it waits (the page's note loop), and it trains once that job leaves. No timing: the
    releasing thread watches the queue."""
    import threading

    from lessons import budget, cache

    at = make_app(text=(SHORT + " ") * 6, max_tokens=128, k=8, page=PAGE)
    at.slider(key="train_steps").set_value(10).run()
    T = cache.n_tokens((SHORT + " ") * 6, 128)  # the page's text, as analysed
    size = cache.training_work(T, 10, at.session_state["train_nq"])
    queue = cache.shared()[1]  # the server's one queue (st.cache_resource: one per process)
    held, sizes, join = queue.join(0), [], queue.join  # another student's short job holds the short lane
    saw_waiting = threading.Event()

    def spy(work=0):
        sizes.append(work)
        return join(work)

    def release_when_the_page_queues():
        for _ in range(3000):
            if sizes[:1] == [size] and len(queue.lanes["short"]) >= 2:  # the run waits behind ours
                saw_waiting.set()
                break
            threading.Event().wait(0.01)
        queue.leave(held)

    th = threading.Thread(target=release_when_the_page_queues)
    th.start()
    queue.join = spy
    try:
        at.button(key="train_go").click().run()
    finally:
        del queue.join
        th.join(30)
    no_errors(at)
    assert saw_waiting.is_set() and "After training" in " ".join(m.value for m in at.markdown)
    assert sizes[0] == size  # the training run joined first (the before/after views may join after it)
    assert not queue.lanes["short"] and not queue.lanes["long"]  # its ticket left when the run ended
    assert budget.Queue().join(cache.training_work(8192, 400, 128))[0] == "long"


def test_a_cancelled_training_run_says_so_and_keeps_nothing():
    at = make_app(text=(SHORT + " ") * 6, max_tokens=128, k=8, page=PAGE, train_cancelled=True)
    no_errors(at)
    assert any("Cancelled" in i.value for i in at.info)
    assert "trained" not in at.session_state
    at.run()  # said once
    assert not any("Cancelled" in i.value for i in at.info)
