"""The user-facing synthesis and video options, defined once.

:class:`SpeechOptions` and :class:`VideoOptions` own the names, defaults and validation
(``validate()``); :data:`OPTIONS` adds, once per field, what a front end needs to expose them:
help text, the accepted range or choices (shown in ``--help``; a test checks them against
``validate()``), the commands that take the option, and the CLI flag. ``facespeak tts`` / ``say``
generate their flags from it (``cli/option_flags.py``) and the server its form fields
(``server/option_fields.py``), so an option added to a dataclass and listed here reaches both
with the same default and the same ``validate()`` message (docs/decisions.md #31; a test fails
when a dataclass field is missing here, from the CLI or from the REST form).

Form field name = dataclass field name; a value left out (flag not given, form field absent)
keeps the dataclass default. This module imports no torch, so the CLI builds its parser fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any



def _bad(message: str) -> Exception:
    """The project's ``InputError`` for ``message``. Imported here, not at the top: importing
    ``facespeak.core`` loads torch (core/__init__ -> checkpoint), which the CLI's parser must not
    wait for."""
    # lazy: loads torch
    from .core.errors import InputError

    return InputError(message)

__all__ = ["SpeechOptions", "VideoOptions", "MAX_SEED", "MAX_SHIFT_CENTS", "MAX_PITCH_CENTS", "MAX_PAUSE_S", "VOICE_GENDERS", "SIZES",
           "MOTION_MODES", "TFG_KINDS", "VOCODER_NAMES", "DEFAULT_VOCODER", "VOCODER_HELP", "check_voice_gender", "Option", "OPTIONS", "COMMANDS", "options_for",
           "option_defaults", "build_options"]

MAX_SHIFT_CENTS = 600.0  # user-given formant shifts beyond +-600 cents (half an octave) garble speech
MAX_PITCH_CENTS = 600.0  # pitch shifts too (+400 already cost 0.3 DistillMOS on the probe, decisions.md #35)
MAX_PAUSE_S = 5.0  # longest silence between text chunks
MIN_CONTRAST, MAX_CONTRAST = 0.5, 2.5  # beyond these the post-filter flattens or distorts speech

VOICE_GENDERS = ("auto", "female", "male")


def check_voice_gender(value: str) -> None:
    if value not in VOICE_GENDERS:
        raise _bad(f"voice gender: expected one of {', '.join(VOICE_GENDERS)}, got {value!r}")


#: Largest accepted ``--seed`` (2**32 - 1, the usual unsigned 32-bit range).
MAX_SEED = 2**32 - 1


@dataclass
class SpeechOptions:
    """Synthesis options (same names as the REST form fields; CLI flags: ``--name-with-dashes``)."""

    seed: int = 0
    steps: int = 10  # Euler steps of the flow-matching decoder
    # temperature, length_scale and face_guidance: chosen on the held-out speech set for
    # intelligibility and distinct voices (decisions.md #18)
    temperature: float = 0.2
    length_scale: float = 1.2  # > 1 speaks slower
    condition: str = "f_id"  # f_id (motion removed, the paper) | f (motion kept, ablation)
    pause_s: float = 0.2  # silence between text chunks
    # gender-conditioned TTS only: blend toward the voice of the apparent gender alone
    # (0 = the face alone decides; decisions.md #16)
    gender_guidance: float = 0.5
    # gender-conditioned TTS only: classifier-free guidance on the face (1 = off; > 1 makes
    # voices of different faces of one gender more distinct; decisions.md #18)
    face_guidance: float = 2.0
    # gender-conditioned TTS only: "auto" takes the apparent gender from the bundled estimator;
    # "female" / "male" overrides it where the estimator is wrong on a face (decisions.md #19)
    voice_gender: str = "auto"
    # formant (timbre) shift in cents: None = chosen from the face by the bundled timbre map,
    # 0 = the TTS's own voice, > 0 a brighter / smaller voice, < 0 a darker / larger one
    # (facespeak.tts.timbre; decisions.md #21)
    formant_shift: float | None = None
    # the voice's pitch, cents (0: the TTS's own; decisions.md #35)
    pitch_shift: float = 0.0
    # spectral contrast post-filter on the TTS's mel (> 1 undoes its over-smoothing: crisper,
    # less muffled speech, sharpened in time too; 1 = the TTS's own spectrum, still brought to
    # the vocoder's level; chosen on training portraits: facespeak.tts.postfilter, decisions.md #33, #36)
    contrast: float = 1.3

    @classmethod
    def with_defaults(cls, **given: Any) -> "SpeechOptions":
        """Options from keyword values where ``None`` means "keep the default" (CLI flags and
        form fields the user left out)."""
        return cls(**{k: v for k, v in given.items() if v is not None})

    def validate(self) -> None:
        # seeds feed torch.Generator(seed * 1_000_003 + chunk) and numpy's default_rng: 0..2**32-1
        # keeps both in range (a larger seed overflowed int64 in manual_seed; decisions.md #23)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise _bad(f"seed: expected a whole number 0..{MAX_SEED}, got {self.seed}")
        if not 1 <= self.steps <= 200:
            raise _bad(f"steps: expected 1..200, got {self.steps}")
        if not 0.0 <= self.temperature <= 2.0:
            raise _bad(f"temperature: expected 0..2, got {self.temperature}")
        if not 0.25 <= self.length_scale <= 4.0:
            raise _bad(f"length scale: expected 0.25..4, got {self.length_scale}")
        if not 0.0 <= self.pause_s <= MAX_PAUSE_S:
            raise _bad(f"pause: expected 0..{MAX_PAUSE_S:g} s, got {self.pause_s}")
        if self.condition not in ("f_id", "f"):
            raise _bad(f"condition: expected 'f_id' or 'f', got {self.condition!r}")
        if not 0.0 <= self.gender_guidance <= 1.0:
            raise _bad(f"gender guidance: expected 0..1, got {self.gender_guidance}")
        if not 0.0 <= self.face_guidance <= 4.0:
            raise _bad(f"face guidance: expected 0..4, got {self.face_guidance}")
        check_voice_gender(self.voice_gender)
        if self.formant_shift is not None and not abs(self.formant_shift) <= MAX_SHIFT_CENTS:
            raise _bad(f"formant shift: expected -{MAX_SHIFT_CENTS:.0f}..{MAX_SHIFT_CENTS:.0f} cents, "
                             f"got {self.formant_shift}")
        if not abs(self.pitch_shift) <= MAX_PITCH_CENTS:
            raise _bad(f"pitch shift: expected -{MAX_PITCH_CENTS:.0f}..{MAX_PITCH_CENTS:.0f} cents, got {self.pitch_shift}")
        if not MIN_CONTRAST <= self.contrast <= MAX_CONTRAST:
            raise _bad(f"contrast: expected {MIN_CONTRAST:g}..{MAX_CONTRAST:g}, got {self.contrast}")



SIZES = ("256", "512", "full")
MOTION_MODES = ("auto", "learned", "rules")
TFG_KINDS = ("mesh", "latent")
# the vocoders `load_vocoder` knows (chosen when the models load: CLI --vocoder, serve --vocoder)
VOCODER_NAMES = ("universal-int8", "universal", "fast")
DEFAULT_VOCODER = "universal-int8"  # decisions.md #32: sounds like "universal" at about a third of its cost
VOCODER_HELP = ("universal-int8: the pretrained HiFi-GAN V1 mostly in int8 (default; best sound); universal: the same "
                "in fp32 (2-3x slower, same sound); fast: our small iSTFT vocoder (~20x faster, rough sound)")


@dataclass
class VideoOptions:
    """size: "256" / "512" (aligned face crop of that side) or "full" (the whole photo with the
    animated head pasted back); still: no head, blink or brow motion (lips only)."""

    size: str = "256"
    still: bool = False
    motion: str = "auto"  # auto | learned | rules (see plan_motion)
    # talking-face generator: "mesh" (default, any photo) or "latent" (the paper's LIA-style
    # model; needs ``tfg_weights``, output is that model's crop size; docs/latent_tfg.md)
    tfg: str = "mesh"
    tfg_weights: str | None = None
    # scale of the head pose (1 = as sampled, in the apparent degrees of the tracked real video
    # it learned from; docs/decisions.md #17); 0 = no head turn (blinks and brows still move)
    head_motion: float = 1.3
    # lips rest in frames where the speech is silent (facespeak.motion.silence)
    silence_gate: bool = True
    # the fragmented MP4 handed out while it is made (REST: GET /api/jobs/{id}/stream; first frames
    # within about a second); the same frames, samples and file as without it (decisions.md #34)
    stream: bool = False

    def validate(self) -> None:
        if not 0.0 <= self.head_motion <= 4.0:
            raise _bad(f"head motion: expected a scale from 0 to 4, got {self.head_motion}")
        if self.size not in SIZES:
            raise _bad(f"size: expected one of {SIZES}, got {self.size!r}")
        if self.motion not in MOTION_MODES:
            raise _bad(f"motion: expected 'auto', 'learned' or 'rules', got {self.motion!r}")
        if self.tfg not in TFG_KINDS:
            raise _bad(f"tfg: expected 'mesh' or 'latent', got {self.tfg!r}")
        if self.tfg == "latent" and not self.tfg_weights:
            raise _bad("tfg 'latent': expected --weights DIR (a latent TFG weights folder or file), got none")
        if self.stream and (self.tfg != "mesh" or self.motion == "rules"):
            raise _bad(f"stream: expected the mesh renderer and learned motion, got tfg {self.tfg!r}, motion {self.motion!r}")
        if self.tfg_weights and not Path(self.tfg_weights).exists():
            raise _bad(f"tfg weights: expected a folder or .safetensors file, {self.tfg_weights} does not exist")



#: Commands that take options: ``tts`` (speech only) and ``say`` (speech + video); the REST
#: endpoints ``/api/tts`` and ``/api/say`` (and ``POST /api/jobs``) take the same sets.
COMMANDS = ("tts", "say")


@dataclass(frozen=True)
class Option:
    """One option of :class:`SpeechOptions` or :class:`VideoOptions`.

    ``kind``: the value type (int, float, str or bool); ``low`` / ``high``: the accepted range
    (inclusive), or ``choices``; ``nullable``: None is a meaningful value (e.g. formant shift
    "chosen from the face"); ``flag``: the CLI flag (default ``--name-with-dashes``);
    ``rest``: False for an option a REST client must not set (``rest_reason`` says why)."""

    name: str
    owner: type
    kind: type
    help: str
    commands: tuple[str, ...]
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    flag: str | None = None
    metavar: str | None = None
    rest: bool = True
    rest_reason: str = ""

    @property
    def default(self) -> Any:
        """The dataclass's default (the one source of defaults)."""
        return {f.name: f.default for f in dataclasses.fields(self.owner)}[self.name]

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """Help text with the range and the default, for ``--help`` and the REST schema."""
        extra = []
        if self.low is not None and self.high is not None:
            extra.append(f"{_num(self.low)}..{_num(self.high)}")
        if self.kind is bool:
            extra.append(f"default {'on' if self.default else 'off'}")
        elif self.default is not None:
            extra.append(f"default {self.default}")
        return f"{self.help} ({'; '.join(extra)})" if extra else self.help


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


_BOTH, _SAY = ("tts", "say"), ("say",)

OPTIONS: tuple[Option, ...] = (
    # -- speech (SpeechOptions) ------------------------------------------------------------
    Option("seed", SpeechOptions, int, "random seed (same inputs + seed = same output)", _BOTH, 0, MAX_SEED),
    Option("steps", SpeechOptions, int, "flow-matching ODE steps (fewer = faster)", _BOTH, 1, 200),
    Option("temperature", SpeechOptions, float, "sampling temperature of the TTS decoder", _BOTH, 0.0, 2.0),
    Option("length_scale", SpeechOptions, float, "> 1 speaks slower", _BOTH, 0.25, 4.0),
    Option("condition", SpeechOptions, str, "face feature for the voice: f_id (motion removed, the paper) or f "
           "(motion kept; ablation)", _BOTH, choices=("f_id", "f")),
    Option("pause_s", SpeechOptions, float, "seconds of silence between sentences (text chunks)", _BOTH, 0.0, MAX_PAUSE_S,
           metavar="SECONDS"),
    Option("gender_guidance", SpeechOptions, float, "pull the voice toward the face's apparent gender "
           "(0 = the face feature alone)", _BOTH, 0.0, 1.0),
    Option("face_guidance", SpeechOptions, float, "guidance on the face for the voice (1 = off; higher = more "
           "face-specific voice)", _BOTH, 0.0, 4.0),
    Option("voice_gender", SpeechOptions, str, "gender of the voice: auto follows the face's apparent gender as the "
           "bundled estimator sees it (see 'facespeak faces'); female/male override a wrong estimate", _BOTH,
           choices=VOICE_GENDERS),
    Option("formant_shift", SpeechOptions, float, "timbre: move the voice's formants by CENTS (> 0 brighter/smaller, "
           "< 0 darker/larger; 0 = the TTS's own voice); left out: chosen from the face", _BOTH,
           -MAX_SHIFT_CENTS, MAX_SHIFT_CENTS, nullable=True, metavar="CENTS"),
    Option("pitch_shift", SpeechOptions, float, "move the voice's pitch by CENTS (100 = a semitone; > 0 higher; "
           "0 = the TTS's own pitch; beyond +-300 it starts to sound processed)", _BOTH, -MAX_PITCH_CENTS,
           MAX_PITCH_CENTS, metavar="CENTS"),
    Option("contrast", SpeechOptions, float, "spectral contrast of the voice: > 1 undoes the TTS's muffling "
           "(crisper speech), 1 = the TTS's own spectrum", _BOTH, MIN_CONTRAST, MAX_CONTRAST),
    # -- video (VideoOptions) --------------------------------------------------------------
    Option("size", VideoOptions, str, "aligned face crop of 256 or 512 px, or the full photo with the head "
           "animated in place", _SAY, choices=SIZES),
    Option("still", VideoOptions, bool, "no head, blink or brow motion (lips only)", _SAY),
    Option("motion", VideoOptions, str, "learned: audio mapper + OT-CFM motion sampler (auto: when bundled); "
           "rules: lip rules + recorded real head motion", _SAY, choices=MOTION_MODES),
    Option("head_motion", VideoOptions, float, "scale of the head turns and nods (docs/decisions.md #17, #41; 0 = no "
           "head turns, blinks and brows still move)", _SAY, 0.0, 4.0, metavar="SCALE"),
    Option("silence_gate", VideoOptions, bool, "lips rest where the speech is silent "
           "(--no-silence-gate: lips follow the motion model everywhere)", _SAY),
    Option("stream", VideoOptions, bool, "hand the video out as MP4 fragments while it is made (REST: follow "
           "/api/jobs/{id}/stream; first frames within about a second); the frames, samples and file are the same "
           "as without it (needs learned motion and the mesh renderer)", _SAY),
    Option("tfg", VideoOptions, str, "talking-face generator: mesh (any photo) or latent (the paper's LIA-style "
           "model, needs --weights)", _SAY, choices=TFG_KINDS),
    Option("tfg_weights", VideoOptions, str, "with --tfg latent: folder or .safetensors of latent TFG weights", _SAY,
           nullable=True, flag="--weights", metavar="DIR|FILE", rest=False,
           rest_reason="a path on the server's disk: a client must not name files there"),
)


def options_for(command: str, rest: bool = False) -> tuple[Option, ...]:
    """The options ``command`` ("tts" | "say") takes; ``rest``: only those a REST client may set."""
    if command not in COMMANDS:
        raise ValueError(f"command: expected one of {COMMANDS}, got {command!r}")
    return tuple(o for o in OPTIONS if command in o.commands and (o.rest or not rest))


def option_defaults(owner: type) -> dict[str, Any]:
    return {o.name: o.default for o in OPTIONS if o.owner is owner}


def build_options(values: dict[str, Any], command: str) -> tuple[SpeechOptions, VideoOptions | None]:
    """Given values (name -> value; None = left out, keep the default) -> validated
    (SpeechOptions, VideoOptions or None for "tts"). Raises ``InputError`` from ``validate()``."""
    given = {o.name: values.get(o.name) for o in options_for(command)}
    speech = SpeechOptions(**{k: v for k, v in given.items() if v is not None and k in option_defaults(SpeechOptions)})
    speech.validate()
    if command == "tts":
        return speech, None
    video = VideoOptions(**{k: v for k, v in given.items() if v is not None and k in option_defaults(VideoOptions)})
    video.validate()
    return speech, video
