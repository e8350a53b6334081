"""Dev check for vocoder checkpoints (choose among them here, report on LibriVox with
`facespeak eval vocoder`): copy-synthesis DistillMOS / DNSMOS SIG / mel L1 of the real
non-LibriVox recordings of Debian pocketsphinx-testdata (cards/*.wav, goforward, numbers,
something: 16 kHz read speech, never used for training or for the LibriVox report).

usage: python scripts/vocoder_dev_check.py VOCODER [VOCODER ...]   (fast | universal | PATH)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

DATA = Path("/usr/share/pocketsphinx/test/data")


def dev_clips(rate: int) -> list[tuple[str, np.ndarray]]:
    from facespeak.audio.io import load_audio, resample

    clips = [(p.stem, load_audio(p, rate)) for p in sorted((DATA / "cards").glob("*.wav"))]
    for name in ("goforward", "numbers", "something"):  # headerless 16 kHz int16
        raw = np.fromfile(DATA / f"{name}.raw", dtype="<i2").astype(np.float32) / 32768.0
        clips.append((name, resample(raw, 16000, rate)))
    return clips


def main(names: list[str]) -> int:
    import torch

    torch.set_num_threads(1)
    from facespeak.eval.metrics.speech_quality import score_speech_quality, summarize_speech_quality
    from facespeak.eval.vocoder_eval import copy_synthesis, load_vocoder_for_eval

    clips = dev_clips(22050)
    for name in ["original", *names]:
        scores, l1s = [], []
        vocoder = None if name == "original" else load_vocoder_for_eval(name)
        for clip, wav in clips:
            if vocoder is None:
                out, l1 = wav, 0.0
            else:
                wav = wav[: len(wav) // vocoder.spec.hop_length * vocoder.spec.hop_length]
                out, l1, _ = copy_synthesis(vocoder, wav)
            scores.append(score_speech_quality(out, 22050))
            l1s.append(l1)
        s = summarize_speech_quality(scores)
        print(f"{name}: DistillMOS {s.distillmos_mean:.3f} (min {s.distillmos_min:.3f})  SIG {s.dnsmos_sig_mean:.3f}  "
              f"mel L1 {np.mean(l1s):.3f}  n={len(scores)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
