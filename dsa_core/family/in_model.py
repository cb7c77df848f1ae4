"""The DSA family in the host model: each member as a `select` for the model's plug-in point.

A `Member` names a member and its parameters at a token budget k; `member_select(m, k)` returns the
`select(attn, x, q, k)` that host/model.py calls in every layer, and `layer_picks` gives one layer's
selection from its attention input x (for recall and the app). The math lives in selectors.py;
here it only meets a lightning indexer: the layer's own, or one from the member's own weights file
(`weights`: e.g. the compressed-keys member with indexers trained for pooled keys). Long texts are
scored through the selection pipeline (dsa_core/pipeline.py), so no T × T matrix is built. Two-level
selection is two passes of it (candidate_blocks, then two_level_picks); sharing and V4.1's candidates
carry one layer's result to the next (shared_select, candidate_select).
"""

from dataclasses import dataclass, replace
from pathlib import Path

from dsa_core.family import selectors
from dsa_core.host.indexers import COMPRESSED_PATH, cached_indexers
from dsa_core.host.selects import dsa_select
from dsa_core.indexer import index_scores
from dsa_core.pipeline import select, top_k

NAMES = ("token", "block", "compressed", "shared", "two-level")


@dataclass(frozen=True)
class Member:
    """One member of the family. Parameters unused by a member are ignored."""

    name: str = "token"  # token | block | compressed | shared | two-level
    block: int = 0  # block top-n, two-level: b tokens per block (0: k // 16, as in MSA's 16 × 128)
    pool: str = "max"  # block top-n: max or mean over a block's index scores
    local: bool = True  # block top-n: the query's own block is always kept
    dot: bool = False  # block top-n: MSA's score (one head, plain dot product) instead of Eq. 1
    compress: int = 4  # compressed keys: c tokens per pooled key
    window: int = (
        0  # compressed keys: the last `window` tokens always kept; two-level: the blocks holding them
    )
    sink: int = 0  # compressed keys: the first `sink` tokens always kept; two-level: > 0 keeps block 0
    blocks: int = 0  # two-level: m candidate blocks besides the query's own
    sources: bool = False  # two-level: candidates from the latest computing layer (V4.1), not pooled keys
    every: int = 4  # shared, two-level with sources: every r-th layer computes (GLM-5.2 IndexShare: 4)
    offset: int = 0  # shared: the first `offset` layers all compute (GLM-5.2: 3), then every r-th
    computing: tuple = ()  # shared: explicit computing layers (e.g. chosen by overlap); overrides every
    weights: str = ""  # an indexers file to score with ("": each layer's own)
    title: str = ""  # a preset's name, shown instead of the label

    def block_size(self, k):
        return self.block or max(1, k // 16)

    def label(self, k):
        if self.title:
            return self.title
        note = self.weights_note()
        if self.name == "block":
            b = self.block_size(k)
            return f"block top-{k // b} (b = {b}, {'one-head dot product' if self.dot else self.pool}{note})"
        if self.name == "compressed":
            extra = f", window {self.window} + sink {self.sink}" if self.window or self.sink else ""
            return f"compressed keys (c = {self.compress}{extra}{note})"
        if self.name == "shared":
            rule = f"{len(self.computing)} chosen layers" if self.computing else f"every {self.every}th layer"
            return f"shared indices ({rule} compute{note})"
        if self.name == "two-level":
            how = f"candidates from every {self.every}th layer" if self.sources else "pooled-key blocks"
            how += ", first block kept" if self.sink else ""
            how += f", last {self.window} tokens' blocks kept" if self.window else ""
            return f"two-level (b = {self.block_size(k)}, {self.blocks} blocks, {how}{note})"
        return "token top-k" + (f" ({note[2:]})" if note else "")

    def weights_note(self):
        """The label's note on the weights: ', pooled-key weights' (COMPRESSED_PATH), ', weights FILE', ''."""
        if not self.weights:
            return ""
        name = Path(self.weights).name
        return ", pooled-key weights" if name == COMPRESSED_PATH.name else f", weights {name}"

    def computing_layers(self, n_layers):
        if self.computing:
            return sorted(set(self.computing) | {0})
        return selectors.every_r(n_layers, self.every, self.offset)

    def computes(self, layer):
        if self.computing:
            return layer == 0 or layer in self.computing
        return max(layer - self.offset, 0) % self.every == 0

    def cost_kwargs(self, k, n_layers, heads=None):
        """member_cost's keyword arguments (family/cost.py); heads: the member's indexer width relative
        to the shape's (h·d of its own indexer over the shape's), None = the same."""
        share = len(self.computing_layers(n_layers)) / n_layers
        return {
            "block": {"b": self.block_size(k), "heads": heads},
            "compressed": {"c": self.compress},
            "shared": {"share": share},
            "two-level": {
                "b": self.block_size(k),
                "m": self.blocks,
                "share": share if self.sources else None,
            },
        }.get(self.name, {})


def parse(name, **params):
    """A Member from its name (clear message for an unknown one) and optional parameters."""
    if name not in NAMES:
        raise ValueError(f"unknown member {name!r}; choose one of {', '.join(NAMES)}")
    return replace(Member(name), **{k: v for k, v in params.items() if v is not None})


def member_indexer(v, layer, attached, device="cpu"):
    """The indexer member v scores with in `layer`: the one in its weights file, else `attached`."""
    if not v.weights:
        return attached
    own = cached_indexers(str(v.weights), str(device))
    if layer >= len(own) or own[layer] is None:
        raise ValueError(f"{v.weights} holds no indexer for layer {layer}")
    return own[layer]


def member_pick(v, k, T):
    """Member v's (score, pick) for the selection pipeline at budget k over T tokens (one-pass members)."""
    if v.name == "compressed":
        if v.window or v.sink:
            return selectors.compressed_score(v.compress), selectors.window_pick(
                v.compress, k, v.window, v.sink
            )
        return selectors.compressed_score(v.compress), selectors.compressed_pick(v.compress, k)
    if v.name == "token":
        return index_scores, top_k(min(k, T))
    if v.name == "block":
        b, score = v.block_size(k), selectors.dot_scores if v.dot else index_scores
        return score, lambda scores, end: selectors.block_topn(scores, b, max(1, k // b), v.pool, v.local)
    raise ValueError(f"member_pick handles token, block and compressed, not {v.name!r}")


def candidate_blocks(indexer, x, v):
    """Two-level's coarse pass: the own block and the m best blocks of b tokens, by pooled keys (HISA)
    or by max-pooled token scores (V4.1's candidate source): x [B,T,dim] -> block ids [B,T,m+1]."""
    b = v.block_size(0)
    score = selectors.block_max_score(b) if v.sources else selectors.compressed_score(b)
    pick = selectors.top_blocks(b, v.blocks, first=v.sink > 0, local=max(1, -(-v.window // b)))
    return select(indexer, x, pick, score)[0]  # [B,T,m+1]


def two_level_picks(indexer, x, v, k, blocks=None):
    """Two-level's fine pass: token top-k (Eq. 1 and 2) inside the candidate blocks, this layer's own
    (blocks=None) or those a source layer published: x [B,T,dim] -> int64 [B,T,k]."""
    T = x.shape[1]
    blocks = candidate_blocks(indexer, x, v) if blocks is None else blocks  # [B,T,m+1]
    return select(indexer, x, selectors.within_blocks(blocks, v.block_size(0), min(k, T), T))[0]


def layer_picks(indexer, x, v, k):
    """One layer's selection by member v at budget k: x [B,T,dim] -> int64 [B,T,K] (-1 = empty).

    "shared" and two-level with sources are not per-layer rules (they need another layer's picks or
    candidates): use member_select, or selectors.share_sources for sharing.
    """
    if v.name == "two-level":
        return two_level_picks(indexer, x, v, k)
    score, pick = member_pick(v, k, x.shape[1])
    return select(indexer, x, pick, score)[0]  # [B,T,K]


def shared_select(inner, computes):
    """Sharing as a plug-in: layers where computes(layer) run `inner`, every other layer reuses the
    selection of the latest computing layer before it (layers run in order, so it is already there)."""
    held = {}

    def select(attn, x, q, k):
        if attn.layer_id == 0 or computes(attn.layer_id) or "picks" not in held:
            held["picks"] = inner(attn, x, q, k)  # [B,T,K]
        return held["picks"]

    return select


def candidate_select(v, k):
    """DeepSeek-V4.1's two levels as a plug-in: a computing layer runs token top-k and publishes its
    candidate blocks; every other layer picks its top-k inside the latest published blocks."""
    held = {}

    def select(attn, x, q, key):
        indexer = member_indexer(v, attn.layer_id, attn.indexer, x.device)
        if attn.layer_id == 0 or v.computes(attn.layer_id) or "blocks" not in held:
            held["blocks"] = candidate_blocks(indexer, x, v)  # [B,T,m+1]
            return layer_picks(indexer, x, Member("token"), k)  # [B,T,k]
        return two_level_picks(indexer, x, v, k, held["blocks"])  # [B,T,k]

    return select


def member_select(v, k):
    """The model plug-in for member v at budget k (v.weights: its own indexers, else each layer's)."""
    if v.name == "token" and not v.weights:
        return dsa_select(k)
    if v.name == "two-level" and v.sources:
        return candidate_select(v, k)
    if v.name == "shared":
        return shared_select(
            dsa_select(k) if not v.weights else member_select(Member("token", weights=v.weights), k),
            v.computes,
        )

    def select(attn, x, q, key):
        if attn.indexer is None and not v.weights:
            raise ValueError(f"layer {attn.layer_id} has no indexer; call attach_indexers() first")
        return layer_picks(member_indexer(v, attn.layer_id, attn.indexer, x.device), x, v, k)  # [B,T,K]

    return select
