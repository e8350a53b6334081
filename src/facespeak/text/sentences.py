"""Split long text into chunks a synthesiser can take one at a time.

Chunks break at sentence ends first; a sentence longer than the limit breaks at clause
punctuation (, ; : — …), then between words, and a single word longer than the limit (a
pathological input) is cut at the limit. Short neighbouring pieces are packed back together
up to the limit, so a paragraph of short sentences is not synthesised one word at a time.
Every chunk is at most ``max_chars`` long, and joining the chunks with spaces gives the
original words in the original order. Memory during synthesis is then bounded by one chunk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..core.errors import ConfigError, TextError

__all__ = ["check_length", "split_text", "ends_sentence", "ends_phrase", "phrase_breaks", "pause_after"]

_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])[\"')]*\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:\u2014])\s+|\s+(?=\u2014)")
# a sentence end / a sentence or clause end, with any closing quotes or brackets after it
_SENTENCE_MARK, _PHRASE_MARK = r"[.!?\u2026][\"')]*", r"[.!?\u2026,;:\u2014][\"')]*"
_SENTENCE_TAIL = re.compile(_SENTENCE_MARK + "$")
_PHRASE_END = re.compile(_PHRASE_MARK + "$")
_PHRASE_BREAK = re.compile(_PHRASE_MARK + r"(?=\s)")


def check_length(text: str, max_text_chars: int) -> None:
    """Raise :class:`TextError` if ``text`` is longer than ``max_text_chars`` characters."""
    if len(text) > max_text_chars:
        raise TextError(
            f"text is too long: at most {max_text_chars} characters are accepted "
            f"(TextConfig.max_text_chars), got {len(text)}; split it into several requests "
            "or raise the limit"
        )


def _split_keep(pattern: re.Pattern[str], text: str) -> list[str]:
    """Split at ``pattern`` (whitespace is the separator, punctuation stays with the left piece)."""
    pieces, start = [], 0
    for m in pattern.finditer(text):
        end = m.start() + len(m.group(0).rstrip())
        pieces.append(text[start:end])
        start = m.end()
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def _hard_cut(word: str, max_chars: int) -> list[str]:
    return [word[i:i + max_chars] for i in range(0, len(word), max_chars)]


def _pack(pieces: Iterable[str], max_chars: int) -> list[str]:
    """Greedily join consecutive pieces with a space while the result fits in ``max_chars``."""
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= max_chars:
            chunks[-1] = f"{chunks[-1]} {piece}"
        else:
            chunks.append(piece)
    return chunks


def _fit(text: str, max_chars: int, level: int = 0) -> list[str]:
    """Pieces of ``text`` no longer than ``max_chars``: clauses (level 0), words (1), cuts (2)."""
    if len(text) <= max_chars:
        return [text]
    if level == 0:
        parts = _split_keep(_CLAUSE_END, text)
    elif level == 1:
        parts = text.split()
    else:
        return _hard_cut(text, max_chars)
    if len(parts) == 1:
        return _fit(text, max_chars, level + 1)
    fitted = [p for part in parts for p in _fit(part, max_chars, level + 1)]
    return _pack(fitted, max_chars)


def split_text(text: str, max_chars: int = 200) -> list[str]:
    """Split ``text`` into chunks of at most ``max_chars`` characters (see module docstring).

    Whitespace is collapsed; an empty or whitespace-only ``text`` gives ``[]``.
    """
    if max_chars < 1:
        raise ConfigError(f"max_chars must be a positive number of characters, got {max_chars}")
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return []
    sentences = _split_keep(_SENTENCE_END, text)
    return _pack((p for s in sentences for p in _fit(s, max_chars)), max_chars)


def ends_sentence(text: str) -> bool:
    """Whether ``text`` (a word or a chunk) ends a sentence (``.!?…``, closing quotes allowed)."""
    return bool(_SENTENCE_TAIL.search(text))


def phrase_breaks(text: str, upto: int) -> list[int]:
    """Offsets just after each sentence or clause end in ``text`` that a space follows, up to
    ``upto`` characters (in order)."""
    return [m.end() for m in _PHRASE_BREAK.finditer(text, 0, upto + 1) if m.end() <= upto]


def ends_phrase(chunk: str) -> bool:
    """Whether ``chunk`` ends at a sentence or clause end (not between two words of a phrase)."""
    return bool(_PHRASE_END.search(chunk.rstrip()))


def pause_after(chunk: str, pause_s: float) -> float:
    """Seconds of silence between ``chunk`` and the next chunk: ``pause_s`` after a sentence or
    clause end, none where a chunk was cut between words (a pause inside a phrase sounds like a
    hesitation; `say`'s short first chunk is often cut there: decisions.md #34)."""
    return float(pause_s) if ends_phrase(chunk) else 0.0
