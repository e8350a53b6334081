"""Stages wired together (owns no weights): portrait -> identity -> text -> TTS -> vocoder.

Numbered stages (each a short method):
  1. portrait analysis: load, detect, choose a face       (facespeak.face)
  2. identity feature f_id (or f for the ablation)        (facespeak.face.identity)
  3. text: normalise + split into chunks                  (facespeak.text)
  4. acoustic model: ids -> mel + intermediates           (facespeak.tts)
  5. vocoder: mel -> waveform                             (facespeak.vocoder)

Every stochastic step draws from a ``torch.Generator`` seeded from ``(seed, chunk index)``, so
the same portrait + text + seed gives the same audio, and chunks are independent (long text is
synthesised chunk by chunk with constant memory).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .core.errors import CheckpointError, InputError

__all__ = ["SpeechOptions", "SpeechChunk", "SpeechResult", "FaceSpeak", "default_tts_path"]

log = logging.getLogger(__name__)


def default_tts_path() -> Path:
    from .assets import asset_path

    return asset_path("tts", "tts.safetensors")


@dataclass
class SpeechOptions:
    """Synthesis options (same names as the CLI flags)."""

    seed: int = 0
    steps: int = 10  # Euler steps of the flow-matching decoder
    temperature: float = 0.667
    length_scale: float = 1.0  # > 1 speaks slower
    condition: str = "f_id"  # f_id (motion removed, the paper) | f (motion kept, ablation)
    pause_s: float = 0.2  # silence between text chunks

    def validate(self) -> None:
        if not 1 <= self.steps <= 200:
            raise InputError(f"steps: expected 1..200, got {self.steps}")
        if not 0.0 <= self.temperature <= 2.0:
            raise InputError(f"temperature: expected 0..2, got {self.temperature}")
        if not 0.25 <= self.length_scale <= 4.0:
            raise InputError(f"length scale: expected 0.25..4, got {self.length_scale}")
        if self.condition not in ("f_id", "f"):
            raise InputError(f"condition: expected 'f_id' or 'f', got {self.condition!r}")


@dataclass
class SpeechChunk:
    """One synthesised text chunk. wav (T_wav,) float32; mel (n_mels, T_mel); durations (T_text,)
    mel frames per symbol; e_t (C, T_text); mu_y (n_mels, T_mel) = the paper's f~_t."""

    text: str
    ids: list[int]
    wav: np.ndarray
    mel: np.ndarray
    durations: np.ndarray
    e_t: np.ndarray
    mu_y: np.ndarray


@dataclass
class SpeechResult:
    wav: np.ndarray  # (T_wav,) float32 in [-1, 1]
    sample_rate: int
    chunks: list[SpeechChunk] = field(default_factory=list)
    identity: Any = None
    portrait: Any = None

    @property
    def duration_s(self) -> float:
        return len(self.wav) / self.sample_rate


class FaceSpeak:
    """Portrait + text -> speech with a voice from the face. Thread-safe for inference."""

    def __init__(self, tts: Any, tts_config: dict[str, Any], vocoder: Any, frontend: Any, identity: Any,
                 mel_spec: Any, device: torch.device) -> None:
        self.tts, self.tts_config, self.vocoder = tts, tts_config, vocoder
        self.frontend, self.identity, self.mel_spec, self.device = frontend, identity, mel_spec, device

    @classmethod
    def from_bundled(cls, tts_path: str | Path | None = None, device: str = "cpu", threads: int | None = None) -> "FaceSpeak":
        """Load the bundled (or given) TTS, the universal HiFi-GAN, the text front end and the
        identity encoder."""
        from .core.checkpoint import load_checkpoint
        from .core.config import from_dict
        from .core.timing import MelSpec
        from .face.identity import IdentityExtractor
        from .text import TextConfig, TextFrontend
        from .tts import FaceTTS, TTSConfig
        from .vocoder.bundled import load_universal_hifigan

        if threads or os.environ.get("FACESPEAK_THREADS"):
            torch.set_num_threads(int(threads or os.environ["FACESPEAK_THREADS"]))
        path = Path(tts_path) if tts_path else default_tts_path()
        state, info = load_checkpoint(path, arch="facespeak.tts")
        raw = {k: v for k, v in info.config.items() if not k.startswith("_")}
        cfg = from_dict(TTSConfig, raw)
        frontend = TextFrontend(TextConfig())
        sym = info.config.get("_text_symbols")
        if sym is not None and str(sym) != str(frontend.symbol_table_version):
            raise CheckpointError(f"TTS {path} was trained with text symbols v{sym}, this front end is v{frontend.symbol_table_version}")
        tts = FaceTTS(cfg)
        tts.load_state_dict(state)
        tts.eval().to(device)
        vocoder = load_universal_hifigan(device)
        return cls(tts, info.config, vocoder, frontend, IdentityExtractor.from_bundled(), MelSpec(), torch.device(device))

    # 1-2 ---------------------------------------------------------------------------------
    def face_condition(self, image: Any, face_index: int | None = None, condition: str = "f_id"):
        """Portrait (path, bytes, RGB array or an analysed ``Portrait``) ->
        (Portrait, IdentityFeatures, cond (1, D_cond))."""
        from .face.analysis import Portrait, load_portrait

        portrait = image if isinstance(image, Portrait) else load_portrait(image, face_index)
        feats = self.identity.extract(portrait.image, portrait.face)
        vec = feats.f_id if condition == "f_id" else feats.f
        return portrait, feats, torch.as_tensor(np.asarray(vec, dtype=np.float32))[None].to(self.device)

    # 3-5 ---------------------------------------------------------------------------------
    def iter_chunks(self, text: str, cond: torch.Tensor, opts: SpeechOptions) -> Iterator[SpeechChunk]:
        """Synthesise ``text`` chunk by chunk (constant memory for long text)."""
        opts.validate()
        self.frontend.normalize(text)  # raises TextError early for empty/unspeakable text
        chunks = self.frontend.split(text)
        for k, chunk in enumerate(chunks):
            ids = self.frontend.encode(chunk)
            if not ids:
                continue
            yield self._synthesise_chunk(chunk, ids, cond, opts, k)

    @torch.inference_mode()
    def _synthesise_chunk(self, text: str, ids: list[int], cond: torch.Tensor, opts: SpeechOptions, k: int) -> SpeechChunk:
        gen = torch.Generator().manual_seed(int(opts.seed) * 1_000_003 + k)
        x = torch.tensor([ids], dtype=torch.long, device=self.device)
        out = self.tts.synthesise(x, torch.tensor([len(ids)], device=self.device), cond, n_steps=opts.steps,
                                  temperature=opts.temperature, length_scale=opts.length_scale, generator=gen)
        n = int(out.mel_lengths[0])
        mel = out.mel[:, :, :n]
        wav = self.vocoder(mel)[0].clamp(-1, 1).cpu().numpy().astype(np.float32)
        return SpeechChunk(text=text, ids=ids, wav=wav, mel=mel[0].cpu().numpy(), durations=out.durations[0].cpu().numpy(),
                           e_t=out.e_t[0].cpu().numpy(), mu_y=out.mu_y[0, :, :n].cpu().numpy())

    def speak(self, image: Any, text: str, opts: SpeechOptions | None = None, face_index: int | None = None,
              keep_chunks: bool = True) -> SpeechResult:
        """Portrait + text -> :class:`SpeechResult` (whole waveform in memory)."""
        opts = opts or SpeechOptions()
        opts.validate()
        portrait, feats, cond = self.face_condition(image, face_index, opts.condition)
        pause = np.zeros(int(opts.pause_s * self.mel_spec.sample_rate), dtype=np.float32)
        parts, chunks = [], []
        for i, ch in enumerate(self.iter_chunks(text, cond, opts)):
            parts.extend([pause, ch.wav] if i else [ch.wav])
            if keep_chunks:
                chunks.append(ch)
        wav = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return SpeechResult(wav=wav, sample_rate=self.mel_spec.sample_rate, chunks=chunks, identity=feats, portrait=portrait)
