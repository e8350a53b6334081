"""The fragmented MP4 of a running streamed job, followed by HTTP readers (docs/server.md, "Streaming").

The job's video writer (live mode) hands every piece of the fragmented MP4 to
:meth:`LiveStream.write` in the worker thread; it goes to ``stream.mp4`` in the job's folder.
``GET /api/jobs/{id}/stream`` readers (:meth:`LiveStream.follow`, on the event loop) send the
file from its first byte and then whatever is added, until the job ends: when it is ``done``
they send the rest and end the response; when it is cancelled or fails they end it at once (the
file is deleted: a cancelled stream leaves nothing). The file is deleted when the job ends; a
reader that opened it before keeps reading its open descriptor to the end.

As a shell (docs/architecture.md, "Conventions"), this module imports no project module.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

__all__ = ["LiveStream"]

_POLL_S = 0.02  # how often a reader looks for new bytes (the writer adds a fragment every ~0.5 s of video)
_READ = 1 << 20  # most bytes sent at once


class LiveStream:
    """Append-only file + the state of the job that writes it (``None`` while it runs)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.unlink(missing_ok=True)  # a stale one from a server that stopped mid-job
        self._file = open(self.path, "xb")  # noqa: SIM115 - closed by end()
        self._lock = threading.Lock()
        self.size = 0  # bytes written and flushed (readers read up to here)
        self.state: str | None = None

    def write(self, data: bytes) -> None:
        """The writer's ``on_data`` (worker thread)."""
        with self._lock:
            if self.state is not None:
                return
            self._file.write(data)
            self._file.flush()
            self.size += len(data)

    def end(self, state: str) -> None:
        """The job ended (``done``, ``failed``, ``cancelled``): readers finish or stop; the file goes."""
        with self._lock:
            if self.state is not None:
                return
            self.state = state
            self._file.close()
            self.path.unlink(missing_ok=True)

    def open(self) -> int | None:
        """A descriptor for :meth:`follow`, or None when the job has ended (its file is gone)."""
        with self._lock:
            if self.state is not None:
                return None
            return os.open(self.path, os.O_RDONLY)

    async def follow(self, fd: int) -> AsyncIterator[bytes]:
        """The stream's bytes from the start, as they come; ends with the job (see module doc)."""
        offset = 0
        try:
            while True:
                size, state = self.size, self.state
                if state not in (None, "done"):
                    return
                if offset < size:
                    data = os.pread(fd, min(size - offset, _READ), offset)
                    if not data:  # cannot happen while the file is only appended to
                        return
                    offset += len(data)
                    yield data
                elif state == "done":
                    return
                else:
                    await asyncio.sleep(_POLL_S)
        finally:
            os.close(fd)
