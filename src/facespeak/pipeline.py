"""Stages wired together (owns no weights): portrait -> identity -> text -> TTS -> vocoder.

Numbered stages (each a short method):
  1. portrait analysis: load, detect, choose a face       (facespeak.face)
  2. identity feature f_id (or f for the ablation)        (facespeak.face.identity)
  3. text: normalise + split into chunks                  (facespeak.text)
  4. acoustic model: ids -> mel + intermediates           (facespeak.tts)
     then the face's timbre: a formant + pitch shift of the mel (facespeak.tts.timbre)
     and the contrast post-filter (detail the TTS smoothed) (facespeak.tts.postfilter)
  5. vocoder: mel -> waveform                             (facespeak.vocoder)

Every stochastic step draws from a ``torch.Generator`` seeded from ``(seed, chunk index)``, so
the same portrait + text + seed gives the same audio, and chunks are independent (long text is
synthesised chunk by chunk with constant memory).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .bundle import Bundle, check_text_symbols, default_timbre_path, default_tts_path, load_bundle
from .core.cancel import CancelToken, check_cancel
from .core.errors import InputError
from .core.progress import FACE, MOTION, MUX, RENDER, SPEECH, TEXT, VOCODER, ProgressFn, SpeechProgress, StageClock
from .core.timing import AudioTiming
from .face.analysis import Portrait, load_portrait
from .face.gender import estimate_gender
from .latent_pipeline import joint_export_paths, say_joint
from .motion.articulation import articulate
from .motion.audio_mapper import concat_speech_features
from .motion.bundled import learned_motion_available, load_audio_mapper, load_motion_sampler
from .motion.lip_rules import lip_targets
from .motion.recorded import RecordedMotion, bundled_motion_path, sample_recorded_motion
from .motion.sampler import SamplingOptions, generate_motion, sampler_condition
from .motion.silence import gate_lips
from .motion.streaming import POSE_SIGMA_FRAMES
# the options are defined in .options (light: the CLI builds its flags without importing torch)
from .options import MAX_SEED, MOTION_MODES, VOICE_GENDERS, SpeechOptions, VideoOptions
from .options import check_voice_gender as _check_voice_gender
from .say_stream import SayResult, SpeechStream, encode_frames, fragment_sink, plan_rows, say_live
from .text import TextConfig, TextFrontend, phonemes_to_ids
from .text.captions import SpokenChunk, caption_cues
from .text.sentences import pause_after
from .tfg.latent.renderer import LatentRenderer
from .tts.postfilter import DETAIL, sharpen_contrast, vocoder_level
from .tts.timbre import shift_voice
from .video.writer import VideoConfig, VideoWriter

__all__ = ["SpeechOptions", "MAX_SEED", "VOICE_GENDERS", "GENDER_SCORE_FLOOR", "CHILD_GENDER_SCORE", "gender_score", "SpeechChunk", "SpeechResult", "FaceSpeak", "default_tts_path", "default_timbre_path", "VideoOptions", "SayResult", "say", "plan_motion", "SPEECH_S_PER_SYMBOL", "estimate_speech_s",
           "speech_captions"]

log = logging.getLogger(__name__)


@dataclass
class SpeechChunk:
    """One synthesised text chunk. wav (T_wav,) float32; mel (n_mels, T_mel); durations (T_text,)
    mel frames per symbol; e_t (C, T_text); mu_y (n_mels, T_mel) = the paper's f~_t."""
    text: str
    ids: list[int]
    wav: np.ndarray
    mel: np.ndarray
    durations: np.ndarray
    e_t: np.ndarray
    mu_y: np.ndarray


@dataclass
class SpeechResult:
    wav: np.ndarray  # (T_wav,) float32 in [-1, 1]
    sample_rate: int
    chunks: list[SpeechChunk] = field(default_factory=list)
    identity: Any = None
    portrait: Any = None
    formant_cents: float = 0.0  # the timbre shift applied (the face's, or the user's)
    pitch_cents: float = 0.0  # the pitch shift applied (the user's; decisions.md #35)

    @property
    def duration_s(self) -> float:
        return len(self.wav) / self.sample_rate


#: Seconds of speech per phoneme symbol (IPA symbols, stress marks, spaces and punctuation, no
#: blanks) at ``length_scale`` 1 for the bundled TTS: the duration predictor's median over
#: varied texts and voices (0.062..0.084 s at length_scale 1.2; decisions.md #26).
SPEECH_S_PER_SYMBOL = 0.057


def estimate_speech_s(frontend: Any, text: str, opts: SpeechOptions) -> float:
    """Seconds of speech ``text`` will give, from its phoneme count after normalisation (digits
    and symbols expanded) and the chunk pauses. No model is needed and it costs about a
    millisecond per sentence, so a server can refuse a request before any synthesis."""
    chunks = frontend.split(text)
    n = sum(len(phonemes_to_ids(frontend.phonemize(chunk))) for chunk in chunks)
    return n * SPEECH_S_PER_SYMBOL * opts.length_scale + sum(pause_after(c, opts.pause_s) for c in chunks[:-1])


def speech_captions(fs: "FaceSpeak", text: str, chunks: list[Any], opts: SpeechOptions) -> list[Any]:
    """Sentence cues with word timings (facespeak.text.captions) for ``text`` spoken as
    ``chunks`` (SpeechChunks, or anything with ``text``, ``ids``, ``durations``, ``wav`` /
    ``n_samples``), on the timeline :meth:`FaceSpeak.speak` and `say` write (chunks joined by
    pauses after sentence and clause ends)."""
    sr = fs.mel_spec.sample_rate
    spoken = [c if isinstance(c, SpokenChunk) else SpokenChunk(c.text, c.ids, c.durations, len(c.wav)) for c in chunks]
    return caption_cues(fs.frontend, text, spoken, int(opts.pause_s * sr), sr)


class _threads:
    """Temporarily set torch's intra-op thread count (None = leave it)."""
    def __init__(self, n: int | None) -> None:
        self.n, self.saved = n, None

    def __enter__(self) -> None:
        if self.n is not None:
            self.saved = torch.get_num_threads()
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            torch.set_num_threads(self.saved)


# decisions.md #22: the TTS was trained on gender scores of size 0.5..1; an undecided estimate
# (the multi-view estimator's views disagree) would ask for a voice between the genders
GENDER_SCORE_FLOOR, CHILD_GENDER_SCORE = 0.5, -1.0  # a child's face gets the high voice: decisions.md #35


def gender_score(p_female: float, floor: float = GENDER_SCORE_FLOOR, child: bool = False) -> float:
    """The TTS's gender input ``P(male) - P(female)``, pushed out to at least ``floor`` in size
    on the side the estimate leans to (a tie counts as male); a ``child`` gets the high voice."""
    if child:  # decisions.md #35: the estimator misreads children's gender; a child's voice is high
        return CHILD_GENDER_SCORE
    score = 1.0 - 2.0 * float(p_female)
    return float(np.copysign(max(abs(score), floor), score if score != 0 else 1.0))


class FaceSpeak:
    """Portrait + text -> speech with a voice from the face. Thread-safe for inference."""
    def __init__(self, bundle: Bundle, frontend: Any, device: torch.device) -> None:
        """``bundle``: the models (facespeak.bundle.load_bundle), already on ``device``."""
        self.bundle, self.frontend, self.device = bundle, frontend, device
        self.tts, self.tts_config, self.vocoder = bundle.tts, bundle.tts_config, bundle.vocoder
        self.identity, self.mel_spec, self.fps = bundle.identity, bundle.mel_spec, bundle.fps
        self.timbre = bundle.timbre  # TimbreMap or None (then formant_shift None means no shift)
        self.motion_models = bundle.motion_models  # (audio mapper, motion sampler) or None

    @classmethod
    def from_bundled(cls, tts_path: str | Path | None = None, device: str = "cpu", threads: int | None = None,
                     vocoder: str | None = None, timbre_path: str | Path | None = None,
                     bundle: str | Path | None = None) -> "FaceSpeak":
        """Load a model bundle (facespeak.bundle: the bundled one, or the directory ``bundle``)
        and the text front end. Overrides: ``tts_path`` another TTS; ``vocoder`` one of
        :data:`facespeak.options.VOCODER_NAMES` ("universal-int8", the bundled default: the
        pretrained HiFi-GAN V1 mostly in int8; "universal": the same in fp32; "fast": our iSTFT
        vocoder) or a vocoder file; ``timbre_path`` another timbre map."""
        if threads or os.environ.get("FACESPEAK_THREADS"):
            torch.set_num_threads(int(threads or os.environ["FACESPEAK_THREADS"]))
        # oneDNN keeps a primitive for every input shape it saw (1,024 by default): a long `say`
        # (a new length per chunk) grew ~1.8 MB per chunk; 32 keeps ~0.6, at the same speed
        os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "32")
        models = load_bundle(bundle, device, tts=tts_path, vocoder=vocoder, timbre=timbre_path)
        frontend = TextFrontend(TextConfig())
        check_text_symbols(models.tts_config, frontend, f"TTS {tts_path or bundle or default_tts_path()}")
        return cls(models, frontend, torch.device(device))

    # 1-2 ---------------------------------------------------------------------------------
    def face_condition(self, image: Any, face_index: int | None = None, condition: str = "f_id",
                       voice_gender: str = "auto"):
        """Portrait (path, bytes, RGB array or an analysed ``Portrait``) ->
        (Portrait, IdentityFeatures, cond (1, D_cond)). ``voice_gender`` "female"/"male" sets the
        gender score to -1/+1 instead of the estimator's ``P(male) - P(female)``."""
        _check_voice_gender(voice_gender)
        if voice_gender != "auto" and not self.tts.cfg.gender_cond:
            raise InputError(f"voice gender {voice_gender!r}: this TTS has no gender input (trained with "
                             "gender_cond false); use 'auto'")
        portrait = image if isinstance(image, Portrait) else load_portrait(image, face_index)
        feats = self.identity.extract(portrait.image, portrait.face)
        vec = np.asarray(feats.f_id if condition == "f_id" else feats.f, dtype=np.float32)
        if self.tts.cfg.gender_cond:  # decisions.md #14: apparent gender joins the face feature
            if voice_gender == "auto":
                estimate = estimate_gender(portrait.image, portrait.face)
                score = gender_score(estimate.p_female, child=estimate.is_child)
            else:
                score = 1.0 if voice_gender == "male" else -1.0
            vec = np.concatenate([vec, np.float32([score])])
        return portrait, feats, torch.as_tensor(vec)[None].to(self.device)

    def voice_shift(self, cond: torch.Tensor, opts: SpeechOptions) -> tuple[float, float]:
        """(formant, pitch) cents: ``opts.formant_shift``, else the timbre map's choice from the face
        feature and gender score in ``cond`` (1, D_cond), else 0; ``opts.pitch_shift`` (decisions.md #35)."""
        vec, auto = cond[0].detach().cpu().numpy(), self.timbre is not None and self.tts.cfg.gender_cond
        formant = opts.formant_shift if opts.formant_shift is not None else (
            self.timbre.cents(vec[:-1], float(vec[-1])) if auto else 0.0)
        return float(formant), float(opts.pitch_shift)

    # 3-5 ---------------------------------------------------------------------------------
    def iter_chunks(self, text: str, cond: torch.Tensor, opts: SpeechOptions, cancel: CancelToken | None = None,
                    on_progress: ProgressFn | None = None, split: Any = None) -> Iterator[SpeechChunk]:
        """Synthesise ``text`` chunk by chunk (constant memory for long text). ``cancel`` is
        checked before every chunk, decoder step and vocoder call (raises ``Cancelled``);
        ``on_progress`` hears the same points (facespeak.core.progress; a StageClock also times them).
        ``split``: text -> chunks (default: the front end's ``split``; `say --stream` starts small)."""
        opts.validate()
        clock = StageClock.of(on_progress)
        with clock.stage(TEXT):
            self.frontend.normalize(text)  # raises TextError early for empty/unspeakable text
            chunks = (split or self.frontend.split)(text)
        shift = self.voice_shift(cond, opts)
        progress = SpeechProgress(chunks, opts.steps, clock)
        for k, chunk in enumerate(chunks):
            check_cancel(cancel)
            with clock.stage(TEXT):
                ids = self.frontend.encode(chunk)
            if ids:
                yield self._synthesise_chunk(chunk, ids, cond, opts, k, shift, cancel, progress, clock)
            progress.vocoded(k)

    @torch.inference_mode()
    def _synthesise_chunk(self, text: str, ids: list[int], cond: torch.Tensor, opts: SpeechOptions, k: int,
                          shift: tuple[float, float] = (0.0, 0.0), cancel: CancelToken | None = None,
                          progress: SpeechProgress | None = None, clock: StageClock | None = None) -> SpeechChunk:
        clock = StageClock.of(clock)
        def on_step(i: int) -> None:
            check_cancel(cancel)
            if progress is not None:
                progress.step(k, i)

        gen = torch.Generator().manual_seed(int(opts.seed) * 1_000_003 + k)
        x = torch.tensor([ids], dtype=torch.long, device=self.device)
        with clock.stage(SPEECH):
            out = self.tts.synthesise(x, torch.tensor([len(ids)], device=self.device), cond, n_steps=opts.steps,
                                      temperature=opts.temperature, length_scale=opts.length_scale, generator=gen,
                                      gender_guidance=opts.gender_guidance, face_guidance=opts.face_guidance,
                                      on_step=None if cancel is None and progress is None else on_step)
        check_cancel(cancel)
        if progress is not None:
            progress.decoded(k)
        n = int(out.mel_lengths[0])
        mel = shift_voice(out.mel[:, :, :n], shift[0], self.mel_spec, pitch_cents=shift[1])  # (0, 0): unchanged
        mel = sharpen_contrast(mel, opts.contrast, vocoder_level(self.mel_spec), DETAIL if opts.contrast != 1.0 else 0.0)
        with _threads(1 if self.device.type == "cpu" else None), clock.stage(VOCODER):
            # the small vocoder runs 10-20x slower with 2 intra-op threads on a busy 2-core CPU
            wav = self.vocoder(mel)[0].clamp(-1, 1).cpu().numpy().astype(np.float32)
        clock.mark("first_audio_s")
        return SpeechChunk(text=text, ids=ids, wav=wav, mel=mel[0].cpu().numpy(), durations=out.durations[0].cpu().numpy(),
                           e_t=out.e_t[0].cpu().numpy(), mu_y=out.mu_y[0, :, :n].cpu().numpy())

    def speak(self, image: Any, text: str, opts: SpeechOptions | None = None, face_index: int | None = None,
              keep_chunks: bool = True, cancel: CancelToken | None = None,
              on_progress: ProgressFn | None = None) -> SpeechResult:
        """Portrait + text -> :class:`SpeechResult` (whole waveform in memory); ``cancel`` and
        ``on_progress`` as in :meth:`iter_chunks`."""
        opts = opts or SpeechOptions()
        opts.validate()
        check_cancel(cancel)
        clock = StageClock.of(on_progress)
        with clock.stage(FACE, report=True):
            portrait, feats, cond = self.face_condition(image, face_index, opts.condition, opts.voice_gender)
        parts, chunks, prev = [], [], ""  # no pause before the first chunk: pause_after("") is 0
        for ch in self.iter_chunks(text, cond, opts, cancel, clock):  # pauses after sentences and clauses
            parts += [np.zeros(int(pause_after(prev, opts.pause_s) * self.mel_spec.sample_rate), np.float32), ch.wav]
            prev = ch.text
            if keep_chunks:
                chunks.append(ch)
        wav = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        formant, pitch = self.voice_shift(cond, opts)
        return SpeechResult(wav=wav, sample_rate=self.mel_spec.sample_rate, chunks=chunks, identity=feats, portrait=portrait,
                            formant_cents=formant, pitch_cents=pitch)


# ------------------------------------------------------------------------------------------
# Talking face (`facespeak say`): speech -> lip motion + head/eye/brow motion -> render -> mux
# ------------------------------------------------------------------------------------------

def _speech_track(chunks: list[SpeechChunk], pause_frames: float, pause_id: int) -> tuple[list[int], np.ndarray]:
    """Concatenate chunk symbol ids and durations (mel frames), with the inter-chunk pauses
    (``pause_frames`` after a sentence or clause end: facespeak.text.sentences.pause_after)."""
    ids: list[int] = []
    durs: list[float] = []
    for k, ch in enumerate(chunks):
        if k and pause_after(chunks[k - 1].text, pause_frames):
            ids.append(pause_id)
            durs.append(pause_frames)
        ids.extend(ch.ids)
        durs.extend(float(d) for d in ch.durations)
    return ids, np.asarray(durs)


def plan_motion(n_frames: int, ids: list[int], durations: np.ndarray, seed: int, still: bool, timing: Any, *,
                chunks: list[SpeechChunk] | None = None, pause_frames: float = 0.0, motion: str = "auto",
                steps: int | None = None, level_db: np.ndarray | None = None, head_motion: float = 1.0,
                models: tuple[Any, Any] | None = None) -> np.ndarray:
    """(T_video, 7) expression amounts + (T_video, 5) pose -> concatenated (T_video, 12) plan.

    ``level_db``: optional ``(T_video,)`` speech level per frame (dB below the loudest,
    facespeak.audio.levels): lips rest where it is quiet (facespeak.motion.silence).
    ``head_motion``: scale of the head pose (yaw, pitch, roll, translation).
    ``motion``: ``"learned"`` = lips from the audio mapper over the TTS intermediates of
    ``chunks`` (joined by ``pause_frames`` mel frames of silence) and head pose, blinks and brows
    from the OT-CFM motion sampler (``steps`` Euler steps, seeded by ``seed``); ``"rules"`` = lips
    from the symbol timings (facespeak.motion.lip_rules) and recorded real motion
    (facespeak.motion.recorded); ``"auto"`` = learned when the bundled weights exist and
    ``chunks`` are given, else rules. ``still``: pose, blinks and brows stay zero; lips move.
    ``models``: the ``(audio mapper, motion sampler)`` of learned motion (a bundle's
    ``motion_models``); None = the bundled ones. `say` plans learned motion for the mesh renderer
    chunk by chunk instead (facespeak.motion.streaming via facespeak.say_stream.say_live).
    """
    if motion not in MOTION_MODES:
        raise InputError(f"motion: expected one of {MOTION_MODES}, got {motion!r}")
    if motion == "learned" and not chunks:
        raise InputError("motion 'learned' needs the speech chunks (TTS intermediates), got none")
    available = models is not None or learned_motion_available()
    learned = motion == "learned" or (motion == "auto" and bool(chunks) and available)
    if learned:
        lips, nonlip = _learned_motion(n_frames, chunks or [], pause_frames, seed, still, timing, steps, models)
    else:
        lips, nonlip = _rule_motion(n_frames, ids, durations, seed, still, timing)
    lips = articulate(lips)  # the jaw scaled to the renderer's (motion.articulation), then the gate
    if level_db is not None:
        lips = gate_lips(lips, level_db)
    return plan_rows(lips, nonlip, head_motion)


def _rule_motion(n_frames: int, ids: list[int], durations: np.ndarray, seed: int, still: bool,
                 timing: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Lips (T_video, 4) from rules; non-lip (T_video, 8) from the recorded bank (None if still)."""
    lips = lip_targets(ids, durations, timing, n_frames=n_frames)
    if still:
        return lips, None
    bank = RecordedMotion.load(bundled_motion_path())
    pose, blink, brow = sample_recorded_motion(bank, n_frames, timing.video_fps, seed)
    return lips, np.concatenate([pose, blink, brow], axis=1)


@torch.inference_mode()
def _learned_motion(n_frames: int, chunks: list[SpeechChunk], pause_frames: float, seed: int, still: bool,
                    timing: Any, steps: int | None,
                    models: tuple[Any, Any] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Lips (T_video, 4) from the audio mapper; non-lip (T_video, 8) from the sampler (None if still).

    The pose eases in over the first 0.4 s from the portrait's own pose (zero), so frame 0 is
    the photo (same as the recorded-motion path)."""
    from scipy.ndimage import gaussian_filter1d

    mapper, sampler = models if models is not None else (load_audio_mapper(), load_motion_sampler())
    feats = concat_speech_features([(c.e_t, c.mu_y, c.durations) for c in chunks], pause_frames, timing, n_frames)
    x = torch.from_numpy(feats)[None]
    lips = mapper(x)
    if still:
        return lips[0].double().numpy(), None
    cond = sampler_condition(lips, x[..., -1:])
    gen = torch.Generator().manual_seed(int(seed))
    nonlip = generate_motion(sampler, cond, gen, SamplingOptions(steps=steps))[0].double().numpy()
    # head pose low-passed (Gaussian, POSE_SIGMA_FRAMES): the warp turns the sampler's small
    # frame-to-frame wobble into landmark jitter; the std over a clip drops by ~2 %
    nonlip[:, :5] = gaussian_filter1d(nonlip[:, :5], POSE_SIGMA_FRAMES, axis=0, mode="nearest")
    ramp = np.clip(np.arange(n_frames) / max(0.4 * timing.video_fps, 1.0), 0.0, 1.0)[:, None]
    nonlip[:, :5] *= ramp
    return lips[0].double().numpy(), nonlip


def _mesh_motion(space: Any, plan: np.ndarray, own_pose: tuple[float, float, float]) -> np.ndarray:
    """``(T_video, 12)`` motion plan (pose in apparent degrees) -> ``(T_video, D_motion)`` mesh
    motion for the warp: turns away from frontal soft-limited for this photo's own pose, then
    converted to the warp's commanded degrees (facespeak.tfg.mesh_space)."""
    return space.motion_from_plan(plan, own_pose)


def _frame_source(portrait: Any, video: VideoOptions) -> tuple[tuple[int, int], Any]:
    """The renderer for ``video.tfg``, built before the speech (the writer needs the frame size)
    -> ``(H, W)`` and a function ``(T_video, 12)`` plan -> lazy iterator of ``(H, W, 3)`` uint8 frames."""
    # lazy: the mesh renderer loads numba and its compiled kernels (~0.4 s), which `tts` never needs
    from .tfg.mesh_renderer import MeshRenderer, RenderConfig

    if video.tfg != "latent":
        cfg = RenderConfig(mode="full") if video.size == "full" else RenderConfig(mode="crop", size=int(video.size))
        renderer = MeshRenderer(portrait.image, portrait.face, cfg)
        return renderer.frame_size, lambda plan: map(renderer.render_frame, _mesh_motion(renderer.space, plan,
                                                                                         portrait.face.pose))

    latent = LatentRenderer(portrait.image, portrait.face, video.tfg_weights)
    driver = MeshRenderer(portrait.image, portrait.face, RenderConfig(mode="full"))
    return latent.frame_size, lambda plan: _latent_frames(latent, driver, portrait, plan)


def _latent_frames(latent: Any, driver: Any, portrait: Any, plan: np.ndarray) -> Iterator[np.ndarray]:
    """A reconstruction-stage latent TFG (no joint export: facespeak.latent_pipeline), driven
    as LIA animates: the plan rendered by the mesh renderer ``driver``, each frame aligned like
    the source crop, its ``alpha`` read by the encoder, the portrait rendered with LIA's relative
    transfer ``alpha_source + (alpha_t - alpha_0)`` (frame 0 of the plan is the still portrait)."""
    import cv2

    motion = _mesh_motion(driver.space, plan, portrait.face.pose)
    side = latent.frame_size[0]
    crops = np.stack([cv2.warpAffine(driver.render_frame(row), latent.align_matrix, (side, side), flags=cv2.INTER_AREA,
                                     borderMode=cv2.BORDER_REPLICATE) for row in motion])
    alpha = latent.motion_from_frames(crops)
    alpha = latent.source_alpha[None] + alpha - alpha[:1]
    return latent.render(alpha)


def _motion_mode(fs: FaceSpeak, motion: str) -> str:
    """``motion`` for a bundle without learned motion models: "auto" -> "rules"; "learned" refused."""
    if fs.motion_models is not None or motion == "rules":
        return motion
    if motion == "learned":
        raise InputError("motion 'learned': this model bundle has no audio mapper and motion sampler; "
                         "use 'auto' or 'rules'")
    return "rules"


def say(fs: FaceSpeak, image: Any, text: str, out: str | Path, speech: SpeechOptions | None = None,
        video: VideoOptions | None = None, face_index: int | None = None, progress: bool = False,
        cancel: CancelToken | None = None, on_progress: ProgressFn | None = None, keep_chunks: bool = True,
        on_data: Any = None) -> SayResult:
    """Portrait + text -> MP4 (H.264 + AAC, at the bundle's fps) of the face speaking in its own voice.

    Stages: 1 portrait, 2 identity, renderer, writer; then with learned motion and the mesh
    renderer (the defaults; decisions.md #34) chunk by chunk (say_stream.say_live): 3-5 the
    chunk's speech (its audio encoded at once), 6 its motion, 7 its frames into a fragmented MP4
    whose bytes go to ``on_data(bytes)`` as they are written (``video.stream``: the server serves
    them; the same file either way); else 3-5 all speech, 6 the whole utterance's motion, 7 the
    frames (:func:`_say_planned`). ``keep_chunks=False``: ``SayResult.chunks`` holds
    ``SpokenChunk`` s (enough for captions). The file appears only when complete. ``cancel`` is
    checked between speech steps, stages and frames; ``on_progress`` hears the same points
    (facespeak.core.progress; seconds per stage: ``timings``).
    """
    speech, video = speech or SpeechOptions(), video or VideoOptions()
    speech.validate()
    video.validate()
    chunked = video.tfg == "mesh" and _motion_mode(fs, video.motion) != "rules"  # decisions.md #34
    if video.stream and not chunked:
        raise InputError("stream: needs learned motion; this model bundle has no audio mapper and motion sampler")
    if video.tfg == "latent" and joint_export_paths(video.tfg_weights):  # its own TTS, mapper and sampler
        return say_joint(fs, image, text, out, speech, video, face_index, progress, cancel, on_progress)
    clock = StageClock.of(on_progress)
    check_cancel(cancel)
    with clock.stage(FACE, report=True):
        portrait, _, cond = fs.face_condition(image, face_index, speech.condition, speech.voice_gender)
    timing, sr = AudioTiming(fs.mel_spec, fs.fps), fs.mel_spec.sample_rate
    with clock.stage(RENDER):
        frame_size, render = _frame_source(portrait, video)
    with clock.stage(MUX):
        writer = VideoWriter(out, frame_size, sr, VideoConfig(fps=timing.video_fps, live=chunked),
                             on_data=fragment_sink(clock, on_data) if chunked else None)
    with writer:
        if chunked:
            expected = int(estimate_speech_s(fs.frontend, text, speech) * timing.video_fps)
            spoken = say_live(fs, writer, render, text, cond, speech, video, timing, clock, cancel, progress, keep_chunks,
                              expected)
        else:
            spoken = _say_planned(fs, writer, render, text, cond, speech, video, timing, clock, cancel, progress,
                                  keep_chunks)
        with clock.stage(MUX, report=True):
            path = writer.close()
    timings = {**clock.seconds, **clock.marks, "total_s": clock.elapsed()}
    return SayResult(Path(path), spoken.n_frames, timing.video_fps, spoken.duration_s, portrait.face_index,
                     len(portrait.faces), timings, spoken.chunks, sr)


def _say_planned(fs: FaceSpeak, writer: VideoWriter, render: Any, text: str, cond: torch.Tensor, speech: SpeechOptions,
                 video: VideoOptions, timing: AudioTiming, clock: StageClock, cancel: CancelToken | None,
                 progress: bool, keep_chunks: bool) -> SpeechStream:
    """Rules motion, latent renderer: all speech, the whole utterance's motion, frames one by one."""
    spoken = SpeechStream(writer, fs.mel_spec.sample_rate, timing.video_fps, speech.pause_s, keep_chunks, clock)
    spoken.consume(fs.iter_chunks(text, cond, speech, cancel, clock))
    n_frames, pause_frames = spoken.n_frames, speech.pause_s * fs.mel_spec.frame_rate
    ids, durs = _speech_track(spoken.motion, pause_frames, phonemes_to_ids(".")[0])
    check_cancel(cancel)
    with clock.stage(MOTION, report=True):
        plan = plan_motion(n_frames, ids, durs, speech.seed, video.still, timing, chunks=spoken.motion,
                           pause_frames=pause_frames, motion=_motion_mode(fs, video.motion),
                           level_db=spoken.level_db() if video.silence_gate else None,
                           head_motion=video.head_motion, models=fs.motion_models)
    with clock.stage(RENDER if video.tfg == "latent" else MOTION):
        frames = render(plan)  # the latent TFG reads the plan's motion from rendered frames here
    encode_frames(writer, frames, n_frames, clock, cancel, progress)
    return spoken
