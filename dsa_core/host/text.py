"""Bad input, handled once: user-facing errors and cleaning of pasted text before tokenisation.

Every problem a learner can cause (empty text, text longer than the context, control characters,
invalid UTF-8, a missing or corrupt model file, an unsupported Hugging Face folder) becomes either a
`DSAUserError` (problem + fix, shown by the app instead of a traceback) or a note in `PreparedText`.
"""

import unicodedata
from dataclasses import dataclass, field


class DSAUserError(Exception):
    """An error a user can fix; `str(e)` names the problem and the fix, without a traceback."""

    def __init__(self, problem, fix):
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem} Fix: {fix}")


class ModelFileError(DSAUserError):
    """A model file or folder is missing, truncated or not what it claims to be."""


class UnsupportedModelError(DSAUserError):
    """A Hugging Face folder of an architecture this project's model.py cannot run."""


class TextInputError(DSAUserError):
    """The text cannot be analysed (e.g. nothing left after cleaning)."""


_KEEP = {"\n", "\t"}


def clean_text(text):
    """(clean str, notes): decode bytes leniently, drop control characters, unify newlines."""
    notes = []
    if isinstance(text, (bytes, bytearray)):
        decoded = bytes(text).decode("utf-8", errors="replace")
        if "\ufffd" in decoded and b"\xef\xbf\xbd" not in text:
            notes.append(f"removed {decoded.count(chr(0xFFFD))} invalid UTF-8 byte sequence(s)")
            decoded = decoded.replace("\ufffd", "")
        text = decoded
    if not isinstance(text, str):
        raise TextInputError(f"Expected text, got {type(text).__name__}.", "Pass a str (or UTF-8 bytes).")
    surrogates = sum(0xD800 <= ord(c) <= 0xDFFF for c in text)  # from surrogateescape'd bad bytes
    if surrogates:
        text = "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)
        notes.append(f"removed {surrogates} invalid UTF-8 byte(s)")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = [c for c in text if unicodedata.category(c) == "Cc" and c not in _KEEP]
    if bad:
        text = "".join(c for c in text if not (unicodedata.category(c) == "Cc" and c not in _KEEP))
        notes.append(f"removed {len(bad)} control character(s)")
    return text, notes


@dataclass
class PreparedText:
    """Token ids ready for the model, plus what was changed on the way (for the app to show)."""

    ids: list  # [T] token ids, T <= max_tokens
    text: str  # the cleaned text those ids cover
    n_cut: int = 0  # tokens dropped from the end to fit the context
    notes: list = field(default_factory=list)  # human-readable notes ("removed 2 control characters")


def prepare_ids(tokenizer, text, max_tokens):
    """Clean `text`, tokenize it, cut it to `max_tokens` at a character boundary; PreparedText."""
    text, notes = clean_text(text)
    if not text.strip():
        raise TextInputError(
            "The text is empty (or only whitespace/control characters).",
            "Paste or type some text to analyse.",
        )
    if max_tokens < 1:
        raise TextInputError(f"max_tokens must be at least 1, got {max_tokens}.", "Raise the token limit.")
    enc = tokenizer.encode(text)
    ids, offsets = list(enc.ids), list(enc.offsets)
    n = len(ids)
    if n > max_tokens:
        n = max_tokens
        # byte-level BPE may split one character (an emoji) over several tokens: never keep half of it
        while n > 1 and offsets[n][0] < offsets[n - 1][1]:
            n -= 1
        text = text[: offsets[n - 1][1]]
        notes.append(f"cut {len(ids) - n} token(s) to fit the {max_tokens}-token limit")
    return PreparedText(ids=ids[:n], text=text, n_cut=len(ids) - n, notes=notes)
