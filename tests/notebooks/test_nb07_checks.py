"""Notebook 07 checkers: the indexer term, the asymptote, the crossover and the bill's usual slips."""

from course.checks import nb07
from dsa_core.cost import flops as cost
from dsa_core.cost import prices as cost_api

A = 2 * 128 * (576 + 512)
I = 2 * 64 * 128
L = 131072


def test_decode_ratio():
    right = A * L / (I * L + A * 2048)
    assert nb07.check_decode_ratio(right)
    assert nb07.check_decode_ratio(None).status == "unanswered"
    assert "leaves out the indexer" in nb07.check_decode_ratio(L / 2048).message
    assert "L → ∞" in nb07.check_decode_ratio(A / I).message
    assert "upside down" in nb07.check_decode_ratio(1 / right).message


def test_crossover():
    assert nb07.check_crossover(A * 2048 / (A - I))
    assert nb07.check_crossover(2176)
    assert "ignores the indexer" in nb07.check_crossover(2048).message
    assert not nb07.check_crossover(5000)


def test_contract_bill():
    old, new = cost_api.PRICES["V3.1-Terminus"], cost_api.PRICES["V3.2-Exp"]
    right = (
        (65300 * old["input_miss"] + 1500 * old["output"]) / 1e6,
        (65300 * new["input_miss"] + 1500 * new["output"]) / 1e6,
    )
    assert nb07.check_contract_bill(right)
    assert "swapped" in nb07.check_contract_bill(right[::-1]).message
    assert "MILLION" in nb07.check_contract_bill((right[0] * 1000, right[1])).message
    assert (
        "output tokens are missing"
        in nb07.check_contract_bill((65300 * old["input_miss"] / 1e6, right[1])).message
    )
    hit = (65300 * old["input_hit"] + 1500 * old["output"]) / 1e6
    assert "cache-HIT" in nb07.check_contract_bill((hit, right[1])).message
    assert "pair" in nb07.check_contract_bill(0.04).message
    assert cost.crossover_token(cost.V32_MQA, cost.V32_MQA) == A * 2048 / (A - I)
