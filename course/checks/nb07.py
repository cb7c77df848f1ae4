"""Checkers for notebook 07, compute and cost."""

from dataclasses import replace

from course.feedback import close, correct, read_number, read_pair, wrong
from dsa_core.cost import flops as cost
from dsa_core.cost import prices as cost_api


def check_decode_ratio(answer, L=65536, k=512):
    """Exercise 1: dense ÷ DSA FLOPs of one decode step at context L with budget k, one layer, MLA in
    MQA mode (a case the notebook does not print: it prints k = 2048 at 1K, 2K, 8K and 128K)."""
    name = "Exercise 1 (decode at 64K, k = 512)"
    shape = replace(cost.V32_MQA, index_topk=k)
    x, verdict = read_number(name, answer)
    if verdict is not None:
        return verdict
    dense = cost.dense_cost(shape, L, "decode")["total_flops"]
    dsa = cost.dsa_cost(shape, L, "decode")["total_flops"]
    right = dense / dsa
    if close(x, right, 2e-3):
        return correct(
            name,
            f"{right:.1f}× fewer FLOPs per decoded token at {L:,} tokens. The indexer's "
            f"I·L term is now {cost.dsa_cost(shape, L, 'decode')['indexer/qk_macs'] / (dsa / 2):.0%} "
            "of DSA's work: at long context, the indexer dominates.",
        )
    if close(x, 1 / right, 2e-3):
        return wrong(name, f"{x:.3f} is upside down: dense ÷ DSA.")
    if close(x, L / shape.index_topk, 2e-3):
        return wrong(
            name, f"{x:.0f} = L / k leaves out the indexer, which still scores all L keys: DSA = I·L + A·k."
        )
    if close(x, cost.asymptotic_ratio(shape, shape), 2e-3):
        return wrong(name, f"{x:.1f} = A / I is the limit for L → ∞; at L = {L:,} the A·k term still counts.")
    k0 = replace(shape, index_topk=2048)
    if close(
        x,
        cost.dense_cost(k0, L, "decode")["total_flops"] / cost.dsa_cost(k0, L, "decode")["total_flops"],
        2e-3,
    ):
        return wrong(name, f"{x:.2f} uses k = 2048; the question sets k = {k}.")
    A, I = (
        2 * shape.n_heads * (shape.qk_head_dim + shape.v_head_dim),
        2 * shape.index_n_heads * shape.index_head_dim,
    )
    if close(x, A * L / (I / 2 * L + A * k), 2e-3):
        return wrong(
            name,
            f"{x:.2f} counts the indexer's multiply-adds but the attention's FLOPs: "
            "use 2 FLOPs per multiply-add for both.",
        )
    return wrong(
        name,
        f"{x:.2f} is not it: dense = A·L, DSA = I·L + A·k, with A = 2·128·(576+512) and "
        "I = 2·64·128 FLOPs per pair.",
    )


def check_crossover(answer, k=512):
    """Exercise 2: the context length beyond which one decode step costs fewer FLOPs with DSA, for a
    budget k the notebook does not compute (it prints the crossover for k = 2048)."""
    name = "Exercise 2 (crossover at k = 512)"
    shape = replace(cost.V32_MQA, index_topk=k)
    x, verdict = read_number(name, answer, "one number (tokens)")
    if verdict is not None:
        return verdict
    right = cost.crossover_token(shape, shape)
    if abs(x - right) <= 1:
        return correct(
            name,
            f"t* = A·k / (A − I) = {right:,.0f} tokens. Below it DSA does MORE work than "
            "dense (it runs the indexer and still attends to every key).",
        )
    if x == shape.index_topk:
        return wrong(
            name, f"{x:.0f} = k ignores the indexer: below t* DSA pays I·t on top of full attention."
        )
    if abs(x - cost.crossover_token(cost.V32_MQA, cost.V32_MQA)) <= 1:
        return wrong(
            name, f"{x:,.0f} is the crossover for k = 2048 printed above; the question sets k = {k}."
        )
    A, I = (
        2 * shape.n_heads * (shape.qk_head_dim + shape.v_head_dim),
        2 * shape.index_n_heads * shape.index_head_dim,
    )
    if abs(x - A * k / I) <= 1:
        return wrong(name, f"{x:,.0f} = A·k / I: solve A·t = I·t + A·k, which gives t = A·k / (A − I).")
    return wrong(name, f"{x:,.0f} is not it: solve A·t = I·t + A·k for t.")


def check_contract_bill(answer):
    """Exercise 3: (old_usd, new_usd) for the 100-page contract call with no cache hits."""
    name = "Exercise 3 (the API bill)"
    (old, new), verdict = read_pair(name, answer, "old_usd, new_usd")
    if verdict is not None:
        return verdict
    calls = cost_api.contract_review()
    right = [
        cost_api.bill(calls, cost_api.PRICES[m], cache_hit_share=0.0)["usd/total"]
        for m in ("V3.1-Terminus", "V3.2-Exp")
    ]
    if close(old, right[0], 1e-3) and close(new, right[1], 1e-3):
        return correct(
            name,
            f"${right[0]:.4f} → ${right[1]:.4f} ({1 - right[1] / right[0]:.0%} cheaper). "
            "cost_api.compare (above) splits such a saving into sparse attention and pricing.",
        )
    if close(old, right[1], 1e-3) and close(new, right[0], 1e-3):
        return wrong(name, "swapped: the old (V3.1-Terminus) bill first.")
    c = calls[0]
    for value, model in ((old, "V3.1-Terminus"), (new, "V3.2-Exp")):
        p = cost_api.PRICES[model]
        tries = {
            (c.new * p["input_miss"] + c.output * p["output"])
            / 1e3: "prices are per MILLION tokens, not per thousand",
            c.new * p["input_miss"] / 1e6: "the output tokens are missing",
            (c.new * p["output"] + c.output * p["input_miss"]) / 1e6: "input and output prices are swapped",
            (c.new * p["input_hit"] + c.output * p["output"]) / 1e6: "this uses the cache-HIT input price; "
            "the question says no cache hits",
        }
        for guess, why in tries.items():
            if close(value, guess, 1e-3):
                return wrong(name, f"the {model} bill: {why}.")
    return wrong(name, "input tokens × input (cache-miss) price + output tokens × output price, / 1e6.")
