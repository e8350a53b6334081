"""Training from prepared shards: a tiny LRS3-layout set of real talking clips (three speakers,
one held out) prepared with ``facespeak data prepare lrs3 --workers 2``; the TTS and SyncNet
stream items from it, and the TTS trains a few steps with 2-process gloo DDP (``torchrun``) from
the shards and exports weights that record the mel analysis they learnt; the project's speech corpus
prepared into the same shards (a still portrait per voice) trains the TTS too."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch

from facespeak.cli.main import main
from facespeak.core.timing import MelSpec
from facespeak.data.shards import decode_sample, iter_shards
from facespeak.data.shards.stage_items import SyncItems, TTSItems
from facespeak.data.shards.streaming import ShardStream, ShardStreamConfig
from facespeak.pipeline import default_tts_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shard_fixtures import SENTENCES, lrs_txt, put, render_clips  # noqa: E402

pytestmark = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")

SPEAKERS = ["spkA", "spkB", "spkC"]  # spkC is held out
HELD_OUT = ["spkC"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """One clip per speaker in LRS3's trainval split, one clip per shard."""
    tmp = tmp_path_factory.mktemp("train_shards")
    (tmp / "rendered").mkdir()
    clips = render_clips(tmp / "rendered")
    root = tmp / "LRS3"
    for clip, speaker, text in zip(clips, SPEAKERS, SENTENCES):
        put(clip, root / "trainval" / speaker / "00001.mp4", lrs_txt(text, True))
    out = tmp / "shards"
    os.environ["FACESPEAK_NO_PROGRESS"] = "1"
    assert main(["data", "prepare", "lrs3", str(root), "--out", str(out), "--workers", "2",
                 "--clips-per-shard", "1"]) == 0
    return out


def test_tts_items_per_rank_never_hold_held_out_speakers(shards: Path) -> None:
    cfg = ShardStreamConfig(dir=str(shards), heldout_speakers=HELD_OUT, shuffle_buffer=4)
    spec = MelSpec()  # 22.05 kHz: the 16 kHz shard audio is resampled
    streams = [ShardStream(cfg, TTSItems(spec), rank=r, world_size=2) for r in range(2)]
    per_rank = [list(islice(iter(s), 3)) for s in streams]  # 3 epochs of one shard each
    # epoch 0: one training shard per rank; never the held-out speaker's clip
    assert {per_rank[0][0]["key"], per_rank[1][0]["key"]} == {"trainval/spkA/00001", "trainval/spkB/00001"}
    assert {it["key"] for it in per_rank[0] + per_rank[1]} <= {"trainval/spkA/00001", "trainval/spkB/00001"}
    dims = set()
    for it in per_rank[0] + per_rank[1]:
        n_frames = it["mel"].shape[1]
        assert it["mel"].shape[0] == spec.n_mels and np.isfinite(it["mel"]).all()
        assert 0.8 < n_frames / spec.frame_rate < 4.0  # a short sentence, in mel frames at 22.05 kHz / 256
        assert it["ids"].dtype == np.int64 and 4 < len(it["ids"]) <= n_frames
        assert np.isfinite(it["cond"]).all() and np.linalg.norm(it["cond"]) > 0
        dims.add(it["cond"].shape)
    assert len(dims) == 1
    with_gender = TTSItems(MelSpec.paper(), gender=True)(decode_sample(next(iter_shards(shards))))[0]
    assert abs(with_gender["gender"]) >= 0.5  # the estimator's score, pushed out as at inference
    assert with_gender["mel"].shape[0] == 80  # the paper's 16 kHz analysis: no resampling
    streamed = next(it["cond"] for it in per_rank[0] + per_rank[1] if it["key"] == with_gender["key"])
    assert np.allclose(with_gender["cond"], streamed, atol=1e-5)  # one face feature per clip, whatever the stage


def test_syncnet_windows_from_shards(shards: Path) -> None:
    cfg = ShardStreamConfig(dir=str(shards), heldout_speakers=HELD_OUT)
    to_items = SyncItems(frames=5, mouth_size=16, mel_frames=20, min_offset=3, windows=4)
    items = list(islice(ShardStream(cfg, to_items), 8))
    assert [float(it["label"]) for it in items[:4]] == [1.0, 0.0, 1.0, 0.0]
    for it in items:
        assert it["mouths"].shape == (5, 3, 16, 16) and it["mouths"].abs().max() <= 1.0
        assert it["mel"].shape == (80, 20) and torch.isfinite(it["mel"]).all()


def test_syncnet_trains_from_shards(shards: Path, tmp_path: Path) -> None:
    from facespeak.train import train
    from facespeak.train.syncnet_task import SyncNetTask, SyncNetTrainConfig, load_syncnet

    cfg = SyncNetTrainConfig.tiny()
    cfg.shards = ShardStreamConfig(dir=str(shards), heldout_speakers=HELD_OUT)
    cfg.min_offset, cfg.windows_per_clip = 3, 4
    cfg.train.steps, cfg.train.batch_size = 3, 4
    train(SyncNetTask(cfg), cfg.train, tmp_path / "run", device="cpu", progress=False, stop_at=1)  # interrupted
    stats = train(SyncNetTask(cfg), cfg.train, tmp_path / "run", export_path=tmp_path / "sync.safetensors",
                  device="cpu", progress=False)  # resumed: the stream is reseeded
    assert [r["step"] for r in csv.DictReader((tmp_path / "run" / "loss.csv").open())] == ["1", "2", "3"]
    assert math.isfinite(stats["bce"])
    expert = load_syncnet(tmp_path / "sync.safetensors")
    assert expert.cfg.n_mels == 80 and expert.cfg.mel_frames == 20  # 5 frames at 25 fps of a 100 Hz mel


def test_tts_trains_from_shards_with_two_process_ddp(shards: Path, tmp_path: Path) -> None:
    from facespeak.bundle import load_tts

    run_dir, out = tmp_path / "run", tmp_path / "tts.safetensors"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
           "facespeak.cli.main", "train", "tts", "--config", "tts_tiny", "--set", f"shards.dir={shards}",
           "--set", f"shards.heldout_speakers={HELD_OUT}", "--set", "train.steps=3", "--set", "train.batch_size=1",
           "--set", "train.threads=1", "--set", "train.num_workers=1", "--run-dir", str(run_dir), "--out", str(out),
           "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACESPEAK_NO_PROGRESS": "1"}
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = list(csv.DictReader((run_dir / "loss.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert all(math.isfinite(float(r[k])) for r in rows for k in ("dur", "prior", "cfm"))
    assert (run_dir / "last.pt").is_file()
    model, config, mel = load_tts(out)
    assert mel == MelSpec() and config["_text_symbols"] and model.cfg.n_mels == 80


def test_tfg_pairs_from_shards_are_frames_of_one_clip(shards: Path) -> None:
    from facespeak.data.shards.stage_items import TFGPairItems, unit_frames

    cfg = ShardStreamConfig(dir=str(shards), heldout_speakers=HELD_OUT, shuffle_buffer=1)
    sample = next(s for s in map(decode_sample, iter_shards(shards)) if s["meta"]["speaker"] not in HELD_OUT)
    items = TFGPairItems(size=32, pairs=6, max_gap=3, seed=1)(sample)
    frames = unit_frames(sample["frames"], 32)  # every frame of the clip at the TFG's size
    assert len(items) == 6
    for it in items:
        s = int((frames - it["source"]).abs().flatten(1).amax(1).argmin())
        d = int((frames - it["driving"]).abs().flatten(1).amax(1).argmin())
        assert torch.equal(frames[s], it["source"]) and torch.equal(frames[d], it["driving"])
        assert abs(s - d) <= 3  # max_gap
    assert len({float(it["source"].sum()) for it in items}) > 1  # not one pair repeated
    again = TFGPairItems(size=32, pairs=6, max_gap=3, seed=1)(sample)
    assert all(torch.equal(a["driving"], b["driving"]) for a, b in zip(items, again))  # seeded by the clip key
    streamed = list(islice(ShardStream(cfg, TFGPairItems(size=32, pairs=2)), 8))
    assert all(it["source"].shape == (3, 32, 32) and it["source"].abs().max() <= 1.0 for it in streamed)


def test_latent_tfg_trains_from_shards_and_resumes(shards: Path, tmp_path: Path) -> None:
    from facespeak.core.checkpoint import load_checkpoint
    from facespeak.train import train
    from facespeak.train.tfg_task import TFGTask, TFGTrainConfig

    cfg = TFGTrainConfig.tiny()
    cfg.weights.perceptual_ratio = cfg.weights.identity = 0.0
    cfg.shards = ShardStreamConfig(dir=str(shards), heldout_speakers=HELD_OUT, shuffle_buffer=2)
    cfg.pairs_per_clip, cfg.train.steps, cfg.train.batch_size = 4, 3, 4
    train(TFGTask(cfg), cfg.train, tmp_path / "run", device="cpu", progress=False, stop_at=2)
    stats = train(TFGTask(cfg), cfg.train, tmp_path / "run", export_path=tmp_path / "tfg.safetensors", device="cpu",
                  progress=False)
    assert [r["step"] for r in csv.DictReader((tmp_path / "run" / "loss.csv").open())] == ["1", "2", "3"]
    assert math.isfinite(stats["l1"]) and stats["l1"] > 0
    state, info = load_checkpoint(tmp_path / "tfg.safetensors", arch="facespeak.tfg.latent")
    assert info.config["size"] == 32 and state


def test_joint_windows_from_shards_line_up_frames_and_mels(shards: Path) -> None:
    from facespeak.data.shards.stage_items import JointWindowItems, clip_mel, unit_frames
    from facespeak.data.talking_clips import collate_clips
    from facespeak.text import TextConfig, TextFrontend

    sample = next(s for s in map(decode_sample, iter_shards(shards)) if s["meta"]["speaker"] not in HELD_OUT)
    tts_mel = MelSpec(n_mels=16)
    items = JointWindowItems(32, 6, tts_mel, MelSpec.paper(), windows=3, seed=2)(sample)
    assert len(items) == 3
    frames = unit_frames(sample["frames"], 32)
    mel = clip_mel(sample["audio"], sample["sample_rate"], tts_mel)
    ids = TextFrontend(TextConfig()).encode_phonemes(sample["meta"]["phonemes"])
    per_frame = tts_mel.frame_rate / 25.0
    for it in items:
        # the window's first frame, found among the clip's frames, sits at the window's mel start
        v0 = int((frames - it["frames"][0]).abs().flatten(1).amax(1).argmin())
        assert torch.equal(frames[v0:v0 + 6], it["frames"])
        assert abs(it["mel_start"] - round(v0 * per_frame)) <= 1 and it["mel_window"] == round(6 * per_frame)
        assert np.array_equal(it["ids"], ids) and np.allclose(it["mel"], mel)
        assert it["sync_mel"].shape == (80, 20)  # 5 frames of the 100 Hz SyncNet mel
    batch = collate_clips(items)
    assert batch["frames"].shape == (3, 6, 3, 32, 32) and batch["ids"].shape[0] == 3
    assert JointWindowItems(32, 10_000, tts_mel, MelSpec.paper())(sample) == []  # clip shorter than the window


def test_joint_stage_trains_from_shards_and_exports_its_parts(shards: Path, tmp_path: Path) -> None:
    from facespeak.bundle import load_tts
    from facespeak.train import train
    from facespeak.train.tfg_task import TFGTask, TFGTrainConfig, export_joint_parts

    cfg = TFGTrainConfig.tiny()
    cfg.stage = "joint"
    cfg.weights.perceptual_ratio = cfg.weights.identity = 0.0
    cfg.shards = ShardStreamConfig(dir=str(shards), heldout_speakers=HELD_OUT, shuffle_buffer=2, stats_clips=2)
    cfg.joint.windows_per_clip, cfg.train.steps, cfg.train.batch_size = 2, 2, 2
    task = TFGTask(cfg)
    stats = train(task, cfg.train, tmp_path / "run", export_path=tmp_path / "w.safetensors", device="cpu",
                  progress=False)
    assert all(math.isfinite(stats[k]) for k in ("l1", "tts", "cfm", "motion_ae")) and stats["tts"] > 0
    parts = export_joint_parts(task, tmp_path / "run", tmp_path / "w.safetensors")
    model, config, mel = load_tts(parts[2])
    assert mel == cfg.joint.clips.tts_mel and model.cfg.cond_dim == cfg.model.style_dim


def test_identity_views_from_shards_train_the_encoder(shards: Path) -> None:
    from facespeak.data.shards.stage_items import IdentityViewItems
    from facespeak.face.analysis import analyse_faces
    from facespeak.face.identity import INPUT_DIM, IdentityConfig, identity_input
    from facespeak.train.identity_task import (IdentityTrainConfig, evaluate_identity, feature_table_from_shards,
                                               train_identity)

    sample = next(s for s in map(decode_sample, iter_shards(shards)) if s["meta"]["speaker"] not in HELD_OUT)
    views = IdentityViewItems(frames=3, seed=0)(sample)
    n = len(sample["frames"])
    assert len(views) == 3 and [v["frame"] * 3 // n for v in views] == [0, 1, 2]  # one per third of the clip
    frame = sample["frames"][views[1]["frame"]]
    assert np.allclose(views[1]["input"], identity_input(frame, analyse_faces(frame, max_faces=1)[0]), atol=1e-5)
    cfg = IdentityTrainConfig.tiny()
    cfg.shards = ShardStreamConfig(dir=str(shards), heldout_speakers=HELD_OUT)
    cfg.frames_per_clip = 2
    table = feature_table_from_shards(cfg, progress=False)
    assert table.inputs.shape == (6, INPUT_DIM) and table.targets.shape[0] == 6
    assert sorted(set(table.person[table.split == "train"])) == ["spkA", "spkB"]
    assert set(table.person[table.split == "heldout"]) == set(HELD_OUT)
    model, info = train_identity(table, IdentityConfig.tiny(), cfg)
    assert info["train_persons"] == ["spkA", "spkB"] and all(np.isfinite(list(info["final_losses"].values())))
    report = evaluate_identity(model, table, None)
    assert report["heldout_real"]["f_id"]["n_views"] == 2 and "gender_probe_heldout_acc" not in report


def _frame_rms(audio: np.ndarray, rate: int, n: int) -> np.ndarray:
    hop = rate // 25
    return np.array([np.sqrt(np.mean(audio[k * hop:(k + 1) * hop] ** 2)) for k in range(n)])


def test_speech_and_motion_of_a_clip_line_up_with_its_audio_and_pose(shards: Path) -> None:
    from facespeak.data.shards.motion_items import ClipSpeechMotion, MapperItems, SamplerItems

    sample = next(s for s in map(decode_sample, iter_shards(shards)) if s["meta"]["speaker"] not in HELD_OUT)
    clip = ClipSpeechMotion()
    c = clip(sample)
    n = len(sample["frames"])
    assert c["feats"].shape == (n, clip.d_text + clip.n_mels + 1) and c["lips"].shape == (n, 4)
    assert c["motion"].shape == (n, 8) and np.isfinite(c["motion"]).all()
    pose = sample["pose"].astype(np.float64)
    assert np.allclose(c["motion"][:, :3], pose - np.median(pose, 0), atol=1e-3)  # the clip's own head pose
    # aligned to the real audio: the jaw opens where the clip is loud (MAS durations, not predicted ones)
    rms = _frame_rms(sample["audio"], sample["sample_rate"], n)
    assert np.corrcoef(c["lips"][:, 0], rms)[0, 1] > 0.3
    crops = MapperItems(clip, crop=8, stride=4)(sample)
    assert len(crops) >= 2 and all(it["feats"].shape == (8, c["feats"].shape[1]) for it in crops)
    s0 = int((torch.from_numpy(c["feats"]) - crops[0]["feats"][0]).abs().amax(1).argmin())
    assert torch.equal(crops[0]["lips"], torch.from_numpy(c["lips"][s0:s0 + 8]))  # crops keep features and targets together
    windows = SamplerItems(clip, window=8, stride=4)(sample)
    assert windows and windows[0]["motion"].shape == (8, 8) and windows[0]["cond"].shape == (8, 5)


def test_mapper_and_motion_sampler_train_from_shards(shards: Path, tmp_path: Path) -> None:
    from facespeak.motion.bundled import load_audio_mapper, load_motion_sampler
    from facespeak.train import train
    from facespeak.train.motion_task import MapperTask, MapperTrainConfig, MotionTask, MotionTrainConfig

    shard_cfg = ShardStreamConfig(dir=str(shards), heldout_speakers=HELD_OUT, shuffle_buffer=1, stats_clips=2)
    mapper_cfg = MapperTrainConfig.tiny()
    mapper_cfg.shards, mapper_cfg.train.steps = shard_cfg, 2
    stats = train(MapperTask(mapper_cfg), mapper_cfg.train, tmp_path / "m", export_path=tmp_path / "m.safetensors",
                  device="cpu", progress=False)
    assert math.isfinite(stats["loss"]) and load_audio_mapper(tmp_path / "m.safetensors").cfg.n_out == 4
    motion_cfg = MotionTrainConfig.tiny()
    motion_cfg.shards, motion_cfg.train.steps = shard_cfg, 2
    stats = train(MotionTask(motion_cfg), motion_cfg.train, tmp_path / "s", export_path=tmp_path / "s.safetensors",
                  device="cpu", progress=False)
    assert all(math.isfinite(stats[k]) for k in ("ae", "prior", "cfm"))
    assert load_motion_sampler(tmp_path / "s.safetensors").cfg.window == motion_cfg.model.window


def test_replayed_stream_resume_continues_the_same_loss_curve(shards: Path, tmp_path: Path) -> None:
    from facespeak.train import train
    from facespeak.train.syncnet_task import SyncNetTask, SyncNetTrainConfig

    def run(run_dir: Path, stop_at: int | None = None) -> None:
        cfg = SyncNetTrainConfig.tiny()
        cfg.shards = ShardStreamConfig(dir=str(shards), heldout_speakers=HELD_OUT, shuffle_buffer=2, resume="replay")
        cfg.min_offset, cfg.windows_per_clip = 3, 3
        cfg.train.steps, cfg.train.batch_size, cfg.train.log_every = 5, 2, 1
        train(SyncNetTask(cfg), cfg.train, run_dir, device="cpu", progress=False, stop_at=stop_at)

    run(tmp_path / "straight")
    run(tmp_path / "resumed", stop_at=2)
    run(tmp_path / "resumed")
    rows = [list(csv.DictReader((tmp_path / name / "loss.csv").open())) for name in ("straight", "resumed")]
    assert [r["step"] for r in rows[1]] == ["1", "2", "3", "4", "5"]
    for key in ("bce", "grad_norm"):
        assert [float(r[key]) for r in rows[0]] == pytest.approx([float(r[key]) for r in rows[1]], rel=1e-6, abs=1e-7)


_READ_EPOCH = """
import resource, sys
from facespeak.data.shards.stage_items import TFGPairItems
from facespeak.data.shards.streaming import ShardStream, ShardStreamConfig
cfg = ShardStreamConfig(dir=sys.argv[1], heldout_speakers=["spkC"], shuffle_buffer=8)
stream = ShardStream(cfg, TFGPairItems(size=64, pairs=4))
n = sum(1 for _ in zip(range(int(sys.argv[2])), stream))
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _tenfold(src: Path, dst: Path) -> None:
    """``src``'s shards listed ten times under new names (index and per-shard part states)."""
    import json
    import shutil

    dst.mkdir()
    (dst / "parts").mkdir()
    index = json.loads((src / "index.json").read_text())
    states = [s for p in sorted((src / "parts").glob("*.json")) for s in json.loads(p.read_text())["shards"]]
    new_index, new_states = [], []
    for copy in range(10):
        for entry, state in zip(index["shards"], states):
            name = f"x{copy}-{entry['name']}"
            shutil.copy(src / entry["name"], dst / name)
            new_index.append({**entry, "name": name})
            new_states.append({**state, "name": name})
    (dst / "index.json").write_text(json.dumps({**index, "shards": new_index}))
    (dst / "parts" / "x.json").write_text(json.dumps({"shards": new_states, "complete": True}))


@pytest.mark.slow
def test_memory_stays_flat_when_the_prepared_set_grows_tenfold(shards: Path, tmp_path: Path) -> None:
    """Peak RSS of a process reading one epoch (8 pairs per clip, 64 px) of the shards vs of ten
    times as many shards: within 10 %. The ten-fold set's decoded frames (20 training clips of
    29 or 39 frames at 256 px: 134 MB) would break it if a reader kept them; its raw bytes (a few
    MB) fit in the margin, so this guards against caching decoded clips, not the shuffle buffer."""
    _tenfold(shards, tmp_path / "big")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    peaks = {}
    for name, root, items in (("small", shards, 2 * 4), ("big", tmp_path / "big", 20 * 4)):
        out = subprocess.run([sys.executable, "-c", _READ_EPOCH, str(root), str(items)], env=env, check=True,
                             capture_output=True, text=True).stdout.split()
        assert int(out[0]) == items
        peaks[name] = int(out[1])
    assert peaks["big"] < 1.1 * peaks["small"], peaks


@pytest.mark.slow
def test_joint_stage_from_shards_under_ddp_exports_what_say_runs(shards: Path, tmp_path: Path) -> None:
    """`facespeak train tfg --config tfg_joint_tiny` from the shards with 2-process gloo DDP, then
    `facespeak say --tfg latent --weights DIR` on its export."""
    from PIL import Image

    from facespeak.video.reader import read_video

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
    import face_photos

    weights = tmp_path / "weights"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACESPEAK_NO_PROGRESS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
           "facespeak.cli.main", "train", "tfg", "--config", "tfg_joint_tiny", "--set", f"shards.dir={shards}",
           "--set", f"shards.heldout_speakers={HELD_OUT}", "--set", "shards.stats_clips=2", "--set", "train.steps=2",
           "--set", "train.batch_size=1", "--set", "train.threads=1", "--run-dir", str(tmp_path / "run"),
           "--out", str(weights / "latent_tfg.safetensors"), "--device", "cpu"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(p.name for p in weights.iterdir()) == [
        "latent_tfg.audio_mapper.safetensors", "latent_tfg.motion_sampler.safetensors", "latent_tfg.safetensors",
        "latent_tfg.tts.safetensors"]
    assert "2 rank(s) x batch 1" in (tmp_path / "run" / "train.log").read_text()
    portrait = tmp_path / "face.png"
    Image.fromarray(face_photos.astronaut()).save(portrait)
    out = tmp_path / "joint.mp4"
    res = subprocess.run([sys.executable, "-m", "facespeak.cli.main", "say", "--image", str(portrait), "--text",
                          "Papa bought a map.", "--out", str(out), "--tfg", "latent", "--weights", str(weights),
                          "--steps", "2", "--seed", "3"], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    v = read_video(out)
    assert v.info.size == (32, 32) and v.info.n_frames >= 5 and np.abs(v.audio).max() > 0


def test_face_cache_gives_the_streamed_conditions_without_face_analysis(shards: Path, tmp_path: Path,
                                                                       monkeypatch) -> None:
    import facespeak.data.shards.stage_items as stage_items

    from facespeak.core.errors import InputError
    from facespeak.data.shards.face_cache import build_face_cache

    cfg = ShardStreamConfig(dir=str(shards), heldout_speakers=HELD_OUT)
    spec = MelSpec.paper()
    build_face_cache(cfg, tmp_path / "faces", TTSItems(spec, gender=True), progress=False)
    cached = TTSItems(spec, gender=True, face_cache=str(tmp_path / "faces"))
    fresh = TTSItems(spec, gender=True)
    samples = [decode_sample(r) for r in iter_shards(shards)]
    wants = {s["key"]: fresh(s) for s in samples}

    def tripwire(*args, **kwargs):
        raise AssertionError("face analysis ran although the condition is cached")

    monkeypatch.setattr(stage_items, "analyse_faces", tripwire)
    for sample in samples:
        got = cached(sample)
        if sample["meta"]["speaker"] in HELD_OUT:
            assert got == []  # not a training clip: not in the cache, skipped
            continue
        want = wants[sample["key"]][0]
        assert np.allclose(got[0]["cond"], want["cond"], atol=1e-6) and got[0]["gender"] == pytest.approx(want["gender"])
        assert np.array_equal(got[0]["ids"], want["ids"]) and np.array_equal(got[0]["mel"], want["mel"])
    with pytest.raises(InputError, match="built for"):
        TTSItems(spec, gender=False, face_cache=str(tmp_path / "faces"))(samples[0])
    from facespeak.train import train
    from facespeak.train.tts_task import TTSTask, TTSTrainConfig

    cfg = TTSTrainConfig.tiny()
    cfg.shards = ShardStreamConfig(dir=str(shards), heldout_speakers=HELD_OUT, stats_clips=2)
    cfg.data.mel, cfg.data.face_cache, cfg.model.gender_cond = spec, str(tmp_path / "faces"), True
    cfg.train.steps, cfg.train.batch_size = 2, 2
    stats = train(TTSTask(cfg), cfg.train, tmp_path / "run", device="cpu", progress=False)  # no video decoded
    assert all(math.isfinite(stats[k]) for k in ("dur", "prior", "cfm"))


def _speech_corpus(rendered: Path, root: Path) -> None:
    """A speech corpus in ``facespeak data build-speech``'s layout (manifest.jsonl + wavs/) whose
    utterances are the rendered clips' speech, by three voices (one per sentence)."""
    import json

    import soundfile as sf

    from facespeak.video.reader import read_video

    rows = []
    for i, (text, voice) in enumerate(zip(SENTENCES, ["voice_a", "voice_b", "voice_c"])):
        data = read_video(rendered / f"{i}.mp4")
        wav = f"wavs/{voice}/s{i:05d}.wav"
        (root / wav).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / wav, data.audio, int(data.info.sample_rate))
        rows.append({"id": f"{voice}-s{i:05d}", "text": text, "text_normalized": text, "voice": voice,
                     "speaker": voice, "gender": "female", "duration": len(data.audio) / data.info.sample_rate,
                     "wav": wav, "split": "train", "sentence_id": f"s{i:05d}", "derived": False})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_speech_corpus_in_shards_trains_the_tts_and_not_the_video_stages(shards: Path, tmp_path: Path) -> None:
    """`facespeak data prepare speech CORPUS --faces FACES.json`: each utterance becomes a sample
    whose video is its voice's portrait, still, as long as the speech; the TTS trains from those
    shards and the real clips' (``shards.extra_dirs``) through the same stream; the lip-sync and
    motion stages skip them."""
    import json

    from facespeak.audio.io import load_audio
    from facespeak.data.shards.stage_items import JointWindowItems, TFGPairItems
    from facespeak.train import train
    from facespeak.train.tts_task import TTSTask, TTSTrainConfig

    rendered = shards.parent / "rendered"
    _speech_corpus(rendered, tmp_path / "speech")
    faces = tmp_path / "faces.json"  # voice_c has no portrait: left out
    faces.write_text(json.dumps({"voice_a": [str(rendered / "a.png")], "voice_b": [str(rendered / "b.png")]}))
    out = tmp_path / "speech_shards"
    assert main(["data", "prepare", "speech", str(tmp_path / "speech"), "--faces", str(faces), "--out", str(out),
                 "--sample-rate", "22050", "--clips-per-shard", "1"]) == 0
    samples = {s["key"]: s for s in map(decode_sample, iter_shards(out))}
    assert sorted(samples) == ["train/voice_a/s00000", "train/voice_b/s00001"]
    conds = []
    for i, s in enumerate(samples.values()):
        n = len(s["frames"])
        assert s["meta"]["still"] and s["sample_rate"] == 22050 and len(s["audio"]) == round(n / 25 * 22050)
        source = load_audio(tmp_path / "speech" / f"wavs/voice_{'ab'[i]}/s{i:05d}.wav", 22050)
        assert abs(len(source) - len(s["audio"])) <= 22050 / 25  # as long as the speech, to a frame
        m = min(len(source), len(s["audio"]))
        assert np.corrcoef(source[:m], s["audio"][:m])[0, 1] > 0.99  # the utterance itself
        assert np.abs(s["frames"].astype(int) - s["frames"][:1]).max() <= 12  # one portrait (H.264 noise)
        assert s["meta"]["phonemes"] and s["text"] == SENTENCES[i] and (s["quality"] & 1).sum() == 0
        assert SyncItems(frames=5, mouth_size=16, mel_frames=20, min_offset=1)(s) == []
        assert TFGPairItems(size=32)(s) == []
        assert JointWindowItems(32, 6, MelSpec(), MelSpec.paper())(s) == []
        item = TTSItems(MelSpec())(s)[0]
        assert np.isfinite(item["cond"]).all() and np.linalg.norm(item["cond"]) > 0
        conds.append(item["cond"])
    assert np.linalg.norm(conds[0] - conds[1]) > 0.1 * np.linalg.norm(conds[0])  # each voice its own face
    cfg = TTSTrainConfig.tiny()  # the LRS3-layout clips and the speech corpus, read as one set
    cfg.shards = ShardStreamConfig(dir=str(shards), extra_dirs=[str(out)], heldout_speakers=HELD_OUT, stats_clips=2)
    keys = {it["key"] for it in islice(ShardStream(cfg.shards, TTSItems(MelSpec())), 4)}  # one epoch
    assert keys == {"trainval/spkA/00001", "trainval/spkB/00001", *samples}
    cfg.train.steps, cfg.train.batch_size = 2, 2
    stats = train(TTSTask(cfg), cfg.train, tmp_path / "run", device="cpu", progress=False)
    assert all(math.isfinite(stats[k]) for k in ("dur", "prior", "cfm"))
