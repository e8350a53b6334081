"""FastAPI application: the web page and a small REST API over :mod:`facespeak.pipeline`.

Endpoints (all errors are JSON ``{"error": "<one line>"}`` with a 4xx/5xx status):

- ``GET  /``                the web page (``static/index.html``)
- ``GET  /api/health``      ``{"status": "ok", "version": ..., "loaded": bool, "queued": int}``
- ``POST /api/faces``       multipart ``image`` -> faces found (index, box, size, pose, gender)
- ``POST /api/tts``         multipart ``image``, ``text`` [+ options] -> ``audio/wav``
- ``POST /api/say``         multipart ``image``, ``text`` [+ speech and video options] -> ``video/mp4``
- ``POST /api/jobs``        as ``/api/say`` plus ``kind`` (video | audio) -> 202 + job id (:mod:`.job_routes`)
- ``GET  /api/jobs/{id}``   state and progress; ``GET .../result``: the file; ``DELETE``: cancel
- ``GET  /api/captions/{id}`` captions of a synchronous request (``captions`` field; :mod:`.caption_routes`)
- ``GET  /openapi.json``    the schema (no interactive docs: they would load scripts from a CDN)

Form fields: ``face_index``, ``captions`` and, generated from :data:`facespeak.options.OPTIONS` (the
CLI's flags come from the same table; :mod:`.option_fields`), one field per option the endpoint's
command takes, named as the dataclass field: the speech options (``seed``, ``steps``, ``temperature``,
``length_scale``, ``condition``, ``pause_s``, ``gender_guidance``, ``face_guidance``, ``voice_gender``,
``formant_shift``) on all three; the video options (``size``, ``still``, ``motion``, ``head_motion``,
``silence_gate``, ``tfg``) on ``/api/say`` and ``/api/jobs``. Left out = the dataclass default.

Request path: guards (Host/Origin, body size: :mod:`.guards`) -> form parsed -> cheap checks on
the event loop or in a small thread pool (text length, estimated speech seconds, image and face)
-> a place in the synthesis worker's bounded queue (:mod:`.worker`; 429 when full) -> the job
runs in the worker thread while the request watches for its client leaving (then the job is
cancelled). Health never waits for a thread.

Project modules are imported at the top (docs/architecture.md, "Conventions"), except, marked
``# lazy:``, face analysis and the pipeline (they load cv2, scipy and numba, which the server needs
only once a request comes) and :mod:`.job_routes` (it imports this module).
"""


import asyncio
import contextlib
import io
import logging
import math
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.cache import cache_root
from ..core.cancel import CancelToken
from ..core.errors import FacespeakError, InputError, NoFaceError
from ..options import VOCODER_NAMES
from ..text import TextConfig, TextFrontend
from ..text.captions import CAPTION_FORMATS
from .caption_routes import CaptionStore, captions_text, check_captions_field, install_caption_routes
from .guards import BodyLimit, OriginGuard, TokenAuth
from .jobs import JobManager, JobNotDone, JobNotFound
from .option_fields import options_form
from .worker import QueueFull, SynthesisWorker

__all__ = ["ServerConfig", "create_app", "error_responses", "media_response", "one_line",
           "request_field_schemas"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
FORM_MARGIN_BYTES = 1_000_000  # text and option fields plus multipart framing, on top of the image
# image decoding and face analysis run beside the worker (they make quick 422s); two at a time
# keeps a burst of uploads from starving the synthesis on a 2-core box
ANALYSIS_THREADS = 2
MAX_TTL_S = 365 * 24 * 3600.0
MIN_TOKEN_CHARS = 8


@dataclass
class ServerConfig:
    """Limits and options of ``facespeak serve`` (one field per flag, docs/server.md).

    ``max_upload_mb``: largest portrait file; ``max_text_chars``: longest text (the CLI accepts
    more); ``max_speech_s``: most seconds of speech one request may make (estimated from the
    normalised text before synthesis); ``max_queue``: requests that may wait behind the running
    synthesis (more: 429); ``allowed_hosts`` / ``allowed_origins``: besides loopback names and
    the page's own origin ("*": any)."""

    tts_weights: str | None = None
    vocoder: str | None = None  # None: DEFAULT_VOCODER, or the bundle's own with ``bundle``
    bundle: str | None = None  # a model bundle directory instead of the bundled models
    max_upload_mb: float = 20.0
    max_text_chars: int = 2000
    max_speech_s: float = 60.0
    max_queue: int = 8
    preload: bool = False
    threads: int | None = None
    allowed_hosts: list[str] = field(default_factory=list)
    allowed_origins: list[str] = field(default_factory=list)
    # jobs (docs/server.md): where they persist (None: <cache>/server), how long results live,
    # and the bearer token every /api/ endpoint but health then needs (None: no auth)
    data_dir: str | None = None
    result_ttl_s: float = 24 * 3600.0
    token: str | None = None

    def validate(self) -> None:
        most_chars = TextConfig().max_text_chars
        if self.threads is not None and not 1 <= self.threads <= 256:
            raise InputError(f"--threads: expected a whole number 1..256, got {self.threads}")
        if not (math.isfinite(self.max_upload_mb) and 0 < self.max_upload_mb <= 1000):
            raise InputError(f"--max-upload-mb: expected a number of MB in (0, 1000], got {self.max_upload_mb}")
        if not 1 <= self.max_text_chars <= most_chars:
            raise InputError(f"--max-text-chars: expected 1..{most_chars}, got {self.max_text_chars}")
        if not (math.isfinite(self.max_speech_s) and 0 < self.max_speech_s <= 3600):
            raise InputError(f"--max-speech-seconds: expected a number of seconds in (0, 3600], got {self.max_speech_s}")
        if not 0 <= self.max_queue <= 1000:
            raise InputError(f"--max-queue: expected 0..1000, got {self.max_queue}")
        if self.vocoder is not None and self.vocoder not in VOCODER_NAMES:
            raise InputError(f"--vocoder: expected one of {', '.join(VOCODER_NAMES)}, got {self.vocoder!r}")
        if self.bundle is not None and not Path(self.bundle).is_dir():
            raise InputError(f"--bundle: expected a model bundle directory, got {self.bundle!r}")
        if not (math.isfinite(self.result_ttl_s) and 0 < self.result_ttl_s <= MAX_TTL_S):
            raise InputError(f"--result-ttl: expected a time in (0 s, 365 d], got {self.result_ttl_s} s")
        if self.token is not None and not (MIN_TOKEN_CHARS <= len(self.token) <= 1024
                                           and all("!" <= c <= "~" for c in self.token)):
            raise InputError(f"--token / FACESPEAK_TOKEN: expected {MIN_TOKEN_CHARS}..1024 printable ASCII "
                             f"characters without spaces, got {len(self.token)} characters"
                             + ("" if all("!" <= c <= "~" for c in self.token) else " with others among them"))

    def jobs_dir(self) -> Path:
        return Path(self.data_dir) if self.data_dir else cache_root() / "server"


class _Engine:
    """The pipeline, loaded once (lazily, in the worker thread unless ``preload``)."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self._fs: Any = None
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._fs is not None

    def get(self) -> Any:
        with self._load_lock:
            if self._fs is None:
                # lazy: the pipeline loads cv2, scipy and numba (about 0.6 s); only synthesis requests need it
                from ..pipeline import FaceSpeak

                log.info("loading models")
                self._fs = FaceSpeak.from_bundled(self.cfg.tts_weights, vocoder=self.cfg.vocoder, threads=self.cfg.threads,
                                                  bundle=self.cfg.bundle)
            return self._fs


class UploadTooLarge(InputError):
    """The image is over ``--max-upload-mb`` (HTTP 413)."""


class _ClientGone(Exception):
    """The client disconnected while its job waited or ran; the job was cancelled."""


def _check_upload(data: bytes, cfg: ServerConfig) -> bytes:
    if not data:
        raise InputError("image: expected an uploaded image file, got an empty upload")
    if len(data) > cfg.max_upload_mb * 1e6:
        raise UploadTooLarge(f"image: expected at most {cfg.max_upload_mb:g} MB, got {len(data) / 1e6:.1f} MB")
    return data


def _check_text(text: str, opts: Any, cfg: ServerConfig) -> float:
    """Characters first (cheap), then the speech the text will make (digits and symbols
    expanded) -> the estimated seconds of speech."""
    # lazy: the pipeline loads cv2, scipy and numba (about 0.6 s); only synthesis requests need it
    from ..pipeline import estimate_speech_s

    if len(text) > cfg.max_text_chars:
        raise InputError(f"text: this server accepts at most {cfg.max_text_chars} characters, got {len(text)}")
    seconds = estimate_speech_s(TextFrontend(TextConfig()), text, opts)  # TextError for empty/unspeakable
    if seconds > cfg.max_speech_s:
        raise InputError(f"text: this server makes at most {cfg.max_speech_s:g} s of speech per request, this text "
                         f"would take about {seconds:.0f} s (numbers and symbols are spoken as words); "
                         "split it into several requests")
    return seconds


def _portrait(image: bytes, face_index: int | None):
    # lazy: face analysis loads cv2 and PIL; only a request with an image needs it
    from ..face.analysis import load_portrait

    return load_portrait(image, face_index)


def _faces_json(image: bytes) -> dict[str, Any]:
    # lazy: face analysis and image decoding load cv2 and PIL; only a request with an image needs them
    from ..face.analysis import analyse_faces
    from ..face.describe import describe_faces
    from ..face.image_io import load_image

    rgb = load_image(image)
    faces = analyse_faces(rgb)
    if not faces:
        raise NoFaceError("no face found in the image; expected a photo with one clearly visible face")
    return describe_faces(rgb, faces)


def _wav_bytes(wav: Any, sample_rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, wav, sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class _Service:
    """What the endpoints share: config, models, the worker and the analysis threads."""

    def __init__(self, cfg: ServerConfig) -> None:
        import anyio

        self.cfg = cfg
        self.engine = _Engine(cfg)
        self.worker = SynthesisWorker(cfg.max_queue)
        self.analysis = anyio.CapacityLimiter(ANALYSIS_THREADS)
        # opened now (a data folder another server holds is one error line before serving);
        # started, i.e. queued jobs taken back, when the server starts (lifespan)
        self.jobs = JobManager(cfg.jobs_dir(), self.worker, self.engine, cfg.result_ttl_s)
        self.captions = CaptionStore()

    def caption_headers(self, fs: Any, text: str, chunks: list[Any], opts: Any, fmt: str | None) -> dict[str, str]:
        """``X-Captions-URL`` of this request's captions (kept briefly), when it asked for them."""
        if fmt is None:
            return {}
        return {"X-Captions-URL": self.captions.put(captions_text(fs, text, chunks, opts, fmt), fmt)}

    async def off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        import anyio

        return await anyio.to_thread.run_sync(fn, *args, limiter=self.analysis)

    async def upload(self, image: Any) -> bytes:
        return _check_upload(await image.read(), self.cfg)

    async def synthesise(self, request: Any, text: str, opts: Any, prepare: Callable[[], Any],
                         work: Callable[[Any, Any, CancelToken], Any]) -> Any:
        """Check the text, take a place in the queue, ``prepare()`` (image, face) beside the
        worker, then ``work(fs, prepared, cancel)`` in the worker; cancelled if the client leaves."""
        await self.off_loop(_check_text, text, opts, self.cfg)
        place = self.worker.reserve()  # QueueFull -> 429
        try:
            prepared = await self.off_loop(prepare)
        except BaseException:
            place.release()
            raise
        job = self.worker.submit(place, lambda cancel: work(self.engine.get(), prepared, cancel))
        return await self._wait(request, job)

    @staticmethod
    async def _wait(request: Any, job: Any) -> Any:
        result = asyncio.wrap_future(job.future)
        try:
            while True:
                done, _ = await asyncio.wait({result}, timeout=0.1)
                if done:
                    return result.result()
                if await request.is_disconnected():
                    job.cancel.cancel("client disconnected")
                    result.cancel()  # nobody will read its outcome
                    raise _ClientGone
        except asyncio.CancelledError:
            job.cancel.cancel("request cancelled")
            result.cancel()
            raise


def error_responses() -> dict[str | int, Any]:
    """The OpenAPI declaration of the one error format, for every 4xx and 5xx of every route
    (it replaces FastAPI's ``{"detail": [...]}`` 422, which this server never sends)."""
    from pydantic import BaseModel, ConfigDict

    class Error(BaseModel):
        """One line naming what was expected and what arrived."""

        model_config = ConfigDict(extra="forbid")
        error: str

    return {"4XX": {"model": Error, "description": "bad request (docs/server.md, API)"},
            "5XX": {"model": Error, "description": "internal fault"}}


def request_field_schemas(cfg: ServerConfig) -> tuple[dict[str, Any], ...]:
    """What the schema says of the ``text``, ``face_index`` and ``captions`` form fields (the
    endpoints check them, with the same one-line errors as the CLI)."""
    return {"minLength": 1, "maxLength": cfg.max_text_chars}, {"minimum": 0}, {"enum": list(CAPTION_FORMATS)}


def media_response(description: str, *media_types: str) -> dict[int, Any]:
    """The OpenAPI declaration of a 200 whose body is a file of one of ``media_types``."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": description, "content": {t: binary for t in media_types}}}


def one_line(message: str) -> str:
    """``message`` as one printable line: whitespace runs (newlines included) become one space,
    other control characters their escapes (an error may quote what the client sent)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(message.split()))


def _error(message: str, status: int, headers: Any = None) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


def _install_error_handlers(app: Any) -> None:
    """One error format for every status: ``{"error": "<one line>"}``."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @app.exception_handler(FacespeakError)
    async def _user_error(_: Request, exc: FacespeakError) -> JSONResponse:
        status = 413 if isinstance(exc, UploadTooLarge) else 422 if isinstance(exc, InputError) else 500
        return _error(str(exc), status)

    @app.exception_handler(QueueFull)
    async def _busy(_: Request, exc: QueueFull) -> JSONResponse:
        return _error(str(exc), 429, {"Retry-After": "10"})

    @app.exception_handler(JobNotFound)
    async def _no_job(_: Request, exc: JobNotFound) -> JSONResponse:
        return _error(str(exc), 404)

    @app.exception_handler(JobNotDone)
    async def _not_done(_: Request, exc: JobNotDone) -> JSONResponse:
        return _error(str(exc), 409)

    @app.exception_handler(_ClientGone)
    async def _gone(request: Request, _: _ClientGone) -> JSONResponse:
        log.info("%s: client disconnected, synthesis cancelled", request.url.path)
        return _error("client disconnected; synthesis cancelled", 499)

    @app.exception_handler(RequestValidationError)
    async def _bad_form(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ())[1:]) or "request"
        return _error(f"{where}: {first.get('msg', 'invalid request')}", 422)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        where = f"{request.method} {request.url.path}"
        if exc.status_code == 404:
            message = f"{where}: no such endpoint (see /openapi.json)"
        elif exc.status_code == 405:
            message = f"{where}: method not allowed (allowed: {(exc.headers or {}).get('Allow', '?')})"
        else:
            message = f"{where}: {' '.join(str(exc.detail).split())}"
        return _error(message, exc.status_code, exc.headers)

    @app.exception_handler(Exception)
    async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return _error(f"internal error: {type(exc).__name__}", 500)


def create_app(cfg: ServerConfig | None = None) -> Any:
    """Build the FastAPI app (models load lazily unless ``cfg.preload``)."""
    from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
    from fastapi.responses import FileResponse, HTMLResponse, Response
    from starlette.background import BackgroundTask

    cfg = cfg or ServerConfig()
    cfg.validate()
    service = _Service(cfg)
    engine = service.engine

    @contextlib.asynccontextmanager
    async def lifespan(_: Any):
        service.jobs.start()
        yield
        await service.jobs.stop()  # the running job goes back to the queue
        service.worker.close()

    # no interactive docs: FastAPI's /docs and /redoc load their scripts from public CDNs
    app = FastAPI(title="facespeak", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  responses=error_responses(),
                  description="Portrait + text -> talking-face video with a voice that suits the face "
                              "(docs/server.md).")
    app.state.engine, app.state.worker, app.state.jobs = engine, service.worker, service.jobs
    # outermost last: Origin/Host, then the token, then the body limit, all before any body is read
    app.add_middleware(BodyLimit, max_bytes=int(cfg.max_upload_mb * 1e6) + FORM_MARGIN_BYTES,
                       expected=f"an image of at most {cfg.max_upload_mb:g} MB (--max-upload-mb) and the form fields")
    if cfg.token is not None:
        app.add_middleware(TokenAuth, token=cfg.token)
    app.add_middleware(OriginGuard, allowed_hosts=cfg.allowed_hosts, allowed_origins=cfg.allowed_origins)
    _install_error_handlers(app)
    if cfg.preload:
        engine.get()
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    text_schema, face_schema, captions_schema = request_field_schemas(cfg)

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "loaded": engine.loaded, "queued": service.worker.taken}

    @app.post("/api/faces")
    async def faces(image: UploadFile = File(...)) -> dict[str, Any]:
        return await service.off_loop(_faces_json, await service.upload(image))

    @app.post("/api/tts", response_class=Response, responses=media_response("the speech", "audio/wav"))
    async def tts(request: Request, image: UploadFile = File(...), text: str = Form(..., json_schema_extra=text_schema),
                  face_index: int | None = Form(None, json_schema_extra=face_schema),
                  captions: str | None = Form(None, json_schema_extra=captions_schema),
                  options: tuple = Depends(options_form("tts"))) -> Response:
        opts, _ = options
        fmt = check_captions_field(captions)
        data = await service.upload(image)

        def work(fs: Any, portrait: Any, cancel: CancelToken) -> Any:
            res = fs.speak(portrait, text, opts, cancel=cancel)
            return res, service.caption_headers(fs, text, res.chunks, opts, fmt)

        res, extra = await service.synthesise(request, text, opts, lambda: _portrait(data, face_index), work)
        return Response(_wav_bytes(res.wav, res.sample_rate), media_type="audio/wav",
                        headers={"X-Face-Index": str(res.portrait.face_index), "X-Duration-S": f"{res.duration_s:.3f}",
                                 **extra})

    @app.post("/api/say", response_class=Response, responses=media_response("the video", "video/mp4"))
    async def say_video(request: Request, image: UploadFile = File(...),
                        text: str = Form(..., json_schema_extra=text_schema),
                        face_index: int | None = Form(None, json_schema_extra=face_schema),
                        allow_profile: bool = Form(False),
                        captions: str | None = Form(None, json_schema_extra=captions_schema),
                        options: tuple = Depends(options_form("say"))) -> FileResponse:
        # lazy: face analysis loads cv2 and PIL; only a request with an image needs it
        from ..face.analysis import check_animatable

        opts, video = options
        fmt = check_captions_field(captions)
        data = await service.upload(image)

        def prepare() -> Any:
            portrait = _portrait(data, face_index)
            check_animatable(portrait.face, portrait.face_index, portrait.name, allow_profile=allow_profile)
            return portrait

        def work(fs: Any, portrait: Any, cancel: CancelToken) -> Any:
            res = _say_to_temp(fs, portrait, text, opts, video, cancel)
            return res, service.caption_headers(fs, text, res.chunks, opts, fmt)

        res, extra = await service.synthesise(request, text, opts, prepare, work)
        return FileResponse(res.path, media_type="video/mp4", filename="facespeak.mp4",
                            headers={"X-Face-Index": str(res.face_index), "X-Duration-S": f"{res.duration_s:.3f}",
                                     **extra},
                            background=BackgroundTask(shutil.rmtree, res.path.parent, ignore_errors=True))

    # lazy: import cycle: job_routes imports this module at its top
    from .job_routes import install_job_routes

    install_job_routes(app, service)
    install_caption_routes(app, service.captions, service.jobs)
    return app


def _say_to_temp(fs: Any, portrait: Any, text: str, opts: Any, video: Any, cancel: CancelToken) -> Any:
    """``pipeline.say`` into its own temporary folder (removed here on failure or cancellation,
    by the response once sent otherwise)."""
    # lazy: the pipeline loads cv2, scipy and numba (about 0.6 s); only synthesis requests need it
    from ..pipeline import say

    tmp = Path(tempfile.mkdtemp(prefix="facespeak-serve-"))
    try:
        return say(fs, portrait, text, tmp / "facespeak.mp4", opts, video, cancel=cancel,
                   keep_chunks=False)  # SpokenChunks (text + timeline): enough for captions, no audio kept
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
