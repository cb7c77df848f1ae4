"""A text through the model once, and what each requested layer's attention step saw, read back.

`trace_layers` gives one `LayerTrace` per requested layer: the tokens, the attention input x, the dense
attention (per head and head-mean) and, when the layer has a lightning indexer, its index scores, the
top-k selection, the sparse attention over it and the recall of the dense mass. Only requested layers
are materialised (H·T² floats each); q and k are kept, so `LayerTrace.select(k)` re-selects at another
budget (or takes any baseline selection) without running the model again. `compare_runs` scores the
text with dense, DSA-in-every-layer and baseline runs. `layer_progress` reports a run layer by layer
(the app's progress bar; Streamlit raises there to stop it).
Index scores of a long text are not kept as a [T, T] map (268 MB at 8,192 tokens): `index_rows(rec, s0,
s1)` and `ScoreRows(rec)` recompute rows from x through the selection pipeline's score function
(fast.cpu.index_scores_fast, the tested twin of indexer.index_scores).
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch

from dsa_core.fast.cpu import index_scores_fast, select_topk_fast
from dsa_core.host.logprobs import next_token_logprobs
from dsa_core.host.selects import dsa_select, random_select, window_select
from dsa_core.host.text import PreparedText, TextInputError, prepare_ids
from dsa_core.host.tokenizer import display_tokens
from dsa_core.metrics import attention_recall, dense_maps
from dsa_core.pipeline import row_blocks, select, top_k
from dsa_core.sparse import sparse_attention_probs
from dsa_core.topk import select_topk

INDEX_SCORES = index_scores_fast  # computes every index score of a trace (named on pages: fast/twins.py)


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
    return select(rec.indexer, rec.x[None], top_k(k, select_topk_fast), score=INDEX_SCORES)[0][0]


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


_local = threading.local()  # the progress callback of the model run on this thread (None: no report)


def _report_layer(block, args, output):
    callback = getattr(_local, "callback", None)
    if callback is not None:
        callback(block.self_attn.layer_id)


@contextmanager
def layer_progress(model, callback):
    """Call callback(layer) after each layer of model runs made on this thread inside the block.

    A forward hook on every layer, registered once per model, reads a thread-local callback: runs on
    other threads (other browser sessions) are not reported. The callback may raise to stop the run."""
    if not getattr(model, "_progress_hooks", False):
        for block in model.layers:
            block.register_forward_hook(_report_layer)
        model._progress_hooks = True
    before, _local.callback = getattr(_local, "callback", None), callback
    try:
        yield
    finally:
        _local.callback = before


@torch.no_grad()
def projected(rec):
    """The layer's indexer inputs for the whole text: (q [1,T,h,d], k [1,T,d], w [1,T,h]), 8 MB at 8,192."""
    if rec.indexer is None:
        raise ValueError("this layer has no indexer: it has no index scores")
    return rec.indexer.project(rec.x[None])


@torch.no_grad()
def index_rows(rec, s0, s1, proj=None):
    """Rows s0..s1-1 of the layer's index scores: the stored map's rows, or recomputed from x with the
    layer's indexer (proj: projected(rec), when the caller keeps it). -> fp32 [s1-s0, T], -inf after
    each query's position."""
    if rec.index_scores is not None:
        return rec.index_scores[s0:s1]
    qi, ki, w = projected(rec) if proj is None else proj  # [1,T,h,d], [1,T,d], [1,T,h]
    T = ki.shape[1]
    out = torch.full((s1 - s0, T), float("-inf"))  # [s1-s0, T]
    out[:, :s1] = INDEX_SCORES(qi[:, s0:s1], ki[:, :s1], w[:, s0:s1])[0]  # keys a block can see
    return out


class ScoreRows:
    """A [T, T] index-score map that is never stored whole: `scores[t]` is row t and `scores[a:b]` rows
    a..b-1 (numpy float32, computed by index_rows), `np.asarray(scores)` the whole map (only where a
    figure needs it). viz.pool reads it one block-row at a time (it looks for `rows_of`)."""

    def __init__(self, rec):
        self.rec, self.proj = rec, None
        T = rec.x.shape[0]
        self.shape, self.ndim, self.dtype = (T, T), 2, np.dtype(np.float32)

    def __len__(self):
        return self.shape[0]

    def rows_of(self, s0, s1):
        if self.proj is None and self.rec.index_scores is None:
            self.proj = projected(self.rec)  # once: every later block of rows reuses it
        return index_rows(self.rec, s0, s1, self.proj).numpy()  # [s1-s0, T]

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            t = int(key) % self.shape[0]
            return self.rows_of(t, t + 1)[0]  # [T]
        if isinstance(key, slice) and key.step in (None, 1):
            s0, s1, _ = key.indices(self.shape[0])
            return self.rows_of(s0, max(s0, s1))  # [s1-s0, T]
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None):
        T = self.shape[0]
        out = np.concatenate([self.rows_of(s0, s1) for s0, s1, _ in row_blocks(T, T)])
        return out if dtype is None else out.astype(dtype)


def keep_scores(T):
    """A pipeline pick that keeps the block's scores, padded with -inf to T keys: [1,s,end] -> [1,s,T]."""
    return lambda scores, end: torch.nn.functional.pad(scores, (0, T - end), value=float("-inf"))


@torch.no_grad()
def index_map(indexer, x, progress=None):
    """Index scores of one layer through the selection pipeline, keeping every score: x [T,dim] -> [T,T]
    (-inf above the diagonal). Scored by indexer.index_scores' one-matmul twin fast.cpu.index_scores_fast
    (equal to float rounding, tests/fast/test_cpu_twins.py): about half the time (benchmarks/cpu_paths.py)."""
    T = x.shape[0]
    scores, _ = select(indexer, x[None], keep_scores(T), INDEX_SCORES, rows=256, progress=progress)
    return scores[0]  # [T, T]
