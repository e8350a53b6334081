"""Audio file reading/writing, resampling and waveform utilities."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from facespeak.audio.io import (
    load_audio,
    peak_normalize,
    read_audio,
    resample,
    save_wav,
    trim_silence,
    voiced_bounds,
)
from facespeak.core.errors import AudioError


def _sine(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _dominant_hz(wav: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    return float(np.argmax(spectrum) * rate / len(wav))


def _encode_with_pyav(path: Path, wav: np.ndarray, rate: int, codec: str) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        fmt = stream.codec_context.codec.audio_formats[0].name
        frame = av.AudioFrame.from_ndarray(wav[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=fmt, layout="mono", rate=rate)
        for out in resampler.resample(frame):
            for packet in stream.encode(out):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_wav_roundtrip_is_16bit_exact(tmp_path: Path) -> None:
    wav = _sine(440, 0.5, 16000)
    path = save_wav(tmp_path / "sub" / "a.wav", wav, 16000)
    info = sf.info(str(path))
    assert info.subtype == "PCM_16" and info.samplerate == 16000 and info.channels == 1
    back = load_audio(path, 16000)
    assert back.dtype == np.float32 and back.shape == wav.shape
    assert np.max(np.abs(back - wav)) < 1.0 / 32768 + 1e-6


def test_save_wav_clips_and_rejects_bad_shapes(tmp_path: Path) -> None:
    back = load_audio(save_wav(tmp_path / "loud.wav", np.array([2.0, -3.0, 0.5]), 8000), 8000)
    assert back.max() <= 1.0 and back.min() >= -1.0 and back[0] > 0.99
    with pytest.raises(AudioError, match="shape"):
        save_wav(tmp_path / "st.wav", np.zeros((2, 10)), 8000)
    with pytest.raises(AudioError, match="finite"):
        save_wav(tmp_path / "nan.wav", np.array([0.0, np.nan]), 8000)


def test_resampling_keeps_pitch_and_duration(tmp_path: Path) -> None:
    save_wav(tmp_path / "a.wav", _sine(1000, 1.0, 16000), 16000)
    out = load_audio(tmp_path / "a.wav", 22050)
    assert abs(len(out) - 22050) <= 1
    assert abs(_dominant_hz(out, 22050) - 1000) < 3
    assert abs(np.sqrt(np.mean(out[2000:-2000] ** 2)) - 0.5 / np.sqrt(2)) < 0.01


def test_resample_identity_rate_is_unchanged() -> None:
    wav = _sine(300, 0.1, 8000)
    assert np.array_equal(resample(wav, 8000, 8000), wav)


def test_stereo_flac_is_averaged_to_mono(tmp_path: Path) -> None:
    left, right = _sine(440, 0.2, 16000, 0.4), _sine(440, 0.2, 16000, 0.2)
    sf.write(str(tmp_path / "s.flac"), np.stack([left, right], axis=1), 16000)
    wav, rate = read_audio(tmp_path / "s.flac")
    assert rate == 16000
    np.testing.assert_allclose(wav, (left + right) / 2, atol=1e-4)


@pytest.mark.parametrize("suffix,codec", [(".mp3", "mp3"), (".m4a", "aac"), (".ogg", "libopus")])
def test_compressed_formats_decode(tmp_path: Path, suffix: str, codec: str) -> None:
    rate = 48000 if codec == "libopus" else 22050
    path = tmp_path / f"a{suffix}"
    _encode_with_pyav(path, _sine(660, 1.0, rate), rate, codec)
    wav = load_audio(path, 16000)
    assert 0.9 * 16000 < len(wav) < 1.2 * 16000
    assert abs(_dominant_hz(wav, 16000) - 660) < 5
    assert 0.25 < np.sqrt(np.mean(wav[4000:-4000] ** 2)) < 0.45


def test_missing_empty_and_corrupt_files_raise(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="does not exist"):
        load_audio(tmp_path / "nope.wav", 16000)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(tmp_path / "empty.wav", 16000)
    (tmp_path / "junk.mp3").write_bytes(b"this is not audio at all" * 40)
    with pytest.raises(AudioError, match="cannot decode"):
        load_audio(tmp_path / "junk.mp3", 16000)
    sf.write(str(tmp_path / "zero.wav"), np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="none"):
        load_audio(tmp_path / "zero.wav", 16000)


def test_peak_normalize() -> None:
    out = peak_normalize(np.array([0.1, -0.2, 0.05], np.float32), 0.9)
    assert np.isclose(np.abs(out).max(), 0.9) and out[1] < 0
    silence = np.zeros(5, np.float32)
    assert np.array_equal(peak_normalize(silence), silence)


def test_trim_silence_keeps_the_tone_with_margin() -> None:
    rate = 16000
    tone = _sine(300, 0.5, rate)
    wav = np.concatenate([np.zeros(rate), tone, np.zeros(rate // 2)]).astype(np.float32)
    wav += 1e-4 * np.random.default_rng(0).standard_normal(len(wav)).astype(np.float32)
    start, end = voiced_bounds(wav, rate, top_db=40)
    assert abs(start - rate) <= 320 and abs(end - (rate + len(tone))) <= 320
    trimmed = trim_silence(wav, rate, top_db=40, margin_ms=20)
    assert abs(len(trimmed) - (len(tone) + 640)) <= 640
    assert len(trim_silence(np.zeros(1000, np.float32), rate)) == 0
