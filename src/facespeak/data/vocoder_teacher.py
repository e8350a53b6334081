"""A teacher set for distilling the fast vocoder from the universal HiFi-GAN.

The fast vocoder (:class:`facespeak.vocoder.istft_vocoder.IstftVocoder`) predicts a magnitude
*and a phase* per STFT bin. Trained on recordings, its phase target is not a function of the mel
(a mel discards phase), so reconstruction losses can only teach magnitudes and the phase stays
rough (the "phasey" sound the speech-quality predictors punish). The universal HiFi-GAN's output
*is* a function of the mel, so its waveform for a mel gives the student a consistent phase
target. Each item of this set is one pair:

    mel      (n_mels, T_mel) float32: the vocoder input (a corpus recording's mel, or a mel the
             bundled TTS predicted for a training face and a training sentence: the mels the
             vocoder meets in ``facespeak say``)
    teacher  (T_mel * hop,) int16: ``load_universal_hifigan()(mel)``, sample-aligned with ``mel``

Layout under ``out``: ``index.jsonl`` (``id``, ``file``, ``frames``, ``source``) and
``items/<id>.npz``. The build is resumable: items whose file exists are kept. Only training
material goes in (corpus ``train`` rows, ``train`` faces, ``train`` sentences), never the
LibriVox clips or the pocketsphinx dev recordings that measure the vocoder.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from facespeak.audio.io import load_audio
from facespeak.audio.mel import MelExtractor
from facespeak.core.errors import ConfigError
from facespeak.core.timing import MelSpec
from facespeak.data.face_items import load_face, manifest_items
from facespeak.vocoder.bundled import load_universal_hifigan

__all__ = ["TeacherItem", "corpus_mels", "tts_mels", "train_sentences", "build_teacher_set", "read_teacher_index", "load_teacher_item"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeacherItem:
    id: str
    source: str  # "corpus:<voice>" or "tts:<person>"
    mel: np.ndarray  # (n_mels, T_mel) float32


def corpus_mels(manifest: str | Path, split: str = "train", max_items: int = 0,
                per_voice: int = 0) -> Iterator[TeacherItem]:
    """Mels of the ``split`` rows of a speech-corpus manifest (at most ``per_voice`` per voice)."""

    manifest = Path(manifest)
    if not manifest.is_file():
        raise ConfigError(f"expected a corpus manifest.jsonl, {manifest} does not exist")
    spec = MelSpec()
    extractor = MelExtractor(spec)
    rows = [json.loads(x) for x in manifest.read_text().splitlines() if x.strip()]
    counts: dict[str, int] = {}
    n = 0
    for r in rows:
        if r.get("split") != split:
            continue
        voice = r.get("voice", "?")
        if per_voice and counts.get(voice, 0) >= per_voice:
            continue
        counts[voice] = counts.get(voice, 0) + 1
        wav = load_audio(manifest.parent / r["wav"], spec.sample_rate)
        with torch.no_grad():
            mel = extractor(torch.from_numpy(wav))[0].numpy()
        yield TeacherItem(f"c_{voice}_{r['id']}", f"corpus:{voice}", mel)
        n += 1
        if max_items and n >= max_items:
            return


def tts_mels(faces: str | Path, sentences: list[str], portraits: int = 8, seed: int = 0,
             tts_weights: str | None = None) -> Iterator[TeacherItem]:
    """Mels the bundled TTS predicts for ``portraits`` training faces (balanced by gender) reading
    ``sentences``, each with a sampling setting drawn from the ones users meet (default options,
    and temperature 0.667 / face guidance 1 / no formant shift)."""
    # lazy: loads numba via tts.alignment (about 1 s)
    from facespeak.pipeline import FaceSpeak, SpeechOptions

    faces = Path(faces)
    manifest = json.loads((faces / "manifest.json").read_text())
    items = [i for i in manifest_items(manifest, faces) if i.split == "train" and i.kind == "photo"]
    by_person: dict[str, object] = {}
    for i in items:
        by_person.setdefault(i.person, i)
    people = sorted(by_person.values(), key=lambda i: (i.gender, i.person))
    female = [p for p in people if p.gender == "female"][: (portraits + 1) // 2]
    male = [p for p in people if p.gender == "male"][: portraits // 2]
    chosen = female + male
    fs = FaceSpeak.from_bundled(tts_weights, vocoder="fast")
    rng = np.random.default_rng(seed)
    settings = [SpeechOptions.with_defaults(),
                SpeechOptions.with_defaults(temperature=0.667, face_guidance=1.0, formant_shift=0.0),
                SpeechOptions.with_defaults(temperature=0.667)]
    for k, text in enumerate(sentences):
        person = chosen[k % len(chosen)]
        opts = settings[int(rng.integers(len(settings)))]
        res = fs.speak(load_face(person), text, opts)
        for j, chunk in enumerate(res.chunks):
            yield TeacherItem(f"t_{seed}_{k:05d}_{j}", f"tts:{person.person}", np.asarray(chunk.mel, np.float32))


def train_sentences(path: str | Path, n: int) -> list[str]:
    """``n`` sentences spread over the ``train`` split of a corpus ``sentences.jsonl`` (never its
    held-out sentences)."""
    rows = [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]
    texts = [r["text"] for r in rows if r.get("split") == "train"]
    if not texts:
        raise ConfigError(f"{path} has no train sentences")
    return texts[:: max(1, len(texts) // n)][:n]


def build_teacher_set(items: Iterable[TeacherItem], out: str | Path, threads: int = 1) -> int:
    """Render each item's mel through the universal HiFi-GAN into ``out``; returns items written.
    Items already on disk are skipped (the mel is still computed: ids are only known then)."""

    torch.set_num_threads(threads)
    out = Path(out)
    (out / "items").mkdir(parents=True, exist_ok=True)
    index_path = out / "index.jsonl"
    known = {r["id"] for r in read_teacher_index(out)} if index_path.is_file() else set()
    teacher = load_universal_hifigan()
    written, t0 = 0, time.time()
    for item in items:
        path = out / "items" / f"{item.id}.npz"
        if item.id in known and path.is_file():
            continue
        with torch.inference_mode():
            wav = teacher(torch.from_numpy(item.mel)[None])[0].clamp(-1, 1).numpy()
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, mel=item.mel.astype(np.float32), teacher=np.round(wav * 32767).astype(np.int16))
        tmp.replace(path)
        with index_path.open("a") as f:
            f.write(json.dumps({"id": item.id, "file": f"items/{item.id}.npz", "frames": int(item.mel.shape[1]),
                                "source": item.source}) + "\n")
        known.add(item.id)
        written += 1
        if written % 20 == 0:
            log.info("teacher set: %d items (%.0f s)", written, time.time() - t0)
    return written


def read_teacher_index(root: str | Path) -> list[dict]:
    path = Path(root) / "index.jsonl"
    if not path.is_file():
        raise ConfigError(f"expected a vocoder teacher set with index.jsonl, {path} does not exist")
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            rows[r["id"]] = r
    return list(rows.values())


def load_teacher_item(root: str | Path, row: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(mel (n_mels, T_mel) float32, teacher (T_mel * hop,) float32)``."""
    with np.load(Path(root) / row["file"]) as z:
        return z["mel"], z["teacher"].astype(np.float32) / 32767.0
