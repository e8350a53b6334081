"""numba's ``njit`` where numba is installed, else a decorator that leaves the function as plain
Python (same results, far slower). numba is pinned in ``requirements/lock.txt``; the fallback
keeps the compiled kernels (the warp's id and backward maps, monotonic alignment search) usable
without it."""

from __future__ import annotations

__all__ = ["njit"]

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is installed by the project's set-up
    def njit(*args, **kwargs):  # type: ignore[no-redef]
        """``@njit`` / ``@njit(...)`` without numba: the function itself."""
        def wrap(f):
            return f
        return wrap(args[0]) if args and callable(args[0]) else wrap
