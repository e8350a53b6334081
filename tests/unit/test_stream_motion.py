"""`say --stream`'s pieces, with tiny models: motion planned segment by segment
(facespeak.motion.streaming), features pooled on the sample timeline, text in growing chunks,
and the continued sampler windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter1d

from facespeak.core.timing import AudioTiming
from facespeak.motion.articulation import articulate
from facespeak.motion.audio_mapper import AudioMapper, AudioMapperConfig, video_rate_features
from facespeak.motion.conformer import ConformerConfig
from facespeak.motion.normaliser import MotionNormaliserConfig
from facespeak.motion.sampler import MotionSampler, MotionSamplerConfig, generate_codes, window_plan
from facespeak.motion.streaming import MotionStream, StreamMotionConfig, decoder_radius, mapper_radius
from facespeak.say_stream import STREAM_CHUNK_CHARS, TimelinePooler, growing_split
from facespeak.text import TextConfig, TextFrontend


def _models(seed: int = 0) -> tuple[AudioMapper, MotionSampler]:
    torch.manual_seed(seed)
    mapper = AudioMapper(AudioMapperConfig.tiny()).eval()
    sampler = MotionSampler(MotionSamplerConfig(normaliser=MotionNormaliserConfig(d_code=4, hidden=8, kernel=5, layers=2),
                                                prior=ConformerConfig.tiny(), estimator=ConformerConfig.tiny(),
                                                window=32, context=8, steps=2)).eval()
    return mapper, sampler


def _inputs(n: int, d_in: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(n, d_in)).astype(np.float32)
    rms = np.abs(rng.normal(size=n)) * np.where(np.arange(n) % 40 < 30, 0.1, 0.001)  # speech and pauses
    return feats, rms


def _stream(mapper, sampler, feats, rms, cuts, cfg=StreamMotionConfig(), keep_all=False, seed=5):
    ms = MotionStream(mapper, sampler, seed, cfg)
    if keep_all:
        ms._trim = lambda released: None  # keep every code, to decode them in one pass afterwards
    lips, nonlip, released = [], [], []
    for a, b in zip([0, *cuts], [*cuts, len(feats)]):
        out = ms.push(feats[a:b], rms[a:b])
        lips.append(out[0]), nonlip.append(out[1]), released.append(ms.n_out)
    out = ms.finish()
    lips.append(out[0]), nonlip.append(out[1])
    nl = None if cfg.still else np.concatenate(nonlip)
    return np.concatenate(lips), nl, released, ms


def test_every_frame_comes_out_once_in_order_and_early_frames_before_the_end():
    mapper, sampler = _models()
    feats, rms = _inputs(150, mapper.cfg.d_in)
    lips, nonlip, released, _ = _stream(mapper, sampler, feats, rms, cuts=[45, 90, 120])
    assert lips.shape == (150, 4) and nonlip.shape == (150, 8)
    pose_radius = int(4.0 * StreamMotionConfig().pose_sigma + 0.5)  # gaussian_filter1d's radius
    hold = sampler.cfg.context // 2 + decoder_radius(sampler) + pose_radius  # cross-fade + decoder + pose filter
    assert released == [45 - hold, 90 - hold, 120 - hold, 150 - hold]  # each segment's frames but the held-back ones
    assert np.isfinite(nonlip).all() and (nonlip[:, 5:] >= 0).all() and (nonlip[:, 5:] <= 1).all()
    assert np.allclose(nonlip[0, :5], 0.0)  # the pose eases in from the photo's own


def test_same_seed_and_segments_give_the_same_plan_and_another_seed_does_not():
    mapper, sampler = _models()
    feats, rms = _inputs(120, mapper.cfg.d_in)
    a = _stream(mapper, sampler, feats, rms, cuts=[50, 80])
    b = _stream(mapper, sampler, feats, rms, cuts=[50, 80])
    c = _stream(mapper, sampler, feats, rms, cuts=[50, 80], seed=6)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert np.array_equal(a[0], c[0]) and not np.allclose(a[1], c[1])  # lips do not depend on the seed


def test_released_frames_never_change_later_and_equal_one_pass_decoding_of_the_streamed_codes():
    """What streaming releases early is what decoding, clamping, low-passing and easing in the
    final codes in one pass gives: the held-back frames were exactly the ones later input changes."""
    mapper, sampler = _models()
    feats, rms = _inputs(140, mapper.cfg.d_in)
    cfg = StreamMotionConfig()
    _, nonlip, _, ms = _stream(mapper, sampler, feats, rms, cuts=[40, 77, 110], cfg=cfg, keep_all=True)
    assert ms.code_base == 0 and ms.codes.shape[1] == 140
    with torch.inference_mode():
        motion = sampler.normaliser.decode(ms.codes)[0].double().numpy()
    motion[:, 5:] = np.clip(motion[:, 5:], 0, 1)
    motion[:, :5] = gaussian_filter1d(motion[:, :5], cfg.pose_sigma, axis=0, mode="nearest")
    motion[:, :5] *= np.clip(np.arange(140) / cfg.ease_in_frames, 0, 1)[:, None]
    np.testing.assert_allclose(nonlip, motion, atol=1e-5)


def test_lips_of_a_segment_do_not_wait_for_the_next_and_see_its_left_context():
    mapper, sampler = _models()
    assert mapper_radius(mapper) == 60  # kernel 11, dilations 1/3/5 and the 1-dilated convs, one MRF
    feats, rms = _inputs(100, mapper.cfg.d_in)
    still = StreamMotionConfig(still=True, gate=False)
    lips, _, released, _ = _stream(mapper, sampler, feats, rms, cuts=[30, 70], cfg=still)
    assert released == [30, 70, 100]  # lips only: nothing is held back
    with torch.inference_mode():  # segment 2's lips: the mapper over [all earlier features, the segment, its edge]
        x = np.concatenate([feats[:70], np.repeat(feats[69:70], 60, axis=0)])
        want = articulate(mapper(torch.from_numpy(x)[None])[0, 30:70].double().numpy())  # jaw scaled (#39)
    np.testing.assert_allclose(lips[30:70], want, atol=1e-6)


def test_the_silence_gate_uses_the_loudest_frame_so_far():
    mapper, sampler = _models()
    feats, _ = _inputs(60, mapper.cfg.d_in)
    rms = np.full(60, 0.1)
    rms[30:] = 0.1 * 10 ** (-30 / 20)  # segment 2 is 30 dB quieter than segment 1
    gated, _, _, _ = _stream(mapper, sampler, feats, rms, cuts=[30], cfg=StreamMotionConfig(still=True))
    open_, _, _, _ = _stream(mapper, sampler, feats, rms, cuts=[30], cfg=StreamMotionConfig(still=True, gate=False))
    assert np.array_equal(gated[:30], open_[:30])  # loudest so far: untouched
    assert not np.allclose(gated[30:], open_[30:])  # 30 dB below the earlier peak: pulled to rest


def test_continued_sampler_windows_start_from_the_known_codes():
    _, sampler = _models()
    assert window_plan(20, 32, 8, known=8) == [(0, 8, 20)]
    assert window_plan(60, 32, 8, known=8)[0] == (0, 8, 28)
    assert window_plan(60, 32, 8) == window_plan(60, 32, 8, known=0)
    cond = torch.randn(1, 50, sampler.cfg.d_cond)
    known = torch.randn(1, 8, sampler.cfg.normaliser.d_code)
    codes = generate_codes(sampler, cond, torch.Generator().manual_seed(0), known=known)
    assert codes.shape == (1, 50, sampler.cfg.normaliser.d_code)
    assert torch.equal(codes[:, :4], known[:, :4])  # held; the last context // 2 are cross-faded
    assert not torch.allclose(codes[:, 4:8], known[:, 4:8])


def test_timeline_pooling_in_pieces_equals_pooling_at_once_and_the_one_shot_pooling():
    timing = AudioTiming()
    sr, fps, hop = timing.mel.sample_rate, timing.video_fps, timing.mel.hop_length
    cols = np.random.default_rng(0).normal(size=(5, 300))
    whole = TimelinePooler(sr, fps, hop, 5)
    whole.add(cols, 0)
    n = whole.complete(300 * hop)
    ref = whole.take(n)
    parts = TimelinePooler(sr, fps, hop, 5)
    got = []
    for a, b in ((0, 70), (70, 71), (71, 300)):
        parts.add(cols[:, a:b], a * hop)
        got.append(parts.take(parts.complete(b * hop)))
    assert np.array_equal(np.concatenate(got), ref)
    # one chunk from sample 0: the same frames as the one-shot pooling (mel frames counted end to end)
    one_shot = video_rate_features(cols[:2], cols[2:4], timing, n)  # energy = ||cols[2:4]||, not cols[4]
    np.testing.assert_allclose(ref[:, :4], one_shot[:, :4], atol=1e-6)


def test_growing_chunks_keep_every_word_and_start_small():
    fe = TextFrontend(TextConfig())
    split = growing_split(fe)
    text = ("The quick brown fox jumps over the lazy dog near the quiet river bank. Streaming video lets the viewer "
            "start watching before the whole clip is ready. Every sentence is synthesised on its own.")
    chunks = split(text)
    assert " ".join(chunks).split() == fe.normalize(text).split()
    assert len(chunks[0]) <= STREAM_CHUNK_CHARS[0] < len(fe.split(text)[0])
    assert chunks[1].endswith("bank.")  # the broken first sentence is finished, not broken again
    assert all(len(c) <= fe.config.max_chunk_chars for c in chunks)
    assert split("Hi.") == ["Hi."]


def test_the_first_chunk_ends_at_a_phrase_end_within_reach_else_is_cut_between_words_without_a_pause():
    from facespeak.say_stream import FIRST_CHUNK_REACH
    from facespeak.text.sentences import pause_after

    split = growing_split(TextFrontend(TextConfig()))
    assert split("New Hebrew is Israeli Hebrew.") == ["New Hebrew is Israeli Hebrew."]  # a short sentence stays whole
    first = split("Well, as I said before, the river rises in spring and floods the lower fields.")[0]
    assert first == "Well, as I said before," and len(first) <= FIRST_CHUNK_REACH  # the last clause end in reach
    assert split("Hi. Then the long sentence goes on for quite a while.")[0] == "Hi."
    cut = split("Socialism extinguished these archaic customs in the end.")
    assert cut[0] == "Socialism extinguished" and cut[1].startswith("these")
    assert pause_after(cut[0], 0.2) == 0.0 and pause_after(first, 0.2) == pause_after("Hi.", 0.2) == 0.2
    leaning = split("Authorities hesitate to quote exact figures in public.")  # 24 characters end on "to"
    assert leaning[0] == "Authorities hesitate" and leaning[1].startswith("to quote")
    assert " ".join(leaning).split() == "Authorities hesitate to quote exact figures in public.".split()


@pytest.mark.parametrize("n", [0, 1])
def test_motion_stream_refuses_mismatched_inputs(n):
    from facespeak.core.errors import InputError

    mapper, sampler = _models()
    ms = MotionStream(mapper, sampler, 0, StreamMotionConfig())
    with pytest.raises(InputError, match="motion stream"):
        ms.push(np.zeros((3, mapper.cfg.d_in + n + 1), np.float32), np.zeros(3))


def test_vocoding_in_windows_equals_one_call_for_a_convolutional_vocoder():
    from facespeak.vocoder.windows import vocode_windows
    from facespeak.vocoder.hifigan import HifiGanConfig, HifiGanGenerator

    torch.manual_seed(0)
    cfg = HifiGanConfig.tiny()
    voc = HifiGanGenerator(cfg).eval()
    mel = torch.randn(1, cfg.n_mels, 300)
    calls = []

    def counted(m):
        calls.append(m.shape[-1])
        wav = voc(m)
        return wav.reshape(1, -1)

    with torch.inference_mode():
        whole = counted(mel)
        calls.clear()
        parts = vocode_windows(counted, mel, 64, context=24)
    assert calls == [88, 112, 112, 112, 68]  # 5 windows of <= 64 frames, each with its context
    assert parts.shape == whole.shape
    torch.testing.assert_close(parts, whole, atol=1e-5, rtol=0)
    assert vocode_windows(counted, mel[..., :50], 64) .shape[-1] == whole.shape[-1] * 50 // 300
