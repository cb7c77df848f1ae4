"""API cost calculator: what a workload costs under DeepSeek's old and new prices, and why.

A workload is a list of calls; each call sends `context` earlier tokens plus `new` fresh input tokens
and gets `output` tokens back. Input that repeats an earlier call's prefix can hit DeepSeek's context
cache and is billed at the cheaper cache-hit price; `cache_hit_share` sets that share.
The saving is split in two: the part sparse attention explains (the fitted Figure 3 cost ratio,
dsa_core/cost/paper.py, at the token positions the workload uses) and the rest, which is pricing policy.
Cache hits skip prefill, so their price change is all policy.
Prices: USD per million tokens, from DeepSeek's API pricing page and its 29 Sep 2025 announcement
(docs/sources.md §6). An example for the calculator, not a quote: check current prices.
"""

from dataclasses import dataclass

import numpy as np

from dsa_core.cost.paper import modelled_cost

PRICES = {
    "V3.1-Terminus": {"input_miss": 0.56, "input_hit": 0.07, "output": 1.68},
    "V3.2-Exp": {"input_miss": 0.28, "input_hit": 0.028, "output": 0.42},
}
PRICE_SOURCE = (
    "api-docs.deepseek.com pricing and news/news250929 (price cut with V3.2-Exp, 29 Sep 2025); "
    "USD per 1M tokens; an example, not a quote (docs/sources.md §6)"
)
MAX_CONTEXT = 128 * 1024


@dataclass(frozen=True)
class Call:
    context: int  # tokens already in the conversation (a repeated prefix: cache-hit candidates)
    new: int  # fresh input tokens
    output: int  # generated tokens

    def __post_init__(self):
        """Token counts are whole numbers >= 0 and a call sends at least one input token: a ValueError
        naming the field otherwise (never a ZeroDivisionError, NaN or negative dollars later)."""
        for name in ("context", "new", "output"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"Call.{name} must be a whole number of tokens >= 0, got {v!r}")
        if self.context + self.new == 0:
            raise ValueError("a call must send at least one input token (context + new = 0)")


def contract_review(pages=100, tokens_per_page=650, question=300, answer=1500):
    """A 100-page contract (about 500 words a page) and one question, in one call."""
    return [Call(0, pages * tokens_per_page + question, answer)]


def multi_turn_chat(turns=30, system=800, user=150, reply=450):
    """A long chat: every turn resends the whole history, which can hit the cache."""
    calls, history = [], system
    for _ in range(turns):
        calls.append(Call(history, user, reply))
        history += user + reply
    return calls


def codebase_summary(files=200, tokens_per_file=2500, instructions=600, summary=300):
    """A code base summarised file by file: the same instructions, then one file, per call."""
    return [Call(instructions, tokens_per_file, summary) for _ in range(files)]


WORKLOADS = {
    "100-page contract, one call": contract_review,
    "30-turn chat": multi_turn_chat,
    "200-file code base, file by file": codebase_summary,
}


def _checked(calls):
    """The workload as a list of Calls; a ValueError for an empty one (there is nothing to bill)."""
    calls = list(calls)
    if not calls:
        raise ValueError("the workload has no calls: add at least one Call(context, new, output)")
    if not all(isinstance(c, Call) for c in calls):
        raise ValueError("a workload is a list of Call(context, new, output)")
    return calls


def natural_hit_share(calls):
    """Share of input tokens that repeat an earlier prefix (what a perfect cache would hit)."""
    sent = sum(c.context + c.new for c in calls)
    return sum(c.context for c in calls) / sent if sent else 0.0


def bill(calls, prices, cache_hit_share=None):
    """Token counts and dollars: {'tokens/input_hit', ..., 'usd/input_miss', ..., 'usd/total'}."""
    calls = _checked(calls)
    share = natural_hit_share(calls) if cache_hit_share is None else cache_hit_share
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"cache_hit_share must be in [0, 1], got {share}")
    inp = sum(c.context + c.new for c in calls)
    tok = {
        "tokens/input_hit": share * inp,
        "tokens/input_miss": (1 - share) * inp,
        "tokens/output": float(sum(c.output for c in calls)),
    }
    usd = {f"usd/{k}": tok[f"tokens/{k}"] * prices[k] / 1e6 for k in ("input_hit", "input_miss", "output")}
    return {**tok, **usd, "usd/total": sum(usd.values())}


def _mean_modelled(phase, start, n):
    """Mean fitted $/M over positions start..start+n for dense and DSA (a 33-point average)."""
    if start + n > MAX_CONTEXT:
        raise ValueError(f"a call reaches position {start + n:,}, beyond the 128K context of Figure 3")
    t = np.linspace(start, start + n, 33)
    return (
        float(np.mean(modelled_cost(f"{phase}/dense", t))),
        float(np.mean(modelled_cost(f"{phase}/dsa", t))),
    )


def compute_ratios(calls, prefix_hits=True):
    """Modelled DSA/dense serving-cost ratio for the workload's input and output tokens (Figure 3 fit).

    prefix_hits: the cache serves exactly each call's `context`, so only the `new` tokens are prefilled
    (at positions context..context+new); otherwise every input position counts, weighted alike.
    """
    pre, dec = np.zeros(2), np.zeros(2)
    for c in _checked(calls):
        start, n = (c.context, c.new) if prefix_hits else (0, c.context + c.new)
        if n:
            pre += np.array(_mean_modelled("prefill", start, n)) * n
        if c.output:
            dec += np.array(_mean_modelled("decode", c.context + c.new, c.output)) * c.output
    # a phase with no tokens (no output, or every input a cache hit) costs nothing to scale: ratio 1
    return {"prefill": pre[1] / pre[0] if pre[0] else 1.0, "decode": dec[1] / dec[0] if dec[0] else 1.0}


def compare(calls, cache_hit_share=None, old="V3.1-Terminus", new="V3.2-Exp"):
    """Old vs new bill, and the saving split into a sparse-attention part and a pricing-policy part.

    'if prices tracked compute' = the old bill with miss-input scaled by the prefill ratio and output by
    the decode ratio; sparse part = old − that; policy part = that − new (either can be negative).
    """
    b_old, b_new = bill(calls, PRICES[old], cache_hit_share), bill(calls, PRICES[new], cache_hit_share)
    r = compute_ratios(calls, prefix_hits=cache_hit_share is None)
    tracked = (
        b_old["usd/input_hit"] + r["prefill"] * b_old["usd/input_miss"] + r["decode"] * b_old["usd/output"]
    )
    saving = b_old["usd/total"] - b_new["usd/total"]
    return {
        "old": b_old,
        "new": b_new,
        "compute_ratio": r,
        "usd/if_prices_tracked_compute": tracked,
        "usd/saving": saving,
        "saving_share": saving / b_old["usd/total"],
        "usd/saving_from_sparse_attention": b_old["usd/total"] - tracked,
        "usd/saving_from_pricing_policy": tracked - b_new["usd/total"],
        "prices": {old: PRICES[old], new: PRICES[new]},
        "price_source": PRICE_SOURCE,
    }
