"""Resynthesis of real recorded speech through our mel + the universal HiFi-GAN.

Measured on the five LibriVox clips of pocketsphinx-testdata: mel L1 0.27-0.28 per clip
(natural-log units); Whisper base WER 1/71 words on the originals, 3/71 on the resynthesis.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from facespeak.audio.io import load_audio
from facespeak.audio.mel import MelExtractor
from facespeak.audio.reference_speech import SpeechClip, librivox_clips
from facespeak.core.errors import DependencyError
from facespeak.core.timing import MelSpec
from facespeak.vocoder.bundled import load_universal_hifigan, universal_mel_spec


def _clips() -> list[SpeechClip]:
    try:
        return librivox_clips()
    except DependencyError as exc:
        pytest.skip(str(exc))


@functools.lru_cache(maxsize=None)
def _resynthesise(path: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(original, resynthesised, mel L1) at the vocoder's rate for one clip."""
    spec = universal_mel_spec()
    extractor, vocoder = MelExtractor(spec), _vocoder()
    wav = load_audio(path, spec.sample_rate)
    with torch.inference_mode():  # tests/conftest.py already runs torch on one thread
        mel = extractor(torch.from_numpy(wav))
        resynth = vocoder(mel)
        l1 = (extractor(resynth) - mel).abs().mean().item()
    return wav, resynth[0].numpy(), l1


@functools.lru_cache(maxsize=1)
def _vocoder():
    return load_universal_hifigan()


def test_resynthesis_reproduces_the_mel() -> None:
    spec: MelSpec = universal_mel_spec()
    for clip in sorted(_clips(), key=lambda c: c.path.stat().st_size)[:3]:  # ~12 s of speech
        wav, resynth, l1 = _resynthesise(str(clip.path))
        assert len(resynth) == len(wav) // spec.hop_length * spec.hop_length
        assert l1 < 0.35, (clip.path.name, l1)
        rms_ratio = np.sqrt(np.mean(resynth**2)) / np.sqrt(np.mean(wav[: len(resynth)] ** 2))
        assert 0.5 < rms_ratio < 2.0, rms_ratio


@pytest.mark.slow
def test_resynthesis_is_intelligible_to_whisper() -> None:
    from facespeak.audio.asr import normalize_words, transcribe, wer

    rate = universal_mel_spec().sample_rate
    errors_orig = errors_resynth = words = 0.0
    for clip in _clips():
        wav, resynth, _ = _resynthesise(str(clip.path))
        n = len(normalize_words(clip.transcript))
        words += n
        errors_orig += wer(clip.transcript, transcribe(wav, rate)) * n
        errors_resynth += wer(clip.transcript, transcribe(resynth, rate)) * n
    assert words > 60
    assert errors_orig / words <= 0.05
    assert errors_resynth / words <= 0.10
    assert errors_resynth <= errors_orig + 4
