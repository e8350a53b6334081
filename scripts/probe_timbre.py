"""Which mel-domain change makes a speaker encoder hear another voice? (session 6; decisions.md #21)

Speaks one sentence for three held-out men with the bundled TTS, the face's own timbre shift
turned off, then changes the mel before the vocoder and prints median F0, Resemblyzer cosine
to the unchanged voice and Whisper-base WER for each amount:

    python scripts/probe_timbre.py envelope   # formants only (facespeak.tts.timbre.formant_shift)
    python scripts/probe_timbre.py whole      # whole frame warped: formants and harmonics
    python scripts/probe_timbre.py fine       # harmonics only (pitch without formants)
    python scripts/probe_timbre.py tilt       # spectral slope, AMOUNT/100 nats across the band

``VOCODER=universal`` uses the pretrained HiFi-GAN V1 instead of the bundled fast vocoder.
"""
import os
import sys

import numpy as np
import torch

from facespeak.audio.asr import load_whisper_base, transcribe, wer
from facespeak.data.real_faces import load_manifest
from facespeak.eval.metrics.speech import median_f0, speaker_embedding
from facespeak.eval.selection import heldout_portraits, load_face
from facespeak.eval.tts_eval import TTSEvalConfig
from facespeak.pipeline import FaceSpeak, SpeechOptions
from facespeak.tts.timbre import DEFAULT_LIFTER, _dct_matrix, formant_shift, shift_matrix
from facespeak.vocoder.bundled import load_vocoder

MODE = sys.argv[1]
TEXT = "The old lighthouse keeper climbed the stairs every evening to light the lamp."
D = torch.tensor(_dct_matrix(80), dtype=torch.float32)
P = D[:DEFAULT_LIFTER].T @ D[:DEFAULT_LIFTER]  # envelope projector


def change(mel: torch.Tensor, amount: float) -> torch.Tensor:
    if MODE == "envelope":
        return formant_shift(mel, amount)
    if MODE == "whole":  # warp everything: the envelope matrix with the projector set to identity
        return formant_shift(mel, amount, lifter=80)
    if MODE == "fine":
        env = torch.einsum("kj,bjt->bkt", P, mel)
        return env + torch.einsum("kj,bjt->bkt", shift_matrix(amount, lifter=80), mel - env)
    if MODE == "tilt":
        return mel + (amount / 100.0) * (torch.arange(80.0)[None, :, None] / 79.0 - 0.5)
    raise SystemExit(f"unknown mode {MODE!r}")


fs = FaceSpeak.from_bundled(threads=1)
voc = load_vocoder(os.environ.get("VOCODER", "fast"))
asr = load_whisper_base()
cfg = TTSEvalConfig(n_sentences=3)
items = [it for it in heldout_portraits(load_manifest(cfg.faces_dir), cfg.faces_dir, 10)
         if it.person in ("biden", "obama", "pyfeat_man")]
for it in items:
    res = fs.speak(load_face(it), TEXT, SpeechOptions(formant_shift=0.0))
    mel = torch.from_numpy(np.concatenate([ch.mel for ch in res.chunks], 1))[None]
    base = None
    for amount in (0, -300, -150, 150, 300, 450):
        with torch.inference_mode():
            wav = voc(change(mel, float(amount)))[0].clamp(-1, 1).numpy()
        emb = speaker_embedding(wav, 22050)
        base = emb if base is None else base
        print(f"{it.person:12s} {MODE} {amount:+5d}: F0 {median_f0(wav, 22050):5.0f} Hz  cosine {float(emb @ base):.3f}  "
              f"WER {wer(TEXT, transcribe(wav, 22050, model=asr)):.2f}", flush=True)
