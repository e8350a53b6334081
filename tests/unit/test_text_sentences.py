"""Chunking long text for synthesis."""

from __future__ import annotations

import pytest

from facespeak.core.errors import ConfigError, TextError
from facespeak.text.sentences import check_length, ends_phrase, ends_sentence, pause_after, phrase_breaks, split_text

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


def test_sentence_and_phrase_ends_the_chunkers_and_captions_share():
    """One definition of where a sentence or clause ends (say's first chunk, its pauses, the
    caption cues): closing quotes and brackets may follow the mark."""
    assert ends_sentence("Done.") and ends_sentence('he said "no!"') and ends_sentence("(really?)")
    assert not ends_sentence("well,") and not ends_sentence("word") and not ends_sentence("Done. ")
    assert ends_phrase("well,") and ends_phrase("Done. ") and ends_phrase("a \u2014") and not ends_phrase("the")
    assert pause_after("well,", 0.2) == 0.2 and pause_after("hesitate to", 0.2) == 0.0
    text = "Hi, there; this is it. And more"
    assert phrase_breaks(text, len(text)) == [3, 10, 22]
    assert phrase_breaks(text, 10) == [3, 10] and phrase_breaks(text, 9) == [3]
    assert phrase_breaks("Ends here.", 20) == []  # no space after it: not a break inside the text
