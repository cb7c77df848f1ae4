"""Next-token log-probabilities of a text under the host model: what perplexity and KL are made of.

log p(token t+1 | tokens ≤ t) = log_softmax(W_out h_t)[id_{t+1}]. The [T, V] logits are made a block
of positions at a time (at 8,192 tokens and V = 49,152 one full fp32 copy is 1.6 GB). Every caller
(the evaluation, the family's perplexities, the app's comparisons) goes through these two functions.
"""

import torch

from dsa_core.pipeline import row_blocks


def log_softmax_blocks(model, h, rows=1024):
    """Yield (s0, s1, log p [s1-s0, V]) over the positions of a final hidden state h [T, dim]."""
    for s0, s1, _ in row_blocks(h.shape[0], h.shape[0], rows):
        yield s0, s1, torch.log_softmax(model.lm_head(h[s0:s1]).float(), dim=-1)  # [c, V]


@torch.no_grad()
def next_token_logprobs(model, ids, select=None, rows=1024, h=None):
    """(log p of each actual next token [T-1], top-1 predictions [T-1]) of ids [T] with attention step
    `select` (None = dense); h: the final hidden state [T, dim] of that run, when the caller has it."""
    ids = torch.as_tensor(ids, device=model.embed_tokens.weight.device).reshape(-1)  # [T]
    h = model.hidden(ids[None], select=select)[0][0] if h is None else h  # [T, dim]
    lp, top = [], []
    for s0, s1, logp in log_softmax_blocks(model, h[:-1], rows):
        lp.append(logp.gather(-1, ids[s0 + 1 : s1 + 1, None])[:, 0])  # [c]
        top.append(logp.argmax(-1))  # [c]
    return torch.cat(lp), torch.cat(top)  # [T-1], [T-1]
