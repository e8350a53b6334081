"""Issue 15 end to end: tiny LRS3-, LRS2- and VoxCeleb2-layout datasets of real talking clips
(rendered offline by ``facespeak say``; transcripts in each dataset's format) -> ``facespeak data
prepare ... --workers 2`` for each layout -> every stage trained 2 steps from those shards with
2-process gloo DDP (``torchrun``), each reading the exports it depends on, as docs/training.md
tells users to run them -> the joint stage's export -> ``facespeak say --tfg latent --weights DIR``
writes an mp4 with H.264 video and AAC audio.

Which shards each stage reads (every layout is trained on): identity encoder and SyncNet expert
from VoxCeleb2 (no transcripts needed), the TTS and the joint stage from LRS3, the latent TFG's
reconstruction stage, the audio mapper and the motion sampler from LRS2. Chain: identity -> TTS
(``data.identity``) -> mapper and sampler (``data.tts``, ``data.identity``); TFG, TTS and SyncNet
-> joint stage (``init_from``, ``joint.tts_init_from``, ``syncnet``) -> ``say``.

Also: the project's talking-clip corpus (``facespeak data build-talking-clips``) prepared as
``folder`` shards trains the joint stage (needs the untracked ``corpus/``; skipped without it)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from facespeak.cli.main import main
from facespeak.pipeline import default_tts_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import face_photos  # noqa: E402
from shard_fixtures import dataset_trees, render_clips  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")]

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "FACESPEAK_NO_PROGRESS": "1"}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def _run(cmd: list[str], timeout: int = 900) -> str:
    res = subprocess.run([str(c) for c in cmd], env=ENV, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-4000:]
    return res.stderr


def _train(component: str, config: str | Path, shards: Path, run_dir: Path, out: Path, *sets: str) -> str:
    """``torchrun --nproc_per_node 2 -m facespeak.cli.main train COMPONENT`` 2 steps of batch 1 per rank."""
    overrides = [f"shards.dir={shards}", "train.steps=2", "train.batch_size=1", "train.threads=1", *sets]
    log = _run([*TORCHRUN, "-m", "facespeak.cli.main", "train", component, "--config", config,
                *[x for s in overrides for x in ("--set", s)], "--run-dir", run_dir, "--out", out, "--device", "cpu"])
    assert "2 rank(s) x batch 1" in (run_dir / "train.log").read_text()
    rows = list(csv.DictReader((run_dir / "loss.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2]
    assert all(np.isfinite(float(v)) for r in rows for k, v in r.items() if k not in ("step", "seconds"))
    assert out.is_file()
    return log


def _prepare(trees: dict[str, Path], tmp: Path) -> dict[str, Path]:
    shards = {}
    for dataset, root in trees.items():
        shards[dataset] = tmp / f"shards_{dataset}"
        assert main(["data", "prepare", dataset, str(root), "--out", str(shards[dataset]), "--workers", "2",
                     "--clips-per-shard", "1"]) == 0
        index = json.loads((shards[dataset] / "index.json").read_text())
        assert index["n_clips"] == 3 and len(index["shards"]) == 3, index  # LRS3's corrupt clip is refused
    return shards


def _check_mp4(path: Path) -> None:
    import av

    with av.open(str(path)) as c:
        video, audio = c.streams.video[0], c.streams.audio[0]
        assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
        fps, rate = float(video.average_rate), audio.rate
        n_frames = sum(1 for _ in c.decode(video=0))
    with av.open(str(path)) as c:
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    assert fps == 25 and n_frames >= 10 and np.abs(samples).max() > 0.01  # a spoken sentence, not silence
    assert abs(n_frames / fps - len(samples) / rate) < 0.2  # the video lasts as long as the speech


def test_every_stage_trains_from_three_layouts_under_ddp_and_say_runs_the_export(tmp_path: Path) -> None:
    from PIL import Image

    os.environ["FACESPEAK_NO_PROGRESS"] = "1"
    (tmp_path / "rendered").mkdir()
    shards = _prepare(dataset_trees(tmp_path / "data", render_clips(tmp_path / "rendered")), tmp_path)
    runs, w = tmp_path / "runs", tmp_path / "weights"

    # identity encoder: VoxCeleb2 dev + test speakers (two persons), each rank views its own clips
    identity = w / "identity.safetensors"
    _run([*TORCHRUN, "-m", "facespeak.train.identity_task", "--tiny", "--shards", shards["vox2"], "--split", "dev",
          "--split", "test", "--frames-per-clip", "2", "--out", identity, "--report", runs / "identity.json"])
    report = json.loads((runs / "identity.json").read_text())
    assert report["ranks"] == 2 and report["n_train_views"] == 3 * 2  # every clip viewed once over the ranks
    assert report["train"]["train_persons"] == ["id00012", "id00017"]

    tts = w / "tts.safetensors"
    _train("tts", "tts_tiny", shards["lrs3"], runs / "tts", tts, f"data.identity={identity}")
    for component, config in (("mapper", "motion_mapper_tiny"), ("motion", "motion_sampler_tiny")):
        _train(component, config, shards["lrs2"], runs / component, w / f"{component}.safetensors",
               f"data.tts={tts}", f"data.identity={identity}", "shards.stats_clips=2")

    from facespeak.core.config import to_dict
    from facespeak.train.syncnet_task import SyncNetTrainConfig

    syncnet_cfg = tmp_path / "syncnet_tiny.yaml"
    syncnet_cfg.write_text(yaml.safe_dump({**to_dict(SyncNetTrainConfig.tiny()), "min_offset": 3,
                                           "windows_per_clip": 2}))
    syncnet = w / "syncnet.safetensors"
    _train("syncnet", syncnet_cfg, shards["vox2"], runs / "syncnet", syncnet)
    tfg = w / "tfg.safetensors"
    _train("tfg", "tfg_tiny", shards["lrs2"], runs / "tfg", tfg, "pairs_per_clip=2")

    joint = w / "joint"
    log = _train("tfg", "tfg_joint_tiny", shards["lrs3"], runs / "joint", joint / "latent_tfg.safetensors",
                 f"init_from={tfg}", f"joint.tts_init_from={tts}", f"syncnet={syncnet}", "shards.stats_clips=2")
    assert f"warm start from {tfg}" in log and f"TTS warm start from {tts}" in log
    assert sorted(p.name for p in joint.iterdir()) == [
        "latent_tfg.audio_mapper.safetensors", "latent_tfg.motion_sampler.safetensors", "latent_tfg.safetensors",
        "latent_tfg.tts.safetensors"]

    portrait, out = tmp_path / "face.png", tmp_path / "joint.mp4"
    Image.fromarray(face_photos.astronaut()).save(portrait)
    _run([sys.executable, "-m", "facespeak.cli.main", "say", "--image", portrait, "--text", "Papa bought a map.",
          "--out", out, "--tfg", "latent", "--weights", joint, "--steps", "2", "--seed", "3"], timeout=600)
    _check_mp4(out)


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (REPO / "corpus" / "faces" / "manifest.json").is_file()
                    or not (REPO / "corpus" / "speech" / "sentences.jsonl").is_file(),
                    reason="needs corpus/faces and corpus/speech (built locally, not in git)")
def test_talking_clips_corpus_in_folder_shards_trains_the_joint_stage(tmp_path: Path) -> None:
    """``build-talking-clips`` (2 clips) -> ``prepare folder --workers 2`` -> the joint stage's
    windows and 2 training steps from the shards (one process)."""
    import math

    from facespeak.data.shards import decode_sample, iter_shards
    from facespeak.data.shards.streaming import ShardStreamConfig
    from facespeak.train import train
    from facespeak.train.tfg_task import TFGTask, TFGTrainConfig

    os.environ["FACESPEAK_NO_PROGRESS"] = "1"
    talk, shards = tmp_path / "talking", tmp_path / "shards"
    assert main(["data", "build-talking-clips", "--out", str(talk), "--clips", "2", "--size", "256",
                 "--faces", str(REPO / "corpus" / "faces"),
                 "--sentences", str(REPO / "corpus" / "speech" / "sentences.jsonl")]) == 0
    assert main(["data", "prepare", "folder", str(talk), "--out", str(shards), "--workers", "2",
                 "--clips-per-shard", "1"]) == 0
    built = json.loads((talk / "build.json").read_text())["clips"]
    samples = {s["key"]: s for s in map(decode_sample, iter_shards(shards))}
    assert sorted(samples) == sorted(c["clip"].removesuffix(".mp4") for c in built)
    for clip in built:
        s = samples[clip["clip"].removesuffix(".mp4")]
        text = (talk / clip["clip"]).with_suffix(".txt").read_text().split("Text:")[1].strip()
        assert s["meta"]["speaker"] == clip["person"] and s["meta"]["split"] == "all" and s["text"] == text
        assert s["meta"]["phonemes"] and not s["meta"].get("still") and (s["quality"] & 1).sum() == 0
    cfg = TFGTrainConfig.tiny()
    cfg.stage = "joint"
    cfg.weights.perceptual_ratio = cfg.weights.identity = 0.0
    cfg.shards = ShardStreamConfig(dir=str(shards), shuffle_buffer=2, stats_clips=2)
    cfg.joint.windows_per_clip, cfg.train.steps, cfg.train.batch_size = 2, 2, 2
    stats = train(TFGTask(cfg), cfg.train, tmp_path / "run", device="cpu", progress=False)
    assert all(math.isfinite(stats[k]) for k in ("l1", "tts", "cfm", "motion_ae")) and stats["tts"] > 0
