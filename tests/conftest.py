"""Test-session settings: tiny models gain nothing from intra-op threads, and on a loaded
2-core machine extra threads make them many times slower, so tests run torch on one thread
(override with FACESPEAK_TEST_THREADS)."""

import os

import torch

torch.set_num_threads(int(os.environ.get("FACESPEAK_TEST_THREADS", "1")))
