"""English text front end: normalise -> espeak-ng phonemes -> symbol ids (+ blanks).

See ``docs/text_frontend.md`` for the conventions (dates, numbers, unsupported characters,
symbol table layout, chunking).
"""

from .frontend import TextConfig, TextFrontend
from .normalize import normalize_text
from .phonemize import espeak_library_path, espeak_version, phonemize_text
from .sentences import split_text
from .symbols import (
    BLANK_ID,
    PAD_ID,
    SYMBOL_TABLE_VERSION,
    SYMBOLS,
    VOCAB_SIZE,
    intersperse_blank,
    phonemes_to_ids,
    symbol_table_fingerprint,
)

__all__ = [
    "TextConfig",
    "TextFrontend",
    "normalize_text",
    "phonemize_text",
    "espeak_version",
    "espeak_library_path",
    "split_text",
    "SYMBOLS",
    "VOCAB_SIZE",
    "PAD_ID",
    "BLANK_ID",
    "SYMBOL_TABLE_VERSION",
    "intersperse_blank",
    "phonemes_to_ids",
    "symbol_table_fingerprint",
]
