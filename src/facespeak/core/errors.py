"""Project exceptions.

Every error caused by user input is a :class:`FacespeakError` whose message says what was
expected and what arrived. The CLI prints ``error: <message>`` on one line and exits non-zero.
"""

from __future__ import annotations

__all__ = [
    "FacespeakError",
    "InputError",
    "OutputPathError",
    "ImageError",
    "NoFaceError",
    "MultipleFacesError",
    "FaceTooSmallError",
    "TextError",
    "AudioError",
    "CheckpointError",
    "ConfigError",
    "DependencyError",
    "Cancelled",
]


class FacespeakError(Exception):
    """Base class for errors a user can fix; ``exit_code`` is what the CLI returns."""

    exit_code: int = 2


class InputError(FacespeakError):
    """Generic bad user input."""


class OutputPathError(InputError):
    """An output path cannot be written (a folder, a file as parent, read-only, no space, too long)."""


class ImageError(InputError):
    """The image cannot be read or is not usable (corrupt, wrong type, too small, too large)."""


class NoFaceError(InputError):
    """No face was found in the image."""

    exit_code = 3


class MultipleFacesError(InputError):
    """Several faces were found and the caller demanded an explicit choice."""

    exit_code = 4


class FaceTooSmallError(InputError):
    """The chosen face is below the minimum usable size."""


class TextError(InputError):
    """Text is empty, unspeakable or otherwise unusable."""


class AudioError(InputError):
    """Audio file cannot be read or is unusable."""


class CheckpointError(FacespeakError):
    """A checkpoint file is missing, corrupt or of the wrong architecture/version."""


class ConfigError(FacespeakError):
    """A configuration file or value is invalid (unknown key, wrong type)."""


class DependencyError(FacespeakError):
    """An optional dependency or a system package is missing."""

    exit_code = 5


class Cancelled(FacespeakError):
    """A run was stopped on request (core.cancel.CancelToken), e.g. its client disconnected."""

    exit_code = 130
