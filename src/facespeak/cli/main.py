"""`facespeak` command line: parse -> call the library -> print.

Each subcommand lives in its own module ``cli/cmd_<name>.py`` exposing
``register(subparsers) -> None``; the parser sets ``func(args) -> int`` on its namespace.
User errors (:class:`facespeak.core.errors.FacespeakError`) become one line on stderr and a
non-zero exit code; no traceback. SIGTERM and SIGHUP are turned into :class:`Terminated` (a
``KeyboardInterrupt``, as SIGINT already is), so a killed run unwinds like an interrupted one:
partial outputs and the folders made for them are removed (``core.output_files``) and exit
handlers run (they delete e.g. phonemizer's temporary copy of libespeak-ng).

A run imports only its own command module (:func:`command_named`); the overview (no command,
``--help``, a typo) imports none: it lists :data:`facespeak.cli.commands.COMMAND_HELP`. The
command modules keep their heaviest imports (cv2, numba, the models) inside their handlers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading

from .. import __version__
from ..assets import describe_bundled
from ..core.errors import FacespeakError
from .commands import COMMAND_HELP

__all__ = ["main", "build_parser", "command_named", "Terminated"]


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process gets SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def _unwind_on_signals() -> None:
    """Let SIGTERM/SIGHUP unwind the stack (default: die on the spot, skipping every cleanup)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _raise_terminated)

# Order = order in --help. Modules that fail to import are reported only when used.
COMMANDS = list(COMMAND_HELP)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's convention)
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _top_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    p = _Parser(prog="facespeak", description="Portrait + text -> talking face and a voice that suits it.")
    p.add_argument("--version", action="store_true", help="print the version (with --verbose: bundled models and licences)")
    p.add_argument("-v", "--verbose", action="store_true", help="more logging")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or info logs")
    return p, p.add_subparsers(dest="command", parser_class=_Parser)


def overview_parser() -> argparse.ArgumentParser:
    """The global options and every command's name and help line, importing no command module:
    what `facespeak`, `facespeak --help`, `--version` and a mistyped command need (a cold
    `facespeak --help` 2.1 s -> 0.05-0.13 s: eval, data, train, bench and convert import torch)."""
    p, sub = _top_parser()
    for name, help_line in COMMAND_HELP.items():
        sub.add_parser(name, help=help_line)
    return p


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` (one of :data:`COMMANDS`) just that subcommand,
    whose module is the only one imported (a run: :func:`command_named`)."""
    p, sub = _top_parser()
    for name in COMMANDS if only is None else [only]:
        try:  # lazy: by name, so that a command module left out of an install is skipped
            mod = importlib.import_module(f"facespeak.cli.cmd_{name}")
        except ModuleNotFoundError as e:
            if e.name == f"facespeak.cli.cmd_{name}":
                continue
            raise
        mod.register(sub)
    return p


def command_named(argv: list[str]) -> str | None:
    """The subcommand of ``argv`` (its first word not starting with '-': the global options take
    no values) when it is one of :data:`COMMANDS`, else None (no command, ``--help``, a typo:
    :func:`overview_parser` then lists every command)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def _print_version(verbose: bool) -> None:
    print(f"facespeak {__version__}")
    if verbose:
        for line in describe_bundled():
            print(line)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name = command_named(argv)
    parser = build_parser(name) if name else overview_parser()
    args = parser.parse_args(argv)
    # default: warnings only (results are printed); -v: info; commands that report progress
    # through logs (train, data) raise their own level
    level = logging.INFO if args.verbose else (logging.ERROR if args.quiet else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.quiet:
        os.environ["FACESPEAK_NO_PROGRESS"] = "1"
    if args.version:
        _print_version(args.verbose)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _unwind_on_signals()
    try:
        return int(args.func(args) or 0)
    except FacespeakError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except Terminated as e:
        print(f"error: stopped by {e}", file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory (try shorter text or a smaller --size)", file=sys.stderr)
        return 1
    except OSError as e:  # a disk that fills or fails mid-run: still one line (-v: the traceback)
        if args.verbose:
            raise
        where = f": {e.filename}" if e.filename else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
