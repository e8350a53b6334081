"""CLI flags of `tts` / `say` generated from :data:`facespeak.options.OPTIONS`.

Every flag defaults to None (= "not given": the dataclass default applies, see
``options.build_options``), so defaults live in one place. Numbers are range-checked by
the dataclasses' ``validate()`` (the same message the REST API gives); choices are also given to
argparse so ``--help`` lists them.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection

from ..options import Option, build_options, options_for

__all__ = ["add_option_flags", "options_from_args"]


def _add(p: argparse.ArgumentParser, o: Option) -> None:
    kw: dict = {"dest": o.name, "default": None, "help": o.describe()}
    if o.kind is bool:
        kw["action"] = argparse.BooleanOptionalAction  # --still / --no-still, --silence-gate / --no-silence-gate
    else:
        kw["type"] = o.kind
        if o.choices is not None:
            kw["choices"] = list(o.choices)
        if o.metavar is not None:
            kw["metavar"] = o.metavar
    p.add_argument(o.cli_flag, **kw)


def add_option_flags(p: argparse.ArgumentParser, command: str, names: Collection[str] | None = None) -> None:
    """Add the flags of every option ``command`` ("tts" | "say") takes (only ``names`` when
    given: a tool such as `facespeak bench` that exposes a few of them)."""
    for o in options_for(command):
        if names is None or o.name in names:
            _add(p, o)


def options_from_args(args: argparse.Namespace, command: str):
    """Parsed flags -> validated (SpeechOptions, VideoOptions or None); an option without a
    flag on this parser keeps its default."""
    return build_options({o.name: getattr(args, o.name, None) for o in options_for(command)}, command)
