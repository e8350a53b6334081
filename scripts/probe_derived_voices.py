#!/usr/bin/env python
"""Probe candidate derived voices: sox pitch shifts of one registry voice.

For each shift (cents; 0 = the parent itself) the parent voice, passed through
``sox pitch CENTS`` (plus optional extra sox effect words), speaks the probe sentences. Measured:

- Whisper base WER over all probe words (word-weighted, as ``facespeak data check-speech``),
- median F0 (YIN, ``facespeak.eval.metrics.speech.median_f0``) and its gender range,
- Resemblyzer cosine of the candidate's mean embedding to the parent rendering (cents 0) and to
  the mean embedding of every train voice of the same gender in the corpus (``--refs``
  utterances of each from ``manifest.jsonl``, held-out-sentence split).

``probe`` writes one JSON per parent (embeddings included); ``table`` reads several such JSONs
and adds the cosine between candidates of different files (is a new voice distinct from the
other new ones?).

Examples::

    scripts/probe_derived_voices.py probe --parent festival_rab --cents 0 250 -200 \
        --out runs/probe_s5/rab.json
    scripts/probe_derived_voices.py table runs/probe_s5/*.json

Default probe sentences: ``sentences.jsonl[:400:50]`` of the corpus (the 8 sentences of the
session-4 probe, 48 words).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("FACESPEAK_THREADS", "1")


def probe_sentences(corpus: Path, spec: str) -> list[str]:
    """``spec`` = ``START:STOP:STEP`` slice of the corpus sentences, or a text file (one a line)."""
    if Path(spec).is_file():
        return [s.strip() for s in Path(spec).read_text(encoding="utf-8").splitlines() if s.strip()]
    rows = [json.loads(line)["text"] for line in (corpus / "sentences.jsonl").read_text().splitlines()]
    start, stop, step = (int(x) if x else None for x in spec.split(":"))
    return rows[start:stop:step]


def mean_embedding(wavs: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """Unit-norm mean of the Resemblyzer embeddings of ``[(wav (T,), rate), ...]`` -> ``(256,)``."""
    from facespeak.eval.metrics.speech import speaker_embedding

    e = np.mean([speaker_embedding(w, sr) for w, sr in wavs], axis=0)
    return e / np.linalg.norm(e)


def reference_embeddings(corpus: Path, gender: str, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Mean embedding of ``n`` held-out-sentence utterances of every corpus train voice of ``gender``."""
    import soundfile as sf

    from facespeak.data.speech_corpus import read_manifest

    by_voice: dict[str, list] = {}
    for r in read_manifest(corpus / "manifest.jsonl"):
        if r.split == "eval_sentence" and r.gender == gender:
            by_voice.setdefault(r.voice, []).append(r)
    out = {}
    for voice, rows in sorted(by_voice.items()):
        picked = random.Random(f"{seed}-{voice}").sample(rows, min(n, len(rows)))
        out[voice] = mean_embedding([sf.read(str(corpus / r.wav), dtype="float32") for r in picked])
    return out


def probe_one(parent: str, cents: int, extra: list[str], sentences: list[str], asr, tmp: Path) -> dict:
    """Render ``parent`` shifted by ``cents`` on ``sentences``; WER, F0 and mean embedding."""
    import soundfile as sf

    from facespeak.audio.asr import transcribe, wer
    from facespeak.data.voices import get_voice
    from facespeak.eval.metrics.speech import f0_gender_range, median_f0

    v = get_voice(parent)
    effect = (("pitch", str(cents)) if cents else ()) + tuple(extra)
    label = f"{parent}{cents:+d}" + (f" {' '.join(extra)}" if extra else "")
    if effect:
        v = dataclasses.replace(v, name=label.replace(" ", "_"), derived_from=parent, sox_effect=effect)
    errs = words = 0.0
    f0s, wavs = [], []
    for i, text in enumerate(sentences):
        out = tmp / f"{i}.wav"
        v.synthesize(text, out)
        wav, sr = sf.read(str(out), dtype="float32")
        n = len(text.split())
        errs += wer(text, transcribe(wav, sr, model=asr)) * n
        words += n
        f0s.append(median_f0(wav, sr))
        wavs.append((wav, sr))
    f0 = float(np.nanmedian(f0s))
    return {"label": label, "parent": parent, "cents": cents, "sox_effect": list(effect),
            "wer": errs / words, "words": int(words), "median_f0_hz": f0, "f0_range": f0_gender_range(f0),
            "embedding": mean_embedding(wavs).tolist()}


def cmd_probe(args: argparse.Namespace) -> None:
    import torch

    from facespeak.audio.asr import load_whisper_base
    from facespeak.data.voices import get_voice

    torch.set_num_threads(1)
    corpus = Path(args.corpus)
    sentences = probe_sentences(corpus, args.sentences)
    gender = get_voice(args.parent).gender
    refs = reference_embeddings(corpus, gender, args.refs)
    asr = load_whisper_base(cpu_threads=1)
    cents = [0] + [c for c in args.cents if c != 0]
    results = []
    with tempfile.TemporaryDirectory(prefix="fs-probe-") as tmp:
        for c in cents:
            extras = [[]] if c == 0 else [[]] + ([args.extra.split()] if args.extra else [])
            for extra in extras:
                r = probe_one(args.parent, c, extra, sentences, asr, Path(tmp))
                e = np.asarray(r["embedding"])
                r["cos_refs"] = {k: float(e @ v) for k, v in refs.items()}
                r["cos_parent"] = float(e @ np.asarray(results[0]["embedding"])) if results else 1.0
                results.append(r)
                print(f"{r['label']:32s} WER {100 * r['wer']:5.1f}%  F0 {r['median_f0_hz']:6.1f} Hz  "
                      f"cos parent {r['cos_parent']:.2f}  max cos corpus {max(r['cos_refs'].values()):.2f} "
                      f"({max(r['cos_refs'], key=r['cos_refs'].get)})", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"parent": args.parent, "sentences": sentences,
                                          "results": results}, indent=1), encoding="utf-8")


def cmd_table(args: argparse.Namespace) -> None:
    from facespeak.data.voices import get_voice

    files = [json.loads(Path(p).read_text()) for p in args.json]
    keep = set(args.kept or [])
    cands = [(f, r) for f in files for r in f["results"]]
    other = {}
    if args.corpus:  # is a male candidate still closer to men than to women (and vice versa)?
        gender = {"male": "female", "female": "male"}[get_voice(files[0]["parent"]).gender]
        other = reference_embeddings(Path(args.corpus), gender, 8)
    print("| candidate | WER % | parent WER % | median F0 Hz | cos parent | max cos corpus (voice) | "
          "max cos kept (which) | max cos other gender | kept |\n|---|---|---|---|---|---|---|---|---|")
    for f, r in cands:
        e = np.asarray(r["embedding"])
        ref_voice = max(r["cos_refs"], key=r["cos_refs"].get)
        others = [(float(e @ np.asarray(o["embedding"])), o["label"]) for _, o in cands
                  if o["label"] in keep and o["label"] != r["label"]]
        oc = max(others) if others else (float("nan"), "-")
        og = max((float(e @ v) for v in other.values()), default=float("nan"))
        print(f"| {r['label']} | {100 * r['wer']:.1f} | {100 * f['results'][0]['wer']:.1f} | "
              f"{r['median_f0_hz']:.0f} | {r['cos_parent']:.2f} | {r['cos_refs'][ref_voice]:.2f} ({ref_voice}) | "
              f"{oc[0]:.2f} ({oc[1]}) | {og:.2f} | {'yes' if r['label'] in keep else ''} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe", help="render and measure shifts of one parent voice")
    p.add_argument("--parent", required=True, help="registry voice name, e.g. festival_rab")
    p.add_argument("--cents", type=int, nargs="+", required=True, help="pitch shifts (0 = parent)")
    p.add_argument("--extra", default="", help="extra sox effect words also tried after each shift, "
                   "e.g. 'equalizer 3000 1q 4'")
    p.add_argument("--sentences", default=":400:50", help="START:STOP:STEP of sentences.jsonl or a text file")
    p.add_argument("--corpus", default="corpus/speech")
    p.add_argument("--refs", type=int, default=8, help="held-out-sentence utterances per corpus voice")
    p.add_argument("--out", required=True, help="output JSON")
    t = sub.add_parser("table", help="markdown table of probe JSONs, with cross-candidate cosines")
    t.add_argument("json", nargs="+")
    t.add_argument("--kept", nargs="*", help="labels counted as kept for the cross-candidate column")
    t.add_argument("--corpus", default="", help="also give the max cosine to corpus voices of the other gender")
    args = ap.parse_args(argv)
    {"probe": cmd_probe, "table": cmd_table}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
