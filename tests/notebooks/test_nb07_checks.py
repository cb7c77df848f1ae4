"""Notebook 07 checkers: the indexer term, the asymptote, the crossover and the bill's usual slips."""

from course.checks import nb07
from dsa_core.cost import flops as cost
from dsa_core.cost import prices as cost_api

A = 2 * 128 * (576 + 512)
I = 2 * 64 * 128
L, K = 65536, 512  # the exercise's case; the notebook prints k = 2048 only


def test_decode_ratio():
    right = A * L / (I * L + A * K)
    assert nb07.check_decode_ratio(right)
    assert nb07.check_decode_ratio(None).status == "unanswered"
    assert "leaves out the indexer" in nb07.check_decode_ratio(L / K).message
    assert "L → ∞" in nb07.check_decode_ratio(A / I).message
    assert "upside down" in nb07.check_decode_ratio(1 / right).message
    assert "uses k = 2048" in nb07.check_decode_ratio(A * L / (I * L + A * 2048)).message
    assert "2 FLOPs per multiply-add" in nb07.check_decode_ratio(A * L / (I / 2 * L + A * K)).message
    printed = A * 131072 / (I * 131072 + A * 2048)  # the ×13.43 the first cell prints at 128K
    assert not nb07.check_decode_ratio(printed)
    assert not nb07.check_decode_ratio(str(right))


def test_crossover():
    right = A * 512 / (A - I)
    assert nb07.check_crossover(right)
    assert nb07.check_crossover(round(right))
    assert nb07.check_crossover(None).status == "unanswered"
    assert "ignores the indexer" in nb07.check_crossover(512).message
    assert "printed above" in nb07.check_crossover(2176).message  # the copy-the-printed-value shortcut
    assert "A − I" in nb07.check_crossover(A * 512 / I).message
    printed = nb07.check_crossover(cost.crossover_token(cost.V32_MQA, cost.V32_MQA))  # the library's k = 2048
    assert not printed
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
