"""Checkers for notebook 02, the lightning indexer."""

from dataclasses import replace

import torch

from course.feedback import check_function, close, correct, read_number, wrong
from dsa_core import fp8
from dsa_core.config import SMOLLM2_HOST, TEACHING, V32_671B
from dsa_core.cost.flops import pair_flops
from dsa_core.cost.shapes import V32_MHA, V32_MQA
from dsa_core.fast.cpu import index_scores_fast
from dsa_core.indexer import LightningIndexer, index_scores

# Exercise 1's pair, written out in the notebook's markdown: 3 heads of 3 dims, one key.
HAND_Q = [[1.0, 2.0, 0.0], [-1.0, 1.0, 1.0], [1.0, 0.0, 1.0]]  # q_t: [h = 3, d = 3]
HAND_K = [2.0, 1.0, -1.0]  # k_s: [d = 3]
HAND_W = [0.5, 2.0, -1.5]  # w_t: [h = 3]


def _variants(dots, w):
    """Common mistakes on per-head dot products `dots [..., h, S]` and weights `w [..., h, 1]`."""
    h = dots.shape[-2]
    right = (w * dots.relu()).sum(-2)
    out = {
        "ReLU is applied to the weighted sum; it belongs on each head's q·k, before the weight.": (
            (w * dots).sum(-2).relu()
        ),
        "there is no ReLU: each head's q·k goes through ReLU before the weight.": (w * dots).sum(-2),
        "the per-head weights w are missing.": dots.relu().sum(-2),
        "this is the mean over heads; the index score sums them.": right / h,
        "the weights lost their sign (|w|): a negative weight votes against the keys its head matches.": (
            w.abs() * dots.relu()
        ).sum(-2),
        "that is a sigmoid where DSA has ReLU (the paper picks ReLU for throughput).": (
            w * dots.sigmoid()
        ).sum(-2),
    }
    return out


def check_index_score(answer):
    """Exercise 1: I_{t,s} for the hand case above (3 heads, one key), computed by hand."""
    name = "Exercise 1 (one index score by hand)"
    x, verdict = read_number(name, answer, hint=" (use float(...) or .item())")
    if verdict is not None:
        return verdict
    q = torch.tensor(HAND_Q)[None, None]  # [1, 1, h, d]
    k = torch.tensor(HAND_K)[None, None]  # [1, 1, d]
    w = torch.tensor(HAND_W)[None, None]  # [1, 1, h]
    right = float(index_scores(q, k, w)[0, 0, 0])
    if close(x, right, 1e-4):
        return correct(
            name,
            f"I = {right:g}: head 0 votes 0.5·ReLU(4) = 2, head 1's match is negative so ReLU drops "
            "it, head 2 votes −1.5·ReLU(1) = −1.5 (a negative weight votes against).",
        )
    dots = torch.tensor(HAND_Q) @ torch.tensor(HAND_K)  # [h]
    wt = torch.tensor(HAND_W)
    mistakes = _variants(dots[:, None], wt[:, None])
    mistakes["that is a softmax over the heads' q·k where DSA has ReLU: no normalisation, only ReLU."] = (
        wt * dots.softmax(0)
    ).sum()[None]
    mistakes[f"there is an extra 1/√d = {3**-0.5:.3f}: index_scores has no scaling inside."] = torch.tensor(
        [right * 3**-0.5]
    )
    for why, v in mistakes.items():
        if close(x, float(v.reshape(-1)[0]), 1e-4):
            return wrong(name, f"{x:g}: {why}")
    return wrong(name, f"{x:g} is not it. Sum over heads j of w[j] · ReLU(q[j] · k).")


def _map_cases():
    g = torch.Generator().manual_seed(21)
    cases = []
    for B, T, h, d, label in (
        (1, 6, 3, 5, "B = 1, T = 6, h = 3 heads of d = 5"),
        (2, 9, 4, 8, "B = 2, T = 9, h = 4, d = 8"),
        (1, 1, 2, 4, "T = 1 (a single token)"),
        (1, 5, 1, 3, "h = 1 (one head)"),
    ):
        q = torch.randn(B, T, h, d, generator=g)
        k = torch.randn(B, T, d, generator=g)
        w = torch.randn(B, T, h, generator=g)  # both signs
        cases.append((q, k, w, label))
    return cases


def _map_mistakes(q, k, w):
    T = k.shape[1]
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    diagonal = torch.ones(T, T, dtype=torch.bool).triu(0)
    dots = torch.einsum("bthd,bsd->bths", q, k)  # [B, T, h, S]
    wt = w[..., None]  # [B, T, h, 1]
    right = (wt * dots.relu()).sum(-2)
    inf = float("-inf")
    out = {
        f"{why} (the future is masked correctly)": v.masked_fill(future, inf)
        for why, v in _variants(dots, wt).items()
    }
    out.update(
        {
            "that is a softmax over each head's keys where DSA has ReLU: the score is not normalised.": (
                wt * dots.masked_fill(future[:, None], inf).softmax(-1)
            )
            .sum(-2)
            .masked_fill(future, inf),
            "keys s > t (the future) are not masked: set them to −inf so top-k can never pick them.": right,
            "the future is set to 0, not −inf: a key with score 0 can still be selected.": right.masked_fill(
                future, 0.0
            ),
            "the diagonal is masked too: key s = t (the token itself) is visible.": right.masked_fill(
                diagonal, inf
            ),
            "the map is transposed: row t must hold query t's scores for keys s.": right.masked_fill(
                future, inf
            ).transpose(1, 2),
            "there is an extra scale: index_scores has none (the module folds h**-0.5·d**-0.5 into w).": (
                right * q.shape[-1] ** -0.5
            ).masked_fill(future, inf),
            "the finished map went through a softmax over the keys: index scores are not normalised "
            "(top-k only ranks them, and −inf must stay −inf in the future).": right.masked_fill(
                future, inf
            ).softmax(-1),
        }
    )
    return out


def check_index_function(fn):
    """Exercise 2: the student's index_scores(q [B,T,h,d], k [B,T,d], w [B,T,h]) -> [B,T,T]."""
    cases = []
    for q, k, w, label in _map_cases():
        cases.append(
            {
                "args": (q, k, w),
                "right": index_scores(q, k, w),
                "label": label,
                "mistakes": _map_mistakes(q, k, w),
            }
        )
    return check_function(
        "Exercise 2 (the whole score map)",
        fn,
        cases,
        forbidden={
            "dsa.index_scores": index_scores,
            "dsa_core.fast.cpu.index_scores_fast": index_scores_fast,
            "LightningIndexer.forward": LightningIndexer.forward,
            "fp8.fp8_index_scores": fp8.fp8_index_scores,
            "fp8.fp8_index_scores_dequant": fp8.fp8_index_scores_dequant,
        },
        signature="my_index_scores(q, k, w)",
        done="matches dsa.index_scores on the checker's own inputs (batches, one token, one head, "
        "negative weights): ReLU per head, weighted, summed, future −inf.",
    )


def _param_configs():
    return (
        (V32_671B, "the 671B config"),
        (TEACHING, "the teaching config"),
        (SMOLLM2_HOST, "the SmolLM2 host (no query latent: q_lora_rank = 0)"),
        (replace(V32_671B, index_n_heads=32, index_head_dim=64), "671B with a 32 × 64 indexer"),
    )


def check_params_function(fn):
    """Exercise 3: the student's parameter count of one layer's indexer, as a function of the config."""
    cases = []
    for cfg, label in _param_configs():
        right = sum(p.numel() for p in LightningIndexer(cfg).parameters())
        h, d, D = cfg.index_n_heads, cfg.index_head_dim, cfg.dim
        q_in = cfg.q_lora_rank if cfg.q_lora_rank else D
        mistakes = {
            "k_norm is a LayerNorm with a weight AND a bias: 2 × d parameters, not d.": right - d,
            "k_norm is missing: a LayerNorm with a weight and a bias (2 × d).": right - 2 * d,
            "weights_proj (dim → h per-head weights) is missing.": right - D * h,
            "wk (dim → d, the one shared key) is missing.": right - D * d,
            "the key is ONE head shared by all h index heads (MQA): wk is dim → d, not dim → h·d.": (
                right + D * d * (h - 1)
            ),
        }
        if cfg.q_lora_rank:
            why = f"the queries come from the query latent qr (q_lora_rank = {cfg.q_lora_rank}), not from x."
            mistakes[why] = right - q_in * h * d + D * h * d
        else:
            mistakes["with q_lora_rank = 0 there is no query latent: wq_b reads x (dim inputs)."] = (
                right - D * h * d
            )
        cases.append(
            {
                "args": (cfg,),
                "right": torch.tensor(float(right)),
                "label": label,
                "mistakes": {m: torch.tensor(float(v)) for m, v in mistakes.items()},
            }
        )
    return check_function(
        "Exercise 3 (indexer parameters)",
        fn,
        cases,
        forbidden={"LightningIndexer": LightningIndexer.__init__},
        signature="my_indexer_params(cfg)",
        done="right for the 671B, teaching, SmolLM2-host and a 32 × 64 indexer: 671B has 13,959,424 "
        "per layer, about 0.85 B over 61 layers (0.13% of the model).",
        atol=1e-9,
    )


def check_prefill_ratio(answer):
    """Exercise 4: dense prefill attention (MLA in MHA mode) ÷ indexer multiply-adds per pair."""
    name = "Exercise 4 (cost per pair in prefill)"
    x, verdict = read_number(name, answer)
    if verdict is not None:
        return verdict
    mha = pair_flops(V32_MHA)["attention/core_flops_per_pair"]
    mqa = pair_flops(V32_MQA)["attention/core_flops_per_pair"]
    idx = pair_flops(V32_MHA)["indexer/qk_flops_per_pair"]
    right = mha / idx
    if close(x, right, 1e-2):
        return correct(
            name,
            f"{right:.1f}× per pair against dense MHA-mode prefill ({mha // 2:,} vs {idx // 2:,} "
            f"multiply-adds). DSA's sparse attention runs in MQA mode (576/512 per head), {mqa / idx:.1f}× "
            "the indexer per pair, in prefill and decode alike: the indexer is cheap per pair, but it "
            "scores every pair.",
        )
    if close(x, 1 / right, 1e-2):
        return wrong(name, f"{x:.3f} is upside down: main attention ÷ indexer.")
    if close(x, mqa / idx, 1e-2):
        return wrong(
            name,
            f"{x:.1f} is MLA's MQA mode (576/512 per pair, the mode DSA's sparse attention runs in); the "
            "question asks about dense MHA-mode prefill: 192 dims for q·k and 128 for the value sum, "
            "per head.",
        )
    if close(x, 2 * 128 * 192 / idx, 1e-2):
        return wrong(name, f"{x:.1f} counts only q·k; attention also sums the values (128 dims per head).")
    return wrong(name, f"{x:.2f} is not it. Main attention: n_heads · (192 + 128). Indexer: h · d.")
