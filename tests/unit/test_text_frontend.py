"""TextFrontend end to end: text -> normalised -> IPA -> ids (+ blanks), chunks, errors."""

from __future__ import annotations

import time

import pytest

from facespeak.core.errors import ConfigError, TextError
from facespeak.text import BLANK_ID, VOCAB_SIZE, TextConfig, TextFrontend, symbol_table_fingerprint


@pytest.fixture(scope="module")
def fe() -> TextFrontend:
    return TextFrontend(TextConfig.tiny())


def test_encode_ids_in_vocab_with_blanks(fe: TextFrontend) -> None:
    ids = fe.encode("Hello, world! It's 3:30 pm.")
    assert all(0 <= i < fe.vocab_size for i in ids)
    assert fe.pad_id not in ids
    assert len(ids) % 2 == 1 and ids[0::2] == [BLANK_ID] * ((len(ids) + 1) // 2)
    assert fe.decode(ids) == fe.phonemize("Hello, world! It's 3:30 pm.")


def test_encode_without_blank_is_the_odd_positions(fe: TextFrontend) -> None:
    plain = TextFrontend(TextConfig(add_blank=False))
    text = "The quick brown fox."
    assert fe.encode(text)[1::2] == plain.encode(text)
    assert len(fe.encode(text)) == 2 * len(plain.encode(text)) + 1


def test_encode_phonemes_shape(fe: TextFrontend) -> None:
    ids = fe.encode_phonemes("həlˈoʊ")
    assert len(ids) == 2 * 6 + 1


def test_phonemize_expands_numbers_first(fe: TextFrontend) -> None:
    assert fe.phonemize("3") == fe.phonemize("three")
    assert "θɹˈiː" in fe.phonemize("3")


def test_encode_is_deterministic_across_instances() -> None:
    text = "Dr. Smith paid $5.50 on 24 Nov 2026."
    assert TextFrontend().encode(text) == TextFrontend().encode(text)


def test_mixed_english_and_cjk_keeps_english(fe: TextFrontend) -> None:
    assert fe.normalize("Hello \u4f60\u597d world") == "Hello world"
    assert fe.encode("Hello \u4f60\u597d world") == fe.encode("Hello world")


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "text is empty"),
        ("   \n", "text is empty"),
        ("\u4f60\u597d\u4e16\u754c", "no speakable English characters: got '\u4f60\u597d"),
        ("\u041f\u0440\u0438\u0432\u0435\u0442", "no speakable English characters"),
        ("\U0001F600\U0001F44D", "no speakable English characters"),
    ],
)
def test_unusable_text_raises_text_error(fe: TextFrontend, text: str, pattern: str) -> None:
    for stage in (fe.normalize, fe.phonemize, fe.encode, fe.split):
        with pytest.raises(TextError, match=pattern):
            stage(text)


def test_too_long_text_error_names_limit_and_length() -> None:
    fe = TextFrontend(TextConfig(max_chunk_chars=50, max_text_chars=100))
    fe.split("word " * 20)  # exactly 100 characters is fine
    with pytest.raises(TextError, match=r"at most 100 characters .* got 105"):
        fe.split("word " * 21)
    with pytest.raises(TextError, match="got 105"):
        fe.encode("word " * 21)


def test_split_normalises_and_keeps_words(fe: TextFrontend) -> None:
    text = ("On 24 Nov 2026 we met at 3:30 pm. We talked for 2 hours about the weather, "
            "music, and food. Then we left.")
    chunks = fe.split(text)
    assert len(chunks) > 1
    assert all(len(c) <= fe.config.max_chunk_chars for c in chunks)
    assert " ".join(chunks).split() == fe.normalize(text).split()
    for c in chunks:
        assert fe.encode(c)


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="English only.*got 'fr'"):
        TextConfig(language="fr")
    with pytest.raises(ConfigError, match="max_chunk_chars"):
        TextConfig(max_chunk_chars=5)
    with pytest.raises(ConfigError, match="max_text_chars"):
        TextConfig(max_chunk_chars=300, max_text_chars=200)


def test_metadata_describes_ids(fe: TextFrontend) -> None:
    meta = fe.metadata()
    assert meta["vocab_size"] == VOCAB_SIZE == fe.vocab_size
    assert meta["symbol_table_version"] == fe.symbol_table_version == 1
    assert meta["symbol_table_fingerprint"] == symbol_table_fingerprint()
    assert meta["espeak_version"].count(".") == 2


def test_speed_of_a_20_second_sentence_group(fe: TextFrontend) -> None:
    text = ("On November 24th, 2026 at 3:30 pm, Dr. Smith paid $5.50 for 3 coffees and walked "
            "2.5 km home. He said the results were 50% better than in 1984, e.g. faster and "
            "cleaner. Then he smiled, looked at the camera, and told everyone that the new system "
            "would be ready next week, after a few more tests and one last review with the team.")
    fe.encode(text)
    best = min(_timed(fe.encode, text) for _ in range(5))
    assert best < 0.1, f"encode took {best * 1000:.1f} ms"


def _timed(fn, arg) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t
