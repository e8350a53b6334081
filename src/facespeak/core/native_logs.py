"""Silence C++ libraries (MediaPipe/TFLite/absl) that write straight to file descriptor 2.

Their start-up chatter ("INFO: Created TensorFlow Lite XNNPACK delegate", "W0000 ...
feedback manager ...") cannot be turned off with environment variables once they are loaded,
so the first calls run with fd 2 pointed at /dev/null. Python-level logging is untouched
(it is re-routed only for the duration). Set FACESPEAK_NATIVE_LOGS=1 to see them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

__all__ = ["quiet_native_stderr"]

_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    if os.environ.get("FACESPEAK_NATIVE_LOGS"):
        yield
        return
    with _LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no real fd 2 (e.g. some embedded interpreters)
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
