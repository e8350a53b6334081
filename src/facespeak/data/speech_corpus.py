"""Offline multi-speaker English speech corpus (for the face-conditioned TTS).

Layout written under ``out_dir``::

    sentences.jsonl   one row per sentence: sentence_id, text, text_normalized, split
    voices.json       speaker registry: voice -> engine, speaker, gender, accent, licence,
                      derived_from, role (train | eval_voice), package
    manifest.jsonl    one row per utterance (see :class:`ManifestRow`)
    wavs/<voice>/<sentence_id>.wav   16-bit mono at ``PostProcess.sample_rate`` (22,050 Hz)

Splits (each utterance has exactly one):

- ``train``: a train voice speaking a train sentence. Every train voice speaks its own seeded
  random subset of ``per_voice_train`` train sentences (not every sentence: CPU training
  cannot use that much audio, and varied text per speaker is more useful).
- ``eval_sentence``: a train voice speaking a held-out sentence (held-out sentences are never
  voiced for training; every voice speaks all of them, so reference audio exists).
- ``eval_voice``: a held-out voice (never in training) speaking the held-out sentences plus
  ``eval_voice_extra`` train sentences (more reference audio for speaker similarity).

The build is resumable (existing wavs are kept and only measured) and runs ``jobs`` worker
processes. Utterances that fail, are silent, or last more than ``max_seconds`` are dropped
(logged, counted in the summary).
"""

from __future__ import annotations

import json
import logging
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

from facespeak.core.errors import ConfigError, FacespeakError, InputError
from facespeak.core.output_files import AtomicOutput

from facespeak.audio.asr import load_whisper_base, transcribe, wer
from facespeak.audio.io import load_audio
from facespeak.text import TextFrontend
from .sentences import load_sentences
from .voices import PostProcess, Voice, default_voices, get_voice

__all__ = [
    "SPLITS",
    "CorpusConfig",
    "ManifestRow",
    "CorpusSummary",
    "UtteranceJob",
    "assign_sentence_splits",
    "plan_utterances",
    "read_manifest",
    "write_manifest",
    "build_speech_corpus",
    "voice_wer",
    "DEFAULT_EVAL_VOICES",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "eval_sentence", "eval_voice")
# One female, one male voice held out entirely. Since revision 6 they are not teachers: every
# neural voice that passed the gate is Resemblyzer-close (>= 0.85) to a teacher of its gender or
# is one, so no neural voice is a truly unseen speaker; these stay comparable with revisions 1-5.
DEFAULT_EVAL_VOICES = ("mbrola_us1", "mbrola_us3")


@dataclass
class CorpusConfig:
    """What to build (counts are sentences; durations in seconds).

    voices: registry names; empty -> every installed default (teacher) voice plus ``eval_voices``.
    eval_voices: held-out voices (must be among ``voices`` when those are given); need >= 1 per
        gender present. Held-out voices never teach, so they need not be teacher voices.
    """

    out_dir: str = "corpus/speech"
    n_sentences: int = 3000
    n_eval_sentences: int = 80
    per_voice_train: int = 500
    eval_voice_extra: int = 40
    voices: tuple[str, ...] = ()
    eval_voices: tuple[str, ...] = DEFAULT_EVAL_VOICES
    seed: int = 0
    jobs: int = 2
    max_seconds: float = 12.0
    post: PostProcess = field(default_factory=PostProcess)

    @classmethod
    def tiny(cls) -> "CorpusConfig":
        """A few seconds of audio: 2 flite voices, 8 sentences."""
        return cls(n_sentences=8, n_eval_sentences=2, per_voice_train=3, eval_voice_extra=1,
                   voices=("flite_awb", "flite_slt"), eval_voices=("flite_slt",), jobs=1)

    def validate(self) -> None:
        if self.n_eval_sentences < 1 or self.n_eval_sentences >= self.n_sentences:
            raise ConfigError(f"n_eval_sentences: expected 1..{self.n_sentences - 1}, got {self.n_eval_sentences}")
        n_train = self.n_sentences - self.n_eval_sentences
        if not 1 <= self.per_voice_train <= n_train:
            raise ConfigError(f"per_voice_train: expected 1..{n_train} (train sentences), got {self.per_voice_train}")
        if not 0 <= self.eval_voice_extra <= n_train:
            raise ConfigError(f"eval_voice_extra: expected 0..{n_train}, got {self.eval_voice_extra}")
        if self.jobs < 1:
            raise ConfigError(f"jobs: expected >= 1 worker process, got {self.jobs}")
        if self.max_seconds <= 0:
            raise ConfigError(f"max_seconds: expected > 0 s, got {self.max_seconds}")


@dataclass
class ManifestRow:
    """One utterance. ``wav`` is relative to the corpus directory; ``duration`` in seconds."""

    id: str
    text: str
    text_normalized: str
    voice: str
    speaker: str
    gender: str
    duration: float
    wav: str
    split: str
    sentence_id: str
    derived: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ManifestRow":
        names = {f.name for f in fields(cls)}
        missing = names - set(d) - {"derived"}
        if missing:
            raise InputError(f"manifest row expected keys {sorted(names)}, missing {sorted(missing)}")
        if d["split"] not in SPLITS:
            raise InputError(f"manifest row split: expected one of {SPLITS}, got {d['split']!r}")
        return cls(**{k: d[k] for k in names if k in d})


@dataclass(frozen=True)
class UtteranceJob:
    """A planned utterance: who says which sentence, and where the wav goes (relative path)."""

    voice: str
    sentence_id: str
    text: str
    text_normalized: str
    split: str

    @property
    def utt_id(self) -> str:
        return f"{self.voice}-{self.sentence_id}"

    @property
    def wav(self) -> str:
        return f"wavs/{self.voice}/{self.sentence_id}.wav"


@dataclass
class CorpusSummary:
    """Counts of a finished build (``hours`` of kept audio, ``seconds`` of wall time)."""

    n_sentences: int
    n_eval_sentences: int
    voices_by_gender: dict[str, list[str]]
    eval_voices: list[str]
    utterances_by_split: dict[str, int]
    hours_by_split: dict[str, float]
    dropped: int
    build_seconds: float

    @property
    def hours(self) -> float:
        return sum(self.hours_by_split.values())


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Parse ``manifest.jsonl``; raises :class:`InputError` naming the bad line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"expected a manifest file at '{path}', but it does not exist")
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(ManifestRow.from_dict(json.loads(line)))
        except (json.JSONDecodeError, TypeError) as e:
            raise InputError(f"'{path}' line {i}: expected a JSON object manifest row ({e})") from e
    return rows


def write_manifest(path: str | Path, rows: Iterable[ManifestRow]) -> Path:
    """Write rows as JSON lines (atomically: temp file then rename)."""
    path = Path(path)
    with AtomicOutput(path) as out:
        out.file.write("".join(r.to_json() + "\n" for r in rows).encode("utf-8"))
    return path


def _normalizer():
    """The project text normaliser."""
    return TextFrontend().normalize


def assign_sentence_splits(sentences: list[str], n_eval: int, seed: int) -> list[dict[str, str]]:
    """Give each sentence an id ``s00000``.. and a split (``eval`` for ``n_eval`` seeded picks).

    Returns rows ``{sentence_id, text, text_normalized, split}`` with split in {train, eval}.
    """
    norm = _normalizer()
    eval_idx = set(random.Random(f"{seed}-eval-sentences").sample(range(len(sentences)), n_eval))
    return [{
        "sentence_id": f"s{i:05d}",
        "text": text,
        "text_normalized": norm(text),
        "split": "eval" if i in eval_idx else "train",
    } for i, text in enumerate(sentences)]


def plan_utterances(sentence_rows: list[dict[str, str]], voices: list[str], eval_voices: list[str],
                    per_voice_train: int, eval_voice_extra: int, seed: int) -> list[UtteranceJob]:
    """Decide who speaks what (see the module docstring for the split rules). Deterministic."""
    train_rows = [r for r in sentence_rows if r["split"] == "train"]
    eval_rows = [r for r in sentence_rows if r["split"] == "eval"]
    jobs: list[UtteranceJob] = []
    for voice in voices:
        held_out = voice in eval_voices
        n_train = eval_voice_extra if held_out else per_voice_train
        rng = random.Random(f"{seed}-{voice}")
        for r in sorted(rng.sample(train_rows, n_train), key=lambda r: r["sentence_id"]):
            split = "eval_voice" if held_out else "train"
            jobs.append(UtteranceJob(voice, r["sentence_id"], r["text"], r["text_normalized"], split))
        for r in eval_rows:
            split = "eval_voice" if held_out else "eval_sentence"
            jobs.append(UtteranceJob(voice, r["sentence_id"], r["text"], r["text_normalized"], split))
    return jobs


def _render_job(args: tuple[UtteranceJob, str, PostProcess, float]) -> tuple[UtteranceJob, float, str]:
    """Worker: synthesise one utterance if its wav is missing. Returns (job, seconds, error)."""
    job, out_dir, post, max_seconds = args
    import soundfile as sf

    path = Path(out_dir) / job.wav
    try:
        if path.is_file():
            info = sf.info(str(path))
            duration = info.frames / info.samplerate
        else:
            tmp = path.with_name(path.stem + ".part.wav")
            duration = get_voice(job.voice).synthesize(job.text, tmp, post)
            tmp.replace(path)
    except (FacespeakError, OSError, RuntimeError) as e:
        return job, 0.0, str(e)
    if duration > max_seconds:
        return job, duration, f"too long ({duration:.1f} s > {max_seconds} s)"
    return job, duration, ""


def _check_resume_compatible(path: Path, sentence_rows: list[dict[str, str]]) -> None:
    """Existing wavs are reused by sentence id, so a different sentence plan must not resume."""
    if not path.is_file():
        return
    old = {r["sentence_id"]: (r["text"], r["split"]) for r in map(json.loads, path.read_text().splitlines())}
    new = {r["sentence_id"]: (r["text"], r["split"]) for r in sentence_rows}
    changed = [k for k in new if k in old and old[k] != new[k]]
    if changed:
        raise ConfigError(
            f"'{path.parent}' was built with different sentences or splits ({len(changed)} ids differ, "
            f"e.g. {changed[0]}): expected the same --sentences/--eval-sentences/--seed to resume; "
            "use a new --out directory or delete the old corpus")


def _voices_json(voices: list[Voice], eval_voices: list[str]) -> dict[str, Any]:
    out = {}
    for v in voices:
        d = v.to_dict()
        d["role"] = "eval_voice" if v.name in eval_voices else "train"
        out[v.name] = d
    return out


def _resolve_voices(cfg: CorpusConfig) -> list[Voice]:
    if cfg.voices:
        voices = [get_voice(n) for n in cfg.voices]
    else:
        voices = default_voices()
        voices += [get_voice(n) for n in cfg.eval_voices if n not in {v.name for v in voices}]
    for v in voices:
        reason = v.missing_reason()
        if reason:
            raise InputError(f"voice '{v.name}' was requested but cannot run here: {reason}")
    names = {v.name for v in voices}
    bad = [e for e in cfg.eval_voices if e not in names]
    if bad:
        raise ConfigError(f"eval_voices {bad} are not among the corpus voices {sorted(names)}")
    missing_genders = {v.gender for v in voices} - {v.gender for v in voices if v.name in cfg.eval_voices}
    if missing_genders:
        log.warning("no held-out eval voice of gender %s", sorted(missing_genders))
    if len(cfg.eval_voices) >= len(voices):
        raise ConfigError(f"expected at least one train voice besides eval_voices {list(cfg.eval_voices)}")
    return voices


def _synthesize_all(jobs: list[UtteranceJob], cfg: CorpusConfig, progress: bool):
    from tqdm import tqdm

    work = [(j, cfg.out_dir, cfg.post, cfg.max_seconds) for j in jobs]
    bar = tqdm(total=len(work), desc="speech corpus", unit="utt", disable=not progress)
    results = []
    if cfg.jobs == 1:
        for w in work:
            results.append(_render_job(w))
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=cfg.jobs) as pool:
            for res in pool.map(_render_job, work, chunksize=8):
                results.append(res)
                bar.update(1)
    bar.close()
    return results


def build_speech_corpus(cfg: CorpusConfig, progress: bool = True) -> CorpusSummary:
    """Build (or resume) the corpus described by ``cfg``; returns its summary.

    Writes ``sentences.jsonl``, ``voices.json``, ``manifest.jsonl`` and the wavs under
    ``cfg.out_dir``. Existing wavs are reused, so an interrupted build continues where it stopped.
    """
    cfg.validate()
    t0 = time.time()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    voices = _resolve_voices(cfg)
    sentence_rows = assign_sentence_splits(load_sentences(cfg.n_sentences, cfg.seed), cfg.n_eval_sentences, cfg.seed)
    _check_resume_compatible(out / "sentences.jsonl", sentence_rows)
    (out / "sentences.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sentence_rows), encoding="utf-8")
    (out / "voices.json").write_text(json.dumps(_voices_json(voices, list(cfg.eval_voices)), indent=2), encoding="utf-8")
    jobs = plan_utterances(sentence_rows, [v.name for v in voices], list(cfg.eval_voices),
                           cfg.per_voice_train, cfg.eval_voice_extra, cfg.seed)
    log.info("%d voices, %d sentences, %d utterances planned", len(voices), len(sentence_rows), len(jobs))
    by_name = {v.name: v for v in voices}
    rows, dropped = [], 0
    for job, duration, error in _synthesize_all(jobs, cfg, progress):
        if error:
            dropped += 1
            log.warning("dropped %s: %s", job.utt_id, error)
            continue
        v = by_name[job.voice]
        rows.append(ManifestRow(job.utt_id, job.text, job.text_normalized, v.name, v.speaker, v.gender,
                                round(duration, 4), job.wav, job.split, job.sentence_id, v.derived))
    write_manifest(out / "manifest.jsonl", rows)
    summary = _summarise(rows, voices, cfg, dropped, time.time() - t0)
    (out / "summary.json").write_text(json.dumps(asdict(summary) | {"hours": summary.hours}, indent=2), encoding="utf-8")
    return summary


def _summarise(rows: list[ManifestRow], voices: list[Voice], cfg: CorpusConfig, dropped: int,
               seconds: float) -> CorpusSummary:
    by_gender: dict[str, list[str]] = {}
    for v in voices:
        by_gender.setdefault(v.gender, []).append(v.name)
    counts = {s: sum(r.split == s for r in rows) for s in SPLITS}
    hours = {s: round(sum(r.duration for r in rows if r.split == s) / 3600.0, 3) for s in SPLITS}
    return CorpusSummary(cfg.n_sentences, cfg.n_eval_sentences, by_gender, list(cfg.eval_voices),
                         counts, hours, dropped, round(seconds, 1))


def voice_wer(corpus_dir: str | Path, per_voice: int = 10, seed: int = 0,
              progress: bool = True) -> dict[str, dict[str, float]]:
    """Whisper-base WER of each voice on ``per_voice`` of its held-out-sentence utterances.

    Returns ``{voice: {"wer": mean WER, "n": utterances, "median_f0_hz": median F0}}``: a quick
    intelligibility check of the corpus (synthetic voices transcribe at 0-15 % when clean).
    """
    import numpy as np
    from tqdm import tqdm

    corpus_dir = Path(corpus_dir)
    rows = [r for r in read_manifest(corpus_dir / "manifest.jsonl") if r.split != "train"]
    by_voice: dict[str, list[ManifestRow]] = {}
    for r in rows:
        by_voice.setdefault(r.voice, []).append(r)
    model = load_whisper_base(cpu_threads=1)
    rate = PostProcess().sample_rate
    out = {}
    for voice, vrows in tqdm(sorted(by_voice.items()), desc="voice WER", disable=not progress):
        picked = random.Random(f"{seed}-{voice}").sample(vrows, min(per_voice, len(vrows)))
        errs, f0s = [], []
        for r in picked:
            wav = load_audio(corpus_dir / r.wav, rate)
            errs.append(wer(r.text, transcribe(wav, rate, model=model)))
            f0s.append(_median_f0(wav, rate))
        out[voice] = {"wer": float(np.mean(errs)), "n": len(picked), "median_f0_hz": float(np.nanmedian(f0s))}
    return out


def _median_f0(wav, sample_rate: int, fmin: float = 60.0, fmax: float = 400.0) -> float:
    """Median F0 (Hz) of voiced 40 ms frames by normalised autocorrelation; NaN if unvoiced."""
    import numpy as np

    frame, hop = int(0.04 * sample_rate), int(0.01 * sample_rate)
    lo, hi = int(sample_rate / fmax), int(sample_rate / fmin)
    f0 = []
    for start in range(0, len(wav) - frame, hop):
        x = wav[start:start + frame] - wav[start:start + frame].mean()
        energy = float(np.dot(x, x))
        if energy < 1e-4:
            continue
        ac = np.correlate(x, x, "full")[frame - 1:] / energy
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5:
            f0.append(sample_rate / lag)
    return float(np.median(f0)) if f0 else float("nan")
