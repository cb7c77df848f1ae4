"""Decoding with caches on the real SmolLM2: token by token equals the prefill, a DSA step reads at most
k cached keys and values per layer, the caches grow by one per step, and every family member decodes."""

import pytest
import torch

from dsa_core import sparse
from dsa_core.family import in_model
from dsa_core.fast import cpu as fast_cpu
from dsa_core.host import generate as gen
from dsa_core.host import model as host_model
from dsa_core.host.indexers import load_default_indexers
from dsa_core.host.model import attach_indexers

pytestmark = pytest.mark.slow
TEXT = (
    "The lighthouse keeper wrote in her log every evening. On the ninth of March the fog came in early, "
    "and the ship she had watched for three days turned north, past the rocks, towards the harbour where "
    "her brother waited with a lantern and a list of names."
)
K = 16  # below the text length, so the selection really chooses


@pytest.fixture(scope="module")
def model(smollm):
    """SmolLM2 with the shipped trained indexers attached (removed afterwards)."""
    load_default_indexers(smollm.model)
    yield smollm.model
    attach_indexers(smollm.model, [None] * len(smollm.model.layers))


@pytest.fixture(scope="module")
def ids(smollm):
    ids = torch.tensor([smollm.tokenizer.encode(TEXT).ids])  # [1, T]
    assert 48 <= ids.shape[1] <= 96, ids.shape
    return ids


def decode_all(model, ids, select, prefill=0):
    """Logits of every position: a prefill of the first `prefill` tokens, then one token per step."""
    cache = model.new_cache(ids.shape[1])
    out = [model(ids[:, :prefill], select, cache=cache)[0]] if prefill else []  # [P, V]
    for t in range(prefill, ids.shape[1]):
        out.append(model(ids[:, t : t + 1], select, cache=cache)[0])  # [1, V]
        assert cache.length == t + 1  # the KV cache grew by one
    return torch.cat(out), cache  # [T, V]


@pytest.mark.parametrize("mode", ["dense", "dsa"])
@torch.no_grad()
def test_token_by_token_equals_the_prefill_at_every_position(model, ids, mode):
    select = gen.step_select(K) if mode == "dsa" else None
    whole = model(ids, gen.step_select(K) if mode == "dsa" else None)[0]  # no cache [T, V]
    steps, cache = decode_all(model, ids, select)
    # the same arithmetic in another order (one row vs a matrix product): float32 rounding only
    torch.testing.assert_close(steps, whole, atol=1e-4, rtol=1e-4)
    if mode == "dsa":  # the indexer's own key cache holds every token, like the KV cache
        assert all(c.index_k.shape == (1, ids.shape[1], 64) for c in cache.layers)


@torch.no_grad()
def test_a_dsa_step_gathers_at_most_k_cached_rows_per_layer(model, ids, monkeypatch):
    select, T = gen.step_select(K), ids.shape[1]
    cache = model.new_cache(T)
    model(ids[:, : T - 1], select, cache=cache)  # prefill
    gathered, real = [], sparse.gather_selected

    def counting(x, topk_indices):
        gathered.append((x.shape[1], topk_indices.shape))  # (cached rows available, [B, S, K] read)
        return real(x, topk_indices)

    def no_dense(*args, **kwargs):
        raise AssertionError("a DSA step must not run dense attention")

    for module in (sparse, fast_cpu):  # the reference and its chunked twin (the model runs one of them)
        monkeypatch.setattr(module, "gather_selected", counting)
    monkeypatch.setattr(host_model, "fused_dense_attention", no_dense)
    monkeypatch.setattr(host_model, "dense_attention", no_dense)
    model(ids[:, T - 1 :], select, cache=cache)  # one decode step
    L = len(model.layers)
    assert len(gathered) == 2 * L  # keys and values, once per layer
    assert all(rows == T and shape == (1, 1, K) for rows, shape in gathered)  # K of T rows each
    for c in cache.layers:
        assert c.length == T and c.index_k.shape[1] == T  # both caches grew by one


@pytest.mark.parametrize(
    "member",
    [
        dict(name="block", block=4),
        dict(name="compressed", compress=4),
        dict(name="shared", every=4),
        "window",
    ],
    ids=["block", "compressed", "shared", "window"],
)
@torch.no_grad()
def test_family_members_decode_like_their_prefill(model, ids, member):
    if member == "window":
        make = lambda: gen.window_step_select(K)  # noqa: E731
    else:
        make = lambda: gen.step_select(K, in_model.parse(**member))  # noqa: E731
    whole = model(ids, make())[0]  # [T, V]
    steps, cache = decode_all(model, ids, make(), prefill=ids.shape[1] - 8)
    torch.testing.assert_close(steps, whole, atol=1e-4, rtol=1e-4)
    if member != "window" and member["name"] == "shared":  # only computing layers keep index keys
        kept = [i for i, c in enumerate(cache.layers) if c.index_k is not None]
        assert kept == [i for i in range(len(model.layers)) if i % 4 == 0]


@torch.no_grad()
def test_greedy_generation_is_the_argmax_of_the_whole_text_and_says_what_it_read(model, ids):
    P, n = ids.shape[1], 6
    steps = list(gen.generate(model, ids[0], n, gen.step_select(K)))
    tokens = torch.tensor([[s.token for s in steps]])  # [1, n]
    assert [s.position for s in steps] == list(range(P, P + n))
    whole = model(torch.cat([ids, tokens], 1), gen.step_select(K))[0]  # [P + n, V]
    assert whole[P - 1 : P + n - 1].argmax(-1).tolist() == tokens[0].tolist()
    s = steps[-1]
    L = len(model.layers)
    assert s.picks.shape == (L, K) and s.dense_top.shape == (L, K) and s.mass.shape == (L,)
    assert ((s.picks >= 0) & (s.picks < P + n - 1)).all()  # the query at P+n-2 saw P+n-1 tokens
    assert (s.scores[:, :-1] >= s.scores[:, 1:]).all()  # best first
    assert ((s.mass > 0) & (s.mass <= 1 + 1e-6)).all()


@torch.no_grad()
def test_sampling_is_seeded_and_stop_tokens_stop(model, ids):
    run = lambda seed, stop=(): [  # noqa: E731
        s.token for s in gen.generate(model, ids[0], 4, temperature=1.0, seed=seed, stop=stop)
    ]
    first = run(0)
    assert run(0) == first  # the same seed draws the same tokens
    assert run(0, stop={first[2]})[-1] == first[2] and len(run(0, stop={first[2]})) <= 3
    with pytest.raises(ValueError, match="exceed the model's context"):
        next(gen.generate(model, ids[0], model.cfg.max_seq_len))


@pytest.mark.parametrize("S", [1, 3, 7])
def test_fused_dense_attention_aligns_fewer_queries_to_the_last_keys(S):
    # torch's is_causal would let query 0 see key 0 only; a decode query sees every cached key
    torch.manual_seed(0)
    q, k, v = torch.randn(2, S, 6, 16), torch.randn(2, 7, 2, 16), torch.randn(2, 7, 2, 16)
    torch.testing.assert_close(
        host_model.fused_dense_attention(q, k, v), host_model.dense_attention(q, k, v), atol=1e-5, rtol=1e-5
    )


@torch.no_grad()
def test_step_seconds_times_a_step_at_each_context_asked_for(model, ids):
    seen = []
    inner = gen.step_select(K)

    def recording(attn, x, q, k, cache=None):
        if attn.layer_id == 0 and x.shape[1] == 1:  # a decode step: how many keys its query sees
            seen.append(k.shape[1])
        return inner(attn, x, q, k, cache)

    out = gen.step_seconds(model, ids[0], [20, ids.shape[1], 33], {"dsa": recording}, repeats=2)
    assert sorted(set(seen)) == [20, 33, ids.shape[1]] and len(seen) == 6
    assert len(out["dsa"]) == 3 and all(s > 0 for s in out["dsa"])


def test_what_was_read_weighs_the_picks_with_the_dense_attention_of_the_newest_query():
    from dsa_core.dense import attention_probs
    from dsa_core.host.model import KVCache, LayerCache

    torch.manual_seed(0)
    T, H, H_kv, D = 12, 6, 2, 8
    cache = KVCache([LayerCache(torch.randn(1, T + 3, H_kv, D), torch.randn(1, T + 3, H_kv, D), length=T)])
    q, picks = torch.randn(H, D), torch.tensor([3, 11, 0, -1])
    got_picks, _, mass, top = gen.what_was_read(cache, {0: {"q": q, "picks": picks, "scores": torch.ones(4)}})
    p = attention_probs(q[None, None], cache.layers[0].k[:, :T])[0, :, 0].mean(0)  # the reference [T]
    assert got_picks[0].tolist() == picks.tolist()
    torch.testing.assert_close(mass[0], p[[3, 11, 0]].sum())
    assert top[0].tolist() == p.topk(4).indices.tolist()
