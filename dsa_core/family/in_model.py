"""The DSA family in the host model: each member as a `select` for the model's plug-in point.

A `Member` names a member and its parameters at a token budget k; `member_select(m, k)` returns the
`select(attn, x, q, k)` that host/model.py calls in every layer, and `layer_picks` gives one layer's
selection from its attention input x (for recall and the app). The math lives in selectors.py;
here it only meets a lightning indexer: the layer's own, or one from the member's own weights file
(`weights`: e.g. the compressed-keys member with indexers trained for pooled keys). Long texts are
scored through the selection pipeline (dsa_core/pipeline.py), so no T × T matrix is built.
"""

from dataclasses import dataclass, replace
from pathlib import Path

from dsa_core.family import selectors
from dsa_core.host.indexers import COMPRESSED_PATH, cached_indexers
from dsa_core.host.selects import dsa_select
from dsa_core.indexer import index_scores
from dsa_core.pipeline import select, top_k

NAMES = ("token", "block", "compressed", "shared")


@dataclass(frozen=True)
class Member:
    """One member of the selectors. Parameters unused by a member are ignored."""

    name: str = "token"  # token | block | compressed | shared
    block: int = 0  # block top-n: b tokens per block (0: k // 16, i.e. 16 blocks as in MSA's 16 × 128)
    pool: str = "max"  # block top-n: max or mean over a block's index scores
    local: bool = True  # block top-n: the query's own block is always kept
    compress: int = 4  # compressed keys: c tokens per pooled key
    every: int = 4  # shared: every r-th layer computes (GLM-5.2 IndexShare uses 4)
    computing: tuple = ()  # shared: explicit computing layers (e.g. chosen by overlap); overrides every
    weights: str = ""  # token/block/compressed: an indexers file to score with ("": the layer's own)

    def block_size(self, k):
        return self.block or max(1, k // 16)

    def label(self, k):
        if self.name == "block":
            b = self.block_size(k)
            return f"block top-{k // b} (b = {b}, {self.pool})"
        if self.name == "compressed":
            return f"compressed keys (c = {self.compress}{self.weights_note()})"
        if self.name == "shared":
            rule = f"{len(self.computing)} chosen layers" if self.computing else f"every {self.every}th layer"
            return f"shared indices ({rule} compute)"
        return "token top-k" + (f" ({self.weights_note()[2:]})" if self.weights else "")

    def weights_note(self):
        """The label's note on the weights: ', pooled-key weights' (COMPRESSED_PATH), ', weights FILE', ''."""
        if not self.weights:
            return ""
        name = Path(self.weights).name
        return ", pooled-key weights" if name == COMPRESSED_PATH.name else f", weights {name}"

    def computing_layers(self, n_layers):
        return (
            sorted(set(self.computing) | {0}) if self.computing else selectors.every_r(n_layers, self.every)
        )

    def computes(self, layer):
        return layer == 0 or (layer in self.computing if self.computing else layer % self.every == 0)


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
    """Member v's (score, pick) for the selection pipeline at budget k over T tokens."""
    if v.name == "compressed":
        return selectors.compressed_score(v.compress), selectors.compressed_pick(v.compress, k)
    if v.name == "token":
        return index_scores, top_k(min(k, T))
    if v.name == "block":
        b = v.block_size(k)
        return index_scores, lambda scores, end: selectors.block_topn(
            scores, b, max(1, k // b), v.pool, v.local
        )
    raise ValueError(f"layer_picks handles token, block and compressed, not {v.name!r}")


def layer_picks(indexer, x, v, k):
    """One layer's selection by member v at budget k: x [B,T,dim] -> int64 [B,T,K] (-1 = empty).

    "shared" is not a per-layer rule (it needs another layer's picks): use shared_select or
    selectors.share_sources for it.
    """
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


def member_select(v, k):
    """The model plug-in for member v at budget k (v.weights: its own indexers, else each layer's)."""
    if v.name == "token" and not v.weights:
        return dsa_select(k)
    if v.name == "shared":
        return shared_select(dsa_select(k), v.computes)

    def select(attn, x, q, key):
        if attn.indexer is None and not v.weights:
            raise ValueError(f"layer {attn.layer_id} has no indexer; call attach_indexers() first")
        return layer_picks(member_indexer(v, attn.layer_id, attn.indexer, x.device), x, v, k)  # [B,T,K]

    return select
