"""Bad input: cleaning, empty text, cutting long text at a character boundary, bad ids."""

import pytest
import tiny

from dsa_core.host.text import TextInputError, clean_text, prepare_ids


def test_control_characters_are_removed_and_reported():
    text, notes = clean_text("a\x00b\x07c\r\nd\te\x1b[0m")
    assert text == "abc\nd\te[0m" and notes == ["removed 3 control character(s)"]


def test_invalid_utf8_bytes_are_removed_and_reported():
    text, notes = clean_text(b"caf\xc3\xa9 \xff\xfe ok")
    assert text == "café  ok" and "invalid UTF-8" in notes[0]
    text, notes = clean_text("x\udcff y")  # a surrogate-escaped bad byte in a str
    assert text == "x y" and "invalid UTF-8" in notes[0]


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x01"])
def test_empty_text_raises_a_user_error_with_a_fix(text):
    with pytest.raises(TextInputError, match="empty") as e:
        prepare_ids(tiny.tiny_tokenizer(), text, 100)
    assert "Fix:" in str(e.value)


def test_long_text_is_cut_at_a_character_boundary_and_the_cut_is_reported():
    tok = tiny.tiny_tokenizer()  # byte tokens: the emoji is 4 tokens
    prep = prepare_ids(tok, "ab😀cd", 4)  # 4 tokens would end inside the emoji
    assert prep.ids == tok.encode("ab").ids and prep.text == "ab"
    assert prep.n_cut == len(tok.encode("ab😀cd").ids) - 2 and "cut" in prep.notes[0]
    assert prepare_ids(tok, "ab😀cd", 6).text == "ab😀"


def test_short_text_is_not_cut():
    prep = prepare_ids(tiny.tiny_tokenizer(), "hello", 100)
    assert prep.n_cut == 0 and prep.notes == [] and prep.text == "hello"


def test_display_tokens_are_readable():
    from dsa_core.host.tokenizer import display_token

    assert [display_token(t) for t in ["Ġthe", "ĊĠĠ", "ĉx", "<|im_start|>", "▁Hello", "<0x0A>"]] == [
        "·the",
        "↵··",
        "⇥x",
        "<|im_start|>",
        "·Hello",
        "↵",
    ]
    assert display_token("ðŁ") == "<F0 9F>"  # two bytes of a 4-byte emoji, alone
    assert display_token("ĠÃ") == "·<C3>"  # a space, then half of 'é'
