"""Pair training voices with real portraits and compute their identity features (the face bank).

Pairing rule (docs/datasheet_speech.md, "voice-face pairing"): within each apparent gender,
training voices ranked by measured intelligibility (``VOICE_WER``) are matched one-to-one with training persons (persons
ranked by how many views they have); voices left without a person are not used in the face
stage, persons left without a voice are given to the voice with the fewest views. Voices whose
rank (measured or estimated WER) is above ``MAX_VOICE_WER`` never teach the face stage, even
when there are more persons than voices: the TTS inherits its teachers' clarity. A person
therefore always maps to one voice (a face never has two voices), so the TTS is not asked to
average voices for one face.

Views per person: every photo and up to ``max_frames`` video frames (spread over time), each
also mirrored; each view gives one (f, f_id) pair from the identity encoder.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.errors import InputError
from .tts_dataset import FaceBank
from ..face.analysis import analyse_faces, face_nearest_box
from ..face.augment import augment_face_image, face_crop
from ..face.identity import IdentityExtractor
from ..face.image_io import load_image

__all__ = ["PairingConfig", "pair_voices_with_persons", "build_face_bank"]

log = logging.getLogger(__name__)

# Whisper-base WER (%) of each corpus voice on held-out sentences, measured with
# `facespeak data check-speech --corpus corpus/speech --per-voice 5` (docs/datasheet_speech.md).
# The face stage prefers the most intelligible voices: the TTS inherits its teachers' clarity.
VOICE_WER = {"pico_en_gb": 4.0, "flite_rms": 6.7, "pico_en_us": 8.8, "festival_rab": 9.7, "flite_awb": 12.4,
             "piper_joe": 12.5, "festival_slt_hts": 14.0, "festival_kal": 17.5, "festival_ked": 21.1,
             "mbrola_us1": 24.0, "mbrola_us3": 25.3, "mbrola_en1": 34.2, "mbrola_us2": 55.3,
             "flite_kal16": 17.5}  # flite_kal16: same KAL diphones as festival_kal
# session 7 (issue 11): the neural teachers, measured by `python scripts/qualify_teachers.py`
# (Whisper base on training sentences; docs/datasheet_speech.md); these replace older numbers
VOICE_WER.update({"hibari_heart": 0.0, "derived_hibari_low": 0.0, "piper_joe": 5.2, "derived_joe_high": 2.1,
                  "derived_joe_higher": 6.2, "kokoro_kumo": 5.2})
# derived (pitch-shifted) voices were probed on one sentence only (WER 0-15 %): parent's WER + 2
DERIVED_PENALTY = 2.0
UNKNOWN_WER = 30.0
# session 5: with 19 male training faces and 16 male voices, mbrola_us2 (55 % WER) would have
# been paired; persons left over go to the usable voices instead (docs/datasheet_speech.md, rev. 5)
MAX_VOICE_WER = 40.0


@dataclass
class PairingConfig:
    max_frames: int = 24
    mirror: bool = True
    photo_augment: int = 10  # extra random views per photo (expression warp, flip, rotation, light)
    seed: int = 0


def _voice_rank(v: dict[str, Any], voices: dict[str, dict[str, Any]]) -> float:
    """Lower is better: measured WER, or the parent voice's WER plus a penalty for derived voices."""
    if v.get("name") in VOICE_WER:
        return VOICE_WER[v["name"]]
    parent = v.get("derived_from")
    if parent and parent in VOICE_WER:
        return VOICE_WER[parent] + DERIVED_PENALTY
    return UNKNOWN_WER


def pair_voices_with_persons(voices: dict[str, dict[str, Any]], train_speakers: list[str],
                             persons: dict[str, dict[str, Any]], views: dict[str, int],
                             max_wer: float = MAX_VOICE_WER) -> dict[str, list[str]]:
    """-> {speaker: [person, ...]} for the face stage (see module docstring); voices ranked
    above ``max_wer`` (% WER) are left out."""
    by_speaker = {}
    for v in voices.values():
        by_speaker.setdefault(v["speaker"], v)
    pairing: dict[str, list[str]] = {}
    for gender in ("female", "male"):
        spk = sorted((s for s in train_speakers if by_speaker.get(s, {}).get("gender") == gender
                      and _voice_rank(by_speaker[s], voices) <= max_wer),
                     key=lambda s: (_voice_rank(by_speaker[s], voices), s))
        ppl = sorted((p for p, info in persons.items() if info.get("split") == "train" and info.get("gender") == gender
                      and views.get(p, 0) > 0), key=lambda p: (-views[p], p))
        if not spk or not ppl:
            log.warning("no %s voices or persons to pair (%d voices, %d persons)", gender, len(spk), len(ppl))
            continue
        for s, p in zip(spk, ppl):
            pairing[s] = [p]
        for p in ppl[len(spk):]:
            target = min((s for s in spk if s in pairing), key=lambda s: (len(pairing[s]), s))
            pairing[target].append(p)
    return pairing


def _person_views(items: list[dict[str, Any]], root: Path, max_frames: int) -> list[dict[str, Any]]:
    photos = [i for i in items if i.get("kind") != "frame"]
    frames = [i for i in items if i.get("kind") == "frame"]
    if len(frames) > max_frames:
        idx = np.linspace(0, len(frames) - 1, max_frames).round().astype(int)
        frames = [frames[k] for k in idx]
    return photos + frames


def _augmented_views(image: np.ndarray, box, n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, None]]:
    """``n`` random views of the face in ``box`` (crop around it, then warp/flip/rotate/light)."""

    faces = analyse_faces(image)
    if not faces or n <= 0:
        return []
    crop = face_crop(image, face_nearest_box(faces, box))
    crop_faces = analyse_faces(crop)
    if not crop_faces:
        return []
    return [(augment_face_image(crop, crop_faces[0], rng), None) for _ in range(n)]


def _features_for(items, root: Path, extractor, cfg: "PairingConfig", rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for it in items:
        image = load_image(root / it["path"])
        variants = [(image, it.get("face_box"))]
        if cfg.mirror:
            w = image.shape[1]
            b = it.get("face_box")
            variants.append((np.ascontiguousarray(image[:, ::-1]), None if b is None else [w - b[2], b[1], w - b[0], b[3]]))
        if it.get("kind") != "frame":
            variants += _augmented_views(image, it.get("face_box"), cfg.photo_augment, rng)
        for img, box in variants:
            faces = analyse_faces(img)
            if not faces:
                log.warning("no face in a view of %s; view skipped", it["path"])
                continue
            feats = extractor.extract(img, face_nearest_box(faces, box))
            out.append((np.asarray(feats.f_id, np.float32), np.asarray(feats.f, np.float32)))
    return out


def build_face_bank(faces_dir: str | Path, voices_json: str | Path, train_speakers: list[str], out_file: str | Path,
                    cfg: PairingConfig = PairingConfig(), extractor: Any = None, progress: bool = True) -> dict[str, list[str]]:
    """Pair voices with persons, extract identity features for every view, write a FaceBank.

    Returns the pairing (also written next to ``out_file`` as ``pairing.json``)."""
    from tqdm import tqdm

    faces_dir = Path(faces_dir)
    manifest = json.loads((faces_dir / "manifest.json").read_text())
    persons, items = manifest["persons"], manifest["items"]
    voices = json.loads(Path(voices_json).read_text())
    by_person: dict[str, list] = {}
    for it in items:
        by_person.setdefault(it["person"], []).append(it)
    views = {p: len(v) for p, v in by_person.items()}
    pairing = pair_voices_with_persons(voices, train_speakers, persons, views)
    if not pairing:
        raise InputError("no voice could be paired with a training portrait (check genders and splits)")
    if extractor is None:
        extractor = IdentityExtractor.from_bundled()
    f_id, f, spk, por = [], [], [], []
    rng = np.random.default_rng(cfg.seed)
    speakers = sorted(pairing)
    person_list = sorted({p for ps in pairing.values() for p in ps})
    for s_i, s in enumerate(tqdm(speakers, desc="face bank", disable=not progress)):
        for p in pairing[s]:
            feats = _features_for(_person_views(by_person[p], faces_dir, cfg.max_frames), faces_dir, extractor, cfg, rng)
            if not feats:
                raise InputError(f"no usable face view for person {p}")
            for a, b in feats:
                f_id.append(a)
                f.append(b)
                spk.append(s_i)
                por.append(person_list.index(p))
    bank = FaceBank(torch.from_numpy(np.stack(f_id)), torch.from_numpy(np.stack(f)), torch.tensor(spk), torch.tensor(por),
                    speakers, person_list).with_person_gender(persons)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    bank.save(out_file)
    (out_file.parent / "pairing.json").write_text(json.dumps(pairing, indent=2))
    log.info("face bank: %d views, %d speakers, %d persons -> %s", len(spk), len(speakers), len(person_list), out_file)
    return pairing
