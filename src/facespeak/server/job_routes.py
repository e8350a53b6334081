"""The jobs endpoints (docs/server.md): submit, poll, fetch the result, cancel.

- ``POST   /api/jobs``              the fields of ``/api/say`` plus ``kind`` (video | audio) -> 202
- ``GET    /api/jobs/{id}``         ``{"id", "kind", "state", "progress": {"stage", "fraction",
                                    "eta_s"}, "error", "created", "started", "finished", ...}``
- ``GET    /api/jobs/{id}/result``  the mp4 / wav (409 until the job is done, and once expired)
- ``GET    /api/jobs/{id}/captions`` its ``captions`` (srt | vtt) when submitted with that field
- ``DELETE /api/jobs/{id}``         cancel a queued or running job (answers once it stopped);
                                    delete an ended one and its result

Submission does the cheap checks of ``/api/say`` first (options, text length and estimated
speech seconds, the image and its face: each a 422 at once), then takes a place in the worker's
queue (429 when full). Status and cancellation run on the event loop and never wait for
synthesis.
"""


from typing import Any

from .app import _check_text, _portrait, _Service
from .caption_routes import check_captions_field
from .jobs import KINDS, job_params
from .option_fields import options_form

__all__ = ["install_job_routes"]


def install_job_routes(app: Any, service: _Service) -> None:
    from fastapi import Depends, File, Form, UploadFile
    from fastapi.responses import FileResponse, JSONResponse

    from ..core.errors import InputError
    from ..face.analysis import check_animatable

    jobs = service.jobs

    @app.post("/api/jobs", status_code=202)
    async def submit_job(image: UploadFile = File(...), text: str = Form(...), kind: str = Form("video"),
                         face_index: int | None = Form(None), allow_profile: bool = Form(False),
                         captions: str | None = Form(None),
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

    @app.get("/api/jobs/{job_id}")
    async def job_status(job_id: str) -> dict[str, Any]:
        return jobs.status(job_id)

    @app.get("/api/jobs/{job_id}/result")
    async def job_result(job_id: str) -> FileResponse:
        path, media_type, rec = jobs.result(job_id)
        return FileResponse(path, media_type=media_type, filename=f"facespeak-{rec.id}{path.suffix}",
                            headers={"X-Face-Index": str(rec.face_index), "X-Duration-S": f"{rec.duration_s:.3f}"})

    @app.delete("/api/jobs/{job_id}")
    async def cancel_job(job_id: str) -> dict[str, Any]:
        return await jobs.cancel(job_id)
