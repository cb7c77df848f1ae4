"""Checkers for notebook 08, the DSA family: block top-n by hand, pooled keys, the saving of compressed
keys, and choosing the computing layers from the overlap heatmap."""

import torch

from course.feedback import as_tensor, check_function, correct, not_answered, read_number, wrong
from dsa_core.family import selectors
from dsa_core.family.cost import member_cost
from dsa_core.topk import select_topk


def _positions(idx):
    return sorted(int(i) for i in torch.as_tensor(idx).reshape(-1) if int(i) >= 0)


def check_block_row(answer, scores_row, t, b, n):
    """Exercise 1: the token positions block top-n keeps for query t (max pooling, own block kept)."""
    name = "Exercise 1 (block top-n by hand)"
    if answer is None:
        return not_answered(name)
    x = as_tensor(answer, torch.int64)
    if x is None or x.dim() != 1:
        return wrong(name, "expected a list of token positions, e.g. [0, 1, 2, 3].")
    got = sorted(int(i) for i in x if int(i) >= 0)
    row = scores_row.reshape(-1)[: t + 1].reshape(1, 1, -1).float()  # one query at position t: keys 0 … t
    right = _positions(selectors.block_topn(row, b, n)[0, 0])
    if got == right:
        return correct(
            name,
            f"{right}: the own block {t // b} (only its positions ≤ {t}), then the best other "
            f"block by its maximum score. {len(right)} positions, budget n·b = {n * b}.",
        )
    if any(p > t for p in got):
        return wrong(name, f"position {max(got)} is after the query ({t}): the own block keeps only 0 … {t}.")
    tokens = _positions(select_topk(row, n * b)[0, 0])
    mistakes = {
        "these are the best single tokens (token top-k), not whole blocks: pool each block first.": tokens,
        "this ranks blocks by their mean score; block top-n here pools with the maximum.": _positions(
            selectors.block_topn(row, b, n, "mean")[0, 0]
        ),
        f"the query's own block ({t // b}) must always be kept, plus the n − 1 best others.": _positions(
            selectors.block_topn(row, b, n, local=False)[0, 0]
        ),
    }
    for message, positions in mistakes.items():
        if got == positions and positions != right:
            return wrong(name, message)
    return wrong(name, f"pool each block of {b} scores with max, keep block {t // b} and the best other.")


def _key_cases():
    g = torch.Generator().manual_seed(8)
    cases = []
    for B, T, d, c in ((1, 8, 4, 4), (2, 10, 3, 4), (1, 9, 5, 2), (1, 5, 2, 1)):
        k = torch.randn(B, T, d, generator=g)
        G = T // c
        mistakes = {
            "sum, not mean: a pooled key is the average of its c keys.": k[:, : G * c]
            .reshape(B, G, c, d)
            .sum(2),
            "groups are c consecutive tokens (reshape T into [T // c, c]), not every c-th token.": (
                k[:, : G * c].reshape(B, c, G, d).mean(1)
            ),
            "this keeps the first token of each group (a stride of c); a pooled key is the MEAN of all "
            "c keys of its group.": k[:, : G * c : c],
            "this keeps the last token of each group; a pooled key is the MEAN of all c keys of its "
            "group.": k[:, c - 1 : G * c : c],
            "this is max pooling (per dimension); the compressed key is the mean of its c keys.": k[
                :, : G * c
            ]
            .reshape(B, G, c, d)
            .amax(2),
            "the groups are aligned to the END of the text, so the first tokens are left out: groups "
            "start at token 0 (group g holds tokens g·c … g·c + c − 1) and a partial group is the LAST "
            "one.": k[:, T - G * c :].reshape(B, G, c, d).mean(2),
        }
        cases.append(
            {
                "args": (k, c),
                "right": selectors.compress_keys(k, c),
                "label": f"k of shape {tuple(k.shape)}, c = {c}",
                "mistakes": mistakes,
            }
        )
    return cases


def check_compress_keys(fn):
    """Exercise 2: my_compress_keys(k [B,T,d], c) -> [B, T // c, d], run on the checker's own inputs."""
    name = "Exercise 2 (pooled keys)"
    if callable(fn):  # the commonest mistake changes the shape, so it is named before the value check
        k = torch.randn(1, 10, 3, generator=torch.Generator().manual_seed(0))
        try:
            out = as_tensor(fn(k, 4))
        except Exception:  # reported by check_function below
            out = None
        if out is not None and tuple(out.shape) == (1, 3, 3):
            return wrong(
                name,
                "10 tokens, c = 4 gives 2 pooled keys, not 3: the partial last group has no pooled key "
                "yet (it would mix in tokens that come later). Keep T // c groups.",
            )
    return check_function(
        name,
        fn,
        _key_cases(),
        forbidden={
            "selectors.compress_keys": selectors.compress_keys,
            "F.avg_pool1d": "avg_pool1d",  # torch's pooling does the exercise for you, by any route
            "F.adaptive_avg_pool1d": "adaptive_avg_pool1d",
            "F.avg_pool2d": "avg_pool2d",
            "F.avg_pool3d": "avg_pool3d",
        },
        signature="my_compress_keys(k, c)",
        done="matches selectors.compress_keys on four shapes, including a partial last group and c = 1.",
    )


def _scored_pairs(L, c):
    """(query, complete group) pairs of a causal L-token prefill: query t scores the ⌊(t+1)/c⌋ groups
    whose c tokens are all past (selectors.compressed_scores' rule), its own partial group not at all."""
    return sum((t + 1) // c for t in range(L))


def check_compressed_saving(answer, shape, L=8192, c=4):
    """Exercise 3: the indexer's score FLOPs of an L-token prefill, one layer, with compressed keys:
    I · Σ_t ⌊(t+1)/c⌋ exactly; the cost model's smooth I · L(L+1)/(2c) is accepted too."""
    name = "Exercise 3 (what c = 4 saves)"
    x, verdict = read_number(name, answer)
    if verdict is not None:
        return verdict
    I = 2 * shape.index_n_heads * shape.index_head_dim
    pairs = L * (L + 1) // 2
    exact = I * _scored_pairs(L, c)
    smooth = 2 * member_cost(shape, L, "compressed", c=c)["indexer/qk_macs"]  # = I · L(L+1)/2 / c
    if abs(x - exact) < 0.5:  # an integer count, exactly
        return correct(
            name,
            f"{exact:,} FLOPs = I · Σ_t ⌊(t+1)/{c}⌋ with I = {I}: about I · L(L+1)/2 / c = {smooth:,.0f}, "
            f"the cost model's smooth count, so {c}× less than token top-k.",
        )
    if abs(x - smooth) <= 1e-6 * smooth:
        return correct(
            name,
            f"{smooth:,.0f} FLOPs = I · L(L+1)/2 / c with I = {I}, the cost model's smooth count: {c}× less "
            f"than token top-k. Counting only complete groups gives exactly {exact:,} "
            f"({100 * (1 - exact / smooth):.2f} % less).",
        )
    mistakes = {
        "that also scores each query's own partial group: it is kept without a score, so query t scores "
        "only the ⌊(t+1)/c⌋ complete groups.": (I * sum(-(-(t + 1) // c) for t in range(L)), 1e-6),
        "that is token top-k's count: query t scores only the ⌊(t+1)/c⌋ complete groups, not t + 1 keys.": (
            I * pairs,
            1e-3,
        ),
        "a causal prefill scores about L(L+1)/2 / c pairs, not L² / c: query t sees only its past.": (
            I * L * L / c,
            1e-3,
        ),
        "only the keys are pooled, not the queries: divide by c once.": (I * pairs / c**2, 1e-3),
        "count 2 FLOPs per multiply-add: I = 2·H·d.": (I / 2 * pairs / c, 1e-3),
    }
    for message, (value, rel) in mistakes.items():
        if abs(x - value) <= rel * value:
            return wrong(name, message)
    return wrong(
        name,
        f"{x:,.0f} is not it: I = 2·H·d per (query, complete group) pair; query t scores ⌊(t+1)/c⌋ groups.",
    )


def check_computing_layers(answer, overlap, n):
    """Exercise 4: n computing layers chosen from a measured [L, L] overlap; judged by coverage."""
    name = "Exercise 4 (which layers compute)"
    if answer is None:
        return not_answered(name)
    x = as_tensor(answer, torch.int64)
    L = len(overlap)
    if x is None or x.dim() != 1:
        return wrong(name, "expected a list of layer numbers, e.g. [0, 5, 11, 20].")
    chosen = [int(i) for i in x]
    if len(set(chosen)) != len(chosen):
        return wrong(name, "a layer is listed twice.")
    if any(i < 0 or i >= L for i in chosen):
        return wrong(name, f"layers are numbered 0 … {L - 1}.")
    if 0 not in chosen:
        return wrong(name, "layer 0 must compute: no earlier layer has a top-k to lend it.")
    if len(chosen) != n:
        return wrong(name, f"choose exactly {n} computing layers (you chose {len(chosen)}).")
    ov = [[float(v) for v in row] for row in overlap]
    mine = selectors.coverage(ov, chosen)
    uniform = selectors.coverage(ov, selectors.every_r(L, -(-L // n))[:n])
    best = selectors.coverage(ov, selectors.by_overlap(ov, n))
    if mine + 1e-9 >= uniform:
        return correct(
            name,
            f"{sorted(chosen)} keeps {mine:.1%} of each layer's own top-k on average (every {-(-L // n)}th "
            f"layer: {uniform:.1%}; the greedy choice {best:.1%}). A new computing layer pays off where "
            "the heatmap's blocks along the diagonal break.",
        )
    return wrong(
        name,
        f"{sorted(chosen)} keeps {mine:.1%} on average, less than simply every {-(-L // n)}th layer "
        f"({uniform:.1%}). Put computing layers where a layer overlaps little with the ones above it.",
    )
