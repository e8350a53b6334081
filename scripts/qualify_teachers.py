#!/usr/bin/env python
"""Qualify teacher voices for the speech corpus (issue 11, item 3: "natural teachers").

A voice may teach the face-conditioned TTS only if, on ``--sentences`` train-pool sentences
rendered exactly as the corpus builder renders them (``Voice.synthesize``: trimmed, levelled,
22,050 Hz):

- DistillMOS mean >= 3.8 (``facespeak.eval.metrics.speech_quality``; DNSMOS SIG printed too),
- Whisper-base WER <= 5 % (English forced, VAD on; total errors / total words, as ``eval tts``),
- Whisper-base language ID P(en) >= 0.95 on 30 s of the voice (its utterances joined with
  0.2 s pauses; ``detect_language``, which reads one 30-s window, as ``transcribe`` does on a
  long file). The mean of per-utterance P(en) is printed too: on 1.5-3 s clips Whisper's
  language ID is unsure for every accented voice (Kokoro 0.84-0.94 per clip, 0.98-0.99 on
  30 s), so the per-clip mean cannot tell a mild accent from a strong one (jf_alpha: 0.58 per
  clip, 0.91 on 30 s); hibari and piper score >= 0.97 either way.

Kept voices should also be distinct: the Resemblyzer cosine of their mean embeddings to every
other voice of the same gender is printed (prefer below ``DISTINCT_MAX_COSINE``); choosing among
voices that pass is left to the reader of the table (docs/datasheet_speech.md, revision 6).

Sentences come from the corpus's own pool (``load_sentences`` + ``assign_sentence_splits`` with
the ``CorpusConfig`` defaults) and are never the held-out evaluation sentences. Only sentences
whose every word is one token of Whisper's vocabulary are drawn (141 of the 2,920 train
sentences): on rare WordNet words ("luxated", "ravened", "heartburning") Whisper base misses for
every voice alike (hibari heart, the clearest voice, scored 12.5 % on 10 unfiltered sentences),
which would measure Whisper, not the voice.

    .venv/bin/python scripts/qualify_teachers.py    # the datasheet's table: all candidates, 30 sentences
    .venv/bin/python scripts/qualify_teachers.py --voices piper_joe kokoro_kumo --sentences 4 --seeds 0

Renders and per-utterance scores are cached under ``--work`` (per voice and sentence, reset when
a voice's recipe changes), so a rerun or a second ``--seeds`` set only adds what is new.
Prints a markdown table, the gate verdicts, the cosine matrix and RTF per engine; writes
``<work>/results.json``. One thread for torch, the TTS engines and Whisper (DNSMOS uses two).
About 3 min per Kokoro voice and 2 min per other voice on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from facespeak.data.neural_voices import StyleRecipe
from facespeak.data.voices import TEACHER_VOICES, VOICES, Voice, kokoro_voice

GATE = {"distillmos_min": 3.8, "wer_max": 0.05, "p_en_min": 0.95}
NEURAL_ENGINES = ("piper", "hibari", "kokoro")
DISTINCT_MAX_COSINE = 0.85

# Candidates tried and not registered (each a Kokoro style recipe); the registry's neural voices
# are always candidates too. Kept here so that the datasheet's table can be reproduced.
def _t(timbre: tuple, prosody: tuple | None = None, moves: tuple = ()) -> StyleRecipe:
    return StyleRecipe(mix=timbre, prosody_mix=prosody or (), moves=moves)


_A, _G, _N, _T, _K = "jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"
EXTRA_CANDIDATES: list[Voice] = [
    # women: the timbre half decides quality and accent (jf_alpha: clean but strongly accented;
    # more jm_kumo: more English, less clean); the prosody half keeps F0 female
    kokoro_voice("kokoro_ak60_pg", "female", _t(((_A, .4), (_K, .6)), ((_G, 1.0),))),
    kokoro_voice("kokoro_ak70_pg", "female", _t(((_A, .3), (_K, .7)), ((_G, 1.0),))),
    kokoro_voice("kokoro_gk50_pg", "female", _t(((_G, .5), (_K, .5)), ((_G, 1.0),))),
    kokoro_voice("kokoro_ak50_pt", "female", _t(((_A, .5), (_K, .5)), ((_T, 1.0),))),
    kokoro_voice("kokoro_tk50_pt", "female", _t(((_T, .5), (_K, .5)), ((_T, 1.0),))),
    # men: jm_kumo with some female timbre (lighter voices), or moved away from jf_alpha (deeper)
    kokoro_voice("kokoro_kumo_ta20", "male", _t(((_K, .8), (_A, .2)), ((_K, 1.0),))),
    kokoro_voice("kokoro_kumo_ta35", "male", _t(((_K, .65), (_A, .35)), ((_K, 1.0),))),
    kokoro_voice("kokoro_kumo_tg30", "male", _t(((_K, .7), (_G, .3)), ((_K, 1.0),))),
    kokoro_voice("kokoro_kumo_deep", "male", _t(((_K, 1.0),), moves=((_A, _K, 0.3, "timbre"),))),
    kokoro_voice("kokoro_kumo_tn40", "male", _t(((_K, .6), (_N, .4)), ((_K, 1.0),))),
    kokoro_voice("kokoro_kumo_tt40", "male", _t(((_K, .6), (_T, .4)), ((_K, 1.0),))),
]


@dataclass
class VoiceResult:
    name: str
    gender: str
    engine: str
    recipe: str
    distillmos: float
    dnsmos_sig: float
    wer: float
    p_en: float  # language ID on 30 s of the voice: the gate
    p_en_clip: float  # mean over single utterances
    p_en_clip_min: float
    median_f0: float
    rtf: float
    embedding: np.ndarray

    def passes(self) -> bool:
        return (self.distillmos >= GATE["distillmos_min"] and self.wer <= GATE["wer_max"]
                and self.p_en >= GATE["p_en_min"])

    def failures(self) -> str:
        out = []
        if not self.distillmos >= GATE["distillmos_min"]:
            out.append("DistillMOS")
        if not self.wer <= GATE["wer_max"]:
            out.append("WER")
        if not self.p_en >= GATE["p_en_min"]:
            out.append("P(en)")
        return ", ".join(out) or "-"


def _whisper_common(sentence: str, tokenizer) -> bool:
    """Every word is a single token of Whisper's (GPT-2 BPE) vocabulary: a word Whisper knows."""
    words = re.findall(r"[A-Za-z']+", sentence)
    return all(len(tokenizer.encode(" " + w.lower(), add_special_tokens=False).ids) == 1 for w in words)


def qualification_sentences(n: int, seed: int) -> list[str]:
    """``n`` seeded picks from the default corpus's train sentences (never its eval sentences)
    made of words Whisper knows."""
    from tokenizers import Tokenizer

    from facespeak.audio.asr import assemble_whisper_base
    from facespeak.data.sentences import load_sentences
    from facespeak.data.speech_corpus import CorpusConfig, assign_sentence_splits

    cfg = CorpusConfig()
    rows = assign_sentence_splits(load_sentences(cfg.n_sentences, cfg.seed), cfg.n_eval_sentences, cfg.seed)
    tokenizer = Tokenizer.from_file(str(assemble_whisper_base() / "tokenizer.json"))
    train = [r["text"] for r in rows if r["split"] == "train" and _whisper_common(r["text"], tokenizer)]
    return random.Random(f"qualify-teachers-{seed}").sample(train, n)


def _render_key(voice: Voice) -> str:
    """Only what changes the audio: editing a registry note or flag keeps the cache."""
    d = voice.to_dict()
    return json.dumps({k: d[k] for k in ("engine", "engine_voice", "sox_effect", "style")}, sort_keys=True)


def _sentence_id(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _score_utterance(text: str, path: Path, whisper) -> dict:
    """Every per-utterance metric of one corpus wav."""
    from facespeak.audio.asr import normalize_words, transcribe, wer
    from facespeak.audio.io import load_audio, resample
    from facespeak.data.voices import PostProcess
    from facespeak.eval.metrics.speech import median_f0, speaker_embedding
    from facespeak.eval.metrics.speech_quality import score_speech_quality

    rate = PostProcess().sample_rate
    wav = load_audio(path, rate)
    q = score_speech_quality(wav, rate)
    hypothesis = transcribe(wav, rate, language="en", model=whisper)
    n_words = len(normalize_words(text))
    _, _, probs = whisper.detect_language(resample(wav, rate, 16000))
    return {"text": text, "hypothesis": hypothesis, "words": n_words,
            "errors": int(round(wer(text, hypothesis) * n_words)), "distillmos": q.distillmos,
            "dnsmos_sig": q.dnsmos_sig, "p_en": float(dict(probs).get("en", 0.0)), "f0": median_f0(wav, rate),
            "embedding": [round(float(x), 6) for x in speaker_embedding(wav, rate)]}


def utterance_scores(voice: Voice, sentences: list[str], work: Path, whisper) -> list[dict]:
    """Per-sentence metrics of ``voice``, rendering and scoring only what is not cached yet
    (``<work>/wavs/<voice>/scores.json``, reset when the voice's audio recipe changes)."""
    vdir = work / "wavs" / voice.name
    vdir.mkdir(parents=True, exist_ok=True)
    cache, key = vdir / "scores.json", _render_key(voice)
    data = json.loads(cache.read_text()) if cache.is_file() else {}
    if data.get("key") != key:
        data = {"key": key, "utterances": {}}
    for text in sentences:
        sid = _sentence_id(text)
        if sid in data["utterances"]:
            continue
        path = vdir / f"{sid}.wav"
        compute = None  # a wav left by an interrupted run is scored, not timed
        if path.is_file():
            seconds = sf.info(str(path)).duration
        else:
            t0 = time.perf_counter()
            seconds = voice.synthesize(text, path)
            compute = time.perf_counter() - t0
        data["utterances"][sid] = _score_utterance(text, path, whisper) | {"seconds": seconds, "compute_s": compute}
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(cache)
    return [data["utterances"][_sentence_id(t)] for t in sentences]


def score_voice(voice: Voice, sentences: list[str], work: Path, whisper) -> VoiceResult:
    """Gate metrics of one voice over ``sentences`` (WER pooled over words, the rest averaged)."""
    utts = utterance_scores(voice, sentences, work, whisper)

    def col(name: str) -> np.ndarray:
        return np.array([u[name] for u in utts], dtype=np.float64)

    mean_emb = np.mean([u["embedding"] for u in utts], axis=0)
    return VoiceResult(voice.name, voice.gender, voice.engine, voice.style.describe() if voice.style else "",
                       float(np.nanmean(col("distillmos"))), float(np.nanmean(col("dnsmos_sig"))),
                       float(col("errors").sum() / max(col("words").sum(), 1)),
                       pooled_p_en(voice, sentences, work, whisper), float(col("p_en").mean()),
                       float(col("p_en").min()), float(np.nanmedian(col("f0"))),
                       _rtf(utts), mean_emb / np.linalg.norm(mean_emb))


def pooled_p_en(voice: Voice, sentences: list[str], work: Path, whisper, gap_s: float = 0.2) -> float:
    """Whisper P(en) of the voice's utterances joined with ``gap_s`` pauses (first 30 s)."""
    from facespeak.audio.io import load_audio

    rate, window = 16000, 30 * 16000
    gap = np.zeros(int(gap_s * rate), np.float32)
    vdir = work / "wavs" / voice.name
    parts = [x for t in sentences for x in (load_audio(vdir / f"{_sentence_id(t)}.wav", rate), gap)]
    _, _, probs = whisper.detect_language(np.concatenate(parts)[:window])
    return float(dict(probs).get("en", 0.0))


def _rtf(utts: list[dict]) -> float:
    timed = [u for u in utts if u["compute_s"] is not None]
    return sum(u["compute_s"] for u in timed) / sum(u["seconds"] for u in timed) if timed else float("nan")


def report(results: list[VoiceResult]) -> tuple[str, np.ndarray]:
    """Markdown table; the cosine column is the closest other *passing* voice of the same gender
    (marked ``!`` at or above ``DISTINCT_MAX_COSINE``: not a distinct speaker)."""
    from facespeak.eval.metrics.speech import cosine_matrix

    cos = cosine_matrix(np.stack([r.embedding for r in results]))
    lines = ["| voice | gender | DistillMOS | DNSMOS SIG | WER % | P(en) 30 s | P(en) per clip mean (min) | "
             "median F0 Hz | closest passing same-gender voice (cos) | gate |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(results):
        same = [(cos[i, j], o.name) for j, o in enumerate(results) if j != i and o.gender == r.gender and o.passes()]
        c, other = max(same) if same else (float("nan"), "-")
        closest = f"{other} ({c:.2f}{' !' if c >= DISTINCT_MAX_COSINE else ''})"
        verdict = "pass" if r.passes() else f"fail ({r.failures()})"
        lines.append(f"| {r.name} | {r.gender} | {r.distillmos:.2f} | {r.dnsmos_sig:.2f} | {100 * r.wer:.1f} | "
                     f"{r.p_en:.3f} | {r.p_en_clip:.3f} ({r.p_en_clip_min:.2f}) | {r.median_f0:.0f} | "
                     f"{closest} | {verdict} |")
    return "\n".join(lines), cos


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--voices", nargs="+", default=None, help="registry or extra-candidate names (default: all)")
    p.add_argument("--sentences", type=int, default=16, help="sentences per seed (default 16)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1],
                   help="sentence pick seeds; each adds --sentences sentences, duplicates dropped (default 0 1)")
    p.add_argument("--work", default="out/qualify_teachers", help="cache and results directory")
    args = p.parse_args(argv)

    import torch

    from facespeak.audio.asr import load_whisper_base

    torch.set_num_threads(1)
    pool = {v.name: v for v in VOICES.values() if v.engine in NEURAL_ENGINES}
    pool |= {v.name: v for v in EXTRA_CANDIDATES if v.name not in pool}
    pool.update({n: VOICES[n] for n in (args.voices or []) if n in VOICES})
    names = args.voices or list(pool)
    unknown = [n for n in names if n not in pool]
    if unknown:
        p.error(f"unknown voices {unknown}; expected registry names or {sorted(pool)}")
    work = Path(args.work)
    sentences = list(dict.fromkeys(t for seed in args.seeds for t in qualification_sentences(args.sentences, seed)))
    whisper = load_whisper_base(cpu_threads=1)
    results = []
    for name in names:
        t0 = time.perf_counter()
        results.append(score_voice(pool[name], sentences, work, whisper))
        r = results[-1]
        print(f"[{len(results)}/{len(names)}] {name}: DistillMOS {r.distillmos:.2f} SIG {r.dnsmos_sig:.2f} "
              f"WER {100 * r.wer:.1f} % P(en) {r.p_en:.3f} F0 {r.median_f0:.0f} Hz "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    table, cos = report(results)
    command = f"python scripts/qualify_teachers.py {' '.join(argv if argv is not None else sys.argv[1:])}".strip()
    print(f"command: {command}")
    print(f"gate: DistillMOS >= {GATE['distillmos_min']}, WER <= {100 * GATE['wer_max']:.0f} %, "
          f"P(en) on 30 s >= {GATE['p_en_min']}; {len(sentences)} train-pool sentences per voice\n")
    print(table)
    print("\nResemblyzer cosine of mean embeddings:")
    short = [r.name.replace("kokoro_", "k_") for r in results]
    print(" " * 22 + " ".join(f"{s[:6]:>6s}" for s in short))
    for s, row in zip(short, cos):
        print(f"{s[:22]:22s}" + " ".join(f"{c:6.2f}" for c in row))
    print("\nRTF (1 thread, engine + post-processing) per engine:")
    for engine in sorted({r.engine for r in results}):
        print(f"  {engine}: {np.mean([r.rtf for r in results if r.engine == engine]):.3f}")
    print("\npass the gate:", " ".join(r.name for r in results if r.passes()) or "none")
    print("teachers now (facespeak.data.voices.TEACHER_VOICES):", " ".join(TEACHER_VOICES))
    work.mkdir(parents=True, exist_ok=True)
    (work / "results.json").write_text(json.dumps({
        "command": command, "gate": GATE, "sentences": sentences,
        "voices": [{k: v for k, v in vars(r).items() if k != "embedding"} | {"passes": r.passes()} for r in results],
        "cosine": {"names": [r.name for r in results], "matrix": np.round(cos, 4).tolist()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
