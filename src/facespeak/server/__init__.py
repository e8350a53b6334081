"""REST service and web page: ``facespeak serve`` (see docs/server.md)."""

from .app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
