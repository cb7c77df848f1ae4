"""Notebook 09 checkers: the solutions pass, the stubs are unanswered, and each named mistake gets its own
message (the new token's own key left out, the cache not grown, indices offset by the prompt)."""

import torch

from course.checks import nb09
from dsa_core import index_scores, select_topk
from dsa_core.cost import flops


def decode_step(q, k_new, v_new, k_cache, v_cache):
    k_cache, v_cache = torch.cat([k_cache, k_new[None]]), torch.cat([v_cache, v_new[None]])
    w = torch.softmax(k_cache @ q / q.shape[-1] ** 0.5, dim=-1)
    return w @ v_cache, k_cache, v_cache


def test_decode_step_solution_and_its_mistakes():
    assert nb09.check_decode_step(decode_step)
    assert nb09.check_decode_step(None).status == "unanswered"

    def own_left_out(q, k_new, v_new, k_cache, v_cache):
        w = torch.softmax(k_cache @ q / q.shape[-1] ** 0.5, dim=-1)  # attends before appending
        return w @ v_cache, torch.cat([k_cache, k_new[None]]), torch.cat([v_cache, v_new[None]])

    def not_grown(q, k_new, v_new, k_cache, v_cache):
        out = decode_step(q, k_new, v_new, k_cache, v_cache)[0]
        return out, k_cache, v_cache

    def no_scale(q, k_new, v_new, k_cache, v_cache):
        k, v = torch.cat([k_cache, k_new[None]]), torch.cat([v_cache, v_new[None]])
        return torch.softmax(k @ q, dim=-1) @ v, k, v

    def prepended(q, k_new, v_new, k_cache, v_cache):
        k, v = torch.cat([k_new[None], k_cache]), torch.cat([v_new[None], v_cache])
        return torch.softmax(k @ q / q.shape[-1] ** 0.5, dim=-1) @ v, k, v

    assert "own key is left out" in nb09.check_decode_step(own_left_out).message
    assert "did not grow" in nb09.check_decode_step(not_grown).message
    assert "1/√D" in nb09.check_decode_step(no_scale).message
    assert "front" in nb09.check_decode_step(prepended).message
    assert "three things" in nb09.check_decode_step(lambda *a: decode_step(*a)[0]).message
    assert "ZeroDivisionError" in nb09.check_decode_step(lambda *a: 1 / 0).message


def index_step(q, w, k_new, index_cache, P, step, k, row=None, upto=None):
    t = P + step
    index_cache[t if row is None else row] = k_new
    end = t + 1 if upto is None else upto
    scores = index_scores(q[None, None], index_cache[None, :end], w[None, None])
    return select_topk(scores, k)[0, 0], index_cache


def test_index_step_solution_and_its_mistakes():
    assert nb09.check_index_step(index_step)
    assert nb09.check_index_step(None).status == "unanswered"
    checks = {
        # scores rows 0 .. t-1: the query cannot pick itself
        "own key is left out": lambda q, w, kn, c, P, s, k: index_step(q, w, kn, c, P, s, k, upto=P + s),
        # forgets to write the new key into the buffer
        "did not grow": lambda q, w, kn, c, P, s, k: (index_step(q, w, kn, c.clone(), P, s, k)[0], c),
        # writes at row `step` and counts positions from the first generated token
        "offset by the prompt": lambda q, w, kn, c, P, s, k: index_step(q, w, kn, c, P, s, k, row=s),
        # scores the whole buffer, empty rows included
        "whole buffer": lambda q, w, kn, c, P, s, k: index_step(q, w, kn, c, P, s, k, upto=c.shape[0]),
        # the right set, not best first
        "best first": lambda q, w, kn, c, P, s, k: (
            index_step(q, w, kn, c, P, s, k)[0].sort().values,
            c,
        ),
    }
    for words, fn in checks.items():
        fb = nb09.check_index_step(fn)
        assert not fb and words in fb.message, (words, fb)


def test_index_step_names_picks_counted_from_the_generated_tokens():
    def relative(q, w, kn, c, P, s, k):
        picks, c = index_step(q, w, kn, c, P, s, k)
        return picks - P, c  # positions among the generated tokens

    fb = nb09.check_index_step(relative)
    assert not fb and "offset by the prompt" in fb.message, fb


def test_step_bytes_and_its_mistakes():
    T, L, k = 65536, 61, 2048
    dense, dsa = T * 656 * L / 1e6, (T * 132 + k * 656) * L / 1e6
    assert nb09.check_step_bytes((dense, dsa))
    assert nb09.check_step_bytes(None).status == "unanswered"
    assert "swapped" in nb09.check_step_bytes((dsa, dense)).message
    assert "EVERY cached token" in nb09.check_step_bytes((dense, k * 656 * L / 1e6)).message
    assert "never reads the indexer keys" in nb09.check_step_bytes((T * 788 * L / 1e6, dsa)).message
    assert "one layer" in nb09.check_step_bytes((dense / L, dsa / L)).message
    assert "bf16" in nb09.check_step_bytes((T * 1152 * L / 1e6, dsa)).message
    assert "MiB" in nb09.check_step_bytes((T * 656 * L / 2**20, dsa)).message
    # the same numbers as the cost model the app and notebook 07 use
    assert abs(dense * 1e6 - flops.dense_cost(flops.V32_MQA, T, "decode", "fp8")["decode/read_bytes"] * L) < 1
