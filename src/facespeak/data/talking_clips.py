"""Talking clips for the joint TTS+TFG stage (TTSF §3.4): face frames + transcript + audio.

Layout of a clip directory (LRS3-like; docs/datasheet_talking_clips.md)::

    ROOT/<group>/<clip>.mp4   one visible speaking face, with an audio track (any fps, any rate)
    ROOT/<group>/<clip>.txt   transcript: LRS3's "Text:  WORDS" first line, or the plain text

``<group>`` is a speaker / video id (LRS3: the YouTube id); clips may also sit directly in
ROOT. :func:`prepare_talking_clips` decodes every clip once: faces aligned per frame
(the TFG's template, smoothed over time) at ``size`` px and resampled to ``fps``, the TTS's
log-mel (``tts_mel``), the SyncNet's 16 kHz log-mel (``sync_mel``) and the transcript's phoneme
ids (:class:`facespeak.text.TextFrontend`), all cached in one safetensors file.
:class:`TalkingClipDataset` serves fixed-length windows of those clips.

:func:`build_talking_clips` writes such a directory with our own ``facespeak say`` pipeline
(mesh renderer, bundled TTS): a distillation of that pipeline, not real talking data.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..audio.io import resample
from ..audio.mel import MelExtractor
from ..core.errors import InputError, NoFaceError
from ..core.timing import MelSpec
from ..face.image_io import load_image
from ..text import TextConfig, TextFrontend
from ..video.reader import read_video

__all__ = ["TalkingClipsConfig", "find_clips", "read_transcript", "smooth_affines", "resample_frame_indices",
           "track_faces", "alignment_matrices", "warp_crops", "align_crops", "prepare_talking_clips", "TalkingClips",
           "TalkingClipDataset", "collate_clips", "pad_time", "BuildClipsConfig", "build_talking_clips"]

log = logging.getLogger(__name__)


@dataclass
class TalkingClipsConfig:
    """root: clip directory (layout above); cache: prepared file (built from ``root`` if missing).
    size: aligned crop px (= the TFG's size); crop_scale / smooth_frames: as
    :class:`facespeak.train.tfg_task.FaceFramesConfig`; fps: video rate the clips are resampled
    to; tts_mel: the TTS's mel analysis; sync_mel: the SyncNet's (the paper's 16 kHz);
    window_frames: ``T_video`` of one training item (the paper trains on 32-frame clips);
    held_out: fraction of clips (the last ones, sorted by path) kept out of training;
    items_per_epoch: dataset length (items are windows drawn at random, seeded by index)."""

    root: str = "corpus/talking"
    cache: str = "runs/latent_data/talking_64.safetensors"
    size: int = 64
    crop_scale: float = 0.75
    smooth_frames: int = 5
    fps: float = 25.0
    tts_mel: MelSpec = field(default_factory=MelSpec)
    sync_mel: MelSpec = field(default_factory=MelSpec.paper)
    window_frames: int = 32
    held_out: float = 0.1
    items_per_epoch: int = 2048

    @classmethod
    def tiny(cls) -> "TalkingClipsConfig":
        return cls(size=32, tts_mel=MelSpec(n_mels=16), window_frames=6, items_per_epoch=64)


# --------------------------------------------------------------------------- reading clips


def find_clips(root: str | Path) -> list[tuple[Path, Path]]:
    """``(mp4, txt)`` pairs under ``root`` (sorted); raises :class:`InputError` when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"talking clips: expected a directory at {root}, found nothing")
    pairs = [(p, p.with_suffix(".txt")) for p in sorted(root.rglob("*.mp4")) if p.with_suffix(".txt").is_file()]
    if not pairs:
        raise InputError(f"talking clips: expected <clip>.mp4 files with a <clip>.txt transcript under {root}, found none")
    return pairs


def read_transcript(path: str | Path) -> str:
    """LRS3's ``Text:  WORDS`` line if present, else the whole file (stripped)."""
    text = Path(path).read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("Text:"):
            return line[len("Text:"):].strip()
    return text.strip()


def smooth_affines(mats: np.ndarray, window: int) -> np.ndarray:
    """Moving average (edge-padded) of ``(T, 2, 3)`` affines along time."""
    if window <= 1:
        return mats
    pad = window // 2
    padded = np.concatenate([mats[:1].repeat(pad, 0), mats, mats[-1:].repeat(pad, 0)])
    kernel = np.ones(window) / window
    flat = padded.reshape(len(padded), -1)
    out = np.stack([np.convolve(flat[:, j], kernel, mode="valid") for j in range(flat.shape[1])], 1)
    return out[: len(mats)].reshape(mats.shape)


def resample_frame_indices(n_frames: int, src_fps: float, fps: float) -> np.ndarray:
    """Source frame index ``(T_out,) int`` of each frame of a ``n_frames``-frame video at
    ``src_fps`` resampled to ``fps`` (nearest frame; same duration)."""
    n_out = int(round(n_frames / src_fps * fps))
    return np.minimum(np.round(np.arange(n_out) * src_fps / fps).astype(int), n_frames - 1)


def track_faces(images: list[np.ndarray] | np.ndarray) -> list[Any]:
    """The largest :class:`facespeak.face.analysis.Face` of each ``(H, W, 3) uint8`` frame, or
    None where no face is found."""
    # lazy: loads cv2 (the CLI imports this module at start)
    from ..face.analysis import analyse_faces

    out = []
    for image in images:
        faces = analyse_faces(image, max_faces=1)
        out.append(faces[0] if faces else None)
    return out


def alignment_matrices(faces: list[Any], size: int, crop_scale: float = 0.75, smooth_frames: int = 5,
                       name: str = "clip") -> np.ndarray:
    """Per-frame ``(T, 2, 3)`` affines (frame px -> crop px) mapping each face onto
    :data:`facespeak.face.align.ALIGN_TEMPLATE` zoomed by ``crop_scale`` in a ``size`` px crop,
    averaged over ``smooth_frames``. Frames without a face (None) reuse the previous alignment
    (the first found one before it); no face at all raises :class:`NoFaceError`."""
    # lazy: loads cv2 (the CLI imports this module at start)
    from ..face.align import ALIGN_TEMPLATE, template_transform, alignment_points

    template = ((ALIGN_TEMPLATE - 0.5) * crop_scale + 0.5) * size
    mats, last = [], None
    for face in faces:
        if face is not None:
            last = template_transform(alignment_points(face), template)
        mats.append(last)
    if last is None:
        raise NoFaceError(f"{name}: expected a face in the video, found none in {len(mats)} frames")
    first = next(m for m in mats if m is not None)
    return smooth_affines(np.stack([first if m is None else m for m in mats]), smooth_frames)


def warp_crops(images: list[np.ndarray] | np.ndarray, mats: np.ndarray, size: int) -> np.ndarray:
    """Frames ``(T, H, W, 3) uint8`` and ``(T, 2, 3)`` affines -> crops ``(T, size, size, 3) uint8``."""
    import cv2

    return np.stack([cv2.warpAffine(im, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
                     for im, m in zip(images, mats)])


def align_crops(images: list[np.ndarray] | np.ndarray, size: int, crop_scale: float = 0.75,
                smooth_frames: int = 5, name: str = "clip") -> np.ndarray:
    """Frames ``(T, H, W, 3) uint8`` -> aligned face crops ``(T, size, size, 3) uint8``.

    The face of every frame (largest) is mapped onto :data:`facespeak.face.align.ALIGN_TEMPLATE`
    zoomed by ``crop_scale``; the per-frame transforms are averaged over ``smooth_frames``.
    Frames without a face reuse the previous alignment; no face at all raises :class:`NoFaceError`."""
    mats = alignment_matrices(track_faces(images), size, crop_scale, smooth_frames, name)
    return warp_crops(images, mats, size)


def _log_mel(wav: np.ndarray, rate: int, spec: MelSpec) -> np.ndarray:
    """``(T_wav,)`` audio at ``rate`` Hz -> ``(T_mel, n_mels)`` float32 log-mel at ``spec``."""

    x = resample(wav.astype(np.float32), int(rate), spec.sample_rate)
    with torch.no_grad():
        return MelExtractor(spec)(torch.from_numpy(x)[None])[0].T.numpy().astype(np.float32)


def _read_clip(mp4: Path, txt: Path, cfg: TalkingClipsConfig, front: Any) -> dict[str, np.ndarray]:
    data = read_video(mp4)
    if data.audio is None or not data.info.sample_rate or len(data.audio) == 0:
        raise InputError(f"{mp4}: expected an audio track, found none")
    ids = np.asarray(front.encode(read_transcript(txt)), dtype=np.int16)
    pick = resample_frame_indices(len(data.frames), data.info.fps, cfg.fps)
    crops = align_crops(data.frames[pick], cfg.size, cfg.crop_scale, cfg.smooth_frames, str(mp4))
    return {"frames": crops, "mel": _log_mel(data.audio, data.info.sample_rate, cfg.tts_mel),
            "sync_mel": _log_mel(data.audio, data.info.sample_rate, cfg.sync_mel), "ids": ids}


def prepare_talking_clips(cfg: TalkingClipsConfig, progress: bool = True) -> Path:
    """Decode every clip of ``cfg.root`` and write ``cfg.cache`` (see the module docstring).

    Clips that cannot be used (no audio, no face, unspeakable transcript) are skipped with a
    warning; none usable raises :class:`InputError`."""
    from safetensors.numpy import save_file
    from tqdm import tqdm

    front = TextFrontend(TextConfig())
    root = Path(cfg.root)
    rows, names, texts = [], [], []
    for mp4, txt in tqdm(find_clips(root), desc="clips", disable=not progress, dynamic_ncols=True):
        try:
            rows.append(_read_clip(mp4, txt, cfg, front))
        except InputError as e:
            log.warning("skipping %s: %s", mp4, e)
            continue
        names.append(str(mp4.relative_to(root).with_suffix("")))
        texts.append(read_transcript(txt))
    if not rows:
        raise InputError(f"talking clips: none of the clips under {root} could be used (see the warnings)")
    tensors: dict[str, np.ndarray] = {}
    for key in ("frames", "mel", "sync_mel", "ids"):
        parts = [r[key] for r in rows]
        tensors[key] = np.ascontiguousarray(np.concatenate(parts))
        tensors[key + "_off"] = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    tensors["mel"] = tensors["mel"].astype(np.float16)
    tensors["sync_mel"] = tensors["sync_mel"].astype(np.float16)
    meta = {"names": json.dumps(names), "texts": json.dumps(texts), "fps": repr(cfg.fps), "size": str(cfg.size),
            "tts_mel": json.dumps(asdict(cfg.tts_mel)), "sync_mel": json.dumps(asdict(cfg.sync_mel)),
            "symbols": str(front.symbol_table_version), "vocab_size": str(front.vocab_size)}
    out = Path(cfg.cache)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata=meta)
    log.info("prepared %d talking clips (%d frames) from %s -> %s", len(names), len(tensors["frames"]), root, out)
    return out


# --------------------------------------------------------------------------- prepared clips


class TalkingClips:
    """Random access to a file written by :func:`prepare_talking_clips`."""

    def __init__(self, path: str | Path) -> None:
        from safetensors import safe_open
        from safetensors.numpy import load_file

        if not Path(path).is_file():
            raise InputError(f"talking clips: expected a prepared file at {path}, found nothing")
        self.t = load_file(str(path))
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata()
        self.names: list[str] = json.loads(meta["names"])
        self.texts: list[str] = json.loads(meta["texts"])
        self.fps, self.size = float(meta["fps"]), int(meta["size"])
        self.tts_mel, self.sync_mel = MelSpec(**json.loads(meta["tts_mel"])), MelSpec(**json.loads(meta["sync_mel"]))
        self.vocab_size, self.symbols = int(meta["vocab_size"]), meta["symbols"]

    @classmethod
    def load_or_prepare(cls, cfg: TalkingClipsConfig, progress: bool = True) -> "TalkingClips":
        if not Path(cfg.cache).is_file():
            prepare_talking_clips(cfg, progress)
        clips = cls(cfg.cache)
        if clips.size != cfg.size or clips.tts_mel != cfg.tts_mel:
            raise InputError(f"talking clips {cfg.cache}: prepared at {clips.size} px / {clips.tts_mel}, the config "
                             f"asks for {cfg.size} px / {cfg.tts_mel}; set clips.cache to another file")
        return clips

    def __len__(self) -> int:
        return len(self.names)

    def _get(self, key: str, i: int) -> np.ndarray:
        off = self.t[key + "_off"]
        return self.t[key][off[i]:off[i + 1]]

    def n_frames(self, i: int) -> int:
        return int(self.t["frames_off"][i + 1] - self.t["frames_off"][i])

    def frames(self, i: int) -> np.ndarray:
        """``(T_video, S, S, 3) uint8``."""
        return self._get("frames", i)

    def mel(self, i: int) -> np.ndarray:
        """``(n_mels, T_mel)`` float32 TTS log-mel."""
        return self._get("mel", i).astype(np.float32).T

    def sync_mel_frames(self, i: int) -> np.ndarray:
        """``(n_mels_sync, T_sync_mel)`` float32 SyncNet log-mel."""
        return self._get("sync_mel", i).astype(np.float32).T

    def ids(self, i: int) -> np.ndarray:
        return self._get("ids", i).astype(np.int64)

    def mel_stats(self) -> tuple[float, float]:
        m = self.t["mel"].astype(np.float32)
        return float(m.mean()), float(m.std())

    def split(self, held_out: float) -> tuple[list[int], list[int]]:
        """(train, held-out) clip indices: the last ``held_out`` fraction is held out (at least
        one clip when there are two or more, none when there is one)."""
        n = len(self)
        k = 0 if n < 2 or held_out <= 0 else max(1, int(round(n * held_out)))
        return list(range(n - k)), list(range(n - k, n))


def _to_unit(frames: np.ndarray) -> torch.Tensor:
    """``(N, H, W, 3) uint8`` -> ``(N, 3, H, W)`` float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def pad_time(x: np.ndarray, start: int, length: int, floor: float) -> np.ndarray:
    """``x (C, T)`` -> ``x[:, start:start+length]`` padded with ``floor`` past the end."""
    out = np.full((x.shape[0], length), floor, dtype=np.float32)
    part = x[:, start:start + length]
    out[:, :part.shape[1]] = part
    return out


class TalkingClipDataset(Dataset):
    """Windows of prepared clips for the joint stage. Item ``i`` (deterministic, seeded by ``i``):

    - ``frames (W, 3, S, S)`` in [-1, 1]: ``W = window_frames`` consecutive frames from ``v0``;
    - ``source (3, S, S)``: a random frame of the same clip;
    - ``ids (T_text,)`` and ``mel (n_mels, T_mel)``: the whole utterance (the TTS aligns all of
      it); ``mel_start``: the TTS mel frame at ``v0`` (the window covers ``mel_window`` frames);
    - ``sync_mel (n_mels_sync, sync_window)``: SyncNet log-mel under the window's first
      ``sync_frames`` frames (``sync_frames`` 0: a zero-width window).

    Clips shorter than ``W`` frames are not used."""

    def __init__(self, clips: TalkingClips, indices: list[int], window_frames: int, n_items: int, seed: int = 0,
                 sync_frames: int = 5) -> None:
        self.clips, self.w, self.n_items, self.seed = clips, window_frames, n_items, seed
        self.indices = [i for i in indices if clips.n_frames(i) >= window_frames]
        if not self.indices:
            raise InputError(f"talking clips: expected clips of at least {window_frames} frames, found none "
                             f"among {len(indices)}")
        self.mel_rate = clips.tts_mel.frame_rate / clips.fps  # TTS mel frames per video frame
        self.sync_rate = clips.sync_mel.frame_rate / clips.fps
        self.mel_window = int(round(window_frames * self.mel_rate))
        self.sync_window = int(round(sync_frames * self.sync_rate))

    def __len__(self) -> int:
        return self.n_items

    def __getitem__(self, i: int) -> dict[str, Any]:
        g = torch.Generator().manual_seed(self.seed * 7_919 + int(i))
        c = self.indices[int(torch.randint(len(self.indices), (1,), generator=g))]
        n = self.clips.n_frames(c)
        v0 = int(torch.randint(n - self.w + 1, (1,), generator=g))
        s = int(torch.randint(n, (1,), generator=g))
        frames = self.clips.frames(c)
        mel = self.clips.mel(c)
        m0 = max(0, min(int(round(v0 * self.mel_rate)), mel.shape[1] - self.mel_window))
        sync = pad_time(self.clips.sync_mel_frames(c), int(round(v0 * self.sync_rate)), self.sync_window,
                         float(np.log(self.clips.sync_mel.log_floor)))
        return {"frames": _to_unit(frames[v0:v0 + self.w]), "source": _to_unit(frames[s:s + 1])[0],
                "ids": self.clips.ids(c), "mel": mel, "mel_start": m0, "sync_mel": torch.from_numpy(sync),
                "log_floor": float(np.log(self.clips.tts_mel.log_floor)), "mel_window": self.mel_window}


def collate_clips(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack windows; pad ``ids`` with 0 and ``mel`` with the log floor to the longest item.
    Adds ``x_lengths``, ``mel_lengths (B,)`` and the scalar ``mel_window``."""
    b = len(items)
    tx = max(len(it["ids"]) for it in items)
    ty = max(max(it["mel"].shape[1] for it in items), max(it["mel_start"] for it in items) + items[0]["mel_window"])
    ids = torch.zeros(b, tx, dtype=torch.long)
    mel = torch.full((b, items[0]["mel"].shape[0], ty), items[0]["log_floor"])
    for k, it in enumerate(items):
        ids[k, :len(it["ids"])] = torch.from_numpy(it["ids"])
        mel[k, :, :it["mel"].shape[1]] = torch.from_numpy(it["mel"])
    return {"frames": torch.stack([it["frames"] for it in items]), "source": torch.stack([it["source"] for it in items]),
            "ids": ids, "x_lengths": torch.tensor([len(it["ids"]) for it in items]), "mel": mel,
            "mel_lengths": torch.tensor([it["mel"].shape[1] for it in items]),
            "mel_start": torch.tensor([it["mel_start"] for it in items]),
            "mel_window": torch.tensor(items[0]["mel_window"]),
            "sync_mel": torch.stack([it["sync_mel"] for it in items])}


# --------------------------------------------------------------------------- builder


@dataclass
class BuildClipsConfig:
    """out: clip directory (layout above); faces: face corpus (manifest.json; split=train
    persons only); sentences: speech corpus sentences.jsonl (split=train only); clips: how many;
    size: rendered crop side ("256" or "512", a :class:`facespeak.pipeline.VideoOptions` size;
    :func:`prepare_talking_clips` re-aligns to the model size); max_words: skip longer sentences;
    seed: selection + synthesis seed."""

    out: str = "corpus/talking"
    faces: str = "corpus/faces"
    sentences: str = "corpus/speech/sentences.jsonl"
    clips: int = 16
    size: str = "256"
    max_words: int = 12
    seed: int = 0


def _train_portraits(faces_dir: Path) -> list[dict[str, Any]]:
    """Photo items of split=train persons (+ the first frame of each train video person)."""
    path = faces_dir / "manifest.json"
    if not path.is_file():
        raise InputError(f"face corpus: expected {path} (build it with 'facespeak data build-faces'), found nothing")
    m = json.loads(path.read_text())
    train = {p for p, v in m.get("persons", {}).items() if v.get("split") == "train"}
    items = [it for it in m.get("items", []) if it.get("person") in train and it.get("split", "train") == "train"]
    photos = [it for it in items if it.get("kind") == "photo"]
    seen = {it["person"] for it in photos}
    for it in items:
        if it.get("kind") == "frame" and it["person"] not in seen:
            photos.append(it)
            seen.add(it["person"])
    if not photos:
        raise InputError(f"face corpus {path}: expected split=train portraits, found none")
    return photos


def _train_sentences(path: Path, max_words: int) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InputError(f"sentences: expected {path} (build it with 'facespeak data build-speech'), found nothing")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("split") == "train" and len(r["text"].split()) <= max_words]
    if not rows:
        raise InputError(f"sentences {path}: expected split=train sentences of at most {max_words} words, found none")
    return rows


def _portrait(faces_dir: Path, item: dict[str, Any]):
    # lazy: loads cv2 (the CLI imports this module at start)
    from ..face.analysis import Portrait, analyse_faces, face_nearest_box

    image = load_image(faces_dir / item["path"])
    faces = analyse_faces(image)
    face = face_nearest_box(faces, item.get("face_box"))
    if face is None:
        raise NoFaceError(f"{item['path']}: expected a face, found none")
    return Portrait(image, faces, face, faces.index(face), item["person"])


def build_talking_clips(cfg: BuildClipsConfig, progress: bool = True) -> dict[str, Any]:
    """Render ``cfg.clips`` clips with ``facespeak say`` (bundled TTS + vocoder, mesh renderer):
    portraits of split=train persons in turn, random split=train sentences. Resumable (existing
    clips are kept). Writes ``out/<person>/<clip>.mp4`` + ``.txt`` and ``out/build.json``."""
    from tqdm import tqdm

    # lazy: loads numba via tts.alignment (about 1 s)
    from ..pipeline import FaceSpeak, SpeechOptions, VideoOptions, say

    if cfg.clips < 1:
        raise InputError(f"clips: expected at least 1, got {cfg.clips}")
    if cfg.size not in ("256", "512"):
        raise InputError(f"size: expected '256' or '512' (rendered crop side), got {cfg.size!r}")
    faces_dir, out = Path(cfg.faces), Path(cfg.out)
    portraits = _train_portraits(faces_dir)
    sentences = _train_sentences(Path(cfg.sentences), cfg.max_words)
    order = np.random.default_rng(cfg.seed).permutation(len(sentences))
    fs = FaceSpeak.from_bundled(threads=1)
    loaded: dict[int, Any] = {}
    rows = []
    for k in tqdm(range(cfg.clips), desc="clips", disable=not progress, dynamic_ncols=True):
        item, sent = portraits[k % len(portraits)], sentences[int(order[k % len(order)])]
        mp4 = out / item["person"] / f"{k:05d}.mp4"
        if not mp4.is_file():
            if k % len(portraits) not in loaded:
                loaded[k % len(portraits)] = _portrait(faces_dir, item)
            mp4.parent.mkdir(parents=True, exist_ok=True)
            say(fs, loaded[k % len(portraits)], sent["text"], mp4, SpeechOptions(seed=cfg.seed + k),
                VideoOptions(size=cfg.size))
            mp4.with_suffix(".txt").write_text(f"Text:  {sent['text']}\n", encoding="utf-8")
        rows.append({"clip": str(mp4.relative_to(out)), "portrait": item["path"], "person": item["person"],
                     "sentence_id": sent.get("sentence_id"), "seed": cfg.seed + k})
    (out / "build.json").write_text(json.dumps({"config": asdict(cfg), "clips": rows,
                                                "note": "distilled from the facespeak say pipeline (mesh renderer, "
                                                        "bundled TTS): not real talking data"}, indent=1))
    return {"out": str(out), "clips": len(rows), "persons": len({r["person"] for r in rows})}
