"""espeak-ng phonemisation through the espeakng-loader wheel (real library, no mocks)."""

from __future__ import annotations

import threading
from pathlib import Path

import espeakng_loader
import pytest

from facespeak.core.errors import ConfigError
from facespeak.text import espeak_library_path, espeak_version
from facespeak.text import phonemize_text as phonemize
from facespeak.text.phonemize import PRESERVED_PUNCTUATION


def test_uses_the_wheel_library_not_the_system_one() -> None:
    wheel_dir = Path(espeakng_loader.get_library_path()).resolve().parent
    assert Path(espeak_library_path()).resolve().parent == wheel_dir


def test_espeak_version_is_a_dotted_triple() -> None:
    parts = espeak_version().split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)
    assert tuple(int(p) for p in parts) >= (1, 50, 0)


@pytest.mark.parametrize(
    ("word", "fragments"),
    [
        ("hello", ["h", "l", "ˈoʊ"]),
        ("thin", ["θ", "ˈɪ", "n"]),
        ("this", ["ð", "ˈɪ", "s"]),
        ("cat", ["k", "ˈæ", "t"]),
        ("ship", ["ʃ", "ˈɪ", "p"]),
        ("sing", ["ŋ"]),
        ("red", ["ɹ", "ˈɛ", "d"]),
    ],
)
def test_known_words_contain_expected_ipa(word: str, fragments: list[str]) -> None:
    ipa = phonemize(word)
    for f in fragments:
        assert f in ipa, (word, ipa)


def test_stress_punctuation_and_word_boundaries_are_kept() -> None:
    ipa = phonemize("Hello, world! How are you?")
    assert "ˈ" in ipa
    assert ipa.count(",") == 1 and ipa.endswith("?") and "!" in ipa
    assert len(ipa.replace(",", "").replace("!", "").replace("?", "").split()) == 5


def test_all_preserved_punctuation_survives() -> None:
    ipa = phonemize('one; two: three, "four" (five) six \u2014 seven\u2026 eight. nine! ten?')
    for mark in PRESERVED_PUNCTUATION:
        assert mark in ipa, (mark, ipa)


def test_deterministic_across_calls() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    assert len({phonemize(text) for _ in range(5)}) == 1


def test_thread_safety_matches_serial() -> None:
    texts = [f"Sentence number {w} is about the {w} quick brown foxes." for w in
             ["one", "two", "three", "four", "five", "six", "seven", "eight"]] * 6
    serial = [phonemize(t) for t in texts]
    results: dict[int, list[str]] = {}

    def work(k: int) -> None:
        results[k] = [phonemize(t) for t in (texts if k == 0 else texts[::-1])]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0] == serial
    assert results[1] == serial[::-1]


def test_other_english_voice_differs_from_us() -> None:
    assert phonemize("water", "en-gb") != phonemize("water", "en-us")


def test_unknown_voice_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no voice for language 'xx-nonexistent'"):
        phonemize("hello", "xx-nonexistent")
