"""Face-conditioned flow-matching TTS (Matcha-style), no I/O, no device choice."""

from .alignment import durations_to_path, monotonic_alignment_search, sequence_mask
from .config import DecoderConfig, DurationConfig, TextEncoderConfig, TTSConfig
from .model import FaceTTS, SynthesisOutput, TTSLosses

__all__ = [
    "FaceTTS", "SynthesisOutput", "TTSLosses", "TTSConfig", "TextEncoderConfig", "DurationConfig",
    "DecoderConfig", "monotonic_alignment_search", "durations_to_path", "sequence_mask",
]
