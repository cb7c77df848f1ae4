"""Checkers for notebook 04, sparse attention (gather vs mask, the -1 slots, MQA sharing, memory)."""

import torch

from course.feedback import as_number, as_tensor, close, correct, not_answered, wrong
from dsa_core.config import V32_671B
from dsa_core.dense import attention_probs
from dsa_core.sparse import sparse_attention


def _output_problem(x, q, k, v, idx, t, head):
    """Compare one head's output vector [Dv] with sparse_attention and name the usual mistakes."""
    Dv, D = v.shape[-1], q.shape[-1]
    right = sparse_attention(q, k, v, idx)[0, t, head]  # [Dv]
    if x is None or x.dim() != 1 or x.numel() != Dv:
        return (
            f"expected a vector of Dv = {Dv} numbers (one head's output), got "
            f"{None if x is None else tuple(x.shape)}."
        )
    if torch.allclose(x, right, atol=1e-4):
        return None
    g = q.shape[2] // k.shape[2]
    kv = head // g
    slots = idx[0, t]  # [K]
    qt = q[0, t, head].float()
    naive = slots.clone()  # Python/torch read index -1 as the LAST row
    p = (k[0, naive, kv].float() @ qt * D**-0.5).softmax(-1)
    if (slots < 0).any() and torch.allclose(x, p @ v[0, naive, kv].float(), atol=1e-4):
        T = k.shape[1]
        return (
            f"a -1 slot read position {T - 1} (indexing with -1 wraps to the last token), which is "
            f"in the future of query {t}. Drop the -1 slots before the softmax."
        )
    dense = attention_probs(q, k)[0, head, t] @ v[0, :, kv].float()
    if torch.allclose(x, dense, atol=1e-4):
        return (
            f"this is dense attention over all {t + 1} visible keys. Sparse attention takes the "
            "softmax over the selected keys only."
        )
    sel = slots[slots >= 0]
    unscaled = (k[0, sel, kv].float() @ qt).softmax(-1) @ v[0, sel, kv].float()
    if torch.allclose(x, unscaled, atol=1e-4):
        return f"the softmax is missing the scale: multiply q·k by D**-0.5 = {D**-0.5:.4f}."
    mean_v = v[0, sel, kv].float().mean(0)
    if torch.allclose(x, mean_v, atol=1e-4):
        return "this is the plain mean of the selected values: weight them by the softmax of q·k."
    return f"differs from dsa.sparse_attention by up to {float((x - right).abs().max()):.4f}."


def check_sparse_output(answer, q, k, v, idx, t, head=0):
    """Exercise 1: one head's sparse-attention output for query t, computed by gathering."""
    name = "Exercise 1 (gather by hand)"
    if answer is None:
        return not_answered(name)
    problem = _output_problem(as_tensor(answer), q, k, v, idx, t, head)
    if problem:
        return wrong(name, problem)
    return correct(
        name,
        f"gathered {int((idx[0, t] >= 0).sum())} keys, softmax over them only: equal "
        "to dsa.sparse_attention.",
    )


def check_empty_slot_output(answer, q, k, v, idx, t, head=0):
    """Exercise 2: the same for a query whose selection has -1 (empty) slots."""
    name = "Exercise 2 (the empty slots)"
    if answer is None:
        return not_answered(name)
    problem = _output_problem(as_tensor(answer), q, k, v, idx, t, head)
    if problem:
        return wrong(name, problem)
    return correct(name, "the -1 slots are skipped (they carry no key), as FlashMLA's kernels do.")


def check_index_sets(answer, cfg=V32_671B):
    """Exercise 3: how many top-k sets DSA computes per token, per layer, in DeepSeek-V3.2."""
    name = "Exercise 3 (how many selections)"
    if answer is None:
        return not_answered(name)
    n = as_number(answer)
    if n is None:
        return wrong(name, f"expected one number, got {type(answer).__name__}.")
    if n == 1:
        return correct(
            name,
            f"one set per query token per layer, shared by all {cfg.n_heads} attention "
            "heads (the paper's MQA mode); the kernels gather each key once per token.",
        )
    if n == cfg.n_heads:
        return wrong(
            name,
            f"{cfg.n_heads} would be one per attention head; DSA selects once per token and "
            "broadcasts the same index mask to every head.",
        )
    if n == cfg.index_n_heads:
        return wrong(
            name,
            f"{cfg.index_n_heads} is the number of indexer heads, but their votes are summed "
            "into one score per key, and top-k runs once on that.",
        )
    if n == cfg.n_layers:
        return wrong(name, "that is per token over the whole model; the question asks per layer.")
    return wrong(name, f"{n:g} is not it. Look at the shape of topk_indices: [B, T, K].")


def check_rung_memory(answer, T=32768, H=4, K=64):
    """Exercise 4: MiB of the masked rung's [1,H,T,T] fp32 scores and of the gathered rung's [1,T,H,K] probs."""
    name = "Exercise 4 (memory of the two rungs)"
    if answer is None:
        return not_answered(name)
    try:
        masked, gathered = (as_number(a) for a in answer)
    except (TypeError, ValueError):
        return wrong(name, "expected a pair (masked_mib, gathered_mib).")
    if masked is None or gathered is None:
        return wrong(name, "expected a pair of two numbers (masked_mib, gathered_mib).")
    right_m, right_g = 4 * H * T * T / 2**20, 4 * T * H * K / 2**20
    if close(masked, right_m) and close(gathered, right_g):
        return correct(
            name,
            f"{right_m:,.0f} MiB vs {right_g:,.0f} MiB: the masked rung is {right_m / right_g:,.0f}× "
            "bigger (T/K), and both rungs compute the same output.",
        )
    if close(masked, right_g) and close(gathered, right_m):
        return wrong(name, "the two numbers are swapped: masked first, gathered second.")
    for value, right, which, shape in (
        (masked, right_m, "masked", "[1, H, T, T]"),
        (gathered, right_g, "gathered", "[1, T, H, K]"),
    ):
        if close(value, right):
            continue
        reasons = [
            why
            for factor, why in ((H, f"the H = {H} heads"), (4, "the 4 bytes per fp32 element"))
            if close(value, right / factor)
        ]
        if reasons:
            return wrong(
                name,
                f"the {which} number is {right / value:g}× too small: it leaves out {' or '.join(reasons)}.",
            )
        if close(value, right * 2**20 / 1e6):
            return wrong(name, f"the {which} number is in MB (10⁶); the question asks MiB (2²⁰ bytes).")
        return wrong(name, f"the {which} number {value:,.1f} is off: {shape} floats × 4 bytes / 2**20.")
    return wrong(name, "check both numbers.")
