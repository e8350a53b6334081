"""FastAPI application: the web page and a small REST API over :mod:`facespeak.pipeline`.

Endpoints (all errors are JSON ``{"error": "<one line>"}`` with a 4xx/5xx status):

- ``GET  /``                the web page (``static/index.html``)
- ``GET  /api/health``      ``{"status": "ok", "version": ..., "loaded": bool}``
- ``POST /api/faces``       multipart ``image`` -> faces found (index, box, size, pose, gender)
- ``POST /api/tts``         multipart ``image``, ``text`` [+ options] -> ``audio/wav``
- ``POST /api/say``         multipart ``image``, ``text`` [+ options, ``size``, ``still``, ``head_motion``] -> ``video/mp4``

Options (form fields): ``face_index``, ``seed``, ``steps``, ``temperature``, ``length_scale``, ``face_guidance``,
``voice_gender`` (auto | female | male), ``formant_shift`` (timbre in cents, -600..600; left out = chosen
from the face), ``condition`` (f_id | f). The models load once, on the first request that needs them (or at
start-up with ``preload``); synthesis requests run one at a time (a CPU box gains nothing from
running two at once, and memory stays bounded), others wait in line.
"""


import io
import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import FacespeakError, InputError

__all__ = ["ServerConfig", "create_app"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


@dataclass
class ServerConfig:
    """``max_upload_mb``: largest accepted portrait file; ``max_text_chars``: longest text (the
    CLI accepts more; a web request should finish in minutes, not hours)."""

    tts_weights: str | None = None
    vocoder: str = "fast"
    max_upload_mb: float = 20.0
    max_text_chars: int = 2000
    preload: bool = False
    threads: int | None = None


class _Engine:
    """The loaded pipeline plus the lock that serialises synthesis."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self._fs: Any = None
        self._load_lock = threading.Lock()
        self.run_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._fs is not None

    def get(self) -> Any:
        with self._load_lock:
            if self._fs is None:
                from ..pipeline import FaceSpeak

                log.info("loading models")
                self._fs = FaceSpeak.from_bundled(self.cfg.tts_weights, vocoder=self.cfg.vocoder, threads=self.cfg.threads)
            return self._fs


def _speech_options(seed: int, condition: str, **given: float | str | None):
    """Form fields -> SpeechOptions; a field left out (None) keeps the pipeline's default."""
    from ..pipeline import SpeechOptions

    opts = SpeechOptions.with_defaults(seed=seed, condition=condition, **given)
    opts.validate()
    return opts


def _read_upload(data: bytes, cfg: ServerConfig) -> bytes:
    if not data:
        raise InputError("image: expected an uploaded image file, got an empty upload")
    if len(data) > cfg.max_upload_mb * 1e6:
        raise InputError(f"image: expected at most {cfg.max_upload_mb:g} MB, got {len(data) / 1e6:.1f} MB")
    return data


def _check_text(text: str, cfg: ServerConfig) -> str:
    if len(text) > cfg.max_text_chars:
        raise InputError(f"text: this server accepts at most {cfg.max_text_chars} characters, got {len(text)}")
    return text


def _prepare(image: bytes, text: str, face_index: int | None, cfg: ServerConfig):
    """Validate everything that can fail fast (before the models load) -> Portrait."""
    from ..cli.cmd_tts import validate_inputs

    portrait, _ = validate_inputs(_read_upload(image, cfg), face_index, _check_text(text, cfg))
    return portrait


def _faces_json(image: bytes, cfg: ServerConfig) -> dict[str, Any]:
    from ..cli.cmd_faces import _describe
    from ..core.errors import NoFaceError
    from ..face.analysis import MIN_FACE_SIDE, analyse_faces
    from ..face.image_io import load_image

    rgb = load_image(_read_upload(image, cfg))
    faces = analyse_faces(rgb)
    if not faces:
        raise NoFaceError("no face found in the image; expected a photo with one clearly visible face")
    h, w = rgb.shape[:2]
    return {"width": w, "height": h, "default_index": 0,
            "faces": [_describe(rgb, i, f, True, MIN_FACE_SIDE) for i, f in enumerate(faces)]}


def _wav_bytes(wav: Any, sample_rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, wav, sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def create_app(cfg: ServerConfig | None = None) -> Any:
    """Build the FastAPI app (models load lazily unless ``cfg.preload``)."""
    from fastapi import FastAPI, File, Form, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response
    from starlette.background import BackgroundTask

    from .. import __version__

    cfg = cfg or ServerConfig()
    engine = _Engine(cfg)
    app = FastAPI(title="facespeak", version=__version__,
                  description="Portrait + text -> talking-face video with a voice that suits the face.")
    app.state.engine = engine
    if cfg.preload:
        engine.get()

    @app.exception_handler(FacespeakError)
    async def _user_error(_: Request, exc: FacespeakError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422 if isinstance(exc, InputError) else 500)

    @app.exception_handler(RequestValidationError)
    async def _bad_form(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}"}, status_code=422)

    @app.exception_handler(Exception)
    async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "loaded": engine.loaded}

    @app.post("/api/faces")
    def faces(image: UploadFile = File(...)) -> dict[str, Any]:
        return _faces_json(image.file.read(), cfg)

    @app.post("/api/tts")
    def tts(image: UploadFile = File(...), text: str = Form(...), face_index: int | None = Form(None),
            seed: int = Form(0), steps: int | None = Form(None), temperature: float | None = Form(None),
            length_scale: float | None = Form(None), condition: str = Form("f_id"),
            face_guidance: float | None = Form(None), voice_gender: str | None = Form(None),
            formant_shift: float | None = Form(None)) -> Response:
        opts = _speech_options(seed, condition, steps=steps, temperature=temperature, length_scale=length_scale,
                               face_guidance=face_guidance, voice_gender=voice_gender,
                               formant_shift=formant_shift)
        portrait = _prepare(image.file.read(), text, face_index, cfg)
        fs = engine.get()
        with engine.run_lock:
            res = fs.speak(portrait, text, opts)
        return Response(_wav_bytes(res.wav, res.sample_rate), media_type="audio/wav",
                        headers={"X-Face-Index": str(portrait.face_index), "X-Duration-S": f"{res.duration_s:.3f}"})

    @app.post("/api/say")
    def say_video(image: UploadFile = File(...), text: str = Form(...), face_index: int | None = Form(None),
                  seed: int = Form(0), steps: int | None = Form(None), temperature: float | None = Form(None),
                  length_scale: float | None = Form(None), condition: str = Form("f_id"),
                  face_guidance: float | None = Form(None), voice_gender: str | None = Form(None),
                  formant_shift: float | None = Form(None), size: str = Form("256"),
                  still: bool = Form(False), motion: str = Form("auto"), head_motion: float | None = Form(None),
                  allow_profile: bool = Form(False)) -> FileResponse:
        from ..face.analysis import check_animatable
        from ..pipeline import VideoOptions, say

        opts = _speech_options(seed, condition, steps=steps, temperature=temperature, length_scale=length_scale,
                               face_guidance=face_guidance, voice_gender=voice_gender,
                               formant_shift=formant_shift)
        video = VideoOptions(size=size, still=still, motion=motion)
        if head_motion is not None:
            video.head_motion = head_motion
        video.validate()
        portrait = _prepare(image.file.read(), text, face_index, cfg)
        check_animatable(portrait.face, portrait.face_index, portrait.name, allow_profile=allow_profile)
        fs = engine.get()
        tmp = Path(tempfile.mkdtemp(prefix="facespeak-serve-"))
        try:
            with engine.run_lock:
                res = say(fs, portrait, text, tmp / "facespeak.mp4", opts, video)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return FileResponse(res.path, media_type="video/mp4", filename="facespeak.mp4",
                            headers={"X-Face-Index": str(res.face_index), "X-Duration-S": f"{res.duration_s:.3f}"},
                            background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True))

    return app
