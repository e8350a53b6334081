"""Metrics as pure functions (arrays in, numbers out; no files, no models chosen here)."""

from .dtw import dtw_path, pairwise_euclidean
from .speech import (
    FEMALE_MIN_HZ,
    MALE_MAX_HZ,
    PitchConfig,
    align_to_reference,
    cosine_matrix,
    f0_gender_range,
    f0_rmse,
    f0_track,
    mcd,
    mean_pairwise_cosine,
    median_f0,
    mel_cepstra,
    speaker_embedding,
)

__all__ = [
    "FEMALE_MIN_HZ", "MALE_MAX_HZ", "PitchConfig", "align_to_reference", "cosine_matrix", "dtw_path",
    "f0_gender_range", "f0_rmse", "f0_track", "mcd", "mean_pairwise_cosine", "median_f0", "mel_cepstra",
    "pairwise_euclidean", "speaker_embedding",
]
