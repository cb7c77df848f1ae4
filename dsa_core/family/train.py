"""Stage-1 training of a compressed-key indexer: the dense warm-up of stage1.py, with pooled keys.

The indexer scores mean-pooled keys k̄_g (selectors.py, compressed_scores). Its target is the
frozen model's head-mean dense attention p, summed over each complete group of c tokens and
renormalised over the complete groups a query can see (the query's own partial group is always kept,
so it is left out of the loss):
    p̄[t,g] = Σ_{s∈g} p[t,s] / Σ_{g' < (t+1)//c} Σ_{s∈g'} p[t,s],   L = Σ_t KL(p̄[t,:] ‖ softmax(Ī[t,:])).
Same optimiser, schedule and windowing as stage1.train_indexers (a step scores the last n_queries
queries of a random-length prefix). Device-agnostic: the model, the indexers and the inputs may live
on any torch device. Our construction, as described for DeepSeek-V4's CSA (a lightning indexer over
4×-compressed entries; ggml-org/llama.cpp#24162) and a Qwen QSA design (sgl-project/sglang-jax#1674);
their compressors are learned, ours is a plain mean.

    python -m dsa_core.family.train --layers 10,20 --c 4 --steps 60 [--tokens 768] [--out FILE]
"""

import argparse
import copy
import json
import time
from pathlib import Path

import torch

from dsa_core.dense import attention_probs
from dsa_core.family import selectors
from dsa_core.metrics import attention_recall
from dsa_core.train.losses import TINY, attention_target, kl_to_scores
from dsa_core.train.stage1 import layer_inputs, lr_factor, main_qk

ROOT = Path(__file__).resolve().parents[2]
TRAIN_TEXTS = [
    ROOT / "assets" / "texts" / f for f in ("article.txt", "chat.txt", "contract.txt", "source_code.txt")
]
HELD_OUT = ROOT / "assets" / "texts" / "eval" / "handbook_foreword.txt"


def pooled_target(p, c):
    """Dense attention mass per complete group, renormalised: p [B,S,T] (the last S queries) -> [B,S,G]."""
    B, S, T = p.shape
    G = T // c
    pg = p[..., : G * c].reshape(B, S, G, c).sum(-1)  # [B,S,G]
    complete = (torch.arange(T - S, T, device=p.device) + 1) // c  # [S]
    pg = pg.masked_fill(torch.arange(G, device=p.device)[None, :] >= complete[:, None], 0.0)  # [B,S,G]
    return pg / pg.sum(-1, keepdim=True).clamp_min(TINY)


def compressed_step(model, layer, indexer, x, n_queries, c):
    """Loss of one layer on the last n_queries queries: x [B,T,dim] -> (loss, scores [B,S,G], p [B,S,T])."""
    x = x.detach().float()
    T = x.shape[1]
    S = min(n_queries, T)
    q, k = main_qk(model, layer, x)
    p = attention_target(attention_probs(q[:, T - S :], k))  # the frozen teacher [B,S,T]
    qi, ki, w = indexer.project(x)  # [B,T,h,d], [B,T,d], [B,T,h]
    scores = selectors.compressed_scores(qi[:, T - S :], selectors.compress_keys(ki, c), w[:, T - S :], c, T)
    return kl_to_scores(pooled_target(p, c), scores), scores, p


@torch.no_grad()
def compressed_recall(model, layer, indexer, x, c, topk, n_queries=256):
    """Recall of the compressed member's top-k on the last n_queries queries of x [1,T,dim]."""
    T = x.shape[1]
    S = min(n_queries, T)
    q, k = main_qk(model, layer, x)
    p = attention_target(attention_probs(q[:, T - S :], k))  # [1,S,T]
    qi, ki, w = indexer.project(x)
    idx = selectors.compressed_topk(qi[:, T - S :], ki, w[:, T - S :], c, topk)  # [1,S,K]
    return attention_recall(p, idx).mean().item()


def train_compressed(
    model,
    indexers,
    inputs,
    c=4,
    steps=60,
    lr=1e-3,
    batch_size=2,
    n_queries=128,
    topk=128,
    log_every=10,
    seed=0,
):
    """Stage 1 with pooled keys for {layer: LightningIndexer}; a generator of progress dicts
    {"step", "steps", "loss", "seconds", "layers": {layer: loss}}. inputs: {layer: x [N,T,dim]}."""
    layers = sorted(indexers)
    model.requires_grad_(False)
    params = [p.requires_grad_(True) for layer in layers for p in indexers[layer].parameters()]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    N, T = inputs[layers[0]].shape[:2]
    lo = min(T, topk + n_queries)
    t0 = time.time()
    for step in range(1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor(step - 1, steps)
        rows = torch.randint(N, (min(batch_size, N),), generator=g)  # [B]
        L = int(torch.randint(lo, T + 1, (1,), generator=g))
        losses = {}
        for layer in layers:
            loss = compressed_step(model, layer, indexers[layer], inputs[layer][rows, :L], n_queries, c)[0]
            loss.backward()
            losses[layer] = loss.item()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step % log_every == 0 or step == steps:
            mean = sum(losses.values()) / len(losses)
            yield {"step": step, "steps": steps, "loss": mean, "seconds": time.time() - t0, "layers": losses}
    for layer in layers:
        indexers[layer].requires_grad_(False)


def windows(loaded, paths, tokens, device="cpu"):
    """Token ids of each text cut to `tokens`, the shortest length shared: -> [N, T] on device."""
    from dsa_core.analysis.trace import encode

    ids = [encode(loaded, Path(p).read_text(encoding="utf-8"), tokens).ids for p in paths]
    T = min(len(i) for i in ids)
    return torch.tensor([i[:T] for i in ids], device=device)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m dsa_core.family.train", description=__doc__.splitlines()[0])
    ap.add_argument("--layers", default="10,20")
    ap.add_argument("--c", type=int, default=4)
    ap.add_argument("--k", type=int, default=128)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--tokens", type=int, default=768, help="training window length")
    ap.add_argument("--eval-tokens", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default=None, help="save the trained indexers (safetensors) here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from dsa_core.host.indexers import load_with_indexers

    loaded, note = load_with_indexers()
    model = loaded.model.to(args.device)
    layers = [int(x) for x in args.layers.split(",")]
    shipped = {l: model.layers[l].self_attn.indexer for l in layers}
    mine = {l: copy.deepcopy(ind) for l, ind in shipped.items()}  # fine-tune copies of the shipped ones
    train_x = layer_inputs(model, windows(loaded, TRAIN_TEXTS, args.tokens, args.device), layers)
    held = layer_inputs(model, windows(loaded, [HELD_OUT], args.eval_tokens, args.device), layers)

    def recalls(indexers):
        return {l: compressed_recall(model, l, indexers[l], held[l], args.c, args.k) for l in layers}

    report = {"c": args.c, "k": args.k, "layers": layers, "indexers": note, "held_out": str(HELD_OUT)}
    report["recall_before"] = recalls(shipped)
    log = []
    for entry in train_compressed(model, mine, train_x, args.c, args.steps, args.lr, topk=args.k):
        log.append(entry)
        print(
            f"step {entry['step']:>4}/{entry['steps']}  loss {entry['loss']:.4f}  {entry['seconds']:.0f} s",
            flush=True,
        )
    report["recall_after"] = recalls(mine)
    report["token_topk_recall"] = {
        l: compressed_recall(model, l, shipped[l], held[l], 1, args.k) for l in layers
    }  # c = 1 is token top-k with the shipped indexer: the reference
    report["log"] = log
    if args.out:
        from safetensors.torch import save_file

        save_file(
            {
                f"{l}.{n}": t.detach().cpu().contiguous()
                for l in layers
                for n, t in mine[l].state_dict().items()
            },
            args.out,
        )
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
