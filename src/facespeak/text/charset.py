"""Reduce arbitrary Unicode input to the characters the English front end understands.

Steps (documented in ``docs/text_frontend.md``):

1. Typographic characters get ASCII stand-ins (curly quotes -> straight quotes, dashes ->
   ``-`` or an em dash pause, ``…`` -> ``...``, exotic spaces -> space, ``×`` -> " times ").
2. Latin letters with diacritics are folded by NFKD decomposition without the combining
   marks (``café`` -> ``cafe``); a few letters NFKD leaves alone are spelled out (``ß`` -> ``ss``).
3. Everything else that is not printable ASCII or one of :data:`KEPT_SYMBOLS` (letters of
   other scripts: CJK, Cyrillic, Arabic, Greek...; emoji; control characters) is removed and
   replaced by a space, and one warning lists what was removed.
"""

from __future__ import annotations

import logging
import unicodedata
from typing import NamedTuple

__all__ = ["KEPT_SYMBOLS", "FoldResult", "fold_to_ascii"]

log = logging.getLogger(__name__)

#: Non-ASCII characters kept after folding because the normaliser expands them to words.
KEPT_SYMBOLS = frozenset("£€¥°—")

_TYPOGRAPHIC = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"', "\u2039": '"', "\u203a": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-",
    "\u2014": "\u2014", "\u2015": "\u2014",
    "\u2026": "...",
    "\u00d7": " times ", "\u00f7": " divided by ", "\u00b1": " plus or minus ",
    "\u2044": "/", "\u00a9": " copyright ", "\u00ae": " ", "\u2122": " ",
    "\u00a7": " section ", "\u00b6": " ", "\u2022": ", ", "\u00b7": " ",
    "\u00a2": " cents ",
}

# Latin letters that NFKD does not decompose into a base letter.
_LATIN_SPECIAL = {
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ł": "l", "Ł": "L",
    "ı": "i", "ħ": "h", "Ħ": "H", "ŋ": "ng", "Ŋ": "NG", "ſ": "s",
}

_WHITESPACE = frozenset("\t\n\r\v\f\u00a0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)


class FoldResult(NamedTuple):
    """The folded text and the unique removed characters, in order of first appearance."""

    text: str
    dropped: tuple[str, ...]


def _fold_char(ch: str) -> str | None:
    """ASCII replacement of one character, or None if it is unsupported."""
    if " " <= ch <= "~" or ch in KEPT_SYMBOLS:
        return ch
    if ch in _WHITESPACE:
        return " "
    if ch in _TYPOGRAPHIC:
        return _TYPOGRAPHIC[ch]
    if ch in _LATIN_SPECIAL:
        return _LATIN_SPECIAL[ch]
    if unicodedata.category(ch) in ("Mn", "Cf"):  # stray combining mark, zero-width joiner
        return ""
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    if base and all(" " <= c <= "~" or c in KEPT_SYMBOLS for c in base):
        return _TYPOGRAPHIC.get(base, base)
    if len(base) > 1:  # e.g. a ligature or a compatibility fraction "1⁄2"
        parts = [_fold_char(c) for c in base]
        if all(p is not None for p in parts):
            return "".join(parts)  # type: ignore[arg-type]
    return None


def _describe(chars: tuple[str, ...], limit: int = 20) -> str:
    shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in chars[:limit])
    more = f" and {len(chars) - limit} more" if len(chars) > limit else ""
    return shown + more


def fold_to_ascii(text: str) -> FoldResult:
    """Fold ``text`` to printable ASCII plus :data:`KEPT_SYMBOLS`.

    Returns the folded text and the unique characters that were removed (in order of first
    appearance). Removed characters become spaces so words on either side stay apart; a
    warning names them. Never raises: deciding whether anything speakable is left is the
    caller's job.
    """
    if text.isascii() and text.isprintable():
        return FoldResult(text, ())
    out: list[str] = []
    dropped: dict[str, None] = {}
    for ch in text:
        folded = _fold_char(ch)
        if folded is None:
            dropped.setdefault(ch, None)
            out.append(" ")
        else:
            out.append(folded)
    removed = tuple(dropped)
    if removed:
        log.warning(
            "removed %d kind(s) of character the English text front end cannot speak: %s",
            len(removed),
            _describe(removed),
        )
    return FoldResult("".join(out), removed)
