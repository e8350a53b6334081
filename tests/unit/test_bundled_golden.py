"""Same seed, same output: the bundled models' speech and video for one fixed request, against
values recorded on session 9's code, re-recorded in session 10 when the default vocoder became
``universal-int8``, again when the jaw field stopped folding the lips, when the mouth corners
stopped tearing open and when mirrored fill was limited to texture stretched past 3x (session 11;
issue 13: a renovation must not change what users get).

The golden file holds the TTS mel (float16), the phoneme durations, the waveform's level, and 8x8
block means of a few decoded video frames. A deliberate change of output (new weights, a renderer
fix) regenerates it: ``.venv/bin/python tests/unit/test_bundled_golden.py --write`` (say why in
the commit). Tolerances cover float reordering, not behaviour: mel 0.02 (log units),
frames 3 levels on block means.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "bundled_seed3.npz"
PORTRAIT = ROOT / "examples" / "portrait.jpg"
TEXT = "Hello there, this is a short check."
SEED = 3
FRAMES = (0, 20, 40, 60)


def _record(tmp: Path) -> dict[str, np.ndarray]:
    import av

    from facespeak.options import SpeechOptions, VideoOptions
    from facespeak.pipeline import FaceSpeak, say

    fs = FaceSpeak.from_bundled()
    speech = fs.speak(str(PORTRAIT), TEXT, SpeechOptions(seed=SEED))
    mel = np.concatenate([c.mel for c in speech.chunks], axis=1)
    durations = np.concatenate([c.durations for c in speech.chunks])
    out = tmp / "golden.mp4"
    say(fs, str(PORTRAIT), TEXT, out, SpeechOptions(seed=SEED), VideoOptions())
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    blocks = np.stack([frames[i].reshape(32, 8, 32, 8, 3).mean(axis=(1, 3)) for i in FRAMES])  # 256 px crop
    return {"mel": mel.astype(np.float16), "durations": durations.astype(np.int32),
            "rms": np.float32(np.sqrt(np.mean(speech.wav ** 2))), "n_frames": np.int32(len(frames)),
            "blocks": blocks.astype(np.float32)}


def test_bundled_models_give_the_recorded_output(tmp_path):
    want = dict(np.load(GOLDEN))
    got = _record(tmp_path)
    np.testing.assert_array_equal(got["durations"], want["durations"])
    assert got["mel"].shape == want["mel"].shape
    np.testing.assert_allclose(got["mel"].astype(np.float32), want["mel"].astype(np.float32), atol=0.02)
    assert abs(float(got["rms"]) - float(want["rms"])) < 1e-3
    assert int(got["n_frames"]) == int(want["n_frames"])
    np.testing.assert_allclose(got["blocks"], want["blocks"], atol=3.0)


if __name__ == "__main__" and "--write" in sys.argv:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.parent.mkdir(exist_ok=True)
        np.savez_compressed(GOLDEN, **_record(Path(tmp)))
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")
