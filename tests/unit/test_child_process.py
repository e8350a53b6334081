"""eval.child_process: a child's own peak memory, not its parent's."""

from __future__ import annotations

import sys

import numpy as np

from facespeak.eval.child_process import run_measured


def test_peak_is_the_childs_own_not_the_parents():
    ballast = np.ones(400 * 2**20 // 8)  # this process holds ~400 MB resident while the child runs
    small = run_measured([sys.executable, "-c", "import time; time.sleep(0.3)"])
    big = run_measured([sys.executable, "-c", "import time; b = bytearray(300 * 2**20); time.sleep(0.3)"])
    assert small.returncode == 0 and big.returncode == 0 and small.wall_s >= 0.3
    assert 0 < small.peak_rss_mb < 100, small.peak_rss_mb  # a bare interpreter, not the 400 MB parent
    assert 290 < big.peak_rss_mb - small.peak_rss_mb < 340, (small, big)
    assert ballast.sum() > 0


def test_exit_code_is_reported():
    assert run_measured([sys.executable, "-c", "raise SystemExit(3)"]).returncode == 3
