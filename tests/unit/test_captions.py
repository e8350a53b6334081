"""Captions from symbol durations (facespeak.text.captions): word boundaries traced through the
text front end, cue times on the chunk timeline, strict SRT / WebVTT formats. No model: the
durations are made up, the phonemes are the real front end's."""

import re

import numpy as np
import pytest

from facespeak.core.errors import OutputPathError
from facespeak.text import TextConfig, TextFrontend
from facespeak.text.captions import SpokenChunk, caption_cues, caption_format, to_srt, to_vtt
from facespeak.text.symbols import PUNCTUATION, SYMBOLS

SR, HOP, PAUSE = 22050, 256, 4410
FE = TextFrontend(TextConfig())


def _chunks(text, frames_per_sound=4, frames_per_pause=30):
    """Chunks of ``text`` with durations: sounds 4 frames, punctuation 30, blanks 1."""
    out = []
    for chunk in FE.split(text):
        ids = FE.encode(chunk)
        durs = np.array([frames_per_pause if SYMBOLS[i] in PUNCTUATION and SYMBOLS[i] != " "
                         else 1 if i == FE.blank_id else frames_per_sound for i in ids], dtype=np.int64)
        out.append(SpokenChunk(chunk, ids, durs, int(durs.sum()) * HOP))
    return out


def _duration(chunks):
    return (sum(c.n_samples for c in chunks) + PAUSE * (len(chunks) - 1)) / SR


def _words(cues):
    return [w for c in cues for w in c.words]


def test_words_in_order_cover_the_sentence_and_times_are_monotonic():
    text = "Papa bought a map. Open the window wide!"
    chunks = _chunks(text)
    cues = caption_cues(FE, text, chunks, PAUSE, SR)
    assert [c.text for c in cues] == ["Papa bought a map.", "Open the window wide!"]
    assert [w.text for w in _words(cues)] == ["Papa", "bought", "a", "map", "Open", "the", "window", "wide"]
    times = [t for w in _words(cues) for t in (w.start_s, w.end_s)]
    assert times == sorted(times) and times[0] >= 0 and times[-1] <= _duration(chunks)
    assert all(w.end_s > w.start_s for w in _words(cues))
    # the cue gap is the sentence's final '.' (a 30-frame pause here) and blanks around it
    assert cues[1].start_s - cues[0].end_s >= 30 * HOP / SR


def test_a_number_maps_back_to_the_typed_token():
    text = "I have 24 apples and 1990 pears."
    cues = caption_cues(FE, text, _chunks(text), PAUSE, SR)
    words = _words(cues)
    assert [w.text for w in words] == ["I", "have", "24", "apples", "and", "1990", "pears"]
    # "24" is spoken as "twenty-four": more time than the one-syllable word before it
    assert words[2].end_s - words[2].start_s > words[1].end_s - words[1].start_s


def test_joined_words_keep_their_own_times():
    """espeak speaks "of the" as one word ("ʌvðə"); each typed word still gets its share."""
    text = "Of the people, for the people."
    words = _words(caption_cues(FE, text, _chunks(text), PAUSE, SR))
    assert [w.text for w in words] == ["Of", "the", "people", "for", "the", "people"]
    assert all(b.start_s >= a.end_s - 1e-9 for a, b in zip(words, words[1:]))
    assert all(w.end_s > w.start_s for w in words)


def test_chunk_pauses_are_on_the_timeline():
    text = ("This first sentence is made long enough that the text splitter has to put the next one in a "
            "chunk of its own, because a chunk holds at most two hundred characters of normalised text. "
            "Then a second sentence follows here.")
    chunks = _chunks(text)
    assert len(chunks) == 2
    cues = caption_cues(FE, text, chunks, PAUSE, SR)
    second_start = (chunks[0].n_samples + PAUSE) / SR
    assert cues[-1].start_s >= second_start and cues[-1].end_s <= _duration(chunks) + 1e-9
    assert cues[-2].end_s <= chunks[0].n_samples / SR


_SRT_CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n([^\n]+)\n")
_VTT_TIME = r"(\d\d):(\d\d):(\d\d)\.(\d{3})"


def _secs(h, m, s, ms):
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_srt(text):
    blocks = text.split("\n\n")
    assert blocks[-1] == ""
    cues = []
    for i, block in enumerate(blocks[:-1], 1):
        m = _SRT_CUE.fullmatch(block + "\n")
        assert m, block
        assert int(m.group(1)) == i
        cues.append((_secs(*m.group(2, 3, 4, 5)), _secs(*m.group(6, 7, 8, 9)), m.group(10)))
    return cues


def parse_vtt(text):
    assert text.startswith("WEBVTT\n\n")
    blocks = text[len("WEBVTT\n\n"):].split("\n\n")
    assert blocks[-1] == ""
    cues = []
    for block in blocks[:-1]:
        ident, timing, payload = block.split("\n")
        m = re.fullmatch(_VTT_TIME + " --> " + _VTT_TIME, timing)
        assert ident.isdigit() and m, block
        start, end = _secs(*m.group(1, 2, 3, 4)), _secs(*m.group(5, 6, 7, 8))
        stamps = [_secs(*t) for t in re.findall("<" + _VTT_TIME + ">", payload)]
        assert "<" not in re.sub("<" + _VTT_TIME + ">", "", payload)  # only timestamp tags
        assert all(start <= a <= b <= end for a, b in zip([start, *stamps], [*stamps, end]))
        cues.append((start, end, re.sub("<" + _VTT_TIME + ">", "", payload), len(stamps)))
    return cues


def test_srt_and_vtt_are_well_formed():
    text = "Tom & Jerry <3 it. Is 5 > 4? Yes!"
    cues = caption_cues(FE, text, _chunks(text), PAUSE, SR)
    srt, vtt = parse_srt(to_srt(cues)), parse_vtt(to_vtt(cues))
    assert [c[2] for c in srt] == ["Tom & Jerry <3 it.", "Is 5 > 4?", "Yes!"]
    assert [c[2] for c in vtt] == ["Tom &amp; Jerry &lt;3 it.", "Is 5 &gt; 4?", "Yes!"]
    assert [c[:2] for c in srt] == [c[:2] for c in vtt]
    assert [c[3] for c in vtt] == [len(c.words) - 1 for c in cues]


@pytest.mark.parametrize("name,ok", [("a.srt", "srt"), ("b.VTT", "vtt"), ("c.txt", None), ("d", None), ("e.srt.gz", None)])
def test_caption_format_from_the_extension(name, ok):
    if ok:
        assert caption_format(name) == ok
    else:
        with pytest.raises(OutputPathError, match="expected a .srt or .vtt path"):
            caption_format(name)
