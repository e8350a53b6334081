"""The synthesis worker: one thread runs jobs in order, a bounded number wait.

A request first reserves a place (:meth:`SynthesisWorker.reserve`, ``QueueFull`` -> HTTP 429
when ``max_waiting`` requests already wait), then checks its inputs, then submits its job. The
worker thread runs one job at a time (a 2-core CPU gains nothing from two at once, and memory
stays bounded) and frees the place when the job ends. Each job carries a
:class:`~facespeak.core.cancel.CancelToken`: a cancelled job that has not started is skipped,
a running one stops at its next check (the pipeline checks between decoder steps and frames).

Nothing here waits on the event loop, so health and other cheap endpoints answer at once however
many jobs wait. This is also the basis for a jobs API (issue 14, part 2): a job id maps to a
:class:`Job`; its state is ``future``'s, its cancellation is ``cancel``.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.cancel import CancelToken

__all__ = ["QueueFull", "Place", "Job", "SynthesisWorker"]



class QueueFull(Exception):
    """Every place in the queue is taken (the server answers 429)."""


class Place:
    """A reserved place in the worker's queue; ``release`` is idempotent."""

    def __init__(self, worker: "SynthesisWorker") -> None:
        self._worker, self._held = worker, True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._worker._free()


@dataclass
class Job:
    """A unit of work: ``run(cancel)`` in the worker thread; ``future`` carries its result."""

    run: Callable[[CancelToken], Any]
    place: Place
    cancel: CancelToken = field(default_factory=CancelToken)
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


class SynthesisWorker:
    """One worker thread and room for ``max_waiting`` jobs behind the running one."""

    def __init__(self, max_waiting: int, name: str = "facespeak-synthesis") -> None:
        if max_waiting < 0:
            raise ValueError(f"max_waiting: expected >= 0, got {max_waiting}")
        self.max_waiting = max_waiting
        self._lock = threading.Lock()
        self._taken = 0
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def taken(self) -> int:
        """Places taken: the running job plus those waiting (and requests still checking inputs)."""
        return self._taken

    def reserve(self, force: bool = False) -> Place:
        """A place in the queue, or ``QueueFull`` at once (``force``: even beyond the limit, for
        jobs a restarted server takes back from its data folder)."""
        with self._lock:
            if self._taken >= self.max_waiting + 1 and not force:
                raise QueueFull(f"the server is busy: {self.max_waiting} requests already wait; try again later")
            self._taken += 1
        return Place(self)

    def _free(self) -> None:
        with self._lock:
            self._taken -= 1

    def submit(self, place: Place, run: Callable[[CancelToken], Any]) -> Job:
        job = Job(run=run, place=place)
        self._jobs.put(job)
        return job

    def close(self) -> None:
        """Stop the thread once the jobs already submitted are done."""
        self._jobs.put(None)

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                if job.cancel.cancelled:  # its client left while it waited
                    job.future.cancel()
                    continue
                if not job.future.set_running_or_notify_cancel():
                    continue
                try:
                    result = job.run(job.cancel)
                except BaseException as e:  # noqa: BLE001 - handed to the waiting request
                    job.place.release()  # free before anyone waiting on the future hears of it
                    job.future.set_exception(e)
                else:
                    job.place.release()
                    job.future.set_result(result)
            finally:
                job.place.release()
