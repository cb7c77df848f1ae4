"""Run a real model on a text once and return, for the requested layers, what attention did.

`trace_layers` gives one `LayerTrace` per requested layer: the tokens, the attention input x, the dense
attention (per head and head-mean) and, when the layer has a lightning indexer, its index scores, the
top-k selection, the sparse attention over it and the recall of the dense mass. Only requested layers
are materialised (H·T² floats each); q and k are kept, so `LayerTrace.select(k)` re-selects at another
budget (or takes any baseline selection) without running the model again.
`next_token_logprobs` / `compare_runs` score the text with dense, DSA-in-every-layer and baseline runs.
"""

from dataclasses import dataclass, replace

import torch

from dsa_core.analysis.index_rows import index_map
from dsa_core.analysis.progress import layer_progress
from dsa_core.fast.cpu import index_scores_fast, select_topk_fast
from dsa_core.host.logprobs import next_token_logprobs
from dsa_core.host.selects import dsa_select, random_select, window_select
from dsa_core.host.text import PreparedText, TextInputError, prepare_ids
from dsa_core.host.tokenizer import display_tokens
from dsa_core.metrics import attention_recall, dense_maps
from dsa_core.pipeline import select, top_k
from dsa_core.sparse import sparse_attention_probs
from dsa_core.topk import select_topk


@dataclass
class LayerTrace:
    layer: int
    tokens: list  # [T] display strings ('·' = space, '↵' = newline)
    x: torch.Tensor  # [T, dim] attention input: the normed hidden state
    q: torch.Tensor  # [T, H, D] queries after RoPE (kept for cheap re-selection)
    k: torch.Tensor  # [T, H_kv, D] keys after RoPE
    dense_probs: torch.Tensor | None  # [H, T, T] dense attention per head (None if per_head=False)
    dense_mean: torch.Tensor  # [T, T] head-mean: the distribution the indexer learns
    index_scores: torch.Tensor | None = None  # [T, T] lightning indexer scores (-inf in the future)
    topk_indices: torch.Tensor | None = None  # [T, K] selected positions, best first, -1 = empty
    sparse_probs: torch.Tensor | None = None  # [H, T, K] attention over the selected slots
    recall: torch.Tensor | None = None  # [T] dense head-mean mass inside the selection
    indexer: object = None  # the layer's LightningIndexer (index_rows recomputes rows when no map is kept)

    def select(self, k=None, topk_indices=None):
        """A copy re-selected at budget k from the index scores, or with given topk_indices [T, K]."""
        if topk_indices is None:
            if self.index_scores is None and self.indexer is None:
                raise ValueError("this layer has no indexer scores; pass topk_indices (e.g. window_topk)")
            topk_indices = _topk_rows(self, min(k, len(self.tokens)))  # [T, K]
        sparse = sparse_attention_probs(self.q[None], self.k[None], topk_indices[None])  # [1,T,H,K]
        return replace(
            self,
            topk_indices=topk_indices,
            sparse_probs=sparse[0].permute(1, 0, 2),  # [H,T,K]
            recall=attention_recall(self.dense_mean, topk_indices),
        )  # [T]


def _topk_rows(rec, k):
    """select_topk on the trace's index scores: the stored map, or the selection pipeline from x."""
    if rec.index_scores is not None:
        return select_topk(rec.index_scores[None], k)[0]  # [T, K]
    return select(rec.indexer, rec.x[None], top_k(k, select_topk_fast), score=index_scores_fast)[0][0]


def encode(loaded, text_or_ids, max_tokens=None):
    """PreparedText from a text (cleaned, cut to fit) or from token ids (checked, cut to fit)."""
    limit = min(max_tokens or loaded.model.cfg.max_seq_len, loaded.model.cfg.max_seq_len)
    if isinstance(text_or_ids, (str, bytes, bytearray)):
        return prepare_ids(loaded.tokenizer, text_or_ids, limit)
    ids = [int(i) for i in torch.as_tensor(text_or_ids).reshape(-1)]
    V = loaded.model.cfg.vocab_size
    if not ids or min(ids) < 0 or max(ids) >= V:
        raise TextInputError(f"Token ids must be a non-empty list of ints in [0, {V}).", "Pass valid ids.")
    notes = [f"cut {len(ids) - limit} token(s) to fit the {limit}-token limit"] if len(ids) > limit else []
    return PreparedText(
        ids=ids[:limit],
        text=loaded.tokenizer.decode(ids[:limit]),
        n_cut=max(0, len(ids) - limit),
        notes=notes,
    )


@torch.no_grad()
def trace_layers(
    loaded,
    text_or_ids,
    layers,
    topk=None,
    max_tokens=None,
    per_head=True,
    select=None,
    reselect=True,
    progress=None,
    resume=None,
    save=None,
    keep_index_map=True,
):
    """(PreparedText, {layer: LayerTrace}) from one run of the model (batch 1), stopped at max(layers).

    topk: budget K for the indexer selection (default: the indexer's index_topk); ignored for layers
    without an indexer. select: the attention step of the run itself (None = dense, see model.py).
    reselect=False skips that selection (the app ranks every k itself). progress(fraction, message),
    if given, is called after each layer and each block of maps; it may raise to stop the work.
    resume / save: checkpoints of the residual stream (model.hidden), so a later trace of a deeper
    layer of the same text runs only the layers after the last checkpoint. keep_index_map=False keeps
    no [T, T] index-score map (index_scores None): analysis/index_rows.py recomputes rows from x.
    """
    prep = encode(loaded, text_or_ids, max_tokens)
    model, layers = loaded.model, sorted(set(int(l) for l in layers))
    if not layers or layers[0] < 0 or layers[-1] >= len(model.layers):
        raise ValueError(f"layers must lie in [0, {len(model.layers)}), got {layers}")
    say = progress or (lambda f, msg: None)
    ids = torch.tensor([prep.ids])  # [1,T]
    first, n = (resume[0] if resume else 0), layers[-1] + 1
    report = lambda l: say(0.5 * (l + 1 - first) / (n - first), f"model, layer {l}")  # noqa: E731
    with layer_progress(model, report):
        _, acts = model.hidden(
            ids, select=select, keep=set(layers), stop_after=layers[-1], resume=resume, save=save
        )
    tokens = display_tokens(loaded.tokenizer, prep.ids)
    out = {}
    for l in layers:
        x, q, k, _, _ = (a[0] if a is not None else None for a in acts[l])  # drop batch: [T,..]
        probs, mean = dense_maps(q, k, per_head, lambda f: say(0.5 + 0.3 * f, "dense attention maps"))
        rec = LayerTrace(l, tokens, x, q, k, probs, mean)
        indexer = model.layers[l].self_attn.indexer
        if indexer is not None:
            rec = replace(rec, indexer=indexer)
            if keep_index_map:
                scores = index_map(indexer, x, lambda f: say(0.8 + 0.2 * f, "index scores"))
                rec = replace(rec, index_scores=scores)
            rec = rec.select(topk or indexer.index_topk) if reselect else rec
        out[l] = rec
    return prep, out


@dataclass
class LogProbRun:
    mode: str  # "dense", "dsa", "window", "random"
    logprobs: torch.Tensor  # [T-1] log p(token t+1 | tokens ≤ t)
    top1: torch.Tensor  # [T-1] the model's most likely next token after each position

    @property
    def perplexity(self):
        return float(torch.exp(-self.logprobs.mean()))


def compare_runs(loaded, text_or_ids, topk, modes=("dense", "dsa", "window"), max_tokens=None, n_sinks=4):
    """{mode: LogProbRun} for one text: dense, DSA in every layer (needs indexers), window, random."""
    ids = encode(loaded, text_or_ids, max_tokens).ids
    if len(ids) < 2:
        raise TextInputError("Scoring needs at least 2 tokens.", "Use a longer text.")
    selects = {
        "dense": None,
        "dsa": dsa_select(topk),
        "window": window_select(topk, n_sinks),
        "random": random_select(topk),
    }
    return {m: LogProbRun(m, *next_token_logprobs(loaded.model, ids, selects[m])) for m in modes}
