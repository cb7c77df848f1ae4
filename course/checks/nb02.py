"""Checkers for notebook 02, the lightning indexer."""

import torch

from course.feedback import as_number, as_tensor, close, correct, not_answered, wrong
from dsa_core.config import V32_671B
from dsa_core.cost.flops import V32_MHA, V32_MQA, pair_flops
from dsa_core.indexer import index_scores


def _wrong_variants(q, k, w):
    """Common mistakes, each as a full [T,T] score map (no mask): name -> what went wrong."""
    dots = torch.einsum("thd,sd->ths", q[0].float(), k[0].float())  # [T, h, T]
    wt = w[0].float()[:, :, None]  # [T, h, 1]
    h, d = q.shape[2], q.shape[3]
    right = (wt * dots.relu()).sum(1)  # [T, T]
    return {
        "ReLU is applied to the weighted sum instead of to each head's q·k before weighting": (wt * dots)
        .sum(1)
        .relu(),
        "there is no ReLU: each head's q·k must go through ReLU before the weight": (wt * dots).sum(1),
        "the per-head weights w are missing": dots.relu().sum(1),
        "this is the mean over heads; the index score sums them": right / h,
        "there is an extra scale: index_scores has no scaling inside (the module folds h**-0.5 and "
        "d**-0.5 into w)": right * d**-0.5,
        "the weights are applied after ReLU but with |w|: the weights can be negative, keep their sign": (
            wt.abs() * dots.relu()
        ).sum(1),
    }


def check_index_score(answer, q, k, w, t, s):
    """Exercise 1: the index score I[t, s] of one (query, key) pair, computed by hand."""
    name = "Exercise 1 (one index score)"
    if answer is None:
        return not_answered(name)
    x = as_number(answer)
    if x is None:
        return wrong(name, f"expected one number, got {type(answer).__name__} (use float(...) or .item()).")
    right = float(index_scores(q, k, w)[0, t, s])
    if close(x, right, 1e-4) or (abs(x - right) < 1e-5):
        return correct(name, f"I[{t},{s}] = {right:.4f}: ReLU per head, times the head's weight, summed.")
    for why, variant in _wrong_variants(q, k, w).items():
        v = float(variant[t, s])
        if close(x, v, 1e-4) and not close(v, right, 1e-4):
            return wrong(name, f"{x:.4f}: {why}.")
    return wrong(name, f"{x:.4f} is not I[{t},{s}]. Sum over heads j of w[t,j] · ReLU(q[t,j] · k[s]).")


def check_index_matrix(answer, q, k, w):
    """Exercise 2: the whole causal index-score map [T, T] (or [1, T, T]) without loops."""
    name = "Exercise 2 (the whole score map)"
    if answer is None:
        return not_answered(name)
    x = as_tensor(answer)
    T = k.shape[1]
    if x is not None and x.dim() == 3 and x.shape[0] == 1:
        x = x[0]
    if x is None or tuple(x.shape) != (T, T):
        return wrong(
            name, f"expected shape [{T}, {T}] (queries × keys), got {None if x is None else tuple(x.shape)}."
        )
    right = index_scores(q, k, w)[0]  # [T, T]
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    leaks = (future & torch.isfinite(x)).nonzero()
    if len(leaks):
        t, s = (int(i) for i in leaks[0])
        return wrong(
            name,
            f"entry (t={t}, s={s}) is {float(x[t, s]):.3f}, but key {s} is in the future of "
            f"query {t}: set every s > t to −inf (so top-k can never pick it).",
        )
    hidden = (~future & ~torch.isfinite(x)).nonzero()
    if len(hidden):
        t, s = (int(i) for i in hidden[0])
        return wrong(
            name,
            f"entry (t={t}, s={s}) is {float(x[t, s])}, but key {s} ≤ {t} is visible: only s > t is masked.",
        )
    past = ~future
    if torch.allclose(x[past], right[past], atol=1e-4, rtol=1e-4):
        return correct(name, "equal to dsa.index_scores, future masked with −inf.")
    for why, variant in _wrong_variants(q, k, w).items():
        if torch.allclose(x[past], variant[past], atol=1e-4, rtol=1e-4):
            return wrong(name, why + ".")
    diff = (x - right).masked_fill(future, 0).abs()
    t, s = divmod(int(diff.argmax()), T)
    return wrong(
        name,
        f"largest difference at (t={t}, s={s}): {float(x[t, s]):.4f} instead of {float(right[t, s]):.4f}.",
    )


def indexer_params(cfg=V32_671B):
    """Parameters of one layer's indexer: wq_b, wk, weights_proj, and k_norm's weight and bias."""
    q_in = cfg.q_lora_rank if cfg.uses_query_latent else cfg.dim
    h, d = cfg.index_n_heads, cfg.index_head_dim
    return q_in * h * d + cfg.dim * d + cfg.dim * h + 2 * d


def check_indexer_params(answer, cfg=V32_671B):
    """Exercise 3: parameters of one layer's lightning indexer in DeepSeek-V3.2 (671B)."""
    name = "Exercise 3 (indexer parameters)"
    if answer is None:
        return not_answered(name)
    n = as_number(answer)
    if n is None:
        return wrong(name, f"expected one number, got {type(answer).__name__}.")
    right = indexer_params(cfg)
    h, d, D, r = cfg.index_n_heads, cfg.index_head_dim, cfg.dim, cfg.q_lora_rank
    if n == right:
        return correct(
            name,
            f"{right:,} per layer, {right * cfg.n_layers / 1e9:.2f} B over "
            f"{cfg.n_layers} layers: about 0.13% of the 671B model.",
        )
    misses = {
        right - 2 * d: "you left out k_norm: it is a LayerNorm with a weight AND a bias (2 × d).",
        right - d: "k_norm is a LayerNorm with a weight and a bias: 2 × d parameters, not d.",
        right - D * h: "you left out weights_proj (dim → h per-head weights).",
        right - D * d: "you left out wk (dim → d, the one shared key).",
        right + D * d * (h - 1): "the key is ONE head shared by all h index heads (MQA): wk is dim → d, "
        "not dim → h·d.",
        right - r * h * d + D * h * d: "in DeepSeek the indexer's queries come from the query latent qr "
        f"(q_lora_rank = {r}), not from x (dim = {D}).",
    }
    if n in misses:
        return wrong(name, f"{n:,.0f}: {misses[n]}")
    return wrong(
        name,
        f"{n:,.0f} is not it. Add wq_b (q_lora_rank → h·d), wk (dim → d), "
        "weights_proj (dim → h) and k_norm (weight and bias, d each).",
    )


def check_pair_ratio(answer):
    """Exercise 4: how many times fewer FLOPs per (query, key) pair the indexer needs than MLA (MQA mode)."""
    name = "Exercise 4 (cost per pair)"
    if answer is None:
        return not_answered(name)
    x = as_number(answer)
    if x is None:
        return wrong(name, f"expected one number, got {type(answer).__name__}.")
    mqa = pair_flops(V32_MQA)["attention/core_flops_per_pair"]
    mha = pair_flops(V32_MHA)["attention/core_flops_per_pair"]
    idx = pair_flops(V32_MQA)["indexer/qk_flops_per_pair"]
    right = mqa / idx
    if close(x, right, 1e-2):
        return correct(
            name,
            f"{right:.1f}× fewer per pair ({mqa // 2:,} vs {idx // 2:,} multiply-adds), and "
            "in FP8 rather than bf16. It is still one score per pair: O(T²), with a small constant.",
        )
    if close(x, 1 / right, 1e-2):
        return wrong(name, f"{x:.3f} is the ratio upside down: main attention ÷ indexer.")
    if close(x, mha / idx, 1e-2):
        return wrong(
            name,
            f"{x:.1f} uses MLA's MHA mode (d_qk 192, d_v 128); decoding runs MLA in MQA mode "
            "over the latent (d_qk 576, d_v 512).",
        )
    return wrong(
        name,
        f"{x:.2f} is not it. Indexer: h·d multiply-adds per pair. MLA in MQA mode: n_heads · (576 + 512).",
    )
