"""Measure the activation ranges of the int8 universal vocoder and write them to the assets.

Calibration material (never the LibriVox clips, which are the report set of `eval vocoder`):
- the eight non-LibriVox recordings of Debian `pocketsphinx-testdata` (scripts/vocoder_dev_check.py),
- mels the bundled TTS makes for the example portrait with a male and a female voice, at three
  formant shifts, on three training-style sentences (the mels the default pipeline feeds it).

usage: python scripts/calibrate_int8_vocoder.py [--out src/facespeak/assets/vocoder/universal_int8.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

SENTENCES = ["The committee will meet again on Thursday to review the plans.",
             "She carried the heavy basket of apples up the narrow stairs!",
             "Why did the old clock stop at seven, when nobody touched it?"]


def tts_mels() -> list[np.ndarray]:
    from facespeak.pipeline import FaceSpeak, SpeechOptions

    fs = FaceSpeak.from_bundled(vocoder="fast")
    mels = []
    for gender in ("male", "female"):
        for shift in (-150.0, 0.0, 150.0):
            opts = SpeechOptions.with_defaults(voice_gender=gender, formant_shift=shift)
            res = fs.speak("examples/portrait.jpg", " ".join(SENTENCES), opts)
            mels += [c.mel[None] for c in res.chunks]
    return mels


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="src/facespeak/assets/vocoder/universal_int8.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    from vocoder_dev_check import dev_clips

    from facespeak.audio.mel import MelExtractor
    from facespeak.vocoder.bundled import load_universal_hifigan, universal_mel_spec
    from facespeak.vocoder.int8 import calibrate_ranges
    from facespeak.vocoder.onnx_export import export_onnx

    spec = universal_mel_spec()
    extractor = MelExtractor(spec)
    mels = [extractor(torch.from_numpy(w).float()).numpy() for _, w in dev_clips(spec.sample_rate)]
    mels += tts_mels()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(load_universal_hifigan(), Path(tmp) / "v1.onnx")
        ranges = calibrate_ranges(fp32, mels, source=(
            f"{len(mels)} mels: the 8 non-LibriVox pocketsphinx-testdata recordings + the bundled TTS on "
            "examples/portrait.jpg (male and female voice, formant shifts -150/0/+150 cents, 3 sentences)"))
    Path(args.out).write_text(ranges.to_json() + "\n")
    print(f"wrote {len(ranges.ranges)} ranges from {len(mels)} mels to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
