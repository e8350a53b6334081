"""Word boundaries through the text front end, for captions (facespeak.text.captions).

The front end rewrites the text (``"24"`` -> ``"twenty-four"``, ``"Dr."`` -> ``"doctor"``) and
espeak-ng sometimes joins words (``"of the"`` -> ``"ʌvðə"``), so a spoken symbol is traced back to
the text in two steps:

1. :func:`original_spans`: each normalised word -> the characters of the typed text it came
   from. Words equal as typed (case and punctuation aside) anchor a ``difflib`` alignment; the
   normalised words between two anchors belong to the typed tokens between them (``"$1.5M"`` ->
   five words, one span; several tokens are split by normalising each alone, else share one span).
2. :func:`phoneme_word_spans`: each normalised word of a chunk -> the phoneme symbols it is
   spoken with (first and last symbol index, punctuation excluded). One espeak word per
   normalised word is taken as is; where espeak joined or split words, each word is phonemised
   alone and aligned to the chunk's phonemes by ``difflib`` (stress marks ignored).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence

from ..core.errors import TextError
from .normalize import normalize_text
from .symbols import PAD_ID, PUNCTUATION, symbol_to_id

__all__ = ["spoken_words", "original_spans", "phoneme_symbols", "phoneme_word_spans"]

_LETTER = re.compile(r"[A-Za-z]")
_STRESS = "ˈˌ"


def spoken_words(normalised: str) -> list[str]:
    """Normalised text -> its words (tokens with a letter; a lone dash or ellipsis is not one)."""
    return [w for w in normalised.split() if _LETTER.search(w)]


def _key(token: str) -> str:
    return re.sub(r"[^a-z0-9']", "", token.lower()).strip("'")


def _token_keys(token: str) -> list[str]:
    """Keys of the words ``token`` normalises to on its own ([] if it is not speakable)."""
    try:
        return [_key(w) for w in spoken_words(normalize_text(token))]
    except TextError:
        return []


def _fill_gap(words: Sequence[str], tokens: Sequence[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Spans for normalised ``words`` that came from typed ``tokens`` (both non-empty)."""
    if len(tokens) > 1:
        spans, k = [], 0
        for start, end, tok in tokens:
            keys = _token_keys(tok)
            if [_key(w) for w in words[k:k + len(keys)]] != keys:
                break
            spans += [(start, end)] * len(keys)
            k += len(keys)
        if k == len(words):
            return spans
    return [(tokens[0][0], tokens[-1][1])] * len(words)


def original_spans(original: str, words: Sequence[str]) -> list[tuple[int, int]]:
    """Normalised ``words`` (in order) -> ``(start, end)`` character span in ``original`` of
    the typed token(s) each was made from; consecutive words may share a span."""
    tokens = [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"\S+", original)]
    a = [_key(w) for w in words]
    b = [_key(t[2]) for t in tokens]
    spans: list[tuple[int, int] | None] = [None] * len(words)
    i = j = 0
    for blk in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        if blk.a > i and blk.b > j:
            spans[i:blk.a] = _fill_gap(words[i:blk.a], tokens[j:blk.b])
        for n in range(blk.size):
            spans[blk.a + n] = tokens[blk.b + n][:2]
        i, j = blk.a + blk.size, blk.b + blk.size
    # words with no typed token of their own (inserted by the normaliser): their neighbour's
    for k, span in enumerate(spans):
        if span is None:
            spans[k] = spans[k - 1] if k else next((s for s in spans if s is not None), (0, len(original)))
    return [s for s in spans if s is not None]


def phoneme_symbols(phonemes: str) -> str:
    """The characters of a phoneme string that become ids (``phonemes_to_ids`` drops the rest)."""
    return "".join(c for c in phonemes if symbol_to_id(c) not in (None, PAD_ID))


def _groups(symbols: str) -> list[list[int]]:
    """Symbol positions of each espeak word (punctuation excluded; words without sounds dropped)."""
    groups: list[list[int]] = [[]]
    for i, c in enumerate(symbols):
        if c == " ":
            groups.append([])
        elif c not in PUNCTUATION:
            groups[-1].append(i)
    return [g for g in groups if g]


def phoneme_word_spans(symbols: str, words: Sequence[str],
                       phonemize_word: Callable[[str], str]) -> list[tuple[int, int] | None]:
    """Per normalised word of a chunk: ``(first, last)`` index in ``symbols`` (the chunk's
    phoneme symbols, :func:`phoneme_symbols`) of the sounds it is spoken with, or ``None``
    where no sound could be matched to it."""
    groups = _groups(symbols)
    if len(groups) == len(words):
        return [(g[0], g[-1]) for g in groups]
    phones = [i for g in groups for i in g]
    target = "".join(symbols[i] for i in phones if symbols[i] not in _STRESS)
    target_pos = [i for i in phones if symbols[i] not in _STRESS]
    source, owner = [], []
    for k, w in enumerate(words):
        sounds = [c for c in phoneme_symbols(phonemize_word(w)) if c not in PUNCTUATION + (_STRESS[0], _STRESS[1])]
        source += sounds
        owner += [k] * len(sounds)
    spans: list[tuple[int, int] | None] = [None] * len(words)
    matcher = difflib.SequenceMatcher(None, "".join(source), target, autojunk=False)
    for blk in matcher.get_matching_blocks():
        for n in range(blk.size):
            k, pos = owner[blk.a + n], target_pos[blk.b + n]
            lo, hi = spans[k] or (pos, pos)
            spans[k] = (min(lo, pos), max(hi, pos))
    return _extend_in_group(spans, groups)


def _extend_in_group(spans: list[tuple[int, int] | None], groups: list[list[int]]) -> list[tuple[int, int] | None]:
    """Sounds left unmatched inside an espeak word (\"for the\" -> \"fɚðə\": the \"ɚ\") go to
    the word before them."""
    group_of = {i: n for n, g in enumerate(groups) for i in g}
    matched = [k for k, s in enumerate(spans) if s is not None]
    for k in matched:
        lo, hi = spans[k]  # type: ignore[misc]
        nxt = next((spans[j][0] for j in matched if j > k), None)  # type: ignore[index]
        g = groups[group_of[hi]]
        last = g[-1] if nxt is None or group_of.get(nxt) != group_of[hi] else max(hi, nxt - 1)
        spans[k] = (lo, max(hi, max((i for i in g if i <= last), default=hi)))
    return spans
