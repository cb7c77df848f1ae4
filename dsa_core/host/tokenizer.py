"""Byte-level BPE tokenizer rebuilt from a GGUF file's own vocabulary and merges, and display strings.

GPT-2-style byte-level BPE (Radford et al. 2019; Sennrich et al. 2016): every UTF-8 byte is first
spelled as a printable character (space -> 'Ġ', newline -> 'Ċ'), then merges join pieces. SmolLM2's
`tokenizer.json` splits digits one by one before the GPT-2 regex (llama.cpp names that pre-tokenizer
"smollm"); we do the same. Built with the `tokenizers` library; tests compare ids with transformers.
`display_tokens` turns ids back into short readable strings for axes and tables.
"""

import codecs

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

# llama.cpp "pre" names -> the split applied before byte-level BPE (None: plain GPT-2 regex)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_LLAMA3_SPLIT = _QWEN2_SPLIT.replace(r"|\p{N}|", r"|\p{N}{1,3}|")
CONTROL = 3  # llama.cpp token type of special tokens like <|im_start|>


def _pre_tokenizer(pre):
    gpt2 = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)  # GPT-2 regex, then bytes
    if pre == "smollm":
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), gpt2])
    split = {"qwen2": _QWEN2_SPLIT, "llama-bpe": _LLAMA3_SPLIT, "llama3": _LLAMA3_SPLIT}.get(pre)
    if split is None:
        return gpt2
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(split), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def tokenizer_from_fields(tokens, merges, token_types=None, pre=None, **_):
    """A `tokenizers.Tokenizer` from GGUF fields: tokens [V] str, merges ['a b', ...], token types [V]."""
    vocab = {t: i for i, t in enumerate(tokens)}
    bpe = models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges], fuse_unk=False)
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = _pre_tokenizer(pre)
    tok.decoder = decoders.ByteLevel()
    specials = [t for t, kind in zip(tokens, token_types or []) if kind == CONTROL]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tok


def _byte_decoder():
    """GPT-2's printable-character spelling of bytes, inverted: char -> byte."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


_BYTES = _byte_decoder()
# a token may hold only part of a multi-byte character (emoji, CJK): show those bytes in hex
codecs.register_error(
    "dsa_hex", lambda e: ("<" + "\u00a0".join(f"{b:02X}" for b in e.object[e.start : e.end]) + ">", e.end)
)
_VISIBLE = {" ": "·", "\n": "↵", "\t": "⇥", "\r": "␍"}


def token_bytes(piece):
    """The raw bytes a token stands for: byte-level 'Ġthe' -> b' the'; SentencePiece '▁the' -> b' the',
    '<0x0A>' -> b'\n' (Llama 2, Mistral); anything else (special tokens) as UTF-8."""
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        return bytes([int(piece[3:5], 16)])
    if all(c in _BYTES for c in piece):
        return bytes(_BYTES[c] for c in piece)
    return piece.replace("▁", " ").encode("utf-8")


def display_token(piece):
    """A short readable label: spaces as '·', newlines as '↵', partial UTF-8 bytes as '<F0 9F>'."""
    s = token_bytes(piece).decode("utf-8", errors="dsa_hex")
    return "".join(_VISIBLE.get(c, c) for c in s)


def display_tokens(tokenizer, ids):
    """[T] ids -> [T] readable strings for axis labels (see display_token)."""
    return [display_token(tokenizer.id_to_token(int(i))) for i in ids]
