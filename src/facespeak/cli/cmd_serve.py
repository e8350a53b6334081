"""`facespeak serve [--host H] [--port P]`: the web page and REST API (docs/server.md)."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="web page + REST API (POST /api/faces, /api/tts, /api/say)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: all; default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--tts-weights", default=None, help="TTS checkpoint (default: bundled)")
    p.add_argument("--vocoder", choices=["fast", "universal"], default="fast")
    p.add_argument("--max-upload-mb", type=float, default=20.0)
    p.add_argument("--max-text-chars", type=int, default=2000)
    p.add_argument("--preload", action="store_true", help="load the models at start-up, not on the first request")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..core.errors import InputError

    if not 0 < args.port < 65536:
        raise InputError(f"--port: expected 1..65535, got {args.port}")
    try:
        import uvicorn
    except ImportError as e:  # pragma: no cover - depends on the install
        from ..core.errors import DependencyError

        raise DependencyError(f"'facespeak serve' needs uvicorn and fastapi: {e}") from e
    from ..server import ServerConfig, create_app

    cfg = ServerConfig(tts_weights=args.tts_weights, vocoder=args.vocoder, max_upload_mb=args.max_upload_mb,
                       max_text_chars=args.max_text_chars, preload=args.preload, threads=args.threads)
    print(f"facespeak serving on http://{args.host}:{args.port}/ (API docs at /docs)", flush=True)
    try:
        uvicorn.run(create_app(cfg), host=args.host, port=args.port, log_level="warning")
    except KeyboardInterrupt:  # uvicorn shuts down gracefully, then re-raises the signal it got
        pass  # (SIGTERM too, see cli.main): a normal stop; exit handlers still run
    return 0
