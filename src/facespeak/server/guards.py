"""ASGI middleware that refuses requests before any endpoint reads them (docs/server.md).

- :class:`BodyLimit`: a body over the limit is a 413 without being read: a ``Content-Length``
  over the limit is refused from the headers alone; a chunked body is counted while it
  streams in and refused at the first byte over the limit (the connection is then closed, so
  the rest is never read).
- :class:`OriginGuard`: a browser on another site must not make this server synthesise. The
  ``Host`` header must name this server (loopback names, the bound address, ``--allow-host``),
  which defeats DNS rebinding; a request with an ``Origin`` header must come from the page's
  own origin (same scheme-less host:port as ``Host``) or an ``--allow-origin``. Clients that
  are not browsers send no ``Origin`` and pass.
- :class:`TokenAuth`: with ``serve --token`` (or ``FACESPEAK_TOKEN``) every ``/api/`` path but
  health needs ``Authorization: Bearer <token>``, compared in constant time; 401 otherwise.

Both answer in the server's one error format, ``{"error": "<one line>"}``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

__all__ = ["BodyLimit", "OriginGuard", "TokenAuth", "LOOPBACK_HOSTS", "send_error"]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


async def send_error(send: Any, status: int, message: str, close: bool = False,
                     extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Send ``{"error": message}`` with ``status`` straight to the ASGI ``send``."""
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    if close:  # the client may still be sending a body we will not read
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class _TooLarge(Exception):
    """Raised inside ``receive`` once the body passes the limit."""


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 while they stream in."""

    def __init__(self, app: Any, max_bytes: int, expected: str = "") -> None:
        self.app, self.max_bytes = app, max_bytes
        self.expected = expected or f"at most {max_bytes / 1e6:.1f} MB"

    def _message(self, got: str) -> str:
        return f"request body too large: expected {self.expected}, got {got}"

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_bytes:
            return await send_error(send, 413, self._message(f"{int(length) / 1e6:.1f} MB"), close=True)
        seen, over, started = 0, False, False

        async def counted_receive() -> dict:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    raise _TooLarge
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if over:  # whatever the app answers to the broken body, the client gets the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:  # the parser's reaction to _TooLarge (or _TooLarge itself)
            if not over:
                raise
        if over and not started:
            await send_error(send, 413, self._message(f"more than {self.max_bytes / 1e6:.1f} MB"), close=True)


def _hostname(host: str) -> str | None:
    """``"example.org:8000"`` / ``"[::1]:80"`` -> ``"example.org"`` / ``"::1"`` (None if malformed)."""
    try:
        return urlsplit("//" + host).hostname
    except ValueError:
        return None


class OriginGuard:
    """403 for a foreign ``Host`` (DNS rebinding) or a cross-site browser ``Origin``."""

    def __init__(self, app: Any, allowed_hosts: Iterable[str] = (), allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.hosts = {h.strip("[]").lower() for h in (*LOOPBACK_HOSTS, *allowed_hosts)}
        self.origins = {o.rstrip("/").lower() for o in allowed_origins}

    def _host_ok(self, host: str | None) -> bool:
        return host is None or "*" in self.hosts or _hostname(host) in self.hosts

    def _origin_ok(self, origin: str, host: str | None) -> bool:
        origin = origin.rstrip("/").lower()
        if "*" in self.origins or origin in self.origins:
            return True
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and host is not None and parts.netloc == host.lower()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host, origin = _header(scope, b"host"), _header(scope, b"origin")
        if not self._host_ok(host):
            name = _hostname(host or "") or host
            return await send_error(send, 403, f"Host {host!r} is not this server (expected a loopback name or an "
                                               f"allowed host); start it with --allow-host {name} to serve it",
                                    close=True)
        if origin is not None and not self._origin_ok(origin, host):
            return await send_error(send, 403, f"cross-site request from origin {origin!r} refused; start the server "
                                               f"with --allow-origin {origin} to allow that site", close=True)
        await self.app(scope, receive, send)


class TokenAuth:
    """401 for an ``/api/`` request (health excepted) without ``Authorization: Bearer <token>``."""

    OPEN_PATHS = ("/api/health",)

    def __init__(self, app: Any, token: str) -> None:
        self.app, self._token = app, token.encode()

    def _authorised(self, scope: dict) -> bool:
        value = _header(scope, b"authorization") or ""
        scheme, _, given = value.partition(" ")
        # compare_digest takes time independent of where the strings differ (not of the length,
        # which tells an attacker nothing about the token's characters)
        return hmac.compare_digest(given.strip().encode("latin-1"), self._token) and scheme.lower() == "bearer"

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith("/api/") and path.rstrip("/") not in self.OPEN_PATHS and not self._authorised(scope):
            return await send_error(send, 401, "this server needs a token: send the header "
                                               "'Authorization: Bearer <token>' (serve --token / FACESPEAK_TOKEN)",
                                    close=True, extra=[(b"www-authenticate", b'Bearer realm="facespeak"')])
        await self.app(scope, receive, send)
