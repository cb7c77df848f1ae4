"""dsa_core.cost.prices: published prices, workloads and the sparse-vs-policy split."""

import pytest

from dsa_core.cost import prices as ca


def test_published_prices():
    assert ca.PRICES["V3.1-Terminus"] == {"input_miss": 0.56, "input_hit": 0.07, "output": 1.68}
    assert ca.PRICES["V3.2-Exp"] == {"input_miss": 0.28, "input_hit": 0.028, "output": 0.42}
    assert "deepseek" in ca.PRICE_SOURCE


def test_bill_by_hand():
    calls = [ca.Call(context=1_000_000, new=1_000_000, output=1_000_000)]
    b = ca.bill(calls, ca.PRICES["V3.2-Exp"], cache_hit_share=0.5)
    assert b["usd/total"] == pytest.approx(0.028 + 0.28 + 0.42)
    assert ca.bill(calls, ca.PRICES["V3.2-Exp"])["tokens/input_hit"] == 1_000_000  # natural share
    with pytest.raises(ValueError, match="cache_hit_share"):
        ca.bill(calls, ca.PRICES["V3.2-Exp"], 1.5)


def test_workloads_are_recognisable():
    (contract,) = ca.contract_review()
    assert 50_000 < contract.new < 100_000 and contract.context == 0
    chat = ca.multi_turn_chat(turns=10)
    assert len(chat) == 10 and chat[-1].context > chat[0].context
    assert ca.natural_hit_share(chat) > 0.8
    assert 0 < ca.natural_hit_share(ca.codebase_summary()) < 0.5


@pytest.mark.parametrize("name", list(ca.WORKLOADS))
@pytest.mark.parametrize("share", [None, 0.0, 0.5])
def test_saving_splits_exactly(name, share):
    r = ca.compare(ca.WORKLOADS[name](), share)
    parts = r["usd/saving_from_sparse_attention"] + r["usd/saving_from_pricing_policy"]
    assert parts == pytest.approx(r["usd/saving"])
    assert r["new"]["usd/total"] < r["old"]["usd/total"]


def test_long_context_saving_is_mostly_sparse_attention_short_is_policy():
    long = ca.compare(ca.contract_review(), 0.0)
    assert long["compute_ratio"]["prefill"] < 0.7 and long["compute_ratio"]["decode"] < 0.3
    assert long["usd/saving_from_sparse_attention"] > long["usd/saving_from_pricing_policy"]
    short = ca.compare(ca.codebase_summary(), 0.0)  # 3K-token calls: DSA is dearer (Figure 3)
    assert short["compute_ratio"]["prefill"] > 1.0
    assert short["usd/saving_from_sparse_attention"] < 0 < short["usd/saving_from_pricing_policy"]


def test_beyond_128k_is_refused():
    with pytest.raises(ValueError, match="128K"):
        ca.compare(ca.contract_review(pages=300))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ca.compare([]), "no calls"),
        (lambda: ca.compare([ca.Call(0, 0, 0)]), "at least one input token"),
        (lambda: ca.compare([ca.Call(-5, 100, 10)]), "Call.context"),
        (lambda: ca.compare([ca.Call(0, 100, -1)]), "Call.output"),
        (lambda: ca.compare([ca.Call(0, 2.5, 1)]), "Call.new"),
        (lambda: ca.compare(ca.contract_review(pages=0, question=0)), "at least one input token"),
        (lambda: ca.compare(ca.contract_review(pages=-3)), "Call.new"),
    ],
)
def test_bad_token_counts_are_refused_by_name(make, match):
    """0, negative or fractional token counts: a ValueError naming the field, never ZeroDivisionError,
    NaN or negative dollars."""
    with pytest.raises(ValueError, match=match):
        make()


def test_a_workload_without_output_or_without_fresh_input_has_finite_numbers():
    import math

    for calls, share in [
        ([ca.Call(0, 1000, 0)], None),
        ([ca.Call(5000, 0, 20)], None),
        ([ca.Call(0, 10, 0)], 1.0),
    ]:
        r = ca.compare(calls, cache_hit_share=share)
        values = [r["saving_share"], r["usd/saving"], *r["compute_ratio"].values()]
        assert all(math.isfinite(v) for v in values), r
        assert r["new"]["usd/total"] >= 0 and r["old"]["usd/total"] > 0
