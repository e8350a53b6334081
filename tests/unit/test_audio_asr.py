"""WER and text normalisation for ASR-based evaluation (the Whisper model itself is slow-tested)."""

from __future__ import annotations

import pytest

from facespeak.audio.asr import normalize_words, wer


def test_normalisation() -> None:
    assert normalize_words("Mr. Dashwood's cold-hearted, ill-disposed!") == [
        "mister", "dashwoods", "cold", "hearted", "ill", "disposed"
    ]
    assert normalize_words("It cost 1,250 dollars in 1999.") == [
        "it", "cost", "one", "thousand", "two", "hundred", "fifty", "dollars", "in",
        "one", "thousand", "nine", "hundred", "ninety", "nine",
    ]
    assert normalize_words("Don\u2019t  SHOUT") == ["dont", "shout"]
    assert normalize_words(" ... ") == []


def test_wer_counts_substitutions_deletions_insertions() -> None:
    ref = "he was not an ill disposed young man"
    assert wer(ref, "He was not an ill-disposed young man.") == 0.0
    assert wer(ref, "he was not an old disposed young man") == pytest.approx(1 / 8)
    assert wer(ref, "he was not an ill young man") == pytest.approx(1 / 8)
    assert wer(ref, "oh he was not an ill disposed young man") == pytest.approx(1 / 8)
    assert wer(ref, "") == 1.0
    assert wer("a b", "c d e f") == pytest.approx(4 / 2)


def test_wer_with_empty_reference() -> None:
    assert wer("", "") == 0.0
    assert wer("", "hello") == 1.0


@pytest.mark.slow
def test_whisper_base_assembles_to_the_published_checksum(tmp_path) -> None:
    from facespeak.audio.asr import WHISPER_BASE_SHA256, assemble_whisper_base
    from facespeak.core.cache import file_sha256

    target = assemble_whisper_base(tmp_path / "wb")
    assert file_sha256(target / "model.bin") == WHISPER_BASE_SHA256
    assert {p.name for p in target.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
