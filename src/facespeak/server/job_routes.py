"""The jobs endpoints (docs/server.md): submit, poll, fetch the result, cancel.

- ``POST   /api/jobs``              the fields of ``/api/say`` plus ``kind`` (video | audio) -> 202
- ``GET    /api/jobs/{id}``         ``{"id", "kind", "state", "progress": {"stage", "fraction",
                                    "eta_s"}, "error", "created", "started", "finished", ...}``
- ``GET    /api/jobs/{id}/result``  the mp4 / wav (409 until the job is done, and once expired)
- ``GET    /api/jobs/{id}/captions`` its ``captions`` (srt | vtt) when submitted with that field
- ``GET    /api/jobs/{id}/stream``  a ``stream=true`` video job's fragmented MP4 while it is made
                                    (chunked; ends with the job; 409 for other jobs)
- ``DELETE /api/jobs/{id}``         cancel a queued or running job (answers once it stopped);
                                    delete an ended one and its result

Submission does the cheap checks of ``/api/say`` first (options, text length and estimated
speech seconds, the image and its face: each a 422 at once), then takes a place in the worker's
queue (429 when full). Status and cancellation run on the event loop and never wait for
synthesis.

Project modules are imported at the top (docs/architecture.md, "Conventions"), except face
analysis (it loads cv2 and PIL), marked ``# lazy:``.
"""


from typing import Any

from ..core.errors import InputError
from .app import _check_text, _portrait, _Service, media_response, request_field_schemas
from .caption_routes import check_captions_field
from .job_store import STATES, valid_job_id
from .jobs import KINDS, JobNotFound, job_params
from .option_fields import options_form

__all__ = ["install_job_routes", "known_id"]


def known_id(value: str, what: str = "job") -> str:
    """``value`` if it has the form of an id (32 lowercase hex digits); 404 naming the form
    otherwise (the value is not echoed: it may hold anything a client put in a path)."""
    if not valid_job_id(value):
        raise JobNotFound(f"no such {what}: an id is 32 lowercase hex digits, got a {len(value)}-character "
                          "string that is not one")
    return value


def _status_models() -> tuple[type, type]:
    """The OpenAPI declaration of a job's status (documentation only: the test that fuzzes the
    API checks the answers against it)."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field

    class Progress(BaseModel):
        model_config = ConfigDict(extra="forbid")
        stage: str
        fraction: float = Field(ge=0, le=1, description="of the whole job")
        eta_s: float | None = Field(ge=0, description="seconds left; null while unknown")

    class JobStatus(BaseModel):
        model_config = ConfigDict(extra="forbid")
        id: str
        kind: Literal[KINDS]  # type: ignore[valid-type]
        state: Literal[STATES]  # type: ignore[valid-type]
        progress: Progress
        error: str | None
        created: str
        started: str | None
        finished: str | None
        # present only while queued / once done / when submitted with captions (absent otherwise)
        queue_position: int = Field(None, ge=0, description="jobs ahead")  # type: ignore[assignment]
        result_url: str = None  # type: ignore[assignment]
        expires: str = None  # type: ignore[assignment]
        duration_s: float = None  # type: ignore[assignment]
        face_index: int = None  # type: ignore[assignment]
        captions_url: str = None  # type: ignore[assignment]
        stream_url: str = None  # type: ignore[assignment]

    class Deleted(BaseModel):
        model_config = ConfigDict(extra="forbid")
        id: str
        deleted: Literal[True]

    return JobStatus, Deleted


def install_job_routes(app: Any, service: _Service) -> None:
    from fastapi import Depends, File, Form, UploadFile
    from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

    # lazy: face analysis loads cv2 and PIL; only a submitted job needs it
    from ..face.analysis import check_animatable

    jobs = service.jobs
    status_model, deleted_model = _status_models()
    text_schema, face_schema, captions_schema = request_field_schemas(service.cfg)

    @app.post("/api/jobs", status_code=202, response_model=None,
              responses={202: {"model": status_model, "description": "queued; the job's status"}})
    async def submit_job(image: UploadFile = File(...), text: str = Form(..., json_schema_extra=text_schema),
                         kind: str = Form("video", json_schema_extra={"enum": list(KINDS)}),
                         face_index: int | None = Form(None, json_schema_extra=face_schema),
                         allow_profile: bool = Form(False),
                         captions: str | None = Form(None, json_schema_extra=captions_schema),
                         options: tuple = Depends(options_form("say"))) -> JSONResponse:
        if kind not in KINDS:
            raise InputError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        opts, video = options
        fmt = check_captions_field(captions)
        data = await service.upload(image)
        speech_s = await service.off_loop(_check_text, text, opts, service.cfg)
        place = service.worker.reserve()  # QueueFull -> 429

        def prepare() -> Any:
            portrait = _portrait(data, face_index)
            if kind == "video":
                check_animatable(portrait.face, portrait.face_index, portrait.name, allow_profile=allow_profile)
            params = job_params(text, face_index, opts, video if kind == "video" else None, allow_profile, speech_s)
            params["captions"] = fmt
            return jobs.submit(place, kind, params, data, portrait)

        try:
            doc = await service.off_loop(prepare)
        except BaseException:
            place.release()
            raise
        return JSONResponse(doc, status_code=202, headers={"Location": f"/api/jobs/{doc['id']}"})

    @app.get("/api/jobs/{job_id}", response_model=None, responses={200: {"model": status_model}})
    async def job_status(job_id: str) -> dict[str, Any]:
        return jobs.status(known_id(job_id))

    @app.get("/api/jobs/{job_id}/result", response_class=FileResponse,
             responses=media_response("the job's video or speech", "video/mp4", "audio/wav"))
    async def job_result(job_id: str) -> FileResponse:
        path, media_type, rec = jobs.result(known_id(job_id))
        return FileResponse(path, media_type=media_type, filename=f"facespeak-{rec.id}{path.suffix}",
                            headers={"X-Face-Index": str(rec.face_index), "X-Duration-S": f"{rec.duration_s:.3f}"})

    @app.get("/api/jobs/{job_id}/stream", response_class=StreamingResponse,
             responses=media_response("the video as a fragmented MP4 while the job makes it (chunked; ends with the job)",
                                      "video/mp4"))
    async def job_stream(job_id: str) -> StreamingResponse:
        body = jobs.stream(known_id(job_id))
        return StreamingResponse(body, media_type="video/mp4", headers={"Cache-Control": "no-store"})

    @app.delete("/api/jobs/{job_id}", response_model=None,
                responses={200: {"model": status_model | deleted_model,
                                 "description": "the stopped job's status, or: the ended job was deleted"}})
    async def cancel_job(job_id: str) -> dict[str, Any]:
        return await jobs.cancel(known_id(job_id))
