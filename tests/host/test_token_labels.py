"""Readable token labels on the real tokenizer: right-to-left, emoji and Chinese text read as characters,
never as hex bytes or '�'. A character split over tokens is shown once (in the token holding its first
byte), and a token that continues it starts with the marker '◌'."""

import pytest

from dsa_core.host.tokenizer import CONTINUES, display_tokens, readable
from dsa_core.viz.style import display_token, token_labels

TEXTS = {
    "Chinese": "深度求索发布了稀疏注意力。",
    "Hebrew and Arabic": "שלום עולם, مرحبا بالعالم and hello",
    "emoji with ZWJ and skin tones": "Family: 👨‍👩‍👧 and 👍🏽 ok 😀",
}


@pytest.mark.parametrize("name", TEXTS)
def test_split_characters_read_once_with_a_continuation_marker(smollm, name):
    text = TEXTS[name]
    ids = smollm.tokenizer.encode(text).ids
    labels = display_tokens(smollm.tokenizer, ids)
    assert len(labels) == len(ids)
    shown = [display_token(t) for t in labels]
    assert not any("<" in s or "�" in s for s in shown if s != "<U+200D>"), shown  # no hex, no �
    # every character once, in order: the labels without their markers spell the text
    assert "".join(s.removeprefix(CONTINUES) for s in labels).replace("·", " ") == text
    split = [s for s in labels if s.startswith(CONTINUES)]
    assert split, "this text should have characters split over tokens (else the test tests nothing)"
    assert all(token_labels(labels))  # axis labels exist for every token


def test_readable_by_hand():
    e6, b7b1 = "深".encode()[:1], "深".encode()[1:]
    assert readable([e6, b7b1 + b"x", b" y"]) == ["深", CONTINUES + "x", "·y"]
    emoji = "😀".encode()
    assert readable([emoji[:1], emoji[1:2], emoji[2:]]) == ["😀", CONTINUES, CONTINUES]
    assert readable([b"\xff\xfe", b"ok"]) == ["<FF FE>", "ok"]  # bytes that are no UTF-8: hex


def test_style_labels_show_controls_by_name_not_as_a_replacement_character():
    assert display_token("a\u00a0b") == "a\u00a0b"  # a no-break space stays a space
    assert display_token("\u202eevil") == "<U+202E>evil"  # a bidi override cannot reorder the label
    assert display_token("\x07") == "<U+0007>" and display_token("\u200d") == "<U+200D>"
    assert display_token("👨\u200d👩") == "👨\u200d👩"  # the joiner inside an emoji sequence is kept
