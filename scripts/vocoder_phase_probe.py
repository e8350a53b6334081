"""Where does a vocoder lose quality: its magnitude or its phase? (docs/vocoder.md, "Phase")

On the dev recordings of scripts/vocoder_dev_check.py (never LibriVox), swaps the phase and the
magnitude of a vocoder's output with those of the original recording and scores DistillMOS:

- ``model``: the vocoder's output as is
- ``model magnitude + true phase`` / ``true magnitude + model phase``
- ``true magnitude + random phase`` (the floor) and ``true magnitude + fast Griffin-Lim``
  (32 iterations from a random start: what phase reconstruction can reach with a perfect magnitude)

usage: python scripts/vocoder_phase_probe.py [VOCODER]   (fast | universal | PATH; default fast)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))


def main(argv: list[str]) -> int:
    from vocoder_dev_check import dev_clips

    from facespeak.audio.mel import MelExtractor
    from facespeak.core.timing import MelSpec
    from facespeak.eval.metrics.speech_quality import score_speech_quality
    from facespeak.eval.vocoder_eval import load_vocoder_for_eval

    torch.set_num_threads(1)
    name = argv[0] if argv else "fast"
    vocoder = load_vocoder_for_eval(name)
    extractor = MelExtractor(MelSpec())
    window = torch.hann_window(1024)

    def stft(x: torch.Tensor) -> torch.Tensor:
        return torch.stft(x, 1024, 256, 1024, window, center=True, return_complex=True)

    def istft(spec: torch.Tensor, n: int) -> torch.Tensor:
        return torch.istft(spec, 1024, 256, 1024, window, center=True, length=n)

    def griffin_lim(
        magnitude: torch.Tensor, n: int, iterations: int = 32, momentum: float = 0.99, phase: torch.Tensor | None = None
    ) -> torch.Tensor:
        if phase is None:
            phase = torch.rand(magnitude.shape, generator=torch.Generator().manual_seed(0)) * 2 * np.pi
        spec = torch.polar(magnitude, phase)
        previous = spec
        for _ in range(iterations):
            proj = stft(istft(spec, n))
            fast = proj + momentum * (proj - previous)
            previous = proj
            spec = magnitude * fast / fast.abs().clamp(min=1e-8)
        return istft(spec, n)

    scores: dict[str, list[float]] = {}
    gl_seconds, audio_seconds = 0.0, 0.0
    for _, wav in dev_clips(22050):
        wav = wav[: len(wav) // 256 * 256]
        n = len(wav)
        x = torch.from_numpy(wav).float()
        with torch.inference_mode():
            out = vocoder.model(extractor(x))[0] if hasattr(vocoder, "model") else vocoder(extractor(x))[0]
        out = out[:n]
        true, model = stft(x), stft(out)
        frames = min(true.shape[-1], model.shape[-1])
        true, model = true[:, :frames], model[:, :frames]
        t0 = time.time()
        gl = griffin_lim(true.abs(), n)
        gl_seconds += time.time() - t0
        audio_seconds += n / 22050
        variants = {
            "model": out,
            "model magnitude + true phase": istft(torch.polar(model.abs(), true.angle()), n),
            "true magnitude + model phase": istft(torch.polar(true.abs(), model.angle()), n),
            "true magnitude + random phase": istft(torch.polar(true.abs(), torch.rand(true.shape) * 2 * np.pi), n),
            "true magnitude + Griffin-Lim 32": gl,
            "model magnitude + Griffin-Lim 32": griffin_lim(model.abs(), n),
            "model magnitude + GL 32 from model phase": griffin_lim(model.abs(), n, phase=model.angle()),
        }
        for key, y in variants.items():
            scores.setdefault(key, []).append(score_speech_quality(y.numpy(), 22050).distillmos)
    print(f"vocoder {name}, {len(scores['model'])} dev recordings, DistillMOS mean:")
    for key, values in scores.items():
        print(f"  {key:34s} {np.mean(values):.3f}")
    print(f"  (Griffin-Lim 32 iterations, 1 thread: RTF {gl_seconds / audio_seconds:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
