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
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from dsa_core.dense import attention_probs
from dsa_core.family import selectors
from dsa_core.indexer import LightningIndexer, index_scores
from dsa_core.metrics import attention_recall
from dsa_core.train.losses import TINY, attention_target, kl_to_scores
from dsa_core.train.stage1 import layer_inputs, lr_factor, main_qk

ROOT = Path(__file__).resolve().parents[2]
TRAIN_TEXTS = [
    ROOT / "assets" / "texts" / f for f in ("article.txt", "chat.txt", "contract.txt", "source_code.txt")
]
HELD_OUT = ROOT / "assets" / "texts" / "eval" / "handbook_foreword.txt"


def pooled_target(p, c, window=0, sink=0):
    """Dense attention mass per complete group of c, renormalised over the groups the indexer chooses
    among: those that lie wholly after the first `sink` tokens and before the query's last `window`
    tokens (window = sink = 0: every complete group). p [B,S,T] (the last S queries) -> [B,S,G]."""
    B, S, T = p.shape
    G = T // c
    pg = p[..., : G * c].reshape(B, S, G, c).sum(-1)  # [B,S,G]
    chosen = selectors.groups_between(torch.arange(T - S, T, device=p.device), G, c, window, sink)  # [S,G]
    pg = pg.masked_fill(~chosen, 0.0)  # [B,S,G]
    return pg / pg.sum(-1, keepdim=True).clamp_min(TINY)


def compressed_step(model, layer, indexer, x, n_queries, c, window=0, sink=0):
    """Loss of one layer on the last n_queries queries: x [B,T,dim] -> (loss, scores [B,S,G], p [B,S,T]).
    With a window and sink (V4's CSA) the loss covers only the groups the indexer chooses among."""
    x = x.detach().float()
    T = x.shape[1]
    S = min(n_queries, T)
    q, k = main_qk(model, layer, x)
    p = attention_target(attention_probs(q[:, T - S :], k))  # the frozen teacher [B,S,T]
    qi, ki, w = indexer.project(x)  # [B,T,h,d], [B,T,d], [B,T,h]
    scores = selectors.compressed_scores(qi[:, T - S :], selectors.compress_keys(ki, c), w[:, T - S :], c, T)
    chosen = selectors.groups_between(
        torch.arange(T - S, T, device=x.device), scores.shape[-1], c, window, sink
    )
    scores = scores.masked_fill(~chosen, float("-inf"))  # the groups window_pick chooses among [B,S,G]
    return kl_to_scores(pooled_target(p, c, window, sink), scores), scores, p


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


def block_target(p, b):
    """Dense attention mass per block of b keys, the query's own block left out (it is always kept),
    renormalised: p [B,S,T] (the last S queries) -> [B,S,ceil(T/b)]."""
    B, S, T = p.shape
    nb = -(-T // b)
    pb = F.pad(p, (0, nb * b - T)).view(B, S, nb, b).sum(-1)  # [B,S,nb]
    own = (torch.arange(T - S, T, device=p.device) // b).expand(B, S)[..., None]  # [B,S,1]
    pb = pb.scatter(-1, own, 0.0)
    return pb / pb.sum(-1, keepdim=True).clamp_min(TINY)


def block_step(model, layer, indexer, x, n_queries, b):
    """MSA's indexer loss for one layer (a one-head indexer, dot_scores max-pooled over blocks of b, the
    own block left out): x [B,T,dim] -> (loss, block scores [B,S,nb], p [B,S,T])."""
    x = x.detach().float()
    T = x.shape[1]
    S = min(n_queries, T)
    q, k = main_qk(model, layer, x)
    p = attention_target(attention_probs(q[:, T - S :], k))  # the frozen teacher [B,S,T]
    qi, ki, w = indexer.project(x)  # [B,T,1,d], [B,T,d], [B,T,1]
    blocks = selectors.pool_blocks(selectors.dot_scores(qi[:, T - S :], ki, w[:, T - S :]), b, "max")
    own = (torch.arange(T - S, T, device=x.device) // b).expand(x.shape[0], S)[..., None]  # [B,S,1]
    blocks = blocks.scatter(-1, own, float("-inf"))  # [B,S,nb]
    return kl_to_scores(block_target(p, b), blocks), blocks, p


def shared_step(model, served, indexer, xs, n_queries):
    """IndexCache's multi-layer distillation for one source layer: its indexer (on its own input) against
    the mean of the head-mean attention of every layer that reuses its picks (the source included).
    served: those layers, the source first; xs {layer: x [B,T,dim]} -> loss."""
    x = xs[served[0]].detach().float()
    T = x.shape[1]
    S = min(n_queries, T)
    target = 0
    for layer in served:
        q, k = main_qk(model, layer, xs[layer].detach().float())
        target = target + attention_target(attention_probs(q[:, T - S :], k)) / len(served)  # [B,S,T]
    qi, ki, w = indexer.project(x)
    return kl_to_scores(target, index_scores(qi[:, T - S :], ki, w[:, T - S :]))


def one_head(indexer, cfg, x=None):
    """A one-head copy of a LightningIndexer (MSA's index branch has one head), as a warm start: the same
    key projection, and the query rows of the head whose weight w[t,j] is largest on average over the
    tokens x [B,T,dim] (a head with negative weights ranks keys upside down), or, without x, the head
    with the largest weight norm."""
    new = LightningIndexer(replace(cfg, index_n_heads=1)).to(indexer.wk.weight.device)
    with torch.no_grad():
        norm = indexer.weights_proj.weight.norm(dim=1)  # [h]
        j = int((indexer.weights_proj(x.float()).mean((0, 1)) if x is not None else norm).argmax())
        d = indexer.head_dim
        new.wk.load_state_dict(indexer.wk.state_dict())
        new.k_norm.load_state_dict(indexer.k_norm.state_dict())
        new.wq_b.weight.copy_(indexer.wq_b.weight[j * d : (j + 1) * d])
        new.weights_proj.weight.copy_(indexer.weights_proj.weight[j : j + 1])
    return new


def train_loop(
    indexers, loss_of, inputs, steps, lr=1e-3, batch_size=2, n_queries=128, topk=128, log_every=10, seed=0
):
    """The stage-1 loop of every member's indexer: one AdamW over {layer: LightningIndexer}, the stage-1
    schedule and windowing (a step draws batch_size windows and a random prefix length, long enough
    that the last n_queries queries see more than topk keys). loss_of(layer, window) -> scalar, where
    window(layer) gives that layer's input [B,L,dim]. A generator of progress dicts
    {"step", "steps", "loss", "seconds", "layers": {layer: loss}}. inputs: {layer: x [N,T,dim]}."""
    layers = sorted(indexers)
    params = [p.requires_grad_(True) for layer in layers for p in indexers[layer].parameters()]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    N, T = next(iter(inputs.values())).shape[:2]
    lo = min(T, topk + n_queries)
    t0 = time.time()
    for step in range(1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor(step - 1, steps)
        rows = torch.randint(N, (min(batch_size, N),), generator=g)  # [B]
        L = int(torch.randint(lo, T + 1, (1,), generator=g))
        losses = {}

        def window(l, rows=rows, L=L):  # this step's windows of layer l's input [B,L,dim]
            return inputs[l][rows.to(inputs[l].device), :L]

        for layer in layers:
            loss = loss_of(layer, window)
            loss.backward()
            losses[layer] = loss.item()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step % log_every == 0 or step == steps:
            mean = sum(losses.values()) / len(losses)
            yield {"step": step, "steps": steps, "loss": mean, "seconds": time.time() - t0, "layers": losses}
    for layer in layers:
        indexers[layer].requires_grad_(False)


def train_compressed(model, indexers, inputs, c=4, steps=60, window=0, sink=0, **kw):
    """Stage 1 with pooled keys (and, with a window and sink, V4's CSA) for {layer: LightningIndexer}."""
    model.requires_grad_(False)
    n = kw.get("n_queries", 128)
    step = lambda l, win: compressed_step(model, l, indexers[l], win(l), n, c, window, sink)[0]  # noqa: E731
    yield from train_loop(indexers, step, inputs, steps, **kw)


def train_block(model, indexers, inputs, b=8, steps=60, **kw):
    """MSA's block indexer for {layer: one-head LightningIndexer}: KL to the block-pooled attention."""
    model.requires_grad_(False)
    n = kw.get("n_queries", 128)
    step = lambda l, win: block_step(model, l, indexers[l], win(l), n, b)[0]  # noqa: E731
    yield from train_loop(indexers, step, inputs, steps, **kw)


def train_shared(model, indexers, served, inputs, steps=60, **kw):
    """Training-aware sharing for {source layer: LightningIndexer}; served {source: [layers it serves]}."""
    model.requires_grad_(False)
    n = kw.get("n_queries", 128)

    def step(source, win):
        return shared_step(model, served[source], indexers[source], {l: win(l) for l in served[source]}, n)

    yield from train_loop(indexers, step, inputs, steps, **kw)


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
    for entry in train_compressed(model, mine, train_x, args.c, args.steps, lr=args.lr, topk=args.k):
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
