"""Chunking long text for synthesis."""

from __future__ import annotations

import pytest

from facespeak.core.errors import ConfigError, TextError
from facespeak.text.sentences import check_length, split_text

_PARAGRAPH = (
    "The first sentence is short. The second sentence is a little longer, with a clause; "
    "and another clause: and a third one \u2014 plus a dash. Is this the third? Yes! "
    "Finally, a very long sentence that goes on and on without any clause punctuation at all "
    "because some people write like that when they are excited about something new and shiny."
)


@pytest.mark.parametrize("max_chars", [20, 45, 80, 200, 10_000])
def test_chunks_keep_all_words_in_order_and_respect_limit(max_chars: int) -> None:
    chunks = split_text(_PARAGRAPH, max_chars)
    assert all(0 < len(c) <= max_chars for c in chunks)
    assert " ".join(chunks).split() == _PARAGRAPH.split()


def test_short_text_is_one_chunk() -> None:
    assert split_text("  Hello   there.  ", 200) == ["Hello there."]


def test_prefers_sentence_boundaries() -> None:
    chunks = split_text("Aaaa bbbb cccc. Dddd eeee ffff. Gggg hhhh iiii.", 32)
    assert chunks == ["Aaaa bbbb cccc. Dddd eeee ffff.", "Gggg hhhh iiii."]


def test_long_sentence_breaks_at_clause_before_words() -> None:
    text = "one two three four five six, seven eight nine ten eleven twelve"
    assert split_text(text, 40) == ["one two three four five six,", "seven eight nine ten eleven twelve"]


def test_overlong_word_is_cut_at_limit() -> None:
    chunks = split_text("a " + "x" * 50 + " b", 20)
    assert all(len(c) <= 20 for c in chunks)
    assert "".join(chunks).replace(" ", "") == "a" + "x" * 50 + "b"


def test_empty_text_gives_no_chunks() -> None:
    assert split_text("   ", 50) == []


def test_bad_max_chars_is_config_error() -> None:
    with pytest.raises(ConfigError, match="got 0"):
        split_text("hello", 0)


def test_length_limit_message_names_limit_and_length() -> None:
    check_length("x" * 100, 100)
    with pytest.raises(TextError, match=r"at most 100 characters .* got 101"):
        check_length("x" * 101, 100)
