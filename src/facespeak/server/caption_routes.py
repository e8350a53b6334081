"""Captions over REST (docs/server.md, "Captions").

``/api/say``, ``/api/tts`` and ``POST /api/jobs`` take a form field ``captions`` (``srt`` |
``vtt``). The synchronous endpoints still answer with the media file; the captions made with it
are kept in memory for :data:`KEEP_S` and named by the ``X-Captions-URL`` header
(``/api/captions/{id}``, 128 random bits; at most :data:`MAX_HELD` are kept, oldest dropped).
A job writes ``captions.srt|vtt`` beside its result (``GET /api/jobs/{id}/captions``).

Project modules are imported at the top (docs/architecture.md, "Conventions"), except, marked
``# lazy:``, the pipeline (it loads cv2, scipy and numba) and :mod:`.app` / :mod:`.job_routes`
(they import this module).
"""


import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from ..core.errors import InputError
from ..text.captions import CAPTION_FORMATS, CAPTION_MEDIA_TYPES, render_captions
from .jobs import JobNotFound

__all__ = ["CaptionStore", "check_captions_field", "captions_text", "install_caption_routes", "KEEP_S", "MAX_HELD"]

KEEP_S = 600.0
MAX_HELD = 64


def check_captions_field(value: str | None) -> str | None:
    """The ``captions`` form field: None (left out), "srt" or "vtt"; anything else is a 422."""
    if value is None or value == "":
        return None
    if value not in CAPTION_FORMATS:
        raise InputError(f"captions: expected one of {', '.join(CAPTION_FORMATS)}, got {value!r}")
    return value


def captions_text(fs: Any, text: str, chunks: list[Any], opts: Any, fmt: str) -> str:
    """The captions file's text for ``text`` spoken as ``chunks`` (the pipeline's timeline)."""
    # lazy: the pipeline loads cv2, scipy and numba (about 0.6 s); only synthesis requests need it
    from ..pipeline import speech_captions

    return render_captions(speech_captions(fs, text, chunks, opts), fmt)


class CaptionStore:
    """Captions of synchronous requests, held briefly in memory for the client to fetch."""

    def __init__(self, keep_s: float = KEEP_S, max_held: int = MAX_HELD) -> None:
        self.keep_s, self.max_held = keep_s, max_held
        self._items: OrderedDict[str, tuple[float, str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, text: str, fmt: str) -> str:
        """Keep ``text`` -> its URL path."""
        key = secrets.token_hex(16)
        now = time.monotonic()
        with self._lock:
            self._items[key] = (now + self.keep_s, text, fmt)
            while len(self._items) > self.max_held or (self._items and next(iter(self._items.values()))[0] < now):
                self._items.popitem(last=False)
        return f"/api/captions/{key}"

    def get(self, key: str) -> tuple[str, str] | None:
        """-> (text, format), or None (unknown, expired or dropped)."""
        with self._lock:
            item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1], item[2]


def install_caption_routes(app: Any, store: CaptionStore, jobs: Any) -> None:
    from fastapi.responses import Response

    # lazy: import cycle: app and job_routes import this module at their top
    from .app import media_response
    from .job_routes import known_id

    captions_200 = media_response("the captions (UTF-8)", *CAPTION_MEDIA_TYPES.values())

    @app.get("/api/captions/{key}", response_class=Response, responses=captions_200)
    async def held_captions(key: str) -> Response:
        item = store.get(known_id(key, "captions"))
        if item is None:
            raise JobNotFound(f"captions {key}: none held under this id (they are kept {KEEP_S / 60:g} minutes)")
        return Response(item[0], media_type=f"{CAPTION_MEDIA_TYPES[item[1]]}; charset=utf-8")

    @app.get("/api/jobs/{job_id}/captions", response_class=Response, responses=captions_200)
    async def job_captions(job_id: str) -> Response:
        path, fmt = jobs.captions(known_id(job_id))
        return Response(path.read_bytes(), media_type=f"{CAPTION_MEDIA_TYPES[fmt]}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="facespeak-{job_id}.{fmt}"'})
