"""`facespeak serve [--host H] [--port P]`: the web page and REST API (docs/server.md).

The ``server`` package is imported inside ``run``, marked ``# lazy:`` (docs/architecture.md,
"Conventions"): only ``serve`` needs it and its web stack.
"""

from __future__ import annotations

import argparse
import math
import os
import re

from ..core.errors import DependencyError, InputError
from ..options import DEFAULT_VOCODER, VOCODER_HELP, VOCODER_NAMES
from .commands import COMMAND_HELP

__all__ = ["register"]

ALL_INTERFACES = ("0.0.0.0", "::", "")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str, flag: str = "--result-ttl") -> float:
    """``"90"`` / ``"90s"`` / ``"15m"`` / ``"24h"`` / ``"7d"`` -> seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([smhd]?)\s*", value.lower())
    if not m or not math.isfinite(float(m.group(1))):
        raise InputError(f"{flag}: expected a time such as 90s, 15m, 24h or 7d, got {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help=COMMAND_HELP["serve"])
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: all; default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--tts-weights", default=None, help="TTS checkpoint (default: bundled)")
    p.add_argument("--bundle", default=None, metavar="DIR", help="a model bundle directory instead of the bundled models")
    p.add_argument("--vocoder", choices=VOCODER_NAMES, default=None,
                   help=f"{VOCODER_HELP}; default {DEFAULT_VOCODER}, or the bundle's own vocoder with --bundle")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest portrait upload (default 20)")
    p.add_argument("--max-text-chars", type=int, default=2000, help="longest text per request (default 2000)")
    p.add_argument("--max-speech-seconds", type=float, default=60.0,
                   help="most speech one request may make, estimated before synthesis (default 60)")
    p.add_argument("--max-queue", type=int, default=8,
                   help="requests that may wait behind the running synthesis; more get 429 (default 8)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="let pages from ORIGIN (e.g. https://app.example) call the API; repeatable; '*' = any")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="accept requests addressed to NAME (besides loopback names and --host); repeatable")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="where jobs and their results are kept (default: <cache>/server, i.e. "
                        "$FACESPEAK_CACHE/server or ~/.cache/facespeak/server)")
    p.add_argument("--result-ttl", default="24h", metavar="TIME",
                   help="job results are deleted this long after they are made (e.g. 90s, 15m, 24h, 7d; default 24h)")
    p.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' on every /api/ endpoint but health "
                        "(default: $FACESPEAK_TOKEN if set, else no token; the variable keeps it out of `ps`)")
    p.add_argument("--preload", action="store_true", help="load the models at start-up, not on the first request")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # lazy: server/ may load fastapi at import; only `serve` needs it
    from ..server.app import ServerConfig

    if not 0 < args.port < 65536:
        raise InputError(f"--port: expected 1..65535, got {args.port}")
    # bound to every interface the server cannot know the names it is reached by: Host is not
    # checked then (the Origin check still is); see docs/server.md
    hosts = ["*"] if args.host in ALL_INTERFACES else [args.host]
    cfg = ServerConfig(tts_weights=args.tts_weights, vocoder=args.vocoder, bundle=args.bundle,
                       max_upload_mb=args.max_upload_mb,
                       max_text_chars=args.max_text_chars, max_speech_s=args.max_speech_seconds,
                       max_queue=args.max_queue, preload=args.preload, threads=args.threads,
                       allowed_hosts=hosts + args.allow_host, allowed_origins=args.allow_origin,
                       data_dir=args.data_dir, result_ttl_s=parse_duration(args.result_ttl),
                       token=args.token if args.token is not None else os.environ.get("FACESPEAK_TOKEN") or None)
    cfg.validate()  # one line per bad value, before anything loads
    try:
        import uvicorn
    except ImportError as e:  # pragma: no cover - depends on the install
        raise DependencyError(f"'facespeak serve' needs uvicorn and fastapi: {e}") from e
    # lazy: server/ may load fastapi at import; only `serve` needs it
    from ..server import create_app

    app = create_app(cfg)
    print(f"facespeak serving on http://{args.host}:{args.port}/ (API schema at /openapi.json; jobs in "
          f"{cfg.jobs_dir()}{'; token required' if cfg.token else ''})", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    except KeyboardInterrupt:  # uvicorn shuts down gracefully, then re-raises the signal it got
        pass  # (SIGTERM too, see cli.main): a normal stop; exit handlers still run
    return 0
