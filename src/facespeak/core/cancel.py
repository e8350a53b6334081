"""Cooperative cancellation: a flag a long run checks between its steps.

The server sets it when a client disconnects (docs/server.md); the pipeline checks it between
text chunks, between the decoder's ODE steps, before the vocoder and between video frames, so
a cancelled run stops within one step (well under a second on a 2-core CPU).
"""

from __future__ import annotations

import threading

from .errors import Cancelled

__all__ = ["CancelToken", "check_cancel"]


class CancelToken:
    """A thread-safe, one-way flag: ``cancel()`` from any thread, ``check()`` in the worker."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = "cancelled"

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`~facespeak.core.errors.Cancelled` once ``cancel()`` was called."""
        if self._event.is_set():
            raise Cancelled(self.reason)


def check_cancel(token: CancelToken | None) -> None:
    """``token.check()`` where a token was given (``None``: nothing to check)."""
    if token is not None:
        token.check()
