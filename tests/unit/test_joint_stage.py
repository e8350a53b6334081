"""Joint TTS+TFG stage: TTS intermediates, the one-module forward, gradients, the project loop."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from test_talking_clips import write_clip

from facespeak.core.checkpoint import load_checkpoint
from facespeak.core.errors import ConfigError
from facespeak.data.talking_clips import TalkingClips, TalkingClipsConfig, prepare_talking_clips
from facespeak.train.loop import load_last, train
from facespeak.train.tfg_task import JointStageModel, TFGTask, TFGTrainConfig, export_joint_parts, mel_window
from facespeak.tts import FaceTTS, TTSConfig


def _tts_batch(b: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    cfg = TTSConfig.tiny()
    ids = torch.randint(1, cfg.n_vocab, (b, 7), generator=g)
    x_len, mel_len = torch.tensor([7, 5]), torch.tensor([30, 22])
    mel = torch.randn(b, cfg.n_mels, 30, generator=g) - 5
    cond = torch.randn(b, cfg.cond_width, generator=g)
    return cfg, (ids, x_len, mel, mel_len, cond)


def test_compute_losses_intermediates_and_unchanged_losses() -> None:
    cfg, args = _tts_batch()
    torch.manual_seed(0)
    model = FaceTTS(cfg)
    torch.manual_seed(1)  # dropout draws from the global RNG: same seed, same masks
    plain = model.compute_losses(*args, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(1)
    losses, inter = model.compute_losses(*args, generator=torch.Generator().manual_seed(4), return_intermediates=True)
    for k in ("duration", "prior", "cfm"):
        assert torch.equal(getattr(plain, k), getattr(losses, k))
    b, t_mel = 2, 30
    assert inter.e_t.shape == (b, cfg.encoder.channels, t_mel) and inter.mu_y.shape == (b, cfg.n_mels, t_mel)
    assert inter.mel_mask.shape == (b, 1, t_mel) and inter.mel_mask[1, 0, 22:].sum() == 0
    # each valid mel frame carries the text embedding of the one token MAS assigned it
    model.eval()  # no dropout: the embedding MAS saw differs from a fresh one only by dropout
    losses, inter = model.compute_losses(*args, generator=torch.Generator().manual_seed(4), return_intermediates=True)
    _, _, _, e_text, _ = model._encode(args[0], args[1], args[4])
    token = inter.path.argmax(1)  # (B, T_mel)
    want = e_text.gather(2, token[:, None].expand(-1, e_text.shape[1], -1))
    torch.testing.assert_close(inter.e_t[1, :, :22], want[1, :, :22])
    assert inter.e_t[1, :, 22:].abs().sum() == 0 and inter.path.sum(1)[0].eq(1).all()


def test_mel_window_cuts_each_item() -> None:
    x = torch.arange(2 * 3 * 10, dtype=torch.float).view(2, 3, 10)
    w = mel_window(x, torch.tensor([0, 4]), 3)
    assert w.shape == (2, 3, 3)
    assert torch.equal(w[1], x[1, :, 4:7].T) and torch.equal(w[0], x[0, :, :3].T)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> TalkingClips:
    root = tmp_path_factory.mktemp("joint_clips")
    write_clip(root / "a" / "1.mp4", 16, "Hello there.", seed=1)
    write_clip(root / "a" / "2.mp4", 14, "Good morning to you.", seed=2)
    write_clip(root / "b" / "1.mp4", 12, "Thanks.", seed=3)
    cfg = TalkingClipsConfig.tiny()
    cfg.root, cfg.cache = str(root), str(root / "prepared.safetensors")
    prepare_talking_clips(cfg, progress=False)
    return TalkingClips(cfg.cache)


def _cfg(steps: int = 3, dropout: bool = False) -> TFGTrainConfig:
    cfg = TFGTrainConfig.tiny()
    cfg.stage = "joint"
    if not dropout:  # gradient checks compare single forwards: no dropout noise
        t = cfg.joint.tts
        t.encoder.dropout = t.duration.dropout = t.decoder.dropout = 0.0
    cfg.weights.perceptual_ratio = cfg.weights.identity = 0.0
    cfg.train.steps, cfg.train.ckpt_every, cfg.train.log_every = steps, 2, 1
    return cfg


def _batch(task: TFGTask):
    ds = task.train_dataset()
    return task.collate([ds[i] for i in range(2)])


def _grads_after(task: TFGTask, **weights) -> JointStageModel:
    for k in vars(task.cfg.weights):
        setattr(task.cfg.weights, k, 0.0)
    for k, v in weights.items():
        setattr(task.cfg.weights, k, v)
    torch.manual_seed(0)
    model = task.build_model()
    # ToFlow heads start at zero (identity warp, docs/latent_tfg.md), where no latent -- f_lip
    # included -- changes the frame yet; one optimiser step moves them off zero, as this does
    g = torch.Generator().manual_seed(1)
    for p in model.tfg.generator.to_flows.parameters():
        p.data.add_(0.05 * torch.randn(p.shape, generator=g))
    loss, _ = task.loss(model, _batch(task), torch.Generator().manual_seed(0))
    loss.backward()
    return model


def _nonzero(module: torch.nn.Module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_tts_loss_reaches_the_visual_encoder(clips) -> None:
    model = _grads_after(TFGTask(_cfg(), clips=clips), tts=1.0)
    assert model.tts.cfg.cond_dim == model.tfg.cfg.style_dim
    assert _nonzero(model.tfg.encoder) and _nonzero(model.tfg.motion)  # through f_id = f - D alpha
    assert _nonzero(model.tts.encoder) and _nonzero(model.tts.decoder)
    assert not _nonzero(model.objective.mapper)  # the TTS loss alone does not train the mapper


def test_lip_feature_reaches_the_audio_mapper(clips) -> None:
    model = _grads_after(TFGTask(_cfg(), clips=clips), reconstruction=1.0)
    assert _nonzero(model.objective.mapper) and _nonzero(model.tfg.generator)
    # f_lip is computed from e_t / mu_y, which stay attached to the TTS text encoder
    assert _nonzero(model.tts.encoder) and not _nonzero(model.tts.decoder)
    cfg = _cfg()
    cfg.joint.detach_tts_features = True
    detached = _grads_after(TFGTask(cfg, clips=clips), reconstruction=1.0)
    assert _nonzero(detached.objective.mapper) and not _nonzero(detached.tts.encoder)


def _losses(run_dir) -> list[dict[str, float]]:
    with open(run_dir / "loss.csv") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def test_joint_training_through_the_loop_resumes_and_exports(clips, tmp_path) -> None:
    straight = tmp_path / "a"
    stats = train(TFGTask(_cfg(dropout=True), clips=clips), _cfg(dropout=True).train, straight, progress=False)
    terms = ("l1", "d_loss", "g_adv", "cfm", "motion_ae", "motion_prior", "tts", "tts_dur", "tts_prior", "tts_cfm")
    assert all(math.isfinite(stats[k]) for k in terms) and stats["tts"] > 0 and stats["motion_ae"] > 0
    resumed = tmp_path / "b"
    train(TFGTask(_cfg(dropout=True), clips=clips), _cfg(dropout=True).train, resumed, progress=False, stop_at=2)
    task = TFGTask(_cfg(dropout=True), clips=clips)
    train(task, _cfg(dropout=True).train, resumed, export_path=tmp_path / "w.safetensors", progress=False)
    a, b = _losses(straight), _losses(resumed)
    assert len(a) == len(b) == 3
    for ra, rb in zip(a, b):
        assert {k: v for k, v in ra.items() if k != "seconds"} == pytest.approx(
            {k: v for k, v in rb.items() if k != "seconds"}, rel=1e-6, abs=1e-7)
    state, info = load_checkpoint(tmp_path / "w.safetensors", arch="facespeak.tfg.latent")
    assert info.config["size"] == 32 and not any(k.startswith(("disc.", "tts.")) for k in state)
    mapper_path, sampler_path, tts_path = export_joint_parts(task, resumed, tmp_path / "w.safetensors")
    assert [p.name for p in (mapper_path, sampler_path, tts_path)] == [
        "w.audio_mapper.safetensors", "w.motion_sampler.safetensors", "w.tts.safetensors"]
    tts_state, tts_info = load_checkpoint(tts_path, arch="facespeak.tts")
    assert tts_info.config["cond_dim"] == 32 and tts_info.config["_cond"] == "latent_tfg_f_id"
    from facespeak.core.config import from_dict

    rebuilt = FaceTTS(from_dict(TTSConfig, {k: v for k, v in tts_info.config.items() if not k.startswith("_")}))
    rebuilt.load_state_dict(tts_state)
    # motion/'s own formats and loaders, sized for the latent space of this 32-dim TFG
    from facespeak.motion.bundled import load_audio_mapper, load_motion_sampler

    mapper, sampler = load_audio_mapper(mapper_path), load_motion_sampler(sampler_path)
    assert (mapper.cfg.n_out, mapper.cfg.output, sampler.cfg.normaliser.d_motion, sampler.cfg.d_cond) == (32, "linear", 32, 64)
    trained = load_last(task, resumed)[0].objective
    for part, loaded in ((trained.mapper, mapper), (trained.sampler, sampler)):
        assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in part.state_dict().items())


def test_joint_config_parses_and_stage_needs_clips(tmp_path) -> None:
    from pathlib import Path

    import facespeak
    from facespeak.core.config import load_yaml
    from facespeak.core.errors import InputError

    configs = Path(facespeak.__file__).parent / "configs"
    for name in ("tfg_joint_tiny", "tfg_joint_small", "tfg_joint_staged"):
        cfg = TFGTrainConfig.from_dict(load_yaml(configs / f"{name}.yaml"))
        assert cfg.stage == "joint" and cfg.joint.clips.size == cfg.model.size
        assert cfg.joint.sampler.context + cfg.joint.sampler.context // 2 < cfg.joint.clips.window_frames
    old = load_yaml(configs / "tfg_joint_tiny.yaml")
    old["joint"]["motion"] = {"d_c": 4, "width": 16}  # the joint stage's former own motion copies
    with pytest.raises(ConfigError, match="joint.mapper .* joint.sampler"):
        TFGTrainConfig.from_dict(old)
    cfg = TFGTrainConfig.from_dict(load_yaml(configs / "tfg_joint_small.yaml"))
    cfg.joint.clips.root, cfg.joint.clips.cache = str(tmp_path / "none"), str(tmp_path / "none.safetensors")
    with pytest.raises(InputError, match="expected a directory"):
        TFGTask(cfg)


def test_joint_evaluation_reports_baseline(clips) -> None:
    from facespeak.train.tfg_task import evaluate_joint_windows

    task = TFGTask(_cfg(), clips=clips)
    torch.manual_seed(0)
    r = evaluate_joint_windows(task.build_model(), clips, task.train_clips, 6, n_windows=6, batch=4)
    assert r["l1_copy_source"] > 0 and r["f_m_std_t"] >= 0 and r["f_id_norm"] > 0
    assert r["improvement"] == pytest.approx(1 - r["l1_model"] / r["l1_copy_source"])


def test_sync_term_scores_generated_mouths(clips, tmp_path) -> None:
    from facespeak.core.checkpoint import save_checkpoint
    from facespeak.core.config import to_dict
    from facespeak.tfg.latent.syncnet import SyncNet, SyncNetConfig

    net_cfg = SyncNetConfig.tiny()
    net_cfg.n_mels, net_cfg.mel_frames = 80, 20  # the clips' 16 kHz mel: 5 frames x 100 / 25
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "sync.safetensors", SyncNet(net_cfg).state_dict(), "facespeak.syncnet", to_dict(net_cfg))
    cfg = _cfg()
    cfg.syncnet = str(tmp_path / "sync.safetensors")
    model = _grads_after(TFGTask(cfg, clips=clips), sync=1.0)
    assert _nonzero(model.tfg.generator) and _nonzero(model.objective.mapper)
    assert not any(k.startswith("_syncnet") or "syncnet" in k for k in model.state_dict())  # frozen, not saved
    task = TFGTask(cfg, clips=clips)
    _, parts = task.loss(task.build_model(), _batch(task), torch.Generator().manual_seed(0))
    assert parts["sync"] > 0
    cfg.joint.clips.window_frames = 4  # shorter than the expert's 5 frames
    with pytest.raises(ConfigError, match="at least the SyncNet's 5 frames"):
        TFGTask(cfg, clips=clips)
