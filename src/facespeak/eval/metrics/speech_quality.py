"""Predicted speech quality: DistillMOS and DNSMOS, on loudness-normalised 16 kHz speech.

Both predictors rate **signal quality** (buzz, phase artefacts, noise, band limits), not
naturalness of prosody. DistillMOS (Stahl & Gamper 2025, a CNN+transformer distilled from
XLS-R-SQA) and DNSMOS SIG (Reddy et al. 2022, ITU-T P.835 signal rating) separate real speech
from classic synthesisers; DNSMOS P.808 and OVRL do not, so the reports lead with DistillMOS
and SIG and keep BAK/OVRL/P.808 for the record. Scale: 1 (bad) .. 5 (excellent).

Weights ship inside PyPI wheels (no hub): ``distillmos`` (+ ``xls-r-sqa``) and ``speechmos``.
``distillmos/sqa.py`` imports torchaudio at module level, only to read and resample files, and
no torchaudio build exists for our torch. So the package is never imported: its network is
built here from the ``xls_r_sqa`` transformer head it uses (:class:`_DistillMosNet`, same
parameter names, ``strict`` load of ``distillmos/weights/distill_mos_v7.pt``) and fed 16 kHz
tensors resampled by :mod:`facespeak.audio.io`. A test checks it against the package's class.

Every file is normalised first (:func:`normalize_for_quality`): leading/trailing silence
trimmed, resampled to 16 kHz, RMS over voiced frames set to -25 dBFS with the gain lowered if
a sample would leave [-1, 1] (DNSMOS raises outside that range; it is level-sensitive,
DistillMOS is not: it peak-normalises its input).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from facespeak.audio.io import resample, trim_silence
from facespeak.core.errors import AudioError, DependencyError, InputError
from facespeak.data.voice_postprocess import PostProcess, normalize_loudness

__all__ = [
    "QUALITY_SAMPLE_RATE",
    "QUALITY_THRESHOLDS",
    "QualityNormalization",
    "SpeechQuality",
    "SpeechQualitySummary",
    "normalize_for_quality",
    "score_speech_quality",
    "score_speech_quality_batch",
    "summarize_speech_quality",
]

log = logging.getLogger(__name__)

QUALITY_SAMPLE_RATE = 16000  # both predictors were trained on 16 kHz speech
# The bars for generated speech (means over the evaluated utterances).
QUALITY_THRESHOLDS = {"distillmos_mean_min": 3.8, "dnsmos_sig_mean_min": 3.4}

_DISTILLMOS_HINT = "pip install --no-deps distillmos==0.9.1 xls-r-sqa==0.1.0"
_SPEECHMOS_HINT = "pip install --no-deps speechmos==0.0.1.1 (it also needs onnxruntime, librosa and requests)"


@dataclass(frozen=True)
class QualityNormalization:
    """How a file is prepared before scoring (units: dB, dBFS, ms, s)."""

    trim_top_db: float = 40.0  # frames this far below the loudest frame count as silence
    trim_margin_ms: float = 20.0  # kept before the first / after the last voiced frame
    target_rms_dbfs: float = -25.0  # RMS over voiced 20 ms frames after normalisation
    peak_limit: float = 1.0  # gain is lowered so that no sample exceeds this
    min_seconds: float = 0.1  # shorter voiced audio cannot be rated
    # Voiced audio quieter than this (RMS of the trimmed input, before normalisation) is not
    # rated: normalisation would lift a near-silent output (e.g. a broken vocoder at -80 dBFS)
    # to speech level and the predictors would score its residue like speech.
    min_input_rms_dbfs: float = -60.0


@dataclass(frozen=True)
class SpeechQuality:
    """Scores of one utterance (1..5, higher is better; NaN when it could not be rated).

    ``seconds``: duration of the rated (trimmed) audio, 0 for silence or too short input.
    ``input_rms_dbfs``: RMS level of the trimmed input before normalisation (NaN for silence).
    """

    distillmos: float
    dnsmos_sig: float
    dnsmos_bak: float
    dnsmos_ovrl: float
    dnsmos_p808: float
    seconds: float
    input_rms_dbfs: float = float("nan")

    @property
    def rated(self) -> bool:
        return math.isfinite(self.distillmos)

    def to_dict(self) -> dict[str, float | None]:
        """JSON-able: NaN becomes None."""
        return {k: (round(v, 4) if math.isfinite(v) else None) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class SpeechQualitySummary:
    """Mean and min over the rated utterances of a set; ``unrated``: silent or too short ones."""

    count: int
    unrated: int
    distillmos_mean: float
    distillmos_min: float
    dnsmos_sig_mean: float
    dnsmos_sig_min: float
    dnsmos_bak_mean: float
    dnsmos_ovrl_mean: float
    dnsmos_p808_mean: float

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-able: NaN (nothing rated) becomes None."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in values.items()}


def normalize_for_quality(
    wav: np.ndarray, sample_rate: int, norm: QualityNormalization = QualityNormalization()
) -> np.ndarray:
    """``(T_wav,)`` float audio at ``sample_rate`` Hz -> ``(T_wav',)`` float32 at 16 kHz, trimmed
    and loudness-normalised, every sample in ``[-norm.peak_limit, norm.peak_limit]``.

    Silence (all samples zero) gives an empty array.
    """
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1:
        raise InputError(f"expected mono audio of shape (T_wav,), got shape {wav.shape}")
    if sample_rate <= 0:
        raise InputError(f"expected a positive sample rate in Hz, got {sample_rate}")
    if not np.all(np.isfinite(wav)):
        raise AudioError("expected finite sample values, got NaN or inf in the waveform")
    # Trim before resampling (the trim margin is in ms, so the rate does not matter); scale
    # into range first so the resampler's clipping cannot distort loud input.
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    if peak > 1.0:
        wav = wav / peak
    wav = trim_silence(wav, sample_rate, top_db=norm.trim_top_db, margin_ms=norm.trim_margin_ms)
    if wav.size == 0:
        return wav
    wav = resample(wav, sample_rate, QUALITY_SAMPLE_RATE)
    post = PostProcess(sample_rate=QUALITY_SAMPLE_RATE, trim_top_db=norm.trim_top_db,
                       target_rms_dbfs=norm.target_rms_dbfs, peak_limit=norm.peak_limit)
    wav = normalize_loudness(wav, QUALITY_SAMPLE_RATE, post)
    return np.clip(wav, -norm.peak_limit, norm.peak_limit).astype(np.float32)


# --------------------------------------------------------------------------- DistillMOS


def _package_dir(name: str, hint: str) -> Path:
    """Directory of an installed package, located without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(f"speech-quality scoring needs the '{name}' package; {hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def _complex_compressed(x: Any, hop_length: int, win_length: int) -> Any:
    """``(B, T_wav)`` -> power-law compressed complex STFT ``(B, F, T_frames, 2)`` (|X|^0.3 with
    the phase kept), as ``distillmos.sqa._complex_compressed``."""
    import torch
    import torch.nn.functional as F

    pad = (win_length - hop_length) // 2
    x = F.pad(x, (pad, pad), mode="reflect")
    spec = torch.stft(x, n_fft=win_length, hop_length=hop_length, win_length=win_length, center=False,
                      return_complex=True, window=torch.hann_window(win_length, device=x.device))
    spec = torch.view_as_real(spec)
    mag = torch.sum(spec**2, dim=-1, keepdim=True) ** 0.5
    return torch.clip(mag, 1e-12) ** 0.3 * spec / torch.clip(mag, 1e-12)


def _build_distillmos(weights: Path) -> Any:
    """DistillMOS v7 (``distillmos.ConvTransformerSQAModel``) built from ``xls_r_sqa`` parts."""
    import torch
    from torch import nn

    try:
        from xls_r_sqa.config import FEAT_SEQ_LEN, Config
        from xls_r_sqa.sqa_model import SingleLayerModel
    except ImportError as exc:
        raise DependencyError(f"DistillMOS needs the 'xls-r-sqa' package; {_DISTILLMOS_HINT}") from exc

    class _SpecCnn(nn.Module):
        """Compressed complex STFT (20 ms Hann window, 10 ms hop) -> 6 conv layers ->
        ``(B, 256 * 3, T_frames / 2)``."""

        def __init__(self, final_channels: int = 256, num_layers: int = 6) -> None:
            super().__init__()
            self.hop_length, self.win_length = 160, 320
            layers: list[nn.Module] = []
            fdim, prev = self.win_length // 2 + 1, 2
            for i in range(num_layers):
                channels = min(64 * 2 ** max(i - 1, 0), final_channels)
                stride = (2 if i >= 1 else 1, 2 if i == num_layers - 1 else 1)  # (freq, time)
                layers += [nn.Conv2d(prev, channels, (3, 3), stride=stride, padding=(0, 1)), nn.LeakyReLU(0.1)]
                fdim, prev = (fdim - 3) // stride[0] + 1, channels
            self.cnn = nn.Sequential(*layers)
            self.fdim_cnn_out = fdim

        def forward(self, wav: torch.Tensor) -> torch.Tensor:
            x = _complex_compressed(wav, self.hop_length, self.win_length).permute(0, 3, 1, 2)
            return torch.flatten(self.cnn(x), 1, -2)

    class _DistillMosNet(nn.Module):
        """``forward(wav)``: ``(B, 122880)`` 16 kHz audio (7.68 s) -> quality in [0, 1], ``(B, 1)``."""

        def __init__(self) -> None:
            super().__init__()
            self.cnn = _SpecCnn()
            conf = Config("", None, feat_seq_len=FEAT_SEQ_LEN, dim_transformer=200, xlsr_name=None,
                          nhead_transformer=8, nlayers_transformer=7)
            conf.dim_input = 256 * self.cnn.fdim_cnn_out
            self.transformer_pool_attn = SingleLayerModel(conf)

        def forward(self, wav: torch.Tensor) -> torch.Tensor:
            wav = wav / (torch.max(torch.abs(wav), dim=1, keepdim=True).values + 1e-8)
            return self.transformer_pool_attn(self.cnn(wav).permute(0, 2, 1))

    net = _DistillMosNet()
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)["model"]
        net.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise DependencyError(f"cannot load DistillMOS weights '{weights}' ({exc}); reinstall: {_DISTILLMOS_HINT}") from exc
    return net.eval().requires_grad_(False)


_SEGMENT = 122880  # DistillMOS input window: 7.68 s at 16 kHz
_MAX_HOP = 16000  # longer audio: windows at most 1 s apart, scores averaged


def _distillmos_score(net: Any, wav16: np.ndarray) -> float:
    """The package's ``segmenting_in_forward`` rule: zero-pad to one window, or average windows
    spread evenly over the clip (hop <= 1 s); output mapped to 1..5."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(wav16, dtype=np.float32))[None]
    over = max(0, x.shape[1] - _SEGMENT)
    if over == 0:
        x = torch.nn.functional.pad(x, (0, _SEGMENT - x.shape[1]))
    hops = int(np.ceil(over / _MAX_HOP)) + 1
    starts = [int(c * over) for c in np.linspace(0, 1, hops)]
    windows = torch.cat([x[:, s:s + _SEGMENT] for s in starts], dim=0)
    with torch.inference_mode():
        return float(1.0 + 4.0 * net(windows).mean())


# --------------------------------------------------------------------------- DNSMOS


def _build_dnsmos(threads: int) -> Any:
    """speechmos' DNSMOS (P.835 ``sig_bak_ovr.onnx`` + ``model_v8.onnx`` P.808) on CPU with
    ``threads`` intra-op threads."""
    root = _package_dir("speechmos", _SPEECHMOS_HINT)
    try:
        import onnxruntime as ort
        from speechmos.dnsmos import DNSMOS
    except ImportError as exc:
        raise DependencyError(f"DNSMOS needs speechmos and its imports ({exc}); {_SPEECHMOS_HINT}") from exc

    class _Dnsmos(DNSMOS):
        def __init__(self, primary: Path, p808: Path) -> None:  # noqa: D107 - adds session options
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = threads
            self.primary_model_path = str(primary)
            self.onnx_sess = ort.InferenceSession(str(primary), opts, providers=["CPUExecutionProvider"])
            self.p808_onnx_sess = ort.InferenceSession(str(p808), opts, providers=["CPUExecutionProvider"])

    models = root / "dnsmos_models"
    return _Dnsmos(models / "sig_bak_ovr.onnx", models / "model_v8.onnx")


# --------------------------------------------------------------------------- scoring

_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}


def _models() -> tuple[Any, Any]:
    """(DistillMOS net, DNSMOS) loaded once per process; safe to call from several threads."""
    if "dnsmos" not in _MODELS:
        with _LOCK:
            if "dnsmos" not in _MODELS:
                weights = _package_dir("distillmos", _DISTILLMOS_HINT) / "weights" / "distill_mos_v7.pt"
                if not weights.is_file():
                    raise DependencyError(f"DistillMOS weights missing: expected {weights}; {_DISTILLMOS_HINT}")
                _MODELS["distillmos"] = _build_distillmos(weights)
                _MODELS["dnsmos"] = _build_dnsmos(threads=2)
                log.info("loaded DistillMOS (%s) and DNSMOS", weights)
    return _MODELS["distillmos"], _MODELS["dnsmos"]


def score_speech_quality(
    wav: np.ndarray, sample_rate: int, norm: QualityNormalization = QualityNormalization()
) -> SpeechQuality:
    """DistillMOS and DNSMOS of one ``(T_wav,)`` float waveform at ``sample_rate`` Hz.

    The audio is normalised with :func:`normalize_for_quality` (any level, any rate; samples
    outside [-1, 1] are fine). Silent or too short audio (voiced part < ``norm.min_seconds``)
    gets NaN scores and ``seconds`` 0. Deterministic: same input, same scores.
    """
    wav16 = normalize_for_quality(wav, sample_rate, norm)
    seconds = wav16.size / QUALITY_SAMPLE_RATE
    level = _input_rms_dbfs(wav, sample_rate, norm)
    nan = float("nan")
    if seconds < norm.min_seconds:
        return SpeechQuality(nan, nan, nan, nan, nan, 0.0, level)
    if not level >= norm.min_input_rms_dbfs:
        log.warning("audio at %.1f dBFS is below %.0f dBFS: not rated", level, norm.min_input_rms_dbfs)
        return SpeechQuality(nan, nan, nan, nan, nan, 0.0, level)
    distillmos, dnsmos = _models()
    d = dnsmos(wav16, QUALITY_SAMPLE_RATE, False)
    return SpeechQuality(distillmos=_distillmos_score(distillmos, wav16), dnsmos_sig=float(d["sig_mos"]),
                         dnsmos_bak=float(d["bak_mos"]), dnsmos_ovrl=float(d["ovrl_mos"]),
                         dnsmos_p808=float(d["p808_mos"]), seconds=round(seconds, 3), input_rms_dbfs=level)


def _input_rms_dbfs(wav: np.ndarray, sample_rate: int, norm: QualityNormalization) -> float:
    """RMS level (dBFS) of the input's voiced part, as trimmed for scoring; NaN for silence."""
    wav = np.asarray(wav, dtype=np.float32)
    trimmed = trim_silence(wav, sample_rate, top_db=norm.trim_top_db, margin_ms=norm.trim_margin_ms)
    if trimmed.size == 0:
        return float("nan")
    rms = float(np.sqrt(np.mean(np.square(trimmed, dtype=np.float64))))
    return float(20.0 * np.log10(rms)) if rms > 0 else float("nan")


def score_speech_quality_batch(
    wavs: Sequence[np.ndarray], sample_rates: int | Sequence[int], progress: bool = False
) -> list[SpeechQuality]:
    """:func:`score_speech_quality` of each ``(T_wav,)`` waveform (one rate for all, or one each)."""
    rates = [sample_rates] * len(wavs) if isinstance(sample_rates, int) else list(sample_rates)
    if len(rates) != len(wavs):
        raise InputError(f"expected one sample rate per waveform, got {len(rates)} rates for {len(wavs)} waveforms")
    from tqdm import tqdm

    items = tqdm(list(zip(wavs, rates)), desc="speech quality", unit="utt", disable=not progress)
    return [score_speech_quality(w, r) for w, r in items]


def _stat(values: list[float], fn: Any) -> float:
    return float(fn(values)) if values else float("nan")


def summarize_speech_quality(scores: Sequence[SpeechQuality]) -> SpeechQualitySummary:
    """Mean and min over the rated scores (unrated ones are counted, not averaged)."""
    rated = [s for s in scores if s.rated]

    def col(name: str) -> list[float]:
        return [getattr(s, name) for s in rated]

    return SpeechQualitySummary(
        count=len(rated), unrated=len(scores) - len(rated),
        distillmos_mean=_stat(col("distillmos"), np.mean), distillmos_min=_stat(col("distillmos"), np.min),
        dnsmos_sig_mean=_stat(col("dnsmos_sig"), np.mean), dnsmos_sig_min=_stat(col("dnsmos_sig"), np.min),
        dnsmos_bak_mean=_stat(col("dnsmos_bak"), np.mean), dnsmos_ovrl_mean=_stat(col("dnsmos_ovrl"), np.mean),
        dnsmos_p808_mean=_stat(col("dnsmos_p808"), np.mean),
    )
