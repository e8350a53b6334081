"""Captions from the TTS alignment: sentence cues with word timings, as SRT or WebVTT.

The TTS predicts how many mel frames each input symbol lasts (``durations``, blanks included),
so a word's time is the sum of the durations before its first sound to the end of its last
sound (trailing punctuation, which the TTS speaks as a pause, excluded). Chunks sit on the
written audio's sample timeline: chunk ``k`` starts after the samples of chunks ``0..k-1`` and
one pause of ``pause_samples`` after each chunk that ends a sentence or clause (none after one
cut between words: facespeak.text.sentences.pause_after), exactly as the pipeline joins them; each
chunk's frame times are scaled to its real sample count. Words are traced back to the typed
text (facespeak.text.word_alignment): a number spoken as "twenty twenty-six" is one caption
word "2026". A cue is one sentence (it also ends at a chunk end: long sentences are cut at
clauses). SRT gets the sentence cues; WebVTT the same cues with ``<hh:mm:ss.mmm>`` tags
before each word after the first (WebVTT cue timestamps, W3C WebVTT section 4.2.2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import OutputPathError
from .sentences import ends_sentence, pause_after
from .symbols import BLANK_ID
from .word_alignment import original_spans, phoneme_symbols, phoneme_word_spans, spoken_words

__all__ = ["CAPTION_FORMATS", "caption_format", "SpokenChunk", "WordTiming", "Cue", "caption_cues", "to_srt",
           "to_vtt", "render_captions", "CAPTION_MEDIA_TYPES"]

CAPTION_FORMATS = ("srt", "vtt")
CAPTION_MEDIA_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt"}


def caption_format(path: str | Path, what: str = "--captions") -> str:
    """``"srt"`` or ``"vtt"`` from a file name; any other extension is an error."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in CAPTION_FORMATS:
        raise OutputPathError(f"{what}: expected a .srt or .vtt path, got {path}")
    return ext


@dataclass(frozen=True)
class SpokenChunk:
    """One synthesised chunk: normalised ``text``, its TTS ``ids`` (T_text,), ``durations``
    (T_text,) in mel frames, and ``n_samples`` of audio written for it."""

    text: str
    ids: Sequence[int]
    durations: np.ndarray
    n_samples: int


@dataclass(frozen=True)
class WordTiming:
    text: str  # as typed (punctuation around it removed)
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str  # the sentence as typed (whitespace collapsed)
    words: tuple[WordTiming, ...]


@dataclass
class _Word:
    span: tuple[int, int]  # typed characters
    start: float
    end: float
    sentence_end: bool


def _chunk_times(chunk: SpokenChunk, words: list[str], phonemize: Callable[[str], str], offset: int,
                 sample_rate: int) -> list[tuple[float, float] | None]:
    """Seconds (on the whole timeline) each word of ``chunk`` is spoken, or None (no sound found)."""
    ids, durs = list(chunk.ids), np.asarray(chunk.durations, dtype=np.float64)
    symbols = phoneme_symbols(phonemize(chunk.text))
    blank = len(ids) == 2 * len(symbols) + 1 and bool(ids) and ids[0] == BLANK_ID
    cum = np.concatenate([[0.0], np.cumsum(durs)])
    scale = chunk.n_samples / cum[-1] if cum[-1] > 0 else 0.0  # frames -> samples, exact per chunk
    if not blank and len(ids) != len(symbols):  # ids from another front end: spread evenly
        edges = np.linspace(0, chunk.n_samples, len(words) + 1)
        return [((offset + a) / sample_rate, (offset + b) / sample_rate) for a, b in zip(edges[:-1], edges[1:])]
    spans = phoneme_word_spans(symbols, words, phonemize)
    out: list[tuple[float, float] | None] = []
    for span in spans:
        if span is None:
            out.append(None)
            continue
        # with blanks a word starts at the blank before its first sound: the onset's transition
        # is spoken there (measured: cue starts 30-50 ms late without it)
        first, last = (2 * span[0], 2 * span[1] + 1) if blank else span
        out.append(((offset + cum[first] * scale) / sample_rate, (offset + cum[last + 1] * scale) / sample_rate))
    return out


def _timed_words(frontend: object, original: str, chunks: Sequence[SpokenChunk], pause_samples: int,
                 sample_rate: int) -> list[tuple[_Word, int]]:
    """Every spoken word with its typed span, seconds and chunk index, in order."""
    per_chunk = [spoken_words(c.text) for c in chunks]
    spans = original_spans(original, [w for ws in per_chunk for w in ws])
    phonemize = frontend.phonemize  # type: ignore[attr-defined]
    timed, offset, n = [], 0, 0
    for k, (chunk, words) in enumerate(zip(chunks, per_chunk)):
        times = _chunk_times(chunk, words, phonemize, offset, sample_rate)
        for w, t in zip(words, times):
            timed.append((_Word(spans[n], *(t or (np.nan, np.nan)), ends_sentence(w)), k))
            n += 1
        offset += chunk.n_samples + int(pause_after(chunk.text, pause_samples))
    _fill_and_order([w for w, _ in timed])
    return timed


def _fill_and_order(words: list[_Word]) -> None:
    """Words without a matched sound take the time between their neighbours; times never go back."""
    prev_end = 0.0
    for i, w in enumerate(words):
        if np.isnan(w.start):
            nxt = next((v.start for v in words[i + 1:] if not np.isnan(v.start)), prev_end)
            w.start, w.end = prev_end, max(prev_end, nxt)
        w.start = max(w.start, prev_end)
        w.end = max(w.end, w.start)
        prev_end = w.end


def _merge_same_token(group: list[_Word]) -> list[_Word]:
    """Consecutive normalised words of one typed token ("twenty", "twenty-six" <- "2026") -> one."""
    merged: list[_Word] = []
    for w in group:
        if merged and merged[-1].span == w.span:
            merged[-1].end, merged[-1].sentence_end = w.end, w.sentence_end
        else:
            merged.append(_Word(w.span, w.start, w.end, w.sentence_end))
    return merged


def _strip(original: str, span: tuple[int, int]) -> tuple[int, int]:
    """A typed token's span without the punctuation around it (kept whole if that empties it)."""
    s, e = span
    while s < e and not original[s].isalnum():
        s += 1
    while e > s and not original[e - 1].isalnum():
        e -= 1
    return (s, e) if s < e else span


def caption_cues(frontend: object, original: str, chunks: Sequence[SpokenChunk], pause_samples: int,
                 sample_rate: int) -> list[Cue]:
    """Sentence cues with word timings for ``original`` (the text as typed) spoken as ``chunks``
    (the chunks that made audio, in order) joined by ``pause_samples`` of silence (after a chunk
    that ends a sentence or clause: facespeak.text.sentences.pause_after).
    ``frontend``: the :class:`~facespeak.text.TextFrontend` that encoded the chunks."""
    cues: list[Cue] = []
    group: list[_Word] = []
    timed = _timed_words(frontend, original, chunks, pause_samples, sample_rate)
    for i, (w, k) in enumerate(timed):
        group.append(w)
        nxt = timed[i + 1] if i + 1 < len(timed) else None
        if nxt is None or (nxt[0].span != w.span and (w.sentence_end or nxt[1] != k)):
            cues.append(_cue(original, _merge_same_token(group)))
            group = []
    return cues


def _cue(original: str, words: list[_Word]) -> Cue:
    timings = tuple(WordTiming(original[slice(*_strip(original, w.span))], w.start, w.end) for w in words)
    text = " ".join(original[words[0].span[0]:words[-1].span[1]].split())
    return Cue(words[0].start, words[-1].end, text, timings)


# ---------------------------------------------------------------------------- file formats
def _stamp(seconds: float, sep: str) -> str:
    ms = max(int(round(seconds * 1000)), 0)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip: numbered sentence cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``."""
    return "".join(f"{i}\n{_stamp(c.start_s, ',')} --> {_stamp(c.end_s, ',')}\n{c.text}\n\n"
                   for i, c in enumerate(cues, 1))


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_payload(original_text: str, cue: Cue) -> str:
    """The sentence with a ``<timestamp>`` before each word after the first."""
    out, rest = [], original_text
    for i, w in enumerate(cue.words):
        at = rest.find(w.text)
        if at < 0:  # cannot happen for words cut from this text; keep the text whole
            return _vtt_escape(original_text)
        out.append(_vtt_escape(rest[:at]))
        if i:
            out.append(f"<{_stamp(w.start_s, '.')}>")
        out.append(_vtt_escape(w.text))
        rest = rest[at + len(w.text):]
    return "".join(out) + _vtt_escape(rest)


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT: the sentence cues, each word after the first preceded by its start time."""
    body = "".join(f"{i}\n{_stamp(c.start_s, '.')} --> {_stamp(c.end_s, '.')}\n{_vtt_payload(c.text, c)}\n\n"
                   for i, c in enumerate(cues, 1))
    return "WEBVTT\n\n" + body


def render_captions(cues: Sequence[Cue], fmt: str) -> str:
    """``fmt`` "srt" or "vtt" -> the file's text."""
    return to_srt(cues) if fmt == "srt" else to_vtt(cues)
