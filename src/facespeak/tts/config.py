"""TTS configuration dataclasses (1:1 with configs/*.yaml ``tts:`` sections)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TextEncoderConfig", "DurationConfig", "DecoderConfig", "TTSConfig"]


@dataclass
class TextEncoderConfig:
    """Matcha/Grad-TTS style text encoder: conv prenet + transformer with rotary attention."""

    channels: int = 192
    ffn_channels: int = 768
    heads: int = 2
    layers: int = 6
    kernel_size: int = 3
    dropout: float = 0.1
    prenet_layers: int = 3


@dataclass
class DurationConfig:
    channels: int = 256
    kernel_size: int = 3
    dropout: float = 0.1


@dataclass
class DecoderConfig:
    """1-D U-Net velocity estimator (Matcha's decoder, leaner blocks)."""

    channels: list[int] = field(default_factory=lambda: [256, 256])
    res_blocks_per_level: int = 1
    attention_heads: int = 2
    attention_per_level: int = 1  # transformer blocks per level (0 = conv only)
    full_res_attention: bool = True  # False: no attention at the first (full-rate) level: O(T^2) cost
    mid_blocks: int = 2
    time_dim: int = 128
    dropout: float = 0.05


@dataclass
class TTSConfig:
    """Face-conditioned Matcha-style TTS.

    ``cond_dim`` is the size of the conditioning face feature (f_id, D_id); with ``gender_cond``
    the model takes one more column (:attr:`cond_width`). ``n_vocab`` comes
    from the text front end. ``mel_mean``/``mel_std`` normalise log-mels (dataset statistics).
    """

    n_vocab: int = 200
    n_mels: int = 80
    cond_dim: int = 256
    spk_dim: int = 64
    encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    duration: DurationConfig = field(default_factory=DurationConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    sigma_min: float = 1e-4
    segment_frames: int = 172  # decoder trained on random mel segments (~2 s at 22.05k/256)
    mel_mean: float = -5.5
    mel_std: float = 2.1
    cond_dropout: float = 0.0  # probability of zeroing the face feature in training
    # apparent-gender score appended to the face feature (docs/decisions.md #14): cond is then
    # (B, cond_dim + 1), the last column = P(male) - P(female) in [-1, 1] from the face estimator
    gender_cond: bool = False
    align_prior_weight: float = 1.0  # weight of the beta-binomial diagonal prior in MAS (0 = off)
    align_prior_scale: float = 1.0  # its sharpness (RAD-TTS's omega)

    @property
    def cond_width(self) -> int:
        """Columns of the ``cond`` tensor the model takes (D_cond)."""
        return self.cond_dim + int(self.gender_cond)

    @classmethod
    def tiny(cls) -> "TTSConfig":
        return cls(
            n_vocab=40, n_mels=16, cond_dim=8, spk_dim=8,
            encoder=TextEncoderConfig(channels=16, ffn_channels=32, heads=2, layers=1, prenet_layers=1),
            duration=DurationConfig(channels=16),
            decoder=DecoderConfig(channels=[16, 16], attention_heads=2, attention_per_level=1, mid_blocks=1, time_dim=16),
            segment_frames=16,
        )

    @classmethod
    def default(cls) -> "TTSConfig":
        """The bundled CPU-trained size (~6 M parameters)."""
        return cls(
            encoder=TextEncoderConfig(channels=192, ffn_channels=768, heads=2, layers=4),
            duration=DurationConfig(channels=192),
            decoder=DecoderConfig(channels=[192, 192], attention_per_level=1, mid_blocks=1),
        )

    @classmethod
    def paper(cls) -> "TTSConfig":
        """Matcha-TTS sizes (encoder 6 x 192, decoder U-Net [256, 256]) with a 512-d face feature."""
        return cls(
            cond_dim=512,
            encoder=TextEncoderConfig(),
            decoder=DecoderConfig(channels=[256, 256], attention_per_level=1, mid_blocks=2),
        )
