"""CLI flags of `tts` / `say` generated from :data:`facespeak.options.OPTIONS`.

Every flag defaults to None (= "not given": the dataclass default applies, see
``options.build_options``), so defaults live in one place. Numbers are range-checked by
the dataclasses' ``validate()`` (the same message the REST API gives); choices are also given to
argparse so ``--help`` lists them.
"""

from __future__ import annotations

import argparse

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


def add_option_flags(p: argparse.ArgumentParser, command: str) -> None:
    """Add the flags of every option ``command`` ("tts" | "say") takes."""
    for o in options_for(command):
        _add(p, o)


def options_from_args(args: argparse.Namespace, command: str):
    """Parsed flags -> validated (SpeechOptions, VideoOptions or None)."""
    return build_options({o.name: getattr(args, o.name) for o in options_for(command)}, command)
