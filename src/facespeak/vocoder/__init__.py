"""Vocoder: HiFi-GAN generator (``hifigan``), the bundled universal weights (``bundled``),
ONNX export/runner (``onnx_export``), RTF measurement (``speed``) and distillation (``distill``).
"""

from .bundled import load_universal_hifigan, universal_mel_spec
from .hifigan import HifiGanConfig, HifiGanGenerator

__all__ = ["HifiGanConfig", "HifiGanGenerator", "load_universal_hifigan", "universal_mel_spec"]
