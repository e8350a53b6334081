"""Paths the user names, checked before any work starts, and files written so that no reader
ever sees half of one.

- :func:`check_output_file` / :func:`check_output_dir`: every command that writes calls one of
  them on each output path *before any model loads*, so a bad path (a folder where a file is
  expected, a parent that is a file, a read-only or full disk, a name longer than the file
  system allows) costs one clear error line, not a traceback after minutes of synthesis.
- :func:`check_input_file`: the same length checks for paths that are read (a 300-byte name is
  "too long", not an ``OSError`` traceback).
- :class:`AtomicOutput`: the one way this project writes a file. Data goes to a new, uniquely
  named hidden file in the target folder, created exclusively (``O_CREAT | O_EXCL``, so a link
  planted there is never followed and nothing existing is ever truncated) and renamed over the
  target only when complete. On any exception (including the ``KeyboardInterrupt`` the CLI
  raises on SIGINT/SIGTERM) the temporary file and the folders it created are removed; the
  target is untouched. Only SIGKILL can leave a ``.NAME.*.partial`` behind.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from .errors import InputError, OutputPathError

__all__ = ["check_output_file", "check_output_dir", "check_input_file", "AtomicOutput",
           "MIN_FREE_BYTES"]

#: Refuse to start when the target disk has less free space than this (bytes).
MIN_FREE_BYTES = 4 << 20
_NAME_MAX = 255  # bytes per path component on Linux/macOS file systems (used when pathconf fails)
_PATH_MAX = 4096  # bytes per path (Linux PATH_MAX)


def _check_length(path: Path, what: str, error: type[InputError] = OutputPathError) -> None:
    """Raise ``error`` when ``path`` or one of its names is longer than the file system allows."""
    raw = os.fsencode(path)
    if len(raw) >= _PATH_MAX:
        raise error(f"{what}: expected a path shorter than {_PATH_MAX} bytes, got one of {len(raw)} bytes")
    for part in path.parts:
        n = len(os.fsencode(part))
        if n > _NAME_MAX:
            short = part[:24] + "..."
            raise error(f"{what}: expected file and folder names of at most {_NAME_MAX} bytes, "
                             f"got '{short}' ({n} bytes)")


def check_input_file(path: str | os.PathLike[str], what: str, error: type[InputError] = InputError) -> Path:
    """``path`` as a Path after length checks; raises ``error`` (one line) when it is too long,
    missing, a folder, or cannot be inspected (e.g. ``what="image file"``, ``error=ImageError``)."""
    p = Path(path)
    _check_length(p, what, error)
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{what} not found: {p}") from None
    except OSError as e:
        raise error(f"{what}: cannot open {p} ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{what}: expected a file, got a folder: {p}")
    return p


def _deepest_existing(path: Path, what: str) -> Path:
    """The nearest existing ancestor of ``path`` (a folder), or raise when one is a file."""
    for anc in [path, *path.parents]:
        try:
            st = anc.stat()
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            continue  # a file higher up; reported below when found
        except OSError as e:
            raise OutputPathError(f"{what}: cannot use {anc} ({e.strerror})") from None
        if not stat.S_ISDIR(st.st_mode):
            raise OutputPathError(f"{what}: {anc} is a file, expected a folder there (in {path})")
        return anc
    return Path.cwd()  # a relative path whose every parent is missing cannot happen; defensive


def _check_writable_folder(folder: Path, what: str) -> None:
    """Probe with a real, exclusively created file (removed at once): permission bits alone miss
    read-only mounts for root, and kernel file systems such as /sys and /proc."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".facespeak-write-test.")
    except OSError as e:
        raise OutputPathError(f"{what}: the folder {folder} is not writable ({e.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    try:
        fs = os.statvfs(folder)
    except OSError:
        return
    if fs.f_bavail * fs.f_frsize < MIN_FREE_BYTES:
        raise OutputPathError(f"{what}: no space left on the disk holding {folder} "
                              f"({fs.f_bavail * fs.f_frsize // 1024} KiB free)")


def check_output_file(path: str | os.PathLike[str], what: str = "--out", suffix: str | None = None) -> Path:
    """Check that a file can be written at ``path`` without creating anything -> ``Path``.

    An existing regular file (or a link to one) may be replaced; a folder, a device or a path
    whose parent is a file may not. Missing parent folders are fine (they are created when the
    file is written). ``suffix`` (e.g. ``".wav"``, case-insensitive) is enforced when given.
    """
    p = Path(os.fspath(path))
    if not os.fspath(path):
        raise OutputPathError(f"{what}: expected a file path, got an empty string")
    if suffix is not None and p.suffix.lower() != suffix:
        raise OutputPathError(f"{what}: expected a {suffix} path, got {p}")
    _check_length(p.absolute(), what)
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as e:
        raise OutputPathError(f"{what}: cannot use {p} ({e.strerror})") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputPathError(f"{what}: {p} is a folder, expected a file path (e.g. {p / ('out' + (suffix or ''))})")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputPathError(f"{what}: {p} exists and is not a regular file; expected a file path")
    _check_writable_folder(_deepest_existing(p.absolute().parent, what), what)
    return p


def check_output_dir(path: str | os.PathLike[str], what: str = "--out") -> Path:
    """Check that ``path`` is, or can become, a writable folder (nothing is created) -> ``Path``."""
    p = Path(os.fspath(path))
    if not os.fspath(path):
        raise OutputPathError(f"{what}: expected a folder path, got an empty string")
    _check_length(p.absolute(), what)
    _check_writable_folder(_deepest_existing(p.absolute(), what), what)
    return p


def _make_parents(folder: Path) -> list[Path]:
    """``mkdir -p folder`` -> the folders this call created, outermost first."""
    missing = []
    for anc in [folder, *folder.parents]:
        if anc.is_dir():
            break
        missing.append(anc)
    created = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to remove
        created.append(d)
    return created


def _write_error(path: Path, e: BaseException) -> OutputPathError:
    reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or type(e).__name__
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        reason = f"{reason}; free some space or choose another folder"
    return OutputPathError(f"could not write {path}: {reason}")


class AtomicOutput:
    """A new file that replaces ``path`` only once it is complete.

    Use as a context manager (``with AtomicOutput(p) as dst: dst.file.write(...)``: committed on
    a normal exit, discarded on an exception) or call :meth:`commit` / :meth:`discard` yourself.

    Attributes:
        path: the final path.
        tmp: the hidden temporary file beside it (``.NAME.<random>.partial``), created
            exclusively with mode 0600; writers that need a file name may write to it by name.
        file: ``tmp`` opened for binary read/write (``None`` after commit/discard).
    """

    def __init__(self, path: str | os.PathLike[str], suffix: str = ".partial") -> None:
        self.path = Path(path)
        self._created = _make_parents(self.path.parent)
        try:
            fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=suffix)
        except OSError as e:
            self._remove_created()
            raise _write_error(self.path, e) from None
        self.tmp = Path(name)
        self.file: BinaryIO | None = os.fdopen(fd, "w+b")
        self._done = False

    def commit(self) -> Path:
        """Flush, give the usual file mode (0666 & ~umask) and rename over ``path``."""
        if self._done:
            raise RuntimeError(f"{self.path}: already committed or discarded")
        try:
            assert self.file is not None
            self.file.flush()
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(self.file.fileno(), 0o666 & ~umask)
            self.file.close()
            self.file = None
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.discard()
            raise _write_error(self.path, e) from None
        self._done = True
        return self.path

    def discard(self) -> None:
        """Remove the temporary file and the folders this writer created (if still empty)."""
        if self._done:
            return
        self._done = True
        if self.file is not None:
            try:
                self.file.close()
            except OSError:
                pass  # a full disk can fail the final flush; the file goes anyway
            self.file = None
        self.tmp.unlink(missing_ok=True)
        self._remove_created()

    def _remove_created(self) -> None:
        for d in reversed(self._created):
            try:
                d.rmdir()
            except OSError:
                break  # not empty (someone else wrote there) or gone: leave it

    def write_error(self, e: BaseException) -> OutputPathError:
        """The one-line error for a failed write to this output (e.g. a full disk)."""
        return _write_error(self.path, e)

    def __enter__(self) -> AtomicOutput:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            if not self._done:
                self.commit()
        else:
            self.discard()
