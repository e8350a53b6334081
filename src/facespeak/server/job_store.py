"""Where jobs live between requests and across restarts: one SQLite file and one folder per job.

Layout of the data folder (``serve --data-dir``)::

    jobs.sqlite3          one row per job (state, times, options, progress at the end, error)
    lock                  held (flock) while a server uses the folder: one server per folder
    jobs/<id>/portrait    the uploaded image, kept until the job ends (a restart re-runs from it)
    jobs/<id>/result.mp4  or result.wav, written with core.output_files.AtomicOutput; deleted
                          when the result expires

States: ``queued`` -> ``running`` -> ``done`` | ``failed`` | ``cancelled``; ``done`` ->
``expired`` once its result is older than the TTL. A row is removed (and ``GET`` answers 404)
:data:`KEEP_RECORD_S` after its result expired or the job failed or was cancelled.

The store itself is not thread-safe; :class:`~facespeak.server.jobs.JobManager` serialises
calls with its lock. Every call is one short statement (no synthesis ever waits under it).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.output_files import AtomicOutput, check_output_dir

__all__ = ["JobRecord", "JobStore", "DataDirBusy", "STATES", "TERMINAL", "KEEP_RECORD_S", "valid_job_id"]

STATES = ("queued", "running", "done", "failed", "cancelled", "expired")
TERMINAL = ("done", "failed", "cancelled", "expired")
KEEP_RECORD_S = 7 * 24 * 3600.0  # how long the record of an ended job outlives its result
FORMAT_VERSION = 1
_ID = re.compile(r"[0-9a-f]{32}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, params TEXT,
    created REAL NOT NULL, started REAL, finished REAL, stage TEXT, fraction REAL, error TEXT,
    result TEXT, duration_s REAL, face_index INTEGER)
"""
_COLUMNS = ("id", "kind", "state", "params", "created", "started", "finished", "stage", "fraction", "error",
            "result", "duration_s", "face_index")


def valid_job_id(job_id: str) -> bool:
    """Job ids are 32 lowercase hex digits (128 random bits: unguessable, and safe as a folder name)."""
    return bool(_ID.fullmatch(job_id))


class DataDirBusy(InputError):
    """Another server already uses this data folder."""


@dataclass
class JobRecord:
    id: str
    kind: str  # "video" | "audio"
    state: str
    params: dict[str, Any] | None  # what the job needs to run; dropped once it ends
    created: float  # seconds since the epoch
    started: float | None = None
    finished: float | None = None
    stage: str | None = None
    fraction: float | None = None
    error: str | None = None
    result: str | None = None  # file name inside the job's folder
    duration_s: float | None = None
    face_index: int | None = None


class JobStore:
    """SQLite rows + per-job folders under ``root`` (created if missing)."""

    def __init__(self, root: str | Path) -> None:
        self.root = check_output_dir(Path(root), "--data-dir")
        (self.root / "jobs").mkdir(parents=True, exist_ok=True)
        self._lock_file = _lock_folder(self.root)
        self._db = sqlite3.connect(self.root / "jobs.sqlite3", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, FORMAT_VERSION):
            raise InputError(f"--data-dir: {self.root / 'jobs.sqlite3'} has job format v{version}, this server "
                             f"reads v{FORMAT_VERSION}; use another --data-dir")
        self._db.execute(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={FORMAT_VERSION}")

    def close(self) -> None:
        self._db.close()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock

    # -- files ---------------------------------------------------------------------------
    def folder(self, job_id: str) -> Path:
        assert valid_job_id(job_id), job_id
        return self.root / "jobs" / job_id

    def portrait_path(self, job_id: str) -> Path:
        return self.folder(job_id) / "portrait"

    def result_path(self, rec: JobRecord) -> Path | None:
        return self.folder(rec.id) / rec.result if rec.result else None

    def remove_files(self, job_id: str, keep_result: bool = False) -> None:
        folder = self.folder(job_id)
        if keep_result:
            self.portrait_path(job_id).unlink(missing_ok=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)

    # -- rows ----------------------------------------------------------------------------
    def create(self, kind: str, params: dict[str, Any], image: bytes) -> JobRecord:
        """A new queued job; its portrait is written (atomically) before the row exists."""
        rec = JobRecord(id=secrets.token_hex(16), kind=kind, state="queued", params=params, created=time.time())
        with AtomicOutput(self.portrait_path(rec.id)) as dst:
            try:
                dst.file.write(image)
            except OSError as e:
                raise dst.write_error(e) from None
        self._db.execute("INSERT INTO jobs (id, kind, state, params, created) VALUES (?, ?, ?, ?, ?)",
                         (rec.id, kind, "queued", json.dumps(params), rec.created))
        return rec

    def get(self, job_id: str) -> JobRecord | None:
        if not valid_job_id(job_id):
            return None
        row = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _record(row) if row else None

    def ids_in_state(self, state: str) -> list[str]:
        """Ids in submission order."""
        return [r[0] for r in self._db.execute("SELECT id FROM jobs WHERE state = ? ORDER BY rowid", (state,))]

    def position(self, job_id: str) -> int:
        """Queued jobs submitted before ``job_id``."""
        row = self._db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND rowid < "
                               "(SELECT rowid FROM jobs WHERE id = ?)", (job_id,)).fetchone()
        return int(row[0])

    def update(self, job_id: str, **values: Any) -> None:
        assert values and set(values) <= set(_COLUMNS) - {"id"}, values
        if "params" in values and values["params"] is not None:
            values["params"] = json.dumps(values["params"])
        cols = ", ".join(f"{k} = ?" for k in values)
        self._db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*values.values(), job_id))

    def delete(self, job_id: str) -> None:
        self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        self.remove_files(job_id)

    def due_to_expire(self, now: float, ttl_s: float) -> list[str]:
        return [r[0] for r in self._db.execute(
            "SELECT id FROM jobs WHERE state = 'done' AND finished < ?", (now - ttl_s,))]

    def due_to_forget(self, now: float, ttl_s: float) -> list[str]:
        return [r[0] for r in self._db.execute(
            "SELECT id FROM jobs WHERE state IN ('expired', 'failed', 'cancelled') AND finished < ?",
            (now - ttl_s - KEEP_RECORD_S,))]


def _record(row: tuple) -> JobRecord:
    values = dict(zip(_COLUMNS, row))
    values["params"] = json.loads(values["params"]) if values["params"] else None
    return JobRecord(**values)


def _lock_folder(root: Path) -> Any:
    """Hold an exclusive flock on ``root/lock`` (two servers on one folder would run every
    queued job twice); ``DataDirBusy`` when another process holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: no guard
        return None
    f = open(root / "lock", "a+")  # noqa: SIM115 - held for the server's lifetime
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise DataDirBusy(f"--data-dir: {root} is used by another running facespeak server; stop it or "
                          "give this one another --data-dir") from None
    f.truncate(0)
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f
