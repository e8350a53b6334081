"""The text front end: one object that turns user text into TTS input ids.

Stages: ``normalize`` (digits, symbols, abbreviations -> words; unsupported scripts removed)
-> ``phonemize`` (espeak-ng IPA) -> ids in the versioned symbol table -> optional blanks.
Long inputs are cut with ``split`` and each chunk is encoded on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import ConfigError, TextError
from .normalize import normalize_text
from .phonemize import espeak_version, phonemize_text
from .sentences import check_length, split_text
from .symbols import (
    BLANK_ID,
    PAD_ID,
    SYMBOL_TABLE_VERSION,
    VOCAB_SIZE,
    ids_to_phonemes,
    intersperse_blank,
    phonemes_to_ids,
    symbol_table_fingerprint,
)

__all__ = ["TextConfig", "TextFrontend"]


@dataclass
class TextConfig:
    """Options of the English text front end.

    language: espeak-ng voice; only English voices ("en-us", "en-gb", ...) are supported
        because the normaliser writes English words.
    add_blank: intersperse the blank id between all symbols and at both ends (n -> 2n + 1).
    max_chunk_chars: longest chunk ``split`` returns (characters of normalised text).
    max_text_chars: longest input accepted at all (characters as typed); longer -> TextError.
    """

    language: str = "en-us"
    add_blank: bool = True
    max_chunk_chars: int = 200
    max_text_chars: int = 20_000

    def __post_init__(self) -> None:
        if not self.language.lower().startswith("en"):
            raise ConfigError(
                f"TextConfig.language: the text front end speaks English only, expected an "
                f"espeak-ng English voice such as 'en-us', got {self.language!r}"
            )
        if self.max_chunk_chars < 20:
            raise ConfigError(
                f"TextConfig.max_chunk_chars: expected at least 20 characters, got {self.max_chunk_chars}"
            )
        if self.max_text_chars < self.max_chunk_chars:
            raise ConfigError(
                f"TextConfig.max_text_chars: expected at least max_chunk_chars "
                f"({self.max_chunk_chars}), got {self.max_text_chars}"
            )

    @classmethod
    def tiny(cls) -> "TextConfig":
        """Small limits for tests; same language, table and blanks as the default."""
        return cls(max_chunk_chars=60, max_text_chars=2_000)


class TextFrontend:
    """Text -> phoneme ids for the TTS. Stateless apart from the shared espeak backend.

    Thread-safe: instances may be shared between threads (phonemisation is serialised per
    language inside :mod:`facespeak.text.phonemize`).
    """

    def __init__(self, config: TextConfig | None = None) -> None:
        self.config = config or TextConfig()

    @property
    def vocab_size(self) -> int:
        """Number of ids, pad (0) and blank (``vocab_size - 1``) included."""
        return VOCAB_SIZE

    @property
    def symbol_table_version(self) -> int:
        return SYMBOL_TABLE_VERSION

    @property
    def pad_id(self) -> int:
        return PAD_ID

    @property
    def blank_id(self) -> int:
        return BLANK_ID

    def normalize(self, text: str) -> str:
        """User text -> speakable English words. Raises TextError (empty, too long, no English)."""
        if isinstance(text, str):
            check_length(text, self.config.max_text_chars)
        return normalize_text(text)

    def phonemize(self, text: str) -> str:
        """User text -> normalised -> IPA string (stress marks, punctuation, " " between words)."""
        return phonemize_text(self.normalize(text), self.config.language)

    def encode_phonemes(self, phonemes: str) -> list[int]:
        """IPA string -> ids (T_text,), blanks interspersed if ``add_blank`` (n -> 2n + 1)."""
        ids = phonemes_to_ids(phonemes)
        return intersperse_blank(ids) if self.config.add_blank else ids

    def encode(self, text: str) -> list[int]:
        """User text -> ids (T_text,) in ``[0, vocab_size)``: normalise, phonemise, map, blanks."""
        phonemes = self.phonemize(text)
        if not phonemes_to_ids(phonemes):
            raise TextError(f"text has no speakable English characters: got {text[:60]!r}")
        return self.encode_phonemes(phonemes)

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> IPA string (pad and blank skipped); for logs and debugging."""
        return ids_to_phonemes(ids)

    def split(self, text: str) -> list[str]:
        """User text -> normalised chunks of at most ``max_chunk_chars``, words in order."""
        return split_text(self.normalize(text), self.config.max_chunk_chars)

    def metadata(self) -> dict[str, Any]:
        """What a checkpoint must record to reproduce these ids."""
        return {
            "symbol_table_version": SYMBOL_TABLE_VERSION,
            "symbol_table_fingerprint": symbol_table_fingerprint(),
            "vocab_size": VOCAB_SIZE,
            "espeak_version": espeak_version(),
            "language": self.config.language,
            "add_blank": self.config.add_blank,
        }
