"""Words -> IPA phonemes with espeak-ng, always the copy bundled in the ``espeakng-loader`` wheel.

phonemizer looks for a system espeak-ng unless told otherwise, and a different espeak-ng
version gives different phonemes for the same words (so different ids for a trained model).
Both the library and its data directory are therefore pinned to the wheel's files.

Creating an espeak backend loads the library and a voice (tens of ms); backends are cached
per language. espeak-ng keeps global state, so each cached backend is guarded by its own lock:
concurrent callers are serialised per language, which is cheap because one call takes about a
millisecond per sentence.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import ConfigError, DependencyError

if TYPE_CHECKING:
    from phonemizer.backend import EspeakBackend

__all__ = ["phonemize_text", "espeak_version", "espeak_library_path", "PRESERVED_PUNCTUATION"]

log = logging.getLogger(__name__)
# phonemizer reports word-count mismatches on every call once punctuation is preserved
# (espeak joins "twenty-four" into one word): expected, so only its errors are shown.
_espeak_log = logging.getLogger(__name__ + ".espeak")
_espeak_log.setLevel(logging.ERROR)

#: Punctuation espeak passes through (everything the normaliser can leave in the text).
PRESERVED_PUNCTUATION = ';:,.!?"()\u2014\u2026'

_lock = threading.Lock()
_backends: dict[str, tuple["EspeakBackend", threading.Lock]] = {}


@lru_cache(maxsize=1)
def _configure_espeak() -> tuple[str, str]:
    """Point phonemizer at the wheel's espeak-ng library AND data (once per process)."""
    try:
        import espeakng_loader
        from phonemizer.backend.espeak.wrapper import EspeakWrapper
    except ImportError as e:
        raise DependencyError(
            f"phonemes need the 'phonemizer' and 'espeakng-loader' packages: {e}"
        ) from e
    library = espeakng_loader.get_library_path()
    data = espeakng_loader.get_data_path()
    if not Path(library).is_file():
        raise DependencyError(f"espeakng-loader's espeak-ng library is missing: expected {library}")
    EspeakWrapper.set_library(library)
    EspeakWrapper.set_data_path(data)
    return library, data


def _backend(language: str) -> tuple["EspeakBackend", threading.Lock]:
    with _lock:
        if language in _backends:
            return _backends[language]
        _configure_espeak()
        from phonemizer.backend import EspeakBackend

        try:
            backend = EspeakBackend(
                language,
                punctuation_marks=PRESERVED_PUNCTUATION,
                preserve_punctuation=True,
                with_stress=True,
                language_switch="remove-flags",
                words_mismatch="ignore",
                logger=_espeak_log,
            )
        except RuntimeError as e:
            raise ConfigError(
                f"espeak-ng has no voice for language {language!r} (expected e.g. 'en-us'): {e}"
            ) from e
        log.debug("espeak-ng %s backend for %s from %s", espeak_version(), language,
                  backend.library())
        _backends[language] = (backend, threading.Lock())
        return _backends[language]


def phonemize_text(text: str, language: str = "en-us") -> str:
    """Normalised text -> IPA string with stress marks, punctuation and " " between words.

    ``text`` should come from :func:`facespeak.text.normalize.normalize_text`; digits and
    symbols are not expanded here. Thread-safe. Returns "" for text without words.
    """
    backend, lock = _backend(language)
    with lock:
        out = backend.phonemize([text], strip=True, njobs=1)[0]
    return re.sub(r"\s+", " ", out).strip()


@lru_cache(maxsize=1)
def espeak_version() -> str:
    """Version of the espeak-ng library in use, e.g. ``"1.52.0"`` (stored in checkpoints)."""
    _configure_espeak()
    from phonemizer.backend import EspeakBackend

    return ".".join(str(v) for v in EspeakBackend.version())


def espeak_library_path() -> str:
    """Path of the espeak-ng shared library phonemizer loads (the espeakng-loader wheel's)."""
    _configure_espeak()
    from phonemizer.backend import EspeakBackend

    return str(EspeakBackend.library())
