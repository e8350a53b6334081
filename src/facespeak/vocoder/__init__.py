"""Vocoder: HiFi-GAN generator (``hifigan``), the frame-rate iSTFT vocoder (``istft_vocoder``),
bundled weights and the ``load_vocoder`` entry point (``bundled``), ONNX export/runner
(``onnx_export``), RTF measurement (``speed``) and distillation (``distill``).
"""

from .bundled import load_universal_hifigan, load_vocoder, load_vocoder_checkpoint, universal_mel_spec
from .hifigan import HifiGanConfig, HifiGanGenerator
from .istft_vocoder import IstftVocoder, IstftVocoderConfig

__all__ = [
    "HifiGanConfig",
    "HifiGanGenerator",
    "IstftVocoder",
    "IstftVocoderConfig",
    "load_universal_hifigan",
    "load_vocoder",
    "load_vocoder_checkpoint",
    "universal_mel_spec",
]
