"""Speech quality of `say`'s chunking (decisions.md #34): the same texts synthesised with
(a) the front end's sentence chunks (the old default `say`), (b) the old `say --stream` chunks
(first chunk cut between words at 24 characters, 0.2 s pause at every join), (c) the chunks of
`say` now (first chunk to the last sentence or clause end within 32 characters, no pause after a
cut between words), (d) (c)'s chunks with a pause at every join. DistillMOS / DNSMOS per variant
(facespeak.eval.metrics.speech_quality); the audio is joined as `say` joins it.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/probe_first_chunk.py MANIFEST.jsonl [--out probe.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _joined(fs, text, cond, opts, split, pause_rule) -> tuple[np.ndarray, list[str]]:
    sr, parts, texts = fs.mel_spec.sample_rate, [], []
    for ch in fs.iter_chunks(text, cond, opts, split=split):
        if texts:
            parts.append(np.zeros(int(pause_rule(texts[-1], opts.pause_s) * sr), np.float32))
        parts.append(ch.wav)
        texts.append(ch.text)
    return np.concatenate(parts), texts


def main() -> int:
    from facespeak.eval.metrics.speech_quality import score_speech_quality
    from facespeak.pipeline import FaceSpeak, SpeechOptions
    from facespeak.say_stream import growing_split
    from facespeak.text.sentences import pause_after

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("manifest")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    fs = FaceSpeak.from_bundled()
    always = lambda chunk, pause_s: pause_s  # noqa: E731
    variants = {"a_sentences": (None, always), "b_old_stream": (growing_split(fs.frontend, reach=0), always),
                "c_now": (growing_split(fs.frontend), pause_after), "d_now_all_pauses": (growing_split(fs.frontend), always)}
    rows = [json.loads(line) for line in Path(args.manifest).read_text().splitlines() if line.strip()]
    scores: dict[str, list] = {k: [] for k in variants}
    for row in rows:
        cond = fs.face_condition(row["portrait"], row.get("face_index"))[2]
        opts = SpeechOptions(seed=int(row.get("seed", 0)))
        for name, (split, rule) in variants.items():
            wav, texts = _joined(fs, row["text"], cond, opts, split, rule)
            q = score_speech_quality(wav, fs.mel_spec.sample_rate)
            scores[name].append({"id": row.get("id"), "chunks": texts, "distillmos": q.distillmos, "dnsmos_sig": q.dnsmos_sig,
                                 "dnsmos_ovrl": q.dnsmos_ovrl, "seconds": len(wav) / fs.mel_spec.sample_rate})
            print(row.get("id"), name, f"{q.distillmos:.3f}", texts, flush=True)
    summary = {k: {m: float(np.nanmean([r[m] for r in v])) for m in ("distillmos", "dnsmos_sig", "dnsmos_ovrl", "seconds")}
               for k, v in scores.items()}
    for k, v in summary.items():
        print(k, {m: round(x, 3) for m, x in v.items()})
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "rows": scores}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
