"""DSAConfig: one frozen dataclass with DeepSeek-V3.2's field names and the 671B values as defaults.

The defaults are `inference/config_671B_v3.2.json` plus the `ModelArgs` defaults it leaves unset
(official repo deepseek-ai/DeepSeek-V3.2-Exp, `inference/model.py`, class `ModelArgs`), so every
formula and cost number reads like the paper. Smaller models are `dataclasses.replace(V32_671B, ...)`.
Left out: the MoE fields (experts, routing) and the demo-only `max_batch_size`; DSA does not use them.

Glossary (field -> paper symbol): `index_n_heads` -> H_I, `index_head_dim` -> d_I,
`index_topk` -> k, `weights_proj` output -> w_{t,j}, `q_lora_rank` -> width of the query latent qr.
"""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class DSAConfig:
    """Sizes of one DSA model; fields named as in DeepSeek's `ModelArgs`, defaults = 671B."""

    # model
    vocab_size: int = 129280
    dim: int = 7168  # hidden size D of x (the attention-normed hidden state)
    n_layers: int = 61  # every layer has its own indexer and its own top-k
    # main attention (MLA for DeepSeek; Llama-style GQA for small hosts)
    n_heads: int = 128  # H, query heads
    n_kv_heads: int = 128  # H_kv; 128 = MLA's "MHA mode" in prefill (one K/V per head)
    head_dim: int = 192  # D, q/k head dim; MLA: qk_nope_head_dim + qk_rope_head_dim
    q_lora_rank: int = 1536  # r_q, width of qr = RMSNorm(W_qa x); 0 = no latent (queries from x)
    kv_lora_rank: int = 512  # r_kv, MLA's compressed KV latent c_kv
    qk_nope_head_dim: int = 128  # MLA per-head dims without position
    qk_rope_head_dim: int = 64  # MLA per-head dims with RoPE (also the indexer's RoPE part)
    v_head_dim: int = 128  # Dv
    # rope (671B uses YaRN on top of theta; rope.py implements plain RoPE, see its docstring)
    rope_theta: float = 10000.0
    rope_factor: float = 40.0
    original_seq_len: int = 4096
    beta_fast: int = 32
    beta_slow: int = 1
    mscale: float = 1.0
    max_seq_len: int = 163840  # HF max_position_embeddings (the demo's own default is 16384)
    # index (the lightning indexer and the selection)
    index_n_heads: int = 64  # H_I, indexer heads (h inside indexer.py)
    index_head_dim: int = 128  # d_I, indexer head dim (d inside indexer.py)
    index_topk: int = 2048  # k, tokens each query attends to
    index_rope_head_dim: int = 0  # RoPE'd leading dims of each index head; 0 = qk_rope_head_dim (official)
    scale_fmt: str = "ue8m0"  # FP8 scales rounded up to powers of two (fp8.py only)

    def __post_init__(self):
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads={self.n_heads} is not divisible by n_kv_heads={self.n_kv_heads}")
        for name in ("index_n_heads", "index_head_dim", "index_topk"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        r = self.index_rope_dim
        if r % 2 or not 0 < r <= self.index_head_dim:
            raise ValueError(
                f"index RoPE dims {r} must be even and within index_head_dim={self.index_head_dim}"
            )

    @property
    def index_rope_dim(self) -> int:
        """Leading dims of each indexer head that get RoPE. Official rule (DeepSeek-V3.2-Exp
        inference/model.py, class Indexer: rope_head_dim = args.qk_rope_head_dim; 671B: 64 of 128);
        capped at the indexer head; a preset may set index_rope_head_dim to choose otherwise."""
        return self.index_rope_head_dim or min(self.qk_rope_head_dim, self.index_head_dim)

    @property
    def uses_query_latent(self) -> bool:
        """True when the indexer reads its queries from qr (MLA hosts), False when from x."""
        return self.q_lora_rank > 0


V32_671B = DSAConfig()

# Tiny sizes for the app, the notebooks and the tests (MQA, d = 64, indexer 4 heads x 32;
# their cost in docs/cost.md). Everything runs on a laptop CPU in milliseconds.
TEACHING = replace(
    V32_671B,
    vocab_size=256,
    dim=256,
    n_layers=2,
    n_heads=4,
    n_kv_heads=1,
    head_dim=64,
    q_lora_rank=64,
    kv_lora_rank=64,
    qk_nope_head_dim=32,
    qk_rope_head_dim=32,
    v_head_dim=64,
    max_seq_len=4096,
    index_n_heads=4,
    index_head_dim=32,
    index_topk=64,
    index_rope_head_dim=16,  # half the indexer head, the 671B proportion (64 of 128)
)

# The real host model of this project: SmolLM2-135M (Llama architecture, GQA 9 query / 3 KV heads,
# no query latent, so the indexer takes its queries from x). Indexer 4 heads x 64 (256 multiply-adds
# per query-key pair, 2/9 of the main attention's 1,152): the size of the shipped stage-1 indexers,
# chosen by held-out recall (assets/indexers/MODEL_CARD.md).
SMOLLM2_HOST = replace(
    V32_671B,
    vocab_size=49152,
    dim=576,
    n_layers=30,
    n_heads=9,
    n_kv_heads=3,
    head_dim=64,
    q_lora_rank=0,
    kv_lora_rank=0,
    qk_nope_head_dim=0,
    qk_rope_head_dim=64,
    v_head_dim=64,
    rope_theta=100000.0,
    rope_factor=1.0,
    max_seq_len=8192,
    index_n_heads=4,
    index_head_dim=64,
    index_topk=128,
)

PRESETS = {"v3.2-671b": V32_671B, "teaching": TEACHING, "smollm2-135m": SMOLLM2_HOST}
