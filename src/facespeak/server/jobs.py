"""Jobs: a synthesis the client submits, then polls, fetches and may cancel (docs/server.md).

A job takes a place in the same bounded worker as ``/api/say`` (:mod:`.worker`; 429 when the
queue is full), runs there with a :class:`~facespeak.core.cancel.CancelToken` and a
:class:`~facespeak.core.progress.ProgressTracker` fed by the pipeline, and is recorded in a
:class:`~.job_store.JobStore` (SQLite + files) so a restart loses nothing:

- at start, jobs found ``queued`` are queued again in their order; a job found ``running``
  means the server died during it (a crash, a kill, a power cut): it is marked ``failed``
  ("submit it again"), not re-run, in case the job itself brought the server down;
- a graceful stop (SIGTERM, Ctrl-C) cancels the running job and puts it back to ``queued``,
  so it runs again after the restart;
- results expire ``result_ttl_s`` after they are made (file deleted, state ``expired``).

Status reads take the manager's lock only around single SQLite statements and the live
progress lives in memory, so they never wait for synthesis.

A video job submitted with ``stream=true`` writes its video as a fragmented MP4 while it runs
(:class:`~.live.LiveStream`, ``stream.mp4`` in its folder, deleted when it ends);
``GET /api/jobs/{id}/stream`` follows it (:meth:`JobManager.stream`).

Project modules are imported at the top (docs/architecture.md, "Conventions"), except, marked
``# lazy:``, face analysis and the pipeline (they load cv2, scipy and numba) and
:mod:`.caption_routes` (it imports this module).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..core.cancel import CancelToken
from ..core.errors import Cancelled, FacespeakError
from ..core.output_files import AtomicOutput
from ..core.progress import FACE, ProgressTracker, report, stage_weights
from .job_store import TERMINAL, JobRecord, JobStore
from .live import LiveStream
from .worker import Job, Place, SynthesisWorker

__all__ = ["JobManager", "JobNotFound", "JobNotDone", "KINDS", "job_params"]

log = logging.getLogger(__name__)

KINDS = ("video", "audio")
MEDIA = {"video": ("result.mp4", "video/mp4"), "audio": ("result.wav", "audio/wav")}
_SHUTDOWN = "the server is stopping"
_CANCEL_WAIT_S = 5.0  # DELETE waits at most this long for a running job to stop (about 0.2 s)


class JobNotFound(Exception):
    """HTTP 404."""


class JobNotDone(Exception):
    """HTTP 409: the job has no result (yet, or any more)."""


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


class JobManager:
    """Submit, run, report, cancel and expire jobs; one per server process."""

    def __init__(self, data_dir: str | Path, worker: SynthesisWorker, engine: Any, result_ttl_s: float) -> None:
        self.worker, self.engine, self.ttl = worker, engine, float(result_ttl_s)
        self.store = JobStore(data_dir)
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}  # queued or running, in this process
        self._progress: dict[str, ProgressTracker] = {}  # running
        self._live: dict[str, LiveStream] = {}  # running streamed video jobs
        self._stopping = False
        self._stop = threading.Event()
        self._janitor = threading.Thread(target=self._sweep_loop, name="facespeak-job-expiry", daemon=True)

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Fail jobs a dead server left running, queue again those that waited, start expiry."""
        with self._lock:
            for job_id in self.store.ids_in_state("running"):
                self._end(job_id, "failed", error="the server stopped while this job ran (it is not run again in "
                                                  "case the job itself stopped the server); submit it again")
            queued = self.store.ids_in_state("queued")
        for job_id in queued:
            self._enqueue(job_id, self.worker.reserve(force=True), None)
        if queued:
            log.info("%d queued job(s) taken back from %s", len(queued), self.store.root)
        self.sweep()
        self._janitor.start()

    async def stop(self) -> None:
        """Graceful stop: nothing new starts; the running job stops and is queued again."""
        with self._lock:
            self._stopping = True
            running = [(i, j) for i, j in self._jobs.items() if i in self._progress]
        for _, job in running:
            job.cancel.cancel(_SHUTDOWN)
        for _, job in running:
            await _wait_future(job, _CANCEL_WAIT_S * 2)
        self._stop.set()
        with self._lock:
            self.store.close()

    # -- requests --------------------------------------------------------------------------
    def submit(self, place: Place, kind: str, params: dict[str, Any], image: bytes, portrait: Any) -> dict[str, Any]:
        """Record a job (its portrait written to disk) and queue it in ``place`` -> its status.
        Runs in a thread (file writes)."""
        with self._lock:
            rec = self.store.create(kind, params, image)
        self._enqueue(rec.id, place, portrait)
        return self.status(rec.id)

    def status(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            rec = self._get(job_id)
            tracker = self._progress.get(job_id)
            position = self.store.position(job_id) if rec.state == "queued" else None
        return self._describe(rec, tracker, position)

    def result(self, job_id: str) -> tuple[Path, str, JobRecord]:
        """-> (file, media type, record) of a done job; ``JobNotDone`` otherwise."""
        with self._lock:
            rec = self._get(job_id)
            if rec.state == "done" and rec.finished is not None and time.time() - rec.finished > self.ttl:
                self._expire(job_id)
                rec = self._get(job_id)
            path = self.store.result_path(rec)
        if rec.state != "done" or path is None or not path.is_file():
            why = {"expired": "its result expired and was deleted", "failed": f"it failed: {rec.error}",
                   "cancelled": "it was cancelled"}.get(rec.state, f"it is {rec.state}; poll /api/jobs/{job_id}")
            raise JobNotDone(f"job {job_id} has no result: {why}")
        return path, MEDIA[rec.kind][1], rec

    def captions(self, job_id: str) -> tuple[Path, str]:
        """-> (file, "srt" | "vtt") of a done job submitted with ``captions``."""
        path, _, rec = self.result(job_id)  # JobNotDone unless done
        found = _captions_file(path.parent)
        if found is None:
            raise JobNotFound(f"job {job_id} has no captions: submit it with the field captions=srt or captions=vtt")
        return found

    def stream(self, job_id: str) -> Any:
        """-> an async iterator of the fragmented MP4 of a queued or running job submitted with
        ``stream=true`` (it waits for the job to start; docs/server.md "Streaming");
        ``JobNotDone`` for any other job."""
        with self._lock:
            rec = self._get(job_id)
        if rec.kind != "video" or not _streamed(rec.params):
            raise JobNotDone(f"job {job_id} has no stream: submit a video job with stream=true to watch it while it "
                             "is made; fetch /result once it is done")
        if rec.state not in ("queued", "running"):
            raise JobNotDone(f"job {job_id} has no stream any more: it is {rec.state}"
                             + ("; fetch the whole video from /result" if rec.state == "done" else ""))
        return self._follow(job_id)

    async def _follow(self, job_id: str) -> Any:
        while True:
            with self._lock:
                live = self._live.get(job_id)
                rec = self.store.get(job_id)
            if live is not None:
                fd = live.open()
                if fd is not None:
                    async for data in live.follow(fd):
                        yield data
                return
            if rec is None or rec.state not in ("queued", "running"):
                return
            await asyncio.sleep(0.05)

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a queued or running job (returns once it stopped, about 0.2 s); delete an
        ended one with its files (then ``{"id", "deleted": true}``)."""
        with self._lock:
            rec = self._get(job_id)
            job = self._jobs.get(job_id)
            if rec.state in TERMINAL:
                self.store.delete(job_id)
                return {"id": job_id, "deleted": True}
            if job is not None:
                job.cancel.cancel("cancelled by the client")
            if rec.state == "queued":  # the worker skips it; its place is free now
                self._end(job_id, "cancelled", error="cancelled by the client")
                if job is not None:
                    job.place.release()
                    self._jobs.pop(job_id, None)
        if rec.state == "running" and job is not None:
            await _wait_future(job, _CANCEL_WAIT_S)
        return self.status(job_id)

    # -- the worker thread ------------------------------------------------------------------
    def _enqueue(self, job_id: str, place: Place, portrait: Any) -> None:
        with self._lock:
            self._jobs[job_id] = self.worker.submit(place, lambda cancel: self._run(job_id, portrait, cancel))

    def _run(self, job_id: str, portrait: Any, cancel: CancelToken) -> None:
        with self._lock:
            rec = self.store.get(job_id)
            if self._stopping or cancel.cancelled or rec is None or rec.state != "queued":
                self._jobs.pop(job_id, None)
                return  # stays queued for the next start, or was cancelled / deleted meanwhile
            p = rec.params or {}
            tracker = ProgressTracker(stage_weights(rec.kind, p.get("speech_s", 5.0), p["speech"]["steps"],
                                                    (p.get("video") or {}).get("size", "256")))
            self._progress[job_id] = tracker
            if rec.kind == "video" and _streamed(p):
                self._live[job_id] = LiveStream(self.store.folder(job_id) / "stream.mp4")
            self.store.update(job_id, state="running", started=time.time(), stage="starting", fraction=0.0)
        outcome = "failed"
        try:
            out = self._synthesise(rec, portrait, cancel, tracker)
            outcome = "done"
        except Cancelled:
            outcome = "cancelled"
            if cancel.reason == _SHUTDOWN:
                with self._lock:
                    self.store.update(job_id, state="queued", started=None, stage=None, fraction=None)
            else:
                self._end(job_id, "cancelled", tracker, error=cancel.reason)
        except FacespeakError as e:
            self._end(job_id, "failed", tracker, error=str(e))
        except Exception as e:  # noqa: BLE001 - recorded; the worker goes on with the next job
            log.exception("job %s failed", job_id)
            self._end(job_id, "failed", tracker, error=f"internal error: {type(e).__name__}")
        else:
            self._end(job_id, "done", tracker, **out)
        finally:
            with self._lock:
                self._jobs.pop(job_id, None)
                self._progress.pop(job_id, None)
                live = self._live.pop(job_id, None)
            if live is not None:
                live.end(outcome)

    def _synthesise(self, rec: JobRecord, portrait: Any, cancel: CancelToken,
                    tracker: ProgressTracker) -> dict[str, Any]:
        # lazy: face analysis and the pipeline load cv2, scipy and numba (about 0.6 s); only a running job needs them
        from ..face.analysis import check_animatable, load_portrait
        from ..pipeline import SpeechOptions, VideoOptions, say

        p = rec.params or {}
        if not self.engine.loaded:
            tracker.update("loading models", 0.0)
        fs = self.engine.get()
        opts = SpeechOptions(**p["speech"])
        name = MEDIA[rec.kind][0]
        target = self.store.folder(rec.id) / name
        if portrait is None:  # queued before a restart: analyse the stored image again
            report(tracker.update, FACE, 0.0)
            portrait = load_portrait(self.store.portrait_path(rec.id).read_bytes(), p.get("face_index"))
            if rec.kind == "video":
                check_animatable(portrait.face, portrait.face_index, portrait.name,
                                 allow_profile=bool(p.get("allow_profile")))
        fmt = p.get("captions")
        if rec.kind == "video":
            live = self._live.get(rec.id)
            res = say(fs, portrait, p["text"], target, opts, VideoOptions(**p["video"]), cancel=cancel,
                      on_progress=tracker.update, keep_chunks=False,  # SpokenChunks: enough for captions
                      on_data=None if live is None else live.write)
            _write_captions(self.store.folder(rec.id), fs, p["text"], res.chunks, opts, fmt)
            return {"result": name, "duration_s": res.duration_s, "face_index": res.face_index}
        spoken = fs.speak(portrait, p["text"], opts, keep_chunks=fmt is not None, cancel=cancel,
                          on_progress=tracker.update)
        _write_wav(target, spoken.wav, spoken.sample_rate)
        _write_captions(self.store.folder(rec.id), fs, p["text"], spoken.chunks, opts, fmt)
        return {"result": name, "duration_s": spoken.duration_s, "face_index": spoken.portrait.face_index}

    def _end(self, job_id: str, state: str, tracker: ProgressTracker | None = None, **values: Any) -> None:
        """A job ended: record it, drop its stored options (the text) and its portrait."""
        snap = tracker.snapshot() if tracker is not None else None
        progress = {"stage": snap.stage, "fraction": snap.fraction} if snap else {}
        if state == "done":
            progress = {"stage": "done", "fraction": 1.0}
        with self._lock:
            self.store.update(job_id, state=state, finished=time.time(), params=None, **progress, **values)
            self.store.remove_files(job_id, keep_result=state == "done")

    # -- expiry ----------------------------------------------------------------------------
    def sweep(self) -> None:
        """Expire results older than the TTL; forget ended jobs long past it."""
        now = time.time()
        with self._lock:
            for job_id in self.store.due_to_expire(now, self.ttl):
                self._expire(job_id)
            for job_id in self.store.due_to_forget(now, self.ttl):
                self.store.delete(job_id)

    def _expire(self, job_id: str) -> None:
        self.store.remove_files(job_id)
        self.store.update(job_id, state="expired", result=None, stage="expired")

    def _sweep_loop(self) -> None:
        interval = min(max(self.ttl / 4, 0.2), 60.0)
        while not self._stop.wait(interval):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - a failed sweep is retried at the next interval
                if self._stop.is_set():
                    return
                log.exception("expiring job results failed")

    # -- helpers ---------------------------------------------------------------------------
    def _get(self, job_id: str) -> JobRecord:
        rec = self.store.get(job_id)
        if rec is None:
            raise JobNotFound(f"job {job_id}: no such job (never submitted, deleted, or ended long ago)")
        return rec

    def _describe(self, rec: JobRecord, tracker: ProgressTracker | None, position: int | None) -> dict[str, Any]:
        if tracker is not None and rec.state == "running":
            snap = tracker.snapshot()
            progress = {"stage": snap.stage, "fraction": round(snap.fraction, 4),
                        "eta_s": None if snap.eta_s is None else round(snap.eta_s, 1)}
        elif rec.state == "queued":
            progress = {"stage": "queued", "fraction": 0.0, "eta_s": None}
        else:
            progress = {"stage": rec.stage or rec.state, "fraction": round(rec.fraction or 0.0, 4),
                        "eta_s": 0.0 if rec.state == "done" else None}
        doc = {"id": rec.id, "kind": rec.kind, "state": rec.state, "progress": progress, "error": rec.error,
               "created": _iso(rec.created), "started": _iso(rec.started), "finished": _iso(rec.finished)}
        if position is not None:
            doc["queue_position"] = position
        if rec.state in ("queued", "running") and rec.kind == "video" and _streamed(rec.params):
            doc["stream_url"] = f"/api/jobs/{rec.id}/stream"
        if rec.state == "done":
            doc |= {"result_url": f"/api/jobs/{rec.id}/result", "expires": _iso((rec.finished or 0) + self.ttl),
                    "duration_s": rec.duration_s, "face_index": rec.face_index}
            if _captions_file(self.store.folder(rec.id)) is not None:
                doc["captions_url"] = f"/api/jobs/{rec.id}/captions"
        return doc


async def _wait_future(job: Job, timeout: float) -> None:
    """Wait (without blocking the event loop) until the worker is done with ``job``."""
    try:
        await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(job.future)), timeout)
    except (asyncio.TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001 - only the wait matters
        pass


def _streamed(params: dict[str, Any] | None) -> bool:
    """Was the job submitted with ``stream=true`` (known while it is queued or running)?"""
    return bool(((params or {}).get("video") or {}).get("stream"))


def _write_wav(path: Path, wav: Any, sample_rate: int) -> None:
    """16-bit WAV, written with the project's atomic writer."""
    import soundfile as sf

    with AtomicOutput(path) as dst:
        try:
            sf.write(dst.file, wav, sample_rate, format="WAV", subtype="PCM_16")
        except (OSError, sf.LibsndfileError) as e:
            raise dst.write_error(e) from None


def _captions_file(folder: Path) -> tuple[Path, str] | None:
    for fmt in ("srt", "vtt"):
        if (folder / f"captions.{fmt}").is_file():
            return folder / f"captions.{fmt}", fmt
    return None


def _write_captions(folder: Path, fs: Any, text: str, chunks: list[Any], opts: Any, fmt: str | None) -> None:
    """``captions.srt|vtt`` beside the result, with the atomic writer (nothing when not asked)."""
    if fmt is None:
        return
    # lazy: import cycle: caption_routes imports this module at its top
    from .caption_routes import captions_text

    with AtomicOutput(folder / f"captions.{fmt}") as dst:
        try:
            dst.file.write(captions_text(fs, text, chunks, opts, fmt).encode("utf-8"))
        except OSError as e:
            raise dst.write_error(e) from None


def job_params(text: str, face_index: int | None, opts: Any, video: Any, allow_profile: bool,
               speech_s: float) -> dict[str, Any]:
    """What a job needs to run again after a restart (JSON-able)."""
    return {"text": text, "face_index": face_index, "speech": asdict(opts), "allow_profile": allow_profile,
            "speech_s": speech_s,
            "video": None if video is None else asdict(video)}
