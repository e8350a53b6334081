"""Run a child process and measure its wall time and its own peak resident memory.

The peak is the child's ``VmHWM`` (high-water mark of its address space, /proc/<pid>/status),
read while it runs. Not ``ru_maxrss`` from ``os.wait4``: Linux carries the parent's high-water
mark into a child started with vfork + exec (what ``subprocess`` uses), so a parent that has
loaded models would be counted as the child's peak (seen: 2.56 GB reported for a 0.9 GB run
started from a large pytest process). The last read is at most ``poll_s`` before the exit.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["ChildRun", "peak_rss_mb", "run_measured"]


@dataclass
class ChildRun:
    returncode: int
    wall_s: float
    peak_rss_mb: float  # 0.0 when the child exited before the first reading


def peak_rss_mb(pid: int) -> float | None:
    """``VmHWM`` of process ``pid`` in MB; None when it is gone (or a zombie)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def run_measured(cmd: list[str], env: dict[str, str] | None = None, stdout: IO[Any] | int | None = None,
                 stderr: IO[Any] | int | None = None, cwd: str | Path | None = None,
                 poll_s: float = 0.02) -> ChildRun:
    """Run ``cmd`` to the end; its exit code, wall seconds and own peak RSS (MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, peak_rss_mb(proc.pid) or 0.0)
        time.sleep(poll_s)
    return ChildRun(proc.returncode, time.perf_counter() - t0, peak)
