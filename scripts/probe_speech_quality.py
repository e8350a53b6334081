"""Probe: DistillMOS / DNSMOS SIG / WER of the TTS on TRAINING portraits and non-held-out
sentences under several synthesis settings (tuning material only; report on held-out data with
`facespeak eval tts`).

usage: python scripts/probe_speech_quality.py [--tts PATH] [--vocoder universal-int8|universal|fast|PATH]
           [--set temperature=0.2,0.5 --set formant_shift=0,None ...] [--portraits 4] [--sentences 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import torch


def _parse_sets(items: list[str]) -> dict[str, list]:
    grid = {}
    for item in items:
        key, values = item.split("=", 1)
        grid[key] = [None if v == "None" else (int(v) if v.isdigit() else float(v)) for v in values.split(",")]
    return grid


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tts", default=None)
    ap.add_argument("--vocoder", default="universal-int8")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--portraits", type=int, default=4)
    ap.add_argument("--sentences", type=int, default=3)
    ap.add_argument("--faces", default="corpus/faces")
    ap.add_argument("--no-wer", action="store_true")
    ap.add_argument("--save", default=None, help="directory for the wavs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from facespeak.audio.asr import load_whisper_base, transcribe, wer
    from facespeak.eval.metrics.speech_quality import score_speech_quality
    from facespeak.data.face_items import load_face, manifest_items
    from facespeak.pipeline import FaceSpeak, SpeechOptions

    from facespeak.options import VOCODER_NAMES

    fs = FaceSpeak.from_bundled(args.tts, vocoder=args.vocoder if args.vocoder in VOCODER_NAMES else "fast")
    if args.vocoder not in VOCODER_NAMES:
        from facespeak.vocoder.bundled import load_vocoder_checkpoint
        fs.vocoder = load_vocoder_checkpoint(args.vocoder)
    manifest = json.loads(Path(args.faces, "manifest.json").read_text())
    items = [i for i in manifest_items(manifest, Path(args.faces)) if i.split == "train" and i.kind == "photo"]
    by_person = {}
    for i in items:
        by_person.setdefault(i.person, i)
    people = sorted(by_person.values(), key=lambda i: (i.gender, i.person))
    fem = [p for p in people if p.gender == "female"][: (args.portraits + 1) // 2]
    male = [p for p in people if p.gender == "male"][: args.portraits // 2]
    portraits = [(p, load_face(p)) for p in fem + male]
    sentences = _training_sentences(args.sentences)
    asr = None if args.no_wer else load_whisper_base(cpu_threads=1)
    grid = _parse_sets(args.set)
    keys = list(grid)
    for combo in itertools.product(*grid.values()) if keys else [()]:
        opts = SpeechOptions.with_defaults(**dict(zip(keys, combo)))
        rows = []
        for k, (item, portrait) in enumerate(portraits):
            for j, text in enumerate(sentences):
                res = fs.speak(portrait, text, opts)
                q = score_speech_quality(res.wav, res.sample_rate)
                w = wer(text, transcribe(res.wav, res.sample_rate, model=asr)) if asr else float("nan")
                rows.append((q.distillmos, q.dnsmos_sig, w))
                if args.save:
                    import soundfile as sf
                    Path(args.save).mkdir(parents=True, exist_ok=True)
                    tag = "_".join(f"{a}{b}" for a, b in zip(keys, combo))
                    sf.write(f"{args.save}/{item.person}_{j}_{tag}.wav", res.wav, res.sample_rate)
        a = np.array(rows)
        print(f"{dict(zip(keys, combo))}: DistillMOS {np.nanmean(a[:,0]):.2f} (min {np.nanmin(a[:,0]):.2f})  "
              f"SIG {np.nanmean(a[:,1]):.2f}  WER {100*np.nanmean(a[:,2]):.1f} %  n={len(rows)}", flush=True)
    return 0


def _training_sentences(n: int) -> list[str]:
    """Training-split sentences of the speech corpus (never its held-out ones)."""
    p = Path("corpus/speech/sentences.jsonl")
    if p.is_file():
        rows = [json.loads(l) for l in p.read_text().splitlines() if l.strip()]
        rows = [r["text"] for r in rows if r.get("split") == "train"]
        return rows[:: max(1, len(rows) // n)][:n]
    return ["The committee will meet again on Thursday to review the plans.",
            "She carried the heavy basket of apples up the narrow stairs.",
            "Please remember to close the window before you leave the house."][:n]


if __name__ == "__main__":
    sys.exit(main())
