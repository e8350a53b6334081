"""The spectral contrast post-filter (facespeak.tts.postfilter) on real speech mels."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter1d

from pathlib import Path

from facespeak.audio.io import resample
from facespeak.audio.mel import MelExtractor
from facespeak.core.timing import MelSpec
from facespeak.options import SpeechOptions
from facespeak.tts.postfilter import DETAIL, DETAIL_SIGMA, VOCODER_LEVEL, sharpen_contrast, vocoder_level


DATA = Path("/usr/share/pocketsphinx/test/data")  # Debian pocketsphinx-testdata (scripts/setup.sh)


@pytest.fixture(scope="module")
def speech_mel() -> torch.Tensor:
    """Log-mel (1, 80, T) of a real recording: "go forward ten meters" (16 kHz, headerless)."""
    raw = np.fromfile(DATA / "goforward.raw", dtype="<i2").astype(np.float32) / 32768.0
    wav = resample(raw, 16000, 22050)
    return MelExtractor(MelSpec())(torch.from_numpy(np.ascontiguousarray(wav)).float())


def _loudest(m: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(m, dim=1).amax(dim=-1)


def test_contrast_one_without_a_level_returns_the_mel_itself(speech_mel):
    assert sharpen_contrast(speech_mel, 1.0) is speech_mel


def test_the_level_puts_every_item_loudest_frame_at_the_vocoder_level(speech_mel):
    batch = torch.cat([speech_mel, speech_mel - 2.0, speech_mel + 0.7])
    for contrast in (1.0, 1.5):
        out = sharpen_contrast(batch, contrast, VOCODER_LEVEL)
        assert torch.allclose(_loudest(out), torch.full((3,), VOCODER_LEVEL), atol=1e-4)
        # a quieter or louder input gives the same output: only the shape of the mel matters
        assert torch.allclose(out[0], out[1], atol=1e-4) and torch.allclose(out[0], out[2], atol=1e-4)


def test_the_level_is_only_set_for_the_analysis_it_was_measured_in():
    assert vocoder_level(MelSpec()) == VOCODER_LEVEL
    assert vocoder_level(MelSpec.paper()) is None


@pytest.mark.parametrize("contrast", [0.7, 1.3, 1.8])
def test_each_bin_varies_contrast_times_as_much_at_the_same_peak_level(speech_mel, contrast):
    out = sharpen_contrast(speech_mel, contrast)
    assert out.shape == speech_mel.shape
    ratio = out.std(dim=-1) / speech_mel.std(dim=-1)
    assert torch.allclose(ratio, torch.full_like(ratio, contrast), atol=1e-3)
    # without a level the loudest frame keeps its energy (no push into the vocoder's saturation)
    assert torch.allclose(_loudest(out), _loudest(speech_mel), atol=1e-4)
    # the spectral shape of the average frame is kept up to one gain
    shift = out.mean(dim=-1) - speech_mel.mean(dim=-1)
    assert float(shift.std()) < 1e-4


def test_it_restores_detail_that_smoothing_removed(speech_mel):
    """A time-smoothed mel (as an over-smoothing acoustic model predicts) is closer to the
    original after the post-filter than before: the per-bin spread comes back."""
    smooth = torch.from_numpy(gaussian_filter1d(speech_mel.numpy(), 2.0, axis=-1))
    gap = lambda m: float((m.std(dim=-1) - speech_mel.std(dim=-1)).abs().mean())  # noqa: E731
    ratio = float((speech_mel.std(dim=-1) / smooth.std(dim=-1)).median())
    assert ratio > 1.05  # smoothing did remove spread
    assert gap(sharpen_contrast(smooth, ratio)) < 0.5 * gap(smooth)


def test_batch_items_are_treated_separately(speech_mel):
    quiet = speech_mel - 3.0
    both = sharpen_contrast(torch.cat([speech_mel, quiet]), 1.4)
    assert torch.allclose(both[0], sharpen_contrast(speech_mel, 1.4)[0], atol=1e-5)
    assert torch.allclose(both[1], sharpen_contrast(quiet, 1.4)[0], atol=1e-5)


def test_the_option_is_validated():
    SpeechOptions(contrast=0.5).validate()
    SpeechOptions(contrast=2.5).validate()
    for bad in (0.4, 2.6, float("nan")):
        with pytest.raises(Exception, match="contrast: expected 0.5..2.5"):
            SpeechOptions(contrast=bad).validate()


def test_detail_sharpens_in_time_as_the_scipy_reference(speech_mel):
    """``detail``: y + d (y - G * y) with a Gaussian of DETAIL_SIGMA frames over time; away from
    the edges it equals the same filter built on scipy's gaussian_filter1d (up to the gain that
    keeps the loudest frame's level)."""
    mel = speech_mel[:, :, 40:200]
    out = sharpen_contrast(mel, 1.0, None, detail=1.0)
    y = mel[0].numpy().astype(np.float64)
    ref = y + 1.0 * (y - gaussian_filter1d(y, DETAIL_SIGMA, axis=1))
    inner = slice(8, -8)
    diff = out[0].numpy()[:, inner] - ref[:, inner]  # the same up to the one gain (loudest frame kept)
    assert np.ptp(diff) < 1e-4
    # it adds frame-to-frame change (onsets, transitions) and leaves a steady bin as it was
    assert (out.diff(dim=-1).abs().mean() > 1.5 * mel.diff(dim=-1).abs().mean())
    steady = torch.full((1, 80, 30), -4.0)
    assert torch.allclose(sharpen_contrast(steady, 1.0, None, detail=1.0), steady, atol=1e-5)
    # detail 0 is the contrast filter alone (the filter before session 12)
    assert sharpen_contrast(mel, 1.0, None, detail=0.0) is mel
    short = speech_mel[:, :, :4]  # shorter than the Gaussian's radius: edges repeated, no error
    assert sharpen_contrast(short, 1.3, VOCODER_LEVEL, detail=DETAIL).shape == short.shape
