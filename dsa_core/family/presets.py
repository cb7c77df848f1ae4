"""The family as the real systems configure it: one preset per system, its published configuration, and
the member that runs it on our host (SmolLM2-135M, 30 layers, the shipped 4 × 64 indexers, k = 128 of
up to 8,192 tokens), with the scale stated beside it. Sources are public (docs/family.md quotes them).

Every preset that runs reads k = 128 tokens per query (equal tokens read); what differs is how they are
found and what finding them costs (cost.py). The trained members use the weights files named below,
trained by scripts/gpu_family_members.py (run files in assets/indexers/runs/).
"""

from dataclasses import dataclass
from pathlib import Path

from dsa_core.family.in_model import Member

INDEXERS = Path(__file__).resolve().parents[2] / "assets" / "indexers"
BLOCK_PATH = INDEXERS / "smollm2_msa_block_b8.safetensors"  # one-head block indexers (MSA), b = 8
CSA_PATH = INDEXERS / "smollm2_csa_c4_window.safetensors"  # pooled keys with window and sink (V4 CSA)
SHARED_PATH = INDEXERS / "smollm2_shared_every4.safetensors"  # sources trained for the layers they serve
K = 128  # the budget every preset reads, in tokens
RUN = INDEXERS / "runs" / "family_members_8192.json"  # every member and preset measured (equal tokens read)


@dataclass(frozen=True)
class Preset:
    name: str
    slug: str  # its name on the command line: python -m dsa_core.evaluate ... --member SLUG
    member: Member | None  # None: described, not run (`ours` says why)
    theirs: str  # the published configuration
    ours: str  # the same mechanism at our scale
    sources: str  # where the configuration is published


PRESETS = [
    Preset(
        "DeepSeek-V3.2",
        "v3.2",
        Member("token"),
        "lightning indexer of 64 heads × 128 in every layer, top-2,048 tokens of up to 128K",
        "indexer of 4 heads × 64 in all 30 layers, top-128 of up to 8,192 tokens (1.6 % of the context)",
        "DeepSeek-V3.2-Exp report, section 1; deepseek-ai/DeepSeek-V3.2-Exp inference/config_671B_v3.2.json",
    ),
    Preset(
        "DeepSeek-V4-Flash CSA",
        "v4-csa",
        Member("compressed", compress=4, window=28, sink=4, weights=str(CSA_PATH), title="V4-Flash CSA"),
        "every 4 tokens compressed into 1 entry (a learned compressor); an indexer of 64 × 128 picks the "
        "top-512 entries; plus a 128-token sliding window and an attention sink in the softmax denominator",
        "groups of 4 mean-pooled keys; the 4 × 64 indexer, trained for them, picks 24 groups (96 tokens); "
        "plus a 28-token window and 4 sink tokens (the first tokens, as our host has no sink logit): 128 "
        "tokens read, the window about a quarter of the selected part as in V4-Flash (128 : 512)",
        "sgl-project/sglang-jax#1678; anthony-chaudhary/fak#12636; ggml-org/llama.cpp#24162; ROCm/ATOM#664",
    ),
    Preset(
        "DeepSeek-V4-Flash HCA",
        "v4-hca",
        None,
        "every 128 tokens compressed into 1 entry, no indexer: every compressed entry is attended, plus the "
        "128-token window",
        "not run: it selects nothing, and attending compressed entries needs a trained compressor that our "
        "frozen host does not have",
        "sgl-project/sglang-jax#1678; ROCm/ATOM#664",
    ),
    Preset(
        "DeepSeek-V4.1 two-level",
        "v4.1-two-level",
        Member("two-level", block=8, blocks=511, sources=True, every=4, title="V4.1 two-level"),
        "a candidate-source layer scores every position and publishes its 2,048 best blocks of 8 per query; "
        "the index layers after it pick their top-512 inside those blocks",
        "blocks of 8 tokens; every 4th layer scores every key and publishes its 512 best blocks (32× the "
        "budget, as 2,048 × 8 over 512); the 3 layers after it pick their top-128 inside them",
        "sgl-project/sglang#38944; sgl-project/sglang#40574",
    ),
    Preset(
        "GLM-5.2 IndexShare",
        "glm-5.2-indexshare",
        Member("shared", every=4, offset=3, title="GLM-5.2 IndexShare"),
        "78 layers: 21 full layers (0, 1, 2, then every 4th) compute top-2,048 with a 32 × 128 indexer; the "
        "57 shared layers reuse the previous full layer's picks",
        "30 layers: 10 compute (0-3, then 7, 11, …, 27) with the shipped indexers; 20 reuse",
        "ROCm/ATOM#1260; tenstorrent/tt-metal#49315; radixark/miles#1376",
    ),
    Preset(
        "IndexCache, training-aware",
        "indexcache-trained",
        Member("shared", every=4, weights=str(SHARED_PATH), title="IndexCache training-aware (1 in 4)"),
        "1 indexer in 4 kept (75 % removed) on a 30B DSA model; each kept indexer is trained against the "
        "averaged attention of all the layers it serves (multi-layer distillation)",
        "8 of 30 layers (0, 4, …, 28) compute; their indexers are trained against the mean head-mean "
        "attention of the 4 layers each serves (2 for layer 28)",
        "arXiv 2603.12201 (abstract); THUDM/IndexCache README",
    ),
    Preset(
        "MiniMax-M3 MSA",
        "msa",
        Member("block", block=8, dot=True, weights=str(BLOCK_PATH), title="M3 MSA"),
        "a one-head index branch scores keys by a scaled dot product (no ReLU), max-pooled over 128-token "
        "blocks; the top-16 blocks per GQA group, the local block forced (2,048 tokens); the indexer "
        "trained with a KL loss to the full attention",
        "a one-head indexer of 64 dims, trained on the block-pooled KL target; blocks of 8, 16 blocks "
        "(128 tokens), the local block forced, one block set for all heads",
        "ggml-org/llama.cpp#24908; tenstorrent/tt-metal#48205; MiniMax-AI/MSA README",
    ),
    Preset(
        "HISA",
        "hisa",
        Member("two-level", block=64, blocks=31, title="HISA"),
        "a drop-in indexer: a block-level filter scores pooled block representatives, then the original "
        "indexer runs only inside the kept blocks; no training",
        "blocks of 64 tokens scored by their mean key with the shipped indexer; the own block and the 31 "
        "best (2,048 candidate tokens, 16× the budget); token top-128 inside",
        "arXiv 2603.28458 (abstract); antirez/ds4#258",
    ),
]


def runnable(presets=PRESETS):
    """{slug: Member} of the presets that run (and whose weights, if any, are present)."""
    return {
        p.slug: p.member
        for p in presets
        if p.member is not None and (not p.member.weights or Path(p.member.weights).exists())
    }
