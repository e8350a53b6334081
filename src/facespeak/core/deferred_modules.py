"""Let a third-party import skip a module it imports but facespeak never calls.

MediaPipe's package ``__init__`` imports its drawing helpers, which import ``matplotlib.pyplot``
at their top (0.35 s warm, about 0.8 s on a cold or busy machine: a third of a cold
``facespeak tts`` start-up), only for plotting functions facespeak never calls.
:func:`deferred_modules` binds stand-ins for such modules while the import runs: a stand-in
imports the real module on its first attribute use, so the helpers still work if anyone calls
them. On leaving the block the stand-ins leave ``sys.modules`` again; any later
``import matplotlib.pyplot`` (e.g. ``facespeak.eval.report``) loads the real module as usual.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Iterator

__all__ = ["deferred_modules"]


class _StandIn(types.ModuleType):
    """A module object that imports the real module ``name`` when an attribute is first read."""

    def __getattr__(self, attr: str):  # only called for attributes the stand-in does not have
        if sys.modules.get(self.__name__) is self:  # still registered: let the import find the real one
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


@contextlib.contextmanager
def deferred_modules(*names: str) -> Iterator[None]:
    """Within the block, ``import name`` of any of ``names`` (a package and its submodules,
    parents first, e.g. ``"matplotlib", "matplotlib.pyplot"``) binds a stand-in (module
    docstring) instead of running the module. Names already imported are left alone, and so
    are all of them when the last one is already imported."""
    if not names or names[-1] in sys.modules:
        yield
        return
    added: dict[str, _StandIn] = {}
    for name in names:
        if name in sys.modules:
            continue
        added[name] = stand_in = _StandIn(name)
        parent, _, child = name.rpartition(".")
        if parent in added:  # ``import a.b as c`` reads attribute b of package a
            setattr(added[parent], child, stand_in)
        sys.modules[name] = stand_in
    try:
        yield
    finally:
        for name, stand_in in added.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
