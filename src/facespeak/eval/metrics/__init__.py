"""Metrics as pure functions (arrays in, numbers out; no files, no models chosen here; the
model-backed feature extractors live in :mod:`facespeak.eval.features`)."""

from .dtw import dtw_path, pairwise_euclidean
from .face import gender_agrees, identity_similarity, pca_2d, within_identity_variance
from .fid import frechet_distance
from .kid import kernel_inception_distance, polynomial_mmd2
from .motion import jitter, lip_agreement, pose_statistics, seed_diversity
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
from .video import (
    LipSyncConfig,
    LipSyncProxy,
    envelope_db,
    lagged_correlation,
    landmark_distance,
    landmark_jitter,
    lip_sync_proxy,
    mouth_opening,
    pose_diversity,
    speech_envelope,
)

__all__ = [
    "FEMALE_MIN_HZ", "MALE_MAX_HZ", "PitchConfig", "align_to_reference", "cosine_matrix", "dtw_path",
    "f0_gender_range", "f0_rmse", "f0_track", "mcd", "mean_pairwise_cosine", "median_f0", "mel_cepstra",
    "pairwise_euclidean", "speaker_embedding",
    # talking face (video.py, face.py, fid.py, kid.py)
    "LipSyncConfig", "LipSyncProxy", "envelope_db", "frechet_distance", "gender_agrees", "identity_similarity",
    "kernel_inception_distance", "lagged_correlation", "landmark_distance", "landmark_jitter", "lip_sync_proxy",
    "mouth_opening", "pca_2d", "polynomial_mmd2", "pose_diversity", "speech_envelope", "within_identity_variance",
    # learned motion (motion.py)
    "jitter", "lip_agreement", "pose_statistics", "seed_diversity",
]
