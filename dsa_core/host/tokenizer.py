"""Byte-level BPE tokenizer rebuilt from a GGUF file's own vocabulary and merges, and display strings.

GPT-2-style byte-level BPE (Radford et al. 2019; Sennrich et al. 2016): every UTF-8 byte is first
spelled as a printable character (space -> 'Ġ', newline -> 'Ċ'), then merges join pieces. SmolLM2's
`tokenizer.json` splits digits one by one before the GPT-2 regex (llama.cpp names that pre-tokenizer
"smollm"); we do the same. Built with the `tokenizers` library; tests compare ids with transformers.
`display_tokens` turns ids back into short readable strings for axes and tables.
"""

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
_VISIBLE = {" ": "·", "\n": "↵", "\t": "⇥", "\r": "␍"}
CONTINUES = "◌"  # label prefix of a token that starts with the rest of a character begun before it


def token_bytes(piece):
    """The raw bytes a token stands for: byte-level 'Ġthe' -> b' the'; SentencePiece '▁the' -> b' the',
    '<0x0A>' -> b'\n' (Llama 2, Mistral); anything else (special tokens) as UTF-8."""
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        return bytes([int(piece[3:5], 16)])
    if all(c in _BYTES for c in piece):
        return bytes(_BYTES[c] for c in piece)
    return piece.replace("▁", " ").encode("utf-8")


def _char_at(data, i):
    """(the character whose UTF-8 encoding starts at data[i], its length), or (None, 1) if none does."""
    lead = data[i]
    n = (
        1
        if lead < 0x80
        else 2
        if 0xC2 <= lead < 0xE0
        else 3
        if 0xE0 <= lead < 0xF0
        else 4
        if lead < 0xF5
        else 0
    )
    try:
        return (data[i : i + n].decode("utf-8"), n) if n else (None, 1)
    except UnicodeDecodeError:
        return None, 1


def readable(pieces):
    """[T] labels for consecutive tokens given as bytes. Byte-level BPE may split one character (an emoji,
    a Chinese or Hebrew letter) over several tokens: the character is shown once, in the token holding
    its first byte, and a token that starts with its remaining bytes shows CONTINUES ('◌') first.
    Spaces read '·', newlines '↵'; bytes that are no UTF-8 at all read as hex, e.g. '<F0 9F>'."""
    owner = [t for t, b in enumerate(pieces) for _ in b]
    data, labels, marked, i, bad_before = b"".join(pieces), [""] * len(pieces), set(), 0, False
    while i < len(data):
        ch, n = _char_at(data, i)
        t = owner[i]
        if ch is None:  # not UTF-8: hex, and bytes in a row share one <..>
            glue = bad_before and owner[i - 1] == t
            labels[t] = labels[t][:-1] + f" {data[i]:02X}>" if glue else labels[t] + f"<{data[i]:02X}>"
        else:
            labels[t] += _VISIBLE.get(ch, ch)
            for later in sorted(set(owner[i + 1 : i + n]) - {t} - marked):
                labels[later] = CONTINUES + labels[later]
                marked.add(later)
        i, bad_before = i + n, ch is None
    return labels


def display_token(piece):
    """A short readable label of one token on its own (see `readable`; half a character reads as hex)."""
    return readable([token_bytes(piece)])[0]


def display_tokens(tokenizer, ids):
    """[T] ids -> [T] readable labels: characters split over tokens shown once (see `readable`)."""
    return readable([token_bytes(tokenizer.id_to_token(int(i))) for i in ids])
