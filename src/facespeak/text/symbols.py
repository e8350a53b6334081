"""The fixed, versioned phoneme symbol table and the blank-token interspersing.

Layout of table version 1 (ids are positions in :data:`SYMBOLS`):

====================  ==========================================================
id 0                  pad ``"_"`` (batch padding; never produced by encoding)
ids 1-14              punctuation and the word boundary ``" "``
next                  IPA symbols espeak-ng produces for English voices (en-us and
                      en-gb), with stress ``ˈ ˌ``, length ``ː`` and the combining
                      syllabic / nasal marks, in a fixed order
next                  ASCII letters not already in the IPA block (fallback for
                      anything the phonemiser passes through)
last id               blank ``"<blank>"`` = ``vocab_size - 1`` (Matcha/Glow-TTS
                      ``add_blank``), kept apart from pad so padding and blanks
                      stay distinguishable
====================  ==========================================================

Changing the list changes every id a trained model has learned, so the table never changes
in place: a new table gets a new :data:`SYMBOL_TABLE_VERSION`, and checkpoints store the
version and :func:`symbol_table_fingerprint` so a mismatch is caught at load time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

__all__ = [
    "SYMBOL_TABLE_VERSION",
    "PAD",
    "BLANK",
    "PAD_ID",
    "BLANK_ID",
    "SYMBOLS",
    "VOCAB_SIZE",
    "PUNCTUATION",
    "symbol_to_id",
    "phonemes_to_ids",
    "ids_to_phonemes",
    "intersperse_blank",
    "symbol_table_fingerprint",
]

log = logging.getLogger(__name__)

SYMBOL_TABLE_VERSION = 1
PAD = "_"
BLANK = "<blank>"

#: Punctuation kept through phonemisation; " " is the word boundary.
PUNCTUATION = (" ", "!", "'", '"', "(", ")", ",", "-", ".", ":", ";", "?", "\u2014", "\u2026")

# espeak-ng English IPA output (measured on ~36 k distinct words with en-us, plus the en-gb
# vowels). Multi-character phonemes ("aɪ", "oʊ", "tʃ") are sequences of these symbols.
_IPA = (
    # vowels
    "a", "e", "i", "o", "u", "æ", "ɐ", "ɑ", "ɒ", "ɔ", "ə", "ɚ", "ɛ", "ɜ", "ɝ", "ɪ", "ɨ", "ᵻ",
    "ʊ", "ʉ", "ʌ", "ɵ", "ɘ", "y", "ø", "œ",
    # consonants
    "b", "d", "f", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "x", "z",
    "ç", "ð", "ŋ", "ɡ", "ɣ", "ɫ", "ɬ", "ɹ", "ɾ", "ʁ", "ʃ", "ʒ", "ʔ", "ʍ", "θ", "χ", "ʲ", "ɲ",
    # suprasegmentals and diacritics
    "ˈ", "ˌ", "ː", "ˑ", "\u0329", "\u0303", "\u0361",
)
_ASCII_FALLBACK = tuple(
    c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in _IPA
)

SYMBOLS: tuple[str, ...] = (PAD, *PUNCTUATION, *_IPA, *_ASCII_FALLBACK, BLANK)
VOCAB_SIZE = len(SYMBOLS)
PAD_ID = 0
BLANK_ID = VOCAB_SIZE - 1

_ID = {s: i for i, s in enumerate(SYMBOLS)}
assert len(_ID) == VOCAB_SIZE, "duplicate symbol in the table"
assert _ID[PAD] == PAD_ID and _ID[BLANK] == BLANK_ID


def symbol_to_id(symbol: str) -> int | None:
    """Id of one symbol, or None if it is not in the table."""
    return _ID.get(symbol)


def phonemes_to_ids(phonemes: str) -> list[int]:
    """Phoneme string -> ids, one per character; unknown characters are dropped (debug log).

    Pad and blank are never produced: ``"_"`` in the input is treated as unknown.
    """
    ids: list[int] = []
    unknown: dict[str, None] = {}
    for ch in phonemes:
        i = _ID.get(ch)
        if i is None or i == PAD_ID:
            unknown.setdefault(ch, None)
        else:
            ids.append(i)
    if unknown:
        log.debug("dropped phoneme symbols not in table v%d: %s", SYMBOL_TABLE_VERSION,
                  ", ".join(f"{c!r} (U+{ord(c):04X})" for c in unknown))
    return ids


def ids_to_phonemes(ids: Sequence[int]) -> str:
    """Inverse of :func:`phonemes_to_ids` for debugging; pad and blank ids are skipped."""
    return "".join(SYMBOLS[i] for i in ids if i not in (PAD_ID, BLANK_ID))


def intersperse_blank(ids: Sequence[int], blank_id: int = BLANK_ID) -> list[int]:
    """Put ``blank_id`` between every pair of ids and at both ends: n ids -> 2n + 1 ids.

    ``[a, b]`` -> ``[blank, a, blank, b, blank]`` (Glow-TTS / Matcha-TTS ``add_blank``).
    """
    out = [blank_id] * (2 * len(ids) + 1)
    out[1::2] = ids
    return out


def symbol_table_fingerprint() -> str:
    """Short sha256 of the table (version + symbols) for checkpoint compatibility checks."""
    payload = f"v{SYMBOL_TABLE_VERSION}\n" + "\n".join(SYMBOLS)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
