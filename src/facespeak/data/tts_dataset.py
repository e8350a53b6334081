"""TTS training features: phoneme ids + log-mels cached in one safetensors file, plus a face bank.

Layout of a features file (all flat arrays with offsets, so loading is one mmap-free read):
    ids      int16 (sum T_text,)      ids_off  int64 (N+1,)
    mel      float16 (sum T_mel, n_mels)  mel_off int64 (N+1,)
    speaker  int64 (N,)   index into metadata "speakers"
Metadata (JSON strings): utt ids, speaker names, text front-end symbol-table version, mel spec.

A face bank maps each training speaker to the identity features of the real portraits paired
with that voice (several views per portrait: frames, augmentations):
    f_id float32 (V, D_id)   f float32 (V, D_id)   speaker int64 (V,)   portrait int64 (V,)
    gender float32 (V,) optional: the portrait's apparent gender, +1 male / -1 female
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..audio.io import load_audio
from ..audio.mel import MelExtractor
from ..core.errors import InputError
from ..core.timing import MelSpec
from ..text import TextConfig, TextFrontend

__all__ = ["prepare_tts_features", "TTSFeatures", "FaceBank", "TTSDataset", "collate_tts"]

log = logging.getLogger(__name__)


def _read_manifest(corpus_dir: Path, splits: tuple[str, ...]) -> list[dict[str, Any]]:
    path = corpus_dir / "manifest.jsonl"
    if not path.is_file():
        raise InputError(f"expected a corpus manifest at {path} (build it with 'facespeak data build-speech')")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("split") in splits]


def prepare_tts_features(corpus_dir: str | Path, out_file: str | Path, splits: tuple[str, ...] = ("train",),
                         spec: MelSpec = MelSpec(), max_seconds: float = 11.0, progress: bool = True) -> Path:
    """Compute ids and mels for every utterance of ``splits`` and write one features file."""
    from safetensors.numpy import save_file
    from tqdm import tqdm

    corpus_dir = Path(corpus_dir)
    rows = _read_manifest(corpus_dir, splits)
    front = TextFrontend(TextConfig())
    mel_fn = MelExtractor(spec)
    speakers = sorted({r["speaker"] for r in rows})
    spk_index = {s: i for i, s in enumerate(speakers)}
    ids_l, mel_l, spk_l, utt = [], [], [], []
    for r in tqdm(rows, desc="features", disable=not progress):
        if float(r.get("duration", 0.0)) > max_seconds:
            continue
        wav = load_audio(corpus_dir / r["wav"], spec.sample_rate)
        with torch.no_grad():
            mel = mel_fn(torch.from_numpy(wav))[0].T.numpy()  # (T_mel, n_mels)
        ids = np.asarray(front.encode(r.get("text_normalized") or r["text"]), dtype=np.int16)
        if len(ids) == 0 or mel.shape[0] < len(ids):
            log.warning("skipping %s: %d ids for %d mel frames", r["id"], len(ids), mel.shape[0])
            continue
        ids_l.append(ids)
        # C order matters: safetensors writes the raw buffer, and a transposed (Fortran-order)
        # array would be stored scrambled under a (T_mel, n_mels) shape
        mel_l.append(np.ascontiguousarray(mel, dtype=np.float16))
        spk_l.append(spk_index[r["speaker"]])
        utt.append(r["id"])
    off = lambda xs: np.concatenate([[0], np.cumsum([len(x) for x in xs])]).astype(np.int64)  # noqa: E731
    tensors = {"ids": np.ascontiguousarray(np.concatenate(ids_l)), "ids_off": off(ids_l),
               "mel": np.ascontiguousarray(np.concatenate(mel_l)),
               "mel_off": off(mel_l), "speaker": np.asarray(spk_l, dtype=np.int64)}
    meta = {"utts": json.dumps(utt), "speakers": json.dumps(speakers), "mel_spec": json.dumps(asdict(spec)),
            "symbols": str(front.symbol_table_version), "vocab_size": str(front.vocab_size)}
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out_file), metadata=meta)
    log.info("wrote %d utterances (%d speakers) to %s", len(utt), len(speakers), out_file)
    return out_file


class TTSFeatures:
    """Random access to a features file written by :func:`prepare_tts_features`."""

    def __init__(self, path: str | Path) -> None:
        from safetensors import safe_open
        from safetensors.numpy import load_file

        self.path = Path(path)
        t = load_file(str(self.path))
        with safe_open(str(self.path), framework="numpy") as f:
            meta = f.metadata()
        self.ids, self.ids_off = t["ids"], t["ids_off"]
        self.mel, self.mel_off = t["mel"], t["mel_off"]
        self.speaker = t["speaker"]
        self.utts: list[str] = json.loads(meta["utts"])
        self.speakers: list[str] = json.loads(meta["speakers"])
        self.vocab_size = int(meta["vocab_size"])
        self.symbols = meta["symbols"]

    def __len__(self) -> int:
        return len(self.utts)

    def item(self, i: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(ids (T_text,), mel (n_mels, T_mel) float32, speaker index)."""
        ids = self.ids[self.ids_off[i]:self.ids_off[i + 1]].astype(np.int64)
        mel = self.mel[self.mel_off[i]:self.mel_off[i + 1]].astype(np.float32).T
        return ids, mel, int(self.speaker[i])

    def mel_stats(self) -> tuple[float, float]:
        m = self.mel.astype(np.float32)
        return float(m.mean()), float(m.std())


class FaceBank:
    """Per-speaker identity feature views; ``sample(speaker (B,), generator, kind)`` -> (B, D_id)."""

    def __init__(self, f_id: torch.Tensor, f: torch.Tensor, speaker: torch.Tensor, portrait: torch.Tensor,
                 speakers: list[str], portraits: list[str], gender: torch.Tensor | None = None) -> None:
        self.f_id, self.f, self.speaker, self.portrait = f_id, f, speaker, portrait
        self.speakers, self.portraits = speakers, portraits
        self.gender = gender  # (V,) +1 male / -1 female, or None (bank built without genders)
        self._rows = [torch.nonzero(speaker == s).flatten() for s in range(len(speakers))]
        missing = [speakers[s] for s, r in enumerate(self._rows) if len(r) == 0]
        if missing:
            raise InputError(f"face bank has no portrait views for speaker(s) {missing}")

    @classmethod
    def speaker_codes(cls, speakers: list[str], dim: int = 256, views: int = 8, jitter: float = 0.1,
                      seed: int = 0) -> "FaceBank":
        """A bank of fixed random unit-scale codes per speaker (no faces): the TTS pre-training
        stage, like a speaker-embedding table, before face features take over (warm start)."""
        g = torch.Generator().manual_seed(seed)
        base = torch.randn(len(speakers), dim, generator=g)
        rows = base.repeat_interleave(views, 0)
        rows = rows + jitter * torch.randn(rows.shape, generator=g)
        spk = torch.arange(len(speakers)).repeat_interleave(views)
        return cls(rows, rows.clone(), spk, spk.clone(), list(speakers), [f"code:{s}" for s in speakers])

    @classmethod
    def load(cls, path: str | Path) -> "FaceBank":
        from safetensors import safe_open
        from safetensors.torch import load_file

        t = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata()
        return cls(t["f_id"], t["f"], t["speaker"], t["portrait"], json.loads(meta["speakers"]), json.loads(meta["portraits"]),
                   t.get("gender"))

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        tensors = {"f_id": self.f_id.contiguous(), "f": self.f.contiguous(), "speaker": self.speaker, "portrait": self.portrait}
        if self.gender is not None:
            tensors["gender"] = self.gender.float().contiguous()
        save_file(tensors, str(path), metadata={"speakers": json.dumps(self.speakers), "portraits": json.dumps(self.portraits)})

    def with_person_gender(self, persons: dict[str, dict[str, Any]]) -> "FaceBank":
        """A copy whose rows carry their portrait's gender from a faces manifest's ``persons``."""
        unknown = [p for p in self.portraits if persons.get(p, {}).get("gender") not in ("male", "female")]
        if unknown:
            raise InputError(f"no male/female gender in the faces manifest for portrait(s) {unknown}")
        sign = torch.tensor([1.0 if persons[p]["gender"] == "male" else -1.0 for p in self.portraits])
        return FaceBank(self.f_id, self.f, self.speaker, self.portrait, self.speakers, self.portraits, sign[self.portrait])

    @property
    def dim(self) -> int:
        return int(self.f_id.shape[1])

    def sample_rows(self, speaker: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """speaker (B,) -> one random bank row index per item (B,)."""
        out = []
        for s in speaker.tolist():
            rows = self._rows[s]
            out.append(rows[int(torch.randint(0, len(rows), (1,), generator=generator))])
        return torch.stack(out)

    def sample(self, speaker: torch.Tensor, generator: torch.Generator, kind: str = "f_id") -> torch.Tensor:
        """speaker (B,) -> a random view's feature per item (B, D_id)."""
        table = self.f_id if kind == "f_id" else self.f
        return table[self.sample_rows(speaker, generator)]


class TTSDataset(Dataset):
    """Utterances of the speakers that have a face-bank entry.

    ``speaker_map[k]`` is the face-bank index of features speaker ``k``, or -1 (not used)."""

    def __init__(self, features: TTSFeatures, speaker_map: list[int] | None = None) -> None:
        self.features = features
        self.speaker_map = speaker_map
        keep = np.arange(len(features))
        if speaker_map is not None:
            keep = keep[np.asarray(speaker_map)[features.speaker] >= 0]
        self.index = keep

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, int]:
        ids, mel, spk = self.features.item(int(self.index[i]))
        return ids, mel, (self.speaker_map[spk] if self.speaker_map is not None else spk)


def collate_tts(items: list[tuple[np.ndarray, np.ndarray, int]]) -> dict[str, torch.Tensor]:
    """Pad a batch: ids (B, T_text) 0-padded, mel (B, n_mels, T_mel) padded with the log floor."""
    b = len(items)
    tx = max(len(i[0]) for i in items)
    ty = max(i[1].shape[1] for i in items)
    n_mels = items[0][1].shape[0]
    ids = torch.zeros(b, tx, dtype=torch.long)
    mel = torch.full((b, n_mels, ty), float(np.log(1e-5)))
    for k, (x, m, _) in enumerate(items):
        ids[k, :len(x)] = torch.from_numpy(x)
        mel[k, :, :m.shape[1]] = torch.from_numpy(m)
    return {"ids": ids, "x_lengths": torch.tensor([len(i[0]) for i in items]), "mel": mel,
            "mel_lengths": torch.tensor([i[1].shape[1] for i in items]), "speaker": torch.tensor([i[2] for i in items])}
